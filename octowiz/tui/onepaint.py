"""Styles a widget asks for again and again while it paints, found once per paint.

Textual asks a widget for its style and background colours for every line it paints, and each answer
is found by walking every ancestor's CSS: 0.1-0.2 ms a walk in a step screen on a 2-core machine, one
to four walks a line. ``RichLog`` asks once or twice a line, a ``DataTable`` three or four times. None of them
can change while one ``render_lines`` runs, so within it each is found once; outside a paint every
question is answered afresh, as Textual does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from rich.style import Style
from textual.color import Color
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import RichLog

# A mixin, not a widget: Textual takes a widget's CSS type names (``RichLog { ... }``) from its first
# widget base only, so a widget base here would hide the real widget's default CSS and every rule for it.
if TYPE_CHECKING:
    _Mixin = Widget
else:
    _Mixin = object


class OnePaint(_Mixin):
    """Mixed in before a widget class: its style and background colours found once per ``render_lines``."""

    _paint_memo: dict[object, Any] | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        self._paint_memo = {}
        try:
            lines: list[Strip] = super().render_lines(crop)
            return lines
        finally:
            self._paint_memo = None

    def _once_per_paint(self, key: object, find: Callable[[], object]) -> object:
        """``find()``, asked once per paint; every time outside one."""
        memo = self._paint_memo
        if memo is None:
            return find()
        if key not in memo:
            memo[key] = find()
        return memo[key]

    @property
    def rich_style(self) -> Style:
        return cast(Style, self._once_per_paint("rich_style", lambda: super(OnePaint, self).rich_style))

    @property
    def background_colors(self) -> tuple[Color, Color]:
        colors = self._once_per_paint("background_colors", lambda: super(OnePaint, self).background_colors)
        return cast(tuple[Color, Color], colors)


class EventLog(OnePaint, RichLog):
    """Textual's ``RichLog``, its style found once per paint (it asks for every line shown)."""
