"""The simulated instance's document store: Octopus-shaped JSON documents per collection.

Documents are plain dicts exactly as Octopus would send them, *without* their ``Links`` (links are
rendered per request, see :mod:`octowiz.sim.resources`). Insertion order is kept, because Octopus
lists most collections in creation order and tests rely on a stable order.

When a directory is given, every mutation is written through to SQLite (one transaction each, or
one per :meth:`Store.batch`), and binary content (packages, artifacts, logos) lives as files in
``blobs/`` beside the database, so a simulated instance survives a restart of octowiz.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol, Self

Doc = dict[str, Any]


class BlobWriter(Protocol):
    """A blob being streamed in (:meth:`Store.blob_writer`): it appears once closed."""

    def write(self, data: bytes) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    coll TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (coll, id)
);
CREATE TABLE IF NOT EXISTS counters (prefix TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    """Collections of documents with Octopus-style id allocation and optional persistence.

    Thread-safe: the loopback server and in-process callers may touch it from different threads.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._colls: dict[str, dict[str, Doc]] = {}
        self._counters: dict[str, int] = {}
        self._seq = 0
        self._blobs: dict[str, bytes] = {}
        self._batch_depth = 0
        self._meta_mem: dict[str, str] = {}
        #: Bumped on every change to a collection, so readers can cache derived views of it.
        self.versions: dict[str, int] = {}
        self.directory = directory
        self._db: sqlite3.Connection | None = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "blobs").mkdir(exist_ok=True)
            self._db = sqlite3.connect(directory / "state.sqlite3", check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._load()

    # -- persistence -------------------------------------------------------------------------

    def _load(self) -> None:
        assert self._db is not None
        for coll, doc_id, seq, body in self._db.execute("SELECT coll, id, seq, body FROM docs ORDER BY seq"):
            self._colls.setdefault(coll, {})[doc_id] = json.loads(body)
            self._seq = max(self._seq, seq)
        for prefix, value in self._db.execute("SELECT prefix, value FROM counters"):
            self._counters[prefix] = value

    @property
    def is_empty(self) -> bool:
        """True when nothing was ever stored (a fresh directory or an in-memory store)."""
        return not self._colls

    def meta(self, key: str) -> str | None:
        """Read a persisted metadata value (scenario name, flavour)."""
        if self._db is None:
            return self._meta_mem.get(key)
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Persist a metadata value."""
        if self._db is None:
            self._meta_mem[key] = value
            return
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
            self._commit()

    def _commit(self) -> None:
        if self._db is not None and self._batch_depth == 0:
            self._db.commit()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group many mutations into one transaction (scenario generation)."""
        with self._lock:
            self._batch_depth += 1
            try:
                yield
            finally:
                self._batch_depth -= 1
                self._commit()

    def _write(self, coll: str, doc: Doc, seq: int) -> None:
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO docs(coll, id, seq, body) VALUES (?, ?, ?, ?)",
                (coll, doc["Id"], seq, json.dumps(doc, separators=(",", ":"))),
            )

    # -- ids ---------------------------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        """Allocate the next id for a prefix: ``next_id("Projects")`` gives ``Projects-1``, then 2…"""
        with self._lock:
            value = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = value
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO counters(prefix, value) VALUES (?, ?)", (prefix, value)
                )
                self._commit()
            return f"{prefix}-{value}"

    # -- documents ---------------------------------------------------------------------------

    def insert(self, coll: str, doc: Doc, *, prefix: str | None = None) -> Doc:
        """Store a new document; allocates ``Id`` from ``prefix`` unless the doc already has one."""
        with self._lock:
            if not doc.get("Id"):
                if prefix is None:
                    raise ValueError(f"a document for {coll} needs an Id or a prefix")
                doc["Id"] = self.next_id(prefix)
            docs = self._colls.setdefault(coll, {})
            if doc["Id"] in docs:
                raise KeyError(f"{coll}/{doc['Id']} exists")
            self._seq += 1
            docs[doc["Id"]] = doc
            self.versions[coll] = self.versions.get(coll, 0) + 1
            self._write(coll, doc, self._seq)
            self._commit()
            return doc

    def put(self, coll: str, doc: Doc) -> Doc:
        """Replace (or create) a document under its ``Id``, keeping its place in the order."""
        with self._lock:
            docs = self._colls.setdefault(coll, {})
            docs[doc["Id"]] = doc
            self.versions[coll] = self.versions.get(coll, 0) + 1
            if self._db is not None:
                row = self._db.execute(
                    "SELECT seq FROM docs WHERE coll=? AND id=?", (coll, doc["Id"])
                ).fetchone()
                if row is None:
                    self._seq += 1
                    seq = self._seq
                else:
                    seq = int(row[0])
                self._write(coll, doc, seq)
                self._commit()
            return doc

    def get(self, coll: str, doc_id: str) -> Doc | None:
        """One document by id (case-insensitive, as Octopus ids are)."""
        docs = self._colls.get(coll, {})
        doc = docs.get(doc_id)
        if doc is None and doc_id:
            lowered = doc_id.lower()
            for key, value in docs.items():
                if key.lower() == lowered:
                    return value
        return doc

    def all(self, coll: str) -> list[Doc]:
        """Every document of a collection, in insertion order."""
        return list(self._colls.get(coll, {}).values())

    def find(self, coll: str, pred: Callable[[Doc], bool]) -> list[Doc]:
        """Documents of a collection for which ``pred`` holds."""
        return [d for d in self._colls.get(coll, {}).values() if pred(d)]

    def first(self, coll: str, pred: Callable[[Doc], bool]) -> Doc | None:
        """The first document for which ``pred`` holds, or None."""
        for d in self._colls.get(coll, {}).values():
            if pred(d):
                return d
        return None

    def count(self, coll: str) -> int:
        """How many documents a collection holds."""
        return len(self._colls.get(coll, {}))

    def delete(self, coll: str, doc_id: str) -> bool:
        """Remove a document; True when it existed."""
        with self._lock:
            doc = self.get(coll, doc_id)
            if doc is None:
                return False
            del self._colls[coll][doc["Id"]]
            self.versions[coll] = self.versions.get(coll, 0) + 1
            if self._db is not None:
                self._db.execute("DELETE FROM docs WHERE coll=? AND id=?", (coll, doc["Id"]))
                self._commit()
            return True

    # -- blobs (package files, artifacts, logos) ---------------------------------------------

    def _blob_path(self, key: str) -> Path:
        assert self.directory is not None
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
        return self.directory / "blobs" / safe

    def blob_writer(self, key: str) -> BlobWriter:
        """A file to stream a blob into; the blob appears when the file is closed."""
        if self.directory is None:
            return _MemoryBlob(self._blobs, key)
        path = self._blob_path(key)
        tmp = path.with_suffix(path.suffix + ".part")
        return _FileBlob(tmp, path)

    def blob_put(self, key: str, data: bytes) -> None:
        """Store a small blob in one go."""
        with self.blob_writer(key) as f:
            f.write(data)

    def blob_open(self, key: str) -> BinaryIO | None:
        """Open a blob for reading, or None when there is none."""
        if self.directory is None:
            data = self._blobs.get(key)
            if data is None:
                return None
            import io

            return io.BytesIO(data)
        path = self._blob_path(key)
        return path.open("rb") if path.exists() else None

    def blob_size(self, key: str) -> int | None:
        """A blob's size in bytes, or None."""
        if self.directory is None:
            data = self._blobs.get(key)
            return None if data is None else len(data)
        path = self._blob_path(key)
        return path.stat().st_size if path.exists() else None

    def blob_delete(self, key: str) -> None:
        """Remove a blob if present."""
        if self.directory is None:
            self._blobs.pop(key, None)
        else:
            with contextlib.suppress(FileNotFoundError):
                self._blob_path(key).unlink()

    def close(self) -> None:
        """Close the database (the in-memory view stays usable for reads)."""
        if self._db is not None:
            self._db.commit()
            self._db.close()
            self._db = None


class _MemoryBlob:
    """A writable blob kept in memory until closed."""

    def __init__(self, target: dict[str, bytes], key: str) -> None:
        import io

        self._buf = io.BytesIO()
        self._target = target
        self._key = key

    def write(self, data: bytes) -> int:
        return self._buf.write(data)

    def close(self) -> None:
        self._target[self._key] = self._buf.getvalue()

    def __enter__(self) -> _MemoryBlob:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()


class _FileBlob:
    """A blob written to a temporary file and renamed into place on close (never half-written)."""

    def __init__(self, tmp: Path, final: Path) -> None:
        self._tmp = tmp
        self._final = final
        self._f = tmp.open("wb")

    def write(self, data: bytes) -> int:
        return self._f.write(data)

    def close(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        os.replace(self._tmp, self._final)

    def __enter__(self) -> _FileBlob:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self._f.close()
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
