"""Copy a 1 GB package from the simulated Server to the simulated Cloud over loopback, beside curl.

The simulator runs in its own process (`octowiz sim --state-dir`, so packages are files on its disk,
not in its memory), as real Octopus instances would; only this process's memory is measured. Printed
side by side from one run:

* (a) octowiz's ``copy_packages``: the Server's download streamed straight into the Cloud's multipart
  upload. Wall time, throughput, and this process's memory growth: peak resident set size above its
  size before the copy (Linux ``VmHWM``, reset first), then a second copy under ``tracemalloc`` for the
  peak of Python allocations. Target: under 100 MB;
* (b) plain ``curl``: download to a temporary file, then ``curl -F fileData=@file`` upload of the same
  bytes as another version. Throughput, and the ratio octowiz / curl. Target: >= 0.5;
* (c) a 50-project wave of the ``large`` scenario migrated whole (export, import, packages, logos,
  triggers, verification): API requests per project on each instance; and the read-only gap planning
  alone (``plan_gaps``: releases, processes, triggers, teams; ``needed_packages``).

Usage: ``python -m benchmarks.packages [--size-mb 1024] [--wave 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import resource
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

from benchmarks.report import measure, result
from benchmarks.simproc import running_sim
from benchmarks.uiloop import watching_the_loop
from octowiz.engine.migrate import gaps
from octowiz.journal.journal import Journal
from octowiz.octopus.client import OctopusClient
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN

PACKAGE_ID = "Bench.Payload"
MB = 1024 * 1024


def _status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` memory field in KiB (``VmRSS``, ``VmHWM``), or None off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset this process's peak resident set size (``VmHWM``), where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


async def _payload(size: int, sha: hashlib._Hash) -> AsyncIterator[bytes]:
    """``size`` pseudo-random bytes, made a MiB at a time (never held whole)."""
    seed = os.urandom(MB)
    block_no = 0
    left = size
    while left:
        block = (block_no.to_bytes(8, "big") + seed[8:])[: min(left, MB)]
        sha.update(block)
        left -= len(block)
        block_no += 1
        yield block


async def _seed_package(server: str, size: int) -> str:
    async with OctopusClient(server, SERVER_ADMIN.api_key, read_timeout=600) as client:
        await client.discover()
        sha = hashlib.sha1()
        await client.upload_package(f"{PACKAGE_ID}.1.0.0.zip", _payload(size, sha), size)
        return sha.hexdigest()


async def _octowiz_copy(server: str, cloud: str, journal: Journal, *, traced: bool) -> dict[str, float]:
    need = gaps.PackageNeed(PACKAGE_ID, "1.0.0")
    async with (
        OctopusClient(server, SERVER_ADMIN.api_key, read_timeout=600) as source,
        OctopusClient(cloud, CLOUD_MANAGER.api_key, read_timeout=600) as dest,
    ):
        await source.discover()
        await dest.discover()
        existing = await dest.package(PACKAGE_ID, "1.0.0")
        if existing is not None:
            await dest.request("DELETE", dest.space_path(f"packages/{existing.id}"))
        requests = source.request_count + dest.request_count
        rss_before = _status_kib("VmRSS") or 0
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        hwm_reset = _reset_peak()
        if traced:
            tracemalloc.start()
        start = time.perf_counter()
        [copy] = await gaps.copy_packages(source, dest, journal, [need])
        elapsed = time.perf_counter() - start
        requests = source.request_count + dest.request_count - requests
        traced_peak = tracemalloc.get_traced_memory()[1] if traced else 0
        if traced:
            tracemalloc.stop()
        hwm = _status_kib("VmHWM") if hwm_reset else None
        maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if copy.status != "copied":
            raise SystemExit(f"the copy did not complete: {copy.status}: {copy.detail}")
        arrived = await dest.package(PACKAGE_ID, "1.0.0")
        src = await source.package(PACKAGE_ID, "1.0.0")
        assert arrived is not None and src is not None and arrived.hash == src.hash
        return {
            "seconds": elapsed,
            "rss_growth_mb": ((hwm if hwm is not None else maxrss_after) - rss_before) / 1024
            if hwm is not None
            else (maxrss_after - maxrss_before) / 1024,
            "traced_peak_mb": traced_peak / MB,
            "requests": requests,
        }


def _curl(server: str, cloud: str, size: int, work: Path) -> tuple[float, float]:
    """Download with curl to a file, upload it with curl as another version; (download s, upload s)."""
    headers = work / "headers.txt"  # the key goes in a file, never on a command line
    headers.write_text(f"X-Octopus-ApiKey: {SERVER_ADMIN.api_key}\n")
    cloud_headers = work / "cloud-headers.txt"
    cloud_headers.write_text(f"X-Octopus-ApiKey: {CLOUD_MANAGER.api_key}\n")
    target = work / f"{PACKAGE_ID}.1.0.1.zip"
    start = time.perf_counter()
    subprocess.run(
        ["curl", "-sS", "--fail", "-o", str(target), "-H", f"@{headers}",
         f"{server}/api/Spaces-1/packages/packages-{PACKAGE_ID}.1.0.0/raw"],
        check=True,
    )  # fmt: skip
    down = time.perf_counter() - start
    assert target.stat().st_size == size
    start = time.perf_counter()
    subprocess.run(
        ["curl", "-sS", "--fail", "-o", os.devnull, "-H", f"@{cloud_headers}", "-F", f"fileData=@{target}",
         f"{cloud}/api/Spaces-1/packages/raw?overwriteMode=FailIfExists"],
        check=True,
    )  # fmt: skip
    up = time.perf_counter() - start
    target.unlink()
    return down, up


async def _planning(server: str, wave: int) -> tuple[int, int, int, int]:
    async with OctopusClient(server, SERVER_ADMIN.api_key) as client:
        await client.discover()
        projects = (await client.projects())[:wave]
        ids = [str(p.id) for p in projects]
        before = client.request_count
        needs = await gaps.needed_packages(client, ids)
        needed = client.request_count - before
        before = client.request_count
        plan = await gaps.plan_gaps(client, projects)
        planned = client.request_count - before
        before = client.request_count
        await gaps.needed_packages(client, ids, latest_per_channel=3)
        latest = client.request_count - before
        assert set(plan.needs) == set(needs)
        return len(projects), needed, planned, latest


async def _whole_wave(
    server: str, cloud: str, wave: int, work: Path
) -> tuple[int, str, int, int, float, tuple[float, float, float]]:
    """Migrate ``wave`` projects of the large scenario: (projects, states, source and Cloud requests, s,
    longest stall octowiz caused, by the wall clock, and the sleeping control's)."""
    from octowiz.engine.migrate.run import ImportPreview, WaveRun, WaveSettings

    async def yes(preview: ImportPreview) -> bool:
        return True

    async with (
        OctopusClient(server, SERVER_ADMIN.api_key) as source,
        OctopusClient(cloud, CLOUD_MANAGER.api_key, requests_per_minute=None) as dest,
    ):
        await asyncio.gather(source.discover(), dest.discover())
        ids = [str(p.id) for p in (await source.projects())[:wave]]
        with contextlib.closing(Journal.create(work / "wave.octowiz", {"name": "bench"})) as journal:
            journal.set_wave("bench", ids)
            s0, d0 = source.request_count, dest.request_count
            async with watching_the_loop() as stalls:  # what a screen running the wave would feel
                start = time.perf_counter()
                run = WaveRun(
                    journal, "bench", source, dest, "bench password", work / "exports",
                    confirm=yes, settings=WaveSettings(poll_interval=0.2),
                )  # fmt: skip
                result = await run.run()
                seconds = time.perf_counter() - start
            worst = (stalls.own_worst, stalls.worst, stalls.machine.worst if stalls.machine else 0.0)
        states: dict[str, int] = {}
        for p in result.projects:
            states[p.state] = states.get(p.state, 0) + 1
        text = ", ".join(f"{n} {k}" for k, n in sorted(states.items())) + (
            f"; problems: {result.problems}" if result.problems else ""
        )
        return len(ids), text, source.request_count - s0, dest.request_count - d0, seconds, worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="package size in MiB (default 1024)")
    parser.add_argument("--wave", type=int, default=50, help="projects in the planning wave (default 50)")
    args = parser.parse_args()
    size = args.size_mb * MB

    with tempfile.TemporaryDirectory(prefix="octowiz-bench-") as tmp:
        work = Path(tmp)
        with running_sim("empty", 0, state_dir=work / "sim") as sim:
            start = time.perf_counter()
            asyncio.run(_seed_package(sim.server, size))
            seeded = time.perf_counter() - start
            print(f"(put {args.size_mb} MiB into the Server's built-in feed in {seeded:.1f} s)")
            with contextlib.closing(
                Journal.create(work / "bench.octowiz", {"benchmark": "packages"})
            ) as journal:
                copy = asyncio.run(_octowiz_copy(sim.server, sim.cloud, journal, traced=False))
                traced = asyncio.run(_octowiz_copy(sim.server, sim.cloud, journal, traced=True))
            down, up = _curl(sim.server, sim.cloud, size, work)
        with running_sim("large", 0) as large:
            projects, needed, planned, latest = asyncio.run(_planning(large.server, args.wave))
            whole = asyncio.run(_whole_wave(large.server, large.cloud, args.wave, work))

    mb = size / 1e6
    ours = mb / copy["seconds"]
    curl = mb / (down + up)
    print(f"package of {args.size_mb} MiB ({mb:,.0f} MB), simulator in its own process, loopback HTTP")
    print(f"{'':36}{'wall s':>10}{'MB/s':>10}")
    print(f"{'(a) octowiz copy_packages':36}{copy['seconds']:>10.2f}{ours:>10.1f}")
    print(f"{'    same, under tracemalloc':36}{traced['seconds']:>10.2f}{mb / traced['seconds']:>10.1f}")
    print(f"{'(b) curl download to file':36}{down:>10.2f}{mb / down:>10.1f}")
    print(f"{'    curl -F upload of the file':36}{up:>10.2f}{mb / up:>10.1f}")
    print(f"{'    curl, both':36}{down + up:>10.2f}{curl:>10.1f}")
    growth = copy["rss_growth_mb"]
    print(
        f"octowiz memory during the copy: peak RSS growth {growth:.1f} MB; Python allocations peak "
        f"{traced['traced_peak_mb']:.1f} MB (target < 100 MB): {'PASS' if growth < 100 else 'OVER TARGET'}"
    )
    print(f"octowiz requests for the copy: {copy['requests']:.0f} (read both sides, download, upload)")
    ratio = ours / curl
    verdict = "PASS" if ratio >= 0.5 else "UNDER TARGET"
    print(f"ratio octowiz/curl throughput = {ratio:.2f} (target >= 0.5): {verdict}")
    print(
        f"(octowiz downloads and uploads at once, curl one after the other; against curl's upload alone, "
        f"the slower half, octowiz/curl = {ours / (mb / up):.2f})"
    )
    n, states, src_requests, dst_requests, wave_seconds, (stall, wall_stall, machine_pause) = whole
    print(
        f"(c) a {n}-project wave of the large scenario migrated in {wave_seconds:.1f} s ({states}): "
        f"{src_requests / n:.1f} requests/project on the Server, {dst_requests / n:.1f} on Cloud "
        f"({src_requests} and {dst_requests} in all); longest event-loop stall octowiz caused "
        f"{stall * 1000:.0f} ms (by the wall clock {wall_stall * 1000:.0f} ms; a process that only "
        f"sleeps, beside it: {machine_pause * 1000:.0f} ms)"
    )
    print(
        f"    gap planning of a {projects}-project wave of the large scenario: needed_packages "
        f"{needed} requests ({needed / projects:.2f}/project); plan_gaps {planned} "
        f"({planned / projects:.2f}/project); needed_packages with latest_per_channel=3 {latest} "
        f"({latest / projects:.2f}/project)"
    )
    result(
        "packages",
        f"a {args.size_mb} MiB package, Server to Cloud over loopback; "
        f"a {n}-project wave of the large scenario",
        measure("copy throughput ÷ curl", ratio, "≥ 0.5", ratio >= 0.5),
        measure("copy throughput", ours, None, None, unit="MB/s"),
        measure("memory growth during the copy", growth, "< 100 MB", growth < 100, unit="MB"),
        measure("requests per project, Server", src_requests / n, None, None),
        measure("requests per project, Cloud", dst_requests / n, None, None),
        measure(
            "longest event-loop stall octowiz caused, headless wave run",
            stall * 1000,
            "< 50 ms",
            stall < 0.05,
            unit="ms",
        ),
        measure("the same, by the wall clock", wall_stall * 1000, None, None, unit="ms"),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
