"""Retiring the self-hosted Server: the last step of a migration.

The guide (``migrating-to-octopus-cloud.md``, decommissioning) ends a migration by making the Server
read-only, "turning on maintenance mode and setting the task cap to 0", and keeping it that way for months
so its old audit logs can still be read; each Tentacle host's old instance is then deleted, leaving the
Cloud clone. This module:

* reads where the retire stands (:func:`read_retire`): the preconditions, each with its state and a
  sentence (every planned project migrated, verified and disabled on the Server, or left behind with a
  reason; nothing running or queued on the Server; a typed confirmation that a full database backup
  exists; the audit log exported), then the Server's maintenance mode and node task caps and each
  Tentacle host's old-instance deletion state. It refuses an instance that is (or looks like) Octopus
  Cloud and a migration whose wave is half done;
* previews, does and undoes each action, in this order: maintenance mode on (:func:`maintenance_on`,
  undone by :func:`undo_maintenance`); task cap 0 on every node (:func:`task_caps_zero`, undone by
  :func:`restore_task_caps`); each host's old Tentacle instance deleted (:func:`delete_old_instances`,
  through Octopus Cloud's script console on the clone, canary first, non-production before production,
  or :func:`write_retire_scripts` + :func:`record_deleted` by hand). A deleted instance cannot be undone:
  the preview says so and the journal records it as irreversible.

Every change is a journal action of step :data:`STEP` whose intent is written before the request and its
outcome after. A node's previous task cap is written in the intent *before* its PUT, and a rerun never
writes another intent for a node already at 0, so a crash at any point never loses a cap to restore.
``OCTOWIZ_TEST_CRASH_AT=<point>`` (see :data:`CRASH_POINTS`) kills the process at a named boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from octowiz.engine.context import Context
from octowiz.engine.cutover import targets as tg
from octowiz.engine.cutover.scripts import HostPlan, clone_instance_name, syntax
from octowiz.engine.prepare.connect import CLOUD_ONLY_PROVIDERS, SERVER_ONLY_PROVIDERS
from octowiz.engine.retire import scripts as rs
from octowiz.journal import Journal
from octowiz.journal.journal import Action, now
from octowiz.octopus import models as m
from octowiz.octopus.client import OctopusClient, TaskProgress
from octowiz.octopus.errors import Forbidden, OctopusError, TaskFailed

T = TypeVar("T")

#: The journal step every retire action belongs to.
STEP = "retire"

KIND_MAINTENANCE_ON = "maintenance-on"
KIND_MAINTENANCE_OFF = "maintenance-off"
KIND_TASK_CAP = "task-cap"
KIND_RESTORE_CAP = "restore-task-cap"
KIND_DELETE = "delete-old-instance"
KIND_LEAVE = "leave-project"
KIND_TAKE_BACK = "take-back-project"
KIND_BACKUP = "confirm-backup"
KIND_WITHDRAW_BACKUP = "withdraw-backup"
KIND_AUDIT = "audit-log"

#: Journal items: a project left behind (kind ``project``), the checklist (kind ``retire``) and each
#: host's old instance (kind ``host``, next to the Targets step's stages).
STAGE_LEFT = "retire-left-behind"
ITEM_RETIRE = "retire"
BACKUP, AUDIT = "backup", "audit-log"
STAGE_OLD_SENT = "old-sent"
STAGE_OLD_DELETED = "old-deleted"

#: What the team types to confirm the backup (a sentence, so it is typed on purpose, not by habit).
BACKUP_PHRASE = "a full backup exists"

#: Where ``OCTOWIZ_TEST_CRASH_AT`` can stop the process.
CRASH_POINTS = (
    "maintenance-sent-not-recorded",
    "after-maintenance",
    "cap-sent-not-recorded",
    "after-first-cap",
    "after-task-caps",
    "delete-sent-not-recorded",
    "after-delete-request",
    "after-delete",
)

#: Host name endings of Octopus Cloud (as ``OctopusClient.discover`` decides ``is_cloud_host``).
CLOUD_HOSTS = (".octopus.app", ".octopusdeploy.app")

IRREVERSIBLE = (
    "This cannot be undone: a deleted Tentacle instance is not restored, and the Server can no longer "
    "deploy to that machine until a new instance is registered with it by hand."
)


def crash_point(name: str) -> None:
    """Die here, abruptly, when a test asked for it (``OCTOWIZ_TEST_CRASH_AT``)."""
    if os.environ.get("OCTOWIZ_TEST_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


class RetireError(Exception):
    """The retire cannot go on; ``str()`` is the sentence to show. The journal stays consistent."""


# ---------------------------------------------------------------------------------------------------------
# What is read
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Check:
    """One precondition: met or not, with a sentence saying why and what to do.

    Attributes:
        id: ``instance`` | ``projects`` | ``tasks`` | ``backup`` | ``audit-log``.
        tick: the team ticks it (a checklist item), rather than octowiz reading it.
    """

    id: str
    title: str
    ok: bool
    sentence: str
    tick: bool = False


@dataclass
class ProjectRow:
    """One planned project and whether it lets the Server go.

    Attributes:
        state: disabled | left behind | gone | not migrated | not verified | enabled.
    """

    project_id: str
    name: str
    wave: str
    state: str
    sentence: str

    @property
    def ok(self) -> bool:
        """True when this project no longer needs the Server."""
        return self.state in ("disabled", "left behind", "gone")


@dataclass
class NodeRow:
    """One Server node's task cap, and the cap the journal holds to restore (None: none recorded)."""

    node_id: str
    name: str
    cap: int | None
    previous_cap: int | None


@dataclass
class CloneRow:
    """A Cloud clone on a host: the Cloud machine or worker it is registered as."""

    name: str
    role: str  # target | worker
    cloud_id: str | None
    state: str  # the Cloud state (targets.cloud_state), or "left behind"


@dataclass
class HostRow:
    """One Tentacle host and its old instance.

    Attributes:
        state: to delete | blocked | sent | deleted | failed | left behind.
        production: a clone on it deploys to a production environment.
    """

    host: str
    os: str
    old_instance: str
    clones: list[CloneRow]
    production: bool
    state: str
    sentence: str
    plan: HostPlan
    task_id: str | None = None

    @property
    def clone_healthy(self) -> bool:
        """Every clone that moved to Cloud is healthy there (and at least one did)."""
        moved = [c for c in self.clones if c.state != "left behind"]
        return bool(moved) and all(c.state == "healthy" for c in moved)


@dataclass
class RetireReport:
    """Where the retire of the Server stands."""

    source_url: str
    checks: list[Check]
    projects: list[ProjectRow]
    tasks: list[tuple[str, str, str]]  # (id, description, state) of what runs or waits on the Server
    maintenance: bool | None
    nodes: list[NodeRow]
    hosts: list[HostRow]
    refusals: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self, check_id: str) -> Check | None:
        """A precondition by id."""
        return next((c for c in self.checks if c.id == check_id), None)

    def host(self, name: str) -> HostRow | None:
        """A host's row by name (case-insensitive)."""
        return next((h for h in self.hosts if h.host.lower() == name.strip().lower()), None)

    @property
    def preconditions_met(self) -> bool:
        """Nothing refused and every precondition met."""
        return not self.refusals and all(c.ok for c in self.checks)

    @property
    def read_only(self) -> bool:
        """The Server is read-only: maintenance mode on and every node's task cap 0."""
        return bool(self.maintenance) and bool(self.nodes) and all(n.cap == 0 for n in self.nodes)

    @property
    def retired(self) -> bool:
        """Read-only, and every host's old instance deleted (or left behind)."""
        return self.read_only and all(h.state in ("deleted", "left behind") for h in self.hosts)

    @property
    def canary(self) -> str | None:
        """The host whose old instance goes first: non-production, fewest clones, then by name."""
        live = [h for h in self.hosts if h.state != "left behind"]
        if not live:
            return None
        return min(live, key=lambda h: (h.production, len(h.clones), h.host)).host

    def offered_hosts(self) -> list[str]:
        """Hosts whose old instance may be deleted now: the canary alone until it is done, then every
        non-production host, and production hosts only once no non-production one is left."""
        todo = sorted(
            (h for h in self.hosts if h.state not in ("deleted", "left behind")),
            key=lambda h: (h.production, len(h.clones), h.host),
        )
        canary = self.canary
        if any(h.host == canary for h in todo):
            return [str(canary)]
        first = [h.host for h in todo if not h.production]
        return first or [h.host for h in todo]

    def blockers(self, action: Literal["maintenance", "task-caps", "delete"]) -> list[str]:
        """Why an action cannot go now (empty: it may)."""
        out = list(self.refusals)
        wanted = [c for c in self.checks if not c.ok and c.id != "instance"]
        if action != "maintenance":
            # Once the Server is in maintenance mode only system tasks can still queue (and with cap 0 they
            # wait forever): what runs is judged before maintenance mode goes on, not after.
            wanted = [c for c in wanted if c.id != "tasks"]
        out += [c.sentence for c in wanted]
        if action == "task-caps" and not self.maintenance:
            out.append("Turn maintenance mode on first: the task cap goes to 0 after it.")
        if action == "delete" and not self.read_only:
            out.append(
                "Make the Server read-only first (maintenance mode on, every node's task cap 0): old "
                "instances are deleted last."
            )
        return out


@dataclass
class Event:
    """One thing a running action reports, for a progress display or a log line."""

    stage: str  # maintenance | task-cap | delete | health | done
    message: str
    percent: int | None = None
    host: str | None = None
    log_tail: list[str] = field(default_factory=list)


OnEvent = Callable[[Event], None]


@dataclass
class Outcome:
    """Where one action ended.

    Attributes:
        status: done | already | refused | failed.
    """

    action: str
    status: str
    sentences: list[str] = field(default_factory=list)
    target: str = ""
    task_id: str | None = None


@dataclass
class RetireSettings:
    """How the step waits for tasks on Octopus Cloud."""

    poll_interval: float = 2.0
    task_timeout: float | None = 1800.0
    health_timeout: str = "00:05:00"
    machine_timeout: str = "00:01:00"


async def _j(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    return await asyncio.to_thread(fn, *args, **kw)


async def _with_clients(
    context: Context,
    journal: Journal,
    clients: tuple[OctopusClient, OctopusClient] | None,
    fn: Callable[[OctopusClient, OctopusClient], Awaitable[T]],
) -> T:
    if clients is not None:
        return await fn(*clients)
    values = await _j(lambda: journal.settings)
    from octowiz.engine.session import clients as open_clients

    async with open_clients(context, values) as (source, dest):
        assert dest is not None
        return await fn(source, dest)


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


# ---------------------------------------------------------------------------------------------------------
# The checklist the team fills in (blocking: journal writes)
# ---------------------------------------------------------------------------------------------------------


def leave_project(journal: Journal, project_id: str, reason: str) -> None:
    """Record that a planned project stays behind with the Server on purpose, with its undo.

    Blocking: a journal write. Undo with :func:`take_back_project`.

    Raises:
        RetireError: no reason, or the project is in no planned wave.
    """
    reason = reason.strip()
    if not reason:
        raise RetireError("Say why the project stays behind with the Server: the journal keeps the reason.")
    if not any(project_id in ids for ids in journal.waves().values()):
        raise RetireError(f"'{project_id}' is not a project of any planned wave.")
    action = journal.begin_action(
        STEP, KIND_LEAVE, project_id, {"project_id": project_id, "reason": reason}, {"take_back": project_id}
    )
    journal.set_item("project", project_id, STAGE_LEFT, "done", {"reason": reason, "who": _who()})
    journal.finish_action(action, "done")


def take_back_project(journal: Journal, project_id: str) -> None:
    """Undo :func:`leave_project`: the project counts again (blocking: a journal write).

    Raises:
        RetireError: it was not left behind.
    """
    recorded = journal.item_status("project", project_id, STAGE_LEFT)
    if recorded is None or recorded[0] != "done":
        raise RetireError(f"'{project_id}' was not left behind.")
    action = journal.begin_action(STEP, KIND_TAKE_BACK, project_id, {"project_id": project_id})
    journal.set_item("project", project_id, STAGE_LEFT, "undone", None)
    journal.finish_action(action, "done")


def confirm_backup(journal: Journal, text: str, who: str | None = None) -> dict[str, str]:
    """Record the team's typed confirmation that a full database backup of the Server exists.

    Blocking: a journal write. Returns who confirmed and when.

    Raises:
        ValueError: the text is not :data:`BACKUP_PHRASE`.
    """
    if " ".join(text.lower().split()) != BACKUP_PHRASE:
        raise ValueError(
            f"Type '{BACKUP_PHRASE}' to confirm that a full backup of the Server's SQL database (and its "
            "master key) exists."
        )
    detail = {"who": who or _who(), "when": now()}
    action = journal.begin_action(STEP, KIND_BACKUP, BACKUP, detail, {"withdraw": BACKUP})
    journal.set_item(ITEM_RETIRE, BACKUP, "confirmed", "done", detail)
    journal.finish_action(action, "done", detail)
    return detail


def withdraw_backup(journal: Journal) -> None:
    """Undo :func:`confirm_backup` (blocking: a journal write)."""
    action = journal.begin_action(STEP, KIND_WITHDRAW_BACKUP, BACKUP, {"who": _who()})
    journal.set_item(ITEM_RETIRE, BACKUP, "confirmed", "undone", None)
    journal.finish_action(action, "done")


def tick_audit_log(journal: Journal, done: bool = True, who: str | None = None) -> None:
    """Tick (or untick) "the audit log is exported" on the checklist (blocking: a journal write)."""
    detail = {"who": who or _who(), "when": now()}
    action = journal.begin_action(STEP, KIND_AUDIT, AUDIT, {**detail, "done": done}, {"done": not done})
    journal.set_item(ITEM_RETIRE, AUDIT, "exported", "done" if done else "undone", detail)
    journal.finish_action(action, "done")


# ---------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------


async def read_retire(
    context: Context,
    journal: Journal,
    *,
    clients: tuple[OctopusClient, OctopusClient] | None = None,
) -> RetireReport:
    """Where the retire stands: its preconditions, the Server's read-only state and each host's old instance.

    The Server is read in bulk (its projects, running tasks, maintenance mode, nodes; the wave's targets
    through :func:`octowiz.engine.cutover.targets.read_targets`), Cloud for the clones' states.

    Args:
        clients: already open ``(source, destination)`` clients; by default opened for the migration.
    """
    return await _with_clients(context, journal, clients, lambda s, d: _read(context, journal, s, d))


def _looks_like_cloud(source: OctopusClient, dest: OctopusClient, roots: tuple[Any, Any], auth: Any) -> str:
    host = source.host.lower()
    if host.endswith(CLOUD_HOSTS):
        return f"{source.base_url} is an Octopus Cloud address: octowiz retires only a self-hosted Server."
    if source.base_url == dest.base_url or (
        roots[0].installation_id and roots[0].installation_id == roots[1].installation_id
    ):
        return (
            "The migration's source is its destination, Octopus Cloud: octowiz never puts Octopus Cloud in "
            "maintenance mode or changes its task cap."
        )
    providers = {p.name for p in (auth.authentication_providers or []) if p.name}
    if providers & CLOUD_ONLY_PROVIDERS and not providers & SERVER_ONLY_PROVIDERS:
        return (
            f"{source.base_url} signs in like Octopus Cloud ({', '.join(sorted(providers))}): "
            "octowiz retires only a self-hosted Server. Check the migration's source address."
        )
    return ""


async def _read(
    context: Context, journal: Journal, source: OctopusClient, dest: OctopusClient
) -> RetireReport:
    waves = await _j(journal.waves)
    items = await _j(journal.items)
    stages: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
    for kind, item, stage, status, detail in items:
        if kind == "project":
            stages.setdefault(item, {})[stage] = (status, detail or {})
    roots, auth = await asyncio.gather(asyncio.gather(source.root(), dest.root()), source.authentication())
    cloud_refusal = _looks_like_cloud(source, dest, (roots[0], roots[1]), auth)
    if cloud_refusal:
        # Nothing else is read from an instance octowiz will not touch.
        check = Check("instance", "The Server is self-hosted", False, cloud_refusal)
        return RetireReport(source.base_url, [check], [], [], None, [], [], [cloud_refusal])
    server_projects, active, maintenance, nodes = await asyncio.gather(
        source.projects(), source.active_tasks(), source.maintenance(), source.nodes()
    )
    actions = await _j(journal.actions, None, None)
    report = RetireReport(
        source.base_url,
        [Check("instance", "The Server is self-hosted", True, f"{source.host} is a self-hosted Server.")],
        _project_rows(waves, stages, {str(p.id): p for p in server_projects}),
        [(str(t.id), str(t.description or t.name or ""), str(t.state)) for t in active],
        bool(maintenance.is_in_maintenance_mode),
        _node_rows(nodes, [a for a in actions if a.step == STEP]),
        [],
    )
    report.refusals += _half_done(waves, stages, items, actions, report.projects)
    report.hosts = await _host_rows(context, journal, waves, source, dest, report)
    planned = {pid for ids in waves.values() for pid in ids}
    report.checks += _checks(report, items, len([p for p in server_projects if str(p.id) not in planned]))
    return report


def _project_rows(
    waves: dict[str, list[str]],
    stages: dict[str, dict[str, tuple[str, dict[str, Any]]]],
    on_server: dict[str, m.Project],
) -> list[ProjectRow]:
    rows = []
    for wave, ids in waves.items():
        for pid in ids:
            st = stages.get(pid, {})
            project = on_server.get(pid)
            name = str(project.name) if project is not None and project.name else pid
            left = st.get(STAGE_LEFT, ("", {}))
            imported = st.get("import", ("", {}))[0] == "done"
            verified = st.get("verify", ("", {}))[0] == "done"
            cut = st.get("disabled", ("", {}))[0] in ("done", "overridden")
            if left[0] == "done":
                state, sentence = "left behind", f"Stays behind with the Server: {left[1].get('reason', '')}"
            elif project is None:
                state, sentence = (
                    ("gone", "No longer on the Server; verified on Octopus Cloud.")
                    if verified
                    else (
                        "not verified",
                        f"'{name}' is no longer on the Server and was never verified on Octopus Cloud: "
                        "leave it behind with a reason, or verify it.",
                    )
                )
            elif not imported:
                state = "not migrated"
                sentence = (
                    f"'{name}' is not on Octopus Cloud yet: migrate {wave}, or leave it behind with a reason."
                )
            elif not verified:
                state = "not verified"
                sentence = (
                    f"'{name}' is not verified on Octopus Cloud: finish its verification (octowiz migrate)."
                )
            elif not project.is_disabled:
                state = "enabled"
                sentence = (
                    f"'{name}' is verified on Octopus Cloud but still enabled on the Server: disable it "
                    f"(octowiz cutover --wave '{wave}' --disable)."
                    + (" It was disabled by the cut-over and enabled again since." if cut else "")
                )
            else:
                state = "disabled"
                sentence = "Migrated, verified and disabled on the Server." + (
                    "" if cut else " (Disabled on the Server by hand, not by octowiz's cut-over.)"
                )
            rows.append(ProjectRow(pid, name, wave, state, sentence))
    return rows


def _recorded_cap(actions: Iterable[Action], node_id: str) -> tuple[bool, int | None]:
    """``(recorded, previous cap)`` for a node, from the journal (actions newest first).

    The newest ``task-cap`` intent that went out (pending or done) holds the cap the node had before
    octowiz set 0, unless a restore finished after it. A found-at-zero record holds None.
    """
    for a in actions:
        if a.target != node_id:
            continue
        if a.kind == KIND_RESTORE_CAP and a.outcome == "done":
            return False, None
        if a.kind == KIND_TASK_CAP and (a.pending or a.outcome == "done"):
            value = a.intent.get("previous_cap")
            return True, int(value) if isinstance(value, int) else None
    return False, None


def _node_rows(nodes: list[m.OctopusServerNode], actions: list[Action]) -> list[NodeRow]:
    out = []
    for n in sorted(nodes, key=lambda x: str(x.id)):
        _, previous = _recorded_cap(actions, str(n.id))
        out.append(NodeRow(str(n.id), str(n.name or n.id), n.max_concurrent_tasks, previous))
    return out


def _half_done(
    waves: dict[str, list[str]],
    stages: dict[str, dict[str, tuple[str, dict[str, Any]]]],
    items: list[tuple[str, str, str, str, dict[str, Any] | None]],
    actions: list[Action],
    projects: list[ProjectRow],
) -> list[str]:
    out = []
    for _kind, batch_id, _stage, status, detail in (i for i in items if i[0] == "batch"):
        if status not in ("done", "closed"):
            wave = (detail or {}).get("wave", "a wave")
            out.append(
                f"A batch of {wave} is still in flight ({batch_id}, {status}): finish it with "
                f"octowiz migrate --wave '{wave}' before retiring the Server."
            )
    by_id = {p.project_id: p for p in projects}
    for wave, ids in waves.items():
        half = [
            by_id[pid].name
            for pid in ids
            if pid in by_id
            and stages.get(pid, {}).get("import", ("", {}))[0] == "done"
            and by_id[pid].state in ("not verified", "enabled")
        ]
        if half:
            out.append(
                f"{wave} is half done: {', '.join(half)} {'is' if len(half) == 1 else 'are'} "
                "on Octopus Cloud but not yet verified and disabled on the Server. Finish the wave "
                "(octowiz migrate, octowiz cutover) or leave those projects behind with a reason."
            )
    interrupted = sorted(
        {(a.step, a.kind) for a in actions if a.pending and a.step in ("migrate", "cutover")}
    )
    for step, kind in interrupted:
        out.append(
            f"An interrupted {kind} of the {step} step has no outcome yet: run octowiz {step} again to "
            "finish it before retiring the Server."
        )
    return out


def _checks(
    report: RetireReport,
    items: list[tuple[str, str, str, str, dict[str, Any] | None]],
    unplanned: int,
) -> list[Check]:
    checks = []
    waiting = [p for p in report.projects if not p.ok]
    left = sum(1 for p in report.projects if p.state == "left behind")
    if not report.projects:
        sentence = "No wave is planned: plan and migrate the projects that move to Octopus Cloud first."
    elif waiting:
        sentence = " ".join(p.sentence for p in waiting[:5]) + (
            f" ({len(waiting) - 5} more.)" if len(waiting) > 5 else ""
        )
    else:
        sentence = (
            f"All {len(report.projects)} planned project(s) are migrated, verified and disabled on the Server"
            + (f" ({left} left behind on purpose)" if left else "")
            + "."
        )
    if unplanned:
        sentence += (
            f" {unplanned} project(s) on the Server were never planned in a wave: they stay behind with it."
        )
    checks.append(
        Check(
            "projects", "Every planned project is on Cloud", bool(report.projects) and not waiting, sentence
        )
    )
    if report.tasks:
        names = ", ".join(f"{d or i} ({s})" for i, d, s in report.tasks[:5])
        checks.append(
            Check(
                "tasks",
                "Nothing runs on the Server",
                False,
                f"{len(report.tasks)} task(s) are running or queued on the Server: let them finish or cancel "
                f"them first: {names}.",
            )
        )
    else:
        checks.append(
            Check("tasks", "Nothing runs on the Server", True, "No task runs or waits on the Server.")
        )
    recorded = {(i, stage): (st, d or {}) for k, i, stage, st, d in items if k == ITEM_RETIRE}
    backup = recorded.get((BACKUP, "confirmed"), ("", {}))
    checks.append(
        Check(
            "backup",
            "A full database backup exists",
            backup[0] == "done",
            f"Confirmed by {backup[1].get('who')} on {backup[1].get('when')}."
            if backup[0] == "done"
            else "Back up the Server's SQL database and its master key, then type "
            f"'{BACKUP_PHRASE}' to confirm (octowiz retire --backup-confirmed '{BACKUP_PHRASE}').",
            tick=True,
        )
    )
    audit = recorded.get((AUDIT, "exported"), ("", {}))
    checks.append(
        Check(
            "audit-log",
            "The audit log is exported",
            audit[0] == "done",
            f"Ticked by {audit[1].get('who')} on {audit[1].get('when')}. Keep the Server read-only for as "
            "long as its old audit logs may be needed."
            if audit[0] == "done"
            else "Export the Server's audit log (Configuration ▸ Audit ▸ export) and keep it: the Server "
            "stays read-only for months so old audit logs can still be read, then goes. Tick it with "
            "--audit-exported.",
            tick=True,
        )
    )
    return checks


async def _host_rows(
    context: Context,
    journal: Journal,
    waves: dict[str, list[str]],
    source: OctopusClient,
    dest: OctopusClient,
    report: RetireReport,
) -> list[HostRow]:
    plans: dict[str, HostPlan] = {}
    rows: dict[str, tg.MachineRow] = {}
    for wave in waves:
        try:
            targets = await tg.read_targets(context, journal, wave, clients=(source, dest))
        except tg.TargetsError as exc:
            report.problems.append(str(exc))
            continue
        report.problems += targets.problems
        for r in targets.rows:
            rows.setdefault(f"{r.role}:{r.name}", r)
        for plan in tg.host_plans(targets):
            known = plans.get(plan.host)
            if known is None:
                plans[plan.host] = plan
            else:  # the same host in two waves: one old instance, every clone
                names = {(r.kind, r.name) for r in known.registrations}
                extra = tuple(r for r in plan.registrations if (r.kind, r.name) not in names)
                plans[plan.host] = HostPlan(known.host, known.os, known.registrations + extra)
    host_items: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
    for _k, host, stage, status, detail in await _j(journal.items, "host"):
        host_items.setdefault(host, {})[stage] = (status, detail or {})
    out = []
    for host, plan in sorted(plans.items()):
        clones = []
        for reg in plan.registrations:
            row = rows.get(f"{reg.kind}:{reg.name}")
            state = "missing" if row is None else ("left behind" if row.left_behind else row.cloud_state)
            clones.append(CloneRow(reg.name, reg.kind, row.cloud_id if row else None, state))
        production = any(r.environments_are_production for r in plan.registrations)
        hr = HostRow(host, plan.os, plan.original_instance, clones, production, "", "", plan)
        recorded = host_items.get(host, {})
        deleted = recorded.get(STAGE_OLD_DELETED)
        sent = recorded.get(STAGE_OLD_SENT)
        if deleted and deleted[0] == "done":
            hr.state = "deleted"
            hr.sentence = str(
                deleted[1].get("sentence") or f"The old instance {plan.original_instance} is gone."
            )
            hr.task_id = deleted[1].get("task_id")
        elif all(c.state == "left behind" for c in clones):
            hr.state, hr.sentence = "left behind", "Every machine on it stays behind with the Server."
        elif sent and sent[0] == "done":
            hr.state, hr.task_id = "sent", sent[1].get("task_id")
            hr.sentence = f"The delete script is running on Octopus Cloud (task {hr.task_id})."
        elif not hr.clone_healthy:
            hr.state = "blocked"
            hr.sentence = (
                "Its Cloud clone is not healthy on Octopus Cloud ("
                + ", ".join(f"{c.name}: {c.state}" for c in clones)
                + "): clone it and run a health check (octowiz targets --health) first; the old instance "
                "stays until then."
            )
        else:
            failed = deleted is not None and deleted[0] == "failed"
            hr.state = "failed" if failed else "to delete"
            hr.sentence = (
                str(deleted[1].get("sentence"))
                if failed and deleted is not None
                else f"Its clone is healthy on Octopus Cloud; the old instance {plan.original_instance} "
                "can go."
            )
        out.append(hr)
    return out


# ---------------------------------------------------------------------------------------------------------
# Previews
# ---------------------------------------------------------------------------------------------------------


def preview_maintenance(report: RetireReport) -> list[str]:
    """What turning maintenance mode on does, in sentences."""
    if report.maintenance:
        return ["Maintenance mode is already on."]
    return [
        f"Turn maintenance mode on for {report.source_url}: only system administrators can change anything "
        "on it afterwards; running and queued tasks still run.",
        "Undo: octowiz retire --undo maintenance switches it off again.",
    ]


def preview_task_caps(report: RetireReport) -> list[str]:
    """What setting every node's task cap to 0 does, in sentences."""
    out = [
        f"Set the task cap of {n.name} from {n.cap} to 0 (the journal keeps {n.cap} to restore)."
        for n in report.nodes
        if n.cap != 0
    ]
    if not out:
        return ["Every node's task cap is already 0."]
    return [
        *out,
        "With every task cap at 0 no task starts on the Server: it is read-only.",
        "Undo: octowiz retire --undo task-caps puts each node's previous cap back.",
    ]


def preview_delete(report: RetireReport, hosts: Iterable[str]) -> list[str]:
    """What deleting these hosts' old instances does, in sentences, ending with the plain warning."""
    out = []
    for name in hosts:
        row = report.host(name)
        if row is None:
            continue
        clones = ", ".join(clone_instance_name(r) for r in row.plan.registrations)
        out.append(
            f"{row.host} ({row.os}): stop and uninstall the service of the old instance "
            f"'{row.old_instance}', then delete it (Tentacle service --stop --uninstall, "
            f"delete-instance), run through Octopus Cloud's script console on the clone; the clone(s) "
            f"{clones} stay."
        )
    if out:
        out.append(IRREVERSIBLE)
    return out


# ---------------------------------------------------------------------------------------------------------
# 1. Maintenance mode
# ---------------------------------------------------------------------------------------------------------

_MAINTENANCE_PATH = "/api/maintenanceconfiguration"


def _sentence(exc: OctopusError, what: str) -> str:
    if isinstance(exc, Forbidden):
        return (
            f"The Server refused to {what}: the API key's user needs the AdministerSystem permission "
            f"(an Octopus Administrators team member's key). {exc}"
        )
    return f"The Server did not {what}: {exc}"


async def maintenance_on(
    context: Context,
    journal: Journal,
    report: RetireReport,
    *,
    clients: tuple[OctopusClient, OctopusClient] | None = None,
) -> Outcome:
    """Turn the Server's maintenance mode on (refused while a precondition is not met).

    The Server is read first, so a rerun after a crash closes the interrupted action instead of sending
    the change again.
    """
    return await _with_clients(
        context, journal, clients, lambda s, _d: _maintenance(journal, report, s, True)
    )


async def undo_maintenance(
    context: Context,
    journal: Journal,
    *,
    clients: tuple[OctopusClient, OctopusClient] | None = None,
) -> Outcome:
    """Undo :func:`maintenance_on`: maintenance mode off again."""
    return await _with_clients(context, journal, clients, lambda s, _d: _maintenance(journal, None, s, False))


async def _maintenance(
    journal: Journal, report: RetireReport | None, source: OctopusClient, on: bool
) -> Outcome:
    kind = KIND_MAINTENANCE_ON if on else KIND_MAINTENANCE_OFF
    name = "maintenance" if on else "undo maintenance"
    current = bool((await source.maintenance()).is_in_maintenance_mode)
    pending = [a for a in await _j(journal.actions, None, STEP) if a.kind == kind and a.pending]
    undo = {"instance": "server", "method": "PUT", "path": _MAINTENANCE_PATH, "IsInMaintenanceMode": not on}
    state = "on" if on else "off"
    if current == on:
        for a in pending:
            await _j(journal.finish_action, a.id, "done", {"undo": undo, "reconciled": True})
        return Outcome(name, "already", [f"Maintenance mode is {state} on the Server."], "server")
    if report is not None:
        blockers = report.blockers("maintenance")
        if blockers:
            return Outcome(name, "refused", blockers, "server")
    for a in pending:
        await _j(journal.finish_action, a.id, "failed", {"error": "the Server did not apply it; sent again"})
    aid = await _j(journal.begin_action, STEP, kind, "server", {"url": source.base_url, "on": on}, undo)
    try:
        await source.set_maintenance(on)
    except OctopusError as exc:
        sentence = _sentence(exc, f"switch maintenance mode {state}")
        await _j(journal.finish_action, aid, "failed", {"sentence": sentence})
        return Outcome(name, "failed", [sentence], "server")
    crash_point("maintenance-sent-not-recorded")
    sentence = f"Maintenance mode is {state} on the Server."
    await _j(journal.finish_action, aid, "done", {"undo": undo, "sentence": sentence})
    crash_point("after-maintenance")
    return Outcome(name, "done", [sentence], "server")


# ---------------------------------------------------------------------------------------------------------
# 2. Task caps
# ---------------------------------------------------------------------------------------------------------


async def task_caps_zero(
    context: Context,
    journal: Journal,
    report: RetireReport,
    *,
    clients: tuple[OctopusClient, OctopusClient] | None = None,
) -> Outcome:
    """Set every Server node's task cap to 0, each node's previous cap written in the intent first.

    A node already at 0 with an intent on record keeps that record (its cap before octowiz); one at 0
    without any is recorded as found at 0 (the undo leaves it at 0), never as "previous cap 0".
    """
    return await _with_clients(context, journal, clients, lambda s, _d: _caps_zero(journal, report, s))


async def _caps_zero(journal: Journal, report: RetireReport, source: OctopusClient) -> Outcome:
    nodes = sorted(await source.nodes(), key=lambda n: str(n.id))
    if any(n.max_concurrent_tasks != 0 for n in nodes):
        blockers = report.blockers("task-caps")
        if blockers:
            return Outcome("task caps", "refused", blockers, "server")
    actions = await _j(journal.actions, None, STEP)
    sentences: list[str] = []
    changed = 0
    for node in nodes:
        nid, name = str(node.id), str(node.name or node.id)
        path = f"/api/octopusservernodes/{nid}"
        pending = [a for a in actions if a.kind == KIND_TASK_CAP and a.target == nid and a.pending]
        if node.max_concurrent_tasks == 0:
            for a in pending:  # the PUT went through before the process died: its intent is the truth
                await _j(
                    journal.finish_action,
                    a.id,
                    "done",
                    {"previous_cap": a.intent.get("previous_cap"), "undo": a.undo, "reconciled": True},
                )
            recorded, _ = _recorded_cap(actions, nid)
            if not recorded:
                aid = await _j(
                    journal.begin_action,
                    STEP,
                    KIND_TASK_CAP,
                    nid,
                    {"node_id": nid, "name": name, "previous_cap": None, "found_at_zero": True},
                    None,
                )
                await _j(
                    journal.finish_action,
                    aid,
                    "done",
                    {"sentence": f"{name}'s task cap was already 0 before octowiz; an undo leaves it at 0."},
                )
            sentences.append(f"{name}: task cap 0.")
            continue
        for a in pending:
            await _j(
                journal.finish_action, a.id, "failed", {"error": "the Server did not apply it; sent again"}
            )
        previous = int(node.max_concurrent_tasks or 0) if node.max_concurrent_tasks is not None else None
        undo = {"instance": "server", "method": "PUT", "path": path, "MaxConcurrentTasks": previous}
        aid = await _j(
            journal.begin_action,
            STEP,
            KIND_TASK_CAP,
            nid,
            {"node_id": nid, "name": name, "previous_cap": previous},
            undo,
        )
        try:
            await source.set_task_cap(nid, 0)
        except OctopusError as exc:
            sentence = _sentence(exc, f"set the task cap of {name} to 0")
            await _j(journal.finish_action, aid, "failed", {"sentence": sentence})
            return Outcome("task caps", "failed", [*sentences, sentence], "server")
        crash_point("cap-sent-not-recorded")
        await _j(
            journal.finish_action,
            aid,
            "done",
            {"previous_cap": previous, "undo": undo, "sentence": f"{name}: task cap {previous} -> 0."},
        )
        sentences.append(f"{name}: task cap {previous} -> 0.")
        changed += 1
        if changed == 1:
            crash_point("after-first-cap")
    crash_point("after-task-caps")
    return Outcome("task caps", "done" if changed else "already", sentences, "server")


async def restore_task_caps(
    context: Context,
    journal: Journal,
    *,
    clients: tuple[OctopusClient, OctopusClient] | None = None,
) -> Outcome:
    """Undo :func:`task_caps_zero`: each node's previous cap, as its intent recorded it, put back."""
    return await _with_clients(context, journal, clients, lambda s, _d: _restore(journal, s))


async def _restore(journal: Journal, source: OctopusClient) -> Outcome:
    nodes = sorted(await source.nodes(), key=lambda n: str(n.id))
    actions = await _j(journal.actions, None, STEP)
    sentences: list[str] = []
    changed = 0
    for node in nodes:
        nid, name = str(node.id), str(node.name or node.id)
        recorded, previous = _recorded_cap(actions, nid)
        if not recorded or previous is None:
            continue
        pending = [a for a in actions if a.kind == KIND_RESTORE_CAP and a.target == nid and a.pending]
        path = f"/api/octopusservernodes/{nid}"
        if node.max_concurrent_tasks == previous:
            for a in pending:
                await _j(journal.finish_action, a.id, "done", {"reconciled": True})
            # Recorded as restored, so the cap found now is not taken for octowiz's 0 any more.
            aid = await _j(
                journal.begin_action, STEP, KIND_RESTORE_CAP, nid, {"node_id": nid, "cap": previous}
            )
            await _j(journal.finish_action, aid, "done", {"found": True})
            continue
        for a in pending:
            await _j(
                journal.finish_action, a.id, "failed", {"error": "the Server did not apply it; sent again"}
            )
        aid = await _j(
            journal.begin_action,
            STEP,
            KIND_RESTORE_CAP,
            nid,
            {"node_id": nid, "name": name, "cap": previous, "from": node.max_concurrent_tasks},
            {"instance": "server", "method": "PUT", "path": path, "MaxConcurrentTasks": 0},
        )
        try:
            await source.set_task_cap(nid, previous)
        except OctopusError as exc:
            sentence = _sentence(exc, f"restore the task cap of {name}")
            await _j(journal.finish_action, aid, "failed", {"sentence": sentence})
            return Outcome("undo task caps", "failed", [*sentences, sentence], "server")
        await _j(journal.finish_action, aid, "done", {"sentence": f"{name}: task cap back to {previous}."})
        sentences.append(f"{name}: task cap back to {previous}.")
        changed += 1
    return Outcome(
        "undo task caps",
        "done" if changed else "already",
        sentences or ["No task cap octowiz changed is left to restore."],
        "server",
    )


# ---------------------------------------------------------------------------------------------------------
# 3. The old Tentacle instances
# ---------------------------------------------------------------------------------------------------------


def write_retire_scripts(
    report: RetireReport, directory: Path, hosts: Iterable[str] | None = None
) -> list[Path]:
    """Write each host's delete script to run by hand (blocking: file writes).

    Only hosts with a clone are written (the script refuses a host without its clone anyway).
    """
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {h.lower() for h in hosts} if hosts is not None else None
    out = []
    for row in report.hosts:
        if row.state == "left behind" or (wanted is not None and row.host.lower() not in wanted):
            continue
        path = directory / rs.retire_file_name(row.plan)
        path.write_text(rs.retire_script(row.plan, via="download"), encoding="utf-8", newline="\n")
        if path.suffix == ".sh":
            path.chmod(0o755)
        out.append(path)
    return out


def record_deleted(journal: Journal, report: RetireReport, host: str, note: str = "") -> None:
    """Record that the team ran the downloaded script on ``host`` (blocking: a journal write).

    Raises:
        RetireError: no such host.
    """
    row = report.host(host)
    if row is None:
        raise RetireError(f"No Tentacle host of this migration is called '{host}'.")
    detail = {
        "host": row.host,
        "instances": [row.old_instance],
        "via": "download",
        "who": _who(),
        "note": note,
        "irreversible": True,
        "sentence": f"The old instance {row.old_instance} was deleted by hand with the downloaded script.",
    }
    aid = journal.begin_action(STEP, KIND_DELETE, row.host, detail, {"possible": False, "why": IRREVERSIBLE})
    journal.set_item("host", row.host, STAGE_OLD_DELETED, "done", detail)
    journal.finish_action(aid, "done", detail)


def _description(host: str, action_id: int) -> str:
    """The Cloud task's description: unique per attempt, so a lost request can be found again."""
    return f"octowiz: delete the old Tentacle instance on {host} (retiring the Server, #{action_id})"


async def delete_old_instances(
    context: Context,
    journal: Journal,
    report: RetireReport,
    hosts: list[str],
    *,
    on_event: OnEvent | None = None,
    settings: RetireSettings | None = None,
    clients: tuple[OctopusClient, OctopusClient] | None = None,
) -> list[Outcome]:
    """Delete each chosen host's old instance through Octopus Cloud's script console on its clone.

    Refused while the Server is not read-only, for a host not offered yet (the canary first, non-production
    before production) and for a host whose clone is not healthy on Cloud. After each script, a health
    check on Cloud proves the clone still answers; a host whose script or check fails gets a sentence and
    the others go on. Irreversible: the journal records it so.
    """
    settings = settings or RetireSettings()
    emit = on_event or (lambda e: None)
    return await _with_clients(
        context, journal, clients, lambda _s, d: _delete(journal, report, hosts, emit, settings, d)
    )


async def _delete(
    journal: Journal,
    report: RetireReport,
    hosts: list[str],
    emit: OnEvent,
    settings: RetireSettings,
    dest: OctopusClient,
) -> list[Outcome]:
    out: list[Outcome] = []
    blockers = report.blockers("delete")
    for name in hosts:
        row = report.host(name)
        if row is None:
            out.append(
                Outcome(
                    "delete", "refused", [f"No Tentacle host of this migration is called '{name}'."], name
                )
            )
            continue
        if row.state == "deleted":
            out.append(Outcome("delete", "already", [row.sentence], row.host, row.task_id))
            continue
        if blockers:
            out.append(Outcome("delete", "refused", blockers, row.host))
            continue
        offered = report.offered_hosts()
        if row.host not in offered and row.state != "sent":
            why = (
                f"the canary host {report.canary} goes first"
                if report.canary in offered and report.canary != row.host
                else "the non-production hosts go first"
            )
            out.append(
                Outcome(
                    "delete",
                    "refused",
                    [f"{row.host} is not offered yet: {why} ({', '.join(offered)})."],
                    row.host,
                )
            )
            continue
        if not row.clone_healthy:
            out.append(Outcome("delete", "refused", [row.sentence], row.host))
            continue
        try:
            outcome = await _delete_one(journal, row, emit, settings, dest)
        except OctopusError as exc:
            outcome = Outcome("delete", "failed", [f"{row.host}: {exc}"], row.host)
        out.append(outcome)
        row.state = "deleted" if outcome.status == "done" else "failed"
        row.sentence = " ".join(outcome.sentences)
    return out


async def _delete_task(journal: Journal, row: HostRow, dest: OctopusClient) -> tuple[str, int, bool]:
    """The Cloud task running this host's delete script: recorded, found again, or sent now.

    Returns ``(task id, action id, sent now)``.
    """
    sent = await _j(journal.item_status, "host", row.host, STAGE_OLD_SENT)
    recorded = (sent[1] or {}) if sent is not None and sent[0] == "done" else {}
    if recorded.get("task_id"):
        return str(recorded["task_id"]), int(recorded.get("action_id") or 0), False
    pending = [
        a
        for a in await _j(journal.actions, None, STEP)
        if a.kind == KIND_DELETE and a.target == row.host and a.pending
    ]
    if pending:
        # The request may have reached Cloud before the process died: look for it by its description.
        data = await dest.get_json(
            "/api/tasks", {"name": "AdHocScript", "take": 100}, "looking for a script task"
        )
        by_description = {str(raw.get("Description")): str(raw.get("Id")) for raw in data.get("Items") or []}
        for a in pending:
            task_id = by_description.get(_description(row.host, a.id))
            if task_id:
                await _j(journal.finish_action, a.id, "sent", {"reconciled": True}, task_id=task_id)
                await _j(
                    journal.set_item,
                    "host",
                    row.host,
                    STAGE_OLD_SENT,
                    "done",
                    {"task_id": task_id, "action_id": a.id},
                )
                return task_id, a.id, False
            await _j(journal.finish_action, a.id, "not sent", {"sentence": "No such task on Octopus Cloud."})
    clone = next(c for c in row.clones if c.state == "healthy" and c.cloud_id)
    script = rs.retire_script(row.plan, via="console")
    intent = {
        "host": row.host,
        "instances": [row.old_instance],
        "keep": rs.clone_instances(row.plan),
        "via": "console",
        "on": {"name": clone.name, "cloud_id": clone.cloud_id, "role": clone.role},
        "irreversible": True,
    }
    aid = await _j(
        journal.begin_action, STEP, KIND_DELETE, row.host, intent, {"possible": False, "why": IRREVERSIBLE}
    )
    body = {
        "Name": "AdHocScript",
        "Description": _description(row.host, aid),
        "SpaceId": dest.space_id,
        "Arguments": {
            "MachineIds": [clone.cloud_id],
            "TargetType": "Machines" if clone.role == "target" else "Workers",
            "Syntax": syntax(row.plan),
            "ScriptBody": script,
        },
    }
    try:
        task = await dest.run_script(body)
    except OctopusError as exc:
        await _j(journal.finish_action, aid, "failed", {"sentence": str(exc)})
        raise
    crash_point("delete-sent-not-recorded")
    await _j(journal.finish_action, aid, "sent", {"host": row.host}, task_id=str(task.id))
    await _j(
        journal.set_item,
        "host",
        row.host,
        STAGE_OLD_SENT,
        "done",
        {"task_id": str(task.id), "action_id": aid},
    )
    crash_point("after-delete-request")
    return str(task.id), aid, True


async def _delete_one(
    journal: Journal, row: HostRow, emit: OnEvent, settings: RetireSettings, dest: OctopusClient
) -> Outcome:
    task_id, aid, sent = await _delete_task(journal, row, dest)
    row.task_id = task_id
    emit(
        Event(
            "delete",
            f"{row.host}: {'sent' if sent else 'following'} delete script task {task_id}",
            host=row.host,
        )
    )
    tail: list[str] = []

    async def progress(p: TaskProgress) -> None:
        tail[:] = [line for line in p.log_tail if line]
        emit(
            Event("delete", f"{row.host}: {p.task.state} {p.percent}%", p.percent, row.host, list(p.log_tail))
        )

    async def fail(sentence: str) -> Outcome:
        await _j(journal.set_item, "host", row.host, STAGE_OLD_SENT, "failed", {"task_id": task_id})
        await _j(
            journal.set_item,
            "host",
            row.host,
            STAGE_OLD_DELETED,
            "failed",
            {"task_id": task_id, "sentence": sentence},
        )
        if aid:
            await _j(journal.finish_action, aid, "failed", {"sentence": sentence}, task_id=task_id)
        return Outcome("delete", "failed", [sentence], row.host, task_id)

    try:
        await dest.wait_for_task(
            task_id, on_progress=progress, poll_interval=settings.poll_interval, timeout=settings.task_timeout
        )
    except TaskFailed as exc:
        sentence = f"The delete script on {row.host} failed: {exc.error_message or exc}"
        if tail:
            sentence += " Last lines of its log: " + " | ".join(tail[-8:])
        return await fail(sentence)
    except TimeoutError:
        return Outcome(
            "delete",
            "failed",
            [
                f"The delete script task {task_id} on {row.host} is still running; running this again "
                "follows it."
            ],
            row.host,
            task_id,
        )
    crash_point("after-delete")
    states = await _health(row, emit, settings, dest)
    unhealthy = {n: s for n, s in states.items() if s != "healthy"}
    if unhealthy:
        return await fail(
            f"The old instance on {row.host} is deleted, but its clone is not healthy on Octopus Cloud "
            "after it: "
            + ", ".join(f"{n}: {s}" for n, s in unhealthy.items())
            + ". Check the clone's service on the host."
        )
    sentence = (
        f"The old instance {row.old_instance} is gone from {row.host}; "
        + ", ".join(states)
        + " still healthy on Octopus Cloud."
    )
    detail = {"task_id": task_id, "health": states, "irreversible": True, "sentence": sentence}
    await _j(journal.set_item, "host", row.host, STAGE_OLD_DELETED, "done", detail)
    if aid:
        await _j(journal.finish_action, aid, "done", detail, task_id=task_id)
    emit(Event("delete", sentence, host=row.host))
    return Outcome("delete", "done", [sentence], row.host, task_id)


async def _health(
    row: HostRow, emit: OnEvent, settings: RetireSettings, dest: OctopusClient
) -> dict[str, str]:
    """One health check on Cloud of the host's clones; their states read back: ``name -> state``."""
    clones = [c for c in row.clones if c.cloud_id and c.state != "left behind"]
    body = {
        "Name": "Health",
        "Description": f"octowiz: health check of the clones on {row.host} after retiring its old instance",
        "SpaceId": dest.space_id,
        "Arguments": {
            "Timeout": settings.health_timeout,
            "MachineTimeout": settings.machine_timeout,
            "MachineIds": [c.cloud_id for c in clones],
        },
    }
    task = await dest.create_task(body)
    emit(Event("health", f"{row.host}: health check {task.id} of its clone(s)", host=row.host))
    with contextlib.suppress(TaskFailed):  # each machine's own state says which did not answer
        await dest.wait_for_task(
            str(task.id), poll_interval=settings.poll_interval, timeout=settings.task_timeout
        )
    machines, workers = await asyncio.gather(dest.machines(), dest.workers())
    found: dict[tuple[str, str], m.MachineBase] = {("target", str(x.name).lower()): x for x in machines}
    found.update({("worker", str(x.name).lower()): x for x in workers})
    return {c.name: tg.cloud_state(found.get((c.role, c.name.lower()))) for c in clones}


__all__ = [
    "BACKUP_PHRASE",
    "CRASH_POINTS",
    "IRREVERSIBLE",
    "STEP",
    "Check",
    "CloneRow",
    "Event",
    "HostRow",
    "NodeRow",
    "Outcome",
    "ProjectRow",
    "RetireError",
    "RetireReport",
    "RetireSettings",
    "confirm_backup",
    "delete_old_instances",
    "leave_project",
    "maintenance_on",
    "preview_delete",
    "preview_maintenance",
    "preview_task_caps",
    "read_retire",
    "record_deleted",
    "restore_task_caps",
    "take_back_project",
    "task_caps_zero",
    "tick_audit_log",
    "undo_maintenance",
    "withdraw_backup",
    "write_retire_scripts",
]
