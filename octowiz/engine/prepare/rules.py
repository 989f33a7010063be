"""The readiness rules (registered on import). Each has a test where it fires and one where it is quiet."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from octowiz.engine.prepare.hosts import host_problem, uri_host
from octowiz.engine.prepare.inventory import Inventory
from octowiz.engine.prepare.readiness import DOCS, Finding, Item, rule
from octowiz.octopus import models as m


@rule("version.export-import", "Octopus versions")
def versions(inv: Inventory) -> list[Finding]:
    """Rule 1: the source must have Export/Import (2021.1+) and not be newer than the destination."""
    out: list[Finding] = []
    doc = f"{DOCS}/projects/export-import"
    server = Item("server", inv.source_url, f"Octopus {inv.version}")
    if not inv.version.at_least(2021, 1):
        out.append(
            Finding(
                "version.export-import",
                "blocker",
                "The Server is too old for Export/Import",
                f"Octopus {inv.version} predates Project Export/Import, which arrived in 2021.1.",
                "Upgrade the Server to 2021.1 or newer (ideally the latest), then rescan.",
                doc,
                [server],
                everything=True,
            )
        )
    dest = inv.destination
    if dest is not None and inv.version > dest.version:
        out.append(
            Finding(
                "version.export-import",
                "blocker",
                "The Server is newer than Octopus Cloud",
                f"Export/Import moves projects only to an equal or newer version; Cloud runs {dest.version}.",
                "Wait until the Cloud instance is upgraded, or ask Octopus support.",
                doc,
                [server, Item("cloud", dest.url, f"Octopus {dest.version}")],
                everything=True,
            )
        )
    elif dest is not None and inv.version < dest.version and inv.version.at_least(2021, 1):
        out.append(
            Finding(
                "version.export-import",
                "info",
                "The Server is not on the latest version",
                f"Cloud runs {dest.version}; exporting from a recent Server avoids known Export/Import "
                "problems.",
                "Consider upgrading the Server before the first wave.",
                f"{DOCS}/administration/upgrading",
                [server],
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------------------

BUILT_IN_FEED_ID = "feeds-builtin"
ADMINISTRATORS_TEAM_ID = "teams-administrators"
#: Sign-in providers Octopus Cloud does not offer, by configuration section id.
UNAVAILABLE_AUTH_SECTIONS = {
    "authentication-directoryservices": "Active Directory",
    "authentication-ldap": "LDAP",
}
#: Sections whose groups Cloud can map to teams (Azure AD, Okta).
GROUP_CAPABLE_SECTIONS = ("authentication-aad", "authentication-od")
#: Projects with more releases than this fail to export.
EXPORT_RELEASE_LIMIT = 2100
#: The first Server version that exports version-controlled projects.
VCS_EXPORT_VERSION = (2025, 2, 5601)
GB = 1000**3
CLOUD_FILE_STORAGE = 1000 * GB  # paid plans
CLOUD_COMMUNITY_STORAGE = 20 * GB
#: Octopus Cloud's limit for one package, the one value both the readiness rule and the package copy
#: (:mod:`octowiz.engine.migrate.gaps`) use. Octopus states it as "5 GB" (octopus-api.md §11.4) without
#: saying which gigabyte; octowiz reads it as 5 GiB (5 x 1024^3 bytes), the unit .NET code and the
#: simulated Cloud count in. Were Octopus to mean 5 x 1000^3, the 7% between the two would show as a
#: refused upload (413) that gaps reports, rather than octowiz refusing packages Cloud accepts.
CLOUD_PACKAGE_LIMIT = 5 * 1024**3
CLOUD_RETENTION_DAYS = 30
TENTACLE_STYLES = {"TentaclePassive": "listening Tentacle", "TentacleActive": "polling Tentacle"}
RECREATE_STYLES = {
    "Ssh": "SSH",
    "Kubernetes": "Kubernetes cluster",
    "KubernetesTentacle": "Kubernetes agent",
    "AzureWebApp": "Azure Web App",
    "AzureCloudService": "Azure Cloud Service",
    "AzureServiceFabricCluster": "Azure Service Fabric",
    "None": "Cloud Region",
    "OfflineDrop": "Offline Package Drop",
    "StepPackage": "step-package (e.g. AWS ECS)",
    "AwsEcsCluster": "AWS ECS cluster",
    "Ftp": "FTP",
}


def _plural(count: int, word: str, plural: str | None = None) -> str:
    """``1 step``, ``2 steps``."""
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def _verb(count: int, singular: str, plural: str) -> str:
    """The verb form that agrees with ``count``."""
    return singular if count == 1 else plural


def _size(n: int) -> str:
    """A byte count for people (decimal units, as Octopus states its limits)."""
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000:
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.2f} TB"


def _listing(values: Iterable[str], limit: int = 5) -> str:
    """``a, b, c`` or ``a, b, c and 4 more``."""
    items = list(values)
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown


def _by_name(inv: Inventory, project_ids: Iterable[str]) -> list[str]:
    """Project ids ordered by project name (stable output)."""
    names = {str(p.id): str(p.name or p.id).lower() for p in inv.projects}
    return sorted(set(project_ids), key=lambda p: (names.get(p, p.lower()), p))


@dataclass(frozen=True)
class ActionRef:
    """An action of a deployment or runbook process, with where it lives."""

    project_id: str
    where: str  # "deployment process" or "runbook <name>"
    step: m.DeploymentStep
    action: m.DeploymentAction
    runbook: m.Runbook | None = None

    @property
    def label(self) -> str:
        """``Step name`` (or ``Step / Action`` when they differ)."""
        step, action = self.step.name or "", self.action.name or ""
        return step if not action or action == step else f"{step} / {action}"

    @property
    def item_id(self) -> str:
        return str(self.action.id or self.step.id or f"{self.project_id}:{self.label}")


def _actions(inv: Inventory) -> Iterator[ActionRef]:
    """Every action of every deployment process and runbook process."""
    for pid, process in inv.processes.items():
        for step in process.steps or []:
            for action in step.actions or []:
                yield ActionRef(pid, "deployment process", step, action)
    runbooks = {r.id: r for r in inv.runbooks}
    for rid, rb_process in inv.runbook_processes.items():
        runbook = runbooks.get(rid)
        pid = str(rb_process.project_id or (runbook.project_id if runbook else "") or "")
        where = f"runbook {runbook.name}" if runbook is not None else f"runbook {rid}"
        for step in rb_process.steps or []:
            for action in step.actions or []:
                yield ActionRef(pid, where, step, action, runbook)


def _default_pool(inv: Inventory) -> m.WorkerPool | None:
    return next((p for p in inv.worker_pools if p.is_default), None)


def _built_in_feeds(inv: Inventory) -> set[str]:
    return {str(f.id) for f in inv.feeds if f.feed_type == "BuiltIn" and f.id} | {BUILT_IN_FEED_ID}


def _roles(ref: ActionRef) -> set[str]:
    raw = (ref.step.properties or {}).get("Octopus.Action.TargetRoles") or ref.action.property_value(
        "Octopus.Action.TargetRoles"
    )
    if isinstance(raw, dict):
        raw = raw.get("Value")
    return {r.strip() for r in str(raw or "").split(",") if r.strip()}


class Targeting:
    """Best-effort: which projects deploy to a target (by role and environment) or run on a worker's pools.

    A project's environments come from its lifecycle and its channels' lifecycles (a lifecycle without
    phases means every environment); a runbook's from its environment scope; an action's environment
    filters narrow them. Workers are matched through the pools their actions name (an action that runs on
    a worker without naming a pool uses the default pool).
    """

    def __init__(self, inv: Inventory) -> None:
        every = frozenset(str(e.id) for e in inv.environments)
        lifecycles = {lc.id: lc for lc in inv.lifecycles}

        def lifecycle_envs(lifecycle_id: str | None) -> frozenset[str]:
            lc = lifecycles.get(lifecycle_id)
            if lc is None:
                return frozenset()
            if not lc.phases:
                return every
            return frozenset(
                e for ph in lc.phases for e in [*(ph.automatic_deployment_targets or []),
                                                *(ph.optional_deployment_targets or [])]
            )  # fmt: skip

        project_envs: dict[str, frozenset[str]] = {}
        for p in inv.projects:
            reachable = set(lifecycle_envs(p.lifecycle_id))
            for c in inv.channels:
                if c.project_id == p.id and c.lifecycle_id:
                    reachable |= lifecycle_envs(c.lifecycle_id)
            project_envs[str(p.id)] = frozenset(reachable)
        default = _default_pool(inv)
        self.by_role_env: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.by_pool: dict[str, set[str]] = defaultdict(set)
        for ref in _actions(inv):
            envs: frozenset[str]
            if ref.runbook is not None:
                scope = ref.runbook.environment_scope or "All"
                if scope == "Specified":
                    envs = frozenset(ref.runbook.environments or [])
                elif scope == "FromProjectLifecycles":
                    envs = project_envs.get(ref.project_id, every)
                else:
                    envs = every
            else:
                envs = project_envs.get(ref.project_id, every)
            if ref.action.environments:
                envs = envs & frozenset(ref.action.environments)
            envs = envs - frozenset(ref.action.excluded_environments or [])
            for role in _roles(ref):
                for env in envs:
                    self.by_role_env[(role, env)].add(ref.project_id)
            pool = ref.action.worker_pool_id
            if not pool and ref.action.run_on_server and not ref.action.worker_pool_variable and default:
                pool = default.id
            if pool:
                self.by_pool[pool].add(ref.project_id)

    def for_target(self, machine: m.Machine) -> set[str]:
        """Projects whose steps target this machine's roles in its environments."""
        out: set[str] = set()
        for role in machine.roles or []:
            for env in machine.environment_ids or []:
                out |= self.by_role_env.get((role, env), set())
        return out

    def for_worker(self, worker: m.Worker) -> set[str]:
        """Projects whose steps run on one of this worker's pools."""
        out: set[str] = set()
        for pool in worker.worker_pool_ids or []:
            out |= self.by_pool.get(pool, set())
        return out

    def for_machine(self, machine: m.MachineBase) -> set[str]:
        if isinstance(machine, m.Machine):
            return self.for_target(machine)
        if isinstance(machine, m.Worker):
            return self.for_worker(machine)
        return set()


def _machines(inv: Inventory) -> Iterator[tuple[str, m.MachineBase]]:
    """Targets (kind ``target``) then workers (kind ``worker``)."""
    for t in inv.machines:
        yield "target", t
    for w in inv.workers:
        yield "worker", w


def _machine_uri(machine: m.MachineBase) -> str | None:
    endpoint = machine.endpoint
    uri = getattr(endpoint, "uri", None) if endpoint is not None else None
    return str(uri) if uri else machine.uri


# ---------------------------------------------------------------------------------------------------------
# Rule 2: sign-in providers Cloud does not offer
# ---------------------------------------------------------------------------------------------------------

_AD_LDAP = {"active directory", "ldap"}


def _is_directory_group(group: m.NamedReferenceItem, others_mappable: bool) -> bool:
    """An AD group (a SID) or an LDAP group (a DN); any group when no Cloud-mappable provider is on."""
    gid = str(group.id or "")
    return gid.upper().startswith("S-1-") or "=" in gid or not others_mappable


@rule("auth.ad-ldap", "Sign-in providers")
def auth_providers(inv: Inventory) -> list[Finding]:
    """Rule 2: AD and LDAP sign-in, the users who depend on them, and teams mapped to their groups."""
    out: list[Finding] = []
    doc = f"{DOCS}/security/authentication/auth-provider-compatibility"
    if inv.enabled_sections:
        enabled = [
            (sid, name) for sid, name in UNAVAILABLE_AUTH_SECTIONS.items() if inv.enabled_sections.get(sid)
        ]
    else:
        enabled = [(p, p) for p in inv.auth_providers if p.lower() in _AD_LDAP]
    if enabled:
        names = " and ".join(name for _, name in enabled)
        out.append(
            Finding(
                "auth.ad-ldap",
                "warning",
                f"{names} sign-in is not available on Octopus Cloud",
                "Octopus Cloud offers Azure AD, Google, Okta, Guest and Octopus ID sign-in, but not Active "
                "Directory or LDAP.",
                "Choose a Cloud sign-in provider for these people (Azure AD or Okta can map groups and "
                "create users automatically) and tell them how they will sign in.",
                doc,
                [Item("provider", sid, name, f"enabled on the Server ({sid})") for sid, name in enabled],
            )
        )
    stranded: list[Item] = []
    for user in sorted(inv.users, key=lambda u: str(u.username or "").lower()):
        identities = user.identities or []
        providers = {str(i.identity_provider_name or "") for i in identities}
        if not identities or not all(p.lower() in _AD_LDAP for p in providers):
            continue
        evidence = []
        for ident in identities:
            claims = ident.claims or {}
            key = next((c.value for c in claims.values() if c.is_identifying_claim and c.value), None)
            evidence.append(
                f"{ident.identity_provider_name} ({key})" if key else str(ident.identity_provider_name)
            )
        notes = "" if user.is_active is not False else "; inactive"
        email = f" <{user.email_address}>" if user.email_address else ""
        stranded.append(
            Item("user", str(user.id), str(user.display_name or user.username),
                 f"{user.username}{email} signs in only with {', '.join(evidence)}{notes}")
        )  # fmt: skip
    if stranded:
        out.append(
            Finding(
                "auth.ad-ldap",
                "warning",
                f"{_plural(len(stranded), 'user')} can sign in only through Active Directory or LDAP",
                "Users are not exported, and these ones have no sign-in that Octopus Cloud supports.",
                "Create them on Cloud with a supported provider (match them by email address), or turn on "
                "automatic user creation with Azure AD or Okta.",
                doc,
                stranded,
            )
        )
    mappable = any(inv.enabled_sections.get(s) for s in GROUP_CAPABLE_SECTIONS)
    teams: list[Item] = []
    for team in sorted(inv.teams, key=lambda t: str(t.name or "").lower()):
        groups = [g for g in team.external_security_groups or [] if _is_directory_group(g, mappable)]
        if groups:
            shown = ", ".join(str(g.display_name or g.id) for g in groups)
            teams.append(Item("team", str(team.id), str(team.name), f"external groups: {shown}"))
    if teams:
        out.append(
            Finding(
                "auth.ad-ldap",
                "warning",
                f"{_plural(len(teams), 'team')} {_verb(len(teams), 'gets', 'get')} members from Active "
                "Directory or LDAP groups",
                "Octopus Cloud cannot map Active Directory or LDAP groups to teams (only Azure AD and Okta "
                "groups).",
                "On Cloud, add these teams' members by hand or map equivalent Azure AD or Okta groups.",
                f"{DOCS}/security/users-and-teams/external-groups-and-roles",
                teams,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Rule 3: Octopus Administrators
# ---------------------------------------------------------------------------------------------------------


@rule("auth.administrators", "Octopus Administrators")
def administrators(inv: Inventory) -> list[Finding]:
    """Rule 3: members of Octopus Administrators; Cloud's top customer role is Octopus Manager."""
    team = next((t for t in inv.teams if t.id == ADMINISTRATORS_TEAM_ID), None)
    if team is None:
        return []
    users = {u.id: u for u in inv.users}
    items: list[Item] = []
    for uid in team.member_user_ids or []:
        user = users.get(uid)
        if user is None:
            items.append(Item("user", uid, uid, "member of Octopus Administrators"))
            continue
        notes = [
            s for s, on in (("service account", user.is_service), ("inactive", user.is_active is False)) if on
        ]
        email = f" <{user.email_address}>" if user.email_address else ""
        extra = f" ({', '.join(notes)})" if notes else ""
        items.append(
            Item("user", uid, str(user.display_name or user.username),
                 f"{user.username}{email}: member of Octopus Administrators{extra}")
        )  # fmt: skip
    groups = team.external_security_groups or []
    items += [
        Item(
            "group", str(g.id), str(g.display_name or g.id), "external group mapped to Octopus Administrators"
        )
        for g in groups
    ]
    if not items:
        return []
    return [
        Finding(
            "auth.administrators",
            "info",
            f"{_plural(len(items), 'member')} of Octopus Administrators will be Octopus Managers on Cloud",
            "On Octopus Cloud the Octopus Administrators team belongs to Octopus staff, and the highest "
            "customer role is Octopus Manager, which lacks AdministerSystem.",
            "Add these people to the Octopus Managers team on Cloud, and move any script or tool that needs "
            "AdministerSystem (server settings, nodes, maintenance mode) off Cloud.",
            f"{DOCS}/octopus-cloud/permissions",
            items,
        )
    ]


# ---------------------------------------------------------------------------------------------------------
# Rule 4: steps that run on the Octopus Server
# ---------------------------------------------------------------------------------------------------------


@rule("steps.run-on-server", "Steps that run on the Octopus Server")
def run_on_server(inv: Inventory) -> list[Finding]:
    """Rule 4: run-on-server steps that really run on the built-in worker (octopus-api.md §7.4)."""
    default = _default_pool(inv)
    if default is None or default.is_dynamic:
        return []
    if any(default.id in (w.worker_pool_ids or []) for w in inv.workers):
        return []  # the default pool has workers: the built-in worker is not used
    if inv.built_in_worker_enabled is False:
        return []
    pool_note = f"the default pool '{default.name}' has no workers"
    if inv.built_in_worker_enabled is None:
        pool_note += " and the built-in worker is presumably enabled"
    per_project: dict[str, list[Item]] = defaultdict(list)
    for ref in _actions(inv):
        a = ref.action
        if (
            not a.run_on_server
            or a.worker_pool_variable
            or (a.worker_pool_id and a.worker_pool_id != default.id)
        ):
            continue
        pool = "explicitly the default pool" if a.worker_pool_id else "no worker pool chosen"
        disabled = " (step disabled)" if a.is_disabled else ""
        detail = f"{ref.where}: runs on the Octopus Server ({pool}; {pool_note}){disabled}"
        per_project[ref.project_id].append(Item("step", ref.item_id, ref.label, detail))
    out = []
    for pid in _by_name(inv, per_project):
        items = per_project[pid]
        out.append(
            Finding(
                "steps.run-on-server",
                "warning",
                f"{_plural(len(items), 'step')} of {inv.name_of('project', pid)} "
                f"{_verb(len(items), 'runs', 'run')} on the Octopus Server",
                "Octopus Cloud never runs steps on the server: Import moves them to the default dynamic "
                "worker pool, whose workers cannot reach your internal network.",
                "Before migrating, point these steps at a worker pool of your own workers (or a worker pool "
                "variable), and check that deployments and runbooks still work.",
                f"{DOCS}/infrastructure/workers/built-in-worker",
                items,
                [pid],
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Rule 5: listening Tentacles Cloud cannot reach
# ---------------------------------------------------------------------------------------------------------


@rule("tentacles.unreachable", "Listening Tentacles Cloud cannot reach")
def unreachable_tentacles(inv: Inventory) -> list[Finding]:
    """Rule 5: listening Tentacles (targets and workers) on private or internal-only addresses.

    Each machine is an item with its address and why Cloud cannot reach it. Machines that affect the
    same projects share one finding, so a project's findings name exactly its own machines, and an
    instance with thousands of Tentacles gets tens of findings rather than thousands.
    """
    targeting: Targeting | None = None
    groups: dict[frozenset[str], list[tuple[Item, str]]] = defaultdict(list)
    for kind, machine in _machines(inv):
        if machine.communication_style != "TentaclePassive":
            continue
        uri = _machine_uri(machine)
        host = uri_host(uri)
        reason = host_problem(host)
        if reason is None:
            continue
        targeting = targeting or Targeting(inv)
        disabled = " (disabled)" if machine.is_disabled else ""
        detail = f"listening {kind} at {uri}: {host} is {reason}{disabled}"
        item = Item(kind, str(machine.id), str(machine.name), detail)
        groups[frozenset(targeting.for_machine(machine))].append((item, f"{host} is {reason}"))
    out = []
    for projects, members in sorted(
        groups.items(), key=lambda kv: min(str(i.name).lower() for i, _ in kv[1])
    ):
        members.sort(key=lambda m: str(m[0].name).lower())
        items = [i for i, _ in members]
        if len(items) == 1:
            title = f"Octopus Cloud cannot reach listening Tentacle {items[0].name}"
            why = f"A listening Tentacle needs Octopus Cloud to connect in to it, and {members[0][1]}."
        else:
            title = f"Octopus Cloud cannot reach {len(items):,} listening Tentacles"
            why = (
                "A listening Tentacle needs Octopus Cloud to connect in to it, and these are on private "
                "addresses or names that resolve only inside your network."
            )
        out.append(
            Finding(
                "tentacles.unreachable",
                "warning",
                title,
                why,
                "Clone them as polling Tentacles (outbound ports 443 and 10943 to Cloud), or give them "
                "public addresses with port 10933 open to Cloud.",
                f"{DOCS}/infrastructure/deployment-targets/tentacle/tentacle-communication",
                items,
                _by_name(inv, projects),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Rule 6: external feeds Cloud cannot reach
# ---------------------------------------------------------------------------------------------------------


@rule("feeds.unreachable", "External feeds Cloud cannot reach")
def unreachable_feeds(inv: Inventory) -> list[Finding]:
    """Rule 6: external feeds whose ``FeedUri`` is on a private or internal-only host."""
    built_in = _built_in_feeds(inv)
    users: dict[str, set[str]] = defaultdict(set)
    steps: dict[str, list[str]] = defaultdict(list)
    for ref in _actions(inv):
        feeds = {p.feed_id for p in ref.action.packages or [] if p.feed_id}
        if ref.action.container is not None and ref.action.container.feed_id:
            feeds.add(ref.action.container.feed_id)
        for feed_id in feeds:
            users[feed_id].add(ref.project_id)
            steps[feed_id].append(f"{inv.name_of('project', ref.project_id)}: {ref.label}")
    out = []
    for feed in sorted(inv.feeds, key=lambda f: str(f.name or "").lower()):
        if str(feed.id) in built_in or feed.feed_type in ("BuiltIn", "OctopusProject") or not feed.feed_uri:
            continue
        host = uri_host(feed.feed_uri)
        reason = host_problem(host)
        if reason is None:
            continue
        used = steps.get(str(feed.id), [])
        usage = f"; used by {_listing(used)}" if used else "; no step uses it"
        out.append(
            Finding(
                "feeds.unreachable",
                "warning",
                f"Octopus Cloud cannot reach feed {feed.name}",
                f"Octopus Cloud downloads packages from {feed.feed_uri} itself, and {host} is {reason}.",
                "Expose the feed to the internet (with authentication) or through a proxy Cloud can use, or "
                "move its packages to a feed Cloud reaches; then test it with a package search from Cloud.",
                f"{DOCS}/octopus-cloud/migrations",
                [
                    Item(
                        "feed",
                        str(feed.id),
                        str(feed.name),
                        f"{feed.feed_type} feed at {feed.feed_uri}{usage}",
                    )
                ],
                _by_name(inv, users.get(str(feed.id), set())),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Rule 7: the built-in feed against Cloud's storage limits and retention
# ---------------------------------------------------------------------------------------------------------


def _keeps_longer(period: m.RetentionPeriod | None) -> str | None:
    """How a retention policy keeps more than Cloud's 30-day default, or None."""
    if period is None:
        return None
    if period.should_keep_forever:
        return "keeps everything forever"
    unit, quantity = (period.unit or "Days"), period.quantity_to_keep or 0
    if unit == "Items":
        return f"keeps the last {quantity} releases whatever their age"
    if quantity > CLOUD_RETENTION_DAYS:
        return f"keeps {quantity} days"
    return None


@rule("packages.built-in-feed", "Built-in feed size and retention")
def built_in_feed(inv: Inventory) -> list[Finding]:
    """Rule 7: total size against Cloud's file storage, packages over 5 GB, and retention over 30 days."""
    out: list[Finding] = []
    feeds = _built_in_feeds(inv)
    packages = [p for p in inv.packages if (p.feed_id or BUILT_IN_FEED_ID) in feeds]
    total = sum(p.package_size_bytes or 0 for p in packages)
    limits = f"{DOCS}/octopus-cloud#octopus-cloud-storage-limits"
    if packages:
        ids = {p.package_id for p in packages}
        detail = (
            f"{_plural(len(packages), 'package version')} of {_plural(len(ids), 'package')}, {_size(total)}"
        )
        if total > CLOUD_FILE_STORAGE:
            severity, action = (
                "warning",
                (
                    "Upload only the package versions the migrated releases need, and apply retention on the "
                    "Server first; ask Octopus about more storage if you need it."
                ),
            )
        else:
            community = " (more than the Community plan's 20 GB)" if total > CLOUD_COMMUNITY_STORAGE else ""
            severity, action = (
                "info",
                (
                    f"Plan to upload the package versions the migrated releases need{community}; octowiz "
                    "copies them after each import."
                ),
            )
        out.append(
            Finding(
                "packages.built-in-feed",
                severity,
                f"The built-in feed holds {_size(total)}",
                "Octopus Cloud's file storage (packages, artifacts, task logs) is 1 TB on paid plans and "
                "20 GB on the Community plan, and packages are not exported.",
                action,
                limits,
                [Item("feed", BUILT_IN_FEED_ID, inv.name_of("feed", BUILT_IN_FEED_ID), detail)],
            )
        )
    users: dict[str, set[str]] = defaultdict(set)
    for ref in _actions(inv):
        for pref in ref.action.packages or []:
            if (pref.feed_id or "") in feeds and pref.package_id:
                users[pref.package_id].add(ref.project_id)
    oversized: dict[str, list[m.Package]] = defaultdict(list)
    for p in packages:
        if (p.package_size_bytes or 0) > CLOUD_PACKAGE_LIMIT:
            oversized[str(p.package_id)].append(p)
    for package_id in sorted(oversized):
        versions = sorted(oversized[package_id], key=lambda p: str(p.version))
        out.append(
            Finding(
                "packages.built-in-feed",
                "blocker",
                f"Package {package_id} is larger than Cloud's 5 GB package limit",
                "Octopus Cloud refuses any single package over 5 GB, so releases that need it cannot deploy.",
                "Split or slim the package below 5 GB (or move it to an external feed Cloud can reach) and "
                "change the steps that use it.",
                limits,
                [
                    Item("package", str(p.id), f"{package_id} {p.version}", _size(p.package_size_bytes or 0))
                    for p in versions
                ],  # fmt: skip
                _by_name(inv, users.get(package_id, set())),
            )
        )
    history = bool(packages) or any(inv.release_counts.values())
    retained: list[Item] = []
    for lc in sorted(inv.lifecycles, key=lambda lc: str(lc.name or "").lower()):
        how = _keeps_longer(lc.release_retention_policy)
        phases = [
            f"phase {ph.name} {w}"
            for ph in lc.phases or []
            if (w := _keeps_longer(ph.release_retention_policy))
        ]
        if how or phases:
            detail = "; ".join(([f"releases: {how}"] if how else []) + phases)
            retained.append(Item("lifecycle", str(lc.id), str(lc.name), detail))
    for feed in inv.feeds:
        if str(feed.id) in feeds and feed.feed_type == "BuiltIn":
            days = feed.delete_unreleased_packages_after_days
            if not days or days > CLOUD_RETENTION_DAYS:
                how = (
                    "keeps unreleased packages forever"
                    if not days
                    else f"deletes unreleased packages after {days} days"
                )
                retained.append(Item("feed", str(feed.id), str(feed.name), how))
    if history and retained:
        out.append(
            Finding(
                "packages.built-in-feed",
                "info",
                "Retention here keeps more than Octopus Cloud's 30-day defaults",
                "Octopus Cloud defaults lifecycle and built-in feed retention to 30 days (the Community plan "
                "allows no more), so history kept longer here may be cleaned up there.",
                "Decide how long releases and packages must be kept on Cloud and set its retention policies "
                "(Professional plan or higher) before importing.",
                f"{DOCS}/administration/retention-policies",
                retained,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Rule 8: too many releases to export
# ---------------------------------------------------------------------------------------------------------


@rule("releases.export-limit", "Projects with too many releases")
def too_many_releases(inv: Inventory) -> list[Finding]:
    """Rule 8: Export fails on projects with more than 2,100 releases."""
    out = []
    over = [pid for pid, n in inv.release_counts.items() if n > EXPORT_RELEASE_LIMIT and inv.project(pid)]
    for pid in _by_name(inv, over):
        count = inv.release_counts[pid]
        name = inv.name_of("project", pid)
        out.append(
            Finding(
                "releases.export-limit",
                "blocker",
                f"{name} has {count:,} releases, more than Export can take",
                f"Project Export fails on projects with more than {EXPORT_RELEASE_LIMIT:,} releases.",
                f"Apply a retention policy (or delete old releases) to bring {name} to "
                f"{EXPORT_RELEASE_LIMIT:,} releases or fewer, then rescan.",
                f"{DOCS}/projects/export-import",
                [Item("project", pid, name, f"{count:,} releases (limit {EXPORT_RELEASE_LIMIT:,})")],
                [pid],
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Rule 9: version-controlled projects
# ---------------------------------------------------------------------------------------------------------


def _is_version_controlled(project: m.Project) -> bool:
    settings = project.persistence_settings
    return bool(project.is_version_controlled) or (
        settings is not None and settings.type == "VersionControlled"
    )


@rule("projects.version-controlled", "Version-controlled projects")
def version_controlled(inv: Inventory) -> list[Finding]:
    """Rule 9: version-controlled projects export only from 2025.2.5601."""
    projects = sorted(
        (p for p in inv.projects if _is_version_controlled(p)), key=lambda p: str(p.name).lower()
    )
    out = []
    needed = ".".join(str(n) for n in VCS_EXPORT_VERSION)
    too_old = not inv.version.at_least(*VCS_EXPORT_VERSION)
    for p in projects:
        repo = p.persistence_settings.url if p.persistence_settings else None
        item = Item("project", str(p.id), str(p.name), f"kept in Git{f' at {repo}' if repo else ''}")
        if too_old:
            out.append(
                Finding(
                    "projects.version-controlled",
                    "blocker",
                    f"{p.name} is version-controlled and Octopus {inv.version} cannot export it",
                    f"Export/Import handles version-controlled projects only from Octopus {needed}.",
                    f"Upgrade the Server to {needed} or newer before migrating this project, or recreate it "
                    "on Cloud from its Git repository.",
                    f"{DOCS}/projects/export-import",
                    [item],
                    [str(p.id)],
                )
            )
        else:
            out.append(
                Finding(
                    "projects.version-controlled",
                    "info",
                    f"{p.name} is version-controlled: reconnect it after the import",
                    "An imported version-controlled project loses its GitHub connection and any resource its "
                    "Git files reference by slug or id.",
                    "After the import, reconnect the repository on Cloud and check the references in its "
                    "OCL files.",
                    f"{DOCS}/projects/export-import",
                    [item],
                    [str(p.id)],
                )
            )
    return out


# ---------------------------------------------------------------------------------------------------------
# Rule 10: lifecycles without phases
# ---------------------------------------------------------------------------------------------------------


@rule("lifecycles.no-phases", "Projects on a lifecycle without phases")
def default_lifecycle(inv: Inventory) -> list[Finding]:
    """Rule 10: the environments of a phase-less (default) lifecycle are not exported."""
    phaseless = {str(lc.id): lc for lc in inv.lifecycles if not lc.phases}
    uses: dict[str, dict[str, list[str]]] = defaultdict(
        lambda: defaultdict(list)
    )  # lifecycle -> project -> via
    for p in inv.projects:
        if p.lifecycle_id in phaseless:
            uses[str(p.lifecycle_id)][str(p.id)].append("the project's lifecycle")
    for c in inv.channels:
        if c.lifecycle_id in phaseless and c.project_id and inv.project(c.project_id):
            uses[str(c.lifecycle_id)][str(c.project_id)].append(f"channel {c.name}")
    out = []
    envs = _listing(str(e.name) for e in sorted(inv.environments, key=lambda e: e.sort_order or 0))
    for lc_id in sorted(uses):
        lc = phaseless[lc_id]
        projects = _by_name(inv, uses[lc_id])
        items = [
            Item(
                "project",
                pid,
                inv.name_of("project", pid),
                f"uses {lc.name} through {', '.join(uses[lc_id][pid])}",
            )
            for pid in projects
        ]
        out.append(
            Finding(
                "lifecycles.no-phases",
                "warning",
                f"{_plural(len(projects), 'project')} {_verb(len(projects), 'uses', 'use')} lifecycle "
                f"{lc.name}, which has no phases",
                "Export takes environments from lifecycle phases, so a lifecycle without phases (every "
                f"environment: {envs or 'none yet'}) brings none, and the imported project has nowhere to "
                "deploy.",
                f"Give {lc.name} explicit phases before exporting, or create the environments on Cloud (same "
                "names) before importing.",
                f"{DOCS}/projects/export-import",
                items,
                projects,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Rule 11: targets and workers to recreate or clone
# ---------------------------------------------------------------------------------------------------------


@rule("infrastructure.recreate", "Targets and workers to recreate or clone")
def infrastructure(inv: Inventory) -> list[Finding]:
    """Rule 11: Tentacles to clone (info) and every other kind of target or worker to recreate (warning)."""
    groups: dict[tuple[str, str], list[tuple[str, m.MachineBase]]] = defaultdict(list)
    for kind, machine in _machines(inv):
        style = machine.communication_style
        groups[(style if style is not None else "(no endpoint)", kind)].append((kind, machine))
    if not groups:
        return []
    targeting = Targeting(inv)
    out = []
    for (style, kind), members in sorted(groups.items()):
        projects: set[str] = set()
        items = []
        for _, machine in sorted(members, key=lambda km: str(km[1].name).lower()):
            projects |= targeting.for_machine(machine)
            if isinstance(machine, m.Machine):
                envs = ", ".join(inv.name_of("environment", e) for e in machine.environment_ids or [])
                where = f"roles {', '.join(machine.roles or []) or 'none'}; environments {envs or 'none'}"
            else:
                pools = machine.worker_pool_ids if isinstance(machine, m.Worker) else []
                where = f"pools {', '.join(inv.name_of('workerpool', p) for p in pools or [])}"
            uri = _machine_uri(machine)
            address = f" at {uri}" if uri and style == "TentaclePassive" else ""
            disabled = " (disabled)" if machine.is_disabled else ""
            items.append(
                Item(kind, str(machine.id), str(machine.name), f"{style}{address}; {where}{disabled}")
            )
        nouns = f"{kind}s" if len(items) != 1 else kind
        if style in TENTACLE_STYLES:
            out.append(
                Finding(
                    "infrastructure.recreate",
                    "info",
                    f"{len(items):,} {TENTACLE_STYLES[style]} {nouns} to clone for Cloud",
                    "Targets and workers are not exported: each Tentacle needs a second instance registered "
                    "with Octopus Cloud.",
                    "Clone each Tentacle instance with SpaceCloner's CloneTentacleInstance script (a "
                    "listening one can become polling) and check it is healthy on Cloud before deploying.",
                    f"{DOCS}/administration/managing-infrastructure/managing-multiple-instances",
                    items,
                    _by_name(inv, projects),
                )
            )
        else:
            label = RECREATE_STYLES.get(style, style)
            out.append(
                Finding(
                    "infrastructure.recreate",
                    "warning",
                    f"{len(items):,} {label} {nouns} to recreate on Cloud",
                    "Export/Import carries no targets or workers and the Tentacle cloning script covers "
                    f"only Tentacles, so {label} registrations must be created again.",
                    "Recreate them on Cloud (with their accounts, certificates and worker pools) before "
                    "deploying the projects that use them.",
                    f"{DOCS}/infrastructure/deployment-targets",
                    items,
                    _by_name(inv, projects),
                )
            )
    return out


# ---------------------------------------------------------------------------------------------------------
# Rule 12: what Export/Import leaves behind
# ---------------------------------------------------------------------------------------------------------


def has_uploaded_logo(project: m.Project, version: str) -> bool:
    """SpaceCloner's test: the logo link's ``cb`` is not the server version, and no built-in icon is set."""
    if project.icon is not None and project.icon.id:
        return False
    link = project.link("Logo")
    if not link:
        return False
    cb = parse_qs(urlsplit(link).query).get("cb", [""])[0]
    return bool(cb) and cb != version


@rule("export.left-behind", "What Export/Import leaves behind")
def left_behind(inv: Inventory) -> list[Finding]:
    """Rule 12: per project, triggers, logos and built-in packages to move by hand; and what never moves."""
    out: list[Finding] = []
    feeds = _built_in_feeds(inv)
    sizes: dict[tuple[str, str], int] = {
        (str(p.package_id), str(p.version)): p.package_size_bytes or 0
        for p in inv.packages
        if (p.feed_id or BUILT_IN_FEED_ID) in feeds
    }
    in_feed: dict[str, set[str]] = defaultdict(set)
    for feed_package, feed_version in sizes:
        in_feed[feed_package].add(feed_version)
    refs: dict[str, dict[tuple[str, str], str]] = defaultdict(
        dict
    )  # project -> (action, ref name) -> package id
    used: dict[str, set[str]] = defaultdict(set)  # project -> built-in package ids
    for ref in _actions(inv):
        for p in ref.action.packages or []:
            if (p.feed_id or "") in feeds and p.package_id:
                used[ref.project_id].add(p.package_id)
                if ref.runbook is None:
                    refs[ref.project_id][(str(ref.action.name or ""), str(p.name or ""))] = p.package_id
    triggers: dict[str, list[m.ProjectTrigger]] = defaultdict(list)
    for t in inv.triggers:
        if t.project_id:
            triggers[t.project_id].append(t)
    version = str(inv.version)
    for project in sorted(inv.projects, key=lambda p: str(p.name).lower()):
        pid = str(project.id)
        items: list[Item] = []
        for t in sorted(triggers.get(pid, []), key=lambda t: str(t.name).lower()):
            what = (t.filter.filter_type if t.filter else None) or "?"
            does = (t.action.action_type if t.action else None) or "?"
            off = " (disabled)" if t.is_disabled else ""
            items.append(Item("trigger", str(t.id), str(t.name), f"{what} trigger that does {does}{off}"))
        if has_uploaded_logo(project, version):
            items.append(Item("logo", pid, f"{project.name} logo", "uploaded logo (not exported)"))
        selected: dict[str, set[str]] = defaultdict(set)
        for action_name, ref_name, v in inv.release_packages.get(pid, set()):
            chosen = refs[pid].get((action_name, ref_name))
            if chosen:
                selected[chosen].add(v)
        for package_id in sorted(used.get(pid, set())):
            wanted = selected.get(package_id, set())
            present = wanted & in_feed.get(package_id, set())
            if wanted:
                size = sum(sizes[(package_id, v)] for v in present)
                missing = len(wanted - present)
                gone = f"; {missing} no longer in the feed" if missing else ""
                detail = (
                    f"{_plural(len(wanted), 'version')} selected by releases "
                    f"({_listing(sorted(wanted))}), {_size(size)} to upload{gone}"
                )
            else:
                count = _plural(len(in_feed.get(package_id, set())), "version")
                detail = f"used by its steps; {count} in the feed"
            items.append(Item("package", package_id, package_id, detail))
        if not items:
            continue
        kinds = sorted({i.kind for i in items}, key=["package", "logo", "trigger"].index)
        out.append(
            Finding(
                "export.left-behind",
                "info",
                f"{project.name}: {', '.join(k + 's' if k != 'logo' else k for k in kinds)} to move by hand",
                "Project Export/Import does not carry built-in feed packages, uploaded logos or triggers.",
                "After the import, upload the packages the releases need (octowiz copies them), upload the "
                "logo and recreate the triggers on Cloud.",
                f"{DOCS}/projects/export-import",
                items,
                [pid],
            )
        )
    deployments = sum(inv.deployment_counts.values())
    releases = sum(inv.release_counts.values())
    if deployments or releases:
        build_info = sum(1 for p in inv.packages if p.package_version_build_information)
        history = [
            Item("history", "deployments", "Deployment history",
                 f"{_plural(deployments, 'deployment')} and {_plural(releases, 'release')} arrive as shells: "
                 "no task logs, artifacts, or who and when"),
            Item("history", "audit-log", "Audit log",
                 "stays on the Server; Cloud keeps its own audit log for a limited time"),
            Item("history", "subscriptions", "Subscriptions", "not exported: recreate them on Cloud"),
            Item("history", "build-information", "Build information",
                 f"not exported ({_plural(build_info, 'package version')} in the built-in feed carry some)"),
        ]  # fmt: skip
        out.append(
            Finding(
                "export.left-behind",
                "info",
                "History, audit log, subscriptions and build information are never migrated",
                "Export/Import recreates releases and deployment shells only, so the Server remains the "
                "record of what happened before the move.",
                "Keep the Server read-only for a few months (maintenance mode, task cap 0) and export the "
                "audit log if you must keep it.",
                f"{DOCS}/octopus-cloud/migrations",
                history,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Rule 13: worker pools without a counterpart on Cloud
# ---------------------------------------------------------------------------------------------------------


@rule("workers.pools-on-cloud", "Worker pools on Octopus Cloud")
def worker_pools(inv: Inventory) -> list[Finding]:
    """Rule 13: pools that steps name (``WorkerPoolId``) with no pool of the same name on the destination."""
    pools = {p.id: p for p in inv.worker_pools}
    steps: dict[str, list[ActionRef]] = defaultdict(list)
    for ref in _actions(inv):
        if ref.action.worker_pool_id in pools:
            steps[str(ref.action.worker_pool_id)].append(ref)
    if not steps:
        return []
    doc = f"{DOCS}/infrastructure/workers/worker-pools"
    dest = inv.destination
    if dest is None or "destination worker pools" in inv.problems:
        why = (
            "No Octopus Cloud instance was connected"
            if dest is None
            else "The Cloud instance's worker pools could not be read"
        )
        return [
            Finding(
                "workers.pools-on-cloud",
                "info",
                "Worker pools on Octopus Cloud could not be checked",
                f"{why}, so octowiz could not compare the {_plural(len(steps), 'worker pool')} steps use.",
                "Connect the Cloud instance and rescan.",
                doc,
                [
                    Item("pool", pid, str(pools[pid].name), f"used by {_plural(len(refs), 'step')}")
                    for pid, refs in sorted(steps.items())
                ],  # fmt: skip
            )
        ]
    names = {str(p.name or "").casefold() for p in dest.worker_pools}
    cloud_pools = _listing(str(p.name) for p in dest.worker_pools) or "none"
    out = []
    for pool_id, refs in sorted(steps.items(), key=lambda kv: str(pools[kv[0]].name).lower()):
        pool = pools[pool_id]
        if str(pool.name or "").casefold() in names:
            continue
        items = [
            Item("pool", pool_id, str(pool.name), f"{pool.worker_pool_type or 'worker pool'}; not on Cloud")
        ]
        items += [
            Item("step", r.item_id, r.label, f"{inv.name_of('project', r.project_id)}, {r.where}")
            for r in sorted(refs, key=lambda r: (inv.name_of("project", r.project_id).lower(), r.label))
        ]
        out.append(
            Finding(
                "workers.pools-on-cloud",
                "warning",
                f"Worker pool {pool.name} has no counterpart on Octopus Cloud",
                f"Import matches worker pools by name and creates missing ones empty, so steps that use "
                f"{pool.name} would have no worker to run on.",
                f"Create a pool named {pool.name} on Cloud with workers of your own (two or more), or move "
                f"the steps to a Cloud pool (Cloud has: {cloud_pools}) before migrating.",
                doc,
                items,
                _by_name(inv, (r.project_id for r in refs)),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Rule 14: disabled projects
# ---------------------------------------------------------------------------------------------------------


@rule("projects.disabled", "Disabled projects")
def disabled_projects(inv: Inventory) -> list[Finding]:
    """Rule 14: disabled projects are skipped by default."""
    projects = sorted((p for p in inv.projects if p.is_disabled), key=lambda p: str(p.name).lower())
    if not projects:
        return []
    items = []
    for p in projects:
        last = inv.last_deployment.get(str(p.id))
        items.append(
            Item(
                "project", str(p.id), str(p.name), f"disabled; last deployed {last[:10] if last else 'never'}"
            )
        )
    return [
        Finding(
            "projects.disabled",
            "info",
            f"{_plural(len(projects), 'disabled project')} will be skipped",
            "A disabled project cannot deploy, so octowiz leaves it out of migration waves unless you "
            "include it.",
            "Include these projects explicitly if you want them on Cloud; otherwise they stay behind with "
            "the Server.",
            f"{DOCS}/projects/export-import",
            items,
            [str(p.id) for p in projects],
        )
    ]
