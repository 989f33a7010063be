"""Migrate a wave: export, import, fill the gaps Export/Import leaves, verify. Resumable at every stage.

The wave's projects that are not yet on the destination form a *batch*: one export task on the
source, one archive, one upload, one import task on the destination. The batch's progress is one
journal item (kind ``batch``) whose detail records each stage's result (export task id, the
archive's path, size and SHA-256, the uploaded file's id, the import task id); every mutating
request is an action written before it is sent. After a crash at any point, running the wave again
reads the batch, checks each recorded result against the instances, and goes on from the first
stage that is not proven done:

* an export task that finished is reused (its artifact is still on the source); one still running
  is waited for; a pending export request without a task id is simply sent again (an export
  only reads the source);
* the archive on disk is reused when its SHA-256 matches the recorded one, else downloaded again;
* the upload is found among the destination's import files by its unique file name;
* an import request that may have been sent is found among the destination's running import
  tasks, or by its projects having appeared on the destination since the batch checked they were
  absent, before any new import is sent.

A project already on the destination is ours only when the journal shows our import created it;
otherwise it is reported as a conflict and left alone: never overwritten, never imported over.

Per project, the gaps (packages, logo, triggers) and the verification then run, each recorded as an
item stage, so a rerun skips what is done; each gap step is itself idempotent on the destination.

For tests, ``OCTOWIZ_TEST_CRASH_AT=<point>`` makes the process SIGKILL itself at a named point (see
:data:`CRASH_POINTS`), so the resume tests kill it exactly at each stage boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import shutil
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import octowiz.engine.migrate.gaps as gaps
import octowiz.engine.migrate.verify as verify
from octowiz.engine.context import Context
from octowiz.engine.migrate.accept import STAGE as STAGE_ACCEPTED
from octowiz.engine.migrate.accept import accepted_keys
from octowiz.engine.recovery import Recovery
from octowiz.journal import Journal
from octowiz.octopus import models as m
from octowiz.octopus.client import OctopusClient, TaskProgress
from octowiz.octopus.errors import OctopusError, TaskFailed, ValidationFailed

STEP = "migrate"

#: The task type name of an import (octopus-api.md §5.4: UNCONFIRMED; the TaskId is what we follow).
IMPORT_TASK_NAME = "ImportProjects"

#: Where ``OCTOWIZ_TEST_CRASH_AT`` can stop the process.
CRASH_POINTS = (
    "export-sent-not-recorded",
    "after-export-request",
    "after-export",
    "after-download",
    "after-upload",
    "import-sent-not-recorded",
    "after-import-request",
    "after-import",
    "mid-package-copy",
    "after-packages",
    "after-logos",
    "after-triggers",
)

#: Exit codes of a wave run, for scripts (``octowiz migrate``).
EXIT_VERIFIED = 0
EXIT_FAILED = 1
EXIT_DIFFERENCES = 3
EXIT_CONFLICTS = 4
EXIT_NOT_CONFIRMED = 5


def crash_point(name: str) -> None:
    """Die here, abruptly, when a test asked for it (``OCTOWIZ_TEST_CRASH_AT``)."""
    if os.environ.get("OCTOWIZ_TEST_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


class WaveFailed(Exception):
    """A stage failed; ``str()`` is the sentence to show. The journal stays consistent."""


@dataclass
class WaveSettings:
    """How a wave runs.

    Attributes:
        max_queued_imports: never more import tasks queued or running on the destination than this
            (Cloud's task cap is shared with the team's real deployments).
        latest_per_channel: packages copied: None for every version the releases select, N for the
            newest N releases of each channel.
        poll_interval: seconds between task polls.
        task_timeout: seconds a task may execute before octowiz stops waiting (it keeps running).
        recovery_attempts: after transient failures (a 5xx, a dropped connection, a 429 the client gave
            up on), how many times in all the run reconciles and goes on again before it stops, and how
            many times each package upload or trigger creation is sent again (see
            :mod:`octowiz.engine.recovery`); 0 stops at the first one.
        recovery_wait: seconds before the first try again (doubled for each further one).
    """

    max_queued_imports: int = 1
    latest_per_channel: int | None = None
    poll_interval: float = 2.0
    task_timeout: float | None = 3600.0
    recovery_attempts: int = 5
    recovery_wait: float = 1.0


@dataclass
class Event:
    """One thing a running wave reports, for a progress display or a log line."""

    stage: str  # export | download | upload | preview | import | packages | logo | triggers | verify | done
    message: str
    percent: int | None = None
    log_tail: list[str] = field(default_factory=list)
    done_bytes: int | None = None
    total_bytes: int | None = None
    project: str | None = None


@dataclass
class ImportPreview:
    """What an import will do on the destination, from Octopus's preview and the destination's names."""

    projects: list[str]
    created: dict[str, list[str]]  # kind -> names the import will create
    matched: dict[str, list[str]]  # kind -> names that already exist and will be reused
    dynamic_pools: list[str]  # worker pools that map to dynamic pools on the destination
    static_pools: list[str]  # worker pools created empty or matched as static pools

    def lines(self) -> list[str]:
        """The preview as sentences, for the confirmation."""
        out = [f"Projects to create: {', '.join(self.projects) or 'none'}."]
        for kind, names in self.created.items():
            if names:
                out.append(f"New {kind}: {', '.join(names)}.")
        for kind, names in self.matched.items():
            if names:
                out.append(f"Matched by name ({kind}): {', '.join(names)}.")
        if self.dynamic_pools:
            out.append(f"Worker pools that become dynamic: {', '.join(self.dynamic_pools)}.")
        if self.static_pools:
            out.append(
                f"Static worker pools (empty until workers are added): {', '.join(self.static_pools)}."
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "projects": self.projects,
            "created": self.created,
            "matched": self.matched,
            "dynamic_pools": self.dynamic_pools,
            "static_pools": self.static_pools,
        }


@dataclass
class ProjectOutcome:
    """Where one project of the wave ended."""

    id: str
    name: str
    state: str  # verified | differences | conflict | failed | imported | not started
    detail: str = ""
    destination_id: str | None = None
    verification: verify.Verification | None = None
    manual: list[str] = field(default_factory=list)  # what stays to do by hand


@dataclass
class WaveResult:
    """A wave run's outcome."""

    wave: str
    projects: list[ProjectOutcome]
    problems: list[str] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    #: Tries again: the clients' own (``source``, ``destination``) and the run's after reconciling (``run``).
    retries: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """What ``octowiz migrate`` exits with."""
        states = {p.state for p in self.projects}
        if self.problems or states & {"failed", "imported", "not started"}:
            return EXIT_FAILED
        if "conflict" in states:
            return EXIT_CONFLICTS
        if "differences" in states:
            return EXIT_DIFFERENCES
        return EXIT_VERIFIED


Confirm = Callable[[ImportPreview], Awaitable[bool]]
OnEvent = Callable[[Event], None]


def _hash_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            sha.update(block)
    return sha.hexdigest()


class WaveRun:
    """One run of one wave. Build it, then ``await run()``; journal calls go to a thread."""

    def __init__(
        self,
        journal: Journal,
        wave: str,
        source: OctopusClient,
        dest: OctopusClient,
        password: str,
        archives: Path,
        *,
        confirm: Confirm,
        on_event: OnEvent | None = None,
        settings: WaveSettings | None = None,
    ) -> None:
        self.journal = journal
        self.wave = wave
        self.source = source
        self.dest = dest
        self._password = password
        self.archives = archives
        self.confirm = confirm
        self.on_event = on_event or (lambda e: None)
        self.settings = settings or WaveSettings()
        self._tail: list[str] = []
        self._stage = "export"
        self._package_needs: dict[str, list[gaps.PackageNeed]] = {}
        self.recovery = Recovery(self.settings.recovery_attempts, self.settings.recovery_wait)
        self._confirmed: set[str] = set()  # batches whose import was confirmed in this run

    def __repr__(self) -> str:  # never the password
        return f"WaveRun(wave={self.wave!r})"

    # -- helpers ---------------------------------------------------------------------------------

    async def _j(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kw)

    def _emit(self, stage: str, message: str, **kw: Any) -> None:
        self._stage = stage
        self.on_event(Event(stage, message, **kw))

    async def _progress(self, stage: str, what: str, p: TaskProgress) -> None:
        self._tail = [line for line in p.log_tail if line]
        self._emit(
            stage,
            f"{what}: {p.task.state} {p.percent}%"
            + (f", {p.estimated_remaining} left" if p.estimated_remaining else ""),
            percent=p.percent,
            log_tail=p.log_tail,
        )

    async def _wait(self, client: OctopusClient, task_id: str, stage: str, what: str) -> m.ServerTask:
        try:
            return await client.wait_for_task(
                task_id,
                on_progress=lambda p: self._progress(stage, what, p),
                poll_interval=self.settings.poll_interval,
                timeout=self.settings.task_timeout,
            )
        except TimeoutError:
            raise WaveFailed(
                f"The {what.lower()} task {task_id} on {client.host} has run for more than "
                f"{self.settings.task_timeout:.0f} seconds and is still running there; octowiz stopped "
                "waiting. Running the wave again follows the same task."
            ) from None

    def _task_failure(self, client: OctopusClient, what: str, exc: TaskFailed) -> str:
        sentence = f"{what} failed on {client.host}: {exc.error_message or exc}"
        if self._tail:
            sentence += " Last lines of its log: " + " | ".join(self._tail[-8:])
        return sentence

    # -- the run ---------------------------------------------------------------------------------

    async def run(self) -> WaveResult:
        """Run the wave to its end (or the first failure), and say where each project stands."""
        waves = await self._j(lambda: self.journal.waves())
        ids = waves.get(self.wave)
        if not ids:
            raise WaveFailed(
                f"There is no wave called '{self.wave}' in this migration: plan it first "
                f"(octowiz plan --wave '{self.wave}' --projects ...)."
            )
        await self._j(self.journal.set_step, STEP, "in progress", f"wave {self.wave}")
        projects = {
            str(p.id): p for p in await self.source.get_many("projects", ids, m.Project, "reading projects")
        }
        missing = [i for i in ids if i not in projects]
        problems: list[str] = []
        if missing:
            problems.append(f"These projects are no longer on the Server: {', '.join(missing)}.")
        outcomes: dict[str, ProjectOutcome] = {
            pid: ProjectOutcome(pid, projects[pid].name or pid, "not started")
            for pid in ids
            if pid in projects
        }

        async def stages() -> None:
            await self._import_stage(projects, outcomes)
            imported = [o for o in outcomes.values() if o.destination_id]
            if imported:
                await self._gaps_stage(projects, outcomes)
                await self._verify_stage(projects, outcomes)

        def retrying(attempt: int, exc: BaseException) -> None:
            doing = _DOING.get(self._stage, self._stage)
            self._emit(
                self._stage,
                f"While {doing}: {exc} Reconciling with both instances and trying again "
                f"({attempt} of {self.recovery.attempts}).",
            )

        try:
            # A transient failure ends a round; the next one reconciles as a rerun would, then goes on.
            await self.recovery.rounds(stages, retrying)
        except WaveFailed as exc:
            problems.append(str(exc))
        except OSError as exc:
            doing = _DOING.get(self._stage, self._stage)
            where = f" ({exc.filename})" if exc.filename else ""
            if exc.errno == errno.ENOSPC:
                problems.append(
                    f"While {doing}: the disk is full{where}. Free some space and run the wave again: it "
                    "continues from there."
                )
            else:
                reason = exc.strerror or exc
                problems.append(
                    f"While {doing}: this machine could not read or write a file{where}: {reason}. "
                    "Running the wave again continues from there."
                )
        except OctopusError as exc:
            doing = _DOING.get(self._stage, self._stage)
            problems.append(f"While {doing}: {exc} Running the wave again continues from there.")
        result = WaveResult(
            self.wave,
            [outcomes[i] for i in ids if i in outcomes],
            problems,
            {"source": self.source.request_count, "destination": self.dest.request_count},
            {
                "source": self.source.retry_count,
                "destination": self.dest.retry_count,
                "run": self.recovery.retries,
            },
        )
        done = all(o.state == "verified" for o in result.projects) and not problems
        every_wave = done and await self._j(self._all_waves_done, waves)
        await self._j(
            self.journal.set_step,
            STEP,
            "done" if every_wave else "in progress",
            f"wave {self.wave}: " + _summary(result),
        )
        self._emit("done", _summary(result))
        return result

    def _all_waves_done(self, waves: dict[str, list[str]]) -> bool:
        """Every planned project is verified (blocking: a journal read)."""
        verified = {
            i
            for _, i, stage, status, _ in self.journal.items("project")
            if stage == "verify" and status == "done"
        }
        return all(pid in verified for ids in waves.values() for pid in ids)

    # -- export / import -------------------------------------------------------------------------

    async def _import_stage(
        self, projects: dict[str, m.Project], outcomes: dict[str, ProjectOutcome]
    ) -> None:
        items = await self._j(self.journal.items, "project")
        imported = {i: d or {} for _, i, stage, status, d in items if stage == "import" and status == "done"}
        for pid, detail in imported.items():
            if pid in outcomes:
                outcomes[pid].destination_id = detail.get("destination_id")
                outcomes[pid].state = "imported"
        batch_id, batch = await self._open_batch()
        if batch_id is not None and batch is not None and not batch.get("import_requested"):
            removed = [pid for pid in batch["projects"] if pid not in outcomes]
            if removed:
                # The wave changed since this batch was exported: its archive holds projects that are no
                # longer in it. Nothing was imported from it, so it is set aside and the wave exported anew.
                batch["superseded"] = f"taken out of the wave since its export: {', '.join(removed)}"
                await self._save(batch_id, "closed", batch)
                batch_id, batch = None, None
        attempted: set[str] = set()
        rounds = 0
        while True:
            if batch is None or batch_id is None:
                rows = await self._j(self.journal.items, "project")
                done = {i for _, i, stage, status, _ in rows if stage == "import" and status == "done"}
                todo = [pid for pid in outcomes if pid not in done and pid not in attempted]
                if not todo:
                    return
                todo = await self._exclude_conflicts(todo, projects, outcomes, ours=await self._ours())
                if not todo:
                    return
                batch_id, batch = await self._new_batch(todo, projects)
            attempted.update(batch["projects"])
            rounds += 1
            if await self._run_batch(batch_id, batch, projects, outcomes) == "superseded" and rounds < 3:
                # Set aside before its import went out: the rest of the wave goes out in a fresh batch.
                attempted.difference_update(batch["projects"])
            batch_id, batch = None, None

    async def _ours(self) -> set[str]:
        """Projects an import of ours was sent for and that it did not fail to create."""
        return {
            pid
            for _, _, _, _, d in await self._j(self.journal.items, "batch")
            if d and d.get("import_requested")
            for pid in d.get("projects", [])
            if pid not in (d.get("missing") or [])
        }

    async def _open_batch(self) -> tuple[str | None, dict[str, Any] | None]:
        """The wave's unfinished batch, if a previous run left one."""
        items = await self._j(self.journal.items, "batch")
        open_ = [
            (i, d)
            for _, i, _, status, d in items
            if d and d.get("wave") == self.wave and status not in ("done", "closed")
        ]
        return open_[-1] if open_ else (None, None)

    async def _new_batch(self, todo: list[str], projects: dict[str, m.Project]) -> tuple[str, dict[str, Any]]:
        items = await self._j(self.journal.items, "batch")
        n = 1 + sum(1 for _, _, _, _, d in items if d and d.get("wave") == self.wave)
        batch_id = f"{self.wave}#{n}"
        batch: dict[str, Any] = {
            "wave": self.wave,
            "projects": todo,
            "names": {pid: projects[pid].name for pid in todo},
            # Checked just now: none of these exist on the destination, so any that appear later are ours.
            "absent_checked": True,
        }
        await self._save(batch_id, "in progress", batch)
        return batch_id, batch

    async def _on_cloud(self, names: list[str]) -> list[m.Project | None]:
        """The destination's project of each name (None where there is none), looked up concurrently."""
        return list(await asyncio.gather(*(self.dest.project_by_name(n) for n in names)))

    async def _save(self, batch_id: str, status: str, batch: dict[str, Any]) -> None:
        await self._j(self.journal.set_item, "batch", batch_id, "batch", status, batch)

    async def _settle(
        self, kind: str, batch_id: str, outcome: str, sentence: str, task_id: str | None = None, **detail: Any
    ) -> None:
        """Close the batch's ``kind`` actions a run died in (no outcome written) with what is known now."""
        for a in await self._j(self.journal.actions, None, STEP):
            if a.pending and a.kind == kind and a.target == batch_id:
                info = {"sentence": sentence, "reconciled": True, **detail}
                await self._j(self.journal.finish_action, a.id, outcome, info, task_id)

    async def _exclude_conflicts(
        self,
        todo: list[str],
        projects: dict[str, m.Project],
        outcomes: dict[str, ProjectOutcome],
        ours: set[str],
    ) -> list[str]:
        """Drop projects whose name exists on the destination and that our journal did not create there."""
        found = await self._on_cloud([projects[p].name or "" for p in todo])
        keep = []
        for pid, existing in zip(todo, found, strict=True):
            if existing is None:
                keep.append(pid)
            elif pid in ours:
                await self._mark_imported(pid, str(existing.id), outcomes)
            else:
                await self._conflict(pid, projects[pid].name or pid, outcomes)
        return keep

    async def _conflict(self, pid: str, name: str, outcomes: dict[str, ProjectOutcome]) -> None:
        sentence = (
            f"A project called '{name}' already exists on {self.dest.host} and octowiz did not create it: "
            "rename or remove one of them, or take the project out of the wave. octowiz never imports over "
            "an existing project."
        )
        if pid in outcomes:
            outcomes[pid].state, outcomes[pid].detail = "conflict", sentence
        await self._j(self.journal.set_item, "project", pid, "import", "conflict", {"why": sentence})
        self._emit("preview", sentence, project=name)

    async def _mark_imported(self, pid: str, dest_id: str, outcomes: dict[str, ProjectOutcome]) -> None:
        if pid in outcomes:  # a project taken out of the wave after its import was sent is still recorded
            outcomes[pid].destination_id, outcomes[pid].state = dest_id, "imported"
        aid = await self._j(
            self.journal.begin_action, STEP, "record-import", pid, {"project": pid, "destination": dest_id}
        )
        await self._j(self.journal.finish_action, aid, "done", None, None, {pid: ("project", dest_id)})
        await self._j(self.journal.set_item, "project", pid, "import", "done", {"destination_id": dest_id})

    async def _run_batch(
        self,
        batch_id: str,
        batch: dict[str, Any],
        projects: dict[str, m.Project],
        outcomes: dict[str, ProjectOutcome],
    ) -> str:
        """Take one batch as far as it goes: ``imported``, or ``superseded`` when it was set aside."""
        names = batch["names"]
        label = ", ".join(names.values())
        # 1. Export on the source.
        if not batch.get("exported"):
            task_id = batch.get("export_task")
            if task_id is None:
                await self._settle(
                    "export",
                    batch_id,
                    "superseded",
                    "Interrupted before its task was recorded; the export is sent again (it only reads).",
                )
                aid = await self._j(
                    self.journal.begin_action, STEP, "export", batch_id, {"projects": batch["projects"]}
                )
                self._emit("export", f"Starting the export of {label}")
                try:
                    response = await self.source.export_projects(batch["projects"], self._password)
                except OctopusError as exc:
                    await self._j(self.journal.finish_action, aid, "failed", {"error": str(exc)})
                    raise
                crash_point("export-sent-not-recorded")
                task_id = str(response.task_id)
                batch["export_task"] = task_id
                await self._j(self.journal.finish_action, aid, "started", None, task_id)
                await self._save(batch_id, "in progress", batch)
                crash_point("after-export-request")
            try:
                await self._wait(self.source, task_id, "export", "Export")
            except TaskFailed as exc:
                sentence = self._task_failure(self.source, "The export", exc)
                batch.pop("export_task", None)  # a rerun starts a fresh export
                await self._save(batch_id, "in progress", batch)
                raise WaveFailed(sentence) from None
            batch["exported"] = True
            await self._save(batch_id, "in progress", batch)
            crash_point("after-export")
        # 2. The archive, streamed to the state directory, its hash recorded.
        archive = self.archives / f"{batch_id.replace('#', '-')}.zip"
        if not (
            batch.get("sha256")
            and archive.exists()
            and await asyncio.to_thread(_hash_file, archive) == batch["sha256"]
        ):
            artifacts = await self.source.task_artifacts(batch["export_task"])
            zips = [a for a in artifacts if (a.filename or "").lower().endswith(".zip")]
            if not zips:
                for key in ("exported", "export_task"):
                    batch.pop(key, None)  # a rerun exports afresh
                await self._save(batch_id, "in progress", batch)
                raise WaveFailed(
                    f"The export task on {self.source.host} finished but has no archive attached; "
                    "run the wave again to export afresh."
                )
            self._emit("download", f"Downloading {zips[0].filename}")
            archive.parent.mkdir(parents=True, exist_ok=True)
            content = (zips[0].links or {}).get("Content") or self.source.space_path(
                f"artifacts/{zips[0].id}/content"
            )
            size, sha = await self.source.download_to(content, archive, "downloading the export archive")
            batch.update(archive=str(archive), size=size, sha256=sha)
            await self._save(batch_id, "in progress", batch)
            self._emit("download", f"Archive saved ({size:,} bytes, SHA-256 {sha[:12]}…)")
            crash_point("after-download")
        # 3. Upload to the destination's import files, under a name unique to this batch.
        upload_name = f"octowiz-{batch_id.replace('#', '-')}-{batch['sha256'][:12]}.zip"
        if not batch.get("upload_id"):
            existing = next((f for f in await self.dest.import_files() if f.file_name == upload_name), None)
            if existing is not None:
                await self._settle("upload", batch_id, "done", "Found on Octopus Cloud.", id=existing.id)
            else:
                await self._settle("upload", batch_id, "failed", "Not on Octopus Cloud: uploaded again.")
                aid = await self._j(
                    self.journal.begin_action, STEP, "upload", batch_id, {"file": upload_name}
                )
                self._emit("upload", f"Uploading the archive to {self.dest.host}", total_bytes=batch["size"])
                named = archive.with_name(upload_name)
                if not named.exists():
                    try:
                        os.link(archive, named)
                    except OSError:  # a file system without hard links
                        shutil.copyfile(archive, named)
                try:
                    uploaded = await self.dest.upload_import_file(named)
                except OctopusError as exc:
                    await self._j(self.journal.finish_action, aid, "failed", {"error": str(exc)})
                    raise
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        named.unlink()
                await self._j(self.journal.finish_action, aid, "done", {"id": uploaded.id})
                existing = uploaded
            batch["upload_id"] = existing.id
            await self._save(batch_id, "in progress", batch)
            crash_point("after-upload")
        # 4. Import: find one we may already have started before starting one.
        if not batch.get("imported"):
            task_id = batch.get("import_task") or await self._find_import(batch, projects, outcomes)
            if task_id == "appeared":
                await self._settle("import", batch_id, "done", "Its projects were found on Octopus Cloud.")
            elif task_id is None:
                await self._settle("import", batch_id, "failed", "Not found on Octopus Cloud: sent again.")
            else:
                await self._settle(
                    "import", batch_id, "started", "Its task was found on Octopus Cloud.", task_id
                )
            if task_id == "appeared":
                await self._close_batch(batch_id, batch, projects, outcomes)
                return "imported"
            if task_id is None:
                self._emit("preview", f"Asking {self.dest.host} what the import will do")
                try:
                    preview = await self._preview(batch, projects)
                except ValidationFailed as exc:
                    raise await self._refused(batch_id, batch, exc) from None
                self._emit("preview", "\n".join(preview.lines()))
                if preview.created.get("feeds"):
                    # Export/Import only references feeds; their credentials cannot travel in the archive.
                    raise WaveFailed(
                        f"The wave uses package feeds that are not on {self.dest.host}: "
                        f"{', '.join(preview.created['feeds'])}. Create them there with the same names "
                        "(their credentials cannot be exported), then run the wave again: it continues "
                        "from the import preview."
                    )
                # Asked once per run: a round after a transient failure does not ask again.
                if batch_id not in self._confirmed and not await self.confirm(preview):
                    raise WaveFailed("The import was not confirmed; nothing was imported.")
                self._confirmed.add(batch_id)
                await self._wait_for_capacity()
                if await self._appeared_meanwhile(batch_id, batch, projects, outcomes):
                    return "superseded"
                aid = await self._j(
                    self.journal.begin_action,
                    STEP,
                    "import",
                    batch_id,
                    {"projects": batch["projects"], "upload": batch["upload_id"]},
                )
                batch["import_requested"] = True
                await self._save(batch_id, "in progress", batch)
                self._emit("import", f"Starting the import on {self.dest.host}")
                try:
                    started = await self.dest.import_projects(batch["upload_id"], self._password)
                except ValidationFailed as exc:
                    # Refused outright, so nothing was imported; the archive or password is at fault.
                    await self._j(self.journal.finish_action, aid, "failed", {"error": str(exc)})
                    batch.pop("import_requested", None)
                    raise await self._refused(batch_id, batch, exc) from None
                except OctopusError as exc:
                    # The request may have reached Cloud (a dropped answer, a proxy's 502): keep
                    # import_requested, so the next run looks for the import before sending another.
                    await self._j(self.journal.finish_action, aid, "unknown", {"error": str(exc)})
                    raise
                crash_point("import-sent-not-recorded")
                task_id = str(started.task_id)
                batch["import_task"] = task_id
                await self._j(self.journal.finish_action, aid, "started", None, task_id)
                await self._save(batch_id, "in progress", batch)
                crash_point("after-import-request")
            try:
                await self._wait(self.dest, task_id, "import", "Import")
            except TaskFailed as exc:
                sentence = self._task_failure(self.dest, "The import", exc)
                await self._close_batch(batch_id, batch, projects, outcomes, failed=sentence)
                raise WaveFailed(sentence) from None
            batch["imported"] = True
            await self._save(batch_id, "in progress", batch)
        await self._close_batch(batch_id, batch, projects, outcomes)
        crash_point("after-import")
        return "imported"

    async def _refused(self, batch_id: str, batch: dict[str, Any], exc: OctopusError) -> WaveFailed:
        """Cloud refused the archive (a different password, a damaged upload): export afresh next time."""
        for key in ("exported", "export_task", "sha256", "size", "archive", "upload_id"):
            batch.pop(key, None)
        await self._save(batch_id, "in progress", batch)
        return WaveFailed(
            f"{self.dest.host} could not use the export archive: {exc} If the password differs from the "
            "one this wave's export was made with, or the archive was damaged, running the wave again "
            "exports it afresh with the password you give then."
        )

    async def _appeared_meanwhile(
        self,
        batch_id: str,
        batch: dict[str, Any],
        projects: dict[str, m.Project],
        outcomes: dict[str, ProjectOutcome],
    ) -> bool:
        """Right before the import: did a project of the batch appear on Cloud by someone else's hand?

        If so it is a conflict (our import has not been sent, so it is not ours), and the batch, whose
        archive holds it, is set aside: the wave's other projects go out in a fresh batch.
        """
        found = await self._on_cloud([batch["names"][p] for p in batch["projects"]])
        there = [pid for pid, existing in zip(batch["projects"], found, strict=True) if existing is not None]
        if not there:
            return False
        for pid in there:
            await self._conflict(pid, batch["names"][pid], outcomes)
        batch["superseded"] = f"appeared on {self.dest.host} before the import: {', '.join(there)}"
        await self._save(batch_id, "closed", batch)
        return True

    async def _find_import(
        self, batch: dict[str, Any], projects: dict[str, m.Project], outcomes: dict[str, ProjectOutcome]
    ) -> str | None:
        """An import this batch may have started before a crash: its task id, ``appeared``, or None."""
        if not batch.get("import_requested"):
            return None
        for task in await self.dest.active_tasks():
            source = (task.arguments or {}).get("ImportSource") or {}
            if source.get("UploadedFileId") == batch["upload_id"] and task.name == IMPORT_TASK_NAME:
                batch["import_task"] = task.id
                return task.id
        found = await self._on_cloud([batch["names"][p] for p in batch["projects"]])
        if any(found):
            return "appeared"
        return None

    async def _close_batch(
        self,
        batch_id: str,
        batch: dict[str, Any],
        projects: dict[str, m.Project],
        outcomes: dict[str, ProjectOutcome],
        failed: str | None = None,
    ) -> None:
        """Map each batch project to its destination project; close the batch so a rerun starts afresh."""
        found = await self._on_cloud([batch["names"][p] for p in batch["projects"]])
        missing = []
        for pid, existing in zip(batch["projects"], found, strict=True):
            if existing is not None:
                # It was absent when the batch was made (absent_checked), so our import created it.
                await self._mark_imported(pid, str(existing.id), outcomes)
            else:
                missing.append(pid)
                if pid in outcomes:
                    outcomes[pid].state = "failed"
                    outcomes[pid].detail = failed or "The import finished without creating this project."
                    await self._j(
                        self.journal.set_item,
                        "project",
                        pid,
                        "import",
                        "failed",
                        {"why": outcomes[pid].detail},
                    )
        batch["missing"] = missing
        await self._save(batch_id, "done" if not missing else "closed", batch)

    async def _preview(self, batch: dict[str, Any], projects: dict[str, m.Project]) -> ImportPreview:
        raw, envs, lifecycles, pools, feeds = await asyncio.gather(
            self.dest.import_preview(batch["upload_id"], self._password),
            self.dest.environments(),
            self.dest.lifecycles(),
            self.dest.worker_pools(),
            self.dest.feeds(),
        )
        existing = {
            "environments": {e.name for e in envs},
            "lifecycles": {lc.name for lc in lifecycles},
            "feeds": {f.name for f in feeds},
        }
        listed = {
            "environments": list(raw.environments or []),
            "lifecycles": list(raw.lifecycles or []),
            "feeds": [f.name or "" for f in raw.feeds or []],
            "accounts": [a.name or "" for a in raw.accounts or []],
            "certificates": list(raw.certificates or []),
        }
        created: dict[str, list[str]] = {}
        matched: dict[str, list[str]] = {}
        for kind, names in listed.items():
            have = existing.get(kind)
            created[kind] = sorted(n for n in names if have is None or n not in have)
            matched[kind] = sorted(n for n in names if have is not None and n in have)
        pool_names = {p.name for p in pools}
        dynamic = sorted(p.name or "" for p in raw.worker_pools or [] if p.is_dynamic)
        static = sorted(p.name or "" for p in raw.worker_pools or [] if not p.is_dynamic)
        matched["worker pools"] = sorted(n for n in static + dynamic if n in pool_names)
        return ImportPreview([p.name or "" for p in raw.projects or []], created, matched, dynamic, static)

    async def _wait_for_capacity(self) -> None:
        """Hold the import while the destination already runs ``max_queued_imports`` imports."""
        while True:
            running = await self.dest.active_tasks(IMPORT_TASK_NAME)
            if len(running) < self.settings.max_queued_imports:
                return
            self._emit(
                "import",
                f"Waiting: {len(running)} import(s) already queued or running on {self.dest.host} "
                f"(at most {self.settings.max_queued_imports})",
            )
            await self.dest._sleep(self.settings.poll_interval)  # the client's (injectable) clock

    # -- gaps and verification -------------------------------------------------------------------

    async def _recorded(self) -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:
        """Every project's recorded stages, ``pid -> stage -> (status, detail)``, in one journal read."""
        out: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        for _, pid, stage, status, detail in await self._j(self.journal.items, "project"):
            out.setdefault(pid, {})[stage] = (status, detail or {})
        return out

    async def _needs(self, pids: list[str]) -> dict[str, list[gaps.PackageNeed]]:
        """The package versions each project's releases select, read once per run and project."""
        missing = [pid for pid in pids if pid not in self._package_needs]
        found = await asyncio.gather(
            *(gaps.needed_packages(self.source, [pid], self.settings.latest_per_channel) for pid in missing)
        )
        self._package_needs.update(zip(missing, found, strict=True))
        return {pid: self._package_needs[pid] for pid in pids}

    async def _gaps_stage(self, projects: dict[str, m.Project], outcomes: dict[str, ProjectOutcome]) -> None:
        pairs = [(pid, o.destination_id) for pid, o in outcomes.items() if o.destination_id]
        recorded = await self._recorded()

        def done(pid: str, stage: str) -> bool:
            return recorded.get(pid, {}).get(stage, ("",))[0] == "done"

        # Packages: each project's needs, copied as one set, so a version two projects share moves once.
        todo = [pid for pid, _ in pairs if not done(pid, "packages")]
        if todo:
            per_project = list((await self._needs(todo)).values())
            needs = list(dict.fromkeys(n for project_needs in per_project for n in project_needs))
            self._emit("packages", f"{len(needs)} package version(s) the releases need")

            def progress(done: int, total: int) -> None:
                self._emit("packages", "Copying packages", done_bytes=done, total_bytes=total)
                if done:
                    crash_point("mid-package-copy")

            copies = await gaps.copy_packages(
                self.source, self.dest, self.journal, needs, on_progress=progress, recovery=self.recovery
            )
            by_need = {(c.package_id, c.version): c for c in copies}
            for c in copies:
                self._emit(
                    "packages",
                    f"{c.package_id} {c.version}: {c.status}" + (f" ({c.detail})" if c.detail else ""),
                )
            failed_all = [c for c in copies if c.status == "failed"]
            for pid, project_needs in zip(todo, per_project, strict=True):
                mine = [
                    by_need[(n.package_id, n.version)]
                    for n in project_needs
                    if (n.package_id, n.version) in by_need
                ]
                failed = [c for c in mine if c.status == "failed"]
                detail: dict[str, Any] = {
                    "needed": len(project_needs),
                    "copied": sum(1 for c in mine if c.status == "copied"),
                    "already": sum(1 for c in mine if c.status == "already there"),
                    "refused": [
                        f"{c.package_id} {c.version}: {c.detail}" for c in mine if c.status == "refused"
                    ],
                    "failed": [f"{c.package_id} {c.version}: {c.detail}" for c in failed],
                }
                await self._j(
                    self.journal.set_item, "project", pid, "packages", "failed" if failed else "done", detail
                )
            if failed_all:
                raise WaveFailed(
                    f"{len(failed_all)} package(s) could not be copied ("
                    + "; ".join(f"{c.package_id} {c.version}: {c.detail}" for c in failed_all)
                    + "); run the wave again to retry them."
                )
        crash_point("after-packages")
        dest_projects = {
            str(p.id): p
            for p in await self.dest.get_many(
                "projects", [d for _, d in pairs if d], m.Project, "reading projects"
            )
        }
        for pid, did in pairs:
            if did not in dest_projects or done(pid, "logo"):
                continue
            result = await gaps.copy_logo(
                self.source, self.dest, self.journal, projects[pid], dest_projects[did]
            )
            self._emit("logo", f"{projects[pid].name}: logo {result}", project=projects[pid].name)
            await self._j(
                self.journal.set_item,
                "project",
                pid,
                "logo",
                "failed" if result.startswith("failed") else "done",
                {"result": result},
            )
        crash_point("after-logos")
        for pid, did in pairs:
            if did not in dest_projects or done(pid, "triggers"):
                continue
            triggers = await gaps.recreate_triggers(
                self.source,
                self.dest,
                self.journal,
                projects[pid],
                dest_projects[did],
                recovery=self.recovery,
            )
            for t in triggers:
                self._emit(
                    "triggers",
                    f"{projects[pid].name}: trigger '{t.name}' {t.status}"
                    + (f" ({t.detail})" if t.detail else ""),
                    project=projects[pid].name,
                )
            bad = [t for t in triggers if t.status == "failed"]
            await self._j(
                self.journal.set_item,
                "project",
                pid,
                "triggers",
                "failed" if bad else "done",
                {"triggers": [{"name": t.name, "status": t.status, "detail": t.detail} for t in triggers]},
            )
        crash_point("after-triggers")
        # What stays manual, per project: recorded once, for the results and the review.
        todo = [pid for pid, did in pairs if did in dest_projects and "manual" not in recorded.get(pid, {})]
        if todo:
            teams = {str(t.id): str(t.name or t.id) for t in await self.source.teams()}
            processes = await asyncio.gather(*(self.source.deployment_process(projects[pid]) for pid in todo))
            for pid, process in zip(todo, processes, strict=True):
                items = gaps.manual_items(projects[pid], process, teams=teams)
                await self._j(self.journal.set_item, "project", pid, "manual", "listed", {"items": items})

    async def _verify_stage(
        self, projects: dict[str, m.Project], outcomes: dict[str, ProjectOutcome]
    ) -> None:
        from octowiz.engine.review import drift

        imported = [(pid, o) for pid, o in outcomes.items() if o.destination_id]
        recorded = await self._recorded()
        needs = await self._needs([pid for pid, _ in imported])
        shared = verify.SharedLists()  # the space-wide lists, read once for the whole wave
        gate = asyncio.Semaphore(4)

        async def one(pid: str, o: ProjectOutcome) -> None:
            stages = recorded.get(pid, {})
            async with gate:
                self._emit("verify", f"Verifying {o.name}", project=o.name)
                result = await verify.verify_project(
                    self.source,
                    self.dest,
                    pid,
                    o.destination_id,
                    # A logo whose copy failed is expected too, so the failure shows as a difference.
                    expect_logo=str(stages.get("logo", ("", {}))[1].get("result") or "").startswith(
                        ("copied", "failed")
                    ),
                    expect_packages=[(n.package_id, n.version) for n in needs[pid]],
                    expect_triggers=True,
                    shared=shared,
                )
                # The Server's project as verified, hashed per area, so a review can tell what changed on
                # the Server since (review/drift.py). Not having one only makes drift unknown.
                fingerprint: dict[str, Any] | None = None
                if pid in projects:
                    with contextlib.suppress(OctopusError):
                        fingerprint = await drift.read_fingerprint(self.source, projects[pid])
            # Differences the team accepted before stay accepted when the very same ones are found again.
            result = result.with_accepted(accepted_keys(stages.get(STAGE_ACCEPTED, ("", {}))[1]))
            o.verification = result
            o.manual = list(stages.get("manual", ("", {}))[1].get("items") or [])
            o.state = "verified" if result.verified else "differences"
            o.detail = "" if result.verified else f"{len(result.differences)} difference(s)"
            await self._j(
                self.journal.set_item,
                "project",
                pid,
                "verify",
                "done" if result.verified else "differences",
                {**result.to_dict(), **({"fingerprint": fingerprint} if fingerprint else {})},
            )

        tasks = [asyncio.ensure_future(one(pid, o)) for pid, o in imported]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:  # one failing stops the others, as the stage's error ends the run
                task.cancel()


_DOING = {
    "export": "exporting on the Server",
    "download": "downloading the export archive",
    "upload": "uploading the export archive to Octopus Cloud",
    "preview": "previewing the import",
    "import": "importing on Octopus Cloud",
    "packages": "copying packages",
    "logo": "copying logos",
    "triggers": "recreating triggers",
    "verify": "verifying",
}


def _summary(result: WaveResult) -> str:
    counts: dict[str, int] = {}
    for p in result.projects:
        counts[p.state] = counts.get(p.state, 0) + 1
    text = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing to do"
    return text + (f"; {len(result.problems)} problem(s)" if result.problems else "")


async def run_wave(
    context: Context,
    journal: Journal,
    wave: str,
    password: str,
    *,
    confirm: Confirm,
    on_event: OnEvent | None = None,
    settings: WaveSettings | None = None,
) -> WaveResult:
    """Open both instances for a migration and run one of its waves (see :class:`WaveRun`)."""
    from octowiz.engine.session import clients

    if not password:
        raise WaveFailed("An export password is needed: Export/Import encrypts sensitive values with it.")
    values = await asyncio.to_thread(lambda: journal.settings)
    name = str(values.get("name") or "migration")
    archives = context.paths.downloads / name / "exports"
    async with clients(context, values) as (source, dest):
        assert dest is not None
        run = WaveRun(
            journal,
            wave,
            source,
            dest,
            password,
            archives,
            confirm=confirm,
            on_event=on_event,
            settings=settings,
        )
        return await run.run()
