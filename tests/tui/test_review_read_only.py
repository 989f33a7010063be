"""A review is read-only by construction: every step screen opened, nothing sent but GET, nothing written.

A migration of the demo is taken through every step in-process (scans, a planned wave migrated, its
machines read and recreated on Cloud, the build-server checklist read and a project disabled), then the
real app reviews it from the Welcome screen and opens every step screen from the overview. The simulator's
request logs must hold only GETs, the read-only transport must have refused nothing, and the journal and
its write-ahead log must be byte-identical afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Static

from octowiz.engine.context import Context
from octowiz.engine.cutover import cutover as co
from octowiz.engine.cutover import targets as tg
from octowiz.engine.migrate import run as migrate
from octowiz.engine.prepare.scanning import run_connectivity, run_people, run_readiness
from octowiz.octopus.readonly import ReadOnlyTransport
from octowiz.sim.simulator import Simulator
from octowiz.tui.app import OctowizApp, make_app
from octowiz.tui.screens.overview import OverviewScreen
from octowiz.tui.screens.step import StepScreen
from tests.tui.test_waves_screens import SIZE, WAVE, fast_sim
from tests.tui.tuikit import connected, demo_context, settle

NAME = "acme"
PASSWORD = "horse-42"
STEPS = ("differences", "connectivity", "users", "waves", "migrate", "targets", "cutover", "retire")


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = fast_sim()
    yield s
    s.close()


async def through_every_step(ctx: Context, sim: Simulator) -> Path:
    """The demo migration taken through every step, in-process; the journal closed afterwards."""
    journal = connected(ctx, sim, NAME)
    try:
        await run_readiness(ctx, journal)
        await run_connectivity(ctx, journal)
        await run_people(ctx, journal)
        journal.set_wave("wave 1", list(WAVE))
        for step in ("differences", "connectivity", "users", "waves"):
            journal.set_step(step, "done")

        async def yes(_: migrate.ImportPreview) -> bool:
            return True

        result = await migrate.run_wave(
            ctx, journal, "wave 1", PASSWORD, confirm=yes, settings=migrate.WaveSettings(poll_interval=0.01)
        )
        assert [p.state for p in result.projects] == ["verified"] * 3
        report = await tg.read_targets(ctx, journal, "wave 1")
        await tg.recreate_others(ctx, journal, report)
        journal.set_step("targets", "done")
        async with co.open_cutover(
            ctx, journal, "wave 1", settings=co.CutoverSettings(poll_interval=0.01)
        ) as cut:
            await cut.build_server_checklist()
            out = await cut.disable("Projects-9", override="a runbook-only project: nothing to test")
            assert out.status == "overridden", out.sentence
        journal.set_step("cutover", "done")
        assert journal.items("machine") and journal.actions(step="cutover")
        return journal.path
    finally:
        journal.close()


def files(path: Path) -> dict[str, bytes]:
    """The journal and its write-ahead log, as bytes (an absent log reads as empty)."""
    wal = Path(str(path) + "-wal")
    return {"journal": path.read_bytes(), "wal": wal.read_bytes() if wal.exists() else b""}


def summary(screen: StepScreen) -> str:
    return str(screen.query_one(f"#{screen.SUMMARY_ID}", Static).render())


async def test_a_review_of_every_step_sends_only_gets_and_writes_nothing(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx = demo_context(tmp_path, sim)
    path = await through_every_step(ctx, sim)
    before = files(path)
    sim.server.requests.clear()
    sim.cloud.requests.clear()
    # The app's own context, its transport already wrapped: a review reuses the wrapper, so the test can
    # see whether anything was refused (a refused request never reaches the simulator's logs).
    guard = ReadOnlyTransport(ctx.transport)
    app: OctowizApp = make_app(dataclasses.replace(ctx, transport=guard))
    seen: dict[str, str] = {}
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen) and app.screen.review
        for step in STEPS:
            # Pressed, not clicked: below the journal's actions, the buttons may be scrolled out of view.
            app.screen.query_one(f"#{step}", Button).press()
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, StepScreen) and step == screen.STEP and screen.review, step
            seen[step] = summary(screen)
            screen.query_one("#back", Button).press()
            await settle(pilot)
            assert isinstance(app.screen, OverviewScreen), step
        notes = [str(n.message) for n in app._notifications]
    assert guard.refused == []
    assert not [n for n in notes if "read-only" in n], notes
    for step, text in seen.items():
        if step == "retire":  # one project of three is cut over: retire refuses, with its own sentence
            assert "wave 1 is half done" in text and "read-only" not in text, text
            continue
        assert "✘" not in text and "refused" not in text, (step, text)
    assert "healthy" in seen["targets"] or "missing" in seen["targets"]
    logged = [(r.method, r.path) for inst in (sim.server, sim.cloud) for r in inst.requests]
    assert logged, "the review read both instances"
    assert [x for x in logged if x[0] != "GET"] == []
    assert files(path) == before


async def test_the_read_only_transport_refuses_a_write_with_a_sentence(sim: Simulator) -> None:
    from octowiz.octopus.client import OctopusClient
    from octowiz.octopus.readonly import ReadOnlyRefused
    from octowiz.sim.keys import SERVER_ADMIN

    guard = ReadOnlyTransport(sim.transport())
    client = OctopusClient(sim.server_url, SERVER_ADMIN.api_key, transport=guard)
    try:
        await client.discover()
        before = len(sim.server.requests)
        with pytest.raises(ReadOnlyRefused) as caught:
            await client.set_project_disabled("Projects-1", True)
        assert str(caught.value).startswith("Review is read-only: octowiz refused to send PUT /api/")
        # The GET of its read-modify-write went out; the PUT never left the process.
        assert [r.method for r in sim.server.requests[before:]] == ["GET"]
        assert guard.refused and guard.refused[0][0] == "PUT"
    finally:
        await client.aclose()
    project: dict[str, Any] | None = sim.server.store.get("projects", "Projects-1")
    assert project is not None and not project.get("IsDisabled")
