"""A widget's style found once per paint: the same lines as Textual's, and never a stale style."""

from __future__ import annotations

from typing import cast

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.dom import DOMNode
from textual.geometry import Region
from textual.widgets import RichLog

from octowiz.tui.onepaint import EventLog


class _TwoLogsApp(App[None]):
    CSS = """
    RichLog { height: 12; border: round $accent; }
    .alarm { color: red; background: darkred; }
    """

    def compose(self) -> ComposeResult:
        yield RichLog(id="usual", wrap=True)
        yield EventLog(id="once", wrap=True)


def _style_walks(monkeypatch: pytest.MonkeyPatch) -> list[DOMNode]:
    walks: list[DOMNode] = []
    find = cast(property, DOMNode.__dict__["rich_style"]).fget
    assert find is not None

    def counted(node: DOMNode) -> object:
        walks.append(node)
        return find(node)

    monkeypatch.setattr(DOMNode, "rich_style", property(counted))
    return walks


async def test_the_event_log_paints_as_richlog_does_walking_the_styles_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _TwoLogsApp()
    async with app.run_test(size=(70, 30)) as pilot:
        usual, once = app.query_one("#usual", RichLog), app.query_one("#once", EventLog)
        for log in (usual, once):
            for i in range(30):
                log.write(Text.assemble((f"[stage {i}] ", "bright_black"), "a line long enough to wrap " * 3))
        app.screen.set_focus(None)  # the first would be focused: a different background
        await pilot.pause()

        def painted(log: RichLog) -> list[object]:
            log._styles_cache.clear()  # as after any change: every line rendered again
            return [strip._segments for strip in log.render_lines(Region(0, 0, 70, 12))]

        assert painted(once) == painted(usual)
        walks = _style_walks(monkeypatch)
        painted(usual)
        asked_usual = sum(1 for node in walks if node is usual)
        walks.clear()
        painted(once)
        # RichLog asks for its style for each of the 10 lines inside its border (twice for a line not
        # cached yet); here, once a paint.
        assert asked_usual >= 10 and sum(1 for node in walks if node is once) == 1

        # Outside a paint the style is found afresh: a change of class shows at the next paint.
        before = once.rich_style
        for log in (usual, once):
            log.add_class("alarm")
        await pilot.pause()
        assert once.rich_style != before
        assert painted(once) == painted(usual)
