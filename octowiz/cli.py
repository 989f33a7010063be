"""The ``octowiz`` command line."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path

from octowiz import __version__


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="octowiz",
        description="Move a self-hosted Octopus Deploy Server to Octopus Cloud, safely and resumably.",
    )
    parser.add_argument("--version", action="version", version=f"octowiz {__version__}")
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
    sim.add_argument("--latency-ms", type=float, default=0.0, help="added to every response")
    sim.add_argument("--fault-rate", type=float, default=0.0, help="fraction of requests answered with a 5xx")
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
    return parser


def _cmd_sim(args: argparse.Namespace) -> int:
    from octowiz.sim.config import InstanceConfig
    from octowiz.sim.simulator import Simulator

    if not 0.0 <= args.fault_rate < 1.0:
        print("octowiz sim: --fault-rate must be at least 0 and below 1.", file=sys.stderr)
        return 2
    server = InstanceConfig("server", latency_ms=args.latency_ms, fault_rate=args.fault_rate)
    cloud = InstanceConfig(
        "cloud",
        latency_ms=args.latency_ms,
        fault_rate=args.fault_rate,
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
        return 1
    finally:
        sim.close()
    with contextlib.suppress(BrokenPipeError):  # whoever started us may have stopped reading
        print("Stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "sim":
        return _cmd_sim(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
