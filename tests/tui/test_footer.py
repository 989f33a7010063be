"""The footer is rebuilt only when the keys it shows change.

Textual's footer is rebuilt at every focus change and every change of what an action may do: a
whole-screen layout and paint each time (30-40 ms on a slow 2-core machine), seen as the longest
stall at the end of Targets. Ours keeps its keys when they stay the same, and dims or lights one in
place when only whether it is enabled changed.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, ContentSwitcher
from textual.widgets._footer import FooterKey

from octowiz.sim.simulator import Simulator
from octowiz.tui.app import make_app
from octowiz.tui.screens.differences import DifferencesScreen
from octowiz.tui.screenshots import until
from octowiz.tui.widgets.footer import Footer
from tests.tui.tuikit import GatedTransport, connected, demo_context, settle


def _keys(screen: DifferencesScreen) -> list[FooterKey]:
    return list(screen.query_one(Footer).query(FooterKey))


def _shown(keys: list[FooterKey]) -> list[tuple[str, str, bool]]:
    """What the footer shows: each key, its description, and whether it is dimmed (disabled)."""
    return [(k.key_display, k.description, k.has_class("-disabled")) for k in keys]


async def test_the_footer_keeps_its_keys_while_they_stay_the_same_and_shows_new_ones(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    gated = GatedTransport(sim.transport())
    ctx.transport = gated
    journal = connected(ctx, sim, "m")
    app = make_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = DifferencesScreen(ctx, journal, {}, None)
        await app.push_screen(screen)
        await gated.waiting.wait()  # the scan is under way, held at the gate
        await until(pilot, lambda: bool(_keys(screen)) and screen.query_one(ContentSwitcher).display)
        # While it scans, the only thing to do is to cancel it.
        assert _shown(_keys(screen)) == [("esc", "Cancel scan", False), ("^p", "palette", False)]

        gated.gate.set()
        await settle(pilot)
        scanned = _keys(screen)
        assert _shown(scanned) == [
            ("^r", "Rescan", False),
            ("^n", "Continue", False),
            ("^b", "Back", False),
            ("^p", "palette", False),
        ]

        # The focus moves from the table to a button and between buttons: the same keys, so the
        # footer keeps the very keys it shows.
        for button in ("#rescan", "#back", "#continue"):
            screen.query_one(button, Button).focus()
            await settle(pilot)
            assert screen.focused is screen.query_one(button)
            assert all(a is b for a, b in zip(_keys(screen), scanned, strict=True))

        # Its keys still work: clicking Back leaves the step.
        await pilot.click(scanned[2])
        await settle(pilot)
        assert not isinstance(app.screen, DifferencesScreen)


async def test_the_footer_is_rebuilt_when_its_keys_change(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    connected(ctx, sim, "m").close()  # closed: the wizard opens it
    app = make_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        before = _shown(list(app.screen.query_one(Footer).query(FooterKey)))
        await pilot.press("r")  # Resume: the step screen's own keys
        await settle(pilot)
        after = _shown(list(app.screen.query_one(Footer).query(FooterKey)))
    assert ("n", "New", False) in before
    assert after and after != before and ("^b", "Back", False) in after
