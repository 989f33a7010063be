"""Helpers for driving the wizard with Pilot on the simulator (no mocks: a real in-process simulator)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import keyring.backend
from textual.widgets import Input

from octowiz.engine.context import Context, simulator_context
from octowiz.journal import Journal
from octowiz.paths import Paths
from octowiz.secrets import KeyStore
from octowiz.sim.simulator import Simulator
from octowiz.tui.screenshots import (
    settle as settle,  # re-exported: the tests settle the way the screenshots do
)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps secrets in memory (for tests that do not need the OS one)."""

    priority = 1

    def __init__(self) -> None:
        # keyring's KeyringBackend.__init__ is unannotated (a stub gap in keyring).
        super().__init__()  # type: ignore[no-untyped-call]
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.secrets:
            import keyring.errors

            raise keyring.errors.PasswordDeleteError("not found")
        del self.secrets[(service, username)]


class GatedTransport(httpx.AsyncBaseTransport):
    """The simulator's transport, held at a gate: requests wait until the test opens it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.waiting.set()
        await self.gate.wait()
        return await self.inner.handle_async_request(request)


def paths(tmp: Path) -> Paths:
    return Paths(state=tmp / "state", config=tmp / "config", logs=tmp / "logs")


def real_context(
    tmp: Path,
    sim: Simulator,
    backend: keyring.backend.KeyringBackend | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Context:
    """octowiz as a user runs it against real instances (here: the simulator's hosts), keys in a keyring."""
    p = paths(tmp)
    return Context(
        paths=p,
        migrations_dir=p.migrations,
        keystore=KeyStore(p.config, backend or MemoryKeyring()),
        transport=transport or sim.transport(),
    )


def demo_context(tmp: Path, sim: Simulator) -> Context:
    """octowiz --demo, with an in-memory simulator."""
    return simulator_context(paths(tmp), sim)


def connected(ctx: Context, sim: Simulator, name: str, *done: str) -> Journal:
    """A migration connected to the simulator, as the demo makes one, with ``done`` steps marked done."""
    journal = Journal.create(ctx.journal_path(name), {"name": name})
    journal.set_settings(
        source_url=sim.server_url,
        source_space="Spaces-1",
        source_space_name="Default",
        destination_url=sim.cloud_url,
        destination_space="Spaces-1",
        destination_space_name="Default",
    )
    for step in ("connect", *done):
        journal.set_step(step, "done")
    return journal


async def still(pilot: Any, *, clear_toasts: bool = False) -> None:
    """Settle, stop the cursors blinking (and, optionally, drop toasts, which time out on the wall
    clock), settle again: the screen as a snapshot should catch it."""
    await settle(pilot)
    for inp in pilot.app.screen.query(Input):
        inp.cursor_blink = False
    if clear_toasts:
        pilot.app.clear_notifications()
    await settle(pilot)
