"""Which Octopus permissions each migration operation needs, in one place.

Octopus does not document the permissions its Export/Import endpoints check (octopus-api.md,
Appendix B item 6: UNCONFIRMED). These tables are our best reading; the connect step and the
simulator both use them, so correcting a guess is a one-line change here.
"""

from __future__ import annotations

#: Reading everything a migration inventories on the source.
READ = (
    "ProjectView",
    "ProcessView",
    "VariableView",
    "EnvironmentView",
    "MachineView",
    "FeedView",
    "ReleaseView",
    "DeploymentView",
    "TaskView",
    "WorkerView",
    "LifecycleView",
    "TenantView",
    "LibraryVariableSetView",
    "ProjectGroupView",
    "TeamView",
    "UserView",
    "TriggerView",
    "AccountView",
    "CertificateView",
    "ArtifactView",
    "RunbookView",
    "MachinePolicyView",
)
#: Starting a project export on the source (UNCONFIRMED: assumed view plus task creation).
EXPORT = ("ProjectView", "TaskCreate", "ArtifactView")
#: Uploading an archive and importing it on the destination (UNCONFIRMED).
IMPORT = ("ProjectCreate", "TaskCreate", "EnvironmentCreate", "LifecycleCreate")
#: Filling the gaps Export/Import leaves on the destination.
GAP_FILL = ("BuiltInFeedPush", "ProjectEdit", "TriggerCreate", "MachineCreate")
#: Deprecating the source: maintenance mode and task cap (system level).
ADMINISTER = ("AdministerSystem",)

#: Every permission name in the 2021.2 Swagger ``Permission`` enum that a system-level role holds.
SYSTEM_LEVEL = (
    "AdministerSystem",
    "ConfigureServer",
    "SpaceCreate",
    "SpaceEdit",
    "SpaceDelete",
    "SpaceView",
    "TeamCreate",
    "TeamEdit",
    "TeamView",
    "TeamDelete",
    "UserEdit",
    "UserView",
    "UserInvite",
    "UserRoleEdit",
    "UserRoleView",
    "EventView",
    "TaskView",
    "TaskCreate",
    "TaskCancel",
    "TaskEdit",
)
