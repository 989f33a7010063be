"""The migration at a glance: steps, settings and the last journaled actions (also the read-only review)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Static

from octowiz.engine.context import Context
from octowiz.engine.steps import STEPS
from octowiz.journal import Action
from octowiz.tui.screens.welcome import demo_banner
from octowiz.tui.widgets.steps import StepList


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
                yield Static(self._actions(), id="overview-actions")
                with Horizontal(id="overview-buttons"):
                    if not self.review:
                        yield Button("Connect", id="connect", variant="primary")
                    for step in STEPS[1:]:
                        yield Button(step.title, id=step.id, classes="step-button")
                    yield Button("Back", id="back")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"octowiz — {self.data.name}" + (" (review)" if self.review else "")

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
            "Every step available in this version of octowiz is done: every planned project is on Octopus "
            "Cloud, verified, deploys from Cloud and is disabled on the Server. Retiring the Server arrives "
            "with the next capability."
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
