"""A keyring backend kept in a JSON file, for the ``octowiz keys`` cases run as subprocesses.

A real backend the subprocess loads through ``PYTHON_KEYRING_BACKEND`` (the OS keyring is not the
subject of these cases, and one in memory would vanish with the process), so the test can read
afterwards whether anything was stored. Only the bad-input cases use it: nothing is ever stored in it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring.backend
import keyring.errors

#: The file the backend keeps its secrets in (set in the subprocess's environment).
FILE_VARIABLE = "OCTOWIZ_TEST_KEYRING_FILE"


class FileKeyring(keyring.backend.KeyringBackend):
    """Secrets in the JSON file named by :data:`FILE_VARIABLE`."""

    priority = 1

    @property
    def _path(self) -> Path:
        return Path(os.environ[FILE_VARIABLE])

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\n{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\n{username}"] = password
        self._path.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\n{username}", None) is None:
            raise keyring.errors.PasswordDeleteError("not found")
        self._path.write_text(json.dumps(data))


def stored(path: Path) -> dict[str, str]:
    """What the backend holds in ``path`` (empty when nothing was ever stored)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return {str(k): str(v) for k, v in data.items()}
