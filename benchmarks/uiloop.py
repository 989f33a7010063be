"""What the benchmarks share to measure the wizard: a migration to resume, and the event loop's stalls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from octowiz.engine.context import Context
from octowiz.journal import Journal
from octowiz.paths import Paths
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN


def resumable(server: str, cloud: str, tmp: Path, *done: str) -> Context:
    """A context whose one migration, ``bench``, is connected to the instances with ``done`` steps done."""
    paths = Paths(tmp / "state", tmp / "config", tmp / "logs")
    ctx = Context(
        paths=paths,
        migrations_dir=paths.migrations,
        keystore=None,
        session_keys={server: SERVER_ADMIN.api_key, cloud: CLOUD_MANAGER.api_key},
    )
    with Journal.create(ctx.journal_path("bench"), {"name": "bench"}) as j:
        j.set_settings(
            source_url=server, source_space="Spaces-1", destination_url=cloud, destination_space="Spaces-1"
        )
        for step in ("connect", *done):
            j.set_step(step, "done")
    return ctx


@dataclass
class Stalls:
    """The longest time a 10 ms timer fired late while the watch was on (seconds)."""

    worst: float = 0.0


@contextlib.asynccontextmanager
async def watching_the_loop() -> AsyncIterator[Stalls]:
    """Measure how late a timer that should fire every 10 ms fires: what a screen would feel."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stalls = Stalls()

    async def monitor() -> None:
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.01)
            stalls.worst = max(stalls.worst, loop.time() - before - 0.01)

    watcher = asyncio.create_task(monitor())
    try:
        yield stalls
    finally:
        stop.set()
        await watcher
