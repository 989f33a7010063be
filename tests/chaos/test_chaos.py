"""Chaos: a 30-project wave SIGKILLed at seeded random points, resumed, compared with an uninterrupted run.

CI runs a bounded count (``OCTOWIZ_CHAOS_KILLS``, default 6, spread over migrate, targets and cutover,
from seed ``OCTOWIZ_CHAOS_SEED``, default 2); ``python -m benchmarks.chaos`` runs the full count and
prints each kill. See tests/chaos/harness.py for how a kill lands and what is compared.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from octowiz.sim.keys import CLOUD_MANAGER
from octowiz.sim.simulator import Simulator
from tests.chaos import harness as h

KILLS = int(os.environ.get("OCTOWIZ_CHAOS_KILLS", "6"))
SEED = int(os.environ.get("OCTOWIZ_CHAOS_SEED", "2"))


async def test_the_simulator_hook_sees_a_request_before_and_after_it_is_carried_out() -> None:
    sim = Simulator(None, "empty")
    seen: list[tuple[str, bool]] = []

    def hook(moment: str, request: Request) -> bool | None:
        if request.method == "POST":
            there = any(
                e["Name"] == request.headers.get("x-name") for e in sim.cloud.store.all("environments")
            )
            seen.append((moment, there))
            return request.headers.get("x-name") != "Lost"  # a request called "Lost" is dropped unhandled
        return None

    sim.cloud.on_request = hook
    async with httpx.AsyncClient(transport=sim.transport(), base_url=sim.cloud_url) as client:
        headers = {"X-Octopus-ApiKey": CLOUD_MANAGER.api_key}
        made = await client.post(
            "/api/Spaces-1/environments", json={"Name": "Kept"}, headers={**headers, "x-name": "Kept"}
        )
        assert made.status_code == 201
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(
                "/api/Spaces-1/environments", json={"Name": "Lost"}, headers={**headers, "x-name": "Lost"}
            )
    assert seen == [("arrived", False), ("answered", True), ("arrived", False)]
    assert [e["Name"] for e in sim.cloud.store.all("environments")].count("Lost") == 0
    sim.close()


def test_the_schedule_is_drawn_from_the_seed_and_spread_over_the_phases() -> None:
    per_phase = h.spread(7)
    assert per_phase == {"migrate": 3, "targets": 2, "cutover": 2}
    kills = h.schedule(5, per_phase)
    assert kills == h.schedule(5, per_phase) and kills != h.schedule(6, per_phase)
    assert [k.phase for k in kills] == ["migrate"] * 3 + ["targets"] * 2 + ["cutover"] * 2
    for k in kills:
        assert k.point is None or k.point in h.NAMED[k.phase]
        if k.point in ("test-sent-not-recorded", "after-test-request"):
            assert h.PHASES[k.phase][k.command].label.startswith("test")


@pytest.mark.slow
def test_a_wave_killed_at_seeded_random_points_ends_as_an_uninterrupted_run(tmp_path: Path) -> None:
    ref, trials = h.campaign(tmp_path, KILLS, first_seed=SEED, per_trial=max(3, min(KILLS, 9)))
    for t in trials:
        assert t.equal, "\n".join(
            [f"seed {t.seed}:", t.failure, *t.differences, *t.problems]
            + [f"  {r.phase} {r.command}: {r.point} -> {r.rerun}" for r in h.rows(t)]
        )
    killed = [a for t in trials for a in t.attempts if a.killed]
    assert len(killed) >= KILLS
    assert {a.phase for a in killed} == set(h.PHASES)
    # The reference itself is what an uninterrupted run must leave: all verified, healthy, disabled.
    assert ref.journal["steps"]["migrate"] == "done"
    assert {m[5] for m in ref.state["machines"]} == {"Healthy"}
    assert len(ref.state["server disabled"]) >= 30
