"""The migration at a glance: steps, settings and the last journaled actions (also the read-only review)."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Header, Static

from octowiz.engine.context import Context
from octowiz.engine.steps import STEPS
from octowiz.journal import Action, Journal, JournalError
from octowiz.tui.screens.welcome import demo_banner
from octowiz.tui.widgets.footer import Footer
from octowiz.tui.widgets.steps import StepList
from octowiz.tui.workers import work


@dataclass(frozen=True)
class OverviewData:
    """What the overview shows, read from the journal by the app."""

    name: str
    settings: dict[str, object]
    statuses: dict[str, str]
    actions: list[Action]
    waves: dict[str, dict[str, int]] = field(default_factory=dict)  # wave -> state -> projects


class OverviewScreen(Screen[str]):
    """Where the migration stands. In review mode every mutating action is hidden."""

    BINDINGS = [
        Binding("escape", "leave", "Back", tooltip="Back to the welcome screen", id="overview.back"),
        Binding(
            "c",
            "step('connect')",
            "Connect",
            tooltip="Check or change the connections",
            id="overview.connect",
        ),
        Binding(
            "ctrl+e",
            "export",
            "Export report",
            tooltip="Write the status report (what remains, drift) as Markdown and JSON to the downloads",
            id="overview.export",
        ),
        Binding(
            "a",
            "actions",
            "Changes",
            tooltip="Every change octowiz made, from the journal",
            id="overview.actions",
        ),
    ]

    def __init__(self, context: Context, data: OverviewData, *, review: bool) -> None:
        super().__init__()
        self.context = context
        self.data = data
        self.review = review

    def compose(self) -> ComposeResult:
        yield Header()
        if self.context.demo:
            yield demo_banner()
        if self.review:
            yield Static(
                "READ-ONLY REVIEW — nothing here changes either Octopus instance or the journal.",
                id="review-banner",
            )
        with Horizontal(id="overview-layout"):
            yield StepList(self.data.statuses, None, id="steps")
            with VerticalScroll(id="overview-body"):
                yield Static(self._settings(), id="overview-settings")
                yield Static(self._next(), id="overview-next")
                yield Static(self._waves(), id="overview-waves")
                yield Static(
                    Text(
                        "Reading what remains and any drift from both instances (read-only)…", style="italic"
                    ),
                    id="overview-remaining",
                )
                yield Static(self._actions(), id="overview-actions")
                with Horizontal(id="overview-buttons"):
                    if not self.review:
                        yield Button("Connect", id="connect", variant="primary")
                    for step in STEPS[1:]:
                        yield Button(step.title, id=step.id, classes="step-button")
                    yield Button("Changes", id="actions")
                    yield Button("Back", id="back")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"octowiz — {self.data.name}" + (" (review)" if self.review else "")
        self.read_remaining()

    @work(exclusive=True, group="overview-remaining", exit_on_error=False)
    async def read_remaining(self) -> None:
        """What remains per wave, project and stage, and drift since verification (GET only, journal read)."""
        from octowiz.engine.review.report import collect, remaining_text

        path = self.context.journal_path(self.data.name)
        try:
            journal = await asyncio.to_thread(Journal.open, path, lock=False, read_only=True)
            try:
                data = await collect(self.context, journal)
            finally:
                await asyncio.to_thread(journal.close)
        except JournalError as exc:
            self.post_message(RemainingRead(f"What remains could not be read: {exc}"))
            return
        self.post_message(RemainingRead(remaining_text(data)))

    def on_remaining_read(self, message: RemainingRead) -> None:
        self.query_one("#overview-remaining", Static).update(Text(message.text))

    def _settings(self) -> Table:
        s = self.data.settings
        table = Table(title=f"Migration {self.data.name}", show_header=True, expand=True)
        table.add_column("")
        table.add_column("Octopus Server (source)")
        table.add_column("Octopus Cloud (destination)")
        table.add_row(
            "URL", str(s.get("source_url", "not connected")), str(s.get("destination_url", "not connected"))
        )
        table.add_row("Space", str(s.get("source_space_name", "")), str(s.get("destination_space_name", "")))
        table.add_row("Version", str(s.get("source_version", "")), str(s.get("destination_version", "")))
        return table

    def _next(self) -> str:
        remaining = [s.title for s in STEPS if self.data.statuses.get(s.id) != "done"]
        if remaining:
            return f"Remaining: {', '.join(remaining)}."
        return (
            "Every step is done: every planned project is on Octopus Cloud, verified, deploys from Cloud and "
            "is disabled on the Server, and the Server is retired (read-only, its old Tentacle instances "
            "deleted). Keep it for its audit log as long as you need it, then switch it off."
        )

    def _waves(self) -> str:
        if not self.data.waves:
            return "Waves: none planned yet."
        parts = [
            f"{wave}: " + ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
            for wave, states in self.data.waves.items()
        ]
        return "Waves — " + "; ".join(parts) + "."

    def _actions(self) -> Table:
        table = Table(title="Last actions (journal)", expand=True)
        for col in ("#", "Step", "Action", "Target", "Outcome", "When"):
            table.add_column(col)
        for a in self.data.actions[:10]:
            table.add_row(
                str(a.id),
                a.step,
                a.kind,
                a.target,
                a.outcome or "pending (no outcome recorded)",
                a.started_at.replace("T", " "),
            )
        if not self.data.actions:
            table.add_row("", "", "No changes were made to either instance yet.", "", "", "")
        return table

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "step":
            return not self.review
        return True

    def action_differences(self) -> None:
        self.dismiss("differences")

    def action_step(self, step: str) -> None:
        self.dismiss(step)

    def action_leave(self) -> None:
        self.dismiss("welcome")

    @on(Button.Pressed, "#connect")
    def _connect(self) -> None:
        self.dismiss("connect")

    @on(Button.Pressed, ".step-button")
    def _step_button(self, event: Button.Pressed) -> None:
        self.dismiss(str(event.button.id))

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss("welcome")

    # -- the action log and the report ---------------------------------------------------------------

    def action_actions(self) -> None:
        from octowiz.tui.screens.actions import ActionsScreen

        name = self.data.name
        self.app.push_screen(
            ActionsScreen(self.context.journal_path(name), name, self.context.paths.downloads / name)
        )

    @on(Button.Pressed, "#actions")
    def _changes_pressed(self) -> None:
        self.action_actions()

    def action_export(self) -> None:
        self.notify("Reading both instances for the report (read-only)…", title="Report")
        self.export_report()

    @work(exclusive=True, group="overview-export", exit_on_error=False)
    async def export_report(self) -> None:
        """Collect the status report and write it as Markdown and JSON.

        The journal is read and the files written in a thread; both instances are read (GET only, through
        read-only clients) on the event loop, as every other screen reads them.
        """
        from octowiz.engine.review.report import collect, render, write_exports

        name = self.data.name
        path = self.context.journal_path(name)
        directory = self.context.paths.downloads / name
        try:
            journal = await asyncio.to_thread(Journal.open, path, lock=False, read_only=True)
            try:
                data = await collect(self.context, journal)
            finally:
                await asyncio.to_thread(journal.close)
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            texts = {"md": render(data, "markdown"), "json": render(data, "json")}
            written = await asyncio.to_thread(write_exports, directory, f"{name}-report-{stamp}", texts)
        except JournalError as exc:
            self.post_message(ReportExported([], str(exc)))
            return
        except OSError as exc:
            sentence = f"The report could not be written to {directory}: {exc.strerror or exc}."
            self.post_message(ReportExported([], sentence))
            return
        self.post_message(ReportExported(written))

    def on_report_exported(self, message: ReportExported) -> None:
        if message.sentence:
            self.notify(message.sentence, title="Report not exported", severity="error", timeout=15)
            return
        self.notify("Exported the report to " + " and ".join(str(p) for p in message.paths), title="Report")


@dataclass
class RemainingRead(Message):
    """What remains and the drift, as text (or the sentence saying why they could not be read)."""

    text: str


@dataclass
class ReportExported(Message):
    """The status report was written (``paths``), or could not be (``sentence``)."""

    paths: list[Path]
    sentence: str = ""
