"""API keys live only in the OS keyring, under service ``octowiz`` and the instance's normalised URL.

Two migrations from one Server therefore share its key. Backends that cannot keep a secret (the fail
and null backends, a chainer of only those, a locked keyring) are detected explicitly; without a
usable keyring, keys come from ``OCTOWIZ_SOURCE_API_KEY`` / ``OCTOWIZ_DESTINATION_API_KEY`` or are
kept for the session only, and the UI says they will not be remembered.

Which URLs have a stored key is remembered in the config directory (``stored-keys.json``, URLs only)
because keyrings cannot list their entries portably. Every function here blocks: call it from a
thread, never from the UI's event loop.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.errors

from octowiz.octopus.urls import normalise_base_url

SERVICE = "octowiz"
ENV_VARS = {"source": "OCTOWIZ_SOURCE_API_KEY", "destination": "OCTOWIZ_DESTINATION_API_KEY"}
_PROBE = "octowiz-probe"


class KeyStoreError(Exception):
    """The keyring cannot do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class BackendStatus:
    """Whether the keyring can keep API keys, and if not, why."""

    usable: bool
    name: str
    reason: str = ""


def _unusable_kind(backend: Any) -> str | None:
    module = type(backend).__module__
    if module == "keyring.backends.fail":
        return "no keyring is available on this machine"
    if module == "keyring.backends.null":
        return "the keyring is switched off (null backend)"
    if module == "keyring.backends.chainer":
        inner = list(getattr(backend, "backends", []))
        if not inner or all(_unusable_kind(b) for b in inner):
            return "no keyring is available on this machine (no usable backend in the chain)"
    return None


def backend_status(backend: keyring.backend.KeyringBackend | None = None) -> BackendStatus:
    """Check a keyring backend (default: the configured one) by kind and with a harmless read."""
    kr = backend if backend is not None else keyring.get_keyring()
    name = f"{type(kr).__module__}.{type(kr).__name__}"
    kind = _unusable_kind(kr)
    if kind:
        return BackendStatus(False, name, kind)
    try:
        kr.get_password(SERVICE, _PROBE)
    except keyring.errors.KeyringLocked:
        return BackendStatus(
            False, name, "the keyring is locked: unlock it (your desktop's keyring) and try again"
        )
    except Exception as exc:  # any backend failure means it cannot keep our keys
        return BackendStatus(False, name, f"the keyring does not answer ({type(exc).__name__}: {exc})")
    return BackendStatus(True, name)


def env_key(role: str) -> str | None:
    """The key for ``source`` or ``destination`` from the environment, if set."""
    value = os.environ.get(ENV_VARS[role], "").strip()
    return value or None


class KeyStore:
    """API keys per instance URL in the OS keyring.

    Args:
        config_dir: where the list of URLs with a stored key is kept (never the keys).
        backend: a keyring backend; the configured one when None.
    """

    def __init__(self, config_dir: Path, backend: keyring.backend.KeyringBackend | None = None) -> None:
        self.config_dir = config_dir
        self.backend = backend if backend is not None else keyring.get_keyring()
        self._index = config_dir / "stored-keys.json"

    def status(self) -> BackendStatus:
        """Whether keys can be stored here."""
        return backend_status(self.backend)

    def _require(self) -> None:
        status = self.status()
        if not status.usable:
            raise KeyStoreError(
                f"The API key cannot be stored: {status.reason}. Set {ENV_VARS['source']} / "
                f"{ENV_VARS['destination']} instead, or enter the key each session."
            )

    def get(self, url: str) -> str | None:
        """The stored key for an instance, or None (also when the keyring is unusable)."""
        if not self.status().usable:
            return None
        try:
            return self.backend.get_password(SERVICE, normalise_base_url(url))
        except keyring.errors.KeyringError:
            return None

    def set(self, url: str, api_key: str) -> None:
        """Store a key for an instance (its URL is normalised first)."""
        self._require()
        target = normalise_base_url(url)
        try:
            self.backend.set_password(SERVICE, target, api_key)
        except keyring.errors.KeyringError as exc:
            raise KeyStoreError(f"The keyring refused to store the key: {exc}.") from None
        self._write_index(sorted(set(self.urls()) | {target}))

    def forget(self, url: str) -> bool:
        """Delete an instance's key; True when there was one.

        With an unusable keyring (e.g. locked) nothing can be deleted: False, and the URL stays listed.
        """
        target = normalise_base_url(url)
        if not self.status().usable:
            return False
        try:
            self.backend.delete_password(SERVICE, target)
            existed = True
        except keyring.errors.PasswordDeleteError:
            existed = False
        except keyring.errors.KeyringError as exc:
            raise KeyStoreError(f"The keyring refused to delete the key: {exc}.") from None
        urls = self.urls()
        if target in urls:
            self._write_index([u for u in urls if u != target])
        return existed

    def forget_all(self) -> list[str]:
        """Delete every key octowiz stored; returns the URLs whose key was deleted."""
        return [url for url in self.urls() if self.forget(url)]

    def urls(self) -> list[str]:
        """URLs octowiz stored a key for (from its index; never reads the keys)."""
        try:
            data = json.loads(self._index.read_text())
        except (OSError, ValueError):
            return []
        return [u for u in data if isinstance(u, str)] if isinstance(data, list) else []

    def _write_index(self, urls: list[str]) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._index.with_suffix(".tmp")
        tmp.write_text(json.dumps(urls, indent=2))
        os.replace(tmp, self._index)
