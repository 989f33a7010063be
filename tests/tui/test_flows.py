"""Resume, review, delete, locks, and the promise that no key is ever written anywhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from textual.widgets import Button, DataTable, Input, Static

from octowiz.journal import Journal
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Simulator
from octowiz.tui.app import make_app
from octowiz.tui.screens.connect import ConnectScreen
from octowiz.tui.screens.dialogs import ConfirmDelete
from octowiz.tui.screens.overview import OverviewScreen
from octowiz.tui.screens.welcome import WelcomeScreen
from tests.tui.tuikit import MemoryKeyring, demo_context, real_context, settle

SIZE = (130, 44)

HOLD = """
import sys
from pathlib import Path
from octowiz.journal import Journal
j = Journal.create(Path(sys.argv[1]), {"name": "killed"}) if not Path(sys.argv[1]).exists() \
else Journal.open(Path(sys.argv[1]))
j.set_settings(source_url=sys.argv[2], destination_url=sys.argv[3], source_space_name="Default")
j.set_step("connect", "in progress")
print("holding", flush=True)
sys.stdin.read()
"""


def _hold(path: Path, sim: Simulator) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), sim.server_url, sim.cloud_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


async def test_resume_after_sigkill_in_the_middle_of_a_step(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    path = ctx.journal_path("killed")
    path.parent.mkdir(parents=True)
    proc = _hold(path, sim)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        intro = str(app.screen.query_one("#welcome-empty", Static).render())
        assert "The last one, killed, stopped at Connect: press R to resume it." in intro
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ConnectScreen)
        assert app.screen.query_one("#source-url", Input).value == sim.server_url  # exactly where it stopped
        notes = [str(n.message) for n in app._notifications]
        assert any(f"The last run (process {proc.pid}" in n and "journal is intact" in n for n in notes)


async def test_a_migration_open_elsewhere_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    path = ctx.journal_path("busy")
    path.parent.mkdir(parents=True)
    proc = _hold(path, sim)
    try:
        app = make_app(ctx)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            assert isinstance(app.screen, WelcomeScreen)
            notes = [str(n.message) for n in app._notifications]
            assert any(f"This migration is open in another octowiz (process {proc.pid}" in n for n in notes)
    finally:
        proc.kill()
        proc.wait()


async def test_review_is_read_only(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    ctx = demo_context(tmp_path, sim)
    with Journal.create(ctx.journal_path("acme"), {"name": "acme"}) as j:
        j.set_settings(source_url=sim.server_url, destination_url=sim.cloud_url)
        j.set_step("connect", "done")
    before = ctx.journal_path("acme").read_bytes()
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen) and app.screen.review
        assert "READ-ONLY REVIEW" in str(app.screen.query_one("#review-banner", Static).render())
        # No mutating action is offered: only looking at the findings, and going back.
        assert [b.id for b in app.screen.query(Button)] == [
            "differences",
            "connectivity",
            "users",
            "waves",
            "migrate",
            "targets",
            "cutover",
            "retire",
            "actions",
            "back",
        ]
        await pilot.press("c")  # the Connect shortcut is refused in a review
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
    assert ctx.journal_path("acme").read_bytes() == before


async def test_delete_asks_and_can_forget_the_keys(tmp_path: Path) -> None:
    sim = Simulator(None, "demo")
    backend = MemoryKeyring()
    ctx = real_context(tmp_path, sim, backend)
    assert ctx.keystore is not None
    ctx.keystore.set(sim.server_url, SERVER_ADMIN.api_key)
    with Journal.create(ctx.journal_path("old"), {"name": "old"}) as j:
        j.set_settings(source_url=sim.server_url, destination_url=sim.cloud_url)
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDelete)
        await pilot.press("escape")  # cancel keeps it
        await settle(pilot)
        assert ctx.journal_path("old").exists()
        await pilot.press("d")
        await settle(pilot)
        await pilot.click("#forget")
        await pilot.click("#confirm")
        await settle(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        assert app.screen.query_one(DataTable).row_count == 0
    assert not ctx.journal_path("old").exists()
    assert backend.secrets == {}


async def test_no_key_is_ever_written_to_a_file(tmp_path: Path) -> None:
    sim = Simulator(tmp_path / "instances", "demo")  # even the simulator's own files
    ctx = real_context(tmp_path, sim, MemoryKeyring())
    (tmp_path / "screenshots").mkdir()
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        for ch in "leak-check":
            await pilot.press(ch)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        screen.query_one("#source-url", Input).value = sim.server_url
        screen.query_one("#source-key", Input).value = SERVER_ADMIN.api_key
        screen.query_one("#destination-url", Input).value = sim.cloud_url
        screen.query_one("#destination-key", Input).value = CLOUD_MANAGER.api_key
        await pilot.press("ctrl+t")
        await settle(pilot)
        app.save_screenshot("connect.svg", str(tmp_path / "screenshots"))
        await pilot.click("#continue")
        await settle(pilot)
        app.save_screenshot("overview.svg", str(tmp_path / "screenshots"))
    sim.close()
    repo_screens = Path(__file__).resolve().parents[2] / "screenshots"
    files = [p for p in tmp_path.rglob("*") if p.is_file()] + list(repo_screens.glob("*.svg"))
    assert len(files) > 5
    for f in files:
        data = f.read_bytes()
        for key in (SERVER_ADMIN.api_key, CLOUD_MANAGER.api_key):
            assert key.encode() not in data, f"{f} contains an API key"
