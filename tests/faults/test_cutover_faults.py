"""Targets and the cut-over's test deployment reconcile a lost answer instead of creating twice.

Each request that creates something on either instance during Targets (a target or worker recreated
on Cloud, the Server's script task that clones a Tentacle, Cloud's health check) and the cut-over (the
test deployment) fails once: the change made and its answer lost (a 502, a dropped connection), and
once not made (a 500). The step finds what the lost answer's request made before sending again, so
every machine, task and deployment exists once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from octowiz.engine.cutover import cutover as co
from octowiz.engine.cutover import targets as t
from octowiz.journal import Journal
from octowiz.sim.instance import ScriptedFault
from octowiz.sim.simulator import Simulator
from tests.engine.test_cutover import add_cloud_targets, confirm, migrated
from tests.engine.test_targets import Setup

#: Targets' tries again wait 10 ms here.
QUICK = t.TargetSettings(poll_interval=0.01, recovery_wait=0.01)


def _no_duplicates(sim: Simulator) -> None:
    for coll in ("machines", "workers"):
        names = Counter(d["Name"] for d in sim.cloud.store.all(coll))
        assert [n for n, c in names.items() if c > 1] == [], coll


async def test_targets_find_what_a_lost_answer_made_before_sending_again(setup: Setup) -> None:
    sim = setup.sim
    report = await setup.read()
    sim.cloud.scripted += [
        ScriptedFault(r"/machines$", 502, method="POST", after=True),  # created, answer lost
        ScriptedFault(r"/machines$", 500, method="POST"),  # not created
    ]
    results = await t.recreate_others(setup.ctx, setup.journal, report, clients=setup.clients)
    assert sim.cloud.scripted == []
    states = {r.name: r.state for r in results}
    assert states["mobile-backend-prod"] == "created" and states["cloud-region-sydney"] == "created"
    assert states["dmz-offline-drop"] == "created disabled" and states["aks-prod"] == "created"
    assert "failed" not in states.values()
    _no_duplicates(sim)

    # The canary host's script task on the Server: started, its answer lost; found by its description.
    plans = t.host_plans(report)
    canary = t.canary_host(report, plans)
    assert canary is not None
    sim.server.scripted.append(ScriptedFault(r"^/api/tasks$", 500, method="POST", after=True))
    [host] = await t.run_console(
        setup.ctx, setup.journal, report, [canary], settings=QUICK, clients=setup.clients
    )
    assert host.state == "registered", host.sentences
    scripts = [d for d in sim.server.store.all("tasks") if d["Name"] == "AdHocScript"]
    assert len(scripts) == 1 and host.task_id == scripts[0]["Id"]
    _no_duplicates(sim)

    # Cloud's health check: queued, the connection dropped before its answer; then one not queued.
    sim.cloud.scripted += [
        ScriptedFault(r"/tasks$", 0, method="POST", after=True),
        ScriptedFault(r"/tasks$", 503, method="POST"),
    ]
    await t.health_check(setup.ctx, setup.journal, report, settings=QUICK, clients=setup.clients)
    assert len([d for d in sim.cloud.store.all("tasks") if d["Name"] == "Health"]) == 1
    assert sim.cloud.scripted[0].status == 503  # found after the drop: nothing was sent again
    assert [a for a in setup.journal.actions(step=t.STEP) if a.pending] == []


async def test_a_test_deployment_whose_answer_is_lost_is_found_not_deployed_twice(
    cut: co.Cutover, sim: Simulator, journal: Journal, tmp_path: Path
) -> None:
    await migrated(sim, journal, tmp_path)
    add_cloud_targets(sim, "Acme Web", "Test", ["Healthy", "Healthy"])
    cut.settings = co.CutoverSettings(poll_interval=0.01, recovery_wait=0.01)
    preview = await cut.test_preview("Projects-1")
    sim.cloud.scripted += [
        ScriptedFault(r"/deployments$", 500, method="POST"),  # refused before it was made: sent again
        ScriptedFault(r"/deployments$", 502, method="POST", after=True),  # made, its answer lost: found
    ]
    result = await cut.run_test(preview, confirm=confirm)
    assert result.status == "passed", result.sentence
    assert sim.cloud.scripted == []
    deployments = [d for d in sim.cloud.store.all("deployments") if d["ReleaseId"] == preview.release_id]
    assert len(deployments) == 1 and deployments[0]["TaskId"] == result.task_id
    [action] = [a for a in journal.actions(step="cutover") if a.kind == "test-deployment"]
    assert action.outcome == "started" and action.task_id == result.task_id
