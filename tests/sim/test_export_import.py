"""Export on the simulated Server, import on the simulated Cloud, through the real client over loopback."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from octowiz.octopus.client import OctopusClient, TaskProgress
from octowiz.octopus.errors import TaskFailed, ValidationFailed
from octowiz.sim import archive as arc
from octowiz.sim.simulator import Simulator
from tests.conftest import FakeTime

PASSWORD = "Correct-Horse-Battery-Staple-42"


def _plain_project(sim: Simulator) -> dict[str, Any]:
    """A demo project with run-on-server steps and sensitive variables, under the export limit."""
    store = sim.server.store
    for p in store.all("projects"):
        process = store.get("deploymentprocesses", p["DeploymentProcessId"]) or {}
        runs_on_server = any(
            (a.get("Properties") or {}).get("Octopus.Action.RunOnServer") == "true"
            and not a.get("WorkerPoolId")
            for s in process.get("Steps", [])
            for a in s["Actions"]
        )
        variables = store.get("variables", p["VariableSetId"]) or {}
        sensitive = any(v.get("IsSensitive") for v in variables.get("Variables", []))
        releases = sum(1 for r in store.all("releases") if r.get("ProjectId") == p["Id"])
        if runs_on_server and sensitive and releases <= arc.MAX_RELEASES and not p.get("IsVersionControlled"):
            return p
    raise AssertionError("the demo scenario has no project with run-on-server steps and sensitive variables")


async def _export(source: OctopusClient, project_ids: list[str], tmp_path: Path) -> Path:
    started = await source.export_projects(project_ids, PASSWORD)
    seen: list[TaskProgress] = []
    task = await source.wait_for_task(started.task_id or "", on_progress=seen.append, poll_interval=0.5)
    assert task.state == "Success"
    assert seen[0].task.state in ("Queued", "Executing") and seen[-1].percent == 100
    assert any(p.task.state == "Executing" and 0 < p.percent < 100 for p in seen)
    artifacts = await source.task_artifacts(task.id or "")
    [artifact] = [a for a in artifacts if (a.filename or "").startswith("Octopus-Export-")]
    dest = tmp_path / (artifact.filename or "export.zip")
    size, _ = await source.download_to((artifact.links or {})["Content"], dest)
    assert size == dest.stat().st_size > 0
    return dest


async def test_export_import_round_trip(
    sim: Simulator, source: OctopusClient, destination: OctopusClient, tmp_path: Path
) -> None:
    project = _plain_project(sim)
    zip_path = await _export(source, [project["Id"]], tmp_path)

    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    assert {"manifest.json", "server-version", "version", "checksum"} <= names
    types = {e["DocumentType"] for e in manifest["Entries"]}
    assert {"Project", "DeploymentProcess", "VariableSet", "Channel", "Lifecycle", "ProjectGroup"} <= types
    assert not types & {"Machine", "Package", "ProjectTrigger", "Worker", "User"}
    blob = zip_path.read_bytes()
    for v in (sim.server.store.get("variables", project["VariableSetId"]) or {})["Variables"]:
        if v.get("_SensitiveValue"):
            assert v["_SensitiveValue"].encode() not in blob  # encrypted, not plain

    uploaded = await destination.upload_import_file(zip_path)
    assert uploaded.file_name == zip_path.name
    preview = await destination.import_preview(uploaded.id or "", PASSWORD)
    assert [p.name for p in preview.projects or []] == [project["Name"]]

    started = await destination.import_projects(uploaded.id or "", PASSWORD)
    task = await destination.wait_for_task(started.task_id or "", poll_interval=0.5)
    assert task.state == "Success"

    imported = await destination.project_by_name(project["Name"])
    assert imported is not None and imported.id
    process = await destination.deployment_process(imported)
    default_pool = next(p for p in await destination.worker_pools() if p.is_default)
    moved = [
        a
        for s in process.steps or []
        for a in s.actions or []
        if (a.properties or {}).get("Octopus.Action.RunOnServer") == "true"
    ]
    assert moved and all(a.worker_pool_id == default_pool.id for a in moved)
    dst_vars = sim.cloud.store.get("variables", imported.variable_set_id or "") or {}
    src_vars = sim.server.store.get("variables", project["VariableSetId"]) or {}

    def secrets(vs: dict[str, Any]) -> list[str]:
        return sorted(v.get("_SensitiveValue") or "" for v in vs["Variables"] if v.get("IsSensitive"))

    assert secrets(dst_vars) == secrets(src_vars) and any(secrets(src_vars))
    # Export/Import does not carry packages, triggers or logos: later steps must fill those gaps.
    assert await destination.triggers(imported.id) == []
    assert sim.cloud.store.count("packages") == 0

    # Octopus refuses to import a project that already exists.
    again = await destination.upload_import_file(zip_path)
    started = await destination.import_projects(again.id or "", PASSWORD)
    with pytest.raises(TaskFailed) as err:
        await destination.wait_for_task(started.task_id or "", poll_interval=0.5)
    assert f"The project '{project['Name']}' already exists in the target space" in str(err.value)
    assert sum(1 for p in sim.cloud.store.all("projects") if p["Name"] == project["Name"]) == 1


async def test_wrong_password_is_refused(
    sim: Simulator, source: OctopusClient, destination: OctopusClient, tmp_path: Path
) -> None:
    zip_path = await _export(source, [_plain_project(sim)["Id"]], tmp_path)
    uploaded = await destination.upload_import_file(zip_path)
    with pytest.raises(ValidationFailed) as err:
        await destination.import_preview(uploaded.id or "", "not the password")
    assert "does not match the password used to export" in str(err.value)
    started = await destination.import_projects(uploaded.id or "", "not the password")
    with pytest.raises(TaskFailed):
        await destination.wait_for_task(started.task_id or "", poll_interval=0.5)
    assert sim.cloud.store.count("projects") == 0


async def test_corrupt_archive_is_refused(
    sim: Simulator, source: OctopusClient, destination: OctopusClient, tmp_path: Path
) -> None:
    zip_path = await _export(source, [_plain_project(sim)["Id"]], tmp_path)
    data = bytearray(zip_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    broken = tmp_path / "Octopus-Export-broken.zip"
    broken.write_bytes(bytes(data))
    uploaded = await destination.upload_import_file(broken)
    with pytest.raises(ValidationFailed) as err:
        await destination.import_preview(uploaded.id or "", PASSWORD)
    assert "corrupt" in str(err.value) or "not a valid Octopus export archive" in str(err.value)


async def test_export_over_2100_releases_fails_like_octopus(sim: Simulator, source: OctopusClient) -> None:
    counts: dict[str, int] = {}
    for r in sim.server.store.all("releases"):
        counts[r["ProjectId"]] = counts.get(r["ProjectId"], 0) + 1
    big = max(counts, key=lambda k: counts[k])
    assert counts[big] > arc.MAX_RELEASES
    started = await source.export_projects([big], PASSWORD)
    with pytest.raises(TaskFailed) as err:
        await source.wait_for_task(started.task_id or "", poll_interval=0.5)
    assert "The server supports a maximum of 2100 parameters" in str(err.value)


async def test_task_cancel_and_task_cap_zero(
    sim: Simulator, source: OctopusClient, fake_time: FakeTime
) -> None:
    project = _plain_project(sim)["Id"]
    started = await source.export_projects([project], PASSWORD)
    cancelled = await source.cancel_task(started.task_id or "")
    assert cancelled.state == "Canceled" and cancelled.is_completed
    node = (await source.nodes())[0]
    await source.set_task_cap(node.id or "", 0)
    queued = await source.export_projects([project], PASSWORD)
    fake_time.advance(3600)
    task = await source.task(queued.task_id or "")
    assert task.state == "Queued"  # a Server with task cap 0 runs nothing new
    await source.set_task_cap(node.id or "", 5)
    fake_time.advance(60)
    assert (await source.task(queued.task_id or "")).state == "Success"


def test_archive_crypto_matches_the_public_decryptor_format() -> None:
    key = arc.derive_key("password")
    value = arc.encrypt(key, "secret value")
    ct, iv = value.split("|")
    assert len(io.BytesIO(__import__("base64").b64decode(iv)).getvalue()) == 16
    assert arc.decrypt(key, value) == "secret value"
    try:
        wrong = arc.decrypt(arc.derive_key("other"), value)
    except arc.ArchiveError:
        wrong = None
    assert wrong != "secret value"
