"""What the chaos runs found, each reproduced in-process at the exact request where it went wrong.

A kill is played in-process by a transport that raises :class:`Killed` (a ``BaseException``, so nothing
catches it as an error) either before a request reaches the simulator (the request is lost) or after the
simulator carried it out (the answer is lost): the code under test stops exactly there, its intent
written and its outcome not, as after a SIGKILL. Then the same call runs again with a healthy transport.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from octowiz.engine.cutover import cutover as co
from octowiz.engine.cutover import targets as tg
from octowiz.journal import Journal
from octowiz.sim.simulator import Simulator
from tests.engine.test_cutover import add_cloud_targets
from tests.engine.test_migrate import context_for, fast_sim, new_journal, run
from tests.test_cli_cutover import prepare, ready

SETTINGS = tg.TargetSettings(poll_interval=0.01)


class Killed(BaseException):
    """Stands for the SIGKILL, in-process."""


class DiesAt(httpx.AsyncBaseTransport):
    """Passes requests on, until the first one that matches: there the process "dies".

    Args:
        method: the request's method.
        pattern: searched in the request's path.
        applied: True to let the simulator carry the request out first (its answer is lost), False to
            lose the request itself.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, method: str, pattern: str, *, applied: bool) -> None:
        self.inner, self.method, self.pattern, self.applied = inner, method, pattern, applied
        self.fired = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.fired and request.method == self.method and re.search(self.pattern, request.url.path):
            self.fired = True
            if self.applied:
                response = await self.inner.handle_async_request(request)
                await response.aread()
            raise Killed(f"{request.method} {request.url.path}")
        return await self.inner.handle_async_request(request)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = fast_sim()
    ready(s)
    yield s
    s.close()


async def migrated(sim: Simulator, home: Path) -> Journal:
    """The demo's wave migrated (and the SSH key entered on Cloud), its journal open."""
    await prepare(sim, sim.endpoints(), home, "migrated")
    return Journal.open(home / "state" / "migrations" / "t.octowiz.sqlite3")


def pending(journal: Journal, step: str) -> list[tuple[str, str]]:
    return [(a.kind, a.target) for a in journal.actions(step=step) if a.pending]


def outcomes(journal: Journal, step: str, kind: str) -> list[str | None]:
    return [a.outcome for a in journal.actions(step=step) if a.kind == kind]


async def test_a_logo_upload_whose_answer_was_lost_is_closed_on_the_rerun(
    tmp_path: Path, sim: Simulator
) -> None:
    # Found by the chaos run of seed 100: SIGKILL once the logo was on Cloud, before its outcome.
    dies = DiesAt(sim.transport(), "POST", r"/logo$", applied=True)
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, dies)
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, ["Projects-1"])
    with pytest.raises(Killed):
        await run(ctx, journal)
    assert pending(journal, "migrate") == [("copy-logo", "Acme Web")]
    result, _ = await run(ctx, journal)
    assert [p.state for p in result.projects] == ["verified"]
    assert pending(journal, "migrate") == []
    assert outcomes(journal, "migrate", "copy-logo") == ["done"]
    journal.close()


async def test_a_logo_upload_that_was_lost_is_sent_again_and_the_attempt_closed(
    tmp_path: Path, sim: Simulator
) -> None:
    dies = DiesAt(sim.transport(), "POST", r"/logo$", applied=False)
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, dies)
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, ["Projects-1"])
    with pytest.raises(Killed):
        await run(ctx, journal)
    result, _ = await run(ctx, journal)
    assert [p.state for p in result.projects] == ["verified"]
    assert outcomes(journal, "migrate", "copy-logo") == ["done", "failed"]  # newest first
    journal.close()


async def test_a_trigger_creation_lost_on_its_way_is_closed_when_it_is_sent_again(
    tmp_path: Path, sim: Simulator
) -> None:
    # Found by the chaos runs of seeds 105 and 108: the POST of a trigger never arrived.
    dies = DiesAt(sim.transport(), "POST", r"/projecttriggers$", applied=False)
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, dies)
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, ["Projects-1"])
    with pytest.raises(Killed):
        await run(ctx, journal)
    [(kind, target)] = pending(journal, "migrate")
    assert kind == "create-trigger"
    result, _ = await run(ctx, journal)
    assert [p.state for p in result.projects] == ["verified"]
    assert pending(journal, "migrate") == []
    assert [a.outcome for a in journal.actions(step="migrate") if a.target == target] == ["done", "failed"]
    names = [t["Name"] for t in sim.cloud.store.all("projecttriggers")]
    assert sorted(names) == sorted(set(names)) and len(names) == 2
    journal.close()


@pytest.mark.parametrize(
    ("pattern", "applied", "kind", "expected"),
    [
        (r"/import-export/export$", True, "export", [["started", "superseded"]]),
        (r"/import-export/export$", False, "export", [["started", "superseded"]]),
        (r"/import-export/import-files$", True, "upload", [["done"]]),
        (r"/import-export/import-files$", False, "upload", [["done", "failed"]]),
        # Found again as a running task, or by its project on Cloud if it already finished.
        (r"/import-export/import$", True, "import", [["started"], ["done"]]),
        (r"/import-export/import$", False, "import", [["started", "failed"]]),
    ],
)
async def test_the_batch_requests_a_run_died_in_are_closed_on_the_rerun(
    tmp_path: Path, sim: Simulator, pattern: str, applied: bool, kind: str, expected: list[list[str]]
) -> None:
    # The export, upload and import actions were left without an outcome when a run died with the request
    # sent (or lost); the rerun reconciled the batch from the instances but never closed them.
    dies = DiesAt(sim.transport(), "POST", pattern, applied=applied)
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, dies)
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, ["Projects-9"])
    with pytest.raises(Killed):
        await run(ctx, journal)
    assert pending(journal, "migrate") == [(kind, "wave 1#1")]
    result, _ = await run(ctx, journal)
    assert [p.state for p in result.projects] == ["verified"]
    assert pending(journal, "migrate") == []
    assert outcomes(journal, "migrate", kind) in expected
    imports = [
        r for r in sim.cloud.requests if r.method == "POST" and r.path.endswith("/import-export/import")
    ]
    assert len(imports) == 1  # a lost one never reached Cloud; one that landed is never sent again
    journal.close()


async def clone_canary(ctx: object, journal: Journal) -> list[tg.HostResult]:
    report = await tg.read_targets(ctx, journal, "wave 1")  # type: ignore[arg-type]
    plans = tg.host_plans(report)
    canary = tg.canary_host(report, plans)
    assert canary is not None
    return await tg.run_console(ctx, journal, report, [canary], plans=plans, settings=SETTINGS)  # type: ignore[arg-type]


async def test_a_registration_lost_on_its_way_is_closed_when_it_is_sent_again(
    tmp_path: Path, sim: Simulator
) -> None:
    # Found by the chaos runs of seeds 101 and 103: the POST of a clone's registration never arrived.
    journal = await migrated(sim, tmp_path)
    dies = DiesAt(sim.transport(), "POST", r"/machines$", applied=False)
    with pytest.raises(Killed):
        await clone_canary(context_for(tmp_path, sim.server_url, sim.cloud_url, dies), journal)
    assert pending(journal, "targets") == [("register", "web-test-01")]
    [host] = await clone_canary(
        context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport()), journal
    )
    assert host.state == "registered", host.sentences
    assert pending(journal, "targets") == []
    assert outcomes(journal, "targets", "register") == ["done", "failed"]
    assert [d["Name"] for d in sim.cloud.store.all("machines")] == ["web-test-01"]
    journal.close()


async def test_a_machine_policy_whose_answer_was_lost_is_found_and_its_attempt_closed(
    tmp_path: Path, sim: Simulator
) -> None:
    journal = await migrated(sim, tmp_path)
    # The canary's Tentacle uses a policy Cloud does not have yet: cloning it creates a copy there.
    store = sim.server.store
    policy = next(p["Id"] for p in store.all("machinepolicies") if p["Name"] == "Transient Machines")
    canary = next(d for d in store.all("machines") if d["Name"] == "web-test-01")
    store.put("machines", {**canary, "MachinePolicyId": policy})
    dies = DiesAt(sim.transport(), "POST", r"/machinepolicies$", applied=True)
    with pytest.raises(Killed):
        await clone_canary(context_for(tmp_path, sim.server_url, sim.cloud_url, dies), journal)
    assert pending(journal, "targets") == [("create-machine-policy", "Transient Machines")]
    [host] = await clone_canary(
        context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport()), journal
    )
    assert host.state == "registered", host.sentences
    assert pending(journal, "targets") == []
    assert outcomes(journal, "targets", "create-machine-policy") == ["done"]
    assert [p["Name"] for p in sim.cloud.store.all("machinepolicies")].count("Transient Machines") == 1
    journal.close()


async def test_a_health_check_whose_answer_was_lost_is_closed_when_it_runs_again(
    tmp_path: Path, sim: Simulator
) -> None:
    journal = await migrated(sim, tmp_path)
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    await clone_canary(ctx, journal)
    dies = DiesAt(sim.transport(), "POST", r"/tasks$", applied=True)
    report = await tg.read_targets(ctx, journal, "wave 1")
    with pytest.raises(Killed):
        await tg.health_check(
            context_for(tmp_path, sim.server_url, sim.cloud_url, dies), journal, report, settings=SETTINGS
        )
    assert pending(journal, "targets") == [("health-check", "wave 1")]
    states = await tg.health_check(ctx, journal, report, settings=SETTINGS)
    assert states == {"web-test-01": "healthy"}
    assert pending(journal, "targets") == []
    assert outcomes(journal, "targets", "health-check") == ["sent", "superseded"]
    journal.close()


async def test_a_test_that_already_passed_is_not_deployed_again(tmp_path: Path, sim: Simulator) -> None:
    # Found by the chaos runs of seeds 2 and 3: `cutover --test` killed after the test had passed (while
    # it read the targets' states for its summary) deployed a second time when run again.
    journal = await migrated(sim, tmp_path)
    add_cloud_targets(sim, "Acme Web", "Test", ["Healthy"])
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())

    async def yes(preview: co.TestPreview) -> bool:
        return True

    async def never(preview: co.TestPreview) -> bool:
        raise AssertionError("a second deployment must not be asked for")

    settings = co.CutoverSettings(poll_interval=0.01)
    async with co.open_cutover(ctx, journal, "wave 1", settings=settings) as cut:
        first = await cut.run_test(await cut.test_preview("Projects-1"), confirm=yes)
        assert first.status == "passed", first.sentence
        again = await cut.run_test(await cut.test_preview("Projects-1"), confirm=never)
    assert (again.status, again.task_id, again.sentence) == ("passed", first.task_id, first.sentence)
    assert len([d for d in sim.cloud.store.all("deployments") if d.get("Comments")]) == 1
    journal.close()


async def test_a_disable_that_died_twice_closes_both_attempts(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the chaos run of seed 408: the PUT that disables a project was lost, the rerun died right
    # after its own PUT landed, and the third run closed only the newest of the two attempts.
    journal = await migrated(sim, tmp_path)
    settings = co.CutoverSettings(poll_interval=0.01)
    reason = "the wave's owners accept it"

    async def disable(transport: httpx.AsyncBaseTransport) -> co.DisableOutcome:
        ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, transport)
        async with co.open_cutover(ctx, journal, "wave 1", settings=settings) as cut:
            return await cut.disable("Projects-1", override=reason)

    with pytest.raises(Killed):
        await disable(DiesAt(sim.transport(), "PUT", r"/projects/Projects-1$", applied=False))

    def die(name: str) -> None:
        if name == "disable-sent-not-recorded":
            raise Killed(name)

    monkeypatch.setattr(co, "crash_point", die)
    with pytest.raises(Killed):
        await disable(sim.transport())
    monkeypatch.setattr(co, "crash_point", lambda name: None)
    assert pending(journal, "cutover") == [("disable-project", "Projects-1")] * 2
    outcome = await disable(sim.transport())
    assert outcome.status == "overridden", outcome.sentence
    assert pending(journal, "cutover") == []
    assert outcomes(journal, "cutover", "disable-project") == ["overridden", "overridden"]
    assert (sim.server.store.get("projects", "Projects-1") or {})["IsDisabled"] is True
    journal.close()
