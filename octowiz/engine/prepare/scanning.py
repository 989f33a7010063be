"""Run the readiness scan for a migration and record it in the journal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from octowiz import heap
from octowiz.engine.context import Context
from octowiz.engine.prepare.inventory import PEOPLE_PARTS, Inventory, collect
from octowiz.engine.prepare.readiness import ScanResult, scan
from octowiz.engine.session import clients
from octowiz.journal import Journal

if TYPE_CHECKING:
    from octowiz.engine.prepare.connectivity import ConnectivityReport, DataCentre
    from octowiz.engine.prepare.people import UsersReport
    from octowiz.engine.prepare.workers import CreateResult, PoolMapping


async def run_readiness(context: Context, journal: Journal, *, stay_frozen: bool = False) -> ScanResult:
    """Collect the inventory (read-only on both instances), run the rules, store the result.

    ``stay_frozen`` leaves the heap frozen afterwards (see :func:`octowiz.heap.kept_out_of_full_gc`)
    for a screen that shows the result and unfreezes when it closes: unfreezing here made the next full
    pass walk everything at once while that screen filled its tables (140 ms on the large scenario).
    """
    settings = await asyncio.to_thread(lambda: journal.settings)
    async with heap.kept_out_of_full_gc(stay_frozen=stay_frozen):
        async with clients(context, settings) as (source, destination):
            inventory = await collect(source, destination)
        result = await asyncio.to_thread(scan, inventory)  # CPU-bound on large instances: off the event loop
        box: list[Any] = [inventory]
        del inventory
        await heap.let_go(box)
    await asyncio.to_thread(lambda: journal.record_scan("readiness", result.to_dict(), result.at))
    return result


def latest_readiness(journal: Journal) -> ScanResult | None:
    """The last readiness scan recorded in a journal (blocking)."""
    found = journal.latest_scan("readiness")
    return ScanResult.from_dict(found[1]) if found else None


def format_scan(result: ScanResult, fmt: str) -> str:
    """A scan as text, markdown or JSON."""
    import json

    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2)
    counts = result.counts()
    head = (
        f"Readiness scan of {len(result.projects)} projects at {result.at}: {counts['blocker']} blocker(s), "
        f"{counts['warning']} warning(s), {counts['info']} note(s) ({result.requests} requests, "
        f"{result.seconds:.1f} s)."
    )
    tally = {
        s: sum(1 for p in result.projects if p.status == s) for s in ("ready", "needs attention", "blocked")
    }
    if fmt == "markdown":
        out = [
            "# Readiness",
            "",
            head,
            "",
            f"Projects: {tally['ready']} ready, {tally['needs attention']} need attention, "
            f"{tally['blocked']} blocked.",
            "",
            "## Findings",
            "",
        ]
        for f in result.findings:
            out.append(f"### [{f.severity}] {f.title} (`{f.rule}`)")
            out += ["", f.why, "", f"**What to do:** {f.action} ([docs]({f.doc}))", ""]
            out += [f"- {i.kind} **{i.name}**" + (f": {i.detail}" if i.detail else "") for i in f.items[:50]]
            if len(f.items) > 50:
                out.append(f"- … and {len(f.items) - 50} more")
            out.append("")
        out += ["## Projects", "", "| Project | Readiness | Findings |", "|---|---|---|"]
        out += [f"| {p.name} | {p.status} | {len(p.findings)} |" for p in result.projects]
        return "\n".join(out)
    out = [
        head,
        f"Projects: {tally['ready']} ready, {tally['needs attention']} need attention, "
        f"{tally['blocked']} blocked.",
        "",
    ]
    for f in result.findings:
        out.append(f"[{f.severity.upper():7}] {f.title}  ({f.rule})")
        out.append(f"          {f.why}")
        out.append(f"          What to do: {f.action}")
        for i in f.items[:10]:
            out.append(f"          - {i.kind} {i.name}" + (f": {i.detail}" if i.detail else ""))
        if len(f.items) > 10:
            out.append(f"          - … and {len(f.items) - 10} more")
        out.append(f"          {f.doc}")
    out += ["", "Projects:"]
    out += [f"  {p.status:16} {p.name}" for p in result.projects]
    return "\n".join(out)


async def run_connectivity(
    context: Context, journal: Journal, *, probe_listening: bool = False, scripts_dir: Path | None = None
) -> ConnectivityReport:
    """Measure connectivity from this machine, suggest data centres, verify them, store the report.

    In the demo the network is simulated too (:mod:`octowiz.engine.prepare.demo_network`); nothing leaves the
    machine. Probe scripts are written to ``scripts_dir`` when given.
    """
    import socket

    from octowiz.engine.prepare.connectivity import (
        measure_connectivity,
        suggest_data_centres,
        verify_data_centres,
        write_probe_scripts,
    )
    from octowiz.engine.prepare.demo_network import DemoNetwork

    settings = await asyncio.to_thread(lambda: journal.settings)
    async with clients(context, settings) as (source, destination):
        assert destination is not None
        (feeds, machines, workers, environments, pools), (remote, remote_workers) = await asyncio.gather(
            asyncio.gather(
                source.feeds(),
                source.machines(),
                source.workers(),
                source.environments(),
                source.worker_pools(),
            ),
            # A probe Tentacle registered as a worker verifies its data centre as well as a target does.
            asyncio.gather(destination.machines(), destination.workers()),
        )
    url = str(settings.get("destination_url"))
    everything = [*machines, *workers]
    if context.demo:
        async with DemoNetwork(httpx.URL(url).host) as net:
            report = await measure_connectivity(
                url,
                feeds=feeds,
                machines=everything,
                probe_listening=probe_listening,
                resolver=net.resolve,
                connector=net.connect,
                http_transport=net.http_transport(),
                measured_from=f"{socket.gethostname()} (demo: simulated network)",
            )
    else:
        report = await measure_connectivity(
            url, feeds=feeds, machines=everything, probe_listening=probe_listening
        )
    names = {str(e.id): str(e.name) for e in environments} | {str(p.id): str(p.name) for p in pools}
    renames = settings.get("data_centre_names") or {}
    report.data_centres = name_data_centres(suggest_data_centres(everything, names), renames)
    report.verifications = verify_data_centres(report.data_centres, [*remote, *remote_workers])
    if scripts_dir is not None:
        await asyncio.to_thread(write_probe_scripts, scripts_dir, url, report.data_centres)
    await asyncio.to_thread(lambda: journal.record_scan("connectivity", report.to_dict(), report.finished_at))
    return report


def name_data_centres(suggested: list[DataCentre], renames: dict[str, str]) -> list[DataCentre]:
    """Apply the team's names to suggested data centres; giving two the same name merges them."""
    from octowiz.engine.prepare.connectivity import merge_data_centres

    groups: dict[str, list[DataCentre]] = {}
    for dc in suggested:
        groups.setdefault(str(renames.get(dc.name) or dc.name), []).append(dc)
    out = []
    for name, dcs in groups.items():
        out.append(dcs[0].renamed(name) if len(dcs) == 1 else merge_data_centres(name, *dcs))
    return out


async def rename_data_centre(journal: Journal, shown: str, name: str) -> None:
    """Remember the team's name for a data centre (applied at the next measurement).

    ``shown`` is the name on screen: a suggestion, or a name the team gave before (then every
    suggestion carrying it follows). Giving two data centres the same name merges them.
    """

    def write() -> None:
        renames = {str(k): str(v) for k, v in (journal.settings.get("data_centre_names") or {}).items()}
        followers = [k for k, v in renames.items() if v == shown]
        for key in followers or [shown]:
            renames[key] = name
        journal.set_settings(data_centre_names=renames)

    await asyncio.to_thread(write)


def latest_connectivity(journal: Journal) -> ConnectivityReport | None:
    """The last connectivity report recorded in a journal (blocking)."""
    from octowiz.engine.prepare.connectivity import ConnectivityReport as Report

    found = journal.latest_scan("connectivity")
    return Report.from_dict(found[1]) if found else None


async def run_people(
    context: Context, journal: Journal, *, record: bool = True
) -> tuple[UsersReport, list[PoolMapping]]:
    """Users, teams and worker pools of the source against the destination (read-only); recorded in the
    journal unless ``record`` is False (a read-only review writes nothing)."""
    from octowiz.engine.prepare.people import report_dict, users_report
    from octowiz.engine.prepare.workers import pool_mapping

    settings = await asyncio.to_thread(lambda: journal.settings)
    async with heap.kept_out_of_full_gc():
        async with clients(context, settings) as (source, destination):
            inventory = await collect(source, destination, parts=PEOPLE_PARTS)

        def people_of(inv: Inventory) -> tuple[UsersReport, list[PoolMapping]]:
            return users_report(inv), pool_mapping(inv)

        report, pools = await asyncio.to_thread(people_of, inventory)
        del inventory
    if record:
        await asyncio.to_thread(lambda: journal.record_scan("users", report_dict(report)))
    return report, pools


async def create_pool(
    context: Context, journal: Journal, mapping: PoolMapping, *, confirm: bool
) -> CreateResult:
    (
        """Preview, or create, the destination pool a source pool lacks """
        """(journaled; see ``create_missing_pool``)."""
    )
    from octowiz.engine.prepare.workers import create_missing_pool

    settings = await asyncio.to_thread(lambda: journal.settings)
    async with clients(context, settings) as (_, destination):
        assert destination is not None
        return await create_missing_pool(
            destination,
            journal,
            mapping.suggested_pool or mapping.source_name,
            confirm=confirm,
            source_pool_id=mapping.source_id,
        )
