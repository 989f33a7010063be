"""The bad input catalogue: the mistakes a person can make with octowiz, each made for real.

A :class:`Case` names one bad input and performs it: ``octowiz`` as a real subprocess against the
simulator served over loopback (on a pseudo-terminal when the case is about a prompt), the wizard driven
with Textual's Pilot, a full disk and a read-only directory made real with a tmpfs and a read-only bind
mount in a private mount namespace. It returns what the person saw (the output or the screen's text, and
the exit code) and what was checked afterwards: the journal still opens with its lock free and nothing it
held lost, no change half-sent to either instance, no half-written file, no key stored.
``test_reliability_catalogue.py`` runs every case; ``python -m tests.reliability --write`` regenerates
``docs/RELIABILITY.md`` from running them, and the test fails when the committed document differs from
what the cases produce.

One :class:`Lab` holds what a run shares: per worker thread, the demo simulator served on loopback with
wave 1 migrated in-process and the journal kept as a template each case copies; the wizard's Connect,
Welcome and Migrate cases each share one app run, since every Pilot start costs more than a case.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hashlib
import http.server
import os
import re
import select
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from octowiz.engine.context import Context
from octowiz.engine.migrate import run as migrate
from octowiz.engine.retire import retire as rt
from octowiz.journal import Journal, JournalError
from octowiz.paths import Paths
from octowiz.secrets import KeyStore
from octowiz.sim.config import InstanceConfig
from octowiz.sim.instance import SimInstance
from octowiz.sim.keys import CLOUD_MANAGER, CLOUD_READER, SERVER_ADMIN, SERVER_READER
from octowiz.sim.simulator import Endpoint, Simulator
from tests.engine.test_migrate import WAVE, context_for, fast_sim
from tests.reliability.keyring_file import FILE_VARIABLE, stored

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "RELIABILITY.md"
NAME = "t"  # every case's migration
PASSWORD = "an export password only the environment knows"
OTHER_PASSWORD = "a different export password"
TYPED = "typed-at-the-prompt"
WRONG_KEY = "API-FAKEWRONGKEY0000000000000"
#: Nothing a person sees may hold one of these.
SECRETS = (
    SERVER_ADMIN.api_key,
    SERVER_READER.api_key,
    CLOUD_MANAGER.api_key,
    CLOUD_READER.api_key,
    WRONG_KEY,
    PASSWORD,
    OTHER_PASSWORD,
    TYPED,
)
#: Waves of the lab's journal: wave 1 is migrated; each later one belongs to the cases that run it,
#: so an archive one case damages or a project one case imports never meets another case.
WAVES = {
    "wave 2": ["Projects-7"],  # Intranet CMS: the import preview's prompt
    "wave 3": ["Projects-8"],  # Storefront: another password after a restart
    "wave 4": ["Projects-10"],  # Mobile Backend: a damaged upload
    "wave 5": ["Projects-13"],  # Data Warehouse Loader: a full disk, then the rerun
}
NAMES = {
    "Projects-7": "Intranet CMS",
    "Projects-8": "Storefront",
    "Projects-10": "Mobile Backend",
    "Projects-13": "Data Warehouse Loader",
}
OVERRIDE = "the wave's owners accept it"
CTRL_C, CTRL_D = b"\x03", b"\x04"
STOPPED = 130  # the exit code after Ctrl+C

# -- what a case is and what it saw ------------------------------------------------------------------


@dataclass
class Seen:
    """What the person saw, and what the check afterwards found.

    Attributes:
        output: everything printed (or the screen's text), with ``\\r\\n`` as ``\\n``.
        code: the exit code; None for the wizard.
        home: the ``OCTOWIZ_HOME`` the case ran in (written ``$OCTOWIZ_HOME`` in the document).
        checked: what was verified afterwards, in words.
        lost: what was found lost or half-done (nothing, when all is well).
    """

    output: str
    code: int | None
    home: Path | None = None
    checked: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def check(self, ok: bool, verified: str, otherwise: str) -> None:
        """Record one check: what it verified, or what it found wrong."""
        if ok:
            self.checked.append(verified)
        else:
            self.lost.append(otherwise)


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes:
        id: stable, for ``-k`` and the document's first column.
        area: URLs, keys, versions, journals, disk, export password, archive, error bodies, Ctrl+C, EOF.
        bad: the bad input, in a few words.
        says: a fragment of the sentence the person must see (the document shows the whole line).
        code: the exit code; None for a wizard case.
        where: the command, or where in the wizard.
        run: performs the case for real.
        needs: ``mount`` when the case needs a private mount namespace (root with CAP_SYS_ADMIN).
    """

    id: str
    area: str
    bad: str
    says: str
    code: int | None
    where: str
    run: Callable[[Lab], Seen]
    needs: str = ""


# -- the lab: what the cases share ---------------------------------------------------------------------


def mark(*sims: Simulator) -> list[tuple[SimInstance, int]]:
    """Where each instance's request log stands now."""
    return [(inst, len(inst.requests)) for sim in sims for inst in (sim.server, sim.cloud)]


def changes_since(marks: list[tuple[SimInstance, int]]) -> list[str]:
    """Every request since the marks that could change an instance."""
    return [
        f"{r.method} {r.path}"
        for inst, n in marks
        for r in inst.requests[n:]
        if r.method not in ("GET", "HEAD")
    ]


def requests_since(marks: list[tuple[SimInstance, int]]) -> int:
    return sum(len(inst.requests) - n for inst, n in marks)


@dataclass
class Served:
    """The demo simulator on loopback, wave 1 migrated and the later waves planned."""

    sim: Simulator
    ends: dict[str, Endpoint]
    template: Path  # the journal every case copies
    retire_template: Path  # the same, with every retire precondition met

    @property
    def server(self) -> str:
        return self.ends["server"].url

    @property
    def cloud(self) -> str:
        return self.ends["cloud"].url


class _Pages(http.server.BaseHTTPRequestHandler):
    """What sits in front of Octopus at some sites: each base path answers one way, whatever is asked."""

    PAGES: dict[str, tuple[int, str, str]] = {
        # A sign-in page where the Octopus Server was expected.
        "/login": (
            200,
            "text/html",
            "<html><head><title>Sign in · Example SSO</title></head><body>…</body></html>",
        ),
        # JSON, but another product's: its root answers, its other paths are 404 (see do_GET).
        "/other": (200, "application/json", '{"name": "build server", "status": "ok"}'),
        # Another product's API that answers the same document at every path.
        "/everything": (200, "application/json", '{"name": "build server", "status": "ok"}'),
        # A reverse proxy whose upstream is down.
        "/proxy": (
            502,
            "text/html",
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
            "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        ),
        # A proxy's own authentication, in front of Octopus's.
        "/sso": (401, "text/html", "<html><head><title>401 Authorization Required</title></head></html>"),
        # A server error whose JSON body was cut short.
        "/broken": (500, "application/json", '{"ErrorMessage": "Something went wr'),
        # Octopus-shaped error JSON with the wrong types in it.
        "/odd": (400, "application/json", '{"ErrorMessage": 42, "Errors": ["Name is required", 7]}'),
    }

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        """Quiet: the cases read what octowiz says, not this server's log."""

    def do_GET(self) -> None:
        prefix = "/" + self.path.lstrip("/").split("/", 1)[0]
        status, kind, body = self.PAGES.get(prefix, (404, "text/plain", "Not Found"))
        if prefix == "/other" and self.path.rstrip("/") != "/other/api":
            status, body = 404, '{"error": "no such route"}'
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Lab:
    """Everything the cases share in one run; built lazily, closed at the end.

    Cases run on several threads (:func:`run_cases`); each thread gets its own served simulator, so the
    requests a case's check reads in an instance's log are that case's alone.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stack = contextlib.ExitStack()
        self._lock = threading.RLock()
        self._count = 0
        self._served: dict[int, Served] = {}
        self._versions: tuple[Simulator, dict[str, Endpoint]] | None = None
        self._tls: str | None = None
        self._pages: str | None = None
        self.sessions: dict[str, dict[str, Seen]] = {}
        #: Each case's wall time, in seconds (a wizard session's first case carries the whole session).
        self.durations: dict[str, float] = {}

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def home(self, label: str) -> Path:
        """A fresh ``OCTOWIZ_HOME``."""
        with self._lock:
            self._count += 1
            home = self.root / f"{self._count:02d}-{label}"
        (home / "state" / "migrations").mkdir(parents=True)
        return home

    def home_with(self, label: str, template: Path | None = None) -> tuple[Path, Path]:
        """A fresh home holding a copy of the lab's journal: ``(home, journal)``."""
        home = self.home(label)
        journal = home / "state" / "migrations" / f"{NAME}.octowiz.sqlite3"
        shutil.copyfile(template or self.main.template, journal)
        return home, journal

    @property
    def main(self) -> Served:
        """The demo served on loopback, wave 1 migrated and ready for the cut-over (one per thread)."""
        with self._lock:
            served = self._served.get(threading.get_ident())
            if served is None:
                served = self._served[threading.get_ident()] = self._serve(len(self._served))
            return served

    def _serve(self, n: int) -> Served:
        from tests.test_cli_cutover import prepare, ready

        sim = fast_sim()
        ready(sim)
        self._stack.callback(sim.close)
        ends = self._stack.enter_context(sim.serve())
        # Clones poll Cloud at the address octowiz knows it by (only Cloud listens for them).
        sim.hosts.addresses[str(urlsplit(ends["cloud"].url).hostname)] = "cloud"
        base = self.root / f"template-{n}"
        asyncio.run(prepare(sim, ends, base, "test targets"))
        template = base / "state" / "migrations" / f"{NAME}.octowiz.sqlite3"
        with Journal.open(template) as journal:
            for wave, ids in WAVES.items():
                journal.set_wave(wave, ids)
        retire_template = self.root / f"template-{n}-retire.sqlite3"
        shutil.copyfile(template, retire_template)
        with Journal.open(retire_template) as journal:
            # Every planned project stays with the Server, the backup and the audit log are
            # confirmed: the retire's maintenance mode has no blocker left, so its prompt shows.
            for ids in journal.waves().values():
                for pid in ids:
                    rt.leave_project(journal, pid, OVERRIDE)
            rt.confirm_backup(journal, rt.BACKUP_PHRASE, who="the catalogue")
            rt.tick_audit_log(journal, True, who="the catalogue")
        return Served(sim, ends, template, retire_template)

    @property
    def versions(self) -> tuple[Simulator, dict[str, Endpoint]]:
        """A Server too old for Export/Import (2020.4) and a Cloud older than the lab's Server (2023.1)."""
        with self._lock:
            if self._versions is None:
                self._versions = self._serve_versions()
            return self._versions

    def _serve_versions(self) -> tuple[Simulator, dict[str, Endpoint]]:
        sim = Simulator(
            None,
            "empty",
            server=InstanceConfig("server", version="2020.4.0"),
            cloud=InstanceConfig("cloud", version="2023.1.0"),
        )
        self._stack.callback(sim.close)
        return sim, self._stack.enter_context(sim.serve())

    @property
    def tls(self) -> str:
        """An Octopus Server on HTTPS whose certificate no authority signed (self-signed)."""
        with self._lock:
            if self._tls is None:
                self._tls = self._serve_tls()
            return self._tls

    def _serve_tls(self) -> str:
        from tests.octopus.test_bad_input import _self_signed

        certs = self.root / "certs"
        certs.mkdir()
        cert, key = _self_signed(certs)
        sim, _ = self.versions
        return self._stack.enter_context(sim.serve(ssl_certfile=cert, ssl_keyfile=key))["server"].url

    @property
    def pages(self) -> str:
        """A loopback web server answering as :class:`_Pages` says."""
        with self._lock:
            if self._pages is None:
                server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
                threading.Thread(target=server.serve_forever, daemon=True).start()
                self._stack.callback(server.server_close)
                self._stack.callback(server.shutdown)
                self._pages = f"http://127.0.0.1:{server.server_address[1]}"
            return self._pages


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- running octowiz --------------------------------------------------------------------------------------


def environment(home: Path, env: dict[str, str | None]) -> dict[str, str]:
    """octowiz's environment as a script gives it: keys from the environment, no OS keyring."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("OCTOWIZ_")}
    out.update(
        OCTOWIZ_HOME=str(home),
        OCTOWIZ_SOURCE_API_KEY=SERVER_ADMIN.api_key,
        OCTOWIZ_DESTINATION_API_KEY=CLOUD_MANAGER.api_key,
        OCTOWIZ_EXPORT_PASSWORD=PASSWORD,
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    for k, v in env.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def _argv(*args: str) -> list[str]:
    argv = [sys.executable, "-m", "octowiz", *args]
    assert not [a for a in argv if any(s in a for s in SECRETS)], "a secret on a command line"
    return argv


def octowiz(home: Path, *args: str, stdin: str | None = None, **env: str | None) -> Seen:
    """Run octowiz without a terminal (standard input a pipe holding ``stdin``)."""
    proc = subprocess.run(
        _argv(*args),
        input=stdin or "",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=environment(home, env),
    )
    return Seen(proc.stdout + proc.stderr, proc.returncode, home)


# Makes the pseudo-terminal on standard input the controlling terminal of a new session, as a terminal
# emulator does, so that Ctrl+C typed there is a SIGINT from the kernel's line discipline, then runs octowiz.
# SIGINT goes back to its default first, as a terminal emulator starts its shell: a test run started in
# the background by a shell without job control ignores SIGINT, every child inherits that across exec,
# and Python then never turns Ctrl+C into KeyboardInterrupt (13 Ctrl+C cases failed that way).
_AT_A_TERMINAL = (
    "import fcntl, os, signal, sys, termios; os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'octowiz', *sys.argv[1:]])"
)


def at_a_terminal(home: Path, steps: Sequence[tuple[str, bytes]], *args: str, **env: str | None) -> Seen:
    """Run octowiz at a terminal; at each prompt (its text awaited, not a sleep) type what ``steps`` say."""
    _argv(*args)
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", _AT_A_TERMINAL, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=REPO,
        env=environment(home, env),
        close_fds=True,
    )
    os.close(slave)
    out, todo, start = b"", list(steps), 0
    deadline = time.monotonic() + 60  # a guard against a hang, never waited out when all is well
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                out += b"\n[octowiz did not end within 60 seconds of its prompt: killed]"
                break
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every process holding the terminal has ended
                break
            if not chunk:
                break
            out += chunk
            if todo and todo[0][0].encode() in out[start:]:
                prompt, keys = todo.pop(0)
                start = out.index(prompt.encode(), start) + len(prompt)
                os.write(master, keys)
    finally:
        os.close(master)
    code = proc.wait(timeout=30)
    text = out.decode(errors="replace").replace("\r\n", "\n")
    if todo:
        text += f"\n[the prompt '{todo[0][0]}' never appeared]"
    return Seen(text, code, home)


@functools.cache
def private_mounts() -> bool:
    """True when a tmpfs can be mounted in a private mount namespace (root with CAP_SYS_ADMIN)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory() as where:
        probe = subprocess.run(
            ["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$1"', "sh", where],
            capture_output=True,
            timeout=30,
        )
    return probe.returncode == 0


def in_a_namespace(home: Path, setup: str, runs: Sequence[tuple[str, ...]], **env: str | None) -> list[Seen]:
    """Run octowiz commands one after another in a private mount namespace prepared by ``setup``.

    Mounts made there vanish with the namespace, so nothing leaks onto this machine even if a test dies.
    A run whose first word is ``sh`` is a shell command instead (``sh mount -o remount ...``).
    """
    outs = home / "outputs"
    outs.mkdir()
    script = [setup]
    for i, run in enumerate(runs):
        command = shlex.join(run[1:]) if run[0] == "sh" else shlex.join(_argv(*run))
        script.append(f"{command} >{outs}/{i}.out 2>&1; echo $? >{outs}/{i}.code")
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", "\n".join(script)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
        env=environment(home, env),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [
        Seen((outs / f"{i}.out").read_text(), int((outs / f"{i}.code").read_text()), home)
        for i in range(len(runs))
    ]


# -- what is checked afterwards ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What a journal holds that must never be lost."""

    settings: dict[str, Any]
    waves: dict[str, list[str]]
    actions: dict[int, tuple[str, str, str | None]]
    items: frozenset[tuple[str, str, str]]
    id_map: dict[str, str]


def snapshot(journal: Journal) -> Snapshot:
    return Snapshot(
        journal.settings,
        journal.waves(),
        {a.id: (a.kind, a.target, a.outcome) for a in journal.actions()},
        frozenset((k, i, s) for k, i, s, _st, _d in journal.items()),
        journal.id_map(),
    )


def read(path: Path) -> Snapshot:
    with Journal.open(path, lock=False) as journal:
        return snapshot(journal)


def journal_kept(seen: Seen, path: Path, before: Snapshot) -> None:
    """The journal opens with its lock (the stopped run released it), holding everything it held."""
    try:
        with Journal.open(path) as journal:
            now = snapshot(journal)
            pending = [a for a in journal.actions() if a.pending and a.id not in before.actions]
    except JournalError as exc:
        seen.lost.append(f"the journal no longer opens: {exc}")
        return
    problems = [
        what
        for what, lost in (
            ("settings changed", now.settings != before.settings),
            ("waves changed", now.waves != before.waves),
            (
                "an action changed or vanished",
                any(now.actions.get(i) != a for i, a in before.actions.items()),
            ),
            ("an item vanished", not before.items <= now.items),
            ("an id mapping vanished", any(now.id_map.get(k) != v for k, v in before.id_map.items())),
            (f"{len(pending)} change(s) left half-done (intent without outcome)", bool(pending)),
        )
        if lost
    ]
    seen.check(
        not problems,
        "journal opens with its lock free, nothing it held lost, no change half-done",
        "journal: " + "; ".join(problems),
    )


def same_bytes(seen: Seen, path: Path, digest: str) -> None:
    after = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "gone"
    seen.check(after == digest, "journal left untouched (same bytes)", "the journal's bytes changed")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def nothing_sent(seen: Seen, marks: list[tuple[SimInstance, int]], *, at_all: bool = False) -> None:
    sent = changes_since(marks)
    if at_all:
        n = requests_since(marks)
        seen.check(n == 0, "no request sent to either instance", f"{n} request(s) sent before refusing")
    else:
        seen.check(not sent, "no change sent to either instance", "sent: " + ", ".join(sent[:5]))


def no_migration(seen: Seen, home: Path) -> None:
    made = sorted(p.name for p in (home / "state" / "migrations").glob("*"))
    seen.check(not made, "no migration created", f"left behind: {', '.join(made)}")


def needs_attention(seen: Seen, home: Path) -> None:
    """``octowiz new`` records a migration whose connection failed, to be fixed in the wizard."""
    path = home / "state" / "migrations" / f"{NAME}.octowiz.sqlite3"
    if not path.exists():
        no_migration(seen, home)
        return
    try:
        with Journal.open(path) as journal:
            status = journal.step_status("connect")
    except JournalError as exc:
        seen.lost.append(f"the migration it created does not open: {exc}")
        return
    seen.check(
        status == "needs attention",
        "migration recorded with Connect needing attention",
        f"Connect recorded as {status!r}",
    )


def _holds_a_secret(path: Path) -> bool:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):  # a write-ahead log removed as its journal closed
        return False
    return any(s.encode() in data for s in SECRETS)


def no_secret_in_files(seen: Seen, home: Path) -> None:
    found = [
        str(p.relative_to(home)) for p in home.rglob("*") if p.name != "keyring.json" and _holds_a_secret(p)
    ]
    seen.check(not found, "no key or password in any file", f"a secret in {', '.join(found)}")


def nothing_imported(seen: Seen, sim: Simulator, ids: list[str]) -> None:
    names = {NAMES[i] for i in ids}
    there = [p["Name"] for p in sim.cloud.store.all("projects") if p["Name"] in names]
    seen.check(not there, "nothing imported", f"imported anyway: {', '.join(there)}")


def export_cleared(seen: Seen, path: Path, wave: str) -> None:
    """Cloud refused the archive: the batch forgets its export, so the next run exports afresh."""
    with Journal.open(path, lock=False) as journal:
        batches = [d or {} for _k, i, _s, _st, d in journal.items("batch") if i.startswith(wave + "#")]
    seen.check(
        bool(batches) and not any(b.get("exported") for b in batches),
        "the batch forgets that export, so the next run exports afresh",
        f"the batch still holds the refused export: {batches}",
    )


# -- cases: the connection (octowiz new) ------------------------------------------------------------------


def _new(lab: Lab, label: str, source: str, destination: str | None = None, **env: str | None) -> Seen:
    """``octowiz new t --source S --destination D``; nothing but GETs, and a migration only as documented."""
    main = lab.main
    home = lab.home(label)
    marks = mark(main.sim, lab.versions[0])
    seen = octowiz(home, "new", NAME, "--source", source, "--destination", destination or main.cloud, **env)
    nothing_sent(seen, marks)
    needs_attention(seen, home)
    no_secret_in_files(seen, home)
    return seen


def url_garbage(lab: Lab) -> Seen:
    return _new(lab, "url-garbage", "not a url at all")


def url_scheme(lab: Lab) -> Seen:
    return _new(lab, "url-scheme", "ftp://octopus.example.com")


def url_no_scheme(lab: Lab) -> Seen:
    return _new(lab, "url-no-scheme", lab.main.server.removeprefix("http://"))


def url_refused(lab: Lab) -> Seen:
    return _new(lab, "url-refused", f"http://127.0.0.1:{closed_port()}")


def url_tls(lab: Lab) -> Seen:
    return _new(lab, "url-tls", lab.tls)


def url_sign_in_page(lab: Lab) -> Seen:
    return _new(lab, "url-html", lab.pages + "/login")


def url_wrong_path(lab: Lab) -> Seen:
    return _new(lab, "url-path", lab.main.server + "/octopus")


def url_same_instance(lab: Lab) -> Seen:
    return _new(lab, "url-same", lab.main.server, lab.main.server + "/app#/Spaces-1")


def url_other_json(lab: Lab) -> Seen:
    return _new(lab, "url-json", lab.pages + "/other")


def key_malformed(lab: Lab) -> Seen:
    return _new(lab, "key-malformed", lab.main.server, OCTOWIZ_SOURCE_API_KEY="not-a-key")


def key_wrong(lab: Lab) -> Seen:
    return _new(lab, "key-wrong", lab.main.server, OCTOWIZ_SOURCE_API_KEY=WRONG_KEY)


def key_permission(lab: Lab) -> Seen:
    return _new(lab, "key-permission", lab.main.server, OCTOWIZ_SOURCE_API_KEY=SERVER_READER.api_key)


def key_missing(lab: Lab) -> Seen:
    return _new(lab, "key-missing", lab.main.server, OCTOWIZ_SOURCE_API_KEY=None)


def key_of_the_other_instance(lab: Lab) -> Seen:
    return _new(lab, "key-other", lab.main.server, OCTOWIZ_SOURCE_API_KEY=CLOUD_MANAGER.api_key)


def version_too_old(lab: Lab) -> Seen:
    return _new(lab, "version-old", lab.versions[1]["server"].url)


def version_source_newer(lab: Lab) -> Seen:
    return _new(lab, "version-newer", lab.main.server, lab.versions[1]["cloud"].url)


def body_wrong_shape(lab: Lab) -> Seen:
    return _new(lab, "body-shape", lab.pages + "/everything")


def body_proxy_page(lab: Lab) -> Seen:
    return _new(lab, "body-html", lab.pages + "/proxy")


def body_sign_in_401(lab: Lab) -> Seen:
    return _new(lab, "body-401", lab.pages + "/sso")


def body_cut_short(lab: Lab) -> Seen:
    return _new(lab, "body-cut", lab.pages + "/broken")


def body_wrong_types(lab: Lab) -> Seen:
    return _new(lab, "body-types", lab.pages + "/odd")


# -- cases: keys set --------------------------------------------------------------------------------------


def _keys_set(lab: Lab, label: str, url: str, stdin: str) -> Seen:
    home = lab.home(label)
    keyring = home / "keyring.json"
    seen = octowiz(
        home,
        "keys",
        "set",
        url,
        stdin=stdin,
        PYTHON_KEYRING_BACKEND="tests.reliability.keyring_file.FileKeyring",
        **{FILE_VARIABLE: str(keyring)},
    )
    seen.check(not stored(keyring), "nothing stored in the keyring", "a key was stored")
    return seen


def keys_set_wrong(lab: Lab) -> Seen:
    return _keys_set(lab, "keys-wrong", lab.main.server, WRONG_KEY + "\n")


def keys_set_malformed(lab: Lab) -> Seen:
    return _keys_set(lab, "keys-malformed", lab.main.server, "hello\n")


def keys_set_bad_url(lab: Lab) -> Seen:
    return _keys_set(lab, "keys-url", "octopus dot example dot com", SERVER_ADMIN.api_key + "\n")


# -- cases: journals --------------------------------------------------------------------------------------


def _damaged(lab: Lab, label: str, make: Callable[[Path], None], *command: str) -> Seen:
    home, path = lab.home_with(label)
    make(path)
    before = digest(path)
    marks = mark(lab.main.sim)
    seen = octowiz(home, *command)
    same_bytes(seen, path, before)
    nothing_sent(seen, marks, at_all=True)
    return seen


def _garbage(path: Path) -> None:
    path.write_bytes(b"This is not what octowiz wrote here.\n" * 200)


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _newer(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()


def _foreign(path: Path) -> None:
    path.unlink()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    db.execute("INSERT INTO notes(text) VALUES ('a database, but not a journal')")
    db.commit()
    db.close()


def journal_corrupt(lab: Lab) -> Seen:
    return _damaged(lab, "journal-corrupt", _garbage, "status", NAME)


def journal_truncated(lab: Lab) -> Seen:
    return _damaged(lab, "journal-truncated", _truncated, "migrate", NAME, "--wave", "wave 1", "--yes")


def journal_newer(lab: Lab) -> Seen:
    return _damaged(lab, "journal-newer", _newer, "scan", NAME)


def journal_foreign(lab: Lab) -> Seen:
    return _damaged(lab, "journal-foreign", _foreign, "plan", NAME, "--list")


# Holds a journal (its lock taken) until its standard input closes.
HOLDER = """
import sys
from pathlib import Path
from octowiz.journal import Journal
journal = Journal.open(Path(sys.argv[1]))
print("holding", flush=True)
sys.stdin.read()
journal.close()
"""


def journal_locked(lab: Lab) -> Seen:
    home, path = lab.home_with("journal-locked")
    before = read(path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        marks = mark(lab.main.sim)
        seen = octowiz(home, "migrate", NAME, "--wave", "wave 1", "--yes")
        nothing_sent(seen, marks, at_all=True)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        assert holder.stdout is not None
        holder.stdout.close()
    journal_kept(seen, path, before)
    return seen


def journal_missing(lab: Lab) -> Seen:
    home, _ = lab.home_with("journal-missing")
    seen = octowiz(home, "status", "Q3 move")
    seen.check(
        not (home / "state" / "migrations" / "Q3 move.octowiz.sqlite3").exists(),
        "no migration created",
        "a journal was created for the name",
    )
    return seen


def journal_none_yet(lab: Lab) -> Seen:
    home = lab.home("journal-none")
    seen = octowiz(home, "migrate", "--wave", "wave 1")
    no_migration(seen, home)
    return seen


def journal_bad_name(lab: Lab) -> Seen:
    home = lab.home("journal-name")
    main = lab.main
    marks = mark(main.sim)
    seen = octowiz(home, "new", "../elsewhere", "--source", main.server, "--destination", main.cloud)
    nothing_sent(seen, marks, at_all=True)
    no_migration(seen, home)
    seen.check(not (home / "state" / "elsewhere.octowiz.sqlite3").exists(), "nothing written outside", "")
    return seen


def journal_name_taken(lab: Lab) -> Seen:
    home, path = lab.home_with("journal-taken")
    before = digest(path)
    main = lab.main
    marks = mark(main.sim)
    seen = octowiz(home, "new", NAME, "--source", main.server, "--destination", main.cloud)
    nothing_sent(seen, marks, at_all=True)
    same_bytes(seen, path, before)
    return seen


def journal_read_only(lab: Lab) -> Seen:
    """The state directory read-only (a read-only bind mount: root may write anywhere else)."""
    home, path = lab.home_with("journal-read-only")
    before = read(path)
    migrations = shlex.quote(str(home / "state" / "migrations"))
    marks = mark(lab.main.sim)
    run, status = in_a_namespace(
        home,
        f"mount --bind {migrations} {migrations} && mount -o remount,ro,bind {migrations}",
        [("migrate", NAME, "--wave", "wave 1", "--yes"), ("status", NAME, "--journal-only")],
    )
    nothing_sent(run, marks, at_all=True)
    run.check(
        status.code == 0 and "Migration t" in status.output,
        "still opens read-only for octowiz status",
        f"octowiz status could not read it there: {status.output.strip()}",
    )
    journal_kept(run, path, before)
    return run


def disk_full_new(lab: Lab) -> Seen:
    """``octowiz new`` on a disk that fills up while the journal is created."""
    home = lab.home("disk-full-new")
    main = lab.main
    migrations = home / "state" / "migrations"
    run, again = in_a_namespace(
        home,
        f"mount -t tmpfs -o size=8k tmpfs {shlex.quote(str(migrations))}",
        [
            ("new", NAME, "--source", main.server, "--destination", main.cloud),
            ("sh", "ls", "-A", str(migrations)),
        ],
    )
    left = again.output.split()
    run.check(not left, "no half-made journal left behind", f"left behind: {', '.join(left)}")
    return run


def disk_full_download(lab: Lab) -> Seen:
    """A wave's archive downloaded to a full disk; then, with space freed, the same command again."""
    home, path = lab.home_with("disk-full-download")
    main = lab.main
    downloads = home / "state" / "downloads"
    downloads.mkdir()
    before = read(path)
    wave = "wave 5"
    run, listing, status, again = in_a_namespace(
        home,
        f"mount -t tmpfs -o size=4k tmpfs {shlex.quote(str(downloads))}",
        [
            ("migrate", NAME, "--wave", wave, "--yes", "--poll-seconds", "0.01"),
            ("sh", "find", str(downloads), "-type", "f"),
            ("status", NAME, "--journal-only"),
            ("sh", "sh", "-c", f"mount -o remount,size=4m {shlex.quote(str(downloads))} && "
             + shlex.join(_argv("migrate", NAME, "--wave", wave, "--yes", "--poll-seconds", "0.01"))),
        ],
    )  # fmt: skip
    left = listing.output.split()
    run.check(not left, "no partial archive left", f"left behind: {', '.join(left)}")
    run.check(status.code == 0, "the journal still opens", f"status said: {status.output.strip()}")
    journal_kept(run, path, before)
    names = [p["Name"] for p in main.sim.cloud.store.all("projects")]
    run.check(
        again.code in (migrate.EXIT_VERIFIED, migrate.EXIT_DIFFERENCES)
        and names.count(NAMES[WAVES[wave][0]]) == 1,
        "with space freed, the same command finishes the wave (imported once)",
        f"the rerun ended {again.code}: {again.output[-300:]}",
    )
    return run


# -- cases: the export password and the archive -----------------------------------------------------------


def password_none(lab: Lab) -> Seen:
    home, path = lab.home_with("password-none")
    before = read(path)
    marks = mark(lab.main.sim)
    seen = octowiz(home, "migrate", NAME, "--wave", "wave 1", OCTOWIZ_EXPORT_PASSWORD=None)
    nothing_sent(seen, marks, at_all=True)
    journal_kept(seen, path, before)
    return seen


def _typed(label: str, steps: Sequence[tuple[str, bytes]]) -> Callable[[Lab], Seen]:
    def run(lab: Lab) -> Seen:
        home, path = lab.home_with(label)
        before = read(path)
        marks = mark(lab.main.sim)
        seen = at_a_terminal(home, steps, "migrate", NAME, "--wave", "wave 1", OCTOWIZ_EXPORT_PASSWORD=None)
        nothing_sent(seen, marks, at_all=True)
        journal_kept(seen, path, before)
        return seen

    return run


async def _to_the_preview(lab: Lab, path: Path, wave: str) -> str:
    """The wave run in-process up to Octopus's import preview, declined there; returns the upload's id."""
    main = lab.main

    async def no(_: migrate.ImportPreview) -> bool:
        return False

    ctx = context_for(path.parents[2], main.server, main.cloud)
    with Journal.open(path) as journal:
        result = await migrate.run_wave(
            ctx, journal, wave, PASSWORD, confirm=no, settings=migrate.WaveSettings(poll_interval=0.01)
        )
        assert result.problems == ["The import was not confirmed; nothing was imported."], result.problems
        [(_k, _i, _s, _st, detail)] = [b for b in journal.items("batch") if b[1].startswith(wave + "#")]
    return str((detail or {})["upload_id"])


def password_other(lab: Lab) -> Seen:
    """The wave stopped at the preview; after a restart, another password is given."""
    home, path = lab.home_with("password-other")
    wave = "wave 3"
    asyncio.run(_to_the_preview(lab, path, wave))
    before = read(path)
    seen = octowiz(
        home, "migrate", NAME, "--wave", wave, "--yes", "--poll-seconds", "0.01",
        OCTOWIZ_EXPORT_PASSWORD=OTHER_PASSWORD,
    )  # fmt: skip
    nothing_imported(seen, lab.main.sim, WAVES[wave])
    journal_kept(seen, path, before)
    export_cleared(seen, path, wave)
    return seen


def archive_damaged(lab: Lab) -> Seen:
    """The archive uploaded to Cloud is damaged (half of it is lost) before the import is confirmed."""
    home, path = lab.home_with("archive-damaged")
    wave = "wave 4"
    upload = asyncio.run(_to_the_preview(lab, path, wave))
    store = lab.main.sim.cloud.store
    blob = store.blob_open(f"importfile/{upload}")
    assert blob is not None
    with blob:
        data = blob.read()
    store.blob_put(f"importfile/{upload}", data[: len(data) // 2])
    before = read(path)
    seen = octowiz(home, "migrate", NAME, "--wave", wave, "--yes", "--poll-seconds", "0.01")
    nothing_imported(seen, lab.main.sim, WAVES[wave])
    journal_kept(seen, path, before)
    export_cleared(seen, path, wave)
    return seen


# -- cases: Ctrl+C and Ctrl+D at every prompt ---------------------------------------------------------------


def _prompt(
    label: str,
    command: tuple[str, ...],
    steps: Sequence[tuple[str, bytes]],
    *,
    retire: bool = False,
    **env: str | None,
) -> Callable[[Lab], Seen]:
    """A command of migration ``t`` stopped at its prompt: the journal as it was, nothing sent."""

    def run(lab: Lab) -> Seen:
        main = lab.main
        home, path = lab.home_with(label, main.retire_template if retire else None)
        before = read(path)
        marks = mark(main.sim)
        seen = at_a_terminal(home, steps, *command, **env)
        nothing_sent(seen, marks)
        journal_kept(seen, path, before)
        return seen

    return run


def _keys_prompt(label: str, key: bytes) -> Callable[[Lab], Seen]:
    def run(lab: Lab) -> Seen:
        home = lab.home(label)
        keyring = home / "keyring.json"
        seen = at_a_terminal(
            home,
            [("API key for", key)],
            "keys",
            "set",
            lab.main.server,
            PYTHON_KEYRING_BACKEND="tests.reliability.keyring_file.FileKeyring",
            **{FILE_VARIABLE: str(keyring)},
        )
        seen.check(not stored(keyring), "nothing stored in the keyring", "a key was stored")
        return seen

    return run


def _import_prompt(label: str, key: bytes) -> Callable[[Lab], Seen]:
    """Stopped at "Import these into Octopus Cloud?": exported and uploaded, nothing imported."""

    def run(lab: Lab) -> Seen:
        main = lab.main
        wave = "wave 2"
        home, path = lab.home_with(label)
        before = read(path)
        marks = mark(main.sim)
        seen = at_a_terminal(
            home,
            [("Import these into Octopus Cloud?", key)],
            *("migrate", NAME, "--wave", wave, "--poll-seconds", "0.01"),
        )
        imports = [c for c in changes_since(marks) if c.endswith("/import-export/import")]
        seen.check(not imports, "no import requested", f"sent: {imports}")
        nothing_imported(seen, main.sim, WAVES[wave])
        journal_kept(seen, path, before)
        with Journal.open(path, lock=False) as journal:
            kept = [d or {} for _k, i, _s, _st, d in journal.items("batch") if i.startswith(wave + "#")]
        seen.check(
            bool(kept) and all(b.get("exported") and b.get("upload_id") for b in kept),
            "the export and upload are recorded: the next run goes on from the preview",
            f"the batch lost its proof: {kept}",
        )
        return seen

    return run


CUTOVER = ("--wave", "wave 1", "--poll-seconds", "0.01")
#: Every prompt of the command line: (id, what is asked, the command, the answers typed before the last key,
#: the prompt the key goes to). The retire prompts run on the journal with every precondition met, so
#: nothing but the prompt stands between the command and its change.
PROMPTS: list[tuple[str, str, tuple[str, ...], list[tuple[str, bytes]], str]] = [
    ("password", "the export password", ("migrate", NAME, "--wave", "wave 1"), [], "Export password"),
    ("password-again", "the export password, asked again", ("migrate", NAME, "--wave", "wave 1"),
     [("Export password", TYPED.encode() + b"\n")], "The same password again"),
    ("targets-create", "targets --recreate: Type create", ("targets", NAME, *CUTOVER, "--recreate"), [],
     "Type create"),
    ("targets-run", "targets --run-offered: Type run", ("targets", NAME, *CUTOVER, "--run-offered"), [],
     "Type run"),
    ("cutover-deploy", "cutover --test: Type deploy", ("cutover", NAME, *CUTOVER, "--test", "Acme Web"), [],
     "Type deploy"),
    ("cutover-disable", "cutover --disable: Type disable",
     ("cutover", NAME, *CUTOVER, "--disable", "--override", OVERRIDE), [], "Type disable"),
    ("cutover-enable", "cutover --reenable: Type enable",
     ("cutover", NAME, *CUTOVER, "--reenable", "Acme Web"), [], "Type enable"),
    ("retire-undo", "retire --undo maintenance: Type undo", ("retire", NAME, "--undo", "maintenance"), [],
     "Type undo"),
    ("retire-maintenance", "retire --maintenance: Type maintenance", ("retire", NAME, "--maintenance"), [],
     "Type maintenance"),
    ("retire-cap", "retire --task-cap-zero: Type cap", ("retire", NAME, "--task-cap-zero"), [], "Type cap"),
    ("retire-delete", "retire --delete: Type delete", ("retire", NAME, "--delete", "web01.corp.local"), [],
     "Type delete"),
]  # fmt: skip


def prompt_cases() -> list[Case]:
    cases: list[Case] = []
    for key, area, says, word, code, confirm_code in (
        (CTRL_C, "Ctrl+C", "stopped (Ctrl+C)", "Ctrl+C", STOPPED, STOPPED),
        (CTRL_D, "Ctrl+D (EOF)", "the input ended", "Ctrl+D", 1, 5),
    ):
        suffix = "c" if key == CTRL_C else "d"
        cases.append(
            Case(
                f"keys-prompt-{suffix}",
                area,
                f"{word} at the API key prompt",
                says if key == CTRL_C else "no key was given (the input ended)",
                code,
                "octowiz keys set URL (at a terminal)",
                _keys_prompt(f"keys-prompt-{suffix}", key),
            )
        )
        for pid, what, command, before, prompt in PROMPTS:
            typed = pid.startswith(("targets", "cutover", "retire"))
            cases.append(
                Case(
                    f"{pid}-{suffix}",
                    area,
                    f"{word} at {what}",
                    says if key == CTRL_C else "(the input ended)",
                    confirm_code if typed else code,
                    f"octowiz {' '.join(command[:1])} (at a terminal)",
                    _prompt(
                        f"{pid}-{suffix}",
                        command,
                        [*before, (prompt, key)],
                        retire=command[0] == "retire",
                        OCTOWIZ_EXPORT_PASSWORD=None if command[0] == "migrate" else PASSWORD,
                    ),
                )
            )
        cases.append(
            Case(
                f"import-prompt-{suffix}",
                area,
                f"{word} at the import preview's 'Import these into Octopus Cloud? [y/N]'",
                says if key == CTRL_C else "(the input ended)",
                confirm_code,
                "octowiz migrate (at a terminal)",
                _import_prompt(f"import-prompt-{suffix}", key),
            )
        )
    return cases


# -- cases: the wizard ----------------------------------------------------------------------------------


class LoopbackOnly(httpx.AsyncBaseTransport):
    """httpx's own transport, for loopback only: any other host name does not resolve, as on a machine
    whose DNS does not know it (played here: the test never asks a real resolver)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in ("127.0.0.1", "localhost"):
            try:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            except socket.gaierror as exc:
                raise httpx.ConnectError(f"[Errno {exc.errno}] {exc.strerror}", request=request) from exc
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _wizard_context(home: Path) -> tuple[Context, Any]:
    from tests.tui.tuikit import MemoryKeyring

    backend = MemoryKeyring()
    paths = Paths(state=home / "state", config=home / "config", logs=home / "logs")
    ctx = Context(
        paths=paths,
        migrations_dir=paths.migrations,
        keystore=KeyStore(paths.config, backend),
        transport=LoopbackOnly(),
    )
    return ctx, backend


#: The Connect cases, all made in one run of the wizard: (id, source URL, source key, destination URL,
#: destination key, the result to read). URLs are filled in from the lab at run time.
CONNECT: list[tuple[str, str, str, str, str, str]] = [
    ("wizard-url-garbage", "not a url at all", "server-key", "cloud", "cloud-key", "source"),
    ("wizard-url-unknown-host", "https://octopus.example.internal", "server-key", "cloud", "cloud-key",
     "source"),
    ("wizard-url-refused", "refused", "server-key", "cloud", "cloud-key", "source"),
    ("wizard-url-sign-in-page", "login", "server-key", "cloud", "cloud-key", "source"),
    ("wizard-key-wrong", "server", WRONG_KEY, "cloud", "cloud-key", "source"),
    ("wizard-key-malformed", "server", "not-a-key", "cloud", "cloud-key", "source"),
    ("wizard-key-permission", "server", SERVER_READER.api_key, "cloud", "cloud-key", "source"),
    ("wizard-key-swapped", "server", "server-key", "cloud", "server-key", "destination"),
    ("wizard-version-old", "old", "server-key", "cloud", "cloud-key", "source"),
    ("wizard-version-newer", "server", "server-key", "older-cloud", "cloud-key", "pair"),
    ("wizard-same-instance", "server", "server-key", "server", "server-key", "pair"),
]  # fmt: skip


async def _connect_session(lab: Lab) -> dict[str, Seen]:
    from textual.widgets import Button, Input, Static

    from octowiz.tui.app import make_app
    from tests.tui.tuikit import settle

    main = lab.main
    urls = {
        "server": main.server,
        "cloud": main.cloud,
        "refused": f"http://127.0.0.1:{closed_port()}",
        "login": lab.pages + "/login",
        "old": lab.versions[1]["server"].url,
        "older-cloud": lab.versions[1]["cloud"].url,
    }
    keys = {"server-key": SERVER_ADMIN.api_key, "cloud-key": CLOUD_MANAGER.api_key}
    home = lab.home("wizard-connect")
    ctx, backend = _wizard_context(home)
    marks = mark(main.sim, lab.versions[0])
    out: dict[str, Seen] = {}
    app = make_app(ctx)
    async with app.run_test(size=(130, 44)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one("#name", Input).value = "wizard"  # typed: Pilot's keys cost a frame each
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        for cid, s_url, s_key, d_url, d_key, result in CONNECT:
            for role, url, key in (("source", s_url, s_key), ("destination", d_url, d_key)):
                screen.query_one(f"#{role}-url", Input).value = urls.get(url, url)
                screen.query_one(f"#{role}-key", Input).value = keys.get(key, key)
            await pilot.press("ctrl+t")
            await settle(pilot)
            seen = Seen(str(screen.query_one(f"#{result}-result", Static).render()), None, home)
            seen.check(
                screen.query_one("#continue", Button).disabled,
                "Continue stays disabled",
                "Continue was offered",
            )
            out[cid] = seen
    for seen in out.values():
        nothing_sent(seen, marks)
        seen.check(not backend.secrets, "no key stored", "a key was stored in the keyring")
        no_secret_in_files(seen, home)
    return out


#: The Welcome cases, made in one run: each journal is resumed in turn.
WELCOME = ("wizard-journal-corrupt", "wizard-journal-newer", "wizard-journal-locked")


async def _welcome_session(lab: Lab) -> dict[str, Seen]:
    from textual.widgets import DataTable

    from octowiz.tui.app import make_app
    from octowiz.tui.screens.welcome import WelcomeScreen
    from tests.tui.tuikit import settle

    home = lab.home("wizard-welcome")
    ctx, _ = _wizard_context(home)
    folder = ctx.migrations_dir
    journals = {cid: folder / f"{cid.removeprefix('wizard-journal-')}.octowiz.sqlite3" for cid in WELCOME}
    for path in journals.values():
        shutil.copyfile(lab.main.template, path)
    _garbage(journals["wizard-journal-corrupt"])
    _newer(journals["wizard-journal-newer"])
    digests = {cid: digest(p) for cid, p in journals.items()}
    before = read(journals["wizard-journal-locked"])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(journals["wizard-journal-locked"])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    out: dict[str, Seen] = {}
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        app = make_app(ctx)
        async with app.run_test(size=(130, 44)) as pilot:
            await settle(pilot)
            for cid, path in journals.items():
                welcome = app.screen
                names = [m.name for m in welcome.migrations]  # type: ignore[attr-defined]
                welcome.query_one(DataTable).move_cursor(row=names.index(path.name.split(".")[0]))
                app.clear_notifications()
                await pilot.press("r")
                await settle(pilot)
                notes = [str(n.message) for n in app._notifications]
                seen = Seen("\n".join(notes), None, home)
                seen.check(isinstance(app.screen, WelcomeScreen), "stays on Welcome", "a step opened anyway")
                out[cid] = seen
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        assert holder.stdout is not None
        holder.stdout.close()
    for cid, seen in out.items():
        if cid == "wizard-journal-locked":
            journal_kept(seen, journals[cid], before)
        else:
            same_bytes(seen, journals[cid], digests[cid])
    return out


#: The Migrate cases, made in one run of the step, in this order.
MIGRATE = ("wizard-password-differ", "wizard-preview-cancelled", "wizard-password-other")


async def _migrate_session(lab: Lab) -> dict[str, Seen]:
    from textual.widgets import Input, Static

    from octowiz.tui.screens.migrate import PasswordDialog, PreviewDialog
    from octowiz.tui.screenshots import until
    from tests.tui.test_waves_screens import migrate_app, planned
    from tests.tui.tuikit import settle

    async def start(pilot: Any, password: str, again: str | None = None) -> None:
        """Migrate wave… (Ctrl+G), the password in both fields (Pilot's keys cost a frame each), Enter."""
        await pilot.press("ctrl+g")
        await settle(pilot)
        dialog = pilot.app.screen
        assert isinstance(dialog, PasswordDialog)
        dialog.query_one("#password", Input).value = password
        dialog.query_one("#again", Input).value = password if again is None else again
        dialog.query_one("#again", Input).focus()
        await pilot.press("enter")

    home = lab.home("wizard-migrate")
    sim = fast_sim()
    out: dict[str, Seen] = {}
    try:
        ctx, journal = await planned(home, sim, list(WAVE))
        path = journal.path
        app = migrate_app(ctx, journal)
        async with app.run_test(size=(130, 44)) as pilot:
            await settle(pilot)
            screen = app.screen
            marks = mark(sim)
            await start(pilot, "one-pw", "two-pw")
            await settle(pilot)
            seen = Seen(str(app.screen.query_one("#password-error", Static).render()), None, home)
            nothing_sent(seen, marks, at_all=True)
            out["wizard-password-differ"] = seen
            await pilot.press("escape")
            await settle(pilot)

            await start(pilot, "horse-42")
            await until(pilot, lambda: isinstance(app.screen, PreviewDialog))
            await pilot.press("escape")
            await until(pilot, lambda: not screen.running)  # type: ignore[attr-defined]
            await settle(pilot)
            out["wizard-preview-cancelled"] = Seen(
                str(screen.query_one("#migrate-summary", Static).render()), None, home
            )
            before = snapshot(journal)

            await start(pilot, "other-pw")
            await until(pilot, lambda: not screen.running)  # type: ignore[attr-defined]
            await settle(pilot)
            out["wizard-password-other"] = Seen(
                str(screen.query_one("#migrate-summary", Static).render()), None, home
            )
        journal.close()
        for cid in ("wizard-preview-cancelled", "wizard-password-other"):
            there = [p["Name"] for p in sim.cloud.store.all("projects") if p["Name"] in WAVE.values()]
            out[cid].check(not there, "nothing imported", f"imported anyway: {there}")
        journal_kept(out["wizard-password-other"], path, before)
        export_cleared(out["wizard-password-other"], path, "wave 1")
    finally:
        sim.close()
    return out


def _session(name: str, make: Callable[[Lab], Any]) -> Callable[[str], Callable[[Lab], Seen]]:
    """Cases answered by one shared run of the wizard (made on the first case that asks)."""

    def case(cid: str) -> Callable[[Lab], Seen]:
        def run(lab: Lab) -> Seen:
            if name not in lab.sessions:
                lab.main  # noqa: B018 (built before the app's event loop runs: it runs one of its own)
                lab.sessions[name] = asyncio.run(make(lab))
            return lab.sessions[name][cid]

        return run

    return case


connect_session = _session("connect", _connect_session)
welcome_session = _session("welcome", _welcome_session)
migrate_session = _session("migrate", _migrate_session)


# -- the catalogue ----------------------------------------------------------------------------------------

NEW = "octowiz new"
CONNECT_WHERE = "wizard: Connect, after Check (Ctrl+T)"


def _cases() -> list[Case]:
    c = Case
    cases = [
        # URLs
        c("url-garbage", "URLs", "a URL that is not one ('not a url at all')", "is not a web address", 1,
          NEW, url_garbage),
        c("url-scheme", "URLs", "another scheme (ftp://)", "must start with https://", 1, NEW, url_scheme),
        c("url-no-scheme", "URLs", "no scheme, on a plain-HTTP Server (https is assumed)",
          "does not speak HTTPS", 1, NEW, url_no_scheme),
        c("url-refused", "URLs", "a host and port where nothing listens", "Nothing accepted a connection", 1,
          NEW, url_refused),
        c("url-tls", "URLs", "HTTPS with a certificate no authority signed", "could not be verified", 1, NEW,
          url_tls),
        c("url-html", "URLs", "a web page that is not Octopus (a sign-in page)", "not Octopus's JSON", 1, NEW,
          url_sign_in_page),
        c("url-json", "URLs", "JSON, but another product's API", "not as Octopus does", 1, NEW,
          url_other_json),
        c("url-path", "URLs", "the right host, a wrong path (/octopus)", "has no such resource", 1, NEW,
          url_wrong_path),
        c("url-same", "URLs", "the same instance as source and destination",
          "the source and the destination are the same Octopus instance", 1, NEW, url_same_instance),
        # Keys
        c("key-malformed", "Keys", "a key that is not an Octopus key", "That is not an Octopus API key", 1,
          NEW, key_malformed),
        c("key-wrong", "Keys", "a well-formed key the Server does not know", "did not accept the API key", 1,
          NEW, key_wrong),
        c("key-other", "Keys", "the Cloud key given for the Server", "did not accept the API key", 1, NEW,
          key_of_the_other_instance),
        c("key-permission", "Keys", "a key whose user cannot export (read-only)", "lacks TaskCreate", 1, NEW,
          key_permission),
        c("key-missing", "Keys", "no key at all (no keyring, no variable)", "no API key for", 1, NEW,
          key_missing),
        c("keys-set-wrong", "Keys", "keys set: a key the instance refuses", "did not accept the API key", 1,
          "octowiz keys set URL", keys_set_wrong),
        c("keys-set-malformed", "Keys", "keys set: not a key", "That is not an Octopus API key", 1,
          "octowiz keys set URL", keys_set_malformed),
        c("keys-set-url", "Keys", "keys set: not a URL", "is not a web address", 1, "octowiz keys set URL",
          keys_set_bad_url),
        # Versions
        c("version-old", "Versions", "a Server older than 2021.1", "predates Project Export/Import", 1, NEW,
          version_too_old),
        c("version-newer", "Versions", "a source newer than the destination", "newer than the destination's",
          1, NEW, version_source_newer),
        # Error bodies
        c("body-html", "Error bodies", "a proxy's HTML error page (502)", "The answer was a web page", 1, NEW,
          body_proxy_page),
        c("body-401-html", "Error bodies", "a proxy's HTML sign-in refusal (401)",
          "did not accept the API key", 1, NEW, body_sign_in_401),
        c("body-shape", "Error bodies", "JSON of another shape at every path (another product's API)",
          "not as Octopus does", 1, NEW, body_wrong_shape),
        c("body-cut", "Error bodies", "a 500 whose JSON is cut short", "failed with HTTP 500", 1, NEW,
          body_cut_short),
        c("body-types", "Error bodies", "error JSON with numbers where text belongs", "refused the request",
          1, NEW, body_wrong_types),
        # Journals
        c("journal-corrupt", "Journals", "a journal overwritten with other bytes", "is damaged", 1,
          "octowiz status", journal_corrupt),
        c("journal-truncated", "Journals", "a journal cut in half", "is damaged", 1, "octowiz migrate",
          journal_truncated),
        c("journal-newer", "Journals", "a journal from a newer octowiz (schema 99)",
          "written by a newer octowiz", 1, "octowiz scan", journal_newer),
        c("journal-foreign", "Journals", "another program's SQLite database", "is not an octowiz journal", 1,
          "octowiz plan", journal_foreign),
        c("journal-locked", "Journals", "the migration open in another octowiz", "open in another octowiz", 1,
          "octowiz migrate", journal_locked),
        c("journal-read-only", "Journals", "the journals' directory read-only", "cannot write to", 1,
          "octowiz migrate", journal_read_only, "mount"),
        c("journal-missing", "Journals", "a migration name that does not exist",
          "There is no migration journal", 1, "octowiz status", journal_missing),
        c("journal-none", "Journals", "no migration yet", "There are no migrations yet", 1, "octowiz migrate",
          journal_none_yet),
        c("journal-name", "Journals", "a migration name that is a path ('../elsewhere')",
          "cannot be a migration name", 1, NEW, journal_bad_name),
        c("journal-taken", "Journals", "a migration name already in use", "already exists", 1, NEW,
          journal_name_taken),
        # Full disk
        c("disk-full-new", "Full disk", "a full disk while the journal is created", "is full", 1, NEW,
          disk_full_new, "mount"),
        c("disk-full-download", "Full disk", "a full disk while the export archive downloads", "full", 1,
          "octowiz migrate", disk_full_download, "mount"),
        # Export password and archive
        c("password-none", "Export password", "no password and no terminal to ask at",
          "set OCTOWIZ_EXPORT_PASSWORD", 1, "octowiz migrate", password_none),
        c("password-empty", "Export password", "an empty password typed", "cannot be empty", 1,
          "octowiz migrate (at a terminal)", _typed("password-empty", [("Export password", b"\n")])),
        c("password-differ", "Export password", "two different passwords typed", "the two passwords differ",
          1, "octowiz migrate (at a terminal)",
          _typed("password-differ", [("Export password", b"one\n"), ("The same password again", b"two\n")])),
        c("password-other", "Export password", "another password after a restart", "password", 1,
          "octowiz migrate", password_other),
        c("archive-damaged", "Archive", "the archive uploaded to Cloud damaged before the import", "damaged",
          1, "octowiz migrate", archive_damaged),
        *prompt_cases(),
        # The wizard
        *[
            c(cid, area, bad, says, None, CONNECT_WHERE + f" ({field} result)", connect_session(cid))
            for cid, area, bad, says, field in (
                ("wizard-url-garbage", "URLs", "a URL that is not one", "is not a web address", "source"),
                ("wizard-url-unknown-host", "URLs", "a host name that does not resolve",
                 "could not be found", "source"),
                ("wizard-url-refused", "URLs", "a port where nothing listens",
                 "Nothing accepted a connection", "source"),
                ("wizard-url-sign-in-page", "URLs", "a sign-in page instead of Octopus", "not Octopus's JSON",
                 "source"),
                ("wizard-key-wrong", "Keys", "a key the Server does not know", "did not accept the API key",
                 "source"),
                ("wizard-key-malformed", "Keys", "not a key", "That is not an Octopus API key", "source"),
                ("wizard-key-permission", "Keys", "a read-only key", "lacks TaskCreate", "source"),
                ("wizard-key-swapped", "Keys", "the Server's key given for Cloud",
                 "did not accept the API key", "destination"),
                ("wizard-version-old", "Versions", "a Server older than 2021.1",
                 "predates Project Export/Import", "source"),
                ("wizard-version-newer", "Versions", "a source newer than the destination",
                 "newer than the destination's", "pair"),
                ("wizard-same-instance", "URLs", "the same instance twice", "the same Octopus instance",
                 "pair"),
            )
        ],
        c("wizard-journal-corrupt", "Journals", "resuming a damaged journal", "is damaged", None,
          "wizard: Welcome, Resume (R)", welcome_session("wizard-journal-corrupt")),
        c("wizard-journal-newer", "Journals", "resuming a journal from a newer octowiz",
          "written by a newer octowiz", None, "wizard: Welcome, Resume (R)",
          welcome_session("wizard-journal-newer")),
        c("wizard-journal-locked", "Journals", "resuming a migration open in another octowiz",
          "open in another octowiz", None, "wizard: Welcome, Resume (R)",
          welcome_session("wizard-journal-locked")),
        c("wizard-password-differ", "Export password", "two different passwords typed", "differ", None,
          "wizard: Migrate, the password dialog", migrate_session("wizard-password-differ")),
        c("wizard-preview-cancelled", "Archive", "Esc at Octopus's import preview", "not confirmed", None,
          "wizard: Migrate, the import preview", migrate_session("wizard-preview-cancelled")),
        c("wizard-password-other", "Export password", "another password when running the wave again",
          "password", None, "wizard: Migrate, summary", migrate_session("wizard-password-other")),
    ]  # fmt: skip
    ids = [case.id for case in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return cases


CASES = _cases()


# -- what the document shows --------------------------------------------------------------------------------

HEADER = """# Reliability: bad input

What octowiz shows for every mistake in this catalogue, and what was checked afterwards. Generated by
`python -m tests.reliability --write` from running the cases in `tests/reliability/catalogue.py`;
`tests/reliability/test_reliability_catalogue.py` runs every case and fails when this file differs from
what they produce, so it stays true.

Each case is made for real: `octowiz` runs as a subprocess against the simulated Server and Cloud served
over loopback (at a pseudo-terminal when the case is about a prompt, where Ctrl+C and Ctrl+D are typed
once the prompt's text has appeared), or the wizard is driven with Textual's Pilot. A full disk is a small
tmpfs, a read-only directory a read-only bind mount, both in a private mount namespace. Each case must
show its sentence, no traceback and no API key or password, exit with its code, and leave nothing lost:
the checks made afterwards are in the last column.

Exit codes: 0 done, 1 a failure (with its sentence), 2 usage, 3 not done yet, 4 refused, 5 a change not
confirmed, 130 stopped by Ctrl+C. Paths are shown under `$OCTOWIZ_HOME`, loopback ports as `PORT`.

| Case | Area | Bad input | What the user sees | Exit code / where | Checked afterwards |
|---|---|---|---|---|---|
"""


def sentence(case: Case, seen: Seen) -> str:
    """The line the person reads for this case: the one holding its sentence, as the document shows it."""
    text = normalise(seen.output, seen.home)
    lines = [line.strip() for line in text.splitlines() if case.says in line]
    return lines[0] if lines else ""


def normalise(text: str, home: Path | None) -> str:
    """What varies between runs (paths, ports, process ids, host and time) in fixed words."""
    if home is not None:
        text = text.replace(str(home), "$OCTOWIZ_HOME")
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"process \d+ on [^,]+, since [^)]+\)", "process PID on HOST, since TIME)", text)
    return text


def row(case: Case, seen: Seen) -> str:
    """The case's row in the document."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    where = case.where if case.code is None else f"{case.code} ({case.where})"
    return (
        f"| `{case.id}` | {case.area} | {cell(case.bad)} | {cell(sentence(case, seen))} | {cell(where)} | "
        f"{cell('; '.join(seen.checked))} |"
    )


def document(rows: dict[str, str]) -> str:
    """The whole document, rows in catalogue order."""
    return HEADER + "".join(rows[case.id] + "\n" for case in CASES)


def committed_rows(text: str) -> dict[str, str]:
    """The rows of the committed document, by case id."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        found = re.match(r"\| `([^`]+)` \|", line)
        if found:
            out[found.group(1)] = line
    return out


def problems(case: Case, seen: Seen) -> list[str]:
    """Everything wrong with what the case saw (nothing, when octowiz behaved)."""
    out = []
    if "Traceback" in seen.output or re.search(r"^\w+(Error|Exception): ", seen.output, re.M):
        out.append("a traceback or a raw exception")
    leaked = [s for s in SECRETS if s in seen.output]
    if leaked:
        out.append(f"{len(leaked)} secret(s) shown")
    if not sentence(case, seen):
        out.append(f"no line says {case.says!r}")
    if seen.code != case.code:
        out.append(f"exit code {seen.code}, not {case.code}")
    out += seen.lost
    return out


@contextlib.contextmanager
def lab_in(root: Path | None = None) -> Iterator[Lab]:
    """A lab in ``root``, or in a temporary directory removed afterwards."""
    with contextlib.ExitStack() as stack:
        where = root or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="octowiz-reliability-")))
        with Lab(where) as lab:
            yield lab


#: Threads running the command-line cases (each with its own served simulator); the wizard's cases run on
#: one more thread meanwhile.
WORKERS = max(1, int(os.environ.get("OCTOWIZ_RELIABILITY_WORKERS", "2")))


def runnable(cases: Sequence[Case]) -> list[Case]:
    """The cases this machine can make (a full disk needs the right to mount a tmpfs)."""
    return [c for c in cases if c.needs != "mount" or private_mounts()]


def run_cases(lab: Lab, cases: Sequence[Case], workers: int = WORKERS) -> dict[str, Seen | Exception]:
    """Run cases: what each saw, or the exception that stopped it (a failure of the case itself)."""

    def one(case: Case) -> Seen | Exception:
        started = time.monotonic()
        try:
            return case.run(lab)
        except Exception as exc:  # the test reports it for this case alone
            return exc
        finally:
            lab.durations[case.id] = time.monotonic() - started

    # The wizard's cases share app runs and run one after another on a thread of their own (no event loop
    # of the caller's in the way: pytest's may be running on this one).
    with (
        concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="cli") as cli,
        concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="wizard") as wizard,
    ):
        pending = {c.id: (wizard if c.code is None else cli).submit(one, c) for c in cases}
        return {cid: future.result() for cid, future in pending.items()}


def run_all(
    only: Sequence[str] = (),
) -> tuple[dict[str, str], dict[str, list[str]], list[str], dict[str, float]]:
    """Run the catalogue: the rows, each case's problems, the cases this machine cannot make, the times."""
    chosen = [c for c in CASES if not only or c.id in only]
    can = runnable(chosen)
    rows: dict[str, str] = {}
    found: dict[str, list[str]] = {}
    with lab_in() as lab:
        outcomes = run_cases(lab, can)
        durations = dict(lab.durations)
    for case in can:
        seen = outcomes[case.id]
        if isinstance(seen, Exception):
            rows[case.id] = f"| `{case.id}` | failed: {type(seen).__name__}: {seen} |"
            found[case.id] = [f"the case itself failed: {type(seen).__name__}: {seen}"]
        else:
            rows[case.id] = row(case, seen)
            found[case.id] = problems(case, seen)
    return rows, found, [c.id for c in chosen if c not in can], durations
