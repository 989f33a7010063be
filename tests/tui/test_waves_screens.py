"""Waves and Migrate, driven as a user would (Pilot), against the demo simulator.

The screens are pushed by a small host app the way the wizard's flow pushes a step, and what they dismiss
is recorded. Each test asserts what the user reads, what the journal recorded, and what the simulator was
asked. The simulated tasks are made short and Cloud's client-side rate budget is lifted (it exists to be
polite to a real Octopus Cloud, and would make a wave take half a minute here).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, DataTable, Input, RichLog, Static, TabbedContent

from octowiz.engine.context import Context
from octowiz.engine.migrate.run import WaveSettings
from octowiz.engine.migrate.waves import suggest_first_wave
from octowiz.engine.prepare.scanning import run_readiness
from octowiz.journal import Journal
from octowiz.octopus.urls import normalise_base_url
from octowiz.sim.config import InstanceConfig
from octowiz.sim.simulator import Simulator
from octowiz.tui import tables
from octowiz.tui.screens.migrate import MigrateScreen, PasswordDialog, PreviewDialog
from octowiz.tui.screens.waves import AddToWaveDialog, WavesScreen
from octowiz.tui.styles import css_path
from octowiz.tui.tables import Table
from tests.engine.test_migrate import fast_sim as migrate_fast_sim
from tests.tui.test_paint_in_turns import _changes, _record_paints, _table_state
from tests.tui.tuikit import connected, demo_context, settle

SIZE = (130, 44)
NAME = "acme"
PASSWORD = "horse-42"  # short: Pilot types it key by key
FAST: dict[str, Any] = {"task_queued_seconds": 0.01, "task_executing_seconds": 0.03}
SETTINGS = WaveSettings(poll_interval=0.01)
#: Two projects with uploaded logos, triggers and built-in feed packages, and a runbook-only one.
WAVE = {"Projects-1": "Acme Web", "Projects-3": "Acme Database", "Projects-9": "Ops Toolkit"}
STATUSES = {"connect": "done", "differences": "done", "connectivity": "done", "users": "done"}


class Host(App[None]):
    """Pushes one step screen, as the wizard's flow does, and keeps what it dismissed."""

    CSS_PATH = css_path()
    TITLE = "octowiz"

    def __init__(self, make: Callable[[], Screen[str]]) -> None:
        super().__init__()
        self.make = make
        self.dismissed: list[str | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.make(), self.dismissed.append)


HostPilot = Pilot[None]


def fast_sim() -> Simulator:
    return migrate_fast_sim()  # the demo with its run-on-server steps moved to workers, as the guide says


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = fast_sim()
    yield s
    s.close()


async def scanned(tmp: Path, sim: Simulator) -> tuple[Context, Journal]:
    """Connected, with the readiness scan recorded (the Differences step before Waves)."""
    ctx = demo_context(tmp, sim)
    journal = connected(ctx, sim, NAME)
    await run_readiness(ctx, journal)
    sim.server.requests.clear()
    sim.cloud.requests.clear()
    return ctx, journal


async def until(pilot: HostPilot, condition: Callable[[], bool], what: str, *, within: float = 120.0) -> None:
    """Let the app run until ``condition`` holds (a run waiting on a dialog never settles).

    ``within`` seconds is a guard against a hang, never waited out when all is well: a wave's run took
    over 20 s (the old guard) when the shared machine ran at half its speed.
    """
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.005)


def on_top(app: App[Any], screen: Screen[Any]) -> bool:
    """The screen the user sees now is ``screen`` (a function: no narrowing of either side)."""
    return app.screen is screen


def text(screen: Screen[Any], selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def rows(table: DataTable[Any]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def mutating(sim: Simulator) -> list[tuple[str, str]]:
    return [
        (r.method, r.path) for inst in (sim.server, sim.cloud) for r in inst.requests if r.method != "GET"
    ]


# -- Waves ---------------------------------------------------------------------------------------------


async def test_the_catalog_lists_the_demo_by_group_with_each_projects_values(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await scanned(tmp_path, sim)
    app = Host(lambda: WavesScreen(ctx, journal, STATUSES))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WavesScreen)
        summary = text(screen, "#waves-summary")
        assert summary.startswith("13 projects in 3 groups: 1 ready, 9 need attention, 3 blocked.")
        listed = rows(screen.query_one("#catalog", DataTable))
        groups = [row[0] for row in listed if row[0].startswith("▼")]
        assert groups == ["▼ Back Office (5)", "▼ Platform (3)", "▼ Web Applications (5)"]
        by_name = {row[0].strip()[2:]: row[1:] for row in listed if not row[0].startswith("▼")}
        assert len(by_name) == 13
        # Readiness, migration, releases, last deployed, targets, triggers, logo, packages, Git, disabled.
        assert by_name["Customer Portal"] == [
            "blocked", "not planned", "2,150", "2026-03-01", "7", "0", "", "4", "", ""
        ]  # fmt: skip
        assert by_name["Acme Web"] == [
            "needs attention", "not planned", "4", "2026-03-02", "7", "2", "yes", "4", "", ""
        ]  # fmt: skip
        assert by_name["Ops Toolkit"][3] == "never"
        assert by_name["Storefront"][8] == "yes"  # version-controlled
        assert by_name["Legacy Billing"][9] == "yes"  # disabled
        assert by_name["Release Orchestrator"][0] == "ready"
        # The highlighted project's details, including what its Deploy a Release steps bring.
        table = screen.query_one("#catalog", DataTable)
        table.move_cursor(row=table.get_row_index("Projects-5"))
        await settle(pilot)
        assert "Deploys (Deploy a Release): Acme Web, Acme API" in text(screen, "#project-detail")
        # Enter folds a group, and again unfolds it.
        table.move_cursor(row=0)
        await pilot.press("enter")
        await settle(pilot)
        assert table.row_count == 13 + 3 - 5
        await pilot.press("enter")
        await settle(pilot)
        assert table.row_count == 13 + 3
    assert mutating(sim) == []  # read-only


async def test_a_catalog_filled_hidden_is_shown_a_few_lines_a_paint_and_keeps_the_focus(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large Server's catalog (thousands of rows) fills hidden, then shows its header, then a few more
    # lines at each paint; the table ends with the focus, as a small catalog's does. Here the demo's
    # 16 rows count as large: one row a slice, and three lines a paint.
    monkeypatch.setattr(tables, "CELLS_PER_SLICE", 1)
    monkeypatch.setattr(tables, "LINES_PER_PAINT", 3)
    ctx, journal = await scanned(tmp_path, sim)
    app = Host(lambda: WavesScreen(ctx, journal, STATUSES))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, WavesScreen), "the Waves step")
        screen = app.screen
        assert isinstance(screen, WavesScreen)
        table = screen.query_one("#catalog", Table)
        paints = _record_paints(screen, _table_state(screen, table))
        await settle(pilot)
        shown = [(lines, focus) for display, lines, count, focus in paints if display and count == 16]
        steps = _changes(shown)
        lines = [n for n, _ in steps]
        assert lines[0] == 2 and lines[-1] is None and len(lines) > 4  # the header, ..., every line
        assert all(later == before + 3 for before, later in zip(lines[:-2], lines[1:-1], strict=True))
        assert all(focus == "Table" for _, focus in steps)
        assert not any(display and 0 < count < 16 for display, _, count, _ in paints)  # never shown half-full
        await pilot.press("down")
        await settle(pilot)
        assert table.cursor_row == 1 and text(screen, "#project-detail").startswith("Acme")
        # Enter folds the group and fills the table again: the focus comes back to it.
        await pilot.press("up", "enter")
        await settle(pilot)
        assert table.row_count == 16 - 5 and screen.focused is table and table.shown_lines is None


async def test_suggest_selects_the_engines_first_wave_and_marks_it(tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = await scanned(tmp_path, sim)
    app = Host(lambda: WavesScreen(ctx, journal, STATUSES))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WavesScreen) and screen.catalog is not None
        assert screen.query_one("#add", Button).disabled  # nothing selected yet
        await pilot.press("ctrl+s")
        await settle(pilot)
        expected = suggest_first_wave(screen.catalog)
        assert screen.selected == expected and len(expected) == 3
        marked = [r[0].strip()[2:] for r in rows(screen.query_one("#catalog", DataTable)) if "●" in r[0]]
        names = [screen.catalog.name(pid) for pid in expected]
        assert sorted(marked) == sorted(names)
        assert all(screen.catalog.by_id(pid).readiness != "blocked" for pid in expected)  # type: ignore[union-attr]
        assert text(screen, "#selection") == "Selected (3): " + ", ".join(names)
        assert not screen.query_one("#add", Button).disabled


async def test_space_selects_a_project_or_a_groups_projects_that_are_not_disabled(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await scanned(tmp_path, sim)
    app = Host(lambda: WavesScreen(ctx, journal, STATUSES))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WavesScreen)
        table = screen.query_one("#catalog", DataTable)
        table.move_cursor(row=table.get_row_index("Projects-1"))
        await pilot.press("space")
        assert screen.selected == ["Projects-1"]
        assert "● Acme Web" in str(table.get_row("Projects-1")[0])
        await pilot.press("space")
        assert screen.selected == []
        assert "○ Acme Web" in str(table.get_row("Projects-1")[0])
        table.move_cursor(row=table.get_row_index("group:Back Office"))
        await pilot.press("space")
        chosen = {screen.catalog.name(pid) for pid in screen.selected}  # type: ignore[union-attr]
        assert chosen == {"Acme Database", "Data Warehouse Loader", "Intranet CMS", "Reporting Service"}
        await pilot.press("space")  # the whole group again: unselects it
        assert screen.selected == []


async def test_adding_release_orchestrator_brings_acme_web_and_api_and_saves_the_wave(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await scanned(tmp_path, sim)
    app = Host(lambda: WavesScreen(ctx, journal, STATUSES))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WavesScreen)
        assert screen.query_one("#continue", Button).disabled  # no wave yet
        table = screen.query_one("#catalog", DataTable)
        table.move_cursor(row=table.get_row_index("Projects-5"))
        await pilot.press("space", "ctrl+w")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, AddToWaveDialog)
        assert dialog.query_one("#wave-name", Input).value == "wave 1"
        check = text(dialog, "#wave-check")
        assert "wave 1 will hold: Acme Web, Acme API, Release Orchestrator." in check
        assert (
            "Acme Web is added because step 'Deploy Acme Web' of Release Orchestrator deploys it "
            "(Deploy a Release)" in " ".join(check.split())
        )
        assert (
            "Acme API is added because step 'Deploy Acme API' of Release Orchestrator deploys it"
            in " ".join(check.split())
        )
        assert "Warnings:" in check and "need attention in the readiness scan" in check
        assert "Cannot be planned" not in check
        with Journal.open(journal.path, lock=False) as other:
            assert other.waves() == {}  # nothing is recorded before Save
        await pilot.click("#save")
        await settle(pilot)
        assert on_top(app, screen)
        assert journal.waves() == {"wave 1": ["Projects-1", "Projects-2", "Projects-5"]}
        listed = {row[0].strip()[2:]: row[2] for row in rows(table) if not row[0].startswith("▼")}
        assert [listed[n] for n in ("Acme Web", "Acme API", "Release Orchestrator")] == [
            "planned: wave 1"
        ] * 3
        assert listed["Customer Portal"] == "not planned"
        waves = rows(screen.query_one("#waves", DataTable))
        assert [(r[0], r[1]) for r in waves] == [
            ("wave 1", "Acme Web"),
            ("", "Acme API"),
            ("", "Release Orchestrator"),
        ]
        assert "When wave 1 was saved:" in text(screen, "#wave-notes")
        assert text(screen, "#selection").startswith(
            "Waves: wave 1: Acme Web, Acme API, Release Orchestrator"
        )
        assert screen.selected == []
        assert not screen.query_one("#continue", Button).disabled
        await pilot.press("ctrl+n")
        await until(pilot, lambda: bool(app.dismissed), "the step to end")
    assert app.dismissed == ["done"]
    assert mutating(sim) == []


async def test_a_wave_that_conflicts_cannot_be_saved_and_cancel_plans_nothing(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await scanned(tmp_path, sim)
    app = Host(lambda: WavesScreen(ctx, journal, STATUSES))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WavesScreen)
        table = screen.query_one("#catalog", DataTable)
        table.move_cursor(row=table.get_row_index("Projects-4"))  # Customer Portal: blocked
        await pilot.press("space", "ctrl+w")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, AddToWaveDialog)
        check = text(dialog, "#wave-check")
        assert "Cannot be planned:" in check and "Customer Portal is blocked by the readiness scan" in check
        assert dialog.query_one("#save", Button).disabled
        await pilot.press("enter")  # Enter in the name does not save a wave that conflicts
        await settle(pilot)
        assert on_top(app, dialog)
        await pilot.press("escape")
        await settle(pilot)
        assert on_top(app, screen)
        assert screen.selected == ["Projects-4"]  # the selection is kept to change it
    assert journal.waves() == {}


async def test_review_shows_the_plan_read_only(tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = await scanned(tmp_path, sim)
    journal.set_wave("wave 1", ["Projects-9"])
    app = Host(lambda: WavesScreen(ctx, journal, STATUSES, review=True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WavesScreen)
        assert [b.id for b in screen.query(Button)] == ["back"]
        table = screen.query_one("#catalog", DataTable)
        table.move_cursor(row=table.get_row_index("Projects-1"))
        await pilot.press("space", "ctrl+s", "ctrl+w")
        await settle(pilot)
        assert on_top(app, screen) and screen.selected == []
        assert "○" not in str(table.get_row("Projects-1")[0])  # no selection marks to tempt anyone
        assert text(screen, "#selection") == "Waves: wave 1: Ops Toolkit"
        await pilot.press("ctrl+b")
        await until(pilot, lambda: bool(app.dismissed), "the step to end")
    assert app.dismissed == ["welcome"]
    assert journal.waves() == {"wave 1": ["Projects-9"]}


async def test_the_plan_still_shows_when_the_server_cannot_be_read(tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = await scanned(tmp_path, sim)
    journal.set_wave("wave 1", ["Projects-1", "Projects-2", "Projects-5"])
    ctx.demo_keys[normalise_base_url(sim.server_url)] = "API-FAKEWRONGKEY000000000000"
    app = Host(lambda: WavesScreen(ctx, journal, STATUSES, review=True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WavesScreen)
        assert text(screen, "#waves-summary").startswith("✘ The projects could not be read: ")
        waves = rows(screen.query_one("#waves", DataTable))
        assert waves == [
            ["wave 1", "Acme Web", "needs attention", "planned: wave 1"],
            ["", "Acme API", "needs attention", "planned: wave 1"],
            ["", "Release Orchestrator", "ready", "planned: wave 1"],
        ]
        assert text(screen, "#selection") == "Waves: wave 1: Acme Web, Acme API, Release Orchestrator"


# -- Migrate -------------------------------------------------------------------------------------------


async def planned(tmp: Path, sim: Simulator, ids: list[str]) -> tuple[Context, Journal]:
    ctx, journal = await scanned(tmp, sim)
    journal.set_wave("wave 1", ids)
    return ctx, journal


def migrate_app(ctx: Context, journal: Journal, *, review: bool = False) -> Host:
    return Host(lambda: MigrateScreen(ctx, journal, STATUSES, review=review, settings=SETTINGS))


@contextlib.asynccontextmanager
async def migrate_shown(tmp: Path, sim: Simulator) -> AsyncIterator[tuple[Host, HostPilot, MigrateScreen]]:
    """The Migrate screen on the demo's planned wave, settled."""
    ctx, journal = await planned(tmp, sim, list(WAVE))
    app = migrate_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MigrateScreen)
        yield app, pilot, screen


async def start(pilot: HostPilot, password: str = PASSWORD, again: str | None = None) -> None:
    """Migrate wave…, and the password twice."""
    await pilot.press("ctrl+g")
    await settle(pilot)
    assert isinstance(pilot.app.screen, PasswordDialog)
    await pilot.press(*password, "enter", *(password if again is None else again), "enter")


async def test_the_password_dialog_refuses_mismatched_or_empty_passwords(
    tmp_path: Path, sim: Simulator
) -> None:
    async with migrate_shown(tmp_path, sim) as (app, pilot, screen):
        await start(pilot, "one-pw", "two-pw")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, PasswordDialog)
        assert (
            text(dialog, "#password-error")
            == "The two passwords differ: type the same password in both fields."
        )
        assert dialog.query_one("#password", Input).password and dialog.query_one("#again", Input).password
        # Neither can be read back, so both are emptied and typing starts again in the first.
        assert [i.value for i in dialog.query(Input)] == ["", ""]
        assert app.focused is dialog.query_one("#password", Input)
        await pilot.click("#start")
        await settle(pilot)
        assert text(dialog, "#password-error") == "Enter a password."
        await pilot.press("escape")
        await settle(pilot)
        assert on_top(app, screen) and not screen.running
    assert sim.server.requests == [] and sim.cloud.requests == []  # nothing ran


async def test_a_wave_migrates_end_to_end_and_every_project_shows_verified(
    tmp_path: Path, sim: Simulator
) -> None:
    async with migrate_shown(tmp_path, sim) as (app, pilot, screen):
        journal = screen.journal
        before = rows(screen.query_one("#results", DataTable))
        assert [(r[0], r[1]) for r in before] == [(n, "not started") for n in WAVE.values()]
        await start(pilot)
        await until(pilot, lambda: isinstance(app.screen, PreviewDialog), "the import preview")
        preview = app.screen
        assert isinstance(preview, PreviewDialog)
        shown = text(preview, "#preview-lines")
        assert "Projects to create: Acme Web, Acme Database, Ops Toolkit." in shown
        assert screen.query_one("#migrate-tabs", TabbedContent).active == "tab-progress"
        assert "▶ preview" in text(screen, "#stages")
        await pilot.click("#import")
        await until(pilot, lambda: not screen.running, "the end of the wave")
        await settle(pilot)
        assert on_top(app, screen)
        assert text(screen, "#migrate-summary").startswith("wave 1: 3 verified.")
        results = rows(screen.query_one("#results", DataTable))
        assert [(r[0], r[1]) for r in results] == [(n, "verified") for n in WAVE.values()]
        assert results[0][2:] == ["✔ Projects-1", "✔ 4 copied", "✔ copied", "✔ 2", "✔ verified"]
        assert screen.query_one("#migrate-tabs", TabbedContent).active == "tab-results"
        verification = rows(screen.query_one("#verification", DataTable))
        assert [(r[0], r[1]) for r in verification] == [(n, "✔ verified") for n in WAVE.values()]
        happened = "\n".join(strip.text for strip in screen.query_one("#events", RichLog).lines)
        assert "[verify] Verifying Ops Toolkit" in happened
        assert not screen.query_one("#continue", Button).disabled  # every wave is verified
        await pilot.press("ctrl+n")
        await until(pilot, lambda: bool(app.dismissed), "the step to end")
    assert app.dismissed == ["done"]
    with Journal.open(journal.path, lock=False) as record:
        assert {i: s for _, i, stage, s, _ in record.items("project") if stage == "verify"} == dict.fromkeys(
            WAVE, "done"
        )
    # The password went to Octopus and nowhere else: not into the journal.
    for path in journal.path.parent.glob(journal.path.name + "*"):
        assert PASSWORD.encode() not in path.read_bytes()


async def test_a_runs_start_and_end_are_painted_a_part_at_a_time(tmp_path: Path, sim: Simulator) -> None:
    # Each was one paint of the whole tab (with the focus moving in it), the run's longest stalls.
    # At the start: the Progress tab, the focus leaving the results table as it hides it; then the
    # tab's logs; then the run's summary, stages and buttons (Stop in Migrate's place). At the end:
    # the summary and buttons; the Results tab with its table focused but out of the layout and its
    # detail invisible in its room; then the table, at its final height; then the detail.
    async with migrate_shown(tmp_path, sim) as (app, pilot, screen):
        tabs = screen.query_one("#migrate-tabs", TabbedContent)

        def state() -> tuple[str, str, bool, bool, bool, bool]:
            return (
                str(tabs.active),
                type(screen.focused).__name__,
                screen.query_one("#events").display,
                screen.query_one("#results").display,
                screen.query_one("#result-detail").visible,
                screen.query_one("#stop").display,
            )

        paints = _record_paints(screen, state)
        await start(pilot)
        await until(pilot, lambda: isinstance(app.screen, PreviewDialog), "the import preview")
        await pilot.click("#import")
        await until(pilot, lambda: not screen.running, "the end of the wave")
        await settle(pilot)
    steps = _changes(paints)
    assert steps == [
        ("tab-results", "Table", True, True, True, False),  # as the dialog is gone
        ("tab-progress", "ContentTabs", False, True, True, False),
        ("tab-progress", "ContentTabs", True, True, True, False),
        ("tab-progress", "ContentTabs", True, True, True, True),
        ("tab-progress", "ContentTabs", True, True, True, False),  # ended: its summary and buttons
        ("tab-results", "Table", True, False, False, False),
        ("tab-results", "Table", True, True, False, False),
        ("tab-results", "Table", True, True, True, False),
    ]


async def test_cancelling_the_preview_imports_nothing_and_the_screen_stays_usable(
    tmp_path: Path, sim: Simulator
) -> None:
    async with migrate_shown(tmp_path, sim) as (app, pilot, screen):
        await start(pilot)
        await until(pilot, lambda: isinstance(app.screen, PreviewDialog), "the import preview")
        await pilot.press("escape")
        await until(pilot, lambda: not screen.running, "the end of the wave")
        await settle(pilot)
        summary = text(screen, "#migrate-summary")
        assert "✘ The import was not confirmed; nothing was imported." in summary
        results = rows(screen.query_one("#results", DataTable))
        assert [r[1] for r in results] == ["not started"] * 3
        assert not screen.query_one("#migrate", Button).disabled
    assert not [p for p in sim.cloud.store.all("projects") if p["Name"] in WAVE.values()]
    assert not [
        r for r in sim.cloud.requests if r.method == "POST" and r.path.endswith("/import-export/import")
    ]


async def test_a_failure_shows_its_sentence_and_running_again_resumes(tmp_path: Path, sim: Simulator) -> None:
    sim.server.tasks.failing_kinds.add("export")  # the scan exports nothing
    async with migrate_shown(tmp_path, sim) as (app, pilot, screen):
        await start(pilot)
        await until(pilot, lambda: not screen.running, "the failed export")
        await settle(pilot)
        summary = text(screen, "#migrate-summary")
        assert "✘ The export failed on" in summary and "Traceback" not in summary
        assert "run the wave again: it continues where it stopped" in summary
        assert screen.query_one("#continue", Button).disabled

        sim.server.tasks.failing_kinds.clear()
        await start(pilot)
        await until(pilot, lambda: isinstance(app.screen, PreviewDialog), "the import preview")
        await pilot.click("#import")
        await until(pilot, lambda: not screen.running, "the end of the wave")
        await settle(pilot)
        assert text(screen, "#migrate-summary").startswith("wave 1: 3 verified.")


async def test_an_instance_that_refuses_the_key_gives_a_sentence_not_a_traceback(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await planned(tmp_path, sim, list(WAVE))
    ctx.demo_keys[normalise_base_url(sim.server_url)] = "API-FAKEWRONGKEY000000000000"
    app = migrate_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MigrateScreen)
        await start(pilot)
        await until(pilot, lambda: not screen.running, "the refusal")
        await settle(pilot)
        summary = text(screen, "#migrate-summary")
        assert summary.startswith("✘ ") and "API key" in summary
        assert "The journal keeps what was done: run the wave again to continue." in summary
        assert not screen.query_one("#migrate", Button).disabled
        assert not screen.query_one("#back", Button).disabled


async def test_stop_ends_a_running_wave_visibly_and_the_journal_keeps_its_export(tmp_path: Path) -> None:
    slow = Simulator(
        None, "demo", server=InstanceConfig("server", task_queued_seconds=0.01, task_executing_seconds=600)
    )
    try:
        async with migrate_shown(tmp_path, slow) as (_app, pilot, screen):
            journal = screen.journal
            await start(pilot)
            await until(pilot, lambda: "Executing" in text(screen, "#stage-line"), "the export to run")
            assert screen.query_one("#stop", Button).display
            assert not screen.query_one("#migrate", Button).display
            assert screen.query_one("#back", Button).disabled
            await pilot.press("escape")
            await until(pilot, lambda: not screen.running, "the run to stop")
            await settle(pilot)
            assert text(screen, "#migrate-summary").startswith("Stopped. The journal keeps what was done")
            assert (
                screen.query_one("#migrate", Button).display and not screen.query_one("#stop", Button).display
            )
            assert not screen.query_one("#back", Button).disabled
        batches = journal.items("batch")
        assert len(batches) == 1 and batches[0][4] and batches[0][4].get("export_task")
    finally:
        slow.close()


async def test_review_shows_the_recorded_results_read_only(tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = await planned(tmp_path, sim, list(WAVE))
    app = migrate_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await start(pilot)
        await until(pilot, lambda: isinstance(app.screen, PreviewDialog), "the import preview")
        await pilot.click("#import")
        await until(
            pilot, lambda: isinstance(app.screen, MigrateScreen) and not app.screen.running, "the wave"
        )
    sim.server.requests.clear()
    sim.cloud.requests.clear()
    review = migrate_app(ctx, journal, review=True)
    async with review.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = review.screen
        assert isinstance(screen, MigrateScreen)
        assert [b.id for b in screen.query(Button)] == ["back"]
        assert not screen.query("#tab-progress")  # nothing runs in a review
        assert "What the journal recorded (read-only)." in text(screen, "#migrate-summary")
        results = rows(screen.query_one("#results", DataTable))
        assert [(r[0], r[1], r[6]) for r in results] == [(n, "verified", "✔ verified") for n in WAVE.values()]
        assert "Triggers: 'Nightly deploy to Test' created" in text(screen, "#result-detail")
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert on_top(review, screen)  # no password dialog in a review
        await pilot.press("ctrl+b")
        await until(pilot, lambda: bool(review.dismissed), "the step to end")
    assert review.dismissed == ["welcome"]
    assert sim.server.requests == [] and sim.cloud.requests == []


async def test_a_resumed_migration_opens_on_the_wave_a_run_left_halfway(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await planned(tmp_path, sim, ["Projects-1"])
    journal.set_wave("wave 2", ["Projects-9"])
    # A run of wave 2 was interrupted after its export: its batch is still open in the journal.
    journal.set_item(
        "batch", "wave 2#1", "batch", "in progress",
        {"wave": "wave 2", "projects": ["Projects-9"], "names": {"Projects-9": "Ops Toolkit"}},
    )  # fmt: skip
    app = migrate_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MigrateScreen)
        assert screen.wave == "wave 2"
        assert text(screen, "#migrate-summary").startswith("wave 2: ")
