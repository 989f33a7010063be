"""Snapshots of Waves and Migrate in their key states.

The journal's clock is fixed, the demo's deployment dates are fixed by the simulator, and nothing here
snapshots a live run: the progress is a fixed sequence of the engine's events posted to the screen, and
the results are journal rows written here. Review snapshot_report.html before --snapshot-update.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, TabbedContent

import octowiz.journal.journal as journal_module
from octowiz.engine.context import Context
from octowiz.engine.migrate.run import Event, ImportPreview
from octowiz.engine.migrate.verify import Difference, Verification
from octowiz.engine.prepare.scanning import run_readiness
from octowiz.journal import Journal
from octowiz.sim.simulator import Simulator
from octowiz.tui.screens.migrate import MigrateScreen, PreviewDialog, PreviewRequested, WaveProgress
from octowiz.tui.screens.waves import AddToWaveDialog, WavesScreen
from tests.tui.test_waves_screens import NAME, STATUSES, WAVE, Host
from tests.tui.tuikit import connected, demo_context, settle, still

SIZE = (130, 44)
WHEN = "2026-11-20T09:30:00+00:00"
CHECKED = ["settings", "steps", "variables", "channels", "lifecycles", "tenants", "runbooks", "triggers"]


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "now", lambda: WHEN)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = Simulator(None, "demo")
    yield s
    s.close()


def scanned(tmp: Path, sim: Simulator) -> tuple[Context, Journal]:
    ctx = demo_context(tmp, sim)
    # The step list shows where a real migration would stand.
    journal = connected(ctx, sim, NAME, "differences", "connectivity", "users")
    asyncio.run(run_readiness(ctx, journal))
    return ctx, journal


def _app(screen: Any) -> Host:
    app = Host(screen)
    app.animation_level = "none"
    return app


# -- Waves ---------------------------------------------------------------------------------------------


def test_waves_with_a_selection(snap_compare: Any, tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = scanned(tmp_path, sim)

    async def before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("ctrl+s")  # the suggested first wave
        table = pilot.app.screen.query_one("#catalog", DataTable)
        table.move_cursor(row=table.get_row_index("Projects-9"))  # Ops Toolkit, selected: its details
        await still(pilot, clear_toasts=True)

    assert snap_compare(
        _app(lambda: WavesScreen(ctx, journal, STATUSES)), terminal_size=SIZE, run_before=before
    )


def test_waves_add_to_wave_check(snap_compare: Any, tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = scanned(tmp_path, sim)

    async def before(pilot: Any) -> None:
        await settle(pilot)
        table = pilot.app.screen.query_one("#catalog", DataTable)
        table.move_cursor(row=table.get_row_index("Projects-5"))  # Release Orchestrator
        await pilot.press("space", "ctrl+w")
        await still(pilot, clear_toasts=True)
        assert isinstance(pilot.app.screen, AddToWaveDialog)

    assert snap_compare(
        _app(lambda: WavesScreen(ctx, journal, STATUSES)), terminal_size=SIZE, run_before=before
    )


# -- Migrate -------------------------------------------------------------------------------------------

PREVIEW = ImportPreview(
    projects=list(WAVE.values()),
    created={
        "environments": ["Development", "Production", "Test"],
        "lifecycles": ["Hotfix", "Standard"],
        "certificates": ["Corp Wildcard"],
    },
    matched={"worker pools": ["Hosted Ubuntu"]},
    dynamic_pools=["Hosted Ubuntu"],
    static_pools=["Windows Workers"],
)

#: A wave as the engine reports it, up to copying packages (the import preview was confirmed).
EVENTS = [
    Event("export", "Starting the export of Acme Web, Acme Database, Ops Toolkit"),
    Event("export", "Export: Executing 51%, 00:00:04 left", percent=51, log_tail=["Exporting Acme Web"]),
    Event(
        "export",
        "Export: Success 100%",
        percent=100,
        log_tail=[
            "Exporting Acme Web",
            "Exporting Acme Database",
            "Exporting Ops Toolkit",
            "Export complete",
        ],
    ),
    Event("download", "Downloading Octopus-Export-56ADD99A.zip"),
    Event("download", "Archive saved (32,559 bytes, SHA-256 c54719e504bc…)"),
    Event("upload", "Uploading the archive to octowiz-demo.octopus.app", total_bytes=32_559),
    Event("preview", "\n".join(PREVIEW.lines())),
    Event(
        "import",
        "Import: Success 100%",
        percent=100,
        log_tail=[
            "Importing Acme Web",
            "Importing Acme Database",
            "Importing Ops Toolkit",
            "Step 'Run migrations' ran on the Octopus Server; it now runs on the default worker pool "
            "'Hosted Ubuntu'",
            "Import complete",
        ],
    ),
    Event("packages", "6 package version(s) the releases need"),
    Event("packages", "Copying packages", done_bytes=430, total_bytes=2_594),
    Event("packages", "Copying packages", done_bytes=1_290, total_bytes=2_594),
]


def planned(tmp: Path, sim: Simulator) -> tuple[Context, Journal]:
    ctx, journal = scanned(tmp, sim)
    journal.set_wave("wave 1", list(WAVE))
    journal.set_step("waves", "done")
    return ctx, journal


def _migrate(ctx: Context, journal: Journal, *, review: bool = False) -> Host:
    return _app(lambda: MigrateScreen(ctx, journal, STATUSES, review=review))


def _post(screen: Any, events: list[Event]) -> None:
    screen.begin_run("wave 1")
    for event in events:
        screen.post_message(WaveProgress(event))


def test_migrate_progress_mid_run(snap_compare: Any, tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = planned(tmp_path, sim)

    async def before(pilot: Any) -> None:
        await settle(pilot)
        _post(pilot.app.screen, EVENTS)
        await still(pilot, clear_toasts=True)

    assert snap_compare(_migrate(ctx, journal), terminal_size=SIZE, run_before=before)


def test_migrate_import_preview(snap_compare: Any, tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = planned(tmp_path, sim)

    async def before(pilot: Any) -> None:
        await settle(pilot)
        screen = pilot.app.screen
        upto = next(i for i, e in enumerate(EVENTS) if e.stage == "preview")
        _post(screen, EVENTS[: upto + 1])
        screen.post_message(PreviewRequested(PREVIEW, asyncio.get_running_loop().create_future()))
        await still(pilot, clear_toasts=True)
        assert isinstance(pilot.app.screen, PreviewDialog)

    assert snap_compare(_migrate(ctx, journal), terminal_size=SIZE, run_before=before)


def _record_results(journal: Journal) -> None:
    """The journal after a run of wave 1 in which one project has one difference."""
    tenants = Difference(
        "tenants",
        "Tenant 'Contoso' is connected to the project on Octopus Cloud but not on the Server",
        "",
        "Contoso",
    )
    results = {
        "Projects-1": ("Projects-1", "copied", ["Nightly deploy to Test", "Deploy to new web servers"], []),
        "Projects-3": ("Projects-2", "copied", [], [tenants]),
        "Projects-9": ("Projects-3", "none", ["Nightly temp cleanup"], []),
    }
    for pid, (did, logo, triggers, differences) in results.items():
        journal.set_item("project", pid, "import", "done", {"destination_id": did})
        journal.set_item(
            "project", pid, "packages", "done", {"copied": 2, "already": 0, "refused": [], "failed": []}
        )
        journal.set_item("project", pid, "logo", "done", {"result": logo})
        journal.set_item(
            "project",
            pid,
            "triggers",
            "done",
            {"triggers": [{"name": t, "status": "created", "detail": ""} for t in triggers]},
        )
        verification = Verification(pid, WAVE[pid], did, differences, CHECKED, notes=[])
        journal.set_item(
            "project",
            pid,
            "verify",
            "done" if verification.verified else "differences",
            verification.to_dict(),
        )
    journal.set_step("migrate", "in progress", "wave 1: 1 differences, 2 verified")


def test_migrate_verification_with_one_difference(snap_compare: Any, tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = planned(tmp_path, sim)
    _record_results(journal)

    async def before(pilot: Any) -> None:
        await settle(pilot)
        screen = pilot.app.screen
        screen.query_one("#migrate-tabs", TabbedContent).active = "tab-verification"
        await settle(pilot)
        table = screen.query_one("#verification", DataTable)
        table.focus()
        table.move_cursor(row=1)  # Acme Database's difference, with both sides below
        await still(pilot, clear_toasts=True)

    assert snap_compare(_migrate(ctx, journal), terminal_size=SIZE, run_before=before)
