"""Migrating a wave of the demo: export, import, packages, logos, triggers, verification; and failures.

The simulator's tasks run on the real clock here, made short (tens of milliseconds), so a wave
takes well under a second; the end-to-end test goes over loopback HTTP.
"""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from octowiz.engine.context import Context
from octowiz.engine.migrate import run as migrate
from octowiz.journal import Journal
from octowiz.octopus.urls import normalise_base_url
from octowiz.paths import Paths
from octowiz.sim.config import InstanceConfig
from octowiz.sim.instance import ScriptedFault
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.simulator import Simulator

PASSWORD = "correct horse battery staple"
#: Two projects with uploaded logos, triggers of three kinds, built-in feed packages; one runbook-only.
WAVE = {"Projects-1": "Acme Web", "Projects-3": "Acme Database", "Projects-9": "Ops Toolkit"}
FAST: dict[str, Any] = {"task_queued_seconds": 0.01, "task_executing_seconds": 0.03}
#: Without the run's own recovery, so a failure ends the run and these tests show the rerun picking up
#: (tests/faults/ covers recovering within the run).
SETTINGS = migrate.WaveSettings(poll_interval=0.01, recovery_attempts=0)


def fast_sim(*, server_steps: bool = False, **cloud: Any) -> Simulator:
    """The demo on a fast clock; unless ``server_steps``, its run-on-server steps moved to workers first.

    The guide says to move steps that run on the Server to workers before migrating, and verification
    reports a step the import moved to Cloud's dynamic pool as a difference to accept: these tests
    migrate a wave the way the guide prepares one, so it can verify.
    """
    sim = Simulator(
        None,
        "demo",
        server=InstanceConfig("server", **FAST),
        cloud=InstanceConfig("cloud", **{**FAST, **cloud}),
    )
    if not server_steps:
        steps_to_workers(sim)
    return sim


def steps_to_workers(sim: Simulator) -> None:
    """Point every run-on-server action of the Server's processes at its 'Linux Workers' pool."""
    store = sim.server.store
    pool = next(p["Id"] for p in store.all("workerpools") if p["Name"] == "Linux Workers")
    for coll in ("deploymentprocesses", "runbookprocesses"):
        for doc in store.all(coll):
            changed = False
            for step in doc.get("Steps") or []:
                for action in step.get("Actions") or []:
                    props = action.get("Properties") or {}
                    if str(props.get("Octopus.Action.RunOnServer", "")).lower() == "true" and not action.get(
                        "WorkerPoolId"
                    ):
                        action["WorkerPoolId"] = pool
                        changed = True
            if changed:
                store.put(coll, doc)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = fast_sim()
    yield s
    s.close()


def context_for(tmp: Path, server_url: str, cloud_url: str, transport: Any = None) -> Context:
    return Context(
        paths=Paths(state=tmp / "state", config=tmp / "config", logs=tmp / "logs"),
        migrations_dir=tmp / "state" / "migrations",
        keystore=None,
        transport=transport,
        demo=True,
        demo_keys={
            normalise_base_url(server_url): SERVER_ADMIN.api_key,
            normalise_base_url(cloud_url): CLOUD_MANAGER.api_key,
        },
    )


def new_journal(tmp: Path, server_url: str, cloud_url: str, wave: list[str]) -> Journal:
    journal = Journal.create(
        tmp / "state" / "migrations" / "t.octowiz.sqlite3",
        {
            "name": "t",
            "source_url": server_url,
            "destination_url": cloud_url,
            "source_space": "Spaces-1",
            "destination_space": "Spaces-1",
        },
    )
    journal.set_wave("wave 1", wave)
    return journal


async def yes(preview: migrate.ImportPreview) -> bool:
    return True


async def run(
    ctx: Context, journal: Journal, password: str = PASSWORD, confirm: migrate.Confirm = yes, **kw: Any
) -> tuple[migrate.WaveResult, list[migrate.Event]]:
    events: list[migrate.Event] = []
    result = await migrate.run_wave(
        ctx,
        journal,
        "wave 1",
        password,
        confirm=confirm,
        on_event=events.append,
        settings=kw.get("settings", SETTINGS),
    )
    return result, events


def destination_state(sim: Simulator) -> dict[str, Any]:
    """What a person would compare on Cloud: projects, their triggers, logos and the packages, by name."""
    store = sim.cloud.store
    projects = sorted(p["Name"] for p in store.all("projects"))
    by_id = {p["Id"]: p["Name"] for p in store.all("projects")}
    triggers = sorted((by_id.get(t["ProjectId"], "?"), t["Name"]) for t in store.all("projecttriggers"))
    packages = sorted((p["PackageId"], p["Version"], p["Hash"]) for p in store.all("packages"))
    logos = sorted(
        (name, hashlib.sha256(blob.read()).hexdigest())
        for pid, name in by_id.items()
        if (blob := store.blob_open(f"logo/{pid}")) is not None
    )
    counts = {
        c: store.count(c)
        for c in (
            "projects",
            "channels",
            "releases",
            "runbooks",
            "environments",
            "lifecycles",
            "projecttriggers",
            "packages",
        )
    }
    return {
        "projects": projects,
        "triggers": triggers,
        "packages": packages,
        "logos": logos,
        "counts": counts,
    }


async def test_a_wave_migrates_over_loopback_complete_and_verified(tmp_path: Path, sim: Simulator) -> None:
    with sim.serve() as ends:
        ctx = context_for(tmp_path, ends["server"].url, ends["cloud"].url)
        journal = new_journal(tmp_path, ends["server"].url, ends["cloud"].url, list(WAVE))
        result, events = await run(ctx, journal)
    assert result.problems == []
    assert [(p.name, p.state) for p in result.projects] == [(n, "verified") for n in WAVE.values()]
    assert result.exit_code == migrate.EXIT_VERIFIED
    state = destination_state(sim)
    for name in WAVE.values():
        assert state["projects"].count(name) == 1
    # Triggers recreated, logos byte-identical, every package the releases select, same hash.
    source = sim.server.store
    assert {
        (WAVE[t["ProjectId"]], t["Name"]) for t in source.all("projecttriggers") if t["ProjectId"] in WAVE
    } == {t for t in state["triggers"]}
    src_logos = {
        WAVE[pid]: hashlib.sha256(blob.read()).hexdigest()
        for pid in WAVE
        if (blob := source.blob_open(f"logo/{pid}")) is not None
    }
    assert dict(state["logos"]) == src_logos and len(src_logos) == 2
    src_hashes = {(p["PackageId"], p["Version"]): p["Hash"] for p in source.all("packages")}
    for package_id, version, digest in state["packages"]:
        assert src_hashes[(package_id, version)] == digest
    # Progress was reported for every stage, the archive's hash recorded, the id map written.
    assert {
        "export",
        "download",
        "upload",
        "preview",
        "import",
        "packages",
        "logo",
        "triggers",
        "verify",
    } <= {e.stage for e in events}
    assert set(journal.id_map("project")) == set(WAVE)
    batch = journal.items("batch")[0]
    assert batch[3] == "done" and len((batch[4] or {})["sha256"]) == 64
    assert journal.step_status("migrate") == "done"


async def test_running_a_finished_wave_again_changes_nothing(tmp_path: Path, sim: Simulator) -> None:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    await run(ctx, journal)
    before = destination_state(sim)
    seen = len(sim.cloud.requests)
    result, _ = await run(ctx, journal)
    assert all(p.state == "verified" for p in result.projects)
    assert destination_state(sim) == before
    writes = [r for r in sim.cloud.requests[seen:] if r.method not in ("GET", "HEAD")]
    assert writes == []


async def test_a_project_already_on_cloud_that_octowiz_did_not_create_is_a_conflict(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    existing = sim.cloud.store.insert(
        "projects",
        {"Name": "Acme Database", "SpaceId": "Spaces-1", "Description": "made by hand"},
        prefix="Projects",
    )
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    result, _ = await run(ctx, journal)
    states = {p.name: (p.state, p.detail) for p in result.projects}
    assert states["Acme Database"][0] == "conflict"
    assert (
        "already exists" in states["Acme Database"][1] and "never imports over" in states["Acme Database"][1]
    )
    assert states["Acme Web"][0] == "verified" and states["Ops Toolkit"][0] == "verified"
    assert result.exit_code == migrate.EXIT_CONFLICTS
    assert (sim.cloud.store.get("projects", existing["Id"]) or {})["Description"] == "made by hand"
    assert [p["Name"] for p in sim.cloud.store.all("projects")].count("Acme Database") == 1


async def test_an_unconfirmed_preview_imports_nothing_and_a_wrong_password_gets_a_sentence(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))

    async def no(preview: migrate.ImportPreview) -> bool:
        assert "Acme Web" in preview.projects
        return False

    result, _ = await run(ctx, journal, confirm=no)
    assert result.problems == ["The import was not confirmed; nothing was imported."]
    assert not [p for p in sim.cloud.store.all("projects") if p["Name"] in WAVE.values()]
    exports = [r for r in sim.server.requests if r.path.endswith("/import-export/export")]
    # The confirmation is asked again on the next run, from the preview: no second export.
    result, _ = await run(ctx, journal, confirm=no)
    assert len([r for r in sim.server.requests if r.path.endswith("/import-export/export")]) == len(exports)
    # After a restart the password is asked again; a different one cannot open the archive. That is
    # said, and since the password is not kept, the next run exports afresh with the one it is given.
    result, _ = await run(ctx, journal, password="not the export password")
    assert result.problems and "password" in result.problems[0].lower()
    assert "exports it afresh" in result.problems[0]
    result, _ = await run(ctx, journal, password="a new password")
    assert [p.state for p in result.projects] == ["verified"] * 3
    assert (
        len([r for r in sim.server.requests if r.path.endswith("/import-export/export")]) == len(exports) + 1
    )


async def test_a_failing_export_shows_octopus_error_and_log_then_a_rerun_succeeds(tmp_path: Path) -> None:
    sim = fast_sim()
    sim.server.tasks.failing_kinds.add("export")
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    result, _ = await run(ctx, journal)
    assert result.exit_code == migrate.EXIT_FAILED
    assert result.problems[0].startswith("The export failed on")
    assert "Last lines of its log:" in result.problems[0]
    sim.server.tasks.failing_kinds.clear()
    result, _ = await run(ctx, journal)
    assert [p.state for p in result.projects] == ["verified"] * 3
    sim.close()


async def test_a_failing_import_leaves_the_wave_to_resume_with_a_fresh_export(tmp_path: Path) -> None:
    sim = fast_sim()
    sim.cloud.tasks.failing_kinds.add("import")
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    result, _ = await run(ctx, journal)
    assert result.problems[0].startswith("The import failed on")
    assert {p.state for p in result.projects} == {"failed"}
    sim.cloud.tasks.failing_kinds.clear()
    result, _ = await run(ctx, journal)
    assert [p.state for p in result.projects] == ["verified"] * 3
    assert [b[3] for b in journal.items("batch")] == ["closed", "done"]
    sim.close()


async def test_imports_wait_while_cloud_already_runs_as_many_as_allowed(
    tmp_path: Path, sim: Simulator
) -> None:
    other = sim.cloud.tasks.create(
        "ImportProjects", "Import projects: someone else's", space_id="Spaces-1", kind="import",
        payload={"failure": "not ours", "space_id": "Spaces-1"}, executing_seconds=0.3,
    )  # fmt: skip
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    result, events = await run(ctx, journal)
    assert [p.state for p in result.projects] == ["verified"] * 3
    waits = [e for e in events if e.message.startswith("Waiting: 1 import(s) already queued or running")]
    assert waits
    ours = next(
        r for r in sim.cloud.requests if r.method == "POST" and r.path.endswith("/import-export/import")
    )
    assert ours is not None
    assert (sim.cloud.store.get("tasks", other["Id"]) or {})["State"] != "Executing"


async def test_429_bursts_on_cloud_are_waited_out_and_the_wave_completes(
    tmp_path: Path, sim: Simulator
) -> None:
    # Each burst answers 429 with Retry-After: 1, on an upload (a streamed POST) and on trigger creation.
    for pattern in ("/import-export/import-files", "/projecttriggers", "/packages/raw"):
        sim.cloud.scripted.append(ScriptedFault(pattern, 429, count=2, method="POST", retry_after=1))
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, ["Projects-1"])
    result, _ = await run(ctx, journal)
    assert result.problems == []
    assert [p.state for p in result.projects] == ["verified"]
    assert sum(1 for r in sim.cloud.requests if r.status == 429) == 6
    assert destination_state(sim)["projects"].count("Acme Web") == 1


async def test_a_dropped_upload_and_a_damaged_archive_on_disk_recover_on_the_next_run(
    tmp_path: Path, sim: Simulator
) -> None:
    # The connection drops while the archive is being uploaded to Cloud.
    sim.cloud.scripted.append(ScriptedFault("/import-export/import-files", 0, count=1, method="POST"))
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, ["Projects-9"])
    result, _ = await run(ctx, journal)
    assert result.exit_code == migrate.EXIT_FAILED
    assert result.problems[0].startswith(
        "While uploading the export archive to Octopus Cloud: The connection"
    )
    assert "Traceback" not in result.problems[0]
    assert [a.outcome for a in journal.actions() if a.kind == "upload"] == ["failed"]
    # Meanwhile the archive on disk is damaged: its recorded SHA-256 no longer matches, so it is
    # downloaded again rather than uploaded as it is.
    (archive,) = (tmp_path / "state" / "downloads" / "t" / "exports").glob("*.zip")
    archive.write_bytes(b"not the archive any more")
    downloads = sum(1 for r in sim.server.requests if r.path.endswith("/content"))
    result, _ = await run(ctx, journal)
    assert [p.state for p in result.projects] == ["verified"]
    assert sum(1 for r in sim.server.requests if r.path.endswith("/content")) == downloads + 1
    exports = [r for r in sim.server.requests if r.path.endswith("/import-export/export")]
    assert len(exports) == 1  # the finished export was reused


async def no(preview: migrate.ImportPreview) -> bool:
    return False


class AnswerLostAfterImport(httpx.AsyncBaseTransport):
    """Everything goes through; the first import request reaches Cloud but its answer never returns."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.dropped = inner, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if (
            not self.dropped
            and request.method == "POST"
            and request.url.path.endswith("/import-export/import")
        ):
            self.dropped = True
            await response.aread()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


async def test_a_project_taken_out_of_the_wave_before_the_import_is_not_imported(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    await run(ctx, journal, confirm=no)  # the preview is read, and declined
    journal.set_wave("wave 1", ["Projects-1", "Projects-3"])  # Ops Toolkit leaves the wave
    result, _ = await run(ctx, journal)
    assert [(p.name, p.state) for p in result.projects] == [
        ("Acme Web", "verified"),
        ("Acme Database", "verified"),
    ]
    assert "Ops Toolkit" not in destination_state(sim)["projects"]


async def test_a_lost_answer_to_the_import_request_never_sends_a_second_import(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, AnswerLostAfterImport(sim.transport()))
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    first, _ = await run(ctx, journal)
    assert first.problems and first.problems[0].startswith("While importing on Octopus Cloud")
    second, _ = await run(ctx, journal)
    assert [p.state for p in second.projects] == ["verified"] * 3
    imports = [
        r for r in sim.cloud.requests if r.method == "POST" and r.path.endswith("/import-export/import")
    ]
    assert len(imports) == 1


async def test_a_project_made_by_hand_on_cloud_while_the_wave_waited_is_a_conflict_not_ours(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    await run(ctx, journal, confirm=no)
    hand = sim.cloud.store.insert(
        "projects",
        {"Name": "Acme Database", "SpaceId": "Spaces-1", "Description": "made by hand"},
        prefix="Projects",
    )
    result, _ = await run(ctx, journal)
    states = {p.name: p.state for p in result.projects}
    assert states == {"Acme Web": "verified", "Acme Database": "conflict", "Ops Toolkit": "verified"}
    assert (journal.item_status("project", "Projects-3", "import") or ("",))[0] == "conflict"
    assert [t for t in sim.cloud.store.all("projecttriggers") if t["ProjectId"] == hand["Id"]] == []
    assert sim.cloud.store.blob_open(f"logo/{hand['Id']}") is None


async def test_a_task_that_outlives_the_timeout_gets_a_sentence_and_is_followed_on_the_next_run(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, ["Projects-9"])
    result, _ = await run(ctx, journal, settings=migrate.WaveSettings(poll_interval=0.01, task_timeout=0.0))
    assert result.exit_code == migrate.EXIT_FAILED
    assert "is still running there; octowiz stopped waiting" in result.problems[0]
    result, _ = await run(ctx, journal)
    assert [p.state for p in result.projects] == ["verified"]
    assert len([r for r in sim.server.requests if r.path.endswith("/import-export/export")]) == 1


async def test_a_full_disk_while_downloading_gets_a_sentence_and_leaves_no_part_file(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, ["Projects-9"])
    real_open = Path.open

    def full(self: Path, mode: str = "r", *args: Any, **kw: Any) -> Any:
        if self.name.endswith(".zip.part"):
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_open(self, mode, *args, **kw)

    monkeypatch.setattr(Path, "open", full)
    result, _ = await run(ctx, journal)
    assert result.problems[0].startswith("While downloading the export archive: the disk is full")
    assert not list((tmp_path / "state" / "downloads").rglob("*.part"))
    monkeypatch.setattr(Path, "open", real_open)
    result, _ = await run(ctx, journal)
    assert [p.state for p in result.projects] == ["verified"]


async def test_an_archive_cloud_refuses_is_exported_afresh_on_the_next_run(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, ["Projects-9"])
    await run(ctx, journal, confirm=no)
    (uploaded,) = sim.cloud.store.all("importfiles")
    sim.cloud.store.blob_put(f"importfile/{uploaded['Id']}", b"PK\x03\x04 truncated")  # damaged on Cloud
    refused, _ = await run(ctx, journal)
    assert "could not use the export archive" in refused.problems[0]
    result, _ = await run(ctx, journal)
    assert [p.state for p in result.projects] == ["verified"]
    assert len([r for r in sim.server.requests if r.path.endswith("/import-export/export")]) == 2


async def test_a_rerun_never_follows_someone_elses_import(tmp_path: Path, sim: Simulator) -> None:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    await run(ctx, journal, confirm=no)
    # As if killed after recording that the import is being sent, before it went out...
    ((_, batch_id, _, status, detail),) = journal.items("batch")
    journal.set_item("batch", batch_id, "batch", status, {**(detail or {}), "import_requested": True})
    # ...while another team's import is queued on Cloud.
    sim.cloud.tasks.create(
        "ImportProjects", "Import projects: someone else's", space_id="Spaces-1", kind="import",
        payload={"failure": "not ours", "space_id": "Spaces-1"}, executing_seconds=0.2,
    )  # fmt: skip
    result, _ = await run(ctx, journal)
    assert [p.state for p in result.projects] == ["verified"] * 3
