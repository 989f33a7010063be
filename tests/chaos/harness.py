"""Kill octowiz at seeded random points of a 30-project wave, resume it, compare with an uninterrupted run.

A *trial* takes a fresh simulator (:func:`tests.chaos.world.chaos_sim`) served on loopback in this
process, and runs the wave's three phases as a script would, each octowiz command a real subprocess:

* ``migrate``: ``octowiz migrate --yes`` until it exits 0 (everything verified);
* ``targets``: ``octowiz targets --run-offered --recreate --health --yes`` until it exits 0 (the canary
  host first, then the rest once it is healthy, the SSH target recreated, every machine healthy);
* ``cutover``: two test deployments, then ``octowiz cutover --disable --override REASON --yes`` until it
  exits 0 (every project disabled on the Server, its triggers enabled on Cloud).

A :class:`Kill` SIGKILLs one attempt of a command, either at a named crash point of the engine
(``OCTOWIZ_TEST_CRASH_AT``) or when the Nth request of that attempt reaches the simulator: the simulator's
``on_request`` hook kills the process from inside the request, either as the request arrives (it is then
dropped: the request is lost) or once its answer is built (the change is made, the answer never
arrives: the dangerous case), and waits for the process to be gone before it answers. N is drawn from
the seed within the request count an uninterrupted run of that command makes (for half the kills, among
its writes only: most requests read, and a lost answer hurts where something changed). The killed
command is run again (possibly killed again, as the schedule says) until it ends as the uninterrupted
one does. Each command is given ``--requests-per-minute 0``: the simulated Cloud does not limit, a
30-project wave makes about 500 Cloud requests, and the budget only decides when requests go, never
which (the fault tests measure what it guarantees).

At the end, Cloud, the Server and the simulated hosts must hold what an uninterrupted run leaves
(:func:`final_state`, compared by names, never ids), and the journal must be consistent
(:func:`journal_problems`): no action left without its outcome, every item stage as the uninterrupted
run leaves it, no resource created twice, every id map entry present on Cloud, and ``octowiz status
--journal-only`` telling the same story.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request

from octowiz.engine.cutover import cutover as co
from octowiz.engine.cutover import targets as tg
from octowiz.engine.migrate import run as migrate
from octowiz.journal import Journal
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Endpoint, Simulator
from tests.chaos.world import TESTED, chaos_sim

ROOT = Path(__file__).resolve().parents[2]
NAME, WAVE_NAME = "t", "wave 1"
PASSWORD = "a chaos export password only the environment knows"
OVERRIDE = "the chaos wave's owners accept it"
POLL = ("--poll-seconds", "0.01")
#: How long one attempt of a command may take before the trial fails (a hang is a finding too).
ATTEMPT_TIMEOUT = 300.0
#: Attempts of one command before the trial gives up (kills plus the runs the command needs itself).
MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class Command:
    """One octowiz command of a phase, run until it exits with a ``done`` code.

    Attributes:
        label: a short name for tables.
        argv: the arguments after ``octowiz``.
        done: exit codes that end it.
        again: exit codes that mean "progress made, run it again" (the targets step's canary).
        weight: how likely a kill drawn for the phase lands on this command (the bigger, the likelier).
    """

    label: str
    argv: tuple[str, ...]
    done: frozenset[int]
    again: frozenset[int] = frozenset()
    weight: int = 1


def _wave(command: str, *args: str) -> tuple[str, ...]:
    return (command, NAME, "--wave", WAVE_NAME, *args, *POLL)


#: The phases of a wave, in order, and their commands.
PHASES: dict[str, tuple[Command, ...]] = {
    "migrate": (Command("migrate", _wave("migrate", "--yes"), frozenset({migrate.EXIT_VERIFIED})),),
    "targets": (
        Command(
            "targets",
            _wave("targets", "--run-offered", "--recreate", "--health", "--yes"),
            frozenset({0}),
            frozenset({3}),
        ),
    ),
    "cutover": (
        *(Command(f"test {p}", _wave("cutover", "--test", p, "--yes"), frozenset({3})) for p in TESTED),
        Command(
            "disable",
            _wave("cutover", "--disable", "--override", OVERRIDE, "--yes"),
            frozenset({0}),
            weight=3,
        ),
    ),
}
#: The named crash points each phase's commands reach.
NAMED: dict[str, tuple[str, ...]] = {
    "migrate": migrate.CRASH_POINTS,
    "targets": tg.CRASH_POINTS,
    "cutover": tuple(p for p in co.CRASH_POINTS if not p.startswith("reenable") and p != "after-reenable"),
}
#: Which of a phase's commands reach a named point (the cut-over's test points only its tests).
_POINT_COMMANDS = {"test-sent-not-recorded": "test", "after-test-request": "test"}


@dataclass(frozen=True)
class Kill:
    """Where one attempt of a command is killed.

    Attributes:
        phase: migrate | targets | cutover.
        command: the index of the phase's command whose attempts it kills.
        point: a named crash point, or None for a kill at a request.
        moment: for a request kill, ``arrived`` (the request is lost) or ``answered`` (it is carried out,
            its answer lost).
        share: for a request kill, where among the command's requests: the Nth with N = ceil(share x the
            request count of an uninterrupted run of the command).
        writes: count only the requests that change something (not GET or HEAD). Most requests read,
            so kills drawn among all of them would seldom land on a change, where a lost answer hurts.
    """

    phase: str
    command: int
    point: str | None = None
    moment: str = "answered"
    share: float = 0.5
    writes: bool = False

    def describe(self, n: int | None = None) -> str:
        """The kill point, for a table."""
        if self.point is not None:
            return self.point
        lost = "request lost" if self.moment == "arrived" else "answer lost"
        return (
            f"{'write' if self.writes else 'request'} {n if n is not None else f'{self.share:.0%}'} ({lost})"
        )


def schedule(seed: int, per_phase: dict[str, int], named_share: float = 0.3) -> list[Kill]:
    """The kills of one trial, drawn from ``seed``: ``per_phase[phase]`` kills in each phase.

    About ``named_share`` of them are at named crash points, the rest at requests (half of those among
    the requests that change something), half before the request is handled and half after.
    """
    rng = random.Random(seed)
    kills = []
    for phase, commands in PHASES.items():
        for _ in range(per_phase.get(phase, 0)):
            if rng.random() < named_share:
                point = rng.choice(NAMED[phase])
                wanted = _POINT_COMMANDS.get(point)
                eligible = [i for i, c in enumerate(commands) if wanted is None or c.label.startswith(wanted)]
                if wanted is None and phase == "cutover":
                    eligible = [i for i, c in enumerate(commands) if not c.label.startswith("test")]
                kills.append(Kill(phase, rng.choice(eligible), point=point))
            else:
                kills.append(
                    Kill(
                        phase,
                        rng.choices(range(len(commands)), [c.weight for c in commands])[0],
                        moment=rng.choice(("arrived", "answered")),
                        share=rng.uniform(0.02, 0.98),
                        writes=rng.random() < 0.5,
                    )
                )
    return kills


# ---------------------------------------------------------------------------------------------------------
# Killing at a request
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Fired:
    """A request kill that happened: the request's number in the attempt, and what it was."""

    n: int  # among all requests, or among the writes for a kill at a write
    moment: str
    method: str
    path: str


class Killer:
    """The simulator's ``on_request`` hook: counts octowiz's requests and kills it at the Nth one.

    Installed on both instances (they share the count: one octowiz process talks to both). Requests
    from anything but octowiz (this harness setting the lab up) are not counted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attached = threading.Event()
        self._proc: subprocess.Popen[str] | None = None
        self._at: int | None = None
        self._moment = "answered"
        self._writes = False
        self.seen = 0
        self.writes = 0
        self.fired: Fired | None = None

    def arm(self, at: int | None, moment: str, writes: bool = False) -> None:
        """Count from zero; kill at request ``at`` (None: never), as it ``arrived`` or once ``answered``.

        With ``writes``, ``at`` counts only the requests that change something.
        """
        with self._lock:
            self._attached.clear()
            self._proc, self._at, self._moment, self._writes = None, at, moment, writes
            self.seen, self.writes, self.fired = 0, 0, None

    def attach(self, proc: subprocess.Popen[str]) -> None:
        """The process the count is about (set as soon as it is started)."""
        self._proc = proc
        self._attached.set()

    def disarm(self) -> None:
        """Stop killing (the attempt is over)."""
        with self._lock:
            self._at = None

    def __call__(self, moment: str, request: Request) -> bool | None:
        if not request.headers.get("user-agent", "").startswith("octowiz/"):
            return None
        with self._lock:
            if moment == "arrived":
                self.seen += 1
                request.scope["chaos.n"] = self.seen
                if request.method not in ("GET", "HEAD"):
                    self.writes += 1
                    request.scope["chaos.w"] = self.writes
            n = int(request.scope.get("chaos.w" if self._writes else "chaos.n", 0))
            if self._at is None or n != self._at or moment != self._moment or self.fired is not None:
                return None
            self.fired = Fired(n, moment, request.method, request.url.path)
            self._kill()
        # Arrived: the request is dropped unhandled. Answered: the answer goes to a dead process.
        return False

    def _kill(self) -> None:
        """SIGKILL the attempt, and return only once it is gone, so it can never read this answer."""
        self._attached.wait(30)
        proc = self._proc
        assert proc is not None, "a request arrived before the attempt was attached"
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):  # already reaped by the harness's wait
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)


# ---------------------------------------------------------------------------------------------------------
# The lab and one attempt
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One run of one command."""

    phase: str
    command: str
    kill: Kill | None
    at: int | None  # the request number a request kill aimed at
    returncode: int
    requests: int  # octowiz's requests the simulator saw in this attempt
    writes: int  # of which changed something
    fired: Fired | None
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        """The process died of SIGKILL (a named point, or the hook)."""
        return self.returncode == -signal.SIGKILL


@dataclass
class Lab:
    """A served simulator with the chaos wave planned in a journal, and the killer on both instances."""

    sim: Simulator
    ends: dict[str, Endpoint]
    home: Path
    wave: list[str]
    killer: Killer

    @property
    def journal_path(self) -> Path:
        return self.home / "state" / "migrations" / f"{NAME}.octowiz.sqlite3"

    @contextlib.contextmanager
    def journal(self) -> Iterator[Journal]:
        with Journal.open(self.journal_path, lock=False) as journal:
            yield journal

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of an octowiz run: keys and the export password there, never in argv."""
        return {
            **os.environ,
            "OCTOWIZ_HOME": str(self.home),
            "OCTOWIZ_SOURCE_API_KEY": SERVER_ADMIN.api_key,
            "OCTOWIZ_DESTINATION_API_KEY": CLOUD_MANAGER.api_key,
            "OCTOWIZ_EXPORT_PASSWORD": PASSWORD,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "PYTHONPATH": str(ROOT),
            **extra,
        }

    def run(self, phase: str, command: Command, kill: Kill | None, at: int | None) -> Attempt:
        """One attempt of ``command``, killed as ``kill`` says (at request ``at`` for a request kill)."""
        extra = {"OCTOWIZ_TEST_CRASH_AT": kill.point} if kill is not None and kill.point else {}
        self.killer.arm(at, kill.moment if kill is not None else "answered", kill is not None and kill.writes)
        proc = subprocess.Popen(
            [sys.executable, "-m", "octowiz", *command.argv, "--requests-per-minute", "0"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(**extra),
        )
        self.killer.attach(proc)
        try:
            out, err = proc.communicate(timeout=ATTEMPT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += f"\n(chaos: the attempt ran for more than {ATTEMPT_TIMEOUT:.0f} s and was stopped)"
        finally:
            self.killer.disarm()
        k = self.killer
        return Attempt(phase, command.label, kill, at, proc.returncode, k.seen, k.writes, k.fired, out, err)


@contextlib.contextmanager
def lab(home: Path) -> Iterator[Lab]:
    """A fresh chaos world served on loopback, its wave planned in a new journal at ``home``."""
    sim, wave = chaos_sim()
    killer = Killer()
    for instance in sim.instances.values():
        instance.on_request = killer
    try:
        with sim.serve() as ends:
            # The console's clones poll Cloud at the address octowiz knows it by: tell the simulated
            # network that this loopback address is Cloud's (only Cloud listens for polling Tentacles).
            sim.hosts.addresses[str(urlsplit(ends["cloud"].url).hostname)] = "cloud"
            with Journal.create(
                home / "state" / "migrations" / f"{NAME}.octowiz.sqlite3",
                {
                    "name": NAME,
                    "source_url": ends["server"].url,
                    "destination_url": ends["cloud"].url,
                    "source_space": "Spaces-1",
                    "destination_space": "Spaces-1",
                },
            ) as journal:
                journal.set_step("connect", "done")
                journal.set_wave(WAVE_NAME, wave)
            yield Lab(sim, ends, home, wave, killer)
    finally:
        sim.close()


def by_hand_before_targets(lb: Lab) -> None:
    """What the team does on Cloud between the migration and the targets: the SSH key pair entered there.

    The API cannot copy an account's secret, so the SSH target is recreated only once its account exists
    on Cloud with the key (the targets step says so otherwise).
    """
    response = httpx.post(
        f"{lb.ends['cloud'].url}/api/Spaces-1/accounts",
        headers={"X-Octopus-ApiKey": CLOUD_MANAGER.api_key},
        json={
            "Name": "Linux SSH Key",
            "AccountType": "SshKeyPair",
            "Username": "octopus",
            "PrivateKeyFile": {"HasValue": True},
        },
    )
    response.raise_for_status()


# ---------------------------------------------------------------------------------------------------------
# Phases and trials
# ---------------------------------------------------------------------------------------------------------


class PhaseFailed(Exception):
    """A command ended with an exit code it should not have (or never ended); the sentence says which."""


def run_phase(
    lb: Lab,
    phase: str,
    kills: list[Kill],
    counts: dict[str, list[int]] | None = None,
    attempts: list[Attempt] | None = None,
) -> list[Attempt]:
    """Run a phase's commands, killing attempts as ``kills`` say, each command until it is done.

    Args:
        counts: request counts of each command's attempts in an uninterrupted run (by label; writes
            under ``<label> writes``), which request kills draw their request number from; None for the
            uninterrupted run itself.

        attempts: where each attempt is appended as it ends (also when the phase then fails).

    Raises:
        PhaseFailed: a command exited with an unexpected code, or needed more than MAX_ATTEMPTS runs.
    """
    attempts = attempts if attempts is not None else []
    for index, command in enumerate(PHASES[phase]):
        queue = [k for k in kills if k.phase == phase and k.command == index]
        for _ in range(MAX_ATTEMPTS):
            kill = queue.pop(0) if queue else None
            at = None
            if kill is not None and kill.point is None:
                # The uninterrupted run's attempt this one stands for: a command run more than once (the
                # targets step: canary, then the rest) is measured per run that ended.
                ended = sum(1 for a in attempts if a.command == command.label and not a.killed)
                runs = (counts or {}).get(f"{command.label} writes" if kill.writes else command.label) or [1]
                reference = runs[min(ended, len(runs) - 1)]
                at = max(1, math.ceil(kill.share * reference))
            attempt = lb.run(phase, command, kill, at)
            attempts.append(attempt)
            if attempt.killed and kill is not None:
                continue
            if attempt.returncode in command.done:
                break
            if attempt.returncode not in command.again:
                raise PhaseFailed(
                    f"octowiz {command.label} exited {attempt.returncode} after "
                    f"{sum(a.killed for a in attempts)} kill(s) in {phase}:\n{attempt.stdout[-3000:]}\n"
                    f"{attempt.stderr[-3000:]}"
                )
        else:
            raise PhaseFailed(f"octowiz {command.label} did not finish in {MAX_ATTEMPTS} runs.")
    return attempts


def run_wave(
    lb: Lab,
    kills: list[Kill],
    counts: dict[str, list[int]] | None = None,
    attempts: list[Attempt] | None = None,
) -> list[Attempt]:
    """The three phases in order (with what the team does by hand between them); see :func:`run_phase`."""
    attempts = attempts if attempts is not None else []
    for phase in PHASES:
        run_phase(lb, phase, kills, counts, attempts)
        if phase == "migrate":
            by_hand_before_targets(lb)
    return attempts


# ---------------------------------------------------------------------------------------------------------
# What must be equal, and what must hold
# ---------------------------------------------------------------------------------------------------------

#: Collections whose size differs between runs by design: a rerun follows or repeats read-only work
#: (an export is simply sent again, a health check runs again), and the audit trail records it all.
BY_DESIGN = frozenset({"tasks", "events", "artifacts"})
#: Cloud task kinds that may run more than once (a health check is read-only and repeated on a rerun).
REPEATABLE_TASKS = frozenset({"Health"})


def _names(store: Any, coll: str) -> dict[str, str]:
    return {str(d["Id"]): str(d.get("Name")) for d in store.all(coll)}


def final_state(lb: Lab) -> dict[str, Any]:
    """What a person would compare after the wave, by names: Cloud, the Server and the Tentacle hosts."""
    cloud, server = lb.sim.cloud.store, lb.sim.server.store
    envs, pools, projects = (
        _names(cloud, "environments"),
        _names(cloud, "workerpools"),
        _names(cloud, "projects"),
    )
    policies = _names(cloud, "machinepolicies")

    def style(doc: dict[str, Any]) -> str:
        return str((doc.get("Endpoint") or {}).get("CommunicationStyle"))

    hosts = lb.sim.hosts.all_hosts()
    return {
        "projects": sorted(projects.values()),
        "machines": sorted(
            (
                d["Name"],
                tuple(sorted(d.get("Roles") or [])),
                tuple(sorted(envs.get(e, e) for e in d.get("EnvironmentIds") or [])),
                style(d),
                bool(d.get("IsDisabled")),
                str(d.get("HealthStatus")),
                policies.get(str(d.get("MachinePolicyId")), ""),
            )
            for d in cloud.all("machines")
        ),
        "workers": sorted(
            (
                d["Name"],
                tuple(sorted(pools.get(p, p) for p in d.get("WorkerPoolIds") or [])),
                style(d),
                bool(d.get("IsDisabled")),
                str(d.get("HealthStatus")),
            )
            for d in cloud.all("workers")
        ),
        "triggers": sorted(
            (projects.get(t["ProjectId"], "?"), t["Name"], bool(t.get("IsDisabled")))
            for t in cloud.all("projecttriggers")
        ),
        "packages": sorted((p["PackageId"], p["Version"], p["Hash"]) for p in cloud.all("packages")),
        "logos": sorted(
            (name, hashlib.sha256(blob.read()).hexdigest())
            for pid, name in projects.items()
            if (blob := cloud.blob_open(f"logo/{pid}")) is not None
        ),
        "accounts": sorted(_names(cloud, "accounts").values()),
        "machine policies": sorted(policies.values()),
        "test deployments": sorted(
            (projects.get(d["ProjectId"], "?"), envs.get(d["EnvironmentId"], "?"))
            for d in cloud.all("deployments")
            if d.get("Comments")
        ),
        "cloud tasks": sorted(
            Counter(str(t["Name"]) for t in cloud.all("tasks") if t["Name"] not in REPEATABLE_TASKS).items()
        ),
        "cloud counts": {c: cloud.count(c) for c in sorted(cloud.versions) if c not in BY_DESIGN},
        "server disabled": sorted(str(p["Name"]) for p in server.all("projects") if p.get("IsDisabled")),
        "server scripts": sorted(
            Counter(
                str(t.get("Description")) for t in server.all("tasks") if t["Name"] == "AdHocScript"
            ).items()
        ),
        "server counts": {c: server.count(c) for c in sorted(server.versions) if c not in BY_DESIGN},
        "instances": {h["Name"]: sorted(str(i["Name"]) for i in h.get("Instances") or []) for h in hosts},
    }


def _status(lb: Lab) -> dict[str, Any]:
    """``octowiz status --journal-only --format json``, as a script reads it."""
    out = subprocess.run(
        [sys.executable, "-m", "octowiz", "status", NAME, "--journal-only", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=lb.env(),
    )
    if out.returncode != 0:
        raise PhaseFailed(f"octowiz status exited {out.returncode}: {out.stderr}")
    return dict(json.loads(out.stdout))


#: Action kinds that create something; each target must end with one result at most.
_CREATIONS = {
    "register": "cloud_id",
    "recreate": "cloud_id",
    "create-machine-policy": "policy_id",
    "upload": "id",
}


def journal_view(lb: Lab) -> dict[str, Any]:
    """The journal's end state that must equal the uninterrupted run's: items, steps, waves (by status)."""
    with lb.journal() as journal:
        items = sorted(
            (kind, item, stage, status) for kind, item, stage, status, _ in journal.items() if kind != "batch"
        )
    status = _status(lb)
    return {
        "items": items,
        "steps": {s["id"]: s["status"] for s in status["steps"]},
        "waves": status["waves"],
    }


def journal_problems(lb: Lab) -> list[str]:
    """What is inconsistent in the journal after the wave: each problem as a sentence (none: consistent)."""
    problems: list[str] = []
    cloud = lb.sim.cloud.store
    with lb.journal() as journal:
        actions = journal.actions()
        batches = journal.items("batch")
        id_map = journal.id_map()
    for a in actions:
        if a.pending:
            problems.append(f"action #{a.id} {a.step}/{a.kind} {a.target} has no outcome")
    for _, batch, _, status, _ in batches:
        if status not in ("done", "closed"):
            problems.append(f"batch {batch} is left {status}")
    results: dict[tuple[str, str], set[str]] = {}
    for a in actions:
        key = _CREATIONS.get(a.kind)
        value = (a.detail or {}).get(key) if key else None
        if value:
            results.setdefault((a.kind, a.target), set()).add(str(value))
        if a.kind in ("import", "run-script", co.KIND_TEST) and a.task_id:
            results.setdefault((a.kind, a.target), set()).add(str(a.task_id))
    for (kind, target), values in sorted(results.items()):
        if len(values) > 1:
            problems.append(f"{kind} {target} was done {len(values)} times: {', '.join(sorted(values))}")
    collections = {"project": "projects", "machine": "machines", "worker": "workers"}
    for source_id, destination_id in id_map.items():
        found = any(cloud.get(c, destination_id) is not None for c in collections.values())
        if destination_id.split("-")[0].lower() in ("projects", "machines", "workers") and not found:
            problems.append(f"the id map sends {source_id} to {destination_id}, which is not on Cloud")
    shown = _status(lb)
    pending = [a for a in shown["actions"] if a["outcome"] == "pending"]
    if pending:
        problems.append(f"octowiz status shows {len(pending)} pending action(s)")
    return problems


# ---------------------------------------------------------------------------------------------------------
# Reference and trials
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Reference:
    """An uninterrupted run: what it leaves, and the request counts kills are drawn within."""

    state: dict[str, Any]
    journal: dict[str, Any]
    counts: dict[str, list[int]]
    attempts: list[Attempt]


def reference(home: Path) -> Reference:
    """Run the wave once without kills."""
    with lab(home) as lb:
        attempts = run_wave(lb, [])
        counts: dict[str, list[int]] = {}
        for a in attempts:
            counts.setdefault(a.command, []).append(a.requests)
            counts.setdefault(f"{a.command} writes", []).append(a.writes)
        problems = journal_problems(lb)
        if problems:
            raise PhaseFailed("The uninterrupted run's journal is inconsistent: " + "; ".join(problems))
        return Reference(final_state(lb), journal_view(lb), counts, attempts)


@dataclass
class Trial:
    """One seed's wave with its kills: the attempts, and how the end compares."""

    seed: int
    kills: list[Kill]
    attempts: list[Attempt] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    failure: str = ""

    @property
    def equal(self) -> bool:
        """The end state equals the uninterrupted run's and the journal is consistent."""
        return not (self.differences or self.problems or self.failure)

    @property
    def fired(self) -> int:
        """How many attempts were killed."""
        return sum(a.killed for a in self.attempts)


def differences(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Each top-level key whose value differs, with what is missing and what is extra where it can say."""
    out = []
    for key in sorted(set(expected) | set(got)):
        want, have = expected.get(key), got.get(key)
        if want == have:
            continue
        if isinstance(want, list) and isinstance(have, list):
            missing = [x for x in want if x not in have]
            extra = [x for x in have if x not in want]
            out.append(f"{key}: missing {missing[:5]}, extra {extra[:5]}")
        elif isinstance(want, dict) and isinstance(have, dict):
            changed = {
                k: (want.get(k), have.get(k)) for k in set(want) | set(have) if want.get(k) != have.get(k)
            }
            out.append(f"{key}: {dict(list(changed.items())[:5])} (expected, got)")
        else:
            out.append(f"{key}: expected {want!r}, got {have!r}")
    return out


def trial(
    home: Path, seed: int, per_phase: dict[str, int], ref: Reference, named_share: float = 0.3
) -> Trial:
    """One seed's wave, killed as :func:`schedule` draws, compared with ``ref``."""
    kills = schedule(seed, per_phase, named_share)
    result = Trial(seed, kills)
    with lab(home) as lb:
        try:
            run_wave(lb, kills, ref.counts, result.attempts)
        except PhaseFailed as exc:
            result.failure = str(exc)
            return result
        result.differences = differences(ref.state, final_state(lb))
        result.differences += differences(ref.journal, journal_view(lb))
        result.problems = journal_problems(lb)
    return result


def spread(kills: int) -> dict[str, int]:
    """``kills`` kills spread over the three phases as evenly as they go (migrate first)."""
    phases = list(PHASES)
    return {p: kills // len(phases) + (1 if i < kills % len(phases) else 0) for i, p in enumerate(phases)}


def campaign(
    home: Path,
    kills: int,
    *,
    first_seed: int = 1,
    per_trial: int = 6,
    ref: Reference | None = None,
    on_trial: Any = None,
) -> tuple[Reference, list[Trial]]:
    """Trials of seeds ``first_seed``, ``first_seed + 1``... until at least ``kills`` attempts were killed.

    Each trial schedules ``per_trial`` kills spread over the phases (a kill drawn past the end of the
    attempt it aims at does not happen: the attempt simply completes). Stops early at a trial that fails.
    """
    ref = ref or reference(home / "reference")
    trials: list[Trial] = []
    seed = first_seed
    while sum(t.fired for t in trials) < kills:
        t = trial(home / f"seed-{seed}", seed, spread(per_trial), ref)
        trials.append(t)
        if on_trial is not None:
            on_trial(t)
        if not t.equal:
            break
        seed += 1
    return ref, trials


@dataclass(frozen=True)
class Row:
    """One kill, as the benchmark's table shows it."""

    seed: int
    phase: str
    command: str
    point: str
    requests: int
    rerun: str
    equal: bool


def rows(t: Trial) -> list[Row]:
    """One row per killed attempt of a trial, with what the next attempt of its command did."""
    out = []
    for i, a in enumerate(t.attempts):
        if not a.killed:
            continue
        following = next((b for b in t.attempts[i + 1 :] if b.command == a.command), None)
        if following is None:
            rerun = "not run: " + (t.failure.splitlines()[0] if t.failure else "?")
        elif following.killed:
            rerun = "killed again"
        else:
            command = next(c for c in PHASES[a.phase] if c.label == a.command)
            verdict = (
                "done"
                if following.returncode in command.done
                else "run again"
                if following.returncode in command.again
                else "FAILED"
            )
            rerun = f"exit {following.returncode} ({verdict})"
        point = a.kill.describe(a.fired.n if a.fired else a.at) if a.kill else "?"
        if a.fired is not None:
            point += f" {a.fired.method} {a.fired.path.removeprefix('/api')}"
        out.append(Row(t.seed, a.phase, a.command, point, a.requests, rerun, t.equal))
    return out
