"""Wave planning on the demo Server: the catalog, Deploy a Release closure, sharing, selection, the first
wave, the journal, and how many requests reading the catalog takes."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from octowiz.engine.migrate.waves import (
    Catalog,
    JournalView,
    ProjectRow,
    WaveError,
    build_catalog,
    check_wave,
    format_catalog,
    journal_view,
    plan_wave,
    project_state,
    refresh,
    select,
    suggest_first_wave,
)
from octowiz.engine.prepare.inventory import collect
from octowiz.engine.prepare.readiness import ScanResult, scan
from octowiz.journal import Journal
from octowiz.octopus.client import OctopusClient
from octowiz.sim.factory import BUILTIN_FEED_ID
from octowiz.sim.keys import SERVER_ADMIN
from octowiz.sim.scenarios import (
    DEMO_DISABLED_PROJECT,
    DEMO_ICON_PROJECT,
    DEMO_LOGO_PROJECTS,
    DEMO_MANY_RELEASES,
    DEMO_ORCHESTRATOR_PROJECT,
    DEMO_PROJECT_NAMES,
    DEMO_PROJECT_WITH_MANY_RELEASES,
    DEMO_RUNBOOK_PROJECT,
    DEMO_VERSION_CONTROLLED_PROJECT,
)
from octowiz.sim.simulator import Simulator


class Recording(httpx.AsyncBaseTransport):
    """Passes requests to the simulator and remembers their paths."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def scanned(clients: tuple[OctopusClient, OctopusClient]) -> ScanResult:
    return scan(await collect(clients[0]))


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.create(tmp_path / "m.octowiz.sqlite3", {"name": "m"}) as j:
        yield j


@pytest.fixture
async def catalog(
    clients: tuple[OctopusClient, OctopusClient], scanned: ScanResult, journal: Journal
) -> AsyncIterator[Catalog]:
    journal.record_scan("readiness", scanned.to_dict(), scanned.at)
    yield await build_catalog(clients[0], journal_view(journal))


def ids(catalog: Catalog, *names: str) -> list[str]:
    by_name = {r.name: r.id for r in catalog.rows}
    return [by_name[n] for n in names]


def names(catalog: Catalog, project_ids: list[str]) -> list[str]:
    return [catalog.name(p) for p in project_ids]


def row(catalog: Catalog, name: str) -> ProjectRow:
    found = next((r for r in catalog.rows if r.name == name), None)
    assert found is not None, name
    return found


# -- the catalog ------------------------------------------------------------------------------------------


async def test_catalog_shows_every_demo_project_in_its_group_with_what_it_leaves_behind(
    demo: Simulator, catalog: Catalog
) -> None:
    store = demo.server.store
    group_names = {g["Id"]: g["Name"] for g in store.all("projectgroups")}
    expected_group = {p["Name"]: group_names[p["ProjectGroupId"]] for p in store.all("projects")}
    releases = Counter(r["ProjectId"] for r in store.all("releases"))
    triggers = Counter(t["ProjectId"] for t in store.all("projecttriggers"))

    assert sorted(r.name for r in catalog.rows) == sorted(DEMO_PROJECT_NAMES)
    assert {r.name: r.group for r in catalog.rows} == expected_group
    assert catalog.rows == sorted(catalog.rows, key=lambda r: (r.group.lower(), r.name.lower()))
    assert list(catalog.groups()) == ["Back Office", "Platform", "Web Applications"]
    for r in catalog.rows:
        assert r.releases == releases[r.id], r.name
        assert r.triggers == triggers[r.id], r.name
        assert r.state == "not planned" and r.wave is None
    assert row(catalog, DEMO_PROJECT_WITH_MANY_RELEASES).releases == DEMO_MANY_RELEASES
    assert {r.name for r in catalog.rows if r.logo} == set(DEMO_LOGO_PROJECTS)
    assert not row(catalog, DEMO_ICON_PROJECT).logo  # a built-in icon is not an uploaded logo
    assert {r.name for r in catalog.rows if r.version_controlled} == {DEMO_VERSION_CONTROLLED_PROJECT}
    assert {r.name for r in catalog.rows if r.disabled} == {DEMO_DISABLED_PROJECT}
    assert row(catalog, DEMO_RUNBOOK_PROJECT).last_deployment is None
    assert row(catalog, "Acme Web").last_deployment == "2026-03-02"
    assert {r.name: r.readiness for r in catalog.rows}[DEMO_ORCHESTRATOR_PROJECT] == "ready"
    assert row(catalog, DEMO_VERSION_CONTROLLED_PROJECT).readiness == "blocked"
    assert names(catalog, row(catalog, DEMO_ORCHESTRATOR_PROJECT).references) == ["Acme Web", "Acme API"]
    assert [r.name for r in catalog.rows if r.references] == [DEMO_ORCHESTRATOR_PROJECT]


async def test_catalog_counts_built_in_packages_and_targets(demo: Simulator, catalog: Catalog) -> None:
    store = demo.server.store
    built_in: dict[str, dict[tuple[str, str], str]] = {}
    for process in store.all("deploymentprocesses"):
        refs = built_in.setdefault(process["ProjectId"], {})
        for step in process["Steps"]:
            for action in step["Actions"]:
                for package in action["Packages"]:
                    if package["FeedId"] == BUILTIN_FEED_ID:
                        refs[(action["Name"], package["Name"])] = package["PackageId"]
    expected: dict[str, set[tuple[str, str]]] = {}
    for release in store.all("releases"):
        refs = built_in.get(release["ProjectId"], {})
        for s in release["SelectedPackages"]:
            if (s["ActionName"], s["PackageReferenceName"]) in refs:
                package_id = refs[(s["ActionName"], s["PackageReferenceName"])]
                expected.setdefault(release["ProjectId"], set()).add((package_id, s["Version"]))
    for r in catalog.rows:
        assert r.builtin_packages == len(expected.get(r.id, set())), r.name
    assert row(catalog, "Acme Web").builtin_packages > 0
    # Deploy a Release steps select releases of other projects, not built-in packages; and no target roles.
    assert row(catalog, DEMO_ORCHESTRATOR_PROJECT).builtin_packages == 0
    assert row(catalog, DEMO_ORCHESTRATOR_PROJECT).targets == 0
    # Mobile Backend deploys to its one Azure Web App; Acme API to app servers, Kubernetes and the web server
    # that also has the app-server role, in Test and Production (the disabled app-old-01 is not counted).
    assert row(catalog, "Mobile Backend").targets == 1
    assert row(catalog, "Acme API").targets == 9
    assert row(catalog, DEMO_RUNBOOK_PROJECT).targets > 0  # its runbooks run on app servers


async def test_catalog_round_trips_through_json_and_formats(catalog: Catalog) -> None:
    restored = Catalog.from_dict(json.loads(json.dumps(catalog.to_dict())))
    assert restored == catalog
    assert json.loads(format_catalog(catalog, "json")) == catalog.to_dict()
    text = format_catalog(catalog)
    assert text.startswith("13 projects in 3 groups: 1 ready, 9 need attention, 3 blocked")
    lines = text.splitlines()
    assert lines.index("Back Office") < lines.index("Platform") < lines.index("Web Applications")
    orchestrator = next(line for line in lines if DEMO_ORCHESTRATOR_PROJECT in line)
    assert "deploys Acme Web, Acme API" in orchestrator
    portal = next(line for line in lines if DEMO_PROJECT_WITH_MANY_RELEASES in line)
    assert "2,150" in portal and "blocked" in portal
    markdown = format_catalog(catalog, "markdown")
    assert markdown.count("\n| ") == len(catalog.rows) + 1  # header and one row per project
    assert "| Platform | Ops Toolkit | needs attention | 0 | never |" in markdown
    with pytest.raises(ValueError):
        format_catalog(catalog, "csv")


async def test_catalog_without_a_scan_says_not_scanned_and_the_wave_check_asks_for_one(
    clients: tuple[OctopusClient, OctopusClient],
) -> None:
    catalog = await build_catalog(clients[0], JournalView())
    assert {r.readiness for r in catalog.rows} == {"not scanned"}
    _, check = check_wave(catalog, "wave 1", ids(catalog, "Acme Database"), {})
    assert check.ok
    assert any("no readiness scan yet" in w for w in check.warnings)


async def test_reading_the_catalog_takes_a_bounded_number_of_requests(demo: Simulator) -> None:
    recording = Recording(demo.transport())
    async with OctopusClient(demo.server_url, SERVER_ADMIN.api_key, transport=recording) as source:
        await source.discover()
        before = source.request_count
        catalog = await build_catalog(source, JournalView())
        spent = source.request_count - before
    assert catalog.requests == spent
    paths = recording.paths[-spent:]
    # Bulk lists only: nothing is read project by project.
    assert not [p for p in paths if "/projects/Projects-" in p]
    pages = math.ceil(len(demo.server.store.all("releases")) / source.page_size) + math.ceil(
        len(demo.server.store.all("deployments")) / source.page_size
    )
    # Three discovery requests, about one per collection, and the release and deployment pages.
    assert spent <= 20 + pages  # 39 on the demo when written, 22 of them pages of releases


# -- choosing projects ------------------------------------------------------------------------------------


async def test_select_resolves_names_and_ids_case_insensitively(catalog: Catalog) -> None:
    web, api = ids(catalog, "Acme Web", "Acme API")
    assert select(catalog, projects=["acme web", api.lower(), "ACME WEB"]) == [web, api]


async def test_selecting_a_group_brings_its_projects_except_disabled_ones(catalog: Catalog) -> None:
    web_apps = select(catalog, group="web applications")
    assert names(catalog, web_apps) == [
        "Acme API",
        "Acme Web",
        "Customer Portal",
        "Mobile Backend",
        "Storefront",
    ]
    back_office = select(catalog, group="Back Office")
    assert DEMO_DISABLED_PROJECT not in names(catalog, back_office)
    assert len(back_office) == 4
    # Named explicitly, a disabled project comes along (before the group's).
    both = select(catalog, projects=[DEMO_DISABLED_PROJECT], group="Back Office")
    assert names(catalog, both)[0] == DEMO_DISABLED_PROJECT and len(both) == 5


async def test_an_unknown_name_lists_close_matches(catalog: Catalog) -> None:
    with pytest.raises(WaveError) as err:
        select(catalog, projects=["Acme Web", "Acme Wbe", "Relase Orchestrator"])
    message = str(err.value)
    assert "There is no project called 'Acme Wbe' on the Server. Did you mean Acme Web" in message
    assert "'Relase Orchestrator' on the Server. Did you mean Release Orchestrator?" in message
    with pytest.raises(WaveError, match=r"no project group called 'Platfrom'\. Did you mean Platform\?"):
        select(catalog, group="Platfrom")
    with pytest.raises(WaveError, match="Choose projects"):
        select(catalog)


# -- checking a wave --------------------------------------------------------------------------------------


async def test_the_orchestrator_alone_brings_the_projects_it_deploys(catalog: Catalog) -> None:
    chosen = select(catalog, projects=[DEMO_ORCHESTRATOR_PROJECT])
    final, check = check_wave(catalog, "wave 1", chosen, {})
    assert names(catalog, final) == ["Acme Web", "Acme API", DEMO_ORCHESTRATOR_PROJECT]
    assert check.projects == final and check.ok
    reasons = dict(check.added)
    assert set(reasons) == set(ids(catalog, "Acme Web", "Acme API"))
    web_reason = reasons[ids(catalog, "Acme Web")[0]]
    assert "step 'Deploy Acme Web' of Release Orchestrator deploys it" in web_reason
    assert "already exist" in web_reason
    assert any("Acme Web and Acme API need attention" in w for w in check.warnings)
    # Together, the two Acme projects raise no tenant warning: they share both tenants only with each other.
    assert not any("tenant" in w for w in check.warnings)


async def test_planning_one_deployed_project_warns_about_the_orchestrator(catalog: Catalog) -> None:
    _, check = check_wave(catalog, "wave 1", ids(catalog, "Acme Web"), {})
    assert check.ok and not check.added
    assert any(
        w.startswith("Release Orchestrator deploys Acme Web with its step 'Deploy Acme Web'")
        and "plan Release Orchestrator in this wave too" in w
        for w in check.warnings
    )


async def test_shared_library_variable_set_and_tenants_are_warned_about(catalog: Catalog) -> None:
    _, check = check_wave(catalog, "wave 1", ids(catalog, "Acme Web"), {})
    pair = [w for w in check.warnings if w.startswith("Acme Web and Acme API share")]
    assert pair == [
        "Acme Web and Acme API share the library variable set 'Common Settings' and the tenants 'Contoso' "
        "and 'Fabrikam': migrate them in the same wave, or make later changes to them on Cloud: a later "
        "wave's import merges into the copies this wave creates instead of replacing them, so changes made "
        "on the Server in between do not all arrive."
    ]
    wide = [w for w in check.warnings if w.startswith("Acme Web shares the library variable set")]
    assert len(wide) == 1
    # Acme API has its own sentence; Legacy Billing is disabled, so it stays behind.
    assert "with 7 projects outside this wave (Acme Database, Customer Portal," in wide[0]
    assert DEMO_DISABLED_PROJECT not in wide[0]
    web = ids(catalog, "Acme Web")[0]
    assert set(ids(catalog, "Acme API", "Acme Database")) <= set(catalog.shared[web])


async def test_blocked_projects_conflict_and_disabled_or_git_projects_warn(catalog: Catalog) -> None:
    chosen = ids(catalog, DEMO_VERSION_CONTROLLED_PROJECT, DEMO_DISABLED_PROJECT)
    _, check = check_wave(catalog, "wave 1", chosen, {})
    assert check.conflicts == [
        "Storefront is blocked by the readiness scan: resolve its blockers (see the readiness report) or "
        "leave it out of this wave."
    ]
    assert any(w.startswith("Legacy Billing is disabled on the Server") for w in check.warnings)


async def test_the_suggested_first_wave_is_quiet_ready_and_deterministic(catalog: Catalog) -> None:
    first = suggest_first_wave(catalog)
    # Reporting Service and Infrastructure Health take packages from external feeds that must first be
    # created on Cloud (the import preview stops the wave until they are): while a project needing none
    # is eligible, only those are suggested, so the first wave goes through. Ops Toolkit and Mobile
    # Backend would come first, but they still run a step on the Server (below).
    assert names(catalog, first) == ["Intranet CMS"]
    reporting = catalog.by_id(ids(catalog, "Reporting Service")[0])
    assert reporting is not None and reporting.external_feeds == ["Corp Maven"]
    referenced = {ref for r in catalog.rows for ref in r.references}
    eligible = [
        r
        for r in catalog.rows
        if r.readiness in ("ready", "needs attention")
        and not r.disabled
        and not r.version_controlled
        and not r.references
        and r.id not in referenced
        and not r.server_steps
    ]
    assert [r.name for r in eligible if not r.external_feeds] == ["Intranet CMS"]
    assert {r.name for r in eligible if r.external_feeds} == {"Reporting Service", "Infrastructure Health"}
    shuffled = Catalog.from_dict(catalog.to_dict())
    random.Random(7).shuffle(shuffled.rows)
    assert suggest_first_wave(shuffled) == first
    assert suggest_first_wave(catalog, size=1) == first[:1]


async def test_a_project_whose_steps_still_run_on_the_server_is_not_suggested_and_says_why(
    catalog: Catalog, scanned: ScanResult
) -> None:
    # The guide: move steps to workers before migrating, or the first wave changes two things at once.
    toolkit, mobile = row(catalog, DEMO_RUNBOOK_PROJECT), row(catalog, "Mobile Backend")
    assert (toolkit.server_steps, mobile.server_steps) == (1, 1)
    assert row(catalog, "Intranet CMS").server_steps == 0
    first = suggest_first_wave(catalog, size=20)
    assert toolkit.id not in first and mobile.id not in first
    # The reason shows where the catalog explains each project.
    line = next(line for line in format_catalog(catalog).splitlines() if "Mobile Backend" in line)
    assert line.endswith("1 step on the Server: move to workers first (not suggested for a first wave)")
    assert "1 step on the Server" in format_catalog(catalog, "markdown")
    # Once a scan no longer finds them (the steps were moved to workers), they are suggested again.
    moved = ScanResult.from_dict(scanned.to_dict())
    moved.findings = [f for f in moved.findings if f.rule != "steps.run-on-server"]
    again = refresh(catalog, JournalView(moved, {}, []))
    assert (row(again, "Mobile Backend").server_steps, row(again, DEMO_RUNBOOK_PROJECT).server_steps) == (
        0,
        0,
    )
    assert names(again, suggest_first_wave(again))[:2] == [DEMO_RUNBOOK_PROJECT, "Intranet CMS"]


async def test_planning_persists_and_states_follow_the_journal(catalog: Catalog, journal: Journal) -> None:
    web, api, orchestrator, toolkit = ids(
        catalog, "Acme Web", "Acme API", DEMO_ORCHESTRATOR_PROJECT, DEMO_RUNBOOK_PROJECT
    )
    check = plan_wave(journal, catalog, "wave 1", [orchestrator])
    assert journal.waves() == {"wave 1": [web, api, orchestrator]}
    assert [pid for pid, _ in check.added] == [web, api]
    fresh = refresh(catalog, journal_view(journal))
    assert {r.name: r.state for r in fresh.rows if r.wave} == {
        "Acme Web": "planned: wave 1",
        "Acme API": "planned: wave 1",
        DEMO_ORCHESTRATOR_PROJECT: "planned: wave 1",
    }
    # The planned projects are no longer suggested.
    assert not set(suggest_first_wave(fresh, size=20)) & {web, api, orchestrator}

    # A project not yet started moves between waves; the other wave keeps the rest.
    plan_wave(journal, catalog, "wave 2", [toolkit])
    check = plan_wave(journal, catalog, "wave 1", [orchestrator, toolkit])
    assert f"{DEMO_RUNBOOK_PROJECT} moves from wave 2 to wave 1." in check.warnings
    assert journal.waves() == {"wave 1": [web, api, orchestrator, toolkit]}

    journal.set_item("project", web, "import", "importing")
    assert row(refresh(catalog, journal_view(journal)), "Acme Web").state == "importing"
    journal.set_item("project", web, "import", "done", {"destination_id": "Projects-21"})
    view = journal_view(journal)
    assert project_state(view.items_of(web), "wave 1") == "imported"

    # Once on Cloud it cannot join another wave, nor leave its own.
    with pytest.raises(WaveError, match=r"Acme Web is already on Cloud \(imported in wave 1\)") as err:
        plan_wave(journal, catalog, "wave 3", [web])
    assert err.value.check is not None and not err.value.check.ok
    with pytest.raises(WaveError, match="Acme Web cannot be taken out of wave 1"):
        plan_wave(journal, catalog, "wave 1", [toolkit])
    # A blocked project is refused and nothing is written.
    with pytest.raises(WaveError, match="Storefront is blocked"):
        plan_wave(journal, catalog, "wave 3", ids(catalog, DEMO_VERSION_CONTROLLED_PROJECT))
    assert journal.waves() == {"wave 1": [web, api, orchestrator, toolkit]}

    journal.set_item("project", web, "verify", "done")
    assert project_state(journal_view(journal).items_of(web)) == "verified"
    journal.set_item("project", web, "verify", "differences")
    assert project_state(journal_view(journal).items_of(web)) == "differences"
    journal.set_item("project", web, "packages", "failed")
    assert project_state(journal_view(journal).items_of(web)) == "failed"


def test_project_state_reads_item_rows() -> None:
    def rows(*stages: tuple[str, str]) -> list[tuple[str, str, str, str, None]]:
        return [("project", "Projects-1", stage, status, None) for stage, status in stages]

    assert project_state([]) == "not planned"
    assert project_state([], "wave 2") == "planned: wave 2"
    assert project_state(rows(("export", "in progress")), "wave 2") == "exporting"
    assert project_state(rows(("import", "exporting"))) == "exporting"
    assert project_state(rows(("import", "in progress"))) == "importing"
    assert project_state(rows(("import", "done"), ("packages", "done"))) == "imported"
    assert project_state(rows(("import", "done"), ("verify", "done"))) == "verified"
    assert project_state(rows(("import", "done"), ("verify", "differences"))) == "differences"
    assert project_state(rows(("import", "done"), ("logo", "failed"), ("verify", "done"))) == "failed"


async def test_an_orchestrator_cannot_follow_a_project_it_deploys_that_is_already_on_cloud(
    catalog: Catalog, journal: Journal
) -> None:
    web, orchestrator = ids(catalog, "Acme Web", DEMO_ORCHESTRATOR_PROJECT)
    journal.set_wave("wave 1", [web])
    journal.set_item("project", web, "import", "done")
    with pytest.raises(WaveError) as err:
        plan_wave(journal, catalog, "wave 2", [orchestrator])
    assert err.value.check is not None
    assert err.value.check.conflicts == [
        "Acme Web is already on Cloud (imported in wave 1), but Release Orchestrator's step "
        "'Deploy Acme Web' deploys it: Export/Import would bring Acme Web again and the import would fail "
        "because it already exists. Change that step, or delete Acme Web on Cloud and migrate it with "
        "Release Orchestrator."
    ]


async def test_an_empty_or_unnamed_wave(catalog: Catalog, journal: Journal) -> None:
    with pytest.raises(WaveError, match="Choose at least one project for wave 1"):
        plan_wave(journal, catalog, "wave 1", [])
    with pytest.raises(WaveError, match="A wave needs a name"):
        plan_wave(journal, catalog, "  ", ids(catalog, "Acme Database"))
    with pytest.raises(WaveError, match="no project Projects-999"):
        plan_wave(journal, catalog, "wave 1", ["Projects-999"])
    plan_wave(journal, catalog, "wave 1", ids(catalog, "Acme Database"))
    check = plan_wave(journal, catalog, "wave 1", [])
    assert "wave 1 has no projects left and will be removed." in check.warnings
    assert journal.waves() == {}
