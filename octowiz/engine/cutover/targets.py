"""The Targets step: the wave's deployment targets and workers, made to exist on Octopus Cloud.

After a wave is imported, Cloud has none of the machines its projects deploy to. This module:

* reads which targets (by environment, role and tenant) and workers (by the pools the processes use)
  the wave's projects reach, by kind, each with its state *on Cloud* read in bulk (:func:`read_targets`);
* plans one script per Tentacle host (:func:`host_plans`), offers a canary host first
  (:func:`canary_host`, :func:`hosts_offered`), writes the scripts to download (:func:`write_scripts`)
  or runs them through the Server's script console and registers each clone on Cloud by REST
  (:func:`run_console`);
* recreates every other kind through Cloud's API with its ids remapped by name, listing what the API
  cannot read back and leaving such targets disabled until the secrets are entered (:func:`recreate_others`,
  :func:`mark_filled`);
* runs one health check on Cloud and records the results (:func:`health_check`).

Every mutating request is a journal action (intent before, outcome after, step ``targets``); everything
is reconciled by name on a rerun, so a crash at any point never leaves a duplicate machine on Cloud.
``OCTOWIZ_TEST_CRASH_AT=<point>`` (see :data:`CRASH_POINTS`) kills the process at a named boundary.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shlex
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from octowiz import heap
from octowiz.engine.context import Context
from octowiz.engine.cutover import scripts
from octowiz.engine.prepare.hosts import uri_host
from octowiz.engine.prepare.inventory import Inventory, collect
from octowiz.engine.prepare.rules import Targeting
from octowiz.engine.recovery import Recovery
from octowiz.journal import Action, Journal
from octowiz.octopus import models as m
from octowiz.octopus.client import OctopusClient, TaskProgress
from octowiz.octopus.errors import OctopusError, TaskFailed, ValidationFailed

STEP = "targets"

#: What :func:`read_targets` asks the inventory for: enough to know who deploys where, nothing more.
TARGET_PARTS = frozenset({
    "projects", "lifecycles", "environments", "channels", "deployment processes", "runbooks",
    "runbook processes", "deployment targets", "workers", "worker pools",
})  # fmt: skip

#: Where ``OCTOWIZ_TEST_CRASH_AT`` can stop the process.
CRASH_POINTS = (
    "script-sent-not-recorded",
    "after-script-request",
    "after-script",
    "register-sent-not-recorded",
    "after-register-request",
    "recreate-sent-not-recorded",
    "after-recreate-request",
    "after-health",
)

#: ``CommunicationStyle`` -> the row's kind.
KINDS = {
    "TentaclePassive": "listening",
    "TentacleActive": "polling",
    "Ssh": "ssh",
    "Kubernetes": "kubernetes",
    "KubernetesTentacle": "kubernetes-agent",
    "AzureWebApp": "azure-web-app",
    "None": "cloud-region",
    "OfflineDrop": "offline-drop",
    "StepPackage": "step-package",
}
TENTACLE_KINDS = ("listening", "polling")
#: Kinds :func:`recreate_others` creates through the API (``other`` is tried too: Cloud may refuse it).
REST_KINDS = ("ssh", "kubernetes", "azure-web-app", "cloud-region", "offline-drop", "step-package", "other")
DEFAULT_LISTENING_PORT = 10933
#: Environment names taken as production, for the canary's ordering.
PRODUCTION = re.compile(r"prod|live", re.IGNORECASE)
#: Body fields Cloud computes itself: never copied from the Server.
_COMPUTED = (
    "Id", "Links", "SpaceId", "Slug", "HealthStatus", "Status", "StatusSummary", "HasLatestCalamari",
    "IsInProcess", "OperatingSystem", "ShellName", "ShellVersion", "Architecture", "LastModifiedOn",
    "LastModifiedBy", "HasHealthCheck",
)  # fmt: skip
#: Account fields that hold a secret (``SensitiveValue``), per cutover doc §B.5.
_ACCOUNT_SECRETS = (
    "Password", "PrivateKeyFile", "PrivateKeyPassphrase", "Token", "CertificateBytes", "SecretKey", "JsonKey",
)  # fmt: skip


HostPlan = scripts.HostPlan


def crash_point(name: str) -> None:
    """Die here, abruptly, when a test asked for it (``OCTOWIZ_TEST_CRASH_AT``)."""
    if os.environ.get("OCTOWIZ_TEST_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


class TargetsError(Exception):
    """The step cannot go on; ``str()`` is the sentence to show. The journal stays consistent."""


@dataclass
class MachineRow:
    """One Server target or worker a wave's projects reach, with its state on Cloud.

    Attributes:
        kind: listening | polling | ssh | kubernetes | kubernetes-agent | azure-web-app | cloud-region |
            offline-drop | step-package | other.
        projects: ids of the wave's projects that reach it.
        host: :attr:`scripts.HostPlan.host` for Tentacles (the Uri's host name when listening, the
            machine name when polling), "" otherwise.
        cloud_state: missing | registered | healthy | unhealthy | disabled, as read from Cloud.
        secrets: what must be entered by hand on Cloud, as sentences.
        command: for a Kubernetes agent, the Helm command that installs its Cloud twin (it reads the API
            key from ``$OCTOPUS_CLOUD_API_KEY``; the key is never written).
    """

    source_id: str
    name: str
    role: Literal["target", "worker"]
    kind: str
    os: str
    environments: list[str]
    roles: list[str]
    tenants: list[str]
    pools: list[str]
    projects: list[str]
    host: str
    production: bool
    cloud_id: str | None
    cloud_state: str
    secrets: list[str] = field(default_factory=list)
    note: str = ""
    style: str = ""
    tenant_tags: list[str] = field(default_factory=list)
    participation: str | None = None
    policy: str | None = None
    port: int | None = None
    disabled_on_server: bool = False
    command: str = ""
    left_behind: str = ""  # the team's reason for not moving it to Cloud (a dead Tentacle, an old target)


@dataclass
class TargetsReport:
    """A wave's machines, the Cloud they go to, and what reading them cost."""

    wave: str
    rows: list[MachineRow]
    cloud: scripts.CloudTarget
    requests: dict[str, int]
    problems: list[str] = field(default_factory=list)

    def row(self, name: str, role: str | None = None) -> MachineRow | None:
        """The row of a machine by name (and role)."""
        return next((r for r in self.rows if r.name == name and role in (None, r.role)), None)


@dataclass
class Event:
    """One thing the step reports, for a progress display or a log line."""

    stage: str  # script | register | recreate | health | done
    message: str
    percent: int | None = None
    log_tail: list[str] = field(default_factory=list)
    host: str | None = None


@dataclass
class HostResult:
    """Where one host's console run ended."""

    host: str
    state: str  # registered | failed | conflict | partial
    cloud_ids: dict[str, str] = field(default_factory=dict)  # machine name -> Cloud id
    sentences: list[str] = field(default_factory=list)
    task_id: str | None = None


@dataclass
class RecreateResult:
    """Where one non-Tentacle machine ended."""

    name: str
    role: str
    kind: str
    state: str  # created | created disabled | already there | needs account | manual | refused | failed
    cloud_id: str | None = None
    sentence: str = ""
    secrets: list[str] = field(default_factory=list)


@dataclass
class TargetSettings:
    """How the step waits for tasks, and how often a creating request that failed transiently is sent again.

    ``recovery_attempts`` and ``recovery_wait``: see :class:`octowiz.engine.recovery.Recovery` (each
    try again first looks on the instance for what the request would have made).
    """

    poll_interval: float = 2.0
    task_timeout: float | None = 1800.0
    health_timeout: str = "00:05:00"
    machine_timeout: str = "00:01:00"
    recovery_attempts: int = 3
    recovery_wait: float = 1.0

    def recovery(self) -> Recovery:
        """A fresh :class:`Recovery` with these settings."""
        return Recovery(self.recovery_attempts, self.recovery_wait)


OnEvent = Callable[[Event], None]


async def _j(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kw)


# ---------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------


def cloud_state(machine: m.MachineBase | None) -> str:
    """missing | disabled | healthy | unhealthy | registered, from a Cloud machine's own fields."""
    if machine is None:
        return "missing"
    if machine.is_disabled:
        return "disabled"
    if machine.health_status in ("Healthy", "HasWarnings"):
        return "healthy"
    if machine.health_status in ("Unhealthy", "Unavailable"):
        return "unhealthy"
    return "registered"


def _os_of(machine: m.MachineBase) -> str:
    text = f"{machine.operating_system or ''} {machine.shell_name or ''}".lower()
    if "windows" in text or "powershell" in text:
        return "windows"
    if any(w in text for w in ("linux", "ubuntu", "bash", "debian", "centos", "red hat")):
        return "linux"
    return ""


def _endpoint(machine: m.MachineBase) -> dict[str, Any]:
    return machine.endpoint.to_json() if machine.endpoint is not None else {}


def _host_and_port(kind: str, machine: m.MachineBase) -> tuple[str, int | None]:
    if kind == "polling":
        return str(machine.name), None
    if kind == "listening":
        uri = str(_endpoint(machine).get("Uri") or machine.uri or "")
        port = None
        match = re.search(r":(\d+)(/|$)", uri.split("://", 1)[-1])
        if match:
            port = int(match.group(1))
        return str(uri_host(uri) or machine.name), port or DEFAULT_LISTENING_PORT
    return "", None


#: The journal setting that makes polling clones reach Cloud over 443 (``https://polling.<instance>``)
#: instead of 10943, for data centres whose firewall opens only 443 outbound.
POLLING_443 = "polling_over_443"


async def _cloud_target(dest: OctopusClient, polling_over_443: bool = False) -> scripts.CloudTarget:
    """Cloud's URL, the destination space's name and Cloud's certificate thumbprint."""
    space = str(dest.space_id or "")
    try:
        spaces, cert = await asyncio.gather(
            dest.spaces(),
            dest.get_json(
                "/api/configuration/certificates/certificate-global", what="reading Cloud's certificate"
            ),
        )
    except OctopusError:
        spaces, cert = [], {}
    name = next((str(s.name) for s in spaces if s.id == dest.space_id and s.name), space)
    return scripts.CloudTarget(
        url=dest.base_url,
        space=name,
        polling_over_443=polling_over_443,
        thumbprint=str((cert or {}).get("Thumbprint") or ""),
    )


def _record_rows(journal: Journal, rows: Iterable[MachineRow], record: bool = True) -> None:
    """Write each row's Cloud state (item ``machine``, stage ``cloud``) where it changed, and mark the rows
    the team left behind (blocking). With ``record`` False (a review) the rows are marked, nothing written."""
    items = journal.items("machine")
    known = {i: (st, d) for _, i, stage, st, d in items if stage == "cloud"}
    behind = {
        i: str((d or {}).get("reason") or "")
        for _, i, stage, st, d in items
        if stage == LEFT and st == "done"
    }
    # A target created disabled waits for secrets the API cannot read: only the journal knows which.
    waiting = {
        i: [str(x) for x in (d or {}).get("secrets") or []]
        for _, i, stage, st, d in items
        if stage == "secrets" and st == "needed"
    }
    out = []
    for r in rows:
        r.left_behind = behind.get(r.source_id, "")
        r.secrets = r.secrets or waiting.get(r.source_id, [])
        detail = {
            "name": r.name,
            "cloud_id": r.cloud_id,
            "kind": r.kind,
            "role": r.role,
            "projects": r.projects,
        }
        if r.secrets:
            detail["secrets"] = r.secrets
        if known.get(r.source_id) != (r.cloud_state, detail):
            out.append(("machine", r.source_id, "cloud", r.cloud_state, detail))
    if record:
        journal.set_items(out)


#: The journal stage that records a machine the team decided not to move to Cloud.
LEFT = "left-behind"


def leave_behind(journal: Journal, report: TargetsReport, name: str, reason: str) -> MachineRow:
    """Record that a machine stays behind on purpose (blocking: a journal write), with its undo.

    A machine left behind no longer holds the Targets step open, and no longer counts against the
    health of the projects that reach it when they are cut over: a dead Tentacle, a disabled old target,
    a target whose account is not wanted on Cloud. Take it back with :func:`take_back`.

    Raises:
        TargetsError: no reason, or no machine of that name in the wave.
    """
    if not reason.strip():
        raise TargetsError("Say why the machine stays behind: the journal keeps the reason.")
    row = report.row(name) or next((r for r in report.rows if r.source_id == name), None)
    if row is None:
        raise TargetsError(f"No target or worker of {report.wave} is called '{name}'.")
    action = journal.begin_action(
        STEP,
        "leave-behind",
        row.source_id,
        {"name": row.name, "reason": reason.strip()},
        {"take_back": row.source_id},
    )
    journal.set_item("machine", row.source_id, LEFT, "done", {"name": row.name, "reason": reason.strip()})
    journal.finish_action(action, "done")
    row.left_behind = reason.strip()
    return row


def take_back(journal: Journal, report: TargetsReport, name: str) -> MachineRow:
    """Undo :func:`leave_behind`: the machine counts again (blocking: a journal write)."""
    row = report.row(name) or next((r for r in report.rows if r.source_id == name), None)
    if row is None or not row.left_behind:
        raise TargetsError(f"'{name}' was not left behind.")
    action = journal.begin_action(STEP, "take-back", row.source_id, {"name": row.name})
    journal.set_item("machine", row.source_id, LEFT, "undone", {"name": row.name})
    journal.finish_action(action, "done")
    row.left_behind = ""
    return row


async def read_targets(
    context: Context,
    journal: Journal,
    wave: str,
    *,
    clients: tuple[OctopusClient, OctopusClient] | None = None,
    record: bool = True,
) -> TargetsReport:
    """Every target and worker a planned wave's projects reach, with its state read from Cloud.

    Targets are matched by the roles and environments the wave's steps deploy to (a tenanted-only target
    also needs one of its tenants connected to the project); workers by the pools the steps run on.
    Both instances are read in bulk (paged lists and ``/all``; never one request per machine).

    Args:
        clients: already open ``(source, destination)`` clients; by default opened for the migration.
        record: record the rows' Cloud states in the journal; False (or a read-only journal, a review)
            writes nothing.

    Raises:
        TargetsError: the wave is not planned.
    """
    waves = await _j(journal.waves)
    ids = waves.get(wave)
    if not ids:
        raise TargetsError(f"There is no wave called '{wave}' in this migration: plan it first.")
    record = record and not getattr(journal, "read_only", False)
    if clients is not None:
        return await _read(journal, wave, ids, *clients, record=record)
    settings = await _j(lambda: journal.settings)
    from octowiz.engine.session import clients as open_clients

    async with open_clients(context, settings) as (source, dest):
        assert dest is not None
        return await _read(journal, wave, ids, source, dest, record=record)


async def _read(
    journal: Journal,
    wave: str,
    ids: list[str],
    source: OctopusClient,
    dest: OctopusClient,
    *,
    record: bool = True,
) -> TargetsReport:
    before = (source.request_count, dest.request_count)
    over_443 = bool((await _j(lambda: journal.settings)).get(POLLING_443))
    inv, s_tenants, s_policies, c_machines, c_workers, cloud = await asyncio.gather(
        collect(source, parts=TARGET_PARTS),
        source.tenants(),
        source.machine_policies(),
        dest.machines(),
        dest.workers(),
        _cloud_target(dest, over_443),
    )
    problems = [f"Could not read the Server's {part}: {why}" for part, why in inv.problems.items()]
    # Matching thousands of machines is CPU work: on a thread, so a screen showing the step stays live.
    rows = await asyncio.to_thread(_rows, inv, ids, s_tenants, s_policies, c_machines, c_workers, cloud)
    # The inventory is freed on a thread: where this frame ends, that took 30-50 ms of the UI's loop.
    box: list[Any] = [inv, s_tenants, s_policies, c_machines, c_workers]
    del inv, s_tenants, s_policies, c_machines, c_workers
    await heap.let_go(box)
    report = TargetsReport(
        wave,
        rows,
        cloud,
        {
            "source": source.request_count - before[0],
            "destination": dest.request_count - before[1],
        },
        problems,
    )
    await _j(_record_rows, journal, rows, record)
    return report


def _wave_only(inv: Inventory, wave_ids: set[str]) -> Inventory:
    """The inventory cut to the wave's projects, for :class:`Targeting`.

    Targeting relates projects to channels one by one (2,000 x 2,000 on the large scenario, a second of
    CPU); what it finds for the wave's projects depends only on their own channels, processes and runbooks.
    """
    runbooks = [r for r in inv.runbooks if str(r.project_id) in wave_ids]
    kept = {r.id for r in runbooks}
    return dataclasses.replace(
        inv,
        projects=[p for p in inv.projects if str(p.id) in wave_ids],
        channels=[c for c in inv.channels if str(c.project_id) in wave_ids],
        processes={k: v for k, v in inv.processes.items() if k in wave_ids},
        runbooks=runbooks,
        runbook_processes={
            k: v
            for k, v in inv.runbook_processes.items()
            if str(v.project_id) in wave_ids or (not v.project_id and k in kept)
        },
    )


def _rows(
    inv: Inventory,
    ids: list[str],
    s_tenants: list[m.Tenant],
    s_policies: list[m.MachinePolicy],
    c_machines: list[m.Machine],
    c_workers: list[m.Worker],
    cloud: scripts.CloudTarget,
) -> list[MachineRow]:
    """The wave's rows from what was read (blocking: CPU only, run on a thread)."""
    wave_ids = set(ids)
    targeting = Targeting(_wave_only(inv, wave_ids))
    position = {pid: n for n, pid in enumerate(ids)}
    envs = {str(e.id): str(e.name) for e in inv.environments}
    tenants = {str(t.id): t for t in s_tenants}
    policies = {str(p.id): str(p.name) for p in s_policies}
    pools = {str(p.id): str(p.name) for p in inv.worker_pools}
    on_cloud_t = {str(x.name).lower(): x for x in c_machines}
    on_cloud_w = {str(x.name).lower(): x for x in c_workers}
    rows: list[MachineRow] = []

    def base(machine: m.MachineBase, role: Literal["target", "worker"], reach: set[str]) -> MachineRow:
        style = str(machine.communication_style)
        kind = KINDS.get(style, "other")
        host, port = _host_and_port(kind, machine)
        found = (on_cloud_t if role == "target" else on_cloud_w).get(str(machine.name).lower())
        return MachineRow(
            source_id=str(machine.id),
            name=str(machine.name),
            role=role,
            kind=kind,
            os=_os_of(machine),
            environments=[],
            roles=[],
            tenants=[],
            pools=[],
            projects=sorted(reach, key=position.__getitem__),
            host=host,
            production=False,
            cloud_id=str(found.id) if found is not None else None,
            cloud_state=cloud_state(found),
            style=style,
            policy=policies.get(str(machine.machine_policy_id)),
            port=port,
            disabled_on_server=bool(machine.is_disabled),
            note="Disabled on the Server." if machine.is_disabled else "",
        )

    for t in inv.machines:
        reach = targeting.for_target(t) & wave_ids
        if t.tenanted_deployment_participation == "Tenanted" and t.tenant_ids:
            # Deployed to only for its tenants: a project reaches it through a tenant connected to it.
            reach = {
                pid
                for pid in reach
                if any(pid in (tenants[x].project_environments or {}) for x in t.tenant_ids if x in tenants)
            }
        if not reach:
            continue
        row = base(t, "target", reach)
        row.environments = [envs.get(e, e) for e in t.environment_ids or []]
        row.roles = list(t.roles or [])
        row.tenants = [str(tenants[x].name) if x in tenants else x for x in t.tenant_ids or []]
        row.tenant_tags = list(t.tenant_tags or [])
        row.participation = t.tenanted_deployment_participation
        row.production = any(PRODUCTION.search(e) for e in row.environments)
        rows.append(row)
    for w in inv.workers:
        reach = targeting.for_worker(w) & wave_ids
        if not reach:
            continue
        row = base(w, "worker", reach)
        row.pools = [pools.get(p, p) for p in w.worker_pool_ids or []]
        rows.append(row)
    agents = {
        str(t.id): t for t in inv.machines if KINDS.get(str(t.communication_style)) == "kubernetes-agent"
    }
    for r in rows:
        if r.kind == "kubernetes-agent":
            agent = agents[r.source_id]
            r.command = helm_command(r, cloud, str(_endpoint(agent).get("DefaultNamespace") or ""))
    return rows


# ---------------------------------------------------------------------------------------------------------
# Planning the Tentacle hosts
# ---------------------------------------------------------------------------------------------------------


def host_plans(
    report: TargetsReport, *, comms: Literal["listening", "polling"] = "polling"
) -> list[HostPlan]:
    """One plan per Tentacle host: a second instance per registration, pointing at Cloud.

    A listening clone listens on the original's port plus one (plus its position on the host), never on
    the port the Server's instance uses.
    """
    by_host: dict[str, list[MachineRow]] = {}
    for r in report.rows:
        if r.kind in TENTACLE_KINDS:
            by_host.setdefault(r.host, []).append(r)
    plans = []
    for host, rows in by_host.items():
        regs = []
        for n, r in enumerate(rows):
            listening = comms == "listening"
            regs.append(
                scripts.Registration(
                    machine_id=r.source_id,
                    name=r.name,
                    kind=r.role,
                    comms=comms,
                    environments=tuple(r.environments),
                    roles=tuple(r.roles),
                    tenants=tuple(r.tenants),
                    tenant_tags=tuple(r.tenant_tags),
                    participation=r.participation if r.role == "target" else None,
                    policy=r.policy,
                    worker_pools=tuple(r.pools),
                    listening_port=((r.port or DEFAULT_LISTENING_PORT) + 1 + n) if listening else None,
                    public_hostname=host if listening else None,
                    environments_are_production=r.production,
                )
            )
        os_name: Literal["windows", "linux"] = "linux" if all(r.os == "linux" for r in rows) else "windows"
        plans.append(scripts.HostPlan(host=host, os=os_name, registrations=tuple(regs)))
    return plans


def canary_host(report: TargetsReport, plans: list[HostPlan]) -> str | None:
    """The host to clone first: non-production before production, then the fewest machines, then by name."""
    if not plans:
        return None

    def key(plan: HostPlan) -> tuple[bool, int, str]:
        production = any(r.environments_are_production for r in plan.registrations)
        return (production, len(plan.registrations), plan.host)

    return min(plans, key=key).host


def _host_healthy(report: TargetsReport, plan: HostPlan, recorded: tuple[str, Any] | None) -> bool:
    if recorded is not None and recorded[0] == "done":
        return True
    names = {r.name for r in plan.registrations}
    rows = [r for r in report.rows if r.name in names and r.kind in TENTACLE_KINDS]
    return bool(rows) and all(r.cloud_state == "healthy" for r in rows)


def hosts_offered(report: TargetsReport, plans: list[HostPlan], journal: Journal) -> list[str]:
    """Only the canary host until its machines are healthy on Cloud (after a health check), then every
    host that still has a machine missing on Cloud (and not left behind).

    Blocking: reads the journal.
    """
    canary = canary_host(report, plans)
    if canary is None:
        return []
    plan = next(p for p in plans if p.host == canary)
    if _host_healthy(report, plan, journal.item_status("host", canary, "healthy")):
        missing = {r.host for r in report.rows if r.host and r.cloud_state == "missing" and not r.left_behind}
        unfinished = unfinished_hosts(journal)  # once, not a journal read per host (thousands of hosts)
        kept = {r.host for r in report.rows if r.host and not r.left_behind}  # hosts not all left behind
        return [p.host for p in plans if p.host in missing or (p.host in unfinished and p.host in kept)]
    return [canary]


def unfinished_hosts(journal: Journal) -> set[str]:
    """Hosts a run left half done: an action without its outcome, or a clone sent but not registered.

    A crash after the clone appeared on Cloud leaves it there, so "missing on Cloud" alone would never
    offer the host again and its journal would stay unfinished. Blocking: reads the journal.
    """
    pending = {a.target for a in journal.actions(step=STEP) if a.pending}
    stages: dict[str, dict[str, str]] = {}
    for _k, host, stage, status, _d in journal.items("host"):
        stages.setdefault(host, {})[stage] = status
    sent = {h for h, st in stages.items() if "sent" in st and st.get("registered") != "done"}
    return (pending & set(stages)) | sent


def write_scripts(
    report: TargetsReport, plans: list[HostPlan], directory: Path, *, journal: Journal | None = None
) -> list[Path]:
    """Write each host's downloadable script (it reads the Cloud key from ``$OCTOPUS_CLOUD_API_KEY``).

    Blocking: file writes (and, with ``journal``, the host's ``script`` stage).
    """
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for plan in plans:
        path = directory / scripts.script_file_name(plan)
        path.write_text(scripts.script(plan, report.cloud, via="download"), encoding="utf-8", newline="\n")
        if path.suffix == ".sh":
            path.chmod(0o755)
        out.append(path)
        if journal is not None:
            journal.set_item("host", plan.host, "script", "done", {"path": str(path), "via": "download"})
    return out


def helm_command(row: MachineRow, cloud: scripts.CloudTarget, namespace: str) -> str:
    """The Helm command that installs a Kubernetes agent's Cloud twin (cutover doc §A.6).

    A second release in its own namespace, registered with the same name, environments, roles and tenants;
    the API key comes from ``$OCTOPUS_CLOUD_API_KEY`` at run time and is never written here.
    """
    host = re.sub(r"^https?://", "", cloud.url).split("/")[0]
    comms = f"https://polling.{host}/" if host.endswith("octopus.app") else f"https://{host}:10943/"
    slug = re.sub(r"[^a-z0-9-]+", "-", row.name.lower()).strip("-") or "agent"

    def lst(values: list[str]) -> str:
        return shlex.quote("{" + ",".join(values) + "}")

    parts = [
        "helm upgrade --install --atomic --create-namespace",
        f"--namespace {shlex.quote(f'octopus-agent-{slug}-cloud')}",
        '--set agent.acceptEula="Y"',
        f"--set agent.name={shlex.quote(row.name)}",
        f"--set agent.serverUrl={shlex.quote(cloud.url)}",
        f"--set agent.serverCommsAddress={shlex.quote(comms)}",
        f"--set agent.space={shlex.quote(cloud.space)}",
        f'--set agent.serverApiKey="${scripts.API_KEY_ENV}"',
        '--set agent.deploymentTarget.enabled="true"',
        f"--set agent.deploymentTarget.initial.environments={lst(row.environments)}",
        f"--set agent.deploymentTarget.initial.tags={lst(row.roles)}",
    ]
    if row.tenants:
        parts.append(f"--set agent.deploymentTarget.initial.tenants={lst(row.tenants)}")
    if row.tenant_tags:
        parts.append(f"--set agent.deploymentTarget.initial.tenantTags={lst(row.tenant_tags)}")
    if row.participation:
        parts.append(
            f"--set agent.deploymentTarget.initial.tenantedDeploymentParticipation={row.participation}"
        )
    if namespace:
        parts.append(f"--set agent.deploymentTarget.initial.defaultNamespace={shlex.quote(namespace)}")
    if row.policy:
        parts.append(f"--set agent.machinePolicyName={shlex.quote(row.policy)}")
    parts.append(f"{shlex.quote(slug + '-cloud')} oci://registry-1.docker.io/octopusdeploy/kubernetes-agent")
    return " \\\n  ".join(parts)


# ---------------------------------------------------------------------------------------------------------
# Names on Cloud (read in bulk once per call) and machine policies
# ---------------------------------------------------------------------------------------------------------


#: How an attempt an earlier run died in is closed when Cloud does not show what it was creating.
_NOT_THERE = {
    "reconciled": True,
    "sentence": "Not on Octopus Cloud after an interrupted attempt: sent again.",
}


class _Cloud:
    """Cloud's (and the Server's) named resources, read once, kept current as octowiz creates things."""

    def __init__(
        self, source: OctopusClient, dest: OctopusClient, journal: Journal, recovery: Recovery | None = None
    ) -> None:
        self.source, self.dest, self.journal = source, dest, journal
        self.recovery = recovery or Recovery()
        self.machines: dict[str, m.Machine] = {}
        self.workers: dict[str, m.Worker] = {}
        self.envs: dict[str, str] = {}
        self.tenants: dict[str, str] = {}
        self.policies: dict[str, str] = {}
        self.pools: dict[str, m.WorkerPool] = {}
        self.server_policies: dict[str, m.MachinePolicy] = {}
        #: Creations an earlier run died in (intent written, no outcome), read once: closed as they are met.
        self.pending: list[Action] = []

    async def read(self) -> None:
        self.pending = [a for a in await _j(self.journal.actions, None, STEP) if a.pending]
        (machines, workers, envs, tenants, policies, pools), server_policies = await asyncio.gather(
            asyncio.gather(
                self.dest.machines(),
                self.dest.workers(),
                self.dest.environments(),
                self.dest.tenants(),
                self.dest.machine_policies(),
                self.dest.worker_pools(),
            ),
            self.source.machine_policies(),
        )
        self.machines = {str(x.name).lower(): x for x in machines}
        self.workers = {str(x.name).lower(): x for x in workers}
        self.envs = {str(x.name).lower(): str(x.id) for x in envs}
        self.tenants = {str(x.name).lower(): str(x.id) for x in tenants}
        self.policies = {str(x.name).lower(): str(x.id) for x in policies}
        self.pools = {str(x.name).lower(): x for x in pools}
        self.server_policies = {str(x.name).lower(): x for x in server_policies}

    def existing(self, role: str, name: str) -> m.MachineBase | None:
        return (self.machines if role == "target" else self.workers).get(name.lower())

    def remember(self, role: str, raw: dict[str, Any]) -> m.MachineBase:
        if role == "target":
            t = m.Machine.model_validate(raw)
            self.machines[str(t.name).lower()] = t
            return t
        w = m.Worker.model_validate(raw)
        self.workers[str(w.name).lower()] = w
        return w

    async def policy(self, name: str | None) -> tuple[str | None, str]:
        """Cloud's id of a policy by name, creating a copy of the Server's first: ``(id, problem)``."""
        if not name:
            return None, ""
        found = self.policies.get(name.lower())
        if found:
            await self.close_pending(
                "create-machine-policy",
                name,
                "done",
                {
                    "policy_id": found,
                    "reconciled": True,
                    "undo": {"method": "DELETE", "path": f"machinepolicies/{found}"},
                    "sentence": f"Found the machine policy '{name}' on Octopus Cloud after an interruption.",
                },
            )
            return found, ""
        server = self.server_policies.get(name.lower())
        if server is None:
            return None, f"the machine policy '{name}' is neither on Cloud nor on the Server"
        await self.close_pending("create-machine-policy", name, "failed", _NOT_THERE)
        body = {k: v for k, v in server.to_json().items() if k not in _COMPUTED}
        body["IsDefault"] = False
        update = dict(body.get("MachineUpdatePolicy") or {})
        if update.get("TentacleUpdateAccountId"):
            update["TentacleUpdateAccountId"] = None  # an account id of the Server's; Cloud's differs
            body["MachineUpdatePolicy"] = update
        action = await _j(
            self.journal.begin_action,
            STEP,
            "create-machine-policy",
            name,
            {"name": name, "source_id": server.id, "body": body},
            {
                "method": "DELETE",
                "path": "machinepolicies/{id}",
                "id": "in this action's outcome detail (undo)",
            },
        )

        async def find() -> m.MachinePolicy | None:
            listed = await self.dest.machine_policies()
            return next((p for p in listed if str(p.name).lower() == name.lower()), None)

        try:
            created = await self.recovery.send_or_find(lambda: self.dest.create_machine_policy(body), find)
        except OctopusError as exc:
            sentence = f"Creating the machine policy '{name}' on Octopus Cloud failed: {exc}"
            await _j(self.journal.finish_action, action, "failed", {"sentence": sentence})
            return None, sentence
        new_id = str(created.id)
        self.policies[name.lower()] = new_id
        await _j(
            self.journal.finish_action,
            action,
            "done",
            {
                "policy_id": new_id,
                "undo": {"method": "DELETE", "path": f"machinepolicies/{new_id}"},
                "sentence": f"Created the machine policy '{name}' on Octopus Cloud.",
            },
            id_map={str(server.id): ("machinepolicy", new_id)},
        )
        return new_id, ""

    async def close_pending(self, kind: str, target: str, outcome: str, detail: dict[str, Any]) -> None:
        """Close the attempts at ``target`` an earlier run died in, with what Cloud shows now."""
        for a in [a for a in self.pending if a.kind == kind and a.target == target]:
            await _j(self.journal.finish_action, a.id, outcome, detail)
            self.pending.remove(a)

    async def settle(self, target: str, found: m.MachineBase, kind: str) -> None:
        """Close pending creations of ``target`` that died before their outcome was written."""
        await self.close_pending(
            kind,
            target,
            "done",
            {
                "cloud_id": found.id,
                "reconciled": True,
                "undo": {"delete": found.id},
                "sentence": f"Found '{target}' on Octopus Cloud after an interrupted attempt.",
            },
        )

    async def create(
        self, role: str, name: str, source_id: str, body: dict[str, Any], kind: str, crash: str
    ) -> tuple[m.MachineBase | None, str]:
        """Create a target or worker, journaled; a lost answer is looked for by name: ``(machine, error)``."""
        coll = "machines" if role == "target" else "workers"
        # Only called for a name Cloud does not show: an earlier attempt at it never landed.
        await self.close_pending(kind, name, "failed", _NOT_THERE)
        action = await _j(
            self.journal.begin_action,
            STEP,
            kind,
            name,
            {"name": name, "source_id": source_id, "role": role, "body": body},
            {"method": "DELETE", "path": f"{coll}/{{id}}", "id": "in this action's outcome detail (undo)"},
        )

        async def send() -> m.MachineBase:
            if role == "target":
                return await self.dest.create_machine(body)
            return await self.dest.create_worker(body)

        async def find() -> m.MachineBase | None:
            listed: list[m.MachineBase] = list(
                await (self.dest.machines(name=name) if role == "target" else self.dest.workers(name=name))
            )
            return next((x for x in listed if str(x.name).lower() == name.lower()), None)

        try:
            created = await self.recovery.send_or_find(send, find, refused=(ValidationFailed,))
        except ValidationFailed as exc:
            await _j(self.journal.finish_action, action, "refused", {"sentence": str(exc)})
            return None, str(exc)
        except OctopusError as exc:
            await _j(self.journal.finish_action, action, "failed", {"sentence": str(exc)})
            return None, str(exc)
        crash_point(crash)
        self.remember(role, created.to_json())
        await _j(
            self.journal.finish_action,
            action,
            "done",
            {
                "cloud_id": created.id,
                "undo": {"delete": created.id, "path": f"{coll}/{created.id}"},
                "sentence": f"Created '{name}' on Octopus Cloud.",
            },
            id_map={source_id: ("machine" if role == "target" else "worker", str(created.id))},
        )
        return created, ""


def _thumbprint(machine: m.MachineBase) -> str:
    return str(machine.thumbprint or _endpoint(machine).get("Thumbprint") or "")


# ---------------------------------------------------------------------------------------------------------
# Tentacles through the Server's script console
# ---------------------------------------------------------------------------------------------------------


def _description(wave: str, host: str) -> str:
    """The script task's description: unique per wave and host, so a lost request can be found again."""
    return f"octowiz: clone the Tentacle on {host} for Octopus Cloud ({wave})"


async def run_console(
    context: Context,
    journal: Journal,
    report: TargetsReport,
    hosts: list[str],
    *,
    on_event: OnEvent | None = None,
    plans: list[HostPlan] | None = None,
    settings: TargetSettings | None = None,
    clients: tuple[OctopusClient, OctopusClient] | None = None,
) -> list[HostResult]:
    """Clone each chosen host's Tentacles through the Server's script console, then register them on Cloud.

    For each host, in order: an ``AdHocScript`` task on the Server runs the console variant of the host's
    script (it carries no API key), octowiz follows it, reads the clone reports from its log and registers
    each clone on Cloud by REST with its environments, tenants, policy and pools remapped by name. A host
    whose script fails gets a sentence with the log's tail; the others go on.
    """
    settings = settings or TargetSettings()
    emit = on_event or (lambda e: None)
    plans = plans if plans is not None else host_plans(report)
    by_host = {p.host: p for p in plans}
    if clients is not None:
        return await _console(journal, report, hosts, by_host, emit, settings, *clients)
    values = await _j(lambda: journal.settings)
    from octowiz.engine.session import clients as open_clients

    async with open_clients(context, values) as (source, dest):
        assert dest is not None
        return await _console(journal, report, hosts, by_host, emit, settings, source, dest)


async def _console(
    journal: Journal,
    report: TargetsReport,
    hosts: list[str],
    by_host: dict[str, HostPlan],
    emit: OnEvent,
    settings: TargetSettings,
    source: OctopusClient,
    dest: OctopusClient,
) -> list[HostResult]:
    cloud = _Cloud(source, dest, journal, settings.recovery())
    await cloud.read()
    out = []
    for host in hosts:
        plan = by_host.get(host)
        if plan is None:
            out.append(HostResult(host, "failed", sentences=[f"There is no Tentacle host called '{host}'."]))
            continue
        disabled = [r.name for r in report.rows if r.host == host and r.disabled_on_server]
        if disabled and len(disabled) == len(plan.registrations):
            # Octopus runs no script on a disabled machine: the task would end without a word about it.
            out.append(
                HostResult(
                    host,
                    "failed",
                    sentences=[
                        f"{', '.join(disabled)} is disabled on the Server, so its script console cannot "
                        f"reach {host}: save its script (Ctrl+S, or --write-scripts) and run it on the host, "
                        "or enable it on the Server first."
                    ],
                )
            )
            continue
        result = HostResult(host, "registered")
        try:
            await _one_host(journal, report, plan, cloud, result, emit, settings)
        except OctopusError as exc:
            result.state = "failed"
            result.sentences.append(f"{host}: {exc}")
        out.append(result)
        await _j(
            journal.set_item,
            "host",
            host,
            "registered",
            "done" if result.state == "registered" else result.state,
            {"cloud_ids": result.cloud_ids, "sentences": result.sentences, "task_id": result.task_id},
        )
        emit(Event("register", f"{host}: {result.state}", host=host))
    emit(Event("done", f"{sum(r.state == 'registered' for r in out)} of {len(out)} host(s) registered"))
    return out


async def _described(client: OctopusClient, name: str, description: str) -> list[m.ServerTask]:
    """The newest tasks of a type that carry this description."""
    data = await client.get_json("/api/tasks", {"name": name, "take": 100}, "looking for a task")
    items = data.get("Items") or []
    return [m.ServerTask.model_validate(r) for r in items if r.get("Description") == description]


async def _new_task_finder(
    client: OctopusClient, name: str, description: str
) -> Callable[[], Awaitable[m.ServerTask | None]]:
    """What finds the task about to be sent should its answer be lost: one with the description, new since.

    An earlier run may have left tasks with the same description, so those seen before sending are not it.
    """
    before = {t.id for t in await _described(client, name, description)}

    async def find() -> m.ServerTask | None:
        return next((t for t in await _described(client, name, description) if t.id not in before), None)

    return find


async def _script_task(
    journal: Journal,
    report: TargetsReport,
    plan: HostPlan,
    source: OctopusClient,
    recovery: Recovery | None = None,
) -> tuple[str, bool]:
    """The Server task that runs this host's script: recorded, found again, or sent now: ``(id, sent)``."""
    sent = await _j(journal.item_status, "host", plan.host, "sent")
    if sent is not None and sent[0] == "done" and (sent[1] or {}).get("task_id"):
        return str(sent[1]["task_id"]), False
    description = _description(report.wave, plan.host)
    pending = [
        a
        for a in await _j(journal.actions, None, STEP)
        if a.kind == "run-script" and a.target == plan.host and a.pending
    ]
    if pending:
        # The request may have reached the Server before the process died: look for it by description.
        data = await source.get_json(
            "/api/tasks", {"name": "AdHocScript", "take": 100}, "looking for a script task"
        )
        for raw in data.get("Items") or []:
            if raw.get("Description") == description:
                task_id = str(raw.get("Id"))
                for a in pending:
                    await _j(journal.finish_action, a.id, "sent", {"reconciled": True}, task_id=task_id)
                await _j(journal.set_item, "host", plan.host, "sent", "done", {"task_id": task_id})
                return task_id, False
        for a in pending:
            await _j(journal.finish_action, a.id, "not sent", {"sentence": "No such task on the Server."})
    first = plan.registrations[0]
    target_type = "Machines" if first.kind == "target" else "Workers"
    script_body = scripts.script(plan, report.cloud, via="console")
    body = {
        "Name": "AdHocScript",
        "Description": description,
        "SpaceId": source.space_id,
        "Arguments": {
            "MachineIds": [first.machine_id],
            "TargetType": target_type,
            "Syntax": scripts.syntax(plan),
            "ScriptBody": script_body,
        },
    }
    instances = [scripts.clone_instance_name(r) for r in plan.registrations]
    action = await _j(
        journal.begin_action,
        STEP,
        "run-script",
        plan.host,
        {
            "host": plan.host,
            "machine_ids": [first.machine_id],
            "target_type": target_type,
            "syntax": scripts.syntax(plan),
            "description": description,
            "instances": instances,
        },
        {"host": plan.host, "delete_instances": instances, "how": "Tentacle delete-instance on the host"},
    )
    try:
        # A script task whose answer was lost is found by its description before another is sent.
        find = await _new_task_finder(source, "AdHocScript", description)
        task = await (recovery or Recovery(0)).send_or_find(lambda: source.run_script(body), find)
    except OctopusError as exc:
        await _j(journal.finish_action, action, "failed", {"sentence": str(exc)})
        raise
    crash_point("script-sent-not-recorded")
    await _j(journal.finish_action, action, "sent", {"host": plan.host}, task_id=str(task.id))
    await _j(journal.set_item, "host", plan.host, "sent", "done", {"task_id": str(task.id)})
    crash_point("after-script-request")
    return str(task.id), True


async def _one_host(
    journal: Journal,
    report: TargetsReport,
    plan: HostPlan,
    cloud: _Cloud,
    result: HostResult,
    emit: OnEvent,
    settings: TargetSettings,
) -> None:
    host, source = plan.host, cloud.source
    # Everything already registered (ours, by name and thumbprint): nothing to send again.
    recorded = await _j(journal.item_status, "host", host, "registered")
    if recorded is not None and recorded[0] == "done":
        ids = (recorded[1] or {}).get("cloud_ids") or {}
        if all(
            (x := cloud.existing(r.kind, r.name)) is not None and ids.get(r.name) == x.id
            for r in plan.registrations
        ):
            result.cloud_ids = dict(ids)
            emit(Event("register", f"{host}: already registered on Octopus Cloud", host=host))
            return
    task_id, sent = await _script_task(journal, report, plan, source, cloud.recovery)
    result.task_id = task_id
    emit(Event("script", f"{host}: {'sent' if sent else 'following'} script task {task_id}", host=host))
    tail: list[str] = []

    async def progress(p: TaskProgress) -> None:
        tail[:] = [line for line in p.log_tail if line]
        emit(Event("script", f"{host}: {p.task.state} {p.percent}%", p.percent, list(p.log_tail), host))

    try:
        await source.wait_for_task(
            task_id, on_progress=progress, poll_interval=settings.poll_interval, timeout=settings.task_timeout
        )
    except TaskFailed as exc:
        sentence = f"The script on {host} failed: {exc.error_message or exc}"
        if tail:
            sentence += " Last lines of its log: " + " | ".join(tail[-8:])
        result.state = "failed"
        result.sentences.append(sentence)
        await _j(journal.set_item, "host", host, "sent", "failed", {"task_id": task_id, "sentence": sentence})
        return
    except TimeoutError:
        result.state = "failed"
        result.sentences.append(
            f"The script task {task_id} on {host} is still running; octowiz stopped waiting. Running this "
            "host again follows the same task."
        )
        return
    crash_point("after-script")
    reports = scripts.parse_console_report(await source.task_log(task_id))
    for reg in plan.registrations:
        sentence = await _register(journal, cloud, plan, reg, reports, result, report)
        if sentence:
            result.sentences.append(sentence)
            if result.state == "registered":
                result.state = "conflict" if "already registered" in sentence else "partial"


async def _register(
    journal: Journal,
    cloud: _Cloud,
    plan: HostPlan,
    reg: scripts.Registration,
    reports: dict[str, scripts.CloneReport],
    result: HostResult,
    report: TargetsReport,
) -> str:
    """Register one clone on Cloud (or find it there); a sentence when it cannot be."""
    instance = scripts.clone_instance_name(reg)
    clone = reports.get(instance)
    if clone is None or not clone.thumbprint:
        return (
            f"The script on {plan.host} did not report the instance '{instance}' for '{reg.name}'; "
            "its log says why. Run this host again once that is fixed."
        )
    existing = cloud.existing(reg.kind, reg.name)
    if existing is not None:
        if _thumbprint(existing).lower() == clone.thumbprint.lower():
            await cloud.settle(reg.name, existing, "register")
            result.cloud_ids[reg.name] = str(existing.id)
            await _mark_row(journal, report, reg.machine_id, existing)
            return ""
        return (
            f"A host already registered on Cloud under that name ('{reg.name}', {existing.id}) has another "
            f"certificate thumbprint ({_thumbprint(existing) or 'none'}) than the clone on {plan.host} "
            f"({clone.thumbprint}); octowiz changed nothing. Rename or delete the one on Cloud, then run "
            "this host again."
        )
    problems: list[str] = []
    policy_id, problem = await cloud.policy(reg.policy)
    if problem:
        problems.append(problem)
    if reg.comms == "polling":
        if not clone.subscription_id:
            return f"The script on {plan.host} did not report a subscription id for '{reg.name}'."
        endpoint = {"CommunicationStyle": "TentacleActive", "Uri": clone.subscription_id}
    else:
        port = reg.listening_port or DEFAULT_LISTENING_PORT
        endpoint = {
            "CommunicationStyle": "TentaclePassive",
            "Uri": f"https://{reg.public_hostname or plan.host}:{port}/",
        }
    endpoint["Thumbprint"] = clone.thumbprint
    body: dict[str, Any] = {"Name": reg.name, "IsDisabled": False, "Endpoint": endpoint}
    if policy_id:
        body["MachinePolicyId"] = policy_id
    if reg.kind == "target":
        body["EnvironmentIds"] = _ids(cloud.envs, reg.environments, "environment", problems)
        body["Roles"] = list(reg.roles)
        body["TenantIds"] = _ids(cloud.tenants, reg.tenants, "tenant", problems)
        body["TenantTags"] = list(reg.tenant_tags)
        body["TenantedDeploymentParticipation"] = reg.participation or "Untenanted"
    else:
        pools = {k: str(v.id) for k, v in cloud.pools.items()}
        body["WorkerPoolIds"] = _ids(pools, reg.worker_pools, "worker pool", problems)
    if problems:
        return f"'{reg.name}' was not registered on Cloud: " + "; ".join(problems) + "."
    created, error = await cloud.create(
        reg.kind, reg.name, reg.machine_id, body, "register", "register-sent-not-recorded"
    )
    crash_point("after-register-request")
    if created is None:
        return f"Octopus Cloud refused to register '{reg.name}' from {plan.host}: {error}"
    result.cloud_ids[reg.name] = str(created.id)
    await _mark_row(journal, report, reg.machine_id, created)
    return ""


def _ids(names: dict[str, str], wanted: Iterable[str], noun: str, problems: list[str]) -> list[str]:
    out = []
    for name in wanted:
        found = names.get(name.lower())
        if found is None:
            problems.append(f"the {noun} '{name}' is not on Octopus Cloud")
        else:
            out.append(found)
    return out


async def _mark_row(journal: Journal, report: TargetsReport, source_id: str, machine: m.MachineBase) -> None:
    for r in report.rows:
        if r.source_id == source_id:
            r.cloud_id = str(machine.id)
            r.cloud_state = cloud_state(machine)
            await _j(_record_rows, journal, [r])


# ---------------------------------------------------------------------------------------------------------
# Everything else, through Cloud's API
# ---------------------------------------------------------------------------------------------------------


class _Refs:
    """Server id -> Cloud id maps, by name, for what a machine's body refers to."""

    def __init__(self) -> None:
        self.maps: dict[str, dict[str, str | None]] = {}  # kind -> server id -> cloud id (None: missing)
        self.names: dict[str, dict[str, str]] = {}  # kind -> server id -> name
        self.server_accounts: dict[str, m.Account] = {}
        self.cloud_accounts: dict[str, m.Account] = {}  # by cloud id

    def add(self, kind: str, server: Iterable[Any], cloud: Iterable[Any]) -> None:
        by_name = {str(x.name).lower(): str(x.id) for x in cloud}
        self.names[kind] = {str(x.id): str(x.name) for x in server}
        self.maps[kind] = {str(x.id): by_name.get(str(x.name).lower()) for x in server}


async def _refs(source: OctopusClient, dest: OctopusClient, proxies: bool) -> _Refs:
    refs = _Refs()
    pairs: dict[str, tuple[Any, Any]] = {
        "environment": (source.environments(), dest.environments()),
        "tenant": (source.tenants(), dest.tenants()),
        "workerpool": (source.worker_pools(), dest.worker_pools()),
        "account": (source.accounts(), dest.accounts()),
        "certificate": (source.certificates(), dest.certificates()),
        "feed": (source.feeds(), dest.feeds()),
    }
    if proxies:
        pairs["proxy"] = (
            source.all_unpaged("proxies", m.OctopusResource),
            dest.all_unpaged("proxies", m.OctopusResource),
        )
    results = await asyncio.gather(*(c for pair in pairs.values() for c in pair))
    for n, kind in enumerate(pairs):
        server, cloud = results[2 * n], results[2 * n + 1]
        if kind == "proxy":
            server = [m.Account.model_validate(x.to_json()) for x in server]
            cloud = [m.Account.model_validate(x.to_json()) for x in cloud]
        refs.add(kind, server, cloud)
        if kind == "workerpool":
            # The Server's default pool, absent on Cloud by name, is Cloud's default pool: the import
            # moves run-on-server steps there too.
            default = next((str(p.id) for p in cloud if p.is_default), None)
            for p in server:
                if p.is_default and refs.maps[kind].get(str(p.id)) is None:
                    refs.maps[kind][str(p.id)] = default
        if kind == "account":
            refs.server_accounts = {str(a.id): a for a in server}
            refs.cloud_accounts = {str(a.id): a for a in cloud}
    return refs


def _account_secrets(refs: _Refs, server_id: str, cloud_id: str) -> list[str]:
    """The secret fields the Server's account holds that Cloud's same-name account lacks (a placeholder)."""
    server = refs.server_accounts.get(server_id)
    cloud = refs.cloud_accounts.get(cloud_id)
    if server is None or cloud is None:
        return []
    s, c = server.to_json(), cloud.to_json()
    return [
        f for f in _ACCOUNT_SECRETS
        if isinstance(s.get(f), dict) and s[f].get("HasValue") and not (c.get(f) or {}).get("HasValue")
    ]  # fmt: skip


def _remap_body(
    raw: dict[str, Any], role: str, refs: _Refs
) -> tuple[dict[str, Any], list[str], list[str], list[str]]:
    """The Server's body made fit for Cloud: ``(body, problems, missing accounts, secrets)``."""
    body = {k: v for k, v in raw.items() if k not in _COMPUTED and not k.startswith("_")}
    endpoint = {k: v for k, v in dict(body.get("Endpoint") or {}).items() if k not in _COMPUTED}
    body["Endpoint"] = endpoint
    problems: list[str] = []
    missing_accounts: list[str] = []
    secrets: list[str] = []
    body.pop("Thumbprint", None)
    body.pop("Uri", None)

    def one(kind: str, value: Any, noun: str) -> str | None:
        if not value:
            return None
        name = refs.names.get(kind, {}).get(str(value))
        mapped = refs.maps.get(kind, {}).get(str(value))
        if mapped is None:
            if kind == "account":
                missing_accounts.append(name or str(value))
            else:
                problems.append(f"the {noun} '{name or value}' is not on Octopus Cloud")
            return None
        if kind == "account":
            fields = _account_secrets(refs, str(value), mapped)
            if fields:
                secrets.append(
                    f"Enter the {', '.join(fields)} of the account '{name}' on Octopus Cloud "
                    "(Infrastructure ▸ Accounts): the Server's value cannot be read back through the API."
                )
        return mapped

    def many(kind: str, values: Any, noun: str) -> list[str]:
        return [x for v in values or [] if (x := one(kind, v, noun))]

    if role == "target":
        body["EnvironmentIds"] = many("environment", body.get("EnvironmentIds"), "environment")
        body["TenantIds"] = many("tenant", body.get("TenantIds"), "tenant")
        if not body["TenantIds"] and not body.get("TenantTags"):
            body["TenantedDeploymentParticipation"] = "Untenanted"
    else:
        body["WorkerPoolIds"] = many("workerpool", body.get("WorkerPoolIds"), "worker pool")
    for key, kind, noun in (
        ("DefaultWorkerPoolId", "workerpool", "worker pool"),
        ("AccountId", "account", "account"),
        ("ClusterCertificate", "certificate", "certificate"),
        ("ProxyId", "proxy", "proxy"),
    ):
        if endpoint.get(key):
            endpoint[key] = one(kind, endpoint[key], noun)
    auth = dict(endpoint.get("Authentication") or {})
    if auth:
        if auth.get("AccountId"):
            auth["AccountId"] = one("account", auth["AccountId"], "account")
        if auth.get("ClientCertificate"):
            auth["ClientCertificate"] = one("certificate", auth["ClientCertificate"], "certificate")
        endpoint["Authentication"] = auth
    container = dict(endpoint.get("Container") or {})
    if container.get("FeedId"):
        container["FeedId"] = one("feed", container["FeedId"], "feed")
        endpoint["Container"] = container
    if isinstance(endpoint.get("Inputs"), dict):
        endpoint["Inputs"] = _remap_inputs(endpoint["Inputs"], lambda v: one("account", v, "account"))
    style = endpoint.get("CommunicationStyle")
    sensitive = {
        "OfflineDrop": [("SensitiveVariablesEncryptionPassword", "sensitive-variables encryption password")],
        "AzureServiceFabricCluster": [
            ("AadUserCredentialPassword", "Azure AD user password"),
            ("AadClientCredentialSecret", "Azure AD client secret"),
        ],
    }.get(str(style), [])
    for key, what in sensitive:
        value = endpoint.get(key)
        if (isinstance(value, dict) and value.get("HasValue")) or (isinstance(value, str) and value):
            secrets.append(
                f"Enter the {what} on this target on Octopus Cloud: the Server's value cannot be read back."
            )
        if key in endpoint:
            endpoint[key] = {"HasValue": False, "NewValue": None} if isinstance(value, dict) else None
    if endpoint.get("ProxyId"):
        secrets.append(
            "Enter the proxy's password on Octopus Cloud (Infrastructure ▸ Proxies) if it has one: the "
            "Server's value cannot be read back."
        )
    return body, problems, missing_accounts, secrets


def _remap_inputs(value: Any, account: Callable[[Any], str | None]) -> Any:
    """Step-package inputs: account references (``{"type": "account", "account": id}``) remapped."""
    if isinstance(value, dict):
        out = {k: _remap_inputs(v, account) for k, v in value.items()}
        if out.get("type") == "account" and isinstance(out.get("account"), str):
            out["account"] = account(out["account"])
        return out
    if isinstance(value, list):
        return [_remap_inputs(v, account) for v in value]
    return value


async def recreate_others(
    context: Context,
    journal: Journal,
    report: TargetsReport,
    names: list[str] | None = None,
    *,
    clients: tuple[OctopusClient, OctopusClient] | None = None,
) -> list[RecreateResult]:
    """Recreate the wave's non-Tentacle targets and SSH workers on Cloud through its API.

    The Server's body is copied with its ids remapped by name (cutover doc §B.4). A target whose account
    is not on Cloud is not created (its row says which account to create first); one with secrets the API
    cannot read back is created disabled and listed until :func:`mark_filled`. Kubernetes agents get the
    Helm command to run instead. A kind Cloud refuses gets Octopus's sentence; the others go on.
    """
    if clients is not None:
        return await _recreate(journal, report, names, *clients)
    values = await _j(lambda: journal.settings)
    from octowiz.engine.session import clients as open_clients

    async with open_clients(context, values) as (source, dest):
        assert dest is not None
        return await _recreate(journal, report, names, source, dest)


async def _recreate(
    journal: Journal,
    report: TargetsReport,
    names: list[str] | None,
    source: OctopusClient,
    dest: OctopusClient,
) -> list[RecreateResult]:
    wanted = {n.lower() for n in names} if names is not None else None
    rows = [
        r
        for r in report.rows
        if (r.kind in REST_KINDS or r.kind == "kubernetes-agent")
        and (r.role == "target" or r.kind == "ssh")
        and (wanted is None or r.name.lower() in wanted)
    ]
    if not rows:
        return []
    target_ids = [r.source_id for r in rows if r.role == "target"]
    worker_ids = [r.source_id for r in rows if r.role == "worker"]
    cloud = _Cloud(source, dest, journal)
    raw_t, raw_w, _ = await asyncio.gather(
        source.get_many("machines", target_ids, m.Machine, "reading targets"),
        source.get_many("workers", worker_ids, m.Worker, "reading workers"),
        cloud.read(),
    )
    raws: dict[str, dict[str, Any]] = {str(x.id): x.to_json() for x in [*raw_t, *raw_w]}
    proxies = any((raw.get("Endpoint") or {}).get("ProxyId") for raw in raws.values())
    refs = await _refs(source, dest, proxies)
    out = []
    for r in rows:
        result = await _recreate_one(journal, report, cloud, refs, r, raws.get(r.source_id))
        out.append(result)
    await _j(_record_rows, journal, rows)
    return out


async def _recreate_one(
    journal: Journal,
    report: TargetsReport,
    cloud: _Cloud,
    refs: _Refs,
    row: MachineRow,
    raw: dict[str, Any] | None,
) -> RecreateResult:
    result = RecreateResult(row.name, row.role, row.kind, "failed")
    if raw is None:
        result.sentence = f"'{row.name}' is no longer on the Server."
        return result
    existing = cloud.existing(row.role, row.name)
    if existing is not None:
        style = existing.communication_style
        row.cloud_id, row.cloud_state = str(existing.id), cloud_state(existing)
        if style != row.style:
            result.state = "refused"
            result.sentence = (
                f"A {style} machine named '{row.name}' is already on Octopus Cloud ({existing.id}); octowiz "
                "changed nothing. Rename or delete it there, then recreate this one."
            )
            row.note = result.sentence
            return result
        await cloud.settle(row.name, existing, "recreate")
        result.state, result.cloud_id = "already there", str(existing.id)
        recorded = await _j(journal.item_status, "machine", row.source_id, "secrets")
        if recorded is not None and recorded[0] == "needed":
            result.secrets = row.secrets = list((recorded[1] or {}).get("secrets") or [])
        return result
    if row.kind == "kubernetes-agent":
        result.state = "manual"
        result.sentence = (
            f"Install the Kubernetes agent's Cloud twin with Helm (set ${scripts.API_KEY_ENV} first):\n"
            + row.command
        )
        row.note = "Install with the Helm command; it registers itself on Octopus Cloud."
        return result
    body, problems, missing_accounts, secrets = _remap_body(raw, row.role, refs)
    policy_name = next(
        (p.name for p in cloud.server_policies.values() if p.id == raw.get("MachinePolicyId")), None
    )
    policy_id, problem = await cloud.policy(policy_name)
    if problem:
        problems.append(problem)
    body["MachinePolicyId"] = policy_id
    if missing_accounts:
        result.state = "needs account"
        result.sentence = (
            f"Create the account '{missing_accounts[0]}' on Octopus Cloud first (with its secret; the API "
            f"cannot read it from the Server), then recreate '{row.name}'."
        )
        row.note = result.sentence
        return result
    if problems:
        result.sentence = f"'{row.name}' was not created: " + "; ".join(problems) + "."
        row.note = result.sentence
        return result
    if secrets:
        body["IsDisabled"] = True  # it cannot work until someone enters what the API cannot copy
    created, error = await cloud.create(
        row.role, row.name, row.source_id, body, "recreate", "recreate-sent-not-recorded"
    )
    crash_point("after-recreate-request")
    if created is None:
        result.state = "refused"
        result.sentence = f"Octopus Cloud refused the {row.kind} {row.role} '{row.name}': {error}"
        row.note = result.sentence
        return result
    result.cloud_id = str(created.id)
    result.state = "created disabled" if secrets else "created"
    result.secrets = row.secrets = secrets
    row.cloud_id, row.cloud_state = str(created.id), cloud_state(created)
    if secrets:
        await _j(
            journal.set_item,
            "machine",
            row.source_id,
            "secrets",
            "needed",
            {"name": row.name, "role": row.role, "cloud_id": str(created.id), "secrets": secrets},
        )
    return result


async def mark_filled(
    context: Context,
    journal: Journal,
    name: str,
    *,
    clients: tuple[OctopusClient, OctopusClient] | None = None,
) -> None:
    """The secrets of a target created disabled were entered on Cloud: enable it there.

    Raises:
        TargetsError: no target of that name waits for secrets.
    """
    items = await _j(journal.items, "machine")
    found = next(
        (
            (i, d or {})
            for _, i, stage, status, d in items
            if stage == "secrets"
            and status == "needed"
            and str((d or {}).get("name", "")).lower() == name.lower()
        ),
        None,
    )
    if found is None:
        raise TargetsError(
            f"No target called '{name}' is waiting for secrets to be entered on Octopus Cloud."
        )
    source_id, detail = found
    if clients is not None:
        await _enable(journal, clients[1], source_id, detail)
        return
    values = await _j(lambda: journal.settings)
    from octowiz.engine.session import clients as open_clients

    async with open_clients(context, values) as (_, dest):
        assert dest is not None
        await _enable(journal, dest, source_id, detail)


async def _enable(journal: Journal, dest: OctopusClient, source_id: str, detail: dict[str, Any]) -> None:
    cloud_id = str(detail.get("cloud_id"))
    worker = detail.get("role") == "worker"
    coll = "workers" if worker else "machines"
    raw = await dest.get_json(dest.space_path(f"{coll}/{cloud_id}"), what="reading a target")
    if raw.get("IsDisabled"):
        action = await _j(
            journal.begin_action,
            STEP,
            "enable",
            str(detail.get("name")),
            {"cloud_id": cloud_id, "name": detail.get("name")},
            {"disable": cloud_id},
        )
        raw["IsDisabled"] = False
        await dest.update_machine(cloud_id, raw, worker=worker)
        await _j(journal.finish_action, action, "done", {"sentence": f"Enabled '{detail.get('name')}'."})
    await _j(journal.set_item, "machine", source_id, "secrets", "filled", detail)


# ---------------------------------------------------------------------------------------------------------
# Health
# ---------------------------------------------------------------------------------------------------------


async def health_check(
    context: Context,
    journal: Journal,
    report: TargetsReport,
    *,
    on_progress: OnEvent | None = None,
    settings: TargetSettings | None = None,
    clients: tuple[OctopusClient, OctopusClient] | None = None,
) -> dict[str, str]:
    """One ``Health`` task on Cloud for the wave's machines there; then each one's state, read in bulk.

    Updates the report's rows, the journal's machine rows and each Tentacle host's ``healthy`` stage.
    Returns ``name -> cloud state`` for the rows on Cloud.
    """
    settings = settings or TargetSettings()
    emit = on_progress or (lambda e: None)
    if clients is not None:
        return await _health(journal, report, emit, settings, clients[1])
    values = await _j(lambda: journal.settings)
    from octowiz.engine.session import clients as open_clients

    async with open_clients(context, values) as (_, dest):
        assert dest is not None
        return await _health(journal, report, emit, settings, dest)


async def _read_states(dest: OctopusClient, report: TargetsReport) -> dict[tuple[str, str], m.MachineBase]:
    machines, workers = await asyncio.gather(dest.machines(), dest.workers())
    found: dict[tuple[str, str], m.MachineBase] = {}
    for role, items in (("target", machines), ("worker", workers)):
        for x in items:
            found[(role, str(x.name).lower())] = x
    return found


async def _health(
    journal: Journal, report: TargetsReport, emit: OnEvent, settings: TargetSettings, dest: OctopusClient
) -> dict[str, str]:
    found = await _read_states(dest, report)
    ids = [
        str(x.id)
        for r in report.rows
        if (x := found.get((r.role, r.name.lower()))) is not None and not x.is_disabled
    ]
    if ids:
        body = {
            "Name": "Health",
            "Description": f"octowiz: health check of the machines of {report.wave}",
            "SpaceId": dest.space_id,
            "Arguments": {
                "Timeout": settings.health_timeout,
                "MachineTimeout": settings.machine_timeout,
                "MachineIds": ids,
            },
        }
        for a in await _j(journal.actions, None, STEP):
            if a.pending and a.kind == "health-check":
                # A health check only reads; one a run died in is simply run again now.
                detail = {"reconciled": True, "sentence": "Interrupted; the health check was run again."}
                await _j(journal.finish_action, a.id, "superseded", detail)
        action = await _j(journal.begin_action, STEP, "health-check", report.wave, {"machine_ids": ids}, None)
        try:
            find = await _new_task_finder(dest, "Health", str(body["Description"]))
            task = await settings.recovery().send_or_find(lambda: dest.create_task(body), find)
        except OctopusError as exc:
            await _j(journal.finish_action, action, "failed", {"sentence": str(exc)})
            raise
        await _j(journal.finish_action, action, "sent", {"machines": len(ids)}, task_id=str(task.id))
        emit(Event("health", f"Health check {task.id} started for {len(ids)} machine(s)"))

        async def progress(p: TaskProgress) -> None:
            emit(Event("health", f"Health check: {p.task.state} {p.percent}%", p.percent, list(p.log_tail)))

        try:
            await dest.wait_for_task(
                str(task.id),
                on_progress=progress,
                poll_interval=settings.poll_interval,
                timeout=settings.task_timeout,
            )
        except TaskFailed as exc:
            # Some machines did not answer: the task says so, and each machine's state says which.
            emit(Event("health", f"The health check ended with problems: {exc.error_message or exc}"))
        except TimeoutError:
            emit(Event("health", "The health check is still running on Octopus Cloud; states read so far."))
        crash_point("after-health")
        found = await _read_states(dest, report)
    out: dict[str, str] = {}
    for r in report.rows:
        x = found.get((r.role, r.name.lower()))
        r.cloud_id = str(x.id) if x is not None else None
        r.cloud_state = cloud_state(x)
        if x is not None:
            out[r.name] = r.cloud_state
    await _j(_record_rows, journal, report.rows)
    hosts: dict[str, list[MachineRow]] = {}
    for r in report.rows:
        if r.kind in TENTACLE_KINDS:
            hosts.setdefault(r.host, []).append(r)
    for host, rows in hosts.items():
        if all(r.cloud_state != "missing" for r in rows):
            healthy = all(r.cloud_state == "healthy" for r in rows)
            await _j(
                journal.set_item,
                "host",
                host,
                "healthy",
                "done" if healthy else "failed",
                {"states": {r.name: r.cloud_state for r in rows}},
            )
    emit(Event("done", f"{sum(s == 'healthy' for s in out.values())} of {len(out)} machine(s) healthy"))
    return out


__all__ = [
    "CRASH_POINTS",
    "Event",
    "HostResult",
    "MachineRow",
    "RecreateResult",
    "TargetSettings",
    "TargetsError",
    "TargetsReport",
    "canary_host",
    "health_check",
    "helm_command",
    "host_plans",
    "hosts_offered",
    "mark_filled",
    "read_targets",
    "recreate_others",
    "run_console",
    "write_scripts",
]
