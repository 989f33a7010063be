"""The Targets step on the demo: a migrated wave's machines by kind, recreated, cloned, health-checked.

The wave is migrated first (export/import on short real-clock tasks, as test_migrate does), then the
step runs against the same in-process simulator with a real SQLite journal.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from octowiz.engine.context import Context
from octowiz.engine.cutover import scripts
from octowiz.engine.cutover import targets as t
from octowiz.engine.prepare.hosts import uri_host
from octowiz.journal import Journal
from octowiz.octopus.client import OctopusClient
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.scenarios import DEMO_PUBLIC_LISTENING_URI
from octowiz.sim.simulator import Simulator
from tests.engine.test_migrate import context_for, fast_sim, new_journal, run

#: Acme API (Tentacles, SSH, Kubernetes API and agent, a Linux worker), Mobile Backend (Azure Web App),
#: Infrastructure Health (SSH with the "Transient Machines" policy), Ops Toolkit (Windows workers).
WAVE = ["Projects-2", "Projects-10", "Projects-12", "Projects-9"]
FAST = t.TargetSettings(poll_interval=0.01)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = fast_sim()
    # The demo's Acme API uses two external feeds the Cloud lacks (their credentials cannot be exported).
    for name, feed_type in (("Corp Docker Registry", "Docker"), ("nuget.org", "NuGet")):
        s.cloud.store.insert(
            "feeds",
            {
                "SpaceId": "Spaces-1",
                "Name": name,
                "FeedType": feed_type,
                "FeedUri": "https://feeds.example.com",
            },
            prefix="Feeds",
        )
    # Make the wave reach the kinds no demo project deploys to: a Cloud Region, an offline drop and an
    # ECS (step package) target, through a step of Mobile Backend on the Server.
    process = s.server.store.get("deploymentprocesses", "deploymentprocess-Projects-10")
    assert process is not None
    step = dict(process["Steps"][0])
    step.update(
        Id="extra-step",
        Name="Reach the others",
        Properties={"Octopus.Action.TargetRoles": "cloud-region,dmz,ecs"},
        Actions=[{**process["Steps"][0]["Actions"][0], "Id": "extra-action", "Name": "Reach the others"}],
    )
    process["Steps"] = [*process["Steps"], step]
    s.server.store.put("deploymentprocesses", process)
    yield s
    s.close()


class Setup:
    def __init__(
        self, sim: Simulator, ctx: Context, journal: Journal, source: OctopusClient, dest: OctopusClient
    ):
        self.sim, self.ctx, self.journal, self.source, self.dest = sim, ctx, journal, source, dest

    @property
    def clients(self) -> tuple[OctopusClient, OctopusClient]:
        return self.source, self.dest

    async def read(self) -> t.TargetsReport:
        return await t.read_targets(self.ctx, self.journal, "wave 1", clients=self.clients)

    def cloud(self, coll: str) -> dict[str, dict[str, Any]]:
        return {d["Name"]: d for d in self.sim.cloud.store.all(coll)}


@pytest.fixture
async def setup(sim: Simulator, tmp_path: Path) -> AsyncIterator[Setup]:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, WAVE)
    result, _ = await run(ctx, journal)
    # Imported is what this step needs (verification's own differences are test_verify's business).
    assert result.problems == [] and {p.state for p in result.projects} <= {"verified", "differences"}
    source = OctopusClient(sim.server_url, SERVER_ADMIN.api_key, transport=sim.transport())
    dest = OctopusClient(sim.cloud_url, CLOUD_MANAGER.api_key, transport=sim.transport())
    await source.discover()
    await dest.discover()
    yield Setup(sim, ctx, journal, source, dest)
    await source.aclose()
    await dest.aclose()
    journal.close()


def by_name(report: t.TargetsReport) -> dict[str, t.MachineRow]:
    return {f"{r.role}:{r.name}": r for r in report.rows}


async def test_a_migrated_wave_lists_its_machines_by_kind_with_their_state_on_cloud(setup: Setup) -> None:
    report = await setup.read()
    rows = by_name(report)
    kinds = {k: r.kind for k, r in rows.items()}
    assert kinds["target:app1-public"] == "listening"
    assert kinds["target:app-prod-01"] == "polling"
    assert kinds["target:linux-ssh-01"] == "ssh"
    assert kinds["target:aks-prod"] == "kubernetes"
    assert kinds["target:k8s-agent-dev"] == "kubernetes-agent"
    assert kinds["target:mobile-backend-prod"] == "azure-web-app"
    assert kinds["target:cloud-region-sydney"] == "cloud-region"
    assert kinds["target:dmz-offline-drop"] == "offline-drop"
    assert kinds["target:ecs-prod"] == "step-package"
    assert kinds["worker:linux-worker-01"] == "listening"
    assert kinds["worker:win-worker-02"] == "polling"
    # Only what the wave reaches: web01 serves Acme Web (not in the wave), db01 Acme Database.
    assert "target:web01" not in rows and "target:db01" not in rows
    # Nothing is on Cloud yet, and that was read, not assumed.
    assert {r.cloud_state for r in report.rows} == {"missing"}
    assert report.requests["destination"] > 0
    app = rows["target:app-prod-01"]
    assert app.environments == ["Production"] and app.tenants == ["Contoso"] and app.production
    # Tenanted to Contoso, which is connected to Acme API but not to Ops Toolkit (whose role it has).
    assert app.projects == ["Projects-2"]
    assert rows["target:app-prod-02"].projects == ["Projects-2", "Projects-9"]  # in wave order
    assert rows["target:app1-public"].host == uri_host(DEMO_PUBLIC_LISTENING_URI)
    assert rows["target:app-prod-01"].host == "app-prod-01"  # polling: the machine name
    assert rows["worker:win-worker-02"].pools == ["Windows Workers"]
    assert "$" + scripts.API_KEY_ENV in rows["target:k8s-agent-dev"].command
    assert "API-" not in rows["target:k8s-agent-dev"].command
    # Recorded: one machine row per Server machine, stage "cloud".
    recorded = {i: (st, d) for _, i, stage, st, d in setup.journal.items("machine") if stage == "cloud"}
    assert recorded[app.source_id][0] == "missing"
    assert (recorded[app.source_id][1] or {}).get("name") == "app-prod-01"


async def test_the_bulk_read_does_not_grow_with_the_number_of_targets(setup: Setup) -> None:
    first = await setup.read()
    store = setup.sim.server.store
    template = store.get("machines", "Machines-1")
    assert template is not None
    for n in range(300):
        store.insert(
            "machines", {**template, "Id": "", "Name": f"extra-{n}", "Slug": f"extra-{n}"}, prefix="Machines"
        )
    second = await setup.read()
    assert len(second.rows) == len(first.rows)  # web01's role and environment are not in the wave
    # 300 more targets: three more pages, never one request per machine.
    assert second.requests["source"] - first.requests["source"] <= 4


async def test_every_other_kind_is_recreated_with_remapped_ids_secrets_listed_and_disabled(
    setup: Setup,
) -> None:
    report = await setup.read()
    # The ECS target's account, entered on Cloud by hand with its secret.
    await setup.dest.request(
        "POST",
        setup.dest.space_path("accounts"),
        json={"Name": "Deploy Service Account", "AccountType": "UsernamePassword", "Username": "svc",
              "Password": {"HasValue": True}},
    )  # fmt: skip
    results = {
        r.name: r for r in await t.recreate_others(setup.ctx, setup.journal, report, clients=setup.clients)
    }
    cloud = setup.cloud("machines")
    envs = {d["Name"]: d["Id"] for d in setup.sim.cloud.store.all("environments")}
    pools = {d["Name"]: d["Id"] for d in setup.sim.cloud.store.all("workerpools")}
    accounts = {d["Name"]: d["Id"] for d in setup.sim.cloud.store.all("accounts")}

    # Azure Web App: its account came with the import; ids are Cloud's.
    assert results["mobile-backend-prod"].state == "created"
    web = cloud["mobile-backend-prod"]
    assert web["EnvironmentIds"] == [envs["Production"]]
    assert web["Endpoint"]["AccountId"] == accounts["Azure Production"]
    # Cloud region: the Server's default pool (not on Cloud by name) becomes Cloud's default pool, as the
    # import does for run-on-server steps.
    assert results["cloud-region-sydney"].state == "created"
    default = next(d["Id"] for d in setup.sim.cloud.store.all("workerpools") if d.get("IsDefault"))
    assert cloud["cloud-region-sydney"]["Endpoint"]["DefaultWorkerPoolId"] == default
    # Offline drop: the encryption password cannot be read back: listed, and the target starts disabled.
    drop = results["dmz-offline-drop"]
    assert drop.state == "created disabled"
    assert any("encryption password" in s for s in drop.secrets)
    assert cloud["dmz-offline-drop"]["IsDisabled"] is True
    assert by_name(report)["target:dmz-offline-drop"].secrets == drop.secrets
    # Kubernetes on the Azure account: created; the on-prem one's token account is not on Cloud.
    assert results["aks-prod"].state == "created"
    assert cloud["aks-prod"]["Endpoint"]["Authentication"]["AccountId"] == accounts["Azure Production"]
    assert cloud["aks-prod"]["Endpoint"]["DefaultWorkerPoolId"] == pools["Linux Workers"]
    assert results["k8s-onprem"].state == "needs account"
    assert "On-prem Kubernetes Token" in results["k8s-onprem"].sentence
    assert "k8s-onprem" not in cloud
    # SSH: the key pair account is not on Cloud either: nothing created, the row says what to create.
    assert results["linux-ssh-01"].state == "needs account"
    assert "Linux SSH Key" in by_name(report)["target:linux-ssh-01"].note
    # The agent is installed by Helm, never by REST.
    assert results["k8s-agent-dev"].state == "manual"
    assert "helm upgrade --install" in results["k8s-agent-dev"].sentence
    assert "k8s-agent-dev" not in cloud
    # A kind Cloud refuses: Octopus's own sentence; the others went on.
    assert results["ecs-prod"].state == "refused"
    assert "step package 'aws-ecs-target'" in results["ecs-prod"].sentence
    # Every creation is a journaled action with its outcome.
    actions = [a for a in setup.journal.actions(step=t.STEP) if a.kind == "recreate"]
    assert actions and all(not a.pending for a in actions)
    done = {a.target: a for a in actions if a.outcome == "done"}
    assert done["aks-prod"].detail and done["aks-prod"].detail["undo"]["delete"] == cloud["aks-prod"]["Id"]


async def test_an_account_placeholder_and_a_missing_policy(setup: Setup) -> None:
    report = await setup.read()
    # The SSH key exists on Cloud now, but only as a placeholder: no private key.
    await setup.dest.request(
        "POST",
        setup.dest.space_path("accounts"),
        json={"Name": "Linux SSH Key", "AccountType": "SshKeyPair", "Username": "octopus",
              "PrivateKeyFile": {"HasValue": False}},
    )  # fmt: skip
    results = {
        r.name: r
        for r in await t.recreate_others(
            setup.ctx, setup.journal, report, ["linux-ssh-01", "linux-ssh-02"], clients=setup.clients
        )
    }
    assert results["linux-ssh-01"].state == "created disabled"
    assert any("PrivateKeyFile" in s and "Linux SSH Key" in s for s in results["linux-ssh-01"].secrets)
    # linux-ssh-02 uses the "Transient Machines" policy: created on Cloud first, by name, once.
    policies = setup.cloud("machinepolicies")
    assert "Transient Machines" in policies
    assert setup.cloud("machines")["linux-ssh-02"]["MachinePolicyId"] == policies["Transient Machines"]["Id"]
    ssh = setup.cloud("machines")["linux-ssh-01"]
    assert ssh["Endpoint"]["AccountId"] == setup.cloud("accounts")["Linux SSH Key"]["Id"]
    assert ssh["IsDisabled"] is True
    # The secrets were entered: enable it.
    await t.mark_filled(setup.ctx, setup.journal, "linux-ssh-01", clients=setup.clients)
    assert setup.cloud("machines")["linux-ssh-01"]["IsDisabled"] is False
    with pytest.raises(t.TargetsError, match="No target called 'nope'"):
        await t.mark_filled(setup.ctx, setup.journal, "nope", clients=setup.clients)


async def test_a_rerun_makes_no_duplicate_even_after_a_lost_outcome(setup: Setup) -> None:
    report = await setup.read()
    await t.recreate_others(setup.ctx, setup.journal, report, clients=setup.clients)
    before = sorted(d["Name"] for d in setup.sim.cloud.store.all("machines"))
    policies = len(setup.sim.cloud.store.all("machinepolicies"))
    # A crash between the POST and its outcome leaves a pending intent: the rerun finds the target by name.
    setup.journal.begin_action(t.STEP, "recreate", "aks-prod", {"name": "aks-prod"}, None)
    again = {
        r.name: r
        for r in await t.recreate_others(setup.ctx, setup.journal, await setup.read(), clients=setup.clients)
    }
    assert sorted(d["Name"] for d in setup.sim.cloud.store.all("machines")) == before
    assert len(setup.sim.cloud.store.all("machinepolicies")) == policies
    assert again["aks-prod"].state == "already there"
    assert again["dmz-offline-drop"].state == "already there" and again["dmz-offline-drop"].secrets
    assert not [a for a in setup.journal.actions(step=t.STEP) if a.pending]
    # And the rows now read the state from Cloud.
    rows = by_name(await setup.read())
    assert rows["target:aks-prod"].cloud_state == "registered"
    assert rows["target:dmz-offline-drop"].cloud_state == "disabled"


async def test_host_plans_and_the_canary_gate(setup: Setup) -> None:
    report = await setup.read()
    plans = t.host_plans(report)
    hosts = {p.host: p for p in plans}
    assert "app-prod-01" in hosts and "win-worker-02" in hosts
    assert all(r.comms == "polling" for p in plans for r in p.registrations)
    canary = t.canary_host(report, plans)
    assert canary is not None
    assert not any(r.environments_are_production for r in hosts[canary].registrations)
    assert t.hosts_offered(report, plans, setup.journal) == [canary]
    # Healthy on Cloud (after a health check) opens the rest.
    setup.journal.set_item("host", canary, "healthy", "done", {})
    assert sorted(t.hosts_offered(report, plans, setup.journal)) == sorted(hosts)
    listening = t.host_plans(report, comms="listening")
    for plan in listening:
        for reg in plan.registrations:
            assert reg.listening_port not in (None, 10933)


async def test_scripts_to_download_carry_no_key(setup: Setup, tmp_path: Path) -> None:
    report = await setup.read()
    plans = t.host_plans(report)
    paths = t.write_scripts(report, plans, tmp_path / "scripts", journal=setup.journal)
    assert len(paths) == len(plans)
    for path in paths:
        text = path.read_text()
        assert SERVER_ADMIN.api_key not in text and CLOUD_MANAGER.api_key not in text
        assert scripts.API_KEY_ENV in text


def _no_keys_in(path: Path) -> None:
    data = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert SERVER_ADMIN.api_key.encode() not in data
    assert CLOUD_MANAGER.api_key.encode() not in data


async def test_no_api_key_in_the_journal(setup: Setup) -> None:
    report = await setup.read()
    await t.recreate_others(setup.ctx, setup.journal, report, clients=setup.clients)
    _no_keys_in(setup.journal.path)


async def test_health_check_records_each_machine(setup: Setup) -> None:
    report = await setup.read()
    await t.recreate_others(setup.ctx, setup.journal, report, clients=setup.clients)
    events: list[t.Event] = []
    states = await t.health_check(
        setup.ctx, setup.journal, report, on_progress=events.append, settings=FAST, clients=setup.clients
    )
    assert set(states) == {d["Name"] for d in setup.sim.cloud.store.all("machines")}
    assert states["dmz-offline-drop"] == "disabled"
    assert any(e.stage == "health" for e in events)
    tasks = [d for d in setup.sim.cloud.store.all("tasks") if d["Name"] == "Health"]
    assert len(tasks) == 1
    recorded = {i: st for _, i, stage, st, _ in setup.journal.items("machine") if stage == "cloud"}
    assert recorded[by_name(report)["target:aks-prod"].source_id] == states["aks-prod"]


# -- the script console ----------------------------------------------------------------------------------


async def _console(
    setup: Setup, report: t.TargetsReport, hosts: list[str]
) -> tuple[list[t.HostResult], list[t.Event]]:
    events: list[t.Event] = []
    results = await t.run_console(
        setup.ctx, setup.journal, report, hosts, on_event=events.append, settings=FAST, clients=setup.clients
    )
    return results, events


async def test_the_console_clones_a_host_and_registers_it_on_cloud(setup: Setup) -> None:
    report = await setup.read()
    plans = t.host_plans(report)
    canary = t.canary_host(report, plans)
    assert canary is not None
    [result], events = await _console(setup, report, [canary])
    assert result.state == "registered", result.sentences
    plan = next(p for p in plans if p.host == canary)
    for reg in plan.registrations:
        coll = "machines" if reg.kind == "target" else "workers"
        doc = setup.cloud(coll)[reg.name]
        assert doc["Endpoint"]["CommunicationStyle"] == "TentacleActive"
        assert doc["Endpoint"]["Uri"].startswith("poll://")
        assert result.cloud_ids[reg.name] == doc["Id"]
        if reg.kind == "target":
            envs = {d["Id"]: d["Name"] for d in setup.sim.cloud.store.all("environments")}
            assert sorted(envs[e] for e in doc["EnvironmentIds"]) == sorted(reg.environments)
            assert sorted(doc["Roles"]) == sorted(reg.roles)
    # The script went to the Server without any key.
    [task] = [d for d in setup.sim.server.store.all("tasks") if d["Name"] == "AdHocScript"]
    assert CLOUD_MANAGER.api_key not in task["Arguments"]["ScriptBody"]
    assert any(e.stage == "script" for e in events)
    # A rerun follows what is recorded: no second task, no duplicate.
    count = len(setup.sim.cloud.store.all("machines")) + len(setup.sim.cloud.store.all("workers"))
    [again], _ = await _console(setup, report, [canary])
    assert again.state == "registered"
    assert len([d for d in setup.sim.server.store.all("tasks") if d["Name"] == "AdHocScript"]) == 1
    assert len(setup.sim.cloud.store.all("machines")) + len(setup.sim.cloud.store.all("workers")) == count
    _no_keys_in(setup.journal.path)


async def test_a_host_registered_under_that_name_with_another_thumbprint_is_a_conflict(setup: Setup) -> None:
    report = await setup.read()
    plans = t.host_plans(report)
    plan = next(p for p in plans if any(r.kind == "target" for r in p.registrations))
    reg = next(r for r in plan.registrations if r.kind == "target")
    env = next(iter(setup.cloud("environments").values()))["Id"]
    await setup.dest.create_machine(
        {
            "Name": reg.name,
            "EnvironmentIds": [env],
            "Roles": ["x"],
            "Endpoint": {
                "CommunicationStyle": "TentacleActive",
                "Uri": "poll://someoneelse/",
                "Thumbprint": "AB" * 20,
            },
        }
    )
    [result], _ = await _console(setup, report, [plan.host])
    assert result.state == "conflict"
    assert any("a host already registered on cloud under that name" in s.lower() for s in result.sentences)
    assert setup.cloud("machines")[reg.name]["Endpoint"]["Thumbprint"] == "AB" * 20


async def test_a_failing_script_on_one_host_leaves_the_others_going(setup: Setup) -> None:
    report = await setup.read()
    plans = t.host_plans(report)
    assert len(plans) >= 2
    first, second = plans[0].host, plans[1].host
    setup.sim.server.tasks.failing_kinds.add("adhoc")
    try:
        results, _ = await _console(setup, report, [first])
    finally:
        setup.sim.server.tasks.failing_kinds.discard("adhoc")
    assert results[0].state == "failed"
    assert first in results[0].sentences[0]
    [ok], _ = await _console(setup, report, [second])
    assert ok.state == "registered", ok.sentences
    # The failed host is sent again on the next run (a new task), not followed.
    [retry], _ = await _console(setup, report, [first])
    assert retry.task_id != results[0].task_id


def test_crash_points_are_named() -> None:
    assert len(set(t.CRASH_POINTS)) == len(t.CRASH_POINTS)
    assert time.monotonic() > 0


async def test_a_script_sent_but_not_recorded_is_found_by_its_description(setup: Setup) -> None:
    report = await setup.read()
    plans = t.host_plans(report)
    plan = plans[0]
    reg = plan.registrations[0]
    # The process died after the POST and before its outcome: a pending intent, and the task on the Server.
    setup.journal.begin_action(t.STEP, "run-script", plan.host, {"host": plan.host}, None)
    await setup.source.run_script(
        {
            "Name": "AdHocScript",
            "Description": t._description(report.wave, plan.host),
            "SpaceId": setup.source.space_id,
            "Arguments": {
                "MachineIds": [reg.machine_id],
                "TargetType": "Machines" if reg.kind == "target" else "Workers",
                "Syntax": scripts.syntax(plan),
                "ScriptBody": scripts.script(plan, report.cloud, via="console"),
            },
        }
    )
    [result], _ = await _console(setup, report, [plan.host])
    assert result.state == "registered", result.sentences
    assert len([d for d in setup.sim.server.store.all("tasks") if d["Name"] == "AdHocScript"]) == 1
    assert not [a for a in setup.journal.actions(step=t.STEP) if a.pending]


async def test_a_machine_left_behind_on_purpose_stops_counting_and_can_be_taken_back(setup: Setup) -> None:
    from octowiz.engine.cutover.cutover import targets_precondition

    report = await setup.read()
    ssh = report.row("linux-ssh-01")
    assert ssh is not None and ssh.cloud_state == "missing" and ssh.projects
    with pytest.raises(t.TargetsError, match="Say why"):
        t.leave_behind(setup.journal, report, "linux-ssh-01", " ")
    with pytest.raises(t.TargetsError, match="No target or worker"):
        t.leave_behind(setup.journal, report, "no-such-box", "gone")
    ok, _ = targets_precondition(ssh.projects[0], report.rows)
    assert not ok
    t.leave_behind(setup.journal, report, "linux-ssh-01", "retired with the Server")
    again = await setup.read()  # read from Cloud and the journal afresh
    kept = again.row("linux-ssh-01")
    assert (
        kept is not None and kept.left_behind == "retired with the Server" and kept.cloud_state == "missing"
    )
    # It no longer counts against the projects that reach it (others may still).
    assert "linux-ssh-01" not in targets_precondition(ssh.projects[0], again.rows)[1]
    (action,) = [a for a in setup.journal.actions() if a.kind == "leave-behind"]
    assert action.intent["reason"] == "retired with the Server" and action.undo
    t.take_back(setup.journal, again, "linux-ssh-01")
    back = (await setup.read()).row("linux-ssh-01")
    assert back is not None and not back.left_behind
    assert not setup.sim.cloud.store.find("machines", lambda d: d.get("Name") == "linux-ssh-01")


async def test_polling_clones_reach_cloud_over_443_when_the_migration_says_so(setup: Setup) -> None:
    report = await setup.read()
    assert not report.cloud.polling_over_443
    plan = next(p for p in t.host_plans(report) if p.registrations[0].comms == "polling")
    assert "polling." not in scripts.script(plan, report.cloud, via="download")
    setup.journal.set_settings(**{t.POLLING_443: True})
    report = await setup.read()
    assert report.cloud.polling_over_443
    text = scripts.script(plan, report.cloud, via="download")
    assert "https://polling.octowiz-demo.octopus.app" in text and "10943" not in text
