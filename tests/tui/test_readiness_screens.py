"""Differences, Connectivity and Users & pools, driven as a user would (Pilot), against the simulator.

Each test asserts what the user reads, what the journal recorded, and what the simulator was asked.
"""

from __future__ import annotations

import contextlib
import csv
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Static, TabbedContent
from textual.widgets._footer import FooterKey

from octowiz.engine.context import Context
from octowiz.journal import Journal
from octowiz.octopus.urls import normalise_base_url
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Simulator
from octowiz.tui import tables
from octowiz.tui.app import OctowizApp, make_app
from octowiz.tui.screens.connectivity import ConnectivityScreen
from octowiz.tui.screens.differences import DifferencesScreen
from octowiz.tui.screens.overview import OverviewScreen
from octowiz.tui.screens.users import ConfirmCreatePool, UsersScreen
from octowiz.tui.screens.welcome import WelcomeScreen
from octowiz.tui.tables import Table
from tests.tui.tuikit import connected, demo_context, settle

SIZE = (130, 44)
NAME = "acme"
WRONG_KEY = "API-FAKEWRONGKEY000000000000"

AppPilot = Pilot[None]


def prepare(ctx: Context, sim: Simulator, *done: str) -> Path:
    """A migration connected to the simulator, with ``done`` steps marked done (resume lands after them)."""
    with connected(ctx, sim, NAME, *done):
        pass
    return ctx.journal_path(NAME)


def text(app: OctowizApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def rows(table: DataTable[Any]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def requests(sim: Simulator) -> list[tuple[str, str]]:
    return [(r.method, r.path) for inst in (sim.server, sim.cloud) for r in inst.requests]


def latest(path: Path, kind: str) -> tuple[str, dict[str, Any]] | None:
    with Journal.open(path, lock=False) as journal:
        return journal.latest_scan(kind)


def scans(path: Path, kind: str) -> int:
    """How many scans of a kind the journal holds (read straight from its SQLite file)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT COUNT(*) FROM scans WHERE kind=?", (kind,)).fetchone()[0])


async def resume(pilot: AppPilot) -> None:
    await settle(pilot)
    assert isinstance(pilot.app.screen, WelcomeScreen)
    await pilot.press("r")
    await settle(pilot)


def notes(app: OctowizApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def footer(app: OctowizApp) -> list[str]:
    """The key bindings the footer offers, as the user reads them."""
    return [key.description for key in app.screen.query(FooterKey)]


# -- Differences ---------------------------------------------------------------------------------


async def test_differences_scans_read_only_shows_evidence_and_is_recorded(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    path = prepare(ctx, sim)
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await resume(pilot)
        screen = app.screen
        assert isinstance(screen, DifferencesScreen)
        summary = text(app, "#scan-summary")
        assert summary.startswith("Scanned ")
        assert "3 blocker(s)" in summary and "3 blocked" in summary
        findings = screen.query_one("#findings", DataTable)
        listed = rows(findings)
        rules = {row[3] for row in listed}
        assert {"releases.export-limit", "auth.ad-ldap", "packages.built-in-feed"} <= rules
        assert [row[0] for row in listed[:3]] == ["BLOCKER"] * 3  # blockers first
        # The scan is over: the footer offers Rescan and Back, no longer "Cancel scan".
        assert "Rescan" in footer(app) and "Back" in footer(app)
        assert "Cancel scan" not in footer(app)

        # Highlighting a finding shows why, what to do, and the items it is about.
        findings.focus()
        target = next(i for i, row in enumerate(listed) if row[3] == "releases.export-limit")
        findings.move_cursor(row=target)
        await settle(pilot)
        detail = text(app, "#finding-detail")
        assert "BLOCKER  Customer Portal has 2,150 releases, more than Export can take" in detail
        assert "Why: " in detail and "What to do: " in detail and "Docs: https://" in detail
        assert "  • project Customer Portal: 2,150 releases (limit 2,100)" in detail

        screen.query_one("#differences-tabs", TabbedContent).active = "tab-projects"
        await settle(pilot)
        projects = {row[0]: row[1] for row in rows(screen.query_one("#projects", DataTable))}
        assert projects["Customer Portal"] == "blocked"
        assert projects["Release Orchestrator"] == "ready"
        assert sum(1 for status in projects.values() if status == "blocked") == 3

        # Read-only: not one mutating request to either instance.
        seen = requests(sim)
        assert seen and {method for method, _ in seen} == {"GET"}

        await pilot.click("#continue")
        await settle(pilot)
        assert isinstance(app.screen, ConnectivityScreen)
    recorded = latest(path, "readiness")
    assert recorded is not None
    assert sum(1 for f in recorded[1]["findings"] if f["severity"] == "blocker") == 3
    with Journal.open(path, lock=False) as journal:
        assert journal.step_status("differences") == "done"
        assert journal.step_status("connectivity") == "in progress"


async def test_many_findings_fill_hidden_then_show_a_few_lines_a_paint_focused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Thousands of findings (here the demo's, with one row a slice) fill hidden and are then shown a
    # few lines a paint, the findings table focused for the arrows.
    monkeypatch.setattr(tables, "CELLS_PER_SLICE", 1)
    monkeypatch.setattr(tables, "LINES_PER_PAINT", 3)
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    prepare(ctx, sim)
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await resume(pilot)
        screen = app.screen
        assert isinstance(screen, DifferencesScreen) and screen.result is not None
        findings = screen.query_one("#findings", Table)
        assert findings.row_count == len(screen.result.findings) > 4  # filled hidden
        assert findings.display and findings.shown_lines is None and screen.focused is findings
        assert rows(findings)[0][0] == "BLOCKER"
        await pilot.press("down")
        await settle(pilot)
        assert findings.cursor_row == 1


async def test_the_footer_is_rebuilt_only_when_the_keys_it_offers_change(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    prepare(ctx, sim)
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await resume(pilot)
        screen = app.screen
        assert isinstance(screen, DifferencesScreen)
        keys = list(screen.query(FooterKey))
        assert "Rescan" in footer(app) and "Cancel scan" not in footer(app)
        screen.refresh_bindings()  # nothing changed: the same keys stay
        await settle(pilot)
        assert list(screen.query(FooterKey)) == keys
        screen.scanning = True  # what a scan sets: Cancel offered, Rescan and Back not
        screen.refresh_bindings()
        await settle(pilot)
        assert "Cancel scan" in footer(app) and "Rescan" not in footer(app)
        screen.scanning = False
        screen.refresh_bindings()
        await settle(pilot)
        assert "Rescan" in footer(app) and "Cancel scan" not in footer(app)
        # While the terminal is not focused the footer ignores changes; it catches up on focus.
        app.post_message(events.AppBlur())
        await settle(pilot)
        screen.query_one("#findings", DataTable).focus()  # as a screen may do meanwhile
        await settle(pilot)
        screen.scanning = True
        screen.refresh_bindings()
        await settle(pilot)
        app.post_message(events.AppFocus())
        await settle(pilot)
        assert "Cancel scan" in footer(app) and "Rescan" not in footer(app)


async def test_resuming_differences_shows_the_recorded_scan_until_rescan(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    path = prepare(ctx, sim)
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await resume(pilot)
        assert isinstance(app.screen, DifferencesScreen)
        first = text(app, "#scan-summary")
        await pilot.press("ctrl+b")  # leave without continuing: the step stays in progress
        await settle(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        count = len(requests(sim))

        await resume(pilot)
        assert isinstance(app.screen, DifferencesScreen)
        assert text(app, "#scan-summary") == first  # the recorded scan, as it was
        assert app.screen.query_one("#findings", DataTable).row_count > 0
        assert len(requests(sim)) == count  # nothing was asked of either instance

        await pilot.press("ctrl+r")
        await settle(pilot)
        assert len(requests(sim)) > count
        assert {method for method, _ in requests(sim)} == {"GET"}
        assert "3 blocker(s)" in text(app, "#scan-summary")
    with Journal.open(path, lock=False) as journal:
        assert journal.step_status("differences") == "in progress"
    assert scans(path, "readiness") == 2


async def test_differences_all_clear(tmp_path: Path) -> None:
    sim = Simulator(None, "empty")
    ctx = demo_context(tmp_path, sim)
    path = prepare(ctx, sim)
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await resume(pilot)
        screen = app.screen
        assert isinstance(screen, DifferencesScreen)
        summary = text(app, "#scan-summary")
        assert "0 blocker(s)" in summary and "0 blocked" in summary
        listed = rows(screen.query_one("#findings", DataTable))
        assert "BLOCKER" not in {row[0] for row in listed}
        projects = rows(screen.query_one("#projects", DataTable))
        assert all(row[1] == "ready" for row in projects)
        assert "BLOCKER" not in text(app, "#finding-detail")
    recorded = latest(path, "readiness")
    assert recorded is not None and not any(f["severity"] == "blocker" for f in recorded[1]["findings"])


async def test_differences_scan_failure_says_why_and_records_nothing(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    ctx.demo_keys[normalise_base_url(sim.server_url)] = WRONG_KEY  # the key no longer works
    path = prepare(ctx, sim)
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await resume(pilot)
        screen = app.screen
        assert isinstance(screen, DifferencesScreen)
        summary = text(app, "#scan-summary")
        assert summary.startswith("✘ The scan could not run: ")
        assert "did not accept the API key" in summary
        assert screen.query_one("#findings", DataTable).row_count == 0
        assert not screen.query_one("#rescan", Button).disabled  # the way out: fix the key, rescan
        assert screen.query_one("#continue", Button).disabled  # nothing to go on with
        await pilot.press("ctrl+r")  # still failing: still nothing recorded
        await settle(pilot)
        assert text(app, "#scan-summary").startswith("✘ The scan could not run: ")
    assert latest(path, "readiness") is None
    with Journal.open(path, lock=False) as journal:
        assert journal.step_status("differences") == "in progress"


# -- Connectivity --------------------------------------------------------------------------------


async def test_connectivity_measures_suggests_data_centres_and_writes_probe_scripts(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    path = prepare(ctx, sim, "differences")
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await resume(pilot)
        screen = app.screen
        assert isinstance(screen, ConnectivityScreen)
        summary = text(app, "#probe-summary")
        assert summary.startswith("Measured from ") and "(demo: simulated network)" in summary
        assert "2 failed" in summary
        assert "Measure again" in footer(app) and "Cancel" not in footer(app)
        probes = rows(screen.query_one("#probes", DataTable))
        failed = {row[2] for row in probes if row[0] == "✘ failed"}
        assert failed == {"feed 'Corp Docker Registry' (Feeds-2)", "feed 'Corp Maven' (Feeds-3)"}
        assert any("registry.corp.local does not resolve" in row[3] for row in probes)

        screen.query_one("#connectivity-tabs", TabbedContent).active = "tab-dcs"
        await settle(pilot)
        dcs = {row[0]: row for row in rows(screen.query_one("#data-centres", DataTable))}
        assert "corp.local" in dcs
        assert any(name.startswith("Private network 10.") for name in dcs)
        assert {row[3] for row in dcs.values()} == {"not yet"}
        assert scans(path, "connectivity") == 1

        scripts = ctx.paths.downloads / NAME / "probe-scripts"
        assert not scripts.exists()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert any(f"Probe scripts written to {scripts}" in n for n in notes(app))
        assert {"GET"} == {method for method, _ in requests(sim)}
    written = sorted(p.name for p in scripts.iterdir())
    assert "probe-corp-local.sh" in written and "probe-corp-local.ps1" in written
    assert {p.rsplit(".", 1)[1] for p in written} == {"sh", "ps1"}
    assert len([p for p in written if p.endswith(".sh")]) == len(dcs)
    for script in scripts.iterdir():
        body = script.read_text(encoding="utf-8")
        assert "API-" not in body
        assert SERVER_ADMIN.api_key not in body and CLOUD_MANAGER.api_key not in body
    assert scans(path, "connectivity") == 2  # the scripts come with a fresh measurement, recorded


# -- Users & pools -------------------------------------------------------------------------------


async def _to_users(pilot: AppPilot) -> UsersScreen:
    await resume(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, UsersScreen)
    return screen


async def test_users_summary_table_and_csv_export(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    path = prepare(ctx, sim, "differences", "connectivity")
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _to_users(pilot)
        summary = text(app, "#users-summary")
        assert "10 users: 7 cannot sign in to Cloud as they are, 3 to invite" in summary
        users = {row[0]: row for row in rows(screen.query_one("#users", DataTable))}
        aisha = users["Aisha Khan (akhan)"]
        assert aisha[1] == "Active Directory" and aisha[2] == "✘ no"
        assert "Active Directory is not available on Octopus Cloud" in aisha[5]
        assert users["Liam Wilson (lwilson)"][2] == "invite"
        assert {"Read again", "Export CSV", "Back"} <= set(footer(app))

        await pilot.press("ctrl+e")
        await settle(pilot)
        out = ctx.paths.downloads / NAME
        assert any(f"Wrote {out / 'users.csv'} and {out / 'teams.csv'}." in n for n in notes(app))
    with (out / "users.csv").open(encoding="utf-8", newline="") as f:
        user_rows = list(csv.DictReader(f))
    with (out / "teams.csv").open(encoding="utf-8", newline="") as f:
        team_rows = list(csv.DictReader(f))
    assert len(user_rows) == 10 and len(team_rows) == 7
    by_name = {r["username"]: r for r in user_rows}
    assert by_name["akhan"]["cloud_sign_in"] == "no"
    assert by_name["akhan"]["identity_providers"] == "Active Directory"
    assert sum(1 for r in user_rows if r["cloud_sign_in"] == "no") == 7
    assert {r["team"] for r in team_rows} >= {"Everyone", "Octopus Administrators", "Developers"}
    for name in ("users.csv", "teams.csv"):
        assert "API-" not in (out / name).read_text(encoding="utf-8")
    assert scans(path, "users") == 1


async def test_creating_a_missing_pool_is_previewed_confirmed_and_journaled(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    path = prepare(ctx, sim, "differences", "connectivity")
    app = make_app(ctx)

    def posts() -> list[str]:
        return [r.path for r in sim.cloud.requests if r.method != "GET"]

    def cloud_pools() -> list[dict[str, Any]]:
        return [p for p in sim.cloud.store.all("workerpools") if p.get("Name") == "Linux Workers"]

    async with app.run_test(size=SIZE) as pilot:
        screen = await _to_users(pilot)
        screen.query_one("#users-tabs", TabbedContent).active = "tab-pools"
        await settle(pilot)
        pools = screen.query_one("#pools", DataTable)
        create = screen.query_one("#create-pool", Button)
        assert rows(pools)[1][:3] == ["Linux Workers", "1 (1)", "— none —"]
        assert create.disabled  # the first row (Default Worker Pool) is already mapped
        pools.focus()
        await pilot.press("down")
        await settle(pilot)
        assert pools.cursor_row == 1 and not create.disabled
        assert text(app, "#pool-detail").startswith("Linux Workers: ")

        await pilot.click("#create-pool")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ConfirmCreatePool)
        preview = "\n".join(str(s.render()) for s in modal.query(Static))
        assert f"On {sim.cloud_url} octowiz will create:" in preview
        assert "Name         Linux Workers" in preview and "Type         StaticWorkerPool" in preview
        assert posts() == [] and cloud_pools() == []  # a preview sends nothing

        await pilot.click("#cancel")
        await settle(pilot)
        assert app.screen is screen
        assert posts() == [] and cloud_pools() == []

        await pilot.click("#create-pool")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmCreatePool)
        await pilot.click("#confirm")
        await settle(pilot)
        assert app.screen is screen
        assert posts() == ["/api/Spaces-1/workerpools"]
        [pool] = cloud_pools()
        assert pool["WorkerPoolType"] == "StaticWorkerPool"
        assert any(f"The worker pool Linux Workers was created ({pool['Id']})" in n for n in notes(app))
        # The table is read again: the source pool now maps to the new destination pool.
        linux = next(row for row in rows(pools) if row[0] == "Linux Workers")
        assert linux[2] == "Linux Workers (static)"

        # A second attempt: the pool is mapped now, so there is nothing to create.
        pools.focus()
        pools.move_cursor(row=rows(pools).index(linux))
        await settle(pilot)
        assert create.disabled
        await pilot.click("#create-pool")
        await settle(pilot)
        assert app.screen is screen
        assert posts() == ["/api/Spaces-1/workerpools"]
    with Journal.open(path, lock=False) as journal:
        [action] = [a for a in journal.actions() if a.kind == "create-worker-pool"]
    assert action.outcome == "ok" and action.target == "Linux Workers"
    assert action.detail is not None and action.detail["pool_id"] == pool["Id"]
    assert action.detail["undo"] == {"method": "DELETE", "path": f"/api/Spaces-1/workerpools/{pool['Id']}"}


# -- Review --------------------------------------------------------------------------------------


async def test_review_shows_recorded_results_and_never_scans_or_writes(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    path = prepare(ctx, sim)
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await resume(pilot)  # one real scan, recorded
        assert isinstance(app.screen, DifferencesScreen)
        scanned = text(app, "#scan-summary")
        await pilot.press("ctrl+b")
        await settle(pilot)
        journal_bytes = path.read_bytes()

        await pilot.press("v")
        await settle(pilot)
        overview = app.screen
        assert isinstance(overview, OverviewScreen) and overview.review
        # The overview reads what remains (GET only); from here on, nothing is asked of either instance.
        assert "What remains" in str(overview.query_one("#overview-remaining", Static).render())
        assert all(r.method == "GET" for inst in (sim.server, sim.cloud) for r in inst.requests)
        count = len(requests(sim))
        assert [b.id for b in overview.query(Button)] == [
            "differences",
            "connectivity",
            "users",
            "waves",
            "migrate",
            "targets",
            "cutover",
            "retire",
            "actions",
            "back",
        ]

        await pilot.click("#differences")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DifferencesScreen) and screen.review
        assert text(app, "#scan-summary") == scanned
        assert screen.query_one("#findings", DataTable).row_count > 0
        assert [b.id for b in screen.query(Button)] == ["back"]  # no Rescan, no Continue
        await pilot.press("ctrl+r")  # refused in a review
        await settle(pilot)
        assert len(requests(sim)) == count

        await pilot.click("#back")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        count = len(requests(sim))  # the overview read what remains again (GET only)
        await pilot.click("#connectivity")  # never measured: says so, measures nothing
        await settle(pilot)
        assert isinstance(app.screen, ConnectivityScreen)
        assert text(app, "#probe-summary") == "No connectivity has been measured for this migration."
        assert [b.id for b in app.screen.query(Button)] == ["back"]
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert len(requests(sim)) == count
        await pilot.click("#back")
        await settle(pilot)

        await pilot.click("#users")  # reads the instances (read-only), records nothing
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)
        assert "10 users" in text(app, "#users-summary")
        assert [b.id for b in app.screen.query(Button)] == ["export", "back"]
        assert {method for method, _ in requests(sim)} == {"GET"}
    assert path.read_bytes() == journal_bytes
    assert scans(path, "users") == 0
