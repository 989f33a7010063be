"""Verification: does the project on Octopus Cloud match the one on the Server?

Project Export/Import can report success and still leave things out (OctopusDeploy/Issues #7729: a
certificate not imported under a "Successful" task; #7972: tenant variables set to an account not
exported; #7728). So after an import, and again once the gaps (packages, logos, triggers) are filled,
octowiz reads the project on both instances and compares what a person would notice. Everything is
matched **by name**: ids differ between instances, and every id found on either side (environments,
channels, pools, feeds, tenants, accounts, certificates, runbooks, actions, targets) is turned into a
name on its own side before comparing.

Compared (area: what):

* ``settings``: name, description, project group, lifecycle, disabled (see below), tenanted mode,
  guided failure mode, discrete channel releases, skip-if-installed, versioning template and donor
  package, release creation (automatic, channel by name, package), release notes and deployment
  changes templates, force package download, ignoring channel rules, library variable sets (names),
  project variable templates (names), icon, connectivity policy, version control (repository URL,
  branch, base path);
* ``steps``: names, order, and per step and action: type, condition, start trigger, target roles,
  parallelism, disabled/required, environments, excluded environments, channels, tenant tags, worker
  pool (by name), packages (id and feed by name), container image, script body and syntax, manual
  intervention instructions;
* ``variables``: names, types, scopes (every id scope as names), non-sensitive values (reference
  values such as certificates, accounts and worker pools by name), sensitivity, prompts;
* ``channels``: names, default, effective lifecycle, version rules, tenant tags, description;
* ``lifecycles`` the project or its channels use: phases in order, their environments, minimum
  environments, optional and priority flags;
* ``tenants`` connected to the project: which, for which environments, and their tags;
* ``runbooks``: names, environment scope, tenancy, guided failure, and their processes as for steps;
* ``triggers`` (``expect_triggers``): names, filter and action types, disabled, and their schedules and
  filters (environments, channels, runbooks and tenants by name);
* ``logo`` (``expect_logo=True``): the destination has an uploaded logo with the source's bytes;
* ``packages`` (``expect_packages``): each ``(package id, version)`` is in the destination's built-in feed;
* ``releases``: the destination has as many releases of the project as the source (import creates them).

Deliberately not compared, because export/import legitimately changes them or the API cannot show them:

* ids of every kind (``Id``, ``SpaceId``, ``ProjectGroupId``… are compared through names), ``Links``,
  ``Slug`` (Octopus derives it; the name is compared), ``VariableSetId``, ``DeploymentProcessId``,
  ``ClonedFromProjectId`` (points at an id on the source), ``LastModifiedOn/By``, version numbers of
  documents;
* lifecycle retention policies: Octopus Cloud caps them (30 days by default, octopus-api.md §11.4);
* ``AutoDeployReleaseOverrides`` (release, environment and tenant ids recomputed by deployments),
  ``ExtensionSettings`` (issue-tracker integrations holding instance-specific ids), ``ProjectTags``
  and the newer provisioning runbook ids;
* version-control credentials: exports drop GitHub connections (octopus-api.md §5.6) and secrets
  cannot be read; for a version-controlled project the process and variables live in Git and are not
  read from the database API, so steps and variables are skipped with a note;
* **sensitive values**: Octopus never returns them (``Value`` is null whether or not one is stored),
  so a sensitive value that did not arrive cannot be seen through the API. Only ``IsSensitive`` and
  the type are compared; losing the value is invisible here (a smoke deployment is the check);
* action properties other than the few listed above: many hold ids (accounts, projects, teams), and
  Octopus may add defaults on import;
* the contents of library variable sets: they are shared by many projects and merged on import, so
  they belong to a space-level check; the project's inclusion of them is compared by name.

Expected changes that need nothing from the team are reported as **notes**, not differences: a variable
scoped to a deployment target that Octopus Cloud does not have yet
(targets are not exported); a project disabled on the Server but enabled on Octopus Cloud (the state
after cut-over); a trigger disabled on Octopus Cloud but enabled on the Server while the Server's
project is still enabled (recreated triggers are held disabled until the cut-over). A project disabled
on Octopus Cloud but enabled on the Server *is* a difference, and so is such a trigger once the
Server's project is disabled.

A step that ran on the Server (no worker pool, ``Octopus.Action.RunOnServer``) and that the import moved
to Cloud's default (dynamic) worker pool (octopus-api.md §5.6) is a **difference** the team must accept,
not a note: Octopus does it on purpose, but the step's new workers cannot reach the team's network, and
the guide says to move such steps to workers before migrating. The project stays ``differences`` (and
``octowiz migrate`` exits 3) until the step runs on the same pool on both sides.

Requests are bounded per project and do not grow with the number of steps, variables, channels or
runbooks. Per instance: one read each of the project (on Cloud, found by name when no id is given), its
channels, process, variables, runbooks, triggers and release count (``take`` of everything: one page),
and seven space-wide ``/all`` lists (environments, lifecycles, project groups, worker pools, feeds,
library variable sets, tenants): 14 requests. Only when the project has them: one batched ``ids=``
read of its runbook processes, of the targets its variables are scoped to, of the projects its
deploy-a-release steps deploy, and the ``/all`` list of accounts or certificates its variables refer
to; the logo when expected; one request per expected package id on Cloud. :func:`verify_projects`
reads the space-wide lists once for a whole batch. Both instances are read at the same time, in two
rounds (what the second round reads depends on the first).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from octowiz.octopus import models as m
from octowiz.octopus.client import ID_BATCH, TAKE_ALL, OctopusClient
from octowiz.octopus.errors import NotFound, OctopusError

T = TypeVar("T", bound=BaseModel)

SERVER = "the Server"
CLOUD = "Octopus Cloud"

#: Every area a difference may belong to, in report order (``project``: the project itself is missing
#: or unreadable).
AREAS = (
    "project",
    "settings",
    "steps",
    "variables",
    "channels",
    "lifecycles",
    "tenants",
    "runbooks",
    "triggers",
    "logo",
    "packages",
    "releases",
)

#: Variable types whose value is the id of an account.
ACCOUNT_TYPES = frozenset(
    {
        "AmazonWebServicesAccount",
        "AzureAccount",
        "GoogleCloudAccount",
        "UsernamePasswordAccount",
        "GenericOidcAccount",
        "TokenAccount",
        "SshKeyPairAccount",
    }
)
#: Action properties compared by value (text a person wrote; none of them holds an id).
CONTENT_PROPERTIES = {
    "Octopus.Action.Script.ScriptBody": "script",
    "Octopus.Action.Script.Syntax": "script syntax",
    "Octopus.Action.Script.ScriptSource": "script source",
    "Octopus.Action.Manual.Instructions": "manual intervention instructions",
}
_VERSION_CB = re.compile(r"^\d{4}\.\d+\.\d+")


# -- results -------------------------------------------------------------------------------------


@dataclass
class Difference:
    """One thing that is not the same on Octopus Cloud as on the Server.

    Attributes:
        area: one of :data:`AREAS`.
        what: a sentence a person reads ("Step 'Deploy web' is missing on Octopus Cloud").
        source: the value on the Server, where that helps (never a secret or a plain variable value:
            those appear as a length and a hash).
        destination: the value on Octopus Cloud.
    """

    area: str
    what: str
    source: str = ""
    destination: str = ""

    def to_dict(self) -> dict[str, str]:
        """A JSON-safe dict (the inverse of :meth:`from_dict`)."""
        return {"area": self.area, "what": self.what, "source": self.source, "destination": self.destination}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Difference:
        """The inverse of :meth:`to_dict`."""
        return cls(
            str(data.get("area") or ""),
            str(data.get("what") or ""),
            str(data.get("source") or ""),
            str(data.get("destination") or ""),
        )


@dataclass
class Verification:
    """How one project on Octopus Cloud compares with its source on the Server.

    Attributes:
        project_id: the source project's id.
        project_name: its name.
        destination_id: the project's id on Octopus Cloud, or None when it is not there.
        differences: what differs; empty means verified.
        checked: the areas compared.
        requests: requests this verification sent to both instances (space-wide lists shared with
            other projects of a batch are counted once, by the project that read them first).
        notes: expected changes worth knowing that need nothing from the team (scopes to targets not
            registered yet), which do not count as differences; a run-on-server step moved to Cloud's
            default worker pool is a difference instead.
        accepted: differences the team looked at and accepted (``engine/migrate/accept.py``): they
            no longer count, and are shown as accepted.
    """

    project_id: str
    project_name: str
    destination_id: str | None
    differences: list[Difference]
    checked: list[str]
    requests: int = 0
    notes: list[str] = field(default_factory=list)
    accepted: list[Difference] = field(default_factory=list)

    def with_accepted(self, keys: set[tuple[str, str]]) -> Verification:
        """This verification with the differences whose ``(area, what)`` the team accepted set apart."""
        keep = [d for d in self.differences if (d.area, d.what) not in keys]
        taken = [d for d in self.differences if (d.area, d.what) in keys]
        return dataclasses.replace(self, differences=keep, accepted=[*self.accepted, *taken])

    @property
    def verified(self) -> bool:
        """True when nothing differs."""
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict for the journal (the inverse of :meth:`from_dict`)."""
        return {
            "project_id": self.project_id,
            "project_name": self.project_name,
            "destination_id": self.destination_id,
            "verified": self.verified,
            "differences": [d.to_dict() for d in self.differences],
            "checked": list(self.checked),
            "requests": self.requests,
            "notes": list(self.notes),
            "accepted": [d.to_dict() for d in self.accepted],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verification:
        """The inverse of :meth:`to_dict` (``verified`` is derived, not read)."""
        dst = data.get("destination_id")
        return cls(
            project_id=str(data.get("project_id") or ""),
            project_name=str(data.get("project_name") or ""),
            destination_id=str(dst) if dst is not None else None,
            differences=[Difference.from_dict(d) for d in data.get("differences") or []],
            checked=[str(a) for a in data.get("checked") or []],
            requests=int(data.get("requests") or 0),
            notes=[str(n) for n in data.get("notes") or []],
            accepted=[Difference.from_dict(d) for d in data.get("accepted") or []],
        )


# -- reading -------------------------------------------------------------------------------------


class SharedLists:
    """Space-wide lists (environments, lifecycles, tenants…) read once per instance for a batch.

    :func:`verify_projects` makes one and hands it to every :func:`verify_project` of the batch, so
    ten projects cost seven ``/all`` requests per instance, not seventy. Each list is read by the first
    verification that needs it; the others wait for the same answer.
    """

    def __init__(self) -> None:
        self._tasks: dict[tuple[OctopusClient, str], asyncio.Task[list[Any]]] = {}

    async def get(self, side: _Side, coll: str, model: type[T]) -> list[T]:
        """The ``/all`` list of ``coll`` on ``side``'s instance, read at most once."""
        key = (side.client, coll)
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(side.fetch_all(coll, model))
            self._tasks[key] = task
        # Shielded: one verification being cancelled must not cancel the read others wait for.
        return cast(list[T], await asyncio.shield(task))


class _Side:
    """One instance as a verification reads it, counting the requests it sends."""

    def __init__(self, client: OctopusClient, label: str, shared: SharedLists) -> None:
        self.client = client
        self.label = label
        self.shared = shared
        self.requests = 0

    async def get(self, suffix: str, params: dict[str, Any] | None = None, what: str = "") -> Any:
        self.requests += 1
        return await self.client.get_json(self.client.space_path(suffix), params, what)

    async def model(self, suffix: str, model: type[T], what: str = "") -> T:
        return model.model_validate(await self.get(suffix, what=what))

    async def items(self, suffix: str, model: type[T], what: str = "") -> list[T]:
        """Every item of a per-project collection in one request (``take`` of everything)."""
        data = await self.get(suffix, {"skip": 0, "take": TAKE_ALL}, what)
        return [model.model_validate(x) for x in data.get("Items") or []]

    async def fetch_all(self, coll: str, model: type[T]) -> list[Any]:
        data = await self.get(f"{coll}/all", what=f"listing {coll}")
        return [model.model_validate(x) for x in data or []]

    async def lookup(self, coll: str, model: type[T]) -> list[T]:
        return await self.shared.get(self, coll, model)

    async def count(self, suffix: str, what: str = "") -> int:
        data = await self.get(suffix, {"skip": 0, "take": 1}, what)
        return int(data.get("TotalResults") or 0)

    async def by_ids(self, coll: str, ids: Iterable[str], model: type[T], *, fallback: bool) -> list[T]:
        """Documents by id in batched ``ids=`` requests.

        With ``fallback``, ids the batch did not answer (a server that ignores ``ids`` for this
        collection) are read one by one; without, they are simply absent (targets not registered).
        """
        unique = list(dict.fromkeys(i for i in ids if i))
        batches = [unique[i : i + ID_BATCH] for i in range(0, len(unique), ID_BATCH)]
        pages = await asyncio.gather(
            *(self.get(coll, {"ids": ",".join(b), "take": len(b)}, f"reading {coll}") for b in batches)
        )
        wanted = {i.lower() for i in unique}
        found = [
            model.model_validate(x)
            for page in pages
            for x in page.get("Items") or []
            if str(x.get("Id", "")).lower() in wanted
        ]
        if fallback:
            have = {str(getattr(x, "id", "")).lower() for x in found}
            missing = [i for i in unique if i.lower() not in have]
            found += [
                x for x in await asyncio.gather(*(self._maybe(f"{coll}/{i}", model) for i in missing)) if x
            ]
        return found

    async def _maybe(self, suffix: str, model: type[T]) -> T | None:
        try:
            return await self.model(suffix, model)
        except NotFound:
            return None

    async def logo(self, project: m.Project) -> bytes:
        self.requests += 1
        return await self.client.logo(project)

    async def package_versions(self, package_ids: Iterable[str]) -> dict[str, set[str]]:
        """Built-in feed versions of each package id, keyed by the id in lower case (one request each)."""
        unique = list({p.lower(): p for p in package_ids}.values())

        async def one(package_id: str) -> tuple[str, set[str]]:
            data = await self.get(
                "packages", {"nuGetPackageId": package_id, "take": TAKE_ALL}, "listing package versions"
            )
            return package_id.lower(), {
                str(x.get("Version"))
                for x in data.get("Items") or []
                if str(x.get("PackageId", "")).lower() == package_id.lower()
            }

        return dict(await asyncio.gather(*(one(p) for p in unique)))


@dataclass
class _Snap:
    """What one instance holds about the project, with id-to-name look-ups on that instance."""

    label: str
    project: m.Project
    data: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    _indexes: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def gather(self, jobs: Mapping[str, Awaitable[Any]]) -> None:
        results = await asyncio.gather(*jobs.values(), return_exceptions=True)
        for key, result in zip(jobs, results, strict=True):
            if isinstance(result, OctopusError):
                self.errors[key] = str(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                self.data[key] = result

    def get_list(self, key: str) -> list[Any]:
        return list(self.data.get(key) or [])

    def _index(self, key: str) -> dict[str, Any]:
        idx = self._indexes.get(key)
        if idx is None:
            idx = {str(x.id).lower(): x for x in self.get_list(key) if getattr(x, "id", None)}
            self._indexes[key] = idx
        return idx

    def find(self, key: str, id_: str | None) -> Any:
        return self._index(key).get(str(id_ or "").lower())

    def name(self, key: str, id_: str | None, noun: str) -> str:
        """The name of ``id_`` in the list ``key``, or a phrase saying it is not there."""
        found = self.find(key, id_)
        if found is not None:
            return str(found.name)
        return f"{id_} (no such {noun})"

    @property
    def process(self) -> m.DeploymentProcess | None:
        return cast("m.DeploymentProcess | None", self.data.get("process"))

    @property
    def variables(self) -> m.VariableSet | None:
        return cast("m.VariableSet | None", self.data.get("variables"))

    def env_names(self, ids: Iterable[str] | None) -> list[str]:
        return sorted(self.name("environments", i, "environment") for i in ids or [])

    def channel_name(self, id_: str | None) -> str:
        return self.name("channels", id_, "channel")

    def lifecycle_name(self, id_: str | None) -> str:
        return self.name("lifecycles", id_, "lifecycle") if id_ else ""

    def pool(self, id_: str | None) -> m.WorkerPool | None:
        return cast("m.WorkerPool | None", self.find("workerpools", id_))

    def default_pool(self) -> m.WorkerPool | None:
        return next((p for p in self.get_list("workerpools") if p.is_default), None)

    def feed_label(self, id_: str | None) -> str:
        feed = self.find("feeds", id_)
        if feed is None:
            return f"feed {id_} (not found)" if id_ else "no feed"
        # The built-in feeds have instance-specific names ("Octopus Server (built-in)"): compare the kind.
        if feed.feed_type == "BuiltIn":
            return "the built-in feed"
        if feed.feed_type == "OctopusProject":
            return "the project release feed"
        return f"feed '{feed.name}'"

    def action_names(self) -> dict[str, str]:
        idx = self._indexes.get("_actions")
        if idx is None:
            idx = {}
            processes: list[Any] = [self.process, *self.get_list("runbookprocesses")]
            for proc in processes:
                for s in (proc.steps if proc is not None else None) or []:
                    for a in s.actions or []:
                        if a.id:
                            idx[str(a.id).lower()] = a.name
            self._indexes["_actions"] = idx
        return idx

    def process_owner_name(self, id_: str) -> str:
        if id_.lower() == str(self.project.id).lower():
            return "the deployment process"
        runbook = self.find("runbooks", id_)
        return f"runbook '{runbook.name}'" if runbook is not None else f"{id_} (no such runbook)"

    def connected_tenants(self) -> dict[str, m.Tenant]:
        pid = str(self.project.id)
        return {
            str(t.name): t
            for t in self.get_list("tenants")
            if pid in (t.project_environments or {}) or pid.lower() in _lower_keys(t.project_environments)
        }


def _lower_keys(mapping: Mapping[str, Any] | None) -> set[str]:
    return {k.lower() for k in mapping or {}}


def _env_ids_for(tenant: m.Tenant, project_id: str) -> list[str]:
    for k, v in (tenant.project_environments or {}).items():
        if k.lower() == project_id.lower():
            return list(v or [])
    return []


async def _read(
    side: _Side,
    project: m.Project,
    *,
    triggers: bool,
    logo: bool,
    packages: Sequence[str] | None,
) -> _Snap:
    """Read everything compared about ``project`` on one instance: two rounds of concurrent requests."""
    snap = _Snap(side.label, project)
    pid = str(project.id)
    first: dict[str, Awaitable[Any]] = {
        "environments": side.lookup("environments", m.Environment),
        "lifecycles": side.lookup("lifecycles", m.Lifecycle),
        "projectgroups": side.lookup("projectgroups", m.ProjectGroup),
        "workerpools": side.lookup("workerpools", m.WorkerPool),
        "feeds": side.lookup("feeds", m.Feed),
        "libraryvariablesets": side.lookup("libraryvariablesets", m.LibraryVariableSet),
        "tenants": side.lookup("tenants", m.Tenant),
        "channels": side.items(f"projects/{pid}/channels", m.Channel, "listing channels"),
        "runbooks": side.items(f"projects/{pid}/runbooks", m.Runbook, "listing runbooks"),
        "releases": side.count(f"projects/{pid}/releases", "counting releases"),
    }
    if not project.is_version_controlled:
        first["process"] = side.model(
            f"projects/{pid}/deploymentprocesses", m.DeploymentProcess, "reading the deployment process"
        )
        first["variables"] = side.model(
            f"variables/{project.variable_set_id or 'variableset-' + pid}", m.VariableSet, "reading variables"
        )
    if triggers:
        first["triggers"] = side.items(f"projects/{pid}/triggers", m.ProjectTrigger, "listing triggers")
    if logo:
        first["logo"] = side.logo(project)
    if packages is not None:
        first["packages"] = side.package_versions(packages)
    await snap.gather(first)

    second: dict[str, Awaitable[Any]] = {}
    process_ids = [str(r.runbook_process_id) for r in snap.get_list("runbooks") if r.runbook_process_id]
    if process_ids:
        second["runbookprocesses"] = side.by_ids(
            "runbookProcesses", process_ids, m.RunbookProcess, fallback=True
        )
    variables = snap.variables.variables if snap.variables is not None else None
    machine_ids = [i for v in variables or [] for i in (v.scope or {}).get("Machine") or []]
    if machine_ids:
        second["machines"] = side.by_ids("machines", machine_ids, m.Machine, fallback=False)
    # Deploy-a-release steps name another project as their package, by id, from the release feed.
    release_feeds = {str(f.id).lower() for f in snap.get_list("feeds") if f.feed_type == "OctopusProject"}
    other_projects = [
        str(ref.package_id)
        for st in (snap.process.steps if snap.process else None) or []
        for a in st.actions or []
        for ref in a.packages or []
        if str(ref.feed_id or "").lower() in release_feeds and ref.package_id
    ]
    if other_projects:
        second["projects"] = side.by_ids("projects", other_projects, m.Project, fallback=False)
    types = {v.type for v in variables or []}
    if types & ACCOUNT_TYPES:
        second["accounts"] = side.lookup("accounts", m.Account)
    if "Certificate" in types:
        second["certificates"] = side.lookup("certificates", m.Certificate)
    if second:
        await snap.gather(second)
    return snap


# -- comparing -----------------------------------------------------------------------------------


class _Out:
    def __init__(self) -> None:
        self.differences: list[Difference] = []
        self.notes: list[str] = []

    def diff(self, area: str, what: str, source: Any = "", destination: Any = "") -> None:
        self.differences.append(Difference(area, what, _plain(source), _plain(destination)))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _plain(value: Any) -> str:
    """A value for the ``source``/``destination`` columns."""
    if _empty(value):
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _show(value: Any) -> str:
    """A value inside a sentence: quoted names, ``none`` for nothing."""
    if _empty(value):
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ", ".join(f"'{v}'" for v in value)
    return f"'{value}'"


def _fingerprint(text: str | None) -> str:
    """A text's length and hash: enough to see two differ without copying it into a report."""
    if not text:
        return "empty"
    return f"{len(text)} characters, sha256 {hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _same(a: Any, b: Any) -> bool:
    if _empty(a) and _empty(b):
        return True
    return bool(a == b)


def _has(out: _Out, area: str, subject: str, thing: str, a: Any, b: Any, *, long: bool = False) -> None:
    """Record "<subject> has <thing> A on the Server but B on Octopus Cloud" when A and B differ."""
    if _same(a, b):
        return
    if long:
        out.diff(
            area,
            f"{subject} has a different {thing} on {CLOUD}",
            _fingerprint(str(a or "")),
            _fingerprint(str(b or "")),
        )
    else:
        out.diff(area, f"{subject} has {thing} {_show(a)} on {SERVER} but {_show(b)} on {CLOUD}", a, b)


def _missing_extra(
    out: _Out, area: str, noun: str, src: Sequence[str], dst: Sequence[str], where: str = ""
) -> None:
    dst_set, src_set = set(dst), set(src)
    for n in src:
        if n not in dst_set:
            out.diff(area, f"{noun} '{n}'{where} is missing on {CLOUD}", n, "")
    for n in dst:
        if n not in src_set:
            out.diff(area, f"{noun} '{n}'{where} is on {CLOUD} but not on {SERVER}", "", n)


# settings


def _settings(src: _Snap, dst: _Snap, out: _Out) -> None:
    s, d = src.project, dst.project
    area = "settings"

    def text(label: str, a: Any, b: Any, *, long: bool = False) -> None:
        if _same(a, b):
            return
        if long:
            out.diff(area, f"The project's {label} is different on {CLOUD}", _fingerprint(a), _fingerprint(b))
        else:
            out.diff(area, f"The project's {label} is {_show(a)} on {SERVER} but {_show(b)} on {CLOUD}", a, b)

    def flag(label: str, a: bool | None, b: bool | None) -> None:
        # A field one instance does not send (an older Server) is not compared.
        if a is None or b is None or a == b:
            return
        out.diff(
            area,
            f"The project setting '{label}' is {_show(a)} on {SERVER} but {_show(b)} on {CLOUD}",
            a,
            b,
        )

    text("name", s.name, d.name)
    text("description", s.description, d.description, long=True)
    text(
        "project group",
        src.name("projectgroups", s.project_group_id, "project group"),
        dst.name("projectgroups", d.project_group_id, "project group"),
    )
    text("lifecycle", src.lifecycle_name(s.lifecycle_id), dst.lifecycle_name(d.lifecycle_id))
    if bool(d.is_disabled) and not s.is_disabled:
        out.diff(
            area,
            f"The project is disabled on {CLOUD} but enabled on {SERVER}: nothing can be deployed from it",
            "enabled",
            "disabled",
        )
    elif bool(s.is_disabled) and not d.is_disabled:
        out.note(
            f"The project is disabled on {SERVER} but enabled on {CLOUD} "
            "(expected once the Server's copy is retired)."
        )
    text("tenanted deployment mode", s.tenanted_deployment_mode, d.tenanted_deployment_mode)
    text("default guided failure mode", s.default_guided_failure_mode, d.default_guided_failure_mode)
    flag("discrete channel releases", s.discrete_channel_release, d.discrete_channel_release)
    flag(
        "skip packages already installed",
        s.default_to_skip_if_already_installed,
        d.default_to_skip_if_already_installed,
    )
    sv, dv = s.versioning_strategy, d.versioning_strategy
    text("release versioning template", sv.template if sv else None, dv.template if dv else None)
    text(
        "versioning donor package",
        _package_action(sv.donor_package if sv else None),
        _package_action(dv.donor_package if dv else None),
    )
    flag("automatic release creation", s.auto_create_release, d.auto_create_release)
    sr, dr = s.release_creation_strategy, d.release_creation_strategy
    text(
        "release creation channel",
        src.channel_name(sr.channel_id) if sr and sr.channel_id else None,
        dst.channel_name(dr.channel_id) if dr and dr.channel_id else None,
    )
    text(
        "release creation package",
        _package_action(sr.release_creation_package if sr else None),
        _package_action(dr.release_creation_package if dr else None),
    )
    text("release notes template", s.release_notes_template, d.release_notes_template, long=True)
    text(
        "deployment changes template", s.deployment_changes_template, d.deployment_changes_template, long=True
    )
    flag("force package download", s.force_package_download, d.force_package_download)
    flag("allow ignoring channel rules", s.allow_ignore_channel_rules, d.allow_ignore_channel_rules)
    text(
        "library variable sets",
        sorted(
            src.name("libraryvariablesets", i, "library variable set")
            for i in s.included_library_variable_set_ids or []
        ),
        sorted(
            dst.name("libraryvariablesets", i, "library variable set")
            for i in d.included_library_variable_set_ids or []
        ),
    )
    text(
        "project variable templates",
        sorted(str(t.name) for t in s.templates or []),
        sorted(str(t.name) for t in d.templates or []),
    )
    text("icon", _icon(s.icon), _icon(d.icon))
    sp, dp = s.project_connectivity_policy, d.project_connectivity_policy
    if sp is not None and dp is not None:
        text("behaviour for unavailable targets", sp.skip_machine_behavior, dp.skip_machine_behavior)
        text("connectivity target roles", sorted(sp.target_roles or []), sorted(dp.target_roles or []))
        flag(
            "allow deployments to no targets",
            sp.allow_deployments_to_no_targets,
            dp.allow_deployments_to_no_targets,
        )
        flag("exclude unhealthy targets", sp.exclude_unhealthy_targets, dp.exclude_unhealthy_targets)
    flag("version control", s.is_version_controlled, d.is_version_controlled)
    if s.is_version_controlled and d.is_version_controlled:
        sg, dg = s.persistence_settings, d.persistence_settings
        text("Git repository", sg.url if sg else None, dg.url if dg else None)
        text("default Git branch", sg.default_branch if sg else None, dg.default_branch if dg else None)
        text("Git base path", sg.base_path if sg else None, dg.base_path if dg else None)


def _package_action(ref: Mapping[str, Any] | None) -> str | None:
    """``{DeploymentAction, PackageReference}`` (names, not ids) as ``action/package``."""
    if not ref or not ref.get("DeploymentAction"):
        return None
    package = ref.get("PackageReference") or ""
    return f"{ref['DeploymentAction']}/{package}" if package else str(ref["DeploymentAction"])


def _icon(icon: m.Icon | None) -> str | None:
    if icon is None or not icon.id:
        return None
    return f"{icon.id} {icon.color or ''}".strip()


# steps and runbook processes


def _pool_label(snap: _Snap, action: m.DeploymentAction) -> tuple[str, bool]:
    """The pool an action runs on as a phrase, and whether that is the instance's default pool."""
    if action.worker_pool_variable:
        return f"the pool in variable '{action.worker_pool_variable}'", False
    if action.worker_pool_id:
        pool = snap.pool(action.worker_pool_id)
        if pool is None:
            return f"worker pool {action.worker_pool_id} (not found)", False
        if pool.is_default:
            return f"the default worker pool ('{pool.name}')", True
        return f"worker pool '{pool.name}'", False
    default = snap.default_pool()
    return (f"the default worker pool ('{default.name}')" if default else "the default worker pool"), True


def _runs_on_server(action: m.DeploymentAction) -> bool:
    return str((action.properties or {}).get("Octopus.Action.RunOnServer", "")).lower() == "true"


def _package_refs(snap: _Snap, action: m.DeploymentAction) -> list[str]:
    out = []
    for ref in action.packages or []:
        name = f"{ref.name}: " if ref.name else ""
        feed = snap.find("feeds", ref.feed_id)
        package = str(ref.package_id)
        if feed is not None and feed.feed_type == "OctopusProject":
            package = f"project '{snap.name('projects', ref.package_id, 'project')}'"
        out.append(f"{name}{package} from {snap.feed_label(ref.feed_id)}")
    return sorted(out)


def _roles(step: m.DeploymentStep) -> list[str]:
    raw = str((step.properties or {}).get("Octopus.Action.TargetRoles") or "")
    return sorted(r.strip() for r in raw.split(",") if r.strip())


def _compare_process(
    area: str,
    where: str,
    s_steps: Sequence[m.DeploymentStep],
    d_steps: Sequence[m.DeploymentStep],
    src: _Snap,
    dst: _Snap,
    out: _Out,
) -> None:
    s_names = [str(st.name) for st in s_steps]
    d_names = [str(st.name) for st in d_steps]
    _missing_extra(out, area, "Step", s_names, d_names, where)
    common_s = [n for n in s_names if n in set(d_names)]
    common_d = [n for n in d_names if n in set(s_names)]
    if common_s != common_d:
        out.diff(area, f"The steps{where} run in a different order on {CLOUD}", common_s, common_d)
    d_by = {str(st.name): st for st in d_steps}
    for st in s_steps:
        other = d_by.get(str(st.name))
        if other is not None:
            _compare_step(area, where, st, other, src, dst, out)


def _compare_step(
    area: str,
    where: str,
    s: m.DeploymentStep,
    d: m.DeploymentStep,
    src: _Snap,
    dst: _Snap,
    out: _Out,
) -> None:
    subject = f"Step '{s.name}'{where}"
    _has(out, area, subject, "condition", s.condition, d.condition)
    _has(out, area, subject, "start trigger", s.start_trigger, d.start_trigger)
    _has(out, area, subject, "package requirement", s.package_requirement, d.package_requirement)
    _has(out, area, subject, "target roles", _roles(s), _roles(d))
    _has(
        out,
        area,
        subject,
        "maximum parallelism",
        (s.properties or {}).get("Octopus.Action.MaxParallelism"),
        (d.properties or {}).get("Octopus.Action.MaxParallelism"),
    )
    s_actions, d_actions = list(s.actions or []), list(d.actions or [])
    single = len(s_actions) == 1 and len(d_actions) == 1
    if not single:
        _missing_extra(
            out,
            area,
            "Action",
            [str(a.name) for a in s_actions],
            [str(a.name) for a in d_actions],
            f" of step '{s.name}'{where}",
        )
    d_by = {str(a.name): a for a in d_actions}
    for a in s_actions:
        b = d_actions[0] if single else d_by.get(str(a.name))
        if b is None:
            continue
        label = subject if single and a.name == s.name else f"{subject}, action '{a.name}'"
        if single:
            _has(out, area, subject, "action name", a.name, b.name)
        _compare_action(area, label, a, b, src, dst, out)


def _compare_action(
    area: str,
    subject: str,
    a: m.DeploymentAction,
    b: m.DeploymentAction,
    src: _Snap,
    dst: _Snap,
    out: _Out,
) -> None:
    _has(out, area, subject, "type", a.action_type, b.action_type)
    if bool(a.is_disabled) != bool(b.is_disabled):
        on, off = (CLOUD, SERVER) if b.is_disabled else (SERVER, CLOUD)
        out.diff(
            area, f"{subject} is disabled on {on} but not on {off}", bool(a.is_disabled), bool(b.is_disabled)
        )
    if bool(a.is_required) != bool(b.is_required):
        on, off = (CLOUD, SERVER) if b.is_required else (SERVER, CLOUD)
        out.diff(
            area, f"{subject} is required on {on} but not on {off}", bool(a.is_required), bool(b.is_required)
        )
    _has(out, area, subject, "run condition", a.condition, b.condition)
    _has(out, area, subject, "environments", src.env_names(a.environments), dst.env_names(b.environments))
    _has(
        out,
        area,
        subject,
        "excluded environments",
        src.env_names(a.excluded_environments),
        dst.env_names(b.excluded_environments),
    )
    _has(
        out,
        area,
        subject,
        "channels",
        sorted(src.channel_name(c) for c in a.channels or []),
        sorted(dst.channel_name(c) for c in b.channels or []),
    )
    _has(out, area, subject, "tenant tags", sorted(a.tenant_tags or []), sorted(b.tenant_tags or []))
    _has(out, area, subject, "packages", _package_refs(src, a), _package_refs(dst, b))
    ac, bc = a.container, b.container
    _has(
        out,
        area,
        subject,
        "container image",
        f"{ac.image} from {src.feed_label(ac.feed_id)}" if ac and ac.image else None,
        f"{bc.image} from {dst.feed_label(bc.feed_id)}" if bc and bc.image else None,
    )
    for key, thing in CONTENT_PROPERTIES.items():
        sv, dv = (a.properties or {}).get(key), (b.properties or {}).get(key)
        _has(out, area, subject, thing, sv, dv, long=key.endswith(("ScriptBody", "Instructions")))
    _compare_pool(area, subject, a, b, src, dst, out)


def _compare_pool(
    area: str,
    subject: str,
    a: m.DeploymentAction,
    b: m.DeploymentAction,
    src: _Snap,
    dst: _Snap,
    out: _Out,
) -> None:
    s_label, s_default = _pool_label(src, a)
    d_label, d_default = _pool_label(dst, b)
    if a.worker_pool_variable or b.worker_pool_variable:
        if a.worker_pool_variable != b.worker_pool_variable:
            out.diff(
                area, f"{subject} runs on {s_label} on {SERVER} but on {d_label} on {CLOUD}", s_label, d_label
            )
        return
    if a.worker_pool_id and b.worker_pool_id:
        s_pool, d_pool = src.pool(a.worker_pool_id), dst.pool(b.worker_pool_id)
        if s_pool is not None and d_pool is not None and s_pool.name == d_pool.name:
            return  # the same pool by name (the import matches pools by name or creates them empty)
    if s_default and d_default:
        # Octopus Cloud moves run-on-server steps to its default worker pool (octopus-api.md §5.6). That is
        # expected, but not harmless: the step now runs on dynamic workers that cannot reach the team's
        # network, and the guide says to move such steps to workers *before* migrating. So it is a
        # difference the team must look at and accept, not a note that verifies quietly.
        if _runs_on_server(a) and not a.worker_pool_id and b.worker_pool_id:
            out.diff(
                area,
                f"{subject} ran on {SERVER}'s default worker pool or its built-in worker; on {CLOUD} it "
                f"runs on {d_label}, the conversion Octopus makes on import: its dynamic workers cannot "
                "reach your network, so accept this only if the step needs nothing there, or point the "
                "step at a worker pool of your own",
                s_label,
                d_label,
            )
        return
    out.diff(area, f"{subject} runs on {s_label} on {SERVER} but on {d_label} on {CLOUD}", s_label, d_label)


def _steps(src: _Snap, dst: _Snap, out: _Out) -> None:
    s_steps = src.process.steps if src.process else None
    d_steps = dst.process.steps if dst.process else None
    _compare_process("steps", "", s_steps or [], d_steps or [], src, dst, out)


# variables

_SCOPE_ORDER = (
    "Environment",
    "Role",
    "TargetRole",
    "Machine",
    "Channel",
    "Tenant",
    "TenantTag",
    "Action",
    "ProcessOwner",
)


@dataclass
class _Var:
    """A variable in comparable form: names instead of ids."""

    name: str
    scope: dict[str, tuple[str, ...]]  # kind -> sorted names (targets not found are left out)
    unknown_targets: tuple[str, ...]  # target ids this instance does not have
    vtype: str
    sensitive: bool
    value: str | None  # None for sensitive values
    is_reference: bool  # the value is a name looked up from an id
    missing: bool  # it refers to a resource this instance does not have
    prompt: str | None

    def scope_text(self) -> str:
        parts = [
            f"{kind}: {', '.join(names)}"
            for kind, names in sorted(self.scope.items(), key=lambda kv: _scope_rank(kv[0]))
            if names
        ]
        return "; ".join(parts) or "unscoped"

    def key(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return tuple(sorted((k, v) for k, v in self.scope.items() if v))

    def key_without_targets(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return tuple(sorted((k, v) for k, v in self.scope.items() if v and k != "Machine"))


def _scope_rank(kind: str) -> int:
    return _SCOPE_ORDER.index(kind) if kind in _SCOPE_ORDER else len(_SCOPE_ORDER)


def _variables_of(snap: _Snap) -> list[_Var]:
    vs = snap.variables
    actions = snap.action_names()
    out = []
    for v in (vs.variables if vs else None) or []:
        scope: dict[str, tuple[str, ...]] = {}
        unknown: list[str] = []
        for kind, ids in (v.scope or {}).items():
            names: list[str] = []
            for i in ids or []:
                if kind == "Environment":
                    names.append(snap.name("environments", i, "environment"))
                elif kind == "Channel":
                    names.append(snap.channel_name(i))
                elif kind == "Tenant":
                    names.append(snap.name("tenants", i, "tenant"))
                elif kind == "Action":
                    names.append(actions.get(i.lower()) or f"{i} (no such step)")
                elif kind == "ProcessOwner":
                    names.append(snap.process_owner_name(i))
                elif kind == "Machine":
                    machine = snap.find("machines", i)
                    if machine is None:
                        unknown.append(i)
                    else:
                        names.append(str(machine.name))
                else:
                    names.append(i)
            scope[kind] = tuple(sorted(names))
        vtype = str(v.type or "String")
        sensitive = bool(v.is_sensitive) or vtype == "Sensitive"
        value, reference, missing = _variable_value(snap, vtype, v.value)
        prompt = None
        if v.prompt is not None:
            prompt = f"{v.prompt.label or ''}{' (required)' if v.prompt.required else ''}"
        out.append(
            _Var(
                str(v.name),
                scope,
                tuple(sorted(unknown)),
                vtype,
                sensitive,
                None if sensitive else value,
                reference,
                missing,
                prompt,
            )
        )
    return out


#: Variable types whose value is an id, and the list and noun that turn it into a name.
_REFERENCE_TYPES = {
    **{t: ("accounts", "account") for t in ACCOUNT_TYPES},
    "Certificate": ("certificates", "certificate"),
    "WorkerPool": ("workerpools", "worker pool"),
}


def _variable_value(snap: _Snap, vtype: str, value: str | None) -> tuple[str | None, bool, bool]:
    """A variable's value for comparing: ``(text, refers to a resource, that resource is missing)``."""
    if not value or vtype not in _REFERENCE_TYPES:
        return value, False, False
    coll, noun = _REFERENCE_TYPES[vtype]
    found = snap.find(coll, value)
    if found is None:
        return f"{noun} {value}", True, True
    return f"{noun} '{found.name}'", True, False


def _variables(src: _Snap, dst: _Snap, out: _Out) -> None:
    area = "variables"
    s_vars, d_vars = _variables_of(src), _variables_of(dst)
    names = list(dict.fromkeys(v.name for v in s_vars))
    for n in dict.fromkeys(v.name for v in d_vars):
        if n not in names:
            out.diff(area, f"Variable '{n}' is on {CLOUD} but not on {SERVER}", "", n)
    for n in names:
        ss = [v for v in s_vars if v.name == n]
        ds = [v for v in d_vars if v.name == n]
        if not ds:
            values = f" ({len(ss)} values)" if len(ss) > 1 else ""
            out.diff(area, f"Variable '{n}'{values} is missing on {CLOUD}", n, "")
            continue
        _compare_variable_group(n, ss, ds, out)


#: How the values of one variable name are paired, best first: the same scope (and value), the same
#: scope but for deployment targets, then the same value, then whatever is left, in order.
_PAIRINGS: tuple[Callable[[_Var, _Var], bool], ...] = (
    lambda s, d: s.key() == d.key() and s.value == d.value and s.vtype == d.vtype,
    lambda s, d: s.key() == d.key(),
    lambda s, d: s.key_without_targets() == d.key_without_targets(),
    lambda s, d: not s.sensitive and s.value == d.value and s.vtype == d.vtype,
    lambda s, d: True,
)


def _compare_variable_group(name: str, ss: list[_Var], ds: list[_Var], out: _Out) -> None:
    """Pair the values of one variable name (see :data:`_PAIRINGS`) and compare each pair."""
    area = "variables"
    several = len(ss) > 1 or len(ds) > 1
    left = list(ds)
    pairs: list[tuple[_Var, _Var]] = []
    pending = list(ss)
    for match in _PAIRINGS:
        unpaired: list[_Var] = []
        for s in pending:
            i = next((k for k, d in enumerate(left) if match(s, d)), None)
            if i is None:
                unpaired.append(s)
            else:
                pairs.append((s, left.pop(i)))
        pending = unpaired
    for s in pending:
        out.diff(area, f"Variable '{name}' ({s.scope_text()}) is missing on {CLOUD}", s.scope_text(), "")
    for d in left:
        out.diff(
            area,
            f"Variable '{name}' ({d.scope_text()}) is on {CLOUD} but not on {SERVER}",
            "",
            d.scope_text(),
        )
    for s, d in pairs:
        _compare_variable(name, s, d, several, out)


def _compare_variable(name: str, s: _Var, d: _Var, several: bool, out: _Out) -> None:
    area = "variables"
    if s.key() != d.key():
        targets_only = s.key_without_targets() == d.key_without_targets()
        s_targets = set(s.scope.get("Machine") or ())
        d_targets = set(d.scope.get("Machine") or ())
        if targets_only and d_targets <= s_targets and (d.unknown_targets or s_targets - d_targets):
            # Targets are not exported: a scope to a target Octopus Cloud does not have yet is expected.
            waiting = sorted(s_targets - d_targets)
            out.note(
                f"Variable '{name}' is scoped to target(s) {_show(waiting)}, which {CLOUD} does not have yet "
                "(targets are not exported): check this scope once they are registered."
            )
        else:
            out.diff(
                area,
                f"Variable '{name}' is scoped to {s.scope_text()} on {SERVER} but "
                f"{d.scope_text() if d.key() else 'unscoped'} on {CLOUD}",
                s.scope_text(),
                d.scope_text(),
            )
    subject = f"Variable '{name}'" + (f" ({s.scope_text()})" if several or s.key() else "")
    if s.sensitive != d.sensitive:
        on, off = (SERVER, CLOUD) if s.sensitive else (CLOUD, SERVER)
        out.diff(area, f"{subject} is sensitive on {on} but not on {off}", s.sensitive, d.sensitive)
    elif s.vtype != d.vtype:
        out.diff(
            area, f"{subject} is of type {s.vtype} on {SERVER} but {d.vtype} on {CLOUD}", s.vtype, d.vtype
        )
    elif not s.sensitive and not _same(s.value, d.value):
        if d.missing and not s.missing:
            out.diff(
                area,
                f"{subject} refers to {s.value}, which is not on {CLOUD}",
                s.value,
                f"{d.value} (missing)",
            )
        elif s.is_reference or d.is_reference:
            out.diff(
                area,
                f"{subject} refers to {s.value or 'nothing'} on {SERVER} "
                f"but {d.value or 'nothing'} on {CLOUD}",
                s.value,
                d.value,
            )
        else:
            out.diff(
                area,
                f"{subject} has a different value on {CLOUD}",
                _fingerprint(s.value),
                _fingerprint(d.value),
            )
    _has(out, area, subject, "prompt", s.prompt, d.prompt)


# channels and lifecycles


def _channel_lifecycle(snap: _Snap, channel: m.Channel) -> str:
    return snap.lifecycle_name(channel.lifecycle_id or snap.project.lifecycle_id)


def _rules(channel: m.Channel) -> list[str]:
    out = []
    for r in channel.rules or []:
        actions = [_package_action(ap) or "" for ap in r.action_packages or []]
        text = r.version_range or "any version"
        if r.tag:
            text += f" tagged {r.tag}"
        if actions:
            text += f" for {', '.join(sorted(actions))}"
        out.append(text)
    return sorted(out)


def _channels(src: _Snap, dst: _Snap, out: _Out) -> None:
    area = "channels"
    s_ch = {str(c.name): c for c in src.get_list("channels")}
    d_ch = {str(c.name): c for c in dst.get_list("channels")}
    _missing_extra(out, area, "Channel", list(s_ch), list(d_ch))
    for n, s in s_ch.items():
        d = d_ch.get(n)
        if d is None:
            continue
        subject = f"Channel '{n}'"
        sl, dl = _channel_lifecycle(src, s), _channel_lifecycle(dst, d)
        if sl != dl:
            out.diff(area, f"{subject} uses lifecycle '{sl}' on {SERVER} but '{dl}' on {CLOUD}", sl, dl)
        if bool(s.is_default) != bool(d.is_default):
            on, off = (SERVER, CLOUD) if s.is_default else (CLOUD, SERVER)
            out.diff(
                area,
                f"{subject} is the default channel on {on} but not on {off}",
                bool(s.is_default),
                bool(d.is_default),
            )
        _has(out, area, subject, "version rules", _rules(s), _rules(d))
        _has(out, area, subject, "tenant tags", sorted(s.tenant_tags or []), sorted(d.tenant_tags or []))
        _has(out, area, subject, "description", s.description, d.description, long=True)


def _lifecycles(src: _Snap, dst: _Snap, out: _Out) -> None:
    area = "lifecycles"
    ids = [src.project.lifecycle_id, *(c.lifecycle_id for c in src.get_list("channels"))]
    used = [src.find("lifecycles", i) for i in dict.fromkeys(i for i in ids if i)]
    d_by = {str(lc.name): lc for lc in dst.get_list("lifecycles")}
    for s in used:
        if s is None:
            continue
        d = d_by.get(str(s.name))
        if d is None:
            out.diff(area, f"Lifecycle '{s.name}' is missing on {CLOUD}", s.name, "")
            continue
        where = f" of lifecycle '{s.name}'"
        s_phases = {str(p.name): p for p in s.phases or []}
        d_phases = {str(p.name): p for p in d.phases or []}
        _missing_extra(out, area, "Phase", list(s_phases), list(d_phases), where)
        common_s = [n for n in s_phases if n in d_phases]
        common_d = [n for n in d_phases if n in s_phases]
        if common_s != common_d:
            out.diff(area, f"The phases{where} are in a different order on {CLOUD}", common_s, common_d)
        for n in common_s:
            sp, dp = s_phases[n], d_phases[n]
            subject = f"Phase '{n}'{where}"
            _has(
                out,
                area,
                subject,
                "automatic environments",
                src.env_names(sp.automatic_deployment_targets),
                dst.env_names(dp.automatic_deployment_targets),
            )
            _has(
                out,
                area,
                subject,
                "optional environments",
                src.env_names(sp.optional_deployment_targets),
                dst.env_names(dp.optional_deployment_targets),
            )
            _has(
                out,
                area,
                subject,
                "minimum environments before promotion",
                sp.minimum_environments_before_promotion or 0,
                dp.minimum_environments_before_promotion or 0,
            )
            if bool(sp.is_optional_phase) != bool(dp.is_optional_phase):
                out.diff(
                    area,
                    f"{subject} is {'optional' if sp.is_optional_phase else 'required'} on {SERVER} "
                    f"but {'optional' if dp.is_optional_phase else 'required'} on {CLOUD}",
                )
            if sp.is_priority_phase is not None and dp.is_priority_phase is not None:
                _has(out, area, subject, "priority", bool(sp.is_priority_phase), bool(dp.is_priority_phase))


# tenants


def _tenants(src: _Snap, dst: _Snap, out: _Out) -> None:
    area = "tenants"
    s_t, d_t = src.connected_tenants(), dst.connected_tenants()
    for n, s in s_t.items():
        s_envs = src.env_names(_env_ids_for(s, str(src.project.id)))
        d = d_t.get(n)
        if d is None:
            out.diff(area, f"Tenant '{n}' is not connected to the project on {CLOUD}", s_envs, "")
            continue
        d_envs = dst.env_names(_env_ids_for(d, str(dst.project.id)))
        if s_envs != d_envs:
            out.diff(
                area,
                f"Tenant '{n}' is connected for {_show(s_envs)} on {SERVER} but {_show(d_envs)} on {CLOUD}",
                s_envs,
                d_envs,
            )
        _has(out, area, f"Tenant '{n}'", "tags", sorted(s.tenant_tags or []), sorted(d.tenant_tags or []))
    for n in d_t:
        if n not in s_t:
            out.diff(area, f"Tenant '{n}' is connected to the project on {CLOUD} but not on {SERVER}", "", n)


# runbooks


def _runbooks(src: _Snap, dst: _Snap, out: _Out) -> None:
    area = "runbooks"
    s_rb = {str(r.name): r for r in src.get_list("runbooks")}
    d_rb = {str(r.name): r for r in dst.get_list("runbooks")}
    _missing_extra(out, area, "Runbook", list(s_rb), list(d_rb))
    for n, s in s_rb.items():
        d = d_rb.get(n)
        if d is None:
            continue
        subject = f"Runbook '{n}'"
        _has(
            out,
            area,
            subject,
            "environments",
            _runbook_envs(src, s),
            _runbook_envs(dst, d),
        )
        _has(out, area, subject, "tenancy", s.multi_tenancy_mode, d.multi_tenancy_mode)
        _has(
            out,
            area,
            subject,
            "guided failure mode",
            s.default_guided_failure_mode,
            d.default_guided_failure_mode,
        )
        sp = src.find("runbookprocesses", s.runbook_process_id)
        dp = dst.find("runbookprocesses", d.runbook_process_id)
        for snap, proc in ((src, sp), (dst, dp)):
            if proc is None:
                out.diff(area, f"The process of runbook '{n}' could not be read on {snap.label}")
        if sp is not None and dp is not None:
            _compare_process(area, f" of runbook '{n}'", sp.steps or [], dp.steps or [], src, dst, out)


def _runbook_envs(snap: _Snap, runbook: m.Runbook) -> str:
    scope = runbook.environment_scope or "All"
    if scope == "Specified":
        return ", ".join(snap.env_names(runbook.environments)) or "none"
    return {"All": "all environments", "FromProjectLifecycles": "the project's lifecycle environments"}.get(
        scope, scope
    )


# triggers


def _trigger_details(snap: _Snap, part: BaseModel | None) -> dict[str, str]:
    """A trigger's filter or action as comparable text: ids as names, other ids left out."""
    if part is None:
        return {}
    raw = part.model_dump(by_alias=True, mode="json")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if key in ("Id", "Links", "FilterType", "ActionType") or _empty(value):
            continue
        ids = value if isinstance(value, list) else [value]
        if key.endswith(("EnvironmentId", "EnvironmentIds")):
            out[key] = ", ".join(snap.env_names([str(i) for i in ids]))
        elif key == "ChannelId":
            out[key] = snap.channel_name(str(value))
        elif key == "RunbookId":
            out[key] = snap.name("runbooks", str(value), "runbook")
        elif key == "TenantIds":
            out[key] = ", ".join(sorted(snap.name("tenants", str(i), "tenant") for i in ids))
        elif key.endswith(("Id", "Ids")):
            continue  # an id of something not compared by name here
        else:
            out[key] = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return out


def _triggers(src: _Snap, dst: _Snap, out: _Out) -> None:
    area = "triggers"
    s_tr = {str(t.name): t for t in src.get_list("triggers")}
    d_tr = {str(t.name): t for t in dst.get_list("triggers")}
    for n, s in s_tr.items():
        if n not in d_tr:
            kind = s.filter.filter_type if s.filter else ""
            out.diff(area, f"Trigger '{n}' is missing on {CLOUD}", kind, "")
    for n in d_tr:
        if n not in s_tr:
            out.diff(area, f"Trigger '{n}' is on {CLOUD} but not on {SERVER}", "", n)
    for n, s in s_tr.items():
        d = d_tr.get(n)
        if d is None:
            continue
        subject = f"Trigger '{n}'"
        _has(
            out,
            area,
            subject,
            "filter type",
            s.filter.filter_type if s.filter else None,
            d.filter.filter_type if d.filter else None,
        )
        _has(
            out,
            area,
            subject,
            "action type",
            s.action.action_type if s.action else None,
            d.action.action_type if d.action else None,
        )
        if bool(d.is_disabled) and not s.is_disabled and not src.project.is_disabled:
            # Recreated triggers are held disabled until the project is cut over (the Server's copy
            # disabled), so a schedule never fires on both instances: expected, not a difference.
            out.note(
                f"{subject} is disabled on {CLOUD} until the project is cut over; the cut-over enables it."
            )
        elif bool(s.is_disabled) != bool(d.is_disabled):
            on, off = (CLOUD, SERVER) if d.is_disabled else (SERVER, CLOUD)
            out.diff(
                area,
                f"{subject} is disabled on {on} but not on {off}",
                bool(s.is_disabled),
                bool(d.is_disabled),
            )
        for part in ("filter", "action"):
            sd = _trigger_details(src, getattr(s, part))
            dd = _trigger_details(dst, getattr(d, part))
            for key in dict.fromkeys([*sd, *dd]):
                _has(out, area, subject, f"{part} {key}", sd.get(key), dd.get(key))


# logo, packages, releases


def _has_uploaded_logo(project: m.Project) -> bool:
    """SpaceCloner's test: a logo link whose cache-buster is the server version has no uploaded logo."""
    link = (project.links or {}).get("Logo") or ""
    cb = link.partition("cb=")[2]
    return bool(cb) and not _VERSION_CB.match(cb) and not (project.icon and project.icon.id)


def _logo(src: _Snap, dst: _Snap, out: _Out) -> None:
    s_hash = hashlib.sha256(bytes(src.data.get("logo") or b"")).hexdigest()
    d_hash = hashlib.sha256(bytes(dst.data.get("logo") or b"")).hexdigest()
    if s_hash == d_hash:
        return
    if not _has_uploaded_logo(dst.project):
        out.diff("logo", f"The project logo is not on {CLOUD}", f"sha256 {s_hash[:12]}", "no uploaded logo")
    else:
        out.diff(
            "logo",
            f"The project logo on {CLOUD} is not the one on {SERVER}",
            f"sha256 {s_hash[:12]}",
            f"sha256 {d_hash[:12]}",
        )


def _packages(expected: Sequence[tuple[str, str]], dst: _Snap, out: _Out) -> None:
    have: dict[str, set[str]] = dst.data.get("packages") or {}
    for package_id, version in dict.fromkeys(expected):
        if version not in have.get(package_id.lower(), set()):
            out.diff(
                "packages",
                f"Package '{package_id}' version {version} is not in the built-in feed on {CLOUD}",
                f"{package_id} {version}",
                "",
            )


def _releases(src: _Snap, dst: _Snap, out: _Out) -> None:
    s, d = int(src.data.get("releases") or 0), int(dst.data.get("releases") or 0)
    if s != d:
        out.diff(
            "releases",
            f"The Server has {s} release{'s' if s != 1 else ''} of the project but {CLOUD} has {d}",
            s,
            d,
        )


#: What each area reads; a read that failed on either instance makes the area "could not compare".
_NEEDS: dict[str, tuple[str, ...]] = {
    "settings": ("projectgroups", "lifecycles", "libraryvariablesets", "channels"),
    "steps": ("process", "workerpools", "feeds", "environments", "channels", "projects"),
    "variables": (
        "variables",
        "environments",
        "channels",
        "tenants",
        "process",
        "runbooks",
        "runbookprocesses",
        "machines",
        "accounts",
        "certificates",
        "workerpools",
    ),
    "channels": ("channels", "lifecycles"),
    "lifecycles": ("lifecycles", "environments", "channels"),
    "tenants": ("tenants", "environments"),
    "runbooks": ("runbooks", "runbookprocesses", "workerpools", "feeds", "environments", "channels"),
    "triggers": ("triggers", "environments", "channels", "runbooks", "tenants"),
    "logo": ("logo",),
    "packages": ("packages",),
    "releases": ("releases",),
}


def _unreadable(area: str, src: _Snap, dst: _Snap) -> Difference | None:
    for snap in (src, dst):
        for key in _NEEDS[area]:
            if key in snap.errors:
                return Difference(
                    area,
                    f"Could not compare the {area}: reading {key} on {snap.label} failed: {snap.errors[key]}",
                )
    return None


# -- entry points --------------------------------------------------------------------------------


async def _find_destination(side: _Side, name: str) -> m.Project | None:
    data = await side.get("projects", {"name": name, "take": TAKE_ALL}, "finding the project")
    for raw in data.get("Items") or []:
        if str(raw.get("Name", "")).lower() == name.lower():
            return m.Project.model_validate(raw)
    return None


async def _project_or_none(side: _Side, project_id: str) -> m.Project | None:
    try:
        return await side.model(f"projects/{project_id}", m.Project, "reading the project")
    except NotFound:
        return None


async def verify_project(
    source: OctopusClient,
    dest: OctopusClient,
    src_project_id: str,
    dst_project_id: str | None = None,
    *,
    expect_logo: bool | None = None,
    expect_packages: list[tuple[str, str]] | None = None,
    expect_triggers: bool = True,
    shared: SharedLists | None = None,
) -> Verification:
    """Compare one project on the Server with its import on Octopus Cloud.

    Args:
        source: a discovered client of the Server.
        dest: a discovered client of Octopus Cloud.
        src_project_id: the project on the Server.
        dst_project_id: the project on Octopus Cloud; None finds it by name.
        expect_logo: True checks that Octopus Cloud has the Server's uploaded logo; None or False
            does not look at logos.
        expect_packages: ``(package id, version)`` pairs that must be in Octopus Cloud's built-in
            feed; None does not look at packages.
        expect_triggers: compare triggers (False before they have been recreated).
        shared: space-wide lists shared with other verifications (see :func:`verify_projects`).

    Returns:
        The verification. Reads that fail become differences ("Could not compare …"), never a
        verified result; a project missing on Octopus Cloud is one difference.
    """
    shared = shared or SharedLists()
    src = _Side(source, SERVER, shared)
    dst = _Side(dest, CLOUD, shared)

    def result(
        project_name: str, dst_id: str | None, diffs: list[Difference], checked: list[str]
    ) -> Verification:
        return Verification(
            src_project_id, project_name, dst_id, diffs, checked, requests=src.requests + dst.requests
        )

    try:
        if dst_project_id:
            s_project, d_project = await asyncio.gather(
                _project_or_none(src, src_project_id), _project_or_none(dst, dst_project_id)
            )
        else:
            s_project = await _project_or_none(src, src_project_id)
            d_project = await _find_destination(dst, str(s_project.name)) if s_project is not None else None
    except OctopusError as exc:
        return result(
            src_project_id,
            dst_project_id,
            [Difference("project", f"Could not read the project: {exc}")],
            ["project"],
        )
    if s_project is None:
        what = f"The project {src_project_id} is not on {SERVER}"
        return result(src_project_id, dst_project_id, [Difference("project", what)], ["project"])
    name = str(s_project.name)
    if d_project is None:
        what = f"The project is not on {CLOUD}"
        return result(name, None, [Difference("project", what, name, dst_project_id or "")], ["project"])

    package_ids = [p for p, _ in expect_packages] if expect_packages is not None else None
    s_snap, d_snap = await asyncio.gather(
        _read(src, s_project, triggers=expect_triggers, logo=bool(expect_logo), packages=None),
        _read(dst, d_project, triggers=expect_triggers, logo=bool(expect_logo), packages=package_ids),
    )
    out = _Out()
    comparers: list[tuple[str, Callable[[_Snap, _Snap, _Out], None]]] = [("settings", _settings)]
    if s_project.is_version_controlled or d_project.is_version_controlled:
        vcs = s_project if s_project.is_version_controlled else d_project
        url = vcs.persistence_settings.url if vcs.persistence_settings else None
        out.note(
            f"The project is version-controlled: its deployment process and variables live in Git"
            f"{f' ({url})' if url else ''}, so they were not compared."
        )
    else:
        comparers += [("steps", _steps), ("variables", _variables)]
    comparers += [
        ("channels", _channels),
        ("lifecycles", _lifecycles),
        ("tenants", _tenants),
        ("runbooks", _runbooks),
    ]
    if expect_triggers:
        comparers.append(("triggers", _triggers))
    if expect_logo:
        comparers.append(("logo", _logo))
    if expect_packages is not None:
        comparers.append(("packages", lambda _s, d, o: _packages(expect_packages, d, o)))
    comparers.append(("releases", _releases))
    for area, compare in comparers:
        failed = _unreadable(area, s_snap, d_snap)
        if failed is not None:
            out.differences.append(failed)
        else:
            compare(s_snap, d_snap, out)
    verification = result(name, str(d_project.id), out.differences, [a for a, _ in comparers])
    verification.notes = out.notes
    return verification


async def verify_projects(
    source: OctopusClient,
    dest: OctopusClient,
    pairs: list[tuple[str, str | None]],
    *,
    concurrency: int = 4,
    **kw: Any,
) -> list[Verification]:
    """Verify many projects, ``concurrency`` at a time, sharing the space-wide lists.

    Args:
        pairs: ``(source project id, destination project id or None to find it by name)``.
        concurrency: projects verified at once (each sends its own requests concurrently too; the
            clients bound the requests in flight).
        **kw: passed to :func:`verify_project` for every project (``expect_logo``…).

    Returns:
        One verification per pair, in the order given.
    """
    shared = kw.pop("shared", None) or SharedLists()
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(src_id: str, dst_id: str | None) -> Verification:
        async with gate:
            return await verify_project(source, dest, src_id, dst_id, shared=shared, **kw)

    return list(await asyncio.gather(*(one(s, d) for s, d in pairs)))


# -- reports -------------------------------------------------------------------------------------


def _summary(results: Sequence[Verification]) -> str:
    ok = sum(1 for r in results if r.verified)
    return f"{ok} of {len(results)} project{'s' if len(results) != 1 else ''} verified."


def _headline(r: Verification) -> str:
    if r.verified:
        return f"{r.project_name}: verified"
    n = len(r.differences)
    return f"{r.project_name}: {n} difference{'s' if n != 1 else ''}"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_verification(results: list[Verification], fmt: str = "text") -> str:
    """Verifications as a report: ``text`` for a terminal, ``markdown``, or ``json``.

    Raises:
        ValueError: an unknown format.
    """
    if fmt == "json":
        return json.dumps([r.to_dict() for r in results], indent=2)
    if fmt == "markdown":
        lines = ["# Verification", "", _summary(results), ""]
        for r in results:
            lines += [f"## {_md(_headline(r))}", ""]
            lines.append(f"Compared: {', '.join(r.checked) or 'nothing'} ({r.requests} requests).")
            lines.append("")
            if r.differences:
                lines += [f"| Area | Difference | {SERVER[4:]} | {CLOUD} |", "|---|---|---|---|"]
                lines += [
                    f"| {d.area} | {_md(d.what)} | {_md(d.source)} | {_md(d.destination)} |"
                    for d in r.differences
                ]
                lines.append("")
            if r.notes:
                lines += ["Notes:", ""] + [f"- {_md(n)}" for n in r.notes] + [""]
        return "\n".join(lines).rstrip() + "\n"
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r}: use text, markdown or json")
    lines = []
    for r in results:
        lines.append(f"{_headline(r)} (compared {', '.join(r.checked) or 'nothing'}; {r.requests} requests)")
        for d in r.differences:
            lines.append(f"  - [{d.area}] {d.what}")
            if d.source or d.destination:
                lines.append(f"      {SERVER[4:]}: {d.source or '-'}   {CLOUD}: {d.destination or '-'}")
        lines += [f"  note: {n}" for n in r.notes]
    lines.append(_summary(results))
    return "\n".join(lines) + "\n"


__all__ = [
    "AREAS",
    "Difference",
    "SharedLists",
    "Verification",
    "format_verification",
    "verify_project",
    "verify_projects",
]
