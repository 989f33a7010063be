"""The Waves step on the `large` scenario (2,000 projects): the time to show it, and the longest UI stall.

The simulator runs in its own process with 20 ms latency. The wizard resumes a migration whose earlier
steps are done, so it opens on Waves, which reads the catalog from the Server and fills its table.
Printed from one run: the time until the table is filled, and the longest stall of the wizard's event
loop meanwhile, and the loop thread's own CPU in its longest callback (goal under 50 ms); then one
``RESULT {json}`` line.

Usage: ``python -m benchmarks.waves``
"""

from __future__ import annotations

import asyncio
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


async def _waves(server: str, cloud: str, tmp: Path) -> tuple[float, Stalls, int]:
    from octowiz.tui.app import make_app
    from octowiz.tui.screens.waves import WavesScreen

    app = make_app(resumable(server, cloud, tmp, "differences", "connectivity", "users"))
    async with app.run_test(size=(130, 44)) as pilot:
        await pilot.pause()
        await warmed_up(app)  # as by the time a person has read the Welcome screen

        def filled() -> bool:
            screen = app.screen
            return (
                isinstance(screen, WavesScreen)
                and screen.catalog is not None
                and not [w for w in app.workers if w.group == "waves-table" and not w.is_finished]
            )

        async with watching_the_loop(screen_phases(app, WavesScreen)) as stalls:
            start = time.perf_counter()
            await pilot.press("r")  # resume: on to Waves, which reads the catalog at once
            while not filled():
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - start
        screen = app.screen
        assert isinstance(screen, WavesScreen) and screen.catalog is not None
        rows = len(screen.catalog.rows)
    return elapsed, stalls, rows


def main() -> int:
    with running_sim("large", 20.0) as sim, tempfile.TemporaryDirectory() as tmp:
        elapsed, stalls, rows = asyncio.run(_waves(sim.server, sim.cloud, Path(tmp)))
    print(f"Waves on the large scenario: {rows} projects shown in {elapsed:.2f} s (20 ms latency)")
    print(stall_verdict("while it loads", stalls))
    print(phase_lines(stalls))
    print(
        result_line(
            "waves",
            projects=rows,
            wall_s=round(elapsed, 3),
            **stall_results(stalls),
            **phase_values(stalls),
            **{"pass": stalls.own_worst < STALL_GOAL},
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
