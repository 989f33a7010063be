"""Messages workers post; handlers own the UI state (workers never touch widgets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    # Not imported at run time: the Welcome screen posts these, and the client and the keyring that
    # InstanceCheck and BackendStatus bring along would delay the first screen.
    from octowiz.engine.context import MigrationSummary
    from octowiz.engine.prepare.connect import InstanceCheck
    from octowiz.secrets import BackendStatus


@dataclass
class MigrationsLoaded(Message):
    """The welcome screen's list of migrations was read."""

    migrations: list[MigrationSummary]


@dataclass
class KeysLoaded(Message):
    """Stored keys for the connect form were looked up (the keys stay in the form's inputs)."""

    source_key: str | None
    source_from: str
    destination_key: str | None
    destination_from: str
    keyring: BackendStatus | None


@dataclass
class ConnectChecked(Message):
    """Both instances were checked."""

    source: InstanceCheck
    destination: InstanceCheck
    problems: list[str]


@dataclass
class ConnectSaved(Message):
    """The connection was recorded; ``warning`` says if keys could not be remembered."""

    warning: str
