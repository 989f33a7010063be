"""Welcome and Connect, driven as a user would (Pilot), against the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from octowiz.journal import Journal
from octowiz.sim.config import InstanceConfig
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN, SERVER_READER
from octowiz.sim.simulator import Simulator
from octowiz.tui.app import make_app
from octowiz.tui.screens.connect import ConnectScreen
from octowiz.tui.screens.differences import DifferencesScreen
from octowiz.tui.screens.welcome import WelcomeScreen
from tests.tui.tuikit import MemoryKeyring, demo_context, real_context, settle

SIZE = (130, 44)


def _text(app: object, selector: str) -> str:
    widget = app.screen.query_one(selector, Static)  # type: ignore[attr-defined]
    return str(widget.render())


async def _new(pilot: object, name: str) -> None:
    await pilot.press("n")  # type: ignore[attr-defined]
    await settle(pilot)
    for ch in name:
        await pilot.press(ch)  # type: ignore[attr-defined]
    await pilot.press("enter")  # type: ignore[attr-defined]
    await settle(pilot)


async def _fill(pilot: object, role: str, url: str, key: str) -> None:
    screen = pilot.app.screen  # type: ignore[attr-defined]
    screen.query_one(f"#{role}-url", Input).value = url
    screen.query_one(f"#{role}-key", Input).value = key


async def _check(pilot: object) -> None:
    await pilot.press("ctrl+t")  # type: ignore[attr-defined]
    await settle(pilot)


async def test_welcome_empty_then_new_walks_to_a_connected_migration(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        assert "No migrations yet" in _text(app, "#welcome-empty")
        await _new(pilot, "acme")
        assert isinstance(app.screen, ConnectScreen)
        # The demo fills in the simulated instances and keys; nothing is asked.
        assert app.screen.query_one("#source-url", Input).value == sim.server_url
        assert app.screen.query_one("#source-key", Input).password
        await _check(pilot)
        assert "Reachable: Octopus 2024.2" in _text(app, "#source-result")
        assert "Looks like Octopus Cloud" in _text(app, "#destination-result")
        assert "Ready: Octopus 2024.2.9220 → Octopus 2026.3.4482" in _text(app, "#pair-result")
        await pilot.click("#continue")
        await settle(pilot)
        # On to the next step: the readiness scan runs at once (read-only) and shows its findings.
        assert isinstance(app.screen, DifferencesScreen)
        assert "Scanned" in str(app.screen.query_one("#scan-summary", Static).render())
        assert app.screen.query_one("#findings", DataTable).row_count > 0
    with Journal.open(ctx.journal_path("acme"), lock=False) as journal:
        assert journal.step_status("connect") == "done"
        s = journal.settings
        assert s["source_url"] == sim.server_url and s["destination_space_name"] == "Default"
        assert not any("API-" in str(v) for v in s.values())


@pytest.mark.parametrize(
    ("role", "url", "key", "expected"),
    [
        ("source", "not a url at all", SERVER_ADMIN.api_key, "is not a web address: it contains spaces."),
        (
            "source",
            "https://no-such-octopus.example.internal",
            SERVER_ADMIN.api_key,
            "The host name no-such-octopus.example.internal could not be found",
        ),
        ("source", None, "API-FAKEWRONGKEY0000000000000", "did not accept the API key"),
        ("source", None, "not-a-key", "That is not an Octopus API key"),
        ("source", None, SERVER_READER.api_key, "The key's user lacks TaskCreate"),
    ],
)
async def test_connect_bad_input_says_what_to_do(
    tmp_path: Path, role: str, url: str | None, key: str, expected: str
) -> None:
    sim = Simulator(None, "demo")
    app = make_app(real_context(tmp_path, sim))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _new(pilot, "bad")
        await _fill(pilot, "source", url or sim.server_url, key)
        await _fill(pilot, "destination", sim.cloud_url, CLOUD_MANAGER.api_key)
        await _check(pilot)
        assert expected in _text(app, f"#{role}-result")
        assert app.screen.query_one("#continue").disabled


async def test_connect_refuses_the_same_instance_twice(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    app = make_app(real_context(tmp_path, sim))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _new(pilot, "twice")
        await _fill(pilot, "source", sim.server_url, SERVER_ADMIN.api_key)
        await _fill(pilot, "destination", sim.server_url + "/api", SERVER_ADMIN.api_key)
        await _check(pilot)
        assert "The source and the destination are the same Octopus instance" in _text(app, "#pair-result")
        assert app.screen.query_one("#continue").disabled


async def test_connect_too_old_server(tmp_path: Path) -> None:
    sim = Simulator(None, "empty", server=InstanceConfig("server", version="2020.4.0"))
    app = make_app(real_context(tmp_path, sim))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _new(pilot, "old")
        await _fill(pilot, "source", sim.server_url, SERVER_ADMIN.api_key)
        await _fill(pilot, "destination", sim.cloud_url, CLOUD_MANAGER.api_key)
        await _check(pilot)
        assert (
            "Octopus 2020.4.0 predates Project Export/Import, which arrived in 2021.1: upgrade it first."
            in _text(app, "#source-result")
        )


async def test_keys_go_to_the_keyring_and_resume_prefills_them(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    backend = MemoryKeyring()
    app = make_app(real_context(tmp_path, sim, backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _new(pilot, "keys")
        assert "Keys are stored only in the OS keyring" in _text(app, "#keyring-note")
        await _fill(pilot, "source", sim.server_url, SERVER_ADMIN.api_key)
        await _fill(pilot, "destination", sim.cloud_url, CLOUD_MANAGER.api_key)
        await _check(pilot)
        await pilot.click("#continue")
        await settle(pilot)
        assert isinstance(app.screen, DifferencesScreen)
    assert backend.secrets == {
        ("octowiz", sim.server_url): SERVER_ADMIN.api_key,
        ("octowiz", sim.cloud_url): CLOUD_MANAGER.api_key,
    }
    # A second migration from the same Server finds its key already there.
    app = make_app(real_context(tmp_path, sim, backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        assert app.screen.query_one(DataTable).row_count == 1
        await _new(pilot, "second")
        for ch in sim.server_url:
            await pilot.press(ch)
        await pilot.press("tab")  # leaving the URL field looks its key up
        await settle(pilot)
        assert app.screen.query_one("#source-key", Input).value == SERVER_ADMIN.api_key


async def test_no_usable_keyring_warns_the_key_is_for_this_session(tmp_path: Path) -> None:
    import keyring.backends.fail

    sim = Simulator(None, "demo")
    # keyring's fail.Keyring inherits an unannotated __init__ (a stub gap in keyring).
    backend = keyring.backends.fail.Keyring()  # type: ignore[no-untyped-call]
    app = make_app(real_context(tmp_path, sim, backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _new(pilot, "nokeyring")
        note = _text(app, "#keyring-note")
        assert "No usable OS keyring" in note and "will NOT be remembered" in note
        assert app.screen.query_one("#remember").disabled
