"""Retiring the self-hosted Server: read-only (maintenance mode, task cap 0), then old Tentacles."""

from octowiz.engine.retire.retire import (
    BACKUP_PHRASE,
    CRASH_POINTS,
    STEP,
    RetireError,
    RetireReport,
    read_retire,
)

__all__ = ["BACKUP_PHRASE", "CRASH_POINTS", "STEP", "RetireError", "RetireReport", "read_retire"]
