"""Filling what Export/Import leaves out: packages, logos, triggers, and what stays manual.

Projects are exported from the simulated Server and imported into the simulated Cloud through the real
client first, so every test starts where a user would: projects imported, their packages, logos and
triggers missing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from octowiz.engine.migrate import gaps
from octowiz.engine.migrate.gaps import PackageNeed
from octowiz.engine.prepare.rules import CLOUD_PACKAGE_LIMIT
from octowiz.journal.journal import Journal, JournalError
from octowiz.octopus import models as m
from octowiz.octopus.client import OctopusClient
from octowiz.sim.instance import ScriptedFault
from octowiz.sim.keys import CLOUD_MANAGER, CLOUD_READER, SERVER_ADMIN
from octowiz.sim.scenarios import DEMO_ICON_PROJECT, DEMO_LOGO_PROJECTS, DEMO_OVERSIZED_PACKAGE
from octowiz.sim.simulator import Endpoint, Simulator
from tests.conftest import FakeTime, make_client

PASSWORD = "Export-Archive-Pass-2026"
#: Demo projects imported for these tests (Acme API and Infrastructure Health need their external feeds).
IMPORTED = (
    "Acme Web",
    "Acme API",
    "Acme Database",
    "Ops Toolkit",
    DEMO_ICON_PROJECT,
    "Mobile Backend",
    "Data Warehouse Loader",
)


@dataclass
class Migrated:
    """Both clients and the imported projects: name -> (source project, destination project)."""

    source: OctopusClient
    dest: OctopusClient
    projects: dict[str, tuple[m.Project, m.Project]]

    def pair(self, name: str) -> tuple[m.Project, m.Project]:
        return self.projects[name]


async def _import(source: OctopusClient, dest: OctopusClient, names: tuple[str, ...], tmp: Path) -> None:
    """Export ``names`` from the Server and import them into the Cloud, as the wizard does."""
    for name, feed_type in (("Corp Docker Registry", "Docker"), ("nuget.org", "NuGet")):
        await dest.request(
            "POST",
            dest.space_path("feeds"),
            json={"Name": name, "FeedType": feed_type, "FeedUri": "https://feeds.example.com"},
        )
    # An environment the Server lacks, so the Cloud's ids differ from the Server's for the same names.
    await dest.request("POST", dest.space_path("environments"), json={"Name": "Staging"})
    by_name = {p.name: p for p in await source.projects()}
    started = await source.export_projects([str(by_name[n].id) for n in names], PASSWORD)
    task = await source.wait_for_task(str(started.task_id), poll_interval=1)
    [artifact] = [a for a in await source.task_artifacts(str(task.id)) if a.filename and ".zip" in a.filename]
    archive = tmp / str(artifact.filename)
    await source.download_to((artifact.links or {})["Content"], archive)
    uploaded = await dest.upload_import_file(archive)
    imported = await dest.import_projects(str(uploaded.id), PASSWORD)
    await dest.wait_for_task(str(imported.task_id), poll_interval=1)


async def _migrated(source: OctopusClient, dest: OctopusClient, tmp: Path) -> Migrated:
    await source.discover()
    await dest.discover()
    await _import(source, dest, IMPORTED, tmp)
    src = {p.name: p for p in await source.projects()}
    dst = {p.name: p for p in await dest.projects()}
    return Migrated(source, dest, {n: (src[n], dst[n]) for n in IMPORTED})


@pytest.fixture
async def migrated(sim: Simulator, fake_time: FakeTime, tmp_path: Path) -> AsyncIterator[Migrated]:
    """In-process clients of both instances, with :data:`IMPORTED` already imported into the Cloud."""
    transport = sim.transport()
    async with (
        OctopusClient(sim.server_url, SERVER_ADMIN.api_key, transport=transport, sleep=fake_time.sleep) as s,
        OctopusClient(sim.cloud_url, CLOUD_MANAGER.api_key, transport=transport, sleep=fake_time.sleep) as d,
    ):
        yield await _migrated(s, d, tmp_path)


@pytest.fixture
async def migrated_http(
    sim: Simulator, sim_http: dict[str, Endpoint], fake_time: FakeTime, tmp_path: Path
) -> AsyncIterator[Migrated]:
    """The same, with both instances served over real HTTP on loopback."""
    async with (
        make_client(sim_http["server"], fake_time) as s,
        make_client(sim_http["cloud"], fake_time) as d,
    ):
        yield await _migrated(s, d, tmp_path)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal.create(tmp_path / "migration.octowiz", {"source": "sim", "destination": "sim"})
    yield j
    j.close()


def _uploads(sim: Simulator) -> list[str]:
    return [r.path for r in sim.cloud.requests if r.method == "POST" and "/packages/raw" in r.path]


def _downloads(sim: Simulator) -> list[str]:
    return [r.path for r in sim.server.requests if r.method == "GET" and r.path.endswith("/raw")]


def _expected_needs(sim: Simulator, project_id: str) -> set[PackageNeed]:
    """What a person reading the Server's releases and process would list, straight from its store."""
    store = sim.server.store
    project = store.get("projects", project_id) or {}
    process = store.get("deploymentprocesses", project["DeploymentProcessId"]) or {}
    refs = {
        (a["Name"], ref.get("Name") or ""): ref["PackageId"]
        for s in process.get("Steps", [])
        for a in s["Actions"]
        for ref in a.get("Packages") or []
        if ref["FeedId"] == "feeds-builtin"
    }
    out = set()
    for release in store.find("releases", lambda r: r.get("ProjectId") == project_id):
        for sp in release.get("SelectedPackages") or []:
            key = (sp["ActionName"], sp.get("PackageReferenceName") or "")
            if key in refs:
                out.add(PackageNeed(refs[key], sp["Version"]))
    return out


# -- which packages --------------------------------------------------------------------------------


async def test_needed_packages_are_the_built_in_versions_the_releases_select(
    sim: Simulator, migrated: Migrated
) -> None:
    names = ["Acme Web", "Acme API", "Acme Database", "Data Warehouse Loader"]
    ids = [str(migrated.pair(n)[0].id) for n in names]
    before = migrated.source.request_count

    needs = await gaps.needed_packages(migrated.source, ids)

    assert migrated.source.request_count - before == 2 * len(ids)  # releases + process each, no per release
    assert len(needs) == len(set(needs))
    assert set(needs) == set().union(*(_expected_needs(sim, i) for i in ids))
    assert {n.package_id for n in needs} == {
        "Acme.Web",
        "Acme.Api",
        "Acme.Database",
        "Acme.DataWarehouse.Seed",
    }
    # Acme API's container comes from the Docker feed: not a built-in package, not listed.
    assert not any(n.package_id == "acme/api" for n in needs)
    assert needs == await gaps.needed_packages(migrated.source, ids)  # stable order


async def test_latest_per_channel_reads_only_the_newest_releases(sim: Simulator, migrated: Migrated) -> None:
    portal = next(p for p in await migrated.source.projects() if p.name == "Customer Portal")
    releases = [r for r in sim.server.store.all("releases") if r["ProjectId"] == portal.id]
    assert len(releases) > 2000
    before = migrated.source.request_count

    needs = await gaps.needed_packages(migrated.source, [str(portal.id)], latest_per_channel=1)

    # channels, one release per channel, the process: not 2,150 releases in pages
    assert migrated.source.request_count - before <= 4
    newest = releases[-1]["SelectedPackages"]
    assert needs == [PackageNeed("Acme.Web", sp["Version"]) for sp in newest]
    assert await gaps.needed_packages(migrated.source, [str(portal.id)], latest_per_channel=0) == []

    web = migrated.pair("Acme Web")[0]
    newest_web = [r for r in sim.server.store.all("releases") if r["ProjectId"] == web.id][-1]
    before = migrated.source.request_count

    needs = await gaps.needed_packages(migrated.source, [str(web.id)], latest_per_channel=1)

    assert migrated.source.request_count - before == 2  # one page holds every release: no channel reads
    assert needs == [PackageNeed("Acme.Web", newest_web["SelectedPackages"][0]["Version"])]


# -- copying packages ------------------------------------------------------------------------------


async def test_copy_moves_the_bytes_and_a_rerun_moves_none(
    sim: Simulator, migrated: Migrated, journal: Journal
) -> None:
    src, dst = migrated.source, migrated.dest
    ids = [str(migrated.pair(n)[0].id) for n in ("Acme Web", "Acme Database", "Mobile Backend")]
    needs = await gaps.needed_packages(src, ids)
    seen: list[tuple[int, int]] = []

    copies = await gaps.copy_packages(src, dst, journal, needs, on_progress=lambda d, t: seen.append((d, t)))

    assert [(c.package_id, c.version) for c in copies] == [(n.package_id, n.version) for n in needs]
    assert {c.status for c in copies} == {"copied"}, [c.detail for c in copies]
    for need in needs:
        doc_id = f"packages-{need.package_id}.{need.version}"
        before, after = await src.package(need.package_id, need.version), await dst.package(*_pv(need))
        assert after is not None and before is not None
        assert after.hash == before.hash
        # The seeded Hash is the SHA1 of the bytes the Server serves, and those bytes arrived whole.
        data = sim.server.store.blob_open(f"package/Spaces-1/{doc_id}")
        assert data is not None
        blob = data.read()
        assert hashlib.sha1(blob).hexdigest() == before.hash
        copied = sim.cloud.store.blob_open(f"package/Spaces-1/{doc_id}")
        assert copied is not None and copied.read() == blob
    total = sum(c.size for c in copies)
    assert seen and seen[-1] == (total, total)
    done = [a for a in journal.actions(step=gaps.STEP) if a.kind == "copy-package"]
    assert len(done) == len(needs) and {a.outcome for a in done} == {"done"}
    assert all(a.undo and a.undo["method"] == "DELETE" for a in done)

    uploads = len(_uploads(sim))
    rerun = await gaps.copy_packages(src, dst, journal, needs)

    assert {c.status for c in rerun} == {"already there"}
    assert len(_uploads(sim)) == uploads  # zero bytes uploaded
    assert len([a for a in journal.actions(step=gaps.STEP) if a.kind == "copy-package"]) == len(needs)


def _pv(need: PackageNeed) -> tuple[str, str]:
    return need.package_id, need.version


async def test_an_oversized_package_is_refused_without_a_byte_sent(
    sim: Simulator, migrated: Migrated, journal: Journal
) -> None:
    loader = migrated.pair("Data Warehouse Loader")[0]
    needs = await gaps.needed_packages(migrated.source, [str(loader.id)])
    assert PackageNeed("Acme.DataWarehouse.Seed", "2024.1.0") in needs

    copies = await gaps.copy_packages(migrated.source, migrated.dest, journal, needs)

    [seed] = [c for c in copies if c.package_id == "Acme.DataWarehouse.Seed"]
    assert seed.status == "refused"
    assert seed.size == 6 * 1024**3
    assert "6.0 GiB" in seed.detail and "limit of 5 GB" in seed.detail and "did not copy it" in seed.detail
    assert not any(DEMO_OVERSIZED_PACKAGE in p for p in _uploads(sim) + _downloads(sim))
    [record] = [a for a in journal.actions(step=gaps.STEP) if a.target == "Acme.DataWarehouse.Seed@2024.1.0"]
    assert record.outcome == "refused"


@pytest.mark.parametrize(("size", "refused"), [(CLOUD_PACKAGE_LIMIT, False), (CLOUD_PACKAGE_LIMIT + 1, True)])
async def test_the_copy_refuses_only_above_the_readiness_rules_package_limit(
    sim: Simulator, migrated: Migrated, journal: Journal, size: int, refused: bool
) -> None:
    assert gaps.MAX_CLOUD_PACKAGE_BYTES == CLOUD_PACKAGE_LIMIT == 5 * 1024**3  # one constant, 5 GiB
    doc = sim.server.store.get("packages", DEMO_OVERSIZED_PACKAGE)
    assert doc is not None
    sim.server.store.put("packages", {**doc, "PackageSizeBytes": size})

    [seed] = await gaps.copy_packages(
        migrated.source, migrated.dest, journal, [PackageNeed("Acme.DataWarehouse.Seed", "2024.1.0")]
    )

    assert (seed.status == "refused") is refused, seed
    assert seed.size == size


async def test_a_missing_version_and_a_different_build_are_reported_not_copied(
    sim: Simulator, migrated: Migrated, journal: Journal
) -> None:
    src, dst = migrated.source, migrated.dest

    async def other_build() -> AsyncIterator[bytes]:
        yield b"PK\x03\x04 a different build of the same version"

    await dst.upload_package("Acme.Web.1.0.0.zip", other_build(), None)
    uploads = len(_uploads(sim))

    missing, clash = await gaps.copy_packages(
        src, dst, journal, [PackageNeed("Acme.Web", "9.9.9"), PackageNeed("Acme.Web", "1.0.0")]
    )

    assert missing.status == "missing on source" and "not in the Server's built-in feed" in missing.detail
    assert clash.status == "failed" and "never overwrites" in clash.detail
    assert len(_uploads(sim)) == uploads
    kept = await dst.package("Acme.Web", "1.0.0")
    assert (
        kept is not None
        and kept.hash == hashlib.sha1(b"PK\x03\x04 a different build of the same version").hexdigest()
    )


async def test_errors_become_sentences_and_do_not_stop_the_other_copies(
    sim: Simulator, migrated: Migrated, journal: Journal, fake_time: FakeTime
) -> None:
    needs = [PackageNeed("Acme.Web", "1.0.0"), PackageNeed("Acme.Web", "1.1.0")]
    sim.server.scripted.append(
        ScriptedFault(r"packages-Acme\.Web\.1\.0\.0/raw$", 500, count=10, method="GET")
    )

    first, second = await gaps.copy_packages(migrated.source, migrated.dest, journal, needs)

    assert first.status == "failed"
    assert first.detail.startswith("Copying Acme.Web 1.0.0 failed: ") and "HTTP 500" in first.detail
    assert second.status == "copied"
    sim.server.scripted.clear()
    async with OctopusClient(
        sim.cloud_url, CLOUD_READER.api_key, transport=sim.transport(), sleep=fake_time.sleep
    ) as reader:
        await reader.discover()
        [refused] = await gaps.copy_packages(migrated.source, reader, journal, needs[:1])
    assert refused.status == "failed" and "not allowed" in refused.detail


async def test_a_rate_limited_upload_is_sent_again_after_the_wait(
    sim: Simulator, migrated: Migrated, journal: Journal, fake_time: FakeTime
) -> None:
    sim.cloud.scripted.append(ScriptedFault(r"/packages/raw$", 429, method="POST", retry_after=7))

    [copy] = await gaps.copy_packages(
        migrated.source, migrated.dest, journal, [PackageNeed("Acme.Web", "2.0.0")], sleep=fake_time.sleep
    )

    assert copy.status == "copied", copy.detail
    assert 7 in fake_time.sleeps
    assert [r.status for r in sim.cloud.requests if r.path.startswith("/api/Spaces-1/packages/raw")] == [
        429,
        201,
    ]


async def test_a_copy_interrupted_before_its_outcome_is_settled_on_rerun(
    sim: Simulator, migrated: Migrated, journal: Journal
) -> None:
    need = PackageNeed("Acme.Api", "3.5.0")
    # A run that died after the upload finished but before it wrote its outcome.
    [copy] = await gaps.copy_packages(migrated.source, migrated.dest, journal, [need])
    assert copy.status == "copied"
    pending = journal.begin_action(gaps.STEP, "copy-package", need.target, {"package_id": "Acme.Api"})

    [again] = await gaps.copy_packages(migrated.source, migrated.dest, journal, [need])

    assert again.status == "already there"
    [settled] = [a for a in journal.actions(step=gaps.STEP) if a.id == pending]
    assert settled.outcome == "done"


async def _put_big_package(client: OctopusClient, package_id: str, version: str, size: int) -> str:
    """Push ``size`` random bytes to the Server's built-in feed, streamed; their SHA1."""
    sha = hashlib.sha1()

    async def chunks() -> AsyncIterator[bytes]:
        left = size
        while left:
            block = os.urandom(min(left, 256 * 1024))
            sha.update(block)
            left -= len(block)
            yield block

    await client.upload_package(f"{package_id}.{version}.zip", chunks(), size)
    return sha.hexdigest()


async def test_copy_over_http_streams_chunk_by_chunk(
    sim: Simulator, migrated_http: Migrated, journal: Journal
) -> None:
    src, dst = migrated_http.source, migrated_http.dest
    size = 3 * 1024 * 1024 + 17
    sha = await _put_big_package(src, "Acme.Bundle", "1.0.0", size)
    seen: list[tuple[int, int]] = []

    [copy] = await gaps.copy_packages(
        src, dst, journal, [PackageNeed("Acme.Bundle", "1.0.0")], on_progress=lambda d, t: seen.append((d, t))
    )

    assert copy.status == "copied", copy.detail
    arrived = await dst.package("Acme.Bundle", "1.0.0")
    assert arrived is not None and arrived.hash == sha and arrived.package_size_bytes == size
    assert len(seen) >= 4  # at least one report per MiB, as the bytes flowed
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (size, size)


async def test_a_dropped_download_leaves_no_half_package_and_a_rerun_copies_it(
    sim: Simulator, migrated_http: Migrated, journal: Journal
) -> None:
    src, dst = migrated_http.source, migrated_http.dest
    size = 3 * 1024 * 1024
    sha = await _put_big_package(src, "Acme.Bundle", "2.0.0", size)
    need = PackageNeed("Acme.Bundle", "2.0.0")
    # The Server's connection drops after 1 MiB of the download, mid-copy.
    sim.server.scripted.append(ScriptedFault(r"/packages/.+/raw$", 0, method="GET", after_bytes=1024 * 1024))

    [broken] = await gaps.copy_packages(src, dst, journal, [need])

    assert broken.status == "failed"
    assert "broke off after 1.0 MiB of 3.0 MiB" in broken.detail and "nothing was kept" in broken.detail
    assert await dst.package("Acme.Bundle", "2.0.0") is None
    assert sim.cloud.store.get("packages", "packages-Acme.Bundle.2.0.0") is None
    assert sim.cloud.store.blob_size("package/Spaces-1/packages-Acme.Bundle.2.0.0") is None
    [failed] = [a for a in journal.actions(step=gaps.STEP) if a.target == need.target]
    assert failed.outcome == "failed"

    [rerun] = await gaps.copy_packages(src, dst, journal, [need])

    assert rerun.status == "copied", rerun.detail
    arrived = await dst.package("Acme.Bundle", "2.0.0")
    assert arrived is not None and arrived.hash == sha


# -- logos -----------------------------------------------------------------------------------------


async def test_logos_are_copied_byte_for_byte_and_an_icon_has_none(
    sim: Simulator, migrated: Migrated, journal: Journal
) -> None:
    for name in DEMO_LOGO_PROJECTS:
        src, dst = migrated.pair(name)
        assert await gaps.copy_logo(migrated.source, migrated.dest, journal, src, dst) == "copied"
        original = sim.server.store.blob_open(f"logo/{src.id}")
        assert original is not None
        shown = await migrated.dest.request("GET", migrated.dest.space_path(f"projects/{dst.id}/logo"))
        assert shown.content == original.read()
    for name in (DEMO_ICON_PROJECT, "Ops Toolkit"):
        src, dst = migrated.pair(name)
        assert await gaps.copy_logo(migrated.source, migrated.dest, journal, src, dst) == "none"
    logos = [a for a in journal.actions(step=gaps.STEP) if a.kind == "copy-logo"]
    assert sorted(a.target for a in logos) == sorted(DEMO_LOGO_PROJECTS)
    assert {a.outcome for a in logos} == {"done"}

    posts = sum(1 for r in sim.cloud.requests if r.method == "POST" and r.path.endswith("/logo"))
    src, dst = migrated.pair("Acme Web")
    assert await gaps.copy_logo(migrated.source, migrated.dest, journal, src, dst) == "copied"
    assert sum(1 for r in sim.cloud.requests if r.method == "POST" and r.path.endswith("/logo")) == posts


async def test_a_logo_that_cannot_be_uploaded_is_a_sentence(
    sim: Simulator, migrated: Migrated, journal: Journal
) -> None:
    sim.cloud.scripted.append(ScriptedFault(r"/logo$", 403, count=10, method="POST"))
    src, dst = migrated.pair("Acme Web")

    outcome = await gaps.copy_logo(migrated.source, migrated.dest, journal, src, dst)

    assert outcome.startswith("failed: The logo of 'Acme Web' was not copied: ")
    [action] = [a for a in journal.actions(step=gaps.STEP) if a.kind == "copy-logo"]
    assert action.outcome == "failed"


# -- triggers --------------------------------------------------------------------------------------


def _by_name(items: list[Any]) -> dict[str, Any]:
    return {str(x.name): x for x in items}


async def test_triggers_are_recreated_with_ids_remapped_by_name(
    sim: Simulator, migrated: Migrated, journal: Journal
) -> None:
    s, d = migrated.source, migrated.dest
    src_envs = {e.id: e.name for e in await s.environments()}
    dst_envs = {e.name: e.id for e in await d.environments()}
    results: dict[str, gaps.TriggerOutcome] = {}
    for name in ("Acme Web", "Acme API", "Ops Toolkit", DEMO_ICON_PROJECT):
        src, dst = migrated.pair(name)
        for outcome in await gaps.recreate_triggers(s, d, journal, src, dst):
            results[outcome.name] = outcome
    assert {o.status for o in results.values()} == {"created"}, results

    web_src, web_dst = migrated.pair("Acme Web")
    before = _by_name(await s.triggers(str(web_src.id)))["Nightly deploy to Test"]
    after = _by_name(await d.triggers(str(web_dst.id)))["Nightly deploy to Test"]
    before_f, after_f = before.filter.to_json(), after.filter.to_json()
    assert after.action.to_json()["EnvironmentId"] == dst_envs["Test"]
    assert dst_envs["Test"] != before.action.to_json()["EnvironmentId"]
    for key in ("Timezone", "StartTime", "DaysOfWeek"):
        assert after_f[key] == before_f[key]
    machines = _by_name(await d.triggers(str(web_dst.id)))["Deploy to new web servers"].filter.to_json()
    assert machines["EnvironmentIds"] == [dst_envs["Test"], dst_envs["Production"]]
    assert machines["Roles"] == ["web-server"]

    api_src, api_dst = migrated.pair("Acme API")
    api = _by_name(await d.triggers(str(api_dst.id)))
    promotion = api["Weekday promotion to Production"]
    assert promotion.filter.to_json()["CronExpression"] == "0 0 6 * * Mon-Fri"
    assert promotion.action.to_json()["SourceEnvironmentIds"] == [dst_envs["Test"]]
    assert promotion.action.to_json()["DestinationEnvironmentId"] == dst_envs["Production"]
    default_channel = next(c for c in await d.channels(str(api_dst.id)) if c.name == "Default")
    assert api["New container image"].action.to_json()["ChannelId"] == default_channel.id

    ops_src, ops_dst = migrated.pair("Ops Toolkit")
    nightly = _by_name(await d.triggers(str(ops_dst.id)))["Nightly temp cleanup"].action.to_json()
    cleanup = next(r for r in await d.runbooks(str(ops_dst.id)) if r.name == "Clean temp files")
    assert nightly["RunbookId"] == cleanup.id and nightly["EnvironmentIds"] == [dst_envs["Production"]]

    health = _by_name(await d.triggers(str(migrated.pair(DEMO_ICON_PROJECT)[1].id)))["Hourly health check"]
    assert health.is_disabled is True
    assert all(src_envs[i] in dst_envs for i in src_envs)

    created = [a for a in journal.actions(step=gaps.STEP) if a.kind == "create-trigger"]
    assert len(created) == len(results) and {a.outcome for a in created} == {"done"}
    assert all(a.detail and a.detail["undo"]["path"].endswith(a.detail["trigger_id"]) for a in created)
    assert journal.id_map("trigger")[str(before.id)] == str(after.id)

    rerun = await gaps.recreate_triggers(s, d, journal, web_src, web_dst)

    assert {o.status for o in rerun} == {"already there"}
    names = [str(t.name) for t in await d.triggers(str(web_dst.id))]
    assert len(names) == len(set(names)) == 2


async def test_a_crash_between_creating_a_trigger_and_recording_it_leaves_no_duplicate(
    migrated: Migrated, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, d = migrated.source, migrated.dest
    src, dst = migrated.pair("Acme Web")
    real_finish = journal.finish_action

    def crash(*args: Any, **kwargs: Any) -> None:
        raise JournalError("the disk vanished")

    monkeypatch.setattr(journal, "finish_action", crash)
    with pytest.raises(JournalError):
        await gaps.recreate_triggers(s, d, journal, src, dst)
    monkeypatch.setattr(journal, "finish_action", real_finish)
    [pending] = [a for a in journal.actions(step=gaps.STEP) if a.pending]
    assert [t.name for t in await d.triggers(str(dst.id))] == [pending.intent["name"]]

    rerun = await gaps.recreate_triggers(s, d, journal, src, dst)

    assert sorted(o.status for o in rerun) == ["already there", "created"]
    names = [t.name for t in await d.triggers(str(dst.id))]
    assert len(names) == 2 == len(set(names))
    [settled] = [a for a in journal.actions(step=gaps.STEP) if a.id == pending.id]
    assert settled.outcome == "done" and settled.detail and settled.detail["reconciled"] is True
    assert str(pending.intent["source_trigger_id"]) in journal.id_map("trigger")


async def test_triggers_that_cannot_be_recreated_say_why(
    sim: Simulator, migrated: Migrated, journal: Journal
) -> None:
    src, dst = migrated.pair("Acme Web")
    store = sim.server.store
    perf = store.insert("environments", {"SpaceId": "Spaces-1", "Name": "Performance"}, prefix="Environments")
    for name, flt, act in (
        (
            "Deploy on push",
            {"FilterType": "GitFilter", "Sources": [{"DeploymentActionSlug": "deploy", "Paths": []}]},
            {"ActionType": "CreateRelease", "ChannelId": None},
        ),
        (
            "Nightly to Performance",
            {"FilterType": "CronExpressionSchedule", "CronExpression": "0 0 1 * * *", "Timezone": "UTC"},
            {"ActionType": "DeployNewRelease", "EnvironmentId": perf["Id"], "TenantIds": []},
        ),
    ):
        store.insert(
            "projecttriggers",
            {
                "SpaceId": "Spaces-1",
                "ProjectId": src.id,
                "Name": name,
                "IsDisabled": False,
                "Filter": flt,
                "Action": act,
            },  # fmt: skip
            prefix="ProjectTriggers",
        )

    outcomes = {
        o.name: o for o in await gaps.recreate_triggers(migrated.source, migrated.dest, journal, src, dst)
    }

    assert outcomes["Nightly deploy to Test"].status == "created"
    assert outcomes["Deploy on push"].status == "cannot recreate"
    assert "Git trigger" in outcomes["Deploy on push"].detail
    assert outcomes["Nightly to Performance"].status == "cannot recreate"
    assert "'Performance'" in outcomes["Nightly to Performance"].detail
    assert "does not exist on Octopus Cloud" in outcomes["Nightly to Performance"].detail
    names = {t.name for t in await migrated.dest.triggers(str(dst.id))}
    assert names == {"Nightly deploy to Test", "Deploy to new web servers"}


# -- what stays manual, and the preview ----------------------------------------------------------


async def test_manual_items_name_the_teams_that_arrive_empty(migrated: Migrated) -> None:
    s = migrated.source
    teams = {str(t.id): str(t.name) for t in await s.teams()}
    database = migrated.pair("Acme Database")[0]

    items = gaps.manual_items(database, await s.deployment_process(database), teams=teams, subscriptions=[])

    assert items[0] == (
        "The team 'Operators' (responsible for the manual intervention 'Approve schema change') arrives "
        "empty on Octopus Cloud: add its members there."
    )
    assert any(i.startswith("Users are not migrated") and "those teams" in i for i in items)
    assert any(i.startswith("Build information") for i in items)
    assert not any("Subscription" in i or "subscription" in i for i in items)
    storefront = next(p for p in await s.projects() if p.name == "Storefront")
    assert any("Git repository" in i for i in gaps.manual_items(storefront, None))
    watched = [
        {"Name": "DB alerts", "EventNotificationSubscription": {"Filter": {"Projects": [database.id]}}}
    ]
    assert "The subscription 'DB alerts' notifies about this project: recreate it." in gaps.manual_items(
        database, None, subscriptions=watched
    )


async def test_plan_gaps_previews_with_a_few_requests_per_project(migrated: Migrated) -> None:
    names = ["Acme Web", DEMO_ICON_PROJECT, "Data Warehouse Loader"]
    projects = [migrated.pair(n)[0] for n in names]
    before = migrated.source.request_count

    plan = await gaps.plan_gaps(migrated.source, projects)

    assert migrated.source.request_count - before <= 3 * len(projects) + 2
    web, health, loader = plan.projects
    assert web.has_logo and not health.has_logo
    assert sorted(web.triggers) == ["Deploy to new web servers", "Nightly deploy to Test"]
    assert health.triggers == ["Hourly health check"] and health.blocked == []
    assert PackageNeed("Acme.DataWarehouse.Seed", "2024.1.0") in loader.packages
    assert set(plan.needs) == {n for p in plan.projects for n in p.packages}
