"""Shared fixtures: a simulated Server and Cloud, in-process and over loopback, on a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from octowiz.octopus.client import OctopusClient
from octowiz.sim.config import InstanceConfig
from octowiz.sim.simulator import Endpoint, Simulator


class FakeTime:
    """A clock that moves only when told to, or when code 'sleeps' on it.

    The simulator's tasks and rate limiter and the client's backoff and rate budget all read it, so a
    test can run a task's whole life, or minutes of rate limiting, in milliseconds, deterministically.
    """

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def sim(fake_time: FakeTime) -> Iterator[Simulator]:
    simulator = Simulator(None, "demo", clock=fake_time)
    yield simulator
    simulator.close()


@pytest.fixture
def sim_http(sim: Simulator) -> Iterator[dict[str, Endpoint]]:
    """Both instances served over real HTTP on loopback."""
    with sim.serve() as endpoints:
        yield endpoints


def make_client(
    endpoint: Endpoint, fake_time: FakeTime, *, key: str | None = None, **kw: object
) -> OctopusClient:
    options: dict[str, object] = {"sleep": fake_time.sleep, "backoff_base": 0.1}
    options.update(kw)
    return OctopusClient(endpoint.url, key or endpoint.api_key, **options)  # type: ignore[arg-type]


@pytest.fixture
async def source(sim_http: dict[str, Endpoint], fake_time: FakeTime) -> AsyncIterator[OctopusClient]:
    """A client of the simulated Server over loopback HTTP, discovered."""
    async with make_client(sim_http["server"], fake_time) as client:
        await client.discover()
        yield client


@pytest.fixture
async def destination(sim_http: dict[str, Endpoint], fake_time: FakeTime) -> AsyncIterator[OctopusClient]:
    """A client of the simulated Cloud over loopback HTTP, discovered."""
    async with make_client(sim_http["cloud"], fake_time) as client:
        await client.discover()
        yield client


@pytest.fixture
def server_config() -> InstanceConfig:
    return InstanceConfig("server")
