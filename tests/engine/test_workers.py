"""Worker pool mapping on the demo, and creating a missing pool: preview, journal, reconcile, refusal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from octowiz.engine.prepare.inventory import collect
from octowiz.engine.prepare.workers import PoolMapping, create_missing_pool, pool_mapping
from octowiz.journal.journal import Journal
from octowiz.octopus.client import OctopusClient
from octowiz.octopus.errors import Forbidden, Unreachable
from octowiz.sim.factory import worker_pool_doc
from octowiz.sim.keys import CLOUD_READER
from octowiz.sim.simulator import Simulator


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.create(tmp_path / "m.octowiz.sqlite3", {"name": "m"}) as j:
        j.set_settings(source_url="https://octopus.example.internal", destination_url="https://x.octopus.app")
        yield j


async def mapping(clients: tuple[OctopusClient, ...]) -> dict[str, PoolMapping]:
    return {r.source_name: r for r in pool_mapping(await collect(*clients))}


def pools_named(sim: Simulator, name: str) -> list[dict[str, Any]]:
    return [p for p in sim.cloud.store.all("workerpools") if p["Name"].lower() == name.lower()]


# -- mapping --------------------------------------------------------------------------------------------


async def test_demo_pools_mapped_flagged_and_suggested(clients: tuple[OctopusClient, OctopusClient]) -> None:
    rows = await mapping(clients)
    assert list(rows) == ["Default Worker Pool", "Linux Workers", "Windows Workers"]
    default, linux, windows = rows["Default Worker Pool"], rows["Linux Workers"], rows["Windows Workers"]

    assert (default.destination_name, default.destination_type, default.matched_by) == (
        "Hosted Ubuntu",
        "dynamic",
        "default",
    )
    assert default.flag is None and default.suggestion is None
    assert default.note and "built-in worker" in default.note and "cannot reach" in default.note
    assert {u.via for u in default.uses} == {"default pool", "pool"}
    assert "Acme Web: deployment process" in default.processes

    assert (linux.workers, linux.healthy) == (1, 1)
    assert linux.flag and "at least 2" in linux.flag
    assert linux.destination_name is None and linux.destination_type is None
    assert linux.suggested_action == "create-static" and linux.suggested_pool == "Linux Workers"
    assert linux.suggestion and "static pool named 'Linux Workers'" in linux.suggestion
    assert "Hosted Ubuntu" in linux.suggestion
    assert [(u.project, u.step) for u in linux.uses] == [("Acme API", "Deploy container")]

    assert (windows.workers, windows.healthy) == (2, 2)
    assert windows.flag is None
    assert windows.suggestion and "Hosted Windows" in windows.suggestion
    assert windows.processes == ["Ops Toolkit: runbook Rotate certificates"]


async def test_names_match_case_insensitively_and_empty_pools_go_dynamic(
    demo: Simulator, clients: tuple[OctopusClient, OctopusClient]
) -> None:
    demo.cloud.store.insert("workerpools", worker_pool_doc("WorkerPools-50", "LINUX workers", 5))
    demo.server.store.insert("workerpools", worker_pool_doc("WorkerPools-60", "Windows Build", 6))
    unhealthy = demo.server.store.first("workers", lambda w: w["Name"] == "win-worker-02")
    assert unhealthy is not None
    demo.server.store.put("workers", {**unhealthy, "HealthStatus": "Unavailable"})
    rows = await mapping(clients)
    linux = rows["Linux Workers"]
    assert (linux.destination_id, linux.destination_type, linux.matched_by) == (
        "WorkerPools-50",
        "static",
        "name",
    )
    assert linux.flag and linux.suggestion is None  # still one healthy worker on the static counterpart
    windows = rows["Windows Workers"]
    assert (windows.workers, windows.healthy) == (2, 1) and windows.flag
    empty = rows["Windows Build"]
    assert empty.suggested_action == "map-dynamic" and empty.suggested_pool == "Hosted Windows"


async def test_without_destination_every_pool_is_to_create(
    clients: tuple[OctopusClient, OctopusClient],
) -> None:
    rows = await mapping(clients[:1])
    assert all(r.destination_id is None and r.suggested_action == "create-static" for r in rows.values())
    assert rows["Default Worker Pool"].flag  # no workers, and nothing dynamic known to take over
    assert "were not read" in str(rows["Linux Workers"].suggestion)


# -- creating a missing pool ------------------------------------------------------------------------------


async def test_preview_changes_nothing(
    demo: Simulator, clients: tuple[OctopusClient, OctopusClient], journal: Journal
) -> None:
    before = json.dumps(demo.cloud.store.all("workerpools"), sort_keys=True)
    requests = len(demo.cloud.requests)
    result = await create_missing_pool(clients[1], journal, "Linux Workers", confirm=False)
    assert result.status == "preview" and result.pool_id is None and result.action_id is None
    assert result.pool_type == "StaticWorkerPool"
    assert result.description == "Created by octowiz for the migration from octopus.example.internal"
    assert result.body == {
        "Name": "Linux Workers",
        "Description": result.description,
        "WorkerPoolType": "StaticWorkerPool",
        "IsDefault": False,
    }
    assert json.dumps(demo.cloud.store.all("workerpools"), sort_keys=True) == before
    assert len(demo.cloud.requests) == requests
    assert journal.actions() == []


async def test_confirmed_creates_once_and_journals_intent_outcome_undo_and_id_map(
    demo: Simulator, clients: tuple[OctopusClient, OctopusClient], journal: Journal
) -> None:
    dest = clients[1]
    first = await create_missing_pool(
        dest, journal, "Linux Workers", confirm=True, source_pool_id="WorkerPools-2"
    )
    assert first.status == "created" and first.pool_id and first.action_id
    [stored] = pools_named(demo, "Linux Workers")
    assert stored["Id"] == first.pool_id and stored["WorkerPoolType"] == "StaticWorkerPool"
    assert stored["Description"] == first.description and stored["IsDefault"] is False

    second = await create_missing_pool(
        dest, journal, "linux workers", confirm=True, source_pool_id="WorkerPools-2"
    )
    assert second.status == "exists" and second.pool_id == first.pool_id and second.action_id is None
    assert len(pools_named(demo, "Linux Workers")) == 1

    [action] = journal.actions()
    assert (action.step, action.kind, action.target, action.outcome) == (
        "connectivity",
        "create-worker-pool",
        "Linux Workers",
        "ok",
    )
    assert action.intent["method"] == "POST" and action.intent["path"] == "/api/Spaces-1/workerpools"
    assert action.intent["body"] == first.body
    assert action.undo is not None and action.undo["method"] == "DELETE"
    assert action.detail is not None
    assert action.detail["undo"] == {"method": "DELETE", "path": f"/api/Spaces-1/workerpools/{first.pool_id}"}
    assert action.detail["pool_id"] == first.pool_id
    assert journal.id_map("workerpool") == {"WorkerPools-2": first.pool_id}

    # The mapping now finds it by name.
    linux = (await mapping(clients))["Linux Workers"]
    assert linux.destination_id == first.pool_id and linux.matched_by == "name"


async def test_reader_key_is_refused_and_journaled_as_failed(demo: Simulator, journal: Journal) -> None:
    reader = OctopusClient(demo.cloud_url, CLOUD_READER.api_key, transport=demo.transport())
    await reader.discover()
    try:
        with pytest.raises(Forbidden) as caught:
            await create_missing_pool(
                reader, journal, "Linux Workers", confirm=True, source_pool_id="WorkerPools-2"
            )
    finally:
        await reader.aclose()
    assert pools_named(demo, "Linux Workers") == []
    [action] = journal.actions()
    assert action.outcome == "failed" and action.detail is not None
    assert action.detail["error"] == caught.value.sentence
    assert action.intent["body"]["Name"] == "Linux Workers"
    assert journal.id_map() == {}


async def test_an_answer_lost_after_the_server_acted_is_reconciled(
    demo: Simulator,
    clients: tuple[OctopusClient, OctopusClient],
    journal: Journal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dest = clients[1]
    real = dest.create_worker_pool

    async def lost(body: dict[str, Any]) -> Any:
        await real(body)
        raise Unreachable("The connection dropped before Octopus answered.", host=dest.host)

    monkeypatch.setattr(dest, "create_worker_pool", lost)
    result = await create_missing_pool(
        dest, journal, "Linux Workers", confirm=True, source_pool_id="WorkerPools-2"
    )
    [stored] = pools_named(demo, "Linux Workers")
    assert result.status == "created" and result.pool_id == stored["Id"]
    [action] = journal.actions()
    assert action.outcome == "ok" and action.detail is not None and action.detail["reconciled"] is True


async def test_an_interrupted_attempt_is_settled_without_deleting_a_pool_it_did_not_create(
    demo: Simulator, clients: tuple[OctopusClient, OctopusClient], journal: Journal
) -> None:
    dest = clients[1]
    preview = await create_missing_pool(dest, journal, "Linux Workers", confirm=False)
    path = "/api/Spaces-1/workerpools"
    kind = "create-worker-pool"
    ours = journal.begin_action("connectivity", kind, "Linux Workers", {"path": path, "body": preview.body})
    theirs = journal.begin_action(
        "connectivity", kind, "Windows Workers", {"path": path, "body": {"Description": "x"}}
    )
    demo.cloud.store.insert(
        "workerpools", {**worker_pool_doc("WorkerPools-70", "Linux Workers", 7), **preview.body}
    )
    demo.cloud.store.insert("workerpools", worker_pool_doc("WorkerPools-71", "Windows Workers", 8))

    assert (await create_missing_pool(dest, journal, "Linux Workers", confirm=True)).status == "exists"
    assert (await create_missing_pool(dest, journal, "Windows Workers", confirm=True)).status == "exists"
    actions = {a.id: a for a in journal.actions()}
    assert len(actions) == 2
    settled, skipped = actions[ours], actions[theirs]
    assert settled.outcome == "ok" and settled.detail is not None
    assert settled.detail["undo"]["path"] == "/api/Spaces-1/workerpools/WorkerPools-70"
    assert skipped.outcome == "exists" and skipped.detail is not None
    assert "undo" not in skipped.detail
