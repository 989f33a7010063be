"""Base URLs as people paste them, and Octopus link templates."""

from __future__ import annotations

import pytest

from octowiz.octopus.errors import InvalidUrl
from octowiz.octopus.urls import expand, normalise_base_url


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("https://octopus.example.com", "https://octopus.example.com"),
        ("https://octopus.example.com/", "https://octopus.example.com"),
        ("  https://Octopus.Example.com/api  ", "https://octopus.example.com"),
        ("https://octopus.example.com/api/", "https://octopus.example.com"),
        ("https://octopus.example.com/app#/Spaces-1/projects", "https://octopus.example.com"),
        ("https://acme.octopus.app/app#/Spaces-1/projects?x=1", "https://acme.octopus.app"),
        ("octopus.example.com", "https://octopus.example.com"),
        ("http://10.0.0.5:8080/octopus/api", "http://10.0.0.5:8080/octopus"),
        ("https://host/octopus/", "https://host/octopus"),
        ("https://octopus.example.com/api/Spaces-1/projects", "https://octopus.example.com"),
    ],
)
def test_pasted_urls_normalise(pasted: str, expected: str) -> None:
    assert normalise_base_url(pasted) == expected


@pytest.mark.parametrize(
    ("pasted", "says"),
    [
        ("", "Enter the address"),
        ("octopus example com", "contains spaces"),
        ("ftp://octopus.example.com", "must start with https://"),
        ("https://", "no valid host name"),
        ("https://bad_host!name", "no valid host name"),
        ("https://host:99999", "is not a web address"),
    ],
)
def test_malformed_urls_get_a_sentence(pasted: str, says: str) -> None:
    with pytest.raises(InvalidUrl) as info:
        normalise_base_url(pasted)
    assert says in str(info.value)


def test_link_templates_expand_like_octopus() -> None:
    template = "/api/Spaces-1/projects{/id}{?name,skip,ids,clone,take,partialName}"
    assert expand(template) == "/api/Spaces-1/projects"
    assert expand(template, id="Projects-1") == "/api/Spaces-1/projects/Projects-1"
    assert expand(template, skip=30, take=30) == "/api/Spaces-1/projects?skip=30&take=30"
    assert (
        expand(template, ids=["Projects-1", "Projects-2"])
        == "/api/Spaces-1/projects?ids=Projects-1,Projects-2"
    )
    assert expand("/api/{spaceId}", spaceId="Spaces-2") == "/api/Spaces-2"
    assert expand("/api/tasks/ServerTasks-1/details{?verbose,tail}", verbose=True, tail=5) == (
        "/api/tasks/ServerTasks-1/details?verbose=true&tail=5"
    )
