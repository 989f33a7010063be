"""Run every benchmark one after the other and write docs/PERFORMANCE.md with the machine they ran on.

Each benchmark prints its own side-by-side table and ends with one ``RESULT {json}`` line (written
through :func:`result`): what it measured, each value with its goal and verdict. This runner starts
each as its own process (a cold interpreter, nothing shared), keeps its whole output, and writes the
summary table, the machine, and every benchmark's output into the report.

Usage: ``python -m benchmarks.report [--only paging,scan] [--output docs/PERFORMANCE.md]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "RESULT "


def measure(
    name: str, value: float, goal: str | None, passed: bool | None, *, unit: str = ""
) -> dict[str, Any]:
    """One measured value, its goal (as text, e.g. ``"≤ 1.3"``) and whether it met it (None: no goal)."""
    return {"name": name, "value": value, "unit": unit, "goal": goal, "pass": passed}


def result(benchmark: str, setting: str, *measures: dict[str, Any]) -> None:
    """Print the benchmark's machine-readable last line."""
    print(PREFIX + json.dumps({"benchmark": benchmark, "setting": setting, "measures": list(measures)}))


@dataclass
class Bench:
    """One benchmark module and the arguments the report runs it with."""

    module: str
    title: str
    args: tuple[str, ...] = ()
    timeout: float = 900.0


BENCHES = (
    Bench("paging", "Paging: listing 2,000 projects and 5,000 targets"),
    Bench("scan", "Readiness scan of the large scenario, headless and in the wizard"),
    Bench("waves", "The Waves step on 2,000 projects"),
    Bench("migrate_ui", "A wave's run in the Migrate step"),
    Bench("targets", "The Targets step on 5,000 targets"),
    Bench(
        "packages", "Package copy (256 MiB) beside curl, and a 50-project wave", ("--size-mb", "256"), 1800.0
    ),
    Bench("faults", "The demo wave under the issue's faults, beside a fault-free run"),
    Bench("coldstart", "Cold start to the first screen"),
)


def python_speed() -> float:
    """Seconds for a fixed pure-Python loop: how fast this machine runs octowiz, whatever its CPU's
    name says (two 2-core machines both called "AMD EPYC" ran the same benchmarks a factor 2 apart)."""
    import time

    best = float("inf")
    for _ in range(3):
        start, total = time.perf_counter(), 0
        for i in range(5_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return best


def machine() -> dict[str, str]:
    """What the benchmarks ran on, as a reader needs it to compare."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else ""
    return {
        "CPU": cpu,
        "Python's speed on it before the run: 5 million additions in a loop, best of 3": (
            f"{python_speed():.2f} s"
        ),
        "Cores": str(os.cpu_count()),
        "Memory": memory,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Load average before the run (1, 5, 15 min)": load,
        "Commit": commit,
        "Date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def run(bench: Bench) -> tuple[str, dict[str, Any] | None, float]:
    """Run one benchmark in its own interpreter: its output, its RESULT, its wall time."""
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{bench.module}", *bench.args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=bench.timeout,
            check=False,
        )
        output = done.stdout + (f"\n[stderr]\n{done.stderr}" if done.returncode else "")
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        output = f"(did not finish within {bench.timeout:g} s)\n{partial}"
    seconds = time.perf_counter() - start
    found = None
    lines = []
    for line in output.splitlines():
        if line.startswith(PREFIX):
            found = normalise(json.loads(line[len(PREFIX) :]))
        else:
            lines.append(line)
    return "\n".join(lines).rstrip(), found, seconds


#: Flat RESULT keys (``benchmarks.uiloop.result_line``) that are a headline with their goal.
_HEADLINES = (
    ("own_stall_ms", "longest event-loop stall octowiz caused", "ms", "goal_ms", "< {} ms", "stall_pass"),
    ("stall_ms", "longest event-loop stall, wall clock", "ms", None, "", None),
    ("machine_hiccup_ms", "the machine's own longest pause, beside it", "ms", None, "", None),
    ("requests_ratio", "requests ÷ bulk minimum", "", "requests_goal", "≤ {}", "requests_pass"),
    ("worst_s", "cold start, worst run", "s", "goal_s", "< {} s", "pass"),
    ("median_s", "cold start, median", "s", None, "", None),
    ("elapsed_s", "time to finish", "s", None, "", None),
    ("wall_s", "wall time", "s", None, "", None),
)


def normalise(found: dict[str, Any]) -> dict[str, Any]:
    """A RESULT in either form: ``measures`` (:func:`result`) or flat keys (``uiloop.result_line``)."""
    if "measures" in found:
        return found
    measures = []
    for key, name, unit, goal_key, goal_text, pass_key in _HEADLINES:
        if isinstance(found.get(key), (int, float)):
            goal = found.get(goal_key) if goal_key else None
            passed = found.get(pass_key) if pass_key and goal is not None else None
            measures.append(
                measure(
                    name,
                    float(found[key]),
                    goal_text.format(goal) if goal is not None else None,
                    passed,
                    unit=unit,
                )
            )
    return {"benchmark": found.get("name", ""), "setting": "", "measures": measures, "raw": found}


def _value(m: dict[str, Any]) -> str:
    value = m.get("value")
    if isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    else:
        text = str(value)
    unit = m.get("unit") or ""
    return f"{text}{unit if unit in ('×', '%') else (' ' + unit if unit else '')}"


def render(info: dict[str, str], runs: list[tuple[Bench, str, dict[str, Any] | None, float]]) -> str:
    """The Markdown report."""
    out = [
        "# Performance",
        "",
        "Generated by `python -m benchmarks.report` from one run of every benchmark, one after the other,",
        "each in its own interpreter, with the simulator in its own process where the benchmark says so.",
        "Every ratio is measured side by side in that one run. Regenerate it on your machine to compare.",
        "",
        "## The machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "## Summary",
        "",
        "| Benchmark | Measure | Value | Goal | Verdict |",
        "|---|---|---|---|---|",
    ]
    for bench, _, found, _ in runs:
        if found is None:
            out.append(f"| {bench.title} | (no result: see its output) | | | **FAILED TO RUN** |")
            continue
        for m in found.get("measures", []):
            verdict = "" if m.get("pass") is None else ("pass" if m["pass"] else "**over goal**")
            out.append(f"| {bench.title} | {m['name']} | {_value(m)} | {m.get('goal') or ''} | {verdict} |")
    out += ["", "## Each benchmark's output", ""]
    for bench, output, found, seconds in runs:
        setting = (found or {}).get("setting", "")
        out += [
            f"### {bench.title}",
            "",
            f"`python -m benchmarks.{bench.module}{' ' + ' '.join(bench.args) if bench.args else ''}`"
            f" ({seconds:.0f} s{'; ' + setting if setting else ''})",
            "",
            "```",
            output,
            "```",
            "",
        ]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated benchmark modules to run (default: all)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.module in args.only.split(",")]
    info = machine()
    runs = []
    for bench in chosen:
        print(f"running benchmarks.{bench.module} …", flush=True)
        # A shared 2-core machine's speed wanders (0.36 to 0.72 s for the same loop within minutes
        # here): each benchmark's own reading sits beside its results, so a verdict can be read
        # against the speed it ran at.
        speed = python_speed()
        output, found, seconds = run(bench)
        if found is not None:
            name = "Python's speed just before it (the machine table's loop)"
            found["measures"].append(measure(name, speed, None, None, unit="s"))  # normalised: always there
        runs.append((bench, output, found, seconds))
        verdicts = [m for m in (found or {}).get("measures", []) if m.get("pass") is not None]
        summary = ", ".join(f"{m['name']} {_value(m)} ({'pass' if m['pass'] else 'over'})" for m in verdicts)
        print(f"  {seconds:.0f} s: {summary or 'no result'}", flush=True)
    args.output.write_text(render(info, runs) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    failed = [b.module for b, _, found, _ in runs if found is None]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
