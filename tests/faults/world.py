"""The demo wave under a fault mix, and how to read the simulator's log: faults, retries, budget windows.

Shared by the fault tests (tests/faults/) and ``python -m benchmarks.faults``.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from octowiz.sim.config import FaultMix, InstanceConfig
from octowiz.sim.instance import RequestRecord, SimInstance
from octowiz.sim.simulator import Simulator
from tests.engine.test_migrate import FAST, steps_to_workers

#: The issue's rates: 5 % of requests answered 5xx, 1 % of connections dropped, bursts of 429 with
#: Retry-After (1 % of requests start one, three requests long) and slow answers (2 %).
ISSUE_RATES: dict[str, Any] = {
    "error_rate": 0.05,
    "drop_rate": 0.01,
    "burst_rate": 0.01,
    "burst_length": 3,
    "slow_rate": 0.02,
}
#: Statuses that mean the request failed and may be tried again.
FAILED = frozenset({0, 429, 500, 502, 503, 504})


def faulty_sim(
    mix: FaultMix | None,
    *,
    fast: bool = True,
    rate_limit_per_minute: int | None = None,
    rate_limit_burst: int | None = None,
) -> Simulator:
    """The demo, prepared as the guide says (run-on-server steps on workers), both instances under ``mix``.

    Args:
        mix: the faults (None for none).
        fast: tasks take tens of milliseconds (the engine tests' clock) rather than the simulator's default.
        rate_limit_per_minute: Cloud's own limiter (None: off).
        rate_limit_burst: its bucket size.
    """
    timing = FAST if fast else {}
    sim = Simulator(
        None,
        "demo",
        server=InstanceConfig("server", **timing, fault_mix=mix),
        cloud=InstanceConfig(
            "cloud",
            **timing,
            fault_mix=mix,
            rate_limit_per_minute=rate_limit_per_minute,
            rate_limit_burst=rate_limit_burst,
        ),
    )
    steps_to_workers(sim)
    return sim


def faults_by_kind(records: Iterable[RequestRecord]) -> Counter[str]:
    """How many requests met each kind of fault (the simulator's ``RequestRecord.fault``)."""
    return Counter(r.fault for r in records if r.fault)


def failures(records: Iterable[RequestRecord]) -> int:
    """Requests whose answer was a failure worth trying again (5xx, 429, a dropped connection)."""
    return sum(1 for r in records if r.status in FAILED)


def longest_failure_run(records: Sequence[RequestRecord]) -> int:
    """The most consecutive failed answers one request (method and path) met before one got through."""
    open_runs: dict[tuple[str, str], int] = {}
    longest = 0
    for r in records:
        key = (r.method, r.path)
        if r.status in FAILED:
            open_runs[key] = open_runs.get(key, 0) + 1
            longest = max(longest, open_runs[key])
        else:
            open_runs.pop(key, None)
    return longest


def max_in_window(times: Iterable[float], seconds: float) -> int:
    """The most requests that arrived within any window ``[t, t + seconds)`` starting at a request."""
    ts = sorted(times)
    return max((bisect.bisect_left(ts, t + seconds) - i for i, t in enumerate(ts)), default=0)


def arrivals(instance: SimInstance) -> list[float]:
    """When each request to an instance arrived, on its clock."""
    return [r.at for r in instance.requests]
