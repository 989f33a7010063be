"""The step list beside every step: each step that exists and its status from the journal."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from octowiz.engine.steps import STEPS
from octowiz.tui.onepaint import OnePaint

_MARK = {
    "done": ("✔", "green"),
    "in progress": ("▶", "yellow"),
    "needs attention": ("!", "red"),
    "not started": ("·", "bright_black"),
}

#: A line of the list: its parts, each with the Rich style it is written in.
Line = tuple[tuple[str, str], ...]


class StepList(OnePaint, Widget):
    """Steps and their status; the current step is bold.

    Its lines are drawn directly (Textual's line API), not through a ``Static``: laying out and
    rendering the list as rich text took 8-9 ms on a 2-core machine, in the first paint of every step
    screen; its style is found once per paint (``OnePaint``), not once per line. Nothing in it
    wraps: the longest line, a status under its step, fits the list's width.
    """

    DEFAULT_CSS = """
    StepList { width: 28; padding: 1 2; }
    """

    def __init__(
        self, statuses: dict[str, str] | None = None, current: str | None = None, **kw: object
    ) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.statuses = statuses or {}
        self.current = current
        self.lines: list[Line] = []
        self._shown: tuple[dict[str, str], str | None] | None = None  # what the list shows
        self._strips: dict[tuple[int, int, Style], Strip] = {}
        self.refresh_steps(self.statuses, self.current)

    def on_mount(self) -> None:
        self.border_title = "Steps"

    def refresh_steps(self, statuses: dict[str, str], current: str | None = None) -> None:
        """Redraw from the journal's statuses (only if they changed)."""
        if self._shown == (dict(statuses), current):
            return
        self._shown = (dict(statuses), current)
        self.statuses, self.current = statuses, current
        lines: list[Line] = []
        for step in STEPS:
            status = statuses.get(step.id, "not started")
            mark, colour = _MARK.get(status, _MARK["not started"])
            lines.append(((f"{mark} ", colour), (step.title, "bold" if step.id == current else "")))
            lines.append(((f"   {status}", "bright_black"),))
        self.lines = lines
        self._strips.clear()
        self.refresh()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines)

    def render_line(self, y: int) -> Strip:
        width, base = self.size.width, self.rich_style
        key = (y, width, base)
        strip = self._strips.get(key)
        if strip is None:
            parts = self.lines[y] if 0 <= y < len(self.lines) else ()
            segments = [Segment(text, base + Style.parse(style) if style else base) for text, style in parts]
            strip = self._strips[key] = Strip(segments).adjust_cell_length(width, base)
        return strip
