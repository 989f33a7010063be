"""The overview's report export (Ctrl+E) and the journal's action log screen, driven with Pilot.

The real app reviews a migration of the demo simulator whose journal holds a planned wave and a few
actions; what the user reads, the files written to the downloads folder and the requests the simulator
saw are asserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Select, Static

from octowiz.engine.context import Context
from octowiz.journal import Journal
from octowiz.sim.simulator import Simulator
from octowiz.tui.app import OctowizApp, make_app
from octowiz.tui.screens.actions import ActionsScreen
from octowiz.tui.screens.overview import OverviewScreen
from tests.tui.test_waves_screens import SIZE, WAVE, rows, until
from tests.tui.tuikit import connected, demo_context, settle

NAME = "acme"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = Simulator(None, "demo")
    yield s
    s.close()


def prepared(ctx: Context, sim: Simulator) -> Path:
    """A migration with a planned wave and three actions in two steps (one still pending)."""
    with connected(ctx, sim, NAME, "differences", "connectivity", "users", "waves") as j:
        j.set_wave("wave 1", list(WAVE))
        a = j.begin_action(
            "users", "create-pool", "Linux Workers", {"name": "Linux Workers"}, {"method": "DELETE"}
        )
        j.finish_action(a, "ok", {"pool_id": "WorkerPools-9"})
        b = j.begin_action(
            "cutover", "disable-project", "Projects-1", {"project_id": "Projects-1"}, {"enable": True}
        )
        j.finish_action(b, "done", task_id=None)
        j.begin_action("cutover", "enable-trigger", "ProjectTriggers-2", {"project_id": "Projects-1"})
        return j.path


def notes(app: OctowizApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def review(pilot: object, app: OctowizApp) -> OverviewScreen:
    await settle(pilot)
    await pilot.press("v")  # type: ignore[attr-defined]
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, OverviewScreen) and screen.review
    return screen


async def test_ctrl_e_exports_the_report_as_markdown_and_json_read_only(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx = demo_context(tmp_path, sim)
    path = prepared(ctx, sim)
    before = path.read_bytes()
    sim.server.requests.clear()
    sim.cloud.requests.clear()
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await review(pilot, app)
        await pilot.press("ctrl+e")
        await until(
            pilot, lambda: any(n.startswith("Exported the report to ") for n in notes(app)), "the export"
        )
        [exported] = [n for n in notes(app) if n.startswith("Exported the report to ")]
    folder = ctx.paths.downloads / NAME
    [md] = list(folder.glob(f"{NAME}-report-*.md"))
    [js] = list(folder.glob(f"{NAME}-report-*.json"))
    assert str(md) in exported and str(js) in exported
    text = md.read_text()
    assert "\x1b" not in text and text.startswith(f"# Migration {NAME}\n")
    assert "\n## What remains\n" in text and "| Projects-1 | planned | not migrated (planned) |" in text
    assert "\n## Drift since verification\n" in text and "\n## Last actions\n" in text
    data = json.loads(js.read_text())
    assert set(data) >= {"steps", "waves", "actions", "remaining", "drift"}
    assert [w["wave"] for w in data["remaining"]["waves"]] == ["wave 1"]
    assert path.read_bytes() == before
    assert [r for inst in (sim.server, sim.cloud) for r in inst.requests if r.method != "GET"] == []


async def test_the_action_log_lists_every_change_newest_first_filters_and_exports(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx = demo_context(tmp_path, sim)
    prepared(ctx, sim)
    app = make_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        overview = await review(pilot, app)
        assert overview.query_one("#actions")  # the button, next to Back
        await pilot.press("a")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ActionsScreen)
        table = screen.query_one("#actions-table", DataTable)
        listed = rows(table)
        assert [(r[0], r[1], r[2], r[4]) for r in listed] == [
            ("3", "cutover", "enable-trigger", "pending"),
            ("2", "cutover", "disable-project", "done"),
            ("1", "users", "create-pool", "ok"),
        ]
        assert str(screen.query_one("#actions-summary", Static).render()).startswith("3 changes octowiz made")
        detail = str(screen.query_one("#actions-detail", Static).render())
        assert "#3 enable-trigger ProjectTriggers-2" in detail and "Outcome: pending" in detail

        screen.query_one("#actions-step", Select).value = "users"
        await settle(pilot)
        assert [r[2] for r in rows(table)] == ["create-pool"]
        detail = str(screen.query_one("#actions-detail", Static).render())
        assert 'Undo: {"method": "DELETE"}' in detail

        await pilot.press("ctrl+e")
        await until(
            pilot, lambda: any(n.startswith("Exported the changes to ") for n in notes(app)), "the export"
        )
        folder = ctx.paths.downloads / NAME
        [md] = list(folder.glob(f"{NAME}-changes-users-*.md"))
        [js] = list(folder.glob(f"{NAME}-changes-users-*.json"))
        text = md.read_text()
        assert text.startswith(f"# Changes octowiz made: {NAME} (step users)\n")
        assert "| 1 | users | create-pool | Linux Workers | name=Linux Workers | ok | method=DELETE |" in text
        assert "disable-project" not in text and "\x1b" not in text
        assert [a["kind"] for a in json.loads(js.read_text())["actions"]] == ["create-pool"]

        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)


async def test_a_journal_that_cannot_be_read_shows_a_sentence(tmp_path: Path, sim: Simulator) -> None:
    from textual.app import App

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(ActionsScreen(tmp_path / "gone.octowiz.sqlite3", "gone", tmp_path / "downloads"))

    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        summary = str(app.screen.query_one("#actions-summary", Static).render())
    assert summary.startswith("✘ There is no migration journal at")


def test_the_journal_fixture_is_real(tmp_path: Path, sim: Simulator) -> None:
    ctx = demo_context(tmp_path, sim)
    path = prepared(ctx, sim)
    with Journal.open(path, lock=False, read_only=True) as j:
        assert len(j.actions()) == 3 and j.actions()[0].pending
