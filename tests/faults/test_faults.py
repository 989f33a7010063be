"""The demo wave migrates under faults, in one run, to the same Cloud as without them, within its budget.

Two kinds of proof:

* **every mutating request losing its answer**, scripted: the export, the archive's download and upload,
  the import (refused once before it is carried out, then carried out with its answer lost), a package
  upload, a package download cut mid-body and a trigger creation each fail once, some before the
  instance carries them out and some after (the change made, the answer a 5xx or a dropped
  connection). The run reconciles and goes on by itself: nothing is created twice, and Cloud ends as a
  fault-free run leaves it.
* **the issue's fault mix** (5 % 5xx, 1 % dropped connections, bursts of three 429s, 2 % slow answers,
  each 5xx and drop striking before or after the request is carried out), seeded, over loopback HTTP,
  with Cloud's requests-per-minute budget set in the migration's journal as ``octowiz new
  --requests-per-minute`` leaves it. The run completes and verifies, Cloud equals a fault-free run's,
  the tries again are bounded (counted from the simulator's log and the clients' ``retry_count``), and
  no window of the simulator's log holds more requests than the budget allows.

Scaling, so the mix test runs in a few seconds: tasks last tens of milliseconds (the engine tests'
clock), a 429 asks for ``Retry-After: 0.05`` and a slow answer takes 0.1 s more. The budget is 1,080
requests a minute, kept in the journal as ``octowiz new --requests-per-minute`` keeps it, and the
client's window is scaled down with it: 18 requests in any second (``RateBudget``'s ``window``; a
minute's window would never fill in a run of seconds). The demo wave sends Cloud about 90 requests,
so the window fills and the budget paces the run (about 5 s, against 0.5 s unbudgeted): no second of
the simulator's log may hold more than 18 requests, plus one for the time between sending and
arriving. The log stamps each request when its bytes arrived, not when the simulator's one thread got
round to it, and the budget keeps its window 0.1 s longer than the instance's (a fiftieth of a
minute's would be 20 ms of a second's, less than a loaded machine's threads can lag). Cloud's own
limiter is set 10 % above the budget (as octowiz's 180 a minute sits under Cloud's documented 200),
with a burst of a second's budget, and must never have to refuse a request.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest

import octowiz.octopus.client as client_module
from octowiz.engine.migrate import run as migrate
from octowiz.octopus.client import RateBudget
from octowiz.sim.config import FaultMix
from octowiz.sim.instance import ScriptedFault
from octowiz.sim.simulator import Simulator
from tests.engine.test_migrate import WAVE, context_for, destination_state, new_journal, run
from tests.faults.world import (
    FAILED,
    ISSUE_RATES,
    arrivals,
    failures,
    faults_by_kind,
    faulty_sim,
    longest_failure_run,
    max_in_window,
)

#: The run's own tries again wait 50 ms here instead of a second.
SETTINGS = migrate.WaveSettings(poll_interval=0.01, recovery_wait=0.05)
#: Cloud's budget, its scaled burst, and Cloud's own limiter 10 % above it.
PER_MINUTE, WINDOW = 1080, 1.0
PER_WINDOW = int(PER_MINUTE * WINDOW / 60)
LIMIT, LIMIT_BURST = 1200, PER_WINDOW + 2


@pytest.fixture(scope="module")
def fault_free() -> dict[str, Any]:
    """Cloud after an uninterrupted, fault-free run of the wave (and how many requests it took)."""
    sim = faulty_sim(None)

    async def once() -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = context_for(Path(tmp), sim.server_url, sim.cloud_url, sim.transport())
            journal = new_journal(Path(tmp), sim.server_url, sim.cloud_url, list(WAVE))
            result, _ = await run(ctx, journal, settings=SETTINGS)
            journal.close()
        assert result.exit_code == migrate.EXIT_VERIFIED, result.problems
        return {"state": destination_state(sim), "requests": len(sim.server.requests + sim.cloud.requests)}

    out = asyncio.run(once())
    sim.close()
    return out


def _imports(sim: Simulator) -> list[dict[str, Any]]:
    return [t for t in sim.cloud.store.all("tasks") if t.get("Name") == migrate.IMPORT_TASK_NAME]


async def test_every_mutating_request_losing_its_answer_is_reconciled_within_the_run(
    tmp_path: Path, fault_free: dict[str, Any]
) -> None:
    sim = faulty_sim(None)
    export, files, import_ = (
        r"/import-export/export$",
        r"/import-export/import-files$",
        r"/import-export/import$",
    )
    sim.server.scripted += [
        ScriptedFault(export, 500, method="POST", after=True),  # the export runs, its answer is lost
        ScriptedFault(r"/artifacts/.+/content$", 0, method="GET", after_bytes=1000),  # cut mid-archive
        ScriptedFault(r"/packages/.+/raw$", 0, method="GET", after_bytes=100),  # cut mid-package
    ]
    sim.cloud.scripted += [
        ScriptedFault(files, 0, method="POST", after=True),  # stored, the connection drops
        ScriptedFault(import_, 503, method="POST"),  # refused before it is carried out
        ScriptedFault(import_, 502, method="POST", after=True),  # started, its answer lost
        ScriptedFault(r"/packages/raw$", 502, method="POST", after=True),  # stored, answer lost
        ScriptedFault(r"/packages/raw$", 500, method="POST"),  # not stored
        ScriptedFault(r"/projecttriggers$", 0, method="POST", after=True),  # created, dropped
        ScriptedFault(r"/projecttriggers$", 500, method="POST"),  # not created
    ]
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    result, events = await run(ctx, journal, settings=SETTINGS)

    assert result.problems == []
    assert [(p.name, p.state) for p in result.projects] == [(n, "verified") for n in WAVE.values()]
    assert sim.server.scripted == [] and sim.cloud.scripted == []  # every fault struck
    assert destination_state(sim) == fault_free["state"]
    # One import on Cloud: the lost answer was found again, never a second import sent after it.
    assert len(_imports(sim)) == 1
    # Four run-level faults (export, upload, import twice), each reconciled once (the archive's
    # download, dropped before its answer began, the client itself sent again, as any GET, and so the
    # package download cut the same way); inside their stage, the package upload and the trigger
    # creation that were not carried out were each sent once more (those carried out were found).
    retried = "Reconciling with both instances and trying again"
    rounds = [e.message for e in events if retried in e.message]
    assert len(rounds) == 4, rounds
    assert result.retries["run"] == 4 + 2
    uploads = [r for r in sim.cloud.requests if r.method == "POST" and "/packages/raw" in r.path]
    # One upload more than packages: the one refused before it was stored (the one whose download was
    # cut was aborted mid-body, and the one stored with its answer lost was found, not sent again).
    assert len(uploads) == len(fault_free["state"]["packages"]) + 1
    # The journal kept its rule: no intent without an outcome, and what happened is written down.
    actions = journal.actions()
    assert [a for a in actions if a.pending] == []
    kinds = [(a.kind, a.outcome) for a in reversed(actions) if a.kind in ("export", "upload", "import")]
    assert kinds == [
        ("export", "failed"),
        ("export", "started"),
        ("upload", "failed"),
        ("import", "unknown"),
        ("import", "unknown"),
    ]
    assert journal.items("batch")[0][3] == "done"
    journal.close()
    sim.close()


async def test_a_failure_that_does_not_pass_stops_after_the_bounded_tries_and_a_rerun_finishes(
    tmp_path: Path, fault_free: dict[str, Any]
) -> None:
    sim = faulty_sim(None)
    # Cloud refuses every import for a while (six 503s: more than the run's tries again).
    sim.cloud.scripted.append(ScriptedFault(r"/import-export/import$", 503, count=6, method="POST"))
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    settings = migrate.WaveSettings(poll_interval=0.01, recovery_wait=0.01, recovery_attempts=3)
    result, _ = await run(ctx, journal, settings=settings)

    assert result.exit_code == migrate.EXIT_FAILED
    assert result.retries["run"] == 3
    imports = [
        r for r in sim.cloud.requests if r.method == "POST" and r.path.endswith("/import-export/import")
    ]
    assert [r.status for r in imports] == [503] * 4  # the first try and three more, then it stopped
    (problem,) = result.problems
    assert problem.startswith("While importing on Octopus Cloud: ") and "HTTP 503" in problem
    assert problem.endswith("Running the wave again continues from there.")
    assert [a for a in journal.actions() if a.pending] == []
    # The next run picks up from the import (two 503s are left, then Cloud accepts it).
    result, _ = await run(ctx, journal, settings=settings)
    assert result.exit_code == migrate.EXIT_VERIFIED, result.problems
    assert destination_state(sim) == fault_free["state"]
    assert len(_imports(sim)) == 1
    journal.close()
    sim.close()


@pytest.mark.parametrize("seed", [11, 23])
async def test_the_issue_fault_mix_completes_within_the_budget_as_a_fault_free_run(
    tmp_path: Path, fault_free: dict[str, Any], monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    mix = FaultMix(**ISSUE_RATES, retry_after=0.05, slow_seconds=0.1, seed=seed)
    sim = faulty_sim(mix, rate_limit_per_minute=LIMIT, rate_limit_burst=LIMIT_BURST)
    # The burst scaled down with the minute (see the module's docstring).
    monkeypatch.setattr(
        client_module,
        "RateBudget",
        lambda per_minute, **kw: RateBudget(round(per_minute * WINDOW / 60), window=WINDOW, **kw),
    )
    with sim.serve() as ends:
        ctx = context_for(tmp_path, ends["server"].url, ends["cloud"].url)
        journal = new_journal(tmp_path, ends["server"].url, ends["cloud"].url, list(WAVE))
        journal.set_settings(requests_per_minute=PER_MINUTE)  # as `octowiz new --requests-per-minute`
        result, _ = await run(ctx, journal, settings=SETTINGS)

    # It completes and verifies, and Cloud holds what a fault-free run leaves.
    assert result.problems == []
    assert [(p.name, p.state) for p in result.projects] == [(n, "verified") for n in WAVE.values()]
    assert destination_state(sim) == fault_free["state"]
    assert len(_imports(sim)) == 1
    assert [a for a in journal.actions() if a.pending] == []
    # The faults struck (5xx both before and after the work on this seed; every kind over the two).
    seen = faults_by_kind(sim.server.requests + sim.cloud.requests)
    assert seen["5xx"] + seen["5xx-after"] >= 3, seen
    # Tries again are bounded: each client tried again at most once per failed answer it got, no
    # request met more failures in a row than the client's attempts, and the extra requests stay
    # within a few per failure (the try again, plus the reads that reconcile).
    s_failed, c_failed = failures(sim.server.requests), failures(sim.cloud.requests)
    assert result.retries["source"] <= s_failed and result.retries["destination"] <= c_failed
    assert longest_failure_run(sim.server.requests) < 5 and longest_failure_run(sim.cloud.requests) < 5
    assert result.retries["run"] <= s_failed + c_failed
    extra = len(sim.server.requests + sim.cloud.requests) - fault_free["requests"]
    assert extra <= 4 * (s_failed + c_failed), (extra, s_failed, c_failed)
    # The budget held: no window of Cloud's log over what the bucket allows (one request of slack for
    # the time between taking a token and arriving), and Cloud's limiter never had to refuse.
    cloud = arrivals(sim.cloud)
    assert max_in_window(cloud, WINDOW) <= PER_WINDOW + 1
    assert seen["limited"] == 0
    # ...and it paced the run: unbudgeted, these requests would have arrived in a fraction of the time.
    assert max(cloud) - min(cloud) >= (len(cloud) // PER_WINDOW - 1) * WINDOW
    assert {r.status for r in sim.cloud.requests} & FAILED
    journal.close()
    sim.close()
