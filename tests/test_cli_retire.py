"""`octowiz retire` as a script runs it, and killed with SIGKILL at each crash point, then run again.

The simulator runs in this test process over loopback HTTP (it outlives the killed octowiz); octowiz runs
as a real subprocess with its keys in the environment. What comes before the retire is not what these
tests test: for the read-only half the journal and the Server are written as a finished wave leaves them;
for the old instances a real wave is migrated, cloned and health-checked in-process first (as
tests/engine/test_retire.py does), and the journal is then pointed at the loopback addresses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from octowiz.cli_retire import EXIT_NOT_CONFIRMED, EXIT_NOT_DONE, EXIT_REFUSED
from octowiz.engine.retire import retire as rt
from octowiz.journal import Journal
from octowiz.octopus.client import OctopusClient
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Endpoint, Simulator
from tests.engine.test_migrate import context_for, fast_sim, new_journal
from tests.engine.test_retire import CAPS, WAVE, Lab, migrate_and_clone, read_only, ready_lab

KEYS = (SERVER_ADMIN.api_key, CLOUD_MANAGER.api_key)


def _wired() -> bool:
    """Whether ``octowiz retire`` is wired into the main command line yet (else its own module runs)."""
    from octowiz.cli import _build_parser

    for action in _build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return "retire" in action.choices
    return False


ENTRY = ["-m", "octowiz"] if _wired() else ["-m", "octowiz.cli_retire"]


def octowiz(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``octowiz retire t ARGS`` as a script would: keys in the environment, no terminal."""
    argv = [sys.executable, *ENTRY, "retire", "t", *args]
    assert not [a for a in argv if any(k in a for k in KEYS)], argv
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={
            **os.environ,
            "OCTOWIZ_HOME": str(home),
            "OCTOWIZ_SOURCE_API_KEY": SERVER_ADMIN.api_key,
            "OCTOWIZ_DESTINATION_API_KEY": CLOUD_MANAGER.api_key,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            **env,
        },
    )


@dataclass
class Served:
    sim: Simulator
    ends: dict[str, Endpoint]
    home: Path

    @property
    def journal_path(self) -> Path:
        return self.home / "state" / "migrations" / "t.octowiz.sqlite3"

    @contextlib.contextmanager
    def journal(self) -> Iterator[Journal]:
        with Journal.open(self.journal_path, lock=False) as journal:
            yield journal

    def caps(self) -> dict[str, int]:
        return {n["Id"]: n["MaxConcurrentTasks"] for n in self.sim.server.store.all("octopusservernodes")}

    def maintenance(self) -> bool:
        doc = self.sim.server.store.get("config", "maintenance")
        return bool(doc and doc.get("IsInMaintenanceMode"))

    def recorded_caps(self) -> dict[str, object]:
        out: dict[str, object] = {}
        with self.journal() as journal:
            for a in journal.actions(step=rt.STEP):
                if a.kind == rt.KIND_TASK_CAP:
                    out.setdefault(a.target, a.intent.get("previous_cap"))
        return out

    def pending(self) -> list[tuple[str, str]]:
        with self.journal() as journal:
            return [(a.kind, a.target) for a in journal.actions(step=rt.STEP) if a.pending]


async def _prepare(sim: Simulator, home: Path, ends: dict[str, Endpoint], cloned: bool) -> None:
    ctx = context_for(home, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(home, sim.server_url, sim.cloud_url, list(WAVE))
    source = OctopusClient(sim.server_url, SERVER_ADMIN.api_key, transport=sim.transport())
    dest = OctopusClient(sim.cloud_url, CLOUD_MANAGER.api_key, transport=sim.transport())
    try:
        await source.discover()
        await dest.discover()
        lab = Lab(sim, ctx, journal, source, dest)
        if cloned:
            await migrate_and_clone(lab)
            await read_only(lab)
        else:
            for n, pid in enumerate(WAVE, 1):
                journal.set_item("project", pid, "import", "done", {"destination_id": f"Projects-{100 + n}"})
                journal.set_item("project", pid, "verify", "done", {})
                journal.set_item("project", pid, "disabled", "done", {})
                doc = sim.server.store.get("projects", pid)
                assert doc is not None
                sim.server.store.put("projects", {**doc, "IsDisabled": True})
            rt.confirm_backup(journal, rt.BACKUP_PHRASE, who="ops@test")
            rt.tick_audit_log(journal, who="ops@test")
        journal.set_settings(source_url=ends["server"].url, destination_url=ends["cloud"].url)
    finally:
        await source.aclose()
        await dest.aclose()
        journal.close()


@contextlib.contextmanager
def served(home: Path, *, cloned: bool = False) -> Iterator[Served]:
    sim = fast_sim()
    ready_lab(sim)
    try:
        with sim.serve() as ends:
            # The clones poll Cloud under its in-process name; the loopback address is Cloud's too.
            sim.hosts.addresses[str(urlsplit(ends["cloud"].url).hostname)] = "cloud"
            asyncio.run(_prepare(sim, home, ends, cloned))
            yield Served(sim, ends, home)
    finally:
        sim.close()


def no_keys_in(place: Path) -> None:
    for path in place.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for key in KEYS:
                assert key.encode() not in data, path


def test_shows_the_preconditions_and_needs_yes_without_a_terminal(tmp_path: Path) -> None:
    with served(tmp_path) as lab:
        shown = octowiz(tmp_path)
        assert shown.returncode == EXIT_NOT_DONE, shown.stdout + shown.stderr
        assert "ready to retire" in shown.stdout and "A full database backup exists" in shown.stdout
        unconfirmed = octowiz(tmp_path, "--read-only", "--poll-seconds", "0.01")
        assert unconfirmed.returncode == EXIT_NOT_CONFIRMED, unconfirmed.stdout + unconfirmed.stderr
        assert "Turn maintenance mode on" in unconfirmed.stdout and "--yes" in unconfirmed.stderr
        assert not lab.maintenance() and lab.caps() == CAPS
        done = octowiz(tmp_path, "--read-only", "--yes", "--format", "json")
        # Read-only, but the hosts' old instances are still there (no clone in this lab): not done yet.
        assert done.returncode == EXIT_NOT_DONE, done.stdout + done.stderr
        body = json.loads(done.stdout[done.stdout.index("{\n") :])
        assert body["read_only"] and not body["retired"] and body["maintenance"]
        assert {n["id"]: n["previous_cap"] for n in body["nodes"]} == CAPS
        assert lab.maintenance() and lab.caps() == dict.fromkeys(CAPS, 0)
        bad = octowiz(tmp_path, "--backup-confirmed", "sure")
        assert bad.returncode == 1 and "a full backup exists" in bad.stderr and "Traceback" not in bad.stderr
        undo = octowiz(tmp_path, "--undo", "task-caps", "--yes")
        assert undo.returncode == EXIT_NOT_DONE and lab.caps() == CAPS
        # A source that is Octopus Cloud itself is refused, and nothing is changed on it.
        with lab.journal() as journal:
            journal.set_settings(source_url=lab.ends["cloud"].url)
        refused = octowiz(tmp_path, "--read-only", "--yes", OCTOWIZ_SOURCE_API_KEY=CLOUD_MANAGER.api_key)
        assert refused.returncode == EXIT_REFUSED and "Octopus Cloud" in refused.stderr, refused.stderr
        assert not [r for r in lab.sim.cloud.requests if r.method == "PUT"]
    no_keys_in(tmp_path)


@pytest.mark.parametrize("point", [p for p in rt.CRASH_POINTS if "delete" not in p])
def test_killed_while_making_the_server_read_only_then_run_again(tmp_path: Path, point: str) -> None:
    with served(tmp_path) as lab:
        killed = octowiz(tmp_path, "--read-only", "--yes", OCTOWIZ_TEST_CRASH_AT=point)
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        again = octowiz(tmp_path, "--read-only", "--yes")
        assert again.returncode == EXIT_NOT_DONE, again.stdout + again.stderr
        assert lab.maintenance() and lab.caps() == dict.fromkeys(CAPS, 0)
        assert lab.recorded_caps() == CAPS and lab.pending() == []
        undo = octowiz(tmp_path, "--undo", "task-caps", "--yes")
        assert undo.returncode == EXIT_NOT_DONE and lab.caps() == CAPS


@pytest.mark.parametrize("point", [p for p in rt.CRASH_POINTS if "delete" in p])
def test_killed_while_deleting_an_old_instance_then_run_again(tmp_path: Path, point: str) -> None:
    with served(tmp_path, cloned=True) as lab:
        with lab.journal() as journal:
            for _k, host, stage, status, _d in journal.items("host"):
                assert stage != rt.STAGE_OLD_DELETED, (host, status)
        killed = octowiz(
            tmp_path, "--delete-offered", "--yes", "--poll-seconds", "0.01", OCTOWIZ_TEST_CRASH_AT=point
        )
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        again = octowiz(tmp_path, "--delete-offered", "--yes", "--poll-seconds", "0.01", "--format", "json")
        assert again.returncode == EXIT_NOT_DONE, again.stdout + again.stderr
        body = json.loads(again.stdout[again.stdout.index("{\n") :])
        canary = body["canary"]
        states = {h["host"]: h["state"] for h in body["hosts"]}
        assert states[canary] == "deleted"
        # One script task on Cloud for the canary, none on the Server, nothing pending.
        tasks = [t for t in lab.sim.cloud.store.all("tasks") if t["Name"] == "AdHocScript"]
        assert len(tasks) == 1 and canary in tasks[0]["Description"]
        assert lab.pending() == []
        instances = {i["Name"]: i for i in lab.sim.hosts.host(canary)["Instances"]}
        assert not instances["Tentacle"]["Indexed"]
        assert all(i["Indexed"] and i["ServiceRunning"] for n, i in instances.items() if n != "Tentacle")
    no_keys_in(tmp_path)
