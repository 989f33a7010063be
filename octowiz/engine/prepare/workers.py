"""Worker pools: which destination pool each source pool becomes, and creating the missing ones.

Octopus Cloud runs nothing on the server itself: steps run on workers, and every Cloud instance comes
with dynamic pools (``Hosted Ubuntu``, ``Hosted Windows``) whose workers cannot reach private networks.
The migration guide recommends a static pool per data centre or cloud with at least two workers each,
and moving processes to those pools *before* migrating ("Configuring Workers and Worker Pools").

:func:`pool_mapping` reads an inventory (no requests). :func:`create_missing_pool` is the one mutating
operation here: it previews by default, reconciles with the destination before acting, and journals
its intent before the request and its outcome after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from octowiz.engine.prepare.inventory import Inventory
from octowiz.journal.journal import Journal
from octowiz.octopus import models as m
from octowiz.octopus.client import OctopusClient
from octowiz.octopus.errors import OctopusError

#: The guide's minimum for redundancy.
RECOMMENDED_WORKERS = 2
#: Health statuses that still run work.
USABLE_HEALTH = ("Healthy", "HasWarnings")
#: The journal step pool creation belongs to.
STEP = "connectivity"
ACTION_KIND = "create-worker-pool"


@dataclass(frozen=True)
class PoolUse:
    """One step action that runs on a pool.

    Attributes:
        process: ``deployment process`` or ``runbook <name>``.
        via: ``pool`` (the action names the pool) or ``default pool`` (it runs on the server, no pool
            named, so Octopus uses the space's default pool or the built-in worker).
    """

    project: str
    process: str
    step: str
    action: str
    via: str


@dataclass
class PoolMapping:
    """A source worker pool and what it becomes on the destination.

    Attributes:
        workers: workers in the pool; ``healthy``: those enabled and Healthy (or HasWarnings).
        destination_type: ``static``, ``dynamic``, or None without a counterpart.
        matched_by: ``default`` (the source default pool maps to the destination's), ``name``, or None.
        flag: a sentence when the pool has fewer than two healthy workers (and stays static), else None.
        suggestion: for a pool without a counterpart, what to do (one sentence).
        suggested_action: ``create-static`` or ``map-dynamic`` (with ``suggested_pool``), or None.
        note: anything else worth knowing (steps moving to dynamic workers), or None.
    """

    source_id: str
    source_name: str
    source_default: bool
    source_type: str
    workers: int
    healthy: int
    destination_id: str | None = None
    destination_name: str | None = None
    destination_type: str | None = None
    matched_by: str | None = None
    flag: str | None = None
    uses: list[PoolUse] = field(default_factory=list)
    suggestion: str | None = None
    suggested_action: str | None = None
    suggested_pool: str | None = None
    note: str | None = None

    @property
    def processes(self) -> list[str]:
        """Distinct ``project: process`` names that use the pool."""
        return list(dict.fromkeys(f"{u.project}: {u.process}" for u in self.uses))


def _pool_type(pool: m.WorkerPool) -> str:
    return "dynamic" if pool.is_dynamic else "static"


def _runs_on_server(action: m.DeploymentAction) -> bool:
    return str((action.properties or {}).get("Octopus.Action.RunOnServer", "")).lower() == "true"


def _uses(inv: Inventory, default_id: str | None) -> dict[str, list[PoolUse]]:
    """Pool id → the actions using it, over deployment and runbook processes.

    An action naming no pool but running on the server uses the default pool. An action choosing its
    pool through a worker pool variable is not attributed: the variable's value depends on its scope.
    """
    out: dict[str, list[PoolUse]] = {}
    runbooks = {str(r.id): r for r in inv.runbooks}
    processes: list[tuple[str, str, m.DeploymentProcess | m.RunbookProcess]] = [
        (inv.name_of("project", pid), "deployment process", p) for pid, p in inv.processes.items()
    ]
    for rid, p in inv.runbook_processes.items():
        rb = runbooks.get(rid)
        project_id = (rb.project_id if rb else None) or p.project_id
        processes.append((inv.name_of("project", project_id), f"runbook {rb.name if rb else rid}", p))
    for project, process, proc in processes:
        for s in proc.steps or []:
            for a in s.actions or []:
                if a.worker_pool_id:
                    pool_id, via = a.worker_pool_id, "pool"
                elif _runs_on_server(a) and not a.worker_pool_variable and default_id:
                    pool_id, via = default_id, "default pool"
                else:
                    continue
                out.setdefault(pool_id, []).append(
                    PoolUse(project, process, str(s.name or ""), str(a.name or ""), via)
                )
    return out


def _os_of(pool: m.WorkerPool, workers: list[m.Worker]) -> str | None:
    """``windows`` or ``linux`` from the pool's workers, else from its name; None when nothing tells."""
    texts = [f"{w.operating_system or ''} {w.shell_name or ''}".lower() for w in workers]
    texts.append(str(pool.name or "").lower())
    for text in texts:
        if "windows" in text or "powershell" in text or text.startswith("win"):
            return "windows"
        if any(k in text for k in ("linux", "ubuntu", "debian", "centos", "rhel", "bash")):
            return "linux"
    return None


def _dynamic_for(os_kind: str | None, pools: list[m.WorkerPool]) -> m.WorkerPool | None:
    dynamic = [p for p in pools if p.is_dynamic]
    words = ("windows",) if os_kind == "windows" else ("ubuntu", "linux")
    for p in dynamic:
        if any(w in f"{p.worker_type or ''} {p.name or ''}".lower() for w in words):
            return p
    return None


def pool_mapping(inv: Inventory) -> list[PoolMapping]:
    """Map each source pool to a destination pool: the default to the default, the rest by name.

    Names match case-insensitively. A pool without a counterpart gets a suggestion: a static pool of
    the same name when it has workers (they reach your network; dynamic workers cannot), or the
    dynamic pool for its operating system when it has none. Without a destination inventory every pool
    is unmatched and the suggestion is to create it.
    """
    dest_pools = list(inv.destination.worker_pools) if inv.destination is not None else []
    dest_default = next((p for p in dest_pools if p.is_default), None)
    by_name = {str(p.name or "").strip().lower(): p for p in dest_pools}
    source_default = next((p for p in inv.worker_pools if p.is_default), None)
    uses = _uses(inv, str(source_default.id) if source_default else None)

    out = []
    for pool in inv.worker_pools:
        pid, name = str(pool.id), str(pool.name or pool.id)
        members = [w for w in inv.workers if pid in (w.worker_pool_ids or [])]
        healthy = sum(1 for w in members if not w.is_disabled and w.health_status in USABLE_HEALTH)
        row = PoolMapping(
            source_id=pid,
            source_name=name,
            source_default=bool(pool.is_default),
            source_type=_pool_type(pool),
            workers=len(members),
            healthy=healthy,
            uses=uses.get(pid, []),
        )
        target, row.matched_by = None, None
        if pool.is_default and dest_default is not None:
            target, row.matched_by = dest_default, "default"
        elif name.strip().lower() in by_name:
            target, row.matched_by = by_name[name.strip().lower()], "name"
        if target is not None:
            row.destination_id, row.destination_name = str(target.id), str(target.name or target.id)
            row.destination_type = _pool_type(target)
        stays_static = not pool.is_dynamic and row.destination_type != "dynamic"
        if stays_static and healthy < RECOMMENDED_WORKERS:
            row.flag = (
                f"'{name}' has {healthy} healthy worker{'' if healthy == 1 else 's'}: the migration guide "
                f"recommends at least {RECOMMENDED_WORKERS} per pool, for redundancy."
            )
        if target is None:
            _suggest(row, _dynamic_for(_os_of(pool, members), dest_pools), have_destination=bool(dest_pools))
        elif row.destination_type == "dynamic" and row.uses:
            where = (
                "the Octopus Server's built-in worker" if pool.is_default and not members else "your workers"
            )
            row.note = (
                f"Its steps ran on {where}; on the destination they run on dynamic workers "
                f"('{row.destination_name}'), which cannot reach your internal network: check them."
            )
        out.append(row)
    return out


def _suggest(row: PoolMapping, dynamic: m.WorkerPool | None, *, have_destination: bool) -> None:
    name = row.source_name
    if dynamic is not None and row.workers == 0:
        row.suggested_action, row.suggested_pool = "map-dynamic", str(dynamic.name)
        row.suggestion = (
            f"Map it to the dynamic pool '{dynamic.name}': it has no workers, so nothing inside your "
            "network depends on it."
        )
        return
    row.suggested_action, row.suggested_pool = "create-static", name
    text = (
        f"Create a static pool named '{name}' on the destination and register at least "
        f"{RECOMMENDED_WORKERS} workers in it"
    )
    if dynamic is not None:
        text += (
            f"; or, if its steps need nothing inside your network, map it to the dynamic pool "
            f"'{dynamic.name}'"
        )
    elif not have_destination:
        text += " (the destination's pools were not read)"
    row.suggestion = text + "."


# -- creating a missing pool ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateResult:
    """What :func:`create_missing_pool` did, or would do.

    Attributes:
        status: ``preview`` (nothing sent), ``created`` or ``exists`` (a pool of that name was already
            there: nothing created, nothing new journaled).
        body: the ``POST …/workerpools`` body (sent, or that would be sent).
        pool_id: the destination pool's id (created or existing).
        action_id: the journal action, when one was written.
    """

    status: str
    name: str
    pool_type: str
    description: str
    body: dict[str, Any]
    pool_id: str | None = None
    action_id: int | None = None
    sentence: str = ""


def _source_label(journal: Journal) -> str:
    settings = journal.settings
    url = str(settings.get("source_url") or "")
    if url:
        try:
            return httpx.URL(url).host or url
        except httpx.InvalidURL:
            return url
    return str(settings.get("name") or "the self-hosted Octopus Server")


async def _existing(client: OctopusClient, name: str) -> m.WorkerPool | None:
    wanted = name.strip().lower()
    return next((p for p in await client.worker_pools() if str(p.name or "").strip().lower() == wanted), None)


async def create_missing_pool(
    client: OctopusClient,
    journal: Journal,
    pool_name: str,
    *,
    confirm: bool,
    source_pool_id: str | None = None,
    source: str | None = None,
) -> CreateResult:
    """Create a static worker pool on the destination, or preview it.

    Args:
        client: the destination's client, discovered in its space.
        journal: the migration's journal (the action is recorded under step ``connectivity``).
        pool_name: the pool to create (usually the source pool's name).
        confirm: False previews: no request is sent and nothing is journaled.
        source_pool_id: the source pool, for the journal's id map.
        source: how to name the source in the description; default: its host from the journal.

    Returns:
        ``preview``, ``created`` or ``exists`` (found by name, case-insensitively, before acting).

    Raises:
        OctopusError: the destination refused or could not be reached; the action is journaled as
            ``failed`` with the error's sentence when the request was attempted.
    """
    name = pool_name.strip()
    if not name:
        raise ValueError("a worker pool needs a name")
    description = f"Created by octowiz for the migration from {source or _source_label(journal)}"
    body: dict[str, Any] = {
        "Name": name,
        "Description": description,
        "WorkerPoolType": m.WorkerPoolType.STATIC.value,
        "IsDefault": False,
    }
    static = m.WorkerPoolType.STATIC.value
    if not confirm:
        return CreateResult(
            "preview",
            name,
            static,
            description,
            body,
            sentence=f"Would create the static worker pool '{name}' on {client.host}.",
        )

    found = await _existing(client, name)
    if found is not None:
        _settle_pending(journal, name, found, source_pool_id)
        return CreateResult(
            "exists",
            name,
            str(found.worker_pool_type or static),
            str(found.description or ""),
            body,
            pool_id=str(found.id),
            sentence=f"{client.host} already has a worker pool named '{found.name}' ({found.id}): "
            "nothing created.",
        )

    path = client.space_path("workerpools")
    action_id = journal.begin_action(
        STEP,
        ACTION_KIND,
        name,
        intent={
            "method": "POST",
            "path": path,
            "host": client.host,
            "body": body,
            "source_pool_id": source_pool_id,
        },
        undo={"method": "DELETE", "path": f"{path}/{{id}}", "id": "in this action's outcome detail (undo)"},
    )
    reconciled = False
    try:
        pool = await client.create_worker_pool(body)
    except OctopusError as exc:
        # The request may have failed after the server acted (a dropped answer): look before giving up.
        try:
            pool_or_none = await _existing(client, name)
        except OctopusError:
            pool_or_none = None
        if pool_or_none is None or pool_or_none.description != description:
            journal.finish_action(action_id, "failed", {"error": exc.sentence, "message": str(exc)})
            raise
        pool, reconciled = pool_or_none, True
    pool_id = str(pool.id)
    journal.finish_action(
        action_id,
        "ok",
        {
            "pool_id": pool_id,
            "name": name,
            "undo": {"method": "DELETE", "path": f"{path}/{pool_id}"},
            "reconciled": reconciled,
            "sentence": f"Created the static worker pool '{name}' ({pool_id}) on {client.host}.",
        },
        id_map={source_pool_id: ("workerpool", pool_id)} if source_pool_id else None,
    )
    return CreateResult(
        "created",
        name,
        static,
        description,
        body,
        pool_id=pool_id,
        action_id=action_id,
        sentence=f"Created the static worker pool '{name}' ({pool_id}) on {client.host}.",
    )


def _settle_pending(journal: Journal, name: str, pool: m.WorkerPool, source_pool_id: str | None) -> None:
    """Close an earlier attempt that stopped mid-request (intent, no outcome) now that the pool exists.

    The pool counts as that attempt's work only when it carries the description the attempt sent;
    otherwise it was there already, and the attempt is closed without an undo (an undo must never
    delete a pool octowiz did not create).
    """
    pool_id = str(pool.id)
    for action in journal.actions(step=STEP):
        if not (action.kind == ACTION_KIND and action.target == name and action.pending):
            continue
        sent = (action.intent.get("body") or {}).get("Description")
        if pool.description != sent:
            sentence = f"'{name}' ({pool_id}) was already on the destination: octowiz did not create it."
            journal.finish_action(
                action.id, "exists", {"pool_id": pool_id, "name": name, "sentence": sentence}
            )
            continue
        path = str(action.intent.get("path") or "")
        sentence = f"Found '{name}' ({pool_id}) on the destination after an interrupted attempt."
        journal.finish_action(
            action.id,
            "ok",
            {
                "pool_id": pool_id,
                "name": name,
                "undo": {"method": "DELETE", "path": f"{path}/{pool_id}"},
                "reconciled": True,
                "sentence": sentence,
            },
            id_map={source_pool_id: ("workerpool", pool_id)} if source_pool_id else None,
        )
