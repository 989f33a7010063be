"""The steps a migration goes through, in order. Later capabilities add theirs here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One step of the wizard.

    Attributes:
        id: stable identifier, as the journal records it.
        title: what the step list shows.
        mutating: True when the step changes either instance (hidden in read-only reviews).
    """

    id: str
    title: str
    mutating: bool = False


#: Every step that exists, in the order a migration takes them.
STEPS: tuple[Step, ...] = (
    Step("connect", "Connect"),
    Step("differences", "Differences"),
    Step("connectivity", "Connectivity"),
    Step("users", "Users & pools"),
    Step("waves", "Waves"),
    Step("migrate", "Migrate", mutating=True),
    Step("targets", "Targets", mutating=True),
    Step("cutover", "Cutover", mutating=True),
    Step("retire", "Retire", mutating=True),
)

STEP_IDS = tuple(s.id for s in STEPS)


def next_step(statuses: dict[str, str]) -> str | None:
    """The first step that is not done (where a resumed migration continues), or None when all are."""
    for step in STEPS:
        if statuses.get(step.id, "not started") != "done":
            return step.id
    return None


def progress(statuses: dict[str, str]) -> tuple[int, int]:
    """``(steps done, steps in all)``."""
    return sum(1 for s in STEPS if statuses.get(s.id) == "done"), len(STEPS)
