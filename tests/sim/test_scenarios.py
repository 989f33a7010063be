"""The simulator's seed data: determinism, persistence, notable demo cases and reference integrity."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from octowiz.sim import keys
from octowiz.sim.factory import api_key_hash
from octowiz.sim.resources import COLLECTIONS, SCOPED
from octowiz.sim.scenarios import (
    DEFAULT_WORKER_POOL_ID,
    DEMO_CLOUD_MATCHING_EMAILS,
    DEMO_DEFAULT_LIFECYCLE_PROJECT,
    DEMO_DEVELOPERS_TEAM,
    DEMO_DISABLED_PROJECT,
    DEMO_ENVIRONMENTS,
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
    LARGE_ENVIRONMENTS,
    LARGE_PROJECTS,
    LARGE_RELEASES,
    LARGE_TARGETS,
    SCENARIOS,
    SEED_COLLECTIONS,
    seed,
)
from octowiz.sim.store import Doc, Store

Flavour = Literal["server", "cloud"]
SERVER_VERSION = "2024.2.9220"
CLOUD_VERSION = "2026.3.4482"
ALL_CASES: list[tuple[Flavour, str]] = [(f, s) for f in ("server", "cloud") for s in SCENARIOS]


def seeded(flavour: Flavour, scenario: str, directory: Path | None = None) -> Store:
    store = Store(directory)
    seed(store, flavour, scenario, version=SERVER_VERSION if flavour == "server" else CLOUD_VERSION)
    return store


@pytest.fixture(scope="module")
def demo() -> Store:
    return seeded("server", "demo")


@pytest.fixture(scope="module")
def cloud_demo() -> Store:
    return seeded("cloud", "demo")


def by_name(store: Store, coll: str, name: str) -> Doc:
    doc = store.first(coll, lambda d: d.get("Name") == name)
    assert doc is not None, f"no {coll} named {name!r}"
    return doc


def actions_of(process: Doc) -> Iterator[tuple[Doc, Doc]]:
    for s in process["Steps"]:
        for a in s["Actions"]:
            yield s, a


def dump(store: Store) -> dict[str, str]:
    """Every collection as canonical JSON, plus every blob the documents point at."""
    out = {c: json.dumps(store.all(c), sort_keys=True) for c in SEED_COLLECTIONS}
    for key in blob_keys(store):
        f = store.blob_open(key)
        assert f is not None, key
        with f:
            out[f"blob:{key}"] = hashlib.sha1(f.read()).hexdigest()
    return out


def blob_keys(store: Store) -> list[str]:
    keys_ = [f"package/{p['SpaceId']}/{p['Id']}" for p in store.all("packages")]
    keys_ += [f"logo/{p['Id']}" for p in store.all("projects") if p.get("_LogoStamp")]
    return keys_


def read_blob(store: Store, key: str) -> bytes:
    f = store.blob_open(key)
    assert f is not None, key
    with f:
        return f.read()


# -- the reference checker ---------------------------------------------------------------------------


class Refs:
    """Collects references that do not resolve."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.problems: list[str] = []
        self.ids = {c: {d["Id"] for d in store.all(c)} for c in SEED_COLLECTIONS}

    def check(self, where: str, coll: str, value: Any, *, nullable: bool = False) -> None:
        values = value if isinstance(value, list) else [value]
        for v in values:
            if v is None and nullable:
                continue
            if v not in self.ids[coll]:
                self.problems.append(f"{where}: {v!r} is not in {coll}")


def reference_problems(store: Store) -> list[str]:
    """Every id-valued field of every seeded document must resolve (snapshot ids excepted)."""
    r = Refs(store)
    tag_names = {t["CanonicalTagName"] for ts in store.all("tagsets") for t in ts["Tags"]}
    action_ids: set[str] = set()
    action_names: dict[str, set[str]] = {}
    package_ids_builtin = {p["PackageId"] for p in store.all("packages")}

    for space in store.all("spaces"):
        r.check(space["Id"], "teams", space["SpaceManagersTeams"])
        r.check(space["Id"], "users", space["SpaceManagersTeamMembers"])
    for team in store.all("teams"):
        r.check(team["Id"], "users", team["MemberUserIds"])
        r.check(team["Id"], "spaces", team["SpaceId"], nullable=True)
    for coll in SCOPED:
        for doc in store.all(coll):
            if doc.get("SpaceId") != "Spaces-1":
                r.problems.append(f"{coll}/{doc['Id']}: SpaceId {doc.get('SpaceId')!r}")

    for lc in store.all("lifecycles"):
        for ph in lc["Phases"]:
            r.check(
                lc["Id"], "environments", ph["AutomaticDeploymentTargets"] + ph["OptionalDeploymentTargets"]
            )
    for pg in store.all("projectgroups"):
        r.check(pg["Id"], "environments", pg["EnvironmentIds"])
    for p in store.all("projects"):
        w = p["Id"]
        r.check(w, "projectgroups", p["ProjectGroupId"])
        r.check(w, "lifecycles", p["LifecycleId"])
        r.check(w, "deploymentprocesses", p["DeploymentProcessId"])
        r.check(w, "variables", p["VariableSetId"])
        r.check(w, "libraryvariablesets", p["IncludedLibraryVariableSetIds"])
        r.check(w, "projects", p["ClonedFromProjectId"], nullable=True)
    for ch in store.all("channels"):
        r.check(ch["Id"], "projects", ch["ProjectId"])
        r.check(ch["Id"], "lifecycles", ch["LifecycleId"], nullable=True)
    for rb in store.all("runbooks"):
        r.check(rb["Id"], "projects", rb["ProjectId"])
        r.check(rb["Id"], "runbookprocesses", rb["RunbookProcessId"])
        r.check(rb["Id"], "environments", rb["Environments"])

    processes = [("deploymentprocesses", p) for p in store.all("deploymentprocesses")]
    processes += [("runbookprocesses", p) for p in store.all("runbookprocesses")]
    for coll, proc in processes:
        w = proc["Id"]
        r.check(w, "projects", proc["ProjectId"])
        if coll == "runbookprocesses":
            r.check(w, "runbooks", proc["RunbookId"])
        names = action_names.setdefault(proc["ProjectId"], set()) if coll == "deploymentprocesses" else set()
        for _step, a in actions_of(proc):
            action_ids.add(a["Id"])
            names.add(a["Name"])
            aw = f"{w}/{a['Name']}"
            r.check(aw, "workerpools", a["WorkerPoolId"], nullable=True)
            r.check(aw, "environments", a["Environments"] + a["ExcludedEnvironments"])
            r.check(aw, "channels", a["Channels"])
            r.check(aw, "feeds", a["Container"]["FeedId"], nullable=True)
            for tag in a["TenantTags"]:
                if tag not in tag_names:
                    r.problems.append(f"{aw}: tenant tag {tag!r}")
            props = a["Properties"]
            if "Octopus.Action.DeployRelease.ProjectId" in props:
                r.check(aw, "projects", props["Octopus.Action.DeployRelease.ProjectId"])
            if "Octopus.Action.Azure.AccountId" in props:
                r.check(aw, "accounts", props["Octopus.Action.Azure.AccountId"])
            for team_ids in filter(
                None, props.get("Octopus.Action.Manual.ResponsibleTeamIds", "").split(",")
            ):
                r.check(aw, "teams", team_ids)
            for ref in a["Packages"]:
                r.check(aw, "feeds", ref["FeedId"])
                if ref["FeedId"] == "feeds-builtin" and ref["PackageId"] not in package_ids_builtin:
                    r.problems.append(f"{aw}: built-in package {ref['PackageId']} has no versions")
                if ref["FeedId"] == "feeds-builtin-releases":
                    r.check(aw, "projects", ref["PackageId"])
    for wk in ("workers",):
        for m in store.all(wk):
            r.check(m["Id"], "workerpools", m["WorkerPoolIds"])
            r.check(m["Id"], "machinepolicies", m["MachinePolicyId"])

    for m in store.all("machines"):
        w = m["Id"]
        r.check(w, "environments", m["EnvironmentIds"])
        r.check(w, "machinepolicies", m["MachinePolicyId"])
        r.check(w, "tenants", m["TenantIds"])
        for tag in m["TenantTags"]:
            if tag not in tag_names:
                r.problems.append(f"{w}: tenant tag {tag!r}")
        ep = m["Endpoint"]
        r.check(w, "accounts", ep.get("AccountId"), nullable=True)
        r.check(w, "accounts", (ep.get("Authentication") or {}).get("AccountId"), nullable=True)
        r.check(w, "workerpools", ep.get("DefaultWorkerPoolId"), nullable=True)
        inputs = ep.get("Inputs") or {}
        if inputs:
            r.check(w, "accounts", inputs["authentication"]["credentials"]["account"])

    owners = r.ids["projects"] | r.ids["libraryvariablesets"]
    scope_targets = {"Environment": "environments", "Machine": "machines", "Channel": "channels"}
    typed_values = {
        "Certificate": "certificates",
        "AzureAccount": "accounts",
        "WorkerPool": "workerpools",
        "AmazonWebServicesAccount": "accounts",
        "UsernamePasswordAccount": "accounts",
    }
    for vs in store.all("variables"):
        w = vs["Id"]
        if vs["OwnerId"] not in owners:
            r.problems.append(f"{w}: owner {vs['OwnerId']!r}")
        for v in vs["Variables"]:
            vw = f"{w}/{v['Name']}"
            for key, ids in v["Scope"].items():
                if key in scope_targets:
                    r.check(vw, scope_targets[key], ids)
                elif key == "Action":
                    for aid in ids:
                        if aid not in action_ids:
                            r.problems.append(f"{vw}: action {aid!r}")
                elif key == "ProcessOwner":
                    for oid in ids:
                        if oid not in r.ids["projects"] | r.ids["runbooks"]:
                            r.problems.append(f"{vw}: process owner {oid!r}")
                elif key not in ("Role", "TenantTag"):
                    r.problems.append(f"{vw}: unknown scope {key!r}")
            if v["Type"] in typed_values:
                r.check(vw, typed_values[v["Type"]], v["Value"])
        for key, coll in (
            ("Environments", "environments"),
            ("Machines", "machines"),
            ("Channels", "channels"),
        ):
            r.check(f"{w}/ScopeValues", coll, [x["Id"] for x in vs["ScopeValues"][key]])
    for lvs in store.all("libraryvariablesets"):
        r.check(lvs["Id"], "variables", lvs["VariableSetId"])

    for t in store.all("tenants"):
        r.check(t["Id"], "projects", list(t["ProjectEnvironments"]))
        for envs in t["ProjectEnvironments"].values():
            r.check(t["Id"], "environments", envs)
        for tag in t["TenantTags"]:
            if tag not in tag_names:
                r.problems.append(f"{t['Id']}: tenant tag {tag!r}")
    for coll in ("accounts", "certificates"):
        for doc in store.all(coll):
            r.check(doc["Id"], "environments", doc["EnvironmentIds"])
            r.check(doc["Id"], "tenants", doc["TenantIds"])

    packages = {p["Id"] for p in store.all("packages")}
    for p in store.all("packages"):
        r.check(p["Id"], "feeds", p["FeedId"])
    for rel in store.all("releases"):
        w = rel["Id"]
        r.check(w, "projects", rel["ProjectId"])
        r.check(w, "channels", rel["ChannelId"])
        channel = store.get("channels", rel["ChannelId"])
        if channel is not None and channel["ProjectId"] != rel["ProjectId"]:
            r.problems.append(f"{w}: channel of another project")
        process = store.get("deploymentprocesses", f"deploymentprocess-{rel['ProjectId']}")
        refs = {
            (a["Name"], ref["Name"]): ref
            for _s, a in (actions_of(process) if process else iter(()))
            for ref in a["Packages"]
        }
        for sp in rel["SelectedPackages"]:
            ref = refs.get((sp["ActionName"], sp["PackageReferenceName"]))
            if ref is None:
                r.problems.append(f"{w}: selected package of unknown action {sp['ActionName']!r}")
            elif (
                ref["FeedId"] == "feeds-builtin"
                and f"packages-{ref['PackageId']}.{sp['Version']}" not in packages
            ):
                r.problems.append(
                    f"{w}: package {ref['PackageId']} {sp['Version']} is not in the built-in feed"
                )
    for dep in store.all("deployments"):
        w = dep["Id"]
        r.check(w, "releases", dep["ReleaseId"])
        r.check(w, "projects", dep["ProjectId"])
        r.check(w, "environments", dep["EnvironmentId"])
        r.check(w, "channels", dep["ChannelId"])
        r.check(w, "tasks", dep["TaskId"])
        r.check(w, "tenants", dep["TenantId"], nullable=True)
        r.check(w, "users", dep["DeployedById"], nullable=True)
    for task in store.all("tasks"):
        r.check(task["Id"], "deployments", task["Arguments"].get("DeploymentId"))
    for trig in store.all("projecttriggers"):
        w = trig["Id"]
        r.check(w, "projects", trig["ProjectId"])
        f, a = trig["Filter"], trig["Action"]
        r.check(w, "environments", f.get("EnvironmentIds", []))
        r.check(w, "environments", a.get("EnvironmentIds", []) + a.get("SourceEnvironmentIds", []))
        r.check(w, "environments", a.get("EnvironmentId"), nullable=True)
        r.check(w, "environments", a.get("DestinationEnvironmentId"), nullable=True)
        r.check(w, "runbooks", a.get("RunbookId"), nullable=True)
        r.check(w, "channels", a.get("ChannelId"), nullable=True)
        r.check(w, "tenants", a.get("TenantIds", []))
        for pkg in f.get("Packages", []):
            if pkg["DeploymentAction"] not in action_names.get(trig["ProjectId"], set()):
                r.problems.append(f"{w}: feed trigger on unknown action {pkg['DeploymentAction']!r}")
    return r.problems


# -- basics --------------------------------------------------------------------------------------------


def test_scenario_names() -> None:
    assert SCENARIOS == ("empty", "demo", "large")


def test_unknown_scenario_flavour_or_used_store_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        seed(Store(), "server", "huge", version=SERVER_VERSION)
    with pytest.raises(ValueError, match="unknown flavour"):
        seed(Store(), "onprem", "demo", version=SERVER_VERSION)  # type: ignore[arg-type]
    store = seeded("server", "empty")
    with pytest.raises(ValueError, match="empty store"):
        seed(store, "server", "empty", version=SERVER_VERSION)


@pytest.mark.parametrize(("flavour", "scenario"), ALL_CASES)
def test_seeding_is_deterministic(flavour: Flavour, scenario: str) -> None:
    assert dump(seeded(flavour, scenario)) == dump(seeded(flavour, scenario))


@pytest.mark.parametrize(("flavour", "scenario"), [("server", "demo"), ("cloud", "demo")])
def test_persisted_store_reopens_with_the_same_documents(
    tmp_path: Path, flavour: Flavour, scenario: str
) -> None:
    store = seeded(flavour, scenario, tmp_path)
    before = dump(store)
    store.close()
    reopened = Store(tmp_path)
    assert dump(reopened) == before
    assert dump(reopened) == dump(seeded(flavour, scenario))
    # Id counters persisted too: the next project continues after the seeded ones.
    assert reopened.next_id("Projects") == f"Projects-{reopened.count('projects') + 1}"


@pytest.mark.parametrize(("flavour", "scenario"), ALL_CASES)
def test_every_reference_resolves(flavour: Flavour, scenario: str) -> None:
    store = seeded(flavour, scenario)
    assert reference_problems(store) == []


def test_the_reference_checker_can_fail() -> None:
    store = seeded("server", "demo")
    project = dict(by_name(store, "projects", "Acme Web"), LifecycleId="Lifecycles-99")
    store.put("projects", project)
    assert reference_problems(store) == ["Projects-1: 'Lifecycles-99' is not in lifecycles"]


# -- base instance -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("flavour", "scenario"), ALL_CASES)
def test_base_instance(flavour: Flavour, scenario: str) -> None:
    store = seeded(flavour, scenario)
    cloud = flavour == "cloud"
    space = store.get("spaces", "Spaces-1")
    assert space is not None
    assert (space["Name"], space["Slug"], space["IsDefault"], space["TaskQueueStopped"]) == (
        "Default",
        "default",
        True,
        False,
    )
    assert "teams-spacemanagers-Spaces-1" in space["SpaceManagersTeams"]
    [node] = store.all("octopusservernodes")
    assert node["MaxConcurrentTasks"] == (20 if cloud else 5)
    assert node["IsInMaintenanceMode"] is False
    if not cloud:
        assert node["Name"] == "OCTOPUS01"
    assert {"feeds-builtin", "feeds-builtin-releases"} <= {f["Id"] for f in store.all("feeds")}
    policy = store.get("machinepolicies", "MachinePolicies-1")
    assert policy is not None and policy["IsDefault"] and policy["Name"] == "Default Machine Policy"
    group = store.get("projectgroups", "ProjectGroups-1")
    assert group is not None and group["Name"] == "Default Project Group"
    lifecycle = store.get("lifecycles", "Lifecycles-1")
    assert lifecycle is not None and lifecycle["Name"] == "Default Lifecycle" and lifecycle["Phases"] == []

    pools = {p["Name"]: p for p in store.all("workerpools")}
    default = store.get("workerpools", DEFAULT_WORKER_POOL_ID)
    assert default is not None and default["IsDefault"]
    assert [p["Name"] for p in pools.values() if p["IsDefault"]] == [default["Name"]]
    if cloud:
        assert set(pools) == {"Hosted Ubuntu", "Hosted Windows"}
        assert pools["Hosted Ubuntu"]["WorkerPoolType"] == "DynamicWorkerPool"
        assert pools["Hosted Ubuntu"]["WorkerType"] == "UbuntuDefault"
        assert pools["Hosted Windows"]["WorkerType"] == "WindowsDefault"
        assert store.count("workers") == 0
    else:
        assert default["Name"] == "Default Worker Pool"
        assert default["WorkerPoolType"] == "StaticWorkerPool"

    assert store.get("config", "maintenance") == {"Id": "maintenance", "IsInMaintenanceMode": False}
    features = store.get("config", "features")
    assert features is not None and features["IsBuiltInWorkerEnabled"] is (not cloud)
    cert = store.get("config", "certificate-global")
    assert cert is not None and len(cert["Thumbprint"]) == 40
    int(cert["Thumbprint"], 16)
    auth = store.get("config", "authentication")
    assert auth is not None
    for provider in auth["AuthenticationProviders"]:
        assert set(provider) == {
            "Name",
            "IdentityType",
            "FormsLoginEnabled",
            "Links",
            "JavascriptLinks",
            "CSSLinks",
        }
    names = {p["Name"] for p in auth["AuthenticationProviders"]}
    enabled = {s["Id"] for s in store.all("configuration") if s["_Values"]["IsEnabled"]}
    if cloud:
        assert names == {"Octopus ID", "Azure AD"}
        assert enabled == {"authentication-octopusid", "authentication-aad"}
    else:
        assert names == {"Username/Password", "Active Directory", "LDAP"}
        assert enabled == {
            "authentication-usernamepassword",
            "authentication-directoryservices",
            "authentication-ldap",
        }
        assert {s["Id"] for s in store.all("configuration")} >= {
            "authentication-aad",
            "authentication-octopusid",
            "authentication-guest",
        }
    for section in store.all("configuration"):
        assert section["Name"] and section["Description"]


@pytest.mark.parametrize(("flavour", "scenario"), ALL_CASES)
def test_users_roles_agree_with_teams(flavour: Flavour, scenario: str) -> None:
    store = seeded(flavour, scenario)
    teams = {t["Id"]: t for t in store.all("teams")}
    assert {
        "teams-administrators",
        "teams-managers",
        "teams-everyone",
        "teams-spacemanagers-Spaces-1",
    } <= set(teams)
    for tid in ("teams-administrators", "teams-managers", "teams-everyone"):
        assert teams[tid]["SpaceId"] is None
    assert teams["teams-spacemanagers-Spaces-1"]["SpaceId"] == "Spaces-1"
    assert teams["teams-administrators"]["Name"] == "Octopus Administrators"
    assert teams["teams-managers"]["Name"] == "Octopus Managers"

    users = store.all("users")
    for known in keys.USERS[flavour]:
        user = store.get("users", known.user_id)
        assert user is not None
        assert (user["Username"], user["EmailAddress"], user["_Role"]) == (
            known.username,
            known.email,
            known.role,
        )
        assert user["_ApiKeyHashes"] == [api_key_hash(known.api_key)]
    known_ids = {k.user_id for k in keys.USERS[flavour]}
    for user in users:
        uid, role = user["Id"], user["_Role"]
        assert role in ("admin", "manager", "reader", "none")
        if uid not in known_ids:
            assert user["_ApiKeyHashes"] == []
        member_of = {t for t, team in teams.items() if uid in team["MemberUserIds"]}
        assert "teams-everyone" in member_of
        assert ("teams-administrators" in member_of) == (role == "admin"), user["Username"]
        assert ("teams-managers" in member_of) == (role == "manager"), user["Username"]
        others = member_of - {"teams-everyone"}
        assert bool(others) == (role != "none"), user["Username"]
    if flavour == "cloud":
        [staff] = teams["teams-administrators"]["MemberUserIds"]
        octoadmin = store.get("users", staff)
        assert octoadmin is not None and octoadmin["Username"] == "octoadmin"
        assert keys.CLOUD_MANAGER.user_id in teams["teams-managers"]["MemberUserIds"]
        providers = {i["IdentityProviderName"] for u in users for i in u["Identities"]}
        assert providers <= {"Octopus ID", "Azure AD"}


# -- demo (server) -------------------------------------------------------------------------------------


def test_demo_projects_and_notable_cases(demo: Store) -> None:
    projects = demo.all("projects")
    assert [p["Name"] for p in projects] == list(DEMO_PROJECT_NAMES)
    assert [p["Id"] for p in projects] == [f"Projects-{i + 1}" for i in range(len(DEMO_PROJECT_NAMES))]
    assert len(projects) >= 12
    assert demo.count("projectgroups") >= 3
    assert [e["Name"] for e in demo.all("environments")] == list(DEMO_ENVIRONMENTS)
    assert len({p["ProjectGroupId"] for p in projects}) >= 3
    assert sum(1 for lc in demo.all("lifecycles") if lc["Phases"]) >= 2

    assert [p["Name"] for p in projects if p["IsDisabled"]] == [DEMO_DISABLED_PROJECT]
    assert by_name(demo, "projects", DEMO_DEFAULT_LIFECYCLE_PROJECT)["LifecycleId"] == "Lifecycles-1"
    vcs = [p for p in projects if p["IsVersionControlled"]]
    assert [p["Name"] for p in vcs] == [DEMO_VERSION_CONTROLLED_PROJECT]
    assert vcs[0]["PersistenceSettings"] == {
        "Type": "VersionControlled",
        "Url": "https://github.com/example/app.git",
        "DefaultBranch": "main",
        "BasePath": ".octopus",
        "Credentials": {"Type": "Anonymous"},
    }
    default_channels: dict[str, list[str]] = {}
    for c in demo.all("channels"):
        if c["IsDefault"]:
            default_channels.setdefault(c["ProjectId"], []).append(c["Name"])
    for p in projects:
        assert p["Slug"] and p["DeploymentProcessId"] == f"deploymentprocess-{p['Id']}"
        assert p["VariableSetId"] == f"variableset-{p['Id']}"
        assert "Links" not in p
        assert default_channels[p["Id"]] == ["Default"]
    assert demo.count("channels") > len(projects)


def test_demo_release_history(demo: Store) -> None:
    many = by_name(demo, "projects", DEMO_PROJECT_WITH_MANY_RELEASES)
    counts: dict[str, int] = {}
    for r in demo.all("releases"):
        counts[r["ProjectId"]] = counts.get(r["ProjectId"], 0) + 1
    assert counts[many["Id"]] == DEMO_MANY_RELEASES > 2100
    assert [pid for pid, n in counts.items() if n > 100] == [many["Id"]]
    with_releases = [p for p in demo.all("projects") if counts.get(p["Id"], 0) >= 2]
    assert len(with_releases) >= 10
    versions = [r["Version"] for r in demo.find("releases", lambda r: r["ProjectId"] == many["Id"])]
    assert len(set(versions)) == len(versions)
    assert any(r["SelectedPackages"] for r in demo.all("releases"))

    last: dict[str, str] = {}
    for dep in demo.all("deployments"):
        last[dep["ProjectId"]] = max(last.get(dep["ProjectId"], ""), dep["Created"])
    recent = [pid for pid, when in last.items() if when >= "2026-02-23"]
    stale = [pid for pid, when in last.items() if when < "2025-12-02"]
    assert len(recent) >= 5 and len(stale) >= 3
    assert by_name(demo, "projects", DEMO_DISABLED_PROJECT)["Id"] in stale
    states = set()
    for dep in demo.all("deployments"):
        task = demo.get("tasks", dep["TaskId"])
        assert task is not None and task["IsCompleted"] and task["Name"] == "Deploy"
        assert task["State"] in ("Success", "Failed")
        assert task["FinishedSuccessfully"] == (task["State"] == "Success") == (not dep["FailureEncountered"])
        states.add(task["State"])
    assert states == {"Success", "Failed"}
    assert any(d["TenantId"] for d in demo.all("deployments"))


def test_demo_targets_cover_every_communication_style(demo: Store) -> None:
    machines = demo.all("machines")
    assert len(machines) >= 20
    styles = {m["Endpoint"]["CommunicationStyle"] for m in machines}
    assert styles >= {
        "TentaclePassive",
        "TentacleActive",
        "Ssh",
        "Kubernetes",
        "KubernetesTentacle",
        "AzureWebApp",
        "None",
        "OfflineDrop",
        "StepPackage",
    }
    listening = {
        m["Endpoint"]["Uri"] for m in machines if m["Endpoint"]["CommunicationStyle"] == "TentaclePassive"
    }
    assert set(DEMO_UNREACHABLE_LISTENING_URIS) | {DEMO_PUBLIC_LISTENING_URI} == listening
    for m in machines:
        ep = m["Endpoint"]
        if ep["CommunicationStyle"] in ("TentaclePassive", "TentacleActive"):
            assert (m["Uri"], m["Thumbprint"]) == (ep["Uri"], ep["Thumbprint"])
            assert len(m["Thumbprint"]) == 40
        if ep["CommunicationStyle"] == "TentacleActive":
            host = ep["Uri"].removeprefix("poll://").removesuffix("/")
            assert len(host) == 20 and host.isalpha() and host.isupper()
        assert m["Roles"] and m["EnvironmentIds"] and m["MachinePolicyId"]
        assert m["TenantedDeploymentParticipation"] in ("Untenanted", "TenantedOrUntenanted", "Tenanted")
    health = [m["HealthStatus"] for m in machines if not m["IsDisabled"]]
    assert health.count("Unavailable") == 1 and health.count("Healthy") == len(health) - 1
    assert any(m["TenantIds"] for m in machines)


def test_demo_worker_pools_and_run_on_server_steps(demo: Store) -> None:
    pools = {p["Name"]: p["Id"] for p in demo.all("workerpools")}
    workers_in = {
        name: [w for w in demo.all("workers") if pid in w["WorkerPoolIds"]] for name, pid in pools.items()
    }
    assert len(workers_in["Default Worker Pool"]) == 0
    assert len(workers_in["Linux Workers"]) == 1
    assert len(workers_in["Windows Workers"]) == 2
    features = demo.get("config", "features")
    assert features is not None and features["IsBuiltInWorkerEnabled"]

    # octopus-api.md §7.4: run on the server = RunOnServer, no pool variable, default (empty) pool.
    def on_server(a: Doc) -> bool:
        return (
            a["Properties"].get("Octopus.Action.RunOnServer") == "true"
            and not a["WorkerPoolVariable"]
            and a["WorkerPoolId"] in (None, "", DEFAULT_WORKER_POOL_ID)
        )

    deploy = [(p["ProjectId"], a) for p in demo.all("deploymentprocesses") for _s, a in actions_of(p)]
    runbook = [(p["RunbookId"], a) for p in demo.all("runbookprocesses") for _s, a in actions_of(p)]
    assert sum(on_server(a) for _p, a in deploy) >= 4
    assert sum(on_server(a) for _r, a in runbook) == 1
    # Near misses the rule must not count: worker pool set, pool variable set.
    assert any(
        a["Properties"].get("Octopus.Action.RunOnServer") == "true"
        and a["WorkerPoolId"] == pools["Linux Workers"]
        for _p, a in deploy
    )
    assert any(
        a["Properties"].get("Octopus.Action.RunOnServer") == "true" and a["WorkerPoolVariable"]
        for _p, a in deploy
    )
    types = {a["ActionType"] for _p, a in deploy}
    assert types >= {
        "Octopus.Script",
        "Octopus.TentaclePackage",
        "Octopus.DeployRelease",
        "Octopus.Manual",
        "Octopus.KubernetesDeployContainers",
    }
    orchestrator = by_name(demo, "projects", DEMO_ORCHESTRATOR_PROJECT)
    targets = {
        a["Properties"]["Octopus.Action.DeployRelease.ProjectId"]
        for pid, a in deploy
        if pid == orchestrator["Id"] and a["ActionType"] == "Octopus.DeployRelease"
    }
    assert targets == {
        by_name(demo, "projects", "Acme Web")["Id"],
        by_name(demo, "projects", "Acme API")["Id"],
    }
    runbook_project = by_name(demo, "projects", DEMO_RUNBOOK_PROJECT)
    assert len(demo.find("runbooks", lambda r: r["ProjectId"] == runbook_project["Id"])) == 3


def test_demo_packages_have_real_bytes(demo: Store) -> None:
    packages = demo.all("packages")
    normal = [p for p in packages if not p.get("_SizeClaimedOnly")]
    assert len(normal) >= 8 and len({p["PackageId"] for p in normal}) >= 3
    for p in packages:
        assert p["Id"] == f"packages-{p['PackageId']}.{p['Version']}"
        assert (p["FeedId"], p["FileExtension"]) == ("feeds-builtin", ".zip")
        data = read_blob(demo, f"package/Spaces-1/{p['Id']}")
        assert p["Hash"] == hashlib.sha1(data).hexdigest()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert zf.testzip() is None and zf.namelist()
        if p.get("_SizeClaimedOnly"):
            assert p["PackageSizeBytes"] > 5 * 1024**3 > len(data)
        else:
            assert p["PackageSizeBytes"] == len(data)
    oversized = [p["Id"] for p in packages if p["PackageSizeBytes"] > 5 * 1024**3]
    assert oversized == [DEMO_OVERSIZED_PACKAGE]
    refs = [
        ref for proc in demo.all("deploymentprocesses") for _s, a in actions_of(proc) for ref in a["Packages"]
    ]
    assert {"Id", "Name", "PackageId", "FeedId", "AcquisitionLocation", "Properties"} == set(refs[0])
    assert any(ref["FeedId"] == "feeds-builtin" for ref in refs)


def test_demo_logos(demo: Store) -> None:
    with_logo = [p for p in demo.all("projects") if p.get("_LogoStamp")]
    assert [p["Name"] for p in with_logo] == list(DEMO_LOGO_PROJECTS)
    for p in demo.all("projects"):
        blob = demo.blob_size(f"logo/{p['Id']}")
        if p in with_logo:
            data = read_blob(demo, f"logo/{p['Id']}")
            assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")
            assert p["Icon"] is None
        else:
            assert blob is None
    assert by_name(demo, "projects", DEMO_ICON_PROJECT)["Icon"]["Id"] == "heartbeat"


def test_demo_feeds(demo: Store) -> None:
    feeds = {f["Name"]: f for f in demo.all("feeds")}
    assert feeds[DEMO_REACHABLE_FEED]["FeedUri"] == "https://api.nuget.org/v3/index.json"
    assert {feeds[n]["FeedType"] for n in DEMO_UNREACHABLE_FEEDS} == {"Docker", "Maven"}
    assert {feeds[n]["FeedUri"] for n in DEMO_UNREACHABLE_FEEDS} == {
        "https://registry.corp.local",
        "http://10.1.2.3:8081/repository/maven",
    }
    for n in DEMO_UNREACHABLE_FEEDS:
        assert feeds[n]["Password"] == {"HasValue": True, "NewValue": None}
        assert feeds[n]["_Password"]


def test_demo_variables_and_library_sets(demo: Store) -> None:
    sets = demo.all("variables")
    variables = [v for vs in sets for v in vs["Variables"]]
    sensitive = [v for v in variables if v["IsSensitive"]]
    assert len(sensitive) >= 10
    for v in sensitive:
        assert v["Value"] is None and v["Type"] == "Sensitive" and v["_SensitiveValue"]
    for v in variables:
        if not v["IsSensitive"]:
            assert "_SensitiveValue" not in v
    scopes = {k for v in variables for k in v["Scope"]}
    assert scopes >= {"Environment", "Role", "Machine", "Channel", "Action", "ProcessOwner"}
    assert any({"Environment", "Role"} <= set(v["Scope"]) for v in variables)
    types = {v["Type"] for v in variables}
    assert types >= {"String", "Sensitive", "Certificate", "AzureAccount", "WorkerPool"}
    lvs = demo.all("libraryvariablesets")
    assert all(vs["OwnerId"] for vs in sets)
    assert {v["VariableSetId"] for v in lvs} <= {vs["Id"] for vs in sets}
    included = {i for p in demo.all("projects") for i in p["IncludedLibraryVariableSetIds"]}
    assert included == {v["Id"] for v in lvs}
    assert demo.count("accounts") >= 2 and demo.count("certificates") >= 1


def test_demo_tenants(demo: Store) -> None:
    tenants = demo.all("tenants")
    assert len(tenants) == 2
    connected = {pid for t in tenants for pid in t["ProjectEnvironments"]}
    assert len(connected) >= 2
    for pid in connected:
        project = demo.get("projects", pid)
        assert project is not None and project["TenantedDeploymentMode"] != "Untenanted"


def test_demo_triggers(demo: Store) -> None:
    triggers = demo.all("projecttriggers")
    kinds = {t["Filter"]["FilterType"] for t in triggers}
    assert kinds >= {"OnceDailySchedule", "CronExpressionSchedule", "MachineFilter", "FeedFilter"}
    daily = [t for t in triggers if t["Filter"]["FilterType"] == "OnceDailySchedule"]
    assert {t["Filter"]["Timezone"] for t in daily} == {"AUS Eastern Standard Time"}
    assert {t["Action"]["ActionType"] for t in daily} == {"DeployNewRelease", "RunRunbook"}
    machine = next(t for t in triggers if t["Filter"]["FilterType"] == "MachineFilter")
    assert machine["Action"]["ActionType"] == "AutoDeploy"
    assert machine["Filter"]["Roles"] and machine["Filter"]["EventGroups"]
    cron = next(t for t in triggers if t["Filter"]["FilterType"] == "CronExpressionSchedule")
    assert cron["Filter"]["CronExpression"]
    feed = next(t for t in triggers if t["Filter"]["FilterType"] == "FeedFilter")
    assert feed["Filter"]["Packages"][0]["PackageReference"] == "acme-api"
    for t in triggers:
        assert set(t) == {
            "Id",
            "SpaceId",
            "ProjectId",
            "Name",
            "Description",
            "IsDisabled",
            "Filter",
            "Action",
        }


def test_demo_users_and_external_groups(demo: Store) -> None:
    users = demo.all("users")
    assert len(users) >= 10
    providers: dict[str, list[str]] = {}
    for u in users:
        names = [i["IdentityProviderName"] for i in u["Identities"]]
        for n in names:
            providers.setdefault(n, []).append(u["Username"])
    assert len(providers["Active Directory"]) >= 3 and len(providers["LDAP"]) >= 2
    assert "Username/Password" in providers
    ad_only = [
        u for u in users if [i["IdentityProviderName"] for i in u["Identities"]] == ["Active Directory"]
    ]
    assert ad_only
    claims = ad_only[0]["Identities"][0]["Claims"]
    assert set(claims) == {"upn", "sam", "email", "dn"}
    assert claims["upn"] == {"Value": claims["upn"]["Value"], "IsIdentifyingClaim": True}
    admins = by_name(demo, "teams", "Octopus Administrators")["MemberUserIds"]
    assert len(admins) >= 2
    developers = by_name(demo, "teams", DEMO_DEVELOPERS_TEAM)
    assert developers["MemberUserIds"]
    [group] = developers["ExternalSecurityGroups"]
    assert (
        set(group) == {"Id", "DisplayName", "DisplayIdAndName"} and group["DisplayName"] == "CORP\\Developers"
    )
    emails = {u["EmailAddress"] for u in users}
    assert set(DEMO_CLOUD_MATCHING_EMAILS) <= emails


# -- demo (cloud) --------------------------------------------------------------------------------------


def test_cloud_demo_is_a_fresh_destination(cloud_demo: Store, demo: Store) -> None:
    assert cloud_demo.count("projects") == 0 and cloud_demo.count("machines") == 0
    assert {p["WorkerPoolType"] for p in cloud_demo.all("workerpools")} == {"DynamicWorkerPool"}
    features = cloud_demo.get("config", "features")
    assert features is not None and features["IsBuiltInWorkerEnabled"] is False
    server_emails = {u["EmailAddress"] for u in demo.all("users")}
    matching = [u for u in cloud_demo.all("users") if u["EmailAddress"] in server_emails]
    assert sorted(u["EmailAddress"] for u in matching) == sorted(DEMO_CLOUD_MATCHING_EMAILS)
    for u in matching:
        assert [i["IdentityProviderName"] for i in u["Identities"]] == ["Octopus ID"]


# -- large ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persisted", [False, True], ids=["memory", "sqlite"])
def test_large_meets_its_counts_quickly(tmp_path: Path, persisted: bool) -> None:
    started = time.perf_counter()
    store = seeded("server", "large", tmp_path if persisted else None)
    elapsed = time.perf_counter() - started
    print(f"\nlarge server scenario ({'sqlite' if persisted else 'memory'}): {elapsed:.2f} s")
    assert store.count("projects") >= LARGE_PROJECTS == 2000
    assert store.count("projectgroups") >= 40
    assert store.count("machines") >= LARGE_TARGETS == 5000
    assert store.count("releases") >= LARGE_RELEASES == 20000
    assert store.count("environments") == len(LARGE_ENVIRONMENTS) == 10
    assert store.count("deploymentprocesses") == store.count("projects")
    assert store.count("variables") == store.count("projects")
    assert store.count("workers") > 0 and store.count("workerpools") > 1
    assert elapsed < 10, f"generating 'large' took {elapsed:.1f} s"
    store.close()


def test_large_cloud_is_the_base_instance() -> None:
    assert dump(seeded("cloud", "large")) == dump(seeded("cloud", "empty"))


def test_documents_carry_no_links() -> None:
    store = seeded("server", "demo")
    for coll in COLLECTIONS:
        for doc in store.all(coll):
            assert "Links" not in doc, f"{coll}/{doc['Id']}"
