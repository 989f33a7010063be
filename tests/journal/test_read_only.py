"""A journal opened read-only (a review): it reads everything, writes nothing, and says so in a sentence."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from octowiz.journal import Journal, JournalError
from octowiz.journal.journal import SCHEMA_VERSION

REFUSED = "This journal is open read-only (a review): nothing is written."


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    """A journal with a little of everything, closed cleanly."""
    p = tmp_path / "m.octowiz.sqlite3"
    with Journal.create(p, {"name": "m", "source_url": "https://octopus.example.com"}) as j:
        j.set_step("connect", "done")
        j.set_wave("wave 1", ["Projects-1", "Projects-2"])
        j.set_item("project", "Projects-1", "verify", "done", {"project_name": "Web"})
        aid = j.begin_action("cutover", "disable-project", "Projects-1", {"project_id": "Projects-1"})
        j.finish_action(
            aid, "done", {"sentence": "Disabled."}, id_map={"Projects-1": ("project", "Projects-7")}
        )
        j.record_scan("users", {"users": []})
    yield p


def _bytes(path: Path) -> tuple[bytes, bytes]:
    wal = Path(str(path) + "-wal")
    return path.read_bytes(), (wal.read_bytes() if wal.exists() else b"")


WRITES: dict[str, Callable[[Journal], Any]] = {
    "set_settings": lambda j: j.set_settings(name="other"),
    "set_step": lambda j: j.set_step("differences", "done"),
    "set_item": lambda j: j.set_item("project", "Projects-2", "verify", "done"),
    "set_wave": lambda j: j.set_wave("wave 2", ["Projects-3"]),
    "begin_action": lambda j: j.begin_action("targets", "create", "x", {}),
    "finish_action": lambda j: j.finish_action(1, "failed"),
    "record_scan": lambda j: j.record_scan("readiness", {}),
}


def test_a_read_only_journal_reads_everything(path: Path) -> None:
    with Journal.open(path, lock=False, read_only=True) as j:
        assert j.read_only
        assert j.settings["name"] == "m"
        assert j.step_status("connect") == "done"
        assert j.waves() == {"wave 1": ["Projects-1", "Projects-2"]}
        assert j.item_status("project", "Projects-1", "verify") == ("done", {"project_name": "Web"})
        [action] = j.actions()
        assert action.outcome == "done" and j.id_map() == {"Projects-1": "Projects-7"}
        assert j.latest_scan("users") is not None
        assert j.last_activity


@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_write_raises_a_sentence_and_changes_nothing(path: Path, write: str) -> None:
    before = _bytes(path)
    with Journal.open(path, lock=False, read_only=True) as j:
        with pytest.raises(JournalError) as caught:
            WRITES[write](j)
        assert str(caught.value) == REFUSED
    assert _bytes(path) == before
    with Journal.open(path, lock=False) as j:  # and the journal still says what it said
        assert j.settings["name"] == "m" and j.step_status("differences") == "not started"
        assert len(j.actions()) == 1 and j.actions()[0].outcome == "done"


def test_the_database_itself_refuses_writes(path: Path) -> None:
    # Not only the methods: the SQLite connection is read-only too (mode=ro), so even a write that
    # bypassed them could not land.
    with (
        Journal.open(path, lock=False, read_only=True) as j,
        pytest.raises(sqlite3.OperationalError, match="readonly"),
    ):
        j._db.execute("INSERT INTO settings(key, value) VALUES ('x', '1')")


def test_a_read_only_journal_takes_no_lock_and_reads_beside_a_running_migration(path: Path) -> None:
    with Journal.open(path) as running:  # a run holds the lock, and writes while the review reads
        with Journal.open(path, lock=False, read_only=True) as review:
            running.set_step("differences", "in progress")
            assert review.step_status("differences") == "in progress"
            with pytest.raises(JournalError, match="read-only"):
                review.set_step("differences", "done")
        assert running.step_status("differences") == "in progress"


def test_other_callers_keep_writing(path: Path) -> None:
    with Journal.open(path, lock=False) as j:
        assert not j.read_only
        j.set_step("differences", "done")
        assert j.step_status("differences") == "done"


def test_an_older_journal_is_not_upgraded_by_a_review(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    db.close()
    before = _bytes(path)
    with pytest.raises(JournalError, match="resume the migration once to upgrade it"):
        Journal.open(path, lock=False, read_only=True)
    assert _bytes(path) == before


def test_a_missing_journal_is_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="There is no migration journal"):
        Journal.open(tmp_path / "none.octowiz.sqlite3", lock=False, read_only=True)
