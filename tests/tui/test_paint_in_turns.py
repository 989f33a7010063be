"""A step screen and a dialog paint over several turns of the event loop, never one long paint.

Showing a screen renders the whole terminal: 45-70 ms in one turn on a 2-core machine, a stall a person
feels. Step screens paint the frame, their step list, their body, their tabs' layout (the strip not
drawn), their actions, their tab strip, then the tab panes; dialogs paint the dimmed screen beneath,
then their box (``python -m benchmarks.scan`` and the other UI benchmarks measure it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual._context import visible_screen_stack
from textual.containers import Horizontal, Vertical
from textual.renderables.background_screen import BackgroundScreen
from textual.screen import Screen
from textual.visual import RichVisual, Visual
from textual.widgets import ContentSwitcher, Input, TabbedContent, Tabs

from octowiz.sim.simulator import Simulator
from octowiz.tui.app import make_app
from octowiz.tui.screens.dialogs import DimmedBackground
from octowiz.tui.screens.differences import DifferencesScreen
from octowiz.tui.screens.migrate import PasswordDialog
from octowiz.tui.tables import Table
from octowiz.tui.widgets.steps import StepList
from tests.tui.tuikit import connected, demo_context, settle


def _record_paints(screen: Screen[Any], state: Any) -> list[Any]:
    """What ``state()`` was at each of the screen's paints."""
    seen: list[Any] = []
    paint = screen._compositor_refresh

    def recording() -> None:
        seen.append(state())
        paint()

    screen._compositor_refresh = recording  # type: ignore[method-assign]
    return seen


def _changes(states: list[Any]) -> list[Any]:
    """Each state that differs from the one before it, in order."""
    return [state for i, state in enumerate(states) if i == 0 or states[i - 1] != state]


def _table_state(screen: Screen[Any], table: Table) -> Callable[[], tuple[bool, int | None, int, str]]:
    """What a paint shows of a table revealed by ``tables.reveal``: shown, lines shown, rows, focus."""
    return lambda: (table.display, table.shown_lines, table.row_count, type(screen.focused).__name__)


async def test_a_step_screen_paints_frame_body_and_tabs_in_turns(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    journal = connected(ctx, sim, "m")
    app = make_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = DifferencesScreen(ctx, journal, {}, None, review=True)

        def state() -> tuple[bool, ...]:
            body = screen.query_one("#differences-body", Vertical)
            tabs = screen.query_one("#differences-tabs", TabbedContent)
            actions = screen.query_one("#differences-actions", Horizontal)
            panes = tabs.query_one(ContentSwitcher)
            drawn = screen._compositor.visible_widgets
            return (
                screen.query_one(StepList).display,
                body.display,
                tabs.display and panes.display and panes.size.height > 0,  # the tabs laid out
                actions.display,
                tabs.query_one(Tabs) in drawn,
                panes in drawn,
            )

        paints = _record_paints(screen, state)
        await app.push_screen(screen)
        await settle(pilot)
    steps = list(dict.fromkeys(paints))  # each state once, in the order first painted
    # The frame; the step list; the body; the tabs laid out, not drawn; the actions; the tab strip
    # drawn; the tab panes drawn.
    assert steps == [
        (False, False, False, False, False, False),
        (True, False, False, False, False, False),
        (True, True, False, False, False, False),
        (True, True, True, False, False, False),
        (True, True, True, True, False, False),
        (True, True, True, True, True, False),
        (True, True, True, True, True, True),
    ]


async def test_a_dialog_paints_its_box_after_the_screen_beneath_and_keeps_the_focus(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    connected(ctx, sim, "m")
    app = make_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        dialog = PasswordDialog("wave 1")
        paints = _record_paints(dialog, lambda: dialog.query_one("#dialog", Vertical).display)
        await app.push_screen(dialog)
        await settle(pilot)
        assert list(dict.fromkeys(paints)) == [False, True]
        await pilot.press(
            *"secret"
        )  # typed into the first field, as before the box was shown in a turn of its own
        assert dialog.query_one("#password", Input).value == "secret"


async def test_the_screen_beneath_a_dialog_is_dimmed_as_textual_dims_it(tmp_path: Path) -> None:
    # Drawn from the lines of the screen beneath (DimmedBackground), each style tinted once: the very
    # lines Textual's own way gives (its BackgroundScreen, a Rich renderable tinting each segment).
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    journal = connected(ctx, sim, "m")
    app = make_app(ctx)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.push_screen(DifferencesScreen(ctx, journal, {}, None, review=True))
        await settle(pilot)
        beneath = app.screen
        dialog = PasswordDialog("wave 1")
        await app.push_screen(dialog)
        await settle(pilot)
        visible_screen_stack.set(list(app._background_screens))  # as the compositor sets it to render
        rendered = dialog.render()
        assert isinstance(rendered, DimmedBackground) and rendered.screen is beneath
        width, height = dialog.size
        textuals_way = RichVisual(dialog, BackgroundScreen(beneath, rendered.color))
        ours = Visual.to_strips(dialog, rendered, width, height, dialog.visual_style)
        textuals = Visual.to_strips(dialog, textuals_way, width, height, dialog.visual_style)
        assert sum(len(list(strip)) for strip in ours) > 300  # a busy screen: steps, tabs, buttons, footer
        assert [list(strip) for strip in ours] == [list(strip) for strip in textuals]
        assert [strip.cell_length for strip in ours] == [width] * height
