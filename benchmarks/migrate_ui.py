"""A wave's run in the Migrate screen on the `large` scenario: the longest UI stall while it runs.

The simulator runs in its own process (`octowiz sim --scenario large`, 20 ms latency; its tasks queue
0.3 s and execute 1.5 s). The wizard resumes a migration whose steps up to Waves are done and whose
plan is one wave of the first 50 projects, so it opens on Migrate. The run is started as a user does
(Ctrl+G, the export password twice, Import in each preview dialog as it appears) with the task
progress polled every 0.25 s (the default is 2 s; more polls mean more live progress to show), and
runs to its end: export, download, upload, import, packages, logos, triggers, verification of 50 projects.

Printed from one run: the time the wave took, what it ended with, and the longest stall of the wizard's
event loop (a timer that should fire every 10 ms measures how late it fires) overall and by stage,
against the goal (under 50 ms); then one ``RESULT {json}`` line.

Usage: ``python -m benchmarks.migrate_ui [--wave-size 50] [--latency-ms 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.simproc import running_sim
from benchmarks.uiloop import (
    STALL_GOAL,
    result_line,
    resumable,
    sampling_stalls,
    stall_results,
    stall_verdict,
    warmed_up,
    watching_the_loop,
)
from octowiz.journal import Journal
from octowiz.octopus.client import OctopusClient
from octowiz.sim.keys import SERVER_ADMIN

WAVE = "wave 1"
PASSWORD = "bench-export-password"  # the simulator's archive password for this throw-away run


async def _wave(server: str, size: int) -> list[str]:
    """The first ``size`` projects of the Server, as a first wave would be (not timed)."""
    async with OctopusClient(server, SERVER_ADMIN.api_key) as s:
        await s.discover()
        return [str(p.id) for p in (await s.projects())[:size]]


async def _until(pilot: Any, condition: Any, what: str, seconds: float = 600.0) -> None:
    deadline = time.perf_counter() + seconds
    while not condition():
        if time.perf_counter() > deadline:
            screen = pilot.app.screen
            shown = [str(w.render()) for w in screen.query("#stage-line, #migrate-summary")]
            raise TimeoutError(f"{what} did not happen within {seconds:g} s; on {screen!r}: {shown}")
        await asyncio.sleep(0.02)


async def _run(
    server: str, cloud: str, tmp: Path, wave: list[str], poll: float, profile: bool
) -> dict[str, Any]:
    from textual.widgets import Button, RichLog

    from octowiz.engine.migrate.run import WaveSettings
    from octowiz.tui.app import make_app
    from octowiz.tui.screens.migrate import MigrateScreen, PasswordDialog, PreviewDialog

    context = resumable(server, cloud, tmp, "differences", "connectivity", "users", "waves")
    with Journal.open(context.journal_path("bench")) as journal:
        journal.set_wave(WAVE, wave)
    app = make_app(context)
    async with app.run_test(size=(130, 44)) as pilot:
        await pilot.pause()
        await warmed_up(app)  # as by the time a person has read the Welcome screen
        await pilot.press("r")  # resume: on to Migrate, which reads the journal's record of the wave
        await _until(
            pilot,
            lambda: isinstance(app.screen, MigrateScreen) and app.screen.recorded is not None,
            "the Migrate screen",
        )
        screen = app.screen
        assert isinstance(screen, MigrateScreen)
        screen.settings = WaveSettings(poll_interval=poll)
        counted = _count_handled(MigrateScreen)

        def phase() -> str:
            if isinstance(app.screen, PreviewDialog):
                return "preview dialog"
            if not screen.running:
                return "before/after the run"
            return screen.stage or "starting"

        sampler = sampling_stalls() if profile else contextlib.nullcontext(None)
        async with sampler as sampled, watching_the_loop(phase) as stalls:
            start = time.perf_counter()
            await pilot.press("ctrl+g")
            await _until(pilot, lambda: isinstance(app.screen, PasswordDialog), "the password dialog")
            await pilot.press(*PASSWORD, "enter", *PASSWORD, "enter")
            confirmed: list[object] = []

            def ended() -> bool:
                # Confirm each import preview as it appears (a wave whose batch was set aside asks again).
                dialog = app.screen
                if isinstance(dialog, PreviewDialog) and dialog not in confirmed and dialog.query("#import"):
                    confirmed.append(dialog)
                    dialog.query_one("#import", Button).press()
                return not screen.running and app.screen is screen

            await _until(pilot, ended, "the end of the wave")
            await pilot.pause()
            elapsed = time.perf_counter() - start
        summary = str(screen.query_one("#migrate-summary").render())
        events = len(screen.query_one("#events", RichLog).lines)
        states: dict[str, int] = {}
        for line in screen.lines:
            states[line.state] = states.get(line.state, 0) + 1
    if sampled is not None:
        print("where the UI thread was while the loop stalled (sampled every 5 ms):")
        print(sampled.report())
    return {
        "elapsed": elapsed,
        "stalls": stalls,
        "worst": stalls.worst,
        "by_phase": stalls.by_phase,
        "over": stalls.over,
        "summary": summary,
        "states": states,
        "progress_messages": counted(),
        "log_lines": events,
        "previews": len(confirmed),
    }


def _count_handled(screen_class: Any) -> Any:
    """Count the wave's messages the screen handles (its handler wrapped for this throw-away run)."""
    handled = {"n": 0}
    names = [n for n in ("on_wave_progress", "on_wave_progress_batch") if hasattr(screen_class, n)]
    for name in names:
        original = getattr(screen_class, name)

        def counting(self: Any, message: Any, _original: Any = original) -> Any:
            handled["n"] += 1
            return _original(self, message)

        setattr(screen_class, name, counting)
    return lambda: handled["n"]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--wave-size", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between task polls")
    parser.add_argument("--profile", action="store_true", help="sample where the UI thread stalls")
    args = parser.parse_args()
    with running_sim("large", args.latency_ms) as sim, tempfile.TemporaryDirectory() as tmp:
        wave = asyncio.run(_wave(sim.server, args.wave_size))
        r = asyncio.run(_run(sim.server, sim.cloud, Path(tmp), wave, args.poll, args.profile))
    print(
        f"Migrate on the large scenario: a wave of {len(wave)} projects ran in {r['elapsed']:.1f} s "
        f"({args.latency_ms:g} ms latency, tasks polled every {args.poll:g} s; "
        f"{r['previews']} import preview(s) confirmed at once)"
    )
    print("it ended: " + (", ".join(f"{n} {s}" for s, n in r["states"].items()) or "no projects"))
    print(f"{r['progress_messages']} progress messages handled, {r['log_lines']} lines in the log")
    stalls = r["stalls"]
    print("longest stall by stage: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in r["by_phase"].items()))
    print(
        "of which octowiz caused, by stage: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in stalls.own_by_phase.items())
    )
    print(
        "the loop's longest callback (CPU) by stage: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in stalls.cpu_by_phase.items())
    )
    print(stall_verdict("while the wave runs", stalls))
    print(
        result_line(
            "migrate_ui",
            wave_size=len(wave),
            elapsed_s=round(r["elapsed"], 2),
            **stall_results(stalls),
            stall_by_stage_ms={k: round(v * 1000, 1) for k, v in r["by_phase"].items()},
            own_stall_by_stage_ms={k: round(v * 1000, 1) for k, v in stalls.own_by_phase.items()},
            verified=r["states"].get("verified", 0),
            **{"pass": stalls.own_worst < STALL_GOAL},
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
