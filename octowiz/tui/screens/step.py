"""The frame every scanning step shares: header, demo banner, step list, summary, tabs, actions."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, LoadingIndicator, Static, TabbedContent

from octowiz.engine.context import Context
from octowiz.journal import Journal
from octowiz.tui.screens.welcome import demo_banner
from octowiz.tui.widgets.steps import StepList


class StepScreen(Screen[str]):
    """A step with a summary line, a busy indicator, tabs of results and a row of actions.

    Subclasses name their step and the ids tests and styles use, and fill in the tabs (and what goes
    between the tabs and the actions) and the actions before Back. They dismiss ``done`` or ``welcome``.
    """

    STEP: ClassVar[str]
    SUMMARY_ID: ClassVar[str]
    BUSY_ID: ClassVar[str]

    def __init__(self, context: Context, journal: Journal, statuses: dict[str, str], *, review: bool) -> None:
        super().__init__()
        self.context = context
        self.journal = journal
        self.statuses = statuses
        self.review = review

    def compose(self) -> ComposeResult:
        step = self.STEP
        yield Header()
        if self.context.demo:
            yield demo_banner()
        with Horizontal(id=f"{step}-layout"):
            yield StepList(self.statuses, step, id="steps")
            with Vertical(id=f"{step}-body"):
                yield Static("", id=self.SUMMARY_ID)
                yield LoadingIndicator(id=self.BUSY_ID)
                with TabbedContent(id=f"{step}-tabs"):
                    yield from self.compose_tabs()
                yield from self.compose_below_tabs()
                with Horizontal(id=f"{step}-actions"):
                    yield from self.compose_actions()
                    yield Button("Back", id="back")
        yield Footer()

    def compose_tabs(self) -> ComposeResult:
        """The tab panes of results."""
        yield from ()

    def compose_below_tabs(self) -> ComposeResult:
        """Anything between the tabs and the actions (options)."""
        yield from ()

    def compose_actions(self) -> ComposeResult:
        """The buttons before Back."""
        yield from ()
