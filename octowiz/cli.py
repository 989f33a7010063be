"""The ``octowiz`` command line: the wizard, the simulator, and headless commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from octowiz import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="octowiz",
        description="Move a self-hosted Octopus Deploy Server to Octopus Cloud, safely and resumably. "
        "Without a command, opens the wizard.",
    )
    parser.add_argument("--version", action="version", version=f"octowiz {__version__}")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="use a simulated Octopus Server and Cloud (no credentials; its own journal and state)",
    )
    parser.add_argument("--reset", action="store_true", help="with --demo: start the demo afresh")
    # The same two options after a command (`octowiz scan --demo`): SUPPRESS leaves the values parsed
    # before the command in place when they are not repeated after it. Give it to commands as `parents`.
    demo_options = argparse.ArgumentParser(add_help=False)
    demo_options.add_argument(
        "--demo", action="store_true", default=argparse.SUPPRESS, help="use the simulated Server and Cloud"
    )
    demo_options.add_argument(
        "--reset", action="store_true", default=argparse.SUPPRESS, help="with --demo: start the demo afresh"
    )
    # Every phase command keeps to a requests-per-minute budget (engine/session.py); `new` records it.
    demo_options.add_argument(
        "--requests-per-minute",
        type=int,
        metavar="N",
        help="send Octopus Cloud at most N requests a minute (default: the migration's, else 180, under "
        "Cloud's documented limit of 200; 0 for no budget); with 'new', kept for the migration",
    )
    demo_options.add_argument(
        "--source-requests-per-minute",
        type=int,
        metavar="N",
        help="the same budget for the Server (default none; 0 for none)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sim = sub.add_parser(
        "sim",
        help="serve a simulated Octopus Server and Octopus Cloud instance on loopback",
        description="Serve a simulated self-hosted Octopus Server and an Octopus Cloud instance over HTTP on "
        "loopback, print their URLs and API keys, and run until interrupted (Ctrl+C).",
    )
    sim.add_argument(
        "--server-port", type=int, default=8065, help="port of the simulated Server (default 8065)"
    )
    sim.add_argument(
        "--cloud-port", type=int, default=8066, help="port of the simulated Cloud (default 8066)"
    )
    sim.add_argument(
        "--scenario", choices=("demo", "large", "empty"), default="demo", help="what the Server holds"
    )
    sim.add_argument(
        "--latency-ms", type=float, default=0.0, help="response time of every request, from its arrival"
    )
    sim.add_argument("--fault-rate", type=float, default=0.0, help="fraction of requests answered with a 5xx")
    sim.add_argument(
        "--drop-rate", type=float, default=0.0, help="fraction of connections dropped mid-answer"
    )
    sim.add_argument(
        "--burst-rate", type=float, default=0.0, help="chance that a request starts a burst of 429s"
    )
    sim.add_argument(
        "--burst-length", type=int, default=3, help="consecutive requests a burst answers 429 (default 3)"
    )
    sim.add_argument(
        "--retry-after", type=float, default=1.0, help="the Retry-After of a burst's 429s (default 1 s)"
    )
    sim.add_argument("--slow-rate", type=float, default=0.0, help="fraction of answers held back")
    sim.add_argument(
        "--slow-seconds", type=float, default=2.0, help="how much longer a slow answer takes (default 2)"
    )
    sim.add_argument(
        "--faults-after",
        type=float,
        default=0.5,
        help="share of 5xx and drops that strike after the request was carried out (default 0.5)",
    )
    sim.add_argument("--fault-seed", type=int, default=1234, help="seed of the faults (default 1234)")
    sim.add_argument(
        "--rate-limit-per-minute",
        type=int,
        default=None,
        help="Cloud answers 429 with Retry-After past this many requests a minute per key",
    )
    sim.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keep both instances' state in this directory (survives restarts)",
    )

    keys = sub.add_parser(
        "keys",
        help="API keys stored in the OS keyring",
        description="List, store or forget the API keys octowiz keeps in the OS keyring.",
    )
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    keys_sub.add_parser("list", help="URLs that have a stored key (never the key)")
    kset = keys_sub.add_parser("set", help="store a key for URL, read from standard input and checked first")
    kset.add_argument("url")
    kforget = keys_sub.add_parser("forget", help="forget the key of URL, or of every URL with --all")
    kforget.add_argument("url", nargs="?")
    kforget.add_argument("--all", action="store_true", help="forget every key octowiz stored")

    new = sub.add_parser(
        "new",
        parents=[demo_options],
        help="create a migration without the wizard",
        description="Create a migration and check both instances, without the wizard. Keys come "
        "from the OS keyring or OCTOWIZ_SOURCE_API_KEY / OCTOWIZ_DESTINATION_API_KEY.",
    )
    new.add_argument("name")
    new.add_argument("--source", required=True, help="the Octopus Server's URL")
    new.add_argument("--source-space", default=None, help="space name or id (default: the default space)")
    new.add_argument("--destination", required=True, help="the Octopus Cloud instance's URL")
    new.add_argument(
        "--destination-space", default=None, help="space name or id (default: the default space)"
    )

    scan = sub.add_parser(
        "scan",
        parents=[demo_options],
        help="the readiness scan, without the wizard",
        description="Scan the source Server (and the destination) for everything that will not work in "
        "Octopus Cloud, record the result in the migration's journal, and print it. Read-only on both "
        "instances.",
    )
    scan.add_argument("name", nargs="?", help="the migration (default: the most recent)")
    scan.add_argument("--format", choices=("text", "markdown", "json"), default="text")

    plan = sub.add_parser(
        "plan",
        parents=[demo_options],
        help="plan a wave of projects, without the wizard",
        description="Put projects into a named wave of the migration (read-only on both instances). "
        "Projects that a Deploy-a-Release step in the wave deploys are added, with the reason; projects "
        "that share library variable sets or tenants with the wave are named.",
    )
    plan.add_argument("name", nargs="?", help="the migration (default: the most recent)")
    plan.add_argument("--wave", help="the wave's name, e.g. 'wave 1'")
    which = plan.add_mutually_exclusive_group()
    which.add_argument("--projects", help="comma-separated project names or ids")
    which.add_argument("--group", help="every project of this project group")
    which.add_argument(
        "--suggest", action="store_true", help="the suggested first wave: ready, rarely deployed projects"
    )
    plan.add_argument("--list", action="store_true", help="list every project with its readiness and wave")
    plan.add_argument("--format", choices=("text", "markdown", "json"), default="text")

    migrate = sub.add_parser(
        "migrate",
        parents=[demo_options],
        help="migrate a planned wave, without the wizard",
        description="Export the wave's projects from the Server, import them into Octopus Cloud, copy "
        "their packages, logos and triggers, and verify each project. Resumable: run it again after "
        "any interruption. The export password comes from OCTOWIZ_EXPORT_PASSWORD or is asked twice; "
        "it is never stored. Exit codes: 0 every project verified, 1 a failure, 2 usage, 3 differences "
        "found, 4 a project conflicts with one already on Cloud, 5 the import was not confirmed.",
    )
    migrate.add_argument("name", nargs="?", help="the migration (default: the most recent)")
    migrate.add_argument("--wave", required=True, help="the wave to migrate")
    migrate.add_argument("--yes", action="store_true", help="confirm the import preview without asking")
    migrate.add_argument(
        "--max-queued-imports",
        type=int,
        default=1,
        help="never more imports queued or running on Cloud than this (default 1: Cloud's task cap is "
        "shared with your deployments)",
    )
    migrate.add_argument(
        "--packages",
        default="all",
        help="package versions to copy: 'all' the releases select, or 'latest:N' releases per channel",
    )
    migrate.add_argument(
        "--poll-seconds", type=float, default=2.0, help="how often to check a running task (default 2)"
    )
    migrate.add_argument(
        "--accept",
        metavar="PROJECT",
        help="accept the differences the project's verification lists (with --reason; no password needed)",
    )
    migrate.add_argument("--reason", help="with --accept: why they are acceptable (kept in the journal)")

    status = sub.add_parser(
        "status",
        parents=[demo_options],
        help="where a migration stands: what remains, drift, the last actions",
        description="Print where a migration stands: its settings and steps, what remains per wave, project "
        "and stage, projects changed on the Server since they were verified (drift), and the last actions. "
        "Read-only: the journal is opened read-only and both instances are read through clients that refuse "
        "to send anything but GET; --journal-only contacts neither instance.",
    )
    status.add_argument("name", nargs="?", help="the migration (default: the most recent)")
    status.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    status.add_argument(
        "--journal-only", action="store_true", help="only what the journal knows (no instance is contacted)"
    )

    from octowiz.cli_cutover import add_parsers
    from octowiz.cli_retire import add_parser as add_retire

    add_parsers(sub, demo_options)
    add_retire(sub, demo_options)
    return parser


# -- sim ------------------------------------------------------------------------------------------


def _cmd_sim(args: argparse.Namespace) -> int:
    from octowiz.sim.config import FaultMix, InstanceConfig
    from octowiz.sim.simulator import Simulator

    if not 0.0 <= args.fault_rate < 1.0:
        print("octowiz sim: --fault-rate must be at least 0 and below 1.", file=sys.stderr)
        return EXIT_USAGE
    try:
        mix = FaultMix(
            error_rate=args.fault_rate,
            burst_rate=args.burst_rate,
            burst_length=args.burst_length,
            retry_after=args.retry_after,
            drop_rate=args.drop_rate,
            slow_rate=args.slow_rate,
            slow_seconds=args.slow_seconds,
            after_share=args.faults_after,
            seed=args.fault_seed,
        )
    except ValueError as exc:
        print(f"octowiz sim: {exc}.", file=sys.stderr)
        return EXIT_USAGE
    # Both instances draw from the same mix, each from its own seeded sequence.
    server = InstanceConfig("server", latency_ms=args.latency_ms, fault_mix=mix)
    cloud = InstanceConfig(
        "cloud",
        latency_ms=args.latency_ms,
        fault_mix=mix,
        rate_limit_per_minute=args.rate_limit_per_minute,
    )
    print(f"Seeding the '{args.scenario}' scenario…", flush=True)
    sim = Simulator(args.state_dir, args.scenario, server=server, cloud=cloud)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with sim.serve(server_port=args.server_port, cloud_port=args.cloud_port) as endpoints:
            s, c = endpoints["server"], endpoints["cloud"]
            print(
                "Simulated Octopus instances are ready (simulated: not real Octopus servers).\n"
                f"  Octopus Server  {s.url}   API key {s.api_key}   read-only key {s.reader_key}\n"
                f"  Octopus Cloud   {c.url}   API key {c.api_key}   read-only key {c.reader_key}\n"
                f"  Try: curl -H 'X-Octopus-ApiKey: {s.api_key}' {s.url}/api\n"
                "Press Ctrl+C to stop.",
                flush=True,
            )
            stop.wait()
    except RuntimeError as exc:
        print(
            f"octowiz sim: {exc}. Is another program using the port? Choose others with --server-port and "
            "--cloud-port.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    finally:
        sim.close()
    with contextlib.suppress(BrokenPipeError):  # whoever started us may have stopped reading
        print("Stopped.", flush=True)
    return EXIT_OK


# -- keys -----------------------------------------------------------------------------------------


def _cmd_keys(args: argparse.Namespace) -> int:
    from octowiz.octopus.client import OctopusClient
    from octowiz.octopus.urls import normalise_base_url
    from octowiz.paths import default_paths
    from octowiz.secrets import KeyStore

    store = KeyStore(default_paths().config)
    if args.keys_command == "list":
        urls = store.urls()
        status = store.status()
        if not status.usable:
            print(f"No usable OS keyring: {status.reason}.", file=sys.stderr)
        print("\n".join(urls) if urls else "No API keys are stored.")
        return EXIT_OK
    if args.keys_command == "forget":
        status = store.status()
        if not status.usable:  # a locked keyring still holds the keys: never claim they were forgotten
            print(f"The keys cannot be forgotten: {status.reason}.", file=sys.stderr)
            return EXIT_FAILED
        if args.all:
            gone = store.forget_all()
            print(f"Forgot {len(gone)} key(s)." if gone else "No API keys were stored.")
            return EXIT_OK
        if not args.url:
            print("octowiz keys forget: give a URL, or --all.", file=sys.stderr)
            return EXIT_USAGE
        url = normalise_base_url(args.url)
        print(f"Forgot the key for {url}." if store.forget(url) else f"No key was stored for {url}.")
        return EXIT_OK
    # set: the key comes from standard input, never from argv (argv is visible to other users).
    url = normalise_base_url(args.url)
    status = store.status()
    if not status.usable:
        print(f"The key cannot be stored: {status.reason}.", file=sys.stderr)
        return EXIT_FAILED
    try:
        key = getpass.getpass(f"API key for {url}: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    except EOFError:  # Ctrl+D at the prompt
        print("\noctowiz keys set: no key was given (the input ended); nothing was stored.", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\noctowiz keys set: stopped (Ctrl+C); nothing was stored.", file=sys.stderr)
        return 130

    async def check() -> str:
        async with OctopusClient(url, key, max_attempts=2) as client:
            me = await client.current_user()
            return str(me.display_name or me.username)

    who = asyncio.run(check())
    store.set(url, key)
    print(f"Stored the key for {url} (it belongs to {who}).")
    return EXIT_OK


# -- new and status -------------------------------------------------------------------------------


def _context(args: argparse.Namespace) -> Any:
    from octowiz.engine.context import demo_context, real_context

    ctx = demo_context(reset=args.reset) if args.demo else real_context()
    ctx.requests_per_minute = getattr(args, "requests_per_minute", None)
    ctx.source_requests_per_minute = getattr(args, "source_requests_per_minute", None)
    return ctx


def _cmd_new(args: argparse.Namespace) -> int:
    from octowiz.engine.prepare.connect import check_instance, check_pair, connection_settings, describe
    from octowiz.journal import Journal, JournalError

    ctx = _context(args)
    try:
        path = ctx.journal_path(args.name)
        # What can be refused without asking either instance is refused first, with its own sentence
        # (a URL that is not one would otherwise read as a missing key).
        if path.exists():  # the sentence Journal.create would say, before any instance is asked
            raise JournalError(f"A migration journal already exists at {path}: choose another name.")
        from octowiz.octopus.urls import normalise_base_url

        if normalise_base_url(args.source) == normalise_base_url(args.destination):
            print(
                "octowiz new: the source and the destination are the same Octopus instance: the "
                "destination must be your Octopus Cloud instance.",
                file=sys.stderr,
            )
            return EXIT_FAILED
        s_key, s_from = ctx.key_for(args.source, "source")
        d_key, d_from = ctx.key_for(args.destination, "destination")
        missing = [
            f"no API key for {u} (store one with 'octowiz keys set {u}' or set {var})"
            for u, k, var in (
                (args.source, s_key, "OCTOWIZ_SOURCE_API_KEY"),
                (args.destination, d_key, "OCTOWIZ_DESTINATION_API_KEY"),
            )
            if not k
        ]
        if missing:
            print("octowiz new: " + "; ".join(missing) + ".", file=sys.stderr)
            return EXIT_FAILED

        async def checks() -> tuple[Any, Any]:
            return await asyncio.gather(
                check_instance("source", args.source, s_key or "", args.source_space, ctx.transport),
                check_instance(
                    "destination", args.destination, d_key or "", args.destination_space, ctx.transport
                ),
            )

        source, destination = asyncio.run(checks())
        problems = check_pair(source, destination) if not (source.error or destination.error) else []
        for check in (source, destination):
            print(f"{check.role.capitalize()} {check.url}:")
            for status, line in describe(check):
                print(f"  [{status}] {line}")
        for p in problems:
            print(f"  [error] {p}")
        ok = source.ok and destination.ok and not problems
        with Journal.create(path, {"name": args.name}) as journal:
            journal.set_settings(**connection_settings(source, destination))
            for key, value in (
                ("requests_per_minute", args.requests_per_minute),
                ("source_requests_per_minute", args.source_requests_per_minute),
            ):
                if value is not None:  # kept for the migration; every later command keeps to it
                    journal.set_settings(**{key: value})
            journal.set_step("connect", "done" if ok else "needs attention")
        print(
            f"Created the migration '{args.name}' ({path})."
            + (
                ""
                if ok
                else " Its connection needs attention: fix the above and run the wizard to check again."
            )
        )
        return EXIT_OK if ok else EXIT_FAILED
    finally:
        ctx.close()


def _migration_path(ctx: Any, name: str | None, *, demo_default: bool = False) -> Path | None:
    """The named migration's journal, or the most recent one; in the demo, one is created if none exists."""
    from octowiz.journal import Journal, list_migrations

    if name:
        return Path(ctx.journal_path(name))
    found = list(list_migrations(ctx.migrations_dir))
    if found:
        return found[0]
    if demo_default and ctx.demo and ctx.simulator is not None:
        path = Path(ctx.journal_path("demo"))
        with Journal.create(path, {"name": "demo"}) as journal:
            journal.set_settings(
                source_url=ctx.simulator.server_url,
                source_space="Spaces-1",
                source_space_name="Default",
                destination_url=ctx.simulator.cloud_url,
                destination_space="Spaces-1",
                destination_space_name="Default",
            )
            journal.set_step("connect", "done")
        return path
    print("There are no migrations yet: start one with 'octowiz' or 'octowiz new'.", file=sys.stderr)
    return None


def _cmd_scan(args: argparse.Namespace) -> int:
    from octowiz.engine.prepare.scanning import format_scan, run_readiness
    from octowiz.journal import Journal

    ctx = _context(args)
    try:
        path = _migration_path(ctx, args.name, demo_default=True)
        if path is None:
            return EXIT_FAILED
        with Journal.open(path) as journal:
            result = asyncio.run(run_readiness(ctx, journal))
            journal.set_step("differences", "done" if not result.counts()["blocker"] else "needs attention")
        print(format_scan(result, args.format))
        return EXIT_OK
    finally:
        ctx.close()


def _cmd_plan(args: argparse.Namespace) -> int:
    from octowiz.engine.migrate import waves
    from octowiz.engine.session import clients
    from octowiz.journal import Journal

    ctx = _context(args)
    try:
        path = _migration_path(ctx, args.name, demo_default=True)
        if path is None:
            return EXIT_FAILED
        with Journal.open(path) as journal:
            view = waves.journal_view(journal)

            async def build() -> waves.Catalog:
                async with clients(ctx, journal.settings, destination=False) as (source, _):
                    return await waves.build_catalog(source, view)

            catalog = asyncio.run(build())
            if args.list or not args.wave:
                if not args.list:
                    print(
                        "octowiz plan: say which wave (--wave) and which projects, or --list.",
                        file=sys.stderr,
                    )
                    return EXIT_USAGE
                print(waves.format_catalog(catalog, args.format))
                return EXIT_OK
            if args.suggest:
                chosen = waves.suggest_first_wave(catalog)
            elif args.projects or args.group:
                names = [p.strip() for p in (args.projects or "").split(",") if p.strip()]
                chosen = waves.select(catalog, projects=names or None, group=args.group)
            else:
                print("octowiz plan: choose projects with --projects, --group or --suggest.", file=sys.stderr)
                return EXIT_USAGE
            try:
                check = waves.plan_wave(journal, catalog, args.wave, chosen)
            except waves.WaveError as exc:
                print(f"octowiz plan: {exc}", file=sys.stderr)
                return EXIT_FAILED
            planned = journal.waves().get(args.wave, [])
            if planned and journal.step_status("waves") != "done":
                journal.set_step("waves", "done", f"{len(journal.waves())} wave(s) planned")
        names_by_id = {r.id: r.name for r in catalog.rows}
        print(f"Wave '{args.wave}': " + ", ".join(names_by_id.get(i, i) for i in planned) + ".")
        for pid, why in check.added:
            print(f"  added {names_by_id.get(pid, pid)}: {why}")
        for warning in check.warnings:
            print(f"  warning: {warning}")
        return EXIT_OK
    except waves.WaveError as exc:
        print(f"octowiz plan: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        ctx.close()


def _export_password() -> str | None:
    """The export password: OCTOWIZ_EXPORT_PASSWORD, or asked twice on a terminal; never stored."""
    import os

    from_env = os.environ.get("OCTOWIZ_EXPORT_PASSWORD")
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        print(
            "octowiz migrate: set OCTOWIZ_EXPORT_PASSWORD, or run it in a terminal to be asked for the "
            "export password.",
            file=sys.stderr,
        )
        return None
    try:
        first = getpass.getpass("Export password (encrypts sensitive values in the archive; not stored): ")
        if not first:
            print("octowiz migrate: the export password cannot be empty.", file=sys.stderr)
            return None
        again = getpass.getpass("The same password again: ")
    except EOFError:  # Ctrl+D at either prompt
        print(
            "\noctowiz migrate: no export password was given (the input ended); nothing was done.",
            file=sys.stderr,
        )
        return None
    if again != first:
        print("octowiz migrate: the two passwords differ; nothing was done.", file=sys.stderr)
        return None
    return first


def _cmd_migrate(args: argparse.Namespace) -> int:
    from octowiz.engine.migrate import run as migrate
    from octowiz.journal import Journal

    if args.accept:
        return _accept(args)
    latest: int | None = None
    if args.packages != "all":
        kind, _, n = args.packages.partition(":")
        if kind != "latest" or not n.isdigit() or int(n) < 1:
            print("octowiz migrate: --packages takes 'all' or 'latest:N' (N at least 1).", file=sys.stderr)
            return EXIT_USAGE
        latest = int(n)
    if args.max_queued_imports < 1:
        print("octowiz migrate: --max-queued-imports must be at least 1.", file=sys.stderr)
        return EXIT_USAGE
    try:
        password = _export_password()
    except KeyboardInterrupt:
        print("\noctowiz migrate: stopped (Ctrl+C) before anything was done.", file=sys.stderr)
        return 130
    if password is None:
        return EXIT_FAILED
    ctx = _context(args)
    try:
        path = _migration_path(ctx, args.name)
        if path is None:
            return EXIT_FAILED
        settings = migrate.WaveSettings(
            max_queued_imports=args.max_queued_imports,
            latest_per_channel=latest,
            poll_interval=args.poll_seconds,
        )
        printer = _EventPrinter()

        async def confirm(preview: migrate.ImportPreview) -> bool:
            if args.yes:
                return True
            if not sys.stdin.isatty():
                print(
                    "octowiz migrate: the import needs confirming: read the preview above and run again "
                    "with --yes.",
                    file=sys.stderr,
                )
                return False
            from octowiz.cli_cutover import ask

            try:
                answer = await ask(input, "Import these into Octopus Cloud? [y/N] ")
            except EOFError:  # Ctrl+D: no answer is not a yes
                print("\noctowiz migrate: no answer (the input ended).", file=sys.stderr)
                return False
            return answer.strip().lower() in ("y", "yes")

        with Journal.open(path) as journal:
            try:
                result = asyncio.run(
                    migrate.run_wave(
                        ctx,
                        journal,
                        args.wave,
                        password,
                        confirm=confirm,
                        on_event=printer,
                        settings=settings,
                    )
                )
            except migrate.WaveFailed as exc:
                print(f"octowiz migrate: {exc}", file=sys.stderr)
                return EXIT_FAILED
        print()
        for p in result.projects:
            line = f"{p.name}: {p.state}" + (f" ({p.detail})" if p.detail else "")
            print(line)
            if p.verification is not None:
                for d in p.verification.differences:
                    print(f"  - {d.area}: {d.what}")
            for item in p.manual:
                print(f"  by hand: {item}")
        for problem in result.problems:
            print(f"problem: {problem}", file=sys.stderr)
        not_confirmed = any("not confirmed" in p for p in result.problems)
        return migrate.EXIT_NOT_CONFIRMED if not_confirmed else result.exit_code
    finally:
        ctx.close()


def _accept(args: argparse.Namespace) -> int:
    """``octowiz migrate --accept PROJECT --reason R``: accept a project's verification differences."""
    from octowiz.engine.migrate.accept import accept_differences
    from octowiz.journal import Journal

    if not (args.reason or "").strip():
        print("octowiz migrate: --accept needs --reason: the journal keeps why.", file=sys.stderr)
        return EXIT_USAGE
    ctx = _context(args)
    try:
        path = _migration_path(ctx, args.name)
        if path is None:
            return EXIT_FAILED
        with Journal.open(path) as journal:
            wanted = args.accept.strip().lower()
            ids = journal.waves().get(args.wave, [])
            names = {
                pid: str((d or {}).get("project_name") or pid)
                for _k, pid, stage, _st, d in journal.items("project")
                if stage == "verify" and pid in ids
            }
            pid = next((p for p, n in names.items() if wanted in (p.lower(), n.lower())), None)
            if pid is None:
                print(
                    f"octowiz migrate: no verified project of {args.wave} is called '{args.accept}'"
                    + (f": it has {', '.join(names.values())}." if names else "."),
                    file=sys.stderr,
                )
                return EXIT_FAILED
            try:
                verification = accept_differences(journal, pid, args.reason)
            except ValueError as exc:
                print(f"octowiz migrate: {exc}", file=sys.stderr)
                return EXIT_FAILED
        for d in verification.accepted:
            print(f"accepted: {d.area}: {d.what}")
        print(f"{verification.project_name}: verified (differences accepted: {args.reason.strip()})")
        return EXIT_OK  # = migrate's EXIT_VERIFIED
    finally:
        ctx.close()


class _EventPrinter:
    """Print a wave's events as lines, package byte counts at most every 10 %."""

    def __init__(self) -> None:
        self._last: tuple[str, str] | None = None
        self._bytes_step = -1

    def __call__(self, event: Any) -> None:
        if event.total_bytes and event.done_bytes is not None:
            step = event.done_bytes * 10 // event.total_bytes
            if step == self._bytes_step:
                return
            self._bytes_step = step
            print(f"[{event.stage}] {event.done_bytes:,} of {event.total_bytes:,} bytes", flush=True)
            return
        key = (event.stage, event.message)
        if key == self._last:
            return
        self._last = key
        for line in event.message.splitlines():
            print(f"[{event.stage}] {line}", flush=True)


def _cmd_status(args: argparse.Namespace) -> int:
    from octowiz.engine.steps import STEPS
    from octowiz.journal import Journal, list_migrations, migration_name

    ctx = _context(args)
    try:
        if args.name:
            path = ctx.journal_path(args.name)
        else:
            found = list(list_migrations(ctx.migrations_dir))
            if not found:
                print(
                    "There are no migrations yet: start one with 'octowiz' or 'octowiz new'.", file=sys.stderr
                )
                return EXIT_FAILED
            path = found[0]
        with Journal.open(path, lock=False) as journal:
            settings = journal.settings
            steps = journal.steps()
            actions = journal.actions(limit=20)
            waves = _wave_states(journal)
        name = migration_name(path)
        report: dict[str, Any] = {
            "name": name,
            "journal": str(path),
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
            "waves": waves,
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
                for a in actions
            ],
        }
        # What remains and drift need both instances, read through read-only clients (review/report.py).
        from octowiz.engine.review.report import status_output

        print(
            _format_status(report, args.format)
            if args.journal_only
            else status_output(ctx, path, args.format, report)
        )
        return EXIT_OK
    finally:
        ctx.close()


def _wave_states(journal: Any) -> dict[str, list[dict[str, str]]]:
    """Each planned wave's projects with their migration state, from the journal alone."""
    from octowiz.engine.migrate.waves import project_state

    items = journal.items()
    names: dict[str, str] = {}
    for kind, _item, _stage, _status, detail in items:
        if kind == "batch" and detail:
            names.update({str(k): str(v) for k, v in (detail.get("names") or {}).items()})
        elif kind == "project" and detail and detail.get("project_name"):
            names[str(_item)] = str(detail["project_name"])
    out: dict[str, list[dict[str, str]]] = {}
    for wave, ids in journal.waves().items():
        out[wave] = [
            {
                "id": pid,
                "name": names.get(pid, pid),
                "state": project_state([row for row in items if row[0] == "project" and row[1] == pid], wave),
            }
            for pid in ids
        ]
    return out


def _format_status(r: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(r, indent=2)
    s = r["settings"]
    rows = [
        (
            "Source",
            f"{s.get('source_url', 'not connected')} ({s.get('source_space_name', '')}) "
            f"{s.get('source_version', '')}".strip(),
        ),
        (
            "Destination",
            f"{s.get('destination_url', 'not connected')} ({s.get('destination_space_name', '')}) "
            f"{s.get('destination_version', '')}".strip(),
        ),
        ("Created", str(s.get("created_at", ""))),
    ]
    if fmt == "markdown":
        out = [f"# Migration {r['name']}", "", "| | |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in rows]
        out += ["", "## Steps", "", "| Step | Status | Updated |", "|---|---|---|"]
        out += [f"| {st['title']} | {st['status']} | {st['updated_at'] or ''} |" for st in r["steps"]]
        for wave, projects in r["waves"].items():
            out += ["", f"## Wave {wave}", "", "| Project | State |", "|---|---|"]
            out += [f"| {p['name']} | {p['state']} |" for p in projects]
        out += ["", "## Last actions", ""]
        out += [
            f"- #{a['id']} {a['step']}: {a['kind']} {a['target']} — {a['outcome']}" for a in r["actions"]
        ] or ["No changes were made to either instance yet."]
        return "\n".join(out)
    out = [f"Migration {r['name']}  ({r['journal']})"] + [f"  {k:<12} {v}" for k, v in rows] + ["", "Steps:"]
    out += [f"  {st['title']:<14} {st['status']}" for st in r["steps"]]
    for wave, projects in r["waves"].items():
        out += ["", f"Wave {wave}:"] + [f"  {p['name']:<28} {p['state']}" for p in projects]
    out += ["", "Last actions:"]
    out += [
        f"  #{a['id']} {a['step']}: {a['kind']} {a['target']} — {a['outcome']}" for a in r["actions"]
    ] or ["  none: no changes were made to either instance yet"]
    return "\n".join(out)


# -- the wizard -----------------------------------------------------------------------------------


def _cmd_cutover_step(args: argparse.Namespace) -> int:
    from octowiz import cli_cutover

    ctx = _context(args)
    try:
        path = _migration_path(ctx, args.name)
        if path is None:
            return EXIT_FAILED
        if args.command == "retire":
            from octowiz.cli_retire import cmd_retire

            return cmd_retire(args, ctx, path)
        run = cli_cutover.cmd_targets if args.command == "targets" else cli_cutover.cmd_cutover
        return run(args, ctx, path)
    finally:
        ctx.close()


def _cmd_wizard(args: argparse.Namespace) -> int:
    from octowiz.engine.context import demo_context, real_context
    from octowiz.tui.app import make_app

    # The demo's simulator is built once the first screen is up, not before it (engine/deferred_sim.py).
    ctx = demo_context(reset=args.reset, deferred=True) if args.demo else real_context()
    try:
        make_app(ctx).run()
    finally:
        ctx.close()
    return EXIT_OK


def _failures() -> tuple[type[Exception], ...]:
    """The errors that carry a sentence for the user (imported only when something was raised)."""
    from octowiz.journal import JournalError
    from octowiz.octopus.errors import OctopusError
    from octowiz.secrets import KeyStoreError

    return JournalError, OctopusError, KeyStoreError


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code. Bad input gets a sentence, never a traceback."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    for option in ("requests_per_minute", "source_requests_per_minute"):
        if (getattr(args, option, None) or 0) < 0:
            parser.error(f"--{option.replace('_', '-')} takes a number of requests, 0 for no budget")
    if args.reset and not args.demo:
        parser.error("--reset only goes with --demo")
    commands = {
        "sim": _cmd_sim,
        "keys": _cmd_keys,
        "new": _cmd_new,
        "status": _cmd_status,
        "scan": _cmd_scan,
        "plan": _cmd_plan,
        "migrate": _cmd_migrate,
        "targets": _cmd_cutover_step,
        "cutover": _cmd_cutover_step,
        "retire": _cmd_cutover_step,
    }
    try:
        return commands.get(args.command or "", _cmd_wizard)(args)
    # An except clause's classes are looked up only when an exception reaches it: importing them up
    # front (httpx, the keyring) would add a quarter of a second before the wizard's first screen.
    except _failures() as exc:
        print(f"octowiz: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        # Every change is journaled before it is sent and its outcome after, so stopping anywhere loses
        # nothing: say so, on a line of its own (the terminal echoed ^C after the prompt).
        print(
            "\noctowiz: stopped (Ctrl+C). What was done before is recorded; run the same command again to "
            "continue from there.",
            file=sys.stderr,
        )
        return 130
    except EOFError:
        # A prompt without its own answer to Ctrl+D (they all have one): the same promise as Ctrl+C.
        print(
            "\noctowiz: the input ended (Ctrl+D) before an answer was given; nothing more was done.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except BrokenPipeError:
        # Whoever read our output stopped early (`octowiz status | head`): not an error worth a traceback.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
