"""Targets: the wave's deployment targets and workers on Octopus Cloud.

Tentacles are cloned as a second instance on the same host (scripts to download, or run through the
Server's script console after a typed confirmation, canary first); other kinds are recreated through
Cloud's API with their ids remapped by name, disabled until what the API cannot read back is entered.
Every state shown is read from Cloud; a health check asks Cloud again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import (
    Button,
    DataTable,
    LoadingIndicator,
    Select,
    Static,
    TabbedContent,
    TabPane,
)

from octowiz import heap
from octowiz.engine.context import Context
from octowiz.engine.cutover import targets as tg
from octowiz.engine.cutover.scripts import API_KEY_ENV, HostPlan
from octowiz.journal import Journal, JournalError
from octowiz.octopus.errors import OctopusError
from octowiz.tui.screens.dialogs import Confirmed, TypedConfirm
from octowiz.tui.screens.step import ChangeDone, ChangeFailed, ChangeStepScreen
from octowiz.tui.tables import PAUSE, Table, reveal, rows_per_slice
from octowiz.tui.workers import work

#: How each Cloud state reads in the tables.
STATE_STYLE = {
    "healthy": "green",
    "registered": "yellow",
    "unhealthy": "bold red",
    "disabled": "yellow",
    "missing": "bright_black",
}
HOST_STAGES = ("script", "sent", "registered", "healthy")
#: Rows added to a table before the screen yields to its event loop (more rows fill in batches).
TABLE_BATCH = 100


def state_text(state: str) -> Text:
    """A Cloud state, coloured."""
    mark = {"healthy": "✔ ", "unhealthy": "✘ ", "missing": "· "}.get(state, "")
    return Text(f"{mark}{state}", style=STATE_STYLE.get(state, ""))


@dataclass
class Loaded:
    """What the screen shows: the wave's machines read from both instances, and the host plans."""

    waves: list[str]
    wave: str | None
    report: tg.TargetsReport | None
    plans: list[HostPlan]
    offered: list[str]
    canary: str | None
    host_stages: dict[str, dict[str, tuple[str, dict[str, Any]]]]
    statuses: dict[str, str]


# -- messages ------------------------------------------------------------------------------------------


@dataclass
class TargetsLoaded(Message):
    """The wave's machines were read from the Server and Cloud."""

    loaded: Loaded
    note: Text | None = None


class TargetsScreen(ChangeStepScreen):
    """The wave's targets and workers on Cloud. Dismisses ``done`` or ``welcome``."""

    STEP = "targets"
    TABLE_ID = "machines"
    SUMMARY_ID = "targets-summary"
    BUSY_ID = "targets-reading"

    BINDINGS = [
        Binding(
            "ctrl+g",
            "run_hosts",
            "Run on hosts…",
            tooltip="Clone the offered hosts' Tentacles through the Server's script console, after a preview",
            id="targets.run",
        ),
        Binding(
            "ctrl+s",
            "save_scripts",
            "Save scripts",
            tooltip="Write one clone script per host (PowerShell or bash) to run by hand",
            id="targets.save",
        ),
        Binding(
            "ctrl+o",
            "recreate",
            "Recreate others…",
            tooltip="Create the SSH, Kubernetes, Azure and other targets on Cloud (after a preview)",
            id="targets.recreate",
        ),
        Binding(
            "ctrl+t",
            "health",
            "Health check",
            tooltip="Run a health check on Cloud for the wave's targets and workers",
            id="targets.health",
        ),
        Binding(
            "ctrl+f",
            "filled",
            "Secrets entered",
            tooltip="The highlighted target's secrets are entered on Cloud: enable it",
            id="targets.filled",
        ),
        Binding(
            "ctrl+l",
            "leave",
            "Leave behind…",
            tooltip="The highlighted machine stays on the Server on purpose (with a reason), or take it back",
            id="targets.leave",
        ),
        Binding("ctrl+r", "reload", "Refresh", tooltip="Read both instances again", id="targets.refresh"),
        Binding("ctrl+n", "continue", "Continue", tooltip="On to the cutover", id="targets.continue"),
        Binding("ctrl+b", "back", "Back", tooltip="Back to the welcome screen", id="targets.back"),
    ]

    def __init__(
        self,
        context: Context,
        journal: Journal,
        statuses: dict[str, str],
        downloads: Path,
        *,
        review: bool = False,
        settings: tg.TargetSettings | None = None,
    ) -> None:
        super().__init__(context, journal, statuses, review=review)
        self.downloads = downloads
        self.settings = settings or tg.TargetSettings()
        self.loaded: Loaded | None = None
        self.wave: str | None = None
        self.busy = False
        self._focus_when_filled = False
        self.rows: list[tg.MachineRow] = []

    # -- layout ----------------------------------------------------------------------------------

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Machines", id="tab-machines"):
            yield Table(id="machines", cursor_type="row", zebra_stripes=True)
            yield Static("", id="machine-detail", classes="detail")
        with TabPane("Tentacle hosts", id="tab-hosts"):
            yield Table(id="hosts", cursor_type="row", zebra_stripes=True)
            yield Static("", id="host-detail", classes="detail")
        if self.review:
            return
        yield from self.compose_progress()

    def compose_actions(self) -> ComposeResult:
        yield Select[str]([], prompt="Wave", allow_blank=True, id="wave")
        if not self.review:
            yield Button("Run on hosts…", id="run_hosts", variant="warning", disabled=True)
            yield Button("Save scripts", id="save_scripts", disabled=True)
            yield Button("Recreate…", id="recreate", disabled=True)
            yield Button("Health check", id="health", disabled=True)
            yield Button("Continue", id="continue", variant="success", disabled=True)

    def on_unmount(self) -> None:
        # What was read and shown stayed frozen (no full-GC pause while it is shown); leaving the screen
        # hands it back to normal collection.
        heap.unfreeze()

    def on_mount(self) -> None:
        # The heap stays frozen while the screen is shown (see on_unmount and read): freezing it now also
        # spares its first render a full-GC pass over everything already loaded (~80 ms measured).
        heap.freeze()
        self.title = "octowiz — Targets"
        self.query_one("#machines", DataTable).add_columns(
            "Name", "Kind", "As", "Environments / pools", "Projects", "On Cloud", "Needs"
        )
        self.query_one("#hosts", DataTable).add_columns("Host", "OS", "Clones", *HOST_STAGES, "Offered")
        self.mount_progress()
        self._buttons()
        self.action_reload()

    # -- reading ---------------------------------------------------------------------------------

    def action_reload(self, note: Text | None = None) -> None:
        if self.busy:
            return
        self.query_one(f"#{self.BUSY_ID}", LoadingIndicator).display = True
        self.query_one(f"#{self.SUMMARY_ID}", Static).update(
            Text("Reading the wave's targets and workers from the Server and Octopus Cloud…", style="italic")
        )
        self.read(self.wave, note)

    @work(exclusive=True, group="targets-read", exit_on_error=False)
    async def read(self, wave: str | None, note: Text | None = None) -> None:
        """Read the wave's machines from both instances (a worker: never on the UI loop)."""
        try:
            # Thousands of models pile up while the wave is read: kept out of the cyclic GC's full passes
            # (each would freeze the screen for up to a quarter of a second) until the screen closes.
            async with heap.kept_out_of_full_gc(stay_frozen=True):
                loaded = await load(self.context, self.journal, wave)
        except (OctopusError, JournalError, tg.TargetsError) as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        self.post_message(TargetsLoaded(loaded, note))

    def on_targets_loaded(self, message: TargetsLoaded) -> None:
        loaded = self.loaded = message.loaded
        self.wave = loaded.wave
        self.show_loaded(loaded.statuses, message.note, loaded.waves)

    def _summary(self) -> Text:
        loaded = self.loaded
        text = Text()
        if loaded is None or loaded.report is None:
            text.append("No waves are migrated yet: migrate one in the Migrate step first.")
            return text
        rows = loaded.report.rows
        targets = sum(1 for r in rows if r.role == "target")
        workers = len(rows) - targets
        text.append(f"{loaded.wave}: ", style="bold")
        text.append(
            f"{targets} target{'s' if targets != 1 else ''} and {workers} worker{'s' if workers != 1 else ''}"
        )
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.cloud_state] = counts.get(r.cloud_state, 0) + 1
        text.append(" — on Cloud: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ".")
        if self.review:
            text.append(" What both instances show now (read-only).", style="bright_black")
            return text
        if loaded.canary and loaded.offered == [loaded.canary]:
            text.append(
                f"\nCanary first: clone {loaded.canary} and run a health check; once it shows healthy on "
                "Cloud, the other hosts are offered."
            )
        elif loaded.offered:
            more = len(loaded.offered) - 6
            text.append(
                f"\nOffered for cloning: {', '.join(loaded.offered[:6])}"
                + (f" and {more} more" if more > 0 else "")
                + "."
            )
        if all(r.cloud_state == "healthy" for r in rows):
            text.append("\nEvery target and worker is healthy on Cloud.", style="green")
        return text

    # -- tables ----------------------------------------------------------------------------------

    def _show(self) -> None:
        loaded = self.loaded
        report = loaded.report if loaded else None
        self.rows = list(report.rows) if report else []
        self.workers.cancel_group(self, "targets-table")
        if len(self.rows) + len(loaded.plans if loaded else []) <= TABLE_BATCH:
            for _ in self._fill():  # a few rows: at once, filled by the time this message is handled
                pass
        else:
            self._fill_tables()

    def focus_table(self) -> None:
        if any(w.group == "targets-table" and not w.is_finished for w in self.workers):
            self._focus_when_filled = True  # given as the table is shown (a hidden widget loses it)
        else:
            super().focus_table()

    @work(exclusive=True, group="targets-table", exit_on_error=False)
    async def _fill_tables(self) -> None:
        """Thousands of rows go into the tables in batches, yielding between them (as Waves does): a
        table measures every row added since it was last idle in one go, which for thousands stalls."""
        # Hidden until filled: a shown table re-renders every visible line after each batch (30-60 ms
        # measured), on top of measuring the batch; the loading indicator shows meanwhile. Then shown a
        # few lines a paint (tables.reveal).
        await self.footer_painted()  # the footer offers new keys now: painted before, not beside
        machines, hosts = self.query_one("#machines", Table), self.query_one("#hosts", Table)
        before = self.focused
        had = before if before in (machines, hosts) else None  # lost as they hide
        busy = self.query_one(f"#{self.BUSY_ID}", LoadingIndicator)
        busy.display, machines.display, hosts.display = True, False, False
        try:
            async with heap.kept_out_of_full_gc(stay_frozen=True):
                for _ in self._fill():
                    await asyncio.sleep(PAUSE)
        except BaseException:
            machines.display = hosts.display = True
            raise
        finally:
            busy.display = any(w.group == "targets-read" and not w.is_finished for w in self.workers)
        # The focus first, in a paint of its own (the footer shows the table's keys); the table in
        # the hidden tab at once (nothing of it is painted); the shown one a few lines a paint.
        focus = had if had is not None else machines if self._focus_when_filled else None
        self._focus_when_filled = False
        if focus is not None and self.focused in (None, before):  # unless the person moved it meanwhile
            focus.focus()
            await self.painted()
        tabs = self.query_one(f"#{self.STEP}-tabs", TabbedContent)
        shown, other = (hosts, machines) if tabs.active == "tab-hosts" else (machines, hosts)
        other.display = True
        await reveal(shown, self.painted)

    def _fill(self) -> Iterator[None]:
        """Fill both tables from :attr:`loaded`, yielding after every slice of rows
        (:func:`octowiz.tui.tables.rows_per_slice`)."""
        loaded = self.loaded
        table = self.query_one("#machines", DataTable)
        table.clear()
        per_slice = rows_per_slice(table)
        for n, r in enumerate(self.rows, 1):
            if n % per_slice == 0:
                yield
            where = ", ".join(r.environments if r.role == "target" else r.pools)
            table.add_row(
                Text(r.name, style="bold"),
                r.kind,
                r.role,
                where if len(where) <= 34 else where[:33] + "…",
                str(len(r.projects)),
                Text("left behind", style="bright_black") if r.left_behind else state_text(r.cloud_state),
                Text(f"{len(r.secrets)} secret{'s' if len(r.secrets) != 1 else ''}", style="yellow")
                if r.secrets
                else "",
                key=r.source_id,
            )
        self._machine_detail(0)
        hosts = self.query_one("#hosts", DataTable)
        hosts.clear()
        if loaded is not None:
            offered = set(loaded.offered)  # thousands of hosts once the canary is healthy
            # Hosts with a machine still missing on Cloud, found once: asking per host walked every
            # row for every host (5,000 × 5,000 on the large scenario, 20-40 ms a slice).
            missing = {r.host for r in self.rows if r.cloud_state == "missing"}
            per_slice = rows_per_slice(hosts)
            for n, plan in enumerate(loaded.plans, 1):
                if n % per_slice == 0:
                    yield
                stages = loaded.host_stages.get(plan.host, {})
                cells = [_stage_cell(stages.get(s)) for s in HOST_STAGES]
                mark = (
                    Text("canary", style="bold yellow")
                    if plan.host == loaded.canary and plan.host in offered
                    else Text("yes", style="green")
                    if plan.host in offered
                    else Text("on Cloud", style="bright_black")
                    if plan.host not in missing
                    else Text("after the canary", style="bright_black")
                )
                hosts.add_row(
                    Text(plan.host, style="bold"),
                    plan.os,
                    str(len(plan.registrations)),
                    *cells,
                    mark,
                    key=plan.host,
                )
        self._host_detail(0)

    @on(DataTable.RowHighlighted, "#machines")
    def _machine_row(self, event: DataTable.RowHighlighted) -> None:
        self._machine_detail(event.cursor_row)

    def _machine_detail(self, row: int) -> None:
        panel = self.query_one("#machine-detail", Static)
        if not 0 <= row < len(self.rows):
            panel.update("")
            return
        r = self.rows[row]
        text = Text()
        text.append(r.name, style="bold")
        text.append(f"  {r.kind} {r.role} ({r.source_id} on the Server")
        text.append(f", {r.cloud_id} on Cloud)" if r.cloud_id else ")")
        text.append("  ")
        text.append_text(state_text(r.cloud_state))
        if r.role == "target":
            text.append(f"\nEnvironments: {', '.join(r.environments) or 'none'}")
            text.append(f"   Roles: {', '.join(r.roles) or 'none'}")
            if r.tenants:
                text.append(f"   Tenants: {', '.join(r.tenants)}")
        else:
            text.append(f"\nWorker pools: {', '.join(r.pools) or 'none'}")
        if r.host:
            text.append(
                f"\nTentacle host: {r.host} (cloned as a second instance; the Server's instance is untouched)"
            )
        if r.left_behind:
            text.append(f"\nLeft behind on purpose: {r.left_behind} (Ctrl+L takes it back)", style="yellow")
        for secret in r.secrets:
            text.append(f"\n  ! {secret}", style="yellow")
        if r.note:
            text.append(f"\n{r.note}", style="bright_black")
        panel.update(text)

    @on(DataTable.RowHighlighted, "#hosts")
    def _host_row(self, event: DataTable.RowHighlighted) -> None:
        self._host_detail(event.cursor_row)

    def _host_detail(self, row: int) -> None:
        panel = self.query_one("#host-detail", Static)
        plans = self.loaded.plans if self.loaded else []
        if not 0 <= row < len(plans):
            panel.update("")
            return
        plan = plans[row]
        text = Text()
        text.append(plan.host, style="bold")
        text.append(f"  {plan.os}; the Server's instance '{plan.original_instance}' stays as it is.")
        for reg in plan.registrations:
            where = ", ".join(reg.environments) if reg.kind == "target" else ", ".join(reg.worker_pools)
            text.append(
                f"\n  • {reg.name}: a {reg.comms} {reg.kind} in {where or '—'}"
                + (f", roles {', '.join(reg.roles)}" if reg.roles else "")
            )
        stages = (self.loaded.host_stages if self.loaded else {}).get(plan.host, {})
        sent = stages.get("sent")
        if sent and sent[1].get("task_id"):
            text.append(f"\nScript task on the Server: {sent[1]['task_id']} ({sent[0]})")
        failed = [d.get("why") for st, d in stages.values() if st == "failed" and d.get("why")]
        failed += [str(x) for st, d in stages.values() if st != "done" for x in d.get("sentences") or []]
        for why in failed:
            text.append(f"\n✘ {why}", style="red")
        panel.update(text)

    # -- actions ---------------------------------------------------------------------------------

    def action_run_hosts(self) -> None:
        loaded = self.loaded
        if self.review or self.busy or loaded is None or loaded.report is None or not loaded.offered:
            return
        plans = [p for p in loaded.plans if p.host in loaded.offered]
        lines = []
        for plan in plans:
            for reg in plan.registrations:
                where = ", ".join(reg.environments) if reg.kind == "target" else ", ".join(reg.worker_pools)
                lines.append(
                    f"{plan.host} ({plan.os}): '{reg.name}', a {reg.comms} {reg.kind} in {where or '—'}"
                )
        lines.append(
            "Each host gets a second Tentacle instance, through one ad-hoc script task per host on the "
            "Server's script console (visible in its audit log). The script carries no API key: octowiz "
            "registers each clone on Cloud itself. The Server's own Tentacle instances are not changed."
        )
        title = (
            f"Clone the canary host {loaded.canary}?"
            if loaded.offered == [loaded.canary]
            else f"Clone {len(plans)} host{'s' if len(plans) != 1 else ''}?"
        )
        hosts = [p.host for p in plans]
        wave = loaded.wave or ""

        def confirmed(answer: Confirmed | None) -> None:
            if answer is not None and not self.busy:
                self.begin(f"Cloning Tentacles on {', '.join(hosts)}")
                self.run_console(wave, hosts)

        self.app.push_screen(TypedConfirm(title, lines, "run", action="Run"), confirmed)

    @work(exclusive=True, group="targets-run", exit_on_error=False)
    async def run_console(self, wave: str, hosts: list[str]) -> None:
        """Run the chosen hosts' clone scripts through the Server's script console."""
        try:
            report = await tg.read_targets(self.context, self.journal, wave)
            results = await tg.run_console(
                self.context, self.journal, report, hosts, on_event=self._event, settings=self.settings
            )
        except (OctopusError, JournalError, tg.TargetsError) as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        lines = [f"{r.host}: {r.state}" + "".join(f" — {s}" for s in r.sentences) for r in results]
        problems = [
            f"{r.host}: {' '.join(r.sentences) or r.state}" for r in results if r.state != "registered"
        ]
        self.post_message(ChangeDone("Cloning", lines, problems))

    def action_save_scripts(self) -> None:
        if self.review or self.busy or self.loaded is None or not self.loaded.plans:
            return
        self.save_scripts(self.loaded)

    @work(exclusive=True, group="targets-save", exit_on_error=False)
    async def save_scripts(self, loaded: Loaded) -> None:
        """Write one script per host (files: a thread, never the UI loop)."""
        assert loaded.report is not None
        directory = self.downloads / "tentacle-scripts" / (loaded.wave or "wave").replace(" ", "-")
        try:
            paths = await asyncio.to_thread(tg.write_scripts, loaded.report, loaded.plans, directory)
        except OSError as exc:
            self.post_message(
                ChangeFailed(f"The scripts could not be written to {directory}: {exc.strerror or exc}.")
            )
            return
        self.notify(
            f"Wrote {len(paths)} script{'s' if len(paths) != 1 else ''} to {directory}. Each reads the Cloud "
            f"API key from {API_KEY_ENV} (or asks for it) when it runs.",
            title="Clone scripts",
            timeout=12,
        )

    def action_recreate(self) -> None:
        loaded = self.loaded
        if self.review or self.busy or loaded is None or loaded.report is None:
            return
        others = [r for r in loaded.report.rows if not r.host and r.cloud_state == "missing"]
        if not others:
            self.notify("Every target that is not a Tentacle is already on Cloud.", title="Nothing to create")
            return
        lines = [
            f"{r.name} ({r.kind} {r.role})"
            + (f": created DISABLED until you enter {len(r.secrets)} secret(s) on Cloud" if r.secrets else "")
            for r in others
        ]
        lines.append(
            "Environments, tenants, accounts, certificates, worker pools and policies are matched by name."
        )
        wave = loaded.wave or ""
        names = [r.name for r in others]

        def confirmed(answer: Confirmed | None) -> None:
            if answer is not None and not self.busy:
                self.begin("Creating targets on Cloud")
                self.recreate_others(wave, names)

        self.app.push_screen(
            TypedConfirm(
                f"Create {len(others)} target(s) on Octopus Cloud?", lines, "create", action="Create"
            ),
            confirmed,
        )

    @work(exclusive=True, group="targets-recreate", exit_on_error=False)
    async def recreate_others(self, wave: str, names: list[str]) -> None:
        """Create the other kinds on Cloud."""
        try:
            report = await tg.read_targets(self.context, self.journal, wave)
            results = await tg.recreate_others(self.context, self.journal, report, names)
        except (OctopusError, JournalError, tg.TargetsError) as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        lines = [f"{r.name}: {r.state}" + (f" — {r.sentence}" if r.sentence else "") for r in results]
        problems = [
            f"{r.name}: {r.sentence or r.state}"
            for r in results
            if r.state in ("needs account", "refused", "failed", "manual")
        ]
        self.post_message(ChangeDone("Creating", lines, problems))

    def action_health(self) -> None:
        if self.review or self.busy or self.loaded is None or self.loaded.report is None:
            return
        self.begin("Health check on Octopus Cloud")
        self.health(self.loaded.wave or "")

    @work(exclusive=True, group="targets-health", exit_on_error=False)
    async def health(self, wave: str) -> None:
        """One health check task on Cloud for the wave's machines."""
        try:
            report = await tg.read_targets(self.context, self.journal, wave)
            states = await tg.health_check(
                self.context, self.journal, report, on_progress=self._event, settings=self.settings
            )
        except (OctopusError, JournalError, tg.TargetsError) as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        lines = [f"{name}: {state}" for name, state in states.items()]
        problems = [f"{name} is {state} on Cloud" for name, state in states.items() if state != "healthy"]
        self.post_message(ChangeDone("Health check", lines, problems))

    def action_filled(self) -> None:
        if self.review or self.busy:
            return
        row = self.query_one("#machines", DataTable).cursor_row
        if not 0 <= row < len(self.rows) or not self.rows[row].secrets:
            self.notify("Highlight a target whose secrets you entered on Cloud.", title="Secrets entered")
            return
        name = self.rows[row].name
        self.begin(f"Enabling {name} on Cloud")
        self.filled(name)

    @work(exclusive=True, group="targets-filled", exit_on_error=False)
    async def filled(self, name: str) -> None:
        """The team entered a target's secrets on Cloud: enable it there."""
        try:
            await tg.mark_filled(self.context, self.journal, name)
        except (OctopusError, JournalError, tg.TargetsError) as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        self.post_message(ChangeDone("Enabling", [f"{name} is enabled on Cloud."], []))

    def action_leave(self) -> None:
        loaded = self.loaded
        if self.review or self.busy or loaded is None or loaded.report is None:
            return
        row = self.query_one("#machines", DataTable).cursor_row
        if not 0 <= row < len(self.rows):
            return
        machine = self.rows[row]
        report = loaded.report
        if machine.left_behind:
            lines = [f"{machine.name} counts again: the Targets step waits for it on Cloud."]
            title, word, reason = f"Take {machine.name} back?", "back", ""
        else:
            lines = [
                f"{machine.name} ({machine.kind} {machine.role}) stays on the Server: octowiz stops waiting "
                "for it on Cloud, and the projects that reach it are cut over without it.",
                "Nothing changes on either instance; the journal keeps the reason, and Ctrl+L takes it back.",
            ]
            title, word, reason = f"Leave {machine.name} behind?", "leave", "Why does it stay behind?"

        def confirmed(answer: Confirmed | None) -> None:
            if answer is not None and not self.busy:
                self.leave(report, machine.name, answer.reason, back=bool(machine.left_behind))

        self.app.push_screen(TypedConfirm(title, lines, word, action="Confirm", reason=reason), confirmed)

    @work(exclusive=True, group="targets-leave", exit_on_error=False)
    async def leave(self, report: tg.TargetsReport, name: str, reason: str, *, back: bool) -> None:
        """Record the decision in the journal (a thread)."""
        try:
            if back:
                await asyncio.to_thread(tg.take_back, self.journal, report, name)
            else:
                await asyncio.to_thread(tg.leave_behind, self.journal, report, name, reason)
        except (JournalError, tg.TargetsError) as exc:
            self.post_message(ChangeFailed(str(exc)))
            return
        what = "counts again" if back else f"left behind ({reason})"
        self.post_message(ChangeDone("Taking back" if back else "Leaving behind", [f"{name}: {what}"], []))

    def on_change_done(self, message: ChangeDone) -> None:
        self.finish(message.lines)
        note = Text()
        note.append(f"{message.title} finished", style="bold")
        note.append(".")
        for problem in message.problems:
            note.append(f"\n✘ {problem}", style="red")
        if not message.problems:
            note.append(" " + "; ".join(message.lines[:3]) + (" …" if len(message.lines) > 3 else ""))
        self.query_one("#targets-tabs", TabbedContent).active = "tab-machines"
        self.action_reload(note)

    # -- leaving ---------------------------------------------------------------------------------

    def _complete(self) -> bool:
        report = self.loaded.report if self.loaded else None
        # Every machine is on Cloud; whether they are healthy gates each project's cut-over instead.
        return (
            report is not None
            and bool(report.rows)
            and all(r.cloud_state != "missing" or r.left_behind for r in report.rows)
        )

    def _buttons(self) -> None:
        loaded = self.loaded
        ready = loaded is not None and loaded.report is not None and not self.busy
        for bid, enabled in (
            ("run_hosts", ready and bool(loaded and loaded.offered)),
            ("save_scripts", ready and bool(loaded and loaded.plans)),
            ("recreate", ready),
            ("health", ready),
            ("continue", ready and self._complete()),
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
        ready = self.loaded is not None and self.loaded.report is not None and not self.busy
        if action in ("run_hosts", "save_scripts", "recreate", "health", "filled", "leave"):
            return not self.review and ready
        if action == "continue":
            return not self.review and ready and self._complete()
        if action in ("back", "reload"):
            return not self.busy
        return True

    @on(Button.Pressed, "#run_hosts, #save_scripts, #recreate, #health, #continue, #back")
    async def _pressed(self, event: Button.Pressed) -> None:
        await self.run_action(str(event.button.id))


def _stage_cell(recorded: tuple[str, dict[str, Any]] | None) -> Text:
    if recorded is None:
        return Text("·", style="bright_black")
    status = recorded[0]
    return {
        "done": Text("✔", style="green"),
        "failed": Text("✘ failed", style="bold red"),
        "in progress": Text("▶", style="yellow"),
    }.get(status, Text(status))


async def load(context: Context, journal: Journal, wave: str | None) -> Loaded:
    """Everything the screen shows, read from the journal (in a thread) and both instances."""

    def recorded() -> tuple[list[str], dict[str, str], dict[str, dict[str, tuple[str, dict[str, Any]]]]]:
        statuses = {step: v[0] for step, v in journal.steps().items()}
        stages: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        for _kind, host, stage, status, detail in journal.items("host"):
            stages.setdefault(host, {})[stage] = (status, detail or {})
        return list(journal.waves()), statuses, stages

    waves, statuses, _ = await asyncio.to_thread(recorded)
    if wave not in waves:
        wave = waves[0] if waves else None
    if wave is None:
        return Loaded(waves, None, None, [], [], None, {}, statuses)
    report = await tg.read_targets(context, journal, wave)
    plans = await asyncio.to_thread(tg.host_plans, report)  # thousands of Tentacles: not on the UI loop
    canary = tg.canary_host(report, plans)
    offered = await asyncio.to_thread(tg.hosts_offered, report, plans, journal)
    _, statuses, stages = await asyncio.to_thread(recorded)
    return Loaded(waves, wave, report, plans, offered, canary, stages, statuses)
