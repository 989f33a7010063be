"""Retire, driven as a user would (Pilot), and its snapshot.

The journal and the Server are set as a finished wave leaves them (each project imported, verified and
disabled on the Server, written directly: what comes before the retire is tested elsewhere), so the
screen shows its preconditions, and the read-only actions run against the demo simulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, DataTable

from octowiz.engine.context import Context
from octowiz.engine.retire import retire as rt
from octowiz.journal import Journal
from octowiz.sim.simulator import Simulator
from octowiz.tui.screens.dialogs import TypedConfirm
from octowiz.tui.screens.retire import RetireScreen
from tests.tui.test_waves_screens import SIZE, WAVE, Host, HostPilot, fast_sim, mutating, rows, text, until
from tests.tui.tuikit import connected, demo_context, settle, still

NAME = "acme"
STATUSES = {
    s: "done"
    for s in ("connect", "differences", "connectivity", "users", "waves", "migrate", "targets", "cutover")
}
FAST = rt.RetireSettings(poll_interval=0.01)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = fast_sim()
    yield s
    s.close()


def finished(tmp: Path, sim: Simulator) -> tuple[Context, Journal]:
    """A migration whose one wave is migrated, verified and disabled on the Server."""
    ctx = demo_context(tmp, sim)
    journal = connected(ctx, sim, NAME, *STATUSES)
    journal.set_wave("wave 1", list(WAVE))
    for n, pid in enumerate(WAVE, 1):
        journal.set_item("project", pid, "import", "done", {"destination_id": f"Projects-{100 + n}"})
        journal.set_item("project", pid, "verify", "done", {})
        journal.set_item("project", pid, "disabled", "done", {})
        doc = sim.server.store.get("projects", pid)
        assert doc is not None
        sim.server.store.put("projects", {**doc, "IsDisabled": True})
    sim.server.requests.clear()
    sim.cloud.requests.clear()
    return ctx, journal


def retire_app(ctx: Context, journal: Journal, *, review: bool = False) -> Host:
    downloads = ctx.paths.downloads / NAME
    return Host(lambda: RetireScreen(ctx, journal, STATUSES, downloads, review=review, settings=FAST))


async def loaded(pilot: HostPilot) -> RetireScreen:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RetireScreen)
    await until(pilot, lambda: screen.report is not None and not screen.busy, "the retire's state")
    await settle(pilot)
    return screen


def checks(screen: RetireScreen) -> dict[str, str]:
    return {r[0]: r[1] for r in rows(screen.query_one("#checks", DataTable))}


def caps(sim: Simulator) -> dict[str, int]:
    return {n["Id"]: int(n["MaxConcurrentTasks"]) for n in sim.server.store.all("octopusservernodes")}


def maintenance(sim: Simulator) -> bool:
    doc = sim.server.store.get("config", "maintenance")
    return bool(doc and doc.get("IsInMaintenanceMode"))


async def confirm(pilot: HostPilot, word: str) -> None:
    """Type the word into the open TypedConfirm and Enter."""
    await until(pilot, lambda: isinstance(pilot.app.screen, TypedConfirm), "the confirmation")
    await pilot.press(*word, "enter")
    await settle(pilot)


async def test_the_checklist_then_read_only_with_its_undo(tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = finished(tmp_path, sim)
    before = caps(sim)
    app = retire_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        assert checks(screen) == {
            "The Server is self-hosted": "✔ met",
            "Every planned project is on Cloud": "✔ met",
            "Nothing runs on the Server": "✔ met",
            "A full database backup exists": "· to do",
            "The audit log is exported": "· to do",
        }
        assert "2 preconditions to meet first" in text(screen, "#retire-summary")
        # Read-only is refused while a precondition is open: nothing is sent.
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert not isinstance(app.screen, TypedConfirm) and not mutating(sim)

        await pilot.press("ctrl+k")
        await confirm(pilot, "a full backup")  # not the phrase: refused in the dialog
        assert isinstance(app.screen, TypedConfirm)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("ctrl+k")
        await confirm(pilot, rt.BACKUP_PHRASE)
        await until(pilot, lambda: checks(screen)["A full database backup exists"] == "✔ met", "the backup")
        await pilot.press("ctrl+a")
        await until(pilot, lambda: checks(screen)["The audit log is exported"] == "✔ met", "the audit log")
        assert "every precondition is met" in text(screen, "#retire-summary")
        assert not mutating(sim)  # the checklist is the journal's, not the Server's

        await pilot.press("ctrl+g")
        await confirm(pilot, "read-only")
        await until(pilot, lambda: screen.report is not None and screen.report.read_only, "read-only")
        assert maintenance(sim) and set(caps(sim).values()) == {0}
        kinds = [a.kind for a in journal.actions(step=rt.STEP) if a.outcome]
        assert len(kinds) >= 2 and all(a.undo for a in journal.actions(step=rt.STEP) if a.kind == kinds[0])
        assert "read-only" in text(screen, "#retire-summary")

        await pilot.press("ctrl+z")
        await confirm(pilot, "undo")
        await until(pilot, lambda: screen.report is not None and not screen.report.read_only, "the undo")
        assert not maintenance(sim) and caps(sim) == before
    journal.close()


async def test_a_review_changes_nothing(tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = finished(tmp_path, sim)
    app = retire_app(ctx, journal, review=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        assert [b.id for b in screen.query(Button)] == ["back"]
        for key in ("ctrl+k", "ctrl+a", "ctrl+g", "ctrl+d", "ctrl+z"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is screen
    assert not mutating(sim)
    journal.close()


def test_snapshot_retire_preconditions(snap_compare: Any, tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = finished(tmp_path, sim)
    rt.confirm_backup(journal, rt.BACKUP_PHRASE, who="ops@example.com")

    async def run_before(pilot: HostPilot) -> None:
        screen = await loaded(pilot)
        screen.query_one("#checks", DataTable).move_cursor(row=4)
        await still(pilot)

    try:
        assert snap_compare(retire_app(ctx, journal), terminal_size=SIZE, run_before=run_before)
    finally:
        journal.close()
