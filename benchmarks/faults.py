"""The demo wave under the issue's faults and a requests-per-minute budget, over loopback, beside a clean run.

Both simulated instances are served over HTTP on loopback by a thread of this process (so their request
logs can be read), with the simulator's default task timings. The wave (Acme Web, Acme Database, Ops
Toolkit, prepared as the guide says) is migrated twice by the engine as ``octowiz migrate`` runs it,
Cloud's budget set in the migration's journal (``octowiz new --requests-per-minute``):

* **fault-free**: no faults;
* **faults**, at the issue's exact rates: 5 % of requests answered 5xx (500, 502, 503), 1 % of
  connections dropped, 1 % of requests start a burst of three 429s with ``Retry-After: 1``, 2 % of
  answers 2 s slower; half of the 5xx and drops strike after the request was carried out (the change
  made, its answer lost). Seeded (``--seed``).

Printed side by side: wall time; requests to each instance; faults injected by kind; the clients' own
tries again and the run's (after reconciling); the most requests Cloud received in any 60 s window
against the budget (the client's budget is a sliding window: never more than the budget in any 60 s);
and whether Cloud's own limiter, a token bucket set to Cloud's documented 200 a minute with a burst of
200, scaled to the budget (budget x 200 / 180), ever had to refuse. At the end, whether Cloud holds the
same as after the fault-free run.

The demo wave sends Cloud about 90 requests: with the default budget of 180 a minute it never waits,
so the benchmark runs at 60 a minute by default, where the window fills after 60 requests and the
budget paces the rest of the run.

Usage: ``python -m benchmarks.faults [--requests-per-minute 60] [--seed 11]``
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import measure, result
from octowiz.engine.migrate import run as migrate
from octowiz.sim.config import FaultMix
from octowiz.sim.simulator import Simulator
from tests.engine.test_migrate import WAVE, context_for, destination_state, new_journal
from tests.faults.world import (
    ISSUE_RATES,
    arrivals,
    failures,
    faults_by_kind,
    faulty_sim,
    max_in_window,
)

PASSWORD = "a benchmark export password"
#: octowiz's default budget for Cloud against Cloud's documented limit.
DEFAULT_BUDGET, CLOUD_LIMIT = 180, 200


@dataclass
class Run:
    """One migration of the wave and what the simulator saw."""

    label: str
    wall: float
    result: migrate.WaveResult
    sim: Simulator
    state: dict[str, Any]


async def _yes(preview: migrate.ImportPreview) -> bool:
    return True


async def _migrate(label: str, mix: FaultMix | None, per_minute: int, poll: float) -> Run:
    limit = max(1, per_minute * CLOUD_LIMIT // DEFAULT_BUDGET)
    sim = faulty_sim(mix, fast=False, rate_limit_per_minute=limit, rate_limit_burst=limit)
    with tempfile.TemporaryDirectory() as tmp, sim.serve() as ends:
        ctx = context_for(Path(tmp), ends["server"].url, ends["cloud"].url)
        journal = new_journal(Path(tmp), ends["server"].url, ends["cloud"].url, list(WAVE))
        journal.set_settings(requests_per_minute=per_minute)
        started = time.perf_counter()
        outcome = await migrate.run_wave(
            ctx, journal, "wave 1", PASSWORD, confirm=_yes, settings=migrate.WaveSettings(poll_interval=poll)
        )
        wall = time.perf_counter() - started
        journal.close()
    return Run(label, wall, outcome, sim, destination_state(sim))


def _row(name: str, *cells: object) -> None:
    print(f"  {name:<44}" + "".join(f"{c!s:>24}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests-per-minute", type=int, default=60, help="Cloud's budget (default 60)")
    parser.add_argument("--seed", type=int, default=11, help="the faults' seed (default 11)")
    parser.add_argument("--poll-seconds", type=float, default=0.5, help="task polling (default 0.5)")
    args = parser.parse_args()
    n = args.requests_per_minute
    mix = FaultMix(**ISSUE_RATES, retry_after=1.0, slow_seconds=2.0, seed=args.seed)

    runs = [
        asyncio.run(_migrate("fault-free", None, n, args.poll_seconds)),
        asyncio.run(_migrate("faults", mix, n, args.poll_seconds)),
    ]
    print(f"The demo wave ({len(WAVE)} projects), Cloud's budget {n} requests a minute, seed {args.seed}:")
    _row("", *(r.label for r in runs))
    _row("wall time", *(f"{r.wall:.1f} s" for r in runs))
    _row("outcome", *(", ".join(sorted({p.state for p in r.result.projects})) for r in runs))
    _row("problems", *(len(r.result.problems) for r in runs))
    _row(
        "requests to the Server / Cloud",
        *(f"{len(r.sim.server.requests)} / {len(r.sim.cloud.requests)}" for r in runs),
    )
    kinds = sorted(set().union(*(faults_by_kind(r.sim.server.requests + r.sim.cloud.requests) for r in runs)))
    for kind in (k for k in kinds if k != "limited"):
        _row(
            f"  faults: {kind}",
            *(faults_by_kind(r.sim.server.requests + r.sim.cloud.requests)[kind] for r in runs),
        )
    _row(
        "failed answers Server / Cloud",
        *(f"{failures(r.sim.server.requests)} / {failures(r.sim.cloud.requests)}" for r in runs),
    )
    _row(
        "clients' tries again Server / Cloud",
        *(f"{r.result.retries.get('source', 0)} / {r.result.retries.get('destination', 0)}" for r in runs),
    )
    _row("the run's tries again (after reconciling)", *(r.result.retries.get("run", 0) for r in runs))
    windows = [max_in_window(arrivals(r.sim.cloud), 60.0) for r in runs]
    _row("most Cloud requests in a 60 s window", *(f"{w} (budget {n})" for w in windows))
    limited = [faults_by_kind(r.sim.cloud.requests)["limited"] for r in runs]
    _row(f"refused by Cloud's limiter ({max(1, n * CLOUD_LIMIT // DEFAULT_BUDGET)}/min)", *limited)
    same = runs[1].state == runs[0].state
    print(
        f"  Cloud after the faulty run {'equals' if same else 'DIFFERS FROM'} Cloud after the fault-free run."
    )
    verified = all(p.state == "verified" for r in runs for p in r.result.projects)
    result(
        "faults",
        f"demo wave, {n} requests a minute, issue's fault mix, seed {args.seed}",
        measure("completed and verified under faults", float(verified and same), "1", verified and same),
        measure("wall time with faults / without", runs[1].wall / runs[0].wall, None, None),
        measure("tries again (clients + run)", float(sum(runs[1].result.retries.values())), None, None),
        measure("most Cloud requests in any 60 s window", float(windows[1]), f"≤ {n}", windows[1] <= n),
        measure("refused by Cloud's limiter", float(limited[1]), "0", limited[1] == 0),
    )
    for r in runs:
        r.sim.close()


if __name__ == "__main__":
    main()
