"""The simulator answers like Octopus: paging, errors, permissions, flavours, tasks, faults, persistence."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from octowiz.sim.config import InstanceConfig
from octowiz.sim.instance import ARRIVED, ScriptedFault
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN, SERVER_READER
from octowiz.sim.simulator import Simulator
from tests.conftest import FakeTime


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=sim.transport(), headers={"X-Octopus-ApiKey": SERVER_ADMIN.api_key}
    ) as c:
        yield c


async def test_paging_is_exactly_octopus_paging(sim: Simulator, http: httpx.AsyncClient) -> None:
    total = sim.server.store.count("releases")
    assert total > 60
    first = (await http.get(f"{sim.server_url}/api/Spaces-1/releases")).json()
    assert first["ItemType"] == "Release" and first["ItemsPerPage"] == 30 and len(first["Items"]) == 30
    assert first["TotalResults"] == total
    assert first["NumberOfPages"] == -(-total // 30) and first["LastPageNumber"] == first["NumberOfPages"] - 1
    links = first["Links"]
    assert set(links) >= {"Self", "Template", "Page.All", "Page.Current", "Page.Last", "Page.Next"}
    assert links["Page.Next"] == "/api/Spaces-1/releases?skip=30&take=30"
    assert links["Page.All"].endswith("take=2147483647")
    last = (await http.get(sim.server_url + links["Page.Last"])).json()
    assert "Page.Next" not in last["Links"] and len(last["Items"]) == total - 30 * first["LastPageNumber"]
    walked, path = 0, "/api/Spaces-1/releases"
    while path:
        page = (await http.get(sim.server_url + path)).json()
        walked += len(page["Items"])
        path = page["Links"].get("Page.Next")
    assert walked == total


async def test_all_endpoints_answer_plain_arrays(sim: Simulator, http: httpx.AsyncClient) -> None:
    body = (await http.get(f"{sim.server_url}/api/Spaces-1/projects/all")).json()
    assert isinstance(body, list) and len(body) == sim.server.store.count("projects")
    assert all(p["Links"]["Self"] == f"/api/Spaces-1/projects/{p['Id']}" for p in body)
    assert all(not k.startswith("_") for p in body for k in p)  # simulator-private fields never leak
    same = (await http.get(f"{sim.server_url}/api/spaces/default/projects/all")).json()
    legacy = (await http.get(f"{sim.server_url}/api/projects/all")).json()
    assert [p["Id"] for p in same] == [p["Id"] for p in body] == [p["Id"] for p in legacy]


async def test_errors_have_octopus_bodies(sim: Simulator) -> None:
    async with httpx.AsyncClient(transport=sim.transport(), base_url=sim.server_url) as anon:
        root = await anon.get("/api")
        assert root.status_code == 200 and root.json()["Application"] == "Octopus Deploy"
        denied = await anon.get("/api/Spaces-1/projects")
        assert denied.status_code == 401
        assert denied.json()["ErrorMessage"].startswith("You must be logged in to request this resource")
        reader = await anon.get("/api/Spaces-1/projects", headers={"X-Octopus-ApiKey": SERVER_READER.api_key})
        assert reader.status_code == 200
        refused = await anon.post(
            "/api/Spaces-1/projects", json={"Name": "x"}, headers={"X-Octopus-ApiKey": SERVER_READER.api_key}
        )
        assert refused.status_code == 403 and refused.json()["Errors"] == [
            "Missing permission: ProjectCreate"
        ]
        headers = {"X-Octopus-ApiKey": SERVER_ADMIN.api_key}
        missing = await anon.get("/api/Spaces-1/projects/Projects-999999", headers=headers)
        assert missing.status_code == 404 and "was not found" in missing.json()["ErrorMessage"]
        invalid = await anon.post(
            "/api/Spaces-1/environments", json={"Description": "no name"}, headers=headers
        )
        assert invalid.status_code == 400
        assert invalid.json() == {
            "ErrorMessage": "There was a problem with your request.",
            "Errors": ["The environment name is required."],
        }


async def test_server_and_cloud_flavours(sim: Simulator) -> None:
    async with httpx.AsyncClient(transport=sim.transport()) as c:
        s_head = {"X-Octopus-ApiKey": SERVER_ADMIN.api_key}
        c_head = {"X-Octopus-ApiKey": CLOUD_MANAGER.api_key}
        s_root = (await c.get(f"{sim.server_url}/api")).json()
        c_root = (await c.get(f"{sim.cloud_url}/api")).json()
        assert s_root["Version"] < c_root["Version"] and s_root["Version"].startswith(("2023.", "2024."))
        s_auth = {
            p["Name"]
            for p in (await c.get(f"{sim.server_url}/api/authentication")).json()["AuthenticationProviders"]
        }
        c_auth = {
            p["Name"]
            for p in (await c.get(f"{sim.cloud_url}/api/authentication")).json()["AuthenticationProviders"]
        }
        assert {"Active Directory", "LDAP"} <= s_auth and not {"Active Directory", "LDAP"} & c_auth
        assert {"Octopus ID", "Azure AD"} <= c_auth
        assert (await c.get(f"{sim.server_url}/api/featuresconfiguration", headers=s_head)).json()[
            "IsBuiltInWorkerEnabled"
        ]
        assert not (await c.get(f"{sim.cloud_url}/api/featuresconfiguration", headers=c_head)).json()[
            "IsBuiltInWorkerEnabled"
        ]
        pools = (await c.get(f"{sim.cloud_url}/api/Spaces-1/workerpools/all", headers=c_head)).json()
        assert pools and all(p["WorkerPoolType"] == "DynamicWorkerPool" for p in pools)
        teams = (await c.get(f"{sim.server_url}/api/teams/all", headers=s_head)).json()
        admins = next(t for t in teams if t["Id"] == "teams-administrators")
        assert admins["Name"] == "Octopus Administrators" and SERVER_ADMIN.user_id in admins["MemberUserIds"]
        # Cloud customers are not system administrators: maintenance mode and task cap are refused.
        m = await c.put(
            f"{sim.cloud_url}/api/maintenanceconfiguration",
            json={"IsInMaintenanceMode": True},
            headers=c_head,
        )
        assert m.status_code == 403
        node = (await c.get(f"{sim.cloud_url}/api/octopusservernodes/all", headers=c_head)).json()[0]
        cap = await c.put(
            f"{sim.cloud_url}/api/octopusservernodes/{node['Id']}",
            json={**node, "MaxConcurrentTasks": 0},
            headers=c_head,
        )
        assert cap.status_code == 403
        # On the Server, the administrator may; maintenance mode then stops non-administrators' changes.
        on = await c.put(
            f"{sim.server_url}/api/maintenanceconfiguration",
            json={"IsInMaintenanceMode": True},
            headers=s_head,
        )
        assert on.status_code == 200 and on.json()["IsInMaintenanceMode"] is True


async def test_tasks_live_queued_executing_success(
    sim: Simulator, http: httpx.AsyncClient, fake_time: FakeTime
) -> None:
    body = {
        "Name": "AdHocScript",
        "Description": "hello",
        "SpaceId": "Spaces-1",
        "Arguments": {"ScriptBody": "echo hi", "Syntax": "Bash", "TargetType": "Machines", "MachineIds": []},
    }
    created = await http.post(f"{sim.server_url}/api/tasks", json=body)
    assert created.status_code == 201
    task_id = created.json()["Id"]

    async def state() -> str:
        return str((await http.get(f"{sim.server_url}/api/tasks/{task_id}")).json()["State"])

    assert await state() == "Queued"
    fake_time.advance(sim.server.config.task_queued_seconds + 0.01)
    assert await state() == "Executing"
    details = (await http.get(f"{sim.server_url}/api/tasks/{task_id}/details?tail=5")).json()
    assert 0 <= details["Progress"]["ProgressPercentage"] < 100
    fake_time.advance(sim.server.config.task_executing_seconds)
    assert await state() == "Success"
    details = (await http.get(f"{sim.server_url}/api/tasks/{task_id}/details")).json()
    assert details["Progress"]["ProgressPercentage"] == 100
    assert details["ActivityLogs"][0]["LogElements"][0]["MessageText"].startswith("Running a Bash script")


async def test_failing_and_slow_tasks(fake_time: FakeTime) -> None:
    sim = Simulator(
        None,
        "empty",
        server=InstanceConfig("server", task_executing_seconds=600, failing_tasks={"adhoc"}),
        clock=fake_time,
    )
    async with httpx.AsyncClient(
        transport=sim.transport(), headers={"X-Octopus-ApiKey": SERVER_ADMIN.api_key}
    ) as c:
        body = {
            "Name": "AdHocScript",
            "Arguments": {"ScriptBody": "x", "TargetType": "Machines", "MachineIds": []},
        }
        task_id = (await c.post(f"{sim.server_url}/api/tasks", json=body)).json()["Id"]
        fake_time.advance(300)
        assert (await c.get(f"{sim.server_url}/api/tasks/{task_id}")).json()["State"] == "Executing"
        fake_time.advance(301)
        done = (await c.get(f"{sim.server_url}/api/tasks/{task_id}")).json()
        assert done["State"] == "Failed" and done["ErrorMessage"] == "The task failed (simulated fault)."


async def test_fault_injection_and_request_log(fake_time: FakeTime) -> None:
    sim = Simulator(
        None,
        "empty",
        server=InstanceConfig("server", fault_rate=0.5, faults={503: 1.0}),
        cloud=InstanceConfig("cloud", rate_limit_per_minute=5),
        clock=fake_time,
    )
    async with httpx.AsyncClient(transport=sim.transport()) as c:
        head = {"X-Octopus-ApiKey": SERVER_ADMIN.api_key}
        statuses = [
            (await c.get(f"{sim.server_url}/api/Spaces-1/environments", headers=head)).status_code
            for _ in range(200)
        ]
        assert set(statuses) == {200, 503} and 60 < statuses.count(503) < 140
        assert [r.status for r in sim.server.requests] == statuses
        assert all(r.path == "/api/Spaces-1/environments" and r.method == "GET" for r in sim.server.requests)
        c_head = {"X-Octopus-ApiKey": CLOUD_MANAGER.api_key}
        burst = [await c.get(f"{sim.cloud_url}/api/Spaces-1/environments", headers=c_head) for _ in range(7)]
        assert [r.status_code for r in burst] == [200] * 5 + [429] * 2
        # A token bucket, as Octopus's limiter: one token back every 60 / 5 = 12 seconds.
        assert burst[-1].headers["Retry-After"] == "12"
        fake_time.advance(12)
        assert (await c.get(f"{sim.cloud_url}/api/Spaces-1/environments", headers=c_head)).status_code == 200
        sim.cloud.scripted.append(ScriptedFault("/environments", 0, count=1))
        with pytest.raises(httpx.RemoteProtocolError):
            await c.get(f"{sim.cloud_url}/api/Spaces-1/environments", headers=c_head)


async def _handled_late(sim: Simulator, path: str, key: str, waited: float) -> int:
    """Hand Cloud's app a GET whose bytes arrived ``waited`` seconds ago, as uvicorn's protocol stamps it."""
    import time

    sent: list[MutableMapping[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"x-octopus-apikey", key.encode())],
        ARRIVED: time.perf_counter() - waited,
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await sim.cloud.app(scope, receive, send)
    return int(sent[0]["status"])


async def test_requests_are_logged_and_limited_as_of_their_arrival(fake_time: FakeTime) -> None:
    # Over HTTP, one thread answers every request: one that waited behind another's handling is still
    # logged, and counted by the limiter, at the moment its bytes arrived, as a server's edge sees it.
    # Logged when handled, a client keeping its budget would look as if it broke it.
    limited = InstanceConfig("cloud", rate_limit_per_minute=60, rate_limit_burst=1)
    sim = Simulator(None, "empty", cloud=limited, clock=fake_time)
    path = "/api/Spaces-1/environments"
    assert await _handled_late(sim, path, CLOUD_MANAGER.api_key, waited=1.5) == 200
    assert await _handled_late(sim, path, CLOUD_MANAGER.api_key, waited=0.0) == 200
    first, second = sim.cloud.requests
    assert first.at == pytest.approx(fake_time.now - 1.5, abs=0.2)
    assert second.at == pytest.approx(fake_time.now, abs=0.2)
    # A third, arriving with the second, finds the one-request bucket empty.
    assert await _handled_late(sim, path, CLOUD_MANAGER.api_key, waited=0.0) == 429


async def test_latency_is_added(fake_time: FakeTime) -> None:
    import time

    sim = Simulator(None, "empty", server=InstanceConfig("server", latency_ms=50), clock=fake_time)
    async with httpx.AsyncClient(transport=sim.transport()) as c:
        start = time.perf_counter()
        await c.get(f"{sim.server_url}/api")
        assert time.perf_counter() - start >= 0.05


async def test_state_persists_across_restarts(tmp_path: Path, fake_time: FakeTime) -> None:
    first = Simulator(tmp_path, "demo", clock=fake_time)
    async with httpx.AsyncClient(
        transport=first.transport(), headers={"X-Octopus-ApiKey": CLOUD_MANAGER.api_key}
    ) as c:
        created = await c.post(f"{first.cloud_url}/api/Spaces-1/environments", json={"Name": "Staging"})
        assert created.status_code == 201
    projects = [p["Id"] for p in first.server.store.all("projects")]
    first.close()
    second = Simulator(tmp_path, "demo", clock=fake_time)
    assert [p["Id"] for p in second.server.store.all("projects")] == projects
    async with httpx.AsyncClient(
        transport=second.transport(), headers={"X-Octopus-ApiKey": CLOUD_MANAGER.api_key}
    ) as c:
        envs = (await c.get(f"{second.cloud_url}/api/Spaces-1/environments/all")).json()
        assert [e["Name"] for e in envs] == ["Staging"]
        again = await c.post(f"{second.cloud_url}/api/Spaces-1/environments", json={"Name": "Prod"})
        assert again.json()["Id"] != created.json()["Id"]  # id counters persist too
    second.close()


async def test_sensitive_values_never_leave_the_simulator(sim: Simulator, http: httpx.AsyncClient) -> None:
    secrets = [
        v["_SensitiveValue"]
        for vs in sim.server.store.all("variables")
        for v in vs.get("Variables", [])
        if v.get("_SensitiveValue")
    ]
    assert secrets
    for vs in sim.server.store.all("variables"):
        body = (await http.get(f"{sim.server_url}/api/Spaces-1/variables/{vs['Id']}")).text
        assert "_SensitiveValue" not in body and not any(s in body for s in secrets)
    feeds = (await http.get(f"{sim.server_url}/api/Spaces-1/feeds/all")).text
    assert "_Password" not in feeds
