"""The cut-over of a wave: build-server checklist, test deployment, disable and re-enable on the Server.

A wave of the demo is migrated first (short simulated tasks, as in test_migrate), then the cut-over runs
against the same simulator in-process, with a real SQLite journal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from octowiz.engine.context import Context
from octowiz.engine.cutover import cutover as co
from octowiz.engine.migrate import run as migrate
from octowiz.journal import Journal
from octowiz.octopus.client import OctopusClient
from octowiz.octopus.urls import normalise_base_url
from octowiz.paths import Paths
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Simulator
from tests.engine.test_migrate import fast_sim

PASSWORD = "correct horse battery staple"
WAVE = {"Projects-1": "Acme Web", "Projects-3": "Acme Database", "Projects-9": "Ops Toolkit"}
FAST: dict[str, Any] = {"task_queued_seconds": 0.01, "task_executing_seconds": 0.03}
SETTINGS = co.CutoverSettings(poll_interval=0.01)
#: The demo's build server activity is 5 to 6 days before this (factory.BASE_TIME).
NOW = dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.UTC)


@dataclass
class Row:
    """A machine state as targets.MachineRow gives it (only what the precondition reads)."""

    name: str
    projects: list[str] = field(default_factory=list)
    cloud_state: str = "healthy"


HEALTHY = [Row("web01", ["Projects-1"]), Row("db01", ["Projects-3"])]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = fast_sim()  # the demo with its run-on-server steps moved to workers first, so the wave verifies
    yield s
    s.close()


@pytest.fixture
def journal(tmp_path: Path, sim: Simulator) -> Iterator[Journal]:
    j = Journal.create(
        tmp_path / "state" / "migrations" / "t.octowiz.sqlite3",
        {
            "name": "t",
            "source_url": sim.server_url,
            "destination_url": sim.cloud_url,
            "source_space": "Spaces-1",
            "destination_space": "Spaces-1",
        },
    )
    j.set_wave("wave 1", list(WAVE))
    yield j
    j.close()


def context_for(tmp: Path, sim: Simulator) -> Context:
    return Context(
        paths=Paths(state=tmp / "state", config=tmp / "config", logs=tmp / "logs"),
        migrations_dir=tmp / "state" / "migrations",
        keystore=None,
        transport=sim.transport(),
        demo=True,
        demo_keys={
            normalise_base_url(sim.server_url): SERVER_ADMIN.api_key,
            normalise_base_url(sim.cloud_url): CLOUD_MANAGER.api_key,
        },
    )


@pytest.fixture
async def cut(sim: Simulator, journal: Journal, tmp_path: Path) -> AsyncIterator[co.Cutover]:
    transport = sim.transport()
    source = OctopusClient(sim.server_url, SERVER_ADMIN.api_key, transport=transport)
    dest = OctopusClient(sim.cloud_url, CLOUD_MANAGER.api_key, transport=transport)
    await source.discover()
    await dest.discover()
    yield co.Cutover(journal, "wave 1", source, dest, context=context_for(tmp_path, sim), settings=SETTINGS)
    await source.aclose()
    await dest.aclose()


async def migrated(sim: Simulator, journal: Journal, tmp_path: Path) -> migrate.WaveResult:
    async def yes(preview: migrate.ImportPreview) -> bool:
        return True

    result = await migrate.run_wave(
        context_for(tmp_path, sim),
        journal,
        "wave 1",
        PASSWORD,
        confirm=yes,
        settings=migrate.WaveSettings(poll_interval=0.01),
    )
    assert [p.state for p in result.projects] == ["verified"] * 3, [p.verification for p in result.projects]
    return result


def cloud_project(sim: Simulator, name: str) -> dict[str, Any]:
    found = sim.cloud.store.first("projects", lambda p: p["Name"] == name)
    assert found is not None
    return found


def cloud_env(sim: Simulator, name: str) -> str:
    env = sim.cloud.store.first("environments", lambda e: e["Name"] == name)
    assert env is not None
    return str(env["Id"])


def add_cloud_targets(sim: Simulator, project: str, env: str, health: list[str]) -> list[str]:
    """Targets on Cloud with the project's step roles in an environment (as the Tentacle clones would be)."""
    proc = sim.cloud.store.get("deploymentprocesses", cloud_project(sim, project)["DeploymentProcessId"])
    assert proc is not None
    roles = sorted(
        {
            r
            for s in proc["Steps"]
            for r in str((s.get("Properties") or {}).get("Octopus.Action.TargetRoles") or "").split(",")
            if r
        }
    )
    names = []
    for i, state in enumerate(health):
        doc = sim.cloud.store.insert(
            "machines",
            {
                "SpaceId": "Spaces-1",
                "Name": f"{project.lower().replace(' ', '-')}-{i}",
                "EnvironmentIds": [cloud_env(sim, env)],
                "Roles": roles,
                "HealthStatus": state,
                "IsDisabled": False,
                "Endpoint": {"CommunicationStyle": "TentacleActive", "Thumbprint": "AB" * 20},
            },
            prefix="Machines",
        )
        names.append(str(doc["Name"]))
    return names


def server_puts(sim: Simulator, project_id: str) -> int:
    return sum(
        1 for r in sim.server.requests if r.method == "PUT" and r.path.endswith(f"/projects/{project_id}")
    )


def triggers(sim: Simulator, project: str) -> dict[str, bool]:
    pid = cloud_project(sim, project)["Id"]
    return {
        t["Name"]: bool(t["IsDisabled"])
        for t in sim.cloud.store.all("projecttriggers")
        if t["ProjectId"] == pid
    }


async def confirm(preview: co.TestPreview) -> bool:
    return True


# -- 1. the build server ----------------------------------------------------------------------------------


async def test_the_checklist_names_the_build_server_from_the_servers_events_and_items_are_ticked_off(
    cut: co.Cutover, sim: Simulator, journal: Journal
) -> None:
    seen = len(sim.server.requests)
    lists = {c.name: c for c in await cut.build_server_checklist(now=NOW)}
    # Bulk reads only: projects, processes, events, build information (one page each here).
    assert len(sim.server.requests) - seen <= 5
    web = lists["Acme Web"]
    assert [p.who for p in web.pushers] == ["build-server"]
    robot = web.pushers[0]
    assert robot.is_service and robot.with_api_key and "TeamCity" in robot.agent
    assert any(w.startswith("package Acme.Web") for w in robot.what)
    assert any(w.startswith("release") for w in robot.what)
    assert any(w.startswith("build information Acme.Web") for w in robot.what)
    assert [i.id for i in web.items] == ["url:build-server", "apikey:build-server", "plugin:build-server"]
    assert sim.cloud_url.rstrip("/") in web.items[0].text and not web.done
    # Acme Database: packages from the build server, but its release was created by a person in the portal.
    db = lists["Acme Database"]
    assert {p.who: p.is_service for p in db.pushers} == {"build-server": True, "jdoe": False}
    assert [i.id for i in db.items] == ["url:build-server", "apikey:build-server", "plugin:build-server"]
    # Ops Toolkit deploys no package and has no release: nothing to repoint, said in a sentence.
    ops = lists["Ops Toolkit"]
    assert ops.pushers == [] and ops.items == [] and ops.done and "Nothing was pushed" in ops.note
    # Nothing since yesterday.
    recent = await cut.build_server_checklist(since=NOW - dt.timedelta(days=1))
    assert all(c.pushers == [] and c.items == [] for c in recent)
    await cut.build_server_checklist(now=NOW)

    co.mark_item(journal, "Projects-1", "url:build-server")
    co.mark_item(journal, "Projects-1", "apikey:build-server")
    again = {c.name: c for c in await cut.build_server_checklist(now=NOW)}
    assert [i.done for i in again["Acme Web"].items] == [True, True, False]
    assert journal.item_status("project", "Projects-1", "build-server")[0] == "in progress"  # type: ignore[index]
    co.mark_item(journal, "Projects-1", "plugin:build-server")
    status = journal.item_status("project", "Projects-1", "build-server")
    assert status is not None and status[0] == "done"
    co.mark_item(journal, "Projects-1", "apikey:build-server", done=False)
    status = journal.item_status("project", "Projects-1", "build-server")
    assert status is not None and status[0] == "in progress"
    assert status[1] is not None and status[1]["done"] == ["url:build-server", "plugin:build-server"]
    with pytest.raises(ValueError, match="no item"):
        co.mark_item(journal, "Projects-1", "url:someone-else")


async def test_the_events_endpoint_filters_by_category_document_and_time(cut: co.Cutover) -> None:
    source = cut.source
    releases = await source.events(eventCategories="Created", documentTypes="Releases")
    assert releases and all(
        any(r.startswith("Releases-") for r in e.related_document_ids or []) for e in releases
    )
    mine = await source.events(eventCategories="Created", projects="Projects-1")
    assert len(mine) == 1 and str(mine[0].message).endswith("was created for Acme Web")
    assert await source.events(eventCategories="Deleted") == []
    assert await source.events(**{"from": "2026-03-01T00:00:00+00:00"}) == []


# -- 2. the test deployment -------------------------------------------------------------------------------


async def test_a_test_deployment_passes_on_healthy_targets_and_is_recorded(
    cut: co.Cutover, sim: Simulator, journal: Journal, tmp_path: Path
) -> None:
    await migrated(sim, journal, tmp_path)
    names = add_cloud_targets(sim, "Acme Web", "Test", ["Healthy", "Healthy"])
    preview = await cut.test_preview("Projects-1")
    assert preview.environment_name == "Test"  # the first non-production one with the project's targets
    assert [t.name for t in preview.targets] == names and all(t.ready for t in preview.targets)
    assert all(name != "Production" for _, name in preview.environments)
    assert "2 target(s)" in " ".join(preview.lines())
    events: list[co.CutoverEvent] = []
    cut.on_event = events.append
    result = await cut.run_test(preview, confirm=confirm)
    assert result.status == "passed" and result.task_id, result.sentence
    status = journal.item_status("project", "Projects-1", "test")
    assert status is not None and status[0] == "passed" and status[1] is not None
    assert status[1]["task_id"] == result.task_id
    task = sim.cloud.store.get("tasks", str(result.task_id))
    assert task is not None and task["Name"] == "Deploy" and task["State"] == "Success"
    assert any(e.stage == "test" and e.percent is not None for e in events)
    action = next(a for a in journal.actions(step="cutover") if a.kind == "test-deployment")
    assert action.task_id == result.task_id and action.outcome == "started"
    with pytest.raises(co.CutoverError, match="production"):
        await cut.test_preview("Projects-1", environment_id=cloud_env(sim, "Production"))


async def test_a_test_deployment_fails_on_an_unhealthy_target_with_octopus_sentence(
    cut: co.Cutover, sim: Simulator, journal: Journal, tmp_path: Path
) -> None:
    await migrated(sim, journal, tmp_path)
    names = add_cloud_targets(sim, "Acme Web", "Test", ["Healthy", "Unhealthy"])
    preview = await cut.test_preview("Projects-1")
    assert [t.ready for t in preview.targets] == [True, False]

    async def no(preview: co.TestPreview) -> bool:
        return False

    with pytest.raises(co.CutoverError, match="not confirmed"):
        await cut.run_test(preview, confirm=no)
    assert not [a for a in journal.actions(step="cutover") if a.kind == "test-deployment"]
    result = await cut.run_test(preview, confirm=confirm)
    assert result.status == "failed"
    assert f"The deployment target '{names[1]}' is unavailable" in result.sentence
    status = journal.item_status("project", "Projects-1", "test")
    assert status is not None and status[0] == "failed" and status[1] is not None
    assert status[1]["task_id"] == result.task_id
    # No target with the project's roles at all in the environment: Octopus's other sentence.
    other = await cut.test_preview("Projects-1", environment_id=cloud_env(sim, "Development"))
    assert other.targets == [] and "will fail" in " ".join(other.lines())
    result = await cut.run_test(other, confirm=confirm)
    assert result.status == "failed" and "no deployment targets found in role" in result.sentence


# -- 3. disabling on the Server ---------------------------------------------------------------------------


def test_the_targets_precondition_reads_each_machine_the_project_reaches() -> None:
    assert co.targets_precondition("Projects-9", HEALTHY) == (True, "It reaches no deployment target.")
    ok, sentence = co.targets_precondition(
        "Projects-1", [*HEALTHY, Row("web02", ["Projects-1"], "unhealthy")]
    )
    assert not ok and sentence == "1 of its 2 targets are not healthy on Octopus Cloud: web02 (unhealthy)."
    assert co.is_production("Production") and co.is_production("Prod-EU")
    assert not co.is_production("Pre-Production") and not co.is_production("Test")


async def test_a_project_not_verified_is_never_disabled_even_with_an_override(
    cut: co.Cutover, sim: Simulator, journal: Journal
) -> None:
    journal.set_item("project", "Projects-1", "verify", "differences", {"destination_id": "Projects-1"})
    (check,) = await cut.disable_preview(["Projects-1"], machines=HEALTHY)
    assert not check.verified and not check.overridable and check.state == "enabled"
    out = await cut.disable("Projects-1", override="we are sure", machines=HEALTHY)
    assert out.status == "refused"
    assert out.sentence == (
        "'Acme Web' is not verified on Octopus Cloud (its verification found differences): it cannot be "
        "disabled on the Server until its migration is verified."
    )
    assert server_puts(sim, "Projects-1") == 0 and journal.actions(step="cutover") == []


async def test_unhealthy_targets_or_no_passed_test_need_an_override_which_the_journal_records(
    cut: co.Cutover, sim: Simulator, journal: Journal, tmp_path: Path
) -> None:
    await migrated(sim, journal, tmp_path)
    sick = [Row("web01", ["Projects-1"], "unhealthy")]
    checks = {c.project_id: c for c in await cut.disable_preview(machines=sick)}
    assert checks["Projects-1"].verified and not checks["Projects-1"].targets_healthy
    assert "No test deployment on Octopus Cloud has passed yet." in checks["Projects-1"].reasons
    out = await cut.disable("Projects-1", machines=sick)
    assert out.status == "refused" and "web01 (unhealthy)" in out.sentence and "Type a reason" in out.sentence
    assert server_puts(sim, "Projects-1") == 0
    journal.set_item("project", "Projects-1", "test", "passed", {"task_id": "ServerTasks-1"})
    out = await cut.disable("Projects-1", machines=sick)
    assert out.status == "refused" and "No test deployment" not in out.sentence

    out = await cut.disable(
        "Projects-1", override="web01 is being rebuilt; the team accepts it", machines=sick
    )
    assert out.status == "overridden" and "web01 is being rebuilt" in out.sentence
    assert sim.server.store.get("projects", "Projects-1")["IsDisabled"] is True  # type: ignore[index]
    action = next(a for a in journal.actions(step="cutover") if a.kind == "disable-project")
    assert action.intent["override"] == "web01 is being rebuilt; the team accepts it"
    assert action.outcome == "overridden" and action.undo is not None and action.undo["IsDisabled"] is False
    status = journal.item_status("project", "Projects-1", "disabled")
    assert status is not None and status[0] == "overridden"
    assert status[1] is not None and status[1]["override"].startswith("web01 is being rebuilt")


async def test_triggers_are_created_disabled_enabled_at_cutover_and_disabled_again_on_rollback(
    cut: co.Cutover, sim: Simulator, journal: Journal, tmp_path: Path
) -> None:
    result = await migrated(sim, journal, tmp_path)
    # Held disabled on Cloud while the Server's project is live, and verification expects it.
    assert triggers(sim, "Acme Web") == {"Nightly deploy to Test": True, "Deploy to new web servers": True}
    web = next(p for p in result.projects if p.id == "Projects-1")
    assert web.verification is not None and web.verification.verified
    assert any("until the project is cut over" in n for n in web.verification.notes)
    held = [a for a in journal.actions(step="migrate") if a.kind == "create-trigger"]
    assert held and all(
        a.intent["body"]["IsDisabled"] is True and a.intent["enabled_on_server"] for a in held
    )

    journal.set_item("project", "Projects-1", "test", "passed", {"task_id": "ServerTasks-1"})
    (check,) = await cut.disable_preview(["Projects-1"], machines=HEALTHY)
    assert check.allowed and check.reasons == []
    out = await cut.disable("Projects-1", machines=HEALTHY)
    assert out.status == "done", out.sentence
    assert out.triggers == ["Deploy to new web servers", "Nightly deploy to Test"]
    assert sim.server.store.get("projects", "Projects-1")["IsDisabled"] is True  # type: ignore[index]
    assert triggers(sim, "Acme Web") == {"Nightly deploy to Test": False, "Deploy to new web servers": False}
    on = [a for a in journal.actions(step="cutover") if a.kind == "enable-trigger"]
    assert len(on) == 2 and all(a.undo and a.undo["IsDisabled"] is True for a in on)
    # Disabling again sends nothing: the Server's project is read first.
    again = await cut.disable("Projects-1", machines=HEALTHY)
    assert again.status == "done" and server_puts(sim, "Projects-1") == 1

    back = await cut.reenable("Projects-1")
    assert back.status == "rolled back" and back.triggers == [
        "Deploy to new web servers",
        "Nightly deploy to Test",
    ]
    assert sim.server.store.get("projects", "Projects-1")["IsDisabled"] is False  # type: ignore[index]
    assert triggers(sim, "Acme Web") == {"Nightly deploy to Test": True, "Deploy to new web servers": True}
    status = journal.item_status("project", "Projects-1", "disabled")
    assert status is not None and status[0] == "rolled back"
    enable = next(a for a in journal.actions(step="cutover") if a.kind == "enable-project")
    assert enable.undo is not None and enable.undo["IsDisabled"] is True and enable.outcome == "done"


class Killed(BaseException):
    """Stands for the SIGKILL at a crash point, in-process."""


@pytest.mark.parametrize(
    "point",
    ["disable-sent-not-recorded", "after-disable", "trigger-sent-not-recorded", "after-triggers-enabled"],
)
async def test_a_crash_during_the_disable_resumes_without_disabling_twice(
    cut: co.Cutover,
    sim: Simulator,
    journal: Journal,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
) -> None:
    assert point in co.CRASH_POINTS
    await migrated(sim, journal, tmp_path)
    journal.set_item("project", "Projects-1", "test", "passed", {"task_id": "ServerTasks-1"})

    def die(name: str) -> None:
        if name == point:
            raise Killed(name)

    monkeypatch.setattr(co, "crash_point", die)
    with pytest.raises(Killed):
        await cut.disable("Projects-1", machines=HEALTHY)
    monkeypatch.setattr(co, "crash_point", lambda name: None)
    # The targets went bad meanwhile: the interrupted disable still finishes (it already went out).
    out = await cut.disable("Projects-1", machines=[Row("web01", ["Projects-1"], "unhealthy")])
    assert out.status == "done", out.sentence
    assert server_puts(sim, "Projects-1") == 1
    assert triggers(sim, "Acme Web") == {"Nightly deploy to Test": False, "Deploy to new web servers": False}
    assert [a for a in journal.actions(step="cutover") if a.pending] == []
    assert [a.outcome for a in journal.actions(step="cutover") if a.kind == "disable-project"] == ["done"]


async def test_a_crash_after_the_test_deployment_was_sent_follows_that_deployment(
    cut: co.Cutover, sim: Simulator, journal: Journal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrated(sim, journal, tmp_path)
    add_cloud_targets(sim, "Acme Web", "Test", ["Healthy"])
    preview = await cut.test_preview("Projects-1")

    def die(name: str) -> None:
        if name == "test-sent-not-recorded":
            raise Killed(name)

    monkeypatch.setattr(co, "crash_point", die)
    with pytest.raises(Killed):
        await cut.run_test(preview, confirm=confirm)
    monkeypatch.setattr(co, "crash_point", lambda name: None)

    async def never(preview: co.TestPreview) -> bool:
        raise AssertionError("a second deployment must not be asked for")

    result = await cut.run_test(preview, confirm=never)
    assert result.status == "passed"
    assert len([d for d in sim.cloud.store.all("deployments") if d.get("Comments")]) == 1
    assert [a.outcome for a in journal.actions(step="cutover") if a.kind == "test-deployment"] == ["started"]


async def test_the_targets_precondition_is_read_from_cloud_through_targets(
    cut: co.Cutover, sim: Simulator, journal: Journal, tmp_path: Path
) -> None:
    await migrated(sim, journal, tmp_path)
    checks = {c.project_id: c for c in await cut.disable_preview()}
    # No Tentacle has been cloned to Cloud in this test: the projects with targets are not ready.
    assert not checks["Projects-1"].targets_healthy
    assert "not healthy on Octopus Cloud" in " ".join(checks["Projects-1"].reasons)
