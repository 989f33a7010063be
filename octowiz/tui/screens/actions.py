"""The journal's action log: every change octowiz made to either instance, newest first, read-only.

Each row is one action: what octowiz meant to do (the intent, written before the request), what happened
(the outcome, written after, with a task id) and how to undo it. The log can be narrowed to one step and
exported (Ctrl+E) as Markdown a change board reads as it is, and as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Header, Select, Static

from octowiz.engine.review.report import action_dict, render_actions, write_exports
from octowiz.engine.steps import STEPS
from octowiz.journal import Journal, JournalError
from octowiz.tui.tables import Table
from octowiz.tui.widgets.footer import Footer
from octowiz.tui.workers import work

ALL = "all"


@dataclass
class ActionsLoaded(Message):
    """The journal's actions were read (newest first)."""

    actions: list[dict[str, Any]]


@dataclass
class ActionsFailed(Message):
    """The journal could not be read."""

    sentence: str


@dataclass
class ActionsExported(Message):
    """The log was written to these files."""

    paths: list[Path]


@dataclass
class ExportFailed(Message):
    """The export could not be written."""

    sentence: str


class ActionsScreen(Screen[None]):
    """Every change octowiz made, its intent, outcome and undo, newest first; filterable by step.

    Args:
        path: the migration's journal (opened read-only, in a thread).
        name: the migration's name.
        downloads: where Ctrl+E writes the export.
    """

    BINDINGS = [
        Binding("escape", "leave", "Back", tooltip="Back to the overview", id="actions.back"),
        Binding(
            "ctrl+e",
            "export",
            "Export",
            tooltip="Write the log shown as Markdown and JSON to the downloads folder",
            id="actions.export",
        ),
    ]

    def __init__(self, path: Path, name: str, downloads: Path) -> None:
        super().__init__()
        self.path = path
        self.migration = name
        self.downloads = downloads
        self.actions: list[dict[str, Any]] | None = None
        self.step: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="actions-body"):
            yield Static("Reading the journal…", id="actions-summary")
            with Horizontal(id="actions-bar"):
                yield Select[str](
                    [("Every step", ALL), *((s.title, s.id) for s in STEPS)],
                    value=ALL,
                    allow_blank=False,
                    id="actions-step",
                )
                yield Button("Export", id="export")
                yield Button("Back", id="back")
            yield Table(id="actions-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="actions-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"octowiz — {self.migration}: changes made"
        self.query_one("#actions-table", DataTable).add_columns(
            "#", "Step", "Action", "Target", "Outcome", "Undo", "Started"
        )
        self.load()

    @work(thread=True, exclusive=True, group="actions-read", exit_on_error=False)
    def load(self) -> None:
        """Read every action from the journal, opened read-only (a thread: SQLite blocks)."""
        try:
            with Journal.open(self.path, lock=False, read_only=True) as journal:
                actions = [action_dict(a) for a in journal.actions()]
        except JournalError as exc:
            self.post_message(ActionsFailed(str(exc)))
            return
        self.post_message(ActionsLoaded(actions))

    def on_actions_loaded(self, message: ActionsLoaded) -> None:
        self.actions = message.actions
        self._fill()

    def on_actions_failed(self, message: ActionsFailed) -> None:
        self.query_one("#actions-summary", Static).update(Text(f"✘ {message.sentence}", style="red"))

    def shown(self) -> list[dict[str, Any]]:
        """The actions the filter leaves, newest first."""
        return [a for a in self.actions or [] if self.step in (None, a["step"])]

    def _fill(self) -> None:
        table = self.query_one("#actions-table", DataTable)
        table.clear()
        rows = self.shown()
        for a in rows:
            outcome = a["outcome"]
            style = "yellow" if outcome == "pending" else ("red" if outcome in ("failed", "refused") else "")
            table.add_row(
                str(a["id"]),
                a["step"],
                a["kind"],
                a["target"],
                Text(outcome, style=style),
                "yes" if a["undo"] else "",
                str(a["started_at"]).replace("T", " "),
                key=str(a["id"]),
            )
        where = f" in {self.step}" if self.step else ""
        count = len(rows)
        summary = (
            f"{count} change{'s' if count != 1 else ''}{where} octowiz made to either instance, "
            "newest first. Ctrl+E exports them."
            if rows
            else f"No changes{where} were made to either instance."
        )
        self.query_one("#actions-summary", Static).update(summary)
        self._detail(rows[0] if rows else None)

    def _detail(self, action: dict[str, Any] | None) -> None:
        panel = self.query_one("#actions-detail", Static)
        if action is None:
            panel.update("")
            return
        text = Text()
        text.append(f"#{action['id']} {action['kind']} {action['target']}", style="bold")
        text.append(f" ({action['step']})\n")
        for label, key in (
            ("Intent", "intent"),
            ("Outcome", "outcome"),
            ("Undo", "undo"),
            ("Detail", "detail"),
        ):
            value = action.get(key)
            if value:
                shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
                text.append(f"{label}: ", style="bold").append(f"{shown}\n")
        if action.get("task_id"):
            text.append("Task: ", style="bold").append(f"{action['task_id']}\n")
        panel.update(text)

    @on(DataTable.RowHighlighted, "#actions-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        self._detail(next((a for a in self.shown() if str(a["id"]) == key), None))

    @on(Select.Changed, "#actions-step")
    def _filtered(self, event: Select.Changed) -> None:
        self.step = None if event.value in (ALL, Select.BLANK) else str(event.value)
        if self.actions is not None:
            self._fill()

    # -- export ------------------------------------------------------------------------------------

    def action_export(self) -> None:
        if self.actions is None:
            return
        self.export(self.shown(), self.step)

    @work(thread=True, exclusive=True, group="actions-export", exit_on_error=False)
    def export(self, actions: list[dict[str, Any]], step: str | None) -> None:
        """Write the log shown as Markdown and JSON (a thread: files)."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        stem = f"{self.migration}-changes" + (f"-{step}" if step else "") + f"-{stamp}"
        texts = {fmt_ext: render_actions(self.migration, actions, fmt, step) for fmt_ext, fmt in _FORMATS}
        try:
            paths = write_exports(self.downloads, stem, texts)
        except OSError as exc:
            self.post_message(
                ExportFailed(f"The log could not be written to {self.downloads}: {exc.strerror or exc}.")
            )
            return
        self.post_message(ActionsExported(paths))

    def on_actions_exported(self, message: ActionsExported) -> None:
        self.notify(
            "Exported the changes to " + " and ".join(str(p) for p in message.paths), title="Exported"
        )

    def on_export_failed(self, message: ExportFailed) -> None:
        self.notify(message.sentence, title="Not exported", severity="error", timeout=15)

    def action_leave(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#export")
    def _export_pressed(self) -> None:
        self.action_export()

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(None)


#: ``(file extension, render format)`` of an export.
_FORMATS = (("md", "markdown"), ("json", "json"))
