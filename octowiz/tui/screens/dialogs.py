"""Small dialogs: name a new migration, confirm a deletion."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.styles import RulesMap
from textual.renderables.background_screen import BackgroundScreen
from textual.screen import ModalScreen, Screen
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.visual import RenderOptions, Visual
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Static

from octowiz.tui.screens.firstshow import StyledOnce

R = TypeVar("R")


def _dimmed(style: Style, color: Color) -> Style:
    """Textual's tint of one style beneath a dialog (its meta and links dropped, as Textual drops them)."""
    tinted = next(iter(BackgroundScreen.process_segments([Segment(" ", style)], color)))
    return tinted.style or Style()


class DimmedBackground(Visual):
    """The screen beneath a dialog, dimmed as Textual dims it, drawn from that screen's lines.

    Textual draws it as a Rich renderable: the lines the screen beneath composes joined into one
    stream of segments, each segment tinted on its own (two colour conversions, a blend and three new
    styles), restyled with the dialog's base style, then split into lines again: 30-40 ms over a busy
    step screen on a slow 2-core machine, in a turn that shows a dialog. Here the composed lines are
    restyled in place, and each of their few dozen styles is tinted once: the same segments.
    """

    def __init__(self, screen: Screen[Any], color: Color) -> None:
        self.screen = screen
        self.color = color

    def render_strips(
        self, width: int, height: int | None, style: VisualStyle, options: RenderOptions
    ) -> list[Strip]:
        base = style.rich_style
        null = Style()
        restyled: dict[Style | None, Style] = {}
        strips: list[Strip] = []
        for line in self.screen._compositor.render_strips()[:height]:
            segments: list[Segment] = []
            for text, segment_style, control in line:
                if control:  # untinted, restyled, as Textual's way leaves them
                    segments.append(Segment(text, base + segment_style, None if base else control))
                    continue
                new = restyled.get(segment_style)
                if new is None:
                    new = restyled[segment_style] = base + _dimmed(segment_style or null, self.color)
                segments.append(Segment(text, new))
            strip = Strip(segments)
            strips.append(strip.crop(0, width) if strip.cell_length > width else strip)
        return strips

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return container_width

    def get_height(self, rules: RulesMap, width: int) -> int:
        return self.screen.size.height


class Dialog(StyledOnce, ModalScreen[R]):
    """A modal dialog (its box is the widget ``#dialog``), painted over two turns of the event loop.

    Showing a modal screen renders the whole terminal again, the screen beneath it dimmed: on a 2-core
    machine 40-70 ms in one turn over a busy step screen. The box is hidden for that first paint and
    shown in the next, so neither turn is a stall a person feels.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gone_callbacks: list[Callable[[], object]] = []

    def render(self) -> RenderableType:
        rendered = super().render()
        if type(rendered) is BackgroundScreen:
            return DimmedBackground(rendered.screen, rendered.color)  # type: ignore[return-value]
        return rendered

    @on(events.Mount)
    def _backdrop_first(self) -> None:
        for box in self.query("#dialog"):
            box.display = False

            def show(box: Widget = box) -> None:
                box.display = True

            self.call_after_refresh(show)

    def when_gone(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once the dialog has been taken off the terminal and removed.

        Its result callback runs before that, while the screen beneath is not yet painted whole
        again: work that repaints much (a run's tabs) waits for this, so it is not painted in the
        same turn as that whole screen.
        """
        if not self.is_attached:
            callback()
            return
        self._gone_callbacks.append(callback)

    @on(events.Unmount)
    def _gone(self) -> None:
        for callback in self._gone_callbacks:
            callback()


class NameDialog(Dialog[str | None]):
    """Ask for a new migration's name; ``validate`` returns an error sentence or ''."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Do not create a migration", id="name.cancel")]

    def __init__(self, validate: Callable[[str], str]) -> None:
        super().__init__()
        self.validate = validate

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Name the migration", classes="dialog-title")
            yield Static("For example the Server's name, or 'acme-to-cloud'.")
            yield Input(placeholder="acme-to-cloud", id="name")
            yield Static("", id="name-error")
            with Horizontal(classes="dialog-actions"):
                yield Button("Create", id="create", variant="primary")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#create")
    def _create(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        error = self.validate(name)
        if error:
            self.query_one("#name-error", Static).update(f"[red]{error}[/red]")
            return
        self.dismiss(name)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class TextDialog(Dialog[str | None]):
    """Ask for one line of text; ``validate`` returns an error sentence or ''."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Keep things as they are", id="text.cancel")]

    def __init__(self, title: str, hint: str, initial: str, validate: Callable[[str], str]) -> None:
        super().__init__()
        self.heading = title
        self.hint = hint
        self.initial = initial
        self.validate = validate

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.heading, classes="dialog-title")
            yield Static(self.hint)
            yield Input(value=self.initial, id="text")
            yield Static("", id="text-error")
            with Horizontal(classes="dialog-actions"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        value = self.query_one("#text", Input).value
        error = self.validate(value)
        if error:
            self.query_one("#text-error", Static).update(Text(error, style="red"))
            return
        self.dismiss(value.strip())

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class DeleteChoice:
    """Delete the journal; ``forget_keys`` also removes the instances' keys from the keyring."""

    forget_keys: bool


class ConfirmDelete(Dialog[DeleteChoice | None]):
    """Confirm deleting a migration's journal."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Keep the migration", id="delete.cancel")]

    def __init__(self, name: str, urls: list[str], keys_stored: bool) -> None:
        super().__init__()
        self.migration = name
        self.urls = urls
        self.keys_stored = keys_stored

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Delete the migration '{self.migration}'?", classes="dialog-title")
            yield Static(
                "Its journal (what was done, and how to undo it) is deleted from this machine. Neither "
                "Octopus instance is changed."
            )
            yield Checkbox(
                "Also forget the API keys stored for " + (", ".join(self.urls) or "its instances"),
                value=False,
                id="forget",
                disabled=not self.keys_stored,
            )
            with Horizontal(classes="dialog-actions"):
                yield Button("Delete", id="confirm", variant="error")
                yield Button("Cancel", id="cancel", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(DeleteChoice(self.query_one("#forget", Checkbox).value))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class Confirmed:
    """A typed confirmation was given; ``reason`` is the override reason, where one was asked for."""

    reason: str = ""


class TypedConfirm(Dialog[Confirmed | None]):
    """Preview a change to an instance and confirm it by typing a word (and, optionally, a reason).

    Used for everything octowiz changes that a person would want to read first: scripts run through the
    script console, disabling projects on the Server, overrides of a failed precondition.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Change nothing", id="typed.cancel")]

    def __init__(
        self,
        title: str,
        lines: list[str],
        word: str,
        *,
        action: str = "Confirm",
        reason: str = "",
        reason_required: bool = True,
    ) -> None:
        super().__init__()
        self.heading = title
        self.lines = lines
        self.word = word
        self.action = action
        self.reason_hint = reason
        self.reason_required = reason_required

    def compose(self) -> ComposeResult:
        # A grid, so a bullet's wrapped lines hang under its text rather than under the bullet.
        preview = Table.grid(padding=(0, 1))
        preview.add_column(width=3, justify="right", style="bright_black")
        preview.add_column(ratio=1)
        for line in self.lines:
            preview.add_row("•", line)
        with Vertical(id="dialog"):
            yield Label(self.heading, classes="dialog-title")
            with VerticalScroll(id="typed-preview"):
                yield Static(preview, id="typed-lines")
            if self.reason_hint:
                yield Static(self.reason_hint, id="typed-reason-hint")
                yield Input(placeholder="Why (recorded in the journal)", id="typed-reason")
            yield Static(f"Type {self.word} to confirm:", id="typed-hint")
            yield Input(placeholder=self.word, id="typed-word")
            yield Static("", id="typed-error")
            with Horizontal(classes="dialog-actions"):
                yield Button(self.action, id="confirm", variant="warning")
                yield Button("Cancel", id="cancel", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#typed-reason" if self.reason_hint else "#typed-word", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        error = self.query_one("#typed-error", Static)
        reason = self.query_one("#typed-reason", Input).value.strip() if self.reason_hint else ""
        if self.reason_hint and self.reason_required and not reason:
            error.update(Text("Say why: the journal records the reason with the change.", style="red"))
            self.query_one("#typed-reason", Input).focus()
            return
        if self.query_one("#typed-word", Input).value.strip() != self.word:
            error.update(Text(f"Type {self.word} exactly, or Cancel.", style="red"))
            self.query_one("#typed-word", Input).focus()
            return
        self.dismiss(Confirmed(reason))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
