"""Migrate: run a planned wave (export, import after a preview, packages, logos, triggers, verification).

The wave runs in a worker that posts what happens; the export password is asked twice, held only by the
run and never stored. The import waits for the user to confirm Octopus's preview in a dialog. After the
run, or when the step is reviewed, the journal's record of each project shows stage by stage, with the
verification's differences.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import (
    Button,
    DataTable,
    Input,
    Label,
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

from octowiz import heap
from octowiz.engine.context import Context
from octowiz.engine.migrate.accept import accept_differences
from octowiz.engine.migrate.run import (
    Event,
    ImportPreview,
    ProjectOutcome,
    WaveFailed,
    WaveResult,
    WaveSettings,
    run_wave,
)
from octowiz.engine.migrate.verify import Difference, Verification
from octowiz.engine.migrate.waves import project_state
from octowiz.engine.prepare.scanning import latest_readiness
from octowiz.journal import Journal, JournalError
from octowiz.octopus.errors import OctopusError
from octowiz.tui.onepaint import EventLog
from octowiz.tui.screens.dialogs import Confirmed, Dialog, TypedConfirm
from octowiz.tui.screens.step import StepScreen
from octowiz.tui.screens.waves import state_style
from octowiz.tui.tables import Table
from octowiz.tui.widgets.steps import StepList
from octowiz.tui.workers import work

#: The stages a wave goes through, in order, as the progress line shows them.
STAGES = ("export", "download", "upload", "preview", "import", "packages", "logo", "triggers", "verify")
#: The per-project stages the journal records, in order.
PROJECT_STAGES = ("import", "packages", "logo", "triggers", "verify")

ItemRow = tuple[str, str, str, str, dict[str, Any] | None]


# -- what the journal says -----------------------------------------------------------------------------


@dataclass
class Recorded:
    """What the journal holds about the waves, read in one go (blocking).

    Attributes:
        waves: ``wave -> project ids``.
        names: project id -> name, from the batches, the verifications and the readiness scan.
        items: the journal's ``project`` item rows.
        destination: the destination's host, for the preview.
        statuses: every step's status, for the step list.
    """

    waves: dict[str, list[str]]
    names: dict[str, str]
    items: list[ItemRow]
    destination: str
    statuses: dict[str, str] = field(default_factory=dict)
    in_flight: list[str] = field(default_factory=list)  # waves with a batch a run left unfinished

    @classmethod
    def read(cls, journal: Journal) -> Recorded:
        """Read it (blocking: call through ``asyncio.to_thread``)."""
        names: dict[str, str] = {}
        scan = latest_readiness(journal)
        if scan is not None:
            names.update({p.project_id: p.name for p in scan.projects})
        in_flight: list[str] = []
        for _kind, _item, _stage, status, detail in journal.items("batch"):
            names.update({str(k): str(v) for k, v in ((detail or {}).get("names") or {}).items()})
            if detail and status not in ("done", "closed") and detail.get("wave") not in in_flight:
                in_flight.append(str(detail.get("wave")))
        items = journal.items("project")
        for _kind, pid, stage, _status, detail in items:
            if stage == "verify" and detail and detail.get("project_name"):
                names[pid] = str(detail["project_name"])
        url = str(journal.settings.get("destination_url") or "")
        destination = urlsplit(url).netloc or url or "Octopus Cloud"
        statuses = {step: v[0] for step, v in journal.steps().items()}
        return cls(journal.waves(), names, items, destination, statuses, in_flight)

    def stages(self, project_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """A project's stages: ``stage -> (status, detail)``."""
        return {s: (st, d or {}) for _k, pid, s, st, d in self.items if pid == project_id}

    def state(self, project_id: str, wave: str) -> str:
        """A project's migration state as the journal shows it (``not started`` until its export)."""
        state = project_state([row for row in self.items if row[1] == project_id], wave)
        return "not started" if state.startswith("planned") else state

    def complete(self) -> bool:
        """Every project of every wave is verified (the step is done)."""
        return bool(self.waves) and all(
            self.state(pid, wave) == "verified" for wave, ids in self.waves.items() for pid in ids
        )


@dataclass
class ProjectLine:
    """One project of a wave, as the results show it."""

    id: str
    name: str
    state: str
    stages: dict[str, tuple[str, dict[str, Any]]]
    detail: str = ""
    verification: Verification | None = None


def project_lines(recorded: Recorded, wave: str, outcomes: dict[str, ProjectOutcome]) -> list[ProjectLine]:
    """The wave's projects: the journal's record, with what the last run said on top."""
    lines = []
    for pid in recorded.waves.get(wave, []):
        stages = recorded.stages(pid)
        state = recorded.state(pid, wave)
        name = recorded.names.get(pid, pid)
        detail = ""
        verification = None
        if "verify" in stages:
            verification = Verification.from_dict(stages["verify"][1])
        outcome = outcomes.get(pid)
        if outcome is not None:
            name = outcome.name or name
            detail = outcome.detail
            verification = outcome.verification or verification
            # A project the run never reached is not "imported", whatever its outcome was preset to.
            if outcome.state != "imported" or outcome.destination_id:
                state = outcome.state
        elif stages.get("import", ("", {}))[0] == "failed":
            detail = str(stages["import"][1].get("why") or "")
        lines.append(ProjectLine(pid, name, state, stages, detail, verification))
    return lines


_TALLY = {"differences": "with differences", "conflict": "in conflict with a project already on Cloud"}


def tally(lines: list[ProjectLine]) -> str:
    """``2 verified, 1 with differences``: how many projects are in each state, in wave order."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.state] = counts.get(line.state, 0) + 1
    return ", ".join(f"{n} {_TALLY.get(state, state)}" for state, n in counts.items())


def _mark(status: str) -> tuple[str, str]:
    return {
        "done": ("✔", "green"),
        "failed": ("✘", "bold red"),
        "differences": ("≠", "yellow"),
        "in progress": ("▶", "yellow"),
    }.get(status, ("·", "bright_black"))


def stage_cell(stage: str, recorded: tuple[str, dict[str, Any]] | None) -> Text:
    """One stage of one project, in a few characters."""
    if recorded is None:
        return Text("·", style="bright_black")
    status, detail = recorded
    mark, style = _mark(status)
    what = status if status not in ("done",) else ""
    if stage == "import":
        what = str(detail.get("destination_id") or "") if status == "done" else status
    elif stage == "packages":
        copied, already = int(detail.get("copied") or 0), int(detail.get("already") or 0)
        failed = len(detail.get("failed") or [])
        what = f"{copied} copied" + (f", {already} there" if already else "")
        if detail.get("needed") == 0:
            what = "none needed"
        if failed:
            what = f"{failed} failed"
    elif stage == "logo":
        what = str(detail.get("result") or status)
    elif stage == "triggers":
        triggers = detail.get("triggers") or []
        bad = sum(1 for t in triggers if t.get("status") == "failed")
        what = f"{len(triggers)}" + (f", {bad} failed" if bad else "")
    elif stage == "verify":
        n = len(detail.get("differences") or [])
        what = "verified" if status == "done" else f"{n} difference{'s' if n != 1 else ''}"
    text = Text(f"{mark} ", style=style)
    text.append(what)
    return text


# -- messages ------------------------------------------------------------------------------------------


@dataclass
class RecordLoaded(Message):
    """The journal's record of the waves was read."""

    recorded: Recorded
    note: Text | None = None


@dataclass
class WaveProgress(Message):
    """Something happened in the running wave."""

    event: Event

    @property
    def tick(self) -> bool:
        """A progress observation (task percent or bytes), not a line worth keeping."""
        return self.event.percent is not None or self.event.done_bytes is not None

    def can_replace(self, message: Message) -> bool:
        """A newer tick of the same stage makes this one stale."""
        return (
            isinstance(message, WaveProgress)
            and self.tick
            and message.tick
            and message.event.stage == self.event.stage
        )


@dataclass
class PreviewRequested(Message):
    """The import waits for the user: ``answer`` gets True to import, False to stop."""

    preview: ImportPreview
    answer: asyncio.Future[bool] = field(repr=False)


@dataclass
class WaveFinished(Message):
    """The run ended (its problems, if any, are in the result)."""

    result: WaveResult
    recorded: Recorded


@dataclass
class WaveStopped(Message):
    """The run could not go on; ``sentence`` says why."""

    wave: str
    sentence: str
    recorded: Recorded | None


# -- dialogs -------------------------------------------------------------------------------------------


class PasswordDialog(Dialog[str | None]):
    """Ask for the export password twice. It is handed to the run and never stored."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Do not migrate", id="password.cancel")]

    def __init__(self, wave: str) -> None:
        super().__init__()
        self.wave = wave

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Export password for {self.wave}", classes="dialog-title")
            yield Static(
                "Export encrypts the projects' sensitive values (sensitive variables, account secrets, "
                "certificates) with this password, and the import on Octopus Cloud decrypts them with it. "
                "octowiz does not store it: running the wave again asks for it again.",
                id="password-note",
            )
            yield Input(placeholder="Password", password=True, id="password")
            yield Input(placeholder="The same password again", password=True, id="again")
            yield Static("", id="password-error")
            with Horizontal(classes="dialog-actions"):
                yield Button("Start", id="start", variant="warning")
                yield Button("Cancel", id="cancel", variant="primary")

    @on(Input.Submitted, "#password")
    def _next(self) -> None:
        self.query_one("#again", Input).focus()

    @on(Input.Submitted, "#again")
    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        first, again = self.query_one("#password", Input), self.query_one("#again", Input)
        error = self.query_one("#password-error", Static)
        if not first.value:
            error.update(Text("Enter a password.", style="red"))
            first.focus()
            return
        if first.value != again.value:
            # Neither can be read back on screen, so both start again.
            error.update(
                Text("The two passwords differ: type the same password in both fields.", style="red")
            )
            first.value = again.value = ""
            first.focus()
            return
        password = first.value
        first.value = again.value = ""  # gone from the widgets as soon as the run has it
        self.dismiss(password)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        for inp in self.query(Input):
            inp.value = ""
        self.dismiss(None)


class PreviewDialog(Dialog[bool]):
    """Octopus's preview of the import, and the explicit confirmation it needs."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Import nothing", id="preview.cancel")]

    def __init__(self, preview: ImportPreview, wave: str, destination: str) -> None:
        super().__init__()
        self.preview = preview
        self.wave = wave
        self.destination = destination

    def compose(self) -> ComposeResult:
        lines = Text()
        for line in self.preview.lines():
            lines.append("  • ", style="bright_black")
            lines.append(f"{line}\n")
        lines.rstrip()
        with Vertical(id="dialog"):
            yield Label(f"Import {self.wave} into {self.destination}?", classes="dialog-title")
            yield Static(
                "Octopus previewed the import. Nothing has been imported yet; Import starts one import "
                "task, which creates the projects and what they need:"
            )
            with VerticalScroll(id="preview-scroll"):
                yield Static(lines, id="preview-lines")
            yield Static(
                "Cancel leaves Octopus Cloud as it is; the export is kept, so running the wave again "
                "continues from this preview.",
                id="preview-note",
            )
            with Horizontal(classes="dialog-actions"):
                yield Button("Import", id="import", variant="warning")
                yield Button("Cancel", id="cancel", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#import")
    def _import(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


# -- the screen ----------------------------------------------------------------------------------------


class MigrateScreen(StepScreen):
    """Migrate planned waves and show how each project ended. Dismisses ``done`` or ``welcome``.

    ``done`` is offered once every project of every wave is verified (the engine then records the step
    as done); Back leaves at any time no wave is running.
    """

    STEP = "migrate"
    SUMMARY_ID = "migrate-summary"
    BUSY_ID = "migrate-reading"

    BINDINGS = [
        Binding(
            "ctrl+g",
            "migrate",
            "Migrate wave…",
            tooltip="Export, import (after a preview), fill the gaps and verify the chosen wave",
            id="migrate.run",
        ),
        Binding(
            "escape",
            "stop",
            "Stop",
            tooltip="Stop waiting for the wave (the journal keeps what was done; run it again to resume)",
            id="migrate.stop",
        ),
        Binding(
            "ctrl+a",
            "accept",
            "Accept differences…",
            tooltip="The highlighted project's differences are understood: accept them, with a reason",
            id="migrate.accept",
        ),
        Binding("ctrl+n", "continue", "Continue", tooltip="On to the overview", id="migrate.continue"),
        Binding("ctrl+b", "back", "Back", tooltip="Back to the welcome screen", id="migrate.back"),
    ]

    def __init__(
        self,
        context: Context,
        journal: Journal,
        statuses: dict[str, str],
        *,
        review: bool = False,
        settings: WaveSettings | None = None,
    ) -> None:
        super().__init__(context, journal, statuses, review=review)
        self.settings = settings
        self.recorded: Recorded | None = None
        self.wave: str | None = None
        self.running = False
        self.outcomes: dict[str, ProjectOutcome] = {}
        self.lines: list[ProjectLine] = []
        self.differences: list[tuple[ProjectLine, Difference | None]] = []
        self.stage: str | None = None
        self._preview: PreviewDialog | None = None
        self._wave_options: list[tuple[str, str]] = []  # what the wave picker offers now

    # -- layout ----------------------------------------------------------------------------------

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Results", id="tab-results"):
            yield Table(id="results", cursor_type="row", zebra_stripes=True)
            yield Static("", id="result-detail")
        with TabPane("Verification", id="tab-verification"):
            yield Table(id="verification", cursor_type="row", zebra_stripes=True)
            yield Static("", id="difference-detail")
        if self.review:
            return  # nothing runs in a review
        with TabPane("Progress", id="tab-progress"):
            yield Static("", id="stages")
            yield Static("", id="stage-line")
            yield ProgressBar(total=100, show_eta=False, id="progress")
            yield Static("", id="bytes")
            yield Static("", id="task-log")
            yield EventLog(id="events", wrap=True, auto_scroll=True)

    def compose_actions(self) -> ComposeResult:
        yield Select[str]([], prompt="Wave", allow_blank=True, id="wave")
        if not self.review:
            yield Button("Migrate wave…", id="migrate", variant="warning", disabled=True)
            yield Button("Stop", id="stop", variant="error")
            yield Button("Continue", id="continue", variant="success", disabled=True)

    #: How often the heap is frozen while the screen is shown (see on_mount).
    FREEZE_INTERVAL = 0.5

    def on_mount(self) -> None:
        self.title = "octowiz — Migrate"
        if not self.review:
            # While a wave runs, what it and the screen's rendering keep alive (run state, Textual's line
            # caches) grew to 45,000-65,000 objects, and each full GC pass over them froze the UI for
            # 30-55 ms, several times a run. Frozen every half second, a full pass walks only what
            # survived since; everything is handed back to the collector when the screen closes.
            heap.freeze()
            self.set_interval(self.FREEZE_INTERVAL, self._freeze_heap, name="migrate-freeze-heap")
        self.query_one("#results", DataTable).add_columns(
            "Project", "State", "Import", "Packages", "Logo", "Triggers", "Verify"
        )
        self.query_one("#verification", DataTable).add_columns("Project", "Result", "Area", "What")
        if not self.review:
            self.query_one("#task-log", Static).border_title = "Task log"
            self.query_one("#events", RichLog).border_title = "What happened"
            self._show_stages()
        self._buttons()
        self.action_reload()

    def _freeze_heap(self) -> None:
        heap.freeze()

    def on_unmount(self) -> None:
        if not self.review:
            heap.unfreeze()  # what was kept frozen goes back to normal collection (the app settles it)

    # -- reading the journal ---------------------------------------------------------------------

    def action_reload(self, note: Text | None = None) -> None:
        self.query_one(f"#{self.BUSY_ID}", LoadingIndicator).display = True
        self.read(note)

    @work(exclusive=True, group="migrate-read", exit_on_error=False)
    async def read(self, note: Text | None = None) -> None:
        """Read the journal's record; ``note`` is what the summary says then (else where the wave stands)."""
        try:
            recorded = await asyncio.to_thread(Recorded.read, self.journal)
        except JournalError as exc:
            self.post_message(WaveStopped(self.wave or "", str(exc), None))
            return
        self.post_message(RecordLoaded(recorded, note))

    def on_record_loaded(self, message: RecordLoaded) -> None:
        self.query_one(f"#{self.BUSY_ID}", LoadingIndicator).display = False
        self._take(message.recorded)
        if message.note is not None:
            self.query_one(f"#{self.SUMMARY_ID}", Static).update(message.note)
        elif self.wave is not None:
            self._idle_summary()

    def _take(self, recorded: Recorded) -> None:
        """Show a newer record: the wave list, and the chosen wave's projects."""
        self.recorded = recorded
        if recorded.statuses:
            self.statuses = recorded.statuses
            self.query_one(StepList).refresh_steps(recorded.statuses, self.STEP)
        select: Select[str] = self.query_one("#wave", Select)
        options = [
            (f"{w} ({len(ids)} project{'s' if len(ids) != 1 else ''})", w)
            for w, ids in recorded.waves.items()
        ]
        if self.wave not in recorded.waves:
            unfinished = [
                w for w, ids in recorded.waves.items() if any(recorded.state(p, w) != "verified" for p in ids)
            ]
            # A wave a run left halfway first (a resumed migration continues it), then any unfinished.
            started = [w for w in recorded.in_flight if w in unfinished]
            choices = started or unfinished or list(recorded.waves)
            self.wave = choices[0] if choices else None
        # Only what changed: setting the picker's options and value restyles it, 5-7 ms of the turn
        # that ends a run, where they are almost always the same.
        with self.prevent(Select.Changed):
            if options != self._wave_options:
                self._wave_options = options
                select.set_options(options)
            if self.wave is not None and select.value != self.wave:
                select.value = self.wave
        if not recorded.waves:
            self.query_one(f"#{self.SUMMARY_ID}", Static).update(
                "No waves are planned yet: plan one in the Waves step first."
            )
        self._take_lines()
        self._buttons()
        # The tables in the next paint: refilled with the step list, the picker and the summary in the
        # same one, the screen took 45-50 ms to paint (python -m benchmarks.migrate_ui).
        self.after_layout(self._show_taken)

    def _show_taken(self) -> None:
        self._fill_results()
        # Only where it shows: Textual switches to the tab of a widget that takes focus, at once and
        # whole (48-56 ms at a run's end); a run's end shows it a part at a time (see _show_tab).
        if not self.running and self.query_one("#migrate-tabs", TabbedContent).active == "tab-results":
            self.query_one("#results", DataTable).focus()

    @on(Select.Changed, "#wave")
    def _wave_chosen(self, event: Select.Changed) -> None:
        if self.running:
            return
        self.wave = event.value if isinstance(event.value, str) else None
        self.outcomes = {}
        self._show_results()
        self._idle_summary()
        self._buttons()

    def _idle_summary(self) -> None:
        if self.recorded is None or self.wave is None:
            return
        text = Text()
        text.append(f"{self.wave}: ", style="bold")
        text.append(tally(self.lines) or "no projects")
        text.append(". ")
        states = {line.state for line in self.lines}
        if self.review:
            text.append("What the journal recorded (read-only).", style="bright_black")
        elif states == {"verified"}:
            text.append("Every project is verified.", style="green")
        elif "not started" not in states:
            text.append(
                "Put right what the Verification tab lists (or what failed), then run the wave again: it "
                "continues where it stopped and verifies again. Differences that are fine as they are: "
                "accept them with a reason (Ctrl+A)."
            )
        else:
            text.append(
                "Migrate wave exports these projects from the Server, imports them into Octopus Cloud after "
                "you confirm Octopus's preview, copies their packages, logos and triggers, and verifies "
                "each one. It can be run again at any time: it continues where it stopped."
            )
        self.query_one(f"#{self.SUMMARY_ID}", Static).update(text)

    # -- running ---------------------------------------------------------------------------------

    def action_migrate(self) -> None:
        if self.review or self.running or self.wave is None:
            return
        wave = self.wave

        def entered(password: str | None) -> None:
            if password and not self.running:
                self.running = True  # a second run cannot start meanwhile

                def start() -> None:
                    self.begin_run(wave)
                    self.migrate(wave, password)

                # Paint by paint: the screen under the dialog whole again once the dialog is removed;
                # the run's summary, stages and buttons; its tab; its logs (see begin_run, _show_tab).
                dialog.when_gone(lambda: self.after_layout(start))

        dialog = PasswordDialog(wave)
        self.app.push_screen(dialog, entered)

    def begin_run(self, wave: str) -> None:
        """Show a run of ``wave`` starting (before its worker does: a second run cannot start meanwhile).

        Paint by paint: the Progress tab, with the tab strip taking the focus from the results table
        as the table's tab hides it (focused or not, the table looks different: unfocused while
        shown, it was drawn again whole, 26 ms on a slow 2-core machine); the tab's logs (see
        _show_tab); then the run's summary, stages and buttons. The summary's new height lays out
        the tabs below it again: with the tab, that paint took 44-46 ms.
        """
        self.running = True
        self.wave = wave
        self.outcomes = {}
        self.stage = None
        self.query_one("#progress", ProgressBar).update(total=100, progress=0)
        self.query_one("#stage-line", Static).update("Starting…")
        self.query_one("#bytes", Static).update("")
        self.query_one("#task-log", Static).update("")
        self.query_one("#events", RichLog).clear()
        self.query_one("#migrate-tabs", TabbedContent).query_one(Tabs).focus()
        self._show_tab("tab-progress")

        def summary_stages_and_buttons() -> None:
            if not self.running:
                return  # it ended already (refused at once, say): its end is shown instead
            self.query_one(f"#{self.SUMMARY_ID}", Static).update(
                Text(
                    f"Migrating {wave}… Stop (Esc) stops waiting; running the wave again resumes it.",
                    style="italic",
                )
            )
            self._show_stages()
            self._buttons()

        self.after_layout(lambda: self.after_layout(summary_stages_and_buttons))

    @work(exclusive=True, group="migrate-run", exit_on_error=False)
    async def migrate(self, wave: str, password: str) -> None:
        """Run the wave; what happens is posted to the screen. The password lives only in this call."""
        loop = asyncio.get_running_loop()

        async def confirm(preview: ImportPreview) -> bool:
            answer: asyncio.Future[bool] = loop.create_future()
            self.post_message(PreviewRequested(preview, answer))
            return await answer

        def on_event(event: Event) -> None:
            self.post_message(WaveProgress(event))

        try:
            result = await run_wave(
                self.context,
                self.journal,
                wave,
                password,
                confirm=confirm,
                on_event=on_event,
                settings=self.settings,
            )
        except (WaveFailed, OctopusError, JournalError) as exc:
            recorded = await self._reread()
            self.post_message(WaveStopped(wave, str(exc), recorded))
            return
        recorded = await self._reread()
        self.post_message(WaveFinished(result, recorded) if recorded else WaveStopped(wave, "", None))

    async def _reread(self) -> Recorded | None:
        try:
            return await asyncio.to_thread(Recorded.read, self.journal)
        except JournalError:
            return None

    def on_wave_progress(self, message: WaveProgress) -> None:
        event = message.event
        if event.stage in (*STAGES, "done") and event.stage != self.stage:
            self.stage = event.stage
            self._show_stages()
            if not message.tick:
                self.query_one("#progress", ProgressBar).update(total=100, progress=0)
        bar = self.query_one("#progress", ProgressBar)
        first = event.message.splitlines()[0] if event.message else ""
        if event.stage == "preview":
            first = "Waiting for you to confirm the import preview"
        elif event.stage == "done":
            first = f"Finished: {first}"
        self.query_one("#stage-line", Static).update(Text(first))
        if event.percent is not None:
            bar.update(total=100, progress=event.percent)
            if event.log_tail:
                self.query_one("#task-log", Static).update("\n".join(event.log_tail[-6:]))
        elif event.done_bytes is not None and event.total_bytes:
            bar.update(total=event.total_bytes, progress=event.done_bytes)
            self.query_one("#bytes", Static).update(
                f"{event.stage.capitalize()}: {event.done_bytes:,} of {event.total_bytes:,} bytes"
            )
        else:
            if event.total_bytes:
                self.query_one("#bytes", Static).update(
                    f"{event.stage.capitalize()}: {event.total_bytes:,} bytes"
                )
            log = self.query_one("#events", RichLog)
            for line in event.message.splitlines() or [""]:
                log.write(Text.assemble((f"[{event.stage}] ", "bright_black"), line))
        if event.stage == "done":
            bar.update(total=100, progress=100)

    def _show_stages(self) -> None:
        text = Text()
        current = STAGES.index(self.stage) if self.stage in STAGES else -1
        if self.stage == "done":
            current = len(STAGES)
        for i, stage in enumerate(STAGES):
            if i:
                text.append("  ")
            if i < current:
                text.append(f"✔ {stage}", style="green")
            elif i == current:
                text.append(f"▶ {stage}", style="bold yellow")
            else:
                text.append(stage, style="bright_black")
        self.query_one("#stages", Static).update(text)

    def on_preview_requested(self, message: PreviewRequested) -> None:
        destination = self.recorded.destination if self.recorded else "Octopus Cloud"
        dialog = PreviewDialog(message.preview, self.wave or "the wave", destination)
        self._preview = dialog

        def answered(ok: bool | None) -> None:
            self._preview = None
            if not message.answer.done():
                message.answer.set_result(bool(ok))

        def push() -> None:
            if self._preview is dialog and self.running:
                self.app.push_screen(dialog, answered)
            else:
                answered(False)  # the run was stopped meanwhile

        # The preview stage (step list, stages, the line that says what it waits for) is painted
        # first, the dialog after: in one turn with the dialog's composing and its first paint, the
        # two made a 45-67 ms stall on a slow 2-core machine (python -m benchmarks.migrate_ui).
        self.after_layout(push)

    def on_wave_finished(self, message: WaveFinished) -> None:
        result = message.result
        self.outcomes = {o.id: o for o in result.projects}
        self._end(message.recorded)
        text = Text()
        text.append(f"{result.wave}: ", style="bold")
        everything = bool(self.lines) and all(line.state == "verified" for line in self.lines)
        text.append(
            tally(self.lines) or "nothing to do", style="green" if everything and not result.problems else ""
        )
        text.append(".")
        for problem in result.problems:
            text.append(f"\n✘ {problem}", style="red")
        if result.problems:
            text.append("\nFix what it says and run the wave again: it continues where it stopped.")
        elif any(line.state == "differences" for line in self.lines):
            text.append(" The Verification tab lists what differs.", style="yellow")
        self.query_one(f"#{self.SUMMARY_ID}", Static).update(text)
        # Paint by paint: the step list and the summary; the table refilled and focused while its tab
        # is still hidden (see _take); the tab; its detail (see _show_tab). In one paint, the refilled
        # and focused table and the tab took 42-44 ms (python -m benchmarks.migrate_ui).
        self.after_layout(lambda: self.after_layout(lambda: self._show_tab("tab-results")))

    #: What a tab shows after the rest of it, paint by paint (see ``_show_tab``).
    SHOWN_LATER: dict[str, tuple[tuple[str, ...], ...]] = {
        "tab-progress": (("#task-log", "#events"),),
        "tab-results": (("#results",), ("#result-detail",)),
    }
    #: Of those, what waits invisible in its room rather than out of the layout.
    KEEPS_ROOM = frozenset({"result-detail"})

    def _show_tab(self, tab: str) -> None:
        """Show ``tab`` over a few paints: first the tab, then its big boxes (the logs; the table, then
        its detail), each in a paint of its own.

        Revealing a tab lays out and renders its whole area at once, 40-55 ms on a 2-core machine for
        the Progress tab at a run's start and the Results tab at its end: the longest stalls of a run
        (``python -m benchmarks.migrate_ui``). Split, no paint renders more than about half of it.

        The results table is focused while it is out of the layout (Textual allows that, not for a
        widget that is merely invisible): the focus moving repaints the screen and the tab strip in
        the tab's light paint, and the table is rendered once, as focused, when it shows. Its detail
        waits invisible in its room, so the table shows at its final height: 18 rows to render for a
        50-project wave, not 30.
        """
        tabs = self.query_one("#migrate-tabs", TabbedContent)
        if tabs.active == tab:
            return
        stages = [[self.query_one(selector) for selector in stage] for stage in self.SHOWN_LATER.get(tab, ())]
        for stage in stages:
            for widget in stage:
                if widget.id in self.KEEPS_ROOM:
                    widget.visible = False
                else:
                    widget.display = False
        tabs.active = tab
        if tab == "tab-results" and not self.running:
            self.query_one("#results", DataTable).focus()

        def show(stage: list[Widget]) -> None:
            for widget in stage:
                widget.display = True
                widget.visible = True

        self.in_turns(*(partial(show, stage) for stage in stages))

    def on_wave_stopped(self, message: WaveStopped) -> None:
        self._end(message.recorded)
        self.query_one(f"#{self.BUSY_ID}", LoadingIndicator).display = False
        if message.sentence:
            self.query_one(f"#{self.SUMMARY_ID}", Static).update(
                Text.assemble(
                    (f"✘ {message.sentence}", "red"),
                    "\nThe journal keeps what was done: run the wave again to continue.",
                )
            )

    def _end(self, recorded: Recorded | None) -> None:
        self.running = False
        if self._preview is not None and self._preview.is_attached:
            self._preview.dismiss(False)
        if recorded is not None:
            self._take(recorded)  # which sets the buttons too
        else:
            self._buttons()

    def action_stop(self) -> None:
        if not self.running:
            return
        self.workers.cancel_group(self, "migrate-run")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A run that was stopped, or that died of something unexpected, still ends visibly."""
        if event.worker.group != "migrate-run" or not self.running:
            return
        if event.state == WorkerState.CANCELLED:
            note = Text(
                "Stopped. The journal keeps what was done, and a task already started on an instance "
                "goes on there: run the wave again to continue."
            )
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            note = Text(
                f"✘ The wave stopped on an unexpected error ({type(error).__name__}: {error}). "
                "The journal keeps what was done: run the wave again to continue.",
                style="red",
            )
        else:
            return
        self._end(None)
        self.query_one(f"#{self.SUMMARY_ID}", Static).update(note)
        self.action_reload(note)  # what the run left in the journal, under the same sentence

    @on(TabbedContent.TabActivated, "#migrate-tabs")
    def _tab(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "tab-progress":
            # Lines written while the tab was hidden: scroll once it is laid out again.
            self.call_after_refresh(self.query_one("#events", RichLog).scroll_end, animate=False)

    # -- results ---------------------------------------------------------------------------------

    def _show_results(self) -> None:
        self._take_lines()
        self._fill_results()

    def _take_lines(self) -> None:
        recorded = self.recorded
        self.lines = project_lines(recorded, self.wave, self.outcomes) if recorded and self.wave else []

    def _fill_results(self) -> None:
        table = self.query_one("#results", DataTable)
        table.clear()
        for line in self.lines:
            table.add_row(
                Text(line.name, style="bold"),
                Text(line.state, style=state_style(line.state)),
                *[stage_cell(s, line.stages.get(s)) for s in PROJECT_STAGES],
                key=line.id,
            )
        self._result_detail(0)
        self._show_verification()

    def _show_verification(self) -> None:
        table = self.query_one("#verification", DataTable)
        table.clear()
        self.differences = []
        for line in self.lines:
            v = line.verification
            if v is None:
                self.differences.append((line, None))
                table.add_row(
                    Text(line.name, style="bold"), Text("not verified yet", style="bright_black"), "", ""
                )
                continue
            if v.verified:
                self.differences.append((line, None))
                table.add_row(
                    Text(line.name, style="bold"),
                    Text("✔ verified", style="green"),
                    "",
                    Text(f"{len(v.checked)} areas compared", style="bright_black"),
                )
                continue
            for i, d in enumerate(v.differences):
                self.differences.append((line, d))
                table.add_row(
                    Text(line.name, style="bold") if i == 0 else "",
                    Text("≠ differs", style="yellow"),
                    d.area,
                    d.what,
                )
        self._difference_detail(0)

    @on(DataTable.RowHighlighted, "#results")
    def _result_row(self, event: DataTable.RowHighlighted) -> None:
        self._result_detail(event.cursor_row)

    def _result_detail(self, row: int) -> None:
        panel = self.query_one("#result-detail", Static)
        if not 0 <= row < len(self.lines):
            panel.update("")
            return
        line = self.lines[row]
        text = Text()
        text.append(line.name, style="bold")
        text.append(f"  ({line.id})  ")
        text.append(line.state, style=state_style(line.state))
        if line.detail:
            text.append(f"\n{line.detail}")
        stages = line.stages
        imported = stages.get("import")
        if imported and imported[0] == "done":
            text.append(f"\nOn Octopus Cloud as {imported[1].get('destination_id')}.")
        packages = stages.get("packages")
        if packages:
            d = packages[1]
            text.append(
                f"\nPackages: {d.get('copied', 0)} copied, {d.get('already', 0)} already there"
                + "".join(f"\n  ✘ {f}" for f in d.get("failed") or [])
                + "".join(f"\n  ! refused: {r}" for r in d.get("refused") or [])
            )
        logo = stages.get("logo")
        if logo:
            text.append(f"\nLogo: {logo[1].get('result') or logo[0]}")
        triggers = stages.get("triggers")
        if triggers:
            listed = triggers[1].get("triggers") or []
            text.append(
                "\nTriggers: "
                + (
                    "; ".join(
                        f"'{t.get('name')}' {t.get('status')}"
                        + (f" ({t['detail']})" if t.get("detail") else "")
                        for t in listed
                    )
                    or "none"
                )
            )
        manual = stages.get("manual")
        if manual and manual[1].get("items"):
            text.append("\nStill to do by hand:" + "".join(f"\n  • {m}" for m in manual[1]["items"]))
        if line.verification is not None:
            v = line.verification
            n = len(v.differences)
            text.append(
                "\nVerification: " + ("verified" if v.verified else f"{n} difference{'s' if n != 1 else ''}")
            )
            for note in v.notes:
                text.append(f"\n  note: {note}", style="bright_black")
            for accepted in v.accepted:
                text.append(f"\n  accepted: {accepted.area}: {accepted.what}", style="bright_black")
        panel.update(text)

    @on(DataTable.RowHighlighted, "#verification")
    def _difference_row(self, event: DataTable.RowHighlighted) -> None:
        self._difference_detail(event.cursor_row)

    def _difference_detail(self, row: int) -> None:
        panel = self.query_one("#difference-detail", Static)
        if not 0 <= row < len(self.differences):
            panel.update("")
            return
        line, d = self.differences[row]
        text = Text()
        text.append(line.name, style="bold")
        if d is None:
            v = line.verification
            if v is None:
                text.append(": not verified yet.")
            else:
                text.append(f": verified ({', '.join(v.checked)}).")
                for note in v.notes:
                    text.append(f"\n  note: {note}", style="bright_black")
            panel.update(text)
            return
        text.append(f" · {d.area}\n{d.what}")
        if d.source:
            text.append(f"\n  On the Server:    {d.source}")
        if d.destination:
            text.append(f"\n  On Octopus Cloud: {d.destination}")
        panel.update(text)

    # -- leaving ---------------------------------------------------------------------------------

    def _buttons(self) -> None:
        # By id (Textual caches those lookups): a query walking the whole screen for each button took
        # a fifth of this at a run's start and end. A review has no run buttons.
        if (migrate := self.query_one_optional("#migrate", Button)) is not None:
            migrate.disabled = self.wave is None
            migrate.display = not self.running  # Stop takes its place while a wave runs
        if (stop := self.query_one_optional("#stop", Button)) is not None:
            stop.display = self.running
        if (go_on := self.query_one_optional("#continue", Button)) is not None:
            go_on.disabled = self.running or not (self.recorded and self.recorded.complete())
        if (back := self.query_one_optional("#back", Button)) is not None:
            back.disabled = self.running
        self.query_one("#wave", Select).disabled = self.running
        self.refresh_bindings()  # the footer offers what check_action allows now

    def action_accept(self) -> None:
        if self.review or self.running:
            return
        tabs = self.query_one("#migrate-tabs", TabbedContent)
        line: ProjectLine | None = None
        if tabs.active == "tab-verification":
            row = self.query_one("#verification", DataTable).cursor_row
            line = self.differences[row][0] if 0 <= row < len(self.differences) else None
        else:
            row = self.query_one("#results", DataTable).cursor_row
            line = self.lines[row] if 0 <= row < len(self.lines) else None
        if line is None or line.verification is None or line.verification.verified:
            self.notify(
                "Highlight a project whose verification found differences.", title="Accept differences"
            )
            return
        chosen = line
        verification = line.verification
        lines = [f"{d.area}: {d.what}" for d in verification.differences]
        lines.append(
            "Accepted differences no longer count: the project is verified and can be cut over. They stay "
            "listed as accepted, and the journal keeps your reason."
        )

        def confirmed(answer: Confirmed | None) -> None:
            if answer is not None and not self.running:
                self.accept(chosen.id, answer.reason)

        self.app.push_screen(
            TypedConfirm(
                f"Accept {len(verification.differences)} difference(s) of '{chosen.name}'?",
                lines,
                "accept",
                action="Accept",
                reason="Why are these acceptable (for example: the step needs nothing on our network)?",
            ),
            confirmed,
        )

    @work(exclusive=True, group="migrate-accept", exit_on_error=False)
    async def accept(self, project_id: str, reason: str) -> None:
        """Record the acceptance (a journal write on a thread), then show the project verified."""
        try:
            await asyncio.to_thread(accept_differences, self.journal, project_id, reason)
        except (ValueError, JournalError) as exc:
            self.post_message(WaveStopped(self.wave or "", str(exc), None))
            return
        self.read(
            Text("Accepted: the journal keeps the reason; the project counts as verified.", style="green")
        )

    def action_continue(self) -> None:
        if self.check_action("continue", ()):
            self.dismiss("done")

    def action_back(self) -> None:
        if not self.running:
            self.dismiss("welcome")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "migrate":
            return not self.review and not self.running and self.wave is not None
        if action == "stop":
            return self.running
        if action == "accept":
            return (
                not self.review
                and not self.running
                and any(line.state == "differences" for line in self.lines)
            )
        if action == "continue":
            return not self.review and not self.running and bool(self.recorded and self.recorded.complete())
        if action == "back":
            return not self.running
        return True

    @on(Button.Pressed, "#migrate, #stop, #continue, #back")
    async def _pressed(self, event: Button.Pressed) -> None:
        await self.run_action(str(event.button.id))
