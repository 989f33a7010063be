"""Chaos: SIGKILL a 30-project wave at seeded random points, resume it each time, compare the end.

The wave (tests/chaos/world.py: the demo plus 27 projects with packages, logos, triggers, runbooks and
six more Tentacles) is migrated, its targets cloned and recreated on Cloud, and it is cut over (two test
deployments, then every project disabled on the Server), each octowiz command a real subprocess. First
once without a kill (the reference), then in trials of ``--per-trial`` kills each, seed after seed, until
at least ``--kills`` attempts died. A kill lands at a named crash point of the engine or when the Nth
request of an attempt reaches the simulator, before it is handled (the request is lost) or after it was
carried out (its answer is lost), N drawn from the seed within the requests (or the writes) an
uninterrupted run of that command makes. Each killed command is run again until it ends as the
uninterrupted one does; then Cloud, the Server, the Tentacle hosts and the journal are compared with the
reference (tests/chaos/harness.py says exactly what).

Printed: one row per kill (seed, phase and command, kill point, octowiz's requests the simulator saw in
that attempt before it died, what the next run of the command did, whether the trial ended equal), then
a final line. Exit code 0 when every trial ended equal with a consistent journal.

Usage: ``python -m benchmarks.chaos [--kills 24] [--seed 1] [--per-trial 6]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.chaos import harness as h
from tests.chaos.world import PROJECTS

HEADERS = ("seed", "phase", "kill point", "requests before kill", "rerun outcome", "equal")
WIDTHS = (4, 30, 72, 20, 20, 5)


def _line(cells: tuple[str, ...]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, WIDTHS, strict=True)).rstrip()


def main(argv: list[str] | None = None) -> int:
    """Run the chaos campaign and print its table; 0 when every trial ended equal."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=24, help="at least this many kills (default 24)")
    parser.add_argument("--seed", type=int, default=1, help="the first trial's seed (default 1)")
    parser.add_argument("--per-trial", type=int, default=6, help="kills scheduled per trial (default 6)")
    args = parser.parse_args(argv)
    if args.kills < 1 or args.per_trial < 1:
        parser.error("--kills and --per-trial must be at least 1")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="octowiz-chaos-") as tmp:
        home = Path(tmp)
        ref = h.reference(home / "reference")
        took = time.perf_counter() - started
        counts = ", ".join(
            f"{label} {'+'.join(map(str, runs))}"
            for label, runs in ref.counts.items()
            if not label.endswith("writes")
        )
        print(f"Uninterrupted run: {took:.1f} s; octowiz's requests per command: {counts}.")
        print()
        print(_line(HEADERS))
        print(_line(tuple("-" * w for w in WIDTHS)))

        def show(t: h.Trial) -> None:
            for r in h.rows(t):
                phase = r.phase if r.command == r.phase else f"{r.phase}: {r.command}"
                cells = (str(r.seed), phase, r.point, str(r.requests), r.rerun, "yes" if r.equal else "NO")
                print(_line(cells), flush=True)
            if not t.equal:
                for problem in [t.failure, *t.differences, *t.problems]:
                    if problem:
                        print(f"      seed {t.seed}: {problem.splitlines()[0]}", flush=True)

        _, trials = h.campaign(
            home, args.kills, first_seed=args.seed, per_trial=args.per_trial, ref=ref, on_trial=show
        )
    killed = [a for t in trials for a in t.attempts if a.killed]
    named = sum(1 for a in killed if a.kill is not None and a.kill.point)
    lost = sum(1 for a in killed if a.fired is not None and a.fired.moment == "arrived")
    answered = sum(1 for a in killed if a.fired is not None and a.fired.moment == "answered")
    writes = sum(1 for a in killed if a.fired is not None and a.fired.method not in ("GET", "HEAD"))
    equal = sum(t.equal for t in trials)
    print()
    print(
        f"{len(killed)} kills ({named} at named crash points; {lost + answered} at requests, "
        f"{writes} of them changes; {lost} lost, {answered} carried out with the answer lost) "
        f"in {len(trials)} trial(s) of the {PROJECTS}-project wave "
        f"(seeds {trials[0].seed}-{trials[-1].seed}): "
        f"{equal} of {len(trials)} ended identical to the uninterrupted run with a consistent journal "
        f"({time.perf_counter() - started:.0f} s)."
    )
    return 0 if equal == len(trials) and len(killed) >= args.kills else 1


if __name__ == "__main__":
    sys.exit(main())
