"""``octowiz retire``: the last step of a migration, retiring the self-hosted Server, without the wizard.

It prints the preconditions, the Server's read-only state and each Tentacle host's old instance, and
changes nothing unless an action is asked for; every change is previewed first and needs ``--yes`` (or a
typed word on a terminal). Deleting a host's old instance cannot be undone, and the preview says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from octowiz.cli_cutover import ask, confirm, table

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_DONE, EXIT_REFUSED, EXIT_NOT_CONFIRMED = 0, 1, 2, 3, 4, 5


def add_parser(sub: Any, common: argparse.ArgumentParser | None = None) -> None:
    """Add ``retire`` to the command line's subparsers."""
    parents = [common] if common is not None else []
    p = sub.add_parser(
        "retire",
        parents=parents,
        help="retire the self-hosted Server at the end of a migration, without the wizard",
        description="Show whether the Server may be retired (every planned project migrated, verified and "
        "disabled on it, or left behind; nothing running on it; a full backup confirmed; the audit log "
        "exported), then make it read-only (maintenance mode on, every node's task cap 0) and delete each "
        "Tentacle host's old instance through Octopus Cloud's script console on its clone (a canary first, "
        "non-production before production). Exit codes: 0 retired, 1 a failure, 2 usage, 3 not done yet, "
        "4 refused (Octopus Cloud, or a wave half done), 5 a change not confirmed.",
    )
    p.add_argument("name", nargs="?", help="the migration (default: the most recent)")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    p.add_argument(
        "--leave", metavar="PROJECT", help="this planned project stays with the Server (with --reason)"
    )
    p.add_argument("--reason", help="with --leave: why (kept in the journal)")
    p.add_argument("--take-back", metavar="PROJECT", help="undo --leave for this project")
    p.add_argument(
        "--backup-confirmed",
        metavar="TEXT",
        help="type 'a full backup exists' once the Server's database and master key are backed up",
    )
    audit = p.add_mutually_exclusive_group()
    audit.add_argument("--audit-exported", action="store_true", help="tick: the audit log is exported")
    audit.add_argument("--audit-not-exported", action="store_true", help="untick the audit log item")
    p.add_argument("--maintenance", action="store_true", help="turn the Server's maintenance mode on")
    p.add_argument("--task-cap-zero", action="store_true", help="set every Server node's task cap to 0")
    p.add_argument(
        "--read-only", action="store_true", help="both: maintenance mode on, then every task cap 0"
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--delete", metavar="HOSTS", help="delete these hosts' old instances (comma-separated)"
    )
    which.add_argument(
        "--delete-offered", action="store_true", help="delete the old instances offered now (canary first)"
    )
    p.add_argument(
        "--write-scripts",
        type=Path,
        metavar="DIR",
        help="write one delete script per host to DIR, to run by hand",
    )
    p.add_argument("--deleted-by-hand", metavar="HOST", help="record that the downloaded script ran on HOST")
    p.add_argument(
        "--undo",
        choices=("maintenance", "task-caps"),
        help="switch maintenance mode off, or restore the caps",
    )
    p.add_argument("--yes", action="store_true", help="confirm the previewed changes without asking")
    p.add_argument("--poll-seconds", type=float, default=2.0, help="how often to check a running task")


def _project_id(name_or_id: str, report: Any) -> str | None:
    wanted = name_or_id.strip().lower()
    return next(
        (str(p.project_id) for p in report.projects if wanted in (p.project_id.lower(), p.name.lower())), None
    )


def cmd_retire(args: argparse.Namespace, ctx: Any, path: Path) -> int:
    """``octowiz retire``: show, and on request change, where the Server's retire stands."""
    from octowiz.engine.retire import retire as rt
    from octowiz.engine.session import clients as open_clients
    from octowiz.journal import Journal

    if args.leave and not (args.reason or "").strip():
        print(
            "octowiz retire: --leave needs --reason (why the project stays with the Server).", file=sys.stderr
        )
        return EXIT_USAGE
    settings = rt.RetireSettings(poll_interval=args.poll_seconds)
    problems: list[str] = []
    not_confirmed = False

    def event(e: rt.Event) -> None:
        if e.percent is None and e.message:
            for line in e.message.splitlines():
                print(f"[{e.stage}] {line}", flush=True)

    def outcome(o: rt.Outcome) -> None:
        print(f"{o.action}: {o.status}" + "".join(f"\n  {s}" for s in o.sentences), flush=True)
        if o.status in ("refused", "failed"):
            problems.extend(o.sentences or [o.status])

    async def run(journal: Journal) -> rt.RetireReport:
        nonlocal not_confirmed
        confirmed = False  # --read-only: one confirmation covers both halves
        values = await asyncio.to_thread(lambda: journal.settings)
        async with open_clients(ctx, values) as (source, dest):
            assert dest is not None
            cl = (source, dest)
            report = await rt.read_retire(ctx, journal, clients=cl)
            if args.leave or args.take_back:
                pid = _project_id(args.leave or args.take_back, report)
                if pid is None:
                    problems.append(f"No planned project is called '{args.leave or args.take_back}'.")
                elif args.leave:
                    await asyncio.to_thread(rt.leave_project, journal, pid, args.reason or "")
                else:
                    await asyncio.to_thread(rt.take_back_project, journal, pid)
            if args.backup_confirmed is not None:
                try:
                    await asyncio.to_thread(rt.confirm_backup, journal, args.backup_confirmed)
                except ValueError as exc:
                    problems.append(str(exc))
            if args.audit_exported or args.audit_not_exported:
                await asyncio.to_thread(rt.tick_audit_log, journal, bool(args.audit_exported))
            report = await rt.read_retire(ctx, journal, clients=cl)
            if args.undo == "maintenance":
                print("undo: switch the Server's maintenance mode off again.")
                if await ask(confirm, "undo", args.yes, "retire"):
                    outcome(await rt.undo_maintenance(ctx, journal, clients=cl))
                else:
                    not_confirmed = True
            elif args.undo == "task-caps":
                print("undo: put back each node's task cap as the journal recorded it before it went to 0.")
                if await ask(confirm, "undo", args.yes, "retire"):
                    outcome(await rt.restore_task_caps(ctx, journal, clients=cl))
                else:
                    not_confirmed = True
            if args.maintenance or args.read_only:
                report = await rt.read_retire(ctx, journal, clients=cl)
                for line in rt.preview_maintenance(report):
                    print(f"maintenance: {line}")
                if report.maintenance or not report.blockers("maintenance"):
                    if report.maintenance or await ask(confirm, "maintenance", args.yes, "retire"):
                        confirmed = not report.maintenance
                        outcome(await rt.maintenance_on(ctx, journal, report, clients=cl))
                    else:
                        not_confirmed = True
                else:
                    outcome(rt.Outcome("maintenance", "refused", report.blockers("maintenance")))
            if (args.task_cap_zero or args.read_only) and not not_confirmed and not problems:
                report = await rt.read_retire(ctx, journal, clients=cl)
                for line in rt.preview_task_caps(report):
                    print(f"task caps: {line}")
                done = all(n.cap == 0 for n in report.nodes)
                if done or confirmed or await ask(confirm, "cap", args.yes, "retire"):
                    outcome(await rt.task_caps_zero(ctx, journal, report, clients=cl))
                else:
                    not_confirmed = True
            if args.write_scripts:
                report = await rt.read_retire(ctx, journal, clients=cl)
                paths = await asyncio.to_thread(rt.write_retire_scripts, report, args.write_scripts)
                print(f"Wrote {len(paths)} delete script(s) to {args.write_scripts}.")
            if args.deleted_by_hand:
                report = await rt.read_retire(ctx, journal, clients=cl)
                try:
                    await asyncio.to_thread(rt.record_deleted, journal, report, args.deleted_by_hand)
                except rt.RetireError as exc:
                    problems.append(str(exc))
            if args.delete or args.delete_offered:
                report = await rt.read_retire(ctx, journal, clients=cl)
                hosts = (
                    report.offered_hosts()
                    if args.delete_offered
                    else [h.strip() for h in args.delete.split(",") if h.strip()]
                )
                for line in rt.preview_delete(report, hosts):
                    print(f"delete: {line}")
                if not hosts:
                    print("delete: no host is offered now.")
                elif await ask(confirm, "delete", args.yes, "retire"):
                    for o in await rt.delete_old_instances(
                        ctx, journal, report, hosts, on_event=event, settings=settings, clients=cl
                    ):
                        outcome(o)
                else:
                    not_confirmed = True
            return await rt.read_retire(ctx, journal, clients=cl)

    with Journal.open(path) as journal:
        try:
            report = asyncio.run(run(journal))
        except rt.RetireError as exc:
            print(f"octowiz retire: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(_format(report, args.format))
    for p in dict.fromkeys(problems + list(report.problems)):
        print(f"problem: {p}", file=sys.stderr)
    if report.refusals:
        for r in report.refusals:
            print(f"refused: {r}", file=sys.stderr)
        return EXIT_REFUSED
    if not_confirmed:
        return EXIT_NOT_CONFIRMED
    if problems:
        return EXIT_FAILED
    return EXIT_OK if report.retired else EXIT_NOT_DONE


def _format(report: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            {
                "server": report.source_url,
                "refusals": report.refusals,
                "preconditions": [
                    {"id": c.id, "title": c.title, "ok": c.ok, "sentence": c.sentence, "tick": c.tick}
                    for c in report.checks
                ],
                "projects": [
                    {
                        "id": p.project_id,
                        "name": p.name,
                        "wave": p.wave,
                        "state": p.state,
                        "sentence": p.sentence,
                    }
                    for p in report.projects
                ],
                "tasks": [{"id": i, "description": d, "state": s} for i, d, s in report.tasks],
                "maintenance": report.maintenance,
                "nodes": [
                    {"id": n.node_id, "name": n.name, "cap": n.cap, "previous_cap": n.previous_cap}
                    for n in report.nodes
                ],
                "canary": report.canary,
                "offered": report.offered_hosts(),
                "hosts": [
                    {
                        "host": h.host,
                        "os": h.os,
                        "old_instance": h.old_instance,
                        "production": h.production,
                        "clones": [{"name": c.name, "as": c.role, "on_cloud": c.state} for c in h.clones],
                        "state": h.state,
                        "sentence": h.sentence,
                        "task_id": h.task_id,
                    }
                    for h in report.hosts
                ],
                "read_only": report.read_only,
                "retired": report.retired,
            },
            indent=2,
        )
    state = (
        "retired"
        if report.retired
        else "read-only"
        if report.read_only
        else "ready to retire"
        if report.preconditions_met
        else "not ready"
    )
    out = [f"Server {report.source_url}: {state}.", ""]
    out.append(
        table(
            ["Precondition", "State", "Why / what to do"],
            [[c.title, "met" if c.ok else "to do", c.sentence] for c in report.checks],
            fmt,
        )
    )
    if report.nodes or report.maintenance is not None:
        out += ["", f"Maintenance mode: {'on' if report.maintenance else 'off'}.", ""]
        out.append(
            table(
                ["Node", "Task cap", "Cap to restore"],
                [
                    [n.name, str(n.cap), "" if n.previous_cap is None else str(n.previous_cap)]
                    for n in report.nodes
                ],
                fmt,
            )
        )
    if report.hosts:
        canary, offered = report.canary, report.offered_hosts()
        out += ["", "Old Tentacle instances (deleted last; cannot be undone):", ""]
        out.append(
            table(
                ["Host", "OS", "Clone(s) on Cloud", "Old instance", "Offered"],
                [
                    [
                        h.host + (" (canary)" if h.host == canary else ""),
                        h.os,
                        ", ".join(f"{c.name}: {c.state}" for c in h.clones),
                        h.state,
                        "yes" if h.host in offered else "",
                    ]
                    for h in report.hosts
                ],
                fmt,
            )
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """``python -m octowiz.cli_retire``: the command on its own, until ``octowiz retire`` is wired in."""
    from octowiz.cli import _context, _migration_path
    from octowiz.journal import JournalError
    from octowiz.octopus.errors import OctopusError
    from octowiz.secrets import KeyStoreError

    parser = argparse.ArgumentParser(prog="octowiz")
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--reset", action="store_true")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        ctx = _context(args)
        try:
            path = _migration_path(ctx, args.name)
            return EXIT_FAILED if path is None else cmd_retire(args, ctx, path)
        finally:
            ctx.close()
    except (JournalError, OctopusError, KeyStoreError) as exc:
        print(f"octowiz: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
