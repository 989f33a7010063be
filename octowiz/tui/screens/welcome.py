"""Welcome: the migrations on this machine, and New, Resume, Review, Delete."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Header, Static

from octowiz.engine.context import Context, MigrationSummary
from octowiz.engine.steps import STEPS
from octowiz.tui.messages import MigrationsLoaded
from octowiz.tui.tables import Table
from octowiz.tui.widgets.footer import Footer
from octowiz.tui.workers import work


@dataclass(frozen=True)
class WelcomeChoice:
    """What the user chose: ``new``, ``resume``, ``review`` or ``delete`` (with the migration's name)."""

    action: str
    name: str | None = None


def demo_banner() -> Static:
    """The banner every demo screen shows."""
    return Static(
        "DEMO — the Octopus Server and Octopus Cloud here are simulated; nothing real is touched.",
        id="demo-banner",
    )


class WelcomeScreen(Screen[WelcomeChoice]):
    """The first screen: start a migration or come back to one."""

    BINDINGS = [
        Binding("n", "new", "New", tooltip="Start a new migration", id="welcome.new"),
        Binding(
            "r",
            "resume",
            "Resume",
            tooltip="Continue the highlighted migration where it stopped",
            id="welcome.resume",
        ),
        Binding(
            "v",
            "review",
            "Review",
            tooltip="Look at the highlighted migration without changing anything",
            id="welcome.review",
        ),
        Binding(
            "d", "delete", "Delete", tooltip="Delete the highlighted migration's journal", id="welcome.delete"
        ),
        Binding("q", "app.quit", "Quit", tooltip="Leave octowiz", id="welcome.quit"),
    ]

    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context
        self.migrations: list[MigrationSummary] = []

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        if self.context.demo:
            yield demo_banner()
        with Vertical(id="welcome-body"):
            yield Static(
                "Move a self-hosted Octopus Server to Octopus Cloud, in phases, resumably, with evidence.",
                id="welcome-intro",
            )
            yield Static("Reading the migrations on this machine…", id="welcome-empty")
            yield Table(id="migrations", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="welcome-actions"):
                yield Button("New migration", id="new", variant="primary")
                yield Button("Resume", id="resume", variant="success")
                yield Button("Review", id="review")
                yield Button("Delete", id="delete", variant="error")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "octowiz"
        self.sub_title = "demo" if self.context.demo else "Octopus Server → Octopus Cloud"
        table = self.query_one(DataTable)
        table.add_columns(
            "Migration", "From (Octopus Server)", "To (Octopus Cloud)", "Progress", "Last activity"
        )
        table.display = False
        self._set_buttons()
        self.load()

    @work(thread=True, exclusive=True, group="welcome-load", exit_on_error=False)
    def load(self) -> None:
        """Read every journal (blocking SQLite) off the UI thread."""
        self.post_message(MigrationsLoaded(self.context.migrations()))

    def on_migrations_loaded(self, message: MigrationsLoaded) -> None:
        self.migrations = message.migrations
        table = self.query_one(DataTable)
        table.clear()
        for m in self.migrations:
            progress = (
                m.error
                and "unreadable"
                or f"{m.done}/{m.total}"
                + (f" · next: {_title(m.next_step)}" if m.next_step else " · complete")
            )
            table.add_row(m.name, m.source, m.destination, progress, _when(m.last_activity), key=m.name)
        empty = self.query_one("#welcome-empty", Static)
        if not self.migrations:
            empty.update("No migrations yet. Press N (or New migration) to start one.")
        else:
            last = self.migrations[0]
            where = (
                f"stopped at {_title(last.next_step)}" if last.next_step else "has every available step done"
            )
            text = Text("Your migrations, most recent first. The last one, ")
            text.append(last.name, style="bold")
            text.append(f", {where}: press R to resume it.")
            empty.update(text)
        table.display = bool(self.migrations)
        if self.migrations:
            table.focus()
        else:
            self.query_one("#new", Button).focus()
        self._set_buttons()
        # Resume, Review and Delete are allowed now: the footer must say so even when the focus did
        # not move (the table may have had it already), which is what would have told it.
        self.refresh_bindings()

    def _set_buttons(self) -> None:
        has = bool(self.migrations)
        for bid in ("resume", "review", "delete"):
            self.query_one(f"#{bid}", Button).disabled = not has

    def _selected(self) -> MigrationSummary | None:
        if not self.migrations:
            return None
        row = self.query_one(DataTable).cursor_row
        return self.migrations[row] if 0 <= row < len(self.migrations) else self.migrations[0]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("resume", "review", "delete"):
            return bool(self.migrations)
        return True

    @on(Button.Pressed)
    async def _pressed(self, event: Button.Pressed) -> None:
        await self.run_action(str(event.button.id))

    def action_new(self) -> None:
        self.dismiss(WelcomeChoice("new"))

    def _choose(self, action: str) -> None:
        chosen = self._selected()
        if chosen is not None:
            self.dismiss(WelcomeChoice(action, chosen.name))

    def action_resume(self) -> None:
        self._choose("resume")

    def action_review(self) -> None:
        self._choose("review")

    def action_delete(self) -> None:
        self._choose("delete")

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_resume()


def _title(step_id: str | None) -> str:
    return next((s.title for s in STEPS if s.id == step_id), step_id or "")


def _when(stamp: str) -> str:
    """``2026-11-20T09:30:00+00:00`` as ``2026-11-20 09:30 UTC`` (short enough for the table)."""
    return f"{stamp[:10]} {stamp[11:16]} UTC" if len(stamp) >= 16 else stamp
