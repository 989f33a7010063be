"""Snapshots of Targets and Cutover in their key states.

The demo wave is migrated in-process first (as test_cutover_screens does), the journal's clock is fixed
and the demo's ids and dates are the simulator's own, so each screen draws the same every time. Review
snapshot_report.html before --snapshot-update.
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
from octowiz.engine.cutover import cutover as co
from octowiz.journal import Journal
from octowiz.sim.simulator import Simulator
from octowiz.tui.screens.cutover import CutoverScreen
from octowiz.tui.screens.dialogs import TypedConfirm
from octowiz.tui.screens.targets import TargetsScreen
from tests.tui.test_cutover_screens import (
    CANARY,
    CANARY_MACHINE,
    CUTOVER_SETTINGS,
    NAME,
    STATUSES,
    TARGET_SETTINGS,
    canary_healthy,
    migrated,
)
from tests.tui.test_waves_screens import Host, fast_sim, until
from tests.tui.tuikit import settle, still

SIZE = (130, 44)
WHEN = "2026-11-20T09:30:00+00:00"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "now", lambda: WHEN)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = fast_sim()
    yield s
    s.close()


def _app(screen: Any) -> Host:
    app = Host(screen)
    app.animation_level = "none"
    return app


def _targets(ctx: Context, journal: Journal) -> Host:
    downloads = ctx.paths.downloads / NAME
    return _app(lambda: TargetsScreen(ctx, journal, STATUSES, downloads, settings=TARGET_SETTINGS))


def _cutover(ctx: Context, journal: Journal) -> Host:
    return _app(lambda: CutoverScreen(ctx, journal, STATUSES, settings=CUTOVER_SETTINGS))


async def _loaded(pilot: Any) -> Any:
    await settle(pilot)
    screen = pilot.app.screen
    await until(pilot, lambda: screen.loaded is not None and not screen.busy, "the screen to read")
    await settle(pilot)
    return screen


def _cursor(screen: Any, table_id: str, key: str) -> None:
    table = screen.query_one(table_id, DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(key))


# -- Targets -------------------------------------------------------------------------------------------


def test_targets_canary_offered(snap_compare: Any, tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = asyncio.run(migrated(tmp_path, sim))

    async def before(pilot: Any) -> None:
        screen = await _loaded(pilot)
        canary = next(r.source_id for r in screen.rows if r.name == CANARY_MACHINE)
        _cursor(screen, "#machines", canary)  # the canary's machine, with what cloning it means
        await still(pilot, clear_toasts=True)

    assert snap_compare(_targets(ctx, journal), terminal_size=SIZE, run_before=before)


def test_targets_clone_confirmation(snap_compare: Any, tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = asyncio.run(migrated(tmp_path, sim))

    async def before(pilot: Any) -> None:
        await _loaded(pilot)
        await pilot.press("ctrl+g")
        await still(pilot, clear_toasts=True)
        assert isinstance(pilot.app.screen, TypedConfirm)

    assert snap_compare(_targets(ctx, journal), terminal_size=SIZE, run_before=before)


def test_targets_canary_healthy(snap_compare: Any, tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = asyncio.run(migrated(tmp_path, sim))
    asyncio.run(canary_healthy(ctx, journal))

    async def before(pilot: Any) -> None:
        screen = await _loaded(pilot)
        screen.query_one("#targets-tabs", TabbedContent).active = "tab-hosts"
        await settle(pilot)
        _cursor(screen, "#hosts", CANARY)  # its stages done, every host offered now
        await still(pilot, clear_toasts=True)

    assert snap_compare(_targets(ctx, journal), terminal_size=SIZE, run_before=before)


# -- Cutover -------------------------------------------------------------------------------------------


async def _prepared(tmp: Path, sim: Simulator) -> tuple[Context, Journal]:
    """Acme Web's test passed on Cloud; Acme Database's verification found a difference."""
    ctx, journal = await migrated(tmp, sim)
    await canary_healthy(ctx, journal)

    async def yes(_: co.TestPreview) -> bool:
        return True

    async with co.open_cutover(ctx, journal, "wave 1", settings=CUTOVER_SETTINGS) as cut:
        result = await cut.run_test(await cut.test_preview("Projects-1"), confirm=yes)
    assert result.status == "passed"
    journal.set_item("project", "Projects-3", "verify", "differences", {"destination_id": "Projects-2"})
    return ctx, journal


def test_cutover_projects_with_preconditions(snap_compare: Any, tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = asyncio.run(_prepared(tmp_path, sim))

    async def before(pilot: Any) -> None:
        screen = await _loaded(pilot)
        _cursor(screen, "#projects", "Projects-1")
        await still(pilot, clear_toasts=True)

    assert snap_compare(_cutover(ctx, journal), terminal_size=SIZE, run_before=before)


def test_cutover_disable_confirmation_with_a_reason(
    snap_compare: Any, tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = asyncio.run(_prepared(tmp_path, sim))

    async def before(pilot: Any) -> None:
        await _loaded(pilot)
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(pilot.app.screen, TypedConfirm)
        await pilot.press(*"owner signed off", "tab", *"disable")
        await still(pilot, clear_toasts=True)

    assert snap_compare(_cutover(ctx, journal), terminal_size=SIZE, run_before=before)


def test_cutover_after_disable(snap_compare: Any, tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = asyncio.run(_prepared(tmp_path, sim))

    async def before(pilot: Any) -> None:
        screen = await _loaded(pilot)
        await pilot.press("ctrl+g")
        await settle(pilot)
        await pilot.press(*"owner signed off", "tab", *"disable", "enter")
        await until(pilot, lambda: pilot.app.screen is screen and not screen.busy, "the disable")
        await _loaded(pilot)
        _cursor(screen, "#projects", "Projects-1")
        await still(pilot, clear_toasts=True)

    assert snap_compare(_cutover(ctx, journal), terminal_size=SIZE, run_before=before)
