"""The migration's status report: the journal's summary, what remains and drift, as text, Markdown or JSON.

:func:`collect` gathers the data (the journal read-only; both instances through read-only clients),
:func:`render` turns it into text for a terminal, Markdown a change board reads as it is (headings and
tables, no colour codes) or JSON; :func:`status_output` is the one call ``octowiz status`` makes.
Rendering is pure: the same data always gives the same bytes (the golden tests hold it to that).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from octowiz.engine.context import Context
from octowiz.journal import Action, Journal, migration_name
from octowiz.octopus.errors import OctopusError

FORMATS = ("text", "markdown", "json")


# -- collecting -------------------------------------------------------------------------------------


def journal_summary(journal: Journal, actions: int | None = 20) -> dict[str, Any]:
    """The journal's part of the report: settings, steps, waves and the last actions (blocking)."""
    from octowiz.engine.migrate.waves import project_state
    from octowiz.engine.review.remaining import _names
    from octowiz.engine.steps import STEPS

    settings = journal.settings
    steps = journal.steps()
    items = journal.items("project")
    names = _names(journal)
    return {
        "name": migration_name(journal.path),
        "journal": str(journal.path),
        "settings": settings,
        "steps": [
            {
                "id": s.id,
                "title": s.title,
                "status": steps.get(s.id, ("not started", None, ""))[0],
                "updated_at": steps.get(s.id, ("", None, ""))[2],
            }
            for s in STEPS
        ],
        "waves": {
            wave: [
                {
                    "id": pid,
                    "name": names.get(pid, pid),
                    "state": project_state([r for r in items if r[1] == pid], wave),
                }
                for pid in ids
            ]
            for wave, ids in journal.waves().items()
        },
        "actions": [
            {
                "id": a.id,
                "step": a.step,
                "kind": a.kind,
                "target": a.target,
                "outcome": a.outcome or "pending",
                "task_id": a.task_id,
                "started_at": a.started_at,
            }
            for a in journal.actions(limit=actions)
        ],
    }


async def collect(context: Context, journal: Journal, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole report's data: ``base`` (default :func:`journal_summary`) plus ``remaining`` and ``drift``.

    Both instances are read through read-only clients (GET only); the journal is only read. When the
    instances cannot be read, ``remaining`` keeps the journal's part and says why in its problems.
    """
    from octowiz.engine.review.drift import DriftReport, find_drift
    from octowiz.engine.review.remaining import from_journal, what_remains
    from octowiz.engine.session import clients

    data = dict(base) if base is not None else await asyncio.to_thread(journal_summary, journal)
    settings = await asyncio.to_thread(lambda: journal.settings)
    ro = context.read_only()
    try:
        async with clients(ro, settings) as (source, dest):
            assert dest is not None
            remaining = await what_remains(ro, journal, clients=(source, dest))
            drift = await find_drift(journal, source)
    except OctopusError as exc:
        remaining = await asyncio.to_thread(from_journal, journal)
        sentence = f"The instances could not be read, so machines and drift are not checked: {exc}"
        remaining.problems.append(sentence)
        drift = DriftReport([], [sentence])
    data["remaining"] = remaining.to_dict()
    data["drift"] = drift.to_dict()
    return data


def status_output(context: Context, path: Path, fmt: str, base: dict[str, Any] | None = None) -> str:
    """``octowiz status``: the report of the migration whose journal is ``path``, rendered (blocking).

    The journal is opened read-only (nothing is written, no lock is taken) and the instances are read
    through read-only clients.

    Args:
        fmt: one of :data:`FORMATS`.
        base: the journal's summary when the caller already read it (same shape as
            :func:`journal_summary`).
    """
    with Journal.open(path, lock=False, read_only=True) as journal:
        data = asyncio.run(collect(context, journal, base))
    return render(data, fmt)


# -- rendering (pure) ---------------------------------------------------------------------------------


def render(data: dict[str, Any], fmt: str) -> str:
    """The report as ``text``, ``markdown`` or ``json``.

    Raises:
        ValueError: an unknown format.
    """
    if fmt == "json":
        return json.dumps(data, indent=2, sort_keys=False)
    if fmt == "markdown":
        return _markdown(data)
    if fmt == "text":
        return _text(data)
    raise ValueError(f"'{fmt}' is not a report format: use one of {', '.join(FORMATS)}.")


def _where(s: dict[str, Any], role: str) -> str:
    return (
        f"{s.get(f'{role}_url', 'not connected')} ({s.get(f'{role}_space_name', '')}) "
        f"{s.get(f'{role}_version', '')}"
    ).strip()


def _overview_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    s = data.get("settings") or {}
    return [
        ("Source", _where(s, "source")),
        ("Destination", _where(s, "destination")),
        ("Created", str(s.get("created_at", ""))),
    ]


def _cell(value: Any) -> str:
    """A Markdown table cell: pipes escaped, one line."""
    return " ".join(str(value if value is not None else "").split()).replace("|", "\\|")


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _remaining_lines(r: dict[str, Any]) -> list[str]:
    """Plain sentences of what remains beyond the waves (users, retire, problems)."""
    out = []
    if r.get("users"):
        users = r["users"]
        out.append(
            f"{len(users)} user{'s' if len(users) != 1 else ''} not invited to Octopus Cloud: "
            + ", ".join(users)
        )
    elif not r.get("users_checked"):
        out.append("Users have not been compared with Octopus Cloud (the Users & pools step).")
    out.append(f"Retiring the Server: {r.get('retire', 'not started')}")
    out += [f"Retire: {x}" for x in r.get("retire_open") or []]
    out += list(r.get("problems") or [])
    return out


def _drift_rows(d: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(project, wave, state, what)`` for every project that is not unchanged."""
    out = []
    for p in d.get("projects") or []:
        if p["state"] == "unchanged":
            continue
        what = "; ".join(c["what"] for c in p["changes"]) if p["changes"] else p.get("sentence", "")
        out.append((p["name"], p["wave"], p["state"], what))
    return out


def _markdown(data: dict[str, Any]) -> str:
    out = [f"# Migration {_cell(data['name'])}", ""]
    out += _table(["", ""], [list(r) for r in _overview_rows(data)])
    out += ["", "## Steps", ""]
    out += _table(
        ["Step", "Status", "Updated"],
        [[s["title"], s["status"], s["updated_at"] or ""] for s in data["steps"]],
    )
    for wave, projects in (data.get("waves") or {}).items():
        out += ["", f"## Wave {_cell(wave)}", ""]
        out += _table(["Project", "State"], [[p["name"], p["state"]] for p in projects])
    r = data.get("remaining")
    if r is not None:
        out += ["", "## What remains"]
        if r.get("done"):
            out += ["", "Nothing remains: every step of the migration is finished."]
        for w in r.get("waves") or []:
            out += ["", f"### {_cell(w['wave'])}", ""]
            rows = [[p["name"], p["state"], "; ".join(p["open"]) or "nothing"] for p in w["projects"]]
            out += _table(["Project", "State", "Remains"], rows)
            if w.get("machines"):
                out += ["", "Machines not working on Octopus Cloud:", ""]
                out += [f"- {_cell(m)}" for m in w["machines"]]
            elif w.get("machines_read"):
                out += ["", "Every machine the wave reaches is healthy on Octopus Cloud."]
        out += [""] + [f"- {_cell(x)}" for x in _remaining_lines(r)]
    d = data.get("drift")
    if d is not None:
        out += ["", "## Drift since verification", ""]
        drifted = _drift_rows(d)
        if drifted:
            out += _table(
                ["Project", "Wave", "State", "What changed on the Server"], [list(x) for x in drifted]
            )
        else:
            checked = sum(1 for p in d.get("projects") or [])
            out.append(f"No verified project changed on the Server ({checked} checked).")
        out += [f"- {_cell(x)}" for x in d.get("problems") or []]
    out += ["", "## Last actions", ""]
    if data.get("actions"):
        out += _table(
            ["#", "Step", "Action", "Target", "Outcome", "Started"],
            [
                [a["id"], a["step"], a["kind"], a["target"], a["outcome"], a["started_at"]]
                for a in data["actions"]
            ],
        )
    else:
        out.append("No changes were made to either instance yet.")
    return "\n".join(out) + "\n"


def _text(data: dict[str, Any]) -> str:
    # The first sections keep the layout `octowiz status` always printed (scripts grep it).
    out = [f"Migration {data['name']}  ({data['journal']})"]
    out += [f"  {k:<12} {v}" for k, v in _overview_rows(data)] + ["", "Steps:"]
    out += [f"  {s['title']:<14} {s['status']}" for s in data["steps"]]
    for wave, projects in (data.get("waves") or {}).items():
        out += ["", f"Wave {wave}:"] + [f"  {p['name']:<28} {p['state']}" for p in projects]
    out += ["", "Last actions:"]
    out += [
        f"  #{a['id']} {a['step']}: {a['kind']} {a['target']} — {a['outcome']}" for a in data["actions"]
    ] or ["  none: no changes were made to either instance yet"]
    return "\n".join(out + _remaining_text(data))


def remaining_text(data: dict[str, Any]) -> str:
    """Only what remains and the drift, as text (what a review shows on screen)."""
    return "\n".join(_remaining_text(data)).strip("\n")


def _remaining_text(data: dict[str, Any]) -> list[str]:
    out: list[str] = []
    r = data.get("remaining")
    if r is not None:
        out += ["", "What remains:"]
        if r.get("done"):
            out.append("  nothing: every step of the migration is finished")
        for w in r.get("waves") or []:
            out.append(f"  {w['wave']}:" + (" nothing remains" if w.get("done") else ""))
            for p in w["projects"]:
                if p["open"]:
                    out.append(f"    {p['name']}: " + "; ".join(p["open"]))
            out += [f"    machine {m}" for m in w.get("machines") or []]
        out += [f"  {x}" for x in _remaining_lines(r)]
    d = data.get("drift")
    if d is not None:
        out += ["", "Drift since verification:"]
        rows = _drift_rows(d)
        out += [f"  {name} ({wave}) {state}: {what}" for name, wave, state, what in rows] or [
            f"  none: no verified project changed on the Server ({len(d.get('projects') or [])} checked)"
        ]
        out += [f"  {x}" for x in d.get("problems") or []]
    return out


def write_exports(directory: Path, stem: str, texts: dict[str, str]) -> list[Path]:
    """Write each ``extension -> text`` as ``<directory>/<stem>.<extension>`` (blocking); the paths written.

    Raises:
        OSError: the directory cannot be created or written (the caller says so in a sentence).
    """
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for extension, text in texts.items():
        target = directory / f"{stem}.{extension}"
        target.write_text(text, encoding="utf-8")
        out.append(target)
    return out


# -- the action log -------------------------------------------------------------------------------------


def action_dict(action: Action) -> dict[str, Any]:
    """One journaled action as JSON-safe data: what octowiz meant to do, what happened, and its undo."""
    return {
        "id": action.id,
        "step": action.step,
        "kind": action.kind,
        "target": action.target,
        "intent": action.intent,
        "outcome": action.outcome or "pending",
        "undo": action.undo,
        "detail": action.detail,
        "task_id": action.task_id,
        "started_at": action.started_at,
        "finished_at": action.finished_at,
    }


def _brief(value: Any) -> str:
    """A dict as ``key=value`` pairs on one line, for a table cell."""
    if not value:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in value.items())
    return str(value)


def render_actions(name: str, actions: list[dict[str, Any]], fmt: str, step: str | None = None) -> str:
    """The journal's action log (newest first) as ``markdown`` or ``json``.

    Raises:
        ValueError: another format.
    """
    if fmt == "json":
        return json.dumps({"name": name, "step": step, "actions": actions}, indent=2)
    if fmt != "markdown":
        raise ValueError(f"'{fmt}' is not an action log format: use markdown or json.")
    title = f"# Changes octowiz made: {_cell(name)}" + (f" (step {_cell(step)})" if step else "")
    out = [title, ""]
    if not actions:
        return "\n".join([*out, "No changes were made to either instance.", ""])
    out += _table(
        ["#", "Step", "Action", "Target", "Intent", "Outcome", "Undo", "Task", "Started", "Finished"],
        [
            [
                a["id"],
                a["step"],
                a["kind"],
                a["target"],
                _brief(a["intent"]),
                a["outcome"],
                _brief(a["undo"]),
                a["task_id"] or "",
                a["started_at"],
                a["finished_at"] or "",
            ]
            for a in actions
        ],
    )
    return "\n".join(out) + "\n"


__all__ = [
    "FORMATS",
    "action_dict",
    "collect",
    "journal_summary",
    "render",
    "render_actions",
    "status_output",
    "write_exports",
]
