"""No API key and no export password anywhere after a whole migration run from octowiz's command line.

One simulator (Server and Cloud) is served over loopback in this process; octowiz runs as real
subprocesses through every phase with fresh random keys and passwords in its environment only: new
(once with a mistyped key), scan, plan, migrate (a 500 on the export, a mistyped password, a SIGKILL
mid-run), targets (clone scripts written to files, clones through the Server's script console, the other
targets recreated, health checks), cutover (test deployments, disable), retire (maintenance mode and task
caps, delete scripts written and one run by hand, the other old instances deleted through Cloud's
console) and status in every format. Then the wizard, driven by Pilot over the same loopback: a wrong key
and the right ones typed on Connect, each screen saved as an SVG, the finished migration reviewed and its
report exported. Then the tracebacks a crash on a failing request would print (plain, and with every
frame's locals as Textual prints a crash).

Then everything is searched (``tests/secrets/scan.py``) for every secret in every shape it could take
(plain, URL-encoded, JSON-escaped, repr, UTF-16, base64 of UTF-8 and of UTF-16LE as PowerShell's
``-EncodedCommand`` takes it, hex, cut-down fragments):

* every file under OCTOWIZ_HOME (journals with their -wal and -shm as each command left them, lock files,
  downloads, config, logs), the HOME and TMPDIR the subprocesses were given, and every file a command was
  asked to write elsewhere (clone and delete scripts, screenshots), raw bytes and file names, after each
  command;
* each command's argv, stdout and stderr (one run with every logger at DEBUG);
* every request both simulated instances logged (method, path and query);
* every script, environment and Tentacle command line the simulated hosts ran (the console's scripts and
  the one run by hand);
* both instances' stores: every document including its simulator-private fields (they hold the task logs
  Octopus serves too, and the ad-hoc scripts' arguments), and every blob (export archives, packages,
  logos, artifacts).

The scan can fail: at the end the secrets are planted in the scanned tree in the shapes they would take,
and the same scan must find each of them.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import secrets
import signal
import string
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from octowiz.sim import tentacles
from octowiz.sim.factory import api_key_hash
from octowiz.sim.instance import ScriptedFault
from octowiz.sim.simulator import Endpoint, Simulator
from tests.engine.test_migrate import WAVE, fast_sim
from tests.engine.test_retire import ready_lab
from tests.secrets.scan import Scanner, Secret, walk

NAME, WAVE_NAME = "t", "wave 1"
OVERRIDE = "the wave's owners accept it"
#: The SSH target's host, which the lab's Cloud is allowed to reach (it is on a private address).
SSH_HOST = "10.0.5.10"


def new_key() -> str:
    """A fresh API key in Octopus's shape, unlike any in the repository."""
    return "API-" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(27))


def new_password() -> str:
    """A fresh password with characters that URL-encoding, JSON and repr each write differently."""
    return f'ex "port"/pass\\wörd +&%{secrets.token_hex(6)}'


@dataclass(repr=False)  # no repr: a secret must not reach a failure message through this object
class Keys:
    """Every secret of the run, fresh each time."""

    source: str = field(default_factory=new_key)
    destination: str = field(default_factory=new_key)
    wrong: str = field(default_factory=new_key)  # typed by mistake: still a secret (it may be another's)
    password: str = field(default_factory=new_password)
    wrong_password: str = field(default_factory=new_password)

    def secrets(self) -> list[Secret]:
        return [
            Secret("the source API key", self.source),
            Secret("the destination API key", self.destination),
            Secret("a mistyped API key", self.wrong),
            Secret("the export password", self.password),
            Secret("a mistyped export password", self.wrong_password),
        ]


@dataclass
class HostRun:
    """Something a simulated host ran: a script, an environment variable it was given, a Tentacle argv."""

    host: str
    what: str
    text: str


@dataclass
class Lab:
    """The served simulator, the directories octowiz may write to, and what the scan has seen so far."""

    sim: Simulator
    ends: dict[str, Endpoint]
    tmp: Path
    keys: Keys
    scanner: Scanner
    host_runs: list[HostRun]
    #: path -> (mtime, size) when last scanned: a file is scanned again each time it changes.
    seen: dict[Path, tuple[int, int]] = field(default_factory=dict)
    wal_bytes: int = 0

    @property
    def home(self) -> Path:
        return self.tmp / "octowiz-home"

    @property
    def out(self) -> Path:
        """Where the commands are asked to write files (scripts, screenshots)."""
        return self.tmp / "out"

    @property
    def roots(self) -> list[Path]:
        """Every directory a run could write to: OCTOWIZ_HOME, HOME, TMPDIR, and the chosen outputs."""
        return [self.home, self.tmp / "user", self.tmp / "tmpdir", self.out]

    def env(self, **extra: str) -> dict[str, str]:
        user = self.tmp / "user"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("OCTOWIZ_", "XDG_"))}
        return {
            **inherited,
            "OCTOWIZ_HOME": str(self.home),
            "OCTOWIZ_SOURCE_API_KEY": self.keys.source,
            "OCTOWIZ_DESTINATION_API_KEY": self.keys.destination,
            "OCTOWIZ_EXPORT_PASSWORD": self.keys.password,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            # Anything written past OCTOWIZ_HOME (caches, temporary files) lands where the scan looks.
            "HOME": str(user),
            "XDG_CONFIG_HOME": str(user / ".config"),
            "XDG_CACHE_HOME": str(user / ".cache"),
            "XDG_STATE_HOME": str(user / ".local" / "state"),
            "XDG_DATA_HOME": str(user / ".local" / "share"),
            "TMPDIR": str(self.tmp / "tmpdir"),
            **extra,
        }

    def _start(self, argv: list[str], **extra: str) -> tuple[str, subprocess.Popen[str]]:
        label = " ".join(argv[2:] if argv[1] == "-m" else ["python", "-c", "…", *argv[3:]])
        self.scanner.text("\0".join(argv), f"the argv of `{label}`", "argv")
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(**extra),
            cwd=self.tmp,
        )
        return label, proc

    def _finish(
        self, label: str, proc: subprocess.Popen[str], code: int | None
    ) -> subprocess.CompletedProcess[str]:
        stdout, stderr = proc.communicate(timeout=120)
        self.scanner.text(stdout, f"the stdout of `{label}`", "stdout")
        self.scanner.text(stderr, f"the stderr of `{label}`", "stderr")
        self.scan_files()
        if code is not None:
            assert proc.returncode == code, f"`{label}` exited {proc.returncode}:\n{stdout}\n{stderr}"
        if proc.returncode != -signal.SIGKILL:
            assert "Traceback" not in stderr, stderr
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)

    def run(self, argv: list[str], code: int | None, **extra: str) -> subprocess.CompletedProcess[str]:
        """Run a command; scan its argv, its output and every file changed since the last command."""
        return self._finish(*self._start(argv, **extra), code)

    def octowiz(self, *args: str, code: int | None = 0, **extra: str) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "octowiz", *args], code, **extra)

    def at_once(self, *commands: tuple[str, ...]) -> None:
        """Run read-only commands side by side (each must exit 0), then scan as :meth:`run` does."""
        started = [self._start([sys.executable, "-m", "octowiz", *args]) for args in commands]
        for label, proc in started:
            self._finish(label, proc, 0)

    def phase(self, command: str, *args: str, code: int | None = 0) -> str:
        """``octowiz COMMAND t --wave 'wave 1' ARGS`` with a fast poll; its stdout."""
        return self.octowiz(
            command, NAME, "--wave", WAVE_NAME, *args, "--poll-seconds", "0.01", code=code
        ).stdout

    def scan_files(self) -> None:
        """Search each file that is new or changed since the last look (journals' -wal/-shm included)."""
        for root in self.roots:
            for path in walk(root):
                if not path.is_file():
                    continue
                st = path.stat()
                stamp = (st.st_mtime_ns, st.st_size)
                if self.seen.get(path) == stamp:
                    continue
                self.seen[path] = stamp
                self.scanner.text(str(path.relative_to(self.tmp)), f"the name {path}", "file name")
                data = path.read_bytes()
                if path.name.endswith("-wal"):
                    self.wal_bytes += len(data)
                self.scanner.bytes(data, str(path), "file version")


def add_keys(sim: Simulator, keys: Keys) -> None:
    """Give the simulated admins the run's fresh keys, as they would create them in the web portal."""
    for inst, key in ((sim.server, keys.source), (sim.cloud, keys.destination)):
        user = inst.store.get("users", "Users-1")
        assert user is not None
        inst.store.put(
            "users", {**user, "_ApiKeyHashes": [*user.get("_ApiKeyHashes", []), api_key_hash(key)]}
        )


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    keys = Keys()
    host_runs: list[HostRun] = []
    # Record every script and Tentacle command line a simulated host runs: the simulator itself keeps
    # only their effects (the hosts' instances) and the task logs.
    run_script, run_tentacle = tentacles.Hosts._run, tentacles.Hosts.tentacle

    def _run(self: tentacles.Hosts, host: Any, text: str, syntax: str, env: Any, stdin: Any) -> Any:
        host_runs.append(HostRun(host["Name"], f"{syntax} script", text))
        host_runs.extend(HostRun(host["Name"], "environment variable", f"{k}={v}") for k, v in env.items())
        return run_script(self, host, text, syntax, env, stdin)

    def tentacle(self: tentacles.Hosts, host: Any, argv: Any, out: Any) -> int:
        host_runs.append(HostRun(host["Name"], "Tentacle command line", "\0".join(argv)))
        return run_tentacle(self, host, argv, out)

    monkeypatch.setattr(tentacles.Hosts, "_run", _run)
    monkeypatch.setattr(tentacles.Hosts, "tentacle", tentacle)
    sim = fast_sim()
    ready_lab(sim)
    sim.hosts.set_reachable(SSH_HOST, True)
    add_keys(sim, keys)
    try:
        with sim.serve() as ends:
            # The clones poll Cloud at the address octowiz knows it by: tell the simulated network that
            # this loopback address is Cloud's (only Cloud listens for polling Tentacles).
            sim.hosts.addresses[str(urlsplit(ends["cloud"].url).hostname)] = "cloud"
            for d in ("octowiz-home", "user", "tmpdir", "out"):
                (tmp_path / d).mkdir()
            yield Lab(sim, ends, tmp_path, keys, Scanner(keys.secrets()), host_runs)
    finally:
        sim.close()


def json_at_end(stdout: str) -> Any:
    """The JSON document that ends a command's output (previews and progress lines come first)."""
    return json.loads(stdout if stdout.startswith("{") else stdout[stdout.index("\n{") + 1 :])


# -- the command line, phase by phase -----------------------------------------------------------------------


def connect_and_scan(lab: Lab) -> None:
    server, cloud = lab.ends["server"].url, lab.ends["cloud"].url
    bad = lab.octowiz("new", "typo", "--source", server, "--destination", cloud, code=1,
                      OCTOWIZ_SOURCE_API_KEY=lab.keys.wrong)  # fmt: skip
    assert "did not accept the API key" in bad.stdout + bad.stderr
    lab.octowiz("new", NAME, "--source", server, "--destination", cloud)
    for fmt in ("markdown", "json"):
        lab.octowiz("scan", NAME, "--format", fmt)
    # The text scan with every logger at DEBUG (the client's and httpx's request lines) on stderr.
    debug = (
        "import logging, sys; logging.basicConfig(level=logging.DEBUG); from octowiz.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    logged = lab.run([sys.executable, "-c", debug, "scan", NAME], 0)
    assert "HTTP Request: GET" in logged.stderr and "octowiz.octopus" in logged.stderr
    lab.octowiz("plan", NAME, "--wave", WAVE_NAME, "--projects", ",".join(WAVE.values()))


def migrate(lab: Lab) -> None:
    wave = ("--wave", WAVE_NAME, "--poll-seconds", "0.01")
    # The Server answers the export request with a 500: said with Octopus's message, then tried again.
    lab.sim.server.scripted.append(ScriptedFault("import-export/export", 500, method="POST"))
    first = lab.octowiz("migrate", NAME, *wave, code=5)  # exported and uploaded, the preview not confirmed
    assert "HTTP 500" in first.stdout and not lab.sim.server.scripted
    # After a restart someone types another password: it cannot open the archive, which is exported
    # afresh on the next run.
    wrong = lab.octowiz(
        "migrate", NAME, *wave, "--yes", code=1, OCTOWIZ_EXPORT_PASSWORD=lab.keys.wrong_password
    )
    assert "password" in wrong.stderr.lower()
    # Killed once the archive is on Cloud: the journal's -wal and -shm are scanned as the kill left them.
    lab.octowiz("migrate", NAME, *wave, "--yes", code=-signal.SIGKILL, OCTOWIZ_TEST_CRASH_AT="after-upload")
    assert lab.wal_bytes > 0, "the kill left no journal WAL to scan"
    done = lab.octowiz("migrate", NAME, *wave, "--yes")
    assert [line for line in done.stdout.splitlines() if line.endswith(": verified")] == [
        f"{name}: verified" for name in WAVE.values()
    ]


def targets(lab: Lab) -> None:
    # The SSH target's key pair, entered on Cloud by hand with its secret (the API cannot copy it).
    httpx.post(
        f"{lab.ends['cloud'].url}/api/Spaces-1/accounts",
        headers={"X-Octopus-ApiKey": lab.keys.destination},
        json={"Name": "Linux SSH Key", "AccountType": "SshKeyPair", "Username": "octopus",
              "PrivateKeyFile": {"HasValue": True}},
    ).raise_for_status()  # fmt: skip
    scripts = lab.out / "clone-scripts"
    lab.phase("targets", "--write-scripts", str(scripts), "--run-offered", "--recreate", code=5)
    assert len(list(scripts.iterdir())) > 1
    canary = lab.phase("targets", "--run-offered", "--health", "--yes", code=3)
    assert ": registered" in canary
    lab.phase("targets", "--run-offered", "--yes", "--format", "markdown", code=3)  # the rest
    done = lab.phase("targets", "--recreate", "--health", "--yes", "--format", "json")
    assert {m["on_cloud"] for m in json_at_end(done)["machines"]} == {"healthy"}
    assert [r for r in lab.host_runs if r.what == "Tentacle command line"]  # the console's scripts ran


def cutover(lab: Lab) -> None:
    tested = lab.phase(
        "cutover", "--done", "Acme Web=url:build-server", "--test", "Acme Web", "--yes", code=3
    )
    assert "test: Acme Web: passed" in tested
    assert "test: Acme Database: passed" in lab.phase("cutover", "--test", "Acme Database", "--yes", code=3)
    lab.phase("cutover", "--disable", "--override", OVERRIDE, "--yes", "--format", "json")


def retire(lab: Lab) -> None:
    def retire(*args: str, code: int | None = 3) -> str:
        return lab.octowiz("retire", NAME, *args, "--poll-seconds", "0.01", code=code).stdout

    scripts = lab.out / "delete-scripts"
    shown = retire("--backup-confirmed", "a full backup exists", "--audit-exported", "--read-only", "--yes",
                   "--write-scripts", str(scripts), "--format", "json")  # fmt: skip
    body = json_at_end(shown)
    assert body["read_only"] and body["maintenance"] and {n["cap"] for n in body["nodes"]} == {0}
    # The canary's delete script, run by hand on it as its administrator would, then recorded.
    canary = body["canary"]
    [script] = [p for p in scripts.iterdir() if canary in p.name]
    ran = lab.sim.hosts.run(canary, script.read_text(encoding="utf-8-sig"),
                            syntax="PowerShell" if script.suffix == ".ps1" else "Bash")  # fmt: skip
    assert ran.code == 0, ran.output
    # The rest through Octopus Cloud's script console, on each host's clone, until the Server is retired.
    args: tuple[str, ...] = ("--deleted-by-hand", canary, "--delete-offered", "--yes", "--format", "json")
    for _ in range(3):
        if json_at_end(retire(*args, code=None))["retired"]:
            break
        args = ("--delete-offered", "--yes", "--format", "json")
    else:
        pytest.fail("the Server was never retired")
    assert [t for t in lab.sim.cloud.store.all("tasks") if t["Name"] == "AdHocScript"]


def status(lab: Lab) -> None:
    lab.at_once(
        *(("status", NAME, "--format", fmt) for fmt in ("text", "markdown", "json")),
        ("status", NAME, "--journal-only", "--format", "markdown"),
    )


# -- what only the wizard writes ---------------------------------------------------------------------------


async def wizard_files(lab: Lab) -> None:
    """The files only the wizard's steps write, by the engine calls those steps make: the users and
    teams CSV (Users & pools) and the probe scripts (Connectivity, whose measurement itself would reach
    past loopback, so the scripts are written for data centres suggested from the Server's machines)."""
    from octowiz.engine.context import Context
    from octowiz.engine.prepare.connectivity import suggest_data_centres, write_probe_scripts
    from octowiz.engine.prepare.people import write_csv
    from octowiz.engine.prepare.scanning import run_people
    from octowiz.journal import Journal
    from octowiz.octopus.client import OctopusClient
    from octowiz.octopus.urls import normalise_base_url
    from octowiz.paths import Paths

    server, cloud = lab.ends["server"].url, lab.ends["cloud"].url
    paths = Paths(state=lab.home / "state", config=lab.home / "config", logs=lab.home / "logs")
    ctx = Context(paths=paths, migrations_dir=paths.migrations, keystore=None)
    ctx.session_keys.update(
        {normalise_base_url(server): lab.keys.source, normalise_base_url(cloud): lab.keys.destination}
    )
    downloads = paths.downloads / NAME
    journal = await asyncio.to_thread(Journal.open, ctx.journal_path(NAME))
    try:
        report, _ = await run_people(ctx, journal)
    finally:
        await asyncio.to_thread(journal.close)
    assert len(await asyncio.to_thread(write_csv, downloads, report)) == 2
    async with OctopusClient(server, lab.keys.source) as source:
        await source.discover()
        machines = [*await source.machines(), *await source.workers()]
    written = write_probe_scripts(downloads / "probe-scripts", cloud, suggest_data_centres(machines))
    assert written
    lab.scan_files()


# -- the wizard ---------------------------------------------------------------------------------------------


async def wizard(lab: Lab) -> None:
    """The wizard over the same loopback: keys on Connect (a wrong one first), screenshots, a report.

    The keyring is an in-memory one (what it holds is the OS keyring's business, not a file of ours).
    The source key is typed key by key as a person types it; the other fields are filled in directly,
    which leaves the same state and saves seconds.
    """
    from textual.widgets import Checkbox, DataTable, Input

    from octowiz.engine.context import Context
    from octowiz.paths import Paths
    from octowiz.secrets import KeyStore
    from octowiz.tui.app import make_app
    from octowiz.tui.screenshots import until
    from tests.tui.tuikit import MemoryKeyring, settle

    paths = Paths(state=lab.home / "state", config=lab.home / "config", logs=lab.home / "logs")
    keyring = MemoryKeyring()
    ctx = Context(paths=paths, migrations_dir=paths.migrations, keystore=KeyStore(paths.config, keyring))
    shots = lab.out / "screenshots"
    shots.mkdir()
    app = make_app(ctx)
    app.animation_level = "none"

    def save(name: str) -> None:
        for inp in app.screen.query(Input):
            inp.cursor_blink = False
        app.save_screenshot(f"{name}.svg", str(shots))

    def fill(selector: str, value: str) -> None:
        app.screen.query_one(selector, Input).value = value

    async with app.run_test(size=(130, 44)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("w", "enter")
        await settle(pilot)
        fill("#source-url", lab.ends["server"].url)
        fill("#source-key", lab.keys.wrong)
        fill("#destination-url", lab.ends["cloud"].url)
        fill("#destination-key", lab.keys.destination)
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert "did not accept the API key" in str(app.screen.query_one("#source-result").render())
        save("connect-wrong-key")
        fill("#source-key", "")
        app.screen.query_one("#source-key", Input).focus()
        await pilot.press(*lab.keys.source)
        assert app.screen.query_one("#source-key", Input).value == lab.keys.source
        assert app.screen.query_one("#remember", Checkbox).value  # a usable keyring: remembered there
        save("connect-keys-typed")
        await pilot.press("ctrl+t")
        await settle(pilot)
        save("connect-checked")
        await pilot.press("ctrl+n")
        await settle(pilot)
        save("differences")
        assert set(keyring.secrets.values()) == {lab.keys.source, lab.keys.destination}
        # Back to the welcome screen; the finished migration reviewed and its report exported.
        await app.screen.run_action("back")
        await settle(pilot)
        welcome: Any = app.screen
        welcome.query_one(DataTable).move_cursor(row=[m.name for m in welcome.migrations].index(NAME))
        await pilot.press("v")
        await settle(pilot)
        await pilot.press("ctrl+e")
        reports = lab.home / "state" / "downloads" / NAME
        await until(pilot, lambda: len(list(reports.glob(f"{NAME}-report-*"))) == 2, 30)
        await settle(pilot)
        save("overview-exported")
    assert len(list(shots.glob("*.svg"))) == 5
    lab.scan_files()


# -- tracebacks ---------------------------------------------------------------------------------------------


def tracebacks(lab: Lab) -> None:
    """What a crash on a failing request would print: a plain traceback, and Textual's with every local."""
    from rich.console import Console
    from rich.traceback import Traceback

    from octowiz.octopus.client import OctopusClient

    url = lab.ends["server"].url
    cases = [
        ("a dropped connection", "source", ScriptedFault("/projects", 0, count=2)),
        ("a 500", "source", ScriptedFault("/projects", 500, count=2)),
        ("a wrong key", "wrong", None),
    ]
    for what, which, fault in cases:
        lab.sim.server.scripted[:] = [fault] if fault else []

        async def fail(which: str = which, what: str = what) -> BaseException:
            # The key is read from the lab here, never held in a local of a frame the traceback shows.
            async with OctopusClient(url, getattr(lab.keys, which), max_attempts=1) as client:
                try:
                    await client.discover()
                    await client.request("GET", client.space_path("projects"))
                except Exception as exc:
                    return exc
            raise AssertionError(f"{what}: the request did not fail")

        error = asyncio.run(fail())
        assert error.__traceback__ is not None
        inner = error.__traceback__.tb_next or error.__traceback__  # from the client down, not this test
        plain = "".join(traceback.format_exception(type(error), error, inner))
        buf = io.StringIO()
        # As Textual's App._fatal_error renders a crash (show_locals=True, locals_max_length=5).
        Console(file=buf, width=200).print(
            Traceback.from_exception(type(error), error, inner, show_locals=True, locals_max_length=5)
        )
        assert "locals" in buf.getvalue()
        lab.scanner.text(plain, f"the traceback of {what}", "traceback")
        lab.scanner.text(buf.getvalue(), f"the traceback with locals of {what}", "traceback")
    lab.sim.server.scripted.clear()


# -- what the simulator saw ---------------------------------------------------------------------------------


def scan_simulator(lab: Lab) -> None:
    """Requests (method, path, query), what the hosts ran, and both stores: documents and blobs."""
    for inst in (lab.sim.server, lab.sim.cloud):
        flavour = inst.config.flavour
        for r in inst.requests:
            lab.scanner.text(f"{r.method} {r.path}", f"a request to the {flavour}", "request")
        store = inst.store
        for coll in sorted(store.versions):  # every collection written since the store was made
            for doc in store.all(coll):
                # Whole, simulator-private fields included: they hold the task logs Octopus serves too.
                lab.scanner.document(doc, f"the {flavour}'s {coll}/{doc.get('Id')}", "stored document")
        blobs: dict[str, bytes] = store._blobs  # the in-memory store's blobs (it has no public listing)
        for key, data in blobs.items():
            lab.scanner.bytes(data, f"the {flavour}'s blob {key}", "stored blob")
    for run in lab.host_runs:
        lab.scanner.text(run.text, f"a {run.what} on {run.host}", "host run")


def planted(lab: Lab) -> None:
    """The scan finds the secrets once they are in the tree: plain, in a URL, in JSON, PowerShell-encoded."""
    keys = lab.keys
    script = f"& Tentacle.exe register-with --apiKey '{keys.destination}'"
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    plants = {
        "logs/octowiz.log": f"GET /api?apikey={keys.source} 200\n",
        "state/migrations/t.octowiz.sqlite3-wal": json.dumps({"password": keys.password}),
        "state/downloads/run.ps1": f"powershell -EncodedCommand {encoded}\n",
        "config/x": f"https://example.com/?p={quote(keys.wrong_password)}",
    }
    for rel, text in plants.items():
        path = lab.home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as f:
            f.write(text.encode("utf-16-le" if rel.endswith(".log") else "utf-8"))
    lab.scan_files()
    found = {(leak.secret, Path(leak.where).name) for leak in lab.scanner.leaks}
    assert found == {
        ("the source API key", "octowiz.log"),  # UTF-16
        ("the export password", "t.octowiz.sqlite3-wal"),  # JSON-escaped
        ("the destination API key", "run.ps1"),  # base64 of UTF-16LE
        ("a mistyped export password", "x"),  # URL-encoded
    }, "\n".join(map(str, lab.scanner.leaks))


def test_no_secret_anywhere_after_a_whole_migration(lab: Lab) -> None:
    connect_and_scan(lab)
    migrate(lab)
    targets(lab)
    cutover(lab)
    retire(lab)
    status(lab)
    asyncio.run(wizard_files(lab))
    asyncio.run(wizard(lab))
    tracebacks(lab)
    scan_simulator(lab)
    scanned = lab.scanner.scanned
    assert scanned["stdout"] >= 20 and scanned["request"] > 1000 and scanned["host run"] > 50, scanned
    assert {p.name for p in lab.seen} >= {"t.octowiz.sqlite3", "t.octowiz.sqlite3-wal", "stored-keys.json"}
    lab.scanner.assert_clean()
    planted(lab)


def test_the_scanner_finds_every_shape_of_a_secret_and_nothing_else() -> None:
    import gzip
    import hashlib
    import zipfile
    from urllib.parse import quote_plus

    keys = Keys()
    key, password = keys.source, keys.password

    def shapes_found(data: bytes) -> set[str]:
        return {x.secret for x in Scanner(keys.secrets()).bytes(data, "here")}

    script = f"$p = '{password}'; Tentacle.exe register-with --apiKey '{key}'"
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Projects-1.json", json.dumps({"Password": password}) * 20)
    found = [
        key.encode(),
        key.lower().encode(),
        key[4:].encode(),  # without its prefix
        key[:-6].encode(),  # cut short (by less than a quarter)
        key.encode("utf-16-le"),
        key.encode("utf-16-be"),
        key.encode().hex().encode(),
        quote(password, safe="").encode(),
        quote_plus(password).encode(),
        json.dumps({"p": password}).encode(),
        repr(password).encode(),
        zipped.getvalue(),
        gzip.compress(script.encode()),
    ]
    # Base64 of a longer text, the secret at each of the three byte alignments; PowerShell's form.
    found += [base64.b64encode(("x" * n + script).encode()) for n in range(3)]
    found += [base64.urlsafe_b64encode(("x" * n + script).encode()) for n in range(3)]
    found += [b"powershell -EncodedCommand " + base64.b64encode(script.encode("utf-16-le"))]
    for n, data in enumerate(found):
        assert shapes_found(data) & {"the source API key", "the export password"}, n
    # Not the secret: a digest, a masked key, another key, base64 of something else.
    for data in (
        hashlib.sha256(key.encode()).hexdigest().encode(),
        f"{key[:8]}…".encode(),
        new_key().encode(),
        base64.b64encode(b"x" * len(key)),
    ):
        assert not shapes_found(data), data
    with pytest.raises(ValueError, match="too short"):
        Scanner([Secret("a short one", "abc")])
