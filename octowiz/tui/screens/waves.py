"""Waves: every project of the Server by project group, and the waves they migrate in.

The catalog (readiness, releases, last deployment, targets, triggers, logo, built-in packages, Git,
disabled, migration state) is read once, read-only, in a worker. The user selects projects (space), or
takes the suggested first wave, and adds them to a named wave: the dialog checks the wave as the name
is typed (projects a Deploy a Release step brings, with the reason; warnings; conflicts) and the wave is
recorded only when nothing conflicts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Button, DataTable, Input, Label, LoadingIndicator, Static, TabPane
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist, RowKey

from octowiz import heap
from octowiz.engine.context import Context
from octowiz.engine.migrate.waves import (
    Catalog,
    JournalView,
    ProjectRow,
    WaveCheck,
    WaveError,
    build_catalog,
    check_wave,
    journal_view,
    plan_wave,
    project_state,
    refresh,
    suggest_first_wave,
)
from octowiz.engine.session import clients
from octowiz.journal import Journal, JournalError
from octowiz.octopus.errors import OctopusError
from octowiz.tui.screens.dialogs import Dialog
from octowiz.tui.screens.step import StepScreen
from octowiz.tui.tables import Row, Table, add_rows, fill_hidden, reveal
from octowiz.tui.workers import work

READINESS_STYLE = {
    "ready": "green",
    "needs attention": "yellow",
    "blocked": "bold red",
    "not scanned": "bright_black",
}

GROUP_PREFIX = "group:"


def state_style(state: str) -> str:
    """The colour a migration state is shown in."""
    if state.startswith("planned"):
        return "cyan"
    return {
        "verified": "green",
        "imported": "cyan",
        "exporting": "yellow",
        "importing": "yellow",
        "differences": "yellow",
        "failed": "bold red",
        "conflict": "bold red",
        "not planned": "bright_black",
    }.get(state, "")


def next_wave_name(waves: dict[str, list[str]]) -> str:
    """``wave N`` for the first N not taken."""
    n = 1
    while f"wave {n}" in waves:
        n += 1
    return f"wave {n}"


# -- messages ------------------------------------------------------------------------------------------


@dataclass
class CatalogLoaded(Message):
    """The catalog was read (and the waves planned so far)."""

    catalog: Catalog
    waves: dict[str, list[str]]


@dataclass
class CatalogFailed(Message):
    """Reading the catalog failed; ``sentence`` says why. ``view`` is the journal's part, when it was read."""

    sentence: str
    view: JournalView | None = None


@dataclass
class WavePlanned(Message):
    """A wave was recorded; the catalog carries the journal's new states."""

    wave: str
    check: WaveCheck
    catalog: Catalog
    waves: dict[str, list[str]]


@dataclass
class PlanRefused(Message):
    """A wave was not recorded; ``sentence`` says why."""

    sentence: str


# -- the dialog ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaveRequest:
    """Record ``wave`` holding ``project_ids`` (its projects so far plus the selection)."""

    wave: str
    project_ids: list[str]


def describe_check(
    catalog: Catalog, wave: str, final: list[str], check: WaveCheck, *, saved: bool = False
) -> Text:
    """A wave check as the user reads it: the wave's projects, what was added and why, warnings, conflicts."""
    text = Text()
    if final:
        text.append(f"{wave or 'The wave'} {'holds' if saved else 'will hold'}: ", style="bold")
        text.append(", ".join(catalog.name(pid) for pid in final) + ".\n")
    if check.added:
        text.append("\nAdded:\n", style="bold")
        for _pid, why in check.added:
            text.append("  + ", style="green")
            text.append(f"{why}\n")
    if check.warnings:
        text.append("\nWarnings:\n", style="bold yellow")
        for warning in check.warnings:
            text.append("  ! ", style="yellow")
            text.append(f"{warning}\n")
    if check.conflicts:
        text.append("\nCannot be planned:\n", style="bold red")
        for conflict in check.conflicts:
            text.append("  ✘ ", style="bold red")
            text.append(f"{conflict}\n")
    elif not check.warnings and not check.added and final:
        text.append("\nNothing to add and nothing to warn about.\n", style="green")
    text.rstrip()
    return text


class AddToWaveDialog(Dialog[WaveRequest | None]):
    """Name the wave the selection joins; the check shows before anything is recorded."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Plan nothing", id="wave.cancel")]

    def __init__(self, catalog: Catalog, selected: list[str], waves: dict[str, list[str]]) -> None:
        super().__init__()
        self.catalog = catalog
        self.selected = selected
        self.waves = waves
        self.request: WaveRequest | None = None

    def compose(self) -> ComposeResult:
        names = [self.catalog.name(pid) for pid in self.selected]
        n = len(names)
        planned = "; ".join(f"{w} ({len(ids)})" for w, ids in self.waves.items())
        with Vertical(id="dialog"):
            yield Label(f"Add {n} project{'s' if n != 1 else ''} to a wave", classes="dialog-title")
            yield Static(Text.assemble(("Selected: ", "bold"), ", ".join(names) + "."), id="wave-selection")
            yield Static(
                (f"Waves so far: {planned}. " if planned else "No waves yet. ")
                + "Name one of them to add to it, or a new name to start a wave.",
                id="wave-hint",
            )
            yield Input(
                value=next_wave_name(self.waves),
                id="wave-name",
                suggester=SuggestFromList(list(self.waves), case_sensitive=False),
            )
            with VerticalScroll(id="wave-check-scroll"):
                yield Static("", id="wave-check")
            with Horizontal(classes="dialog-actions"):
                yield Button("Save wave", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._check(self.query_one("#wave-name", Input).value)

    @on(Input.Changed, "#wave-name")
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def _check(self, name: str) -> None:
        """Check the wave as named now (pure and quick: the catalog is in memory)."""
        wave = name.strip()
        ids = list(dict.fromkeys([*self.waves.get(wave, []), *self.selected]))
        final, check = check_wave(self.catalog, wave, ids, self.waves)
        self.request = WaveRequest(wave, ids) if check.ok else None
        self.query_one("#wave-check", Static).update(describe_check(self.catalog, wave, final, check))
        self.query_one("#save", Button).disabled = self.request is None

    @on(Input.Submitted, "#wave-name")
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        if self.request is not None:
            self.dismiss(self.request)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


# -- the screen ----------------------------------------------------------------------------------------


class WavesScreen(StepScreen):
    """Plan the waves projects migrate in. Dismisses ``done`` (at least one wave planned) or ``welcome``."""

    STEP = "waves"
    SUMMARY_ID = "waves-summary"
    BUSY_ID = "reading"

    BINDINGS = [
        Binding(
            "space",
            "select",
            "Select",
            tooltip="Select or unselect the project (or group)",
            id="waves.select",
        ),
        Binding(
            "ctrl+s",
            "suggest",
            "Suggest",
            tooltip="Select a low-risk first wave: ready, rarely deployed, standalone projects",
            id="waves.suggest",
        ),
        Binding(
            "ctrl+w",
            "add",
            "Add to wave…",
            tooltip="Check the selection and add it to a wave",
            id="waves.add",
        ),
        Binding(
            "ctrl+r", "reload", "Read again", tooltip="Read the Server's projects again", id="waves.reload"
        ),
        Binding("ctrl+n", "continue", "Continue", tooltip="On to the next step", id="waves.continue"),
        Binding("ctrl+b", "back", "Back", tooltip="Back to the welcome screen", id="waves.back"),
    ]

    def __init__(
        self, context: Context, journal: Journal, statuses: dict[str, str], *, review: bool = False
    ) -> None:
        super().__init__(context, journal, statuses, review=review)
        self.catalog: Catalog | None = None
        self.waves: dict[str, list[str]] = {}
        self.selected: list[str] = []
        self.collapsed: set[str] = set()
        self.last_check: tuple[str, WaveCheck] | None = None
        self.fallback: JournalView | None = None  # the journal's part, when the Server could not be read
        self.rows: dict[str, ProjectRow] = {}  # the catalog's rows by id (thousands on a large Server)
        self.busy = False  # reading the catalog, or saving a wave
        self.saving = False  # saving a wave: nothing may leave the screen until the journal says

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Projects", id="tab-projects"):
            yield Table(id="catalog", cursor_type="row", zebra_stripes=True)
            yield Static("", id="project-detail")
        with TabPane("Waves", id="tab-waves"):
            yield Table(id="waves", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="wave-notes-scroll"):
                yield Static("", id="wave-notes")

    def compose_below_tabs(self) -> ComposeResult:
        yield Static("", id="selection")

    def compose_actions(self) -> ComposeResult:
        if not self.review:
            yield Button("Suggest first wave", id="suggest")
            yield Button("Add to wave…", id="add", variant="primary", disabled=True)
            yield Button("Continue", id="continue", variant="success", disabled=True)

    def on_unmount(self) -> None:
        # The catalog was read with the heap left frozen (no full-GC pause while it is shown); leaving
        # the screen hands it back to normal collection.
        heap.unfreeze()

    def on_mount(self) -> None:
        self.title = "octowiz — Waves"
        table = self.query_one("#catalog", DataTable)
        # Two-line headers keep the narrow columns narrow: more of them fit beside the step list.
        table.header_height = 2
        for label, key in (
            ("Project", "project"),
            ("Readiness", "readiness"),
            ("Migration", "state"),
            ("Releases", "releases"),
            ("Last\ndeployed", "last"),
            ("Targets", "targets"),
            ("Triggers", "triggers"),
            ("Logo", "logo"),
            ("Built-in\npackages", "packages"),
            ("In Git", "git"),
            ("Disabled", "disabled"),
        ):
            table.add_column(label, key=key)
        self.query_one("#waves", DataTable).add_columns("Wave", "Project", "Readiness", "Migration")
        self.action_reload()

    # -- reading ---------------------------------------------------------------------------------

    def action_reload(self) -> None:
        if self.busy:
            return
        self._set_busy(True, "Reading the Server's projects (read-only)…")
        self.read()

    @work(exclusive=True, group="waves-read", exit_on_error=False)
    async def read(self) -> None:
        """The journal's part in a thread, then the Server's projects (requests only)."""

        def from_journal() -> tuple[JournalView, dict[str, Any]]:
            return journal_view(self.journal), self.journal.settings

        try:
            view, settings = await asyncio.to_thread(from_journal)
        except JournalError as exc:
            self.post_message(CatalogFailed(str(exc)))
            return
        try:
            async with clients(self.context, settings, destination=False) as (source, _):
                catalog = await build_catalog(source, view, stay_frozen=True)
        except OctopusError as exc:
            self.post_message(CatalogFailed(str(exc), view))
            return
        self.post_message(CatalogLoaded(catalog, view.waves))

    def _set_busy(self, on: bool, note: str = "") -> None:
        self.busy = on
        self.query_one(f"#{self.BUSY_ID}", LoadingIndicator).display = on
        if on:
            self.query_one(f"#{self.SUMMARY_ID}", Static).update(Text(note, style="italic"))
        self._buttons()

    def _buttons(self) -> None:
        for button in self.query("#suggest").results(Button):
            button.disabled = self.busy or self.catalog is None
        for button in self.query("#add").results(Button):
            button.disabled = self.busy or not self.selected
        for button in self.query("#continue").results(Button):
            button.disabled = self.busy or not self.waves
        for button in self.query("#back").results(Button):
            button.disabled = self.saving
        self.refresh_bindings()  # the footer offers what check_action allows now

    def on_catalog_failed(self, message: CatalogFailed) -> None:
        self._set_busy(False)
        if message.view is not None and self.catalog is None:
            # The plan is in the journal: show it even when the Server cannot be read (say, after cut-over).
            self.waves, self.fallback = message.view.waves, message.view
            self._fill_waves()
            self._show_selection()
        self.query_one(f"#{self.SUMMARY_ID}", Static).update(
            Text(f"✘ The projects could not be read: {message.sentence}", style="red")
        )

    def on_catalog_loaded(self, message: CatalogLoaded) -> None:
        self.catalog, self.waves = message.catalog, message.waves
        self.rows = {r.id: r for r in message.catalog.rows}
        known = {r.id for r in message.catalog.rows}
        self.selected = [pid for pid in self.selected if pid in known]
        self._set_busy(False)
        self._show(focus=True)

    # -- showing ---------------------------------------------------------------------------------

    def _show(self, *, focus: bool = False) -> None:
        """The summary, the catalog (focused if ``focus`` or if it has the focus now), waves, selection."""
        catalog = self.catalog
        if catalog is None:
            return
        tally = {s: sum(1 for r in catalog.rows if r.readiness == s) for s in READINESS_STYLE}
        groups = len(catalog.groups())
        planned = sum(len(ids) for ids in self.waves.values())
        summary = Text()
        summary.append(f"{len(catalog.rows)} projects in {groups} groups: ")
        summary.append(f"{tally['ready']} ready", style="green")
        summary.append(", ")
        summary.append(f"{tally['needs attention']} need attention", style="yellow")
        summary.append(", ")
        summary.append(f"{tally['blocked']} blocked", style="bold red" if tally["blocked"] else "")
        if tally["not scanned"]:
            summary.append(f", {tally['not scanned']} not scanned (run the Differences scan)")
        n = len(self.waves)
        summary.append(f". {planned} planned in {n} wave{'s' if n != 1 else ''}.")
        for part, why in catalog.problems.items():
            summary.append(f"\n! Could not read {part}: {why}", style="yellow")
        self.query_one(f"#{self.SUMMARY_ID}", Static).update(summary)
        self._fill_catalog(focus=focus)
        self._fill_waves()
        self._show_selection()

    def _mark(self, row: ProjectRow) -> Text:
        text = Text("  ")
        if self.review:
            text.append(row.name)
            return text
        chosen = row.id in self.selected
        text.append("● " if chosen else "○ ", style="bold green" if chosen else "bright_black")
        text.append(row.name, style="bold" if chosen else "")
        return text

    def _group_label(self, group: str, rows: list[ProjectRow]) -> Text:
        arrow = "▶" if group in self.collapsed else "▼"
        text = Text(f"{arrow} {group}", style="bold")
        text.append(f" ({len(rows)})", style="bright_black")
        return text

    def _fill_catalog(self, *, focus: bool = False) -> None:
        table = self.query_one("#catalog", DataTable)
        self._fill_catalog_rows(self._cursor_key(), focus or table.has_focus)

    @work(exclusive=True, group="waves-table", exit_on_error=False)
    async def _fill_catalog_rows(self, key: str | None, focus: bool) -> None:
        """The catalog's rows go into the table in batches, yielding between them: with thousands of
        projects the screen stays live while it fills. The table ends with the focus if ``focus``."""
        assert self.catalog is not None
        table = self.query_one("#catalog", Table)
        # Slice by slice (see octowiz.tui.tables): the table measures every row added since it was
        # last idle in one go, which for thousands stalls; more than a few screenfuls fill hidden, and
        # are then revealed a few lines per paint.
        many = fill_hidden(table, len(self.catalog.rows))
        if many:
            await self.footer_painted()  # the footer offers new keys now: painted before, not beside
        table.clear()

        def rows() -> Iterator[Row]:
            assert self.catalog is not None
            for group, members in self.catalog.groups().items():
                yield [self._group_label(group, members), *[""] * 10], GROUP_PREFIX + group
                if group in self.collapsed:
                    continue
                for r in members:
                    yield (
                        [
                            self._mark(r),
                            Text(r.readiness, style=READINESS_STYLE.get(r.readiness, "")),
                            Text(r.state, style=state_style(r.state)),
                            Text(f"{r.releases:,}", justify="right"),
                            Text(
                                r.last_deployment or "never",
                                style="" if r.last_deployment else "bright_black",
                            ),
                            Text(str(r.targets), justify="right"),
                            Text(str(r.triggers), justify="right"),
                            Text("yes" if r.logo else ""),
                            Text(str(r.builtin_packages) if r.builtin_packages else "", justify="right"),
                            Text("yes" if r.version_controlled else ""),
                            Text("yes", style="yellow") if r.disabled else Text(""),
                        ],
                        r.id,
                    )

        busy = self.query_one(f"#{self.BUSY_ID}", LoadingIndicator)
        focused = self.focused
        if many:
            busy.display = True
        elif focus:
            table.focus()
        try:
            # Thousands of new cells: kept out of full GC passes (one walked them all, 45 ms, mid-fill)
            # until the screen closes (on_unmount).
            async with heap.kept_out_of_full_gc(stay_frozen=True):
                await add_rows(table, rows(), hidden=many)
        except BaseException:
            busy.display = self.busy
            raise
        if key is not None:
            with contextlib.suppress(RowDoesNotExist):  # the row is in a collapsed group now
                table.move_cursor(row=table.get_row_index(key), animate=False)
        self._detail()
        if many:
            # Everything that renders the table's lines again (focus, cursor, the detail's height)
            # is set before the first of them is shown; the focus in a paint of its own (the footer
            # shows the table's keys, the tab strip restyles).
            if focus and self.focused in (None, focused):  # unless the person moved it meanwhile
                table.focus()
                await self.painted()
            busy.display = self.busy
            await reveal(table, self.painted)

    def _cursor_key(self) -> str | None:
        table = self.query_one("#catalog", DataTable)
        if table.row_count == 0:
            return None
        try:
            key: RowKey = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return key.value

    def project_name(self, project_id: str) -> str:
        if self.catalog is not None:
            row = self.rows.get(project_id)
            return row.name if row else project_id
        scan = self.fallback.readiness if self.fallback else None
        return (
            next((p.name for p in scan.projects if p.project_id == project_id), project_id)
            if scan
            else project_id
        )

    def _fill_waves(self) -> None:
        table = self.query_one("#waves", DataTable)
        table.clear()
        if self.catalog is None and self.fallback is None:
            return
        for wave, ids in self.waves.items():
            for i, pid in enumerate(ids):
                row = self.rows.get(pid)
                if row is not None:
                    readiness, state = row.readiness, row.state
                elif self.fallback is not None:
                    scan = self.fallback.readiness
                    verdict = (
                        next((p.status for p in scan.projects if p.project_id == pid), None) if scan else None
                    )
                    readiness = verdict or "not scanned"
                    state = project_state(self.fallback.items_of(pid), wave)
                else:
                    readiness, state = "unknown", "not on the Server any more"
                table.add_row(
                    Text(wave, style="bold") if i == 0 else "",
                    self.project_name(pid),
                    Text(readiness, style=READINESS_STYLE.get(readiness, "")),
                    Text(state, style=state_style(state)),
                    key=f"{wave}/{pid}",
                )
        notes = Text()
        if not self.waves:
            notes.append("No waves yet: select projects on the Projects tab and add them to a wave.")
        if self.last_check is not None and self.catalog is not None:
            wave, check = self.last_check
            final = self.waves.get(wave, check.projects)
            notes.append(f"When {wave} was saved:\n", style="bold")
            notes.append_text(describe_check(self.catalog, wave, final, check, saved=True))
        self.query_one("#wave-notes", Static).update(notes)

    def _show_selection(self) -> None:
        line = Text()
        if self.waves:
            line.append("Waves: ", style="bold")
            line.append(
                "; ".join(
                    f"{w}: " + ", ".join(self.project_name(pid) for pid in ids)
                    for w, ids in self.waves.items()
                )
            )
        if not self.review:
            if line:
                line.append("\n")
            if self.selected and self.catalog is not None:
                line.append(f"Selected ({len(self.selected)}): ", style="bold")
                line.append(", ".join(self.project_name(pid) for pid in self.selected))
            else:
                line.append(
                    "Select projects with space (a group's row selects the group), or Suggest first wave.",
                    style="bright_black",
                )
        self.query_one("#selection", Static).update(line)
        self._buttons()

    @on(DataTable.RowHighlighted, "#catalog")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.row_key.value)

    def _detail(self, key: str | None = None) -> None:
        panel = self.query_one("#project-detail", Static)
        key = key if key is not None else self._cursor_key()
        catalog = self.catalog
        if catalog is None or key is None:
            panel.update("")
            return
        if key.startswith(GROUP_PREFIX):
            group = key.removeprefix(GROUP_PREFIX)
            rows = catalog.groups().get(group, [])
            hint = "" if self.review else "; space selects its projects that are not disabled"
            verb = "expands" if group in self.collapsed else "collapses"
            panel.update(Text(f"{group}: {len(rows)} projects. Enter {verb} the group{hint}."))
            return
        row = catalog.by_id(key)
        if row is None:
            panel.update("")
            return
        text = Text()
        text.append(row.name, style="bold")
        text.append(f"  ({row.id}, {row.group})  ")
        text.append(row.readiness, style=READINESS_STYLE.get(row.readiness, ""))
        text.append(" · ")
        text.append(row.state, style=state_style(row.state))
        text.append(
            f"\n{row.releases:,} releases, last deployed {row.last_deployment or 'never'}; "
            f"{row.targets} target(s); {row.triggers} trigger(s)"
            f"{', an uploaded logo' if row.logo else ''}; "
            f"{row.builtin_packages} built-in package version(s)"
        )
        if row.triggers or row.logo or row.builtin_packages:
            text.append(" — Export/Import leaves these behind; octowiz copies them after the import.")
        if row.version_controlled:
            text.append("\nVersion-controlled: reconnect its Git repository on Cloud after the import.")
        if row.disabled:
            text.append("\nDisabled on the Server.", style="yellow")
        if row.references:
            text.append(
                "\nDeploys (Deploy a Release): "
                + ", ".join(catalog.name(r) for r in row.references)
                + " — they migrate in the same wave."
            )
        shared = catalog.resources.get(row.id, [])
        if shared:
            text.append("\nShares: " + ", ".join(f"{kind} '{name}'" for kind, name in shared))
        panel.update(text)

    # -- selecting -------------------------------------------------------------------------------

    def action_select(self) -> None:
        if self.review or self.catalog is None:
            return
        key = self._cursor_key()
        if key is None:
            return
        before = set(self.selected)
        if key.startswith(GROUP_PREFIX):
            rows = self.catalog.groups().get(key.removeprefix(GROUP_PREFIX), [])
            ids = [r.id for r in rows if not r.disabled]
            if ids and all(pid in self.selected for pid in ids):
                self.selected = [pid for pid in self.selected if pid not in ids]
            else:
                self.selected += [pid for pid in ids if pid not in self.selected]
        elif key in self.selected:
            self.selected.remove(key)
        else:
            self.selected.append(key)
        self._refresh_marks(before ^ set(self.selected))

    def _refresh_marks(self, changed: set[str]) -> None:
        """Redraw the marks of the rows whose selection changed, in place (the cursor stays put)."""
        assert self.catalog is not None
        table = self.query_one("#catalog", DataTable)
        for pid in changed:
            row = self.rows.get(pid)
            if row is not None and row.group not in self.collapsed:
                table.update_cell(pid, "project", self._mark(row))
        self._show_selection()

    @on(DataTable.RowSelected, "#catalog")
    def _selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a group row folds or unfolds it."""
        key = event.row_key.value
        if key is None or not key.startswith(GROUP_PREFIX):
            return
        group = key.removeprefix(GROUP_PREFIX)
        self.collapsed ^= {group}
        self._fill_catalog()

    def action_suggest(self) -> None:
        if self.review or self.catalog is None or self.busy:
            return
        suggested = suggest_first_wave(self.catalog)
        if not suggested:
            self.notify(
                "No project fits a first wave: every one is blocked, disabled, in Git, already planned or "
                "part of a Deploy a Release chain.",
                title="Suggest",
                severity="warning",
            )
            return
        before = set(self.selected)
        self.selected = suggested
        self._refresh_marks(before ^ set(suggested))
        names = ", ".join(self.catalog.name(pid) for pid in suggested)
        self.notify(f"Selected {names}: ready first, then the least recently deployed.", title="Suggested")

    # -- planning --------------------------------------------------------------------------------

    def action_add(self) -> None:
        if self.review or self.catalog is None or self.busy or not self.selected:
            return
        catalog = self.catalog

        def chosen(request: WaveRequest | None) -> None:
            if request is not None:
                self.saving = True
                self._set_busy(True, f"Saving {request.wave}…")
                self.save_wave(catalog, request)

        self.app.push_screen(AddToWaveDialog(catalog, list(self.selected), dict(self.waves)), chosen)

    @work(exclusive=True, group="waves-plan", exit_on_error=False)
    async def save_wave(self, catalog: Catalog, request: WaveRequest) -> None:
        """Record the wave (checked again against the journal as it is now), then read the new states."""

        def plan() -> tuple[WaveCheck, Catalog, dict[str, list[str]]]:
            check = plan_wave(self.journal, catalog, request.wave, request.project_ids)
            view = journal_view(self.journal)
            return check, refresh(catalog, view), view.waves

        try:
            check, updated, waves = await asyncio.to_thread(plan)
        except (WaveError, JournalError) as exc:
            self.post_message(PlanRefused(str(exc)))
            return
        self.post_message(WavePlanned(request.wave, check, updated, waves))

    def on_wave_planned(self, message: WavePlanned) -> None:
        self.catalog, self.waves = message.catalog, message.waves
        self.rows = {r.id: r for r in message.catalog.rows}
        self.last_check = (message.wave, message.check)
        self.selected = []
        self.saving = False
        self._set_busy(False)
        self._show()
        ids = self.waves.get(message.wave, [])
        self.notify(
            f"{message.wave}: " + ", ".join(message.catalog.name(pid) for pid in ids) + ".",
            title="Wave saved",
        )

    def on_plan_refused(self, message: PlanRefused) -> None:
        self.saving = False
        self._set_busy(False)
        self._show()
        self.query_one(f"#{self.SUMMARY_ID}", Static).update(
            Text(f"✘ The wave was not saved: {message.sentence}", style="red")
        )

    # -- leaving ---------------------------------------------------------------------------------

    def action_continue(self) -> None:
        if not self.review and self.waves and not self.busy:
            self.dismiss("done")

    def action_back(self) -> None:
        if not self.saving:
            self.workers.cancel_group(self, "waves-read")  # reading is read-only: safe to drop
            self.dismiss("welcome")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("select", "suggest", "add"):
            if self.review:
                return False
            if action == "add":
                return bool(self.selected) and not self.busy
            return self.catalog is not None and not self.busy
        if action == "continue":
            return not self.review and bool(self.waves) and not self.busy
        if action == "reload":
            return not self.busy
        if action == "back":
            return not self.saving
        return True

    @on(Button.Pressed, "#suggest, #add, #continue, #back")
    async def _pressed(self, event: Button.Pressed) -> None:
        await self.run_action(str(event.button.id))
