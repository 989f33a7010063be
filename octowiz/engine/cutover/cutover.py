"""The cut-over of a migrated wave: repoint the build server, test a deployment, disable the Server's copy.

After a wave's projects are imported and verified (:mod:`octowiz.engine.migrate.run`), the guide
(``migrating-to-octopus-cloud.md``: "Update your build server", "Test the migration", "Disable the
project in your Octopus Server instance") leaves three things per project, which this module drives:

* :meth:`Cutover.build_server_checklist` reads, in a few bulk requests on the Server, who pushed
  packages, build information or created releases of the wave's projects from outside Octopus recently
  (audit events, the build information list), and lists per project what to change in the build
  server: the Octopus URL, an API key of a service account on Octopus Cloud, the plug-in or CLI. The
  team ticks items off with :func:`mark_item` (journal item stage ``build-server``).
* :meth:`Cutover.test_preview` / :meth:`Cutover.run_test` deploy one of the imported releases to a
  non-production environment on Octopus Cloud, after a preview of the targets it will reach and their
  health, and follow the task (journal item stage ``test``: passed or failed, with the task id).
* :meth:`Cutover.disable_preview` / :meth:`Cutover.disable` disable the Server's project once it is
  verified, its targets are healthy on Octopus Cloud (read through
  :func:`octowiz.engine.cutover.targets.read_targets`) and its test deployment passed, or with a typed
  override reason the journal keeps; the triggers recreated disabled on Octopus Cloud
  (:func:`octowiz.engine.migrate.gaps.recreate_triggers`) are then enabled, so a schedule fires on one
  instance only. :meth:`Cutover.reenable` is the rollback: the Server's project enabled again and those
  Cloud triggers disabled again.

Every mutating request is an action of the journal step :data:`STEP` whose intent is written first and
whose outcome (with its undo) after. A rerun after a crash reads the instances before acting: the
Server's project is read before it is disabled or enabled (never disabled twice), triggers are enabled
only where Octopus Cloud shows them disabled, and a test deployment whose answer was lost is found among
the project's deployments on Octopus Cloud before another is sent. ``OCTOWIZ_TEST_CRASH_AT=<point>``
(see :data:`CRASH_POINTS`) kills the process at a named point, as :mod:`~octowiz.engine.migrate.run` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from octowiz.engine.recovery import Recovery
from octowiz.journal import Journal
from octowiz.octopus import models as m
from octowiz.octopus.client import OctopusClient, TaskProgress
from octowiz.octopus.errors import OctopusError, TaskFailed

if TYPE_CHECKING:
    from octowiz.engine.context import Context

#: The journal step every cut-over action belongs to.
STEP = "cutover"
#: The journal item kind and stages this module writes.
ITEM = "project"
STAGE_BUILD = "build-server"
STAGE_TEST = "test"
STAGE_DISABLED = "disabled"

KIND_TEST = "test-deployment"
KIND_DISABLE = "disable-project"
KIND_ENABLE = "enable-project"
KIND_TRIGGER_ON = "enable-trigger"
KIND_TRIGGER_OFF = "disable-trigger"

#: Where ``OCTOWIZ_TEST_CRASH_AT`` can stop the process.
CRASH_POINTS = (
    "test-sent-not-recorded",
    "after-test-request",
    "disable-sent-not-recorded",
    "after-disable",
    "trigger-sent-not-recorded",
    "after-triggers-enabled",
    "reenable-sent-not-recorded",
    "after-reenable",
)

#: How far back the checklist looks for build-server activity, by default.
DEFAULT_LOOKBACK_DAYS = 90
#: The audit event category of a created document (a release, a pushed package, build information).
CREATED = "Created"


def crash_point(name: str) -> None:
    """Die here, abruptly, when a test asked for it (``OCTOWIZ_TEST_CRASH_AT``)."""
    if os.environ.get("OCTOWIZ_TEST_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


class CutoverError(Exception):
    """A cut-over step cannot go on; ``str()`` is the sentence to show. The journal stays consistent."""


# ---------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------


@dataclass
class CutoverEvent:
    """One thing a running cut-over step reports, for a progress display or a log line."""

    stage: str  # test | disable | triggers | reenable
    message: str
    percent: int | None = None
    log_tail: list[str] = field(default_factory=list)
    project: str | None = None


OnEvent = Callable[[CutoverEvent], None]


@dataclass
class Pusher:
    """Someone who pushed to the Server from outside Octopus: a build server's account, or a person.

    Attributes:
        who: the Octopus user name.
        is_service: True for a service account, False for a person, None when the Server did not say.
        what: what they pushed (``package Acme.Web 2.0.0``, ``release 1.4``, ``build information …``).
        last: when they last did (ISO 8601, as the Server wrote it).
        agent: the user agent of the requests (the build server's plug-in and its version), when known.
        with_api_key: True when the requests authenticated with an API key.
    """

    who: str
    is_service: bool | None
    what: list[str]
    last: str
    agent: str = ""
    with_api_key: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "who": self.who,
            "is_service": self.is_service,
            "what": self.what,
            "last": self.last,
            "agent": self.agent,
            "with_api_key": self.with_api_key,
        }


@dataclass
class ChecklistItem:
    """One thing to change in the build server; ``id`` is stable (``url:build-server``)."""

    id: str
    text: str
    done: bool = False


@dataclass
class ProjectChecklist:
    """A project's build-server checklist."""

    project_id: str
    name: str
    pushers: list[Pusher]
    items: list[ChecklistItem]
    note: str = ""

    @property
    def done(self) -> bool:
        """Every item is ticked off (a project with nothing to change is done)."""
        return all(i.done for i in self.items)


@dataclass
class Target:
    """A deployment target a test deployment will reach."""

    id: str
    name: str
    health: str
    disabled: bool

    @property
    def ready(self) -> bool:
        """Healthy (or healthy with warnings) and enabled: a deployment can run on it."""
        return not self.disabled and self.health in ("Healthy", "HasWarnings")


@dataclass
class TestPreview:
    """What a test deployment will do on Octopus Cloud, for the confirmation."""

    project_id: str
    project_name: str
    destination_id: str
    release_id: str
    release_version: str
    environment_id: str
    environment_name: str
    roles: list[str]
    targets: list[Target]
    releases: list[tuple[str, str]]  # (id, version) the caller may choose from, newest first
    environments: list[tuple[str, str]]  # (id, name) non-production environments to choose from

    def lines(self) -> list[str]:
        """The preview as sentences."""
        out = [
            f"Deploy release {self.release_version} of '{self.project_name}' to {self.environment_name} "
            "on Octopus Cloud."
        ]
        if not self.roles:
            out.append("Its steps target no roles: they run on workers.")
        elif not self.targets:
            out.append(
                f"No deployment target in {self.environment_name} has the role(s) "
                f"{', '.join(self.roles)}: the deployment will fail."
            )
        else:
            ready = [t for t in self.targets if t.ready]
            out.append(
                f"{len(self.targets)} target(s) with the role(s) {', '.join(self.roles)}, "
                f"{len(ready)} ready: "
                + ", ".join(f"{t.name} ({'disabled' if t.disabled else t.health})" for t in self.targets)
                + "."
            )
        return out


@dataclass
class TestResult:
    """How a test deployment ended."""

    project_id: str
    status: str  # passed | failed
    task_id: str | None
    sentence: str
    log_tail: list[str] = field(default_factory=list)


@dataclass
class DisableCheck:
    """Whether one project may be disabled on the Server, and why (for the preview)."""

    project_id: str
    name: str
    destination_id: str | None
    verified: bool
    targets_healthy: bool
    test_passed: bool
    state: str  # enabled | disabled (on the Server, as read now) | unknown
    reasons: list[str]  # sentences: what is missing, empty when it may be disabled
    notes: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        """May be disabled without an override."""
        return self.verified and self.targets_healthy and self.test_passed

    @property
    def overridable(self) -> bool:
        """May be disabled with a typed reason (never when it is not verified)."""
        return self.verified and not self.allowed


@dataclass
class DisableOutcome:
    """What a disable or a re-enable did."""

    project_id: str
    status: str  # done | overridden | rolled back | refused | failed
    sentence: str
    triggers: list[str] = field(default_factory=list)  # names of Cloud triggers enabled (or disabled again)


class MachineState(Protocol):
    """What the targets precondition reads of a machine (``targets.MachineRow`` has these)."""

    @property
    def name(self) -> str: ...

    @property
    def projects(self) -> list[str]: ...

    @property
    def cloud_state(self) -> str: ...


Confirm = Callable[[TestPreview], Awaitable[bool]]


# ---------------------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------------------

_PROD = re.compile(r"(^|[^a-z])prod", re.IGNORECASE)
_PRE_PROD = re.compile(r"pre[-_ ]?prod|non[-_ ]?prod", re.IGNORECASE)


def is_production(environment_name: str) -> bool:
    """True for an environment named as production (``Production``, ``Prod-EU``; not ``Pre-Production``).

    Octopus has no production flag on environments, so the name is what a person goes by too.
    """
    return bool(_PROD.search(environment_name)) and not _PRE_PROD.search(environment_name)


def targets_precondition(project_id: str, machines: Iterable[MachineState]) -> tuple[bool, str]:
    """Are all the machines a project reaches healthy on Octopus Cloud? ``(ok, sentence)``.

    A project that reaches no machine (runbooks on workers only) passes, with a sentence saying so.
    """
    # A machine the team left behind on purpose (engine/cutover/targets.leave_behind) does not count.
    mine = [mc for mc in machines if project_id in (mc.projects or []) and not getattr(mc, "left_behind", "")]
    if not mine:
        return True, "It reaches no deployment target."
    bad = [mc for mc in mine if mc.cloud_state != "healthy"]
    if not bad:
        return True, f"All {len(mine)} of its targets are healthy on Octopus Cloud."
    return False, (
        f"{len(bad)} of its {len(mine)} targets are not healthy on Octopus Cloud: "
        + ", ".join(f"{mc.name} ({mc.cloud_state})" for mc in bad)
        + "."
    )


def _roles(process: m.DeploymentProcess | None) -> list[str]:
    roles: dict[str, None] = {}
    for step in (process.steps if process else None) or []:
        raw = str((step.properties or {}).get("Octopus.Action.TargetRoles") or "")
        roles.update(dict.fromkeys(r.strip() for r in raw.split(",") if r.strip()))
    return list(roles)


def _builtin_package_ids(process: m.DeploymentProcess | None) -> set[str]:
    out: set[str] = set()
    for step in (process.steps if process else None) or []:
        for action in step.actions or []:
            for ref in action.packages or []:
                if (ref.feed_id or "").lower() == "feeds-builtin" and ref.package_id:
                    out.add(ref.package_id)
    return out


def _package_of(document_id: str, known: Iterable[str]) -> str | None:
    """The package id of a built-in feed package document (``packages-Acme.Web.1.2.0``)."""
    if not document_id.lower().startswith("packages-"):
        return None
    rest = document_id[len("packages-") :]
    matches = [p for p in known if rest.lower().startswith(p.lower() + ".")]
    return max(matches, key=len) if matches else None


def _is_api_key(event: m.Event) -> bool:
    return "api" in (event.identity_established_with or "").lower()


def mark_item(journal: Journal, project_id: str, item_id: str, done: bool = True) -> dict[str, Any]:
    """Tick off (or untick) one build-server item of a project; returns the stage's new detail.

    Blocking (a journal write): call it on a thread from async code. The checklist must have been
    made for the project (:meth:`Cutover.build_server_checklist`).

    Raises:
        ValueError: the project has no checklist, or no such item.
    """
    recorded = journal.item_status(ITEM, project_id, STAGE_BUILD)
    if recorded is None or not recorded[1]:
        raise ValueError(f"There is no build-server checklist for {project_id} yet: make it first.")
    detail = dict(recorded[1])
    items = [str(i["id"]) for i in detail.get("items") or []]
    if item_id not in items:
        raise ValueError(f"The build-server checklist of {project_id} has no item '{item_id}'.")
    done_ids = [i for i in detail.get("done") or [] if i != item_id]
    if done:
        done_ids.append(item_id)
    detail["done"] = [i for i in items if i in done_ids]
    status = "done" if set(items) <= set(detail["done"]) else "in progress"
    journal.set_item(ITEM, project_id, STAGE_BUILD, status, detail)
    return detail


# ---------------------------------------------------------------------------------------------------------
# The cut-over
# ---------------------------------------------------------------------------------------------------------


@dataclass
class CutoverSettings:
    """How the cut-over follows tasks, and how often a test deployment that failed transiently is sent again.

    ``recovery_attempts`` and ``recovery_wait``: see :class:`octowiz.engine.recovery.Recovery` (each try
    again first looks on Octopus Cloud for the deployment the lost request would have made).
    """

    poll_interval: float = 2.0
    task_timeout: float | None = 3600.0
    recovery_attempts: int = 3
    recovery_wait: float = 1.0


class Cutover:
    """The cut-over of one wave. Journal calls go to a thread (the journal is blocking SQLite).

    Args:
        journal: the migration's journal.
        wave: the wave's name.
        source: a discovered client of the Server.
        dest: a discovered client of Octopus Cloud.
        context: the context :func:`~octowiz.engine.cutover.targets.read_targets` needs to read the
            targets' states; None when the caller gives the machine states itself.
        on_event: progress reports.
        settings: polling and timeouts.
    """

    def __init__(
        self,
        journal: Journal,
        wave: str,
        source: OctopusClient,
        dest: OctopusClient,
        *,
        context: Context | None = None,
        on_event: OnEvent | None = None,
        settings: CutoverSettings | None = None,
    ) -> None:
        self.journal = journal
        self.wave = wave
        self.source = source
        self.dest = dest
        self.context = context
        self.on_event = on_event or (lambda e: None)
        self.settings = settings or CutoverSettings()

    async def _j(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kw)

    def _emit(self, stage: str, message: str, **kw: Any) -> None:
        self.on_event(CutoverEvent(stage, message, **kw))

    async def _project_ids(self) -> list[str]:
        waves = await self._j(self.journal.waves)
        ids = waves.get(self.wave)
        if not ids:
            raise CutoverError(f"There is no wave called '{self.wave}' in this migration.")
        return list(ids)

    async def _stages(self) -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:
        out: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        for _, pid, stage, status, detail in await self._j(self.journal.items, ITEM):
            out.setdefault(pid, {})[stage] = (status, detail or {})
        return out

    @staticmethod
    def _destination(stages: dict[str, tuple[str, dict[str, Any]]]) -> str | None:
        for stage in ("verify", "import"):
            value = stages.get(stage, ("", {}))[1].get("destination_id")
            if value:
                return str(value)
        return None

    # -- 1. the build server -------------------------------------------------------------------------

    async def build_server_checklist(
        self, *, since: dt.datetime | None = None, now: dt.datetime | None = None, record: bool = True
    ) -> list[ProjectChecklist]:
        """Who pushes to the wave's projects from outside Octopus, and what to change in the build server.

        Reads the Server in four bulk requests (plus pages): the wave's projects and their deployment
        processes by ``ids=``, the audit events of created documents since ``since`` (one listing
        filtered by ``eventCategories`` and ``from``), and the build information list. A release is the
        project's when the event names the project; a package when the project's process deploys it
        from the built-in feed. The checklist is recorded (stage ``build-server``), keeping items the
        team already ticked off.

        Args:
            since: how far back to look (default :data:`DEFAULT_LOOKBACK_DAYS` before ``now``).
            now: the current time (default: the clock's).
            record: record the checklist; False (or a read-only journal, a review) writes nothing.
        """
        record = record and not getattr(self.journal, "read_only", False)
        ids = await self._project_ids()
        now = now or dt.datetime.now(dt.UTC)
        since = since or now - dt.timedelta(days=DEFAULT_LOOKBACK_DAYS)
        projects = {str(p.id): p for p in await self.source.get_many("projects", ids, m.Project)}
        process_ids = [str(p.deployment_process_id) for p in projects.values() if p.deployment_process_id]
        processes, events, builds = await asyncio.gather(
            self.source.get_many("deploymentprocesses", process_ids, m.DeploymentProcess),
            self.source.events(eventCategories=CREATED, **{"from": since.isoformat()}),
            self.source.build_information(),
        )
        by_process = {str(p.id): p for p in processes}
        packages = {
            pid: _builtin_package_ids(by_process.get(str(p.deployment_process_id)))
            for pid, p in projects.items()
        }
        known = {pkg for pkgs in packages.values() for pkg in pkgs}
        seen: dict[str, dict[str, Pusher]] = {pid: {} for pid in projects}
        services = {e.username: bool(e.is_service) for e in events if e.username}

        def add(
            pid: str, who: str, is_service: bool | None, what: str, when: str, event: m.Event | None
        ) -> None:
            pusher = seen[pid].setdefault(who, Pusher(who, is_service, [], when))
            if what not in pusher.what:
                pusher.what.append(what)
            if when > pusher.last:
                pusher.last = when
            if event is not None:
                pusher.agent = pusher.agent or (event.user_agent or "")
                pusher.with_api_key = pusher.with_api_key or _is_api_key(event)

        for event in events:
            who = event.username or event.user_id or "unknown"
            related = [str(r) for r in event.related_document_ids or []]
            release = next((r for r in related if r.lower().startswith("releases-")), None)
            if release and any(r.lower().startswith("buildinformation-") for r in related):
                release = None
            if release:
                for pid in projects:
                    if pid in related:
                        add(pid, who, event.is_service, f"release ({release})", event.occurred or "", event)
                continue
            if any(r.lower().startswith("buildinformation-") for r in related):
                continue  # read from the build information list, which names the package
            for doc in related:
                package = _package_of(doc, known)
                if package is None:
                    continue
                version = doc[len("packages-") + len(package) + 1 :]
                for pid, pkgs in packages.items():
                    if package in pkgs:
                        add(
                            pid,
                            who,
                            event.is_service,
                            f"package {package} {version}",
                            event.occurred or "",
                            event,
                        )
        floor = since.isoformat()
        for build in builds:
            created = build.created or build.last_modified_on or ""
            if created and _comparable(created) < _comparable(floor):
                continue
            who = build.last_modified_by or "unknown"
            for pid, pkgs in packages.items():
                if build.package_id in pkgs:
                    what = f"build information {build.package_id} {build.version}"
                    add(pid, who, services.get(who), what, created, None)

        stages = await self._stages()
        out: list[ProjectChecklist] = []
        for pid in ids:
            if pid not in projects:
                continue
            pushers = sorted(seen[pid].values(), key=lambda p: p.who)
            items = self._items(pushers)
            recorded = stages.get(pid, {}).get(STAGE_BUILD, ("", {}))[1]
            done = set(recorded.get("done") or [])
            for item in items:
                item.done = item.id in done
            note = ""
            if not pushers:
                note = (
                    f"Nothing was pushed to it from outside Octopus since {since.date().isoformat()}: no "
                    "build server to repoint, unless its builds run rarely."
                )
            elif not items:
                note = "Only people created its releases, by hand: ask them to use Octopus Cloud from now on."
            checklist = ProjectChecklist(pid, str(projects[pid].name or pid), pushers, items, note)
            out.append(checklist)
            detail = {
                "items": [{"id": i.id, "text": i.text} for i in items],
                "done": [i.id for i in items if i.done],
                "pushers": [p.to_dict() for p in pushers],
                "since": since.isoformat(),
            }
            if not record:
                continue
            await self._j(
                self.journal.set_item,
                ITEM,
                pid,
                STAGE_BUILD,
                "done" if checklist.done else "in progress",
                detail,
            )
        return out

    def _items(self, pushers: Sequence[Pusher]) -> list[ChecklistItem]:
        server, cloud = self.source.base_url, self.dest.base_url
        items: list[ChecklistItem] = []
        for p in pushers:
            if not p.is_service and not p.with_api_key:
                continue  # a person in the web portal: nothing to change in a build server
            who = p.who
            items.append(
                ChecklistItem(
                    f"url:{who}",
                    f"In the build configurations that push as '{who}', change the Octopus URL from "
                    f"{server} to {cloud}.",
                )
            )
            key = (
                f"Give them the API key of a service account on Octopus Cloud (Configuration ➜ Users ➜ "
                f"Create service account, in a team allowed to push packages, build information and "
                f"create releases); the Server's key for '{who}' does not work there."
            )
            if not p.is_service:
                key += f" '{who}' is a person's account: use a service account instead of their key."
            items.append(ChecklistItem(f"apikey:{who}", key))
            seen = f" (seen: {p.agent})" if p.agent else ""
            items.append(
                ChecklistItem(
                    f"plugin:{who}",
                    f"Update the Octopus plug-in or CLI these builds use to the latest version{seen}, "
                    "so it speaks to Octopus Cloud's current API.",
                )
            )
        return items

    # -- 2. the test deployment ----------------------------------------------------------------------

    async def test_preview(
        self, project_id: str, *, release_id: str | None = None, environment_id: str | None = None
    ) -> TestPreview:
        """What a test deployment of a project would do on Octopus Cloud (read-only).

        Args:
            release_id: a release of the imported project on Octopus Cloud; default the newest.
            environment_id: a non-production environment on Octopus Cloud; default the first one in
                which targets have the project's roles, else the first non-production one.

        Raises:
            CutoverError: the project is not on Octopus Cloud, has no release, the environment is a
                production one or unknown, or there is no non-production environment.
        """
        stages = (await self._stages()).get(project_id, {})
        dst = self._destination(stages)
        if dst is None:
            raise CutoverError(
                f"{project_id} has not been imported to Octopus Cloud yet: migrate its wave first."
            )
        project = await self.dest.project(dst)
        releases, environments, process = await asyncio.gather(
            self.dest.releases(dst), self.dest.environments(), self.dest.deployment_process(project)
        )
        name = str(project.name or dst)
        if not releases:
            raise CutoverError(f"'{name}' has no release on Octopus Cloud to test with.")
        release = releases[0]
        if release_id is not None:
            found = next((r for r in releases if r.id == release_id), None)
            if found is None:
                raise CutoverError(f"'{name}' has no release {release_id} on Octopus Cloud.")
            release = found
        choices = [e for e in environments if not is_production(str(e.name or ""))]
        if not choices:
            raise CutoverError("Octopus Cloud has no non-production environment to test a deployment in.")
        roles = _roles(process)
        machines = await self.dest.machines(roles=",".join(roles)) if roles else []
        if environment_id is not None:
            env = next((e for e in environments if e.id == environment_id), None)
            if env is None:
                raise CutoverError(f"Octopus Cloud has no environment {environment_id}.")
            if is_production(str(env.name or "")):
                raise CutoverError(
                    f"'{env.name}' is a production environment: a test deployment goes to a non-production "
                    "one. Choose another."
                )
        else:
            env = next(
                (e for e in choices if any(e.id in (mc.environment_ids or []) for mc in machines)), choices[0]
            )
        targets = [
            Target(str(mc.id), str(mc.name), str(mc.health_status or "Unknown"), bool(mc.is_disabled))
            for mc in machines
            if env.id in (mc.environment_ids or []) and set(roles) & set(mc.roles or [])
        ]
        return TestPreview(
            project_id,
            name,
            dst,
            str(release.id),
            str(release.version),
            str(env.id),
            str(env.name),
            roles,
            targets,
            [(str(r.id), str(r.version)) for r in releases],
            [(str(e.id), str(e.name)) for e in choices],
        )

    async def run_test(self, preview: TestPreview, *, confirm: Confirm) -> TestResult:
        """Deploy the previewed release once the caller confirms, follow the task, record the result.

        A test whose request may have been sent before a crash is looked for first (a deployment of
        that release to that environment on Octopus Cloud that no earlier test recorded), so a rerun
        follows it instead of deploying twice.
        """
        pid = preview.project_id
        existing = await self._j(self.journal.item_status, ITEM, pid, STAGE_TEST)
        if existing and existing[0] == "running" and (existing[1] or {}).get("task_id"):
            return await self._follow_test(preview, str((existing[1] or {})["task_id"]))
        done = (existing[1] or {}) if existing and existing[0] == "passed" else {}
        wanted = (preview.release_version, preview.environment_name)
        if (done.get("release"), done.get("environment")) == wanted:
            # This release already passed there (a rerun after a crash that came after the test, or the
            # same test asked twice): the passed deployment stands; a second one would prove nothing new.
            tail = list(done.get("log_tail") or [])
            return TestResult(pid, "passed", done.get("task_id"), str(done.get("sentence") or ""), tail)
        found = await self._find_lost_test(preview)
        if found is not None:
            return await self._follow_test(preview, found)
        if not await confirm(preview):
            raise CutoverError("The test deployment was not confirmed; nothing was deployed.")
        body = {
            "ReleaseId": preview.release_id,
            "EnvironmentId": preview.environment_id,
            "Comments": "Test deployment after the migration to Octopus Cloud (octowiz).",
        }
        aid = await self._j(
            self.journal.begin_action,
            STEP,
            KIND_TEST,
            pid,
            {
                "project_id": pid,
                "destination_id": preview.destination_id,
                "release_id": preview.release_id,
                "release": preview.release_version,
                "environment_id": preview.environment_id,
                "environment": preview.environment_name,
            },
        )
        self._emit("test", f"Deploying {preview.release_version} to {preview.environment_name}", project=pid)
        before = {d.id for d in await self.dest.deployments([preview.destination_id], take=30)}

        async def find() -> m.Deployment | None:
            # A deployment of this release there that was not there before this request: the lost answer's.
            for d in await self.dest.deployments([preview.destination_id], take=30):
                if d.id not in before and (d.release_id, d.environment_id) == (
                    preview.release_id,
                    preview.environment_id,
                ):
                    return d
            return None

        recovery = Recovery(self.settings.recovery_attempts, self.settings.recovery_wait)
        try:
            deployment = await recovery.send_or_find(lambda: self.dest.create_deployment(body), find)
        except OctopusError as exc:
            await self._j(self.journal.finish_action, aid, "failed", {"error": str(exc)})
            sentence = f"Octopus Cloud refused the test deployment of '{preview.project_name}': {exc}"
            await self._record_test(pid, "failed", None, sentence, preview)
            return TestResult(pid, "failed", None, sentence)
        crash_point("test-sent-not-recorded")
        task_id = str(deployment.task_id)
        await self._j(self.journal.finish_action, aid, "started", {"deployment_id": deployment.id}, task_id)
        await self._record_test(pid, "running", task_id, "", preview)
        crash_point("after-test-request")
        return await self._follow_test(preview, task_id)

    async def _find_lost_test(self, preview: TestPreview) -> str | None:
        pending = [
            a
            for a in await self._j(self.journal.actions, None, STEP)
            if a.kind == KIND_TEST and a.target == preview.project_id and a.pending
        ]
        if not pending:
            return None
        recorded = {
            a.task_id
            for a in await self._j(self.journal.actions, None, STEP)
            if a.kind == KIND_TEST and a.task_id
        }
        for deployment in await self.dest.deployments([preview.destination_id], take=30):
            intent = pending[0].intent
            if (
                deployment.release_id == intent.get("release_id")
                and deployment.environment_id == intent.get("environment_id")
                and deployment.task_id not in recorded
            ):
                task_id = str(deployment.task_id)
                for action in pending:
                    await self._j(
                        self.journal.finish_action,
                        action.id,
                        "started",
                        {"deployment_id": deployment.id, "reconciled": True},
                        task_id,
                    )
                await self._record_test(preview.project_id, "running", task_id, "", preview)
                return task_id
        for action in pending:  # it never reached Octopus Cloud
            await self._j(
                self.journal.finish_action, action.id, "failed", {"error": "not found on Octopus Cloud"}
            )
        return None

    async def _record_test(
        self,
        pid: str,
        status: str,
        task_id: str | None,
        sentence: str,
        preview: TestPreview,
        tail: list[str] | None = None,
    ) -> None:
        detail = {
            "task_id": task_id,
            "release": preview.release_version,
            "environment": preview.environment_name,
            "sentence": sentence,
            "log_tail": tail or [],
        }
        await self._j(self.journal.set_item, ITEM, pid, STAGE_TEST, status, detail)

    async def _follow_test(self, preview: TestPreview, task_id: str) -> TestResult:
        pid = preview.project_id
        tail: list[str] = []

        async def progress(p: TaskProgress) -> None:
            tail[:] = [line for line in p.log_tail if line]
            self._emit(
                "test",
                f"Test deployment: {p.task.state} {p.percent}%",
                percent=p.percent,
                log_tail=tail,
                project=pid,
            )

        try:
            await self.dest.wait_for_task(
                task_id,
                on_progress=progress,
                poll_interval=self.settings.poll_interval,
                timeout=self.settings.task_timeout,
            )
        except TaskFailed as exc:
            sentence = (
                f"The test deployment of '{preview.project_name}' to {preview.environment_name} failed "
                f"(task {task_id}): {exc.error_message or exc}"
            )
            await self._record_test(pid, "failed", task_id, sentence, preview, tail)
            return TestResult(pid, "failed", task_id, sentence, tail)
        except TimeoutError:
            raise CutoverError(
                f"The test deployment task {task_id} is still running on Octopus Cloud; octowiz stopped "
                "waiting. Running the test again follows the same task."
            ) from None
        sentence = (
            f"Release {preview.release_version} of '{preview.project_name}' deployed to "
            f"{preview.environment_name} on Octopus Cloud (task {task_id})."
        )
        await self._record_test(pid, "passed", task_id, sentence, preview, tail)
        return TestResult(pid, "passed", task_id, sentence, tail)

    # -- 3. disabling the Server's copy --------------------------------------------------------------

    async def machine_states(self) -> Sequence[MachineState]:
        """The wave's machines with their state on Octopus Cloud, read once in bulk.

        Callers disabling several projects read this once and pass it to each :meth:`disable`:
        disabling on the Server changes nothing on Cloud, and reading it per project cost a whole
        read of every target each time (828 requests for a 30-project wave, measured).
        """
        return await self._machines(None)

    async def _machines(self, machines: Sequence[MachineState] | None) -> Sequence[MachineState]:
        if machines is not None:
            return machines
        from octowiz.engine.cutover import targets

        # The open clients are handed over, so the context is not used to open others.
        context = cast("Context", self.context)
        report = await targets.read_targets(
            context, self.journal, self.wave, clients=(self.source, self.dest)
        )
        return list(report.rows)

    async def disable_preview(
        self, project_ids: Sequence[str] | None = None, *, machines: Sequence[MachineState] | None = None
    ) -> list[DisableCheck]:
        """Each project's preconditions for being disabled on the Server, and why it may or may not be.

        Args:
            project_ids: a subset of the wave (default: all of it).
            machines: the machines' states; default read from Octopus Cloud through ``targets.read_targets``.
        """
        ids = list(project_ids or await self._project_ids())
        stages = await self._stages()
        rows = await self._machines(machines)
        on_server = {str(p.id): p for p in await self.source.get_many("projects", ids, m.Project)}
        out = []
        for pid in ids:
            st = stages.get(pid, {})
            project = on_server.get(pid)
            name = str(project.name) if project is not None else pid
            verify_status = st.get("verify", ("", {}))[0]
            verified = verify_status == "done"
            healthy, targets_sentence = targets_precondition(pid, rows)
            test_status, test_detail = st.get(STAGE_TEST, ("", {}))
            passed = test_status == "passed"
            reasons: list[str] = []
            notes = [targets_sentence] if healthy else []
            if not verified:
                reasons.append(
                    f"'{name}' is not verified on Octopus Cloud"
                    + (" (its verification found differences)" if verify_status == "differences" else "")
                    + ": it cannot be disabled on the Server until its migration is verified."
                )
            if not healthy:
                reasons.append(targets_sentence)
            if not passed:
                reasons.append(
                    "Its test deployment on Octopus Cloud failed."
                    if test_status == "failed"
                    else "No test deployment on Octopus Cloud has passed yet."
                )
            if test_detail.get("sentence") and passed:
                notes.append(str(test_detail["sentence"]))
            state = "unknown" if project is None else ("disabled" if project.is_disabled else "enabled")
            out.append(
                DisableCheck(
                    pid, name, self._destination(st), verified, healthy, passed, state, reasons, notes
                )
            )
        return out

    async def unfinished(self) -> set[str]:
        """Projects whose disable or re-enable a run left half done (an action without its outcome).

        Their Server project may already show the new state, so choosing projects by that state alone
        would never finish them: callers add these to what they disable or re-enable.
        """
        kinds = (KIND_DISABLE, KIND_ENABLE, KIND_TRIGGER_ON, KIND_TRIGGER_OFF)
        actions = await self._j(self.journal.actions, None, STEP)
        stages = await self._stages()
        out = set()
        latest: dict[str, Any] = {}
        for a in actions:  # newest first
            if a.pending and a.kind in kinds:
                out.add(str(a.intent.get("project_id") or a.target))
            if a.kind in (KIND_DISABLE, KIND_ENABLE):
                latest.setdefault(a.target, a)
        for pid, a in latest.items():
            # The last disable went through but the run stopped before recording the project's stage.
            recorded = stages.get(pid, {}).get(STAGE_DISABLED, ("", {}))[0]
            if (
                a.kind == KIND_DISABLE
                and a.outcome in ("done", "overridden")
                and recorded
                not in (
                    "done",
                    "overridden",
                )
            ):
                out.add(pid)
        return out

    async def _last_disable(self, pid: str) -> Any:
        for action in await self._j(self.journal.actions, None, STEP):
            if action.target == pid and action.kind in (KIND_DISABLE, KIND_ENABLE):
                return action if action.kind == KIND_DISABLE else None
        return None

    async def disable(
        self,
        project_id: str,
        *,
        override: str | None = None,
        machines: Sequence[MachineState] | None = None,
    ) -> DisableOutcome:
        """Disable the project on the Server, then enable its held triggers on Octopus Cloud.

        The preconditions are checked first (:meth:`disable_preview`); a project that is not verified is
        refused, and one whose targets or test are not ready needs ``override`` (a reason, recorded).
        The Server's project is read before the request, so it is never disabled twice: after a crash
        the rerun finds it disabled, closes the interrupted action and goes on with the triggers.
        """
        last = await self._last_disable(project_id)
        resuming = last is not None and (last.pending or last.outcome in ("done", "overridden"))
        (check,) = await self.disable_preview([project_id], machines=machines) if not resuming else (None,)
        reason = (override or "").strip()
        if check is not None:
            if not check.verified:
                sentence = " ".join(check.reasons[:1])
                return DisableOutcome(project_id, "refused", sentence)
            if not check.allowed and not reason:
                return DisableOutcome(
                    project_id,
                    "refused",
                    " ".join(check.reasons) + " Type a reason to disable it anyway (the journal records it).",
                )
        status = "done" if check is None or check.allowed else "overridden"
        if resuming and last is not None:
            status = str(last.intent.get("status") or "done")
            reason = str(last.intent.get("override") or "")
        project = await self.source.project(project_id)
        name = str(project.name or project_id)
        path = self.source.space_path(f"projects/{project_id}")
        undo = {"instance": "server", "method": "PUT", "path": path, "IsDisabled": False}
        # Every attempt a run died in, not only the last: a rerun can die too before it records its own.
        pending = [
            a
            for a in await self._j(self.journal.actions, None, STEP)
            if a.kind == KIND_DISABLE and a.target == project_id and a.pending
        ]
        earlier = {a.id for a in pending}
        if not project.is_disabled:
            aid = await self._j(
                self.journal.begin_action,
                STEP,
                KIND_DISABLE,
                project_id,
                {"project_id": project_id, "name": name, "status": status, "override": reason or None},
                undo,
            )
            self._emit("disable", f"Disabling '{name}' on the Server", project=name)
            try:
                await self.source.set_project_disabled(project_id, True)
            except OctopusError as exc:
                sentence = f"The Server did not disable '{name}': {exc}"
                await self._j(self.journal.finish_action, aid, "failed", {"error": str(exc)})
                for action in pending:
                    await self._j(self.journal.finish_action, action.id, "failed", {"error": "superseded"})
                return DisableOutcome(project_id, "failed", sentence)
            crash_point("disable-sent-not-recorded")
            pending.append(await self._action(aid))
        for action in pending:
            await self._j(
                self.journal.finish_action,
                action.id,
                status,
                {
                    "undo": undo,
                    "sentence": f"Disabled '{name}' on the Server.",
                    "reconciled": action.id in earlier,
                },
            )
        if not pending and not resuming:
            # Someone disabled it by hand already: recorded, and nothing sent.
            aid = await self._j(
                self.journal.begin_action,
                STEP,
                KIND_DISABLE,
                project_id,
                {"project_id": project_id, "name": name, "status": status, "override": reason or None},
                undo,
            )
            await self._j(
                self.journal.finish_action,
                aid,
                status,
                {"undo": undo, "sentence": f"'{name}' was already disabled on the Server.", "found": True},
            )
        crash_point("after-disable")
        enabled = await self._set_triggers(project_id, enable=True)
        crash_point("after-triggers-enabled")
        sentence = f"'{name}' is disabled on the Server" + (
            f"; {len(enabled)} trigger(s) enabled on Octopus Cloud: {', '.join(enabled)}." if enabled else "."
        )
        if status == "overridden":
            sentence += f" Preconditions overridden: {reason}"
        await self._j(
            self.journal.set_item,
            ITEM,
            project_id,
            STAGE_DISABLED,
            status,
            {"sentence": sentence, "override": reason or None, "triggers": enabled},
        )
        self._emit("disable", sentence, project=name)
        return DisableOutcome(project_id, status, sentence, enabled)

    async def _action(self, action_id: int) -> Any:
        return next(a for a in await self._j(self.journal.actions, None, STEP) if a.id == action_id)

    async def _set_triggers(self, project_id: str, *, enable: bool) -> list[str]:
        """Enable the project's held triggers on Octopus Cloud, or disable again those the cut-over enabled.

        Enabling: every Cloud trigger disabled whose Server twin (same name) is enabled. Disabling: the
        triggers this project's cut-over enabled (journal), where Octopus Cloud shows them enabled.
        Each change is an action with its undo; a rerun changes only what is not yet as wanted.
        """
        dst = self._destination((await self._stages()).get(project_id, {}))
        if dst is None:
            return []
        server, cloud = await asyncio.gather(self.source.triggers(project_id), self.dest.triggers(dst))
        if enable:
            on_server = {str(t.name).lower() for t in server if not t.is_disabled}
            wanted = [t for t in cloud if t.is_disabled and str(t.name).lower() in on_server]
            done = [str(t.name) for t in cloud if not t.is_disabled and str(t.name).lower() in on_server]
        else:
            ours = {
                str(a.intent.get("trigger_id"))
                for a in await self._j(self.journal.actions, None, STEP)
                if a.kind == KIND_TRIGGER_ON
                and a.intent.get("project_id") == project_id
                and a.outcome == "done"
            }
            wanted = [t for t in cloud if not t.is_disabled and str(t.id) in ours]
            done = [str(t.name) for t in cloud if t.is_disabled and str(t.id) in ours]
        kind = KIND_TRIGGER_ON if enable else KIND_TRIGGER_OFF
        # Attempts a crash interrupted: done when Octopus Cloud shows the change, else sent again below.
        applied = {str(t.id) for t in cloud if bool(t.is_disabled) != enable}
        for action in await self._j(self.journal.actions, None, STEP):
            if action.kind != kind or not action.pending or action.intent.get("project_id") != project_id:
                continue
            trigger_id = str(action.intent.get("trigger_id"))
            if trigger_id in applied:
                await self._j(
                    self.journal.finish_action,
                    action.id,
                    "done",
                    {"undo": action.undo, "reconciled": True},
                )
            else:
                await self._j(
                    self.journal.finish_action,
                    action.id,
                    "failed",
                    {"error": "interrupted before Octopus Cloud applied it; sent again"},
                )
        for trigger in wanted:
            path = self.dest.space_path(f"projecttriggers/{trigger.id}")
            aid = await self._j(
                self.journal.begin_action,
                STEP,
                kind,
                f"{project_id}/{trigger.name}",
                {"project_id": project_id, "trigger_id": trigger.id, "name": trigger.name},
                {"instance": "cloud", "method": "PUT", "path": path, "IsDisabled": enable},
            )
            try:
                await self.dest.set_trigger_disabled(str(trigger.id), not enable)
            except OctopusError as exc:
                await self._j(self.journal.finish_action, aid, "failed", {"error": str(exc)})
                raise CutoverError(
                    f"Octopus Cloud did not {'enable' if enable else 'disable'} the trigger "
                    f"'{trigger.name}': {exc} Running this again continues from there."
                ) from None
            crash_point("trigger-sent-not-recorded")
            await self._j(
                self.journal.finish_action,
                aid,
                "done",
                {"undo": {"instance": "cloud", "method": "PUT", "path": path, "IsDisabled": enable}},
            )
            done.append(str(trigger.name))
            self._emit(
                "triggers", f"Trigger '{trigger.name}' {'enabled' if enable else 'disabled'} on Octopus Cloud"
            )
        return sorted(done)

    async def reenable(self, project_id: str) -> DisableOutcome:
        """Roll back: the Server's project enabled again, the Cloud triggers the cut-over enabled disabled.

        The Server's project is read first, so a rerun after a crash never sends the change twice.
        """
        project = await self.source.project(project_id)
        name = str(project.name or project_id)
        path = self.source.space_path(f"projects/{project_id}")
        undo = {"instance": "server", "method": "PUT", "path": path, "IsDisabled": True}
        pending = [
            a
            for a in await self._j(self.journal.actions, None, STEP)
            if a.kind == KIND_ENABLE and a.target == project_id and a.pending
        ]
        if project.is_disabled:
            aid = await self._j(
                self.journal.begin_action,
                STEP,
                KIND_ENABLE,
                project_id,
                {"project_id": project_id, "name": name},
                undo,
            )
            self._emit("reenable", f"Enabling '{name}' on the Server again", project=name)
            try:
                await self.source.set_project_disabled(project_id, False)
            except OctopusError as exc:
                await self._j(self.journal.finish_action, aid, "failed", {"error": str(exc)})
                return DisableOutcome(
                    project_id, "failed", f"The Server did not enable '{name}' again: {exc}"
                )
            crash_point("reenable-sent-not-recorded")
            pending.append(await self._action(aid))
        for action in pending:
            await self._j(
                self.journal.finish_action,
                action.id,
                "done",
                {"undo": undo, "sentence": f"Enabled '{name}' on the Server again."},
            )
        crash_point("after-reenable")
        disabled = await self._set_triggers(project_id, enable=False)
        sentence = f"'{name}' is enabled on the Server again" + (
            f"; {len(disabled)} trigger(s) disabled on Octopus Cloud again: {', '.join(disabled)}."
            if disabled
            else "."
        )
        await self._j(
            self.journal.set_item,
            ITEM,
            project_id,
            STAGE_DISABLED,
            "rolled back",
            {"sentence": sentence, "triggers": disabled},
        )
        self._emit("reenable", sentence, project=name)
        return DisableOutcome(project_id, "rolled back", sentence, disabled)


def _comparable(stamp: str) -> float:
    """An ISO 8601 timestamp in seconds (0 when unreadable), to compare across time zones."""
    try:
        parsed = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


@contextlib.asynccontextmanager
async def open_cutover(context: Context, journal: Journal, wave: str, **kw: Any) -> AsyncIterator[Cutover]:
    """Open both instances of a migration and give a :class:`Cutover` of one of its waves.

    Args:
        **kw: ``on_event`` and ``settings``, as :class:`Cutover` takes them.
    """
    from octowiz.engine.session import clients

    values = await asyncio.to_thread(lambda: journal.settings)
    async with clients(context, values) as (source, dest):
        assert dest is not None
        yield Cutover(journal, wave, source, dest, context=context, **kw)


__all__ = [
    "CRASH_POINTS",
    "STEP",
    "ChecklistItem",
    "Cutover",
    "CutoverError",
    "CutoverEvent",
    "CutoverSettings",
    "DisableCheck",
    "DisableOutcome",
    "ProjectChecklist",
    "Pusher",
    "Target",
    "TestPreview",
    "TestResult",
    "is_production",
    "mark_item",
    "open_cutover",
    "targets_precondition",
]
