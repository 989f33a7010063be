"""Drift: a project changed on the Server after it was migrated and verified.

Once a wave is on Octopus Cloud, someone may still edit the Server's copy (a step added, a variable
changed): Cloud then runs something else than the Server did. When a project is verified, the wave run
(:mod:`octowiz.engine.migrate.run`) records a *fingerprint* of the Server's project in the verify stage's
detail (``"fingerprint"``): per area, a stable hash of each item, keyed by the item's name:

* ``process``: each deployment step (its actions and their properties), in order;
* ``variables``: each variable name with its values' scopes, types and value *hashes* (never a value);
* ``channels``: each channel (lifecycle, rules, tenant tags, default);
* ``settings``: each project setting (name, description, group, lifecycle, strategies...), leaving out
  what octowiz itself changes (``IsDisabled``, at the cut-over) and what Octopus stamps on every save.

:func:`find_drift` reads the same areas again (GET only: four requests per project) and names what
changed ("step 'Deploy web' added", "variable 'ConnectionString' changed"). Sensitive values are never
returned by Octopus, so a change to one alone cannot be seen; their scopes and types can.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from octowiz.journal import Journal
from octowiz.journal.journal import now
from octowiz.octopus import models as m
from octowiz.octopus.client import OctopusClient
from octowiz.octopus.errors import NotFound, OctopusError

#: The fingerprint's format; a different one is not compared (the project is verified again instead).
VERSION = 1
AREAS = ("process", "variables", "channels", "settings")
#: Per area, the noun of one item, for sentences.
NOUNS = {"process": "step", "variables": "variable", "channels": "channel", "settings": "setting"}
#: Fields no area compares: links, stamps every save changes, and ids that name the document itself.
_VOLATILE = frozenset({"Links", "LastModifiedOn", "LastModifiedBy", "Version", "LastSnapshotId"})
#: Project fields that are not the team's settings: octowiz's own cut-over change and the project's
#: documents (compared as areas of their own).
_NOT_SETTINGS = frozenset({
    "Id", "SpaceId", "IsDisabled", "VariableSetId", "DeploymentProcessId", "ClonedFromProjectId",
})  # fmt: skip


def _digest(value: Any) -> str:
    """A short, stable hash of a JSON-able value (keys sorted)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(model: Any) -> dict[str, Any]:
    """A model as Octopus sent it, without the fields no comparison should see."""
    if model is None:
        return {}
    data = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return _strip(data) if isinstance(data, dict) else {}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _area(items: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """One area's fingerprint: its items' hashes by name, their order, and a hash of all of it."""
    return {"hash": _digest(list(items)), "items": dict(items), "order": [name for name, _ in items]}


def _variable_entry(v: m.Variable) -> dict[str, Any]:
    data = _plain(v)
    value = data.pop("Value", None)
    data.pop("Id", None)  # a variable edited keeps its id; one re-created gets another: compare content
    # The value is represented by its hash only: the journal never holds a variable's value.
    data["ValueHash"] = _digest(value) if value is not None else None
    return data


def fingerprint(
    project: m.Project,
    process: m.DeploymentProcess | None,
    variables: m.VariableSet | None,
    channels: Iterable[m.Channel],
) -> dict[str, Any]:
    """The fingerprint of a Server project as read (pure).

    Args:
        process: the deployment process; None for a version-controlled project (kept in Git, not
            compared).
        variables: the project's variable set; None likewise.
    """
    areas: dict[str, Any] = {}
    if process is not None:
        steps = [(str(s.name or s.id), _digest(_plain(s))) for s in process.steps or []]
        areas["process"] = _area(steps)
    if variables is not None:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for v in variables.variables or []:
            grouped.setdefault(str(v.name), []).append(_variable_entry(v))
        items = [
            (name, _digest(sorted(entries, key=lambda e: json.dumps(e, sort_keys=True, default=str))))
            for name, entries in sorted(grouped.items())
        ]
        areas["variables"] = _area(items)
    chans = sorted(((str(c.name), _digest({**_plain(c), "Id": None})) for c in channels), key=lambda x: x[0])
    areas["channels"] = _area(chans)
    settings = sorted((k, _digest(v)) for k, v in _plain(project).items() if k not in _NOT_SETTINGS)
    areas["settings"] = _area(settings)
    return {"version": VERSION, "at": now(), "areas": areas}


async def read_fingerprint(client: OctopusClient, project: m.Project) -> dict[str, Any]:
    """Read a Server project's process, variables and channels and fingerprint them (three GETs).

    Raises:
        OctopusError: the Server could not be read.
    """
    controlled = bool(getattr(project, "is_version_controlled", False))
    process_job = None if controlled else client.deployment_process(project)
    variables_job = (
        None
        if controlled or not project.variable_set_id
        else client.variable_set(str(project.variable_set_id))
    )
    process, variables, channels = await asyncio.gather(
        process_job if process_job is not None else _none(),
        variables_job if variables_job is not None else _none(),
        client.channels(str(project.id)),
    )
    return fingerprint(project, process, variables, channels)


async def _none() -> None:
    return None


# -- comparing ------------------------------------------------------------------------------------


@dataclass
class Change:
    """One thing that changed on the Server since verification.

    Attributes:
        area: one of :data:`AREAS`.
        what: a few words a person reads ("step 'Deploy web' added").
    """

    area: str
    what: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-safe dict."""
        return {"area": self.area, "what": self.what}


def compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """What changed from one fingerprint to another, area by area, item by item (pure)."""
    out: list[Change] = []
    old_areas = before.get("areas") or {}
    new_areas = after.get("areas") or {}
    for area in AREAS:
        old, new = old_areas.get(area), new_areas.get(area)
        if old is None or new is None or old.get("hash") == new.get("hash"):
            continue
        noun = NOUNS[area]
        a, b = old.get("items") or {}, new.get("items") or {}
        found = [Change(area, f"{noun} '{n}' added") for n in b if n not in a]
        found += [Change(area, f"{noun} '{n}' removed") for n in a if n not in b]
        found += [Change(area, f"{noun} '{n}' changed") for n in a if n in b and a[n] != b[n]]
        if not found:
            # Same items, same contents: only their order moved (steps run in another order).
            found = [Change(area, f"{noun}s reordered")]
        out += found
    return out


@dataclass
class ProjectDrift:
    """One verified project compared with its Server copy now.

    Attributes:
        state: ``unchanged``, ``drifted``, ``gone`` (no longer on the Server), ``unknown`` (no
            fingerprint was recorded: verified by an older octowiz) or ``unreadable``.
        sentence: for anything but ``unchanged`` and ``drifted``, why.
    """

    project_id: str
    name: str
    wave: str
    state: str
    changes: list[Change] = field(default_factory=list)
    verified_at: str = ""
    sentence: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "project_id": self.project_id,
            "name": self.name,
            "wave": self.wave,
            "state": self.state,
            "changes": [c.to_dict() for c in self.changes],
            "verified_at": self.verified_at,
            "sentence": self.sentence,
        }


@dataclass
class DriftReport:
    """Every verified project of the migration, drifted or not."""

    projects: list[ProjectDrift]
    problems: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[ProjectDrift]:
        """The projects that changed on the Server since they were verified."""
        return [p for p in self.projects if p.state == "drifted"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "projects": [p.to_dict() for p in self.projects],
            "drifted": len(self.drifted),
            "problems": list(self.problems),
        }


def _verified(journal: Journal) -> list[tuple[str, str, str, dict[str, Any]]]:
    """``(project id, wave, name, verify detail)`` of every verified project (blocking: journal reads)."""
    wave_of = {pid: wave for wave, ids in journal.waves().items() for pid in ids}
    out = []
    for _kind, pid, stage, status, detail in journal.items("project"):
        if stage == "verify" and status in ("done", "differences"):
            d = detail or {}
            out.append((pid, wave_of.get(pid, ""), str(d.get("project_name") or pid), d))
    return sorted(out, key=lambda x: (x[1], x[2]))


async def find_drift(journal: Journal, source: OctopusClient) -> DriftReport:
    """Each verified project's Server copy against the fingerprint recorded when it was verified.

    Reads the journal (in a thread) and the Server (GET only); writes nothing.
    """
    verified = await asyncio.to_thread(_verified, journal)
    if not verified:
        return DriftReport([])
    try:
        found = {str(p.id): p for p in await source.get_many("projects", [v[0] for v in verified], m.Project)}
    except OctopusError as exc:
        return DriftReport([], [f"Could not read the Server's projects: {exc}"])
    gate = asyncio.Semaphore(8)

    async def one(pid: str, wave: str, name: str, detail: dict[str, Any]) -> ProjectDrift:
        before = detail.get("fingerprint")
        at = str((before or {}).get("at") or "")
        project = found.get(pid)
        if project is None:
            return ProjectDrift(pid, name, wave, "gone", [], at, "It is no longer on the Server.")
        name = str(project.name or name)
        if not isinstance(before, dict) or before.get("version") != VERSION:
            return ProjectDrift(
                pid,
                name,
                wave,
                "unknown",
                [],
                at,
                "No fingerprint was recorded when it was verified: run its wave again to verify and "
                "record one.",
            )
        try:
            async with gate:
                after = await read_fingerprint(source, project)
        except NotFound:
            return ProjectDrift(pid, name, wave, "gone", [], at, "It is no longer on the Server.")
        except OctopusError as exc:
            return ProjectDrift(pid, name, wave, "unreadable", [], at, f"Could not read it: {exc}")
        changes = compare(before, after)
        return ProjectDrift(pid, name, wave, "drifted" if changes else "unchanged", changes, at)

    results = await asyncio.gather(*(one(*v) for v in verified))
    return DriftReport(list(results))


__all__ = [
    "AREAS",
    "Change",
    "DriftReport",
    "ProjectDrift",
    "compare",
    "find_drift",
    "fingerprint",
    "read_fingerprint",
]
