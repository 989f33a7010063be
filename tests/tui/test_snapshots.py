"""Snapshots of each step in its key states. Review snapshot_report.html before --snapshot-update."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

import octowiz.journal.journal as journal_module
from octowiz.journal import Journal
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Simulator
from octowiz.tui.app import make_app
from tests.tui.tuikit import GatedTransport, demo_context, real_context, settle, still

SIZE = (130, 44)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "now", lambda: "2026-11-20T09:30:00+00:00")


def _app(ctx: Any) -> Any:
    app = make_app(ctx)
    app.animation_level = "none"
    return app


async def _to_connect(pilot: Any) -> None:
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    for ch in "acme-to-cloud":
        await pilot.press(ch)
    await pilot.press("enter")
    await still(pilot)


def test_welcome_empty(snap_compare: Any, tmp_path: Path) -> None:
    app = _app(demo_context(tmp_path, Simulator(None, "demo")))
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_welcome_with_migrations(snap_compare: Any, tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    for name, done in (("acme-to-cloud", True), ("billing-wave", False)):
        with Journal.create(ctx.journal_path(name), {"name": name}) as j:
            j.set_settings(
                source_url=sim.server_url,
                source_space_name="Default",
                destination_url=sim.cloud_url,
                destination_space_name="Default",
            )
            j.set_step("connect", "done" if done else "in progress")
    assert snap_compare(_app(ctx), terminal_size=SIZE, run_before=settle)


def test_connect_idle(snap_compare: Any, tmp_path: Path) -> None:
    app = _app(demo_context(tmp_path, Simulator(None, "demo")))
    assert snap_compare(app, terminal_size=SIZE, run_before=_to_connect)


def test_connect_validating(snap_compare: Any, tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    gated = GatedTransport(sim.transport())
    ctx.transport = gated

    async def before(pilot: Any) -> None:
        await _to_connect(pilot)
        await pilot.press("ctrl+t")
        await gated.waiting.wait()  # the check is in flight, held at the gate
        await pilot.pause()

    assert snap_compare(_app(ctx), terminal_size=SIZE, run_before=before)
    gated.gate.set()


def test_connect_error(snap_compare: Any, tmp_path: Path) -> None:
    sim = Simulator(None, "demo")

    async def before(pilot: Any) -> None:
        await _to_connect(pilot)
        screen = pilot.app.screen
        screen.query_one("#source-url", Input).value = sim.server_url
        screen.query_one("#source-key", Input).value = "API-FAKEWRONGKEY00000000000"
        screen.query_one("#destination-url", Input).value = "https://no-such-octopus.example.internal"
        screen.query_one("#destination-key", Input).value = CLOUD_MANAGER.api_key
        await pilot.press("ctrl+t")
        await still(pilot)

    assert snap_compare(_app(real_context(tmp_path, sim)), terminal_size=SIZE, run_before=before)


def test_connect_connected(snap_compare: Any, tmp_path: Path) -> None:
    sim = Simulator(None, "demo")

    async def before(pilot: Any) -> None:
        await _to_connect(pilot)
        screen = pilot.app.screen
        screen.query_one("#source-url", Input).value = sim.server_url
        screen.query_one("#source-key", Input).value = SERVER_ADMIN.api_key
        screen.query_one("#destination-url", Input).value = sim.cloud_url
        screen.query_one("#destination-key", Input).value = CLOUD_MANAGER.api_key
        await pilot.press("ctrl+t")
        await still(pilot)

    assert snap_compare(_app(real_context(tmp_path, sim)), terminal_size=SIZE, run_before=before)
