"""The simulator in its own process, as a real Octopus Server would be, for the benchmarks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Running:
    """A running `octowiz sim`: its process id and both instances' URLs."""

    pid: int
    server: str
    cloud: str


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_sim(scenario: str, latency_ms: float, state_dir: Path | None = None) -> Iterator[Running]:
    """Start `octowiz sim` on free loopback ports, wait until it says it is ready, stop it afterwards.

    With ``state_dir``, both instances keep their state there, blobs (packages) as files on disk rather
    than in the simulator's memory.
    """
    ports = (free_port(), free_port())
    cmd = [sys.executable, "-m", "octowiz", "sim", "--scenario", scenario, "--latency-ms", str(latency_ms),
           "--server-port", str(ports[0]), "--cloud-port", str(ports[1])]  # fmt: skip
    if state_dir is not None:
        cmd += ["--state-dir", str(state_dir)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("Press Ctrl+C"):
                break
        else:
            raise RuntimeError("the simulator did not start")
        yield Running(proc.pid, f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
