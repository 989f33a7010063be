"""Connectivity: evidence, not advice — what this machine can reach, data centres, and their probe scripts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    LoadingIndicator,
    Static,
    TabPane,
)

from octowiz.engine.context import Context
from octowiz.engine.prepare.connectivity import ConnectivityReport
from octowiz.engine.prepare.scanning import rename_data_centre, run_connectivity
from octowiz.journal import Journal
from octowiz.octopus.errors import OctopusError
from octowiz.tui.screens.dialogs import TextDialog
from octowiz.tui.screens.step import StepScreen
from octowiz.tui.tables import Table
from octowiz.tui.workers import work

_OUTCOME = {
    "ok": ("✔ ok", "green"),
    "failed": ("✘ failed", "bold red"),
    "skipped": ("– skipped", "bright_black"),
}


@dataclass
class ProbesFinished(Message):
    """Probing completed."""

    report: ConnectivityReport
    scripts: Path | None


@dataclass
class ProbesFailed(Message):
    """Probing could not run."""

    sentence: str


class ConnectivityScreen(StepScreen):
    STEP = "connectivity"
    SUMMARY_ID = "probe-summary"
    BUSY_ID = "probing"

    """Measure and show connectivity. Dismisses ``done`` or ``welcome``."""

    BINDINGS = [
        Binding(
            "ctrl+r", "measure", "Measure again", tooltip="Run every probe again", id="connectivity.measure"
        ),
        Binding(
            "ctrl+s",
            "scripts",
            "Probe scripts",
            tooltip="Write a probe script per data centre",
            id="connectivity.scripts",
        ),
        Binding("escape", "cancel", "Cancel", tooltip="Stop the running probes", id="connectivity.cancel"),
        Binding("ctrl+n", "continue", "Continue", tooltip="On to the next step", id="connectivity.continue"),
        Binding("ctrl+b", "back", "Back", tooltip="Back to the welcome screen", id="connectivity.back"),
    ]

    def __init__(
        self,
        context: Context,
        journal: Journal,
        statuses: dict[str, str],
        latest: ConnectivityReport | None,
        scripts_dir: Path,
        *,
        review: bool = False,
    ) -> None:
        super().__init__(context, journal, statuses, review=review)
        self.report = latest
        self.scripts_dir = scripts_dir
        self.probing = False

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Probes", id="tab-probes"):
            yield Table(id="probes", cursor_type="row", zebra_stripes=True)
            yield Static("", id="probe-detail")
        with TabPane("Data centres", id="tab-dcs"):
            yield Table(id="data-centres", cursor_type="row", zebra_stripes=True)
            yield Static("", id="dc-note")
            if not self.review:
                yield Button("Rename data centre…", id="rename-dc")

    def compose_below_tabs(self) -> ComposeResult:
        if not self.review:
            yield Checkbox(
                "Also probe listening Tentacles (TCP from this machine to each one)",
                value=False,
                id="listening",
            )

    def compose_actions(self) -> ComposeResult:
        if not self.review:
            yield Button("Measure again", id="measure", variant="primary")
            yield Button("Probe scripts", id="scripts")
            yield Button("Continue", id="continue", variant="success")

    def on_mount(self) -> None:
        self.title = "octowiz — Connectivity"
        self.query_one("#probes", DataTable).add_columns("Outcome", "Check", "What", "Evidence")
        self.query_one("#data-centres", DataTable).add_columns(
            "Data centre", "Machines", "Grouped by", "Verified"
        )
        self.query_one("#probing", LoadingIndicator).display = False
        if self.report is not None:
            self._show(self.report)
        elif not self.review:
            self.action_measure()
        else:
            self.query_one("#probe-summary", Static).update(
                "No connectivity has been measured for this migration."
            )

    def action_measure(self, scripts: bool = False) -> None:
        if self.probing or self.review:
            return
        self._set_probing(True)
        boxes = list(self.query("#listening").results(Checkbox))
        listening = boxes[0].value if boxes else False
        self.run_probes(listening, scripts)

    def action_scripts(self) -> None:
        self.action_measure(scripts=True)

    @work(exclusive=True, group="connectivity-probe", exit_on_error=False)
    async def run_probes(self, listening: bool, scripts: bool) -> None:
        """Probe from this machine (read-only on both instances) and record the report."""
        try:
            report = await run_connectivity(
                self.context,
                self.journal,
                probe_listening=listening,
                scripts_dir=self.scripts_dir if scripts else None,
            )
        except OctopusError as exc:
            self.post_message(ProbesFailed(str(exc)))
            return
        self.post_message(ProbesFinished(report, self.scripts_dir if scripts else None))

    def _set_probing(self, on: bool) -> None:
        self.probing = on
        self.query_one("#probing", LoadingIndicator).display = on
        for bid in ("measure", "scripts", "continue", "back"):
            for button in self.query(f"#{bid}").results(Button):
                button.disabled = on or (bid == "continue" and self.report is None)  # nothing to go on with
        if on:
            self.query_one("#probe-summary", Static).update(
                Text("Probing from this machine…", style="italic")
            )
        self.refresh_bindings()  # the footer offers what check_action allows now

    def on_probes_finished(self, message: ProbesFinished) -> None:
        self.report = message.report
        self._set_probing(False)
        self._show(message.report)
        self.query_one("#probes", DataTable).focus()
        if message.scripts is not None:
            self.notify(
                f"Probe scripts written to {message.scripts}: run the one for each data centre on a "
                "machine there.",
                title="Probe scripts",
                timeout=12,
            )

    def on_probes_failed(self, message: ProbesFailed) -> None:
        self._set_probing(False)
        self.query_one("#probe-summary", Static).update(
            Text(f"✘ Could not probe: {message.sentence}", style="red")
        )

    def action_cancel(self) -> None:
        if self.probing:
            self.workers.cancel_group(self, "connectivity-probe")
            self._set_probing(False)
            self.query_one("#probe-summary", Static).update("Probing cancelled: nothing was recorded.")

    def _show(self, report: ConnectivityReport) -> None:
        verified = sum(1 for v in report.verifications if v.verified)
        summary = Text()
        summary.append(
            f"Measured from {report.measured_from} at "
            f"{report.started_at.replace('T', ' ').replace('+00:00', ' UTC')}: "
        )
        summary.append(f"{report.count('ok')} ok", style="green")
        summary.append(", ")
        summary.append(f"{report.count('failed')} failed", style="bold red" if report.count("failed") else "")
        summary.append(
            f", {report.count('skipped')} skipped. Data centres verified by a healthy test Tentacle: "
            f"{verified} of {len(report.verifications)}."
        )
        self.query_one("#probe-summary", Static).update(summary)
        probes = self.query_one("#probes", DataTable)
        probes.clear()
        for r in report.results:
            label, style = _OUTCOME.get(r.outcome, (r.outcome, ""))
            probes.add_row(Text(label, style=style), r.check, r.subject, r.sentence)
        self._probe_detail(0)
        dcs = self.query_one("#data-centres", DataTable)
        dcs.clear()
        verdict = {v.data_centre: v for v in report.verifications}
        for dc in report.data_centres:
            v = verdict.get(dc.name)
            mark = Text("✔ verified", style="green") if v and v.verified else Text("not yet", style="yellow")
            dcs.add_row(dc.name, str(len(dc.machine_ids)), dc.basis, mark)
        self.query_one("#dc-note", Static).update(
            "A data centre is verified when a test Tentacle there, named or with the role "
            "octowiz-probe-<name>, shows Healthy on the destination. Probe scripts check outbound 443 and "
            "10943 from a machine there."
        )

    @on(DataTable.RowHighlighted, "#probes")
    def _probe_row(self, event: DataTable.RowHighlighted) -> None:
        self._probe_detail(event.cursor_row)

    def _probe_detail(self, row: int) -> None:
        panel = self.query_one("#probe-detail", Static)
        results = self.report.results if self.report else []
        if not 0 <= row < len(results):
            panel.update("")
            return
        r = results[row]
        label, style = _OUTCOME.get(r.outcome, (r.outcome, ""))
        text = Text()
        text.append(f"{label}  ", style=style)
        text.append(f"{r.check} {r.subject}\n", style="bold")
        text.append(r.sentence + "\n")
        when = r.measured_at.replace("T", " ").replace("+00:00", " UTC")
        text.append(f"Measured from {r.measured_from} at {when}", style="bright_black")
        panel.update(text)

    @on(Button.Pressed, "#rename-dc")
    def _rename_pressed(self) -> None:
        if self.report is None or self.probing:
            return
        row = self.query_one("#data-centres", DataTable).cursor_row
        if not 0 <= row < len(self.report.data_centres):
            return
        current = self.report.data_centres[row].name

        def check(name: str) -> str:
            return (
                "" if name.strip() else "Give the data centre a name (the same name as another merges them)."
            )

        def renamed(name: str | None) -> None:
            if name and name.strip() and name.strip() != current:
                self.apply_rename(current, name.strip())

        self.app.push_screen(
            TextDialog(
                "Name this data centre",
                f"Suggested: {current}. Naming two data centres the same merges "
                "them; their probe scripts and test Tentacle marker follow the name.",
                current,
                check,
            ),
            renamed,
        )

    @work(exclusive=True, group="connectivity-rename", exit_on_error=False)
    async def apply_rename(self, current: str, name: str) -> None:
        await rename_data_centre(self.journal, current, name)
        self.action_measure()

    def action_continue(self) -> None:
        if self.report is not None and not self.probing:
            self.dismiss("done")

    def action_back(self) -> None:
        if not self.probing:
            self.dismiss("welcome")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "continue":
            return self.report is not None and not self.probing
        if action in ("measure", "scripts"):
            return not self.review and not self.probing
        if action == "cancel":
            return self.probing
        if action == "back":
            return not self.probing
        return True

    @on(Button.Pressed)
    async def _pressed(self, event: Button.Pressed) -> None:
        await self.run_action(str(event.button.id))
