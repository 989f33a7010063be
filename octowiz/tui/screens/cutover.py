"""Cutover: the build server, a test deployment on Cloud, and disabling the Server's copy (with rollback).

Per project of a wave: who pushes to it from outside Octopus and what to change in the build server
(ticked off by the team), an optional test deployment of a chosen release to a chosen non-production
environment on Cloud, and then disabling the project on the Server — only when it is verified, its
targets are healthy on Cloud and its test passed, or with a typed reason the journal keeps. Re-enable
is the rollback, one action away.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import (
    Button,
    DataTable,
    Label,
    LoadingIndicator,
    Select,
    Static,
    TabbedContent,
    TabPane,
)

from octowiz.engine.context import Context
from octowiz.engine.cutover import cutover as co
from octowiz.engine.cutover.targets import TargetsError
from octowiz.journal import Journal, JournalError
from octowiz.octopus.errors import OctopusError
from octowiz.tui.screens.dialogs import Confirmed, Dialog, TypedConfirm
from octowiz.tui.screens.step import ChangeDone, ChangeFailed, ChangeStepScreen
from octowiz.tui.tables import Table
from octowiz.tui.workers import work

#: How far back the build-server checklist looks for pushes from outside Octopus.
CHECKLIST_DAYS = 365

_FAILURES = (OctopusError, JournalError, co.CutoverError, TargetsError, ValueError)


@dataclass
class Loaded:
    """A wave's cut-over as both instances and the journal show it."""

    waves: list[str]
    wave: str | None
    checks: list[co.DisableCheck]
    checklist: list[co.ProjectChecklist]
    tests: dict[str, tuple[str, dict[str, object]]]
    statuses: dict[str, str] = field(default_factory=dict)

    def complete(self) -> bool:
        """Every project of the wave is disabled on the Server (the step is done)."""
        return bool(self.checks) and all(c.state == "disabled" for c in self.checks)


# -- messages ------------------------------------------------------------------------------------------


@dataclass
class CutoverLoaded(Message):
    """The wave's cut-over was read."""

    loaded: Loaded
    note: Text | None = None


@dataclass
class TestChoices(Message):
    """A project's test preview was read: the dialog lets the user choose release and environment."""

    preview: co.TestPreview


@dataclass
class TestPreviewed(Message):
    """The chosen test deployment was previewed: it waits for a typed confirmation."""

    preview: co.TestPreview


# -- the test dialog -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestChoice:
    """The release and the environment a test deployment uses."""

    release_id: str
    environment_id: str


class TestDialog(Dialog[TestChoice | None]):
    """Choose a release of the project on Cloud and a non-production environment to test it in."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Deploy nothing", id="test.cancel")]

    def __init__(self, preview: co.TestPreview) -> None:
        super().__init__()
        self.preview = preview

    def compose(self) -> ComposeResult:
        p = self.preview
        with Vertical(id="dialog"):
            yield Label(f"Test '{p.project_name}' on Octopus Cloud", classes="dialog-title")
            yield Static("Release")
            yield Select[str](
                [(v, i) for i, v in p.releases], value=p.release_id, allow_blank=False, id="release"
            )
            yield Static("Environment (non-production only)")
            yield Select[str](
                [(n, i) for i, n in p.environments],
                value=p.environment_id,
                allow_blank=False,
                id="environment",
            )
            yield Static(
                "Next: a preview of what will deploy and where, and a typed confirmation.", id="test-note"
            )
            with Horizontal(classes="dialog-actions"):
                yield Button("Preview", id="preview", variant="warning")
                yield Button("Cancel", id="cancel", variant="primary")

    @on(Button.Pressed, "#preview")
    def _preview(self) -> None:
        release = self.query_one("#release", Select).value
        environment = self.query_one("#environment", Select).value
        if isinstance(release, str) and isinstance(environment, str):
            self.dismiss(TestChoice(release, environment))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


# -- the screen ----------------------------------------------------------------------------------------


class CutoverScreen(ChangeStepScreen):
    """A wave's cut-over. Dismisses ``done`` (every project disabled on the Server) or ``welcome``."""

    STEP = "cutover"
    TABLE_ID = "projects"
    SUMMARY_ID = "cutover-summary"
    BUSY_ID = "cutover-reading"

    BINDINGS = [
        Binding(
            "ctrl+t",
            "test",
            "Test deploy…",
            tooltip="Deploy a release of the highlighted project to a non-production environment on Cloud",
            id="cutover.test",
        ),
        Binding(
            "ctrl+d",
            "tick",
            "Done/undone",
            tooltip="Tick off (or untick) the highlighted build-server item",
            id="cutover.tick",
        ),
        Binding(
            "ctrl+g",
            "disable",
            "Disable on Server…",
            tooltip="Disable the wave's projects on the Server (after a preview and a typed confirmation)",
            id="cutover.disable",
        ),
        Binding(
            "ctrl+z",
            "reenable",
            "Re-enable…",
            tooltip="Roll back: enable the highlighted project on the Server again",
            id="cutover.reenable",
        ),
        Binding("ctrl+r", "reload", "Refresh", tooltip="Read both instances again", id="cutover.refresh"),
        Binding("ctrl+n", "continue", "Continue", tooltip="On to the overview", id="cutover.continue"),
        Binding("ctrl+b", "back", "Back", tooltip="Back to the welcome screen", id="cutover.back"),
    ]

    def __init__(
        self,
        context: Context,
        journal: Journal,
        statuses: dict[str, str],
        *,
        review: bool = False,
        settings: co.CutoverSettings | None = None,
    ):
        super().__init__(context, journal, statuses, review=review)
        #: How tasks are followed (tests poll faster than a real Octopus Cloud should be polled).
        self.settings = settings or co.CutoverSettings()
        self.loaded: Loaded | None = None
        self.wave: str | None = None
        self.busy = False
        self.items: list[tuple[co.ProjectChecklist, co.ChecklistItem | None]] = []

    # -- layout ----------------------------------------------------------------------------------

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Projects", id="tab-projects"):
            yield Table(id="projects", cursor_type="row", zebra_stripes=True)
            yield Static("", id="project-detail", classes="detail")
        with TabPane("Build server", id="tab-build"):
            yield Table(id="build", cursor_type="row", zebra_stripes=True)
            yield Static("", id="build-detail", classes="detail")
        if self.review:
            return
        yield from self.compose_progress()

    def compose_actions(self) -> ComposeResult:
        yield Select[str]([], prompt="Wave", allow_blank=True, id="wave")
        if not self.review:
            yield Button("Test deploy…", id="test", disabled=True)
            yield Button("Disable on Server…", id="disable", variant="warning", disabled=True)
            yield Button("Re-enable…", id="reenable", disabled=True)
            yield Button("Continue", id="continue", variant="success", disabled=True)

    def on_mount(self) -> None:
        self.title = "octowiz — Cutover"
        self.query_one("#projects", DataTable).add_columns(
            "Project", "Verified", "Targets", "Test", "Build server", "On the Server"
        )
        self.query_one("#build", DataTable).add_columns("Project", "Pushed by", "Last", "To change", "Done")
        self.mount_progress()
        self._buttons()
        self.action_reload()

    # -- reading ---------------------------------------------------------------------------------

    def action_reload(self, note: Text | None = None) -> None:
        if self.busy:
            return
        self.query_one(f"#{self.BUSY_ID}", LoadingIndicator).display = True
        self.query_one(f"#{self.SUMMARY_ID}", Static).update(
            Text("Reading the wave's projects, targets and build-server activity…", style="italic")
        )
        self.read(self.wave, note)

    @work(exclusive=True, group="cutover-read", exit_on_error=False)
    async def read(self, wave: str | None, note: Text | None = None) -> None:
        """Read the wave's cut-over from both instances and the journal."""
        try:
            loaded = await load(self.context, self.journal, wave)
        except _FAILURES as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        self.post_message(CutoverLoaded(loaded, note))

    def on_cutover_loaded(self, message: CutoverLoaded) -> None:
        loaded = self.loaded = message.loaded
        self.wave = loaded.wave
        self.show_loaded(loaded.statuses, message.note, loaded.waves)

    def _summary(self) -> Text:
        loaded = self.loaded
        text = Text()
        if loaded is None or loaded.wave is None:
            text.append("No waves are planned yet: plan and migrate one first.")
            return text
        checks = loaded.checks
        disabled = sum(1 for c in checks if c.state == "disabled")
        ready = sum(1 for c in checks if c.allowed and c.state == "enabled")
        text.append(f"{loaded.wave}: ", style="bold")
        text.append(
            f"{disabled} of {len(checks)} project{'s' if len(checks) != 1 else ''} disabled on the Server"
        )
        if ready:
            text.append(f", {ready} ready to disable")
        text.append(".")
        if self.review:
            text.append(" What both instances show now (read-only).", style="bright_black")
        elif loaded.complete():
            text.append(
                " Every project runs from Octopus Cloud now; Re-enable (Ctrl+Z) rolls one back.",
                style="green",
            )
        else:
            text.append(
                "\nRepoint the build server (Build server tab), test a deployment on Cloud (Ctrl+T), then "
                "disable the Server's copy (Ctrl+G): its triggers start on Cloud at the same moment."
            )
        return text

    # -- tables ----------------------------------------------------------------------------------

    def _show(self) -> None:
        loaded = self.loaded
        table = self.query_one("#projects", DataTable)
        table.clear()
        lists = {c.project_id: c for c in (loaded.checklist if loaded else [])}
        for c in loaded.checks if loaded else []:
            test = (loaded.tests if loaded else {}).get(c.project_id)
            checklist = lists.get(c.project_id)
            table.add_row(
                Text(c.name, style="bold"),
                _yes_no(c.verified),
                _yes_no(c.targets_healthy, "healthy", "not healthy"),
                _test_cell(test),
                Text("✔ done", style="green")
                if checklist is None or checklist.done
                else Text(f"{sum(1 for i in checklist.items if not i.done)} to do", style="yellow"),
                Text(c.state, style="green" if c.state == "disabled" else ""),
                key=c.project_id,
            )
        self._project_detail(table.cursor_row)
        build = self.query_one("#build", DataTable)
        build.clear()
        self.items = []
        for checklist in loaded.checklist if loaded else []:
            pushers = ", ".join(p.who for p in checklist.pushers) or "nobody outside Octopus"
            last = max((p.last for p in checklist.pushers), default="")[:16].replace("T", " ")
            if not checklist.items:
                self.items.append((checklist, None))
                build.add_row(Text(checklist.name, style="bold"), pushers, last, "nothing", "")
            for i, item in enumerate(checklist.items):
                self.items.append((checklist, item))
                build.add_row(
                    Text(checklist.name, style="bold") if i == 0 else "",
                    pushers if i == 0 else "",
                    last if i == 0 else "",
                    item.text if len(item.text) <= 60 else item.text[:59] + "…",
                    Text("✔", style="green") if item.done else Text("·", style="bright_black"),
                )
        self._build_detail(build.cursor_row)

    @on(DataTable.RowHighlighted, "#projects")
    def _project_row(self, event: DataTable.RowHighlighted) -> None:
        self._project_detail(event.cursor_row)

    def _project_detail(self, row: int) -> None:
        panel = self.query_one("#project-detail", Static)
        checks = self.loaded.checks if self.loaded else []
        if not 0 <= row < len(checks):
            panel.update("")
            return
        c = checks[row]
        text = Text()
        text.append(c.name, style="bold")
        text.append(
            f"  ({c.project_id} on the Server"
            + (f", {c.destination_id} on Cloud)" if c.destination_id else ")")
        )
        text.append(f"  {c.state} on the Server")
        if c.state == "enabled":
            if c.allowed:
                text.append(
                    "\n✔ May be disabled on the Server: verified, targets healthy, test passed.",
                    style="green",
                )
            elif c.overridable:
                text.append("\nMay be disabled only with a typed reason:", style="yellow")
            else:
                text.append("\nCannot be disabled yet:", style="red")
        elif c.state == "disabled":
            text.append("\nIt runs from Octopus Cloud now; Re-enable (Ctrl+Z) rolls it back.", style="green")
            if c.reasons:
                text.append("\nDisabled although (the journal keeps the reason):", style="yellow")
        for reason in c.reasons:
            text.append(f"\n  • {reason}")
        for note in c.notes:
            text.append(f"\n  {note}", style="bright_black")
        test = (self.loaded.tests if self.loaded else {}).get(c.project_id)
        if test and test[1].get("sentence") and str(test[1]["sentence"]) not in c.notes:
            text.append(f"\nTest: {test[1]['sentence']}")
        panel.update(text)

    @on(DataTable.RowHighlighted, "#build")
    def _build_row(self, event: DataTable.RowHighlighted) -> None:
        self._build_detail(event.cursor_row)

    def _build_detail(self, row: int) -> None:
        panel = self.query_one("#build-detail", Static)
        if not 0 <= row < len(self.items):
            panel.update("")
            return
        checklist, item = self.items[row]
        text = Text()
        text.append(checklist.name, style="bold")
        for p in checklist.pushers:
            kind = "a service account" if p.is_service else "a person" if p.is_service is False else "someone"
            text.append(
                f"\n  {p.who} ({kind}{', with an API key' if p.with_api_key else ''}) last pushed "
                f"{p.last[:16].replace('T', ' ')}: {'; '.join(p.what[:4])}"
                + (f" [{p.agent}]" if p.agent else "")
            )
        if item is not None:
            text.append(f"\n{'✔' if item.done else '·'} {item.text}")
            text.append("\nCtrl+D ticks it off (or back on) in the journal.", style="bright_black")
        if checklist.note:
            text.append(f"\n{checklist.note}", style="bright_black")
        panel.update(text)

    # -- the build server ------------------------------------------------------------------------

    def action_tick(self) -> None:
        if self.review or self.busy:
            return
        row = self.query_one("#build", DataTable).cursor_row
        if not 0 <= row < len(self.items) or self.items[row][1] is None:
            self.notify("Highlight a build-server item in the Build server tab.", title="Done/undone")
            return
        checklist, item = self.items[row]
        assert item is not None
        self.tick(checklist.project_id, item.id, not item.done)

    @work(exclusive=True, group="cutover-tick", exit_on_error=False)
    async def tick(self, project_id: str, item_id: str, done: bool) -> None:
        """Record the tick in the journal (a thread), then show it."""
        try:
            await asyncio.to_thread(co.mark_item, self.journal, project_id, item_id, done)
        except _FAILURES as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        for checklist in self.loaded.checklist if self.loaded else []:
            for item in checklist.items:
                if checklist.project_id == project_id and item.id == item_id:
                    item.done = done
        self.post_message(CutoverLoaded(self.loaded, None)) if self.loaded else None

    # -- the test deployment ---------------------------------------------------------------------

    def _highlighted(self) -> co.DisableCheck | None:
        checks = self.loaded.checks if self.loaded else []
        row = self.query_one("#projects", DataTable).cursor_row
        return checks[row] if 0 <= row < len(checks) else None

    def action_test(self) -> None:
        check = self._highlighted()
        if self.review or self.busy or check is None or self.wave is None:
            return
        self.busy = True
        self._buttons()
        self.test_choices(self.wave, check.project_id)

    @work(exclusive=True, group="cutover-preview", exit_on_error=False)
    async def test_choices(self, wave: str, project_id: str, choice: TestChoice | None = None) -> None:
        """Preview a test deployment (read-only): first the defaults, then the chosen release and place."""
        try:
            async with co.open_cutover(self.context, self.journal, wave) as cut:
                preview = await cut.test_preview(
                    project_id,
                    release_id=choice.release_id if choice else None,
                    environment_id=choice.environment_id if choice else None,
                )
        except _FAILURES as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        self.post_message(TestPreviewed(preview) if choice else TestChoices(preview))

    def on_test_choices(self, message: TestChoices) -> None:
        preview = message.preview

        def chosen(choice: TestChoice | None) -> None:
            if choice is None or self.wave is None:
                self.busy = False
                self._buttons()
                return
            self.test_choices(self.wave, preview.project_id, choice)

        self.app.push_screen(TestDialog(preview), chosen)

    def on_test_previewed(self, message: TestPreviewed) -> None:
        preview = message.preview
        lines = [
            *preview.lines(),
            "The deployment runs on Octopus Cloud like any other: it uses Cloud's targets and counts against "
            "its task cap. The result is recorded with the project.",
        ]

        def confirmed(answer: Confirmed | None) -> None:
            if answer is None or self.wave is None:
                self.busy = False
                self._buttons()
                return
            self.begin(f"Test deployment of {preview.project_name}")
            self.run_test(self.wave, preview)

        self.app.push_screen(
            TypedConfirm(
                f"Deploy '{preview.project_name}' to {preview.environment_name}?",
                lines,
                "deploy",
                action="Deploy",
            ),
            confirmed,
        )

    @work(exclusive=True, group="cutover-run", exit_on_error=False)
    async def run_test(self, wave: str, preview: co.TestPreview) -> None:
        """Deploy and follow the test (confirmed already)."""

        async def yes(_: co.TestPreview) -> bool:
            return True

        try:
            async with co.open_cutover(
                self.context, self.journal, wave, on_event=self._event, settings=self.settings
            ) as cut:
                result = await cut.run_test(preview, confirm=yes)
        except _FAILURES as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        problems = [] if result.status == "passed" else [result.sentence]
        self.post_message(
            ChangeDone("Test deployment", [f"{preview.project_name}: {result.status}"], problems)
        )

    # -- disable and re-enable -------------------------------------------------------------------

    def action_disable(self) -> None:
        loaded = self.loaded
        if self.review or self.busy or loaded is None or loaded.wave is None:
            return
        enabled = [c for c in loaded.checks if c.state == "enabled"]
        chosen = [c for c in enabled if c.allowed or c.overridable]
        refused = [c for c in enabled if not c.allowed and not c.overridable]
        if not chosen:
            self.notify(
                " ".join(r for c in refused for r in c.reasons[:1]) or "Nothing to disable.",
                title="Disable on the Server",
                severity="warning",
                timeout=12,
            )
            return
        overrides = [c for c in chosen if not c.allowed]
        lines = [
            f"{c.name}: disabled on the Server"
            + ("" if c.allowed else f" ANYWAY ({'; '.join(r.rstrip('.') for r in c.reasons)})")
            + "; its triggers on Octopus Cloud are enabled at the same time"
            for c in chosen
        ]
        lines += [f"{c.name}: left enabled — {c.reasons[0] if c.reasons else ''}" for c in refused]
        lines.append(
            "Re-enable (Ctrl+Z) rolls a project back: enabled on the Server, its Cloud triggers held again."
        )
        wave = loaded.wave
        ready = [c.project_id for c in chosen if c.allowed]

        def confirmed(answer: Confirmed | None) -> None:
            if answer is None or self.busy:
                return
            # Without a reason only the projects whose preconditions all hold are disabled.
            ids = [c.project_id for c in chosen] if answer.reason else ready
            if not ids:
                self.notify("Nothing was disabled: give a reason to disable anyway.", title="Disable")
                return
            self.begin("Disabling on the Server")
            self.disable(wave, ids, answer.reason or None)

        self.app.push_screen(
            TypedConfirm(
                f"Disable {len(chosen)} project{'s' if len(chosen) != 1 else ''} on the Server?",
                lines,
                "disable",
                action="Disable",
                reason=(
                    "Some preconditions are not met: say why those are disabled anyway, or leave this empty "
                    "to disable only the ready ones."
                    if overrides
                    else ""
                ),
                reason_required=not ready,
            ),
            confirmed,
        )

    @work(exclusive=True, group="cutover-run", exit_on_error=False)
    async def disable(self, wave: str, project_ids: list[str], override: str | None) -> None:
        """Disable each project on the Server, journaled with its undo."""
        lines, problems = [], []
        try:
            async with co.open_cutover(
                self.context, self.journal, wave, on_event=self._event, settings=self.settings
            ) as cut:
                rows = await cut.machine_states()
                for pid in project_ids:
                    outcome = await cut.disable(pid, override=override, machines=rows)
                    lines.append(outcome.sentence)  # it names the project
                    if outcome.status in ("refused", "failed"):
                        problems.append(outcome.sentence)
        except _FAILURES as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        self.post_message(ChangeDone("Disabling", lines, problems))

    def action_reenable(self) -> None:
        check = self._highlighted()
        if self.review or self.busy or check is None or self.wave is None:
            return
        if check.state != "disabled":
            self.notify(f"'{check.name}' is not disabled on the Server.", title="Re-enable")
            return
        wave = self.wave
        lines = [
            f"{check.name} is enabled on the Server again: its deployments and triggers run there.",
            "Its triggers on Octopus Cloud are disabled again, so none fires on both instances.",
            "The project stays on Octopus Cloud as it is.",
        ]

        def confirmed(answer: Confirmed | None) -> None:
            if answer is not None and not self.busy:
                self.begin(f"Re-enabling {check.name} on the Server")
                self.reenable(wave, check.project_id)

        self.app.push_screen(
            TypedConfirm(f"Roll back '{check.name}'?", lines, "enable", action="Re-enable"), confirmed
        )

    @work(exclusive=True, group="cutover-run", exit_on_error=False)
    async def reenable(self, wave: str, project_id: str) -> None:
        """Roll one project back."""
        try:
            async with co.open_cutover(
                self.context, self.journal, wave, on_event=self._event, settings=self.settings
            ) as cut:
                outcome = await cut.reenable(project_id)
        except _FAILURES as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        problems = [outcome.sentence] if outcome.status in ("refused", "failed") else []
        self.post_message(ChangeDone("Re-enabling", [outcome.sentence], problems))

    # -- progress --------------------------------------------------------------------------------

    def on_change_done(self, message: ChangeDone) -> None:
        self.finish(message.lines)
        note = Text()
        note.append(f"{message.title} finished.", style="bold")
        for problem in message.problems:
            note.append(f"\n✘ {problem}", style="red")
        if not message.problems:
            note.append(" " + "; ".join(message.lines[:3]))
        self.query_one("#cutover-tabs", TabbedContent).active = "tab-projects"
        self.action_reload(note)

    # -- leaving ---------------------------------------------------------------------------------

    def _buttons(self) -> None:
        loaded = self.loaded
        ready = loaded is not None and loaded.wave is not None and not self.busy
        for bid, enabled in (
            ("test", ready),
            ("disable", ready and any(c.state == "enabled" for c in (loaded.checks if loaded else []))),
            ("reenable", ready and any(c.state == "disabled" for c in (loaded.checks if loaded else []))),
            ("continue", ready and bool(loaded and loaded.complete())),
            ("back", not self.busy),
        ):
            for button in self.query(f"#{bid}").results(Button):
                button.disabled = not enabled
        self.query_one("#wave", Select).disabled = self.busy
        self.refresh_bindings()

    def action_continue(self) -> None:
        if self.check_action("continue", ()):
            self.dismiss("done")

    def action_back(self) -> None:
        if not self.busy:
            self.dismiss("welcome")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        ready = self.loaded is not None and self.loaded.wave is not None and not self.busy
        if action in ("test", "tick", "disable", "reenable"):
            return not self.review and ready
        if action == "continue":
            return not self.review and ready and bool(self.loaded and self.loaded.complete())
        if action in ("back", "reload"):
            return not self.busy
        return True

    @on(Button.Pressed, "#test, #disable, #reenable, #continue, #back")
    async def _pressed(self, event: Button.Pressed) -> None:
        await self.run_action(str(event.button.id))


def _yes_no(value: bool, yes: str = "yes", no: str = "no") -> Text:
    return Text(f"✔ {yes}", style="green") if value else Text(f"✘ {no}", style="red")


def _test_cell(test: tuple[str, dict[str, object]] | None) -> Text:
    if test is None:
        return Text("not run", style="bright_black")
    status = test[0]
    style = {"passed": "green", "failed": "bold red", "running": "yellow"}.get(status, "")
    return Text(status, style=style)


async def load(context: Context, journal: Journal, wave: str | None) -> Loaded:
    """The wave's cut-over: the disable preconditions, the build-server checklist, the tests."""

    def recorded() -> tuple[list[str], dict[str, str], dict[str, tuple[str, dict[str, object]]]]:
        statuses = {step: v[0] for step, v in journal.steps().items()}
        tests = {pid: (st, d or {}) for _k, pid, stage, st, d in journal.items("project") if stage == "test"}
        return list(journal.waves()), statuses, tests

    waves, statuses, tests = await asyncio.to_thread(recorded)
    if wave not in waves:
        wave = waves[0] if waves else None
    if wave is None:
        return Loaded(waves, None, [], [], {}, statuses)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=CHECKLIST_DAYS)
    async with co.open_cutover(context, journal, wave) as cut:
        checks, checklist = await asyncio.gather(
            cut.disable_preview(), cut.build_server_checklist(since=since)
        )
    _, statuses, tests = await asyncio.to_thread(recorded)
    return Loaded(waves, wave, checks, checklist, tests, statuses)
