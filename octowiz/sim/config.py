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
class InstanceConfig:
    """How one simulated instance behaves.

    Attributes:
        flavour: ``server`` (self-hosted) or ``cloud``.
        version: the ``Version`` the root document reports.
        rate_limit_per_minute: answer 429 with ``Retry-After`` past this many requests a minute per key.
        task_queued_seconds: how long a new server task stays ``Queued``.
        task_executing_seconds: how long it then stays ``Executing``.
        latency_ms: each response's time from the request's arrival (loopback benchmarks),
            with ``jitter_ms`` on top.
        fault_rate: fraction of requests answered with an injected fault.
        faults: relative weights of the statuses injected faults answer with (default all 500).
        failing_tasks: task kinds (``export``, ``import``, ``adhoc``) that end Failed.
    """

    flavour: Flavour
    version: str = ""
    rate_limit_per_minute: int | None = None
    task_queued_seconds: float = 0.3
    task_executing_seconds: float = 1.5
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fault_rate: float = 0.0
    faults: dict[int, float] = field(default_factory=dict)
    failing_tasks: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.version:
            self.version = SERVER_VERSION if self.flavour == "server" else CLOUD_VERSION

    @property
    def is_cloud(self) -> bool:
        """True for the Octopus Cloud flavour."""
        return self.flavour == "cloud"
