"""The migration journal: what a person gets back after a crash, a kill, a full disk or a damaged file.

Crashes, kills and limits happen in real subprocesses (SIGKILL, RLIMIT_FSIZE, a tmpfs that fills up);
the test process then opens the same file and checks what a user would see: the data, or the sentence.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import random
import select
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from octowiz.journal import (
    Journal,
    JournalError,
    JournalLocked,
    journal_path,
    list_migrations,
    migration_name,
)
from octowiz.journal.journal import MIGRATIONS, SCHEMA_VERSION
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN

SECRET = "API-OCTOWIZTESTSECRET0123456789AB"

DAMAGED = "octowiz left it untouched. Restore it from a backup, or delete the migration and start again."

# Opens a journal (taking its lock), says so, and holds it until its stdin closes.
HOLDER = """
import sys
from pathlib import Path
from octowiz.journal import Journal
journal = Journal.open(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.readline()
journal.close()
"""

# Records the life of thousands of actions as fast as it can; says "started" after the first 500
# (2,000 facts), then keeps writing until it is killed.
WRITER = """
import sys
from pathlib import Path
from octowiz.journal import Journal
journal = Journal.open(Path(sys.argv[1]))
for i in range(1, 1_000_001):
    action = journal.begin_action("export", "export-project", f"Projects-{i}", {"project": f"Projects-{i}"},
                                  undo={"delete": f"Projects-{i}"})
    journal.set_item("project", f"Projects-{i}", "export", "in progress")
    journal.finish_action(action, "done", {"n": i}, task_id=f"ServerTasks-{i}",
                          id_map={f"Projects-{i}": ("project", f"Projects-{i + 1_000_000}")})
    journal.set_item("project", f"Projects-{i}", "export", "done")
    if i == 500:
        print("started", flush=True)
"""

# Records items until the journal refuses one, then reports how many were committed and what it said.
FILL = """
import json, resource, signal, sys
from pathlib import Path
from octowiz.journal import Journal, JournalError
path, how = Path(sys.argv[1]), sys.argv[2]
if how == "tmpfs":
    Journal.create(path, {"name": "full"}).close()
journal = Journal.open(path)
if how == "rlimit":
    # Without this the kernel kills the process with SIGXFSZ; ignored, the write fails with EFBIG.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (128 * 1024, 128 * 1024))
committed, error = 0, ""
try:
    for i in range(100_000):
        journal.set_item("project", f"Projects-{i}", "export", "done", {"note": "x" * 500})
        committed += 1
except JournalError as exc:
    error = str(exc)
journal.close()
print(json.dumps({"committed": committed, "error": error}), flush=True)
"""

# What a later octowiz finds in a journal (for the tmpfs, which only exists inside its namespace).
REREAD = """
import json, sqlite3, sys
from pathlib import Path
from octowiz.journal import Journal
path = Path(sys.argv[1])
with Journal.open(path) as journal:
    items = [row[1] for row in journal.items()]
check = sqlite3.connect(f"file:{path}?mode=ro", uri=True).execute("PRAGMA quick_check").fetchone()[0]
print(json.dumps({"items": items, "quick_check": check}), flush=True)
"""

# Makes a journal, then makes its directory read-only and reports what octowiz says to each use.
READ_ONLY = """
import json, os, subprocess, sys
from pathlib import Path
from octowiz.journal import Journal, JournalError
base, how = Path(sys.argv[1]), sys.argv[2]
folder = base / "migrations"
kept = folder / "kept.octowiz.sqlite3"
with Journal.create(kept, {"name": "kept"}) as journal:
    journal.set_step("connect", "done")
if how == "remount":
    subprocess.run(["mount", "-o", "remount,ro", str(base)], check=True)
else:
    os.chmod(folder, 0o500)
said = {}
attempts = {
    "create": lambda: Journal.create(folder / "new.octowiz.sqlite3", {"name": "new"}),
    "open": lambda: Journal.open(kept),
    "review": lambda: Journal.open(kept, lock=False),
}
for label, attempt in attempts.items():
    try:
        attempt().close()
        said[label] = "opened"
    except JournalError as exc:
        said[label] = str(exc)
print(json.dumps(said), flush=True)
"""


# -- helpers ----------------------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lock_file(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _python(script: str, *args: str) -> list[str]:
    return [sys.executable, "-c", script, *args]


@contextlib.contextmanager
def _spawn(script: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        _python(script, *args),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def _first_line(proc: subprocess.Popen[str]) -> str:
    """The subprocess's first line; the timeout only guards against a hang, it is never waited out."""
    assert proc.stdout is not None and proc.stderr is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    assert ready, "the subprocess said nothing in 30 s"
    line = proc.stdout.readline()
    assert line, f"the subprocess ended without a word: {proc.stderr.read()}"
    return line.strip()


@functools.cache
def _private_mounts() -> bool:
    """True when tmpfs can be mounted in a private mount namespace (root with CAP_SYS_ADMIN).

    The mount vanishes with the namespace, so nothing leaks onto the host even if a test dies.
    """
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory() as where:
        probe = subprocess.run(
            ["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$1"', "sh", where],
            capture_output=True,
            timeout=30,
        )
    return probe.returncode == 0


def _in_tmpfs(where: Path, size: str, *commands: list[str]) -> subprocess.CompletedProcess[str]:
    """Run commands one after another with a fresh tmpfs of ``size`` mounted on ``where``."""
    chain = " && ".join(shlex.join(command) for command in commands)
    return subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(where))} && {chain}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _populated(path: Path) -> Journal:
    journal = Journal.create(path, {"name": "Q3 move", "source_url": "https://octopus.example.internal"})
    journal.set_settings(destination_url="https://octowiz-demo.octopus.app", destination_space="Spaces-1")
    journal.set_step("connect", "done")
    for i in range(40):
        journal.set_item("project", f"Projects-{i}", "export", "done", {"task": f"ServerTasks-{i}"})
        action = journal.begin_action("import", "import-project", f"Projects-{i}", {"wave": 1})
        journal.finish_action(action, "done", id_map={f"Projects-{i}": ("project", f"Projects-{i + 100}")})
    return journal


def _closed_journal(path: Path) -> Path:
    _populated(path).close()
    # Closed cleanly, everything is checkpointed into the one file: what a backup would copy.
    assert not path.with_name(path.name + "-wal").exists()
    return path


# -- 1. round trip ----------------------------------------------------------------------------------


def test_everything_recorded_comes_back_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "Q3 move.octowiz.sqlite3"
    journal = Journal.create(path, {"name": "Q3 move", "source_url": "https://octopus.example.internal"})
    journal.set_settings(destination_url="https://octowiz-demo.octopus.app", spaces=["Spaces-1", "Spaces-2"])
    journal.set_step("connect", "done")
    journal.set_step("export", "in progress", "2 of 5 projects")
    journal.set_item("project", "Projects-2", "export", "done", {"task": "ServerTasks-9"})
    journal.set_item("project", "Projects-1", "export", "in progress")
    exported = journal.begin_action(
        "import", "import-project", "Projects-1", {"package": "Projects-1.zip"}, undo={"delete": "Projects-1"}
    )
    journal.finish_action(
        exported,
        "done",
        {"warnings": 0},
        task_id="ServerTasks-12",
        id_map={"Projects-1": ("project", "Projects-7"), "Environments-1": ("environment", "Environments-3")},
    )
    pending = journal.begin_action("import", "import-project", "Projects-2", {"package": "Projects-2.zip"})

    # One transaction per fact: another reader sees the intent at once, not at close.
    with Journal.open(path, lock=False) as reader:
        assert [(a.id, a.pending) for a in reader.actions()] == [(pending, True), (exported, False)]

    journal.close()
    with Journal.open(path) as journal:
        assert journal.schema_version == SCHEMA_VERSION
        settings = journal.settings
        created_at = settings.pop("created_at")
        assert settings == {
            "name": "Q3 move",
            "source_url": "https://octopus.example.internal",
            "destination_url": "https://octowiz-demo.octopus.app",
            "spaces": ["Spaces-1", "Spaces-2"],
        }
        steps = journal.steps()
        assert {step: (status, detail) for step, (status, detail, _) in steps.items()} == {
            "connect": ("done", None),
            "export": ("in progress", "2 of 5 projects"),
        }
        assert journal.step_status("export") == "in progress"
        assert journal.step_status("deprecate") == "not started"
        assert journal.items() == [
            ("project", "Projects-1", "export", "in progress", None),
            ("project", "Projects-2", "export", "done", {"task": "ServerTasks-9"}),
        ]
        newest, oldest = journal.actions()
        assert (newest.id, newest.target, newest.pending, newest.outcome) == (
            pending,
            "Projects-2",
            True,
            None,
        )
        assert (newest.intent, newest.undo, newest.finished_at) == ({"package": "Projects-2.zip"}, None, None)
        assert (oldest.id, oldest.outcome, oldest.task_id, oldest.detail) == (
            exported,
            "done",
            "ServerTasks-12",
            {"warnings": 0},
        )
        assert oldest.undo == {"delete": "Projects-1"}
        assert oldest.finished_at is not None and oldest.finished_at >= oldest.started_at
        assert journal.actions(limit=1) == [newest]
        assert journal.id_map() == {"Projects-1": "Projects-7", "Environments-1": "Environments-3"}
        assert journal.id_map("environment") == {"Environments-1": "Environments-3"}
        assert journal.last_activity == max(
            created_at, newest.started_at, oldest.finished_at, steps["export"][2]
        )


def test_a_second_create_refuses_an_existing_journal(tmp_path: Path) -> None:
    path = _closed_journal(tmp_path / "m.octowiz.sqlite3")
    before = _digest(path)
    with pytest.raises(JournalError) as caught:
        Journal.create(path, {"name": "again"})
    assert str(caught.value) == f"A migration journal already exists at {path}: choose another name."
    assert _digest(path) == before


def test_an_unknown_step_status_is_refused(tmp_path: Path) -> None:
    with Journal.create(tmp_path / "m.octowiz.sqlite3", {"name": "m"}) as journal:
        with pytest.raises(ValueError, match="unknown step status 'finished'"):
            journal.set_step("connect", "finished")
        assert journal.steps() == {}


# -- 2. secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["api_key", "source_api_key", "ApiKey", "DESTINATION_API_KEY", "password", "export_password"]
)
def test_secrets_are_refused_and_leave_no_trace(tmp_path: Path, name: str) -> None:
    path = tmp_path / "m.octowiz.sqlite3"
    with _populated(path) as journal:
        before = journal.settings
        with pytest.raises(ValueError, match="^secrets are never written to the journal$"):
            journal.set_settings(**{"name": "renamed", name: SECRET})
        # All or nothing: the harmless setting beside the secret was not written either.
        assert journal.settings == before
        journal.set_step("export", "in progress")
        on_disk = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    on_disk |= {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert path.name in on_disk
    assert [file for file, data in on_disk.items() if SECRET.encode() in data] == []


def test_create_refuses_a_secret_among_its_settings(tmp_path: Path) -> None:
    path = tmp_path / "m.octowiz.sqlite3"
    with pytest.raises(ValueError, match="secrets are never written"):
        Journal.create(path, {"name": "m", "api_key": SECRET}).close()
    assert not path.exists() or SECRET.encode() not in path.read_bytes()


# -- 3. and 4. the lock -----------------------------------------------------------------------------


def test_a_held_migration_names_its_holder_and_opens_once_released(tmp_path: Path) -> None:
    path = _closed_journal(tmp_path / "m.octowiz.sqlite3")
    with _spawn(HOLDER, str(path)) as holder:
        assert _first_line(holder) == "locked"
        info = json.loads(_lock_file(path).read_text())
        assert (info["pid"], info["host"]) == (holder.pid, socket.gethostname())

        with pytest.raises(JournalLocked) as caught:
            Journal.open(path)
        assert str(caught.value) == (
            f"This migration is open in another octowiz (process {holder.pid} on {socket.gethostname()}, "
            f"since {info['since']}): close that one first."
        )
        # A review (octowiz status) does not take the lock, so it still reads.
        with Journal.open(path, lock=False) as review:
            assert review.step_status("connect") == "done"

        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0

    with Journal.open(path) as journal:
        assert journal.took_over_from is None
        assert json.loads(_lock_file(path).read_text())["pid"] == os.getpid()
    assert _lock_file(path).read_bytes() == b""


def test_the_lock_of_a_killed_run_is_taken_over_and_names_it(tmp_path: Path) -> None:
    path = _closed_journal(tmp_path / "m.octowiz.sqlite3")
    with _spawn(HOLDER, str(path)) as holder:
        assert _first_line(holder) == "locked"
        os.kill(holder.pid, signal.SIGKILL)
        assert holder.wait(timeout=30) == -signal.SIGKILL

    left_behind = json.loads(_lock_file(path).read_text())
    assert (left_behind["pid"], left_behind["host"]) == (holder.pid, socket.gethostname())
    with Journal.open(path) as journal:
        assert journal.took_over_from == left_behind
        assert journal.step_status("connect") == "done"
        assert json.loads(_lock_file(path).read_text())["pid"] == os.getpid()


# -- 5. SIGKILL in the middle of writing ------------------------------------------------------------


def test_a_kill_in_the_middle_of_writing_leaves_whole_facts(tmp_path: Path) -> None:
    path = tmp_path / "m.octowiz.sqlite3"
    Journal.create(path, {"name": "m"}).close()
    with _spawn(WRITER, str(path)) as writer:
        assert _first_line(writer) == "started"
        os.kill(writer.pid, signal.SIGKILL)
        assert writer.wait(timeout=30) == -signal.SIGKILL

    with Journal.open(path) as journal:
        assert journal.took_over_from is not None and journal.took_over_from["pid"] == writer.pid
        actions = sorted(journal.actions(), key=lambda a: a.id)
        items = {item_id: status for _, item_id, _, status, _ in journal.items()}
        mapped = journal.id_map("project")
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        half_rows = "SELECT COUNT(*) FROM actions WHERE (outcome IS NULL) != (finished_at IS NULL)"
        assert db.execute(half_rows).fetchone()[0] == 0

    count = len(actions)
    assert count >= 500
    assert [a.id for a in actions] == list(range(1, count + 1))
    for action in actions[:-1]:
        assert (action.outcome, action.task_id, action.detail) == (
            "done",
            f"ServerTasks-{action.id}",
            {"n": action.id},
        )
        assert items[action.target] == "done"
        assert mapped[action.target] == f"Projects-{action.id + 1_000_000}"
    last = actions[-1]
    assert last.intent == {"project": last.target} and last.undo == {"delete": last.target}
    if last.pending:
        # Killed between the intent and the outcome: the intent is there, nothing of the outcome.
        assert (last.finished_at, last.task_id, last.detail) == (None, None, None)
        assert last.target not in mapped
        assert items.get(last.target) in (None, "in progress")
    else:
        assert (last.outcome, last.task_id) == ("done", f"ServerTasks-{last.id}")
        assert mapped[last.target] == f"Projects-{last.id + 1_000_000}"
        assert items[last.target] in ("in progress", "done")
    assert len(mapped) == count - last.pending
    assert len(items) in (count - 1, count)
    assert set(items) <= {a.target for a in actions}


# -- 6. and 7. files octowiz must not touch ---------------------------------------------------------


def test_random_bytes_are_a_damaged_journal_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "m.octowiz.sqlite3"
    path.write_bytes(random.Random(1234).randbytes(16384))
    before = _digest(path)
    for lock in (True, True, False):  # twice: a failed open gives its lock back
        with pytest.raises(JournalError) as caught:
            Journal.open(path, lock=lock)
        assert (
            str(caught.value)
            == f"The journal {path.name} is damaged (it is not a SQLite database); {DAMAGED}"
        )
    assert _digest(path) == before


@pytest.mark.parametrize("keep", ["half", "100 bytes"])
def test_a_truncated_journal_is_damaged_and_left_untouched(tmp_path: Path, keep: str) -> None:
    whole = _closed_journal(tmp_path / "whole.octowiz.sqlite3").read_bytes()
    path = tmp_path / "m.octowiz.sqlite3"
    path.write_bytes(whole[: len(whole) // 2 if keep == "half" else 100])
    before = _digest(path)
    for lock in (True, True, False):
        with pytest.raises(JournalError) as caught:
            Journal.open(path, lock=lock)
        said = str(caught.value)
        assert said.startswith(f"The journal {path.name} is damaged (")
        assert said.endswith(DAMAGED)
    assert _digest(path) == before


NEWER = (
    f"The journal m.octowiz.sqlite3 was written by a newer octowiz (journal schema {SCHEMA_VERSION + 1}, "
    f"this octowiz understands up to {SCHEMA_VERSION}): upgrade octowiz to open it."
)
FOREIGN = (
    "The journal m.octowiz.sqlite3 is not an octowiz journal (it has no schema); octowiz left it untouched."
)


@pytest.mark.parametrize(
    ("version", "sentence"), [(SCHEMA_VERSION + 1, NEWER), (0, FOREIGN)], ids=["newer", "foreign"]
)
def test_a_journal_this_octowiz_cannot_read_is_left_untouched(
    tmp_path: Path, version: int, sentence: str
) -> None:
    path = _closed_journal(tmp_path / "m.octowiz.sqlite3")
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute(f"PRAGMA user_version = {version}")
    before = _digest(path)
    for lock in (True, False):
        with pytest.raises(JournalError) as caught:
            Journal.open(path, lock=lock)
        assert str(caught.value) == sentence
    assert _digest(path) == before


# -- 8. schema migration ----------------------------------------------------------------------------


def test_a_version_1_journal_is_migrated_forward_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.octowiz.sqlite3"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN")
        MIGRATIONS[0](db)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO meta(key, value) VALUES ('created_by', '0.0.1')")
        db.execute("INSERT INTO settings(key, value) VALUES ('name', '\"old\"')")
        db.execute("INSERT INTO steps VALUES ('connect', 'done', 'checked', '2025-01-02T03:04:05+00:00')")
        db.execute("COMMIT")
        assert db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name='items'").fetchone()[0] == 0

    with Journal.open(path) as journal:
        assert journal.schema_version == SCHEMA_VERSION
        assert journal.settings == {"name": "old"}
        assert journal.steps() == {"connect": ("done", "checked", "2025-01-02T03:04:05+00:00")}
        journal.set_item("project", "Projects-1", "export", "done")
    with Journal.open(path) as journal:  # a second open finds nothing left to migrate
        assert journal.schema_version == SCHEMA_VERSION
        assert journal.items() == [("project", "Projects-1", "export", "done", None)]
        assert journal.step_status("connect") == "done"
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT key, value FROM meta").fetchall() == [("created_by", "0.0.1")]


# -- 9. a read-only directory -----------------------------------------------------------------------


def _read_only_run(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """What octowiz says about a journal whose directory is read-only.

    Root ignores permission bits (chmod 0o500 would not stop a single write), so as root the directory
    is a tmpfs remounted read-only inside a private mount namespace: the kernel refuses with EROFS,
    root or not. Elsewhere (CI runs as a user) chmod 0o500 makes it genuinely read-only.
    """
    base = tmp_path / "home"
    base.mkdir()
    if os.geteuid() == 0:
        if not _private_mounts():
            pytest.skip("running as root without the right to mount: no directory is read-only to root here")
        run = _in_tmpfs(base, "1m", _python(READ_ONLY, str(base), "remount"))
    else:
        try:
            run = subprocess.run(
                _python(READ_ONLY, str(base), "chmod"), capture_output=True, text=True, timeout=60
            )
        finally:
            with contextlib.suppress(FileNotFoundError):
                (base / "migrations").chmod(0o700)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return base / "migrations", json.loads(run.stdout)


def test_a_read_only_directory_is_a_sentence(tmp_path: Path) -> None:
    folder, said = _read_only_run(tmp_path)
    cannot_write = (
        f"octowiz cannot write to {folder}: check that the directory is writable by you "
        "(or set OCTOWIZ_HOME to a writable directory)."
    )
    assert said["create"] == cannot_write
    assert said["open"] == cannot_write


def test_a_journal_in_a_read_only_directory_can_still_be_reviewed(tmp_path: Path) -> None:
    _, said = _read_only_run(tmp_path)
    assert said["review"] == "opened"


def test_a_journal_under_a_file_is_a_sentence(tmp_path: Path) -> None:
    # The path's parent is a regular file, so no directory can be made there (root or not).
    blocker = tmp_path / "state"
    blocker.write_text("not a directory")
    path = blocker / "migrations" / "m.octowiz.sqlite3"
    with pytest.raises(JournalError) as caught:
        Journal.create(path, {"name": "m"})
    assert str(caught.value) == (
        f"octowiz cannot write to {path.parent}: check that the directory is writable by you "
        "(or set OCTOWIZ_HOME to a writable directory)."
    )
    assert blocker.read_text() == "not a directory"


# -- 10. a full disk --------------------------------------------------------------------------------


def test_a_file_size_limit_mid_run_is_a_sentence_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m.octowiz.sqlite3"
    with Journal.create(path, {"name": "m"}) as journal:
        journal.set_step("connect", "done")
    run = subprocess.run(_python(FILL, str(path), "rlimit"), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["error"] == (
        f"octowiz could not write to the journal in {tmp_path}: the disk may be full or a file-size limit "
        "reached. Free some space and try again (nothing recorded was lost)."
    )
    assert report["committed"] > 0

    with Journal.open(path) as journal:
        assert journal.items() == sorted(
            ("project", f"Projects-{i}", "export", "done", {"note": "x" * 500})
            for i in range(report["committed"])
        )
        assert journal.step_status("connect") == "done"
        journal.set_item("project", "after", "export", "done")  # with room again, it records
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"


def test_a_full_disk_is_a_sentence_and_loses_nothing(tmp_path: Path) -> None:
    if not _private_mounts():
        pytest.skip("a small tmpfs needs root with the right to mount (the file-size test covers the rest)")
    disk = tmp_path / "disk"
    disk.mkdir()
    path = disk / "m.octowiz.sqlite3"
    # Both runs share the one tmpfs: it lives only as long as this namespace.
    run = _in_tmpfs(disk, "256k", _python(FILL, str(path), "tmpfs"), _python(REREAD, str(path)))
    assert run.returncode == 0, run.stderr
    filled, reread = (json.loads(line) for line in run.stdout.splitlines())
    assert filled["error"] == (
        f"The disk holding {disk} is full: free some space and try again (nothing recorded was lost)."
    )
    assert filled["committed"] > 0
    assert reread == {
        "items": sorted(f"Projects-{i}" for i in range(filled["committed"])),
        "quick_check": "ok",
    }


# -- 11. names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "  ", ".", "..", "a/b", "a\\b", ".hidden", "../escape"])
def test_a_name_that_is_not_a_plain_file_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(JournalError) as caught:
        journal_path(tmp_path, name)
    assert (
        str(caught.value) == f"'{name}' cannot be a migration name: use letters, digits, spaces, '-' or '_'."
    )


def test_a_plain_name_is_a_journal_in_the_migrations_directory(tmp_path: Path) -> None:
    path = journal_path(tmp_path, " Q3 move_2-b ")
    assert path == tmp_path / "Q3 move_2-b.octowiz.sqlite3"
    assert migration_name(path) == "Q3 move_2-b"
    assert list(list_migrations(tmp_path / "missing")) == []
    Journal.create(path, {"name": "Q3 move_2-b"}).close()
    assert list(list_migrations(tmp_path)) == [path]


# -- 12. the command line -----------------------------------------------------------------------------


def _octowiz(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCTOWIZ_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "octowiz", *args], capture_output=True, text=True, env=env, timeout=60
    )


DEMO_URLS = (
    "--source",
    "https://octopus.example.internal",
    "--destination",
    "https://octowiz-demo.octopus.app",
)


def test_new_and_status_from_the_command_line(tmp_path: Path) -> None:
    created = _octowiz(tmp_path, "--demo", "new", "Q3 move", *DEMO_URLS)
    assert created.returncode == 0, created.stderr
    path = tmp_path / "state" / "demo" / "migrations" / "Q3 move.octowiz.sqlite3"
    assert created.stdout.splitlines()[-1] == f"Created the migration 'Q3 move' ({path})."
    assert "[ok] Reachable: Octopus" in created.stdout

    as_json = _octowiz(tmp_path, "--demo", "status", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert (report["name"], report["journal"], report["actions"]) == ("Q3 move", str(path), [])
    assert report["settings"]["source_url"] == "https://octopus.example.internal"
    assert report["settings"]["destination_url"] == "https://octowiz-demo.octopus.app"
    assert [(s["id"], s["status"]) for s in report["steps"]][0] == ("connect", "done")

    as_text = _octowiz(tmp_path, "--demo", "status", "Q3 move", "--format", "text")
    assert as_text.returncode == 0, as_text.stderr
    lines = as_text.stdout.splitlines()
    assert lines[0] == f"Migration Q3 move  ({path})"
    assert "  Connect        done" in lines
    assert "  none: no changes were made to either instance yet" in lines

    as_markdown = _octowiz(tmp_path, "--demo", "status", "--format", "markdown")
    assert as_markdown.returncode == 0, as_markdown.stderr
    assert as_markdown.stdout.startswith("# Migration Q3 move\n")
    assert any(line.startswith("| Connect | done | ") for line in as_markdown.stdout.splitlines())

    # The demo's keys reached both simulated instances, and none of them reached the disk.
    keys = [SERVER_ADMIN.api_key.encode(), CLOUD_MANAGER.api_key.encode()]
    written = [p for p in path.parent.iterdir() if any(key in p.read_bytes() for key in keys)]
    assert written == []

    again = _octowiz(tmp_path, "--demo", "new", "Q3 move", *DEMO_URLS)
    assert again.returncode == 1
    assert f"octowiz: A migration journal already exists at {path}: choose another name.\n" in again.stderr


def test_status_of_a_missing_migration_is_one_sentence(tmp_path: Path) -> None:
    nothing_yet = _octowiz(tmp_path, "status")
    assert (nothing_yet.returncode, nothing_yet.stdout) == (1, "")
    assert nothing_yet.stderr == "There are no migrations yet: start one with 'octowiz' or 'octowiz new'.\n"

    missing = _octowiz(tmp_path, "status", "nope")
    assert (missing.returncode, missing.stdout) == (1, "")
    expected = tmp_path / "state" / "migrations" / "nope.octowiz.sqlite3"
    assert missing.stderr == f"octowiz: There is no migration journal at {expected}.\n"
    assert "Traceback" not in missing.stderr

    bad_name = _octowiz(tmp_path, "status", "../etc")
    assert bad_name.returncode == 1
    assert bad_name.stderr == (
        "octowiz: '../etc' cannot be a migration name: use letters, digits, spaces, '-' or '_'.\n"
    )


def test_status_piped_into_a_reader_that_stops_early_is_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "OCTOWIZ_HOME": str(tmp_path)}
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "octowiz",
            "--demo",
            "new",
            "pipe",
            "--source",
            "https://octopus.example.internal",
            "--destination",
            "https://octowiz-demo.octopus.app",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    status = subprocess.Popen(
        [sys.executable, "-m", "octowiz", "--demo", "status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert status.stdout is not None
    status.stdout.close()  # the reader is gone before octowiz writes, like `| head -0`
    _, err = status.communicate(timeout=60)
    assert b"Traceback" not in err


def test_threads_sharing_one_journal_never_interleave_transactions(tmp_path: Path) -> None:
    # The wizard's threads and a wave's concurrent package copies write through one journal.
    journal = Journal.create(tmp_path / "m.octowiz.sqlite3", {"name": "m"})
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(100):
                action = journal.begin_action("migrate", "copy-package", f"{n}-{i}", {"i": i})
                journal.finish_action(action, "done")
                journal.items()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(journal.actions()) == 400 and all(a.outcome == "done" for a in journal.actions())
    journal.close()


def test_many_items_are_recorded_in_one_transaction(tmp_path: Path) -> None:
    with Journal.create(tmp_path / "j.sqlite3", {"name": "t"}) as journal:
        journal.set_items([("machine", f"Machines-{i}", "cloud", "missing", {"n": i}) for i in range(500)])
        journal.set_items([])
        rows = journal.items("machine")
        assert len(rows) == 500 and rows[0][3] == "missing" and rows[0][4] is not None
        assert journal.item_status("machine", "Machines-7", "cloud") == ("missing", {"n": 7})


def test_a_scan_is_stored_as_the_same_json_text_encoded_in_pieces(tmp_path: Path) -> None:
    # Long lists are encoded member by member (the C encoder holds the GIL for a whole call, freezing
    # the wizard while a big scan is written): the text must be exactly json.dumps's.
    from octowiz.journal.journal import json_in_pieces

    findings = [
        {"rule": f"r{i}", "items": [{"name": f"é{j}", "n": j * 1.5} for j in range(3)]} for i in range(100)
    ]
    scan = {"findings": findings, "projects": [{"id": f"Projects-{i}", "ok": i % 2 == 0} for i in range(50)]}
    samples: list[object] = [
        scan,
        {"short": [1, 2, 3], "nested": {"deep": list(range(40)), "none": None}},
        {1: "int keys", "2": [True, False]},
        list(range(100)),
        "just a string",
        {},
        [],
    ]
    for value in samples:
        assert json_in_pieces(value) == json.dumps(value)
    with Journal.create(tmp_path / "j.db", {"name": "j"}) as journal:
        journal.record_scan("readiness", scan)
        assert journal.latest_scan("readiness") == (journal.latest_scan("readiness") or ("", {}))[:1] + (
            scan,
        )
