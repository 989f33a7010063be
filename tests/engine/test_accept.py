"""Accepting a project's verification differences: verified with the reason kept, undone, kept on a rerun."""

from __future__ import annotations

from pathlib import Path

import pytest

from octowiz.engine.migrate.accept import accept_differences, unaccept
from octowiz.engine.migrate.waves import project_state
from tests.engine.test_migrate import context_for, fast_sim, new_journal, run

REASON = "the cleanup step needs nothing on our network"


async def test_a_run_on_server_difference_is_accepted_with_its_reason_kept_and_undone(tmp_path: Path) -> None:
    sim = fast_sim(server_steps=True)  # the demo as it is: steps still run on the Server
    try:
        with sim.serve() as ends:
            ctx = context_for(tmp_path, ends["server"].url, ends["cloud"].url)
            journal = new_journal(tmp_path, ends["server"].url, ends["cloud"].url, ["Projects-9"])
            result, _ = await run(ctx, journal)
            (ops,) = result.projects
            assert ops.state == "differences"
            assert ops.verification is not None
            assert any("worker pool" in d.what for d in ops.verification.differences)

            with pytest.raises(ValueError, match="Say why"):
                accept_differences(journal, "Projects-9", "  ")
            accepted = accept_differences(journal, "Projects-9", REASON)
            assert accepted.verified and accepted.accepted == ops.verification.differences
            rows = [r for r in journal.items("project") if r[1] == "Projects-9"]
            assert project_state(rows, "wave 1") == "verified"
            (action,) = [a for a in journal.actions() if a.kind == "accept-differences"]
            assert action.intent["reason"] == REASON and action.outcome == "done" and action.undo

            # A rerun verifies again and finds the same difference: it stays accepted.
            again, _ = await run(ctx, journal)
            assert [p.state for p in again.projects] == ["verified"]
            assert again.projects[0].verification is not None
            assert again.projects[0].verification.accepted

            # Undo: the differences count again.
            restored = unaccept(journal, "Projects-9")
            assert not restored.verified and not restored.accepted
            rows = [r for r in journal.items("project") if r[1] == "Projects-9"]
            assert project_state(rows, "wave 1") == "differences"
            journal.close()
    finally:
        sim.close()


async def test_nothing_to_accept_gets_a_sentence(tmp_path: Path) -> None:
    sim = fast_sim()
    try:
        with sim.serve() as ends:
            ctx = context_for(tmp_path, ends["server"].url, ends["cloud"].url)
            journal = new_journal(tmp_path, ends["server"].url, ends["cloud"].url, ["Projects-9"])
            with pytest.raises(ValueError, match="has not been verified yet"):
                accept_differences(journal, "Projects-9", REASON)
            result, _ = await run(ctx, journal)
            assert [p.state for p in result.projects] == ["verified"]
            with pytest.raises(ValueError, match="has no differences to accept"):
                accept_differences(journal, "Projects-9", REASON)
            journal.close()
    finally:
        sim.close()
