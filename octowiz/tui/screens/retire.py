"""Retire: the last step. The Server is made read-only, then each Tentacle host's old instance is deleted.

Preconditions first (every planned project on Cloud and disabled on the Server, or left behind; nothing
running on the Server; a full backup confirmed by typing it; the audit log exported), each with its state.
Then, each previewed, confirmed by a typed word and journaled: maintenance mode on and every node's task
cap 0 (together, "read-only"; undone together), and the old Tentacle instances deleted through Cloud's
script console on their clones, canary first, non-production before production. Refused against an
instance that is Octopus Cloud, and while a wave is half done.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import (
    Button,
    DataTable,
    LoadingIndicator,
    Static,
    TabbedContent,
    TabPane,
)

from octowiz.engine.context import Context
from octowiz.engine.cutover.targets import TargetsError
from octowiz.engine.retire import retire as rt
from octowiz.journal import Journal, JournalError
from octowiz.octopus.errors import OctopusError
from octowiz.tui.screens.dialogs import Confirmed, TypedConfirm
from octowiz.tui.screens.step import ChangeDone, ChangeFailed, ChangeStepScreen
from octowiz.tui.tables import Table
from octowiz.tui.workers import work

_FAILURES = (OctopusError, JournalError, rt.RetireError, TargetsError, ValueError)

#: What the team types to confirm that a full backup of the Server exists (the engine checks it).
BACKUP_WORDS = rt.BACKUP_PHRASE


@dataclass
class RetireLoaded(Message):
    """Where the retire stands, read from both instances and the journal."""

    report: rt.RetireReport
    statuses: dict[str, str]
    note: Text | None = None


def _mark(ok: bool) -> Text:
    return Text("✔ met", style="green") if ok else Text("· to do", style="yellow")


class RetireScreen(ChangeStepScreen):
    """Retire the Server. Dismisses ``done`` (read-only, every old instance deleted) or ``welcome``."""

    STEP = "retire"
    TABLE_ID = "checks"
    SUMMARY_ID = "retire-summary"
    BUSY_ID = "retire-reading"

    BINDINGS = [
        Binding(
            "ctrl+k",
            "backup",
            "Backup confirmed…",
            tooltip="Confirm, by typing it, that a full backup of the Server's database exists",
            id="retire.backup",
        ),
        Binding(
            "ctrl+a",
            "audit",
            "Audit log exported",
            tooltip="Tick (or untick) that the Server's audit log is exported and kept",
            id="retire.audit",
        ),
        Binding(
            "ctrl+g",
            "read_only",
            "Make read-only…",
            tooltip="Maintenance mode on and every node's task cap 0, after a preview",
            id="retire.read_only",
        ),
        Binding(
            "ctrl+d",
            "delete",
            "Delete old instances…",
            tooltip="Delete the offered hosts' old Tentacle instances through Cloud's script console",
            id="retire.delete",
        ),
        Binding(
            "ctrl+s", "save_scripts", "Save scripts", tooltip="Write the delete scripts", id="retire.save"
        ),
        Binding(
            "ctrl+z",
            "undo",
            "Undo read-only…",
            tooltip="Maintenance mode off and every node's previous task cap back",
            id="retire.undo",
        ),
        Binding("ctrl+r", "reload", "Refresh", tooltip="Read both instances again", id="retire.refresh"),
        Binding("ctrl+n", "continue", "Continue", tooltip="On to the overview", id="retire.continue"),
        Binding("ctrl+b", "back", "Back", tooltip="Back to the welcome screen", id="retire.back"),
    ]

    def __init__(
        self,
        context: Context,
        journal: Journal,
        statuses: dict[str, str],
        downloads: Path,
        *,
        review: bool = False,
        settings: rt.RetireSettings | None = None,
    ) -> None:
        super().__init__(context, journal, statuses, review=review)
        self.downloads = downloads
        self.settings = settings
        self.report: rt.RetireReport | None = None
        self.busy = False

    # -- layout ----------------------------------------------------------------------------------

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Preconditions", id="tab-checks"):
            yield Table(id="checks", cursor_type="row", zebra_stripes=True)
            yield Static("", id="check-detail", classes="detail")
        with TabPane("Server", id="tab-server"):
            yield Static("", id="server-state")
            yield Table(id="nodes", cursor_type="row", zebra_stripes=True)
        with TabPane("Old Tentacles", id="tab-hosts"):
            yield Table(id="hosts", cursor_type="row", zebra_stripes=True)
            yield Static("", id="host-detail", classes="detail")
        if self.review:
            return
        yield from self.compose_progress()

    def compose_actions(self) -> ComposeResult:
        if not self.review:
            yield Button("Backup confirmed…", id="backup")
            yield Button("Make read-only…", id="read_only", variant="warning")
            yield Button("Delete old…", id="delete", variant="error")
            yield Button("Continue", id="continue", variant="success", disabled=True)

    def on_mount(self) -> None:
        self.title = "octowiz — Retire"
        self.query_one("#checks", DataTable).add_columns("Precondition", "State")
        self.query_one("#nodes", DataTable).add_columns("Node", "Task cap", "Cap to restore")
        self.query_one("#hosts", DataTable).add_columns(
            "Host", "OS", "Clones on Cloud", "Old instance", "Offered"
        )
        self.mount_progress()
        self._buttons()
        self.action_reload()

    # -- reading ---------------------------------------------------------------------------------

    def action_reload(self, note: Text | None = None) -> None:
        if self.busy:
            return
        self.query_one(f"#{self.BUSY_ID}", LoadingIndicator).display = True
        self.query_one(f"#{self.SUMMARY_ID}", Static).update(
            Text("Reading the Server, Octopus Cloud and the journal…", style="italic")
        )
        self.read(note)

    @work(exclusive=True, group="retire-read", exit_on_error=False)
    async def read(self, note: Text | None = None) -> None:
        """Read where the retire stands (both instances and the journal, never on the UI loop)."""
        try:
            report = await rt.read_retire(self.context, self.journal)
            statuses = await asyncio.to_thread(lambda: {s: v[0] for s, v in self.journal.steps().items()})
        except _FAILURES as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        self.post_message(RetireLoaded(report, statuses, note))

    def on_retire_loaded(self, message: RetireLoaded) -> None:
        self.report = message.report
        self.show_loaded(message.statuses, message.note)

    def _summary(self) -> Text:
        report = self.report
        text = Text()
        if report is None:
            return text
        text.append(f"Server {report.source_url}: ", style="bold")
        if report.refusals:
            text.append("refused.", style="bold red")
            for refusal in report.refusals:
                text.append(f"\n✘ {refusal}", style="red")
            return text
        if report.retired:
            text.append("retired: read-only, every old Tentacle instance deleted.", style="green")
            text.append(" Keep it for its audit log as long as you need it, then switch it off.")
            return text
        if report.read_only:
            text.append("read-only (maintenance mode on, every task cap 0). ", style="yellow")
            text.append("Delete the old Tentacle instances last (Ctrl+D), canary first.")
            return text
        todo = [c for c in report.checks if not c.ok]
        if todo:
            text.append(f"{len(todo)} precondition{'s' if len(todo) != 1 else ''} to meet first.")
        else:
            text.append("every precondition is met: make it read-only (Ctrl+G).", style="green")
        if self.review:
            text.append(" What both instances show now (read-only).", style="bright_black")
        return text

    # -- tables ----------------------------------------------------------------------------------

    def _show(self) -> None:
        report = self.report
        checks = self.query_one("#checks", DataTable)
        checks.clear()
        for c in report.checks if report else []:
            checks.add_row(Text(c.title, style="bold"), _mark(c.ok), key=c.id)
        self._check_detail(checks.cursor_row)
        state = Text()
        if report is not None:
            state.append("Maintenance mode: ")
            on = report.maintenance
            state.append("on" if on else "unknown" if on is None else "off", style="yellow" if on else "")
            state.append(
                "\nMaintenance mode lets only administrators change anything; a task cap of 0 runs no task. "
                "Together the Server is read-only: it stays for its audit log, as the guide says."
            )
        self.query_one("#server-state", Static).update(state)
        nodes = self.query_one("#nodes", DataTable)
        nodes.clear()
        for n in report.nodes if report else []:
            nodes.add_row(
                n.name,
                "?" if n.cap is None else str(n.cap),
                "" if n.previous_cap is None else str(n.previous_cap),
                key=n.node_id,
            )
        hosts = self.query_one("#hosts", DataTable)
        hosts.clear()
        offered = set(report.offered_hosts()) if report else set()
        for h in report.hosts if report else []:
            clones = ", ".join(f"{c.name}: {c.state}" for c in h.clones)
            hosts.add_row(
                Text(h.host, style="bold"),
                h.os,
                clones if len(clones) <= 40 else clones[:39] + "…",
                Text(
                    h.state, style="green" if h.state == "deleted" else "red" if h.state == "failed" else ""
                ),
                Text("canary" if report and h.host == report.canary else "yes", style="yellow")
                if h.host in offered
                else "",
                key=h.host,
            )
        self._host_detail(hosts.cursor_row)

    @on(DataTable.RowHighlighted, "#checks")
    def _check_row(self, event: DataTable.RowHighlighted) -> None:
        self._check_detail(event.cursor_row)

    def _check_detail(self, row: int) -> None:
        panel = self.query_one("#check-detail", Static)
        checks = self.report.checks if self.report else []
        if not 0 <= row < len(checks):
            panel.update("")
            return
        c = checks[row]
        text = Text()
        text.append(c.title, style="bold")
        text.append("  ")
        text.append_text(_mark(c.ok))
        text.append(f"\n{c.sentence}")
        if c.id == "projects" and self.report is not None:
            for p in self.report.projects:
                if not p.ok:
                    text.append(f"\n  • {p.name} ({p.wave}): {p.state}")
        if c.id == "backup" and not c.ok:
            text.append("\nCtrl+K, then type: " + BACKUP_WORDS, style="bright_black")
        if c.id == "audit-log":
            text.append("\nCtrl+A ticks it (or unticks it).", style="bright_black")
        panel.update(text)

    @on(DataTable.RowHighlighted, "#hosts")
    def _host_row(self, event: DataTable.RowHighlighted) -> None:
        self._host_detail(event.cursor_row)

    def _host_detail(self, row: int) -> None:
        panel = self.query_one("#host-detail", Static)
        hosts = self.report.hosts if self.report else []
        if not 0 <= row < len(hosts):
            panel.update("")
            return
        h = hosts[row]
        text = Text()
        text.append(h.host, style="bold")
        text.append(f"  the old instance '{h.old_instance}' is {h.state}")
        if h.task_id:
            text.append(f" (task {h.task_id} on Octopus Cloud)")
        for c in h.clones:
            text.append(f"\n  clone {c.name} ({c.role}): {c.state} on Cloud")
        if h.sentence:
            text.append(f"\n{h.sentence}")
        panel.update(text)

    # -- the checklist ---------------------------------------------------------------------------

    def action_backup(self) -> None:
        if self.review or self.busy or self.report is None:
            return
        lines = [
            "A full backup of the Server's SQL database (and its master key) is what brings it back if it is "
            "ever needed: retiring makes it read-only and deletes the old Tentacle instances.",
            "The journal records who confirmed it and when.",
        ]

        def confirmed(answer: Confirmed | None) -> None:
            if answer is not None:
                self.checklist("backup")

        self.app.push_screen(TypedConfirm("A full backup exists?", lines, BACKUP_WORDS), confirmed)

    def action_audit(self) -> None:
        if self.review or self.busy or self.report is None:
            return
        check = self.report.check("audit-log")
        self.checklist("audit-off" if check is not None and check.ok else "audit-on")

    @work(exclusive=True, group="retire-checklist", exit_on_error=False)
    async def checklist(self, what: str) -> None:
        """Record a ticked checklist item (a journal write, on a thread)."""
        try:
            if what == "backup":
                await asyncio.to_thread(rt.confirm_backup, self.journal, BACKUP_WORDS)
            else:
                await asyncio.to_thread(rt.tick_audit_log, self.journal, what == "audit-on")
        except _FAILURES as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        self.post_message(ChangeDone("Recorded", [], []))

    # -- making the Server read-only -------------------------------------------------------------

    def action_read_only(self) -> None:
        report = self.report
        if self.review or self.busy or report is None:
            return
        blockers = report.blockers("maintenance")
        if blockers:
            self.notify(" ".join(blockers[:2]), title="Not yet", severity="warning", timeout=12)
            return
        lines = [*rt.preview_maintenance(report), *rt.preview_task_caps(report)]
        lines.append("Undo (Ctrl+Z) turns maintenance mode off and puts every node's previous cap back.")

        def confirmed(answer: Confirmed | None) -> None:
            if answer is not None and not self.busy:
                self.begin("Making the Server read-only")
                self.make_read_only(report)

        self.app.push_screen(
            TypedConfirm("Make the Server read-only?", lines, "read-only", action="Make read-only"), confirmed
        )

    @work(exclusive=True, group="retire-run", exit_on_error=False)
    async def make_read_only(self, report: rt.RetireReport) -> None:
        """Maintenance mode on, then every node's task cap 0 (each journaled with its undo)."""
        outcomes = []
        try:
            first = await rt.maintenance_on(self.context, self.journal, report)
            outcomes.append(first)
            if first.status in ("done", "already"):
                report = await rt.read_retire(self.context, self.journal)
                outcomes.append(await rt.task_caps_zero(self.context, self.journal, report))
        except _FAILURES as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        self.post_message(_done("Read-only", outcomes))

    def action_undo(self) -> None:
        report = self.report
        if self.review or self.busy or report is None:
            return
        lines = [
            "Every node's task cap goes back to what it was before octowiz set it to 0 (the journal kept "
            "it).",
            "Maintenance mode goes off: the Server takes changes and runs tasks again.",
        ]

        def confirmed(answer: Confirmed | None) -> None:
            if answer is not None and not self.busy:
                self.begin("Undoing read-only")
                self.undo()

        self.app.push_screen(TypedConfirm("Undo read-only?", lines, "undo", action="Undo"), confirmed)

    @work(exclusive=True, group="retire-run", exit_on_error=False)
    async def undo(self) -> None:
        """Caps back first, then maintenance mode off."""
        try:
            outcomes = [
                await rt.restore_task_caps(self.context, self.journal),
                await rt.undo_maintenance(self.context, self.journal),
            ]
        except _FAILURES as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        self.post_message(_done("Undo", outcomes))

    # -- old instances ---------------------------------------------------------------------------

    def action_delete(self) -> None:
        report = self.report
        if self.review or self.busy or report is None:
            return
        blockers = report.blockers("delete")
        hosts = report.offered_hosts()
        if blockers or not hosts:
            self.notify(
                " ".join(blockers[:2]) or "No old instance is left to delete.", title="Not yet", timeout=12
            )
            return
        lines = rt.preview_delete(report, hosts)
        title = (
            f"Delete the canary's old instance on {hosts[0]}?"
            if hosts == [report.canary]
            else f"Delete the old instances on {len(hosts)} host{'s' if len(hosts) != 1 else ''}?"
        )

        def confirmed(answer: Confirmed | None) -> None:
            if answer is not None and not self.busy:
                self.begin("Deleting old Tentacle instances")
                self.delete(report, hosts)

        self.app.push_screen(TypedConfirm(title, lines, "delete", action="Delete"), confirmed)

    @work(exclusive=True, group="retire-run", exit_on_error=False)
    async def delete(self, report: rt.RetireReport, hosts: list[str]) -> None:
        """Delete the chosen hosts' old instances through Cloud's script console, one host at a time."""
        try:
            outcomes = await rt.delete_old_instances(
                self.context, self.journal, report, hosts, on_event=self._event, settings=self.settings
            )
        except _FAILURES as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        self.post_message(_done("Deleting", outcomes))

    def action_save_scripts(self) -> None:
        if self.review or self.busy or self.report is None or not self.report.hosts:
            return
        self.save_scripts(self.report)

    @work(exclusive=True, group="retire-save", exit_on_error=False)
    async def save_scripts(self, report: rt.RetireReport) -> None:
        """Write the delete scripts (files: a thread)."""
        directory = self.downloads / "retire-scripts"
        try:
            paths = await asyncio.to_thread(rt.write_retire_scripts, report, directory)
        except OSError as exc:
            self.post_message(ChangeFailed(f"The scripts could not be written to {directory}: {exc}."))
            return
        self.notify(
            f"Wrote {len(paths)} delete script(s) to {directory}.", title="Delete scripts", timeout=12
        )

    # -- progress --------------------------------------------------------------------------------

    def on_change_done(self, message: ChangeDone) -> None:
        self.finish(message.lines)
        note: Text | None = None
        if message.lines or message.problems:
            note = Text()
            note.append(f"{message.title} finished.", style="bold")
            for problem in message.problems:
                note.append(f"\n✘ {problem}", style="red")
            if not message.problems and message.lines:
                note.append(" " + " ".join(message.lines[:2]))
            self.query_one("#retire-tabs", TabbedContent).active = "tab-checks"
        self.action_reload(note)

    # -- leaving ---------------------------------------------------------------------------------

    def _buttons(self) -> None:
        report = self.report
        ready = report is not None and not self.busy and not (report and report.refusals)
        for bid, enabled in (
            ("backup", ready),
            (
                "read_only",
                ready and bool(report and not report.read_only and not report.blockers("maintenance")),
            ),
            ("delete", ready and bool(report and report.read_only and report.offered_hosts())),
            ("continue", ready and bool(report and report.retired)),
            ("back", not self.busy),
        ):
            for button in self.query(f"#{bid}").results(Button):
                button.disabled = not enabled
        self.refresh_bindings()

    def action_continue(self) -> None:
        if self.check_action("continue", ()):
            self.dismiss("done")

    def action_back(self) -> None:
        if not self.busy:
            self.dismiss("welcome")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        ready = self.report is not None and not self.busy
        if action in ("backup", "audit", "read_only", "delete", "save_scripts", "undo"):
            return not self.review and ready
        if action == "continue":
            return not self.review and ready and bool(self.report and self.report.retired)
        if action in ("back", "reload"):
            return not self.busy
        return True

    @on(Button.Pressed, "#backup, #read_only, #delete, #continue, #back")
    async def _pressed(self, event: Button.Pressed) -> None:
        await self.run_action(str(event.button.id))


def _done(title: str, outcomes: list[rt.Outcome]) -> ChangeDone:
    lines = [" ".join(o.sentences) or f"{o.action}: {o.status}" for o in outcomes]
    problems = [" ".join(o.sentences) or o.action for o in outcomes if o.status in ("refused", "failed")]
    return ChangeDone(title, lines, problems)
