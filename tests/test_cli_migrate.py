"""`octowiz new`, `plan` and `migrate` as a script runs them, and `migrate` killed with SIGKILL and run again.

The simulator runs in this test process over loopback HTTP (it outlives the killed octowiz); octowiz
runs as a real subprocess with its keys and the export password in the environment, never in argv.
Each kill lands exactly at a stage boundary (or mid package copy) through ``OCTOWIZ_TEST_CRASH_AT``;
after the rerun the destination must equal the one an uninterrupted run leaves.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from octowiz.engine.migrate.run import CRASH_POINTS, EXIT_NOT_CONFIRMED, EXIT_VERIFIED
from octowiz.journal import Journal
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Endpoint, Simulator
from tests.engine.test_migrate import WAVE, destination_state, fast_sim

PASSWORD = "an export password only the environment knows"


def octowiz(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "octowiz", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={
            **os.environ,
            "OCTOWIZ_HOME": str(home),
            "OCTOWIZ_SOURCE_API_KEY": SERVER_ADMIN.api_key,
            "OCTOWIZ_DESTINATION_API_KEY": CLOUD_MANAGER.api_key,
            "OCTOWIZ_EXPORT_PASSWORD": PASSWORD,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            **env,
        },
    )


@pytest.fixture
def served() -> Iterator[tuple[Simulator, dict[str, Endpoint]]]:
    sim = fast_sim()
    with sim.serve() as ends:
        yield sim, ends
    sim.close()


def planned(home: Path, ends: dict[str, Endpoint]) -> None:
    """A connected migration 't' with the wave planned, written as `octowiz new` and `plan` leave it."""
    with Journal.create(
        home / "state" / "migrations" / "t.octowiz.sqlite3",
        {
            "name": "t",
            "source_url": ends["server"].url,
            "destination_url": ends["cloud"].url,
            "source_space": "Spaces-1",
            "destination_space": "Spaces-1",
        },
    ) as journal:
        journal.set_step("connect", "done")
        journal.set_wave("wave 1", list(WAVE))


MIGRATE = ("migrate", "t", "--wave", "wave 1", "--yes", "--poll-seconds", "0.01")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What Cloud holds after one uninterrupted run of the wave."""
    home = tmp_path_factory.mktemp("uninterrupted")
    sim = fast_sim()
    with sim.serve() as ends:
        planned(home, ends)
        done = octowiz(home, *MIGRATE)
        assert done.returncode == EXIT_VERIFIED, done.stdout + done.stderr
    state = destination_state(sim)
    sim.close()
    return state


def test_new_plan_and_migrate_from_a_script(
    tmp_path: Path, served: tuple[Simulator, dict[str, Endpoint]]
) -> None:
    sim, ends = served
    new = octowiz(tmp_path, "new", "t", "--source", ends["server"].url, "--destination", ends["cloud"].url)
    assert new.returncode == 0, new.stdout + new.stderr
    plan = octowiz(
        tmp_path, "plan", "t", "--wave", "wave 1", "--projects", "Acme Web, acme database,Ops Toolkit"
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert plan.stdout.startswith("Wave 'wave 1': Acme Web, Acme Database, Ops Toolkit.")
    # Without --yes and without a terminal, the import waits for a person: exit 5, nothing imported.
    unconfirmed = octowiz(tmp_path, "migrate", "t", "--wave", "wave 1", "--poll-seconds", "0.01")
    assert unconfirmed.returncode == EXIT_NOT_CONFIRMED, unconfirmed.stdout + unconfirmed.stderr
    assert "Projects to create: " in unconfirmed.stdout
    assert not [p for p in sim.cloud.store.all("projects") if p["Name"] in WAVE.values()]
    done = octowiz(tmp_path, *MIGRATE)
    assert done.returncode == EXIT_VERIFIED, done.stdout + done.stderr
    assert [line for line in done.stdout.splitlines() if line.endswith(": verified")] == [
        f"{name}: verified" for name in WAVE.values()
    ]
    # `status` shows, from the journal alone, where each project of the wave stands.
    status = octowiz(tmp_path, "status", "t")
    assert status.returncode == 0, status.stderr
    assert "Wave wave 1:" in status.stdout
    for name in WAVE.values():
        assert re.search(rf"^  {re.escape(name)} +verified$", status.stdout, re.M), status.stdout
    assert re.search(r"^  Waves +done$", status.stdout, re.M)
    # The password and the keys were in the environment only: not in anything octowiz wrote.
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (PASSWORD, SERVER_ADMIN.api_key, CLOUD_MANAGER.api_key):
                assert secret.encode() not in data, path
    assert PASSWORD not in done.stdout + done.stderr


def test_migrate_without_a_password_says_where_to_put_it(
    tmp_path: Path, served: tuple[Simulator, dict[str, Endpoint]]
) -> None:
    _, ends = served
    planned(tmp_path, ends)
    out = octowiz(tmp_path, *MIGRATE, OCTOWIZ_EXPORT_PASSWORD="")
    assert out.returncode == 1
    assert "set OCTOWIZ_EXPORT_PASSWORD" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_killed_at_any_stage_then_run_again_ends_as_an_uninterrupted_run(
    point: str,
    tmp_path: Path,
    served: tuple[Simulator, dict[str, Endpoint]],
    uninterrupted: dict[str, Any],
) -> None:
    sim, ends = served
    planned(tmp_path, ends)
    killed = octowiz(tmp_path, *MIGRATE, OCTOWIZ_TEST_CRASH_AT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    again = octowiz(tmp_path, *MIGRATE)
    assert again.returncode == EXIT_VERIFIED, again.stdout + again.stderr
    assert destination_state(sim) == uninterrupted
