"""Accept a project's verification differences, with a reason the journal keeps (and undo).

Some differences are the migration working as designed and still worth a person's look: a step that ran
on the Server now runs on Cloud's dynamic workers, which cannot reach the team's network. Verification
reports those as differences; the team reads them and either changes the project or accepts them here.
An accepted difference no longer counts (the project is verified, so it can be cut over), stays listed as
accepted, and is accepted again automatically when a rerun of the wave finds the very same difference.
"""

from __future__ import annotations

from typing import Any

from octowiz.engine.migrate.verify import Difference, Verification
from octowiz.journal import Journal

STEP = "migrate"
ITEM = "project"
STAGE = "accepted"


def accepted_keys(detail: dict[str, Any] | None) -> set[tuple[str, str]]:
    """The ``(area, what)`` of each difference a project's ``accepted`` stage holds."""
    return {(str(d.get("area")), str(d.get("what"))) for d in (detail or {}).get("differences") or []}


def accept_differences(journal: Journal, project_id: str, reason: str) -> Verification:
    """Accept every difference the project's latest verification lists (blocking: a journal write).

    Raises:
        ValueError: no reason, the project was not verified yet, or nothing differs.
    """
    reason = reason.strip()
    if not reason:
        raise ValueError("Say why the differences are accepted: the journal keeps the reason.")
    recorded = journal.item_status(ITEM, project_id, "verify")
    if recorded is None or not recorded[1]:
        raise ValueError(f"{project_id} has not been verified yet: migrate its wave first.")
    verification = Verification.from_dict(recorded[1])
    if not verification.differences:
        raise ValueError(f"'{verification.project_name or project_id}' has no differences to accept.")
    previous = journal.item_status(ITEM, project_id, STAGE)
    before = list((previous[1] or {}).get("differences") or []) if previous else []
    chosen = [d.to_dict() for d in verification.differences]
    action = journal.begin_action(
        STEP,
        "accept-differences",
        project_id,
        {"project": verification.project_name, "reason": reason, "differences": chosen},
        {"unaccept": project_id, "differences": before},
    )
    keys = {(d.area, d.what) for d in verification.differences}
    journal.set_item(ITEM, project_id, STAGE, "done", {"differences": [*before, *chosen], "reason": reason})
    accepted = verification.with_accepted(keys)
    journal.set_item(ITEM, project_id, "verify", "done", accepted.to_dict())
    journal.finish_action(action, "done", {"accepted": len(chosen)})
    return accepted


def unaccept(journal: Journal, project_id: str) -> Verification:
    """Undo: the accepted differences count again (blocking: a journal write).

    Raises:
        ValueError: nothing was accepted for the project.
    """
    previous = journal.item_status(ITEM, project_id, STAGE)
    recorded = journal.item_status(ITEM, project_id, "verify")
    if previous is None or recorded is None or not recorded[1]:
        raise ValueError(f"No differences of {project_id} were accepted.")
    verification = Verification.from_dict(recorded[1])
    action = journal.begin_action(
        STEP, "unaccept-differences", project_id, {"project": verification.project_name}
    )
    restored = Verification.from_dict(
        {
            **verification.to_dict(),
            "differences": [d.to_dict() for d in [*verification.differences, *verification.accepted]],
            "accepted": [],
        }
    )
    journal.set_item(ITEM, project_id, STAGE, "undone", {"differences": []})
    journal.set_item(
        ITEM, project_id, "verify", "done" if restored.verified else "differences", restored.to_dict()
    )
    journal.finish_action(action, "done")
    return restored


__all__ = ["Difference", "accept_differences", "accepted_keys", "unaccept"]
