"""Every case of the bad input catalogue, made for real, and docs/RELIABILITY.md kept true to them.

Each case must show its sentence (no traceback, no API key or password), exit with its code and leave
nothing lost; its row in the committed document must be the row it produces now. The cases selected in
this session run together once (the command-line ones on two threads, each with its own simulator);
each test then judges one. Regenerate the document with ``python -m tests.reliability --write``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.catalogue import (
    CASES,
    DOC,
    Case,
    Lab,
    Seen,
    committed_rows,
    private_mounts,
    problems,
    row,
    run_cases,
    runnable,
)

REGENERATE = "regenerate it with: python -m tests.reliability --write"
TEST = "test_bad_input_gets_a_sentence_an_exit_code_and_loses_nothing"


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Seen | Exception]]:
    """What every selected case saw (they run together: much faster than one after another)."""
    wanted = {
        item.callspec.params["case"].id
        for item in request.session.items
        if getattr(item, "originalname", "") == TEST and hasattr(item, "callspec")
    }
    with Lab(tmp_path_factory.mktemp("reliability")) as lab:
        yield run_cases(lab, runnable([c for c in CASES if c.id in wanted]))


@pytest.fixture(scope="module")
def committed() -> dict[str, str]:
    assert DOC.exists(), f"{DOC} is missing: {REGENERATE}"
    return committed_rows(DOC.read_text())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_a_sentence_an_exit_code_and_loses_nothing(
    case: Case, outcomes: dict[str, Seen | Exception], committed: dict[str, str]
) -> None:
    if case.needs == "mount" and not private_mounts():
        pytest.skip("needs root with the right to mount (a tmpfs or a read-only bind mount)")
    seen = outcomes[case.id]
    if isinstance(seen, Exception):
        raise seen
    assert problems(case, seen) == [], seen.output
    assert row(case, seen) == committed.get(case.id), (
        f"docs/RELIABILITY.md differs for {case.id}: {REGENERATE}"
    )


def test_the_document_lists_every_case_once(committed: dict[str, str]) -> None:
    assert list(committed) == [c.id for c in CASES], REGENERATE
    assert len(CASES) >= 40


def test_the_readme_points_to_the_document() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    assert "docs/RELIABILITY.md" in readme.read_text()
