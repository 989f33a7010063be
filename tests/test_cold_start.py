"""Cold start: the wizard's first screen needs neither the client nor the simulator (benchmarks/coldstart.py).

What the Welcome screen needs is imported before it is painted; the rest (the engine, the client's
pydantic models, httpx, the keyring, the simulator with Starlette and uvicorn) after it, on a thread,
and the demo's simulator is built then too. These tests check the imports and the deferral, not a
timing.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from pathlib import Path

from octowiz import heap
from octowiz.engine.context import demo_context
from octowiz.engine.deferred_sim import DeferredSimulator
from octowiz.octopus.client import OctopusClient
from octowiz.paths import Paths
from octowiz.sim.simulator import SERVER_URL

#: Packages and modules the first screen must not wait for.
HEAVY = ("starlette", "uvicorn", "httpx", "pydantic", "keyring", "octowiz.sim", "octowiz.octopus.models")


def test_the_first_screen_imports_neither_the_client_nor_the_simulator(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import octowiz.cli, octowiz.tui.app\n"
        "from octowiz.engine.context import demo_context\n"
        "ctx = demo_context(deferred=True)\n"
        "ctx.migrations()\n"  # what the Welcome screen reads
        f"heavy = {HEAVY!r}\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
        "import octowiz.tui.app as app\n"
        "app.load_screens()\n"  # what the app imports after the first screen: everything is there then
        "import octowiz.tui.screens.migrate, octowiz.engine.prepare.scanning\n"
    )
    env = {**os.environ, "OCTOWIZ_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == ""
    assert not (tmp_path / "state" / "demo" / "instances").exists()  # the simulator was not built


def test_a_deferred_demo_builds_its_simulator_once_on_the_first_request(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "state", tmp_path / "config", tmp_path / "logs")
    ctx = demo_context(paths, deferred=True)
    sim = ctx.simulator
    assert isinstance(sim, DeferredSimulator) and not sim.built
    key, origin = ctx.key_for(SERVER_URL, "source")
    assert origin == "demo" and key
    assert not sim.built  # the demo's keys are known without it

    async def read() -> str:
        async with OctopusClient(SERVER_URL, key, transport=ctx.transport) as client:
            await client.discover()
            return (await client.project("Projects-1")).name or ""

    try:
        assert asyncio.run(read())
        assert sim.built
        built = sim.get()
        assert sim.get() is built and sim.server_url == built.server_url
    finally:
        ctx.close()


def test_settling_freezes_the_heap_until_something_unfreezes_it() -> None:
    try:
        heap.settle()
        assert not heap.unsettled() and gc.get_freeze_count() > 0
        heap.unfreeze()  # as a screen that kept its data frozen does when it closes
        assert heap.unsettled()
        heap.settle()
        assert not heap.unsettled()
    finally:
        gc.unfreeze()
