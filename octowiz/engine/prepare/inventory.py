"""Everything the readiness rules look at, read once from the source (and the destination).

Read-only on both instances. Bulk endpoints only: every collection is listed space-wide (paged,
concurrently) or through ``/all``, never one request per project: deployment processes, runbook
processes, triggers, releases and deployments all have space-level lists. A part that cannot be read
is recorded in ``problems`` (the rules that need it then say what they could not check) and the rest of
the inventory is still collected.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, TypeVar

from octowiz.octopus import models as m
from octowiz.octopus.client import OctopusClient, OctopusVersion
from octowiz.octopus.errors import OctopusError

T = TypeVar("T")


@dataclass
class DestinationInventory:
    """What the rules need from the Cloud instance."""

    url: str
    version: OctopusVersion
    worker_pools: list[m.WorkerPool] = field(default_factory=list)
    users: list[m.User] = field(default_factory=list)
    auth_providers: list[str] = field(default_factory=list)


@dataclass
class Inventory:
    """The source's migration-relevant state, plus the destination's where a rule needs it."""

    source_url: str
    space_id: str
    version: OctopusVersion
    auth_providers: list[str] = field(default_factory=list)
    enabled_sections: dict[str, bool] = field(default_factory=dict)
    users: list[m.User] = field(default_factory=list)
    teams: list[m.Team] = field(default_factory=list)
    #: raw ``ScopedUserRoleResource`` bodies (``TeamId``, ``UserRoleId``, ``SpaceId``, restrictions)
    scoped_user_roles: list[dict[str, Any]] = field(default_factory=list)
    user_roles: dict[str, str] = field(default_factory=dict)  # user role id -> name
    projects: list[m.Project] = field(default_factory=list)
    project_groups: list[m.ProjectGroup] = field(default_factory=list)
    lifecycles: list[m.Lifecycle] = field(default_factory=list)
    environments: list[m.Environment] = field(default_factory=list)
    channels: list[m.Channel] = field(default_factory=list)
    processes: dict[str, m.DeploymentProcess] = field(default_factory=dict)  # by project id
    runbooks: list[m.Runbook] = field(default_factory=list)
    runbook_processes: dict[str, m.RunbookProcess] = field(default_factory=dict)  # by runbook id
    machines: list[m.Machine] = field(default_factory=list)
    workers: list[m.Worker] = field(default_factory=list)
    worker_pools: list[m.WorkerPool] = field(default_factory=list)
    feeds: list[m.Feed] = field(default_factory=list)
    packages: list[m.Package] = field(default_factory=list)
    triggers: list[m.ProjectTrigger] = field(default_factory=list)
    release_counts: dict[str, int] = field(default_factory=dict)  # by project id
    #: project id -> the (action name, package reference name, version) its releases selected
    release_packages: dict[str, set[tuple[str, str, str]]] = field(default_factory=dict)
    last_deployment: dict[str, str] = field(default_factory=dict)  # project id -> Created of the newest
    deployment_counts: dict[str, int] = field(default_factory=dict)
    built_in_worker_enabled: bool | None = None
    destination: DestinationInventory | None = None
    problems: dict[str, str] = field(default_factory=dict)  # part -> sentence
    requests: int = 0
    seconds: float = 0.0

    def project(self, project_id: str) -> m.Project | None:
        """A project by id."""
        return next((p for p in self.projects if p.id == project_id), None)

    def name_of(self, kind: str, item_id: str | None) -> str:
        """A readable name for an id (falls back to the id)."""
        pools: dict[str, list[Any]] = {
            "project": self.projects,
            "environment": self.environments,
            "lifecycle": self.lifecycles,
            "workerpool": self.worker_pools,
            "feed": self.feeds,
            "machine": self.machines,
            "worker": self.workers,
            "user": self.users,
            "team": self.teams,
            "projectgroup": self.project_groups,
        }
        for item in pools.get(kind, []):
            if item.id == item_id:
                return str(getattr(item, "name", None) or getattr(item, "display_name", None) or item_id)
        return str(item_id or "")


async def _const(value: T) -> T:
    return value


async def _part(inv: Inventory, name: str, coro: Awaitable[T], default: T) -> T:
    try:
        return await coro
    except OctopusError as exc:
        inv.problems[name] = str(exc)
        return default


#: What the Users & pools step reads: no releases, deployments, packages, targets or triggers.
PEOPLE_PARTS = frozenset({
    "authentication", "users", "teams", "scoped user roles", "user roles", "projects", "project groups",
    "environments", "deployment processes", "runbooks", "runbook processes", "workers", "worker pools",
})  # fmt: skip


async def collect(
    source: OctopusClient, destination: OctopusClient | None = None, *, parts: Collection[str] | None = None
) -> Inventory:
    """Read the inventory from a discovered source client (and, optionally, the destination).

    Args:
        parts: read only these parts (names as in ``problems``; default: everything). A step that
            needs a few collections should not pay for reading thousands of releases.
    """
    started = time.perf_counter()
    before = source.request_count + (destination.request_count if destination else 0)
    info = await source.discover(source.space_id)
    inv = Inventory(source_url=source.base_url, space_id=info.space_id, version=info.version)
    sp = source.space_path

    async def all_of(coll: str, model: type[T]) -> list[T]:
        return await source.all_unpaged(coll, model)  # type: ignore[type-var]

    async def pages(coll: str, model: type[T], **params: Any) -> list[T]:
        return await source.list_all(sp(coll), model, params or None, f"listing {coll}")  # type: ignore[type-var]

    async def auth() -> list[str]:
        resource = await source.authentication()
        return [str(p.name) for p in resource.authentication_providers or [] if p.name]

    async def sections() -> dict[str, bool]:
        data = await source.get_json("/api/configuration", {"take": 100}, "reading server configuration")
        out: dict[str, bool] = {}
        for item in data.get("Items") or []:
            sid = str(item.get("Id", ""))
            if sid.startswith("authentication-"):
                values = await source.get_json(
                    f"/api/configuration/{sid}/values", what="reading sign-in settings"
                )
                out[sid] = bool(values.get("IsEnabled"))
        return out

    async def features() -> bool | None:
        return (await source.features()).is_built_in_worker_enabled

    async def releases() -> tuple[dict[str, int], dict[str, set[tuple[str, str, str]]]]:
        counts: Counter[str] = Counter()
        selected: dict[str, set[tuple[str, str, str]]] = {}

        def tally(items: list[Any]) -> list[None]:
            for r in items:
                pid = str(r.get("ProjectId"))
                counts[pid] += 1
                for s in r.get("SelectedPackages") or []:
                    selected.setdefault(pid, set()).add(
                        (
                            str(s.get("ActionName") or ""),
                            str(s.get("PackageReferenceName") or ""),
                            str(s.get("Version") or ""),
                        )
                    )
            return []

        await source.collect(sp("releases"), tally, what="counting releases")
        return dict(counts), selected

    async def deployments() -> tuple[dict[str, str], dict[str, int]]:
        newest: dict[str, str] = {}
        counts: Counter[str] = Counter()

        def tally(items: list[Any]) -> list[None]:
            for d in items:
                pid, created = str(d.get("ProjectId")), str(d.get("Created") or "")
                counts[pid] += 1
                if created > newest.get(pid, ""):
                    newest[pid] = created
            return []

        await source.collect(sp("deployments"), tally, what="reading deployments")
        return newest, dict(counts)

    async def nothing() -> None:
        return None

    def part(name: str, make: Callable[[], Awaitable[Any]], default: Any) -> Awaitable[Any]:
        if parts is not None and name not in parts:
            return _const(default)
        return _part(inv, name, make(), default)

    results: list[Any] = await asyncio.gather(
        part("authentication", auth, []),
        part("configuration", sections, {}),
        part("users", lambda: source.list_all("/api/users", m.User, what="listing users"), []),
        part("teams", source.teams, []),
        part("projects", source.projects, []),
        part("project groups", source.project_groups, []),
        part("lifecycles", source.lifecycles, []),
        part("environments", source.environments, []),
        part("channels", lambda: all_of("channels", m.Channel), []),
        part("deployment processes", lambda: pages("deploymentprocesses", m.DeploymentProcess), []),
        part("runbooks", lambda: all_of("runbooks", m.Runbook), []),
        part("runbook processes", lambda: pages("runbookprocesses", m.RunbookProcess), []),
        part("deployment targets", source.machines, []),
        part("workers", source.workers, []),
        part("worker pools", source.worker_pools, []),
        part("feeds", source.feeds, []),
        part("packages", source.packages, []),
        part("triggers", lambda: pages("projecttriggers", m.ProjectTrigger), []),
        part("releases", releases, ({}, {})),
        part("deployments", deployments, ({}, {})),
        part("features", features, None),
        part("scoped user roles", lambda: _scoped_user_roles(source), []),
        part("user roles", lambda: _user_roles(source), {}),
        # The destination is read in the same burst: its requests go to another instance.
        _destination(inv, destination) if destination is not None else nothing(),
    )
    (
        inv.auth_providers,
        inv.enabled_sections,
        inv.users,
        inv.teams,
        inv.projects,
        inv.project_groups,
        inv.lifecycles,
        inv.environments,
        inv.channels,
        processes,
        inv.runbooks,
        runbook_processes,
        inv.machines,
        inv.workers,
        inv.worker_pools,
        inv.feeds,
        inv.packages,
        inv.triggers,
        (inv.release_counts, inv.release_packages),
        (inv.last_deployment, inv.deployment_counts),
        inv.built_in_worker_enabled,
        inv.scoped_user_roles,
        inv.user_roles,
        inv.destination,
    ) = results
    inv.processes = {str(p.project_id): p for p in processes if p.project_id}
    inv.runbook_processes = {
        str(p.runbook_id): p for p in runbook_processes if getattr(p, "runbook_id", None)
    }
    inv.requests = source.request_count + (destination.request_count if destination else 0) - before
    inv.seconds = time.perf_counter() - started
    return inv


async def _scoped_user_roles(client: OctopusClient) -> list[dict[str, Any]]:
    """Every team's roles, system and space, in one paged list (root link ``ScopedUserRoles``)."""
    pages = await client.collect(
        "/api/scopeduserroles",
        lambda items: [dict(i) for i in items],
        {"includeSystem": "true"},
        "listing the teams' user roles",
    )
    return [item for page in pages for item in page]


async def _user_roles(client: OctopusClient) -> dict[str, str]:
    """User role names by id (``/api/userroles/all``)."""
    data = await client.get_json("/api/userroles/all", what="listing user roles")
    return {str(r.get("Id")): str(r.get("Name") or r.get("Id")) for r in data or []}


async def _destination(inv: Inventory, client: OctopusClient) -> DestinationInventory | None:
    try:
        info = await client.discover(client.space_id)
    except OctopusError as exc:
        inv.problems["destination"] = str(exc)
        return None
    dest = DestinationInventory(url=client.base_url, version=info.version)

    async def auth() -> list[str]:
        resource = await client.authentication()
        return [str(p.name) for p in resource.authentication_providers or [] if p.name]

    dest.worker_pools, dest.users, dest.auth_providers = await asyncio.gather(
        _part(inv, "destination worker pools", client.worker_pools(), []),
        _part(inv, "destination users", client.list_all("/api/users", m.User, what="listing users"), []),
        _part(inv, "destination authentication", auth(), []),
    )
    return dest
