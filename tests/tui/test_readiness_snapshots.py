"""Snapshots of Differences, Connectivity and Users & pools in their key states.

The clocks these screens show (scan time, measuring time, elapsed seconds, this machine's name) are
fixed here so each snapshot is the same on every run. Review snapshot_report.html before
--snapshot-update.
"""

from __future__ import annotations

import functools
import itertools
import socket
import types
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, TabbedContent

import octowiz.engine.prepare.connectivity as connectivity_module
import octowiz.engine.prepare.inventory as inventory_module
import octowiz.engine.prepare.readiness as readiness_module
import octowiz.engine.prepare.scanning as scanning_module
import octowiz.journal.journal as journal_module
from octowiz.engine.context import Context
from octowiz.octopus.urls import normalise_base_url
from octowiz.sim.simulator import Simulator
from octowiz.tui.app import make_app
from octowiz.tui.screens.users import ConfirmCreatePool
from tests.tui.tuikit import connected, demo_context, settle, still

SIZE = (130, 44)
NAME = "acme-to-cloud"
WHEN = "2026-11-20T09:30:00+00:00"


@pytest.fixture(autouse=True)
def fixed_clocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "now", lambda: WHEN)
    # The readiness scan's timestamp, and the inventory's elapsed time (1.2 s on every run).
    monkeypatch.setattr(scanning_module, "scan", functools.partial(readiness_module.scan, now=lambda: WHEN))
    ticks = itertools.count(100.0, 1.2)
    monkeypatch.setattr(inventory_module, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    # Connectivity: when each probe ran, and the machine it ran from.
    monkeypatch.setattr(connectivity_module, "utc_now", lambda: WHEN)
    monkeypatch.setattr(socket, "gethostname", lambda: "workstation")


def _context(tmp_path: Path, scenario: str, *done: str) -> tuple[Context, Simulator]:
    sim = Simulator(None, scenario)
    ctx = demo_context(tmp_path, sim)
    connected(ctx, sim, NAME, *done).close()
    return ctx, sim


def _app(ctx: Context) -> Any:
    app = make_app(ctx)
    app.animation_level = "none"
    return app


async def _resume(pilot: Any) -> None:
    await settle(pilot)
    await pilot.press("r")
    await still(pilot)


def test_differences_with_findings(snap_compare: Any, tmp_path: Path) -> None:
    ctx, _ = _context(tmp_path, "demo")
    assert snap_compare(_app(ctx), terminal_size=SIZE, run_before=_resume)


def test_differences_all_clear(snap_compare: Any, tmp_path: Path) -> None:
    ctx, _ = _context(tmp_path, "empty")
    assert snap_compare(_app(ctx), terminal_size=SIZE, run_before=_resume)


def test_differences_failure(snap_compare: Any, tmp_path: Path) -> None:
    ctx, sim = _context(tmp_path, "demo")
    ctx.demo_keys[normalise_base_url(sim.server_url)] = "API-FAKEWRONGKEY000000000000"
    assert snap_compare(_app(ctx), terminal_size=SIZE, run_before=_resume)


def test_connectivity_with_failures(snap_compare: Any, tmp_path: Path) -> None:
    ctx, _ = _context(tmp_path, "demo", "differences")

    async def before(pilot: Any) -> None:
        await _resume(pilot)
        probes = pilot.app.screen.query_one("#probes", DataTable)
        probes.focus()
        probes.move_cursor(row=3)  # the first failure, with its evidence in the detail panel
        await still(pilot)

    assert snap_compare(_app(ctx), terminal_size=SIZE, run_before=before)


def test_users_table(snap_compare: Any, tmp_path: Path) -> None:
    ctx, _ = _context(tmp_path, "demo", "differences", "connectivity")
    assert snap_compare(_app(ctx), terminal_size=SIZE, run_before=_resume)


def test_users_pools_confirm(snap_compare: Any, tmp_path: Path) -> None:
    ctx, _ = _context(tmp_path, "demo", "differences", "connectivity")

    async def before(pilot: Any) -> None:
        await _resume(pilot)
        pilot.app.screen.query_one("#users-tabs", TabbedContent).active = "tab-pools"
        await still(pilot)
        pools = pilot.app.screen.query_one("#pools", DataTable)
        pools.focus()
        await pilot.press("down")  # Linux Workers: no pool on Cloud yet
        await still(pilot)
        await pilot.click("#create-pool")
        await still(pilot)
        assert isinstance(pilot.app.screen, ConfirmCreatePool)

    assert snap_compare(_app(ctx), terminal_size=SIZE, run_before=before)
