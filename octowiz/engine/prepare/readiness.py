"""The readiness scan: rules over an inventory, each yielding findings with evidence and a next step.

A rule is a function ``(Inventory) -> list[Finding]`` registered with :func:`rule` under a stable id.
:func:`scan` runs every rule; one that meets something unexpected does not stop the scan: it becomes a
finding saying what could not be checked and why, and the others run. Each project then gets a
verdict: blocked (a blocker names it, or a blocker applies to everything), needs attention (a warning
names it), or ready.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from octowiz.engine.prepare.inventory import Inventory

SEVERITIES = ("blocker", "warning", "info")
DOCS = "https://octopus.com/docs"


@dataclass(frozen=True)
class Item:
    """Something a finding is about: ``kind`` is project, step, target, worker, feed, user, team, pool…"""

    kind: str
    id: str
    name: str
    detail: str = ""


@dataclass
class Finding:
    """One thing the migration must deal with.

    Attributes:
        rule: the rule's stable id (``auth.ad-ldap``).
        severity: ``blocker``, ``warning`` or ``info``.
        title: a short headline.
        why: one sentence: why it matters for Octopus Cloud.
        action: what to do about it.
        doc: the Octopus documentation page.
        items: what it is about, with evidence in ``detail``.
        projects: ids of the projects it affects (empty: not project-specific).
        everything: True when it affects every project (a too-old Server blocks all of them).
    """

    rule: str
    severity: str
    title: str
    why: str
    action: str
    doc: str
    items: list[Item] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    everything: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the journal and ``--format json``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """The inverse of :meth:`to_dict`."""
        items = [Item(**i) for i in data.get("items", [])]
        return cls(**{**data, "items": items})


Rule = Callable[[Inventory], list[Finding]]


@dataclass(frozen=True)
class RuleInfo:
    """A registered rule."""

    id: str
    title: str
    fn: Rule


RULES: list[RuleInfo] = []


def rule(rule_id: str, title: str) -> Callable[[Rule], Rule]:
    """Register a readiness rule under a stable id."""

    def register(fn: Rule) -> Rule:
        if any(r.id == rule_id for r in RULES):
            raise ValueError(f"rule {rule_id} registered twice")
        RULES.append(RuleInfo(rule_id, title, fn))
        return fn

    return register


@dataclass
class ProjectVerdict:
    """A project's readiness and the findings behind it."""

    project_id: str
    name: str
    status: str  # ready | needs attention | blocked
    findings: list[int]  # indexes into ScanResult.findings


@dataclass
class ScanResult:
    """The outcome of a scan."""

    at: str
    findings: list[Finding]
    projects: list[ProjectVerdict]
    requests: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """Findings per severity."""
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "at": self.at,
            "findings": [f.to_dict() for f in self.findings],
            "projects": [asdict(p) for p in self.projects],
            "requests": self.requests,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanResult:
        """The inverse of :meth:`to_dict`."""
        return cls(
            at=data["at"],
            findings=[Finding.from_dict(f) for f in data.get("findings", [])],
            projects=[ProjectVerdict(**p) for p in data.get("projects", [])],
            requests=int(data.get("requests", 0)),
            seconds=float(data.get("seconds", 0.0)),
        )


def scan(inv: Inventory, *, now: Callable[[], str] | None = None) -> ScanResult:
    """Run every rule over an inventory and judge each project."""
    import octowiz.engine.prepare.rules  # noqa: F401  (registers the rules)

    findings: list[Finding] = []
    for info in RULES:
        try:
            findings.extend(info.fn(inv))
        except Exception as exc:  # a rule's surprise must not stop the scan
            findings.append(
                Finding(
                    rule=info.id,
                    severity="warning",
                    title=f"Could not check: {info.title}",
                    why=f"The rule met something it did not expect ({type(exc).__name__}: {exc}).",
                    action="Check this by hand, and report it so the rule can learn the case.",
                    doc=f"{DOCS}/octopus-cloud/migrations",
                )
            )
    for part, sentence in inv.problems.items():
        findings.append(
            Finding(
                rule="inventory.unreadable",
                severity="warning",
                title=f"Could not read {part}",
                why=sentence,
                action="Rules that need it may have missed something: fix the cause and rescan.",
                doc=f"{DOCS}/octopus-rest-api",
                items=[Item("part", part, part)],
            )
        )
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (order.get(f.severity, 9), f.rule))
    verdicts = []
    for project in sorted(inv.projects, key=lambda p: str(p.name).lower()):
        pid = str(project.id)
        mine = [i for i, f in enumerate(findings) if f.everything or pid in f.projects]
        severities = {findings[i].severity for i in mine}
        status = (
            "blocked"
            if "blocker" in severities
            else "needs attention"
            if "warning" in severities
            else "ready"
        )
        verdicts.append(ProjectVerdict(pid, str(project.name), status, mine))
    stamp = now() if now else dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    return ScanResult(stamp, findings, verdicts, inv.requests, inv.seconds)
