"""Targets and Cutover, driven as a user would (Pilot), against the demo simulator.

A wave of the demo (Acme Web, Acme Database, Ops Toolkit) is migrated in-process first, with its
run-on-server steps moved to workers so it verifies (``fast_sim``), then the step screen is pushed by a
small host app the way the wizard's flow pushes it. Each test asserts what the user reads, what the
journal recorded and what the simulator was asked. Tasks are short and polled often.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Button, DataTable, Input, Select, TabbedContent

from octowiz.engine.context import Context
from octowiz.engine.cutover import cutover as co
from octowiz.engine.cutover import targets as tg
from octowiz.engine.cutover.scripts import API_KEY_ENV
from octowiz.engine.migrate import run as migrate
from octowiz.journal import Journal
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Simulator
from octowiz.tui import tables
from octowiz.tui.screens import cutover as cutover_screens
from octowiz.tui.screens import targets as targets_screens
from octowiz.tui.screens.cutover import CutoverScreen
from octowiz.tui.screens.dialogs import TypedConfirm
from octowiz.tui.screens.targets import TargetsScreen
from octowiz.tui.tables import Table
from tests.tui.test_paint_in_turns import _changes, _record_paints, _table_state
from tests.tui.test_waves_screens import (
    SIZE,
    WAVE,
    Host,
    HostPilot,
    fast_sim,
    mutating,
    on_top,
    rows,
    text,
    until,
)
from tests.tui.tuikit import connected, demo_context, settle

NAME = "acme"
PASSWORD = "horse-42"
STATUSES = {s: "done" for s in ("connect", "differences", "connectivity", "users", "waves", "migrate")}
TARGET_SETTINGS = tg.TargetSettings(poll_interval=0.01)
CUTOVER_SETTINGS = co.CutoverSettings(poll_interval=0.01)
#: The demo wave's canary: web-test-01, a listening Tentacle in Test, alone on its host.
CANARY = "10.0.4.21"
CANARY_MACHINE = "web-test-01"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = fast_sim()
    yield s
    s.close()


async def migrated(tmp: Path, sim: Simulator) -> tuple[Context, Journal]:
    """The demo wave imported and verified on Cloud, as the Migrate step leaves it."""
    ctx = demo_context(tmp, sim)
    journal = connected(ctx, sim, NAME, *STATUSES)
    journal.set_wave("wave 1", list(WAVE))

    async def yes(_: migrate.ImportPreview) -> bool:
        return True

    result = await migrate.run_wave(
        ctx, journal, "wave 1", PASSWORD, confirm=yes, settings=migrate.WaveSettings(poll_interval=0.01)
    )
    assert [p.state for p in result.projects] == ["verified"] * 3
    sim.server.requests.clear()
    sim.cloud.requests.clear()
    return ctx, journal


def notes(app: App[Any]) -> list[str]:
    return [str(n.message) for n in app._notifications]


def cloud(sim: Simulator, coll: str) -> dict[str, dict[str, Any]]:
    return {d["Name"]: d for d in sim.cloud.store.all(coll)}


async def typed(pilot: HostPilot, word: str) -> None:
    """Type into the focused field of a TypedConfirm, and Enter."""
    await pilot.press(*word, "enter")
    await settle(pilot)


# -- Targets -------------------------------------------------------------------------------------------


def targets_app(ctx: Context, journal: Journal, *, review: bool = False) -> Host:
    downloads = ctx.paths.downloads / NAME
    return Host(
        lambda: TargetsScreen(ctx, journal, STATUSES, downloads, review=review, settings=TARGET_SETTINGS)
    )


async def targets_screen(pilot: HostPilot) -> TargetsScreen:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, TargetsScreen)
    await until(pilot, lambda: screen.loaded is not None, "the wave's machines")
    await settle(pilot)
    return screen


def machines(screen: TargetsScreen) -> dict[str, list[str]]:
    """Machine name -> the rest of its row."""
    return {r[0]: r[1:] for r in rows(screen.query_one("#machines", DataTable))}


def hosts(screen: TargetsScreen) -> dict[str, list[str]]:
    return {r[0]: r[1:] for r in rows(screen.query_one("#hosts", DataTable))}


async def idle(pilot: HostPilot, screen: TargetsScreen | CutoverScreen) -> None:
    """Until the running action ended and the screen read both instances again."""
    await until(pilot, lambda: not screen.busy and on_top(pilot.app, screen), "the action to end")
    await settle(pilot)


async def test_targets_lists_the_waves_machines_with_their_cloud_state_and_offers_the_canary(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await migrated(tmp_path, sim)
    app = targets_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        screen = await targets_screen(pilot)
        listed = machines(screen)
        assert len(listed) == 16
        # Name -> kind, as, where, projects, on Cloud: read from Cloud, where nothing is yet.
        assert listed["web01"][:5] == ["listening", "target", "Production", "1", "· missing"]
        assert listed["app-prod-02"][:2] == ["polling", "target"]
        assert listed["linux-ssh-01"][:3] == ["ssh", "target", "Test, Production"]
        assert listed["win-worker-02"][:3] == ["polling", "worker", "Windows Workers"]
        assert {row[4] for row in listed.values()} == {"· missing"}
        summary = text(screen, "#targets-summary")
        assert summary.startswith("wave 1: 13 targets and 3 workers — on Cloud: 16 missing.")
        assert f"Canary first: clone {CANARY} and run a health check" in summary
        offered = {host: row[-1] for host, row in hosts(screen).items()}
        assert offered.pop(CANARY) == "canary"
        assert set(offered.values()) == {"after the canary"}
        assert not screen.query_one("#run_hosts", Button).disabled
        assert screen.query_one("#continue", Button).disabled  # nothing is on Cloud yet
    assert mutating(sim) == []  # reading is read-only


async def test_targets_filled_hidden_are_shown_a_few_lines_a_paint_with_the_machines_focused(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large wave's thousands of machines fill hidden, then show a few lines a paint; the machines
    # table ends with the focus, as a small wave's does (a table hidden while focused loses it). Here
    # the demo wave counts as large.
    monkeypatch.setattr(targets_screens, "TABLE_BATCH", 1)
    monkeypatch.setattr(tables, "CELLS_PER_SLICE", 1)
    monkeypatch.setattr(tables, "LINES_PER_PAINT", 4)
    ctx, journal = await migrated(tmp_path, sim)
    app = targets_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TargetsScreen), "the Targets step")
        screen = app.screen
        assert isinstance(screen, TargetsScreen)
        table = screen.query_one("#machines", Table)
        paints = _record_paints(screen, _table_state(screen, table))
        await until(pilot, lambda: screen.loaded is not None, "the wave's machines")
        await settle(pilot)
        assert not any(display and 0 < count < 16 for display, _, count, _ in paints)  # never half-full
        shown = [(lines, focus) for display, lines, count, focus in paints if display and count == 16]
        steps = _changes(shown)
        lines = [n for n, _ in steps]
        assert lines[0] == 1 and lines[-1] is None and len(lines) > 3  # the header, ..., every line
        assert all(later == before + 4 for before, later in zip(lines[:-2], lines[1:-1], strict=True))
        assert all(focus == "Table" for _, focus in steps) and screen.focused is table
        assert len(machines(screen)) == 16 and len(hosts(screen)) > 1
        await pilot.press("down")
        await settle(pilot)
        assert table.cursor_row == 1


async def test_ctrl_g_clones_the_canary_only_after_run_is_typed(tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = await migrated(tmp_path, sim)
    app = targets_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        screen = await targets_screen(pilot)
        await pilot.press("ctrl+g")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, TypedConfirm)
        assert dialog.heading == f"Clone the canary host {CANARY}?"
        preview = "\n".join(dialog.lines)
        assert f"{CANARY} (windows): '{CANARY_MACHINE}', a polling target in Test" in preview
        assert "The script carries no API key" in " ".join(preview.split())
        # A wrong word does nothing but say so.
        await typed(pilot, "yes")
        assert on_top(app, dialog)
        assert text(dialog, "#typed-error") == "Type run exactly, or Cancel."
        assert mutating(sim) == []
        await pilot.press("backspace", "backspace", "backspace")
        await typed(pilot, "run")
        await idle(pilot, screen)
        # The Server ran one script task; the clone is registered on Cloud and shown so.
        [task] = [d for d in sim.server.store.all("tasks") if d["Name"] == "AdHocScript"]
        assert CANARY in task["Description"]
        assert CLOUD_MANAGER.api_key not in task["Arguments"]["ScriptBody"]
        clone = cloud(sim, "machines")[CANARY_MACHINE]
        assert clone["Endpoint"]["CommunicationStyle"] == "TentacleActive"
        assert machines(screen)[CANARY_MACHINE][4] == "registered"
        assert hosts(screen)[CANARY][2:6] == ["·", "✔", "✔", "·"]  # script, sent, registered, healthy
        assert text(screen, "#targets-summary").startswith(f"Cloning finished. {CANARY}: registered")
        assert screen.query_one("#targets-tabs", TabbedContent).active == "tab-machines"
    [action] = [a for a in journal.actions(step=tg.STEP) if a.kind == "run-script"]
    assert action.target == CANARY and action.outcome == "sent" and action.task_id == task["Id"]


async def test_a_health_check_shows_the_canary_healthy_and_offers_every_host(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await migrated(tmp_path, sim)
    report = await tg.read_targets(ctx, journal, "wave 1")
    [cloned] = await tg.run_console(ctx, journal, report, [CANARY], settings=TARGET_SETTINGS)
    assert cloned.state == "registered"
    sim.cloud.requests.clear()
    app = targets_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        screen = await targets_screen(pilot)
        assert hosts(screen)[CANARY][-1] == "canary"
        await pilot.press("ctrl+t")
        await idle(pilot, screen)
        assert machines(screen)[CANARY_MACHINE][4] == "✔ healthy"
        assert text(screen, "#targets-summary").startswith(
            f"Health check finished. {CANARY_MACHINE}: healthy"
        )
        offered = {host: row[-1] for host, row in hosts(screen).items()}
        assert offered.pop(CANARY) == "on Cloud" and set(offered.values()) == {"yes"}
        # Refresh: the summary now offers the rest.
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "Offered for cloning:" in text(screen, "#targets-summary"), "a re-read")
    health = [d for d in sim.cloud.store.all("tasks") if d["Name"] == "Health"]
    assert len(health) == 1
    assert [r.path for r in sim.cloud.requests if r.method != "GET"] == ["/api/Spaces-1/tasks"]
    assert journal.item_status("host", CANARY, "healthy") == (
        "done",
        {"states": {CANARY_MACHINE: "healthy"}},
    )


async def test_ctrl_o_creates_the_other_kinds_and_a_disabled_one_shows_its_secrets(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await migrated(tmp_path, sim)
    # The SSH key account was created on Cloud by hand, as a placeholder without its private key.
    sim.cloud.store.insert(
        "accounts",
        {"SpaceId": "Spaces-1", "Name": "Linux SSH Key", "AccountType": "SshKeyPair", "Username": "octopus",
         "PrivateKeyFile": {"HasValue": False}},
        prefix="Accounts",
    )  # fmt: skip
    app = targets_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        screen = await targets_screen(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, TypedConfirm)
        assert dialog.heading == "Create 1 target(s) on Octopus Cloud?"
        assert "linux-ssh-01 (ssh target)" in "\n".join(dialog.lines)
        await typed(pilot, "create")
        await idle(pilot, screen)
        ssh = cloud(sim, "machines")["linux-ssh-01"]
        assert ssh["IsDisabled"] is True
        assert ssh["Endpoint"]["AccountId"] == cloud(sim, "accounts")["Linux SSH Key"]["Id"]
        row = machines(screen)["linux-ssh-01"]
        assert row[4:] == ["disabled", "1 secret"]
        assert "linux-ssh-01: created disabled" in text(screen, "#targets-summary")
        table = screen.query_one("#machines", DataTable)
        table.focus()
        table.move_cursor(row=table.get_row_index(row_key(screen, "linux-ssh-01")))
        await settle(pilot)
        detail = text(screen, "#machine-detail")
        assert "! " in detail and "Linux SSH Key" in detail and "PrivateKeyFile" in detail
        # The team entered the key on Cloud: Ctrl+F enables the target there.
        await pilot.press("ctrl+f")
        await idle(pilot, screen)
        assert cloud(sim, "machines")["linux-ssh-01"]["IsDisabled"] is False
        assert "linux-ssh-01 is enabled on Cloud." in text(screen, "#targets-summary")
    created = [a for a in journal.actions(step=tg.STEP) if a.kind == "recreate"]
    assert [(a.target, a.outcome) for a in created] == [("linux-ssh-01", "done")]


def row_key(screen: TargetsScreen, name: str) -> str:
    return next(r.source_id for r in screen.rows if r.name == name)


async def test_ctrl_s_writes_one_script_per_host_without_any_api_key(tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = await migrated(tmp_path, sim)
    app = targets_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        screen = await targets_screen(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        directory = ctx.paths.downloads / NAME / "tentacle-scripts" / "wave-1"
        written = sorted(directory.iterdir())
        assert len(written) == len(hosts(screen)) == 15
        assert {p.suffix for p in written} == {".ps1", ".sh"}
        for path in written:
            body = path.read_text()
            assert SERVER_ADMIN.api_key not in body and CLOUD_MANAGER.api_key not in body
            assert API_KEY_ENV in body
        assert any(f"Wrote 15 scripts to {directory}" in n for n in notes(app))
    assert mutating(sim) == []


async def test_review_hides_every_mutating_action_and_sends_nothing(tmp_path: Path, sim: Simulator) -> None:
    ctx, journal = await migrated(tmp_path, sim)
    app = targets_app(ctx, journal, review=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await targets_screen(pilot)
        assert [b.id for b in screen.query(Button)] == ["back"]
        assert not screen.query("#tab-progress")
        assert "(read-only)" in text(screen, "#targets-summary")
        assert "Canary first" not in text(screen, "#targets-summary")
        shown = {b.binding.action for b in screen.active_bindings.values() if b.binding.show}
        assert shown.isdisjoint(
            {"run_hosts", "save_scripts", "recreate", "health", "filled", "leave", "continue"}
        )
        await pilot.press("ctrl+g", "ctrl+o", "ctrl+t", "ctrl+s", "ctrl+f", "ctrl+l", "ctrl+n")
        await settle(pilot)
        assert on_top(app, screen) and not screen.busy
        await pilot.press("ctrl+b")
        await until(pilot, lambda: bool(app.dismissed), "the step to end")
    assert app.dismissed == ["welcome"]
    assert mutating(sim) == []
    assert not (ctx.paths.downloads / NAME / "tentacle-scripts").exists()


# -- Cutover -------------------------------------------------------------------------------------------


def cutover_app(ctx: Context, journal: Journal) -> Host:
    return Host(lambda: CutoverScreen(ctx, journal, STATUSES, settings=CUTOVER_SETTINGS))


async def cutover_screen(pilot: HostPilot) -> CutoverScreen:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, CutoverScreen)
    await until(pilot, lambda: screen.loaded is not None, "the wave's cut-over")
    await settle(pilot)
    return screen


def projects(screen: CutoverScreen) -> dict[str, list[str]]:
    return {r[0]: r[1:] for r in rows(screen.query_one("#projects", DataTable))}


async def highlight(pilot: HostPilot, screen: CutoverScreen, project_id: str) -> None:
    table = screen.query_one("#projects", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(project_id))
    await settle(pilot)


def server_disabled(sim: Simulator) -> dict[str, bool]:
    return {p["Name"]: bool(p.get("IsDisabled")) for p in sim.server.store.all("projects") if p["Id"] in WAVE}


async def test_the_build_server_tab_lists_the_seeded_pushes_and_ctrl_d_ticks_an_item(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await migrated(tmp_path, sim)
    app = cutover_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        screen = await cutover_screen(pilot)
        assert projects(screen)["Acme Web"][3] == "3 to do"
        screen.query_one("#cutover-tabs", TabbedContent).active = "tab-build"
        table = screen.query_one("#build", DataTable)
        table.focus()
        await settle(pilot)
        listed = rows(table)
        assert listed[0][:2] == ["Acme Web", "build-server"]
        assert listed[0][3].startswith("In the build configurations that push as 'build-server'")
        assert [r[4] for r in listed[:3]] == ["·", "·", "·"]
        assert listed[-1][:2] == ["Ops Toolkit", "nobody outside Octopus"]
        detail = text(screen, "#build-detail")
        assert "build-server (a service account, with an API key) last pushed" in detail
        assert "TeamCity" in detail
        await pilot.press("ctrl+d")
        await until(pilot, lambda: rows(table)[0][4] == "✔", "the tick")
        status, recorded = journal.item_status("project", "Projects-1", co.STAGE_BUILD) or ("", {})
        assert status == "in progress" and (recorded or {})["done"] == ["url:build-server"]
        assert projects(screen)["Acme Web"][3] == "2 to do"
        await pilot.press("ctrl+d")  # and back
        await until(pilot, lambda: rows(table)[0][4] == "·", "the untick")
        _, untick = journal.item_status("project", "Projects-1", co.STAGE_BUILD) or ("", {})
        assert (untick or {})["done"] == []
    assert mutating(sim) == []  # ticking is the team's note, not a change to either instance


async def canary_healthy(ctx: Context, journal: Journal) -> None:
    """The canary (web-test-01, Acme Web's target in Test) cloned and healthy on Cloud, in-process."""
    report = await tg.read_targets(ctx, journal, "wave 1")
    [cloned] = await tg.run_console(ctx, journal, report, [CANARY], settings=TARGET_SETTINGS)
    assert cloned.state == "registered"
    report = await tg.read_targets(ctx, journal, "wave 1")
    await tg.health_check(ctx, journal, report, settings=TARGET_SETTINGS)


async def test_a_test_deployment_through_its_dialogs_passes_and_is_recorded(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await migrated(tmp_path, sim)
    await canary_healthy(ctx, journal)
    sim.cloud.requests.clear()
    app = cutover_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        screen = await cutover_screen(pilot)
        assert projects(screen)["Acme Web"][:3] == ["✔ yes", "✘ not healthy", "not run"]
        await highlight(pilot, screen, "Projects-1")
        assert "No test deployment on Octopus Cloud has passed yet." in text(screen, "#project-detail")
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, cutover_screens.TestDialog), "the test dialog")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, cutover_screens.TestDialog)
        names = [name for _, name in dialog.preview.environments]
        assert names and not [n for n in names if co.is_production(n)]
        assert dialog.preview.environment_name == "Test"  # where a target has Acme Web's roles
        assert dialog.query_one("#environment", Select).value == dialog.preview.environment_id
        await pilot.click("#preview")
        await until(pilot, lambda: isinstance(app.screen, TypedConfirm), "the deployment preview")
        confirm = app.screen
        assert isinstance(confirm, TypedConfirm)
        assert confirm.heading == "Deploy 'Acme Web' to Test?"
        preview = " ".join("\n".join(confirm.lines).split())
        assert f"ready: {CANARY_MACHINE} (Healthy)." in preview
        assert not [r for r in sim.cloud.requests if r.method != "GET"]  # nothing deployed yet
        await typed(pilot, "deploy")
        await idle(pilot, screen)
        assert projects(screen)["Acme Web"][2] == "passed"
        assert text(screen, "#cutover-summary").startswith("Test deployment finished. Acme Web: passed")
        detail = text(screen, "#project-detail")
        assert "No test deployment" not in detail
        assert "Release 1.0.3 of 'Acme Web' deployed to Test on Octopus Cloud" in detail
        # Its other targets are not on Cloud yet: disabling it would still need a reason.
        assert "May be disabled only with a typed reason:" in detail
    status, recorded = journal.item_status("project", "Projects-1", co.STAGE_TEST) or ("", {})
    assert status == "passed" and (recorded or {}).get("task_id")
    assert [r.path for r in sim.cloud.requests if r.method != "GET"] == ["/api/Spaces-1/deployments"]


async def test_an_unverified_project_is_refused_and_an_override_needs_a_reason(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await migrated(tmp_path, sim)
    # Acme Database's verification found a difference nobody accepted.
    journal.set_item("project", "Projects-3", "verify", "differences", {"destination_id": "Projects-2"})
    app = cutover_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        screen = await cutover_screen(pilot)
        assert projects(screen)["Acme Database"][0] == "✘ no"
        await highlight(pilot, screen, "Projects-3")
        detail = text(screen, "#project-detail")
        refusal = (
            "'Acme Database' is not verified on Octopus Cloud (its verification found differences): it "
            "cannot be disabled on the Server until its migration is verified."
        )
        assert "Cannot be disabled yet:" in detail and refusal in " ".join(detail.split())
        await pilot.press("ctrl+g")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, TypedConfirm)
        assert dialog.heading == "Disable 2 projects on the Server?"
        preview = " ".join("\n".join(dialog.lines).split())
        assert "Acme Web: disabled on the Server ANYWAY (" in preview
        assert f"Acme Database: left enabled — {refusal}" in preview
        assert app.focused is dialog.query_one("#typed-reason", Input)
        # The word alone is not enough: the journal needs the reason.
        await pilot.press("tab")
        await typed(pilot, "disable")
        assert on_top(app, dialog)
        assert text(dialog, "#typed-error") == "Say why: the journal records the reason with the change."
        assert mutating(sim) == []
        await pilot.press("escape")
        await settle(pilot)
        assert on_top(app, screen) and not screen.busy
        assert server_disabled(sim) == dict.fromkeys(WAVE.values(), False)
        # With a reason, the two verified ones are disabled; Acme Database is left as it is.
        await pilot.press("ctrl+g")
        await settle(pilot)
        await pilot.press(*"owner signed off", "tab")
        await typed(pilot, "disable")
        await idle(pilot, screen)
        assert server_disabled(sim) == {"Acme Web": True, "Acme Database": False, "Ops Toolkit": True}
        assert [r[4] for r in projects(screen).values()] == ["disabled", "enabled", "disabled"]
        # Only the unverified one is left: nothing to confirm, the sentence says why.
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert on_top(app, screen)
        assert any(refusal in n for n in notes(app))
        assert screen.query_one("#continue", Button).disabled
    overrides = {a.target: a for a in journal.actions(step=co.STEP) if a.kind == co.KIND_DISABLE}
    assert set(overrides) == {"Projects-1", "Projects-9"}
    assert {a.outcome for a in overrides.values()} == {"overridden"}
    assert {a.intent["override"] for a in overrides.values()} == {"owner signed off"}


def cloud_triggers(sim: Simulator, project: str) -> dict[str, bool]:
    """Trigger name -> disabled, of a project on Cloud."""
    pid = next(p["Id"] for p in sim.cloud.store.all("projects") if p["Name"] == project)
    return {
        t["Name"]: bool(t["IsDisabled"])
        for t in sim.cloud.store.all("projecttriggers")
        if t["ProjectId"] == pid
    }


async def disable_all(pilot: HostPilot, screen: CutoverScreen, reason: str) -> None:
    await pilot.press("ctrl+g")
    await settle(pilot)
    assert isinstance(pilot.app.screen, TypedConfirm)
    await pilot.press(*reason, "tab")
    await typed(pilot, "disable")
    await idle(pilot, screen)


async def test_disable_and_re_enable_and_continue_only_once_every_project_is_disabled(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx, journal = await migrated(tmp_path, sim)
    assert set(cloud_triggers(sim, "Acme Web").values()) == {True}  # held until the cut-over
    app = cutover_app(ctx, journal)
    async with app.run_test(size=SIZE) as pilot:
        screen = await cutover_screen(pilot)
        assert screen.query_one("#continue", Button).disabled
        assert screen.query_one("#reenable", Button).disabled
        await disable_all(pilot, screen, "cut over tonight")
        assert server_disabled(sim) == dict.fromkeys(WAVE.values(), True)
        assert set(cloud_triggers(sim, "Acme Web").values()) == {False}
        summary = text(screen, "#cutover-summary")
        assert summary.startswith("Disabling finished. 'Acme Web' is disabled on the Server; 2 trigger(s)")
        assert not screen.query_one("#continue", Button).disabled
        # Roll Acme Web back.
        await highlight(pilot, screen, "Projects-1")
        await pilot.press("ctrl+z")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, TypedConfirm) and dialog.heading == "Roll back 'Acme Web'?"
        await typed(pilot, "enable")
        await idle(pilot, screen)
        assert server_disabled(sim) == {"Acme Web": False, "Acme Database": True, "Ops Toolkit": True}
        assert set(cloud_triggers(sim, "Acme Web").values()) == {True}
        assert projects(screen)["Acme Web"][4] == "enabled"
        assert text(screen, "#cutover-summary").startswith("Re-enabling finished. 'Acme Web' is enabled")
        assert screen.query_one("#continue", Button).disabled
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.dismissed == []
        # Disabled again (only Acme Web is offered), and the step may end.
        await disable_all(pilot, screen, "fixed")
        assert server_disabled(sim) == dict.fromkeys(WAVE.values(), True)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: bool(app.dismissed), "the step to end")
    assert app.dismissed == ["done"]
    kinds = [(a.kind, a.target, a.outcome) for a in reversed(journal.actions(step=co.STEP))]
    server = [k for k in kinds if k[0] in (co.KIND_DISABLE, co.KIND_ENABLE)]
    assert server == [
        (co.KIND_DISABLE, "Projects-1", "overridden"),
        (co.KIND_DISABLE, "Projects-3", "overridden"),
        (co.KIND_DISABLE, "Projects-9", "overridden"),
        (co.KIND_ENABLE, "Projects-1", "done"),
        (co.KIND_DISABLE, "Projects-1", "overridden"),
    ]
    puts = [r.path for r in sim.server.requests if r.method == "PUT"]
    assert puts.count("/api/Spaces-1/projects/Projects-1") == 3
