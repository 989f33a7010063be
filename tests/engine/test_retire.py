"""Retiring the Server: preconditions, refusals, maintenance mode, task caps and the old Tentacle instances.

Most tests write the journal state of a finished migration directly (each project imported, verified and
disabled on the Server) because what comes before the retire is not what they test; the tests of the old
instances migrate, clone and health-check a real wave first, since they need real clones on Cloud and
real simulated hosts. Everything runs in-process on the simulator with a real SQLite journal.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from octowiz.engine.context import Context
from octowiz.engine.cutover import cutover as co
from octowiz.engine.cutover import targets as tg
from octowiz.engine.cutover.scripts import (
    TENTACLE_COMMANDS,
    HostPlan,
    Registration,
    clone_instance_name,
    command_options,
)
from octowiz.engine.retire import retire as rt
from octowiz.engine.retire.scripts import retire_file_name, retire_script
from octowiz.journal import Journal
from octowiz.octopus.client import OctopusClient
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Simulator
from tests.engine.test_migrate import context_for, fast_sim, new_journal, run

#: The wave test_cutover migrates: it verifies without differences.
WAVE = {"Projects-1": "Acme Web", "Projects-3": "Acme Database", "Projects-9": "Ops Toolkit"}
GOLDEN = Path(__file__).parent / "golden" / "retire"
FAST_TARGETS = tg.TargetSettings(poll_interval=0.01)
FAST = rt.RetireSettings(poll_interval=0.01)
#: The Server's two nodes and their caps before the retire (the demo has one; a second is added).
CAPS = {"OctopusServerNodes-1": 5, "OctopusServerNodes-2": 3}


def ready_lab(sim: Simulator) -> None:
    """Every Tentacle up and enabled, and a second Server node with its own cap."""
    store = sim.server.store
    for doc in store.all("machines"):
        if doc["Name"] in ("web-test-02", "app-old-01"):
            store.put("machines", {**doc, "IsDisabled": False, "HealthStatus": "Healthy"})
    store.put(
        "octopusservernodes",
        {
            "Id": "OctopusServerNodes-2",
            "Name": "OCTOPUS02",
            "MaxConcurrentTasks": 3,
            "IsInMaintenanceMode": False,
        },
    )


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = fast_sim()
    ready_lab(s)
    yield s
    s.close()


class Lab:
    def __init__(
        self, sim: Simulator, ctx: Context, journal: Journal, source: OctopusClient, dest: OctopusClient
    ):
        self.sim, self.ctx, self.journal, self.source, self.dest = sim, ctx, journal, source, dest

    @property
    def clients(self) -> tuple[OctopusClient, OctopusClient]:
        return self.source, self.dest

    async def read(self) -> rt.RetireReport:
        return await rt.read_retire(self.ctx, self.journal, clients=self.clients)

    def caps(self) -> dict[str, int]:
        return {n["Id"]: n["MaxConcurrentTasks"] for n in self.sim.server.store.all("octopusservernodes")}

    def maintenance(self) -> bool:
        doc = self.sim.server.store.get("config", "maintenance")
        return bool(doc and doc.get("IsInMaintenanceMode"))

    def pending(self) -> list[tuple[str, str]]:
        return [(a.kind, a.target) for a in self.journal.actions(step=rt.STEP) if a.pending]

    def recorded_caps(self) -> dict[str, Any]:
        """Each node's previous cap, as the journal's intents hold it (the newest per node)."""
        out: dict[str, Any] = {}
        for a in self.journal.actions(step=rt.STEP):
            if a.kind == rt.KIND_TASK_CAP:
                out.setdefault(a.target, a.intent.get("previous_cap"))
        return out


@pytest.fixture
async def lab(sim: Simulator, tmp_path: Path) -> AsyncIterator[Lab]:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    source = OctopusClient(sim.server_url, SERVER_ADMIN.api_key, transport=sim.transport())
    dest = OctopusClient(sim.cloud_url, CLOUD_MANAGER.api_key, transport=sim.transport())
    await source.discover()
    await dest.discover()
    yield Lab(sim, ctx, journal, source, dest)
    await source.aclose()
    await dest.aclose()
    journal.close()


def write_finished_wave(lab: Lab, *, checklist: bool = True) -> None:
    """The journal and the Server as a finished wave leaves them (written directly, not migrated)."""
    for n, pid in enumerate(WAVE, 1):
        lab.journal.set_item("project", pid, "import", "done", {"destination_id": f"Projects-{100 + n}"})
        lab.journal.set_item("project", pid, "verify", "done", {})
        lab.journal.set_item("project", pid, "disabled", "done", {})
        doc = lab.sim.server.store.get("projects", pid)
        assert doc is not None
        lab.sim.server.store.put("projects", {**doc, "IsDisabled": True})
    if checklist:
        rt.confirm_backup(lab.journal, rt.BACKUP_PHRASE, who="ops@test")
        rt.tick_audit_log(lab.journal, who="ops@test")


async def migrate_and_clone(lab: Lab) -> None:
    """A real wave migrated, every Tentacle host of it cloned and healthy on Cloud, disabled on the Server."""
    result, _ = await run(lab.ctx, lab.journal)
    assert [p.state for p in result.projects] == ["verified"] * 3, result.problems
    report = await tg.read_targets(lab.ctx, lab.journal, "wave 1", clients=lab.clients)
    plans = tg.host_plans(report)
    canary = tg.canary_host(report, plans)
    assert canary is not None
    kw: dict[str, Any] = {"plans": plans, "settings": FAST_TARGETS, "clients": lab.clients}
    [first] = await tg.run_console(lab.ctx, lab.journal, report, [canary], **kw)
    assert first.state == "registered", first.sentences
    await tg.health_check(lab.ctx, lab.journal, report, settings=FAST_TARGETS, clients=lab.clients)
    rest = tg.hosts_offered(report, plans, lab.journal)
    for res in await tg.run_console(lab.ctx, lab.journal, report, rest, **kw):
        assert res.state == "registered", (res.host, res.sentences)
    states = await tg.health_check(lab.ctx, lab.journal, report, settings=FAST_TARGETS, clients=lab.clients)
    assert {s for n, s in states.items() if n != "linux-ssh-01"} == {"healthy"}, states
    # The SSH target is not a Tentacle and no clone: it stays with the Server.
    tg.leave_behind(lab.journal, report, "linux-ssh-01", "retired with the Server")
    cut = co.Cutover(lab.journal, "wave 1", lab.source, lab.dest, context=lab.ctx)
    for pid in WAVE:
        out = await cut.disable(pid, override="no test deployment in this lab")
        assert out.status == "overridden", out.sentence
    rt.confirm_backup(lab.journal, rt.BACKUP_PHRASE, who="ops@test")
    rt.tick_audit_log(lab.journal, who="ops@test")


async def read_only(lab: Lab) -> rt.RetireReport:
    report = await lab.read()
    assert (await rt.maintenance_on(lab.ctx, lab.journal, report, clients=lab.clients)).status == "done"
    report = await lab.read()
    assert (await rt.task_caps_zero(lab.ctx, lab.journal, report, clients=lab.clients)).status == "done"
    report = await lab.read()
    assert report.read_only
    return report


# -- preconditions ------------------------------------------------------------------------------------


async def test_each_precondition_has_a_state_and_a_sentence(lab: Lab) -> None:
    report = await lab.read()
    checks = {c.id: c for c in report.checks}
    assert list(checks) == ["instance", "projects", "tasks", "backup", "audit-log"]
    assert checks["instance"].ok and checks["tasks"].ok
    assert (
        not checks["projects"].ok and "Acme Web' is not on Octopus Cloud yet" in checks["projects"].sentence
    )
    assert "never planned in a wave" in checks["projects"].sentence
    assert not checks["backup"].ok and rt.BACKUP_PHRASE in checks["backup"].sentence and checks["backup"].tick
    assert not checks["audit-log"].ok and "read-only for months" in checks["audit-log"].sentence
    assert {p.state for p in report.projects} == {"not migrated"} and not report.preconditions_met
    assert report.blockers("maintenance")
    # A finished wave, a backup typed, the audit log ticked: every precondition is met.
    write_finished_wave(lab, checklist=False)
    with pytest.raises(ValueError, match=rt.BACKUP_PHRASE):
        rt.confirm_backup(lab.journal, "yes")
    who = rt.confirm_backup(lab.journal, "  A full   backup EXISTS ", who="jdoe@ops")
    rt.tick_audit_log(lab.journal, who="jdoe@ops")
    report = await lab.read()
    assert report.preconditions_met, [c.sentence for c in report.checks if not c.ok]
    backup = report.check("backup")
    assert backup is not None and f"Confirmed by jdoe@ops on {who['when']}" in backup.sentence
    (action,) = [a for a in lab.journal.actions(step=rt.STEP) if a.kind == rt.KIND_BACKUP]
    assert action.intent["who"] == "jdoe@ops" and action.undo
    # A task on the Server holds the retire back, with its name.
    lab.sim.server.tasks.create("AdHocScript", "a long script", space_id="Spaces-1", executing_seconds=3600)
    report = await lab.read()
    tasks = report.check("tasks")
    assert tasks is not None and not tasks.ok and "a long script" in tasks.sentence
    assert tasks.sentence in report.blockers("maintenance")


async def test_a_project_left_behind_counts_and_can_be_taken_back(lab: Lab) -> None:
    write_finished_wave(lab)
    doc = lab.sim.server.store.get("projects", "Projects-9")
    assert doc is not None
    lab.sim.server.store.put("projects", {**doc, "IsDisabled": False})
    lab.journal.set_item("project", "Projects-9", "import", "missing", None)  # never went to Cloud
    report = await lab.read()
    assert {p.project_id: p.state for p in report.projects}["Projects-9"] == "not migrated"
    assert not report.preconditions_met
    with pytest.raises(rt.RetireError, match="Say why"):
        rt.leave_project(lab.journal, "Projects-9", " ")
    with pytest.raises(rt.RetireError, match="not a project of any planned wave"):
        rt.leave_project(lab.journal, "Projects-2", "x")
    rt.leave_project(lab.journal, "Projects-9", "runbooks only, retired with the Server")
    report = await lab.read()
    row = {p.project_id: p for p in report.projects}["Projects-9"]
    assert row.state == "left behind" and "runbooks only" in row.sentence
    assert report.preconditions_met
    projects = report.check("projects")
    assert projects is not None and "1 left behind on purpose" in projects.sentence
    rt.take_back_project(lab.journal, "Projects-9")
    assert not (await lab.read()).preconditions_met
    kinds = [a.kind for a in lab.journal.actions(step=rt.STEP)]
    assert rt.KIND_LEAVE in kinds and rt.KIND_TAKE_BACK in kinds


# -- refusals -----------------------------------------------------------------------------------------


async def test_octopus_cloud_is_refused_and_never_touched(lab: Lab) -> None:
    write_finished_wave(lab)
    cloud = OctopusClient(lab.sim.cloud_url, CLOUD_MANAGER.api_key, transport=lab.sim.transport())
    await cloud.discover()
    try:
        report = await rt.read_retire(lab.ctx, lab.journal, clients=(cloud, lab.dest))
        assert report.refusals and "Octopus Cloud" in report.refusals[0]
        check = report.check("instance")
        assert check is not None and not check.ok
        seen = len(lab.sim.cloud.requests)
        out = await rt.maintenance_on(lab.ctx, lab.journal, report, clients=(cloud, lab.dest))
        assert out.status == "refused" and "Octopus Cloud" in out.sentences[0]
        assert not [r for r in lab.sim.cloud.requests[seen:] if r.method == "PUT"]
    finally:
        await cloud.aclose()
    # A source that only signs in like Cloud (Octopus ID, no Active Directory) is refused too.
    auth = lab.sim.server.store.get("config", "authentication")
    assert auth is not None
    lab.sim.server.store.put(
        "config", {**auth, "AuthenticationProviders": [{"Name": "Octopus ID", "IsEnabled": True}]}
    )
    report = await lab.read()
    assert report.refusals and "signs in like Octopus Cloud" in report.refusals[0]


async def test_a_half_done_wave_or_a_batch_in_flight_is_refused(lab: Lab) -> None:
    write_finished_wave(lab)
    lab.journal.set_item("project", "Projects-3", "verify", "differences", {})
    report = await lab.read()
    assert any("wave 1 is half done: Acme Database" in r for r in report.refusals), report.refusals
    out = await rt.maintenance_on(lab.ctx, lab.journal, report, clients=lab.clients)
    assert out.status == "refused" and not lab.maintenance()
    lab.journal.set_item("project", "Projects-3", "verify", "done", {})
    lab.journal.set_item("batch", "wave 1#2", "batch", "in progress", {"wave": "wave 1", "projects": []})
    report = await lab.read()
    assert [r for r in report.refusals if "still in flight (wave 1#2" in r]
    lab.journal.set_item("batch", "wave 1#2", "batch", "closed", {"wave": "wave 1", "projects": []})
    assert (await lab.read()).refusals == []


# -- 1. maintenance mode, 2. task caps ----------------------------------------------------------------


async def test_maintenance_mode_previewed_done_and_undone(lab: Lab) -> None:
    write_finished_wave(lab)
    report = await lab.read()
    preview = rt.preview_maintenance(report)
    assert "Turn maintenance mode on" in preview[0] and "--undo maintenance" in preview[1]
    out = await rt.maintenance_on(lab.ctx, lab.journal, report, clients=lab.clients)
    assert out.status == "done" and lab.maintenance()
    (action,) = [a for a in lab.journal.actions(step=rt.STEP) if a.kind == rt.KIND_MAINTENANCE_ON]
    assert action.outcome == "done" and action.undo == {
        "instance": "server",
        "method": "PUT",
        "path": "/api/maintenanceconfiguration",
        "IsInMaintenanceMode": False,
    }
    report = await lab.read()
    assert report.maintenance and rt.preview_maintenance(report) == ["Maintenance mode is already on."]
    again = await rt.maintenance_on(lab.ctx, lab.journal, report, clients=lab.clients)
    assert again.status == "already"
    undone = await rt.undo_maintenance(lab.ctx, lab.journal, clients=lab.clients)
    assert undone.status == "done" and not lab.maintenance()
    assert not (await lab.read()).maintenance


async def test_task_caps_go_to_zero_keep_tasks_queued_and_are_restored(lab: Lab) -> None:
    write_finished_wave(lab)
    report = await lab.read()
    # In order: the cap goes to 0 after maintenance mode.
    refused = await rt.task_caps_zero(lab.ctx, lab.journal, report, clients=lab.clients)
    assert refused.status == "refused" and "maintenance mode on first" in refused.sentences[-1]
    assert lab.caps() == CAPS
    assert (await rt.maintenance_on(lab.ctx, lab.journal, report, clients=lab.clients)).status == "done"
    report = await lab.read()
    preview = rt.preview_task_caps(report)
    assert "Set the task cap of OCTOPUS01 from 5 to 0" in preview[0] and "from 3 to 0" in preview[1]
    out = await rt.task_caps_zero(lab.ctx, lab.journal, report, clients=lab.clients)
    assert out.status == "done", out.sentences
    assert lab.caps() == dict.fromkeys(CAPS, 0)
    assert lab.recorded_caps() == CAPS
    report = await lab.read()
    assert report.read_only and {n.node_id: n.previous_cap for n in report.nodes} == CAPS
    # A new task on the Server (an administrator may still queue one) never starts.
    task = await lab.source.run_script(
        {"Name": "AdHocScript", "Description": "late", "Arguments": {"ScriptBody": "echo", "MachineIds": []}}
    )
    later = time.time() + 5
    lab.sim.server.tasks.clock = lambda: later
    lab.sim.server.tasks.advance()
    assert (await lab.source.task(str(task.id))).state == "Queued"
    # A rerun changes nothing and records no cap 0 as a previous cap.
    again = await rt.task_caps_zero(lab.ctx, lab.journal, report, clients=lab.clients)
    assert again.status == "already" and lab.recorded_caps() == CAPS
    restored = await rt.restore_task_caps(lab.ctx, lab.journal, clients=lab.clients)
    assert restored.status == "done" and lab.caps() == CAPS
    lab.sim.server.tasks.advance()
    assert (await lab.source.task(str(task.id))).state != "Queued"
    assert (await rt.restore_task_caps(lab.ctx, lab.journal, clients=lab.clients)).status == "already"
    assert lab.caps() == CAPS and lab.pending() == []


async def test_a_node_already_at_zero_is_never_recorded_as_previous_cap_zero(lab: Lab) -> None:
    write_finished_wave(lab)
    node = lab.sim.server.store.get("octopusservernodes", "OctopusServerNodes-2")
    assert node is not None
    lab.sim.server.store.put("octopusservernodes", {**node, "MaxConcurrentTasks": 0})
    await read_only(lab)
    assert lab.recorded_caps() == {"OctopusServerNodes-1": 5, "OctopusServerNodes-2": None}
    await rt.restore_task_caps(lab.ctx, lab.journal, clients=lab.clients)
    assert lab.caps() == {"OctopusServerNodes-1": 5, "OctopusServerNodes-2": 0}


class Killed(BaseException):
    """Stands for the SIGKILL at a crash point, in-process."""


@pytest.mark.parametrize(
    "point",
    [
        "maintenance-sent-not-recorded",
        "after-maintenance",
        "cap-sent-not-recorded",
        "after-first-cap",
        "after-task-caps",
    ],
)
async def test_a_crash_at_each_boundary_resumes_with_no_cap_lost(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    assert point in rt.CRASH_POINTS
    write_finished_wave(lab)

    def die(name: str) -> None:
        if name == point:
            raise Killed(name)

    monkeypatch.setattr(rt, "crash_point", die)
    with pytest.raises(Killed):
        report = await lab.read()
        await rt.maintenance_on(lab.ctx, lab.journal, report, clients=lab.clients)
        report = await lab.read()
        await rt.task_caps_zero(lab.ctx, lab.journal, report, clients=lab.clients)
    monkeypatch.setattr(rt, "crash_point", lambda name: None)
    report = await lab.read()
    await rt.maintenance_on(lab.ctx, lab.journal, report, clients=lab.clients)
    await rt.task_caps_zero(lab.ctx, lab.journal, await lab.read(), clients=lab.clients)
    assert lab.maintenance() and lab.caps() == dict.fromkeys(CAPS, 0)
    assert lab.recorded_caps() == CAPS, lab.recorded_caps()
    assert lab.pending() == []
    puts = [r for r in lab.sim.server.requests if r.method == "PUT" and "maintenance" in r.path]
    assert len(puts) == 1  # never sent twice
    await rt.restore_task_caps(lab.ctx, lab.journal, clients=lab.clients)
    await rt.undo_maintenance(lab.ctx, lab.journal, clients=lab.clients)
    assert lab.caps() == CAPS and not lab.maintenance()


# -- 3. the old Tentacle instances --------------------------------------------------------------------


def host_instances(sim: Simulator, host: str) -> dict[str, dict[str, Any]]:
    return {i["Name"]: i for i in sim.hosts.host(host)["Instances"]}


async def test_old_instances_go_canary_first_through_clouds_console_and_the_clones_stay_healthy(
    lab: Lab,
) -> None:
    await migrate_and_clone(lab)
    report = await lab.read()
    assert report.preconditions_met, [c.sentence for c in report.checks if not c.ok]
    canary = report.canary
    assert canary is not None and report.offered_hosts() == [canary]
    canary_row = report.host(canary)
    assert canary_row is not None and not canary_row.production and canary_row.state == "to delete"
    # Not before the Server is read-only.
    [early] = await rt.delete_old_instances(
        lab.ctx, lab.journal, report, [canary], settings=FAST, clients=lab.clients
    )
    assert early.status == "refused" and "read-only first" in early.sentences[-1]
    report = await read_only(lab)
    other = next(h.host for h in report.hosts if h.host != canary and h.state == "to delete")
    [held] = await rt.delete_old_instances(
        lab.ctx, lab.journal, report, [other], settings=FAST, clients=lab.clients
    )
    assert held.status == "refused" and f"the canary host {canary} goes first" in held.sentences[0]
    preview = rt.preview_delete(report, [canary])
    assert "--stop --uninstall" in preview[0] and preview[-1] == rt.IRREVERSIBLE
    server_tasks = len(lab.sim.server.store.all("tasks"))
    events: list[rt.Event] = []
    [done] = await rt.delete_old_instances(
        lab.ctx, lab.journal, report, [canary], on_event=events.append, settings=FAST, clients=lab.clients
    )
    assert done.status == "done", done.sentences
    instances = host_instances(lab.sim, canary)
    old, clones = instances["Tentacle"], [i for n, i in instances.items() if n != "Tentacle"]
    assert not old["Indexed"] and not old["ServiceRunning"] and not old["ServiceInstalled"]
    assert clones and all(i["Indexed"] and i["ServiceRunning"] for i in clones)
    # Through Cloud's console on the clone, never through the Server (whose tasks would not even start).
    assert len(lab.sim.server.store.all("tasks")) == server_tasks
    [task] = [t for t in lab.sim.cloud.store.all("tasks") if t["Name"] == "AdHocScript"]
    assert (
        task["State"] == "Success"
        and "delete-instance --instance 'Tentacle'" in task["Arguments"]["ScriptBody"]
    )
    assert any(e.stage == "health" for e in events) and any(e.stage == "delete" for e in events)
    (action,) = [a for a in lab.journal.actions(step=rt.STEP) if a.kind == rt.KIND_DELETE]
    assert action.intent["irreversible"] and action.undo == {"possible": False, "why": rt.IRREVERSIBLE}
    assert action.outcome == "done" and action.task_id == task["Id"]
    report = await lab.read()
    row = report.host(canary)
    assert row is not None and row.state == "deleted" and row.clone_healthy
    # Then every non-production host, and production hosts only after them.
    offered = report.offered_hosts()
    assert offered and not any(h.production for h in report.hosts if h.host in offered)
    results = await rt.delete_old_instances(
        lab.ctx, lab.journal, report, offered, settings=FAST, clients=lab.clients
    )
    assert [r.status for r in results] == ["done"] * len(offered), [r.sentences for r in results]
    report = await lab.read()
    assert report.offered_hosts() and all(
        h.production for h in report.hosts if h.host in report.offered_hosts()
    )
    results = await rt.delete_old_instances(
        lab.ctx, lab.journal, report, report.offered_hosts(), settings=FAST, clients=lab.clients
    )
    assert {r.status for r in results} == {"done"}, [r.sentences for r in results]
    report = await lab.read()
    assert report.retired and report.offered_hosts() == []
    # A rerun sends nothing.
    tasks = len(lab.sim.cloud.store.all("tasks"))
    [again] = await rt.delete_old_instances(
        lab.ctx, lab.journal, report, [canary], settings=FAST, clients=lab.clients
    )
    assert again.status == "already" and len(lab.sim.cloud.store.all("tasks")) == tasks
    assert lab.pending() == []


@pytest.mark.parametrize("point", ["delete-sent-not-recorded", "after-delete-request", "after-delete"])
async def test_a_crash_during_a_delete_follows_the_same_task(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    await migrate_and_clone(lab)
    report = await read_only(lab)
    canary = report.canary
    assert canary is not None

    def die(name: str) -> None:
        if name == point:
            raise Killed(name)

    monkeypatch.setattr(rt, "crash_point", die)
    with pytest.raises(Killed):
        await rt.delete_old_instances(
            lab.ctx, lab.journal, report, [canary], settings=FAST, clients=lab.clients
        )
    monkeypatch.setattr(rt, "crash_point", lambda name: None)
    report = await lab.read()
    [done] = await rt.delete_old_instances(
        lab.ctx, lab.journal, report, [canary], settings=FAST, clients=lab.clients
    )
    assert done.status == "done", done.sentences
    assert len([t for t in lab.sim.cloud.store.all("tasks") if t["Name"] == "AdHocScript"]) == 1
    assert lab.pending() == []
    assert not host_instances(lab.sim, canary)["Tentacle"]["Indexed"]


async def test_a_host_whose_clone_is_not_healthy_keeps_its_old_instance(lab: Lab) -> None:
    await migrate_and_clone(lab)
    report = await read_only(lab)
    canary = report.canary
    assert canary is not None
    row = report.host(canary)
    assert row is not None
    row.clones[0].state = "unhealthy"
    [out] = await rt.delete_old_instances(
        lab.ctx, lab.journal, report, [canary], settings=FAST, clients=lab.clients
    )
    assert out.status == "refused" and host_instances(lab.sim, canary)["Tentacle"]["Indexed"]


# -- the scripts --------------------------------------------------------------------------------------


def plan(os_name: str, host: str, *names: str) -> HostPlan:
    regs = tuple(
        Registration(f"Machines-{n}", name, "target", "polling", environments=("Test",), roles=("web",))
        for n, name in enumerate(names, 1)
    )
    return HostPlan(host, os_name, regs)  # type: ignore[arg-type]


CASES = {
    "linux-one-clone.sh": plan("linux", "app-dev-01", "app-dev-01"),
    "windows-one-clone.ps1": plan("windows", "app-test-01", "app-test-01"),
    "windows-two-clones.ps1": plan("windows", "web01.corp.local", "web01", "web 01 (blue)"),
}


@pytest.mark.parametrize("filename", list(CASES))
def test_scripts_match_their_reviewed_golden_files(filename: str) -> None:
    text = retire_script(CASES[filename])
    golden = GOLDEN / filename
    if os.environ.get("OCTOWIZ_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8", newline="\n")
    assert golden.exists(), f"{golden} is missing: run with OCTOWIZ_UPDATE_GOLDEN=1 and review it"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{filename} changed: review, then OCTOWIZ_UPDATE_GOLDEN=1"
    )
    assert retire_file_name(CASES[filename]) == f"retire-{CASES[filename].host}.{filename.rsplit('.', 1)[1]}"


def test_scripts_use_only_tentacles_flags_and_never_name_a_clone_in_a_delete() -> None:
    for p in CASES.values():
        text = retire_script(p)
        for line in text.splitlines():
            words = line.strip().split()
            exe = next(
                (i for i, w in enumerate(words) if w.rstrip('"').endswith(("Tentacle", "Tentacle.exe"))), None
            )
            if exe is None or line.strip().startswith(("#", "echo", "Write-Host")):
                continue
            command, args = words[exe + 1], words[exe + 2 :]
            assert command in TENTACLE_COMMANDS, line
            flags = {a.lstrip("-") for a in args if a.startswith("--")}
            assert flags <= set(command_options(command)), line
            if command in ("service", "delete-instance"):
                assert "'Tentacle'" in args, line
                assert not any(clone_instance_name(r) in line for r in p.registrations), line
        assert "service --instance 'Tentacle' --stop --uninstall" in text
        assert text.index("--stop --uninstall") < text.index("delete-instance")
        assert "CANNOT BE UNDONE" in text


def test_a_plan_that_cannot_be_scripted_safely_gets_a_sentence() -> None:
    with pytest.raises(ValueError, match="no Cloud clone"):
        retire_script(HostPlan("h", "linux", ()))
    with pytest.raises(ValueError, match="octowiz never deletes a clone"):
        retire_script(HostPlan("h", "linux", plan("linux", "h", "x").registrations, "OctopusCloud-x"))
    with pytest.raises(ValueError, match="quote or a wildcard"):
        retire_script(HostPlan("h", "linux", plan("linux", "h", "x").registrations, "Ten'tacle"))


def test_bash_scripts_pass_bash_n_and_shellcheck(shellcheck: str) -> None:
    for name, p in CASES.items():
        if not name.endswith(".sh"):
            continue
        path = GOLDEN / name
        assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
        result = subprocess.run([shellcheck, "-s", "bash", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout
        assert retire_script(p) == path.read_text()


@pytest.mark.parametrize("filename", list(CASES))
def test_golden_scripts_run_on_the_simulated_hosts(sim: Simulator, filename: str) -> None:
    p = CASES[filename]
    host = sim.hosts.host(p.host if p.host != "web01.corp.local" else "web01")
    out: list[str] = []
    # Someone ran it on the wrong host first: no clone there, nothing changes.
    code, text = sim.run_on_host(host["Name"], (GOLDEN / filename).read_text())
    assert code == 1 and "is not on this machine: nothing was changed" in text
    assert host_instances(sim, host["Name"])["Tentacle"]["Indexed"]
    for reg in p.registrations:  # the clones, as the clone script leaves them
        name = clone_instance_name(reg)
        for argv in (
            ["create-instance", "--instance", name, "--config", f"/etc/octopus/{name}/t.config"],
            ["new-certificate", "--instance", name],
            ["service", "--instance", name, "--install", "--start"],
        ):
            assert sim.hosts.tentacle(host, argv, out) == 0, out
    code, text = sim.run_on_host(host["Name"], (GOLDEN / filename).read_text())
    assert code == 0, text
    assert "Deleted instance: Tentacle" in text
    instances = host_instances(sim, host["Name"])
    assert not instances["Tentacle"]["Indexed"] and not instances["Tentacle"]["ServiceRunning"]
    for reg in p.registrations:
        clone = instances[clone_instance_name(reg)]
        assert clone["Indexed"] and clone["ServiceRunning"] and clone["ServiceInstalled"]
    # Idempotent: a second run deletes nothing and still succeeds.
    code, text = sim.run_on_host(host["Name"], (GOLDEN / filename).read_text())
    assert code == 0 and "no longer listed; nothing to delete" in text and "Deleted instance" not in text
    assert json.dumps(instances, sort_keys=True) == json.dumps(
        host_instances(sim, host["Name"]), sort_keys=True
    )
