"""Where octowiz keeps things: the one seam for paths (nothing is created at import time).

By default the platformdirs locations for ``octowiz``; ``OCTOWIZ_HOME`` puts everything under one
directory instead (tests, portable use). API keys are never written to any of these.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "octowiz"


@dataclass(frozen=True)
class Paths:
    """The directories octowiz uses.

    Attributes:
        state: migration journals (``migrations/``) and the demo (``demo/``).
        config: settings and the list of URLs that have a key in the keyring (never the keys).
        logs: log files.
    """

    state: Path
    config: Path
    logs: Path

    @property
    def migrations(self) -> Path:
        """One SQLite journal per migration."""
        return self.state / "migrations"

    @property
    def demo(self) -> Path:
        """The demo's own journal and simulated instances."""
        return self.state / "demo"

    @property
    def downloads(self) -> Path:
        """Export archives and other downloaded files."""
        return self.state / "downloads"

    def all(self) -> list[Path]:
        """Every directory octowiz may write to."""
        return [self.state, self.config, self.logs]


def default_paths() -> Paths:
    """The paths for this user, honouring ``OCTOWIZ_HOME``."""
    home = os.environ.get("OCTOWIZ_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(state=root / "state", config=root / "config", logs=root / "logs")
    return Paths(
        state=Path(platformdirs.user_state_dir(APP, appauthor=False)),
        config=Path(platformdirs.user_config_dir(APP, appauthor=False)),
        logs=Path(platformdirs.user_log_dir(APP, appauthor=False)),
    )
