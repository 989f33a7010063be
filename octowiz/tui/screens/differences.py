(
    """Differences: the readiness scan — everything that will not work in Octopus Cloud, per project, """
    """with evidence."""
)

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

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
    TabPane,
)

from octowiz import heap
from octowiz.engine.context import Context
from octowiz.engine.prepare.readiness import Finding, ScanResult
from octowiz.engine.prepare.scanning import run_readiness
from octowiz.journal import Journal
from octowiz.octopus.errors import OctopusError
from octowiz.tui.screens.step import StepScreen
from octowiz.tui.tables import Row, Table, add_rows, fill_hidden, reveal
from octowiz.tui.workers import work

_SEVERITY = {"blocker": ("BLOCKER", "bold red"), "warning": ("warning", "yellow"), "info": ("note", "cyan")}
_STATUS = {"blocked": "bold red", "needs attention": "yellow", "ready": "green"}


@dataclass
class ScanFinished(Message):
    """A scan completed."""

    result: ScanResult


@dataclass
class ScanFailed(Message):
    """A scan could not run; ``sentence`` says why."""

    sentence: str


class DifferencesScreen(StepScreen):
    STEP = "differences"
    SUMMARY_ID = "scan-summary"
    BUSY_ID = "scanning"

    """Run and show the readiness scan. Dismisses ``done``, ``welcome`` or another step's id."""

    BINDINGS = [
        Binding(
            "ctrl+r",
            "rescan",
            "Rescan",
            tooltip="Scan both instances again (read-only)",
            id="differences.rescan",
        ),
        Binding("escape", "cancel", "Cancel scan", tooltip="Stop the running scan", id="differences.cancel"),
        Binding("ctrl+n", "continue", "Continue", tooltip="On to the next step", id="differences.continue"),
        Binding("ctrl+b", "back", "Back", tooltip="Back to the welcome screen", id="differences.back"),
    ]

    def __init__(
        self,
        context: Context,
        journal: Journal,
        statuses: dict[str, str],
        latest: ScanResult | None,
        *,
        review: bool = False,
    ) -> None:
        super().__init__(context, journal, statuses, review=review)
        self.result = latest
        self.scanning = False

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Findings", id="tab-findings"):
            yield Table(id="findings", cursor_type="row", zebra_stripes=True)
            yield Static("", id="finding-detail")
        with TabPane("Projects", id="tab-projects"):
            yield Table(id="projects", cursor_type="row", zebra_stripes=True)

    def compose_actions(self) -> ComposeResult:
        if not self.review:
            yield Button("Rescan", id="rescan", variant="primary")
            yield Button("Continue", id="continue", variant="success")

    def on_mount(self) -> None:
        self.title = "octowiz — Differences"
        findings = self.query_one("#findings", DataTable)
        findings.add_columns("Severity", "Finding", "About", "Rule")
        self.query_one("#projects", DataTable).add_columns("Project", "Readiness", "Findings")
        self.query_one("#scanning", LoadingIndicator).display = False
        if self.result is not None:
            self._show(self.result)
        elif not self.review:
            self.action_rescan()
        else:
            self.query_one("#scan-summary", Static).update(
                "No readiness scan has been recorded for this migration."
            )

    def on_unmount(self) -> None:
        # A scan run here, or the findings' fill, left the heap frozen (no full-GC pass over them while
        # shown); leaving the screen hands it back to normal collection (the app settles it).
        if self._frozen:
            heap.unfreeze()

    # -- scanning --------------------------------------------------------------------------------

    def action_rescan(self) -> None:
        if self.scanning or self.review:
            return
        self._set_scanning(True)
        self.run_scan()

    _frozen = False  # a scan or a fill left the heap frozen (see on_unmount)

    @work(exclusive=True, group="differences-scan", exit_on_error=False)
    async def run_scan(self) -> None:
        """Inventory both instances and run the rules (read-only); the rules run off the event loop."""
        self._frozen = True
        try:
            result = await run_readiness(self.context, self.journal, stay_frozen=True)  # see on_unmount
        except OctopusError as exc:
            self.post_message(ScanFailed(str(exc)))
            return
        self.post_message(ScanFinished(result))

    def _set_scanning(self, on: bool) -> None:
        self.scanning = on
        self.query_one("#scanning", LoadingIndicator).display = on
        for bid in ("rescan", "continue", "back"):
            for button in self.query(f"#{bid}").results(Button):
                button.disabled = on or (bid == "continue" and self.result is None)  # nothing to go on with
        if on:
            self.query_one("#scan-summary", Static).update(
                Text("Scanning the Server and the Cloud instance (read-only)…", style="italic")
            )
        self.refresh_bindings()  # the footer offers what check_action allows now

    def on_scan_finished(self, message: ScanFinished) -> None:
        self.result = message.result
        self._set_scanning(False)
        self._show(message.result, focus=True)

    def on_scan_failed(self, message: ScanFailed) -> None:
        self._set_scanning(False)
        self.query_one("#scan-summary", Static).update(
            Text(f"✘ The scan could not run: {message.sentence}", style="red")
        )

    def action_cancel(self) -> None:
        if self.scanning:
            self.workers.cancel_group(self, "differences-scan")
            self._set_scanning(False)
            self.query_one("#scan-summary", Static).update("Scan cancelled: nothing was recorded.")

    # -- showing ---------------------------------------------------------------------------------

    def _show(self, result: ScanResult, *, focus: bool = False) -> None:
        counts = result.counts()
        tally = {
            s: sum(1 for p in result.projects if p.status == s)
            for s in ("ready", "needs attention", "blocked")
        }
        summary = Text()
        summary.append(
            f"Scanned {result.at.replace('T', ' ').replace('+00:00', ' UTC')} "
            f"({result.requests} requests, {result.seconds:.1f} s). "
        )
        summary.append(f"{counts['blocker']} blocker(s)", style="bold red" if counts["blocker"] else "")
        summary.append(f", {counts['warning']} warning(s), {counts['info']} note(s). Projects: ")
        summary.append(f"{tally['ready']} ready", style="green")
        summary.append(", ")
        summary.append(f"{tally['needs attention']} need attention", style="yellow")
        summary.append(", ")
        summary.append(f"{tally['blocked']} blocked", style="bold red" if tally["blocked"] else "")
        summary.append(".")
        self.query_one("#scan-summary", Static).update(summary)
        self._detail(result.findings[0] if result.findings else None)
        self._fill_tables(result, focus)

    @work(exclusive=True, group="differences-tables", exit_on_error=False)
    async def _fill_tables(self, result: ScanResult, focus: bool) -> None:
        """Findings and projects go into their tables slice by slice (see :mod:`octowiz.tui.tables`):
        with thousands of rows the screen stays live."""

        def findings() -> Iterator[Row]:
            for index, f in enumerate(result.findings):
                label, style = _SEVERITY.get(f.severity, (f.severity, ""))
                about = f"{len(f.items)} item(s)" if len(f.items) != 1 else f.items[0].name
                if f.everything:
                    about = "every project"
                yield [Text(label, style=style), Text(f.title), Text(about), Text(f.rule)], str(index)

        def projects() -> Iterator[Row]:
            for p in result.projects:
                status = Text(p.status, style=_STATUS.get(p.status, ""))
                yield [Text(p.name), status, Text(str(len(p.findings)))], p.project_id

        table = self.query_one("#findings", Table)
        # Thousands of findings fill hidden, then show a few lines a paint (tables.reveal).
        many = fill_hidden(table, len(result.findings))
        if many:
            await self.footer_painted()  # the footer offers new keys now: painted before, not beside
        table.clear()
        # Thousands of new cells: kept out of full GC passes until the screen closes (on_unmount).
        self._frozen = True
        async with heap.kept_out_of_full_gc(stay_frozen=True):
            await add_rows(table, findings(), hidden=many)
        if focus:
            # Arrows move through the findings at once; focused once filled, not while shown empty
            # (the focus would go elsewhere and back, restyling the screen twice), in a paint of its
            # own before a hidden table shows.
            table.focus()
            if many:
                await self.painted()
        if many:
            await reveal(table, self.painted)
        by_project = self.query_one("#projects", DataTable)
        by_project.clear()
        await add_rows(by_project, projects())

    def _detail(self, finding: Finding | None) -> None:
        panel = self.query_one("#finding-detail", Static)
        if finding is None:
            panel.update("Nothing found: every project is ready.")
            return
        label, style = _SEVERITY.get(finding.severity, (finding.severity, ""))
        text = Text()
        text.append(f"{label}  ", style=style)
        text.append(finding.title, style="bold")
        text.append(f"  ({finding.rule})\n", style="bright_black")
        text.append(f"Why: {finding.why}\n")
        text.append(f"What to do: {finding.action}\n")
        text.append(f"Docs: {finding.doc}\n", style="underline")
        for item in finding.items[:12]:
            text.append(f"  • {item.kind} {item.name}" + (f": {item.detail}" if item.detail else "") + "\n")
        if len(finding.items) > 12:
            text.append(f"  … and {len(finding.items) - 12} more\n")
        panel.update(text)

    @on(DataTable.RowHighlighted, "#findings")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.result is not None and event.row_key.value is not None:
            self._detail(self.result.findings[int(event.row_key.value)])

    # -- leaving ---------------------------------------------------------------------------------

    def action_continue(self) -> None:
        if self.result is not None and not self.scanning:
            self.dismiss("done")

    def action_back(self) -> None:
        if not self.scanning:
            self.dismiss("welcome")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "continue":
            return self.result is not None and not self.scanning
        if action == "rescan":
            return not self.review and not self.scanning
        if action == "cancel":
            return self.scanning
        if action == "back":
            return not self.scanning
        return True

    @on(Button.Pressed)
    async def _pressed(self, event: Button.Pressed) -> None:
        await self.run_action(str(event.button.id))
