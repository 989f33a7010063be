"""The client against the simulator over real loopback HTTP: paging, bulk look-ups, retries, budgets."""

from __future__ import annotations

import asyncio
import bisect
import weakref

import httpx
import pytest

from octowiz.octopus.client import OctopusClient, OctopusVersion, RateBudget
from octowiz.octopus.errors import RateLimited, ServerError, ValidationFailed
from octowiz.sim.instance import ScriptedFault
from octowiz.sim.simulator import Endpoint, Simulator
from tests.conftest import FakeTime, make_client


def test_versions_compare_as_octopus_versions() -> None:
    assert OctopusVersion.parse("2024.2.9220") > OctopusVersion.parse("2023.1.9626")
    assert OctopusVersion.parse("2021.1.0").at_least(2021, 1)
    assert not OctopusVersion.parse("2020.5.0-rc.4").at_least(2021, 1)
    assert OctopusVersion.parse("0.0.0-local") > OctopusVersion.parse("2026.3.1")
    assert str(OctopusVersion.parse("2024.2.9220")) == "2024.2.9220"


async def test_discovery_reads_version_space_and_export_import(
    source: OctopusClient, destination: OctopusClient
) -> None:
    src = await source.discover()
    dst = await destination.discover()
    assert src.space_id == "Spaces-1" and src.export_import and src.version < dst.version
    assert dst.export_import
    assert src.root.links and "ExportProjects" in src.root.links


async def test_discover_by_space_name_and_unknown_space(source: OctopusClient) -> None:
    info = await source.discover("Default")
    assert info.space_id == "Spaces-1"
    with pytest.raises(Exception) as err:
        await source.discover("Nope")
    assert "has no space called 'Nope' (spaces: Default)" in str(err.value)


async def test_paging_never_truncates_and_fetches_pages_concurrently(
    sim: Simulator, source: OctopusClient
) -> None:
    expected = sorted(p["Id"] for p in sim.server.store.all("projects"))
    source.page_size = 5
    before = len(sim.server.requests)
    projects = await source.projects()
    assert sorted(p.id or "" for p in projects) == expected
    assert len(projects) == len(set(p.id for p in projects))
    pages = -(-len(expected) // 5)
    assert len(sim.server.requests) - before == pages


async def test_machines_listing_matches_the_store(sim: Simulator, source: OctopusClient) -> None:
    machines = await source.machines()
    assert len(machines) == sim.server.store.count("machines")
    listening = await source.machines(commStyles="TentaclePassive")
    assert listening and all(
        m.endpoint is not None and m.endpoint.communication_style == "TentaclePassive" for m in listening
    )


async def test_ids_lookups_are_batched(sim: Simulator, source: OctopusClient) -> None:
    ids = [p["Id"] for p in sim.server.store.all("projects")]
    before = len(sim.server.requests)
    got = await source.get_many("projects", ids * 3, type(await source.project(ids[0])))
    assert sorted(p.id or "" for p in got) == sorted(ids)
    assert len(sim.server.requests) - before == 2  # one look-up of the first project, one batch for all


async def test_retry_after_is_honoured_on_429(
    sim: Simulator, source: OctopusClient, fake_time: FakeTime
) -> None:
    sim.server.scripted.append(ScriptedFault(r"/projects$", 429, count=2, retry_after=7))
    fake_time.sleeps.clear()
    projects = await source.projects()
    assert projects
    assert fake_time.sleeps == [7, 7]
    statuses = [r.status for r in sim.server.requests if r.path.split("?")[0].endswith("/projects")]
    assert statuses[-3:] == [429, 429, 200]


async def test_safe_requests_retry_with_backoff_and_give_up_bounded(
    sim: Simulator, source: OctopusClient, fake_time: FakeTime
) -> None:
    sim.server.scripted.append(ScriptedFault(r"/environments/all$", 503, count=2))
    fake_time.sleeps.clear()
    assert await source.environments()
    assert len(fake_time.sleeps) == 2 and fake_time.sleeps[0] <= 0.1 and fake_time.sleeps[1] <= 0.2
    sim.server.scripted.append(ScriptedFault(r"/environments/all$", 500, count=50))
    with pytest.raises(ServerError) as err:
        await source.environments()
    assert "failed with HTTP 500" in str(err.value)
    assert sum(1 for r in sim.server.requests if r.status == 500) == source.max_attempts


async def test_creating_requests_are_never_retried(sim: Simulator, source: OctopusClient) -> None:
    sim.server.scripted.append(ScriptedFault(r"/import-export/export$", 500, count=1))
    project = sim.server.store.all("projects")[0]["Id"]
    with pytest.raises(ServerError):
        await source.export_projects([project], "a good long password")
    posts = [r for r in sim.server.requests if r.method == "POST"]
    assert len(posts) == 1
    assert not [t for t in sim.server.store.all("tasks") if t["Name"] == "ExportProjects"]


async def test_dropped_connection_on_a_get_is_retried(sim: Simulator, source: OctopusClient) -> None:
    sim.server.scripted.append(ScriptedFault(r"/lifecycles/all$", 0, count=1, after_bytes=10))
    assert await source.lifecycles()


async def test_validation_errors_carry_octopus_errors(source: OctopusClient) -> None:
    with pytest.raises(ValidationFailed) as err:
        await source.create_worker_pool({"Description": "no name"})
    assert err.value.errors == ["The worker name is required."]
    assert "refused the request (creating a worker pool)" in str(err.value)


async def test_rate_budget_keeps_under_the_cloud_limit(fake_time: FakeTime) -> None:
    from octowiz.sim.config import InstanceConfig

    sim = Simulator(None, "empty", cloud=InstanceConfig("cloud", rate_limit_per_minute=60), clock=fake_time)
    with sim.serve() as endpoints:
        # Without a budget, a burst storms into the limit and leans on Retry-After.
        async with make_client(endpoints["cloud"], fake_time) as storm:
            await storm.discover()
            for _ in range(70):
                await storm.get_json("/api/Spaces-1/environments")
        storm_429 = sum(1 for r in sim.cloud.requests if r.status == 429)
        assert storm_429 > 0
        sim.cloud.requests.clear()
        fake_time.advance(120)
        async with make_client(endpoints["cloud"], fake_time, requests_per_minute=50) as polite:
            polite._budget = RateBudget(50, clock=fake_time, sleep=fake_time.sleep)
            await polite.discover()
            for _ in range(120):
                await polite.get_json("/api/Spaces-1/environments")
        assert sum(1 for r in sim.cloud.requests if r.status == 429) == 0
        assert len(sim.cloud.requests) >= 120


async def test_rate_limited_beyond_the_retry_budget_says_when(
    fake_time: FakeTime, sim: Simulator, sim_http: dict[str, Endpoint]
) -> None:
    sim.server.scripted.append(ScriptedFault(r"/environments/all$", 429, count=1, retry_after=3600))
    async with make_client(sim_http["server"], fake_time, retry_budget=60) as client:
        await client.discover()
        with pytest.raises(RateLimited) as err:
            await client.environments()
    assert err.value.retry_after == 3600
    assert "is rate-limiting requests (listing environments): octowiz waits for 3600 seconds" in str(
        err.value
    )


@pytest.mark.parametrize("per_minute", [180, 60, 7])
async def test_the_budget_holds_over_any_minute_as_written(fake_time: FakeTime, per_minute: int) -> None:
    # 600 requests as fast as the budget lets them go: no 60 s window may hold more than the budget
    # (a token bucket refilled at the budget's rate would let a whole bucket more through in a minute).
    budget = RateBudget(per_minute, clock=fake_time, sleep=fake_time.sleep)
    sent: list[float] = []
    for _ in range(600):
        await budget.acquire()
        sent.append(fake_time.now)
    most = max(bisect.bisect_left(sent, t + 60.0) - i for i, t in enumerate(sent))
    assert most == per_minute
    # No stricter than it says: a short run goes at once, a long one at the budget (its window kept a
    # fiftieth longer, for requests that reach the instance a little late).
    assert sent[per_minute - 1] == sent[0]
    assert sent[-1] - sent[0] == pytest.approx((600 // per_minute - (600 % per_minute == 0)) * 61.2)


async def test_a_short_window_keeps_a_tenth_of_a_second_for_requests_arriving_unevenly(
    fake_time: FakeTime,
) -> None:
    # How unevenly requests reach an instance depends on networks and schedulers, not on the window:
    # a window scaled down to a second still waits 0.1 s more, not a fiftieth of a second.
    budget = RateBudget(18, window=1.0, clock=fake_time, sleep=fake_time.sleep)
    sent: list[float] = []
    for _ in range(54):
        await budget.acquire()
        sent.append(fake_time.now)
    assert [sent[18] - sent[0], sent[36] - sent[18]] == pytest.approx([1.1, 1.1])
    assert len(set(sent)) == 3


async def test_a_long_unpaged_list_validated_in_chunks_gives_every_model_and_the_same_sentence(
    sim: Simulator, source: OctopusClient
) -> None:
    from octowiz.octopus import models as m

    await source.discover()
    for i in range(3 * source.page_size):
        sim.server.store.insert(
            "environments", {"Name": f"Env {i:03}", "SpaceId": "Spaces-1"}, prefix="Environments"
        )
    environments = await source.all_unpaged("environments", m.Environment)
    assert len(environments) == sim.server.store.count("environments") > source.page_size
    assert {e.name for e in environments} >= {f"Env {i:03}" for i in range(3 * source.page_size)}
    sim.server.store.insert("environments", {"Name": [12], "SpaceId": "Spaces-1"}, prefix="Environments")
    with pytest.raises(Exception) as err:
        await source.all_unpaged("environments", m.Environment)
    assert "but not as Octopus does" in str(err.value) and "Name" in str(err.value)


async def test_pages_that_land_together_are_decoded_one_per_turn_of_the_event_loop(
    sim: Simulator, source: OctopusClient
) -> None:
    # Eight pages in flight land together; decoded in one turn they stalled a screen for 60 ms.
    # Another task of the loop (a screen, here a ticker) gets a turn between any two decodes.
    turns = 0
    done = False

    async def ticker() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    seen: list[int] = []

    def parse(items: list[object]) -> list[object]:
        seen.append(turns)
        return items

    source.page_size = 1
    tick = asyncio.create_task(ticker())
    try:
        pages = await source.collect("/api/Spaces-1/machines", parse)
    finally:
        done = True
        await tick
    assert len(pages) == len(seen) == sim.server.store.count("machines") > 8
    assert len(set(seen)) == len(seen), seen  # never two pages in one turn


async def test_answers_are_freed_as_soon_as_their_page_is_read(source: OctopusClient) -> None:
    # Pages are frozen out of the cyclic GC once parsed. An answer left in a reference cycle (httpx
    # ties each to its body's stream) and frozen while in hand was never freed: 12 MB of a listing
    # of 7,000 items stayed until the screen closed. Answers must go by reference counting alone.
    answers: list[weakref.ref[httpx.Response]] = []

    async def keep(response: httpx.Response) -> None:
        answers.append(weakref.ref(response))

    source._http.event_hooks["response"].append(keep)
    source.page_size = 2
    machines = await source.machines()
    projects = await source.projects()
    assert len(answers) > 8 and machines and projects
    assert [ref for ref in answers if ref() is not None] == []
