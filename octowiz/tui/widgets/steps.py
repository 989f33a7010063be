"""The step list beside every step: each step that exists and its status from the journal."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from octowiz.engine.steps import STEPS

_MARK = {
    "done": ("✔", "green"),
    "in progress": ("▶", "yellow"),
    "needs attention": ("!", "red"),
    "not started": ("·", "bright_black"),
}


class StepList(Static):
    """Steps and their status; the current step is bold."""

    DEFAULT_CSS = """
    StepList { width: 28; padding: 1 2; }
    """

    def __init__(
        self, statuses: dict[str, str] | None = None, current: str | None = None, **kw: object
    ) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.statuses = statuses or {}
        self.current = current
        self._shown: tuple[dict[str, str], str | None] | None = None  # what the list shows

    def on_mount(self) -> None:
        self.border_title = "Steps"
        self.refresh_steps(self.statuses, self.current)

    def refresh_steps(self, statuses: dict[str, str], current: str | None = None) -> None:
        """Redraw from the journal's statuses (only if they changed: 6-8 ms of rendering)."""
        if self.is_mounted and self._shown == (dict(statuses), current):
            return
        self._shown = (dict(statuses), current)
        self.statuses, self.current = statuses, current
        text = Text()
        for step in STEPS:
            status = statuses.get(step.id, "not started")
            mark, colour = _MARK.get(status, _MARK["not started"])
            style = "bold" if step.id == current else ""
            text.append(f"{mark} ", style=colour)
            text.append(f"{step.title}", style=style)
            text.append(f"\n   {status}\n", style="bright_black")
        self.update(text)
