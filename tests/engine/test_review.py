"""Reviewing a migration: what remains, drift on the Server since verification, and the status report.

A wave of the demo is migrated in-process first (short simulated tasks, as test_migrate does); the review
functions then read the journal opened read-only and both instances through read-only clients. Rendering
is pure and held to golden files (``OCTOWIZ_UPDATE_GOLDEN=1`` rewrites them).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from octowiz.engine.context import Context
from octowiz.engine.review import drift as dr
from octowiz.engine.review import report as rp
from octowiz.engine.review.remaining import ProjectRemaining, RemainingReport, WaveRemaining, what_remains
from octowiz.journal import Journal
from octowiz.octopus.client import OctopusClient
from octowiz.sim.keys import SERVER_ADMIN
from octowiz.sim.simulator import Simulator
from tests.engine.test_migrate import WAVE, context_for, fast_sim, new_journal, run

GOLDEN = Path(__file__).parent / "golden" / "review"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = fast_sim()
    yield s
    s.close()


@dataclass
class Migrated:
    sim: Simulator
    ctx: Context
    path: Path


@pytest.fixture
async def migrated(sim: Simulator, tmp_path: Path) -> Migrated:
    """The demo's wave 1 migrated and verified; the journal closed, as a finished run leaves it."""
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    journal = new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE))
    try:
        result, _ = await run(ctx, journal)
        assert [p.state for p in result.projects] == ["verified"] * 3
        path = journal.path
    finally:
        journal.close()
    sim.server.requests.clear()
    sim.cloud.requests.clear()
    return Migrated(sim, ctx, path)


@pytest.fixture
async def source(sim: Simulator) -> AsyncIterator[OctopusClient]:
    client = OctopusClient(sim.server_url, SERVER_ADMIN.api_key, transport=sim.transport())
    await client.discover()
    yield client
    await client.aclose()


def writes(sim: Simulator) -> list[tuple[str, str]]:
    return [
        (r.method, r.path) for inst in (sim.server, sim.cloud) for r in inst.requests if r.method != "GET"
    ]


def journal_bytes(path: Path) -> tuple[bytes, bytes]:
    wal = Path(str(path) + "-wal")
    return path.read_bytes(), wal.read_bytes() if wal.exists() else b""


# -- drift --------------------------------------------------------------------------------------------


async def test_verification_records_a_fingerprint_without_any_variable_value(migrated: Migrated) -> None:
    with Journal.open(migrated.path, lock=False, read_only=True) as j:
        status = j.item_status("project", "Projects-1", "verify")
    assert status is not None and status[1] is not None
    fp = status[1]["fingerprint"]
    assert fp["version"] == dr.VERSION and set(fp["areas"]) == set(dr.AREAS)
    assert fp["areas"]["process"]["order"] == ["Run pre-deploy checks", "Deploy web app", "Smoke test"]
    assert "App.Url" in fp["areas"]["variables"]["items"]
    text = json.dumps(status[1])
    assert "acme-web.example.com" not in text and "Debug" not in text  # hashes, never values


async def test_an_untouched_project_has_no_drift(migrated: Migrated, source: OctopusClient) -> None:
    # Disabling the Server's project is octowiz's own cut-over change: not drift.
    project = migrated.sim.server.store.get("projects", "Projects-1")
    assert project is not None
    migrated.sim.server.store.put("projects", {**project, "IsDisabled": True})
    with Journal.open(migrated.path, lock=False, read_only=True) as j:
        found = await dr.find_drift(j, source)
    assert [(p.name, p.state) for p in found.projects] == sorted(
        [(n, "unchanged") for n in WAVE.values()], key=lambda x: x[0]
    )
    assert found.drifted == [] and writes(migrated.sim) == []


async def test_a_process_and_a_variable_changed_on_the_server_after_migration_is_drift(
    migrated: Migrated, source: OctopusClient
) -> None:
    store = migrated.sim.server.store
    process = store.get("deploymentprocesses", "deploymentprocess-Projects-1")
    assert process is not None
    added = {**process["Steps"][1], "Id": "added-step", "Name": "Warm up caches"}
    added["Actions"] = [{**process["Steps"][1]["Actions"][0], "Id": "added-action", "Name": "Warm up caches"}]
    smoke = {**process["Steps"][2], "Condition": "Always"}
    store.put(
        "deploymentprocesses", {**process, "Steps": [process["Steps"][0], process["Steps"][1], added, smoke]}
    )
    variables = store.get("variables", "variableset-Projects-1")
    assert variables is not None
    changed = [
        {**v, "Value": "Information"} if v["Name"] == "App.LogLevel" and v.get("Value") == "Debug" else v
        for v in variables["Variables"]
    ]
    store.put("variables", {**variables, "Variables": changed})
    with Journal.open(migrated.path, lock=False, read_only=True) as j:
        found = await dr.find_drift(j, source)
    [web] = found.drifted
    assert web.name == "Acme Web" and web.wave == "wave 1"
    assert [(c.area, c.what) for c in web.changes] == [
        ("process", "step 'Warm up caches' added"),
        ("process", "step 'Smoke test' changed"),
        ("variables", "variable 'App.LogLevel' changed"),
    ]
    assert {p.name: p.state for p in found.projects}["Acme Database"] == "unchanged"


def test_compare_names_reordered_steps_and_settings() -> None:
    def fp(process: list[tuple[str, str]], settings: list[tuple[str, str]]) -> dict[str, Any]:
        return {"areas": {"process": dr._area(process), "settings": dr._area(settings)}}

    before = fp([("A", "1"), ("B", "2")], [("Name", "x"), ("Description", "y")])
    after = fp([("B", "2"), ("A", "1")], [("Name", "x"), ("Description", "z")])
    assert [(c.area, c.what) for c in dr.compare(before, after)] == [
        ("process", "steps reordered"),
        ("settings", "setting 'Description' changed"),
    ]
    assert dr.compare(before, before) == []


async def test_a_project_verified_without_a_fingerprint_is_unknown_not_unchanged(
    migrated: Migrated, source: OctopusClient
) -> None:
    with Journal.open(migrated.path, lock=False) as j:
        status = j.item_status("project", "Projects-3", "verify")
        assert status is not None
        detail = {k: v for k, v in (status[1] or {}).items() if k != "fingerprint"}
        j.set_item("project", "Projects-3", "verify", "done", detail)
    with Journal.open(migrated.path, lock=False, read_only=True) as j:
        found = await dr.find_drift(j, source)
    db = next(p for p in found.projects if p.project_id == "Projects-3")
    assert db.state == "unknown" and "run its wave again" in db.sentence


# -- what remains ---------------------------------------------------------------------------------------


async def test_what_remains_after_a_migrated_wave_reads_read_only_and_writes_nothing(
    migrated: Migrated,
) -> None:
    before = journal_bytes(migrated.path)
    with Journal.open(migrated.path, lock=False, read_only=True) as j:
        remaining = await what_remains(migrated.ctx, j)
    assert journal_bytes(migrated.path) == before
    assert writes(migrated.sim) == [] and migrated.sim.cloud.requests  # Cloud's machines were read
    [wave] = remaining.waves
    assert wave.wave == "wave 1" and wave.machines_read and not wave.done
    web = next(p for p in wave.projects if p.name == "Acme Web")
    assert web.state == "verified"
    assert web.open == [
        "build-server checklist not read",
        "test deployment not passed yet",
        "not disabled on the Server",
    ]
    assert any(re.match(r"web01 \(listening target\): not cloned to Octopus Cloud", m) for m in wave.machines)
    assert remaining.retire == "not started" and not remaining.users_checked and not remaining.done
    data = remaining.to_dict()
    assert json.loads(json.dumps(data)) == data


async def test_a_wave_not_migrated_yet_remains_whole_and_no_instance_is_read(
    tmp_path: Path, sim: Simulator
) -> None:
    ctx = context_for(tmp_path, sim.server_url, sim.cloud_url, sim.transport())
    with new_journal(tmp_path, sim.server_url, sim.cloud_url, list(WAVE)) as j:
        j.record_scan(
            "users",
            {
                "destination_checked": True,
                "users": [
                    {"username": "alice", "cloud_sign_in": "yes", "on_destination": None},
                    {"username": "bob", "cloud_sign_in": "invite", "on_destination": "bob"},
                    {"username": "svc-build", "cloud_sign_in": "no", "on_destination": None},
                ],
            },
        )
        path = j.path
    sim.server.requests.clear()
    with Journal.open(path, lock=False, read_only=True) as j:
        remaining = await what_remains(ctx, j)
    assert [(p.name, p.open) for p in remaining.waves[0].projects] == [
        (name, ["not migrated (planned)"]) for name in ("Projects-1", "Projects-3", "Projects-9")
    ]
    assert remaining.users == ["alice"] and remaining.users_checked
    assert sim.server.requests == [] and sim.cloud.requests == []


# -- the report ---------------------------------------------------------------------------------------


def fixed_data() -> dict[str, Any]:
    """A status report's data with every section filled, fixed for the golden files."""
    remaining = RemainingReport(
        [
            WaveRemaining(
                "wave 1",
                [
                    ProjectRemaining(
                        "Projects-1", "Acme Web", "verified", ["test deployment not passed yet"]
                    ),
                    ProjectRemaining("Projects-3", "Acme Database", "differences", ["2 differences open"]),
                    ProjectRemaining("Projects-9", "Ops | Toolkit", "verified", []),
                ],
                ["web01 (listening target): not cloned to Octopus Cloud"],
                True,
            ),
            WaveRemaining(
                "wave 2", [ProjectRemaining("Projects-4", "Billing", "planned", ["not migrated (planned)"])]
            ),
        ],
        users=["alice", "carol"],
        users_checked=True,
        retire="not started",
    )
    drift = dr.DriftReport(
        [
            dr.ProjectDrift(
                "Projects-1",
                "Acme Web",
                "wave 1",
                "drifted",
                [
                    dr.Change("process", "step 'Warm up caches' added"),
                    dr.Change("variables", "variable 'App.LogLevel' changed"),
                ],
                "2026-03-01T10:00:00+00:00",
            ),
            dr.ProjectDrift(
                "Projects-3", "Acme Database", "wave 1", "unchanged", [], "2026-03-01T10:00:00+00:00"
            ),
            dr.ProjectDrift(
                "Projects-9", "Ops | Toolkit", "wave 1", "unknown", [], "", "No fingerprint was recorded."
            ),
        ]
    )
    steps = [
        "Connect",
        "Differences",
        "Connectivity",
        "Users & pools",
        "Waves",
        "Migrate",
        "Targets",
        "Cutover",
    ]
    return {
        "name": "acme",
        "journal": "/home/ops/.local/state/octowiz/migrations/acme.octowiz.sqlite3",
        "settings": {
            "name": "acme",
            "source_url": "https://octopus.acme.corp",
            "source_space_name": "Default",
            "source_version": "2023.4.8555",
            "destination_url": "https://acme.octopus.app",
            "destination_space_name": "Default",
            "destination_version": "2026.1.1234",
            "created_at": "2026-02-20T09:00:00+00:00",
        },
        "steps": [
            {
                "id": t.lower(),
                "title": t,
                "status": "done" if i < 6 else "in progress",
                "updated_at": "2026-03-01T10:00:00+00:00",
            }
            for i, t in enumerate(steps)
        ],
        "waves": {
            "wave 1": [
                {"id": "Projects-1", "name": "Acme Web", "state": "verified"},
                {"id": "Projects-3", "name": "Acme Database", "state": "differences"},
                {"id": "Projects-9", "name": "Ops | Toolkit", "state": "verified"},
            ],
            "wave 2": [{"id": "Projects-4", "name": "Billing", "state": "planned: wave 2"}],
        },
        "actions": [
            {
                "id": 12,
                "step": "cutover",
                "kind": "disable-project",
                "target": "Projects-9",
                "outcome": "overridden",
                "task_id": None,
                "started_at": "2026-03-01T10:05:00+00:00",
            },
            {
                "id": 11,
                "step": "targets",
                "kind": "create-machine",
                "target": "linux-ssh-01",
                "outcome": "pending",
                "task_id": None,
                "started_at": "2026-03-01T10:04:00+00:00",
            },
        ],
        "remaining": remaining.to_dict(),
        "drift": drift.to_dict(),
    }


@pytest.mark.parametrize(
    ("fmt", "filename"), [("text", "status.txt"), ("markdown", "status.md"), ("json", "status.json")]
)
def test_the_report_renders_as_its_golden_file(fmt: str, filename: str) -> None:
    rendered = rp.render(fixed_data(), fmt)
    golden = GOLDEN / filename
    if os.environ.get("OCTOWIZ_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered)
    assert golden.exists(), f"{golden} is missing: run with OCTOWIZ_UPDATE_GOLDEN=1 and review it"
    assert rendered == golden.read_text(), (
        f"{filename} changed: review it, then OCTOWIZ_UPDATE_GOLDEN=1 rewrites it"
    )


def test_the_markdown_is_plain_for_a_change_board() -> None:
    md = rp.render(fixed_data(), "markdown")
    assert "\x1b" not in md  # no ANSI
    assert (
        md.startswith("# Migration acme\n")
        and "\n## What remains\n" in md
        and "\n## Drift since verification\n" in md
    )
    assert "| Ops \\| Toolkit | verified | nothing |" in md  # a pipe in a name does not break the table
    for line in md.splitlines():
        if line.startswith("|"):
            assert line.endswith("|")


def test_an_unknown_format_is_a_sentence() -> None:
    with pytest.raises(ValueError, match="is not a report format"):
        rp.render(fixed_data(), "html")


async def test_status_output_covers_remaining_and_drift_and_writes_nothing(migrated: Migrated) -> None:
    import asyncio

    before = journal_bytes(migrated.path)
    # status_output runs its own event loop (octowiz status is synchronous): from a thread here.
    out = await asyncio.to_thread(rp.status_output, migrated.ctx, migrated.path, "json")
    data = json.loads(out)
    assert data["name"] == "t" and [w["wave"] for w in data["remaining"]["waves"]] == ["wave 1"]
    assert data["drift"]["drifted"] == 0 and len(data["drift"]["projects"]) == 3
    text = await asyncio.to_thread(rp.status_output, migrated.ctx, migrated.path, "text")
    assert "What remains:" in text and "Drift since verification:" in text
    assert re.search(r"^  Acme Web +verified$", text, re.M)
    assert journal_bytes(migrated.path) == before and writes(migrated.sim) == []


async def test_status_without_keys_still_reports_the_journal_and_says_why(migrated: Migrated) -> None:
    import asyncio
    import dataclasses

    keyless = dataclasses.replace(migrated.ctx, demo_keys={})
    out = await asyncio.to_thread(rp.status_output, keyless, migrated.path, "text")
    assert "Wave wave 1:" in out
    assert "The instances could not be read, so machines and drift are not checked: No API key for" in out
