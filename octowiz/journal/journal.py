"""The migration journal: one SQLite database per migration, the source of truth for resuming.

Every recorded fact is one transaction (WAL mode), so a process killed at any instant leaves a
journal that opens and says exactly what was done. Before every mutating request the caller writes
an *intent* (what it is about to do, and how to undo it); after, the *outcome* (with task ids and the
source-to-destination id map). A lock file held with ``flock`` keeps two runs off one migration; the
operating system releases it when its holder dies, even by SIGKILL, so a stale lock is simply taken.

The journal never holds an API key or an export password.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octowiz import __version__

#: The schema this octowiz writes. Older journals are migrated forward on open.
SCHEMA_VERSION = 3

STEP_STATUSES = ("not started", "in progress", "needs attention", "done")


def json_in_pieces(value: Any) -> str:
    """``json.dumps(value)``, the same text, the members of long lists (inside dicts) encoded one by one.

    The C encoder keeps the GIL for a whole call: one large scan result (thousands of findings) took
    50-70 ms, and the wizard's UI thread, waiting for the GIL while the journal wrote on a thread,
    froze for as long. Between members the interpreter can switch threads.
    """
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return "{" + ", ".join(f"{json.dumps(k)}: {json_in_pieces(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list) and len(value) > 32:
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    return json.dumps(value)


class JournalError(Exception):
    """A journal that cannot be used, with a sentence saying why and what to do."""


class JournalLocked(JournalError):
    """Another octowiz process holds the migration."""


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run DDL statements inside the caller's transaction (``executescript`` would commit it)."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE steps (step TEXT PRIMARY KEY, status TEXT NOT NULL, detail TEXT, """
        """updated_at TEXT NOT NULL);
        CREATE TABLE actions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            step TEXT NOT NULL,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            intent TEXT NOT NULL,
            undo TEXT,
            outcome TEXT,
            detail TEXT,
            task_id TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE TABLE idmap (
            kind TEXT NOT NULL, source_id TEXT NOT NULL, destination_id TEXT NOT NULL,
            PRIMARY KEY (kind, source_id)
        );
        """,
    )


def _v2(db: sqlite3.Connection) -> None:
    # Per-item stage status (a project's export, import, packages...), added for waves.
    _script(
        db,
        """
        CREATE TABLE items (
            kind TEXT NOT NULL, item_id TEXT NOT NULL, stage TEXT NOT NULL, status TEXT NOT NULL,
            detail TEXT, updated_at TEXT NOT NULL,
            PRIMARY KEY (kind, item_id, stage)
        );
        CREATE TABLE plan (
            wave TEXT NOT NULL, kind TEXT NOT NULL, item_id TEXT NOT NULL, position INTEGER NOT NULL,
            PRIMARY KEY (wave, kind, item_id)
        );
        """,
    )


def _v3(db: sqlite3.Connection) -> None:
    # Scan results (readiness, connectivity, users) with the time they were measured.
    _script(
        db,
        """
        CREATE TABLE scans (
            id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, at TEXT NOT NULL, result TEXT NOT NULL
        );
        CREATE INDEX scans_kind ON scans(kind, id)
        """,
    )


#: ``MIGRATIONS[i]`` takes a journal from schema ``i`` to ``i + 1``.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3]
assert len(MIGRATIONS) == SCHEMA_VERSION


def now() -> str:
    """The time, as the journal records it (UTC, ISO 8601, seconds)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Action:
    """One journaled action: the intent written before a mutating request, its outcome after."""

    id: int
    step: str
    kind: str
    target: str
    intent: dict[str, Any]
    undo: dict[str, Any] | None
    outcome: str | None
    detail: dict[str, Any] | None
    task_id: str | None
    started_at: str
    finished_at: str | None

    @property
    def pending(self) -> bool:
        """True when the intent was written but no outcome: the process stopped mid-request."""
        return self.outcome is None


def _refuse_secrets(values: dict[str, Any]) -> None:
    """API keys and passwords never go into the journal."""
    if any(("key" in k.lower() and "api" in k.lower()) or "password" in k.lower() for k in values):
        raise ValueError("secrets are never written to the journal")


def _sentence(exc: BaseException, path: Path) -> JournalError:
    text = str(exc).lower()
    if (
        isinstance(exc, OSError)
        and exc.errno in (errno.ENOSPC, errno.EFBIG)
        or "disk is full" in text
        or ("file too large" in text)
    ):
        return JournalError(
            f"The disk holding {path.parent} is full: free some space and try again "
            "(nothing recorded was lost)."
        )
    if isinstance(exc, sqlite3.Error) and exc.sqlite_errorname == "SQLITE_IOERR_WRITE":
        # SQLite calls only ENOSPC "full"; a file-size limit (EFBIG), a quota or a failing disk all
        # surface as this write error, without the errno. The transaction was rolled back.
        return JournalError(
            f"octowiz could not write to the journal in {path.parent}: the disk may be full or a file-size "
            "limit reached. Free some space and try again (nothing recorded was lost)."
        )
    if (
        isinstance(exc, PermissionError)
        or "readonly" in text
        or "read-only" in text
        or (
            isinstance(exc, OSError)
            and exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM, errno.ENOTDIR, errno.EEXIST)
        )
    ):
        return JournalError(
            f"octowiz cannot write to {path.parent}: check that the directory is writable by you "
            "(or set OCTOWIZ_HOME to a writable directory)."
        )
    if "unable to open" in text:
        return JournalError(
            f"octowiz cannot open the journal {path}: check that {path.parent} exists and is writable."
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return JournalError(
            f"The journal {path.name} is damaged ({exc}); octowiz left it untouched. Restore it from a "
            "backup, or delete the migration and start again."
        )
    return JournalError(f"The journal {path} could not be used: {exc}.")


class MigrationLock:
    """An exclusive lock on a migration, held with ``flock`` on ``<journal>.lock``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.took_over_from: dict[str, Any] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`JournalLocked` naming the holder."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise _sentence(exc, self.path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read(fd)
            os.close(fd)
            raise JournalLocked(
                f"This migration is open in another octowiz (process {holder.get('pid', '?')} on "
                f"{holder.get('host', 'another host')}, since {holder.get('since', '?')}): "
                "close that one first."
            ) from None
        previous = self._read(fd)
        if previous.get("pid"):
            # The file names a holder, but the lock was free: that process ended without releasing
            # it (killed, crashed). Its journal is consistent; we take over.
            self.took_over_from = previous
        info = {"host": socket.gethostname(), "pid": os.getpid(), "since": now(), "octowiz": __version__}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    @staticmethod
    def _read(fd: int) -> dict[str, Any]:
        try:
            data = os.pread(fd, 4096, 0)
            value = json.loads(data) if data else {}
            return value if isinstance(value, dict) else {}
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        """Give the lock back (the file stays, empty)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class Journal:
    """One migration's journal.

    Use :meth:`create` for a new migration and :meth:`open` for an existing one; both lock it
    unless ``lock=False`` (read-only reviews and ``octowiz status`` do not lock).
    """

    def __init__(
        self, path: Path, db: sqlite3.Connection, lock: MigrationLock | None, read_only: bool = False
    ) -> None:
        self.path = path
        self._db = db
        self._lock = lock
        #: True when opened with ``read_only=True`` (a review): every write raises :class:`JournalError`.
        self.read_only = read_only
        # One connection serves the UI's threads and a wave's concurrent copies: one statement or
        # transaction at a time, so two transactions never interleave on it.
        self._guard = threading.RLock()

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, settings: dict[str, Any]) -> Journal:
        """Create a new journal; refuses to touch an existing file."""
        _refuse_secrets(settings)
        if path.exists():
            raise JournalError(f"A migration journal already exists at {path}: choose another name.")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _sentence(exc, path) from None
        lock = MigrationLock(path.with_name(path.name + ".lock"))
        lock.acquire()  # JournalLocked: another run is creating this very name; leave its files alone
        journal: Journal | None = None
        try:
            journal = cls._connect(path, lock=False, create=True)
            journal._lock = lock
            journal._write(
                lambda db: db.executemany(
                    "INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in {**settings, "created_at": now()}.items()],
                )
            )
        except BaseException:
            # Half made (a full disk, a kill signal turned exception): nothing was recorded in it yet,
            # and a half-made file would read as a damaged migration and hold the name. Remove it.
            if journal is not None:
                journal.close()
            for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            with contextlib.suppress(OSError):
                lock.path.unlink()
            lock.release()
            raise
        return journal

    @classmethod
    def open(cls, path: Path, *, lock: bool = True, read_only: bool = False) -> Journal:
        """Open an existing journal, migrating its schema forward if it is older.

        Args:
            lock: take the migration's lock (a run); False for ``octowiz status`` and reviews.
            read_only: open the database read-only (SQLite ``mode=ro``, never migrated forward) and make
                every write method raise :class:`JournalError`: a review writes nothing. Never locks.
        """
        if not path.exists():
            raise JournalError(f"There is no migration journal at {path}.")
        if read_only:
            return cls._connect(path, lock=False, create=False, read_only=True)
        return cls._connect(path, lock=lock, create=False)

    @classmethod
    def _connect(cls, path: Path, *, lock: bool, create: bool, read_only: bool = False) -> Journal:
        held: MigrationLock | None = None
        if lock:
            held = MigrationLock(path.with_name(path.name + ".lock"))
            held.acquire()
        try:
            if not create:
                with path.open("rb") as f:
                    head = f.read(16)
                if head != b"SQLite format 3\x00":
                    raise JournalError(
                        f"The journal {path.name} is damaged (it is not a SQLite database); octowiz left it "
                        "untouched. Restore it from a backup, or delete the migration and start again."
                    )
            uri = f"file:{path}?mode={'ro' if read_only else 'rwc' if create else 'rw'}"
            db: sqlite3.Connection | None = None
            try:
                db = sqlite3.connect(uri, uri=True, timeout=5, isolation_level=None, check_same_thread=False)
                journal = cls(path, db, held, read_only)
                journal._prepare(create, read_only=read_only)
                return journal
            except sqlite3.OperationalError:
                if db is not None:
                    db.close()
                if create or lock:
                    raise
                # A review of a journal in a read-only directory: WAL needs a -shm file it cannot create,
                # so read the file as immutable. A clean close leaves no -wal, so nothing is missed.
                db = sqlite3.connect(
                    f"file:{path}?mode=ro&immutable=1",
                    uri=True,
                    timeout=5,
                    isolation_level=None,
                    check_same_thread=False,
                )
                journal = cls(path, db, held, read_only)
                try:
                    journal._prepare(create, read_only=True)
                except BaseException:
                    db.close()
                    raise
                return journal
            except BaseException:
                if db is not None:
                    db.close()
                raise
        except (sqlite3.Error, OSError) as exc:
            if held is not None:
                held.release()
            raise _sentence(exc, path) from None
        except JournalError:
            if held is not None:
                held.release()
            raise

    def _prepare(self, create: bool, read_only: bool = False) -> None:
        db = self._db
        if not create:
            result = db.execute("PRAGMA quick_check").fetchone()
            if not result or result[0] != "ok":
                raise JournalError(
                    f"The journal {self.path.name} is damaged "
                    f"({result[0] if result else 'unreadable'}); octowiz "
                    "left it untouched. Restore it from a backup, or delete the migration and start again."
                )
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"The journal {self.path.name} was written by a newer octowiz "
                f"(journal schema {version}, this "
                f"octowiz understands up to {SCHEMA_VERSION}): upgrade octowiz to open it."
            )
        if not create and version == 0:
            raise JournalError(
                f"The journal {self.path.name} is not an octowiz journal (it has no schema); octowiz left it "
                "untouched."
            )
        if version < SCHEMA_VERSION and read_only and self.read_only:
            raise JournalError(
                f"The journal {self.path.name} needs upgrading to this octowiz's schema, which a read-only "
                "review never does: resume the migration once to upgrade it, then review it."
            )
        if version < SCHEMA_VERSION and read_only:
            raise JournalError(
                f"The journal {self.path.name} needs upgrading to this octowiz's schema, "
                f"but {self.path.parent} is "
                "read-only: open it once where it can be written."
            )
        if version < SCHEMA_VERSION:
            with contextlib.suppress(sqlite3.OperationalError):
                db.execute("PRAGMA journal_mode=WAL")
            for step in range(version, SCHEMA_VERSION):
                db.execute("BEGIN IMMEDIATE")
                try:
                    MIGRATIONS[step](db)
                    db.execute(f"PRAGMA user_version = {step + 1}")
                    if step == 0:
                        db.execute("INSERT INTO meta(key, value) VALUES ('created_by', ?)", (__version__,))
                    db.execute("COMMIT")
                except BaseException:
                    # A failed COMMIT (a full disk) has rolled back already: the original error matters.
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
        if not read_only:
            db.execute("PRAGMA synchronous=FULL")

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run one recorded fact as one transaction (every write method comes through here)."""
        if self.read_only:
            raise JournalError("This journal is open read-only (a review): nothing is written.")
        try:
            with self._guard:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(self._db)
                    self._db.execute("COMMIT")
                    return result
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                    raise
        except (sqlite3.Error, OSError) as exc:
            raise _sentence(exc, self.path) from None

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._guard:
                return list(self._db.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise _sentence(exc, self.path) from None

    def close(self) -> None:
        """Close the database and release the lock."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def took_over_from(self) -> dict[str, Any] | None:
        """The holder of a stale lock this journal took over, if any."""
        return self._lock.took_over_from if self._lock else None

    # -- settings --------------------------------------------------------------------------------

    @property
    def settings(self) -> dict[str, Any]:
        """The migration's settings (names, URLs, spaces; never keys)."""
        return {k: json.loads(v) for k, v in self._read("SELECT key, value FROM settings")}

    def set_settings(self, **values: Any) -> None:
        """Record settings, all in one transaction."""
        _refuse_secrets(values)
        self._write(
            lambda db: db.executemany(
                "INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in values.items()],
            )
        )

    @property
    def schema_version(self) -> int:
        """The journal's schema version."""
        return int(self._read("PRAGMA user_version")[0][0])

    # -- steps -----------------------------------------------------------------------------------

    def set_step(self, step: str, status: str, detail: str | None = None) -> None:
        """Record a step's status."""
        if status not in STEP_STATUSES:
            raise ValueError(f"unknown step status {status!r}")
        self._write(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO steps(step, status, detail, updated_at) VALUES (?, ?, ?, ?)",
                (step, status, detail, now()),
            )
        )

    def steps(self) -> dict[str, tuple[str, str | None, str]]:
        """``step -> (status, detail, updated_at)``."""
        return {
            s: (st, d, u) for s, st, d, u in self._read("SELECT step, status, detail, updated_at FROM steps")
        }

    def step_status(self, step: str) -> str:
        """A step's status (``not started`` when never recorded)."""
        rows = self._read("SELECT status FROM steps WHERE step=?", (step,))
        return str(rows[0][0]) if rows else "not started"

    # -- items and plan --------------------------------------------------------------------------

    def set_item(
        self, kind: str, item_id: str, stage: str, status: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Record one item's status at one stage (a project's export, import, packages...)."""
        self._write(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO items(kind, item_id, stage, status, detail, updated_at) "
                "VALUES (?,?,?,?,?,?)",
                (kind, item_id, stage, status, json.dumps(detail) if detail is not None else None, now()),
            )
        )

    def set_items(self, rows: Sequence[tuple[str, str, str, str, dict[str, Any] | None]]) -> None:
        """Record many ``(kind, item_id, stage, status, detail)`` rows in ONE transaction (thousands of
        targets would otherwise be thousands of fsyncs)."""
        if not rows:
            return
        stamp = now()
        self._write(
            lambda db: db.executemany(
                "INSERT OR REPLACE INTO items(kind, item_id, stage, status, detail, updated_at) "
                "VALUES (?,?,?,?,?,?)",
                [(k, i, s, st, json.dumps(d) if d is not None else None, stamp) for k, i, s, st, d in rows],
            )
        )

    def items(self, kind: str | None = None) -> list[tuple[str, str, str, str, dict[str, Any] | None]]:
        """``(kind, item_id, stage, status, detail)`` rows."""
        sql = "SELECT kind, item_id, stage, status, detail FROM items"
        rows = self._read(
            sql + (" WHERE kind=?" if kind else "") + " ORDER BY kind, item_id, stage",
            (kind,) if kind else (),
        )
        return [(k, i, s, st, json.loads(d) if d else None) for k, i, s, st, d in rows]

    def set_wave(self, wave: str, project_ids: list[str]) -> None:
        """Make a named wave hold exactly ``project_ids``, in that order (an empty list removes it)."""

        def write(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM plan WHERE wave=? AND kind='project'", (wave,))
            db.executemany(
                "INSERT INTO plan(wave, kind, item_id, position) VALUES (?, 'project', ?, ?)",
                [(wave, pid, i) for i, pid in enumerate(dict.fromkeys(project_ids))],
            )

        self._write(write)

    def waves(self) -> dict[str, list[str]]:
        """``wave -> project ids``, waves by name ("wave 1", "wave 2"...), projects in planned order."""
        out: dict[str, list[str]] = {}
        rows = self._read("SELECT wave, item_id FROM plan WHERE kind='project' ORDER BY wave, position")
        for wave, item_id in rows:
            out.setdefault(str(wave), []).append(str(item_id))
        return out

    def item_status(self, kind: str, item_id: str, stage: str) -> tuple[str, dict[str, Any] | None] | None:
        """One item's ``(status, detail)`` at one stage, or None when never recorded."""
        rows = self._read(
            "SELECT status, detail FROM items WHERE kind=? AND item_id=? AND stage=?", (kind, item_id, stage)
        )
        return (str(rows[0][0]), json.loads(rows[0][1]) if rows[0][1] else None) if rows else None

    # -- actions ---------------------------------------------------------------------------------

    def begin_action(
        self, step: str, kind: str, target: str, intent: dict[str, Any], undo: dict[str, Any] | None = None
    ) -> int:
        """Write the intent of a mutating request before it is sent; returns the action id."""
        return int(
            self._write(
                lambda db: (
                    db.execute(
                        "INSERT INTO actions(step, kind, target, intent, undo, started_at) "
                        "VALUES (?,?,?,?,?,?)",
                        (step, kind, target, json.dumps(intent), json.dumps(undo) if undo else None, now()),
                    ).lastrowid
                )
            )
        )

    def finish_action(
        self,
        action_id: int,
        outcome: str,
        detail: dict[str, Any] | None = None,
        task_id: str | None = None,
        id_map: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        """Write an action's outcome, and any source-to-destination ids it produced, in one transaction."""

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE actions SET outcome=?, detail=?, task_id=COALESCE(?, task_id), finished_at=? "
                "WHERE id=?",
                (outcome, json.dumps(detail) if detail is not None else None, task_id, now(), action_id),
            )
            for source_id, (kind, destination_id) in (id_map or {}).items():
                db.execute(
                    "INSERT OR REPLACE INTO idmap(kind, source_id, destination_id) VALUES (?, ?, ?)",
                    (kind, source_id, destination_id),
                )

        self._write(write)

    def actions(self, limit: int | None = None, step: str | None = None) -> list[Action]:
        """Actions, newest first."""
        sql = (
            "SELECT id, step, kind, target, intent, undo, outcome, detail, task_id, started_at, finished_at "
            "FROM actions"
        )
        params: tuple[Any, ...] = ()
        if step:
            sql += " WHERE step=?"
            params = (step,)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [
            Action(
                i,
                s,
                k,
                t,
                json.loads(it),
                json.loads(u) if u else None,
                o,
                json.loads(d) if d else None,
                tid,
                sa,
                fa,
            )
            for i, s, k, t, it, u, o, d, tid, sa, fa in self._read(sql, params)
        ]

    # -- scans -----------------------------------------------------------------------------------

    def record_scan(self, kind: str, result: dict[str, Any], at: str | None = None) -> None:
        """Store a scan's result (readiness, connectivity, users) with when it was measured."""
        text = json_in_pieces(result)
        self._write(
            lambda db: db.execute(
                "INSERT INTO scans(kind, at, result) VALUES (?, ?, ?)", (kind, at or now(), text)
            )
        )

    def latest_scan(self, kind: str) -> tuple[str, dict[str, Any]] | None:
        """The newest scan of a kind: ``(at, result)``, or None."""
        rows = self._read("SELECT at, result FROM scans WHERE kind=? ORDER BY id DESC LIMIT 1", (kind,))
        return (str(rows[0][0]), json.loads(rows[0][1])) if rows else None

    def id_map(self, kind: str | None = None) -> dict[str, str]:
        """Source id → destination id."""
        sql = "SELECT source_id, destination_id FROM idmap" + (" WHERE kind=?" if kind else "")
        return {s: d for s, d in self._read(sql, (kind,) if kind else ())}

    @property
    def last_activity(self) -> str:
        """When anything was last recorded."""
        values = [
            self._read("SELECT MAX(COALESCE(finished_at, started_at)) FROM actions")[0][0],
            self._read("SELECT MAX(updated_at) FROM steps")[0][0],
            self.settings.get("created_at"),
        ]
        return max((str(v) for v in values if v), default="")


def journal_path(migrations_dir: Path, name: str) -> Path:
    """Where a migration's journal lives; refuses names that are not plain file names."""
    clean = name.strip()
    if not clean or clean in (".", "..") or "/" in clean or "\\" in clean or clean.startswith("."):
        raise JournalError(f"'{name}' cannot be a migration name: use letters, digits, spaces, '-' or '_'.")
    return migrations_dir / f"{clean}.octowiz.sqlite3"


def list_migrations(migrations_dir: Path) -> Iterator[Path]:
    """Journals in a directory, newest first."""
    if not migrations_dir.is_dir():
        return iter(())
    found = sorted(migrations_dir.glob("*.octowiz.sqlite3"), key=lambda p: p.stat().st_mtime, reverse=True)
    return iter(found)


def migration_name(path: Path) -> str:
    """The migration's name from its journal's file name."""
    return path.name.removesuffix(".octowiz.sqlite3")
