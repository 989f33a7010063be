"""``octowiz --demo`` as the command line starts it: the simulator built after the first screen."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Input, Static

from octowiz import heap
from octowiz.engine.context import demo_context
from octowiz.engine.deferred_sim import DeferredSimulator
from octowiz.sim.simulator import SERVER_URL
from octowiz.tui.app import make_app
from octowiz.tui.screens.connect import ConnectScreen
from octowiz.tui.screens.welcome import WelcomeScreen
from tests.tui.tuikit import paths, settle


async def test_the_demo_is_built_after_the_welcome_screen_and_a_new_migration_reaches_it(
    tmp_path: Path,
) -> None:
    ctx = demo_context(paths(tmp_path), deferred=True)
    sim = ctx.simulator
    assert isinstance(sim, DeferredSimulator)
    app = make_app(ctx)
    try:
        async with app.run_test(size=(130, 44)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, WelcomeScreen)
            assert await asyncio.to_thread(app.warmed_up.wait, 60)
            assert sim.built and not heap.unsettled()
            await pilot.press("n")
            await settle(pilot)
            await pilot.press(*"acme", "enter")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, ConnectScreen)
            assert screen.query_one("#source-url", Input).value == SERVER_URL
            await pilot.press("ctrl+t")  # both instances checked through the deferred transport
            await settle(pilot)
            assert "Reachable: Octopus" in str(screen.query_one("#source-result", Static).render())
    finally:
        ctx.close()
