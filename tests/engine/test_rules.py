"""The readiness rules on simulator inventories: each fires on ``demo`` and is quiet without its cause.

Inventories are collected the real way (discovery, then the bulk ``collect``) from simulated instances.
The demo inventory is built once per module; a quiet case seeds its own simulator and edits the seeded
store before collecting, so it is the same setup minus the cause.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

import octowiz.engine.prepare.hosts as hosts
import octowiz.engine.prepare.rules as rules
from octowiz.engine.prepare.inventory import Inventory, collect
from octowiz.engine.prepare.readiness import RULES, SEVERITIES, Finding, ScanResult, rule, scan
from octowiz.octopus import models as m
from octowiz.octopus.client import OctopusClient
from octowiz.sim.config import InstanceConfig
from octowiz.sim.factory import BUILTIN_FEED_ID, worker_pool_doc
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
from octowiz.sim.scenarios import (
    DEFAULT_WORKER_POOL_ID,
    DEMO_DEFAULT_LIFECYCLE_PROJECT,
    DEMO_DISABLED_PROJECT,
    DEMO_ICON_PROJECT,
    DEMO_LOGO_PROJECTS,
    DEMO_MANY_RELEASES,
    DEMO_ORCHESTRATOR_PROJECT,
    DEMO_OVERSIZED_PACKAGE,
    DEMO_PROJECT_NAMES,
    DEMO_PROJECT_WITH_MANY_RELEASES,
    DEMO_PUBLIC_LISTENING_URI,
    DEMO_REACHABLE_FEED,
    DEMO_RUNBOOK_PROJECT,
    DEMO_UNREACHABLE_FEEDS,
    DEMO_UNREACHABLE_LISTENING_URIS,
    DEMO_VERSION_CONTROLLED_PROJECT,
)
from octowiz.sim.simulator import Simulator
from octowiz.sim.store import Doc, Store

Edit = Callable[[Store], None]

#: Demo project ids by name (``DEMO_PROJECT_NAMES[i]`` is ``Projects-{i+1}``).
P = {name: f"Projects-{i + 1}" for i, name in enumerate(DEMO_PROJECT_NAMES)}
RULE_IDS = (
    "version.export-import",
    "auth.ad-ldap",
    "auth.administrators",
    "steps.run-on-server",
    "tentacles.unreachable",
    "feeds.unreachable",
    "packages.built-in-feed",
    "releases.export-limit",
    "projects.version-controlled",
    "lifecycles.no-phases",
    "infrastructure.recreate",
    "export.left-behind",
    "workers.pools-on-cloud",
    "projects.disabled",
)


async def _collect(sim: Simulator, with_destination: bool) -> Inventory:
    async with OctopusClient(sim.server_url, SERVER_ADMIN.api_key, transport=sim.transport()) as source:
        await source.discover()
        if not with_destination:
            return await collect(source)
        async with OctopusClient(sim.cloud_url, CLOUD_MANAGER.api_key, transport=sim.transport()) as cloud:
            await cloud.discover()
            return await collect(source, cloud)


def build(
    scenario: str = "demo",
    edit: Edit | None = None,
    *,
    cloud_edit: Edit | None = None,
    server_version: str | None = None,
    with_destination: bool = True,
) -> Inventory:
    """Seed a simulator, apply the edits to its stores, and collect the inventory through the API."""
    server = InstanceConfig("server", version=server_version) if server_version else None
    sim = Simulator(None, scenario, server=server)
    try:
        if edit is not None:
            edit(sim.server.store)
        if cloud_edit is not None:
            cloud_edit(sim.cloud.store)
        return asyncio.run(_collect(sim, with_destination))
    finally:
        sim.close()


@pytest.fixture(scope="module")
def demo() -> Inventory:
    return build("demo")


@pytest.fixture(scope="module")
def empty() -> Inventory:
    return build("empty")


def run(inv: Inventory, rule_id: str) -> list[Finding]:
    """The findings of one rule."""
    info = next(r for r in RULES if r.id == rule_id)
    found = info.fn(inv)
    assert all(f.rule == rule_id for f in found)
    return found


def names(finding: Finding, kind: str | None = None) -> set[str]:
    return {i.name for i in finding.items if kind is None or i.kind == kind}


def item(finding: Finding, name: str) -> str:
    """The detail of the item called ``name``."""
    return next(i.detail for i in finding.items if i.name == name)


def ids(*project_names: str) -> list[str]:
    """Project ids in the order the rules list them (by project name)."""
    return [P[n] for n in sorted(project_names, key=str.lower)]


def update(store: Store, coll: str, doc_id: str, **changes: object) -> None:
    doc = copy.deepcopy(store.get(coll, doc_id))
    assert doc is not None, f"{coll}/{doc_id}"
    doc.update(changes)
    store.put(coll, doc)


def by_name(store: Store, coll: str, name: str) -> Doc:
    doc = store.first(coll, lambda d: d.get("Name") == name)
    assert doc is not None, f"{coll} {name}"
    return doc


# ---------------------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------------------


def test_every_rule_is_registered_once_with_a_stable_id() -> None:
    registered = [r.id for r in RULES]
    assert set(RULE_IDS) <= set(registered)
    assert len(registered) == len(set(registered))
    with pytest.raises(ValueError, match="twice"):
        rule("projects.disabled", "again")(rules.disabled_projects)


# ---------------------------------------------------------------------------------------------------------
# Rule 2: AD / LDAP
# ---------------------------------------------------------------------------------------------------------


def test_ad_ldap_fires_on_providers_users_and_teams(demo: Inventory) -> None:
    found = run(demo, "auth.ad-ldap")
    assert [f.severity for f in found] == ["warning"] * 3
    providers, users, teams = found
    assert {i.id for i in providers.items} == {"authentication-directoryservices", "authentication-ldap"}
    assert names(users, "user") == {
        "Jane Doe",
        "Bob Smith",
        "Aisha Khan",
        "Maria Garcia",
        "Tom Nguyen",
        "Priya Jones",
    }
    assert "Active Directory (jdoe@corp.local)" in item(users, "Jane Doe")
    assert "LDAP (mgarcia)" in item(users, "Maria Garcia")
    assert "inactive" in item(users, "Priya Jones")
    assert names(teams, "team") == {"Developers", "Operators", "Octopus Administrators"}
    assert "CORP\\Developers" in item(teams, "Developers")
    assert all(not f.projects for f in found)


def _without_directories(store: Store) -> None:
    for sid in ("authentication-directoryservices", "authentication-ldap"):
        section = store.get("configuration", sid)
        assert section is not None
        update(store, "configuration", sid, _Values={**section["_Values"], "IsEnabled": False})
    auth = store.get("config", "authentication")
    assert auth is not None
    providers = [p for p in auth["AuthenticationProviders"] if p["Name"] == "Username/Password"]
    update(store, "config", "authentication", AuthenticationProviders=providers)
    for user in store.all("users"):
        if any(i["IdentityProviderName"] in ("Active Directory", "LDAP") for i in user["Identities"]):
            email = user["EmailAddress"]
            identity = {"IdentityProviderName": "Username/Password", "Claims": {"email": {"Value": email}}}
            update(store, "users", user["Id"], Identities=[identity])
    for team in store.all("teams"):
        update(store, "teams", team["Id"], ExternalSecurityGroups=[])


def test_ad_ldap_quiet_without_directory_sign_in() -> None:
    inv = build("demo", _without_directories)
    assert not inv.problems
    assert run(inv, "auth.ad-ldap") == []


# ---------------------------------------------------------------------------------------------------------
# Rule 3: Octopus Administrators
# ---------------------------------------------------------------------------------------------------------


def test_administrators_fires_for_members_and_groups(demo: Inventory) -> None:
    [finding] = run(demo, "auth.administrators")
    assert finding.severity == "info"
    assert names(finding, "user") == {"Migration Admin", "Jane Doe"}
    assert names(finding, "group") == {"CORP\\Octopus Admins"}
    assert "Octopus Manager" in finding.why
    assert finding.doc.startswith("https://octopus.com/docs/octopus-cloud/permissions")


def test_administrators_quiet_when_the_team_is_empty() -> None:
    inv = build(
        "demo",
        lambda s: update(s, "teams", "teams-administrators", MemberUserIds=[], ExternalSecurityGroups=[]),
    )
    assert run(inv, "auth.administrators") == []


# ---------------------------------------------------------------------------------------------------------
# Rule 4: run on the Octopus Server
# ---------------------------------------------------------------------------------------------------------


def test_run_on_server_fires_per_project_and_step(demo: Inventory) -> None:
    found = run(demo, "steps.run-on-server")
    assert {f.severity for f in found} == {"warning"}
    by_project = {f.projects[0]: f for f in found}
    assert all(len(f.projects) == 1 for f in found)
    assert set(by_project) == set(
        ids(
            "Acme Web",
            "Acme Database",
            "Legacy Billing",
            "Mobile Backend",
            DEMO_RUNBOOK_PROJECT,
            "Data Warehouse Loader",
        )
    )
    assert names(by_project[P["Acme Web"]]) == {"Run pre-deploy checks"}
    assert names(by_project[P["Mobile Backend"]]) == {"Deploy to Azure Web App"}
    # A runbook step, and a step that names the default pool explicitly.
    assert item(by_project[P[DEMO_RUNBOOK_PROJECT]], "Clean temp files").startswith("runbook Clean temp")
    assert "explicitly the default pool" in item(by_project[P["Data Warehouse Loader"]], "Rebuild indexes")
    # Steps with a worker pool (Deploy container, Rotate certificates) or a pool variable (Notify) do not.
    assert P["Acme API"] not in by_project
    assert "Rotate certificates" not in names(by_project[P[DEMO_RUNBOOK_PROJECT]])


def _worker_in_default_pool(store: Store) -> None:
    worker = copy.deepcopy(by_name(store, "workers", "win-worker-02"))  # a polling worker
    worker.update(Id="Workers-99", Name="default-pool-worker", WorkerPoolIds=[DEFAULT_WORKER_POOL_ID])
    store.put("workers", worker)


def _built_in_worker_off(store: Store) -> None:
    update(store, "config", "features", IsBuiltInWorkerEnabled=False)


@pytest.mark.parametrize("edit", [_worker_in_default_pool, _built_in_worker_off], ids=["has-worker", "off"])
def test_run_on_server_quiet_when_the_built_in_worker_is_not_used(edit: Edit) -> None:
    inv = build("demo", edit)
    assert run(inv, "steps.run-on-server") == []


# ---------------------------------------------------------------------------------------------------------
# Rule 5: listening Tentacles Cloud cannot reach
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.10.15", "private"),
        ("fd12::1", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("localhost", "local machine"),
        ("buildbox", "single-label"),
        ("web01.corp.local", ".local"),
        ("nas.lan", ".lan"),
        ("db.internal", ".internal"),
        ("git.acme.corp", ".corp"),
        ("app1.example.com", None),
        ("172.32.0.1", None),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
    ],
)
def test_host_classification(host: str, reason: str | None) -> None:
    problem = hosts.host_problem(host)
    if reason is None:
        assert problem is None
    else:
        assert problem is not None and reason in problem


def test_uri_host() -> None:
    assert hosts.uri_host("https://10.0.4.21:10933/") == "10.0.4.21"
    assert hosts.uri_host("https://[fe80::1]:10933/") == "fe80::1"
    assert hosts.uri_host("registry.corp.local") == "registry.corp.local"
    assert hosts.uri_host(None) is None


def test_unreachable_tentacles_fire_with_addresses_and_projects(demo: Inventory) -> None:
    found = run(demo, "tentacles.unreachable")
    assert {f.severity for f in found} == {"warning"}
    every = [i for f in found for i in f.items]
    assert {i.name for i in every} == {
        "web01", "web-test-01", "buildbox", "dev-workstation", "db01", "web-test-02",
        "linux-worker-01", "win-worker-01",
    }  # fmt: skip
    details = " ".join(i.detail for i in every)
    assert all(uri in details for uri in DEMO_UNREACHABLE_LISTENING_URIS)
    assert DEMO_PUBLIC_LISTENING_URI not in details  # app1-public is reachable
    assert {i.kind for i in every} == {"target", "worker"}
    by_machine = {i.name: f for f in found for i in f.items}
    # web-server targets: the projects that deploy to web-server in their environments.
    assert set(ids("Acme Web", DEMO_DEFAULT_LIFECYCLE_PROJECT)) <= set(by_machine["web01"].projects)
    assert set(by_machine["db01"].projects) == set(ids("Acme Database", "Data Warehouse Loader"))
    assert by_machine["linux-worker-01"].projects == [P["Acme API"]]  # its pool runs Deploy container
    assert by_machine["win-worker-01"].projects == [P[DEMO_RUNBOOK_PROJECT]]  # Rotate certificates
    assert "private address" in item(by_machine["db01"], "db01")
    assert "single-label" in item(by_machine["buildbox"], "buildbox")


def _public_listening_addresses(store: Store) -> None:
    for coll in ("machines", "workers"):
        for doc in store.all(coll):
            endpoint = doc.get("Endpoint") or {}
            uri = str(endpoint.get("Uri") or "")
            listening = endpoint.get("CommunicationStyle") == "TentaclePassive"
            if not listening or not hosts.host_problem(hosts.uri_host(uri)):
                continue
            parts = urlsplit(uri)
            public = urlunsplit(parts._replace(netloc=f"{doc['Name']}.example.com:{parts.port}"))
            update(store, coll, doc["Id"], Uri=public, Endpoint={**endpoint, "Uri": public})


def test_unreachable_tentacles_quiet_with_public_addresses() -> None:
    inv = build("demo", _public_listening_addresses)
    assert run(inv, "tentacles.unreachable") == []
    # The same listening Tentacles are still there (to clone), only reachable.
    assert sum(1 for t in inv.machines if t.communication_style == "TentaclePassive") == 7


# ---------------------------------------------------------------------------------------------------------
# Rule 6: external feeds Cloud cannot reach
# ---------------------------------------------------------------------------------------------------------


def test_unreachable_feeds_fire_with_the_projects_using_them(demo: Inventory) -> None:
    found = run(demo, "feeds.unreachable")
    assert {f.severity for f in found} == {"warning"}
    by_feed = {f.items[0].name: f for f in found}
    assert set(by_feed) == set(DEMO_UNREACHABLE_FEEDS)
    assert DEMO_REACHABLE_FEED not in by_feed
    assert by_feed["Corp Docker Registry"].projects == [P["Acme API"]]  # a container image
    assert by_feed["Corp Maven"].projects == [P["Reporting Service"]]
    assert "https://registry.corp.local" in item(by_feed["Corp Docker Registry"], "Corp Docker Registry")
    assert "10.1.2.3 is a private address" in by_feed["Corp Maven"].why


def test_unreachable_feeds_quiet_with_public_feeds() -> None:
    def public(store: Store) -> None:
        for name in DEMO_UNREACHABLE_FEEDS:
            feed = by_name(store, "feeds", name)
            update(store, "feeds", feed["Id"], FeedUri=f"https://{feed['Slug']}.example.com/")

    inv = build("demo", public)
    assert run(inv, "feeds.unreachable") == []


# ---------------------------------------------------------------------------------------------------------
# Rule 7: built-in feed size and retention
# ---------------------------------------------------------------------------------------------------------


def test_built_in_feed_fires_on_size_oversized_package_and_retention(demo: Inventory) -> None:
    found = run(demo, "packages.built-in-feed")
    [blocker] = [f for f in found if f.severity == "blocker"]
    assert blocker.projects == [P["Data Warehouse Loader"]]
    assert [i.id for i in blocker.items] == [DEMO_OVERSIZED_PACKAGE]
    assert "5 GB" in blocker.title
    storage, retention = (f for f in found if f.severity == "info")
    assert "1 TB" in storage.why and "20 GB" in storage.why
    assert "10 package versions of 4 packages" in storage.items[0].detail
    assert storage.items[0].id == BUILTIN_FEED_ID
    assert "30 days" in retention.why
    assert {"Default Lifecycle", "Standard", "Hotfix"} <= names(retention, "lifecycle")
    assert names(retention, "feed")  # the built-in feed keeps unreleased packages forever


def test_built_in_feed_without_the_oversized_package_blocks_nothing() -> None:
    def small_packages_only(store: Store) -> None:
        assert store.delete("packages", DEMO_OVERSIZED_PACKAGE)

    inv = build("demo", small_packages_only)
    found = run(inv, "packages.built-in-feed")
    assert found and {f.severity for f in found} == {"info"}
    assert all(not f.projects for f in found)


@pytest.mark.parametrize(
    ("size", "blocked"), [(rules.CLOUD_PACKAGE_LIMIT, False), (rules.CLOUD_PACKAGE_LIMIT + 1, True)]
)
def test_a_package_blocks_only_above_the_one_cloud_package_limit(size: int, blocked: bool) -> None:
    # One limit with one meaning: 5 GiB, the same value the package copy refuses above.
    from octowiz.engine.migrate import gaps

    assert rules.CLOUD_PACKAGE_LIMIT == gaps.MAX_CLOUD_PACKAGE_BYTES == 5 * 1024**3

    def sized(store: Store) -> None:
        update(store, "packages", DEMO_OVERSIZED_PACKAGE, PackageSizeBytes=size)

    found = run(build("demo", sized), "packages.built-in-feed")
    blockers = [f for f in found if f.severity == "blocker"]
    assert [i.id for f in blockers for i in f.items] == ([DEMO_OVERSIZED_PACKAGE] if blocked else [])


def test_retention_names_the_phases_that_keep_longer(demo: Inventory) -> None:
    inv = copy.copy(demo)
    days = m.RetentionPeriod(unit="Days", quantity_to_keep=30, should_keep_forever=False)
    long = m.RetentionPeriod(unit="Days", quantity_to_keep=90, should_keep_forever=False)
    inv.lifecycles = [
        m.Lifecycle(id="Lifecycles-9", name="Audited", release_retention_policy=long,
                    phases=[m.Phase(name="Production", release_retention_policy=long)]),
        m.Lifecycle(id="Lifecycles-8", name="Short", release_retention_policy=days,
                    phases=[m.Phase(name="Test", release_retention_policy=days)]),
    ]  # fmt: skip
    [retention] = [f for f in run(inv, "packages.built-in-feed") if "Retention" in f.title]
    assert item(retention, "Audited") == "releases: keeps 90 days; phase Production keeps 90 days"
    assert "Short" not in names(retention)


def test_built_in_feed_quiet_without_packages_or_history(empty: Inventory) -> None:
    assert run(empty, "packages.built-in-feed") == []


# ---------------------------------------------------------------------------------------------------------
# Rule 8: more than 2,100 releases
# ---------------------------------------------------------------------------------------------------------


def test_too_many_releases_blocks_the_project(demo: Inventory) -> None:
    [finding] = run(demo, "releases.export-limit")
    assert finding.severity == "blocker"
    assert finding.projects == [P[DEMO_PROJECT_WITH_MANY_RELEASES]]
    assert f"{DEMO_MANY_RELEASES:,} releases" in finding.items[0].detail


def test_too_many_releases_quiet_at_exactly_the_limit() -> None:
    def trim(store: Store) -> None:
        pid = P[DEMO_PROJECT_WITH_MANY_RELEASES]
        oldest = store.find("releases", lambda r: r["ProjectId"] == pid)[: DEMO_MANY_RELEASES - 2100]
        for release in oldest:
            store.delete("releases", release["Id"])

    inv = build("demo", trim)
    assert inv.release_counts[P[DEMO_PROJECT_WITH_MANY_RELEASES]] == 2100
    assert run(inv, "releases.export-limit") == []


# ---------------------------------------------------------------------------------------------------------
# Rule 9: version-controlled projects
# ---------------------------------------------------------------------------------------------------------


def test_version_controlled_project_blocked_on_an_older_server(demo: Inventory) -> None:
    [finding] = run(demo, "projects.version-controlled")
    assert finding.severity == "blocker"
    assert finding.projects == [P[DEMO_VERSION_CONTROLLED_PROJECT]]
    assert "2025.2.5601" in finding.why
    assert "github.com/example/app.git" in finding.items[0].detail


def test_version_controlled_project_not_blocked_from_2025_2_5601() -> None:
    inv = build("demo", server_version="2025.2.5601")
    found = run(inv, "projects.version-controlled")
    assert [f.severity for f in found] == ["info"]  # only: reconnect Git after the import
    assert found[0].projects == [P[DEMO_VERSION_CONTROLLED_PROJECT]]


def test_version_controlled_quiet_for_database_projects() -> None:
    inv = build(
        "demo",
        lambda s: update(
            s,
            "projects",
            P[DEMO_VERSION_CONTROLLED_PROJECT],
            IsVersionControlled=False,
            PersistenceSettings={"Type": "Database"},
        ),
    )
    assert run(inv, "projects.version-controlled") == []


# ---------------------------------------------------------------------------------------------------------
# Rule 10: lifecycle without phases
# ---------------------------------------------------------------------------------------------------------


def test_default_lifecycle_fires(demo: Inventory) -> None:
    [finding] = run(demo, "lifecycles.no-phases")
    assert finding.severity == "warning"
    assert finding.projects == [P[DEMO_DEFAULT_LIFECYCLE_PROJECT]]
    assert "Default Lifecycle" in finding.title
    assert "Development, Test, Production" in finding.why


def test_default_lifecycle_quiet_when_the_project_has_phases() -> None:
    def standard(store: Store) -> None:
        lifecycle = by_name(store, "lifecycles", "Standard")
        update(store, "projects", P[DEMO_DEFAULT_LIFECYCLE_PROJECT], LifecycleId=lifecycle["Id"])

    inv = build("demo", standard)
    assert run(inv, "lifecycles.no-phases") == []


# ---------------------------------------------------------------------------------------------------------
# Rule 11: targets and workers to recreate or clone
# ---------------------------------------------------------------------------------------------------------


def test_infrastructure_counts_per_kind(demo: Inventory) -> None:
    found = run(demo, "infrastructure.recreate")
    kinds: dict[tuple[str, str], Finding] = {}
    for f in found:
        styles = {i.detail.split(";")[0].split(" ")[0] for i in f.items}
        [style] = styles
        kinds[(style, f.items[0].kind)] = f
    recreate = {k: len(f.items) for k, f in kinds.items() if f.severity == "warning"}
    clone = {k: len(f.items) for k, f in kinds.items() if f.severity == "info"}
    assert recreate == {
        ("Ssh", "target"): 2,
        ("Kubernetes", "target"): 2,
        ("KubernetesTentacle", "target"): 1,
        ("AzureWebApp", "target"): 1,
        ("None", "target"): 1,
        ("OfflineDrop", "target"): 1,
        ("StepPackage", "target"): 1,
    }
    assert clone == {
        ("TentaclePassive", "target"): 7,
        ("TentaclePassive", "worker"): 2,
        ("TentacleActive", "target"): 6,
        ("TentacleActive", "worker"): 1,
    }
    assert kinds[("AzureWebApp", "target")].projects == [P["Mobile Backend"]]
    assert "2 SSH targets" in kinds[("Ssh", "target")].title
    assert P["Infrastructure Health"] in kinds[("Ssh", "target")].projects
    assert "CloneTentacleInstance" in kinds[("TentacleActive", "target")].action


def test_infrastructure_quiet_without_targets_or_workers(empty: Inventory) -> None:
    assert not empty.machines and not empty.workers
    assert run(empty, "infrastructure.recreate") == []


# ---------------------------------------------------------------------------------------------------------
# Rule 12: what Export/Import leaves behind
# ---------------------------------------------------------------------------------------------------------


def test_left_behind_per_project(demo: Inventory) -> None:
    found = run(demo, "export.left-behind")
    assert {f.severity for f in found} == {"info"}
    per_project = {f.projects[0]: f for f in found if f.projects}
    web = per_project[P["Acme Web"]]
    assert names(web, "trigger") == {"Nightly deploy to Test", "Deploy to new web servers"}
    assert names(web, "logo") == {"Acme Web logo"}
    assert "4 versions selected by releases (1.0.0, 1.1.0, 1.2.0, 2.0.0)" in item(web, "Acme.Web")
    for name in DEMO_LOGO_PROJECTS:
        assert names(per_project[P[name]], "logo"), name
    # A built-in icon is not an uploaded logo; its trigger still has to be recreated.
    icon = per_project[P[DEMO_ICON_PROJECT]]
    assert names(icon, "logo") == set() and names(icon, "trigger") == {"Hourly health check"}
    assert "(disabled)" in item(icon, "Hourly health check")
    assert names(per_project[P[DEMO_RUNBOOK_PROJECT]], "trigger") == {"Nightly temp cleanup"}
    # Deploy-a-Release steps and manual steps leave nothing behind.
    assert P[DEMO_ORCHESTRATOR_PROJECT] not in per_project
    [history] = [f for f in found if not f.projects]
    assert {i.id for i in history.items} == {"deployments", "audit-log", "subscriptions", "build-information"}


def test_left_behind_quiet_without_projects_or_history(empty: Inventory) -> None:
    assert run(empty, "export.left-behind") == []


# ---------------------------------------------------------------------------------------------------------
# Rule 13: worker pools on Cloud
# ---------------------------------------------------------------------------------------------------------


def test_worker_pools_without_counterpart_fire(demo: Inventory) -> None:
    found = run(demo, "workers.pools-on-cloud")
    assert {f.severity for f in found} == {"warning"}
    by_pool = {names(f, "pool").pop(): f for f in found}
    assert set(by_pool) == {"Default Worker Pool", "Linux Workers", "Windows Workers"}
    assert by_pool["Linux Workers"].projects == [P["Acme API"]]
    assert by_pool["Windows Workers"].projects == [P[DEMO_RUNBOOK_PROJECT]]
    assert by_pool["Default Worker Pool"].projects == [P["Data Warehouse Loader"]]
    assert names(by_pool["Linux Workers"], "step") == {"Deploy container"}
    assert "Hosted Ubuntu" in by_pool["Linux Workers"].action


def test_worker_pools_without_destination_say_so() -> None:
    inv = build("demo", with_destination=False)
    [finding] = run(inv, "workers.pools-on-cloud")
    assert finding.severity == "info"
    assert "could not be checked" in finding.title
    assert names(finding, "pool") == {"Default Worker Pool", "Linux Workers", "Windows Workers"}


def test_worker_pools_quiet_when_cloud_has_them() -> None:
    def pools(store: Store) -> None:
        for n, name in enumerate(("Default Worker Pool", "Linux Workers", "Windows Workers")):
            store.put("workerpools", worker_pool_doc(f"WorkerPools-{n + 21}", name, n + 3))

    inv = build("demo", cloud_edit=pools)
    assert inv.destination is not None and len(inv.destination.worker_pools) == 5
    assert run(inv, "workers.pools-on-cloud") == []


# ---------------------------------------------------------------------------------------------------------
# Rule 14: disabled projects
# ---------------------------------------------------------------------------------------------------------


def test_disabled_projects_fire(demo: Inventory) -> None:
    [finding] = run(demo, "projects.disabled")
    assert finding.severity == "info"
    assert finding.projects == [P[DEMO_DISABLED_PROJECT]]
    assert "last deployed 20" in finding.items[0].detail


def test_disabled_projects_quiet_when_enabled() -> None:
    inv = build("demo", lambda s: update(s, "projects", P[DEMO_DISABLED_PROJECT], IsDisabled=False))
    assert run(inv, "projects.disabled") == []


# ---------------------------------------------------------------------------------------------------------
# The scan
# ---------------------------------------------------------------------------------------------------------


def test_demo_fires_most_rules_with_well_formed_findings(demo: Inventory) -> None:
    result = scan(demo, now=lambda: "2026-03-02T09:15:00+00:00")
    fired = {f.rule for f in result.findings}
    assert len(fired & set(RULE_IDS)) >= 11
    assert "inventory.unreadable" not in fired
    project_ids = {str(p.id) for p in demo.projects}
    for f in result.findings:
        assert f.severity in SEVERITIES
        assert f.title and f.action and f.why.endswith(".")
        assert f.doc.startswith("https://octopus.com/docs/")
        assert f.items, f.title
        assert set(f.projects) <= project_ids
    assert ScanResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_demo_verdicts(demo: Inventory) -> None:
    result = scan(demo)
    status = {v.name: v.status for v in result.projects}
    assert status[DEMO_PROJECT_WITH_MANY_RELEASES] == "blocked"
    assert status[DEMO_VERSION_CONTROLLED_PROJECT] == "blocked"
    assert status["Data Warehouse Loader"] == "blocked"  # the 6 GB package
    assert status[DEMO_DEFAULT_LIFECYCLE_PROJECT] == "needs attention"
    assert status[DEMO_RUNBOOK_PROJECT] == "needs attention"
    assert status[DEMO_ORCHESTRATOR_PROJECT] == "ready"
    verdict = next(v for v in result.projects if v.name == DEMO_PROJECT_WITH_MANY_RELEASES)
    assert "releases.export-limit" in {result.findings[i].rule for i in verdict.findings}


@pytest.fixture
def failing_rule() -> Iterator[str]:
    def boom(inv: Inventory) -> list[Finding]:
        raise RuntimeError("unexpected shape")

    rule("test.boom", "A rule that breaks")(boom)
    try:
        yield "test.boom"
    finally:
        RULES[:] = [r for r in RULES if r.id != "test.boom"]


def test_a_failing_rule_becomes_could_not_check(demo: Inventory, failing_rule: str) -> None:
    result = scan(demo)
    [broken] = [f for f in result.findings if f.rule == failing_rule]
    assert broken.severity == "warning"
    assert broken.title == "Could not check: A rule that breaks"
    assert "RuntimeError: unexpected shape" in broken.why
    fired = {f.rule for f in result.findings}
    assert {"releases.export-limit", "steps.run-on-server", "tentacles.unreachable"} <= fired
    status = {v.name: v.status for v in result.projects}
    assert status[DEMO_ORCHESTRATOR_PROJECT] == "ready"  # not project-specific: verdicts unchanged
    assert status[DEMO_PROJECT_WITH_MANY_RELEASES] == "blocked"


def test_failing_rule_is_removed_afterwards() -> None:
    assert "test.boom" not in {r.id for r in RULES}


def test_empty_instance_is_quiet_apart_from_the_base_setup(empty: Inventory) -> None:
    result = scan(empty)
    fired = {f.rule for f in result.findings}
    # The base Server still has AD/LDAP sign-in enabled and an administrator; nothing project-related fires.
    assert fired <= {"version.export-import", "auth.ad-ldap", "auth.administrators"}
    assert result.projects == []
