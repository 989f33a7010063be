"""Users & pools: who can sign in to Cloud as they are, teams, and worker pools mapped to the destination."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

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
    Static,
    TabPane,
)

from octowiz.engine.context import Context
from octowiz.engine.prepare.people import UsersReport, write_csv
from octowiz.engine.prepare.scanning import create_pool, run_people
from octowiz.engine.prepare.workers import CreateResult, PoolMapping
from octowiz.journal import Journal
from octowiz.octopus.errors import OctopusError
from octowiz.tui.screens.dialogs import Dialog
from octowiz.tui.screens.step import StepScreen
from octowiz.tui.tables import Table
from octowiz.tui.workers import work

_SIGN_IN = {"yes": ("✔ yes", "green"), "invite": ("invite", "yellow"), "no": ("✘ no", "bold red")}


@dataclass
class PeopleLoaded(Message):
    """Users, teams and pools were read."""

    report: UsersReport
    pools: list[PoolMapping]


@dataclass
class PeopleFailed(Message):
    """Reading them failed."""

    sentence: str


@dataclass
class PoolPreviewed(Message):
    """What creating a pool would do (nothing was sent)."""

    mapping: PoolMapping
    preview: CreateResult
    destination: str


@dataclass
class PoolCreated(Message):
    """A pool was created (or found already there)."""

    result: CreateResult


class ConfirmCreatePool(Dialog[bool]):
    """Preview of a change to the destination, and the explicit confirmation it needs."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Change nothing", id="pool.cancel")]

    def __init__(self, preview: CreateResult, destination: str) -> None:
        super().__init__()
        self.preview = preview
        self.destination = destination

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Create a worker pool on Octopus Cloud?", classes="dialog-title")
            yield Static(
                f"On {self.destination} octowiz will create:\n\n"
                f"  Name         {self.preview.name}\n"
                f"  Type         {self.preview.pool_type}\n"
                f"  Description  {self.preview.description}\n\n"
                "It starts empty: add workers to it (at least two, as the guide recommends). The journal "
                "records the change and how to undo it (delete the pool)."
            )
            with Horizontal(classes="dialog-actions"):
                yield Button("Create", id="confirm", variant="warning")
                yield Button("Cancel", id="cancel", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class UsersScreen(StepScreen):
    STEP = "users"
    SUMMARY_ID = "users-summary"
    BUSY_ID = "reading"

    """Show users, teams and pools; export CSV; create a missing pool. Dismisses ``done`` or ``welcome``."""

    BINDINGS = [
        Binding(
            "ctrl+r", "reload", "Read again", tooltip="Read users, teams and pools again", id="users.reload"
        ),
        Binding("ctrl+e", "export", "Export CSV", tooltip="Write users.csv and teams.csv", id="users.export"),
        Binding("ctrl+n", "continue", "Continue", tooltip="On to the next step", id="users.continue"),
        Binding("ctrl+b", "back", "Back", tooltip="Back to the welcome screen", id="users.back"),
    ]

    def __init__(
        self,
        context: Context,
        journal: Journal,
        statuses: dict[str, str],
        export_dir: Path,
        *,
        review: bool = False,
    ) -> None:
        super().__init__(context, journal, statuses, review=review)
        self.export_dir = export_dir
        self.report: UsersReport | None = None
        self.pools: list[PoolMapping] = []
        self.busy = False

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Users", id="tab-users"):
            yield Table(id="users", cursor_type="row", zebra_stripes=True)
            yield Static("", id="user-detail")
        with TabPane("Teams", id="tab-teams"):
            yield Table(id="teams", cursor_type="row", zebra_stripes=True)
        with TabPane("Worker pools", id="tab-pools"):
            yield Table(id="pools", cursor_type="row", zebra_stripes=True)
            yield Static("", id="pool-detail")

    def compose_actions(self) -> ComposeResult:
        yield Button("Export CSV", id="export")
        if not self.review:
            yield Button("Create pool on Cloud…", id="create-pool", variant="warning", disabled=True)
            yield Button("Continue", id="continue", variant="success")

    def on_mount(self) -> None:
        self.title = "octowiz — Users & pools"
        self.query_one("#users", DataTable).add_columns(
            "User", "Signs in with", "Cloud sign-in", "On Cloud", "Admin", "Why"
        )
        self.query_one("#teams", DataTable).add_columns("Team", "Members", "Roles", "External groups")
        self.query_one("#pools", DataTable).add_columns(
            "Source pool", "Workers (healthy)", "Destination pool", "Steps using it", "Attention"
        )
        self.action_reload()

    # -- reading ---------------------------------------------------------------------------------

    def action_reload(self) -> None:
        if self.busy:
            return
        self._set_busy(True, "Reading users, teams and worker pools (read-only)…")
        self.read()

    @work(exclusive=True, group="users-read", exit_on_error=False)
    async def read(self) -> None:
        try:
            report, pools = await run_people(self.context, self.journal, record=not self.review)
        except OctopusError as exc:
            self.post_message(PeopleFailed(str(exc)))
            return
        self.post_message(PeopleLoaded(report, pools))

    def _set_busy(self, on: bool, note: str = "") -> None:
        self.busy = on
        self.query_one("#reading", LoadingIndicator).display = on
        if on:
            self.query_one("#users-summary", Static).update(Text(note, style="italic"))
        self.refresh_bindings()  # the footer offers what check_action allows now

    def on_people_failed(self, message: PeopleFailed) -> None:
        self._set_busy(False)
        self.query_one("#users-summary", Static).update(Text(f"✘ {message.sentence}", style="red"))

    def on_people_loaded(self, message: PeopleLoaded) -> None:
        self._set_busy(False)
        self.report, self.pools = message.report, message.pools
        self.query_one("#users", DataTable).focus()
        r = message.report
        cannot = sum(1 for u in r.users if u.cloud_sign_in == "no")
        invite = sum(1 for u in r.users if u.cloud_sign_in == "invite")
        there = sum(1 for u in r.users if u.on_destination)
        flagged = sum(1 for p in message.pools if p.flag or p.suggested_action)
        summary = Text()
        summary.append(f"{len(r.users)} users: ")
        summary.append(f"{cannot} cannot sign in to Cloud as they are", style="bold red" if cannot else "")
        summary.append(
            f", {invite} to invite, {there} already on Cloud (same email). {len(r.teams)} teams. "
            f"{len(message.pools)} worker pools, {flagged} need attention."
        )
        self.query_one("#users-summary", Static).update(summary)
        users = self.query_one("#users", DataTable)
        users.clear()
        for u in r.users:
            label, style = _SIGN_IN.get(u.cloud_sign_in, (u.cloud_sign_in, ""))
            users.add_row(
                f"{u.display_name} ({u.username})",
                ", ".join(u.providers) or "—",
                Text(label, style=style),
                u.on_destination or "—",
                "yes" if u.admin else "",
                u.reason,
                key=u.id,
            )
        teams = self.query_one("#teams", DataTable)
        teams.clear()
        for t in r.teams:
            groups = "; ".join(f"{g.name} ({g.provider}: {g.cloud})" for g in t.external_groups) or "—"
            roles = ", ".join(t.roles) if t.roles is not None else "unknown"
            teams.add_row(t.name, str(len(t.members)), roles, groups, key=t.id)
        pools = self.query_one("#pools", DataTable)
        pools.clear()
        for p in message.pools:
            dest = f"{p.destination_name} ({p.destination_type})" if p.destination_name else "— none —"
            attention = p.flag or p.suggestion or ""
            pools.add_row(
                p.source_name,
                f"{p.workers} ({p.healthy})",
                dest,
                str(len(p.uses)),
                Text(attention, style="yellow" if attention else ""),
                key=p.source_id,
            )
        self._pool_selected(0)
        self._user_detail(0)

    @on(DataTable.RowHighlighted, "#users")
    def _user_row(self, event: DataTable.RowHighlighted) -> None:
        self._user_detail(event.cursor_row)

    def _user_detail(self, row: int) -> None:
        users = self.report.users if self.report else []
        panel = self.query_one("#user-detail", Static)
        if not 0 <= row < len(users):
            panel.update("")
            return
        u = users[row]
        label, style = _SIGN_IN.get(u.cloud_sign_in, (u.cloud_sign_in, ""))
        text = Text()
        text.append(f"{u.display_name} ({u.username})", style="bold")
        text.append(f"  {u.email or 'no email'}\n")
        text.append("Cloud sign-in: ")
        text.append(label, style=style)
        text.append(f" — {u.reason}\n")
        if u.on_destination:
            text.append(f"Already on Cloud as {u.on_destination} (same email).\n")
        if u.teams:
            text.append(f"Teams: {', '.join(u.teams)}\n")
        panel.update(text)

    @on(DataTable.RowHighlighted, "#pools")
    def _pool_row(self, event: DataTable.RowHighlighted) -> None:
        self._pool_selected(event.cursor_row)

    def _pool_selected(self, row: int) -> None:
        mapping = self.pools[row] if 0 <= row < len(self.pools) else None
        detail = self.query_one("#pool-detail", Static)
        creatable = bool(
            mapping and mapping.suggested_action == "create-static" and not mapping.destination_id
        )
        for button in self.query("#create-pool").results(Button):
            button.disabled = not creatable or self.busy
        if mapping is None:
            detail.update("")
            return
        lines = [f"{mapping.source_name}: {mapping.suggestion or 'mapped by ' + str(mapping.matched_by)}"]
        if mapping.note:
            lines.append(mapping.note)
        lines += [f"  • {u.project}: {u.step} ({u.via})" for u in mapping.uses[:8]]
        detail.update("\n".join(lines))

    # -- actions ---------------------------------------------------------------------------------

    def action_export(self) -> None:
        if self.report is not None:
            self.export(self.report)

    @work(thread=True, exclusive=True, group="users-export", exit_on_error=False)
    def export(self, report: UsersReport) -> None:
        paths = write_csv(self.export_dir, report)
        self.app.call_from_thread(
            self.notify, "Wrote " + " and ".join(str(p) for p in paths) + ".", title="Exported"
        )

    @on(Button.Pressed, "#create-pool")
    def _create_pressed(self) -> None:
        row = self.query_one("#pools", DataTable).cursor_row
        if 0 <= row < len(self.pools) and not self.busy:
            self.preview_pool(self.pools[row])

    @work(exclusive=True, group="users-pool", exit_on_error=False)
    async def preview_pool(self, mapping: PoolMapping) -> None:
        try:
            preview = await create_pool(self.context, self.journal, mapping, confirm=False)
            settings = await asyncio.to_thread(lambda: self.journal.settings)
        except OctopusError as exc:
            self.post_message(PeopleFailed(str(exc)))
            return
        destination = str(settings.get("destination_url") or "the destination")
        self.post_message(PoolPreviewed(mapping, preview, destination))

    def on_pool_previewed(self, message: PoolPreviewed) -> None:
        destination = message.destination

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._set_busy(True, f"Creating the worker pool {message.preview.name} on Cloud…")
                self.create(message.mapping)

        self.app.push_screen(ConfirmCreatePool(message.preview, destination), confirmed)

    @work(exclusive=True, group="users-pool", exit_on_error=False)
    async def create(self, mapping: PoolMapping) -> None:
        try:
            result = await create_pool(self.context, self.journal, mapping, confirm=True)
        except OctopusError as exc:
            self.post_message(PeopleFailed(str(exc)))
            return
        self.post_message(PoolCreated(result))

    def on_pool_created(self, message: PoolCreated) -> None:
        r = message.result
        said = (
            "already existed"
            if r.status == "exists"
            else f"was created ({r.pool_id}); the journal can undo it"
        )
        self.notify(f"The worker pool {r.name} {said}.", title="Worker pool")
        self._set_busy(False)
        self.action_reload()

    def action_continue(self) -> None:
        if self.report is not None and not self.busy:
            self.dismiss("done")

    def action_back(self) -> None:
        if not self.busy:
            self.dismiss("welcome")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "continue":
            return self.report is not None and not self.busy
        if action in ("reload", "back", "continue"):
            return not self.busy
        return True

    @on(Button.Pressed, "#export, #continue, #back")
    async def _pressed(self, event: Button.Pressed) -> None:
        await self.run_action(str(event.button.id))
