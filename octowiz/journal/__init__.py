"""The migration journal (SQLite): what was done, what was intended, and how to undo it."""

from octowiz.journal.journal import (
    Action,
    Journal,
    JournalError,
    JournalLocked,
    journal_path,
    list_migrations,
    migration_name,
)

__all__ = [
    "Action",
    "Journal",
    "JournalError",
    "JournalLocked",
    "journal_path",
    "list_migrations",
    "migration_name",
]
