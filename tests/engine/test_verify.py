"""Verification after a real export and import on the simulator: what a person would notice.

Projects are exported from the simulated Server and imported on the simulated Cloud through the
client, on a fake clock (the tasks' whole lives take no real time); then the Cloud copy is tampered
with directly in the simulator's store, the way a silent import failure would leave it, and each
change must come back as one specific sentence.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from octowiz.engine.migrate.verify import (
    AREAS,
    Difference,
    SharedLists,
    Verification,
    format_verification,
    verify_project,
    verify_projects,
)
from octowiz.octopus.client import OctopusClient
from octowiz.sim.instance import ScriptedFault
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Simulator
from octowiz.sim.store import Store
from tests.conftest import FakeTime

PASSWORD = "Correct-Horse-Battery-Staple-42"
Doc = dict[str, Any]
Clients = tuple[OctopusClient, OctopusClient]


@pytest.fixture
async def pair(sim: Simulator, fake_time: FakeTime) -> AsyncIterator[Clients]:
    """In-process clients of the demo Server and Cloud whose waits move the fake clock."""
    transport = sim.transport()
    source = OctopusClient(sim.server_url, SERVER_ADMIN.api_key, transport=transport, sleep=fake_time.sleep)
    destination = OctopusClient(
        sim.cloud_url, CLOUD_MANAGER.api_key, transport=transport, sleep=fake_time.sleep
    )
    await source.discover()
    await destination.discover()
    yield source, destination
    await source.aclose()
    await destination.aclose()


def project_id(sim: Simulator, name: str) -> str:
    return str(next(p["Id"] for p in sim.server.store.all("projects") if p["Name"] == name))


async def migrate(clients: Clients, sim: Simulator, names: list[str], tmp_path: Path) -> dict[str, str]:
    """Export ``names`` from the Server and import them on Cloud; returns name -> Cloud project id."""
    source, destination = clients
    started = await source.export_projects([project_id(sim, n) for n in names], PASSWORD)
    task = await source.wait_for_task(started.task_id or "", poll_interval=1)
    [artifact] = [
        a for a in await source.task_artifacts(task.id or "") if (a.filename or "").endswith(".zip")
    ]
    archive = tmp_path / (artifact.filename or "export.zip")
    await source.download_to((artifact.links or {})["Content"], archive)
    uploaded = await destination.upload_import_file(archive)
    imported = await destination.import_projects(uploaded.id or "", PASSWORD)
    await destination.wait_for_task(imported.task_id or "", poll_interval=1)
    found = {p["Name"]: str(p["Id"]) for p in sim.cloud.store.all("projects")}
    return {n: found[n] for n in names}


def to_workers(store: Store, project: str, pool: str = "Linux Workers") -> None:
    """Point a project's run-on-server steps at a pool of workers, as the guide asks before migrating."""
    pool_id = named(store, "workerpools", pool)["Id"]

    def change(doc: Doc) -> None:
        for s in doc["Steps"]:
            for a in s["Actions"]:
                if (a.get("Properties") or {}).get("Octopus.Action.RunOnServer") == "true":
                    a["WorkerPoolId"] = pool_id

    tamper(store, "deploymentprocesses", f"deploymentprocess-{project_id_in(store, project)}", change)


def project_id_in(store: Store, name: str) -> str:
    return str(named(store, "projects", name)["Id"])


@pytest.fixture
async def acme_web(pair: Clients, sim: Simulator, tmp_path: Path) -> tuple[str, str]:
    """Acme Web (tenanted, a logo, triggers, a runbook, a run-on-server step) imported on Cloud.

    Its run-on-server step was first moved to the Server's 'Linux Workers' pool, as the guide asks, so
    the import keeps it there (a step left on the Server is a difference: see its own test).
    """
    to_workers(sim.server.store, "Acme Web")
    ids = await migrate(pair, sim, ["Acme Web"], tmp_path)
    return project_id(sim, "Acme Web"), ids["Acme Web"]


def tamper(store: Store, coll: str, doc_id: str, change: Callable[[Doc], None]) -> None:
    """Change a stored document the way a partial import would have left it."""
    doc = copy.deepcopy(store.get(coll, doc_id))
    assert doc is not None, f"{coll}/{doc_id} is not in the store"
    change(doc)
    store.put(coll, doc)


def named(store: Store, coll: str, name: str, **match: Any) -> Doc:
    return next(
        d for d in store.all(coll) if d.get("Name") == name and all(d.get(k) == v for k, v in match.items())
    )


def whats(result: Verification) -> list[str]:
    return [d.what for d in result.differences]


def acme_web_packages(sim: Simulator) -> list[tuple[str, str]]:
    versions = sorted(p["Version"] for p in sim.server.store.all("packages") if p["PackageId"] == "Acme.Web")
    return [("Acme.Web", v) for v in versions[:2]]


# -- a fresh import ------------------------------------------------------------------------------


async def test_fresh_import_differs_only_by_what_export_leaves_out(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, dst_id = acme_web
    expected = acme_web_packages(sim)
    result = await verify_project(*pair, src_id, expect_logo=True, expect_packages=expected)

    assert (result.project_id, result.project_name, result.destination_id) == (src_id, "Acme Web", dst_id)
    assert result.checked == [
        "settings", "steps", "variables", "channels", "lifecycles", "tenants", "runbooks", "triggers",
        "logo", "packages", "releases",
    ]  # fmt: skip
    # Export/Import carries neither triggers, nor logos, nor packages (octopus-api.md §5.6).
    assert sorted(whats(result)) == sorted(
        [
            "Trigger 'Nightly deploy to Test' is missing on Octopus Cloud",
            "Trigger 'Deploy to new web servers' is missing on Octopus Cloud",
            "The project logo is not on Octopus Cloud",
            *(
                f"Package 'Acme.Web' version {v} is not in the built-in feed on Octopus Cloud"
                for _, v in expected
            ),
        ]
    )
    assert not result.verified
    # The rest arrived: steps, variables, scopes, channels, tenants, runbooks, releases.
    assert {d.area for d in result.differences} == {"triggers", "logo", "packages"}

    before_gaps = await verify_project(*pair, src_id, expect_triggers=False)
    assert before_gaps.verified and before_gaps.differences == []
    assert before_gaps.checked == [
        "settings", "steps", "variables", "channels", "lifecycles", "tenants", "runbooks", "releases",
    ]  # fmt: skip
    # What Octopus changes on purpose and needs nothing from the team is said, but is not a difference.
    assert before_gaps.notes == [
        "Variable 'Web.BindingHost' is scoped to target(s) 'web01', which Octopus Cloud does not have yet "
        "(targets are not exported): check this scope once they are registered.",
    ]


async def test_filling_the_gaps_verifies_and_a_wrong_logo_shows(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    source, destination = pair
    src_id, dst_id = acme_web
    expected = acme_web_packages(sim)
    # The logo, with the Server's bytes.
    await destination.put_logo(dst_id, await source.logo(await source.project(src_id)))
    # The packages.
    for package_id, version in expected:
        data = f"{package_id} {version}".encode()

        async def chunks(data: bytes = data) -> AsyncIterator[bytes]:
            yield data

        await destination.upload_package(f"{package_id}.{version}.nupkg", chunks(), len(data))
    # The triggers, with environments mapped by name.
    env_ids = {
        e["Id"]: named(sim.cloud.store, "environments", e["Name"])["Id"]
        for e in sim.server.store.all("environments")
    }

    def mapped(value: Any) -> Any:
        if isinstance(value, str):
            return env_ids.get(value, value)
        if isinstance(value, list):
            return [mapped(v) for v in value]
        if isinstance(value, dict):
            return {k: mapped(v) for k, v in value.items()}
        return value

    for trigger in await source.triggers(src_id):
        body = {k: v for k, v in trigger.to_json().items() if k not in ("Id", "Links", "SpaceId")}
        await destination.create_trigger({**mapped(body), "ProjectId": dst_id})

    filled = await verify_project(*pair, src_id, dst_id, expect_logo=True, expect_packages=expected)
    assert filled.verified, whats(filled)
    assert "triggers" in filled.checked and "logo" in filled.checked and "packages" in filled.checked

    await destination.put_logo(dst_id, b"\x89PNG not the same picture")
    wrong = await verify_project(*pair, src_id, dst_id, expect_logo=True)
    assert whats(wrong) == ["The project logo on Octopus Cloud is not the one on the Server"]
    assert wrong.differences[0].source.startswith("sha256 ")
    assert wrong.differences[0].source != wrong.differences[0].destination


async def test_every_demo_project_compared_with_itself_verifies(pair: Clients, sim: Simulator) -> None:
    """No comparison invents a difference: each project against its own copy, everything expected."""
    source, _ = pair
    ids = [p["Id"] for p in sim.server.store.all("projects")]
    results = await verify_projects(source, source, [(i, i) for i in ids], expect_logo=True)
    assert [(r.project_name, whats(r)) for r in results if not r.verified] == []
    everything = (
        "settings",
        "steps",
        "variables",
        "channels",
        "lifecycles",
        "tenants",
        "runbooks",
        "triggers",
    )
    assert (*everything, "logo", "releases") in {tuple(r.checked) for r in results}


async def test_a_run_on_server_step_moved_to_the_dynamic_pool_is_a_difference_to_accept(
    pair: Clients, sim: Simulator, tmp_path: Path
) -> None:
    ids = await migrate(pair, sim, ["Acme Database"], tmp_path)
    process = sim.cloud.store.get("deploymentprocesses", f"deploymentprocess-{ids['Acme Database']}") or {}
    [moved] = [a for s in process["Steps"] for a in s["Actions"] if a["Name"] == "Run migrations"]
    assert moved["WorkerPoolId"] == named(sim.cloud.store, "workerpools", "Hosted Ubuntu")["Id"]

    # The guide: move steps to workers before migrating. Octopus's conversion is on purpose, but the step's
    # dynamic workers cannot reach the team's network: a difference the team must accept, never a quiet note.
    result = await verify_project(*pair, project_id(sim, "Acme Database"))
    assert not result.verified and result.notes == []
    assert result.differences == [
        Difference(
            "steps",
            "Step 'Run migrations' ran on the Server's default worker pool or its built-in worker; on "
            "Octopus Cloud it runs on the default worker pool ('Hosted Ubuntu'), the conversion Octopus "
            "makes on import: its dynamic workers cannot reach your network, so accept this only if the "
            "step needs nothing there, or point the step at a worker pool of your own",
            "the default worker pool ('Default Worker Pool')",
            "the default worker pool ('Hosted Ubuntu')",
        )
    ]

    # A step moved to another pool than the default one is a difference, not the expected conversion.
    windows = named(sim.cloud.store, "workerpools", "Hosted Windows")["Id"]

    def to_windows(doc: Doc) -> None:
        for s in doc["Steps"]:
            for a in s["Actions"]:
                if a["Name"] == "Run migrations":
                    a["WorkerPoolId"] = windows

    tamper(sim.cloud.store, "deploymentprocesses", process["Id"], to_windows)
    moved_elsewhere = await verify_project(*pair, project_id(sim, "Acme Database"))
    assert whats(moved_elsewhere) == [
        "Step 'Run migrations' runs on the default worker pool ('Default Worker Pool') on the Server but "
        "on worker pool 'Hosted Windows' on Octopus Cloud"
    ]
    assert moved_elsewhere.notes == []


async def test_a_version_controlled_project_skips_what_lives_in_git(
    pair: Clients, sim: Simulator, tmp_path: Path
) -> None:
    await migrate(pair, sim, ["Storefront"], tmp_path)
    result = await verify_project(*pair, project_id(sim, "Storefront"))
    assert result.verified, whats(result)
    assert "steps" not in result.checked and "variables" not in result.checked
    assert result.notes == [
        "The project is version-controlled: its deployment process and variables live in Git "
        "(https://github.com/example/app.git), so they were not compared."
    ]


# -- what a silent import failure would leave --------------------------------------------------------


def _drop_step(name: str) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        doc["Steps"] = [s for s in doc["Steps"] if s["Name"] != name]

    return change


def _variables(change_one: Callable[[Doc], bool]) -> Callable[[Doc], None]:
    """Apply ``change_one`` to variables until it returns True (changed) once."""

    def change(doc: Doc) -> None:
        for v in doc["Variables"]:
            if change_one(v):
                return
        raise AssertionError("no variable matched")

    return change


def _prod_url_unscoped(v: Doc) -> bool:
    if v["Name"] == "App.Url" and str(v["Value"]).startswith("https://acme-web.example"):
        v["Scope"] = {}
        return True
    return False


def _prod_api_key_in_plain_text(v: Doc) -> bool:
    if v["Name"] == "App.ApiKey" and len(v["Scope"].get("Environment", [])) == 1:
        v.update(IsSensitive=False, Type="String", Value="pasted by hand")
        return True
    return False


async def test_a_deleted_step_is_named(pair: Clients, sim: Simulator, acme_web: tuple[str, str]) -> None:
    src_id, dst_id = acme_web
    tamper(sim.cloud.store, "deploymentprocesses", f"deploymentprocess-{dst_id}", _drop_step("Smoke test"))
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert result.differences == [
        Difference("steps", "Step 'Smoke test' is missing on Octopus Cloud", "Smoke test", "")
    ]


async def test_steps_in_another_order_and_a_changed_script(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, dst_id = acme_web

    def reorder_and_edit(doc: Doc) -> None:
        doc["Steps"].reverse()
        doc["Steps"][0]["Actions"][0]["Properties"]["Octopus.Action.Script.ScriptBody"] = "exit 0"

    tamper(sim.cloud.store, "deploymentprocesses", f"deploymentprocess-{dst_id}", reorder_and_edit)
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert whats(result) == [
        "The steps run in a different order on Octopus Cloud",
        "Step 'Smoke test' has a different script on Octopus Cloud",
    ]
    order = result.differences[0]
    assert order.source == "Run pre-deploy checks, Deploy web app, Smoke test"
    assert order.destination == "Smoke test, Deploy web app, Run pre-deploy checks"
    # Script text is shown as a length and a hash, never copied into reports or the journal.
    assert (
        result.differences[1].destination == "6 characters, sha256 " + result.differences[1].destination[-12:]
    )


async def test_a_dropped_variable_scope_is_named(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, dst_id = acme_web
    tamper(sim.cloud.store, "variables", f"variableset-{dst_id}", _variables(_prod_url_unscoped))
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert whats(result) == [
        "Variable 'App.Url' is scoped to Environment: Production on the Server but unscoped on Octopus Cloud"
    ]


async def test_a_sensitive_value_stored_in_plain_text_is_named(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, dst_id = acme_web
    tamper(sim.cloud.store, "variables", f"variableset-{dst_id}", _variables(_prod_api_key_in_plain_text))
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert whats(result) == [
        "Variable 'App.ApiKey' (Environment: Production) is sensitive on the Server but not on Octopus Cloud"
    ]
    assert "pasted by hand" not in json.dumps(result.to_dict())


async def test_a_lost_sensitive_value_cannot_be_seen_through_the_api(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    """Octopus never returns sensitive values (``Value`` is null either way): this limit is documented."""
    src_id, dst_id = acme_web

    def lose_value(v: Doc) -> bool:
        if v.get("IsSensitive") and v.get("_SensitiveValue"):
            v["_SensitiveValue"] = None
            return True
        return False

    tamper(sim.cloud.store, "variables", f"variableset-{dst_id}", _variables(lose_value))
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert result.verified


async def test_a_certificate_that_did_not_arrive_is_named(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    """The shape of OctopusDeploy/Issues#7729: the import succeeded, the certificate is not there."""
    src_id, _ = acme_web
    [cert] = sim.cloud.store.all("certificates")
    sim.cloud.store.delete("certificates", cert["Id"])
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert result.differences == [
        Difference(
            "variables",
            f"Variable 'Web.Certificate' refers to certificate '{cert['Name']}', "
            "which is not on Octopus Cloud",
            f"certificate '{cert['Name']}'",
            f"certificate {cert['Id']} (missing)",
        )
    ]


async def test_a_deleted_channel_is_named(pair: Clients, sim: Simulator, acme_web: tuple[str, str]) -> None:
    src_id, dst_id = acme_web
    hotfix = named(sim.cloud.store, "channels", "Hotfix", ProjectId=dst_id)
    sim.cloud.store.delete("channels", hotfix["Id"])
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert whats(result) == [
        # The variable scoped to the channel now points at nothing.
        "Variable 'App.ReleaseRing' is scoped to Channel: Hotfix on the Server but "
        f"Channel: {hotfix['Id']} (no such channel) on Octopus Cloud",
        "Channel 'Hotfix' is missing on Octopus Cloud",
    ]


async def test_a_channel_on_another_lifecycle_is_named(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, dst_id = acme_web
    default = named(sim.cloud.store, "lifecycles", "Default Lifecycle")["Id"]
    hotfix = named(sim.cloud.store, "channels", "Hotfix", ProjectId=dst_id)
    tamper(sim.cloud.store, "channels", hotfix["Id"], lambda d: d.update(LifecycleId=default))
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert result.differences == [
        Difference(
            "channels",
            "Channel 'Hotfix' uses lifecycle 'Hotfix' on the Server but 'Default Lifecycle' on Octopus Cloud",
            "Hotfix",
            "Default Lifecycle",
        )
    ]


async def test_a_lifecycle_phase_without_its_environment_is_named(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, _ = acme_web
    standard = named(sim.cloud.store, "lifecycles", "Standard")

    def empty_test_phase(doc: Doc) -> None:
        next(p for p in doc["Phases"] if p["Name"] == "Test")["OptionalDeploymentTargets"] = []

    tamper(sim.cloud.store, "lifecycles", standard["Id"], empty_test_phase)
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert whats(result) == [
        "Phase 'Test' of lifecycle 'Standard' has optional environments 'Test' on the Server "
        "but none on Octopus Cloud"
    ]


async def test_a_disconnected_tenant_is_named(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, dst_id = acme_web
    contoso = named(sim.cloud.store, "tenants", "Contoso")
    tamper(sim.cloud.store, "tenants", contoso["Id"], lambda d: d["ProjectEnvironments"].pop(dst_id))
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert result.differences == [
        Difference(
            "tenants",
            "Tenant 'Contoso' is not connected to the project on Octopus Cloud",
            "Development, Production, Test",
            "",
        )
    ]


async def test_a_tenant_connected_for_fewer_environments_is_named(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, dst_id = acme_web
    contoso = named(sim.cloud.store, "tenants", "Contoso")
    prod = named(sim.cloud.store, "environments", "Production")["Id"]
    tamper(
        sim.cloud.store, "tenants", contoso["Id"], lambda d: d["ProjectEnvironments"].update({dst_id: [prod]})
    )
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert whats(result) == [
        "Tenant 'Contoso' is connected for 'Development', 'Production', 'Test' on the Server "
        "but 'Production' on Octopus Cloud"
    ]


async def test_a_missing_runbook_and_a_runbook_step_are_named(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, dst_id = acme_web
    [runbook] = [r for r in sim.cloud.store.all("runbooks") if r["ProjectId"] == dst_id]
    tamper(sim.cloud.store, "runbookprocesses", runbook["RunbookProcessId"], _drop_step("Recycle app pool"))
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert whats(result) == [
        "Step 'Recycle app pool' of runbook 'Recycle app pool' is missing on Octopus Cloud"
    ]

    sim.cloud.store.delete("runbookprocesses", runbook["RunbookProcessId"])
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert "The process of runbook 'Recycle app pool' could not be read on Octopus Cloud" in whats(result)

    sim.cloud.store.delete("runbooks", runbook["Id"])
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert "Runbook 'Recycle app pool' is missing on Octopus Cloud" in whats(result)
    # The variable scoped to the runbook's process now points at nothing.
    assert any(w.startswith("Variable 'App.MaintenanceWindow' is scoped to") for w in whats(result))


async def test_settings_releases_and_disabling(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, dst_id = acme_web
    default_group = named(sim.cloud.store, "projectgroups", "Default Project Group")["Id"]
    tamper(
        sim.cloud.store,
        "projects",
        dst_id,
        lambda d: d.update(ProjectGroupId=default_group, DefaultGuidedFailureMode="On", IsDisabled=True),
    )
    [*_, last] = [r for r in sim.cloud.store.all("releases") if r["ProjectId"] == dst_id]
    sim.cloud.store.delete("releases", last["Id"])
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert whats(result) == [
        "The project's project group is 'Web Applications' on the Server but 'Default Project Group' on "
        "Octopus Cloud",
        "The project is disabled on Octopus Cloud but enabled on the Server: nothing can be deployed from it",
        "The project's default guided failure mode is 'EnvironmentDefault' on the Server but 'On' on "
        "Octopus Cloud",
        "The Server has 4 releases of the project but Octopus Cloud has 3",
    ]

    # Disabled on the Server and enabled on Cloud is the state after cut-over: a note.
    tamper(sim.cloud.store, "projects", dst_id, lambda d: d.update(IsDisabled=False))
    tamper(sim.server.store, "projects", src_id, lambda d: d.update(IsDisabled=True))
    after_cutover = await verify_project(*pair, src_id, expect_triggers=False)
    assert not any("disabled" in w for w in whats(after_cutover))
    assert (
        "The project is disabled on the Server but enabled on Octopus Cloud (expected once the Server's copy "
        "is retired)." in after_cutover.notes
    )


async def test_a_target_scope_pointing_at_another_target_is_a_difference(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    """Target ids are not remapped: one that now names another Cloud target is a difference, not a note."""
    src_id, _ = acme_web
    [web01] = [m for m in sim.server.store.all("machines") if m["Name"] == "web01"]
    sim.cloud.store.put("machines", {**web01, "Name": "unrelated01"})
    result = await verify_project(*pair, src_id, expect_triggers=False)
    assert whats(result) == [
        "Variable 'Web.BindingHost' is scoped to Machine: web01 on the Server but Machine: unrelated01 on "
        "Octopus Cloud"
    ]
    assert not any("target(s)" in n for n in result.notes)


async def test_changed_and_extra_triggers_are_named(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    source, destination = pair
    src_id, dst_id = acme_web
    test_env = named(sim.cloud.store, "environments", "Test")["Id"]
    nightly = next(t for t in await source.triggers(src_id) if t.name == "Nightly deploy to Test")
    body = {k: v for k, v in nightly.to_json().items() if k not in ("Id", "Links", "SpaceId")}
    body["Action"]["EnvironmentId"] = test_env
    body["Filter"]["Timezone"] = "UTC"
    await destination.create_trigger({**body, "ProjectId": dst_id})
    await destination.create_trigger({**body, "Name": "Extra", "ProjectId": dst_id})
    result = await verify_project(*pair, src_id)
    assert [d for d in result.differences if d.area == "triggers"] == [
        Difference(
            "triggers", "Trigger 'Deploy to new web servers' is missing on Octopus Cloud", "MachineFilter"
        ),
        Difference("triggers", "Trigger 'Extra' is on Octopus Cloud but not on the Server", "", "Extra"),
        Difference(
            "triggers",
            "Trigger 'Nightly deploy to Test' has filter Timezone 'AUS Eastern Standard Time' "
            "on the Server but 'UTC' on Octopus Cloud",
            "AUS Eastern Standard Time",
            "UTC",
        ),
    ]


# -- missing, unreadable ------------------------------------------------------------------------


async def test_a_project_missing_on_cloud_is_one_difference(pair: Clients, sim: Simulator) -> None:
    src_id = project_id(sim, "Intranet CMS")
    by_name = await verify_project(*pair, src_id)
    assert by_name.differences == [
        Difference("project", "The project is not on Octopus Cloud", "Intranet CMS")
    ]
    assert (by_name.project_name, by_name.destination_id, by_name.checked) == (
        "Intranet CMS",
        None,
        ["project"],
    )
    assert not by_name.verified
    assert by_name.requests == 2  # the Server's project, then the search by name on Cloud

    by_id = await verify_project(*pair, src_id, "Projects-404")
    assert by_id.differences == [
        Difference("project", "The project is not on Octopus Cloud", "Intranet CMS", "Projects-404")
    ]

    unknown = await verify_project(*pair, "Projects-999")
    assert whats(unknown) == ["The project Projects-999 is not on the Server"]


async def test_an_unreadable_part_is_a_difference_never_a_pass(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, _ = acme_web
    sim.cloud.scripted.append(ScriptedFault(r"/triggers$", 403))
    result = await verify_project(*pair, src_id)
    [failed] = [d for d in result.differences if d.area == "triggers"]
    assert failed.what.startswith(
        "Could not compare the triggers: reading triggers on Octopus Cloud failed: "
    )
    assert not result.verified
    # Everything else was still compared.
    assert [d.area for d in result.differences] == ["triggers"]


# -- bounded requests -------------------------------------------------------------------------------


def _sim_requests(sim: Simulator) -> int:
    return len(sim.server.requests) + len(sim.cloud.requests)


async def _measured(clients: Clients, sim: Simulator, src_id: str, **kw: Any) -> Verification:
    before = _sim_requests(sim)
    result = await verify_project(*clients, src_id, **kw)
    assert result.requests == _sim_requests(sim) - before  # what it counts is what the instances saw
    return result


async def test_requests_are_the_same_for_a_small_and_a_larger_project(
    pair: Clients, sim: Simulator, tmp_path: Path
) -> None:
    await migrate(pair, sim, ["Intranet CMS", "Acme Database"], tmp_path)
    small = await _measured(pair, sim, project_id(sim, "Intranet CMS"))  # 1 step, 7 variables
    larger = await _measured(pair, sim, project_id(sim, "Acme Database"))  # 3 steps, 2 library sets
    assert small.requests == larger.requests == 28
    # Per instance 14 reads, each once: the project, seven space-wide lists, channels, runbooks,
    # releases (counted, one item), process, variables, triggers; all GETs, none paged.
    for inst in (sim.server, sim.cloud):
        paths = [r.path for r in inst.requests[-14:]]
        assert all(r.method == "GET" for r in inst.requests[-14:])
        assert len(set(paths)) == 14
        assert sum(p.endswith("/all") for p in paths) == 7


async def test_requests_do_not_grow_with_steps_variables_channels_or_runbooks(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, dst_id = acme_web
    base = await _measured(pair, sim, src_id, expect_triggers=False)
    assert base.verified
    # Grow the project the same way on both instances: 40 steps, 300 variables (many scoped to a
    # target), 10 channels, 12 runbooks with processes.
    for inst, pid in ((sim.server, src_id), (sim.cloud, dst_id)):
        store = inst.store
        process_id = f"deploymentprocess-{pid}"
        template = copy.deepcopy((store.get("deploymentprocesses", process_id) or {})["Steps"][-1])

        def grow(doc: Doc, template: Doc = template) -> None:
            for i in range(40):
                step = copy.deepcopy(template)
                step["Name"] = step["Actions"][0]["Name"] = f"Extra step {i}"
                step["Id"] = step["Actions"][0]["Id"] = f"extra-{i}"
                doc["Steps"].append(step)

        tamper(store, "deploymentprocesses", process_id, grow)
        machine = str((store.get("machines", "Machines-1") or {"Id": "Machines-1"})["Id"])

        def more_variables(doc: Doc, machine: str = machine) -> None:
            for i in range(300):
                scope = {"Machine": [machine]} if i % 3 == 0 else {}
                doc["Variables"].append(
                    {"Id": f"v{i}", "Name": f"Extra.{i}", "Value": str(i), "Type": "String", "Scope": scope}
                )

        tamper(store, "variables", f"variableset-{pid}", more_variables)
        for i in range(10):
            store.insert(
                "channels",
                {"SpaceId": "Spaces-1", "ProjectId": pid, "Name": f"Channel {i}", "IsDefault": False,
                 "LifecycleId": None, "Rules": [], "TenantTags": []},
                prefix="Channels",
            )  # fmt: skip
        for i in range(12):
            runbook = store.insert(
                "runbooks",
                {"SpaceId": "Spaces-1", "ProjectId": pid, "Name": f"Runbook {i}"},
                prefix="Runbooks",
            )
            runbook["RunbookProcessId"] = f"RunbookProcess-{runbook['Id']}"
            store.put("runbooks", runbook)
            store.put(
                "runbookprocesses",
                {"Id": runbook["RunbookProcessId"], "SpaceId": "Spaces-1", "ProjectId": pid,
                 "RunbookId": runbook["Id"], "Steps": [copy.deepcopy(template)]},
            )  # fmt: skip
    grown = await _measured(pair, sim, src_id, expect_triggers=False)
    assert grown.verified, whats(grown)
    assert grown.requests == base.requests


async def test_a_batch_reads_space_wide_lists_once(pair: Clients, sim: Simulator, tmp_path: Path) -> None:
    to_workers(sim.server.store, "Acme Database")  # so that it verifies: its step ran on the Server
    await migrate(pair, sim, ["Intranet CMS", "Acme Database"], tmp_path)
    ids = [
        project_id(sim, "Intranet CMS"),
        project_id(sim, "Acme Database"),
        project_id(sim, "Legacy Billing"),
    ]
    before = _sim_requests(sim)
    results = await verify_projects(*pair, [(i, None) for i in ids], concurrency=2, expect_triggers=False)
    assert [r.project_name for r in results] == ["Intranet CMS", "Acme Database", "Legacy Billing"]
    assert [r.verified for r in results] == [True, True, False]
    assert whats(results[2]) == ["The project is not on Octopus Cloud"]
    total = _sim_requests(sim) - before
    assert sum(r.requests for r in results) == total
    # Alone, each imported project costs 26 (no triggers) and the missing one 2; together the seven
    # lists of each instance are read once for the batch.
    assert total == 26 + 26 + 2 - 2 * 7


async def test_concurrent_verifications_share_one_read_of_each_list(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, _ = acme_web
    shared = SharedLists()
    before = {inst: inst.request_count("/api/Spaces-1/environments/all") for inst in (sim.server, sim.cloud)}
    results = await verify_projects(*pair, [(src_id, None)] * 3, shared=shared, expect_triggers=False)
    assert all(r.verified for r in results)
    for inst in (sim.server, sim.cloud):
        assert inst.request_count("/api/Spaces-1/environments/all") - before[inst] == 1
    # The first reader paid for the eight lists of each instance (seven, and the certificates a
    # variable refers to); the others, and a later verification with the same lists, read none.
    again = await verify_project(*pair, src_id, shared=shared, expect_triggers=False)
    assert sorted(r.requests for r in results) == [again.requests, again.requests, again.requests + 2 * 8]


# -- the result as data and as reports -------------------------------------------------------------


async def test_results_round_trip_and_format(
    pair: Clients, sim: Simulator, acme_web: tuple[str, str]
) -> None:
    src_id, _ = acme_web
    results = [
        await verify_project(*pair, src_id, expect_logo=True),
        await verify_project(*pair, src_id, expect_triggers=False),
    ]
    for r in results:
        data = json.loads(json.dumps(r.to_dict()))
        assert Verification.from_dict(data) == r
        assert data["verified"] is r.verified
    assert all(d.area in AREAS for r in results for d in r.differences)

    text = format_verification(results)
    assert text.splitlines()[0].startswith("Acme Web: 3 differences (compared settings, steps, ")
    assert "  - [logo] The project logo is not on Octopus Cloud" in text
    assert "      Server: sha256 " in text
    assert "  note: Variable 'Web.BindingHost' is scoped to target(s) 'web01'" in text
    assert text.splitlines()[-1] == "1 of 2 projects verified."

    markdown = format_verification(results, "markdown")
    assert markdown.startswith("# Verification\n\n1 of 2 projects verified.\n")
    assert "## Acme Web: 3 differences" in markdown and "## Acme Web: verified" in markdown
    assert "| Area | Difference | Server | Octopus Cloud |" in markdown
    assert (
        "| triggers | Trigger 'Nightly deploy to Test' is missing on Octopus Cloud | OnceDailySchedule |  |"
        in markdown
    )

    assert [Verification.from_dict(d) for d in json.loads(format_verification(results, "json"))] == results
    with pytest.raises(ValueError, match="unknown format"):
        format_verification(results, "html")


def test_verification_from_an_older_record() -> None:
    """A record without notes (or with extra keys) still loads."""
    old = {
        "project_id": "Projects-1",
        "project_name": "Acme Web",
        "destination_id": None,
        "differences": [{"area": "project", "what": "The project is not on Octopus Cloud"}],
        "checked": ["project"],
        "future": "ignored",
    }
    loaded = Verification.from_dict(old)
    assert loaded.notes == [] and loaded.requests == 0 and not loaded.verified
    assert loaded.differences == [Difference("project", "The project is not on Octopus Cloud")]
