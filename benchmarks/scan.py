"""The readiness scan of the `large` scenario over loopback with 20 ms latency, headless and in the TUI.

The simulator runs in its own process (`octowiz sim --scenario large`). Printed side by side from one run:

* the scan's requests beside the minimum needed (every collection read in pages of the client's page
  size, or once through `/all`, plus discovery; no request per project): goal ratio <= 1.2;
* its wall time beside the minimum wall time (those pages / concurrency x latency);
* the same scan run from the wizard's Differences screen, with the longest stall of the UI's event
  loop while it runs (a timer that should fire every 10 ms measures how late it fires), and the loop
  thread's own CPU in its longest callback: goal under 50 ms.

Ends with one ``RESULT {json}`` line.

Usage: ``python -m benchmarks.scan [--latency-ms 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from pathlib import Path

from benchmarks.simproc import running_sim
from benchmarks.uiloop import (
    STALL_GOAL,
    Stalls,
    phase_lines,
    phase_values,
    result_line,
    resumable,
    screen_phases,
    stall_results,
    stall_verdict,
    warmed_up,
    watching_the_loop,
)
from octowiz.engine.prepare.inventory import collect
from octowiz.engine.prepare.readiness import scan
from octowiz.octopus.client import OctopusClient
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN


async def _headless(server: str, cloud: str) -> tuple[int, float, int, dict[str, int]]:
    async with (
        OctopusClient(server, SERVER_ADMIN.api_key) as s,
        OctopusClient(cloud, CLOUD_MANAGER.api_key) as d,
    ):
        await s.discover()
        await d.discover()
        start = time.perf_counter()
        inv = await collect(s, d)
        result = await asyncio.to_thread(scan, inv)
        elapsed = time.perf_counter() - start
        # What the bulk minimum is, from the sizes the scan found.
        sizes = {
            "projects": len(inv.projects),
            "deploymentprocesses": len(inv.processes),
            "machines": len(inv.machines),
            "workers": len(inv.workers),
            "packages": len(inv.packages),
            "projecttriggers": len(inv.triggers),
            "releases": sum(inv.release_counts.values()),
            "deployments": sum(inv.deployment_counts.values()),
            "users": len(inv.users),
            "teams": len(inv.teams),
            "runbookprocesses": len(inv.runbook_processes),
            "destination users": len(inv.destination.users) if inv.destination else 0,
        }
        return inv.requests, elapsed, len(result.findings), sizes


REQUESTS_GOAL = 1.2


async def _tui(server: str, cloud: str, tmp: Path) -> tuple[float, Stalls, int]:
    from octowiz.tui.app import make_app
    from octowiz.tui.screens.differences import DifferencesScreen

    app = make_app(resumable(server, cloud, tmp))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await warmed_up(app)  # as by the time a person has read the Welcome screen
        async with watching_the_loop(screen_phases(app, DifferencesScreen)) as stalls:
            start = time.perf_counter()
            await pilot.press("r")  # resume: on to the Differences step, whose scan starts at once
            while not (isinstance(app.screen, DifferencesScreen) and app.screen.result is not None):
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - start
        findings = len(app.screen.result.findings)
    return elapsed, stalls, findings


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    with running_sim("large", args.latency_ms) as sim:
        requests, elapsed, findings, sizes = asyncio.run(_headless(sim.server, sim.cloud))
        with tempfile.TemporaryDirectory() as tmp:
            tui_elapsed, stalls, tui_findings = asyncio.run(_tui(sim.server, sim.cloud, Path(tmp)))
    page, conc = 100, 8
    pages = sum(max(1, math.ceil(n / page)) for n in sizes.values())
    # Discovery (root, spaces, space root on each side), the sign-in settings, features, and the /all lists.
    fixed = 3 + 3 + 2 + 6 + 1 + 6 + 1
    minimum = pages + fixed
    min_wall = pages / conc * args.latency_ms / 1000
    print(
        f"large scenario over loopback, {args.latency_ms:g} ms latency, page size {page}, concurrency {conc}"
    )
    print("collections: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    print(f"{'':26}{'requests':>10}{'wall s':>10}")
    print(f"{'minimum (bulk only)':26}{minimum:>10}{min_wall:>10.3f}")
    print(f"{'octowiz scan (headless)':26}{requests:>10}{elapsed:>10.3f}   {findings} findings")
    print(f"{'octowiz scan (in the TUI)':26}{'':>10}{tui_elapsed:>10.3f}   {tui_findings} findings")
    ratio = requests / minimum
    print(
        f"requests ratio = {ratio:.2f} (goal <= {REQUESTS_GOAL}): "
        f"{'PASS' if ratio <= REQUESTS_GOAL else 'OVER TARGET'}"
    )
    print(f"wall ratio = {elapsed / min_wall:.2f} of the minimum wall time")
    print(stall_verdict("while the scan runs in the TUI", stalls))
    print(phase_lines(stalls))
    print(
        result_line(
            "scan",
            requests=requests,
            requests_minimum=minimum,
            requests_ratio=round(ratio, 3),
            requests_goal=REQUESTS_GOAL,
            requests_pass=ratio <= REQUESTS_GOAL,
            wall_s=round(elapsed, 3),
            wall_minimum_s=round(min_wall, 3),
            tui_wall_s=round(tui_elapsed, 3),
            **stall_results(stalls),
            **phase_values(stalls),
            **{"pass": stalls.own_worst < STALL_GOAL and ratio <= REQUESTS_GOAL},
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
