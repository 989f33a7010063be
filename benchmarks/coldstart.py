"""Cold start: from ``python -m octowiz --demo`` being spawned to the Welcome screen painted on a terminal.

Each run starts the wizard in a fresh pseudo-terminal (120x40) with a fresh ``OCTOWIZ_HOME`` (so the
demo's simulated instances are created on that run, as on a first launch), reads what it paints, and
stops the clock when the Welcome screen's text has been written. The terminal's queries are answered
as a terminal would not necessarily answer them: not at all (Textual does not wait for answers).
Then the wizard is asked to quit (Ctrl+Q) and reaped. Several runs; the median and the worst are
printed against the goal (1 s), then ``python -X importtime``'s biggest imports of the wizard.

Usage: ``python -m benchmarks.coldstart [--runs 7] [--warm]`` (``--warm`` keeps one ``OCTOWIZ_HOME``
across runs: the second launch of the demo onwards).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pty
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.0  # seconds
#: Painted by the Welcome screen once it is composed (the intro line; one styled run of text).
MARKER = "Move a self-hosted Octopus Server"
_CSI = re.compile(
    rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|[()][0-9A-B]|.)"
)


def _winsize(fd: int, rows: int, cols: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def launch(home: Path, pycache: Path, timeout: float = 30.0) -> float:
    """Seconds from spawning the wizard in a pty until the Welcome screen's text is on the terminal.

    Bytecode is read from (and on the first run written to) ``pycache``, as an installed wheel has it
    compiled: a development shell's ``PYTHONDONTWRITEBYTECODE`` would otherwise compile every module of
    octowiz from source on every start.
    """
    master, slave = pty.openpty()
    _winsize(slave, 40, 120)
    env = {
        **os.environ,
        "OCTOWIZ_HOME": str(home),
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PYTHONPYCACHEPREFIX": str(pycache),
    }
    env.pop("TEXTUAL", None)  # no devtools
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "octowiz", "--demo"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    painted: float | None = None
    try:
        deadline = start + timeout
        while painted is None and time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            seen += chunk
            if MARKER.encode() in _CSI.sub(b"", seen):
                painted = time.perf_counter() - start
        if painted is None:
            tail = _CSI.sub(b"", seen)[-400:].decode(errors="replace")
            raise RuntimeError(
                f"the Welcome screen did not appear within {timeout:g} s; last output: {tail!r}"
            )
        return painted
    finally:
        _stop(proc, master)


def _stop(proc: subprocess.Popen[bytes], master: int) -> None:
    """Ask the wizard to quit (Ctrl+Q), draining the terminal meanwhile; kill it if it does not."""
    with contextlib.suppress(OSError):
        os.write(master, b"\x11")
    deadline = time.perf_counter() + 5
    while proc.poll() is None and time.perf_counter() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                os.read(master, 65536)
            except OSError:
                break
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    os.close(master)


def importtime(pycache: Path, top: int = 12) -> list[tuple[float, str]]:
    """The first screen's imports that take longest (cumulative ms, module), from ``python -X importtime``,
    with the same compiled bytecode as the runs."""
    code = "import octowiz.cli, octowiz.engine.context, octowiz.tui.app"
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True, env=env
    )
    rows: list[tuple[float, str]] = []
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 2:  # top-level and their direct imports: what the wizard asks for
            rows.append((int(parts[1]) / 1000, name.strip()))
    rows.sort(reverse=True)
    return rows[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warm", action="store_true", help="one OCTOWIZ_HOME for every run")
    args = parser.parse_args()
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        pycache = Path(tmp) / "pycache"
        # Not counted: the bytecode's compilation (done when a wheel is installed) and the page cache.
        launch(Path(tmp) / "warm-up", pycache)
        for i in range(args.runs):
            home = Path(tmp) / ("home" if args.warm else f"home-{i}")
            times.append(launch(home, pycache))
        offenders = importtime(pycache)
    median, worst = statistics.median(times), max(times)
    print(
        f"cold start of `python -m octowiz --demo` to the Welcome screen ({args.runs} runs, "
        f"{'one' if args.warm else 'a fresh'} OCTOWIZ_HOME): " + ", ".join(f"{t:.2f}" for t in times) + " s"
    )
    ok = worst < GOAL
    print(
        f"median {median:.3f} s, worst {worst:.3f} s; worst / goal = {worst / GOAL:.2f} "
        f"(goal < {GOAL:g} s): {'PASS' if ok else 'OVER TARGET'}"
    )
    print("biggest imports (python -X importtime, cumulative ms):")
    for ms, name in offenders:
        print(f"  {ms:8.1f}  {name}")
    result = {
        "name": "coldstart",
        "runs": args.runs,
        "fresh_home": not args.warm,
        "median_s": round(median, 3),
        "worst_s": round(worst, 3),
        "goal_s": GOAL,
        "pass": ok,
    }
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
