"""Planning migration waves: a catalog of the Server's projects, and checks on a proposed wave.

The catalog is one row per project with what a person weighs when choosing what to move together:
readiness, how often it deploys, how many targets it reaches, what Export/Import leaves behind (triggers,
an uploaded logo, built-in feed packages), and where its migration stands in the journal. It is read from
the source in a bounded number of requests (bulk lists, never one request per project) and is a plain,
JSON-safe value the UI and ``octowiz plan --list`` both show.

A wave is checked before it is recorded:

* Export/Import exports the projects a *Deploy a Release* step deploys together with the project that has
  the step, and refuses to import a project that already exists. Those projects are therefore added to the
  wave (transitively); importing them in another wave would fail.
* Projects that share a library variable set or a tenant are warned about: the first wave creates those
  on Cloud and later imports merge into them rather than replace them.
* What cannot work blocks the wave (a *conflict*): a project the readiness scan blocks, a project whose
  migration is already under way or done, an unknown project. Everything else is a warning.

Nothing here imports Textual; :func:`build_catalog` is async (requests only) and the journal is read
beforehand, off the event loop, by :func:`journal_view`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import difflib
import functools
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from octowiz import heap
from octowiz.engine.prepare.inventory import Inventory, collect
from octowiz.engine.prepare.readiness import ScanResult
from octowiz.engine.prepare.rules import Targeting, has_uploaded_logo
from octowiz.octopus import models as m
from octowiz.octopus.errors import OctopusError

if TYPE_CHECKING:
    from octowiz.journal import Journal
    from octowiz.octopus.client import OctopusClient

#: What :func:`build_catalog` asks :func:`~octowiz.engine.prepare.inventory.collect` for: no users, teams,
#: workers, packages or server configuration. Releases and deployments are paged space-wide.
CATALOG_PARTS = frozenset({
    "projects", "project groups", "lifecycles", "environments", "channels", "deployment processes",
    "runbooks", "runbook processes", "deployment targets", "feeds", "triggers", "releases", "deployments",
})  # fmt: skip

READINESS = ("ready", "needs attention", "blocked", "not scanned")
#: Journal ``items`` stages of a project, in the order a migration reaches them.
STAGES = ("export", "import", "packages", "logo", "triggers", "verify")
#: States in which the project is (being) created on Cloud: it cannot join another wave.
STARTED_STATES = ("exporting", "importing", "imported", "verified", "differences", "failed")
#: States in which the project exists on Cloud.
ON_CLOUD_STATES = ("imported", "verified", "differences")

BUILT_IN_FEED_ID = "feeds-builtin"
DEPLOY_RELEASE = "Octopus.DeployRelease"
DEPLOY_RELEASE_PROJECT = "Octopus.Action.DeployRelease.ProjectId"
NO_GROUP = "(no group)"
#: The readiness rule whose findings name the steps that still run on the Octopus Server.
RUN_ON_SERVER_RULE = "steps.run-on-server"

#: ``(kind, item_id, stage, status, detail)``, as :meth:`Journal.items` returns them.
ItemRow = tuple[str, str, str, str, dict[str, Any] | None]


class WaveError(Exception):
    """A selection or a wave that cannot be used, with a sentence saying why and what to do.

    Attributes:
        check: the check that refused the wave, when a check did.
    """

    def __init__(self, message: str, check: WaveCheck | None = None) -> None:
        super().__init__(message)
        self.check = check


# -- the journal's part ----------------------------------------------------------------------------------


@dataclass
class JournalView:
    """What the catalog needs from the journal, read once (blocking) so building it does no file I/O.

    A snapshot: read a new one rather than editing it (its per-project indexes are computed once).

    Attributes:
        readiness: the latest readiness scan, or None when there is none.
        waves: ``wave -> project ids`` in planned order.
        items: the journal's ``project`` item rows.
    """

    readiness: ScanResult | None = None
    waves: dict[str, list[str]] = field(default_factory=dict)
    items: list[ItemRow] = field(default_factory=list)

    @functools.cached_property
    def _items_by_project(self) -> dict[str, list[ItemRow]]:
        out: dict[str, list[ItemRow]] = defaultdict(list)
        for row in self.items:
            out[row[1]].append(row)
        return out

    @functools.cached_property
    def _wave_by_project(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for wave, ids in self.waves.items():
            for pid in ids:
                out.setdefault(pid, wave)
        return out

    def items_of(self, project_id: str) -> list[ItemRow]:
        """One project's item rows."""
        return list(self._items_by_project.get(project_id, []))

    def wave_of(self, project_id: str) -> str | None:
        """The (first) wave a project is planned in."""
        return self._wave_by_project.get(project_id)


def journal_view(journal: Journal) -> JournalView:
    """Read what the catalog needs from a journal (blocking: call it through ``asyncio.to_thread``)."""
    from octowiz.engine.prepare.scanning import latest_readiness

    return JournalView(latest_readiness(journal), journal.waves(), journal.items("project"))


def project_state(items: Iterable[ItemRow], wave: str | None = None) -> str:
    """A project's migration state for display, from its journal item rows and its wave.

    ``failed`` when any stage failed; ``differences`` or ``verified`` once verification ran;
    ``imported`` once the import is done; ``conflict`` when a project of that name was already on
    Cloud and octowiz did not create it; ``exporting`` or ``importing`` while one is in progress
    (an ``in progress`` import stage reads as importing, an export stage as exporting); otherwise
    ``planned: <wave>`` or ``not planned``.
    """
    stages: dict[str, str] = {}
    for _kind, _item, stage, status, _detail in items:
        stages[stage] = status
    if any(status == "failed" for status in stages.values()):
        return "failed"
    verify = stages.get("verify")
    if verify == "differences":
        return "differences"
    if verify == "done":
        return "verified"
    if stages.get("import") == "done":
        return "imported"
    if stages.get("import") == "conflict":
        return "conflict"
    for stage in ("import", "export"):
        current = stages.get(stage)
        if current in ("exporting", "importing"):
            return str(current)
        if current == "in progress":
            return f"{stage}ing"
    return f"planned: {wave}" if wave else "not planned"


def _started(state: str) -> bool:
    return state in STARTED_STATES


# -- the catalog -----------------------------------------------------------------------------------------


@dataclass
class ProjectRow:
    """One project as the planner shows it.

    Attributes:
        readiness: ``ready``, ``needs attention``, ``blocked`` or ``not scanned`` (no scan, or the project
            is newer than the scan).
        last_deployment: the UTC date (``YYYY-MM-DD``) of its newest deployment, or None when never deployed.
        targets: enabled deployment targets its steps can reach: a target counts when it has a role one of
            the project's deployment or runbook steps targets, in an environment the step can run in (the
            project's and its channels' lifecycles, a runbook's environment scope, the step's environment
            filters). Tenants are not considered, so a tenanted target may be counted for a project that
            never deploys to it.
        triggers: its triggers, disabled ones included (Export/Import carries none).
        logo: it has an uploaded logo (Export/Import carries none).
        builtin_packages: distinct built-in feed package versions its releases select (a release's package
            is matched to the current process by action and package reference name, so a package of a step
            renamed or removed since is not counted).
        state: its migration state (:func:`project_state`).
        wave: the wave it is planned in, if any.
        references: ids of the projects its Deploy a Release steps deploy (a step whose project is bound to a
            variable expression is not seen).
        reference_steps: for each of those, the names of the steps that deploy it.
        external_feeds: names of the external feeds its steps take packages from (Export/Import only
            references feeds: each must exist on Cloud, with its credentials, before the import).
        server_steps: its steps that still run on the Octopus Server, as the latest readiness scan found
            them (rule ``steps.run-on-server``): the import moves them to Cloud's dynamic worker pool, and
            the guide says to move them to workers of your own *before* migrating.
    """

    id: str
    name: str
    group: str
    readiness: str
    releases: int
    last_deployment: str | None
    targets: int
    triggers: int
    logo: bool
    builtin_packages: int
    version_controlled: bool
    disabled: bool
    state: str
    wave: str | None
    references: list[str] = field(default_factory=list)
    reference_steps: dict[str, list[str]] = field(default_factory=dict)
    external_feeds: list[str] = field(default_factory=list)
    server_steps: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectRow:
        """The inverse of :meth:`to_dict`."""
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            group=str(data["group"]),
            readiness=str(data["readiness"]),
            releases=int(data["releases"]),
            last_deployment=data.get("last_deployment"),
            targets=int(data["targets"]),
            triggers=int(data["triggers"]),
            logo=bool(data["logo"]),
            builtin_packages=int(data["builtin_packages"]),
            version_controlled=bool(data["version_controlled"]),
            disabled=bool(data["disabled"]),
            state=str(data["state"]),
            wave=data.get("wave"),
            references=[str(r) for r in data.get("references") or []],
            reference_steps={
                str(k): [str(s) for s in v] for k, v in (data.get("reference_steps") or {}).items()
            },
            external_feeds=[str(f) for f in data.get("external_feeds") or []],
            server_steps=int(data.get("server_steps") or 0),
        )


@dataclass
class Catalog:
    """Every project of the source space, for planning waves.

    A catalog is a value: build a new one (:func:`refresh`) rather than editing its rows, as the indexes
    behind :meth:`by_id` and :attr:`shared` are computed once.

    Attributes:
        rows: sorted by group, then name (case-insensitively).
        resources: project id -> the resources it can share with other projects, as ``(kind, name)``; kind
            is ``library variable set``, ``script module`` or ``tenant``.
        problems: part -> sentence, for what could not be read (the catalog is partial there).
        requests: how many requests reading it took.
    """

    rows: list[ProjectRow] = field(default_factory=list)
    resources: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    requests: int = 0

    @functools.cached_property
    def _index(self) -> dict[str, ProjectRow]:
        return {r.id: r for r in self.rows}

    @functools.cached_property
    def _order(self) -> dict[str, int]:
        return {r.id: i for i, r in enumerate(self.rows)}

    @functools.cached_property
    def _users(self) -> dict[tuple[str, str], list[str]]:
        users: dict[tuple[str, str], list[str]] = defaultdict(list)
        for pid, used in self.resources.items():
            for resource in dict.fromkeys(used):
                users[resource].append(pid)
        return users

    @functools.cached_property
    def shared(self) -> dict[str, list[str]]:
        """Project id -> ids of the projects sharing a library variable set, script module or tenant with it.

        Derived from :attr:`resources` (not stored): one set used by every project makes this quadratic in
        size, so for one project prefer :meth:`shared_with`.
        """
        return {pid: others for pid in self.resources if (others := self.shared_with(pid))}

    def shared_with(self, project_id: str) -> list[str]:
        """Ids of the projects sharing a library variable set, script module or tenant with one project."""
        others: set[str] = set()
        for resource in self.resources.get(project_id, []):
            others.update(self._users.get(resource, []))
        others.discard(project_id)
        order = self._order
        return sorted(others, key=lambda o: (order.get(o, len(order)), o))

    def by_id(self, project_id: str) -> ProjectRow | None:
        """A row by project id."""
        return self._index.get(project_id)

    def groups(self) -> dict[str, list[ProjectRow]]:
        """``group name -> rows``, groups and rows in catalog order."""
        out: dict[str, list[ProjectRow]] = {}
        for row in self.rows:
            out.setdefault(row.group, []).append(row)
        return out

    def name(self, project_id: str) -> str:
        """A project's name (its id when unknown)."""
        row = self.by_id(project_id)
        return row.name if row else project_id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rows": [r.to_dict() for r in self.rows],
            "resources": {k: [list(x) for x in v] for k, v in self.resources.items()},
            "problems": dict(self.problems),
            "requests": self.requests,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Catalog:
        """The inverse of :meth:`to_dict`."""
        return cls(
            rows=[ProjectRow.from_dict(r) for r in data.get("rows") or []],
            resources={
                str(k): [(str(kind), str(name)) for kind, name in v]
                for k, v in (data.get("resources") or {}).items()
            },
            problems={str(k): str(v) for k, v in (data.get("problems") or {}).items()},
            requests=int(data.get("requests") or 0),
        )


def _sort_key(row: ProjectRow) -> tuple[str, str, str]:
    return (row.group.lower(), row.name.lower(), row.id)


def _utc_date(stamp: str | None) -> str | None:
    if not stamp:
        return None
    try:
        return dt.datetime.fromisoformat(stamp).astimezone(dt.UTC).date().isoformat()
    except ValueError:
        return stamp[:10]


def _is_version_controlled(project: m.Project) -> bool:
    settings = project.persistence_settings
    return bool(project.is_version_controlled) or (
        settings is not None and settings.type == "VersionControlled"
    )


def _step_label(step: m.DeploymentStep, action: m.DeploymentAction) -> str:
    step_name, action_name = step.name or "", action.name or ""
    return step_name if not action_name or action_name == step_name else f"{step_name} / {action_name}"


def _server_steps(view: JournalView) -> dict[str, int]:
    """Project id -> how many of its steps the latest readiness scan found running on the Server."""
    counts: dict[str, int] = defaultdict(int)
    for finding in view.readiness.findings if view.readiness else []:
        if finding.rule == RUN_ON_SERVER_RULE:
            for pid in finding.projects:
                counts[pid] += sum(1 for item in finding.items if item.kind == "step")
    return counts


def catalog_from_inventory(
    inv: Inventory,
    view: JournalView,
    *,
    library_variable_sets: Iterable[m.LibraryVariableSet] = (),
    tenants: Iterable[m.Tenant] = (),
) -> Catalog:
    """The catalog of an inventory (pure: no requests, no journal reads).

    Args:
        library_variable_sets: the space's library variable sets and script modules (the inventory does not
            read them); without them no sharing through a set is seen.
        tenants: the space's tenants (same).
    """
    project_ids = {str(p.id) for p in inv.projects}
    groups = {str(g.id): str(g.name or g.id) for g in inv.project_groups}
    verdicts = {v.project_id: v.status for v in view.readiness.projects} if view.readiness else {}
    server_steps = _server_steps(view)

    # Built-in feed package references of each deployment process: (action, reference name) -> package id.
    built_in = {str(f.id) for f in inv.feeds if f.feed_type == "BuiltIn" and f.id} | {BUILT_IN_FEED_ID}
    refs: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
    references: dict[str, dict[str, list[str]]] = defaultdict(dict)
    # External feeds: not the built-in package feed and not the built-in releases feed.
    feed_names = {
        str(f.id): str(f.name or f.id)
        for f in inv.feeds
        if f.feed_type not in ("BuiltIn", "OctopusProject") and f.id != "feeds-builtin-releases"
    }
    external: dict[str, set[str]] = defaultdict(set)
    for pid, process in inv.processes.items():
        for step in process.steps or []:
            for action in step.actions or []:
                for package in action.packages or []:
                    if (package.feed_id or "") in built_in and package.package_id:
                        refs[pid][(str(action.name or ""), str(package.name or ""))] = package.package_id
                    elif package.feed_id in feed_names:
                        external[pid].add(feed_names[str(package.feed_id)])
                if action.action_type == DEPLOY_RELEASE:
                    target = action.property_value(DEPLOY_RELEASE_PROJECT)
                    if target and target in project_ids and target != pid:
                        references[pid].setdefault(target, []).append(_step_label(step, action))

    targeting = Targeting(inv)
    targets: dict[str, int] = defaultdict(int)
    for machine in inv.machines:
        if not machine.is_disabled:
            for pid in targeting.for_target(machine):
                targets[pid] += 1
    triggers: dict[str, int] = defaultdict(int)
    for trigger in inv.triggers:
        if trigger.project_id:
            triggers[trigger.project_id] += 1

    version = str(inv.version)
    rows = []
    for p in inv.projects:
        pid = str(p.id)
        packages = {
            (refs[pid][(action, ref)], v)
            for action, ref, v in inv.release_packages.get(pid, set())
            if (action, ref) in refs[pid]
        }
        wave = view.wave_of(pid)
        rows.append(
            ProjectRow(
                id=pid,
                name=str(p.name or pid),
                group=groups.get(str(p.project_group_id), NO_GROUP),
                readiness=verdicts.get(pid, "not scanned"),
                releases=inv.release_counts.get(pid, 0),
                last_deployment=_utc_date(inv.last_deployment.get(pid)),
                targets=targets[pid],
                triggers=triggers[pid],
                logo=has_uploaded_logo(p, version),
                builtin_packages=len(packages),
                version_controlled=_is_version_controlled(p),
                disabled=bool(p.is_disabled),
                state=project_state(view.items_of(pid), wave),
                wave=wave,
                references=list(references[pid]),
                reference_steps=dict(references[pid]),
                external_feeds=sorted(external[pid]),
                server_steps=server_steps[pid],
            )
        )
    rows.sort(key=_sort_key)

    resources: dict[str, list[tuple[str, str]]] = defaultdict(list)
    sets = {str(s.id): s for s in library_variable_sets}
    for p in inv.projects:
        for set_id in p.included_library_variable_set_ids or []:
            lvs = sets.get(set_id)
            if lvs is not None:
                kind = "script module" if lvs.content_type == "ScriptModule" else "library variable set"
                resources[str(p.id)].append((kind, str(lvs.name or set_id)))
    for tenant in sorted(tenants, key=lambda t: str(t.name or "").lower()):
        for pid in tenant.project_environments or {}:
            if pid in project_ids:
                resources[pid].append(("tenant", str(tenant.name or tenant.id)))
    order = {r.id: i for i, r in enumerate(rows)}
    return Catalog(
        rows=rows,
        resources={pid: resources[pid] for pid in sorted(resources, key=lambda o: order.get(o, len(order)))},
        problems=dict(inv.problems),
        requests=inv.requests,
    )


async def build_catalog(source: OctopusClient, view: JournalView, *, stay_frozen: bool = False) -> Catalog:
    """Read the catalog from a discovered source client (read-only).

    The inventory's bulk lists (:data:`CATALOG_PARTS`), plus the space's library variable sets and tenants
    through their unpaged ``/all`` lists, all in one concurrent burst. ``stay_frozen`` leaves the heap
    frozen afterwards (see :func:`~octowiz.engine.prepare.scanning.heap_kept_out_of_full_gc`) for a screen
    that shows the catalog and unfreezes when it closes.
    """
    before = source.request_count
    problems: dict[str, str] = {}

    async def listed(part: str, coll: str, model: type[Any]) -> list[Any]:
        try:
            return await source.all_unpaged(coll, model, f"listing {part}")
        except OctopusError as exc:
            problems[part] = str(exc)
            return []

    # Thousands of models pile up while the inventory is read: keep them out of the cyclic GC's full
    # passes, which would otherwise freeze the wizard for a sixth of a second (as for the scan).
    async with heap.kept_out_of_full_gc(stay_frozen=stay_frozen):
        inv, sets, tenants = await asyncio.gather(
            collect(source, parts=CATALOG_PARTS),
            listed("library variable sets", "libraryvariablesets", m.LibraryVariableSet),
            listed("tenants", "tenants", m.Tenant),
        )
        catalog = await asyncio.to_thread(
            catalog_from_inventory, inv, view, library_variable_sets=sets, tenants=tenants
        )
        box: list[Any] = [inv, sets, tenants]
        del inv, sets, tenants
        await heap.let_go(box)
    catalog.problems.update(problems)
    catalog.requests = source.request_count - before
    return catalog


def refresh(catalog: Catalog, view: JournalView) -> Catalog:
    """The catalog with readiness, states and waves taken again from a newer journal view."""
    verdicts = {v.project_id: v.status for v in view.readiness.projects} if view.readiness else {}
    server_steps = _server_steps(view)
    rows = []
    for row in catalog.rows:
        wave = view.wave_of(row.id)
        rows.append(
            ProjectRow.from_dict(
                {
                    **row.to_dict(),
                    "readiness": verdicts.get(row.id, "not scanned"),
                    "server_steps": server_steps.get(row.id, 0),
                    "wave": wave,
                    "state": project_state(view.items_of(row.id), wave),
                }
            )
        )
    return Catalog(rows, catalog.resources, catalog.problems, catalog.requests)


# -- choosing projects -----------------------------------------------------------------------------------


def _close(word: str, choices: dict[str, str]) -> list[str]:
    """Up to three of ``choices`` (lower-case key -> display) close to ``word``."""
    found = difflib.get_close_matches(word.lower(), list(choices), n=3, cutoff=0.5)
    if not found:
        found = [k for k in choices if word.lower() in k or k in word.lower()][:3]
    return [choices[k] for k in found]


def _or_list(names: list[str]) -> str:
    if not names:
        return ""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _and_list(names: list[str]) -> str:
    if not names:
        return ""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def select(catalog: Catalog, *, projects: list[str] | None = None, group: str | None = None) -> list[str]:
    """Project ids from names or ids (case-insensitive) and/or a project group's name.

    A group brings its projects in catalog order, leaving out disabled ones (as the readiness scan
    promises: a disabled project migrates only when named). Named projects come first, then the group's.

    Raises:
        WaveError: a name matches no project (or group); the sentence lists close matches.
    """
    if not projects and not group:
        raise WaveError("Choose projects (by name or id) or a project group.")
    by_key: dict[str, str] = {}
    for row in catalog.rows:
        by_key[row.name.lower()] = row.id
        by_key[row.id.lower()] = row.id
    out: list[str] = []
    errors: list[str] = []
    names = {row.name.lower(): row.name for row in catalog.rows}
    for wanted in projects or []:
        key = wanted.strip().lower()
        if key in by_key:
            out.append(by_key[key])
            continue
        close = _close(key, names)
        hint = f" Did you mean {_or_list(close)}?" if close else ""
        errors.append(f"There is no project called '{wanted}' on the Server.{hint}")
    if group is not None:
        groups = catalog.groups()
        found = {g.lower(): g for g in groups}
        name = found.get(group.strip().lower())
        if name is None:
            close = _close(group.strip(), found)
            hint = f" Did you mean {_or_list(close)}?" if close else f" Groups: {', '.join(groups)}."
            errors.append(f"There is no project group called '{group}'.{hint}")
        else:
            out.extend(r.id for r in groups[name] if not r.disabled)
    if errors:
        raise WaveError(" ".join(errors))
    return list(dict.fromkeys(out))


_READINESS_RANK = {"ready": 0, "needs attention": 1, "not scanned": 2}


def suggest_first_wave(catalog: Catalog, size: int = 3) -> list[str]:
    """A low-risk first wave: up to ``size`` project ids.

    Candidates are not blocked, not disabled, not version-controlled, not planned or migrated yet, have
    no step that still runs on the Octopus Server (the guide: move those steps to workers of your own
    *before* migrating, so the first wave does not change two things at once; the catalog's notes say
    so per project), and take no part in a Deploy a Release step (they deploy no project, and no project
    deploys them: moving one that another deploys would strand that one). They are ranked ready before
    needs attention before not scanned, then least recently deployed (never deployed first), then
    fewest releases, then by name. When any candidate needs no external feed, only those are suggested,
    even if that makes the wave smaller: each feed must first be created on Cloud with its credentials
    (the import preview stops the wave until it is), and a first wave is for proving the way through.
    """
    referenced = {ref for row in catalog.rows for ref in row.references}
    candidates = [
        row
        for row in catalog.rows
        if row.readiness in _READINESS_RANK
        and not row.disabled
        and not row.version_controlled
        and row.wave is None
        and not _started(row.state)
        and not row.references
        and row.id not in referenced
        and not row.server_steps
    ]
    candidates.sort(
        key=lambda r: (
            _READINESS_RANK[r.readiness],
            bool(r.external_feeds),
            r.last_deployment or "",
            r.releases,
            r.name.lower(),
            r.id,
        )
    )
    if any(not r.external_feeds for r in candidates):
        candidates = [r for r in candidates if not r.external_feeds]
    return [r.id for r in candidates[: max(0, size)]]


# -- checking a wave -------------------------------------------------------------------------------------


@dataclass
class WaveCheck:
    """What checking a wave found.

    Attributes:
        projects: the wave's final project list (referenced projects first).
        added: ``(project id, why)`` for projects added because a Deploy a Release step in the wave deploys
            them.
        warnings: sentences about what the wave can live with.
        conflicts: sentences about what stops the wave from being planned.
    """

    projects: list[str] = field(default_factory=list)
    added: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing stops the wave."""
        return not self.conflicts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "projects": list(self.projects),
            "added": [list(a) for a in self.added],
            "warnings": list(self.warnings),
            "conflicts": list(self.conflicts),
        }


def _listing(names: list[str], limit: int = 5) -> str:
    if len(names) <= limit:
        return _and_list(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def _quoted(names: list[str]) -> str:
    return _and_list([f"'{n}'" for n in names])


def _resources_phrase(resources: Iterable[tuple[str, str]]) -> str:
    """``the library variable set 'A' and the tenants 'B' and 'C'``."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, name in sorted(set(resources)):
        by_kind[kind].append(name)
    parts = []
    for kind in ("library variable set", "script module", "tenant"):
        names = by_kind.get(kind)
        if names:
            noun = kind if len(names) == 1 else f"{kind}s"
            parts.append(f"the {noun} {_quoted(names)}")
    return _and_list(parts)


def _shared_warnings(catalog: Catalog, final: list[str], rows: dict[str, ProjectRow]) -> list[str]:
    """One sentence per group of outside projects sharing the same resources with the same wave projects."""
    in_wave = set(final)
    owned = {pid: set(catalog.resources.get(pid, [])) for pid in catalog.resources}
    groups: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], list[str]] = defaultdict(list)
    for other in catalog.rows:
        if other.id in in_wave or other.disabled or _started(other.state):
            continue  # a disabled project stays behind; a migrated one already brought the resources
        mine = owned.get(other.id, set())
        partners = [pid for pid in final if mine & owned.get(pid, set())]
        if not partners:
            continue
        common: set[tuple[str, str]] = set().union(*(mine & owned[pid] for pid in partners))
        groups[(tuple(partners), tuple(sorted(common)))].append(other.id)
    out = []
    # The most specific first: a pair reads as advice, a long list as context.
    for (with_ids, what_ids), others in sorted(groups.items(), key=lambda kv: (len(kv[1]), kv[0])):
        wave_names = [rows[p].name for p in with_ids]
        other_names = sorted((rows[o].name for o in others), key=str.lower)
        what = _resources_phrase(what_ids)
        it = "it" if len(what_ids) == 1 else "them"
        consequence = (
            f"migrate them in the same wave, or make later changes to {it} on Cloud: a later wave's import "
            "merges into the copies this wave creates instead of replacing them, so changes made on the "
            "Server in between do not all arrive."
        )
        if len(with_ids) == 1 and len(others) == 1:
            out.append(f"{wave_names[0]} and {other_names[0]} share {what}: {consequence}")
        else:
            verb = "shares" if len(with_ids) == 1 else "share"
            n = len(others)
            out.append(
                f"{_listing(wave_names)} {verb} {what} with {n} project{'s' if n != 1 else ''} outside this "
                f"wave ({_listing(other_names)}): {consequence}"
            )
    return out


def check_wave(
    catalog: Catalog, wave: str, project_ids: list[str], waves: dict[str, list[str]]
) -> tuple[list[str], WaveCheck]:
    """Check a proposed wave against the catalog and the waves already planned.

    Returns the wave's final, ordered project list (the projects its Deploy a Release steps deploy added,
    transitively, each before the project that deploys it) and what the check found.

    Conflicts (the wave cannot be planned): an unknown project; a project the readiness scan blocks; a
    project whose migration is under way or done outside this wave (Export/Import will not import a
    project that already exists); taking a project whose migration started out of this wave; an empty new
    wave. Warnings: a project moving here from another wave; disabled and version-controlled projects;
    projects that need attention or were not scanned; a project outside the wave whose Deploy a Release
    step deploys one inside it; projects sharing a library variable set or tenant with projects outside.
    """
    check = WaveCheck()
    wave = wave.strip()
    if not wave:
        check.conflicts.append("A wave needs a name (for example 'wave 1').")
    rows = {r.id: r for r in catalog.rows}
    requested = list(dict.fromkeys(project_ids))
    for pid in requested:
        if pid not in rows:
            check.conflicts.append(
                f"There is no project {pid} in the catalog: read the catalog again (the project may be new "
                "or deleted)."
            )
    known = [pid for pid in requested if pid in rows]

    final: list[str] = []
    brought_by: dict[str, tuple[str, list[str]]] = {}  # added id -> (referrer id, step names)

    def visit(pid: str, path: set[str]) -> None:
        if pid in final or pid in path:
            return
        path.add(pid)
        row = rows[pid]
        for ref in row.references:
            if ref not in rows:
                continue
            if ref not in requested and ref not in brought_by:
                brought_by[ref] = (pid, row.reference_steps.get(ref, []))
            visit(ref, path)
        path.discard(pid)
        final.append(pid)

    for pid in known:
        visit(pid, set())
    check.projects = final

    def why_here(pid: str) -> str:
        referrer, steps = brought_by[pid]
        return f"{rows[referrer].name}'s step {_quoted(steps) or '(unnamed)'} deploys it"

    for pid, (referrer, steps) in brought_by.items():
        label = "step" if len(steps) == 1 else "steps"
        check.added.append(
            (
                pid,
                f"{rows[pid].name} is added because {label} {_quoted(steps)} of {rows[referrer].name} "
                f"{'deploys' if len(steps) == 1 else 'deploy'} it (Deploy a Release): Export/Import exports "
                f"it together with {rows[referrer].name}, so importing it in another wave would fail because "
                "it would already exist.",
            )
        )

    planned_in: dict[str, list[str]] = defaultdict(list)
    for planned, planned_ids in waves.items():
        for pid in dict.fromkeys(planned_ids):
            planned_in[pid].append(planned)
    attention: list[str] = []
    unscanned: list[str] = []
    for pid in final:
        row = rows[pid]
        others = [w for w in planned_in.get(pid, []) if w != wave]
        in_this = wave in planned_in.get(pid, [])
        via = f" ({why_here(pid)})" if pid in brought_by else ""
        if _started(row.state) and not in_this:
            where = f" in {others[0]}" if others else ""
            if row.state in ON_CLOUD_STATES:
                if pid in brought_by:
                    referrer = rows[brought_by[pid][0]].name
                    check.conflicts.append(
                        f"{row.name} is already on Cloud ({row.state}{where}), but {why_here(pid)}: "
                        f"Export/Import would bring {row.name} again and the import would fail because it "
                        f"already exists. Change that step, or delete {row.name} on Cloud and migrate it "
                        f"with {referrer}."
                    )
                else:
                    check.conflicts.append(
                        f"{row.name} is already on Cloud ({row.state}{where}): Export/Import does not "
                        "import a project that already exists, so leave it out of this wave."
                    )
            else:
                check.conflicts.append(
                    f"{row.name}'s migration is under way ({row.state}{where}){via}: resume or finish it "
                    "there rather than planning it again."
                )
        elif others:
            check.warnings.append(f"{row.name} moves from {_and_list(others)} to {wave}{via}.")
        if row.readiness == "blocked":
            extra = (
                f"; {why_here(pid)}, so {rows[brought_by[pid][0]].name} cannot go without it"
                if pid in brought_by
                else ""
            )
            check.conflicts.append(
                f"{row.name} is blocked by the readiness scan{extra}: resolve its blockers (see the "
                "readiness report) or leave it out of this wave."
            )
        elif row.readiness == "needs attention":
            attention.append(row.name)
        elif row.readiness == "not scanned":
            unscanned.append(row.name)
        if row.disabled:
            if pid in brought_by:
                check.warnings.append(
                    f"{row.name} is disabled on the Server, but {why_here(pid)}, so it is migrated too."
                )
            else:
                check.warnings.append(
                    f"{row.name} is disabled on the Server; it is migrated because you chose it."
                )
        if row.version_controlled and row.readiness != "blocked":
            check.warnings.append(
                f"{row.name} is version-controlled: after the import, reconnect its Git repository on Cloud "
                "and check the references in its OCL files."
            )

    for pid in waves.get(wave, []):
        dropped = rows.get(pid)
        if dropped is not None and pid not in final and _started(dropped.state):
            check.conflicts.append(
                f"{dropped.name} cannot be taken out of {wave}: its migration is already {dropped.state}."
            )

    if attention:
        verb, their = ("needs", "its") if len(attention) == 1 else ("need", "their")
        check.warnings.append(
            f"{_listing(attention)} {verb} attention in the readiness scan: read {their} findings before "
            "migrating."
        )
    if unscanned:
        if all(r.readiness == "not scanned" for r in catalog.rows):
            check.warnings.append(
                "There is no readiness scan yet: run one before migrating, so blockers show now rather than "
                "halfway through the wave."
            )
        else:
            check.warnings.append(
                f"{_listing(unscanned)} {'was' if len(unscanned) == 1 else 'were'} not in the last readiness "
                "scan: scan again before migrating."
            )

    in_wave = set(final)
    for row in catalog.rows:
        if row.id in in_wave or _started(row.state):
            continue
        for ref in row.references:
            if ref in in_wave:
                names = row.reference_steps.get(ref, [])
                label = f"step {_quoted(names)}" if len(names) == 1 else f"steps {_quoted(names)}"
                target = rows[ref].name
                check.warnings.append(
                    f"{row.name} deploys {target} with its {label} (Deploy a Release): plan {row.name} "
                    f"in this wave too, or it cannot be migrated later: its export brings {target} again and "
                    f"the import fails because {target} already exists."
                )

    check.warnings.extend(_shared_warnings(catalog, final, rows))

    if wave and not final and not check.conflicts:
        if wave in waves:
            check.warnings.append(f"{wave} has no projects left and will be removed.")
        else:
            check.conflicts.append(f"Choose at least one project for {wave}.")
    return final, check


def plan_wave(journal: Journal, catalog: Catalog, wave: str, project_ids: list[str]) -> WaveCheck:
    """Check a wave against the journal as it is now and, when nothing conflicts, record it (blocking).

    Projects moving here from other waves are taken out of those (a wave left empty disappears).

    Raises:
        WaveError: the check found conflicts (its ``check`` says which).
    """
    view = journal_view(journal)
    wave = wave.strip()
    final, check = check_wave(refresh(catalog, view), wave, project_ids, view.waves)
    if check.conflicts:
        raise WaveError(" ".join(check.conflicts), check)
    # This wave first: a crash between the two writes leaves a project in two waves (the next plan
    # resolves it), never in none.
    journal.set_wave(wave, final)
    moved = set(final)
    for other, ids in view.waves.items():
        if other != wave and moved & set(ids):
            journal.set_wave(other, [pid for pid in ids if pid not in moved])
    return check


# -- showing the catalog ---------------------------------------------------------------------------------


def _notes(catalog: Catalog, row: ProjectRow) -> str:
    notes = []
    if row.disabled:
        notes.append("disabled")
    if row.version_controlled:
        notes.append("in Git")
    if row.references:
        notes.append(f"deploys {', '.join(catalog.name(r) for r in row.references)}")
    if row.server_steps:
        steps = f"{row.server_steps} step{'s' if row.server_steps != 1 else ''}"
        notes.append(f"{steps} on the Server: move to workers first (not suggested for a first wave)")
    return "; ".join(notes)


def _summary(catalog: Catalog) -> str:
    tally = {s: sum(1 for r in catalog.rows if r.readiness == s) for s in READINESS}
    planned = sum(1 for r in catalog.rows if r.wave)
    waves = len({r.wave for r in catalog.rows if r.wave})
    n = len(catalog.rows)
    groups = len(catalog.groups())
    return (
        f"{n} project{'s' if n != 1 else ''} in {groups} group{'s' if groups != 1 else ''}: "
        f"{tally['ready']} ready, {tally['needs attention']} need attention, {tally['blocked']} blocked, "
        f"{tally['not scanned']} not scanned; {planned} planned in {waves} wave{'s' if waves != 1 else ''}."
    )


_COLUMNS = (
    "Project", "Readiness", "Releases", "Last deployed", "Targets", "Triggers", "Logo", "Packages", "State",
    "Notes",
)  # fmt: skip


def _cells(catalog: Catalog, row: ProjectRow) -> list[str]:
    return [
        row.name,
        row.readiness,
        f"{row.releases:,}",
        row.last_deployment or "never",
        str(row.targets),
        str(row.triggers),
        "yes" if row.logo else "",
        str(row.builtin_packages),
        row.state,
        _notes(catalog, row),
    ]


def format_catalog(catalog: Catalog, fmt: str = "text") -> str:
    """The catalog as ``text`` (grouped, aligned columns), ``markdown`` (one table) or ``json``."""
    if fmt == "json":
        return json.dumps(catalog.to_dict(), indent=2)
    problems = [f"Could not read {part}: {why}" for part, why in catalog.problems.items()]
    if fmt == "markdown":
        out = ["# Projects", "", _summary(catalog), ""]
        out += [f"> {p}" for p in problems] + ([""] if problems else [])
        out += ["| Group | " + " | ".join(_COLUMNS) + " |", "|" + "---|" * (len(_COLUMNS) + 1)]
        for row in catalog.rows:
            cells = [c.replace("|", "\\|") for c in [row.group, *_cells(catalog, row)]]
            out.append("| " + " | ".join(cells) + " |")
        return "\n".join(out)
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r} (text, markdown or json)")
    table = [list(_COLUMNS)] + [_cells(catalog, r) for r in catalog.rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS))]
    numeric = {2, 4, 5, 7}

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return ("  " + "  ".join(parts)).rstrip()

    out = [_summary(catalog), *problems, "", line(list(_COLUMNS))]
    for group, rows in catalog.groups().items():
        out += ["", group]
        out += [line(_cells(catalog, r)) for r in rows]
    return "\n".join(out)
