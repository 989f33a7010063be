"""List every project and deployment target of the `large` scenario over loopback with 20 ms latency.

The simulator runs in its own process (`octowiz sim`), as a real Octopus Server would, and one
whole listing warms both sides first (the client's validators, the simulator's rendered JSON). Its
latency is a response time counted from the moment each request's bytes arrive, with its own work
inside it, as on a server that serves concurrent requests in parallel (a single Python process would
otherwise add its ~0.9 ms per request, one after another, to every round of eight), and it corrects
for its event loop waking timers late (on whole milliseconds), so answers leave on time on average.
Printed side by side, from one run:

* octowiz's client (first pages, then the rest concurrently, bounded at 8 in flight);
* a plain sequential walk of ``Links["Page.Next"]`` as the official sample scripts do;
* the minimum: pages needed / concurrency x latency.

octowiz's listing is timed ``--runs`` times (5); the verdict is on the slowest. Target: octowiz /
minimum <= 1.3.

Usage: ``python -m benchmarks.paging [--latency-ms 20] [--concurrency 8] [--page-size 30] [--runs 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import time

import httpx

from benchmarks.report import measure, result
from benchmarks.simproc import running_sim
from octowiz.octopus.client import OctopusClient
from octowiz.sim.keys import SERVER_ADMIN


def _cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a process (Linux /proc), or 0 where unavailable."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


async def _octowiz(
    url: str, concurrency: int, page_size: int, runs: int, sim_pid: int
) -> tuple[list[float], int, int, int, float, float]:
    """``runs`` timed listings: their wall times, requests per listing, counts, and CPU per listing."""
    async with OctopusClient(
        url, SERVER_ADMIN.api_key, concurrency=concurrency, page_size=page_size
    ) as client:
        await client.discover()
        # Warm-up outside the timing, one whole listing: pydantic builds each model's validator on
        # first use, and the simulator renders each document once and keeps the JSON (a real
        # server's work is not the client's cost, and it would not be cold for a whole listing).
        await asyncio.gather(client.projects(), client.machines())
        walls: list[float] = []
        before = client.request_count
        cpu, sim_cpu = time.process_time(), _cpu_seconds(sim_pid)
        for _ in range(runs):
            start = time.perf_counter()
            projects, machines = await asyncio.gather(client.projects(), client.machines())
            walls.append(time.perf_counter() - start)
        client_cpu = (time.process_time() - cpu) / runs
        sim_cpu = (_cpu_seconds(sim_pid) - sim_cpu) / runs
        requests = (client.request_count - before) // runs
        return walls, requests, len(projects), len(machines), client_cpu, sim_cpu


async def _sequential(url: str, page_size: int) -> tuple[float, int]:
    headers = {"X-Octopus-ApiKey": SERVER_ADMIN.api_key}
    requests = 0
    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
        for coll in ("projects", "machines"):
            path: str | None = f"/api/Spaces-1/{coll}?skip=0&take={page_size}"
            while path:
                data = (await http.get(path)).json()
                requests += 1
                path = data["Links"].get("Page.Next")
    return time.perf_counter() - start, requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--page-size", type=int, default=30, help="take per page (Octopus's default is 30)")
    parser.add_argument("--runs", type=int, default=5, help="timed listings (the verdict is on the slowest)")
    args = parser.parse_args()
    with running_sim("large", args.latency_ms) as sim:
        walls, requests, n_projects, n_machines, client_cpu, sim_cpu = asyncio.run(
            _octowiz(sim.server, args.concurrency, args.page_size, args.runs, sim.pid)
        )
        seq_elapsed, seq_requests = asyncio.run(_sequential(sim.server, args.page_size))
    pages = math.ceil(n_projects / args.page_size) + math.ceil(n_machines / args.page_size)
    minimum = pages / args.concurrency * args.latency_ms / 1000
    elapsed, worst = statistics.median(walls), max(walls)
    print(
        f"large scenario: {n_projects} projects, {n_machines} deployment targets; "
        f"{args.latency_ms:g} ms latency, "
        f"page size {args.page_size}, concurrency {args.concurrency}; "
        f"octowiz's listing timed {args.runs} times"
    )
    print(f"{'':28}{'requests':>10}{'wall s':>10}{'÷ minimum':>12}")
    print(f"{'minimum (pages/conc×lat)':28}{pages:>10}{minimum:>10.3f}{1.0:>12.2f}")
    print(f"{'octowiz client, median':28}{requests:>10}{elapsed:>10.3f}{elapsed / minimum:>12.2f}")
    print(f"{'octowiz client, slowest':28}{requests:>10}{worst:>10.3f}{worst / minimum:>12.2f}")
    print(
        f"{'sequential Page.Next walk':28}{seq_requests:>10}{seq_elapsed:>10.3f}"
        f"{seq_elapsed / minimum:>12.2f}"
    )
    print(f"CPU per listing: client {client_cpu:.3f} s, simulator {sim_cpu:.3f} s (its own process)")
    ratio = worst / minimum
    print(
        f"ratio octowiz/minimum, slowest of {args.runs} = {ratio:.2f} (target <= 1.3): "
        f"{'PASS' if ratio <= 1.3 else 'OVER TARGET'}; "
        f"octowiz is {seq_elapsed / elapsed:.1f}x faster than the sequential walk"
    )
    result(
        "paging",
        f"list {n_projects:,} projects and {n_machines:,} targets, {args.latency_ms:g} ms latency, "
        f"concurrency {args.concurrency}, pages of {args.page_size}",
        measure(f"wall time ÷ minimum, slowest of {args.runs}", ratio, "≤ 1.3", ratio <= 1.3),
        measure("wall time ÷ minimum, median", elapsed / minimum, None, None),
        measure("requests ÷ pages needed", requests / pages, "≤ 1.2", requests / pages <= 1.2),
        measure("client CPU, s", client_cpu, None, None),
        measure("faster than a sequential Page.Next walk", seq_elapsed / elapsed, None, None, unit="×"),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
