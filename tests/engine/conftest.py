"""Fixtures the engine tests share: the demo simulator and discovered clients of both instances."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from octowiz.octopus.client import OctopusClient
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Simulator


@pytest.fixture
def demo() -> Iterator[Simulator]:
    sim = Simulator(None, "demo")
    yield sim
    sim.close()


@pytest.fixture
async def clients(demo: Simulator) -> AsyncIterator[tuple[OctopusClient, OctopusClient]]:
    transport = demo.transport()
    source = OctopusClient(demo.server_url, SERVER_ADMIN.api_key, transport=transport)
    destination = OctopusClient(demo.cloud_url, CLOUD_MANAGER.api_key, transport=transport)
    await source.discover()
    await destination.discover()
    yield source, destination
    await source.aclose()
    await destination.aclose()


@pytest.fixture
def shellcheck() -> str:
    """The shellcheck binary; missing, the test fails under CI (which installs it) and skips elsewhere."""
    path = shutil.which("shellcheck")
    if path is None:
        message = "shellcheck is missing: apt-get install -y shellcheck"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
