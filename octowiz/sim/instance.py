"""One simulated Octopus instance: an ASGI app answering the Octopus REST API.

Routing mirrors Octopus: every space-scoped collection answers at ``/api/Spaces-1/<coll>``,
``/api/spaces/<idOrSlug>/<coll>`` and ``/api/<coll>`` (the default space). Lists page exactly as
Octopus pages (``skip``/``take``, default take 30, ``TotalResults``, ``NumberOfPages``,
``LastPageNumber`` and ``Page.*`` links), ``/all`` answers a plain array where Octopus has it, and
errors carry ``ErrorMessage`` and ``Errors``. Permissions are checked per request from the calling
key's user, so a reader's key gets 403 where Octopus would refuse it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from octowiz.octopus import permissions
from octowiz.octopus.client import OctopusVersion
from octowiz.sim import archive as arc
from octowiz.sim.config import InstanceConfig, role_permissions
from octowiz.sim.factory import api_key_hash
from octowiz.sim.resources import COLLECTIONS, SCOPED, public, with_links
from octowiz.sim.store import Store
from octowiz.sim.tasks import TaskEngine, iso

Doc = dict[str, Any]
ALL_TAKE = 2147483647
#: The scope key where the HTTP server notes when a request's bytes arrived (see ``simulator``).
ARRIVED = "octowiz.arrived"
EXPORT_IMPORT_SINCE = (2021, 1)

_NOUN = {
    "projects": "Project",
    "projectgroups": "ProjectGroup",
    "channels": "Project",
    "releases": "Release",
    "deployments": "Deployment",
    "environments": "Environment",
    "machines": "Machine",
    "workers": "Worker",
    "workerpools": "Worker",
    "feeds": "Feed",
    "lifecycles": "Lifecycle",
    "tenants": "Tenant",
    "libraryvariablesets": "LibraryVariableSet",
    "variables": "Variable",
    "deploymentprocesses": "Process",
    "runbooks": "Runbook",
    "runbookprocesses": "Runbook",
    "accounts": "Account",
    "certificates": "Certificate",
    "machinepolicies": "MachinePolicy",
    "projecttriggers": "Trigger",
    "artifacts": "Artifact",
    "tasks": "Task",
    "teams": "Team",
    "users": "User",
    "spaces": "Space",
    "tagsets": "Tenant",
    "subscriptions": "Subscription",
    "userroles": "UserRole",
}
_EDIT_VERB = {
    "workerpools": "Edit",
    "workers": "Edit",
    "feeds": "Edit",
    "channels": "Edit",
    "variables": "Edit",
    "deploymentprocesses": "Edit",
    "runbookprocesses": "Edit",
    "runbooks": "Edit",
    "tagsets": "Edit",
}


class ApiError(Exception):
    """An error answer with Octopus's body shape."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}


class DroppedConnection(Exception):
    """Raised inside the app to drop the connection mid-response (fault injection)."""


@dataclass
class RequestRecord:
    """One request the instance answered, for tests and benchmarks to read.

    Attributes:
        at: when it arrived, on the instance's clock (so a budget can be measured from the log).
        fault: the fault it met: ``5xx`` or ``drop`` (before it was carried out), ``5xx-after`` or
            ``drop-after`` (carried out, the answer lost), ``429`` (a burst), ``slow``, ``scripted``,
            ``scripted-after``, ``limited`` (the per-key rate limit); empty for none.
    """

    method: str
    path: str
    status: int
    api_key_user: str | None
    at: float = 0.0
    fault: str = ""


@dataclass(frozen=True)
class _Verdict:
    """What the fault mix does to one request: its kind (see :attr:`RequestRecord.fault`) and status."""

    kind: str
    status: int = 0


@dataclass
class ScriptedFault:
    """Answer the next ``count`` requests whose path matches ``pattern`` with ``status`` (0 = drop)."""

    pattern: str
    status: int
    count: int = 1
    method: str | None = None
    retry_after: float | None = None
    after_bytes: int = 0  # for drops of streamed bodies: how much is sent before the drop
    after: bool = False  # carry the request out first, then fail its answer (the change is made)


class SimInstance:
    """A simulated Octopus Server or Octopus Cloud instance.

    Args:
        config: the flavour and behaviour.
        store: its documents (seeded by :mod:`octowiz.sim.scenarios`).
        clock: seconds since the epoch; tests pass a fake one.
        name: a label for logs (``server`` / ``cloud``).
    """

    def __init__(
        self,
        config: InstanceConfig,
        store: Store,
        clock: Callable[[], float] = time.time,
        name: str | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.name = name or config.flavour
        self.requests: list[RequestRecord] = []
        self.scripted: list[ScriptedFault] = []
        #: Called with ``"arrived"`` as each request arrives and ``"answered"`` once its answer is built,
        #: before it is sent; returning False on arrival drops the request unhandled. The chaos tests
        #: use it to kill a client at an exact request (tests/chaos/harness.py).
        self.on_request: Callable[[str, Request], bool | None] | None = None
        self._rng = random.Random(1234)
        # How late, on average, the event loop wakes a sleeping answer (its timers wake on whole
        # milliseconds, after the answers due before it): taken off the next sleeps.
        self._wake_late = 0.0
        mix = config.fault_mix
        # One generator per instance, drawn from in arrival order: the same requests meet the same faults.
        self._mix_rng = random.Random(f"{mix.seed if mix else 0}:{self.name}")
        self._burst_left = 0
        self._rate: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)
        self._lock = threading.RLock()
        # (coll, space, "raw" | "sorted") -> (collection version, listing, the items sorted or None)
        self._listing_cache: dict[tuple[str, str, str], tuple[int, list[Doc], list[Doc] | None]] = {}
        self._render_cache: dict[tuple[str, str], tuple[int, Doc, str]] = {}
        self._passwords: dict[str, arc.Archive] = {}  # import task id -> opened archive (memory only)
        self.tasks = TaskEngine(
            store,
            clock,
            queued_seconds=config.task_queued_seconds,
            executing_seconds=config.task_executing_seconds,
            capacity=self._capacity,
            node_name=self._node_name(),
        )
        self.tasks.effects = {"export": self._export_effect, "import": self._import_effect}
        self.tasks.failing_kinds = config.failing_tasks
        self.tasks.effects["deploy"] = self._deploy_effect
        self.installation_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"octowiz-sim-{config.flavour}"))
        #: Step packages that define target types (a StepPackage target needs its package here; the
        #: simulated Cloud starts without the AWS ECS one, so creating that kind there is refused).
        self.installed_step_packages: set[str] = set() if config.is_cloud else {"aws-ecs-target"}
        self.app = Starlette(
            routes=[Route("/{path:path}", self._endpoint, methods=["GET", "POST", "PUT", "DELETE", "HEAD"])]
        )

    # -- infrastructure --------------------------------------------------------------------------

    def _node_name(self) -> str:
        nodes = self.store.all("octopusservernodes")
        return str(nodes[0]["Name"]) if nodes else "OCTOPUS01"

    def _capacity(self) -> int:
        nodes = self.store.all("octopusservernodes")
        return (
            sum(int(n.get("MaxConcurrentTasks", 5)) for n in nodes if not n.get("IsInMaintenanceMode"))
            if nodes
            else 5
        )

    @property
    def export_import_available(self) -> bool:
        """True when this version has Project Export/Import (2021.1+)."""
        return OctopusVersion.parse(self.config.version).at_least(*EXPORT_IMPORT_SINCE)

    def key_user(self, api_key: str | None) -> Doc | None:
        """The user an API key authenticates as, or None."""
        if not api_key:
            return None
        for user in self.store.all("users"):
            if api_key_hash(api_key) in (user.get("_ApiKeyHashes") or []) and user.get("IsActive", True):
                return user
        return None

    def permissions_of(self, user: Doc) -> set[str]:
        """Every permission a user holds (all unrestricted in the simulator)."""
        system, space = role_permissions(str(user.get("_Role", "none")))
        return set(system) | set(space)

    def rendered_json(self, coll: str, doc: Doc) -> str:
        """A document as the JSON Octopus sends (links added, private fields removed), cached.

        The cache entry is valid while the collection is unchanged and it is the same stored object,
        so a page of a large collection costs a string join rather than thousands of dict copies.
        """
        key = (coll, str(doc.get("Id")))
        version = self.store.versions.get(coll, 0)
        hit = self._render_cache.get(key)
        if hit is not None and hit[0] == version and hit[1] is doc:
            return str(hit[2])
        text = json.dumps(public(with_links(coll, doc, self.config.version)), separators=(",", ":"))
        self._render_cache[key] = (version, doc, text)
        return text

    def listing(self, coll: str, space_id: str) -> list[Doc]:
        """A collection's documents in one space, cached until the collection changes."""
        key = (coll, space_id, "raw")
        version = self.store.versions.get(coll, 0)
        hit = self._listing_cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        docs = self.store.find(coll, lambda d: d.get("SpaceId") == space_id)
        self._listing_cache[key] = (version, docs, None)
        return docs

    def sorted_listing(self, coll: str, space_id: str | None, items: list[Doc]) -> list[Doc]:
        """``items`` in Octopus's list order for the collection, cached until the collection changes."""
        key = (coll, space_id or "", "sorted")
        version = self.store.versions.get(coll, 0)
        hit = self._listing_cache.get(key)
        if hit is not None and hit[0] == version and hit[2] is items:
            return hit[1]
        out = _ordered(coll, items)
        self._listing_cache[key] = (version, out, items)
        return out

    def request_count(self, path_prefix: str = "") -> int:
        """How many requests hit paths starting with ``path_prefix``."""
        return sum(1 for r in self.requests if r.path.startswith(path_prefix))

    # -- ASGI endpoint ---------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        """Answer after the configured latency, counted from arrival as a server's response time.

        The simulator's own work happens inside that time rather than before it, so eight
        concurrent requests take one latency, as on a real server that serves them in parallel,
        instead of queueing behind this single process's CPU.
        """
        stamped = request.scope.get(ARRIVED)
        arrived = stamped or time.perf_counter()
        # Over HTTP, logged as arriving when its bytes did, not when this single thread got round to
        # it: a request queued behind another's handling would be logged late, bunched with the ones
        # after it, and a budget read from the log would look broken when it held.
        at = self.clock() - (time.perf_counter() - stamped if stamped else 0.0)
        delay = 0.0
        if self.config.latency_ms or self.config.jitter_ms:
            delay = (self.config.latency_ms + self._rng.random() * self.config.jitter_ms) / 1000
        verdict = self._draw("/" + request.path_params.get("path", ""))
        if verdict is not None and verdict.kind == "slow" and self.config.fault_mix is not None:
            delay += self.config.fault_mix.slow_seconds
        hook = self.on_request
        if hook is not None and hook("arrived", request) is False:
            return self._drop(ScriptedFault(".*", 0))
        response = await self._handle(request, at, verdict)
        if hook is not None:
            hook("answered", request)
        remaining = delay - (time.perf_counter() - arrived) - self._wake_late
        if remaining > 0:
            await asyncio.sleep(remaining)
            # Nudged towards answering on time on average; never by more than 5 ms.
            late = time.perf_counter() - arrived - delay
            self._wake_late = min(max(self._wake_late + 0.1 * late, 0.0), 0.005)
        return response

    async def _handle(self, request: Request, at: float = 0.0, verdict: _Verdict | None = None) -> Response:
        path = "/" + request.path_params.get("path", "")
        full = path + (f"?{request.url.query}" if request.url.query else "")
        key = request.headers.get("x-octopus-apikey") or _query_ci(request, "apikey")
        user = self.key_user(key)
        status = 500
        kind = verdict.kind if verdict is not None else ""
        try:
            fault = self._take_fault(request.method, path)
            if fault is not None and fault.after:
                # Carried out below, then answered as the fault says (as the mix's "-after" kinds).
                kind = "scripted-after"
                verdict = _Verdict("drop-after" if fault.status == 0 else "5xx-after", fault.status)
                fault = None
            elif fault is not None:
                kind = "scripted"
            elif verdict is not None and kind in ("5xx", "drop", "429"):
                mix = self.config.fault_mix
                retry = mix.retry_after if mix is not None and kind == "429" else None
                fault = ScriptedFault(".*", verdict.status, retry_after=retry)
            if fault is not None:
                if fault.status == 0:
                    status = 0
                    return self._drop(fault)
                raise ApiError(
                    fault.status,
                    _FAULT_MESSAGES.get(fault.status, "Simulated fault."),
                    headers={"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after else None,
                )
            try:
                self._rate_limit(key, at)
            except ApiError:
                kind = "limited"
                raise
            with self._lock:
                self.tasks.advance()
            response = await self._route(request, path, user)
            status = response.status_code
            if verdict is not None and verdict.kind == "drop-after":
                # Carried out, then the connection drops: the change is made and its answer lost.
                status = 0
                return self._drop(ScriptedFault(".*", 0))
            if verdict is not None and verdict.kind == "5xx-after":
                raise ApiError(verdict.status, _FAULT_MESSAGES.get(verdict.status, "Simulated fault."))
            return response
        except ApiError as exc:
            status = exc.status
            body: dict[str, Any] = {"ErrorMessage": exc.message, "Errors": exc.errors}
            if exc.status >= 500:
                body["FullException"] = None
            return JSONResponse(body, status_code=exc.status, headers=exc.headers)
        finally:
            self.requests.append(
                RequestRecord(request.method, full, status, user["Id"] if user else None, at, kind)
            )

    def _draw(self, path: str) -> _Verdict | None:
        """The fault mix's verdict on the request arriving now (two draws each, to keep runs in step)."""
        mix = self.config.fault_mix
        if mix is None or not mix.active or path in ("/", "/api", "/api/"):
            return None
        with self._lock:
            pick, second = self._mix_rng.random(), self._mix_rng.random()
            if self._burst_left > 0:
                self._burst_left -= 1
                return _Verdict("429", 429)
            after = second < mix.after_share
            if pick < mix.error_rate:
                # The second draw picks the status too: rescaled within its side of the before/after
                # split, it is uniform again.
                share = mix.after_share
                part = second / share if after else (second - share) / (1 - share)
                status = _weighted(list(mix.error_statuses), list(mix.error_statuses.values()), part)
                return _Verdict("5xx-after" if after else "5xx", status)
            pick -= mix.error_rate
            if pick < mix.drop_rate:
                return _Verdict("drop-after" if after else "drop", 0)
            pick -= mix.drop_rate
            if pick < mix.burst_rate:
                self._burst_left = mix.burst_length - 1
                return _Verdict("429", 429)
            pick -= mix.burst_rate
            if pick < mix.slow_rate:
                return _Verdict("slow")
        return None

    def _drop(self, fault: ScriptedFault) -> Response:
        async def body() -> AsyncIterator[bytes]:
            if fault.after_bytes:
                yield b"x" * fault.after_bytes
            raise DroppedConnection("simulated dropped connection")

        return StreamingResponse(body(), headers={"Content-Length": str(fault.after_bytes + 1024)})

    def _take_fault(self, method: str, path: str) -> ScriptedFault | None:
        with self._lock:
            for fault in self.scripted:
                if fault.count > 0 and re.search(fault.pattern, path) and (fault.method in (None, method)):
                    fault.count -= 1
                    if fault.count == 0:
                        self.scripted.remove(fault)
                    return fault
            if (
                self.config.fault_rate
                and path not in ("/", "/api", "/api/")
                and self._rng.random() < self.config.fault_rate
            ):
                statuses = self.config.faults or {500: 1.0}
                pick = self._rng.choices(list(statuses), weights=list(statuses.values()))[0]
                return ScriptedFault(".*", pick, retry_after=1 if pick in (429, 503) else None)
        return None

    def _rate_limit(self, key: str | None, at: float = 0.0) -> None:
        """Octopus's limiter (2026.3): a token bucket per user, refilled at the limit a minute.

        Requests are counted when they arrived (``at``), as a limiter in front of the server counts
        them, not when this single thread got round to them.
        """
        limit = self.config.rate_limit_per_minute
        if not limit:
            return
        now = at or self.clock()
        rate = limit / 60.0
        burst = float(self.config.rate_limit_burst or limit)
        with self._lock:
            tokens, stamp = self._rate.get(key or "", (burst, now))
            # Requests handled slightly out of their order of arrival never take tokens back.
            now = max(now, stamp)
            tokens = min(burst, tokens + (now - stamp) * rate)
            if tokens < 1:
                self._rate[key or ""] = (tokens, now)
                retry = max(1, math.ceil((1 - tokens) / rate))
                raise ApiError(
                    429,
                    "You have exceeded the rate limit. Please wait before making more requests.",
                    headers={"Retry-After": str(retry), "X-RateLimit-Remaining": "0"},
                )
            self._rate[key or ""] = (tokens - 1, now)

    # -- routing ---------------------------------------------------------------------------------

    async def _route(self, request: Request, path: str, user: Doc | None) -> Response:
        segs = [s for s in path.split("/") if s]
        if not segs or segs[0].lower() != "api":
            if segs[:1] == ["app"] or not segs:
                return Response(
                    "<html><body>Octopus Deploy (simulated)</body></html>", media_type="text/html"
                )
            raise ApiError(404, "The resource you requested was not found.")
        segs = segs[1:]
        method = request.method if request.method != "HEAD" else "GET"
        if not segs:
            return self._json(self._root(None))
        head = segs[0].lower()
        if head in ("authentication",) and method == "GET":
            return self._json(self._authentication())
        if user is None:
            raise ApiError(
                401,
                "You must be logged in to request this resource. Please provide a valid API key, "
                "or sign in to the Octopus Server.",
            )
        perms = self.permissions_of(user)
        if method != "GET" and self._in_maintenance() and "AdministerSystem" not in perms:
            raise ApiError(
                503,
                "The Octopus Server is in maintenance mode. Only system administrators can make "
                "changes while it is in maintenance mode.",
            )
        space_id: str | None = None
        if re.fullmatch(r"spaces-\d+", head):
            space_id = self._space(segs[0])["Id"]
            segs = segs[1:]
            if not segs:
                return self._json(self._root(space_id))
        elif head == "spaces" and len(segs) >= 3 and segs[2].lower() in SCOPED | _SPACE_EXTRAS:
            space_id = self._space(segs[1])["Id"]
            segs = segs[2:]
        ctx = _Ctx(self, request, method, segs, space_id, user, perms)
        return await ctx.dispatch()

    def _space(self, id_or_slug: str) -> Doc:
        for s in self.store.all("spaces"):
            if s["Id"].lower() == id_or_slug.lower() or str(s.get("Slug", "")).lower() == id_or_slug.lower():
                return s
        raise ApiError(404, f"The space '{id_or_slug}' was not found.")

    def default_space(self) -> str:
        """The id of the default space."""
        for s in self.store.all("spaces"):
            if s.get("IsDefault"):
                return str(s["Id"])
        raise ApiError(404, "There is no default space.")

    def _in_maintenance(self) -> bool:
        doc = self.store.get("config", "maintenance")
        return bool(doc and doc.get("IsInMaintenanceMode"))

    def _json(self, body: Any, status: int = 200) -> Response:
        return Response(
            json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json"
        )

    # -- documents -------------------------------------------------------------------------------

    def _root(self, space_id: str | None) -> Doc:
        sid = space_id or (self.default_space() if self.store.count("spaces") else "Spaces-1")
        sp = f"/api/{sid}"
        space_links = {
            "Self": f"/api/{sid}" if space_id else "/api",
            "Accounts": f"{sp}/accounts{{/id}}{{?skip,take,ids,partialName,accountType}}",
            "ActionTemplates": f"{sp}/actiontemplates{{/id}}{{?skip,take,ids,partialName}}",
            "Artifacts": f"{sp}/artifacts{{/id}}{{?skip,take,regarding,ids,partialName,order}}",
            "Certificates": f"{sp}/certificates{{/id}}{{?skip,take,search,archived,tenant,firstResult,"
            "orderBy,ids,partialName}",
            "Channels": f"{sp}/channels{{/id}}{{?skip,take,ids,partialName}}",
            "DeploymentProcesses": f"{sp}/deploymentprocesses{{/id}}{{?skip,take,ids}}",
            "Deployments": f"{sp}/deployments{{/id}}{{?skip,take,ids,projects,environments,tenants,channels,"
            "taskState,partialName}",
            "Environments": f"{sp}/environments{{/id}}{{?name,skip,ids,take,partialName}}",
            "Feeds": f"{sp}/feeds{{/id}}{{?skip,take,ids,partialName,feedType,name}}",
            "Interruptions": f"{sp}/interruptions{{/id}}{{?skip,take,regarding,pendingOnly,ids}}",
            "LibraryVariables": (
                f"{sp}/libraryvariablesets{{/id}}{{?skip,contentType,take,ids,partialName}}"
            ),
            "Lifecycles": f"{sp}/lifecycles{{/id}}{{?skip,take,ids,partialName}}",
            "MachinePolicies": f"{sp}/machinepolicies{{/id}}{{?skip,take,ids,partialName}}",
            "Machines": f"{sp}/machines{{/id}}{{?skip,take,name,ids,partialName,roles,isDisabled,"
            "healthStatuses,commStyles,tenantIds,tenantTags,environmentIds,thumbprint,deploymentId,shellNames}",
            "PackageUpload": f"{sp}/packages/raw{{?replace,overwriteMode}}",
            "Packages": f"{sp}/packages{{/id}}{{?nuGetPackageId,filter,latest,skip,take,includeNotes}}",
            "ProjectGroups": f"{sp}/projectgroups{{/id}}{{?skip,take,ids,partialName}}",
            "Projects": (
                f"{sp}/projects{{/id}}{{?name,skip,ids,clone,take,partialName,clonedFromProjectId}}"
            ),
            "ProjectTriggers": f"{sp}/projecttriggers{{/id}}{{?skip,take,ids,runbooks}}",
            "Releases": f"{sp}/releases{{/id}}{{?skip,take,ids,ignoreChannelRules}}",
            "Runbooks": f"{sp}/runbooks{{/id}}{{?skip,take,ids,partialName,clone,projectIds}}",
            "TagSets": f"{sp}/tagsets{{/id}}{{?skip,take,ids,partialName}}",
            "Tasks": f"{sp}/tasks{{/id}}{{?skip,active,environment,tenant,runbook,project,name,node,"
            "running,states,hasPendingInterruptions,hasWarningsOrErrors,take,ids,partialName}",
            "Tenants": f"{sp}/tenants{{/id}}{{?skip,projectId,name,tags,take,ids,clone,partialName,"
            "clonedFromTenantId}",
            "Variables": f"{sp}/variables{{/id}}{{?ids}}",
            "WorkerPools": f"{sp}/workerpools{{/id}}{{?skip,ids,take,partialName}}",
            "Workers": f"{sp}/workers{{/id}}{{?skip,take,name,ids,partialName,isDisabled,healthStatuses,"
            "commStyles,workerPoolIds,thumbprint,shellNames}",
        }
        if self.export_import_available:
            space_links.update(
                {
                    "ExportProjects": f"{sp}/projects/import-export/export",
                    "ImportProjects": f"{sp}/projects/import-export/import",
                    "ProjectImportFiles": f"{sp}/projects/import-export/import-files",
                    "ProjectImportPreview": f"{sp}/projects/import-export/import/preview",
                }
            )
        if space_id is not None:
            return {"Id": None, "LastModifiedOn": None, "LastModifiedBy": None, "Links": space_links}
        links = {
            "Self": "/api",
            "Authentication": "/api/authentication",
            "Configuration": "/api/configuration{/id}",
            "CertificateConfiguration": "/api/configuration/certificates{/id}",
            "CurrentUser": "/api/users/me",
            "FeaturesConfiguration": "/api/featuresconfiguration",
            "MaintenanceConfiguration": "/api/maintenanceconfiguration",
            "OctopusServerNodes": "/api/octopusservernodes{/id}{?skip,take,ids,partialName}",
            "OctopusServerClusterSummary": "/api/octopusservernodes/summary",
            "RetentionDefaultConfiguration": "/api/configuration/retention-default",
            "SpaceHome": "/api/{spaceId}",
            "Spaces": "/api/spaces{/id}{?skip,ids,take,partialName}",
            "Swagger": "/api/swagger.json",
            "TaskTypes": "/api/tasks/tasktypes",
            "ScopedUserRoles": "/api/scopeduserroles{/id}{?skip,take,ids,partialName,spaces,includeSystem}",
            "Teams": "/api/teams{/id}{?skip,take,ids,partialName,spaces,includeSystem}",
            "TeamMembership": "/api/teammembership{?userId,spaces,includeSystem}",
            "UserRoles": "/api/userroles{/id}{?skip,take,ids,partialName}",
            "Users": "/api/users{/id}{?skip,take,ids,filter}",
            "Web": "/app",
        }
        for provider in self._authentication()["AuthenticationProviders"]:
            if provider.get("IdentityType") == "OAuth":
                slug = str(provider["Name"]).replace(" ", "")
                links[f"Authenticate_{provider['Name']}"] = f"/users/authenticate/{slug}{{?returnUrl}}"
        links.update({k: v for k, v in space_links.items() if k != "Self"})
        return {
            "Application": "Octopus Deploy",
            "Version": self.config.version,
            "ApiVersion": "3.0.0",
            "InstallationId": self.installation_id,
            "IsEarlyAccessProgram": False,
            "HasLongTermSupport": not self.config.is_cloud,
            "Links": links,
        }

    def _authentication(self) -> Doc:
        doc = self.store.get("config", "authentication") or {"AuthenticationProviders": []}
        body = public(doc)
        body.setdefault("Links", {})
        return body

    # -- task effects ----------------------------------------------------------------------------

    def _export_effect(self, task: Doc) -> list[str]:
        payload = task["_Payload"]
        if payload.get("failure"):
            raise arc.ExportFailure(payload["failure"])
        pending = f"export-pending/{task['Id']}"
        src = self.store.blob_open(pending)
        if src is None:
            raise arc.ExportFailure("The export archive was lost when the server restarted.")
        with src:
            data = src.read()
        artifact = self.store.insert(
            "artifacts",
            {
                "SpaceId": task.get("SpaceId"),
                "Filename": payload["filename"],
                "Source": None,
                "ServerTaskId": task["Id"],
                "Created": iso(self.clock()),
                "LogCorrelationId": f"ServerTasks/{task['Id']}",
            },
            prefix="Artifacts",
        )
        self.store.blob_put(f"artifact/{artifact['Id']}", data)
        self.store.blob_delete(pending)
        return [
            f"Exported {len(payload['project_ids'])} project(s)",
            f"Attached artifact {payload['filename']} ({len(data)} bytes)",
        ]

    def _import_effect(self, task: Doc) -> list[str]:
        payload = task["_Payload"]
        if payload.get("failure"):
            raise arc.ImportFailure(payload["failure"])
        archive = self._passwords.pop(task["Id"], None)
        if archive is None:
            raise arc.ImportFailure(
                "The import was interrupted because the server restarted. Start it again."
            )
        return arc.apply_import(self.store, payload["space_id"], archive, cloud=self.config.is_cloud)

    def _deploy_effect(self, task: Doc) -> list[str]:
        """A deployment succeeds when every target it needs is healthy and enabled, as Octopus requires.

        The targets are those in the task's environment with any of the roles the project's steps
        target; none at all fails as Octopus does ("no deployment targets found in role").
        """
        payload = task["_Payload"]
        process = self.store.get("deploymentprocesses", payload.get("process_id", "")) or {}
        env = payload.get("environment_id")
        env_doc = self.store.get("environments", env or "") or {}
        env_name = env_doc.get("Name", env)
        machines = [m for m in self.store.all("machines") if env in (m.get("EnvironmentIds") or [])]
        log: list[str] = []
        for step in process.get("Steps") or []:
            props = step.get("Properties") or {}
            roles = [r for r in str(props.get("Octopus.Action.TargetRoles") or "").split(",") if r]
            if not roles:
                log.append(f"Step '{step.get('Name')}' runs on a worker or the server")
                continue
            targets = [m for m in machines if set(roles) & set(m.get("Roles") or [])]
            if not targets:
                raise RuntimeError(
                    f"Step '{step.get('Name')}': no deployment targets found in role(s) {', '.join(roles)} "
                    f"in the environment {env_name}."
                )
            for machine in targets:
                if machine.get("IsDisabled") or machine.get("HealthStatus") not in ("Healthy", "HasWarnings"):
                    raise RuntimeError(
                        f"The deployment target '{machine.get('Name')}' is unavailable "
                        f"({machine.get('HealthStatus') if not machine.get('IsDisabled') else 'disabled'}): "
                        f"step '{step.get('Name')}' cannot run on it."
                    )
                log.append(f"Step '{step.get('Name')}' on {machine.get('Name')}: success")
        log.append(f"Deployed {payload.get('release_version')} to {env_name}")
        return log


_SPACE_EXTRAS = frozenset(
    {
        "packages",
        "projecttriggers",
        "runbookprocesses",
        "interruptions",
        "events",
        "importfiles",
        "users",
        "build-information",
    }
)
_FAULT_MESSAGES = {
    429: "You have exceeded the rate limit. Please wait before making more requests.",
    500: "There was a problem with your request. (simulated server error)",
    502: "Bad gateway (simulated).",
    503: "The service is unavailable (simulated).",
    504: "Gateway timeout (simulated).",
}


def _ordered(coll: str, items: list[Doc]) -> list[Doc]:
    """Octopus's order for a list: by name for most named resources, by sort order for some."""
    if coll in ("projects", "projectgroups", "lifecycles", "feeds", "tenants", "users", "teams", "spaces"):
        return sorted(items, key=lambda d: str(d.get("Name") or d.get("Username") or "").lower())
    if coll in ("environments", "workerpools"):
        return sorted(items, key=lambda d: (d.get("SortOrder", 0), str(d.get("Name", "")).lower()))
    return items


def _query_ci(request: Request, name: str) -> str | None:
    for k, v in request.query_params.items():
        if k.lower() == name:
            return v
    return None


def _csv(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


class _Ctx:
    """One request being answered (keeps the handlers short)."""

    def __init__(
        self,
        inst: SimInstance,
        request: Request,
        method: str,
        segs: list[str],
        space_id: str | None,
        user: Doc,
        perms: set[str],
    ) -> None:
        self.inst = inst
        self.store = inst.store
        self.request = request
        self.method = method
        self.segs = segs
        self.space_id = space_id
        self.user = user
        self.perms = perms
        self.q = request.query_params

    # -- helpers ---------------------------------------------------------------------------------

    def need(self, *permissions: str) -> None:
        missing = [p for p in permissions if p not in self.perms]
        if missing:
            raise ApiError(
                403,
                f"You do not have permission to perform this action. Please contact your Octopus "
                f"administrator. Missing permission: {missing[0]}",
                [f"Missing permission: {m}" for m in missing],
            )

    def space(self) -> str:
        return self.space_id or self.inst.default_space()

    def json(self, body: Any, status: int = 200) -> Response:
        return self.inst._json(body, status)

    def render(self, coll: str, doc: Doc) -> Doc:
        return public(with_links(coll, doc, self.inst.config.version))

    async def body(self) -> Doc:
        try:
            data = await self.request.json()
        except (json.JSONDecodeError, ValueError) as exc:
            raise ApiError(
                400, "There was a problem with your request.", ["The request body is not valid JSON."]
            ) from exc
        if not isinstance(data, dict):
            raise ApiError(
                400, "There was a problem with your request.", ["The request body must be a JSON object."]
            )
        return data

    def page(
        self, coll: str, items: list[Doc], item_type: str | None = None, default_take: int = 30
    ) -> Response:
        skip = _int(self.q.get("skip"), 0)
        take = _int(self.q.get("take"), default_take)
        if skip < 0 or take < 0:
            raise ApiError(
                400, "There was a problem with your request.", ["skip and take must not be negative."]
            )
        total = len(items)
        chunk = items[skip : skip + take] if take else []
        pages = math.ceil(total / take) if take else 0
        path = self.request.url.path
        others = [(k, v) for k, v in self.q.multi_items() if k.lower() not in ("skip", "take", "apikey")]

        def link(s: int, t: int) -> str:
            return f"{path}?{urlencode([('skip', str(s)), *others, ('take', str(t))])}"

        links = {
            "Self": link(skip, take),
            "Template": f"{path}{{?skip,take,ids,partialName}}",
            "Page.All": link(0, ALL_TAKE),
            "Page.Current": link(skip, take),
            "Page.Last": link(max(0, (pages - 1) * take), take),
        }
        if take and skip + take < total:
            links["Page.Next"] = link(skip + take, take)
        if skip > 0 and take:
            links["Page.Previous"] = link(max(0, skip - take), take)
        head = json.dumps(
            {
                "ItemType": item_type or COLLECTIONS[coll].item_type,
                "TotalResults": total,
                "ItemsPerPage": take,
                "NumberOfPages": pages,
                "LastPageNumber": max(0, pages - 1),
            },
            separators=(",", ":"),
        )
        items_json = ",".join(self.inst.rendered_json(coll, d) for d in chunk)
        text = f'{head[:-1]},"Items":[{items_json}],"Links":{json.dumps(links, separators=(",", ":"))}}}'
        return Response(text, media_type="application/json")

    def in_space(self, coll: str) -> list[Doc]:
        if not COLLECTIONS[coll].scoped:
            return self.store.all(coll)
        return self.inst.listing(coll, self.space())

    def filtered(self, coll: str, items: list[Doc]) -> list[Doc]:
        if not any(self.q.get(k) for k in ("ids", "partialName", "name")):
            return self.inst.sorted_listing(coll, self.space() if COLLECTIONS[coll].scoped else None, items)
        ids = _csv(self.q.get("ids"))
        if ids:
            wanted = {i.lower() for i in ids}
            items = [d for d in items if d["Id"].lower() in wanted]
        partial = self.q.get("partialName")
        if partial:
            items = [d for d in items if partial.lower() in str(d.get("Name", "")).lower()]
        name = self.q.get("name")
        if name:
            items = [d for d in items if str(d.get("Name", "")).lower() == name.lower()]
        return _ordered(coll, items)

    def find(self, coll: str, id_or_slug: str) -> Doc:
        doc = self.store.get(coll, id_or_slug)
        if doc is None and COLLECTIONS.get(coll, COLLECTIONS["projects"]).slug:
            doc = self.store.first(
                coll,
                lambda d: (
                    str(d.get("Slug", "")).lower() == id_or_slug.lower()
                    and (not COLLECTIONS[coll].scoped or d.get("SpaceId") == self.space())
                ),
            )
        if doc is None or (
            coll in COLLECTIONS
            and COLLECTIONS[coll].scoped
            and self.space_id
            and doc.get("SpaceId") not in (self.space_id, None)
        ):
            raise ApiError(
                404,
                f"The {COLLECTIONS[coll].item_type if coll in COLLECTIONS else coll} "
                f"'{id_or_slug}' was not found.",
            )
        return doc

    def view(self, coll: str) -> None:
        noun = _NOUN.get(coll)
        if noun and noun not in ("Space", "User", "Team", "UserRole"):
            self.need(f"{noun}View")

    # -- dispatch --------------------------------------------------------------------------------

    async def dispatch(self) -> Response:
        segs = self.segs
        head = segs[0].lower()
        handler = getattr(self, f"h_{head.replace('-', '_')}", None)
        if handler is not None:
            result: Response = await handler(segs[1:])
            return result
        if head in COLLECTIONS:
            return await self.generic(head, segs[1:])
        raise ApiError(404, f"The resource '/api/{'/'.join(segs)}' was not found.")

    async def generic(self, coll: str, rest: list[str]) -> Response:
        c = COLLECTIONS[coll]
        m = self.method
        if not rest:
            if m == "GET":
                self.view(coll)
                return self.page(coll, self.filtered(coll, self.in_space(coll)))
            if m == "POST":
                return await self.create(coll, await self.body())
        elif rest[0].lower() == "all" and len(rest) == 1 and m == "GET":
            if not c.has_all:
                raise ApiError(404, f"The resource '/api/{coll}/all' was not found.")
            self.view(coll)
            return self.json([self.render(coll, d) for d in self.filtered(coll, self.in_space(coll))])
        elif len(rest) == 1:
            doc = self.find(coll, rest[0])
            if m == "GET":
                self.view(coll)
                return self.json(self.render(coll, doc))
            if m == "PUT":
                return await self.update(coll, doc, await self.body())
            if m == "DELETE":
                noun = _NOUN.get(coll, "Project")
                self.need(f"{noun}Delete" if coll not in _EDIT_VERB else f"{noun}Edit")
                self.store.delete(coll, doc["Id"])
                return Response(status_code=200)
        raise ApiError(
            405 if len(rest) <= 1 else 404,
            f"The resource '/api/{coll}/{'/'.join(rest)}' does not answer {m}.",
        )

    async def create(self, coll: str, body: Doc) -> Response:
        noun = _NOUN.get(coll, "Project")
        self.need(f"{noun}{_EDIT_VERB.get(coll, 'Create')}")
        body = {k: v for k, v in body.items() if k not in ("Links", "Id") and not k.startswith("_")}
        name = body.get("Name")
        if coll not in ("releases", "deployments", "variables") and not name:
            raise ApiError(
                400, "There was a problem with your request.", [f"The {noun.lower()} name is required."]
            )
        if COLLECTIONS[coll].scoped:
            body["SpaceId"] = self.space()
            if (
                name
                and coll not in ("releases", "deployments")
                and self.store.first(
                    coll,
                    lambda d: (
                        d.get("SpaceId") == body["SpaceId"]
                        and str(d.get("Name", "")).lower() == str(name).lower()
                        and (coll != "channels" or d.get("ProjectId") == body.get("ProjectId"))
                        and (coll != "projecttriggers" or d.get("ProjectId") == body.get("ProjectId"))
                    ),
                )
            ):
                raise ApiError(
                    400,
                    "There was a problem with your request.",
                    [f"The name '{name}' is already in use by another {noun.lower()}."],
                )
        if coll in (
            "projects",
            "environments",
            "lifecycles",
            "projectgroups",
            "tenants",
            "feeds",
            "workerpools",
            "machines",
            "accounts",
            "runbooks",
            "spaces",
        ):
            body.setdefault("Slug", re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-"))
        if coll in ("machines", "workers"):
            self._validate_machine(body, worker=coll == "workers")
        if coll == "projecttriggers":
            self._validate_trigger(body)
        prefix = COLLECTIONS[coll].prefix
        doc = self.store.insert(coll, body, prefix=prefix)
        if coll == "projects":
            self._new_project_parts(doc)
        return self.json(self.render(coll, doc), 201)

    def _validate_machine(self, body: Doc, *, worker: bool = False) -> None:
        """Octopus's checks on a new target or worker, per endpoint kind (cutover doc §B.3)."""
        endpoint = body.get("Endpoint") or body.get("EndPoint") or {}
        body["Endpoint"] = endpoint
        body.pop("EndPoint", None)
        style = endpoint.get("CommunicationStyle")
        errors: list[str] = []

        def exists(coll: str, value: Any, noun: str) -> Doc | None:
            doc = self.store.get(coll, value) if value else None
            if value and doc is None:
                errors.append(f"The {noun} '{value}' was not found.")
            return doc

        def account(value: Any, allowed: tuple[str, ...], what: str) -> None:
            if not value:
                errors.append(f"{what} needs an account.")
                return
            doc = exists("accounts", value, "account")
            if doc is not None and allowed and doc.get("AccountType") not in allowed:
                errors.append(
                    f"The account '{doc.get('Name')}' is a {doc.get('AccountType')} account; {what} needs "
                    f"one of: {', '.join(allowed)}."
                )

        if not style:
            errors.append("The endpoint's communication style is required.")
        if style in ("TentaclePassive", "TentacleActive") and not endpoint.get("Thumbprint"):
            errors.append("A Tentacle thumbprint is required.")
        if style in ("TentaclePassive", "TentacleActive") and not endpoint.get("Uri"):
            errors.append("The Tentacle's URI is required.")
        if style == "Ssh":
            for key in ("Host", "Port", "Fingerprint"):
                if not endpoint.get(key):
                    errors.append(f"An SSH endpoint needs its {key}.")
            account(endpoint.get("AccountId"), ("SshKeyPair", "UsernamePassword"), "An SSH endpoint")
        if style == "Kubernetes":
            if not endpoint.get("ClusterUrl"):
                errors.append("The Kubernetes cluster URL is required.")
            auth = endpoint.get("Authentication") or {}
            kind = auth.get("AuthenticationType")
            if not kind:
                errors.append("The Kubernetes authentication is required.")
            elif kind == "KubernetesCertificate":
                exists("certificates", auth.get("ClientCertificate"), "certificate")
            elif kind != "KubernetesPodService":
                account(auth.get("AccountId"), (), "The Kubernetes authentication")
            exists("certificates", endpoint.get("ClusterCertificate"), "certificate")
            exists("feeds", (endpoint.get("Container") or {}).get("FeedId"), "feed")
        if style == "AzureWebApp":
            account(endpoint.get("AccountId"), (), "An Azure Web App")
            for key in ("WebAppName", "ResourceGroupName"):
                if not endpoint.get(key):
                    errors.append(f"An Azure Web App needs its {key}.")
        if style == "OfflineDrop" and not (endpoint.get("Destination") or {}).get("DestinationType"):
            errors.append("An offline package drop needs a destination.")
        if style == "StepPackage":
            package = endpoint.get("StepPackageId")
            if package not in self.inst.installed_step_packages:
                errors.append(
                    f"The step package '{package}' that defines this deployment target type is not "
                    "installed on this instance."
                )
        exists("workerpools", endpoint.get("DefaultWorkerPoolId"), "worker pool")
        exists("machinepolicies", body.get("MachinePolicyId"), "machine policy")
        if worker:
            if not body.get("WorkerPoolIds"):
                errors.append("Please specify at least one worker pool.")
            for pool_id in body.get("WorkerPoolIds") or []:
                pool = exists("workerpools", pool_id, "worker pool")
                if pool is not None and pool.get("WorkerPoolType") == "DynamicWorkerPool":
                    errors.append(f"Workers cannot be added to the dynamic worker pool '{pool.get('Name')}'.")
        else:
            if not body.get("EnvironmentIds"):
                errors.append("Please specify at least one environment.")
            for env in body.get("EnvironmentIds") or []:
                exists("environments", env, "environment")
            for tenant in body.get("TenantIds") or []:
                exists("tenants", tenant, "tenant")
        if errors:
            raise ApiError(400, "There was a problem with your request.", errors)
        body.setdefault("HealthStatus", "Unknown")
        body.setdefault("Status", "Unknown")
        body.setdefault("IsDisabled", False)
        if not worker:
            body.setdefault("Roles", [])
            body.setdefault("TenantIds", [])
            body.setdefault("TenantTags", [])
        if style in ("TentaclePassive", "TentacleActive"):
            body["Thumbprint"] = endpoint.get("Thumbprint")
            body["Uri"] = endpoint.get("Uri")

    def _validate_trigger(self, body: Doc) -> None:
        errors = []
        if not body.get("ProjectId") or self.store.get("projects", body["ProjectId"]) is None:
            errors.append("The trigger's project was not found.")
        filt, action = body.get("Filter") or {}, body.get("Action") or {}
        if not filt.get("FilterType"):
            errors.append("The trigger filter type is required.")
        if not action.get("ActionType"):
            errors.append("The trigger action type is required.")
        # DeployNewRelease names one ``EnvironmentId``; DeployLatestRelease ``SourceEnvironmentIds``.
        envs = [*(filt.get("EnvironmentIds") or []), *(action.get("EnvironmentIds") or [])]
        envs += [*(action.get("SourceEnvironmentIds") or []), action.get("EnvironmentId")]
        for env in envs:
            if env and self.store.get("environments", env) is None:
                errors.append(f"The environment '{env}' was not found.")
        for key in ("RunbookId", "ChannelId", "SourceEnvironmentId", "DestinationEnvironmentId"):
            value = action.get(key)
            coll = {"RunbookId": "runbooks", "ChannelId": "channels"}.get(key, "environments")
            if value and self.store.get(coll, value) is None:
                noun = "environment" if coll == "environments" else key[:-2].lower()
                errors.append(f"The {noun} '{value}' was not found.")
        if errors:
            raise ApiError(400, "There was a problem with your request.", errors)

    def _new_project_parts(self, project: Doc) -> None:
        pid, sid = project["Id"], project["SpaceId"]
        project.setdefault("DeploymentProcessId", f"deploymentprocess-{pid}")
        project.setdefault("VariableSetId", f"variableset-{pid}")
        project.setdefault("IsDisabled", False)
        project.setdefault("IncludedLibraryVariableSetIds", [])
        self.store.put("projects", project)
        if self.store.get("deploymentprocesses", project["DeploymentProcessId"]) is None:
            self.store.put(
                "deploymentprocesses",
                {
                    "Id": project["DeploymentProcessId"],
                    "SpaceId": sid,
                    "ProjectId": pid,
                    "Version": 0,
                    "Steps": [],
                    "LastSnapshotId": None,
                },
            )
        if self.store.get("variables", project["VariableSetId"]) is None:
            self.store.put(
                "variables",
                {
                    "Id": project["VariableSetId"],
                    "SpaceId": sid,
                    "OwnerId": pid,
                    "Version": 0,
                    "Variables": [],
                    "ScopeValues": {},
                },
            )
        self.store.insert(
            "channels",
            {
                "SpaceId": sid,
                "ProjectId": pid,
                "Name": "Default",
                "IsDefault": True,
                "LifecycleId": None,
                "Rules": [],
                "TenantTags": [],
                "Description": "",
            },
            prefix="Channels",
        )

    async def update(self, coll: str, doc: Doc, body: Doc) -> Response:
        noun = _NOUN.get(coll, "Project")
        self.need(f"{noun}Edit")
        new = {k: v for k, v in body.items() if k != "Links" and not k.startswith("_")}
        new["Id"] = doc["Id"]
        if "SpaceId" in doc:
            new["SpaceId"] = doc["SpaceId"]
        if coll in ("projects", "environments", "machines", "workerpools", "feeds") and not new.get("Name"):
            raise ApiError(
                400, "There was a problem with your request.", [f"The {noun.lower()} name is required."]
            )
        for k, v in doc.items():
            if k.startswith("_"):
                new[k] = v
        if coll in ("variables",):
            new["Version"] = int(doc.get("Version", 0)) + 1
            old = {v.get("Id"): v for v in doc.get("Variables") or []}
            for var in new.get("Variables") or []:
                prev = old.get(var.get("Id"))
                if var.get("IsSensitive") and var.get("Value") is None and prev is not None:
                    var["_SensitiveValue"] = prev.get("_SensitiveValue")
                elif var.get("IsSensitive"):
                    var["_SensitiveValue"] = var.get("Value")
                    var["Value"] = None
        self.store.put(coll, new)
        return self.json(self.render(coll, new))

    # -- specific endpoints ----------------------------------------------------------------------

    async def h_users(self, rest: list[str]) -> Response:
        if rest and rest[0].lower() == "me":
            return self.json(self.render("users", self.user))
        if len(rest) >= 2:
            target = self.find("users", rest[0])
            sub = rest[1].lower()
            # ``permissions/export`` is a CSV download in Octopus; the simulator does not offer it.
            if sub == "permissions" and [r.lower() for r in rest[2:]] in ([], ["configuration"]):
                if target["Id"] != self.user["Id"]:
                    self.need("UserView")
                return self.json(self._permission_set(target, configuration=len(rest) > 2))
            if sub == "teams":
                return self.json(self._teams_of(target))
            if sub == "spaces":
                return self.json([self.render("spaces", s) for s in self.store.all("spaces")])
            if sub == "apikeys":
                raise ApiError(403, "API keys can only be listed by their owner in the web portal.")
        if rest and rest[0].lower() == "authentication":
            return self.json(
                {
                    "AuthenticationProviders": self.inst._authentication()["AuthenticationProviders"],
                    "CanCurrentUserEditIdentitiesForUser": "AdministerSystem" in self.perms,
                }
            )
        self.need("UserView")
        return await self.generic("users", rest)

    def _permission_set(self, user: Doc, configuration: bool = False) -> Doc:
        system, space = role_permissions(str(user.get("_Role", "none")))
        spaces = [s["Id"] for s in self.store.all("spaces")]
        restriction = [
            {
                "SpaceId": s,
                "RestrictedToEnvironmentIds": [],
                "RestrictedToProjectIds": [],
                "RestrictedToProjectGroupIds": [],
                "RestrictedToTenantIds": [],
            }
            for s in spaces
        ]
        return {
            "Id": None,
            "SystemPermissions": sorted(system),
            "SpacePermissions": {p: restriction for p in sorted(space)},
            "Teams": self._teams_of(user),
            "IsTeamsComplete": True,
            "IsPermissionsComplete": True,
            "Links": {"Self": f"/api/users/{user['Id']}/permissions"},
        }

    def _teams_of(self, user: Doc) -> list[Doc]:
        return [
            {
                "Id": t["Id"],
                "Name": t.get("Name"),
                "SpaceId": t.get("SpaceId"),
                "IsDirectlyAssigned": True,
                "ExternalSecurityGroups": t.get("ExternalSecurityGroups", []),
            }
            for t in self.store.all("teams")
            if user["Id"] in (t.get("MemberUserIds") or []) or t["Id"] == "teams-everyone"
        ]

    async def h_maintenanceconfiguration(self, rest: list[str]) -> Response:
        doc = self.store.get("config", "maintenance") or {"Id": "maintenance", "IsInMaintenanceMode": False}
        if self.method == "PUT":
            self.need("AdministerSystem")
            body = await self.body()
            doc = {**doc, "IsInMaintenanceMode": bool(body.get("IsInMaintenanceMode"))}
            self.store.put("config", doc)
        out = public(doc)
        out["Id"] = "maintenance"
        out["Links"] = {"Self": "/api/maintenanceconfiguration"}
        return self.json(out)

    async def h_featuresconfiguration(self, rest: list[str]) -> Response:
        doc = self.store.get("config", "features") or {"Id": "features", "IsBuiltInWorkerEnabled": False}
        if self.method == "PUT":
            self.need("ConfigureServer")
            body = await self.body()
            doc = {**doc, **{k: v for k, v in body.items() if k not in ("Id", "Links")}}
            self.store.put("config", doc)
        out = public(doc)
        out["Id"] = "features"
        out["Links"] = {"Self": "/api/featuresconfiguration"}
        return self.json(out)

    async def h_configuration(self, rest: list[str]) -> Response:
        if rest == ["certificates", "certificate-global"]:
            doc = self.store.get("config", "certificate-global") or {"Thumbprint": "0" * 40}
            return self.json(
                {
                    "Id": "certificate-global",
                    "Name": "Octopus Server",
                    **public(doc),
                    "Links": {"Self": "/api/configuration/certificates/certificate-global"},
                }
            )
        if rest[:1] == ["retention-default"]:
            days = 30 if self.inst.config.is_cloud else 0
            return self.json({"Id": "retention-default", "RetentionDays": days, "Links": {}})
        self.need("ConfigureServer")
        sections = self.store.all("configuration")
        if not rest:
            items = [
                {
                    "Id": s["Id"],
                    "Name": s.get("Name"),
                    "Description": s.get("Description"),
                    "Links": {
                        "Self": f"/api/configuration/{s['Id']}",
                        "Values": f"/api/configuration/{s['Id']}/values",
                    },
                }
                for s in sections
            ]
            return self.page("spaces", items, item_type="ConfigurationSectionMetadata")
        section = self.store.get("configuration", rest[0])
        if section is None:
            raise ApiError(404, f"The configuration section '{rest[0]}' was not found.")
        if len(rest) > 1 and rest[1].lower() == "values":
            if self.method == "PUT":
                self.need("AdministerSystem")
                body = await self.body()
                section = {**section, "_Values": {**section.get("_Values", {}), **body}}
                self.store.put("configuration", section)
            return self.json({"Id": section["Id"], **section.get("_Values", {}), "Links": {}})
        return self.json(
            {
                "Id": section["Id"],
                "Name": section.get("Name"),
                "Description": section.get("Description"),
                "Links": {
                    "Self": f"/api/configuration/{section['Id']}",
                    "Values": f"/api/configuration/{section['Id']}/values",
                },
            }
        )

    async def h_octopusservernodes(self, rest: list[str]) -> Response:
        if rest and rest[0].lower() == "summary":
            running = sum(1 for t in self.store.all("tasks") if t.get("State") == "Executing")
            return self.json(
                {
                    "Nodes": [
                        {
                            "Id": n["Id"],
                            "Name": n.get("Name"),
                            "MaxConcurrentTasks": n.get("MaxConcurrentTasks"),
                            "IsInMaintenanceMode": n.get("IsInMaintenanceMode", False),
                            "LastSeen": iso(self.inst.clock()),
                            "IsOffline": False,
                            "RunningTaskCount": running,
                            "Links": {"Node": f"/api/octopusservernodes/{n['Id']}"},
                        }
                        for n in self.store.all("octopusservernodes")
                    ],
                    "Links": {},
                }
            )
        if len(rest) == 2 and rest[1].lower() == "details":
            node = self.find("octopusservernodes", rest[0])
            # OctopusServerNodeDetailsResource: RunningTasks is a count (int32), not a list.
            return self.json(
                {
                    "Id": node["Id"],
                    "RunningTasks": sum(1 for t in self.store.all("tasks") if t.get("State") == "Executing"),
                    "Links": {"Self": f"/api/octopusservernodes/{node['Id']}/details"},
                }
            )
        if len(rest) == 1 and self.method == "PUT":
            self.need("AdministerSystem")
            node = self.find("octopusservernodes", rest[0])
            body = await self.body()
            cap = body.get("MaxConcurrentTasks", node.get("MaxConcurrentTasks"))
            if not isinstance(cap, int) or cap < 0:
                raise ApiError(
                    400, "There was a problem with your request.", ["The task cap must be 0 or more."]
                )
            node = {
                **node,
                "MaxConcurrentTasks": cap,
                "IsInMaintenanceMode": bool(body.get("IsInMaintenanceMode", node.get("IsInMaintenanceMode"))),
            }
            self.store.put("octopusservernodes", node)
            return self.json(self.render("octopusservernodes", node))
        return await self.generic("octopusservernodes", rest)

    async def h_tasks(self, rest: list[str]) -> Response:
        if not rest:
            if self.method == "POST":
                return await self._create_task(await self.body())
            self.need("TaskView")
            items = list(reversed(self.store.all("tasks")))
            if self.space_id:
                items = [t for t in items if t.get("SpaceId") in (self.space_id, None)]
            states = {s.lower() for s in _csv(self.q.get("states"))}
            if states:
                items = [t for t in items if t["State"].lower() in states]
            if self.q.get("name"):
                items = [t for t in items if t["Name"] == self.q.get("name")]
            if self.q.get("active", "").lower() == "true":
                items = [t for t in items if not t["IsCompleted"]]
            if self.q.get("running", "").lower() == "true":
                items = [t for t in items if t["State"] == "Executing"]
            ids = _csv(self.q.get("ids"))
            if ids:
                wanted = {i.lower() for i in ids}
                items = [t for t in items if t["Id"].lower() in wanted]
            return self.page("tasks", items)
        if rest[0].lower() == "tasktypes":
            return self.json(
                [
                    {"Id": n, "Name": n, "Description": n}
                    for n in (
                        "AdHocScript",
                        "Deploy",
                        "ExportProjects",
                        "ImportProjects",
                        "Health",
                        "RunbookRun",
                    )
                ]
            )
        if rest[0].lower() == "rerun":
            raise ApiError(400, "There was a problem with your request.", ["This task cannot be rerun."])
        task = self.find("tasks", rest[0])
        sub = rest[1].lower() if len(rest) > 1 else ""
        if sub == "" and self.method == "GET":
            self.need("TaskView")
            return self.json(self.render("tasks", task))
        if sub == "details":
            self.need("TaskView")
            tail = self.q.get("tail")
            details = self.inst.tasks.details(
                task, int(tail) if tail and tail.lstrip("-").isdigit() else None
            )
            details["Task"] = self.render("tasks", details["Task"])
            details["Links"] = {"Self": f"/api/tasks/{task['Id']}/details"}
            return self.json(details)
        if sub == "raw":
            self.need("TaskView")
            return Response("\n".join(task.get("_Log") or []), media_type="text/plain")
        if sub == "cancel" and self.method == "POST":
            self.need("TaskCancel")
            with self.inst._lock:
                done = self.inst.tasks.cancel(task["Id"])
            return self.json(self.render("tasks", done or task))
        raise ApiError(404, f"The resource '/api/tasks/{'/'.join(rest)}' was not found.")

    async def _create_task(self, body: Doc) -> Response:
        self.need("TaskCreate")
        name = body.get("Name")
        args = body.get("Arguments") or {}
        if name == "Health":
            # Health checks (cutover doc F.1): MachineIds / EnvironmentId / WorkerpoolId / Timeout.
            task = self.inst.tasks.create(
                "Health",
                body.get("Description") or "Check deployment target health",
                space_id=body.get("SpaceId") or self.space(),
                arguments=args,
                kind="health",
                log=["Checking the health of the chosen machines"],
            )
            return self.json(self.render("tasks", task), 201)
        if name != "AdHocScript":
            raise ApiError(
                400,
                "There was a problem with your request.",
                [f"The simulator only creates AdHocScript and Health tasks, not '{name}'."],
            )
        if not args.get("ScriptBody"):
            raise ApiError(400, "There was a problem with your request.", ["A script body is required."])
        if args.get("TargetType") == "OctopusServer" and self.inst.config.is_cloud:
            raise ApiError(
                400,
                "There was a problem with your request.",
                ["Scripts cannot run on the Octopus Server in Octopus Cloud."],
            )
        machines = args.get("MachineIds") or []
        task = self.inst.tasks.create(
            "AdHocScript",
            body.get("Description") or "Script run from management console",
            space_id=body.get("SpaceId") or self.space(),
            arguments=args,
            kind="adhoc",
            log=[f"Running a {args.get('Syntax', 'PowerShell')} script on {len(machines)} machine(s)"],
        )
        return self.json(self.render("tasks", task), 201)

    async def h_interruptions(self, rest: list[str]) -> Response:
        return self.page("tasks", [], item_type="Interruption")

    async def h_artifacts(self, rest: list[str]) -> Response:
        self.need("ArtifactView")
        if not rest:
            items = self.in_space("artifacts")
            regarding = self.q.get("regarding")
            if regarding:
                items = [a for a in items if a.get("ServerTaskId") == regarding]
            return self.page("artifacts", self.filtered("artifacts", items))
        art = self.find("artifacts", rest[0])
        if len(rest) > 1 and rest[1].lower() == "content":
            return self.stream_blob(f"artifact/{art['Id']}", "application/zip", art.get("Filename"))
        return self.json(self.render("artifacts", art))

    def stream_blob(self, key: str, media_type: str, filename: str | None = None) -> Response:
        size = self.store.blob_size(key)
        f = self.store.blob_open(key)
        if f is None or size is None:
            raise ApiError(404, "The file content was not found.")

        async def chunks() -> AsyncIterator[bytes]:
            with f:
                while True:
                    block = f.read(1 << 20)
                    if not block:
                        break
                    yield block

        headers = {"Content-Length": str(size)}
        if filename:
            headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return StreamingResponse(chunks(), media_type=media_type, headers=headers)

    # projects and their sub-resources

    async def h_projects(self, rest: list[str]) -> Response:
        if rest and rest[0].lower() == "import-export":
            return await self.import_export(rest[1:])
        if len(rest) >= 2:
            project = self.find("projects", rest[0])
            sub = rest[1].lower()
            pid = project["Id"]
            if sub == "channels":
                self.need("ProjectView")
                return self.page(
                    "channels", [c for c in self.store.all("channels") if c.get("ProjectId") == pid]
                )
            if sub == "releases":
                self.need("ReleaseView")
                releases = [r for r in reversed(self.store.all("releases")) if r.get("ProjectId") == pid]
                if len(rest) > 2:
                    match = next((r for r in releases if r.get("Version") == rest[2]), None)
                    if match is None:
                        raise ApiError(404, f"The release '{rest[2]}' was not found.")
                    return self.json(self.render("releases", match))
                return self.page("releases", releases)
            if sub == "triggers":
                if self.method == "POST":
                    body = await self.body()
                    body["ProjectId"] = pid
                    return await self.create("projecttriggers", body)
                self.need("TriggerView")
                return self.page(
                    "projecttriggers",
                    [t for t in self.store.all("projecttriggers") if t.get("ProjectId") == pid],
                )
            if sub == "deploymentprocesses":
                doc = self.find("deploymentprocesses", project.get("DeploymentProcessId", ""))
                if self.method == "PUT":
                    return await self.update("deploymentprocesses", doc, await self.body())
                self.need("ProcessView")
                return self.json(self.render("deploymentprocesses", doc))
            if sub == "runbooks":
                self.need("RunbookView")
                return self.page(
                    "runbooks", [r for r in self.store.all("runbooks") if r.get("ProjectId") == pid]
                )
            if sub == "logo":
                return await self.logo(project)
            if sub == "summary":
                return self.json(
                    {
                        "HasBeenSuccessfullyDeployed": any(
                            d.get("ProjectId") == pid for d in self.store.all("deployments")
                        ),
                        "HasDeploymentProcess": True,
                        "HasRunbooks": any(r.get("ProjectId") == pid for r in self.store.all("runbooks")),
                    }
                )
            if sub == "variables":
                return self.json(
                    self.render("variables", self.find("variables", project.get("VariableSetId", "")))
                )
        return await self.generic("projects", rest)

    async def logo(self, project: Doc) -> Response:
        key = f"logo/{project['Id']}"
        if self.method == "GET":
            self.need("ProjectView")
            if self.store.blob_size(key) is None:
                return Response(_DEFAULT_LOGO, media_type="image/png")
            return self.stream_blob(key, "image/png")
        self.need("ProjectEdit")
        form = await self.request.form()
        upload = form.get("fileData")
        if not isinstance(upload, UploadFile):
            raise ApiError(
                400, "There was a problem with your request.", ["No file was uploaded as fileData."]
            )
        data = await upload.read()
        if not data:
            raise ApiError(400, "There was a problem with your request.", ["The uploaded logo is empty."])
        self.store.blob_put(key, data)
        updated = {**project, "_LogoStamp": hashlib.sha1(data).hexdigest()[:12]}
        self.store.put("projects", updated)
        return self.json({})

    async def import_export(self, rest: list[str]) -> Response:
        if not self.inst.export_import_available:
            raise ApiError(404, "The resource you requested was not found.")
        sub = "/".join(r.lower() for r in rest)
        if sub == "export" and self.method == "POST":
            self.need(*permissions.EXPORT)
            body = await self.body()
            ids = body.get("IncludedProjectIds") or []
            password = _password(body)
            if not ids:
                raise ApiError(
                    400, "There was a problem with your request.", ["At least one project must be selected."]
                )
            for pid in ids:
                self.find("projects", pid)
            failure = None
            filename = "Octopus-Export.zip"
            try:
                filename, data = arc.build_export(
                    self.store, self.space(), list(ids), password, self.inst.config.version
                )
            except arc.ExportFailure as exc:
                failure, data = str(exc), b""
            task = self.inst.tasks.create(
                "ExportProjects",
                f"Export projects: {len(ids)} project(s)",
                space_id=self.space(),
                arguments={"ProjectIds": ids},
                kind="export",
                payload={"project_ids": ids, "filename": filename, "failure": failure},
                log=[f"Exporting {len(ids)} project(s)"],
            )
            if data:
                self.store.blob_put(f"export-pending/{task['Id']}", data)
            return self.json({"TaskId": task["Id"], "ProjectIds": ids}, 200)
        if sub == "import-files":
            if self.method == "GET":
                files = [
                    {"Id": f["Id"], "FileName": f["FileName"]}
                    for f in self.store.all("importfiles")
                    if f.get("SpaceId") == self.space()
                ]
                return self.json({"ProjectImportFiles": files})
            if self.method == "POST":
                self.need(*permissions.IMPORT)
                form = await self.request.form(max_files=1)
                upload = form.get("fileData")
                if not isinstance(upload, UploadFile):
                    raise ApiError(
                        400, "There was a problem with your request.", ["No file was uploaded as fileData."]
                    )
                doc = self.store.insert(
                    "importfiles",
                    {"SpaceId": self.space(), "FileName": upload.filename or "export.zip"},
                    prefix="ProjectImportFiles",
                )
                with self.store.blob_writer(f"importfile/{doc['Id']}") as out:
                    while block := await upload.read(1 << 20):
                        out.write(block)
                return self.json({"Id": doc["Id"], "FileName": doc["FileName"]}, 200)
        if sub in ("import/preview", "import") and self.method == "POST":
            self.need(*permissions.IMPORT)
            body = await self.body()
            password = _password(body)
            source = body.get("ImportSource") or {}
            data = self._import_source(source)
            try:
                archive = arc.read_archive(data, password)
            except arc.ArchiveError as exc:
                if sub == "import/preview":
                    raise ApiError(400, "There was a problem with your request.", [str(exc)]) from exc
                task = self.inst.tasks.create(
                    "ImportProjects",
                    "Import projects",
                    space_id=self.space(),
                    kind="import",
                    payload={"failure": str(exc), "space_id": self.space()},
                    log=["Reading the export archive"],
                )
                return self.json({"TaskId": task["Id"]})
            if sub == "import/preview":
                return self.json(arc.preview_import(self.store, self.space(), archive))
            task = self.inst.tasks.create(
                "ImportProjects",
                f"Import projects: {len(archive.of_type('Project'))} project(s)",
                space_id=self.space(),
                kind="import",
                payload={"space_id": self.space()},
                arguments={"ImportSource": {k: v for k, v in source.items()}},
                log=["Reading the export archive"],
            )
            self.inst._passwords[task["Id"]] = archive
            return self.json({"TaskId": task["Id"]})
        raise ApiError(404, f"The resource '/api/projects/import-export/{sub}' was not found.")

    def _import_source(self, source: Doc) -> bytes:
        kind = str(source.get("Type", "")).lower()
        if kind == "upload":
            ref = str(source.get("UploadedFileId") or "")
            doc = self.store.get("importfiles", ref) or self.store.first(
                "importfiles", lambda d: d.get("FileName") == ref
            )
            if doc is None:
                raise ApiError(
                    400,
                    "There was a problem with your request.",
                    [f"The uploaded file '{ref}' was not found."],
                )
            key = f"importfile/{doc['Id']}"
        elif kind == "space":
            artifact = self.store.first("artifacts", lambda a: a.get("ServerTaskId") == source.get("TaskId"))
            if artifact is None:
                raise ApiError(
                    400,
                    "There was a problem with your request.",
                    [f"The export task '{source.get('TaskId')}' has no archive."],
                )
            key = f"artifact/{artifact['Id']}"
        else:
            raise ApiError(
                400,
                "There was a problem with your request.",
                ["The import source type must be 'upload' or 'space'."],
            )
        f = self.store.blob_open(key)
        if f is None:
            raise ApiError(
                400, "There was a problem with your request.", ["The uploaded file has no content."]
            )
        with f:
            return f.read()

    async def h_projectgroups(self, rest: list[str]) -> Response:
        if len(rest) == 2 and rest[1].lower() == "projects":
            group = self.find("projectgroups", rest[0])
            self.need("ProjectView")
            return self.page(
                "projects",
                self.filtered(
                    "projects",
                    [p for p in self.store.all("projects") if p.get("ProjectGroupId") == group["Id"]],
                ),
            )
        return await self.generic("projectgroups", rest)

    async def h_channels(self, rest: list[str]) -> Response:
        if len(rest) == 2 and rest[1].lower() == "releases":
            ch = self.find("channels", rest[0])
            self.need("ReleaseView")
            return self.page(
                "releases",
                [r for r in reversed(self.store.all("releases")) if r.get("ChannelId") == ch["Id"]],
            )
        return await self.generic("channels", rest)

    async def h_releases(self, rest: list[str]) -> Response:
        if len(rest) == 2 and rest[1].lower() == "deployments":
            rel = self.find("releases", rest[0])
            self.need("DeploymentView")
            return self.page(
                "deployments",
                [d for d in reversed(self.store.all("deployments")) if d.get("ReleaseId") == rel["Id"]],
            )
        if not rest and self.method == "GET":
            self.need("ReleaseView")
            return self.page("releases", self.filtered("releases", list(reversed(self.in_space("releases")))))
        return await self.generic("releases", rest)

    async def h_deployments(self, rest: list[str]) -> Response:
        if not rest and self.method == "POST":
            return await self._create_deployment(await self.body())
        if not rest and self.method == "GET":
            self.need("DeploymentView")
            items = list(reversed(self.in_space("deployments")))
            for param, field in (
                ("projects", "ProjectId"),
                ("environments", "EnvironmentId"),
                ("tenants", "TenantId"),
                ("channels", "ChannelId"),
            ):
                wanted = set(_csv(self.q.get(param)))
                if wanted:
                    items = [d for d in items if d.get(field) in wanted]
            return self.page("deployments", self.filtered("deployments", items))
        return await self.generic("deployments", rest)

    async def _create_deployment(self, body: Doc) -> Response:
        """``POST deployments`` (classic body): a Deployment and its "Deploy" task."""
        self.need("DeploymentCreate")
        release = self.store.get("releases", str(body.get("ReleaseId") or ""))
        env = self.store.get("environments", str(body.get("EnvironmentId") or ""))
        errors = []
        if release is None or release.get("SpaceId") != self.space():
            errors.append(f"The release '{body.get('ReleaseId')}' was not found.")
        if env is None or env.get("SpaceId") != self.space():
            errors.append(f"The environment '{body.get('EnvironmentId')}' was not found.")
        if errors or release is None or env is None:
            raise ApiError(400, "There was a problem with your request.", errors)
        project = self.store.get("projects", release["ProjectId"]) or {}
        if project.get("IsDisabled"):
            raise ApiError(
                400,
                "There was a problem with your request.",
                [f"The project '{project.get('Name')}' is disabled: it cannot be deployed."],
            )
        name = f"Deploy to {env['Name']}"
        task = self.inst.tasks.create(
            "Deploy",
            f"Deploy {project.get('Name')} release {release.get('Version')} to {env['Name']}",
            space_id=self.space(),
            arguments={"DeploymentId": None},
            kind="deploy",
            payload={
                "process_id": project.get("DeploymentProcessId"),
                "environment_id": env["Id"],
                "release_version": release.get("Version"),
            },
            log=[f"Deploying {project.get('Name')} release {release.get('Version')} to {env['Name']}"],
        )
        doc = self.store.insert(
            "deployments",
            {
                "SpaceId": self.space(),
                "ProjectId": release["ProjectId"],
                "ReleaseId": release["Id"],
                "ChannelId": release.get("ChannelId"),
                "EnvironmentId": env["Id"],
                "TenantId": body.get("TenantId"),
                "TaskId": task["Id"],
                "Name": name,
                "Comments": body.get("Comments"),
                "Created": iso(self.inst.clock()),
                "DeployedBy": self.user.get("Username"),
                "DeployedById": self.user["Id"],
                "SpecificMachineIds": body.get("SpecificMachineIds") or [],
                "ExcludedMachineIds": body.get("ExcludedMachineIds") or [],
                "SkipActions": body.get("SkipActions") or [],
                "ForcePackageDownload": bool(body.get("ForcePackageDownload")),
                "UseGuidedFailure": bool(body.get("UseGuidedFailure")),
                "FormValues": body.get("FormValues") or {},
            },
            prefix="Deployments",
        )
        task = {**task, "Arguments": {"DeploymentId": doc["Id"]}}
        self.store.put("tasks", task)
        return self.json(self.render("deployments", doc), 201)

    async def h_events(self, rest: list[str]) -> Response:
        """Audit events, newest first, with Octopus's filters (a list filter matches any of its values)."""
        self.need("EventView")
        if rest:
            return self.json(self.render("events", self.find("events", rest[0])))
        items = sorted(
            self.inst.listing("events", self.space()), key=lambda e: str(e.get("Occurred")), reverse=True
        )
        categories = set(_csv(self.q.get("eventCategories")))
        if categories:
            items = [e for e in items if e.get("Category") in categories]
        for param in ("regarding", "regardingAny", "projects", "environments", "tenants"):
            wanted = {v.lower() for v in _csv(self.q.get(param))}
            if wanted:
                items = [
                    e for e in items if wanted & {str(r).lower() for r in e.get("RelatedDocumentIds") or []}
                ]
        types = {t.lower() for t in _csv(self.q.get("documentTypes"))}
        if types:
            items = [
                e
                for e in items
                if any(str(r).split("-")[0].lower() in types for r in e.get("RelatedDocumentIds") or [])
            ]
        users = set(_csv(self.q.get("users")) + _csv(self.q.get("user")))
        if users:
            items = [e for e in items if e.get("UserId") in users]
        start, end = self.q.get("from"), self.q.get("to")
        if start:
            items = [e for e in items if _when(str(e.get("Occurred"))) >= _when(start)]
        if end:
            items = [e for e in items if _when(str(e.get("Occurred"))) <= _when(end)]
        return self.page("events", items, item_type="Event")

    async def h_build_information(self, rest: list[str]) -> Response:
        """Build information: listed (``packageId`` filter) and pushed (``POST``, as build servers do)."""
        if not rest and self.method == "POST":
            self.need("BuiltInFeedPush")  # Octopus's BuildInformationPush; the simulator's roles lack it
            body = await self.body()
            package_id, version = body.get("PackageId"), body.get("Version")
            if not package_id or not version:
                raise ApiError(
                    400, "There was a problem with your request.", ["PackageId and Version are required."]
                )
            details = body.get("OctopusBuildInformation") or {}
            doc = self.store.insert(
                "build-information",
                {
                    "SpaceId": self.space(),
                    "PackageId": package_id,
                    "Version": version,
                    **{k: v for k, v in details.items() if k not in ("Id", "Links")},
                    "Created": iso(self.inst.clock()),
                    "LastModifiedOn": iso(self.inst.clock()),
                    "LastModifiedBy": self.user.get("Username"),
                },
                prefix="BuildInformation",
            )
            return self.json(self.render("build-information", doc), 201)
        self.need("FeedView")
        items = list(reversed(self.inst.listing("build-information", self.space())))
        if rest:
            match = next((b for b in items if b["Id"].lower() == rest[0].lower()), None)
            if match is None:
                raise ApiError(404, f"The build information '{rest[0]}' was not found.")
            return self.json(self.render("build-information", match))
        package_id = _query_ci(self.request, "packageid")
        if package_id:
            items = [b for b in items if b.get("PackageId") == package_id]
        return self.page(
            "build-information", items, item_type="OctopusPackageVersionBuildInformationMappedResource"
        )

    async def h_machines(self, rest: list[str]) -> Response:
        if not rest and self.method == "GET":
            self.need("MachineView")
            return self.page(
                "machines", self._machine_filter(self.filtered("machines", self.in_space("machines")))
            )
        return await self.generic("machines", rest)

    async def h_workers(self, rest: list[str]) -> Response:
        if not rest and self.method == "GET":
            self.need("WorkerView")
            items = self._machine_filter(self.filtered("workers", self.in_space("workers")))
            pools = set(_csv(self.q.get("workerPoolIds")))
            if pools:
                items = [w for w in items if pools & set(w.get("WorkerPoolIds") or [])]
            return self.page("workers", items)
        return await self.generic("workers", rest)

    def _machine_filter(self, items: list[Doc]) -> list[Doc]:
        styles = set(_csv(self.q.get("commStyles")))
        if styles:
            items = [m for m in items if (m.get("Endpoint") or {}).get("CommunicationStyle") in styles]
        roles = set(_csv(self.q.get("roles")))
        if roles:
            items = [m for m in items if roles & set(m.get("Roles") or [])]
        envs = set(_csv(self.q.get("environmentIds")))
        if envs:
            items = [m for m in items if envs & set(m.get("EnvironmentIds") or [])]
        health = set(_csv(self.q.get("healthStatuses")))
        if health:
            items = [m for m in items if m.get("HealthStatus") in health]
        disabled = self.q.get("isDisabled")
        if disabled is not None:
            items = [m for m in items if bool(m.get("IsDisabled")) == (disabled.lower() == "true")]
        thumb = self.q.get("thumbprint")
        if thumb:
            items = [m for m in items if (m.get("Thumbprint") or "").lower() == thumb.lower()]
        return items

    async def h_workerpools(self, rest: list[str]) -> Response:
        if rest and rest[0].lower() == "dynamicworkertypes":
            if not self.inst.config.is_cloud:
                raise ApiError(
                    500, "Dynamic Worker API Error: dynamic workers are only available in Octopus Cloud."
                )
            return self.json(
                {
                    "WorkerTypes": [
                        {
                            "Id": "UbuntuDefault",
                            "Type": "Ubuntu",
                            "Description": "Ubuntu (default)",
                            "StartDateUtc": None,
                            "DeprecationDateUtc": None,
                            "EndOfLifeDateUtc": None,
                        },
                        {
                            "Id": "WindowsDefault",
                            "Type": "Windows",
                            "Description": "Windows (default)",
                            "StartDateUtc": None,
                            "DeprecationDateUtc": None,
                            "EndOfLifeDateUtc": None,
                        },
                    ]
                }
            )
        if rest and rest[0].lower() == "summary":
            self.need("WorkerView")
            pools = self.in_space("workerpools")
            workers = self.in_space("workers")
            return self.json(
                {
                    "WorkerPoolSummaries": [
                        {
                            "WorkerPool": self.render("workerpools", p),
                            "TotalMachines": sum(
                                1 for w in workers if p["Id"] in (w.get("WorkerPoolIds") or [])
                            ),
                            "MachineHealthStatusSummaries": {},
                        }
                        for p in pools
                    ],
                    "TotalMachines": len(workers),
                    "Links": {},
                }
            )
        if len(rest) == 2 and rest[1].lower() == "workers":
            pool = self.find("workerpools", rest[0])
            self.need("WorkerView")
            return self.page(
                "workers",
                [w for w in self.in_space("workers") if pool["Id"] in (w.get("WorkerPoolIds") or [])],
            )
        if not rest and self.method == "POST":
            body = await self.body()
            if body.get("WorkerPoolType") == "DynamicWorkerPool" and not self.inst.config.is_cloud:
                raise ApiError(
                    400,
                    "There was a problem with your request.",
                    ["Dynamic worker pools are only available in Octopus Cloud."],
                )
            body.setdefault("WorkerPoolType", "StaticWorkerPool")
            body.setdefault("IsDefault", False)
            body.setdefault("CanAddWorkers", body["WorkerPoolType"] == "StaticWorkerPool")
            body.setdefault("SortOrder", len(self.in_space("workerpools")) + 1)
            return await self.create("workerpools", body)
        return await self.generic("workerpools", rest)

    async def h_feeds(self, rest: list[str]) -> Response:
        if len(rest) >= 3 and rest[1].lower() == "packages":
            feed = self.find("feeds", rest[0])
            self.need("FeedView")
            sub = rest[2].lower()
            if feed.get("FeedType") != "BuiltIn":
                if (feed.get("_Reachable", True)) is False:
                    raise ApiError(
                        500, f"Unable to reach the feed at {feed.get('FeedUri')}: the connection timed out."
                    )
                return self.page("packages", [], item_type="Package", default_take=20)
            pkgs = [p for p in self.in_space("packages")]
            if sub == "versions":
                pid = self.q.get("packageId")
                pkgs = [p for p in pkgs if p.get("PackageId") == pid]
                return self.page(
                    "packages",
                    sorted(pkgs, key=lambda p: _vkey(p.get("Version", "")), reverse=True),
                    default_take=30,
                )
            if sub == "search":
                term = (self.q.get("term") or "").lower()
                latest: dict[str, Doc] = {}
                for p in pkgs:
                    if term in str(p.get("PackageId", "")).lower():
                        cur = latest.get(p["PackageId"])
                        if cur is None or _vkey(p["Version"]) > _vkey(cur["Version"]):
                            latest[p["PackageId"]] = p
                return self.page("packages", list(latest.values()), default_take=20)
        if rest and rest[0].lower() == "stats":
            return self.json({"TotalPackages": len(self.in_space("packages"))})
        feed_types = {t.lower() for t in _csv(_query_ci(self.request, "feedtype"))}
        if not rest and self.method == "GET" and feed_types:
            # ``feeds?feedType=BuiltIn`` lists only feeds of that type (the TS client's FeedRepository).
            self.view("feeds")
            items = [f for f in self.in_space("feeds") if str(f.get("FeedType", "")).lower() in feed_types]
            return self.page("feeds", self.filtered("feeds", items))
        return await self.generic("feeds", rest)

    async def h_packages(self, rest: list[str]) -> Response:
        if rest and rest[0].lower() == "raw" and self.method == "POST":
            return await self.upload_package()
        if not rest and self.method == "GET":
            self.need("FeedView")
            items = self.in_space("packages")
            nuget_id = _query_ci(self.request, "nugetpackageid")
            filt = self.q.get("filter")
            if nuget_id and filt:
                raise ApiError(
                    400,
                    "There was a problem with your request.",
                    ["Only one of either nuGetPackageId or filter may be specified."],
                )
            if nuget_id:
                items = [p for p in items if p.get("PackageId") == nuget_id]
            if filt:
                items = [p for p in items if filt.lower() in str(p.get("PackageId", "")).lower()]
            items = sorted(
                items,
                key=lambda p: (str(p.get("PackageId", "")).lower(), _vkey(p.get("Version", ""))),
                reverse=False,
            )
            if self.q.get("latest", "").lower() == "true":
                latest: dict[str, Doc] = {}
                for p in items:
                    latest[p["PackageId"]] = p
                items = list(latest.values())
            else:
                items = sorted(
                    items,
                    key=lambda p: (
                        str(p.get("PackageId", "")).lower(),
                        [-x for x in _vkey(p.get("Version", ""))],
                    ),
                )
            return self.page("packages", items)
        if len(rest) == 2 and rest[1].lower() == "raw":
            pkg = self.find("packages", rest[0])
            self.need("BuiltInFeedDownload")
            return self.stream_blob(
                f"package/{pkg['SpaceId']}/{pkg['Id']}",
                "application/octet-stream",
                f"{pkg['PackageId']}.{pkg['Version']}{pkg.get('FileExtension', '')}",
            )
        if len(rest) == 1 and self.method == "DELETE":
            pkg = self.find("packages", rest[0])
            self.need("BuiltInFeedAdminister")
            self.store.delete("packages", pkg["Id"])
            self.store.blob_delete(f"package/{pkg['SpaceId']}/{pkg['Id']}")
            return Response(status_code=200)
        return await self.generic("packages", rest)

    async def upload_package(self) -> Response:
        self.need("BuiltInFeedPush")
        # Query names and the mode are matched case-insensitively, as ASP.NET binds them.
        mode = _query_ci(self.request, "overwritemode") or (
            "OverwriteExisting"
            if (_query_ci(self.request, "replace") or "").lower() == "true"
            else "FailIfExists"
        )
        mode = {m.lower(): m for m in ("FailIfExists", "OverwriteExisting", "IgnoreIfExists")}.get(
            mode.lower(), mode
        )
        form = await self.request.form(max_files=1)
        # Octopus takes the first file part whatever its name: the .NET client sends ``fileData``, the
        # TypeScript client ``fileToUpload``, curl examples ``file``.
        upload = form.get("fileData")
        if not isinstance(upload, UploadFile):
            upload = next((v for _, v in form.multi_items() if isinstance(v, UploadFile)), None)
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise ApiError(
                400, "There was a problem with your request.", ["No package file was uploaded as fileData."]
            )
        parsed = _parse_package_filename(upload.filename)
        if parsed is None:
            raise ApiError(
                400,
                "There was a problem with your request.",
                [
                    f"The package file name '{upload.filename}' is not of the form "
                    "<PackageId>.<Version><extension>."
                ],
            )
        package_id, version, ext = parsed
        sid = self.space()
        doc_id = f"packages-{package_id}.{version}"
        existing = self.store.get("packages", doc_id)
        if existing is not None and mode == "IgnoreIfExists":
            return self.json(self.render("packages", existing), 200)
        if existing is not None and mode != "OverwriteExisting":
            raise ApiError(
                409,
                "A package with the same ID and version already exists. To proceed anyway, specify an "
                "overwriteMode of OverwriteExisting or IgnoreIfExists.",
            )
        sha = hashlib.sha1()
        size = 0
        key = f"package/{sid}/{doc_id}"
        with self.store.blob_writer(key) as out:
            while block := await upload.read(1 << 20):
                sha.update(block)
                size += len(block)
                out.write(block)
        if size > 5 * 1024**3 and self.inst.config.is_cloud:
            self.store.blob_delete(key)
            raise ApiError(
                413, "The package exceeds the maximum single package size of 5 GB in Octopus Cloud."
            )
        doc = {
            "Id": doc_id,
            "SpaceId": sid,
            "PackageId": package_id,
            "Version": version,
            "FeedId": "feeds-builtin",
            "FileExtension": ext,
            "Hash": sha.hexdigest(),
            "PackageSizeBytes": size,
            "Published": iso(self.inst.clock()),
            "Title": package_id,
            "Summary": None,
            "Description": None,
            "ReleaseNotes": None,
            "NuGetPackageId": package_id,
            "NuGetFeedId": "feeds-builtin",
            "PackageVersionBuildInformation": None,
        }
        self.store.put("packages", doc)
        return self.json(self.render("packages", doc), 201)

    async def h_variables(self, rest: list[str]) -> Response:
        if len(rest) == 1:
            doc = self.find("variables", rest[0])
            if self.method == "PUT":
                return await self.update("variables", doc, await self.body())
            self.need("VariableView")
            return self.json(self.render("variables", doc))
        return await self.generic("variables", rest)


def _password(body: Doc) -> str:
    pw = body.get("Password") or {}
    value = pw.get("NewValue") if isinstance(pw, dict) else None
    if not value:
        raise ApiError(400, "There was a problem with your request.", ["A password is required."])
    return str(value)


def _when(text: str) -> float:
    """A timestamp as Octopus takes it (ISO 8601, or a date), in seconds; unparseable is 0."""
    import datetime as _dt

    try:
        # A "+" in a query string arrives as a space ("...T00:00:00 10:00").
        clean = text.strip().replace("Z", "+00:00")
        parsed = _dt.datetime.fromisoformat(clean.replace(" ", "+", 1) if "T" in clean else clean)
    except ValueError:
        return 0.0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.UTC)
    return parsed.timestamp()


def _weighted(items: list[int], weights: list[float], u: float) -> int:
    """The item a uniform draw ``u`` in [0, 1) falls on, by relative weight."""
    total = sum(weights) or 1.0
    acc = 0.0
    for item, weight in zip(items, weights, strict=True):
        acc += weight / total
        if u < acc:
            return item
    return items[-1]


def _int(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ApiError(
            400, "There was a problem with your request.", [f"'{value}' is not a whole number."]
        ) from exc


def _vkey(version: str) -> list[int]:
    return [int(x) if x.isdigit() else 0 for x in re.split(r"[.\-+]", version)]


_PKG_RE = re.compile(
    r"^(?P<id>.+?)\.(?P<version>\d+(?:\.\d+)*(?:-[0-9A-Za-z.\-]+)?)(?P<ext>\.zip|\.nupkg|\.tar\.gz|\.tgz|\.tar|\.jar|\.war)$"
)


def _parse_package_filename(name: str) -> tuple[str, str, str] | None:
    m = _PKG_RE.match(name)
    if not m:
        return None
    return m.group("id"), m.group("version"), m.group("ext")


# A 1x1 transparent PNG: what Octopus answers when a project has no uploaded logo.
_DEFAULT_LOGO = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
