"""The two flavours the simulator plays, and how their users' permissions are derived."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from octowiz.octopus import permissions as perms

Flavour = Literal["server", "cloud"]

#: A self-hosted Server of the 2023-2024 era (Export/Import available, CaC export not yet).
SERVER_VERSION = "2024.2.9220"
#: A current Octopus Cloud instance (rate limiting arrived in 2026.3).
CLOUD_VERSION = "2026.3.4482"

#: Space-level permissions (the 2021.2 ``Permission`` enum less the system-level ones).
SPACE_LEVEL = (
    "ProjectEdit",
    "ProjectView",
    "ProjectCreate",
    "ProjectDelete",
    "ProcessView",
    "ProcessEdit",
    "VariableEdit",
    "VariableEditUnscoped",
    "VariableView",
    "VariableViewUnscoped",
    "ReleaseCreate",
    "ReleaseView",
    "ReleaseEdit",
    "ReleaseDelete",
    "DefectReport",
    "DefectResolve",
    "DeploymentCreate",
    "DeploymentDelete",
    "DeploymentView",
    "EnvironmentView",
    "EnvironmentCreate",
    "EnvironmentEdit",
    "EnvironmentDelete",
    "MachineCreate",
    "MachineEdit",
    "MachineView",
    "MachineDelete",
    "ArtifactView",
    "ArtifactCreate",
    "ArtifactEdit",
    "ArtifactDelete",
    "FeedView",
    "EventView",
    "LibraryVariableSetView",
    "LibraryVariableSetCreate",
    "LibraryVariableSetEdit",
    "LibraryVariableSetDelete",
    "ProjectGroupView",
    "ProjectGroupCreate",
    "ProjectGroupEdit",
    "ProjectGroupDelete",
    "TeamView",
    "TaskView",
    "TaskCreate",
    "TaskCancel",
    "TaskEdit",
    "InterruptionView",
    "InterruptionSubmit",
    "BuiltInFeedPush",
    "BuiltInFeedAdminister",
    "BuiltInFeedDownload",
    "ActionTemplateView",
    "ActionTemplateCreate",
    "ActionTemplateEdit",
    "ActionTemplateDelete",
    "LifecycleCreate",
    "LifecycleView",
    "LifecycleEdit",
    "LifecycleDelete",
    "AccountView",
    "AccountEdit",
    "AccountCreate",
    "AccountDelete",
    "TenantCreate",
    "TenantEdit",
    "TenantView",
    "TenantDelete",
    "TagSetCreate",
    "TagSetEdit",
    "TagSetDelete",
    "MachinePolicyCreate",
    "MachinePolicyView",
    "MachinePolicyEdit",
    "MachinePolicyDelete",
    "SubscriptionCreate",
    "SubscriptionView",
    "SubscriptionEdit",
    "SubscriptionDelete",
    "TriggerCreate",
    "TriggerView",
    "TriggerEdit",
    "TriggerDelete",
    "CertificateView",
    "CertificateCreate",
    "CertificateEdit",
    "CertificateDelete",
    "FeedEdit",
    "WorkerView",
    "WorkerEdit",
    "RunbookView",
    "RunbookEdit",
    "RunbookRunView",
    "RunbookRunDelete",
    "RunbookRunCreate",
    "UserView",
)


def role_permissions(role: str) -> tuple[list[str], list[str]]:
    """System and space permissions for a simulated user's role.

    Args:
        role: ``admin`` (Octopus Administrators), ``manager`` (Octopus Managers, Cloud's highest
            customer role: everything but ``AdministerSystem``) or ``reader``.

    Returns:
        ``(system_permissions, space_permissions)``.
    """
    if role == "admin":
        return list(perms.SYSTEM_LEVEL), list(SPACE_LEVEL)
    if role == "manager":
        return [p for p in perms.SYSTEM_LEVEL if p != "AdministerSystem"], list(SPACE_LEVEL)
    if role == "reader":
        return ["SpaceView", "UserView", "TeamView", "TaskView", "EventView"], sorted(set(perms.READ))
    return [], []


@dataclass
class FaultMix:
    """A seeded mix of what a busy instance and a real network do to requests, one verdict per arrival.

    Each request that arrives draws its fate from a generator seeded with ``seed`` and the instance's
    name, in arrival order, so the same sequence of requests meets the same faults in every run. The
    kinds exclude each other: a request is answered with a 5xx, dropped, starts a burst of 429s, is
    answered slowly, or is served normally.

    Attributes:
        error_rate: fraction of requests answered with a 5xx (weights in ``error_statuses``).
        error_statuses: relative weights of the 5xx statuses.
        burst_rate: probability that a request starts a burst of 429s.
        burst_length: how many consecutive requests a burst answers 429 (the one starting it included).
        retry_after: seconds the 429s ask the client to wait (``Retry-After``; fractions for tests).
        drop_rate: fraction of connections dropped before the answer is complete.
        slow_rate: fraction of answers held back for ``slow_seconds`` more.
        slow_seconds: how much longer a slow answer takes.
        after_share: the share of 5xx and drops that strike after the request was carried out, as a
            proxy's 502 or a reset connection does: the change is made and its answer lost, which a
            client must reconcile by reading state (the rest strike before, and nothing happens).
        seed: the generator's seed.
    """

    error_rate: float = 0.0
    error_statuses: dict[int, float] = field(default_factory=lambda: {500: 2.0, 502: 1.0, 503: 1.0})
    burst_rate: float = 0.0
    burst_length: int = 3
    retry_after: float = 1.0
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 2.0
    after_share: float = 0.5
    seed: int = 1234

    def __post_init__(self) -> None:
        for name, words in (
            ("error_rate", "the 5xx rate (--fault-rate)"),
            ("burst_rate", "the rate of 429 bursts (--burst-rate)"),
            ("drop_rate", "the rate of dropped connections (--drop-rate)"),
            ("slow_rate", "the rate of slow answers (--slow-rate)"),
            ("after_share", "the share of faults after the request (--faults-after)"),
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{words} must be between 0 and 1, not {value:g}")
        if self.error_rate + self.burst_rate + self.drop_rate + self.slow_rate > 1.0:
            raise ValueError("the fault rates add up to more than every request: lower them")
        if self.burst_length < 1:
            raise ValueError("a burst of 429s is at least one request long (--burst-length)")
        if self.retry_after < 0 or self.slow_seconds < 0:
            raise ValueError("Retry-After and the slow answers' delay cannot be negative")
        if any(not 500 <= s <= 599 for s in self.error_statuses):
            raise ValueError("error_statuses holds 5xx statuses only")

    @property
    def active(self) -> bool:
        """True when any fault can happen."""
        return bool(self.error_rate or self.burst_rate or self.drop_rate or self.slow_rate)


@dataclass
class InstanceConfig:
    """How one simulated instance behaves.

    Attributes:
        flavour: ``server`` (self-hosted) or ``cloud``.
        version: the ``Version`` the root document reports.
        rate_limit_per_minute: answer 429 with ``Retry-After`` past this many requests a minute per key.
        rate_limit_burst: the limiter's bucket size (Octopus's "burst limit"); by default the rate.
        task_queued_seconds: how long a new server task stays ``Queued``.
        task_executing_seconds: how long it then stays ``Executing``.
        latency_ms: each response's time from the request's arrival (loopback benchmarks),
            with ``jitter_ms`` on top.
        fault_rate: fraction of requests answered with an injected fault.
        faults: relative weights of the statuses injected faults answer with (default all 500).
        failing_tasks: task kinds (``export``, ``import``, ``adhoc``) that end Failed.
        fault_mix: seeded 5xx, bursts of 429, dropped connections and slow answers (see
            :class:`FaultMix`), on top of ``fault_rate``.
    """

    flavour: Flavour
    version: str = ""
    rate_limit_per_minute: int | None = None
    rate_limit_burst: int | None = None
    task_queued_seconds: float = 0.3
    task_executing_seconds: float = 1.5
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fault_rate: float = 0.0
    faults: dict[int, float] = field(default_factory=dict)
    failing_tasks: set[str] = field(default_factory=set)
    fault_mix: FaultMix | None = None

    def __post_init__(self) -> None:
        if not self.version:
            self.version = SERVER_VERSION if self.flavour == "server" else CLOUD_VERSION

    @property
    def is_cloud(self) -> bool:
        """True for the Octopus Cloud flavour."""
        return self.flavour == "cloud"
