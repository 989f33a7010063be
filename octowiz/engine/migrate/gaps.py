"""What Project Export/Import leaves out, filled in once the projects are on the destination.

Export/Import carries a project's process, variables, channels, runbooks and releases, but not the
built-in feed packages those releases select, the project's uploaded logo, or its triggers
(octopus-api.md §5.6). This module fills those gaps, and names what stays a person's job:

* :func:`needed_packages` reads which built-in feed package versions the projects' releases select;
* :func:`copy_packages` streams them from the Server's feed into the Cloud's, in constant memory,
  never overwriting and never leaving half a package behind;
* :func:`copy_logo` copies an uploaded logo (projects with a built-in icon have none to copy);
* :func:`recreate_triggers` recreates triggers with every environment, channel, runbook and tenant id
  remapped by name;
* :func:`manual_items` lists what stays manual per project, and :func:`plan_gaps` previews all of it
  with read-only requests.

Every operation reads both instances (and the journal) before it acts, so running it twice, or after
a crash at any line, converges: a package already on the destination with the same hash, a logo with
the same bytes, or a trigger of the same name are left alone. Every mutating request is journaled under
the step :data:`STEP`, its intent before the request and its outcome after. The journal is blocking
SQLite with a single connection, so its calls run on a thread, one at a time.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

from octowiz.engine.prepare.rules import CLOUD_PACKAGE_LIMIT
from octowiz.engine.recovery import Recovery, is_transient
from octowiz.journal.journal import Action, Journal, JournalError
from octowiz.octopus import models as m
from octowiz.octopus.client import OctopusClient
from octowiz.octopus.errors import OctopusError, RateLimited

#: The journal step every action here belongs to.
STEP = "migrate"
#: Octopus Cloud's limit for one package: the readiness rule's constant, so both agree (see there).
MAX_CLOUD_PACKAGE_BYTES = CLOUD_PACKAGE_LIMIT
#: The built-in feed's id on every instance.
BUILTIN_FEED_ID = "feeds-builtin"
#: How much of a package is read and sent at a time.
CHUNK_BYTES = 1 << 20

KIND_PACKAGE = "copy-package"
KIND_LOGO = "copy-logo"
KIND_TRIGGER = "create-trigger"

#: Trigger filters that carry nothing instance-specific beyond the ids remapped here.
RECREATABLE_FILTERS = frozenset(
    {
        "MachineFilter",
        "OnceDailySchedule",
        "ContinuousDailySchedule",
        "DailySchedule",
        "DaysPerWeekSchedule",
        "DaysPerMonthSchedule",
        "CronExpressionSchedule",
        "FeedFilter",
    }
)
#: Trigger actions whose references are all remapped here.
RECREATABLE_ACTIONS = frozenset(
    {"AutoDeploy", "DeployLatestRelease", "DeployNewRelease", "RunRunbook", "CreateRelease"}
)
#: Filter types that cannot be recreated as they are, and why (a clause that follows "it is").
_UNRECREATABLE_FILTERS = {
    "GitFilter": (
        "a Git trigger: Export/Import drops the project's Git connection, so reconnect the project to its "
        "repository on Octopus Cloud, then create the trigger there"
    ),
    "WebhookFilter": (
        "a webhook trigger: its address and secret belong to the Server, so create it on Octopus Cloud "
        "and point the system that calls it at the new address"
    ),
}
#: Fields of a trigger's filter or action that hold ids, and what they refer to.
_REFERENCE_FIELDS = {
    "EnvironmentId": "environment",
    "EnvironmentIds": "environment",
    "SourceEnvironmentIds": "environment",
    "DestinationEnvironmentId": "environment",
    "ChannelId": "channel",
    "RunbookId": "runbook",
    "TenantIds": "tenant",
}
#: Step properties that name teams, and what the team does there.
_TEAM_PROPERTIES = {
    "Octopus.Action.Manual.ResponsibleTeamIds": "responsible for the manual intervention",
    "Octopus.Action.Email.ToTeamIds": "emailed by",
    "Octopus.Action.Email.CCTeamIds": "emailed by",
    "Octopus.Action.Email.BccTeamIds": "emailed by",
}
_LOGO_TYPES = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/svg+xml": ".svg",
    "image/webp": ".webp",
    "image/x-icon": ".ico",
    "image/vnd.microsoft.icon": ".ico",
}

P = ParamSpec("P")
R = TypeVar("R")

_VERSIONS: weakref.WeakKeyDictionary[OctopusClient, str] = weakref.WeakKeyDictionary()


async def _journal(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a blocking journal call on a thread (the journal itself keeps one transaction at a time)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def _human(size: int) -> str:
    """A byte count for a sentence (``6.0 GiB``, ``512 bytes``)."""
    if size < 1024:
        return f"{size:,} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


# ---------------------------------------------------------------------------------------------------------
# Which packages the releases need
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageNeed:
    """A built-in feed package version that some release of a migrated project selects."""

    package_id: str
    version: str

    @property
    def target(self) -> str:
        """How the journal names it: ``Acme.Web@1.2.0``."""
        return f"{self.package_id}@{self.version}"

    def __str__(self) -> str:
        return f"{self.package_id} {self.version}"


@dataclass
class _ProjectReads:
    """What one project's gap planning reads from the source: its releases and deployment process."""

    project_id: str
    releases: list[m.Release]
    process: m.DeploymentProcess | None


async def _releases(
    source: OctopusClient, project_id: str, latest_per_channel: int | None
) -> list[m.Release]:
    """A project's releases, newest first; with a limit, only the newest of each channel.

    With a limit, the first page of the project's releases is read; when it holds them all, the newest
    of each channel are picked from it. Otherwise each channel's newest releases are one ``take=N``
    request, so a project with thousands of releases costs its channel count in requests, not its
    release count over the page size.
    """
    if latest_per_channel is None:
        return await source.releases(project_id)
    if latest_per_channel <= 0:
        return []
    first = await source.get_json(
        source.space_path(f"projects/{project_id}/releases"),
        {"skip": 0, "take": source.page_size},
        "listing releases",
    )
    items = list(first.get("Items") or [])
    if int(first.get("TotalResults") or 0) <= len(items):
        kept: dict[str | None, int] = {}
        out: list[m.Release] = []
        for raw in items:
            release = m.Release.model_validate(raw)
            if kept.get(release.channel_id, 0) < latest_per_channel:
                kept[release.channel_id] = kept.get(release.channel_id, 0) + 1
                out.append(release)
        return out
    channels = await source.channels(project_id)

    async def newest(channel: m.Channel) -> list[m.Release]:
        data = await source.get_json(
            source.space_path(f"channels/{channel.id}/releases"),
            {"skip": 0, "take": latest_per_channel},
            "listing a channel's releases",
        )
        return [m.Release.model_validate(x) for x in (data.get("Items") or [])[:latest_per_channel]]

    per_channel = await asyncio.gather(*(newest(c) for c in channels))
    return [r for releases in per_channel for r in releases]


async def _process(source: OctopusClient, project_id: str) -> m.DeploymentProcess:
    return await source.get_model(
        m.DeploymentProcess,
        source.space_path(f"projects/{project_id}/deploymentprocesses"),
        what="reading a deployment process",
    )


async def _read_projects(
    source: OctopusClient, project_ids: Sequence[str], latest_per_channel: int | None
) -> list[_ProjectReads]:
    """Releases and process of every project, all at once (the client bounds what is in flight)."""

    async def one(project_id: str) -> _ProjectReads:
        releases, process = await asyncio.gather(
            _releases(source, project_id, latest_per_channel), _process(source, project_id)
        )
        return _ProjectReads(project_id, releases, process)

    return list(await asyncio.gather(*(one(pid) for pid in project_ids)))


def _builtin_references(process: m.DeploymentProcess | None) -> dict[tuple[str, str], str]:
    """``(action name, package reference name) -> package id`` for the built-in feed's references.

    References whose feed or package id is a variable expression are left out: which package they
    mean is only known at release creation.
    """
    refs: dict[tuple[str, str], str] = {}
    for step in (process.steps if process else None) or []:
        for action in step.actions or []:
            for ref in action.packages or []:
                feed = (ref.feed_id or "").lower()
                package_id = ref.package_id or ""
                if feed == BUILTIN_FEED_ID and package_id and "#{" not in package_id:
                    refs[(action.name or "", ref.name or "")] = package_id
    return refs


def _needs_of(reads: _ProjectReads) -> list[PackageNeed]:
    refs = _builtin_references(reads.process)
    out: dict[PackageNeed, None] = {}
    for release in reads.releases:
        for selected in release.selected_packages or []:
            package_id = refs.get((selected.action_name or "", selected.package_reference_name or ""))
            if package_id and selected.version:
                out[PackageNeed(package_id, selected.version)] = None
    return list(out)


async def needed_packages(
    source: OctopusClient, project_ids: list[str], latest_per_channel: int | None = None
) -> list[PackageNeed]:
    """The built-in feed package versions the projects' releases select, deduplicated, in a stable order.

    A release's ``SelectedPackages`` name an action and a package reference, not a package: the
    project's current deployment process says which package and feed each reference means, and only
    references to the built-in feed (``feeds-builtin``) count. An old release whose step or reference
    has since been removed from the process is not matched (reading each release's process snapshot
    would cost a request per release).

    Requests: per project, its deployment process and its releases: every page of them, or with
    ``latest_per_channel`` the first page, and when that does not hold them all, its channels and one
    request per channel. Never one per release.

    Args:
        source: the Server.
        project_ids: the source projects, in the order the result should follow.
        latest_per_channel: None for every release; N for only the newest N releases of each channel.
    """
    reads = await _read_projects(source, project_ids, latest_per_channel)
    out: dict[PackageNeed, None] = {}
    for project in reads:
        for need in _needs_of(project):
            out[need] = None
    return list(out)


# ---------------------------------------------------------------------------------------------------------
# Copying packages
# ---------------------------------------------------------------------------------------------------------


@dataclass
class PackageCopy:
    """What happened to one package version.

    Attributes:
        status: ``copied``, ``already there``, ``refused`` (over Octopus Cloud's size limit),
            ``missing on source`` or ``failed``.
        size: the package's size in bytes as the Server reports it (0 when unknown).
        detail: the sentence for a person, for every status but ``copied`` and ``already there``.
    """

    package_id: str
    version: str
    size: int
    status: str
    detail: str = ""


class _SourceBroken(Exception):
    """The source's download broke off mid-copy; raised into the upload so it never completes."""


class _Progress:
    def __init__(self, total: int, callback: Callable[[int, int], None] | None) -> None:
        self.done = 0
        self.total = total
        self.callback = callback

    def add(self, count: int) -> None:
        self.done += count
        if self.callback is not None:
            self.callback(self.done, self.total)


@dataclass
class _Read:
    """A need with the source's and the destination's package, or the sentence why they could not be read."""

    need: PackageNeed
    source: m.Package | None = None
    destination: m.Package | None = None
    error: str = ""


async def _read_pair(source: OctopusClient, dest: OctopusClient, need: PackageNeed) -> _Read:
    try:
        src, dst = await asyncio.gather(
            source.package(need.package_id, need.version), dest.package(need.package_id, need.version)
        )
    except OctopusError as exc:
        return _Read(need, error=f"octowiz could not read {need} before copying it: {exc}")
    return _Read(need, src, dst)


def _same_contents(a: m.Package, b: m.Package) -> bool:
    """Equal hashes; when either side has none, equal sizes (all that is left to compare)."""
    if a.hash and b.hash:
        return a.hash.lower() == b.hash.lower()
    return a.package_size_bytes is not None and a.package_size_bytes == b.package_size_bytes


def _mismatch(need: PackageNeed, dest: OctopusClient, src: m.Package, dst: m.Package) -> str:
    return (
        f"{dest.host} already has {need} with different contents (SHA1 {str(dst.hash)[:12]}…, the Server's "
        f"is {str(src.hash)[:12]}…): octowiz never overwrites a package. Delete that version on Octopus "
        "Cloud and copy again, or keep it if it is the build you want."
    )


def _by_target(actions: list[Action], kind: str) -> dict[str, list[Action]]:
    """Earlier actions of a kind by target, newest first."""
    out: dict[str, list[Action]] = {}
    for action in actions:
        if action.kind == kind:
            out.setdefault(action.target, []).append(action)
    return out


async def _record(
    journal: Journal,
    kind: str,
    target: str,
    intent: dict[str, Any],
    outcome: str,
    detail: dict[str, Any],
    history: list[Action],
) -> None:
    """Journal a decision that sends no request (skipped, refused), unless the last run recorded the same."""
    finished = [a for a in history if not a.pending]
    if finished and (
        finished[0].outcome == outcome or (outcome == "skipped" and finished[0].outcome == "done")
    ):
        return
    action_id = await _journal(journal.begin_action, STEP, kind, target, intent)
    await _journal(journal.finish_action, action_id, outcome, detail)


async def _settle_pending(
    journal: Journal, history: list[Action], outcome: str, detail: dict[str, Any]
) -> None:
    """Close attempts that stopped between their intent and their outcome (the process died)."""
    for action in history:
        if action.pending:
            await _journal(journal.finish_action, action.id, outcome, detail)


async def copy_packages(
    source: OctopusClient,
    dest: OctopusClient,
    journal: Journal,
    needs: list[PackageNeed],
    *,
    on_progress: Callable[[int, int], None] | None = None,
    concurrency: int = 2,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    recovery: Recovery | None = None,
) -> list[PackageCopy]:
    """Copy built-in feed package versions from the Server to Octopus Cloud, streamed, in constant memory.

    For each need, both instances are read first. The same version with the same hash on the destination
    is ``already there`` (no bytes move); with another hash it is ``failed``, never overwritten. A package
    over :data:`MAX_CLOUD_PACKAGE_BYTES` is ``refused`` without a byte sent. Otherwise the Server's
    ``Links.Raw`` download feeds the multipart upload chunk by chunk (``FailIfExists``): no temporary
    file, no whole package in memory. If the download breaks off, the upload is aborted mid-body, so
    Octopus discards it and nothing half-copied is left; a rerun copies the package again. If the upload
    answers 409, or its answer is lost, the destination is read again and the hashes compared.

    One package failing never stops the others; every failure becomes a sentence in ``detail``. Only a
    journal that cannot be written stops the copy (:class:`~octowiz.journal.journal.JournalError`).

    Args:
        source: the Server.
        dest: the Cloud instance.
        journal: records each copy's intent before the upload and its outcome after.
        needs: what to copy (duplicates are copied once).
        on_progress: called with ``(bytes copied so far, bytes to copy)`` as bytes flow.
        concurrency: packages copied at once.
        sleep: how to wait before sending a package again that Octopus Cloud rate-limited (429).
        recovery: how often a copy that failed transiently (a 5xx, a dropped connection on either side)
            and is not on the destination afterwards is sent again (see :mod:`octowiz.engine.recovery`);
            None sends it once (a wave run passes its own).

    Returns:
        One result per distinct need, in the order of ``needs``.
    """
    unique = list(dict.fromkeys(needs))
    if not unique:
        return []
    reads = await asyncio.gather(*(_read_pair(source, dest, need) for need in unique))
    history = _by_target(await _journal(journal.actions, None, STEP), KIND_PACKAGE)

    results: list[PackageCopy | None] = [None] * len(unique)
    to_copy: list[tuple[int, PackageNeed, m.Package]] = []
    for index, read in enumerate(reads):
        need, src, dst = read.need, read.source, read.destination
        past = history.get(need.target, [])
        size = int(src.package_size_bytes or 0) if src else 0
        intent = {"package_id": need.package_id, "version": need.version, "size": size}
        if read.error:
            results[index] = PackageCopy(need.package_id, need.version, 0, "failed", read.error)
            continue
        if src is None:
            sentence = (
                f"{need} is not in the Server's built-in feed (retention may have removed it): releases that "
                "use it cannot be deployed on Octopus Cloud until that version is pushed there."
            )
            await _settle_pending(journal, past, "failed", {"sentence": "interrupted; the source lost it"})
            await _record(journal, KIND_PACKAGE, need.target, intent, "skipped", {"sentence": sentence}, past)
            results[index] = PackageCopy(need.package_id, need.version, 0, "missing on source", sentence)
            continue
        if dst is not None:
            if _same_contents(src, dst):
                await _settle_pending(
                    journal,
                    past,
                    "done",
                    {"sentence": f"Found {need} complete on {dest.host} after an interrupted copy."},
                )
                sentence = f"{dest.host} already has {need} with the same contents."
                await _record(
                    journal, KIND_PACKAGE, need.target, intent, "skipped", {"sentence": sentence}, past
                )
                results[index] = PackageCopy(need.package_id, need.version, size, "already there")
            else:
                sentence = _mismatch(need, dest, src, dst)
                await _settle_pending(journal, past, "failed", {"sentence": sentence})
                await _record(
                    journal, KIND_PACKAGE, need.target, intent, "failed", {"sentence": sentence}, past
                )
                results[index] = PackageCopy(need.package_id, need.version, size, "failed", sentence)
            continue
        if size > MAX_CLOUD_PACKAGE_BYTES:
            sentence = (
                f"{need} is {_human(size)}, over Octopus Cloud's limit of 5 GB for a single package, so "
                "octowiz did not copy it: make the package smaller (split it), or serve it from an "
                "external feed Octopus Cloud can reach and point the step at that feed."
            )
            await _record(journal, KIND_PACKAGE, need.target, intent, "refused", {"sentence": sentence}, past)
            results[index] = PackageCopy(need.package_id, need.version, size, "refused", sentence)
            continue
        await _settle_pending(
            journal,
            past,
            "failed",
            {"sentence": "Interrupted before its outcome was recorded; copied again."},
        )
        to_copy.append((index, need, src))

    progress = _Progress(sum(int(p.package_size_bytes or 0) for _, _, p in to_copy), on_progress)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def run(index: int, need: PackageNeed, package: m.Package) -> None:
        async with gate:
            results[index] = await _copy_one(source, dest, journal, need, package, progress, sleep, recovery)

    try:
        async with asyncio.TaskGroup() as group:
            for index, need, package in to_copy:
                group.create_task(run(index, need, package))
    except BaseExceptionGroup as failed:
        # Only a journal failure (or a bug) gets here: surface the first, not the group.
        raise failed.exceptions[0] from None
    return [r for r in results if r is not None]


@dataclass
class _Attempt:
    """One pass of streaming a package: bytes moved, the source's failure sentence, the upload's answer."""

    moved: int = 0
    broken: list[str] = field(default_factory=list)
    uploaded: m.Package | None = None
    error: Exception | None = None


async def _stream_once(
    source: OctopusClient,
    dest: OctopusClient,
    need: PackageNeed,
    raw: str,
    filename: str,
    size: int,
    progress: _Progress,
) -> _Attempt:
    """Feed the Server's download into the Cloud's upload, chunk by chunk; failures are kept, not raised.

    A download that breaks off raises into the upload's body, so the upload is aborted mid-body and
    Octopus discards it.
    """
    out = _Attempt()
    try:
        async with source.stream(raw, what=f"downloading {need}") as response:
            length = response.headers.get("content-length")
            expected = int(length) if length and not response.headers.get("content-encoding") else size

            async def chunks() -> AsyncGenerator[bytes, None]:
                try:
                    async for chunk in response.aiter_bytes(CHUNK_BYTES):
                        out.moved += len(chunk)
                        progress.add(len(chunk))
                        yield chunk
                except httpx.HTTPError as exc:
                    out.broken.append(
                        f"The download of {need} from {source.host} broke off after {_human(out.moved)} of "
                        f"{_human(size or expected)} ({type(exc).__name__})"
                    )
                    raise _SourceBroken from None
                if expected and out.moved != expected:
                    out.broken.append(
                        f"{source.host} sent {_human(out.moved)} of {need} where "
                        f"{_human(expected)} were announced"
                    )
                    raise _SourceBroken

            body = chunks()
            try:
                out.uploaded = await dest.upload_package(filename, body, expected or None, "FailIfExists")
            finally:
                await body.aclose()
    except JournalError:
        raise
    except Exception as exc:  # every failure of this one package becomes its sentence
        out.error = exc
    return out


async def _copy_one(
    source: OctopusClient,
    dest: OctopusClient,
    journal: Journal,
    need: PackageNeed,
    package: m.Package,
    progress: _Progress,
    sleep: Callable[[float], Awaitable[None]],
    recovery: Recovery | None = None,
) -> PackageCopy:
    """Stream one package from the Server into Octopus Cloud, journaled; sent again after transient failures.

    One intent covers every try; each try after a failure first reads the destination for the package.
    """
    recovery = recovery or Recovery(attempts=0)
    size = int(package.package_size_bytes or 0)
    doc_id = f"packages-{need.package_id}.{need.version}"
    raw = (package.links or {}).get("Raw") or source.space_path(f"packages/{package.id or doc_id}/raw")
    filename = f"{need.package_id}.{need.version}{package.file_extension or ''}"
    action_id = await _journal(
        journal.begin_action,
        STEP,
        KIND_PACKAGE,
        need.target,
        {
            "package_id": need.package_id,
            "version": need.version,
            "size": size,
            "hash": package.hash,
            "from": source.host,
            "to": dest.host,
        },
        {"method": "DELETE", "path": dest.space_path(f"packages/{doc_id}")},
    )
    again = 0
    while True:
        attempt = _Attempt()
        for tries in range(1, max(1, dest.max_attempts) + 1):
            attempt = await _stream_once(source, dest, need, raw, filename, size, progress)
            error = attempt.error
            # A 429 was not processed: send the whole package again after the wait Octopus asks for.
            if not isinstance(error, RateLimited) or attempt.broken or tries == dest.max_attempts:
                break
            progress.add(-attempt.moved)
            await sleep(error.retry_after if error.retry_after is not None else float(tries))
        moved, broken, uploaded = attempt.moved, attempt.broken, attempt.uploaded

        if error is None and uploaded is not None:
            if _same_contents(package, uploaded):
                await _journal(
                    journal.finish_action,
                    action_id,
                    "done",
                    {"bytes": moved, "hash": uploaded.hash, "sentence": f"Copied {need} to {dest.host}."},
                )
                return PackageCopy(need.package_id, need.version, size, "copied")
            sentence = (
                f"{dest.host} stored {need} with a hash ({str(uploaded.hash)[:12]}…) other than the Server's "
                f"({str(package.hash)[:12]}…): the bytes changed on the way."
            )
            sentence += await _remove_bad_copy(dest, need, doc_id)
            await _journal(journal.finish_action, action_id, "failed", {"bytes": moved, "sentence": sentence})
            return PackageCopy(need.package_id, need.version, size, "failed", sentence)

        # The upload failed, or its answer was lost: what is on the destination now decides.
        if broken:
            sentence = f"{broken[0]}: nothing was kept on {dest.host}; run the copy again to send it whole."
        elif isinstance(error, OctopusError):
            sentence = f"Copying {need} failed: {error}"
        else:
            sentence = f"Copying {need} failed unexpectedly ({type(error).__name__}: {error})."
        conflict = isinstance(error, OctopusError) and error.status == 409
        read = True
        try:
            now = await dest.package(need.package_id, need.version)
        except OctopusError:
            now, read = None, False
        if now is not None and _same_contents(package, now) and not broken:
            status, outcome = ("already there", "skipped") if conflict else ("copied", "done")
            found = (
                f"{dest.host} already had {need} with the same contents (another run finished it)."
                if conflict
                else f"Copied {need} to {dest.host} (the answer was lost; the destination has it, same hash)."
            )
            detail = {"bytes": moved, "hash": now.hash, "sentence": found}
            await _journal(journal.finish_action, action_id, outcome, detail)
            return PackageCopy(need.package_id, need.version, size, status)
        if now is not None and not _same_contents(package, now):
            sentence = _mismatch(need, dest, package, now)
        elif read and now is None and again < recovery.attempts and (broken or _transient(error)):
            # Seen absent after a transient failure: nothing was kept on the destination, so it goes again
            # whole, under the same intent.
            again += 1
            progress.add(-moved)
            await recovery.pause(again, error if error is not None else _SourceBroken(broken[0]))
            continue
        await _journal(journal.finish_action, action_id, "failed", {"bytes": moved, "sentence": sentence})
        return PackageCopy(need.package_id, need.version, size, "failed", sentence)


def _transient(error: Exception | None) -> bool:
    return error is not None and is_transient(error)


async def _remove_bad_copy(dest: OctopusClient, need: PackageNeed, doc_id: str) -> str:
    """Delete a package this copy just stored with the wrong bytes; the sentence's ending says how it went."""
    try:
        await dest.request("DELETE", dest.space_path(f"packages/{doc_id}"), what="removing a bad copy")
    except OctopusError as exc:
        return f" octowiz could not remove it ({exc}): delete that version on Octopus Cloud, then copy again."
    return " octowiz removed it: copy again."


# ---------------------------------------------------------------------------------------------------------
# Logos
# ---------------------------------------------------------------------------------------------------------


async def _server_version(client: OctopusClient) -> str:
    """The instance's version (``GET /api`` once per client)."""
    if client not in _VERSIONS:
        _VERSIONS[client] = str((await client.root()).version or "")
    return _VERSIONS[client]


async def has_uploaded_logo(
    source: OctopusClient, project: m.Project, source_version: str | None = None
) -> bool:
    """Whether a source project has an uploaded logo (SpaceCloner's test, octopus-api.md §10.1).

    A project with a built-in ``Icon`` has none; otherwise the logo link's ``cb`` cache-buster equals
    the server's version exactly when nothing was uploaded.

    Args:
        source_version: the Server's version when the caller knows it (saves one request per client).
    """
    if project.icon is not None and project.icon.id:
        return False
    link = (project.links or {}).get("Logo")
    if not link:
        return False
    cb = (parse_qs(urlsplit(link).query).get("cb") or [""])[0]
    version = source_version if source_version is not None else await _server_version(source)
    return bool(cb) and cb != version


def _logo_path(client: OctopusClient, project: m.Project) -> str:
    return client.space_path(f"projects/{project.id}/logo")


def _logo_type(data: bytes, content_type: str) -> str:
    media = content_type.split(";")[0].strip().lower()
    if media in _LOGO_TYPES:
        return media
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith(b"GIF8"):
        return "image/gif"
    return "image/png"


async def _upload_logo(dest: OctopusClient, project_id: str, data: bytes, media: str) -> None:
    """POST a logo as multipart ``fileData`` with its image type (the client's helper sends octet-stream).

    Setting a logo replaces it whole, so the request may be retried.
    """
    boundary = "octowiz-logo-boundary"
    name = f"logo{_LOGO_TYPES.get(media, '.png')}"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="fileData"; filename="{name}"\r\n'
            f"Content-Type: {media}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    await dest.request(
        "POST",
        dest.space_path(f"projects/{project_id}/logo"),
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        retry=True,
        what="uploading a logo",
    )


async def copy_logo(
    source: OctopusClient,
    dest: OctopusClient,
    journal: Journal,
    src: m.Project,
    dst: m.Project,
    *,
    source_version: str | None = None,
) -> str:
    """Copy a project's uploaded logo to its imported counterpart.

    Idempotent: when the destination already shows the same bytes nothing is sent, and sending again
    replaces the logo whole.

    Args:
        src: the project on the Server (with its ``Links``).
        dst: the imported project on Octopus Cloud.
        source_version: the Server's version, when known.

    Returns:
        ``copied``, ``none`` (no uploaded logo, or a built-in icon) or ``failed: <sentence>``.
    """
    action_id: int | None = None
    try:
        if not await has_uploaded_logo(source, src, source_version):
            return "none"
        response = await source.request("GET", _logo_path(source, src), what="reading a logo")
        data = response.content
        if not data:
            return "none"
        current = await dest.request("GET", _logo_path(dest, dst), what="reading a logo")
        # Uploads a run died in, between the request and its outcome: the logo on Cloud says how they ended.
        target = str(dst.name or dst.id)
        past = _by_target(await _journal(journal.actions, None, STEP), KIND_LOGO).get(target, [])
        if current.content == data:
            await _settle_pending(
                journal, past, "done", {"sentence": "Found the logo on Octopus Cloud.", "reconciled": True}
            )
            return "copied"
        await _settle_pending(
            journal, past, "failed", {"sentence": "interrupted before it landed; sent again"}
        )
        media = _logo_type(data, response.headers.get("content-type", ""))
        action_id = await _journal(
            journal.begin_action,
            STEP,
            KIND_LOGO,
            target,
            {"project_id": dst.id, "source_project_id": src.id, "bytes": len(data), "type": media},
        )
        await _upload_logo(dest, str(dst.id), data, media)
        await _journal(
            journal.finish_action,
            action_id,
            "done",
            {"sentence": f"Copied the logo of '{src.name}' ({_human(len(data))})."},
        )
        return "copied"
    except OctopusError as exc:
        sentence = f"The logo of '{src.name}' was not copied: {exc}"
        if action_id is not None:
            await _journal(journal.finish_action, action_id, "failed", {"sentence": sentence})
        return f"failed: {sentence}"


# ---------------------------------------------------------------------------------------------------------
# Triggers
# ---------------------------------------------------------------------------------------------------------


@dataclass
class TriggerOutcome:
    """What happened to one source trigger.

    Attributes:
        status: ``created``, ``already there``, ``cannot recreate`` or ``failed``.
        detail: the sentence: why it cannot be recreated, or what failed.
        held_disabled: created disabled on Octopus Cloud although it is enabled on the Server; the
            cut-over enables it when the Server's project is disabled.
    """

    name: str
    status: str
    detail: str = ""
    held_disabled: bool = False


def recreate_blocker(trigger: m.ProjectTrigger) -> str:
    """Why a trigger's type cannot be recreated on Octopus Cloud, or "" when it can.

    Scheduled, deployment-target and feed triggers carry only ids remapped by name. Git triggers are
    refused because Export/Import drops the Git connection they watch; webhook triggers because their
    address and secret belong to the Server; any other type because octowiz does not know its
    references.
    """
    filter_type = str((trigger.filter.filter_type if trigger.filter else None) or "")
    action_type = str((trigger.action.action_type if trigger.action else None) or "")
    if filter_type in _UNRECREATABLE_FILTERS:
        return f"It is {_UNRECREATABLE_FILTERS[filter_type]}."
    if filter_type not in RECREATABLE_FILTERS:
        return (
            f"octowiz does not know the trigger type '{filter_type or 'none'}' and cannot remap what it "
            "refers to: create it by hand on Octopus Cloud."
        )
    if action_type not in RECREATABLE_ACTIONS:
        return (
            f"octowiz does not know the trigger action '{action_type or 'none'}' and cannot remap what it "
            "refers to: create it by hand on Octopus Cloud."
        )
    return ""


def _references(part: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(kind, id)`` pairs a filter or action refers to."""
    out: list[tuple[str, str]] = []
    for key, kind in _REFERENCE_FIELDS.items():
        value = part.get(key)
        values = value if isinstance(value, list) else [value]
        out.extend((kind, str(v)) for v in values if v)
    return out


@dataclass
class _Names:
    """Ids to names on the source and names to ids on the destination, per kind of reference."""

    source: dict[str, dict[str, str]] = field(default_factory=dict)
    destination: dict[str, dict[str, str]] = field(default_factory=dict)


async def _lookups(
    source: OctopusClient, dest: OctopusClient, src: m.Project, dst: m.Project, kinds: dict[str, set[str]]
) -> _Names:
    """Read only the kinds of resource the triggers refer to, on both sides, at once."""

    async def pair(kind: str) -> tuple[str, list[Any], list[Any]]:
        a: list[Any]
        b: list[Any]
        if kind == "environment":
            a, b = await asyncio.gather(source.environments(), dest.environments())
        elif kind == "channel":
            a, b = await asyncio.gather(source.channels(str(src.id)), dest.channels(str(dst.id)))
        elif kind == "runbook":
            a, b = await asyncio.gather(source.runbooks(str(src.id)), dest.runbooks(str(dst.id)))
        else:
            a, b = await asyncio.gather(
                source.get_many("tenants", sorted(kinds[kind]), m.Tenant, "reading tenants"),
                dest.all_unpaged("tenants", m.Tenant, "listing tenants"),
            )
        return kind, a, b

    names = _Names()
    for kind, a, b in await asyncio.gather(*(pair(k) for k in kinds)):
        names.source[kind] = {str(x.id): str(x.name) for x in a if x.id and x.name}
        names.destination[kind] = {str(x.name).lower(): str(x.id) for x in b if x.id and x.name}
    return names


def _remap(part: dict[str, Any], names: _Names, problems: list[str]) -> dict[str, Any]:
    """A filter or action with every referenced id replaced by the destination's id of the same name."""
    out = {k: v for k, v in part.items() if k not in ("Id", "Links")}

    def one(kind: str, value: str) -> str | None:
        name = names.source.get(kind, {}).get(value)
        if name is None:
            problems.append(
                f"it refers to the {kind} {value}, which the Server no longer has: correct the trigger on "
                "the Server, or create it by hand on Octopus Cloud"
            )
            return None
        found = names.destination.get(kind, {}).get(name.lower())
        if found is None:
            problems.append(
                f"the {kind} '{name}' it refers to does not exist on Octopus Cloud: create it there, then "
                "run this again"
            )
        return found

    for key, kind in _REFERENCE_FIELDS.items():
        value = out.get(key)
        if isinstance(value, list):
            out[key] = [one(kind, str(v)) for v in value if v]
        elif value:
            out[key] = one(kind, str(value))
    return out


def _types_of(body: Mapping[str, Any]) -> tuple[Any, Any]:
    return (body.get("Filter") or {}).get("FilterType"), (body.get("Action") or {}).get("ActionType")


async def recreate_triggers(
    source: OctopusClient,
    dest: OctopusClient,
    journal: Journal,
    src: m.Project,
    dst: m.Project,
    *,
    recovery: Recovery | None = None,
) -> list[TriggerOutcome]:
    """Recreate every trigger of a source project on its imported counterpart.

    Environment, channel, runbook and tenant ids (``EnvironmentId(s)``, ``SourceEnvironmentIds``,
    ``DestinationEnvironmentId``, ``ChannelId``, ``RunbookId``, ``TenantIds``) are remapped by name;
    everything else (schedules with their ``Timezone``, ``StartTime``, ``DaysOfWeek`` and
    ``CronExpression``, roles, tenant tags) is sent as the Server has it, except that every trigger is
    created **disabled**: until the project is cut over, a schedule must not fire on both instances. The
    action's intent records whether it was enabled on the Server (``enabled_on_server``), and the
    cut-over (:mod:`octowiz.engine.cutover.cutover`) enables those on Octopus Cloud. A destination
    trigger of the same name on the project counts as ``already there``: never a duplicate, also after a
    crash between the request and its journaled outcome (that pending action is then closed). Triggers of
    types Octopus Cloud cannot take as they are (see :func:`recreate_blocker`), or that refer to a name
    the destination lacks, are ``cannot recreate`` with the reason.

    Args:
        src: the project on the Server.
        dst: the imported project on Octopus Cloud.
        recovery: how often a creation that failed transiently, and is not found afterwards, is sent
            again; None sends it once (a wave run passes its own).
    """
    try:
        triggers = await source.triggers(str(src.id))
        if not triggers:
            return []
        existing = {str(t.name).lower(): t for t in await dest.triggers(str(dst.id))}
    except OctopusError as exc:
        return [TriggerOutcome(f"triggers of '{src.name}'", "failed", f"octowiz could not read them: {exc}")]
    actions = [a for a in await _journal(journal.actions, None, STEP) if a.kind == KIND_TRIGGER and a.pending]

    def pending_for(name: str) -> list[Action]:
        return [
            a
            for a in actions
            if a.intent.get("project_id") == dst.id and str(a.intent.get("name", "")).lower() == name.lower()
        ]

    todo = [t for t in triggers if str(t.name).lower() not in existing and not recreate_blocker(t)]
    kinds: dict[str, set[str]] = {}
    for t in todo:
        for part in (t.filter, t.action):
            for kind, ref in _references(part.to_json() if part else {}):
                kinds.setdefault(kind, set()).add(ref)
    names: _Names | None = _Names()
    lookup_error = ""
    try:
        if kinds:
            names = await _lookups(source, dest, src, dst, kinds)
    except OctopusError as exc:
        names = None
        lookup_error = f"octowiz could not read what the triggers refer to: {exc}"

    collection = dest.space_path("projecttriggers")
    out: list[TriggerOutcome] = []
    for trigger in triggers:
        name = str(trigger.name)
        found = existing.get(name.lower())
        if found is not None:
            await _settle_trigger(journal, pending_for(name), found, collection)
            out.append(TriggerOutcome(name, "already there"))
            continue
        blocker = recreate_blocker(trigger)
        if blocker:
            out.append(TriggerOutcome(name, "cannot recreate", blocker))
            continue
        if names is None:
            out.append(TriggerOutcome(name, "failed", lookup_error))
            continue
        problems: list[str] = []
        body = {
            k: v
            for k, v in trigger.to_json().items()
            if k not in ("Id", "Links", "SpaceId", "LastModifiedOn", "LastModifiedBy")
        }
        body["ProjectId"] = dst.id
        # Held disabled until the cut-over, so a scheduled trigger never fires on both instances.
        body["IsDisabled"] = True
        body["Filter"] = _remap(dict(body.get("Filter") or {}), names, problems)
        body["Action"] = _remap(dict(body.get("Action") or {}), names, problems)
        if problems:
            reason = "; ".join(dict.fromkeys(problems))
            out.append(
                TriggerOutcome(
                    name,
                    "cannot recreate",
                    f"{reason[0].upper()}{reason[1:]}.",
                )
            )
            continue
        # Attempts a run died in that never reached Cloud (the trigger is not there): it is sent again now.
        await _settle_pending(
            journal, pending_for(name), "failed", {"sentence": "interrupted before it landed; sent again"}
        )
        out.append(
            await _create_trigger(dest, journal, trigger, dst, body, collection, recovery or Recovery(0))
        )
    return out


async def _create_trigger(
    dest: OctopusClient,
    journal: Journal,
    trigger: m.ProjectTrigger,
    dst: m.Project,
    body: dict[str, Any],
    collection: str,
    recovery: Recovery,
) -> TriggerOutcome:
    name = str(trigger.name)
    action_id = await _journal(
        journal.begin_action,
        STEP,
        KIND_TRIGGER,
        f"{dst.name}/{name}",
        {
            "project_id": dst.id,
            "name": name,
            "source_trigger_id": trigger.id,
            "body": body,
            "enabled_on_server": not trigger.is_disabled,
        },
        {"method": "DELETE", "path": f"{collection}/{{id}}", "id": "in this action's outcome detail (undo)"},
    )

    async def find() -> m.ProjectTrigger | None:
        # The answer may have been lost after Octopus created it: look before calling it a failure.
        listed = await dest.triggers(str(dst.id))
        return next((t for t in listed if str(t.name).lower() == name.lower()), None)

    try:
        created = await recovery.send_or_find(lambda: dest.create_trigger(body), find)
    except OctopusError as exc:
        sentence = f"Creating the trigger '{name}' failed: {exc}"
        await _journal(journal.finish_action, action_id, "failed", {"sentence": sentence})
        return TriggerOutcome(name, "failed", sentence)
    new_id = str(created.id)
    await _journal(
        journal.finish_action,
        action_id,
        "done",
        {
            "trigger_id": new_id,
            "undo": {"method": "DELETE", "path": f"{collection}/{new_id}"},
            "sentence": f"Created the trigger '{name}' on '{dst.name}'"
            + (", disabled until the project is cut over." if not trigger.is_disabled else "."),
            "enabled_on_server": not trigger.is_disabled,
        },
        id_map={str(trigger.id): ("trigger", new_id)} if trigger.id else None,
    )
    return TriggerOutcome(name, "created", held_disabled=not trigger.is_disabled)


async def _settle_trigger(
    journal: Journal, pending: list[Action], found: m.ProjectTrigger, collection: str
) -> None:
    """Close attempts that died between creating this trigger and recording it.

    The trigger counts as that attempt's work when its filter and action types are those it sent;
    otherwise someone else made it, and the attempt is closed without an undo.
    """
    found_id = str(found.id)
    for action in pending:
        body = action.intent.get("body") or {}
        if _types_of(body) != _types_of(found.to_json()):
            await _journal(
                journal.finish_action,
                action.id,
                "skipped",
                {
                    "trigger_id": found_id,
                    "sentence": "A trigger of that name was already there; not octowiz's.",
                },
            )
            continue
        source_id = action.intent.get("source_trigger_id")
        await _journal(
            journal.finish_action,
            action.id,
            "done",
            {
                "trigger_id": found_id,
                "undo": {"method": "DELETE", "path": f"{collection}/{found_id}"},
                "reconciled": True,
                "sentence": f"Found the trigger '{found.name}' after an interrupted attempt.",
            },
            id_map={str(source_id): ("trigger", found_id)} if source_id else None,
        )


# ---------------------------------------------------------------------------------------------------------
# What stays manual
# ---------------------------------------------------------------------------------------------------------


def _actions(processes: Sequence[m.DeploymentProcess | m.RunbookProcess | None]) -> list[m.DeploymentAction]:
    return [a for p in processes if p for s in p.steps or [] for a in s.actions or []]


def manual_items(
    src: m.Project,
    process: m.DeploymentProcess | None,
    *,
    runbook_processes: Sequence[m.RunbookProcess] = (),
    teams: Mapping[str, str] | None = None,
    subscriptions: Sequence[Mapping[str, Any]] | None = None,
) -> list[str]:
    """What stays manual for one project after its migration, as short sentences.

    Args:
        src: the project on the Server.
        process: its deployment process (None when it could not be read).
        runbook_processes: its runbooks' processes, when read.
        teams: team id to name, to name the teams steps refer to.
        subscriptions: the space's subscriptions as Octopus sends them; None when not read (a general
            sentence is given instead of the ones that watch this project).
    """
    actions = _actions([process, *runbook_processes])
    items: list[str] = []
    roles: dict[str, list[str]] = {}
    for action in actions:
        props = action.properties or {}
        for prop, role in _TEAM_PROPERTIES.items():
            for raw_id in str(props.get(prop) or "").split(","):
                team_id = raw_id.strip()
                # Built-in teams (teams-everyone...) exist on every instance with their own members.
                if team_id and not team_id.startswith("teams-"):
                    roles.setdefault(team_id, [])
                    use = f"{role} '{action.name}'"
                    if use not in roles[team_id]:
                        roles[team_id].append(use)
    for team_id, uses in roles.items():
        team = (teams or {}).get(team_id, team_id)
        items.append(
            f"The team '{team}' ({'; '.join(uses)}) arrives empty on Octopus Cloud: add its members there."
        )
    items.append(
        f"Users are not migrated: invite the people who work on '{src.name}' to Octopus Cloud"
        + (" and add them to those teams." if roles else ".")
    )
    if subscriptions is None:
        items.append("Subscriptions are not migrated: recreate any that notify about this project.")
    else:
        for sub in subscriptions:
            filt = (sub.get("EventNotificationSubscription") or {}).get("Filter") or {}
            if src.id in (filt.get("Projects") or []):
                items.append(
                    f"The subscription '{sub.get('Name')}' notifies about this project: recreate it."
                )
    if any(a.packages for a in actions):
        items.append(
            "Build information (commits, work items) for its packages stays on the Server: push it to "
            "Octopus Cloud from the build server if release notes need it."
        )
    emails = [str(a.name) for a in actions if a.action_type == "Octopus.Email"]
    if emails:
        items.append(
            f"{', '.join(repr(e) for e in emails)} send email: configure SMTP on Octopus Cloud "
            "(Configuration, SMTP); it is not migrated."
        )
    if src.is_version_controlled or (
        src.persistence_settings and src.persistence_settings.type == "VersionControlled"
    ):
        items.append(
            "It is version-controlled: reconnect it to its Git repository on Octopus Cloud (Export/Import "
            "does not carry the Git connection)."
        )
    return items


# ---------------------------------------------------------------------------------------------------------
# A read-only preview
# ---------------------------------------------------------------------------------------------------------


@dataclass
class ProjectGaps:
    """One project's gaps, as a preview.

    Attributes:
        packages: the built-in package versions its releases select.
        has_logo: True when it has an uploaded logo to copy.
        triggers: its triggers' names.
        blocked: ``name: reason`` for triggers whose type cannot be recreated.
        manual: what stays manual (:func:`manual_items`).
    """

    project_id: str
    name: str
    packages: list[PackageNeed]
    has_logo: bool
    triggers: list[str]
    blocked: list[str]
    manual: list[str]


@dataclass
class GapPlan:
    """The gaps of a set of projects: every package version needed once, and each project's own."""

    needs: list[PackageNeed]
    projects: list[ProjectGaps]


async def plan_gaps(
    source: OctopusClient, projects: list[m.Project], *, latest_per_channel: int | None = None
) -> GapPlan:
    """Preview what the projects will need after import, with read-only requests on the Server.

    Requests: per project, those of :func:`needed_packages` and its triggers; once, the server's version
    and its teams. Runbook processes are not read (their manual steps are not listed here).
    """
    reads, triggers, version, teams = await asyncio.gather(
        _read_projects(source, [str(p.id) for p in projects], latest_per_channel),
        asyncio.gather(*(source.triggers(str(p.id)) for p in projects)),
        _server_version(source),
        source.teams(),
    )
    team_names = {str(t.id): str(t.name) for t in teams if t.id}
    out: list[ProjectGaps] = []
    needs: dict[PackageNeed, None] = {}
    for project, read, project_triggers in zip(projects, reads, triggers, strict=True):
        packages = _needs_of(read)
        needs.update(dict.fromkeys(packages))
        out.append(
            ProjectGaps(
                str(project.id),
                str(project.name),
                packages,
                await has_uploaded_logo(source, project, version),
                [str(t.name) for t in project_triggers],
                [f"{t.name}: {b}" for t in project_triggers if (b := recreate_blocker(t))],
                manual_items(project, read.process, teams=team_names),
            )
        )
    return GapPlan(list(needs), out)


__all__ = [
    "MAX_CLOUD_PACKAGE_BYTES",
    "STEP",
    "GapPlan",
    "PackageCopy",
    "PackageNeed",
    "ProjectGaps",
    "TriggerOutcome",
    "copy_logo",
    "copy_packages",
    "has_uploaded_logo",
    "manual_items",
    "needed_packages",
    "plan_gaps",
    "recreate_blocker",
    "recreate_triggers",
]
