"""Small dialogs: name a new migration, confirm a deletion."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
from textual.renderables.background_screen import BackgroundScreen
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Static

from octowiz.tui.screens.firstshow import StyledOnce

R = TypeVar("R")


class DimmedScreen(BackgroundScreen):
    """Textual's dimmed screen beneath a dialog, each style tinted once instead of once per segment.

    Textual tints every segment of the screen beneath on its own: two colour conversions, a blend and
    three new styles each, 15-20 ms for a 130x44 terminal on a slow 2-core machine, in the turn that
    shows a dialog. Without their mouse data (which the tint drops first) the screen's thousand-odd
    segments have a few dozen styles; each is tinted once here, to the same segments as Textual's.
    """

    @classmethod
    def process_segments(cls, segments: Iterable[Segment], color: Color) -> Iterable[Segment]:
        if color.a == 0:
            return super().process_segments(segments, color)
        return cls._tinted(segments, color)

    @classmethod
    def _tinted(cls, segments: Iterable[Segment], color: Color) -> Iterable[Segment]:
        tint = super().process_segments
        null = Style()
        tinted: dict[Style, Style] = {}
        for segment in segments:
            text, style, control = segment
            if control:
                yield segment
                continue
            plain = null if style is None else style.clear_meta_and_links()
            new = tinted.get(plain)
            if new is None:
                new = tinted[plain] = next(iter(tint([Segment(" ", plain)], color))).style or null
            yield Segment(text, new)


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
            return DimmedScreen(rendered.screen, rendered.color)
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
