"""What remains of a migration: per wave and project, every stage not finished yet, read-only.

Read from the journal (project stages, the latest users scan, step statuses) and from both instances
through read-only clients: the machines each migrated wave reaches, with their state on Octopus Cloud
(:func:`octowiz.engine.cutover.targets.read_targets` with ``record=False``). Nothing is written to either
instance or to the journal, so it runs in a review and in ``octowiz status``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from octowiz.engine.context import Context
from octowiz.engine.migrate.waves import project_state
from octowiz.journal import Journal, JournalError
from octowiz.octopus.client import OctopusClient
from octowiz.octopus.errors import OctopusError

#: Project states that mean the project is on Octopus Cloud (verified, or verified with differences).
ON_CLOUD = ("verified", "differences")
#: Disable outcomes that count as done (an override keeps its reason in the journal).
DISABLED = ("done", "overridden")


@dataclass
class ProjectRemaining:
    """One project of a wave and what it still needs.

    Attributes:
        state: its migration state (``project_state``: planned, exporting, verified, differences...).
        open: what remains, a few words each ("not disabled on the Server"); empty when finished.
    """

    project_id: str
    name: str
    state: str
    open: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {"project_id": self.project_id, "name": self.name, "state": self.state, "open": self.open}


@dataclass
class WaveRemaining:
    """One wave: its projects, and its machines not (yet) working on Octopus Cloud.

    Attributes:
        machines: ``"<name> (<kind>): <what>"`` for each target or worker missing or not healthy on
            Octopus Cloud (machines left behind on purpose are left out).
        machines_read: False when the machines were not read (the wave is not on Cloud yet, or the
            instances could not be read: see :attr:`RemainingReport.problems`).
    """

    wave: str
    projects: list[ProjectRemaining]
    machines: list[str] = field(default_factory=list)
    machines_read: bool = False

    @property
    def done(self) -> bool:
        """Nothing remains in this wave."""
        return not self.machines and all(not p.open for p in self.projects)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "wave": self.wave,
            "done": self.done,
            "projects": [p.to_dict() for p in self.projects],
            "machines": self.machines,
            "machines_read": self.machines_read,
        }


@dataclass
class RemainingReport:
    """Everything that remains, by wave, plus the migration-wide parts.

    Attributes:
        users: users to invite to Octopus Cloud (not found there), from the latest users scan.
        users_checked: False when no users scan compared them with Octopus Cloud.
        retire: where retiring the Server stands ("not started", "in progress", ...).
        problems: sentences for what could not be read (the report is then partial).
    """

    waves: list[WaveRemaining]
    users: list[str] = field(default_factory=list)
    users_checked: bool = False
    retire: str = "not started"
    retire_open: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Nothing remains anywhere (and everything could be read)."""
        return (
            all(w.done for w in self.waves)
            and not self.users
            and self.retire == "done"
            and not self.retire_open
            and not self.problems
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "done": self.done,
            "waves": [w.to_dict() for w in self.waves],
            "users": self.users,
            "users_checked": self.users_checked,
            "retire": self.retire,
            "retire_open": self.retire_open,
            "problems": self.problems,
        }


# -- from the journal (pure over its rows) ---------------------------------------------------------


def _open_items(state: str, stages: dict[str, tuple[str, dict[str, Any]]]) -> list[str]:
    """What a project still needs, from its journal stages (pure)."""
    out: list[str] = []
    if state not in ON_CLOUD:
        return [f"not migrated ({state})"]
    verify_status, verify_detail = stages.get("verify", ("", {}))
    if verify_status == "differences":
        n = len(verify_detail.get("differences") or [])
        out.append(f"{n} difference{'s' if n != 1 else ''} open" if n else "differences open")
    status, detail = stages.get("packages", ("", {}))
    missing = [*(detail.get("failed") or []), *(detail.get("refused") or [])]
    if status != "done" or missing:
        out.append(
            "packages missing: " + "; ".join(str(x) for x in missing) if missing else "packages not copied"
        )
    status, detail = stages.get("logo", ("", {}))
    if status != "done":
        out.append("logo missing" + (f" ({detail.get('result')})" if detail.get("result") else ""))
    status, detail = stages.get("triggers", ("", {}))
    bad = [str(t.get("name")) for t in detail.get("triggers") or [] if t.get("status") == "failed"]
    if status != "done" or bad:
        out.append("triggers missing: " + ", ".join(bad) if bad else "triggers not recreated")
    status, detail = stages.get("build-server", ("", {}))
    if not status:
        out.append("build-server checklist not read")
    else:
        items = [str(i.get("id")) for i in detail.get("items") or []]
        ticked = set(detail.get("done") or [])
        left = [i for i in items if i not in ticked]
        if left:
            out.append(f"{len(left)} build-server item{'s' if len(left) != 1 else ''} open")
    status, _ = stages.get("test", ("", {}))
    if status != "passed":
        out.append("test deployment " + ("failed" if status == "failed" else "not passed yet"))
    status, _ = stages.get("disabled", ("", {}))
    if status not in DISABLED:
        out.append("not disabled on the Server")
    return out


def _names(journal: Journal) -> dict[str, str]:
    """Project names the journal knows (batch names, verification detail)."""
    names: dict[str, str] = {}
    for kind, item, _stage, _status, detail in journal.items():
        if kind == "batch" and detail:
            names.update({str(k): str(v) for k, v in (detail.get("names") or {}).items()})
        elif kind == "project" and detail and detail.get("project_name"):
            names[str(item)] = str(detail["project_name"])
    return names


def from_journal(journal: Journal) -> RemainingReport:
    """What remains, from the journal alone (blocking: journal reads; machines are not read)."""
    rows = journal.items("project")
    stages: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
    for _kind, pid, stage, status, detail in rows:
        stages.setdefault(pid, {})[stage] = (status, detail or {})
    names = _names(journal)
    waves = []
    for wave, ids in journal.waves().items():
        projects = []
        for pid in ids:
            state = project_state([r for r in rows if r[1] == pid], wave)
            state = "planned" if state.startswith("planned") else state
            projects.append(
                ProjectRemaining(pid, names.get(pid, pid), state, _open_items(state, stages.get(pid, {})))
            )
        waves.append(WaveRemaining(wave, projects))
    report = RemainingReport(waves)
    scan = journal.latest_scan("users")
    if scan is not None:
        result = scan[1]
        report.users_checked = bool(result.get("destination_checked"))
        if report.users_checked:
            report.users = sorted(
                str(u.get("username"))
                for u in result.get("users") or []
                if u.get("cloud_sign_in") in ("yes", "invite") and not u.get("on_destination")
            )
    report.retire = journal.step_status("retire")
    report.retire_open = _retire_open(journal)
    return report


def _retire_open(journal: Journal) -> list[str]:
    """Retire steps pending, from the retire package's own reading when it offers one (it is built in
    parallel; until then the journal's step status alone says where retiring stands)."""
    try:
        from octowiz.engine import retire
    except ImportError:
        return []
    pending = getattr(retire, "pending", None)
    if not callable(pending):
        return []
    try:
        return [str(x) for x in pending(journal)]
    except (JournalError, ValueError, TypeError):
        return []


# -- with both instances (read-only) ---------------------------------------------------------------


async def what_remains(
    context: Context,
    journal: Journal,
    *,
    clients: tuple[OctopusClient, OctopusClient] | None = None,
) -> RemainingReport:
    """What remains of the migration: the journal's stages plus each migrated wave's machines on Cloud.

    The machines are read through read-only clients (given, or opened over ``context.read_only()``) and
    never recorded. When the instances cannot be read, the report says so in ``problems`` and keeps the
    journal's part.
    """
    report = await asyncio.to_thread(from_journal, journal)
    migrated = [w for w in report.waves if any(p.state in ON_CLOUD for p in w.projects)]
    if not migrated:
        return report
    if clients is not None:
        await _machines(context, journal, migrated, clients, report)
        return report
    from octowiz.engine.session import clients as open_clients

    settings = await asyncio.to_thread(lambda: journal.settings)
    try:
        async with open_clients(context.read_only(), settings) as (source, dest):
            assert dest is not None
            await _machines(context, journal, migrated, (source, dest), report)
    except OctopusError as exc:
        report.problems.append(f"The instances could not be read, so machines are not listed: {exc}")
    return report


async def _machines(
    context: Context,
    journal: Journal,
    waves: list[WaveRemaining],
    clients: tuple[OctopusClient, OctopusClient],
    report: RemainingReport,
) -> None:
    from octowiz.engine.cutover import targets as tg

    for wave in waves:
        try:
            read = await tg.read_targets(context, journal, wave.wave, clients=clients, record=False)
        except (OctopusError, tg.TargetsError) as exc:
            report.problems.append(f"The machines of {wave.wave} could not be read: {exc}")
            continue
        wave.machines_read = True
        for row in read.rows:
            if row.left_behind:
                continue
            if row.cloud_state == "missing":
                what = (
                    "not cloned to Octopus Cloud" if row.kind in tg.TENTACLE_KINDS else "not on Octopus Cloud"
                )
            elif row.cloud_state != "healthy":
                what = f"not healthy on Octopus Cloud ({row.cloud_state})"
            else:
                continue
            wave.machines.append(f"{row.name} ({row.kind} {row.role}): {what}")


__all__ = [
    "ProjectRemaining",
    "RemainingReport",
    "WaveRemaining",
    "from_journal",
    "what_remains",
]
