"""The simulator's fault mix and request log, and how a migration's requests-per-minute budget is set."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from octowiz import cli
from octowiz.engine.context import Context
from octowiz.engine.session import CLOUD_REQUESTS_PER_MINUTE, budgets
from octowiz.journal import Journal, JournalError
from octowiz.paths import Paths
from octowiz.sim.config import FaultMix, InstanceConfig
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Simulator
from tests.conftest import FakeTime
from tests.faults.world import max_in_window

HEAD = {"X-Octopus-ApiKey": SERVER_ADMIN.api_key}


def mixed(fake_time: FakeTime, **mix: Any) -> Simulator:
    return Simulator(
        None, "empty", server=InstanceConfig("server", fault_mix=FaultMix(**mix)), clock=fake_time
    )


async def _statuses(sim: Simulator, count: int, method: str = "GET") -> list[tuple[int, str]]:
    out = []
    async with httpx.AsyncClient(transport=sim.transport(), headers=HEAD) as c:
        for _ in range(count):
            try:
                r = await c.request(method, f"{sim.server_url}/api/Spaces-1/environments")
                out.append((r.status_code, r.headers.get("Retry-After", "")))
            except httpx.RemoteProtocolError:
                out.append((0, ""))
    return out


async def test_the_mix_is_seeded_in_arrival_order_and_hits_each_kind_at_its_rate(fake_time: FakeTime) -> None:
    rates = {"error_rate": 0.05, "drop_rate": 0.02, "burst_rate": 0.02, "burst_length": 3, "slow_rate": 0.0}
    first = mixed(fake_time, **rates, retry_after=0.25, seed=7)
    again = mixed(fake_time, **rates, retry_after=0.25, seed=7)
    other = mixed(fake_time, **rates, retry_after=0.25, seed=8)
    a, b, c = [await _statuses(s, 1000) for s in (first, again, other)]
    assert a == b and a != c
    kinds = [r.fault for r in first.server.requests]
    assert 30 <= kinds.count("5xx") + kinds.count("5xx-after") <= 75
    assert 8 <= kinds.count("drop") + kinds.count("drop-after") <= 35
    assert {s for s, _ in a if s >= 500} <= {500, 502, 503}
    # Every burst answers three requests in a row with 429 and the Retry-After the mix says.
    runs = "".join("B" if k == "429" else "." for k in kinds).split(".")
    bursts = [len(run) for run in runs if run]
    assert bursts and all(n % 3 == 0 for n in bursts)
    assert {h for s, h in a if s == 429} == {"0.25"}
    assert [s for s, _ in a if s == 0] and all(
        r.status == 0 for r in first.server.requests if "drop" in r.fault
    )


async def test_a_fault_after_the_work_leaves_the_change_made_and_one_before_does_not(
    fake_time: FakeTime,
) -> None:
    sim = Simulator(
        None,
        "empty",
        cloud=InstanceConfig("cloud", fault_mix=FaultMix(error_rate=1.0, after_share=0.5, seed=3)),
        clock=fake_time,
    )
    async with httpx.AsyncClient(
        transport=sim.transport(), headers={"X-Octopus-ApiKey": CLOUD_MANAGER.api_key}
    ) as c:
        for n in range(12):
            r = await c.post(f"{sim.cloud_url}/api/Spaces-1/environments", json={"Name": f"Env {n}"})
            assert r.status_code >= 500
    made = {e["Name"] for e in sim.cloud.store.all("environments")}
    for n, record in enumerate(sim.cloud.requests):
        assert (f"Env {n}" in made) == (record.fault == "5xx-after"), record
    assert {r.fault for r in sim.cloud.requests} == {"5xx", "5xx-after"}


async def test_records_carry_their_arrival_time_and_slow_answers_take_longer(fake_time: FakeTime) -> None:
    sim = mixed(fake_time, slow_rate=1.0, slow_seconds=0.05)
    async with httpx.AsyncClient(transport=sim.transport(), headers=HEAD) as c:
        start = time.perf_counter()
        await c.get(f"{sim.server_url}/api/Spaces-1/environments")
        assert time.perf_counter() - start >= 0.05
        fake_time.advance(42)
        await c.get(f"{sim.server_url}/api/Spaces-1/environments")
    assert [r.fault for r in sim.server.requests] == ["slow", "slow"]
    assert sim.server.requests[1].at - sim.server.requests[0].at == pytest.approx(42, abs=0.01)


async def test_the_limiter_takes_a_burst_size_of_its_own(fake_time: FakeTime) -> None:
    sim = Simulator(
        None,
        "empty",
        cloud=InstanceConfig("cloud", rate_limit_per_minute=60, rate_limit_burst=2),
        clock=fake_time,
    )
    async with httpx.AsyncClient(
        transport=sim.transport(), headers={"X-Octopus-ApiKey": CLOUD_MANAGER.api_key}
    ) as c:
        got = [(await c.get(f"{sim.cloud_url}/api/Spaces-1/environments")).status_code for _ in range(3)]
        fake_time.advance(1)
        got.append((await c.get(f"{sim.cloud_url}/api/Spaces-1/environments")).status_code)
    assert got == [200, 200, 429, 200]
    assert [r.fault for r in sim.cloud.requests] == ["", "", "limited", ""]


@pytest.mark.parametrize(
    ("mix", "sentence"),
    [
        ({"drop_rate": 2.0}, "the rate of dropped connections (--drop-rate) must be between 0 and 1, not 2"),
        ({"error_rate": 0.6, "slow_rate": 0.6}, "the fault rates add up to more than every request"),
        ({"burst_length": 0}, "a burst of 429s is at least one request long"),
    ],
)
def test_a_mix_that_cannot_be_gets_a_sentence(mix: dict[str, float], sentence: str) -> None:
    with pytest.raises(ValueError, match="^" + sentence.replace("(", r"\(").replace(")", r"\)")):
        FaultMix(**mix)  # type: ignore[arg-type]


def test_octowiz_sim_refuses_a_mix_that_cannot_be(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sim", "--burst-rate", "0.7", "--fault-rate", "0.5"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        "octowiz sim: the fault rates add up to more than every request: lower them.\n"
    )


def test_windows_are_counted_from_each_request() -> None:
    assert max_in_window([0.0, 10.0, 59.0, 61.0, 70.0], 60) == 3
    assert max_in_window([0.0, 0.0, 1.0, 2.0, 3.0], 1) == 2
    assert max_in_window([], 60) == 0


# -- the budget a migration keeps to -----------------------------------------------------------------


def _context(tmp_path: Path, **given: int | None) -> Context:
    paths = Paths(state=tmp_path / "state", config=tmp_path / "config", logs=tmp_path / "logs")
    return Context(paths=paths, migrations_dir=paths.migrations, keystore=None, **given)  # type: ignore[arg-type]


def test_the_budget_comes_from_the_command_line_else_the_journal_else_the_default(tmp_path: Path) -> None:
    assert budgets(_context(tmp_path), {}) == (None, CLOUD_REQUESTS_PER_MINUTE)
    kept = {"requests_per_minute": 120, "source_requests_per_minute": 600}
    assert budgets(_context(tmp_path), kept) == (600, 120)
    assert budgets(_context(tmp_path, requests_per_minute=90), kept) == (600, 90)
    assert budgets(_context(tmp_path, requests_per_minute=0, source_requests_per_minute=0), kept) == (
        None,
        None,
    )
    with pytest.raises(JournalError, match="budget for the destination is 'lots', not a whole number"):
        budgets(_context(tmp_path), {"requests_per_minute": "lots"})


@pytest.mark.parametrize("command", ["scan", "plan", "migrate", "targets", "cutover", "retire", "status"])
def test_every_phase_command_takes_a_budget(command: str) -> None:
    extra = ["--wave", "w"] if command in ("migrate", "targets", "cutover") else []
    args = cli._build_parser().parse_args([command, *extra, "--requests-per-minute", "90"])
    assert args.requests_per_minute == 90 and args.source_requests_per_minute is None


def test_a_negative_budget_is_refused_with_a_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["migrate", "--wave", "w", "--requests-per-minute", "-5"])
    assert exit_.value.code == cli.EXIT_USAGE
    assert "--requests-per-minute takes a number of requests, 0 for no budget" in capsys.readouterr().err


def test_octowiz_new_keeps_the_budget_for_the_migration(tmp_path: Path) -> None:
    sim = Simulator(None, "empty")
    env = {
        **os.environ,
        "OCTOWIZ_HOME": str(tmp_path),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "OCTOWIZ_SOURCE_API_KEY": SERVER_ADMIN.api_key,
        "OCTOWIZ_DESTINATION_API_KEY": CLOUD_MANAGER.api_key,
    }
    with sim.serve() as ends:
        done = subprocess.run(
            [sys.executable, "-m", "octowiz", "new", "t", "--source", ends["server"].url,
             "--destination", ends["cloud"].url, "--requests-per-minute", "90"],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
    sim.close()
    assert done.returncode == 0, done.stdout + done.stderr
    with Journal.open(tmp_path / "state" / "migrations" / "t.octowiz.sqlite3", lock=False) as journal:
        settings = journal.settings
    assert settings["requests_per_minute"] == 90 and "source_requests_per_minute" not in settings
