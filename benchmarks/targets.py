"""The Targets step on the `large` scenario (2,000 projects, 5,000 targets): time, UI stall, requests.

The simulator runs in its own process with 20 ms latency. The wizard resumes a migration whose earlier
steps are done (Connect to Migrate), so it opens on Targets, which reads the planned wave's targets and
workers from the Server (and their state on Cloud) and fills its table. The journal's only other record
is the plan: a wave of 50 projects written with ``Journal.set_wave``. Nothing is imported and no import
or verification record is written, because ``read_targets`` reads only the wave's project ids from the
journal (it does not look at what the Migrate step recorded).

Printed side by side from one run:

* the time until the Machines table is filled, and the number of machines it shows;
* the longest stall of the wizard's event loop meanwhile (a timer that should fire every 10 ms measures
  how late it fires), and the loop thread's own CPU in its longest callback: goal under 50 ms;
* the requests ``read_targets`` made to each instance, as its ``TargetsReport.requests`` counts them
  (the simulator runs in another process and does not expose its request log), beside the bulk minimum:
  every collection it reads paged through at the client's page size (or once through ``/all``),
  computed from the collections' sizes, plus the discovery and Cloud reads it needs.

Ends with one ``RESULT {json}`` line.

Usage: ``python -m benchmarks.targets``
"""

from __future__ import annotations

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
from octowiz.journal import Journal
from octowiz.octopus.client import OctopusClient
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN

WAVE = "wave 1"
WAVE_SIZE = 50
PAGE = 100  # OctopusClient's page size, which read_targets uses
#: What read_targets reads on the Server, and how: paged collections are walked, the others read once.
SOURCE_PAGED = ("projects", "deploymentprocesses", "runbookprocesses", "machines", "workers")
SOURCE_ALL = (
    "lifecycles",
    "environments",
    "channels",
    "runbooks",
    "workerpools",
    "tenants",
    "machinepolicies",
)
DEST_PAGED = ("machines", "workers")
#: Besides the collections: the Server's root, spaces and space root (the inventory checks its space),
#: and Cloud's spaces and certificate (for the clone scripts).
SOURCE_FIXED, DEST_FIXED = 3, 2


async def _sizes(server: str, cloud: str) -> tuple[list[str], dict[str, int], dict[str, int]]:
    """The wave's projects (the first 50, as a first wave would be) and each collection's size (not timed)."""
    async with (
        OctopusClient(server, SERVER_ADMIN.api_key) as s,
        OctopusClient(cloud, CLOUD_MANAGER.api_key) as d,
    ):
        await asyncio.gather(s.discover(), d.discover())
        projects = await s.projects()
        wave = [str(p.id) for p in projects[:WAVE_SIZE]]
        s_counts = await asyncio.gather(*(s.count(s.space_path(c)) for c in SOURCE_PAGED))
        d_counts = await asyncio.gather(*(d.count(d.space_path(c)) for c in DEST_PAGED))
    return wave, dict(zip(SOURCE_PAGED, s_counts, strict=True)), dict(zip(DEST_PAGED, d_counts, strict=True))


def _minimum(sizes: dict[str, int], unpaged: int, fixed: int) -> int:
    return sum(max(1, math.ceil(n / PAGE)) for n in sizes.values()) + unpaged + fixed


async def _targets(
    server: str, cloud: str, tmp: Path, wave: list[str]
) -> tuple[float, Stalls, int, dict[str, int]]:
    from textual.widgets import DataTable

    from octowiz.tui.app import make_app
    from octowiz.tui.screens.targets import TargetsScreen

    context = resumable(server, cloud, tmp, "differences", "connectivity", "users", "waves", "migrate")
    with Journal.open(context.journal_path("bench")) as journal:
        journal.set_wave(WAVE, wave)
    app = make_app(context)
    async with app.run_test(size=(130, 44)) as pilot:
        await pilot.pause()
        await warmed_up(app)  # as by the time a person has read the Welcome screen

        def filled() -> bool:
            screen = app.screen
            if not isinstance(screen, TargetsScreen) or screen.loaded is None:
                return False
            if any(w.group.startswith("targets-") and not w.is_finished for w in app.workers):
                return False
            shown = screen.query_one("#machines", DataTable).row_count
            return shown == len(screen.rows)

        async with watching_the_loop(screen_phases(app, TargetsScreen)) as stalls:
            start = time.perf_counter()
            await pilot.press("r")  # resume: on to Targets, which reads the wave's machines at once
            while not filled():
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - start
        screen = app.screen
        assert isinstance(screen, TargetsScreen) and screen.loaded is not None
        report = screen.loaded.report
        assert report is not None, "the wave was not read"
        shown = screen.query_one("#machines", DataTable).row_count
    return elapsed, stalls, shown, report.requests


def main() -> int:
    with running_sim("large", 20.0) as sim, tempfile.TemporaryDirectory() as tmp:
        wave, s_sizes, d_sizes = asyncio.run(_sizes(sim.server, sim.cloud))
        elapsed, stalls, shown, requests = asyncio.run(_targets(sim.server, sim.cloud, Path(tmp), wave))
    minimum = {
        "source": _minimum(s_sizes, len(SOURCE_ALL), SOURCE_FIXED),
        "destination": _minimum(d_sizes, 0, DEST_FIXED),
    }
    print(
        f"Targets on the large scenario, a wave of {len(wave)} projects: {shown} machines shown in "
        f"{elapsed:.2f} s (20 ms latency, page size {PAGE})"
    )
    print(stall_verdict("while it loads", stalls))
    print(phase_lines(stalls))
    print("Server collections paged: " + ", ".join(f"{k} {v}" for k, v in s_sizes.items())
          + f"; read once through /all: {', '.join(SOURCE_ALL)}")  # fmt: skip
    print("Cloud collections paged: " + ", ".join(f"{k} {v}" for k, v in d_sizes.items()))
    print(f"{'requests (TargetsReport.requests)':36}{'made':>8}{'minimum':>9}{'ratio':>8}")
    for side in ("source", "destination"):
        made = requests.get(side, 0)
        print(f"{'  to the ' + ('Server' if side == 'source' else 'Cloud'):36}{made:>8}{minimum[side]:>9}"
              f"{made / minimum[side]:>8.2f}")  # fmt: skip
    print(
        result_line(
            "targets",
            wave_size=len(wave),
            machines=shown,
            wall_s=round(elapsed, 3),
            requests=requests,
            requests_minimum=minimum,
            **stall_results(stalls),
            **phase_values(stalls),
            **{"pass": stalls.own_worst < STALL_GOAL},
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
