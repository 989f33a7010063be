"""`octowiz targets` and `cutover` as a script runs them, and both killed with SIGKILL and run again.

The simulator runs in this test process over loopback HTTP (it outlives the killed octowiz); octowiz runs
as a real subprocess with its keys in the environment, never in argv. What comes before the command under
test (the wave's migration, the canary's clone, a disable to roll back) is done in-process with the engine,
which is much faster than the command line, and the journal is then pointed at the loopback addresses.
Each kill lands exactly at a named point through ``OCTOWIZ_TEST_CRASH_AT``; after the rerun, Cloud, the
Server, the simulated hosts and the journal must be as an uninterrupted run leaves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from octowiz.cli_cutover import EXIT_FAILED, EXIT_NOT_CONFIRMED, EXIT_NOT_DONE, EXIT_OK
from octowiz.engine.cutover import cutover as co
from octowiz.engine.cutover import scripts
from octowiz.engine.cutover import targets as tg
from octowiz.journal import Journal
from octowiz.octopus.client import OctopusClient
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Endpoint, Simulator
from tests.engine.test_cutover import add_cloud_targets, triggers
from tests.engine.test_migrate import WAVE, context_for, fast_sim, new_journal, run

KEYS = (SERVER_ADMIN.api_key, CLOUD_MANAGER.api_key)
NAME, WAVE_NAME = "t", "wave 1"
OVERRIDE = "the wave's owners accept it"
TARGET_SETTINGS = tg.TargetSettings(poll_interval=0.01)
#: The SSH target's host, which the lab's Cloud is allowed to reach (it is on a private address).
SSH_HOST = "10.0.5.10"


def octowiz(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run octowiz as a script would: keys in the environment, no terminal."""
    argv = [sys.executable, "-m", "octowiz", *args]
    assert not [a for a in argv if any(k in a for k in KEYS)], argv  # keys never on a command line
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


def no_keys_in(*places: Path) -> None:
    """No API key in any file under these directories (journals with their WAL, logs, scripts)."""
    for place in places:
        for path in place.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for key in KEYS:
                    assert key.encode() not in data, path


@dataclass
class Lab:
    """A served simulator with a migrated wave and the journal octowiz's commands use."""

    sim: Simulator
    ends: dict[str, Endpoint]
    home: Path

    @property
    def journal_path(self) -> Path:
        return self.home / "state" / "migrations" / f"{NAME}.octowiz.sqlite3"

    def cli(self, command: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """``octowiz COMMAND t --wave 'wave 1' ARGS`` with a fast poll."""
        return octowiz(self.home, command, NAME, "--wave", WAVE_NAME, *args, "--poll-seconds", "0.01", **env)

    @contextlib.contextmanager
    def journal(self) -> Iterator[Journal]:
        with Journal.open(self.journal_path, lock=False) as journal:
            yield journal


def ready(sim: Simulator) -> None:
    """The lab as its admins leave it before the cut-over: every Tentacle up, the SSH host reachable.

    The demo has a Tentacle whose service is stopped (web-test-02), one disabled on the Server
    (app-old-01) and an SSH host Cloud cannot route to; without this, those hosts fail the same way in
    every run and no run could ever end with every machine healthy.
    """
    store = sim.server.store
    for doc in store.all("machines"):
        if doc["Name"] in ("web-test-02", "app-old-01"):
            store.put("machines", {**doc, "IsDisabled": False, "HealthStatus": "Healthy"})
    sim.hosts.set_reachable(SSH_HOST, True)


#: How far the lab is taken in-process before the command under test runs.
STAGES = ("migrated", "canary cloned", "canary healthy", "test targets", "disabled")


async def prepare(sim: Simulator, ends: dict[str, Endpoint], home: Path, stage: str) -> None:
    """Migrate the wave in-process (and go on to ``stage``), then point the journal at loopback."""
    assert stage in STAGES
    ctx = context_for(home, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(home, sim.server_url, sim.cloud_url, list(WAVE))
    try:
        result, _ = await run(ctx, journal)
        assert [p.state for p in result.projects] == ["verified"] * len(WAVE), result.problems
        # The SSH target's key pair, entered on Cloud by hand with its secret (the API cannot copy it).
        async with OctopusClient(sim.cloud_url, CLOUD_MANAGER.api_key, transport=sim.transport()) as dest:
            await dest.discover()
            await dest.request(
                "POST",
                dest.space_path("accounts"),
                json={"Name": "Linux SSH Key", "AccountType": "SshKeyPair", "Username": "octopus",
                      "PrivateKeyFile": {"HasValue": True}},
            )  # fmt: skip
        if stage in ("canary cloned", "canary healthy"):
            report = await tg.read_targets(ctx, journal, WAVE_NAME)
            plans = tg.host_plans(report)
            canary = tg.canary_host(report, plans)
            assert canary is not None
            [cloned] = await tg.run_console(
                ctx, journal, report, [canary], plans=plans, settings=TARGET_SETTINGS
            )
            assert cloned.state == "registered", cloned.sentences
            if stage == "canary healthy":
                await tg.health_check(ctx, journal, report, settings=TARGET_SETTINGS)
                assert len(tg.hosts_offered(report, plans, journal)) > 1  # the canary opened the rest
        elif stage == "test targets":
            add_cloud_targets(sim, "Acme Web", "Test", ["Healthy"])
        elif stage == "disabled":
            settings = co.CutoverSettings(poll_interval=0.01)
            async with co.open_cutover(ctx, journal, WAVE_NAME, settings=settings) as cut:
                for pid in WAVE:
                    out = await cut.disable(pid, override=OVERRIDE)
                    assert out.status == "overridden", out.sentence
        journal.set_settings(source_url=ends["server"].url, destination_url=ends["cloud"].url)
    finally:
        journal.close()


@contextlib.contextmanager
def lab(home: Path, stage: str = "migrated") -> Iterator[Lab]:
    sim = fast_sim()
    ready(sim)
    try:
        with sim.serve() as ends:
            # The console's clones poll Cloud at the address octowiz knows it by: tell the simulated
            # network that this loopback address is Cloud's (only Cloud listens for polling Tentacles).
            sim.hosts.addresses[str(urlsplit(ends["cloud"].url).hostname)] = "cloud"
            asyncio.run(prepare(sim, ends, home, stage))
            yield Lab(sim, ends, home)
    finally:
        sim.close()


# -- what a rerun must leave as an uninterrupted run does ------------------------------------------------


def targets_state(lab: Lab) -> dict[str, Any]:
    """Cloud's machines and workers, the hosts' Tentacle instances, the scripts sent, the journal's view.

    Also asserts what holds after any run: no duplicate name on Cloud, and every Tentacle clone on Cloud
    is exactly one instance on one simulated host. An uninterrupted run leaves no action pending.
    """
    cloud = lab.sim.cloud.store
    machines = sorted(d["Name"] for d in cloud.all("machines"))
    workers = sorted(d["Name"] for d in cloud.all("workers"))
    assert len(set(machines)) == len(machines) and len(set(workers)) == len(workers), (machines, workers)
    hosts = lab.sim.hosts.all_hosts()
    instances = Counter(
        str(i.get("Thumbprint") or "").upper() for h in hosts for i in h.get("Instances") or []
    )
    for doc in [*cloud.all("machines"), *cloud.all("workers")]:
        endpoint = doc.get("Endpoint") or {}
        if endpoint.get("CommunicationStyle") in ("TentacleActive", "TentaclePassive"):
            thumb = str(doc.get("Thumbprint") or endpoint.get("Thumbprint") or "").upper()
            assert instances[thumb] == 1, (doc["Name"], thumb)
    with lab.journal() as journal:
        pending = [(a.kind, a.target) for a in journal.actions(step=tg.STEP) if a.pending]
        items = sorted((kind, i, stage, status) for kind, i, stage, status, _ in journal.items())
    return {
        "pending actions": pending,
        "machines": machines,
        "workers": workers,
        "instances": {h["Name"]: sorted(i["Name"] for i in h.get("Instances") or []) for h in hosts},
        "scripts": sorted(
            str(d.get("Description")) for d in lab.sim.server.store.all("tasks") if d["Name"] == "AdHocScript"
        ),
        "journal": [i for i in items if i[0] in ("machine", "host")],
    }


def project_puts(sim: Simulator) -> dict[str, int]:
    """The Server's PUT requests per project of the wave (the only way octowiz disables or enables one)."""
    return {
        pid: sum(1 for r in sim.server.requests if r.method == "PUT" and r.path.endswith(f"/projects/{pid}"))
        for pid in WAVE
    }


def cutover_state(lab: Lab) -> dict[str, Any]:
    """The Server's projects, Cloud's triggers and test deployments, and what the journal records."""
    server = lab.sim.server.store
    with lab.journal() as journal:
        actions = journal.actions(step=co.STEP)
        items = sorted((i, stage, status) for _, i, stage, status, _ in journal.items("project"))
    return {
        "pending actions": [(a.kind, a.target) for a in actions if a.pending],
        "disabled on the server": {pid: server.get("projects", pid)["IsDisabled"] for pid in WAVE},  # type: ignore[index]
        "puts": project_puts(lab.sim),
        "triggers": {name: triggers(lab.sim, name) for name in WAVE.values()},
        "test deployments": sorted(
            str(d.get("ProjectId")) for d in lab.sim.cloud.store.all("deployments") if d.get("Comments")
        ),
        "done": sorted(
            (a.kind, a.target)
            for a in actions
            if a.kind in ("disable-project", "enable-project") and a.outcome in ("done", "overridden")
        ),
        "journal": [i for i in items if i[1] in ("test", "disabled")],
    }


@dataclass(frozen=True)
class Scenario:
    """A command run from a stage, and how to read what it left."""

    stage: str
    command: tuple[str, ...]
    state: Callable[[Lab], dict[str, Any]]


SCENARIOS = {
    # The rest of the hosts, once the canary is healthy: several hosts, the interrupted one first.
    "clone the rest": Scenario("canary healthy", ("targets", "--run-offered", "--yes"), targets_state),
    "recreate": Scenario("migrated", ("targets", "--recreate", "--yes"), targets_state),
    "health": Scenario("canary cloned", ("targets", "--health"), targets_state),
    "test": Scenario("test targets", ("cutover", "--test", "Acme Web", "--yes"), cutover_state),
    "disable": Scenario("migrated", ("cutover", "--disable", "--override", OVERRIDE, "--yes"), cutover_state),
    "reenable": Scenario("disabled", ("cutover", "--reenable", "Acme Web", "--yes"), cutover_state),
}
TARGETS_KILLS = [
    ("clone the rest", "script-sent-not-recorded"),
    ("clone the rest", "after-script-request"),
    ("clone the rest", "after-script"),
    ("clone the rest", "register-sent-not-recorded"),
    ("clone the rest", "after-register-request"),
    ("recreate", "recreate-sent-not-recorded"),
    ("recreate", "after-recreate-request"),
    ("health", "after-health"),
]
CUTOVER_KILLS = [
    ("test", "test-sent-not-recorded"),
    ("test", "after-test-request"),
    ("disable", "disable-sent-not-recorded"),
    ("disable", "after-disable"),
    ("disable", "trigger-sent-not-recorded"),
    ("disable", "after-triggers-enabled"),
    ("reenable", "trigger-sent-not-recorded"),
    ("reenable", "reenable-sent-not-recorded"),
    ("reenable", "after-reenable"),
]


def _point(kill: Any) -> str:
    return str(getattr(kill, "values", kill)[1])  # a pytest.param's values, or the plain pair


def test_every_crash_point_is_killed_here() -> None:
    assert {_point(k) for k in TARGETS_KILLS} == set(tg.CRASH_POINTS)
    assert {_point(k) for k in CUTOVER_KILLS} == set(co.CRASH_POINTS)


Uninterrupted = Callable[[str], tuple[int, dict[str, Any]]]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Uninterrupted:
    """A scenario's exit code and end state after one uninterrupted run (each computed once)."""
    done: dict[str, tuple[int, dict[str, Any]]] = {}

    def get(name: str) -> tuple[int, dict[str, Any]]:
        if name not in done:
            scenario = SCENARIOS[name]
            home = tmp_path_factory.mktemp("uninterrupted")
            with lab(home, scenario.stage) as lb:
                out = lb.cli(*scenario.command)
                assert out.returncode in (EXIT_OK, EXIT_NOT_DONE), out.stdout + out.stderr
                state = scenario.state(lb)
                assert state["pending actions"] == []
                done[name] = (out.returncode, state)
            no_keys_in(home)
        return done[name]

    return get


def killed_then_again(tmp_path: Path, name: str, point: str, uninterrupted: Uninterrupted) -> None:
    scenario = SCENARIOS[name]
    code, expected = uninterrupted(name)
    with lab(tmp_path, scenario.stage) as lb:
        killed = lb.cli(*scenario.command, OCTOWIZ_TEST_CRASH_AT=point)
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        again = lb.cli(*scenario.command)
        assert again.returncode == code, again.stdout + again.stderr
        assert scenario.state(lb) == expected
    no_keys_in(tmp_path)


@pytest.mark.parametrize(("name", "point"), TARGETS_KILLS)
def test_targets_killed_at_any_point_then_run_again_ends_as_an_uninterrupted_run(
    name: str, point: str, tmp_path: Path, uninterrupted: Uninterrupted
) -> None:
    killed_then_again(tmp_path, name, point, uninterrupted)


@pytest.mark.parametrize(("name", "point"), CUTOVER_KILLS)
def test_cutover_killed_at_any_point_then_run_again_ends_as_an_uninterrupted_run(
    name: str, point: str, tmp_path: Path, uninterrupted: Uninterrupted
) -> None:
    killed_then_again(tmp_path, name, point, uninterrupted)


# -- end to end ---------------------------------------------------------------------------------------------


def ok(out: subprocess.CompletedProcess[str], code: int) -> str:
    assert out.returncode == code, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    return out.stdout


def json_at_end(stdout: str) -> Any:
    """The JSON document that ends the output (an action's preview and progress lines come first)."""
    return json.loads(stdout[stdout.index("\n{") + 1 :] if not stdout.startswith("{") else stdout)


def test_a_wave_cut_over_from_a_script(tmp_path: Path) -> None:
    home, written = tmp_path / "home", tmp_path / "scripts"
    with lab(home) as lb:
        sim = lb.sim
        cloud, server = sim.cloud.store, sim.server.store

        def on_cloud() -> list[str]:
            return sorted(d["Name"] for c in ("machines", "workers") for d in cloud.all(c))

        def adhoc() -> int:
            return sum(1 for d in server.all("tasks") if d["Name"] == "AdHocScript")

        # The clone scripts to download; without --yes and without a terminal, nothing is cloned or
        # created: exit 5.
        held = lb.cli("targets", "--write-scripts", str(written), "--run-offered", "--recreate")
        shown = ok(held, EXIT_NOT_CONFIRMED)
        canary = "10.0.4.21"  # web-test-01: not production, one Tentacle
        assert f"Canary host: {canary}" in shown and "needs confirming" in held.stderr
        hosts = len(list(written.iterdir()))
        assert hosts > 1 and on_cloud() == [] and adhoc() == 0
        # Another host before the canary is healthy: refused with a sentence, nothing sent.
        early = lb.cli("targets", "--run", "172.16.3.8", "--yes")
        ok(early, EXIT_FAILED)
        assert "once the canary host" in early.stderr and adhoc() == 0
        # The canary, then its health: not done yet (the rest of the wave is not on Cloud).
        first = ok(lb.cli("targets", "--run-offered", "--health", "--yes"), EXIT_NOT_DONE)
        assert f"{canary}: registered" in first and "health: web-test-01: healthy" in first
        assert on_cloud() == ["web-test-01"] and adhoc() == 1
        # The rest of the hosts, then the SSH target recreated and everything health-checked: done.
        ok(lb.cli("targets", "--run-offered", "--yes"), EXIT_NOT_DONE)
        assert adhoc() == hosts
        done = json_at_end(
            ok(lb.cli("targets", "--recreate", "--health", "--yes", "--format", "json"), EXIT_OK)
        )
        assert {m["on_cloud"] for m in done["machines"]} == {"healthy"}
        assert sorted(m["name"] for m in done["machines"]) == on_cloud()

        # The cut-over. A build-server item ticked off (the journal only); the test and the disable
        # previewed, and not confirmed: nothing deployed, nothing disabled.
        def deployments() -> int:
            return sum(1 for d in cloud.all("deployments") if d.get("Comments"))

        unconfirmed = lb.cli(
            "cutover",
            *("--done", "Acme Web=url:build-server", "--test", "Acme Web"),
            *("--disable", "--override", OVERRIDE),
        )
        ok(unconfirmed, EXIT_NOT_CONFIRMED)
        assert "Deploy release" in unconfirmed.stdout and "disable: Acme Web:" in unconfirmed.stdout
        assert re.search(r"^Acme Web +url:build-server +yes ", unconfirmed.stdout, re.M)
        assert deployments() == 0 and project_puts(sim) == dict.fromkeys(WAVE, 0)
        for project in ("Acme Web", "Acme Database"):
            tested = ok(lb.cli("cutover", "--test", project, "--yes"), EXIT_NOT_DONE)
            assert f"test: {project}: passed" in tested
        assert deployments() == 2
        # Ops Toolkit has no release to test: without an override it is refused, the others go.
        partly = lb.cli("cutover", "--disable", "--yes")
        ok(partly, EXIT_FAILED)
        assert "--override REASON disables it anyway" in partly.stderr
        assert project_puts(sim) == {"Projects-1": 1, "Projects-3": 1, "Projects-9": 0}
        assert set(triggers(sim, "Acme Web").values()) == {False}  # enabled on Cloud at the cut-over
        ok(lb.cli("cutover", "--disable", "--override", OVERRIDE, "--yes"), EXIT_OK)
        assert project_puts(sim) == dict.fromkeys(WAVE, 1)
        assert all(server.get("projects", pid)["IsDisabled"] for pid in WAVE)  # type: ignore[index]
        # Rolled back: previewed first, then done; Cloud's triggers held again.
        ok(lb.cli("cutover", "--reenable", "Acme Web"), EXIT_NOT_CONFIRMED)
        assert server.get("projects", "Projects-1")["IsDisabled"] is True  # type: ignore[index]
        back = ok(lb.cli("cutover", "--reenable", "Acme Web", "--yes"), EXIT_NOT_DONE)
        assert "Acme Web: rolled back" in back
        assert server.get("projects", "Projects-1")["IsDisabled"] is False  # type: ignore[index]
        assert set(triggers(sim, "Acme Web").values()) == {True}
        assert project_puts(sim)["Projects-1"] == 2

        # Keys were in the environment only: not in the scripts sent to the Server's console either.
        for task in server.all("tasks"):
            text = json.dumps(task.get("Arguments") or {})
            assert not [k for k in KEYS if k in text], task["Id"]
    no_keys_in(home, written)
    for path in written.iterdir():
        assert scripts.API_KEY_ENV in path.read_text()


def test_json_output_is_one_document_even_when_an_action_is_previewed(tmp_path: Path) -> None:
    with lab(tmp_path) as lb:
        out = lb.cli("targets", "--run-offered", "--format", "json")
    assert out.returncode == EXIT_NOT_CONFIRMED, out.stdout + out.stderr
    assert json.loads(out.stdout)["wave"] == WAVE_NAME


def test_a_test_that_just_passed_counts_for_the_disable_in_the_same_run(tmp_path: Path) -> None:
    with lab(tmp_path, "test targets") as lb:
        out = lb.cli("cutover", "--test", "Acme Web", "--disable", "Acme Web", "--yes")
    assert "test: Acme Web: passed" in out.stdout, out.stdout + out.stderr
    assert "No test deployment on Octopus Cloud has passed yet." not in out.stdout + out.stderr
