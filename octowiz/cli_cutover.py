"""``octowiz targets`` and ``octowiz cutover``: the cut-over of a wave without the wizard.

Both print what both instances show now and change nothing unless an action is asked for; every change
is previewed first and needs ``--yes`` (or a typed word on a terminal).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_DONE, EXIT_NOT_CONFIRMED = 0, 1, 2, 3, 5


def add_parsers(sub: Any, common: argparse.ArgumentParser | None = None) -> None:
    """Add ``targets`` and ``cutover`` to the command line's subparsers."""
    parents = [common] if common is not None else []
    targets = sub.add_parser(
        "targets",
        parents=parents,
        help="a wave's targets and workers on Octopus Cloud, without the wizard",
        description="Show every deployment target and worker a wave's projects reach, with its state "
        "read from Octopus Cloud; write the Tentacle clone scripts; clone Tentacles through the Server's "
        "script console (canary first); recreate the other kinds on Cloud; run a health check. Exit "
        "codes: 0 every machine healthy on Cloud, 1 a failure, 2 usage, 3 machines missing or not "
        "healthy, 5 a change not confirmed.",
    )
    targets.add_argument("name", nargs="?", help="the migration (default: the most recent)")
    targets.add_argument("--wave", required=True, help="the wave")
    targets.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    targets.add_argument(
        "--write-scripts", type=Path, metavar="DIR", help="write one clone script per Tentacle host to DIR"
    )
    targets.add_argument(
        "--comms",
        choices=("polling", "listening"),
        default="polling",
        help="how the Cloud clones talk to Cloud (default polling, what Octopus recommends for Cloud)",
    )
    targets.add_argument(
        "--polling-port",
        choices=("10943", "443"),
        help="the port polling clones use to reach Cloud (kept for the migration; default 10943, or 443 "
        "through https://polling.<instance> where only 443 is open outbound)",
    )
    which = targets.add_mutually_exclusive_group()
    which.add_argument(
        "--run", metavar="HOSTS", help="clone these hosts (comma-separated) via the script console"
    )
    which.add_argument(
        "--run-offered", action="store_true", help="clone the hosts offered now (the canary first)"
    )
    targets.add_argument("--recreate", action="store_true", help="create the other kinds of target on Cloud")
    targets.add_argument(
        "--filled", metavar="NAME", help="the target's secrets are entered on Cloud: enable it"
    )
    targets.add_argument("--health", action="store_true", help="run a health check on Cloud for the wave")
    targets.add_argument(
        "--leave-behind", metavar="NAME", help="this machine stays on the Server on purpose (with --reason)"
    )
    targets.add_argument("--reason", help="with --leave-behind: why (kept in the journal)")
    targets.add_argument("--take-back", metavar="NAME", help="undo --leave-behind for this machine")
    targets.add_argument("--yes", action="store_true", help="confirm the previewed changes without asking")
    targets.add_argument("--poll-seconds", type=float, default=2.0, help="how often to check a running task")

    cut = sub.add_parser(
        "cutover",
        parents=parents,
        help="a wave's cut-over (build server, test deployment, disable on the Server), without the wizard",
        description="Show each project's build-server checklist, test deployment and whether it may be "
        "disabled on the Server; tick items off; deploy a test; disable projects on the Server (their "
        "Cloud triggers are enabled at the same time) or roll one back. Exit codes: 0 every project "
        "disabled on the Server, 1 a failure, 2 usage, 3 projects still enabled, 5 a change not confirmed.",
    )
    cut.add_argument("name", nargs="?", help="the migration (default: the most recent)")
    cut.add_argument("--wave", required=True, help="the wave")
    cut.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    cut.add_argument(
        "--done", action="append", default=[], metavar="PROJECT=ITEM", help="tick off a build-server item"
    )
    cut.add_argument(
        "--undone", action="append", default=[], metavar="PROJECT=ITEM", help="untick a build-server item"
    )
    cut.add_argument("--test", metavar="PROJECT", help="deploy a test of this project on Cloud")
    cut.add_argument("--release", help="with --test: the release version (default the newest)")
    cut.add_argument("--environment", help="with --test: a non-production environment on Cloud")
    cut.add_argument(
        "--disable",
        nargs="?",
        const="*",
        metavar="PROJECTS",
        help="disable these projects on the Server (comma-separated; default every project of the wave)",
    )
    cut.add_argument(
        "--override", metavar="REASON", help="disable even where targets or the test are not ready"
    )
    cut.add_argument(
        "--reenable", metavar="PROJECT", help="roll a project back: enable it on the Server again"
    )
    cut.add_argument("--yes", action="store_true", help="confirm the previewed changes without asking")
    cut.add_argument("--poll-seconds", type=float, default=2.0, help="how often to check a running task")


def confirm(word: str, yes: bool, command: str) -> bool:
    """Yes from ``--yes``, or the typed word on a terminal; never without one of them."""
    if yes:
        return True
    if not sys.stdin.isatty():
        print(
            f"octowiz {command}: this change needs confirming: read the preview above and run again "
            "with --yes.",
            file=sys.stderr,
        )
        return False
    try:
        return input(f"Type {word} to confirm: ").strip() == word
    except EOFError:  # Ctrl+D, or a closed terminal: no answer is not a yes
        print(f"\noctowiz {command}: no answer (the input ended): nothing was changed.", file=sys.stderr)
        return False


async def ask(prompt: Callable[..., T], *args: Any) -> T:
    """Run a blocking prompt (``confirm``, ``input``) off the event loop, on a daemon thread.

    Not ``asyncio.to_thread``: on Ctrl+C, ``asyncio.run`` joins its executor's threads before it raises
    ``KeyboardInterrupt``, and a thread still reading the terminal never ends, so octowiz would hang at
    the prompt. A daemon thread is simply left behind when the process exits.
    """
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[T] = loop.create_future()

    def deliver(value: Any, failed: bool) -> None:
        if answer.done():  # cancelled (Ctrl+C): nobody waits for this answer any more
            return
        if failed:
            answer.set_exception(value)
        else:
            answer.set_result(value)

    def work() -> None:
        value: Any
        try:
            value, failed = prompt(*args), False
        except Exception as exc:
            value, failed = exc, True
        # The loop may be closed by then (Ctrl+C ended the run): the answer goes nowhere.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, value, failed)

    threading.Thread(target=work, name="octowiz-prompt", daemon=True).start()
    return await answer


def table(headers: list[str], rows: list[list[str]], fmt: str) -> str:
    """Rows as aligned text or a Markdown table (what the cut-over commands print)."""
    if fmt == "markdown":
        out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


# -- targets ------------------------------------------------------------------------------------------


def cmd_targets(args: argparse.Namespace, ctx: Any, path: Path) -> int:
    """``octowiz targets``: show, and on request change, the wave's targets and workers on Cloud."""
    from octowiz.engine.cutover import targets as tg
    from octowiz.journal import Journal

    settings = tg.TargetSettings(poll_interval=args.poll_seconds)
    problems: list[str] = []
    not_confirmed = False

    def say(*parts: object) -> None:
        """Progress and previews; with --format json they go to stderr, so stdout is the JSON alone."""
        print(*parts, file=sys.stderr if args.format == "json" else sys.stdout, flush=True)

    def event(e: Any) -> None:
        if e.percent is None and e.message:
            for line in str(e.message).splitlines():
                say(f"[{e.stage}] {line}")

    async def run(journal: Journal) -> tg.TargetsReport:
        nonlocal not_confirmed
        if args.polling_port:
            await asyncio.to_thread(journal.set_settings, **{tg.POLLING_443: args.polling_port == "443"})
        report = await tg.read_targets(ctx, journal, args.wave)
        plans = tg.host_plans(report, comms=args.comms)
        if args.write_scripts:
            paths = await asyncio.to_thread(
                tg.write_scripts, report, plans, args.write_scripts, journal=journal
            )
            say(
                f"Wrote {len(paths)} clone script(s) to {args.write_scripts}; each reads the Cloud API key "
                "from OCTOPUS_CLOUD_API_KEY (or asks for it) when it runs."
            )
        if args.recreate:
            # Every other kind goes to the engine, which settles by name what a crash left half done;
            # only what is missing needs confirming.
            others = [
                r for r in report.rows if not r.host and r.cloud_state == "missing" and not r.left_behind
            ]
            settle = [r.name for r in report.rows if not r.host and not r.left_behind]
            if not others and settle:
                for res in await tg.recreate_others(ctx, journal, report, settle):
                    if res.state not in ("already there",):
                        say(f"{res.name}: {res.state}" + (f" — {res.sentence}" if res.sentence else ""))
            if others:
                say(
                    "To create on Octopus Cloud (environments, accounts, pools and policies matched by name):"
                )
                for r in others:
                    say(
                        f"  {r.name} ({r.kind} {r.role})"
                        + (" — created disabled until its secrets are entered" if r.secrets else "")
                    )
                if await ask(confirm, "create", args.yes, "targets"):
                    for res in await tg.recreate_others(ctx, journal, report, settle):
                        say(f"{res.name}: {res.state}" + (f" — {res.sentence}" if res.sentence else ""))
                        if res.state in ("needs account", "refused", "failed"):
                            problems.append(f"{res.name}: {res.sentence or res.state}")
                    report = await tg.read_targets(ctx, journal, args.wave)
                else:
                    not_confirmed = True
        if args.run or args.run_offered:
            offered = await asyncio.to_thread(tg.hosts_offered, report, plans, journal)
            hosts = offered if args.run_offered else [h.strip() for h in args.run.split(",") if h.strip()]
            known = {p.host for p in plans}
            unknown = [h for h in hosts if h not in known]
            held = [h for h in hosts if h in known and h not in offered]
            if unknown:
                problems.append(
                    f"No Tentacle host of this wave is called {', '.join(unknown)}: the hosts are "
                    f"{', '.join(sorted(known)) or 'none'}."
                )
            elif held:
                canary = tg.canary_host(report, plans)
                problems.append(
                    f"{', '.join(held)} is offered once the canary host {canary} shows healthy on Cloud: "
                    "clone it and run --health first."
                    if offered == [canary]
                    else f"{', '.join(held)} has nothing left to clone: its machines are on Cloud."
                )
            elif hosts:
                say(
                    "To clone through the Server's script console (one ad-hoc script task per host; the "
                    "script carries no API key, octowiz registers each clone on Cloud itself):"
                )
                for plan in plans:
                    if plan.host in hosts:
                        for reg in plan.registrations:
                            say(f"  {plan.host} ({plan.os}): '{reg.name}' as a {reg.comms} {reg.kind}")
                if await ask(confirm, "run", args.yes, "targets"):
                    for hr in await tg.run_console(
                        ctx, journal, report, hosts, on_event=event, plans=plans, settings=settings
                    ):
                        say(f"{hr.host}: {hr.state}" + "".join(f" — {s}" for s in hr.sentences))
                        if hr.state != "registered":
                            problems.append(f"{hr.host}: {' '.join(hr.sentences) or hr.state}")
                    report = await tg.read_targets(ctx, journal, args.wave)
                else:
                    not_confirmed = True
        if args.filled:
            await tg.mark_filled(ctx, journal, args.filled)
            say(f"{args.filled} is enabled on Octopus Cloud.")
            report = await tg.read_targets(ctx, journal, args.wave)
        if args.leave_behind:
            row = await asyncio.to_thread(
                tg.leave_behind, journal, report, args.leave_behind, args.reason or ""
            )
            say(f"{row.name} stays behind: {row.left_behind}")
        if args.take_back:
            row = await asyncio.to_thread(tg.take_back, journal, report, args.take_back)
            say(f"{row.name} counts again.")
        if args.health:
            states = await tg.health_check(ctx, journal, report, on_progress=event, settings=settings)
            for name, state in states.items():
                say(f"health: {name}: {state}")
            report = await tg.read_targets(ctx, journal, args.wave)
        return report

    with Journal.open(path) as journal:
        try:
            report = asyncio.run(run(journal))
        except tg.TargetsError as exc:
            print(f"octowiz targets: {exc}", file=sys.stderr)
            return EXIT_FAILED
        plans = tg.host_plans(report, comms=args.comms)
        offered = tg.hosts_offered(report, plans, journal)
    print(_format_targets(report, offered, tg.canary_host(report, plans), args.format))
    for p in problems + list(report.problems):
        print(f"problem: {p}", file=sys.stderr)
    if not_confirmed:
        return EXIT_NOT_CONFIRMED
    if problems:
        return EXIT_FAILED
    done = all(r.cloud_state == "healthy" or r.left_behind for r in report.rows)
    return EXIT_OK if report.rows and done else EXIT_NOT_DONE


def _format_targets(report: Any, offered: list[str], canary: str | None, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            {
                "wave": report.wave,
                "canary": canary,
                "offered": offered,
                "machines": [
                    {
                        "name": r.name,
                        "server_id": r.source_id,
                        "cloud_id": r.cloud_id,
                        "as": r.role,
                        "kind": r.kind,
                        "os": r.os,
                        "environments": r.environments,
                        "roles": r.roles,
                        "tenants": r.tenants,
                        "pools": r.pools,
                        "projects": r.projects,
                        "host": r.host,
                        "on_cloud": r.cloud_state,
                        "secrets": r.secrets,
                        "left_behind": r.left_behind or None,
                        "note": r.note,
                    }
                    for r in report.rows
                ],
            },
            indent=2,
        )
    rows = [
        [
            r.name,
            r.kind,
            r.role,
            ", ".join(r.environments if r.role == "target" else r.pools),
            str(len(r.projects)),
            "left behind" if r.left_behind else r.cloud_state,
            r.host + (" (canary)" if r.host and r.host == canary else ""),
            "; ".join(r.secrets),
        ]
        for r in report.rows
    ]
    head = f"Wave '{report.wave}': {len(report.rows)} machine(s)."
    if canary and offered == [canary]:
        head += f" Canary host: {canary} (the others are offered once it is healthy on Cloud)."
    listing = table(
        ["Name", "Kind", "As", "Environments / pools", "Projects", "On Cloud", "Host", "Needs"], rows, fmt
    )
    return f"{head}\n\n{listing}"


# -- cutover ------------------------------------------------------------------------------------------


def _project_id(name_or_id: str, checks: list[Any]) -> str | None:
    wanted = name_or_id.strip().lower()
    for c in checks:
        if wanted in (c.project_id.lower(), c.name.lower()):
            return str(c.project_id)
    return None


def cmd_cutover(args: argparse.Namespace, ctx: Any, path: Path) -> int:
    """``octowiz cutover``: show, and on request change, the wave's cut-over."""
    from octowiz.engine.cutover import cutover as co
    from octowiz.journal import Journal

    problems: list[str] = []
    not_confirmed = False

    def say(*parts: object) -> None:
        """Progress and previews; with --format json they go to stderr, so stdout is the JSON alone."""
        print(*parts, file=sys.stderr if args.format == "json" else sys.stdout, flush=True)

    def event(e: co.CutoverEvent) -> None:
        if e.percent is None and e.message:
            for line in e.message.splitlines():
                say(f"[{e.stage}] {line}")

    async def run(
        journal: Journal,
    ) -> tuple[list[co.DisableCheck], list[co.ProjectChecklist], dict[str, Any]]:
        nonlocal not_confirmed
        settings = co.CutoverSettings(poll_interval=args.poll_seconds)
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
        async with co.open_cutover(ctx, journal, args.wave, on_event=event, settings=settings) as cut:
            checks = await cut.disable_preview()
            checklist = await cut.build_server_checklist(since=since)
            for value, done in [(v, True) for v in args.done] + [(v, False) for v in args.undone]:
                project, _, item = value.partition("=")
                pid = _project_id(project, checks)
                if pid is None or not item:
                    problems.append(f"'{value}' names no project of the wave and item (PROJECT=ITEM).")
                    continue
                try:
                    await asyncio.to_thread(co.mark_item, journal, pid, item.strip(), done)
                except ValueError as exc:
                    problems.append(str(exc))
            if args.test:
                pid = _project_id(args.test, checks)
                if pid is None:
                    problems.append(f"No project of the wave is called '{args.test}'.")
                else:
                    preview = await cut.test_preview(pid)
                    release = next((i for i, v in preview.releases if v == args.release), None)
                    env = next(
                        (i for i, n in preview.environments if n.lower() == (args.environment or "").lower()),
                        None,
                    )
                    if args.release and release is None:
                        problems.append(
                            f"'{preview.project_name}' has no release {args.release} on Octopus Cloud: "
                            f"it has {', '.join(v for _, v in preview.releases[:5])}."
                        )
                    elif args.environment and env is None:
                        problems.append(
                            f"'{args.environment}' is not a non-production environment on Octopus "
                            f"Cloud: choose one of {', '.join(n for _, n in preview.environments)}."
                        )
                    else:
                        if release or env:
                            preview = await cut.test_preview(pid, release_id=release, environment_id=env)
                        for line in preview.lines():
                            say(line)

                        async def deploy_confirmed(_: co.TestPreview) -> bool:
                            return await ask(confirm, "deploy", args.yes, "cutover")

                        try:
                            result = await cut.run_test(preview, confirm=deploy_confirmed)
                        except co.CutoverError as exc:
                            if "not confirmed" in str(exc):
                                not_confirmed = True
                            else:
                                problems.append(str(exc))
                        else:
                            say(f"test: {preview.project_name}: {result.status} — {result.sentence}")
                            if result.status != "passed":
                                problems.append(result.sentence)
            if args.disable:
                if args.test:
                    checks = await cut.disable_preview()  # the test that just ran counts
                wanted = (
                    [c.project_id for c in checks]
                    if args.disable == "*"
                    else [_project_id(p, checks) or p for p in args.disable.split(",") if p.strip()]
                )
                unfinished = await cut.unfinished()
                chosen = [
                    c
                    for c in checks
                    if c.project_id in wanted and (c.state == "enabled" or c.project_id in unfinished)
                ]
                for c in chosen:
                    verdict = (
                        "may be disabled" if c.allowed else "needs --override" if c.overridable else "refused"
                    )
                    say(f"disable: {c.name}: {verdict}" + "".join(f"\n  - {r}" for r in c.reasons))
                allowed = [c for c in chosen if c.allowed or (c.overridable and args.override)]
                confirmed = await ask(confirm, "disable", args.yes, "cutover") if allowed else False
                if confirmed:
                    rows = await cut.machine_states()
                    for c in allowed:
                        outcome = await cut.disable(c.project_id, override=args.override, machines=rows)
                        say(f"{c.name}: {outcome.status} — {outcome.sentence}")
                        if outcome.status in ("refused", "failed"):
                            problems.append(outcome.sentence)
                elif allowed:
                    not_confirmed = True
                for c in chosen:
                    if c not in allowed:
                        problems.append(
                            " ".join(c.reasons)
                            + ("" if not c.overridable else " (--override REASON disables it anyway)")
                        )
            if args.reenable:
                pid = _project_id(args.reenable, checks)
                if pid is None:
                    problems.append(f"No project of the wave is called '{args.reenable}'.")
                else:
                    say(
                        f"re-enable: {args.reenable} is enabled on the Server again; its Cloud triggers are "
                        "disabled again."
                    )
                    if await ask(confirm, "enable", args.yes, "cutover"):
                        outcome = await cut.reenable(pid)
                        say(f"{args.reenable}: {outcome.status} — {outcome.sentence}")
                        if outcome.status in ("refused", "failed"):
                            problems.append(outcome.sentence)
                    else:
                        not_confirmed = True
            checks = await cut.disable_preview()
            checklist = await cut.build_server_checklist(since=since)
        tests = {
            pid: {"status": st, **(d or {})}
            for _k, pid, stage, st, d in await asyncio.to_thread(journal.items, "project")
            if stage == "test"
        }
        return checks, checklist, tests

    with Journal.open(path) as journal:
        try:
            checks, checklist, tests = asyncio.run(run(journal))
        except co.CutoverError as exc:
            print(f"octowiz cutover: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(_format_cutover(args.wave, checks, checklist, tests, args.format))
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    if not_confirmed:
        return EXIT_NOT_CONFIRMED
    if problems:
        return EXIT_FAILED
    return EXIT_OK if checks and all(c.state == "disabled" for c in checks) else EXIT_NOT_DONE


def _format_cutover(
    wave: str, checks: list[Any], checklist: list[Any], tests: dict[str, Any], fmt: str
) -> str:
    lists = {c.project_id: c for c in checklist}
    if fmt == "json":
        return json.dumps(
            {
                "wave": wave,
                "projects": [
                    {
                        "id": c.project_id,
                        "name": c.name,
                        "cloud_id": c.destination_id,
                        "verified": c.verified,
                        "targets_healthy": c.targets_healthy,
                        "test": tests.get(c.project_id, {}).get("status", "not run"),
                        "on_server": c.state,
                        "may_disable": c.allowed,
                        "reasons": c.reasons,
                        "build_server": [
                            {"id": i.id, "text": i.text, "done": i.done}
                            for i in (lists[c.project_id].items if c.project_id in lists else [])
                        ],
                        "pushers": [
                            p.to_dict()
                            for p in (lists[c.project_id].pushers if c.project_id in lists else [])
                        ],
                    }
                    for c in checks
                ],
            },
            indent=2,
        )
    rows = [
        [
            c.name,
            "yes" if c.verified else "no",
            "healthy" if c.targets_healthy else "not healthy",
            str(tests.get(c.project_id, {}).get("status", "not run")),
            "done" if c.project_id not in lists or lists[c.project_id].done else "to do",
            c.state,
        ]
        for c in checks
    ]
    out = [
        f"Wave '{wave}': {sum(1 for c in checks if c.state == 'disabled')} of {len(checks)} project(s) "
        "disabled on the Server.",
        "",
        table(["Project", "Verified", "Targets", "Test", "Build server", "On the Server"], rows, fmt),
    ]
    items = [(c, i) for c in checklist for i in c.items]
    if items:
        out += ["", "Build server (tick off with --done PROJECT=ITEM):", ""]
        out.append(
            table(
                ["Project", "Item", "Done", "What to change"],
                [[c.name, i.id, "yes" if i.done else "no", i.text] for c, i in items],
                fmt,
            )
        )
    return "\n".join(out)
