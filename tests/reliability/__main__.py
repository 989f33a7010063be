"""``python -m tests.reliability [--write] [CASE ...]``: run the bad input catalogue.

Prints each case's row and any problem. ``--write`` regenerates docs/RELIABILITY.md from the run (every
case must run and pass: a document made on a machine that cannot mount a tmpfs would lack rows).
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.reliability.catalogue import DOC, committed_rows, document, run_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability", description=__doc__)
    parser.add_argument("--write", action="store_true", help="regenerate docs/RELIABILITY.md")
    parser.add_argument("cases", nargs="*", help="only these case ids (not with --write)")
    args = parser.parse_args(argv)
    if args.write and args.cases:
        parser.error("--write runs every case")
    started = time.monotonic()
    rows, found, skipped, durations = run_all(args.cases)
    committed = committed_rows(DOC.read_text()) if DOC.exists() else {}
    for cid, line in rows.items():
        mark = "ok " if not found[cid] else "BAD"
        stale = "" if committed.get(cid) == line else "  (differs from docs/RELIABILITY.md)"
        print(f"{mark} {line}{stale}")
        for problem in found[cid]:
            print(f"      {problem}")
    for cid in skipped:
        print(f"skipped {cid}: this machine cannot mount (run as root with CAP_SYS_ADMIN)")
    bad = [cid for cid, p in found.items() if p]
    print(f"{len(rows)} case(s) in {time.monotonic() - started:.1f} s; {len(bad)} with problems.")
    slowest = sorted(durations.items(), key=lambda kv: -kv[1])[:5]
    print("Slowest: " + ", ".join(f"{cid} {seconds:.1f} s" for cid, seconds in slowest))
    if args.write:
        if bad or skipped:
            print("Not written: every case must run and pass.", file=sys.stderr)
            return 1
        DOC.write_text(document(rows))
        print(f"Wrote {DOC}.")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
