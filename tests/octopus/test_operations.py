"""Every client operation over loopback HTTP, judged by what the simulator holds afterwards."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from octowiz.octopus.client import OctopusClient
from octowiz.octopus.errors import Forbidden, ValidationFailed
from octowiz.sim.resources import public
from octowiz.sim.simulator import Simulator
from tests.conftest import FakeTime

PACKAGE_EXISTS = (
    "A package with the same ID and version already exists. To proceed anyway, specify an "
    "overwriteMode of OverwriteExisting or IgnoreIfExists."
)
THUMBPRINT = "0E80575D3BD8D30854802A4E8340A2E23AE961FD"


def _by_name(sim: Simulator, coll: str, name: str) -> dict[str, Any]:
    doc = sim.server.store.first(coll, lambda d: d.get("Name") == name)
    assert doc is not None, f"the demo scenario has no {coll} called {name}"
    return doc


def _blob(store: Any, key: str) -> bytes:
    f = store.blob_open(key)
    assert f is not None, f"no blob {key}"
    with f:
        data: bytes = f.read()
    return data


async def _cloud_project(sim: Simulator, client: OctopusClient, name: str = "Acme Web") -> str:
    """Create a project on the cloud the way a migration's fallback would, and return its id."""
    store = sim.cloud.store
    body = {
        "Name": name,
        "ProjectGroupId": store.all("projectgroups")[0]["Id"],
        "LifecycleId": store.all("lifecycles")[0]["Id"],
    }
    response = await client.request("POST", client.space_path("projects"), json=body)
    assert response.status_code == 201
    return str(response.json()["Id"])


async def _cloud_environments(sim: Simulator, client: OctopusClient) -> dict[str, str]:
    """Create the server's environments on the cloud; server id -> cloud id."""
    mapping: dict[str, str] = {}
    for env in sim.server.store.all("environments"):
        response = await client.request("POST", client.space_path("environments"), json={"Name": env["Name"]})
        mapping[env["Id"]] = str(response.json()["Id"])
    return mapping


def _script(
    space_id: str | None, target: str = "Machines", machine_ids: list[str] | None = None
) -> dict[str, Any]:
    return {
        "Name": "AdHocScript",
        "Description": "Script run from management console",
        "SpaceId": space_id,
        "Arguments": {
            "ScriptBody": 'echo "hello"',
            "Syntax": "Bash",
            "TargetType": target,
            "MachineIds": machine_ids or [],
        },
    }


# -- projects -----------------------------------------------------------------------------------------


async def test_disabling_a_project_keeps_every_other_field(sim: Simulator, source: OctopusClient) -> None:
    store = sim.server.store
    original = _by_name(sim, "projects", "Acme Web")
    # A field from a newer Octopus that the client never modelled, nested to make it harder.
    store.put("projects", {**original, "FutureSetting": {"Mode": "Strict", "Values": [1, None, "x"]}})
    before = dict(store.get("projects", original["Id"]) or {})
    assert before["IsDisabled"] is False

    project = await source.set_project_disabled(original["Id"], True)
    after = store.get("projects", original["Id"]) or {}
    assert after["IsDisabled"] is True and project.is_disabled is True
    assert {k: v for k, v in after.items() if k != "IsDisabled"} == {
        k: v for k, v in before.items() if k != "IsDisabled"
    }
    assert (project.model_extra or {})["FutureSetting"] == {"Mode": "Strict", "Values": [1, None, "x"]}

    await source.set_project_disabled(original["Id"], False)
    assert store.get("projects", original["Id"]) == before


async def test_project_by_name_matches_exactly(sim: Simulator, source: OctopusClient) -> None:
    web = _by_name(sim, "projects", "Acme Web")
    group, lifecycle = web["ProjectGroupId"], web["LifecycleId"]
    body = {"Name": "Acme Web Legacy", "ProjectGroupId": group, "LifecycleId": lifecycle}
    await source.request("POST", source.space_path("projects"), json=body)

    found = await source.project_by_name("Acme Web")
    assert found is not None and found.id == web["Id"] and found.name == "Acme Web"
    legacy = await source.project_by_name("Acme Web Legacy")
    assert legacy is not None and legacy.id != web["Id"]
    assert await source.project_by_name("Acme") is None  # matches several partially, none exactly
    assert await source.project_by_name("No Such Project") is None


# -- packages -----------------------------------------------------------------------------------------


async def test_packages_list_every_built_in_version(sim: Simulator, source: OctopusClient) -> None:
    source.page_size = 4
    packages = await source.packages()
    stored = {p["Id"]: p for p in sim.server.store.all("packages")}
    assert sorted(p.id or "" for p in packages) == sorted(stored)
    for p in packages:
        assert (p.hash, p.package_size_bytes, p.version) == (
            stored[p.id or ""]["Hash"],
            stored[p.id or ""]["PackageSizeBytes"],
            stored[p.id or ""]["Version"],
        )
    web = await source.packages("Acme.Web")
    assert sorted(p.version or "" for p in web) == ["1.0.0", "1.1.0", "1.2.0", "2.0.0"]


async def test_one_package_or_none(sim: Simulator, source: OctopusClient) -> None:
    pkg = await source.package("Acme.Api", "3.4.1")
    stored = sim.server.store.get("packages", "packages-Acme.Api.3.4.1")
    assert pkg is not None and stored is not None
    assert pkg.id == stored["Id"] and pkg.hash == stored["Hash"]
    assert (pkg.links or {})["Raw"].endswith("/packages/packages-Acme.Api.3.4.1/raw")
    assert await source.package("Acme.Api", "9.9.9") is None
    assert await source.package("No.Such.Package", "1.0.0") is None


async def _chunks(path: Path, size: int = 100) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(size):
            yield block


async def test_package_copies_from_server_to_cloud_by_streaming(
    sim: Simulator, source: OctopusClient, destination: OctopusClient, tmp_path: Path
) -> None:
    pkg = await source.package("Acme.Web", "1.2.0")
    assert pkg is not None and pkg.links is not None
    path = tmp_path / f"{pkg.package_id}.{pkg.version}{pkg.file_extension}"
    size, sha256 = await source.download_to(pkg.links["Raw"], path)
    data = path.read_bytes()
    assert size == len(data) == pkg.package_size_bytes
    assert hashlib.sha1(data).hexdigest() == pkg.hash
    assert hashlib.sha256(data).hexdigest() == sha256
    assert not path.with_name(path.name + ".part").exists()

    assert sim.cloud.store.count("packages") == 0
    uploaded = await destination.upload_package(path.name, _chunks(path), size)
    assert (uploaded.package_id, uploaded.version, uploaded.hash) == ("Acme.Web", "1.2.0", pkg.hash)
    stored = sim.cloud.store.get("packages", "packages-Acme.Web.1.2.0")
    assert stored is not None
    assert (stored["Hash"], stored["PackageSizeBytes"], stored["FileExtension"]) == (pkg.hash, size, ".zip")
    assert _blob(sim.cloud.store, f"package/{stored['SpaceId']}/{stored['Id']}") == data
    published = stored["Published"]

    with pytest.raises(ValidationFailed) as err:
        await destination.upload_package(path.name, _chunks(path), size)
    assert err.value.status == 409 and err.value.error_message == PACKAGE_EXISTS
    assert "refused the request (uploading a package)" in str(err.value)

    again = await destination.upload_package(path.name, _chunks(path), size, "IgnoreIfExists")
    assert again.id == stored["Id"] and again.hash == pkg.hash
    assert sim.cloud.store.count("packages") == 1
    assert (sim.cloud.store.get("packages", stored["Id"]) or {})["Published"] == published
    cloud_list = await destination.packages()
    assert [p.id for p in cloud_list] == ["packages-Acme.Web.1.2.0"]


# -- logos ---------------------------------------------------------------------------------------------


async def test_logo_is_the_uploaded_png(sim: Simulator, source: OctopusClient) -> None:
    stored = _by_name(sim, "projects", "Acme Web")
    assert stored.get("_LogoStamp")
    project = await source.project(stored["Id"])
    assert f"cb={stored['_LogoStamp']}" in (project.links or {})["Logo"]
    data = await source.logo(project)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert data == _blob(sim.server.store, f"logo/{stored['Id']}")


async def test_put_logo_stores_the_bytes_and_busts_the_cache(
    sim: Simulator, source: OctopusClient, destination: OctopusClient
) -> None:
    stored = _by_name(sim, "projects", "Acme Web")
    data = await source.logo(await source.project(stored["Id"]))
    cloud_id = await _cloud_project(sim, destination)
    before = await destination.project(cloud_id)
    assert sim.cloud.store.blob_size(f"logo/{cloud_id}") is None
    assert (before.links or {})["Logo"].endswith(f"cb={sim.cloud.config.version}")

    await destination.put_logo(cloud_id, data)
    assert _blob(sim.cloud.store, f"logo/{cloud_id}") == data
    after = await destination.project(cloud_id)
    assert (after.links or {})["Logo"] != (before.links or {})["Logo"]
    assert await destination.logo(after) == data


# -- triggers ------------------------------------------------------------------------------------------


def _trigger_body(trigger: dict[str, Any], project_id: str, envs: dict[str, str]) -> dict[str, Any]:
    """A source trigger remapped for the cloud: no id or links, cloud project and environment ids."""
    body = {k: v for k, v in trigger.items() if k not in ("Id", "Links", "SpaceId")}
    body["ProjectId"] = project_id
    for part in ("Filter", "Action"):
        section = dict(body[part])
        for key, value in section.items():
            if key.endswith("EnvironmentIds"):
                section[key] = [envs[v] for v in value]
            elif key.endswith("EnvironmentId") and value:
                section[key] = envs[value]
        body[part] = section
    return body


async def test_triggers_list_what_the_store_holds(sim: Simulator, source: OctopusClient) -> None:
    web = _by_name(sim, "projects", "Acme Web")
    triggers = await source.triggers(web["Id"])
    stored = [t for t in sim.server.store.all("projecttriggers") if t["ProjectId"] == web["Id"]]
    assert len(stored) == 2
    assert sorted(t.id or "" for t in triggers) == sorted(t["Id"] for t in stored)
    by_id = {t["Id"]: t for t in stored}
    for t in triggers:
        assert {k: v for k, v in t.to_json().items() if k != "Links"} == public(by_id[t.id or ""])


async def test_create_trigger_on_the_cloud(
    sim: Simulator, source: OctopusClient, destination: OctopusClient
) -> None:
    web = _by_name(sim, "projects", "Acme Web")
    cloud_project = await _cloud_project(sim, destination)
    envs = await _cloud_environments(sim, destination)
    for trigger in await source.triggers(web["Id"]):
        body = _trigger_body(trigger.to_json(), cloud_project, envs)
        created = await destination.create_trigger(body)
        stored = sim.cloud.store.get("projecttriggers", created.id or "")
        assert stored is not None and stored["ProjectId"] == cloud_project
        assert stored["Name"] == trigger.name and stored["SpaceId"] == destination.space_id
        assert stored["Filter"] == body["Filter"] and stored["Action"] == body["Action"]
    listed = await destination.triggers(cloud_project)
    assert sorted(t.name or "" for t in listed) == ["Deploy to new web servers", "Nightly deploy to Test"]


@pytest.mark.parametrize(
    "name", ["Nightly deploy to Test", "Deploy to new web servers", "Weekday promotion to Production"]
)
async def test_a_trigger_naming_an_unknown_environment_is_refused(
    sim: Simulator, destination: OctopusClient, name: str
) -> None:
    trigger = _by_name(sim, "projecttriggers", name)
    cloud_project = await _cloud_project(sim, destination)
    unknown = {e["Id"]: "Environments-999" for e in sim.server.store.all("environments")}
    with pytest.raises(ValidationFailed) as err:
        await destination.create_trigger(_trigger_body(trigger, cloud_project, unknown))
    assert "The environment 'Environments-999' was not found." in err.value.errors
    assert sim.cloud.store.count("projecttriggers") == 0


# -- machines ------------------------------------------------------------------------------------------


async def test_create_polling_target_on_the_cloud(sim: Simulator, destination: OctopusClient) -> None:
    env = await destination.request("POST", destination.space_path("environments"), json={"Name": "Test"})
    env_id = env.json()["Id"]
    body = {
        "Name": "web01",
        "Endpoint": {
            "CommunicationStyle": "TentacleActive",
            "Thumbprint": THUMBPRINT,
            "Uri": "poll://abcdefghij0123456789/",
        },
        "EnvironmentIds": [env_id],
        "Roles": ["web-server"],
        "IsDisabled": False,
    }
    machine = await destination.create_machine(body)
    stored = sim.cloud.store.get("machines", machine.id or "")
    assert stored is not None
    assert stored["EnvironmentIds"] == [env_id] and stored["Roles"] == ["web-server"]
    assert stored["Thumbprint"] == THUMBPRINT and stored["Uri"] == "poll://abcdefghij0123456789/"
    polling = await destination.machines(commStyles="TentacleActive")
    assert [m.id for m in polling] == [machine.id]
    assert polling[0].communication_style == "TentacleActive"
    assert await destination.machines(commStyles="TentaclePassive") == []

    with pytest.raises(ValidationFailed) as err:
        await destination.create_machine({**body, "Name": "web02", "EnvironmentIds": []})
    assert err.value.status == 400
    assert err.value.errors == ["Please specify at least one environment."]
    assert sim.cloud.store.count("machines") == 1


# -- server administration ----------------------------------------------------------------------------


async def test_maintenance_mode_on_the_server_and_forbidden_on_the_cloud(
    sim: Simulator, source: OctopusClient, destination: OctopusClient
) -> None:
    assert (await source.maintenance()).is_in_maintenance_mode is False
    on = await source.set_maintenance(True)
    assert on.is_in_maintenance_mode is True
    assert (sim.server.store.get("config", "maintenance") or {})["IsInMaintenanceMode"] is True
    assert (await source.maintenance()).is_in_maintenance_mode is True
    off = await source.set_maintenance(False)
    assert off.is_in_maintenance_mode is False
    assert (sim.server.store.get("config", "maintenance") or {})["IsInMaintenanceMode"] is False

    assert (await destination.maintenance()).is_in_maintenance_mode is False
    with pytest.raises(Forbidden) as err:
        await destination.set_maintenance(True)
    assert err.value.status == 403 and "AdministerSystem" in str(err.value)
    assert (sim.cloud.store.get("config", "maintenance") or {})["IsInMaintenanceMode"] is False


async def test_task_cap_zero_holds_new_tasks_then_restores(
    sim: Simulator, source: OctopusClient, fake_time: FakeTime
) -> None:
    nodes = await source.nodes()
    stored = sim.server.store.all("octopusservernodes")
    assert [(n.id, n.name, n.max_concurrent_tasks) for n in nodes] == [
        (s["Id"], s["Name"], s["MaxConcurrentTasks"]) for s in stored
    ]
    node = nodes[0]
    original = node.max_concurrent_tasks
    assert original == 5

    capped = await source.set_task_cap(node.id or "", 0)
    assert capped.max_concurrent_tasks == 0
    doc = sim.server.store.get("octopusservernodes", node.id or "") or {}
    assert doc["MaxConcurrentTasks"] == 0 and doc["Name"] == node.name and "_Version" in doc
    task = await source.run_script(_script(source.space_id))
    fake_time.advance(60)
    assert (await source.task(task.id or "")).state == "Queued"

    restored = await source.set_task_cap(node.id or "", original)
    assert restored.max_concurrent_tasks == original
    assert (sim.server.store.get("octopusservernodes", node.id or "") or {})["MaxConcurrentTasks"] == original
    done = await source.wait_for_task(task.id or "", poll_interval=1)
    assert done.state == "Success"


async def test_built_in_worker_on_server_only(source: OctopusClient, destination: OctopusClient) -> None:
    assert (await source.features()).is_built_in_worker_enabled is True
    assert (await destination.features()).is_built_in_worker_enabled is False


# -- tasks ---------------------------------------------------------------------------------------------


async def test_script_task_runs_to_success_on_the_fake_clock(
    sim: Simulator, source: OctopusClient, fake_time: FakeTime
) -> None:
    machine = sim.server.store.all("machines")[0]["Id"]
    queued = await source.run_script(_script(source.space_id, machine_ids=[machine]))
    assert queued.name == "AdHocScript" and queued.state == "Queued"
    stored = sim.server.store.get("tasks", queued.id or "")
    assert stored is not None and stored["Arguments"]["MachineIds"] == [machine]

    fake_time.sleeps.clear()
    done = await source.wait_for_task(queued.id or "", poll_interval=1)
    assert done.state == "Success" and done.is_completed
    assert fake_time.sleeps and set(fake_time.sleeps) == {1}
    assert (sim.server.store.get("tasks", queued.id or "") or {})["State"] == "Success"


async def test_server_scripts_are_refused_on_the_cloud(sim: Simulator, destination: OctopusClient) -> None:
    before = sim.cloud.store.count("tasks")
    with pytest.raises(ValidationFailed) as err:
        await destination.run_script(_script(destination.space_id, target="OctopusServer"))
    assert err.value.errors == ["Scripts cannot run on the Octopus Server in Octopus Cloud."]
    assert sim.cloud.store.count("tasks") == before


async def test_tasks_by_id_in_one_request(sim: Simulator, source: OctopusClient) -> None:
    ids = [(await source.run_script(_script(source.space_id))).id or "" for _ in range(3)]
    before = len(sim.server.requests)
    tasks = await source.tasks([ids[2], ids[0], ids[1], ids[0]])
    assert len(sim.server.requests) - before == 1
    assert sorted(t.id or "" for t in tasks) == sorted(ids)
    for t in tasks:
        assert t.state == (sim.server.store.get("tasks", t.id or "") or {})["State"]


# -- users, teams, permissions -------------------------------------------------------------------------


async def test_users_teams_and_authentication(sim: Simulator, source: OctopusClient) -> None:
    source.page_size = 3
    users = await source.users()
    assert sorted(u.id or "" for u in users) == sorted(u["Id"] for u in sim.server.store.all("users"))
    assert all(not k.startswith("_") for u in users for k in u.to_json())
    teams = await source.teams()
    assert sorted(t.id or "" for t in teams) == sorted(t["Id"] for t in sim.server.store.all("teams"))
    admins = next(t for t in teams if t.id == "teams-administrators")
    assert admins.space_id is None and "Users-1" in (admins.member_user_ids or [])

    auth = await source.authentication()
    stored = sim.server.store.get("config", "authentication") or {}
    assert [p.name for p in auth.authentication_providers or []] == [
        p["Name"] for p in stored["AuthenticationProviders"]
    ]
    assert [p.name for p in auth.authentication_providers or []] == [
        "Username/Password",
        "Active Directory",
        "LDAP",
    ]


async def test_current_user_and_permissions(
    sim: Simulator, source: OctopusClient, destination: OctopusClient
) -> None:
    me = await source.current_user()
    stored = sim.server.store.get("users", me.id or "") or {}
    assert (me.id, me.username) == ("Users-1", stored["Username"])
    perms = await source.permissions(me.id or "")
    assert perms.has_system_permission("AdministerSystem")
    assert perms.has_space_permission("ProjectEdit", source.space_id or "")
    assert "teams-administrators" in [t.id for t in perms.teams or []]

    manager = await destination.current_user()
    cloud_perms = await destination.permissions(manager.id or "")
    assert manager.username == "cloud-manager"
    assert not cloud_perms.has_system_permission("AdministerSystem")
    assert cloud_perms.has_space_permission("ProjectCreate", destination.space_id or "")


# -- releases and deployments --------------------------------------------------------------------------


async def test_deployments_newest_first_and_release_count_in_one_request(
    sim: Simulator, source: OctopusClient
) -> None:
    store = sim.server.store
    web, api = _by_name(sim, "projects", "Acme Web"), _by_name(sim, "projects", "Acme API")
    wanted = {web["Id"], api["Id"]}
    newest_first = [d for d in reversed(store.all("deployments")) if d["ProjectId"] in wanted]
    assert len(newest_first) > 5
    got = await source.deployments(project_ids=[web["Id"], api["Id"]], take=5)
    assert [d.id for d in got] == [d["Id"] for d in newest_first[:5]]
    numbers = [int((d.id or "").rsplit("-", 1)[1]) for d in got]
    assert numbers == sorted(numbers, reverse=True)  # most recently created first
    assert {d.project_id for d in got} <= wanted
    every = await source.deployments(project_ids=[web["Id"]])
    assert [d.id for d in every] == [d["Id"] for d in newest_first if d["ProjectId"] == web["Id"]]

    busiest = max(
        store.all("projects"),
        key=lambda p: sum(1 for r in store.all("releases") if r["ProjectId"] == p["Id"]),
    )
    expected = sum(1 for r in store.all("releases") if r["ProjectId"] == busiest["Id"])
    assert expected > 1000
    before = len(sim.server.requests)
    assert await source.release_count(busiest["Id"]) == expected
    assert len(sim.server.requests) - before == 1
