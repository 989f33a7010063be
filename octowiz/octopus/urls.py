"""Octopus base URLs as people paste them, and RFC 6570 link templates as Octopus sends them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from octowiz.octopus.errors import InvalidUrl

_SUFFIXES = re.compile(r"(/app(/.*)?|/api(/.*)?)$", re.IGNORECASE)


def normalise_base_url(raw: str) -> str:
    """The instance's base URL from whatever was pasted.

    Accepts a missing scheme (``https`` is assumed), a trailing slash, a pasted ``/api`` or
    ``/app#/Spaces-1/projects`` suffix, a query or fragment; keeps a virtual directory
    (``https://host/octopus``). The result has no trailing slash.

    Raises:
        InvalidUrl: the text cannot be a web address.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidUrl(
            "Enter the address of the Octopus instance, for example https://octopus.example.com."
        )
    if any(c.isspace() for c in text):
        raise InvalidUrl(f"'{text}' is not a web address: it contains spaces.")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidUrl(f"'{raw.strip()}' is not a web address: it must start with https:// (or http://).")
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise InvalidUrl(f"'{raw.strip()}' is not a web address: {exc}.") from exc
    if not host or not re.fullmatch(r"[A-Za-z0-9._\-\[\]:]+", host) or host.startswith(".") or ".." in host:
        raise InvalidUrl(f"'{raw.strip()}' is not a web address: it has no valid host name.")
    path = _SUFFIXES.sub("", parts.path.rstrip("/")).rstrip("/")
    netloc = host.lower() if port is None else f"{host.lower()}:{port}"
    if ":" in host and not host.startswith("["):
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    return urlunsplit((scheme, netloc, path, "", ""))


_TEMPLATE = re.compile(r"\{([?/&]?)([^}]+)\}")


def expand(template: str, **values: Any) -> str:
    """Expand an Octopus link template (the RFC 6570 subset Octopus uses).

    ``{/id}`` adds a path segment when ``id`` is given, ``{?a,b}`` and ``{&a}`` add query parameters
    that have values (lists are joined with commas, as Octopus expects for ``ids``), ``{name}``
    substitutes. Values not given are left out.
    """

    def one(match: re.Match[str]) -> str:
        op, names = match.group(1), match.group(2).split(",")
        present = [(n, values[n]) for n in names if values.get(n) is not None]
        if op == "/":
            return "".join("/" + quote(_text(v), safe="") for _, v in present)
        if op in ("?", "&"):
            if not present:
                return ""
            query = "&".join(f"{n}={quote(_text(v), safe=',')}" for n, v in present)
            return ("?" if op == "?" else "&") + query
        return ",".join(quote(_text(v), safe="") for _, v in present)

    return _TEMPLATE.sub(one, template)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set)):
        return ",".join(str(v) for v in value)
    return str(value)
