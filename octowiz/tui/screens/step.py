"""The frame every scanning step shares: header, demo banner, step list, summary, tabs, actions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    Button,
    ContentSwitcher,
    DataTable,
    Header,
    LoadingIndicator,
    ProgressBar,
    RichLog,
    Select,
    Static,
    TabbedContent,
    TabPane,
    Tabs,
)
from textual.worker import Worker, WorkerState

from octowiz.engine.context import Context
from octowiz.journal import Journal
from octowiz.tui.onepaint import EventLog
from octowiz.tui.screens.firstshow import StyledOnce
from octowiz.tui.screens.welcome import demo_banner
from octowiz.tui.widgets.footer import Footer
from octowiz.tui.widgets.steps import StepList

#: How far below its place a part laid out but not drawn yet is put (off any terminal).
OUT_OF_SIGHT = 10_000


class StepScreen(StyledOnce, Screen[str]):
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
        self._after_layout: list[Callable[[], object]] = []

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

    def after_layout(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the screen has been laid out and painted again.

        For work split over paints. Textual's ``call_after_refresh`` runs its callback as soon as the
        screen has nothing *it knows of* left to paint, and a widget's change reaches the screen in a
        message of its own: asked for right after a change, the callback could run before the change
        was painted, and the two be painted in one turn (seen at the end of a 50-project run: 41 ms).
        This asks for a layout, and waits for the paint that follows it.
        """
        self._after_layout.append(callback)
        self.refresh(layout=True, repaint=False)  # a layout, not a repaint of the whole screen

    def in_turns(self, *parts: Callable[[], object]) -> None:
        """Run each of ``parts`` after a paint of its own, in order (see :meth:`after_layout`)."""
        if not parts:
            return
        first, *rest = parts

        def run() -> None:
            first()
            self.in_turns(*rest)

        self.after_layout(run)

    async def painted(self) -> None:
        """Return once the screen has been laid out and painted again (:meth:`after_layout`, awaited)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def painted() -> None:
            if not done.done():  # the waiting task may have been cancelled
                done.set_result(None)

        self.after_layout(painted)
        await done

    async def footer_painted(self) -> None:
        """Return once a change of state and the footer it rebuilt are both painted (two paints).

        The footer is rebuilt when the keys it offers change (a step that finished reading, say):
        20-30 ms of composing, layout and paint on a 2-core machine, one paint after the change's
        own. Heavy work that follows such a change (filling a large table) waits for this, so the
        two do not land in one turn of the event loop.
        """
        await self.painted()
        await self.painted()

    def _laid_out(self, _screen: Screen[Any]) -> None:
        """In the paint (a subscription that runs at once): what was asked for before it, to run next.

        Textual lays out a screen that is not shown yet (being pushed) or no longer on top without
        painting it, and says so all the same: then the callbacks wait for a layout once it is shown.
        """
        if not self._after_layout:
            return
        if not self.is_current:
            self.refresh(layout=True, repaint=False)
            return
        callbacks, self._after_layout = self._after_layout, []
        # Not straight after the paint: the loop first runs what is due (a key pressed meanwhile),
        # else the next part's paint would follow in the same stretch, as one stall.
        asyncio.get_running_loop().call_later(0, self.call_next, self._run_after_layout, callbacks)

    @staticmethod
    def _run_after_layout(callbacks: list[Callable[[], object]]) -> None:
        for callback in callbacks:
            callback()

    @on(events.Mount)
    def _frame_first(self) -> None:
        """Paint the screen over seven turns of the event loop: the frame, the step list, the body, the
        tabs laid out but not drawn, the actions, the tab strip, then the tab panes.

        A new screen is laid out and rendered whole in the turn that shows it: on a 2-core machine
        45-60 ms for a step screen, a stall a person feels (twice that on a slower one), and the
        turn that shows it also composes it. So the step list and the body are hidden for that first
        paint, the list shown right after it, the body (its summary) one paint later. The tabs' first
        layout is the costliest of the screen's (10-15 ms of layout on a slow 2-core machine), so it
        has a turn of its own, drawing nothing: the tab strip is invisible, keeping its room, and the
        panes are laid out far below the screen. Each later turn then draws one part where it already
        is and moves nothing: the actions below the tabs' room, the strip, then the panes, brought
        into their room. (Hidden by visibility, as the strip is, the panes' tables could not take the
        focus until drawn; moved away, they can.)
        """
        self.screen_layout_refresh_signal.subscribe(self, self._laid_out, immediate=True)
        steps = self.query_one(StepList)
        body = self.query_one(f"#{self.STEP}-body", Vertical)
        tabs = self.query_one(f"#{self.STEP}-tabs", TabbedContent)
        panes = tabs.query_one(ContentSwitcher)
        strip = tabs.query_one(Tabs)
        actions = self.query_one(f"#{self.STEP}-actions", Horizontal)
        steps.display = body.display = tabs.display = actions.display = False
        # Laid out a turn before they are drawn: drawing each then draws only it, and moves nothing.
        strip.visible = False
        panes.styles.offset = (0, OUT_OF_SIGHT)

        def show_steps() -> None:
            steps.display = True

        def show_body() -> None:
            body.display = True

        def lay_out_tabs() -> None:
            tabs.display = True

        def show_actions() -> None:
            actions.display = True

        def show_tabs() -> None:
            strip.visible = True

        def show_panes() -> None:
            panes.styles.offset = (0, 0)

        self.in_turns(show_steps, show_body, lay_out_tabs, show_actions, show_tabs, show_panes)

    def compose_tabs(self) -> ComposeResult:
        """The tab panes of results."""
        yield from ()

    def compose_below_tabs(self) -> ComposeResult:
        """Anything between the tabs and the actions (options)."""
        yield from ()

    def compose_actions(self) -> ComposeResult:
        """The buttons before Back."""
        yield from ()


@dataclass
class ChangeProgress(Message):
    """A running action reported something (an engine event: stage, message, percent, log tail)."""

    event: Any

    @property
    def tick(self) -> bool:
        """A task's percent, not a line worth keeping."""
        return getattr(self.event, "percent", None) is not None

    def can_replace(self, message: Message) -> bool:
        """A newer tick makes this one stale."""
        return isinstance(message, ChangeProgress) and self.tick and message.tick


@dataclass
class ChangeDone(Message):
    """An action ended; ``lines`` say how, ``problems`` what went wrong."""

    title: str
    lines: list[str]
    problems: list[str]


@dataclass
class ChangeFailed(Message):
    """Reading or changing could not go on; ``sentence`` says why."""

    sentence: str


class ChangeStepScreen(StepScreen):
    """A step whose actions change an instance (Targets, Cutover, Retire): a Progress tab, a busy flag,
    task progress and log lines from the engine's events, and a worker that dies unexpectedly ending in
    a sentence.

    Workers post :class:`ChangeProgress`, :class:`ChangeFailed` (shown here) and :class:`ChangeDone` (the
    subclass says what it means); subclasses keep their buttons in :meth:`_buttons`, and their workers'
    groups start with ``<STEP>-``.
    """

    busy: bool = False
    wave: str | None = None

    def compose_progress(self) -> ComposeResult:
        """The Progress tab (not in a review: nothing runs there)."""
        with TabPane("Progress", id="tab-progress"):
            yield Static("", id="stage-line")
            yield ProgressBar(total=100, show_eta=False, id="progress")
            yield Static("", id="task-log")
            yield EventLog(id="events", wrap=True, auto_scroll=True)

    def mount_progress(self) -> None:
        """Title the Progress tab's boxes (call from ``on_mount``)."""
        if not self.review:
            self.query_one("#task-log", Static).border_title = "Task log"
            self.query_one("#events", RichLog).border_title = "What happened"

    def begin(self, what: str) -> None:
        """Show an action starting: busy, on the Progress tab, from zero."""
        self.busy = True
        self.query_one(f"#{self.SUMMARY_ID}", Static).update(Text(f"{what}…", style="italic"))
        self.query_one(f"#{self.STEP}-tabs", TabbedContent).active = "tab-progress"
        self.query_one("#progress", ProgressBar).update(total=100, progress=0)
        self.query_one("#stage-line", Static).update(f"{what}…")
        self.query_one("#task-log", Static).update("")
        self._buttons()

    def show_event(self, event: Any, *, tick: bool) -> None:
        """An engine event (``stage``, ``message``, ``percent``, ``log_tail``): the stage line, the bar and
        the task log's tail; lines worth keeping (not ``tick``s) go to What happened."""
        text = str(getattr(event, "message", "") or "")
        first = text.splitlines()[0] if text else ""
        if first:
            self.query_one("#stage-line", Static).update(Text(first))
        percent = getattr(event, "percent", None)
        if percent is not None:
            self.query_one("#progress", ProgressBar).update(total=100, progress=percent)
        tail = getattr(event, "log_tail", None)
        if tail:
            self.query_one("#task-log", Static).update("\n".join(tail[-6:]))
        if not tick and text:
            log = self.query_one("#events", RichLog)
            stage = str(getattr(event, "stage", "") or "")
            for line in text.splitlines():
                log.write(Text.assemble((f"[{stage}] " if stage else "", "bright_black"), line))

    def finish(self, lines: list[str]) -> None:
        """An action ended: not busy, the bar full, its lines kept in What happened."""
        self.busy = False
        if self.review:
            return
        self.query_one("#progress", ProgressBar).update(total=100, progress=100)
        log = self.query_one("#events", RichLog)
        for line in lines:
            log.write(line)

    def failed(self, sentence: str) -> None:
        """Say in red why reading or changing could not go on (from any thread or worker)."""
        self.post_message(ChangeFailed(sentence))

    def on_change_failed(self, message: ChangeFailed) -> None:
        self.busy = False
        self.query_one(f"#{self.BUSY_ID}", LoadingIndicator).display = False
        self.query_one(f"#{self.SUMMARY_ID}", Static).update(Text(f"✘ {message.sentence}", style="red"))
        self._buttons()

    #: The table the arrows move through once the step has read its state.
    TABLE_ID: ClassVar[str]

    def _summary(self) -> Text:
        """Where the step stands, in a sentence or two."""
        return Text()

    def _show(self) -> None:
        """Fill the tables from what was read."""

    def focus_table(self) -> None:
        """Give the step's table the focus (a screen whose table fills later gives it then)."""
        self.query_one(f"#{self.TABLE_ID}", DataTable).focus()

    def show_loaded(
        self, statuses: dict[str, str], note: Text | None, waves: list[str] | None = None
    ) -> None:
        """What was read is shown: the step list, the wave picker (where the step has one), the tables,
        the summary under ``note`` (what the last action said), the actions, and the table focused."""
        self.query_one(f"#{self.BUSY_ID}", LoadingIndicator).display = False
        if statuses:
            self.statuses = statuses
            self.query_one(StepList).refresh_steps(statuses, self.STEP)
        if waves is not None:
            select: Select[str] = self.query_one("#wave", Select)
            with self.prevent(Select.Changed):
                select.set_options([(w, w) for w in waves])
                if self.wave is not None:
                    select.value = self.wave
        self._show()
        if not self.busy and not isinstance(self.focused, DataTable):
            self.focus_table()  # arrows move through the rows at once
        summary = self._summary()
        if note is not None:
            summary = note.append("\n").append_text(summary)
        self.query_one(f"#{self.SUMMARY_ID}", Static).update(summary)
        self._buttons()

    @on(Select.Changed, "#wave")
    def _wave_chosen(self, event: Select.Changed) -> None:
        if self.busy or not isinstance(event.value, str) or event.value == self.wave:
            return
        self.wave = event.value
        self.action_reload()

    def action_reload(self, note: Text | None = None) -> None:
        """Read the step's state again."""

    def _event(self, event: Any) -> None:
        """Hand an engine event to the screen (the engine calls it from its worker)."""
        self.post_message(ChangeProgress(event))

    def on_change_progress(self, message: ChangeProgress) -> None:
        self.show_event(message.event, tick=message.tick)

    def _buttons(self) -> None:
        """Enable and disable the actions for the state the screen is in."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A run that died of something unexpected still ends visibly."""
        if not str(event.worker.group).startswith(f"{self.STEP}-") or event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        self.failed(
            f"Stopped on an unexpected error ({type(error).__name__}: {error}). The journal keeps what was "
            "done: refresh and try again."
        )
