"""The data a simulated Octopus instance starts with: ``empty``, ``demo`` and ``large``.

``seed(store, flavour, scenario, version=...)`` fills an empty :class:`~octowiz.sim.store.Store`.
Generation is deterministic: a fixed random seed per flavour and scenario, and timestamps that are
fixed offsets back from :data:`~octowiz.sim.factory.BASE_TIME` (2026-03-02 09:15 UTC).

* ``empty``: the base instance of the flavour (space, users and teams, configuration, one node,
  built-in feeds, default machine policy, project group, lifecycle and worker pool(s)).
* ``demo`` on ``server``: the migration source. It is built so that most readiness problems of the
  migration guide show: listening Tentacles Cloud cannot reach, run-on-server steps, AD/LDAP users
  and external groups, unreachable external feeds, an over-5-GB package, a project with more than
  2,100 releases, a version-controlled project, logos and triggers (not exported), and more.
* ``demo`` on ``cloud``: a fresh destination (dynamic worker pools) with two users whose email
  addresses match two users of the server.
* ``large`` on ``server``: 2,000 projects, 5,000 targets, 20,000 releases, for paging and timing.
  ``large`` on ``cloud`` is the base Cloud instance.

Simulator-private fields (names starting with ``_``): users carry ``_Role`` and ``_ApiKeyHashes``;
projects with an uploaded logo ``_LogoStamp`` (bytes in blob ``logo/<ProjectId>``); sensitive
variables ``_SensitiveValue`` (nested inside ``Variables``, so routes must strip it there too);
external feeds and accounts with a secret ``_Password``; the oversized package ``_SizeClaimedOnly``;
server nodes ``_Version``; configuration sections ``_Values``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from octowiz.octopus import permissions as perms
from octowiz.sim import keys
from octowiz.sim.config import SPACE_LEVEL
from octowiz.sim.factory import (
    BUILTIN_FEED_ID,
    DEFAULT_MACHINE_POLICY_ID,
    RELEASES_FEED_ID,
    SPACE_ID,
    Gen,
    UserSpec,
    action,
    ad_identity,
    add_builtin_package,
    ago,
    azure_web_app_endpoint,
    builtin_feeds,
    channel_doc,
    cloud_region_endpoint,
    deployment_and_task,
    environment_doc,
    external_feed_doc,
    external_group,
    kubernetes_agent_endpoint,
    kubernetes_endpoint,
    ldap_identity,
    lifecycle_doc,
    listening_endpoint,
    machine_policy_doc,
    offline_drop_endpoint,
    oidc_identity,
    package_ref,
    password_identity,
    phase,
    png_bytes,
    polling_endpoint,
    process_doc,
    project_doc,
    release_doc,
    runbook_doc,
    scoped_user_role_doc,
    script_props,
    slugify,
    ssh_endpoint,
    stamp,
    step,
    step_package_endpoint,
    target_doc,
    team_doc,
    user_doc,
    user_role_doc,
    variable,
    variable_set_doc,
    worker_doc,
    worker_pool_doc,
)
from octowiz.sim.resources import COLLECTIONS
from octowiz.sim.store import Doc, Store

__all__ = [
    "DEFAULT_LIFECYCLE_ID",
    "DEFAULT_PROJECT_GROUP_ID",
    "DEFAULT_WORKER_POOL_ID",
    "DEMO_CLOUD_MATCHING_EMAILS",
    "DEMO_DEFAULT_LIFECYCLE_PROJECT",
    "DEMO_DEVELOPERS_TEAM",
    "DEMO_DISABLED_PROJECT",
    "DEMO_ENVIRONMENTS",
    "DEMO_ICON_PROJECT",
    "DEMO_LOGO_PROJECTS",
    "DEMO_MANY_RELEASES",
    "DEMO_ORCHESTRATOR_PROJECT",
    "DEMO_OVERSIZED_PACKAGE",
    "DEMO_PROJECT_NAMES",
    "DEMO_PROJECT_WITH_MANY_RELEASES",
    "DEMO_PUBLIC_LISTENING_URI",
    "DEMO_REACHABLE_FEED",
    "DEMO_RUNBOOK_PROJECT",
    "DEMO_UNREACHABLE_FEEDS",
    "DEMO_UNREACHABLE_LISTENING_URIS",
    "DEMO_VERSION_CONTROLLED_PROJECT",
    "LARGE_ENVIRONMENTS",
    "LARGE_PROJECTS",
    "LARGE_RELEASES",
    "LARGE_TARGETS",
    "SCENARIOS",
    "SEED_COLLECTIONS",
    "seed",
]

SCENARIOS: tuple[str, ...] = ("empty", "demo", "large")

#: Every collection ``seed`` may write (the resource collections plus the configuration singletons).
SEED_COLLECTIONS: tuple[str, ...] = (*COLLECTIONS, "config", "configuration")

# -- base instance ids ---------------------------------------------------------------------------------
DEFAULT_PROJECT_GROUP_ID = "ProjectGroups-1"
DEFAULT_LIFECYCLE_ID = "Lifecycles-1"
#: Server: "Default Worker Pool" (static, no workers in ``demo``); Cloud: "Hosted Ubuntu" (dynamic).
DEFAULT_WORKER_POOL_ID = "WorkerPools-1"

# -- demo (server) -------------------------------------------------------------------------------------
DEMO_ENVIRONMENTS: tuple[str, ...] = ("Development", "Test", "Production")
#: In creation order: the project named ``DEMO_PROJECT_NAMES[i]`` has id ``Projects-{i+1}``.
DEMO_PROJECT_NAMES: tuple[str, ...] = (
    "Acme Web",
    "Acme API",
    "Acme Database",
    "Customer Portal",
    "Release Orchestrator",
    "Legacy Billing",
    "Intranet CMS",
    "Storefront",
    "Ops Toolkit",
    "Mobile Backend",
    "Reporting Service",
    "Infrastructure Health",
    "Data Warehouse Loader",
)
DEMO_PROJECT_WITH_MANY_RELEASES = "Customer Portal"
DEMO_MANY_RELEASES = 2150
DEMO_DISABLED_PROJECT = "Legacy Billing"
DEMO_DEFAULT_LIFECYCLE_PROJECT = "Intranet CMS"
DEMO_VERSION_CONTROLLED_PROJECT = "Storefront"
#: Deploy-a-Release steps referencing "Acme Web" and "Acme API".
DEMO_ORCHESTRATOR_PROJECT = "Release Orchestrator"
#: Runbook-only project (empty deployment process, three runbooks, one of them run on the server).
DEMO_RUNBOOK_PROJECT = "Ops Toolkit"
#: Projects with an uploaded logo (blob ``logo/<ProjectId>`` and ``_LogoStamp``).
DEMO_LOGO_PROJECTS: tuple[str, ...] = ("Acme Web", "Acme API", "Acme Database", "Mobile Backend")
#: Project with a built-in ``Icon`` instead of an uploaded logo.
DEMO_ICON_PROJECT = "Infrastructure Health"
#: Package document whose ``PackageSizeBytes`` claims 6 GiB (the stored zip is small).
DEMO_OVERSIZED_PACKAGE = "packages-Acme.DataWarehouse.Seed.2024.1.0"
DEMO_UNREACHABLE_LISTENING_URIS: tuple[str, ...] = (
    "https://10.0.4.21:10933/",
    "https://web01.corp.local:10933/",
    "https://buildbox:10933/",
    "https://localhost:10933/",
    "https://192.168.10.15:10933/",
    "https://172.16.3.8:10933/",
)
DEMO_PUBLIC_LISTENING_URI = "https://app1.example.com:10933/"
DEMO_REACHABLE_FEED = "nuget.org"
DEMO_UNREACHABLE_FEEDS: tuple[str, ...] = ("Corp Docker Registry", "Corp Maven")
DEMO_DEVELOPERS_TEAM = "Developers"
#: Emails of server users that already exist on the Cloud ``demo`` instance.
DEMO_CLOUD_MATCHING_EMAILS: tuple[str, ...] = ("jane.doe@example.com", "maria.garcia@example.com")

# -- large ---------------------------------------------------------------------------------------------
LARGE_PROJECTS = 2000
LARGE_PROJECT_GROUPS = 40
LARGE_TARGETS = 5000
LARGE_RELEASES_PER_PROJECT = 10
LARGE_RELEASES = LARGE_PROJECTS * LARGE_RELEASES_PER_PROJECT
LARGE_ENVIRONMENTS: tuple[str, ...] = (
    "Development",
    "Test",
    "QA",
    "UAT",
    "Performance",
    "Staging",
    "Training",
    "Production",
    "Disaster Recovery",
    "Sandbox",
)

_SEEDS = {
    ("server", "empty"): 1101,
    ("server", "demo"): 1102,
    ("server", "large"): 1103,
    ("cloud", "empty"): 2101,
    ("cloud", "demo"): 2102,
    ("cloud", "large"): 2101,  # the base Cloud instance, identical to "empty"
}


def seed(store: Store, flavour: Literal["server", "cloud"], scenario: str, *, version: str) -> None:
    """Populate an empty store with a scenario's starting data.

    Args:
        store: an empty store (in memory or backed by a directory).
        flavour: ``server`` (self-hosted source) or ``cloud`` (destination).
        scenario: one of :data:`SCENARIOS`.
        version: the Octopus version the instance reports (recorded on its server nodes).

    Raises:
        ValueError: unknown scenario or flavour, or a store that already holds documents.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {', '.join(SCENARIOS)}")
    if flavour not in ("server", "cloud"):
        raise ValueError(f"unknown flavour {flavour!r}")
    if not store.is_empty:
        raise ValueError("seed() needs an empty store")
    g = Gen(store, flavour, version, _SEEDS[(flavour, scenario)])
    with store.batch():
        if flavour == "server" and scenario == "demo":
            _demo_server(g)
        elif flavour == "server" and scenario == "large":
            _large_server(g)
        elif flavour == "cloud" and scenario == "demo":
            _base(g, _cloud_demo_users())
        else:
            _base(g)


# ==========================================================================================
# Base instance
# ==========================================================================================


@dataclass
class _TeamSpec:
    name: str
    description: str
    groups: list[Doc] = field(default_factory=list)
    role: str = "Project Viewer"  # the user role the team holds in the space


def _keys_users(flavour: str) -> list[UserSpec]:
    specs = []
    for u in keys.USERS[flavour]:
        ident = (
            password_identity(u.email, u.display_name)
            if flavour == "server"
            else oidc_identity("Octopus ID", u.email, u.display_name)
        )
        specs.append(
            UserSpec(
                u.username,
                u.display_name,
                u.email,
                u.role,
                [ident],
                teams=("Auditors",) if u.role == "reader" else (),
                api_keys=(u.api_key,),
                user_id=u.user_id,
            )
        )
    return specs


def _base(
    g: Gen,
    extra_users: list[UserSpec] | None = None,
    extra_teams: list[_TeamSpec] | None = None,
    admin_groups: list[Doc] | None = None,
) -> None:
    cloud = g.flavour == "cloud"
    users = _keys_users(g.flavour)
    if cloud:
        users.append(
            UserSpec(
                "octoadmin",
                "Octopus Admin",
                "octoadmin@octopus.com",
                "admin",
                [oidc_identity("Octopus ID", "octoadmin@octopus.com", "Octopus Admin")],
            )
        )
    users += extra_users or []

    # Space first, so it is Spaces-1.
    space_id = g.id("spaces")
    assert space_id == SPACE_ID
    g.add(
        "spaces",
        {
            "Id": space_id,
            "Name": "Default",
            "Slug": "default",
            "Description": "The default space",
            "IsDefault": True,
            "IsPrivate": False,
            "TaskQueueStopped": False,
            "SpaceManagersTeams": [
                "teams-administrators",
                "teams-managers",
                f"teams-spacemanagers-{SPACE_ID}",
            ],
            "SpaceManagersTeamMembers": [],
            "Icon": None,
            "ExtensionSettings": [],
            "LastModifiedOn": stamp(days=400),
        },
    )

    user_ids: list[tuple[str, UserSpec]] = []
    for spec in users:
        uid = g.id("users")
        if spec.user_id is not None and uid != spec.user_id:
            raise AssertionError(f"{spec.username} got {uid}, keys.py says {spec.user_id}")
        g.add("users", user_doc(uid, spec))
        user_ids.append((uid, spec))

    def with_role(role: str) -> list[str]:
        return [uid for uid, s in user_ids if s.role == role]

    g.add(
        "teams",
        team_doc(
            "teams-administrators",
            "Octopus Administrators",
            "Members of this team can do anything, including configuring the Octopus Server itself.",
            with_role("admin"),
            space_id=None,
            groups=admin_groups or [],
            system=True,
        ),
    )
    g.add(
        "teams",
        team_doc(
            "teams-managers",
            "Octopus Managers",
            "Members of this team can manage spaces, teams and users, but cannot configure the server.",
            with_role("manager"),
            space_id=None,
            system=True,
        ),
    )
    # The simulator lists every user explicitly (Octopus treats Everyone as implicit).
    g.add(
        "teams",
        team_doc(
            "teams-everyone",
            "Everyone",
            "All users are members of this team.",
            [uid for uid, _ in user_ids],
            space_id=None,
            system=True,
        ),
    )
    g.add(
        "teams",
        team_doc(
            f"teams-spacemanagers-{SPACE_ID}",
            "Space Managers",
            "Members of this team can manage the Default space.",
            [],
            space_id=SPACE_ID,
            system=True,
        ),
    )
    teams = [_TeamSpec("Auditors", "Read-only access to the Default space for audits and reporting.")]
    teams += extra_teams or []
    holders: list[tuple[str, str, str | None]] = [
        ("teams-administrators", "System Administrator", None),
        ("teams-managers", "System Manager", None),
        (f"teams-spacemanagers-{SPACE_ID}", "Space Manager", SPACE_ID),
    ]
    for t in teams:
        members = [uid for uid, s in user_ids if t.name in s.teams]
        team = g.add(
            "teams",
            team_doc(g.id("teams"), t.name, t.description, members, space_id=SPACE_ID, groups=t.groups),
        )
        holders.append((team["Id"], t.role, SPACE_ID))
    _user_roles(g, holders)

    _configuration(g)

    g.add(
        "octopusservernodes",
        {
            "Id": g.id("octopusservernodes"),
            "Name": "octopus-cloud-0" if cloud else "OCTOPUS01",
            "MaxConcurrentTasks": 20 if cloud else 5,
            "IsInMaintenanceMode": False,
            "_Version": g.version,
        },
    )
    for feed in builtin_feeds(cloud=cloud):
        g.add("feeds", feed)
    g.add(
        "machinepolicies",
        machine_policy_doc(
            g.id("machinepolicies"),
            "Default Machine Policy",
            default=True,
            description="This is the default machine policy.",
        ),
    )
    g.add(
        "projectgroups",
        {
            "Id": g.id("projectgroups"),
            "SpaceId": SPACE_ID,
            "Name": "Default Project Group",
            "Slug": "default-project-group",
            "Description": None,
            "EnvironmentIds": [],
            "RetentionPolicyId": None,
        },
    )
    g.add("lifecycles", lifecycle_doc(g.id("lifecycles"), "Default Lifecycle", [], cloud=cloud))
    if cloud:
        g.add(
            "workerpools",
            worker_pool_doc(
                g.id("workerpools"),
                "Hosted Ubuntu",
                1,
                default=True,
                dynamic_type="UbuntuDefault",
                description="Dynamic Ubuntu workers hosted by Octopus.",
            ),
        )
        g.add(
            "workerpools",
            worker_pool_doc(
                g.id("workerpools"),
                "Hosted Windows",
                2,
                dynamic_type="WindowsDefault",
                description="Dynamic Windows workers hosted by Octopus.",
            ),
        )
    else:
        g.add("workerpools", worker_pool_doc(g.id("workerpools"), "Default Worker Pool", 1, default=True))


_CONTRIBUTOR = (*perms.READ, "ProjectEdit", "ProcessEdit", "VariableEdit", "ReleaseCreate", "TriggerEdit")


def _user_roles(g: Gen, holders: list[tuple[str, str, str | None]]) -> None:
    """The built-in user roles, and the scoped user roles ``(team id, role name, space id)`` grant."""
    system = list(perms.SYSTEM_LEVEL)
    roles = [
        user_role_doc("System Administrator", "Can do everything at the system level.", system, []),
        user_role_doc(
            "System Manager",
            "Everything at the system level except certain functions reserved for system administrators.",
            [p for p in system if p != "AdministerSystem"],
            [],
        ),
        user_role_doc("Space Manager", "Can do everything within the context of a space.", [], SPACE_LEVEL),
        user_role_doc("Project Contributor", "Can edit and view projects, but not deploy.", [], _CONTRIBUTOR),
        user_role_doc(
            "Project Deployer",
            "Project contributor who can also deploy.",
            [],
            (*_CONTRIBUTOR, "DeploymentCreate"),
        ),
        user_role_doc("Project Viewer", "Can view projects, releases and deployments.", [], perms.READ),
    ]
    ids = {r["Name"]: g.add("userroles", r)["Id"] for r in roles}
    for team_id, role, space_id in holders:
        g.add("scopeduserroles", scoped_user_role_doc(g.id("scopeduserroles"), team_id, ids[role], space_id))


def _provider(name: str, identity_type: str, forms: bool) -> Doc:
    return {
        "Name": name,
        "IdentityType": identity_type,
        "FormsLoginEnabled": forms,
        "Links": {},
        "JavascriptLinks": [],
        "CSSLinks": [],
    }


def _configuration(g: Gen) -> None:
    cloud = g.flavour == "cloud"
    g.add("config", {"Id": "maintenance", "IsInMaintenanceMode": False})
    g.add(
        "config",
        {
            "Id": "features",
            "IsBuiltInWorkerEnabled": not cloud,
            "IsCommunityActionTemplatesEnabled": True,
            "IsConfigurationAsCodeEnabled": True,
            "IsKubernetesEnabled": True,
            "IsActionContainersEnabled": True,
            "IsAzureZipDeployEnabled": False,
            "IsHelpSidebarEnabled": True,
            "HelpSidebarSupportLink": "",
            "IsStepUiFrameworkEnabled": True,
        },
    )
    if cloud:
        providers = [_provider("Octopus ID", "OAuth", False), _provider("Azure AD", "OAuth", False)]
    else:
        providers = [
            _provider("Username/Password", "UsernamePassword", True),
            _provider("Active Directory", "ActiveDirectory", True),
            _provider("LDAP", "ActiveDirectory", True),
        ]
    g.add(
        "config",
        {
            "Id": "authentication",
            "AnyAuthenticationProvidersSupportPasswordManagement": not cloud,
            "AutoLoginEnabled": False,
            "AuthenticationProviders": providers,
        },
    )
    g.add(
        "config",
        {
            "Id": "certificate-global",
            "Name": "Octopus Server",
            "Thumbprint": g.thumbprint(),
            "SignatureAlgorithm": "sha256RSA",
            "NotBefore": stamp(days=900),
            "NotAfter": "2124-08-01T00:00:00.000+00:00",
        },
    )

    sections: list[tuple[str, str, str, dict[str, Any]]] = [
        (
            "authentication-usernamepassword",
            "Username/Password",
            "Username and password authentication managed by Octopus",
            {"IsEnabled": not cloud},
        ),
        ("authentication-guest", "Guest Login", "Allow anonymous read-only access", {"IsEnabled": False}),
    ]
    if not cloud:
        sections += [
            (
                "authentication-directoryservices",
                "Active Directory",
                "Active Directory authentication",
                {
                    "IsEnabled": True,
                    "ActiveDirectoryContainer": "",
                    "AuthenticationScheme": "Ntlm",
                    "AllowFormsAuthenticationForDomainUsers": True,
                    "AreSecurityGroupsEnabled": True,
                    "AllowAutoUserCreation": True,
                },
            ),
            (
                "authentication-ldap",
                "LDAP",
                "LDAP authentication",
                {
                    "IsEnabled": True,
                    "Server": "dc01.corp.local",
                    "Port": 636,
                    "SecurityProtocol": "SSL",
                    "IgnoreSslErrors": False,
                    "ConnectUsername": "CN=svc-octopus,OU=Service Accounts,DC=corp,DC=local",
                    "ConnectPassword": {"HasValue": True, "NewValue": None},
                    "UserBaseDn": "OU=Users,DC=corp,DC=local",
                    "GroupBaseDn": "OU=Groups,DC=corp,DC=local",
                    "AllowAutoUserCreation": True,
                    "ReferralFollowingEnabled": True,
                },
            ),
        ]
    sections += [
        (
            "authentication-aad",
            "Azure AD",
            "Azure Active Directory (Entra ID) authentication",
            {
                "IsEnabled": cloud,
                "Issuer": "https://login.microsoftonline.com/9f8e7d6c-5b4a-4f3e-8d2c-1b0a9f8e7d6c/v2.0"
                if cloud
                else None,
                "ClientId": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f" if cloud else None,
                "ClientSecret": {"HasValue": cloud, "NewValue": None},
                "AllowAutoUserCreation": cloud,
                "RoleClaimType": "roles",
                "ScimEnabled": False,
            },
        ),
        (
            "authentication-octopusid",
            "Octopus ID",
            "Sign in with your Octopus ID",
            {
                "IsEnabled": cloud,
                "Issuer": "https://account.octopus.com",
                "ClientId": "octopus-cloud-instance" if cloud else None,
                "ClientSecret": {"HasValue": cloud, "NewValue": None},
                "AllowAutoUserCreation": False,
            },
        ),
    ]
    for section_id, name, description, values in sections:
        g.add(
            "configuration", {"Id": section_id, "Name": name, "Description": description, "_Values": values}
        )


def _cloud_demo_users() -> list[UserSpec]:
    jane, maria = DEMO_CLOUD_MATCHING_EMAILS
    return [
        UserSpec("jane.doe", "Jane Doe", jane, "none", [oidc_identity("Octopus ID", jane, "Jane Doe")]),
        UserSpec(
            "maria.garcia",
            "Maria Garcia",
            maria,
            "none",
            [oidc_identity("Octopus ID", maria, "Maria Garcia")],
        ),
    ]


# ==========================================================================================
# Demo: the migration source
# ==========================================================================================


def _demo_users() -> list[UserSpec]:
    jane, maria = DEMO_CLOUD_MATCHING_EMAILS
    return [
        UserSpec(
            "jdoe",
            "Jane Doe",
            jane,
            "admin",
            [ad_identity("jdoe@corp.local", "CORP\\jdoe", jane, "Jane Doe")],
        ),
        UserSpec(
            "bsmith",
            "Bob Smith",
            "bob.smith@example.com",
            "reader",
            [ad_identity("bsmith@corp.local", "CORP\\bsmith", "bob.smith@example.com", "Bob Smith")],
            teams=("Developers",),
        ),
        UserSpec(
            "akhan",
            "Aisha Khan",
            "aisha.khan@example.com",
            "reader",
            [ad_identity("akhan@corp.local", "CORP\\akhan", "aisha.khan@example.com", "Aisha Khan")],
            teams=("Developers",),
        ),
        UserSpec(
            "mgarcia",
            "Maria Garcia",
            maria,
            "reader",
            [ldap_identity("mgarcia", maria, "Maria Garcia")],
            teams=("Operators",),
        ),
        UserSpec(
            "tnguyen",
            "Tom Nguyen",
            "tom.nguyen@example.com",
            "manager",
            [ldap_identity("tnguyen", "tom.nguyen@example.com", "Tom Nguyen")],
        ),
        UserSpec("build-server", "Build Server", None, "none", [], is_service=True),
        UserSpec(
            "lwilson",
            "Liam Wilson",
            "liam.wilson@example.com",
            "reader",
            [password_identity("liam.wilson@example.com", "Liam Wilson")],
            teams=("Auditors",),
        ),
        UserSpec(
            "pjones",
            "Priya Jones",
            "priya.jones@example.com",
            "none",
            [ad_identity("pjones@corp.local", "CORP\\pjones", "priya.jones@example.com", "Priya Jones")],
            is_active=False,
        ),
    ]


@dataclass
class _Demo:
    """Ids the demo's later parts refer to."""

    envs: dict[str, str] = field(default_factory=dict)
    lifecycles: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    pools: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    certificate: str = ""
    feeds: dict[str, str] = field(default_factory=dict)
    package_versions: dict[str, list[str]] = field(default_factory=dict)
    library_sets: dict[str, str] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)
    tenants: dict[str, str] = field(default_factory=dict)
    machines: list[Doc] = field(default_factory=list)
    release_versions: dict[str, list[str]] = field(default_factory=dict)
    deployers: list[tuple[str, str | None]] = field(default_factory=list)
    external_versions: dict[str, str] = field(default_factory=dict)


def _demo_server(g: Gen) -> None:
    _base(
        g,
        _demo_users(),
        [
            _TeamSpec(
                "Developers",
                "Application developers (mapped from the AD group CORP\\Developers).",
                [external_group("S-1-5-21-3623811015-3361044348-30300820-1105", "CORP\\Developers")],
                role="Project Contributor",
            ),
            _TeamSpec(
                "Operators",
                "Operations staff (mapped from an LDAP group).",
                [external_group("cn=octopus-operators,ou=groups,dc=corp,dc=local", "octopus-operators")],
                role="Project Deployer",
            ),
        ],
        admin_groups=[external_group("S-1-5-21-3623811015-3361044348-30300820-1107", "CORP\\Octopus Admins")],
    )
    d = _Demo()
    users = {u["Username"]: u["Id"] for u in g.store.all("users")}
    d.deployers = [
        ("jdoe", users["jdoe"]),
        ("bsmith", users["bsmith"]),
        ("build-server", users["build-server"]),
    ]

    for i, name in enumerate(DEMO_ENVIRONMENTS):
        doc = g.add(
            "environments",
            environment_doc(g.id("environments"), name, i, guided_failure=name == "Production"),
        )
        d.envs[name] = doc["Id"]
    dev, test, prod = (d.envs[n] for n in DEMO_ENVIRONMENTS)
    d.lifecycles["Default"] = DEFAULT_LIFECYCLE_ID
    d.lifecycles["Standard"] = g.add(
        "lifecycles",
        lifecycle_doc(
            g.id("lifecycles"),
            "Standard",
            [
                phase(g, "Development", automatic=[dev]),
                phase(g, "Test", optional=[test]),
                phase(g, "Production", optional=[prod]),
            ],
        ),
    )["Id"]
    d.lifecycles["Hotfix"] = g.add(
        "lifecycles",
        lifecycle_doc(
            g.id("lifecycles"),
            "Hotfix",
            [
                phase(g, "Test", optional=[test], is_optional=True),
                phase(g, "Production", optional=[prod]),
            ],
        ),
    )["Id"]

    d.groups["Default Project Group"] = DEFAULT_PROJECT_GROUP_ID
    for name, description in (
        ("Web Applications", "Customer-facing web applications"),
        ("Back Office", "Internal line-of-business systems"),
        ("Platform", "Shared platform, orchestration and operations"),
    ):
        d.groups[name] = g.add(
            "projectgroups",
            {
                "Id": g.id("projectgroups"),
                "SpaceId": SPACE_ID,
                "Name": name,
                "Slug": slugify(name),
                "Description": description,
                "EnvironmentIds": [],
                "RetentionPolicyId": None,
            },
        )["Id"]

    transient = g.add(
        "machinepolicies",
        machine_policy_doc(
            g.id("machinepolicies"),
            "Transient Machines",
            default=False,
            description="Machines that come and go (autoscaling, containers).",
        ),
    )["Id"]

    # Worker pools: Default (no workers: run-on-server steps really run on the server),
    # Linux (one worker: fewer than the two the guide recommends), Windows (two).
    d.pools["Default Worker Pool"] = DEFAULT_WORKER_POOL_ID
    d.pools["Linux Workers"] = g.add(
        "workerpools",
        worker_pool_doc(
            g.id("workerpools"), "Linux Workers", 2, description="Ubuntu workers in the Sydney data centre"
        ),
    )["Id"]
    d.pools["Windows Workers"] = g.add(
        "workerpools",
        worker_pool_doc(
            g.id("workerpools"), "Windows Workers", 3, description="Windows workers in the Sydney data centre"
        ),
    )["Id"]
    g.add(
        "workers",
        worker_doc(
            g.id("workers"),
            "linux-worker-01",
            listening_endpoint(g, "https://10.0.6.11:10933/"),
            [d.pools["Linux Workers"]],
            os_kind="linux",
        ),
    )
    g.add(
        "workers",
        worker_doc(
            g.id("workers"),
            "win-worker-01",
            listening_endpoint(g, "https://win-worker-01.corp.local:10933/"),
            [d.pools["Windows Workers"]],
            os_kind="windows",
        ),
    )
    g.add(
        "workers",
        worker_doc(
            g.id("workers"),
            "win-worker-02",
            polling_endpoint(g),
            [d.pools["Windows Workers"]],
            os_kind="windows",
        ),
    )

    tagset_id = g.id("tagsets")
    g.add(
        "tagsets",
        {
            "Id": tagset_id,
            "SpaceId": SPACE_ID,
            "Name": "Customer Tier",
            "Description": "Support tier",
            "SortOrder": 0,
            "Tags": [
                {
                    "Id": f"{tagset_id}-1",
                    "Name": "Gold",
                    "Color": "#E6B800",
                    "Description": "",
                    "CanonicalTagName": "Customer Tier/Gold",
                    "SortOrder": 0,
                },
                {
                    "Id": f"{tagset_id}-2",
                    "Name": "Silver",
                    "Color": "#A0A0A0",
                    "Description": "",
                    "CanonicalTagName": "Customer Tier/Silver",
                    "SortOrder": 1,
                },
            ],
        },
    )

    _demo_accounts(g, d)
    _demo_feeds_and_packages(g, d)
    _demo_library_sets(g, d)

    for name in DEMO_PROJECT_NAMES:
        d.projects[name] = g.id("projects")
    p = d.projects
    for name, tier, envs in (
        ("Contoso", "Gold", {p["Acme Web"]: [dev, test, prod], p["Acme API"]: [test, prod]}),
        ("Fabrikam", "Silver", {p["Acme Web"]: [prod], p["Acme API"]: [prod]}),
    ):
        d.tenants[name] = g.add(
            "tenants",
            {
                "Id": g.id("tenants"),
                "SpaceId": SPACE_ID,
                "Name": name,
                "Slug": slugify(name),
                "Description": f"{name} (hosted customer)",
                "ClonedFromTenantId": None,
                "TenantTags": [f"Customer Tier/{tier}"],
                "ProjectEnvironments": envs,
            },
        )["Id"]

    _demo_targets(g, d, transient)
    _demo_projects(g, d)


def _demo_accounts(g: Gen, d: _Demo) -> None:
    common = {
        "SpaceId": SPACE_ID,
        "EnvironmentIds": [],
        "TenantIds": [],
        "TenantTags": [],
        "TenantedDeploymentParticipation": "Untenanted",
    }
    accounts: list[tuple[str, str, dict[str, Any], str]] = [
        (
            "Azure Production",
            "AzureServicePrincipal",
            {
                "SubscriptionNumber": "3b1c5e2a-9d7f-4e61-8a2b-6c0d4f9e1a37",
                "ClientId": "d2f4a6c8-1b3d-4e5f-9a7b-0c2e4f6a8b1d",
                "TenantId": "9f8e7d6c-5b4a-4f3e-8d2c-1b0a9f8e7d6c",
                "Password": {"HasValue": True, "NewValue": None},
                "AzureEnvironment": "",
                "ResourceManagementEndpointBaseUri": "",
                "ActiveDirectoryEndpointBaseUri": "",
            },
            "azure-sp-secret-7Qx!",
        ),
        (
            "Deploy Service Account",
            "UsernamePassword",
            {
                "Username": "CORP\\svc-deploy",
                "Password": {"HasValue": True, "NewValue": None},
            },
            "svc-deploy-P@ssw0rd",
        ),
        (
            "Linux SSH Key",
            "SshKeyPair",
            {
                "Username": "octopus",
                "PrivateKeyFile": {"HasValue": True, "NewValue": None},
                "PrivateKeyPassphrase": {"HasValue": False, "NewValue": None},
            },
            "-----BEGIN OPENSSH PRIVATE KEY-----\nc2ltdWxhdGVk\n-----END OPENSSH PRIVATE KEY-----\n",
        ),
        (
            "On-prem Kubernetes Token",
            "Token",
            {
                "Token": {"HasValue": True, "NewValue": None},
            },
            "eyJhbGciOiJSUzI1NiJ9.c2ltdWxhdGVk.c2ln",
        ),
    ]
    for name, account_type, extra, secret in accounts:
        doc: Doc = {
            "Id": g.id("accounts"),
            "Name": name,
            "Slug": slugify(name),
            "Description": "",
            "AccountType": account_type,
            **common,
            **extra,
            "_Password": secret,
        }
        d.accounts[name] = g.add("accounts", doc)["Id"]

    d.certificate = g.add(
        "certificates",
        {
            "Id": g.id("certificates"),
            "SpaceId": SPACE_ID,
            "Name": "Corp Wildcard",
            "Notes": "Wildcard certificate for *.corp.local",
            "CertificateDataFormat": "Pkcs12",
            "Archived": None,
            "ReplacedBy": None,
            "SubjectDistinguishedName": "CN=*.corp.local, O=Acme Corp",
            "SubjectCommonName": "*.corp.local",
            "SubjectOrganization": "Acme Corp",
            "IssuerDistinguishedName": "CN=Acme Issuing CA, O=Acme Corp",
            "IssuerCommonName": "Acme Issuing CA",
            "IssuerOrganization": "Acme Corp",
            "SelfSigned": False,
            "Thumbprint": g.thumbprint(),
            "NotBefore": stamp(days=200),
            "NotAfter": "2027-01-31T23:59:59.000+00:00",
            "IsExpired": False,
            "HasPrivateKey": True,
            "Version": 3,
            "SerialNumber": g.hex(16),
            "SignatureAlgorithmName": "sha256RSA",
            "SubjectAlternativeNames": ["*.corp.local", "corp.local"],
            "CertificateChain": [],
            "EnvironmentIds": [],
            "TenantIds": [],
            "TenantTags": [],
            "TenantedDeploymentParticipation": "Untenanted",
            "CertificateData": {"HasValue": True, "NewValue": None},
            "Password": {"HasValue": True, "NewValue": None},
        },
    )["Id"]


def _demo_feeds_and_packages(g: Gen, d: _Demo) -> None:
    d.feeds["nuget.org"] = g.add(
        "feeds",
        external_feed_doc(
            g.id("feeds"),
            "nuget.org",
            "NuGet",
            "https://api.nuget.org/v3/index.json",
            extra={"EnhancedMode": False},
        ),
    )["Id"]
    d.feeds["Corp Docker Registry"] = g.add(
        "feeds",
        external_feed_doc(
            g.id("feeds"),
            "Corp Docker Registry",
            "Docker",
            "https://registry.corp.local",
            username="svc-octopus",
            password="registry-P@ss-2024",
            extra={"ApiVersion": "v2", "RegistryPath": None},
        ),
    )["Id"]
    d.feeds["Corp Maven"] = g.add(
        "feeds",
        external_feed_doc(
            g.id("feeds"),
            "Corp Maven",
            "Maven",
            "http://10.1.2.3:8081/repository/maven",
            username="deployer",
            password="maven-deployer-pw",
        ),
    )["Id"]
    d.external_versions = {
        d.feeds["nuget.org"]: "13.0.3",
        d.feeds["Corp Docker Registry"]: "3.5.0",
        d.feeds["Corp Maven"]: "2.3.1",
    }
    catalogue = [
        ("Acme.Web", ["1.0.0", "1.1.0", "1.2.0", "2.0.0"]),
        ("Acme.Api", ["3.4.0", "3.4.1", "3.5.0"]),
        ("Acme.Database", ["1.0.12", "1.0.13"]),
    ]
    age = 400.0
    for package_id, versions in catalogue:
        for version in versions:
            add_builtin_package(g, package_id, version, published=stamp(days=age))
            age -= 17
        d.package_versions[package_id] = versions
    add_builtin_package(
        g,
        "Acme.DataWarehouse.Seed",
        "2024.1.0",
        published=stamp(days=70),
        claimed_size=6 * 1024**3,
        files={"README.txt": "Seed data for the data warehouse (the real archive is 6 GiB).\n"},
    )
    d.package_versions["Acme.DataWarehouse.Seed"] = ["2024.1.0"]


def _demo_library_sets(g: Gen, d: _Demo) -> None:
    prod, test = d.envs["Production"], d.envs["Test"]
    sets: list[tuple[str, str, str, list[Doc]]] = [
        (
            "Common Settings",
            "Variables",
            "Settings shared by every application",
            [
                variable(g, "Smtp.Server", "smtp.corp.local"),
                variable(
                    g,
                    "Slack.WebhookUrl",
                    "https://hooks.slack.com/services/T000/B000/simulated",
                    sensitive=True,
                ),
                variable(
                    g, "Monitoring.Endpoint", "https://monitor-test.corp.local", scope={"Environment": [test]}
                ),
                variable(
                    g, "Monitoring.Endpoint", "https://monitor.corp.local", scope={"Environment": [prod]}
                ),
            ],
        ),
        (
            "Database Credentials",
            "Variables",
            "SQL Server credentials per environment",
            [
                variable(g, "Sql.AdminUser", "sa_deploy"),
                variable(
                    g, "Sql.AdminPassword", "Test-Sql-Pw-1", sensitive=True, scope={"Environment": [test]}
                ),
                variable(
                    g, "Sql.AdminPassword", "Prod-Sql-Pw-9", sensitive=True, scope={"Environment": [prod]}
                ),
            ],
        ),
        (
            "Deployment Helpers",
            "ScriptModule",
            "PowerShell helpers imported by script steps",
            [
                variable(
                    g,
                    "Octopus.Script.Module[Deployment Helpers]",
                    'function Write-Banner($text) { Write-Host "=== $text ===" }',
                ),
                variable(g, "Octopus.Script.Module.Language[Deployment Helpers]", "PowerShell"),
            ],
        ),
    ]
    for name, content_type, description, variables in sets:
        lvs_id = g.id("libraryvariablesets")
        g.add(
            "libraryvariablesets",
            {
                "Id": lvs_id,
                "SpaceId": SPACE_ID,
                "Name": name,
                "Description": description,
                "VariableSetId": f"variableset-{lvs_id}",
                "ContentType": content_type,
                "Templates": [],
            },
        )
        env_values = [{"Id": e, "Name": n} for n, e in d.envs.items()]
        g.add(
            "variables",
            variable_set_doc(
                lvs_id,
                variables,
                {
                    "Environments": env_values,
                    "Machines": [],
                    "Actions": [],
                    "Roles": [],
                    "Channels": [],
                    "TenantTags": [],
                    "Processes": [],
                },
            ),
        )
        d.library_sets[name] = lvs_id


def _demo_targets(g: Gen, d: _Demo, transient_policy: str) -> None:
    dev, test, prod = (d.envs[n] for n in DEMO_ENVIRONMENTS)
    contoso, fabrikam = d.tenants["Contoso"], d.tenants["Fabrikam"]
    lin, win = d.pools["Linux Workers"], d.pools["Windows Workers"]
    k8s_auth_azure = {
        "AuthenticationType": "KubernetesAzure",
        "AccountId": d.accounts["Azure Production"],
        "ClusterName": "aks-prod",
        "ClusterResourceGroup": "rg-aks-prod",
        "AdminLogin": "false",
    }
    k8s_auth_token = {
        "AuthenticationType": "KubernetesStandard",
        "AccountId": d.accounts["On-prem Kubernetes Token"],
    }
    targets: list[tuple[str, Doc, dict[str, Any]]] = [
        # Listening Tentacles: private addresses and names Cloud cannot reach, and one public one.
        (
            "web01",
            listening_endpoint(g, "https://web01.corp.local:10933/"),
            {"environment_ids": [prod], "roles": ["web-server"], "os_kind": "windows"},
        ),
        (
            "web-test-01",
            listening_endpoint(g, "https://10.0.4.21:10933/"),
            {"environment_ids": [test], "roles": ["web-server"], "os_kind": "windows"},
        ),
        (
            "buildbox",
            listening_endpoint(g, "https://buildbox:10933/"),
            {"environment_ids": [dev], "roles": ["web-server", "build-agent"], "os_kind": "windows"},
        ),
        (
            "dev-workstation",
            listening_endpoint(g, "https://localhost:10933/"),
            {"environment_ids": [dev], "roles": ["web-server"], "os_kind": "windows"},
        ),
        (
            "app1-public",
            listening_endpoint(g, DEMO_PUBLIC_LISTENING_URI),
            {
                "environment_ids": [prod],
                "roles": ["web-server", "app-server"],
                "os_kind": "windows",
                "tenant_ids": [contoso, fabrikam],
                "participation": "TenantedOrUntenanted",
            },
        ),
        (
            "db01",
            listening_endpoint(g, "https://192.168.10.15:10933/"),
            {"environment_ids": [prod], "roles": ["db-server"], "os_kind": "windows"},
        ),
        (
            "web-test-02",
            listening_endpoint(g, "https://172.16.3.8:10933/"),
            {
                "environment_ids": [test],
                "roles": ["web-server"],
                "os_kind": "windows",
                "health": "Unavailable",
            },
        ),
        # Polling Tentacles.
        (
            "app-prod-01",
            polling_endpoint(g),
            {
                "environment_ids": [prod],
                "roles": ["app-server"],
                "os_kind": "windows",
                "tenant_ids": [contoso],
                "tenant_tags": ["Customer Tier/Gold"],
                "participation": "Tenanted",
            },
        ),
        (
            "app-prod-02",
            polling_endpoint(g),
            {"environment_ids": [prod], "roles": ["app-server"], "os_kind": "windows"},
        ),
        (
            "app-test-01",
            polling_endpoint(g),
            {"environment_ids": [test], "roles": ["app-server"], "os_kind": "windows"},
        ),
        (
            "app-dev-01",
            polling_endpoint(g),
            {"environment_ids": [dev], "roles": ["app-server", "web-server"], "os_kind": "linux"},
        ),
        (
            "db-test-01",
            polling_endpoint(g),
            {"environment_ids": [test, dev], "roles": ["db-server"], "os_kind": "windows"},
        ),
        (
            "app-old-01",
            polling_endpoint(g),
            {"environment_ids": [prod], "roles": ["app-server"], "os_kind": "windows", "disabled": True},
        ),
        # SSH.
        (
            "linux-ssh-01",
            ssh_endpoint(g, "10.0.5.10", d.accounts["Linux SSH Key"]),
            {"environment_ids": [test, prod], "roles": ["linux-server", "app-server"], "os_kind": "linux"},
        ),
        (
            "linux-ssh-02",
            ssh_endpoint(g, "lx02.corp.local", d.accounts["Linux SSH Key"]),
            {
                "environment_ids": [dev],
                "roles": ["linux-server"],
                "os_kind": "linux",
                "policy_id": transient_policy,
            },
        ),
        # Kubernetes (API), Kubernetes agent.
        (
            "aks-prod",
            kubernetes_endpoint(
                "https://aks-prod-dns-1a2b3c4d.hcp.australiaeast.azmk8s.io:443", k8s_auth_azure, "acme", lin
            ),
            {"environment_ids": [prod], "roles": ["k8s"]},
        ),
        (
            "k8s-onprem",
            kubernetes_endpoint(
                "https://k8s.corp.local:6443", k8s_auth_token, "acme-test", lin, skip_tls=True
            ),
            {"environment_ids": [dev, test], "roles": ["k8s"]},
        ),
        (
            "k8s-agent-dev",
            kubernetes_agent_endpoint(g, "acme-dev"),
            {"environment_ids": [dev], "roles": ["k8s"], "os_kind": "linux", "policy_id": transient_policy},
        ),
        # Azure Web App, Cloud Region, Offline Drop, Step Package (AWS ECS).
        (
            "mobile-backend-prod",
            azure_web_app_endpoint(d.accounts["Azure Production"], "rg-mobile-prod", "mobile-backend-prod"),
            {"environment_ids": [prod], "roles": ["azure-webapp"]},
        ),
        (
            "cloud-region-sydney",
            cloud_region_endpoint(DEFAULT_WORKER_POOL_ID),
            {"environment_ids": [dev, test, prod], "roles": ["cloud-region"]},
        ),
        (
            "dmz-offline-drop",
            offline_drop_endpoint("\\\\fileserver\\drops\\dmz"),
            {"environment_ids": [prod], "roles": ["dmz"]},
        ),
        (
            "ecs-prod",
            step_package_endpoint(win, d.accounts["Deploy Service Account"]),
            {"environment_ids": [prod], "roles": ["ecs"]},
        ),
    ]
    for name, endpoint, kwargs in targets:
        d.machines.append(g.add("machines", target_doc(g.id("machines"), name, endpoint, **kwargs)))


# -- demo projects -----------------------------------------------------------------------------------


@dataclass
class _P:
    """How one demo project is built."""

    name: str
    group: str
    lifecycle: str
    steps: list[Doc]
    description: str = ""
    releases: int = 4
    spacing_days: float = 9.0
    last_deploy_days: float | None = 2.0
    major: str = "1.0"
    fail_latest: bool = False
    tenanted: bool = False
    disabled: bool = False
    vcs: bool = False
    logo: tuple[int, int, int] | None = None
    icon: Doc | None = None
    library_sets: tuple[str, ...] = ("Common Settings",)
    variables: list[Doc] = field(default_factory=list)
    extra_channels: list[tuple[str, str | None, list[Doc]]] = field(default_factory=list)
    runbooks: list[tuple[str, str, list[Doc]]] = field(default_factory=list)


def _demo_projects(g: Gen, d: _Demo) -> None:
    p, pools, feeds = d.projects, d.pools, d.feeds
    dev, test, prod = (d.envs[n] for n in DEMO_ENVIRONMENTS)

    def pkg_step(
        name: str,
        package_id: str,
        roles: list[str],
        *,
        feed: str = BUILTIN_FEED_ID,
        action_type: str = "Octopus.TentaclePackage",
        props: dict[str, str] | None = None,
    ) -> Doc:
        ref = package_ref(g, package_id, feed, acquisition="Server")
        return step(
            g,
            name,
            action(
                g,
                name,
                action_type,
                {
                    "Octopus.Action.EnabledFeatures": "Octopus.Features.ConfigurationTransforms,"
                    "Octopus.Features.ConfigurationVariables",
                    "Octopus.Action.Package.AutomaticallyRunConfigurationTransformationFiles": "True",
                    **(props or {}),
                },
                packages=[ref],
            ),
            roles=roles,
        )

    def script_step(
        name: str,
        body: str,
        *,
        roles: list[str] | None = None,
        on_server: bool = False,
        pool: str | None = None,
        pool_variable: str | None = None,
        packages: list[Doc] | None = None,
        environments: list[str] | None = None,
    ) -> Doc:
        act = action(
            g,
            name,
            "Octopus.Script",
            script_props(body, run_on_server=on_server),
            packages=packages or [],
            worker_pool_id=pool,
            worker_pool_variable=pool_variable,
            environments=environments or [],
        )
        return step(g, name, act, roles=roles or [])

    def manual_step(name: str, instructions: str, team_ids: list[str], envs: list[str]) -> Doc:
        return step(
            g,
            name,
            action(
                g,
                name,
                "Octopus.Manual",
                {
                    "Octopus.Action.Manual.Instructions": instructions,
                    "Octopus.Action.Manual.ResponsibleTeamIds": ",".join(team_ids),
                    "Octopus.Action.Manual.BlockConcurrentDeployments": "False",
                },
                environments=envs,
            ),
        )

    def deploy_release_step(name: str, project_id: str) -> Doc:
        ref = package_ref(g, project_id, RELEASES_FEED_ID, acquisition="NotAcquired")
        return step(
            g,
            name,
            action(
                g,
                name,
                "Octopus.DeployRelease",
                {
                    "Octopus.Action.DeployRelease.ProjectId": project_id,
                    "Octopus.Action.DeployRelease.DeploymentCondition": "Always",
                },
                packages=[ref],
            ),
        )

    teams = {t["Name"]: t["Id"] for t in g.store.all("teams")}
    web_pkg = pkg_step(
        "Deploy web app",
        "Acme.Web",
        ["web-server"],
        props={
            "Octopus.Action.IISWebSite.CreateOrUpdateWebSite": "True",
            "Octopus.Action.IISWebSite.WebSiteName": "AcmeWeb",
        },
    )
    container_ref = package_ref(
        g,
        "acme/api",
        feeds["Corp Docker Registry"],
        name="acme-api",
        acquisition="NotAcquired",
        properties={"Extract": "False"},
    )
    container_step = step(
        g,
        "Deploy container",
        action(
            g,
            "Deploy container",
            "Octopus.KubernetesDeployContainers",
            {
                "Octopus.Action.RunOnServer": "true",
                "Octopus.Action.KubernetesContainers.DeploymentName": "acme-api",
                "Octopus.Action.KubernetesContainers.Replicas": "3",
                "Octopus.Action.KubernetesContainers.Containers": json.dumps(
                    [{"Name": "acme-api", "PackageId": "acme/api", "FeedId": feeds["Corp Docker Registry"]}]
                ),
            },
            packages=[container_ref],
            worker_pool_id=pools["Linux Workers"],
        ),
        roles=["k8s"],
    )
    migrations_ref = package_ref(
        g,
        "Acme.Database",
        BUILTIN_FEED_ID,
        name="migrations",
        acquisition="Server",
        properties={"Extract": "True", "SelectionMode": "immediate"},
    )
    json_ref = package_ref(
        g,
        "Newtonsoft.Json",
        feeds["nuget.org"],
        name="json-lib",
        acquisition="ExecutionTarget",
        properties={"Extract": "True", "SelectionMode": "immediate"},
    )

    specs: list[_P] = [
        _P(
            "Acme Web",
            "Web Applications",
            "Standard",
            [
                script_step(
                    "Run pre-deploy checks",
                    "Write-Host 'Checking prerequisites on the server'",
                    on_server=True,
                ),
                web_pkg,
                script_step(
                    "Smoke test",
                    "Invoke-WebRequest http://localhost/health -UseBasicParsing",
                    roles=["web-server"],
                ),
            ],
            description="The public Acme website",
            releases=4,
            last_deploy_days=0.2,
            tenanted=True,
            logo=(0x1F, 0x6F, 0xEB),
            library_sets=("Common Settings", "Deployment Helpers"),
            extra_channels=[
                (
                    "Hotfix",
                    "Hotfix",
                    [
                        {
                            "ActionPackages": [
                                {"DeploymentAction": "Deploy web app", "PackageReference": ""}
                            ],
                            "VersionRange": "",
                            "Tag": "^hotfix",
                        }
                    ],
                )
            ],
            runbooks=[
                (
                    "Recycle app pool",
                    "Recycle the AcmeWeb IIS application pool",
                    [script_step("Recycle app pool", "Restart-WebAppPool AcmeWeb", roles=["web-server"])],
                )
            ],
        ),
        _P(
            "Acme API",
            "Web Applications",
            "Standard",
            [
                pkg_step("Deploy API package", "Acme.Api", ["app-server"]),
                container_step,
                script_step(
                    "Notify", "Write-Host 'Deployed'", on_server=True, pool_variable="Notify.WorkerPool"
                ),
            ],
            description="REST API behind the website and the mobile app",
            releases=3,
            major="3.5",
            last_deploy_days=1.0,
            tenanted=True,
            logo=(0x2E, 0x9E, 0x5B),
            extra_channels=[
                (
                    "Preview",
                    None,
                    [
                        {
                            "ActionPackages": [
                                {"DeploymentAction": "Deploy API package", "PackageReference": ""}
                            ],
                            "VersionRange": "[3.5,4.0)",
                            "Tag": "",
                        }
                    ],
                )
            ],
        ),
        _P(
            "Acme Database",
            "Back Office",
            "Standard",
            [
                manual_step(
                    "Approve schema change",
                    "Review the migration scripts before production.",
                    [teams["Operators"]],
                    [prod],
                ),
                script_step(
                    "Run migrations",
                    "& ./migrations/run.ps1 -Server $OctopusParameters['Sql.Server']",
                    on_server=True,
                    packages=[migrations_ref],
                ),
                pkg_step("Deploy DB scripts", "Acme.Database", ["db-server"]),
            ],
            description="Schema migrations for the Acme database",
            releases=2,
            last_deploy_days=3.0,
            fail_latest=True,
            logo=(0xC2, 0x41, 0x0C),
            library_sets=("Common Settings", "Database Credentials"),
        ),
        _P(
            "Customer Portal",
            "Web Applications",
            "Standard",
            [
                pkg_step("Deploy portal", "Acme.Web", ["web-server"]),
                script_step(
                    "Warm up", "Invoke-WebRequest http://localhost/ -UseBasicParsing", roles=["web-server"]
                ),
            ],
            description="Self-service portal, released on every commit",
            releases=DEMO_MANY_RELEASES,
            spacing_days=0.15,
            major="2",
            last_deploy_days=0.5,
        ),
        _P(
            "Release Orchestrator",
            "Platform",
            "Standard",
            [
                deploy_release_step("Deploy Acme Web", p["Acme Web"]),
                deploy_release_step("Deploy Acme API", p["Acme API"]),
                manual_step(
                    "Sign off", "Confirm the release train is healthy.", [teams["Developers"]], [prod]
                ),
            ],
            description="Deploys the Acme release train",
            releases=2,
            last_deploy_days=2.0,
            library_sets=(),
        ),
        _P(
            "Legacy Billing",
            "Back Office",
            "Standard",
            [
                pkg_step("Deploy billing", "Acme.Api", ["app-server"]),
                script_step("Run billing job", "& C:\\Billing\\run.cmd", on_server=True),
            ],
            description="Retired billing system (kept for reference)",
            releases=3,
            spacing_days=30,
            last_deploy_days=240.0,
            disabled=True,
            major="0.9",
        ),
        _P(
            "Intranet CMS",
            "Back Office",
            "Default",
            [
                pkg_step("Deploy CMS", "Acme.Web", ["web-server"]),
            ],
            description="Internal content management",
            releases=2,
            spacing_days=20,
            last_deploy_days=120.0,
        ),
        _P(
            "Storefront",
            "Web Applications",
            "Standard",
            [
                pkg_step("Deploy storefront", "Acme.Web", ["web-server"]),
            ],
            description="Storefront; process kept in Git",
            releases=3,
            last_deploy_days=15.0,
            vcs=True,
            major="4.1",
        ),
        _P(
            "Ops Toolkit",
            "Platform",
            "Standard",
            [],
            description="Operational runbooks",
            releases=0,
            last_deploy_days=None,
            library_sets=(),
            runbooks=[
                (
                    "Clean temp files",
                    "Remove old files from the application servers' temp folders",
                    [
                        script_step(
                            "Clean temp files",
                            "Get-ChildItem $env:TEMP | Remove-Item -Recurse",
                            on_server=True,
                        )
                    ],
                ),
                (
                    "Restart services",
                    "Restart the Acme services",
                    [script_step("Restart services", "Restart-Service Acme*", roles=["app-server"])],
                ),
                (
                    "Rotate certificates",
                    "Renew and bind the wildcard certificate",
                    [
                        script_step(
                            "Rotate certificates",
                            "Write-Host 'Rotating'",
                            on_server=True,
                            pool=pools["Windows Workers"],
                        )
                    ],
                ),
            ],
        ),
        _P(
            "Mobile Backend",
            "Web Applications",
            "Standard",
            [
                step(
                    g,
                    "Deploy to Azure Web App",
                    action(
                        g,
                        "Deploy to Azure Web App",
                        "Octopus.AzureAppService",
                        {
                            "Octopus.Action.RunOnServer": "true",
                            "Octopus.Action.Azure.AccountId": d.accounts["Azure Production"],
                            "Octopus.Action.Azure.DeploymentType": "Package",
                        },
                        packages=[package_ref(g, "Acme.Api", BUILTIN_FEED_ID)],
                    ),
                    roles=["azure-webapp"],
                ),
            ],
            description="Backend for the Acme mobile app",
            releases=3,
            last_deploy_days=6.0,
            logo=(0x7B, 0x3F, 0xBF),
        ),
        _P(
            "Reporting Service",
            "Back Office",
            "Hotfix",
            [
                pkg_step(
                    "Deploy Java app",
                    "com.acme:reporting",
                    ["app-server"],
                    feed=feeds["Corp Maven"],
                    action_type="Octopus.JavaArchive",
                ),
            ],
            description="Nightly reports (Java)",
            releases=2,
            spacing_days=14,
            last_deploy_days=95.0,
        ),
        _P(
            "Infrastructure Health",
            "Platform",
            "Standard",
            [
                script_step("Check disk space", "df -h", roles=["linux-server"], packages=[json_ref]),
            ],
            description="Health checks for Linux servers",
            releases=2,
            last_deploy_days=0.1,
            icon={"Id": "heartbeat", "Color": "#0D80D8"},
            library_sets=(),
        ),
        _P(
            "Data Warehouse Loader",
            "Back Office",
            "Standard",
            [
                pkg_step("Load seed data", "Acme.DataWarehouse.Seed", ["db-server"]),
                script_step(
                    "Rebuild indexes",
                    "Invoke-Sqlcmd -Query 'EXEC RebuildIndexes'",
                    on_server=True,
                    pool=DEFAULT_WORKER_POOL_ID,
                ),
            ],
            description="Loads the warehouse from the seed archive",
            releases=2,
            spacing_days=10,
            last_deploy_days=60.0,
            library_sets=("Common Settings", "Database Credentials"),
        ),
    ]
    assert [s.name for s in specs] == list(DEMO_PROJECT_NAMES)

    # Variables that reference other documents, per project.
    specs[0].variables = [
        variable(g, "Web.Certificate", d.certificate, type_="Certificate"),
        variable(g, "Web.BindingHost", "web01.corp.local", scope={"Machine": [d.machines[0]["Id"]]}),
    ]
    specs[1].variables = [
        variable(g, "Notify.WorkerPool", pools["Windows Workers"], type_="WorkerPool"),
        variable(
            g, "Notify.WorkerPool", pools["Linux Workers"], type_="WorkerPool", scope={"Environment": [prod]}
        ),
    ]
    specs[9].variables = [
        variable(g, "Azure.Account", d.accounts["Azure Production"], type_="AzureAccount"),
        variable(g, "Azure.Certificate", d.certificate, type_="Certificate", scope={"Environment": [prod]}),
    ]

    roles = sorted({r for m in d.machines for r in m["Roles"]})
    for spec in specs:
        _demo_project(g, d, spec, roles, (dev, test, prod))

    _demo_triggers(g, d)
    _demo_build_server_activity(g, d)


def _demo_build_server_activity(g: Gen, d: _Demo) -> None:
    """What the build server did recently: package pushes, build information and releases it created.

    The audit events carry the service account ("build-server", ``IsService``) and what was touched in
    ``RelatedDocumentIds``, as Octopus records them; the cut-over's build-server checklist reads them.
    Acme Web and Acme API are built by it (packages, build information, releases); Acme Database only
    gets packages pushed and its newest release was created by a person. No random numbers are
    drawn, so the rest of the demo is seeded exactly as before.
    """
    users = {u["Username"]: u for u in g.store.all("users")}
    robot, person = users["build-server"], users["jdoe"]
    events: list[tuple[float, Doc, str, list[str], str]] = []
    for package_id in ("Acme.Web", "Acme.Api", "Acme.Database"):
        version = d.package_versions[package_id][-1]
        events.append(
            (
                6.0,
                robot,
                "Created",
                [f"packages-{package_id}.{version}", "feeds-builtin"],
                f"Package {package_id} {version} was pushed to the built-in package repository",
            )
        )
        if package_id != "Acme.Database":
            build = g.store.insert(
                "build-information",
                {
                    "Id": g.store.next_id("BuildInformation"),
                    "SpaceId": SPACE_ID,
                    "PackageId": package_id,
                    "Version": version,
                    "BuildEnvironment": "TeamCity",
                    "BuildNumber": f"{package_id}-{version}",
                    "BuildUrl": f"https://teamcity.corp.local/viewLog.html?buildNumber={version}",
                    "Branch": "main",
                    "VcsType": "Git",
                    "VcsRoot": f"https://git.corp.local/acme/{package_id.lower()}.git",
                    "Commits": [],
                    "WorkItems": [],
                    "Created": stamp(days=6.0),
                    "LastModifiedOn": stamp(days=6.0),
                    "LastModifiedBy": robot["Username"],
                },
            )
            events.append(
                (
                    6.0,
                    robot,
                    "Created",
                    [build["Id"], f"packages-{package_id}.{version}"],
                    f"Build information for {package_id} {version} was pushed",
                )
            )
    for project, who in (("Acme Web", robot), ("Acme API", robot), ("Acme Database", person)):
        pid = d.projects[project]
        releases = [r for r in g.store.all("releases") if r.get("ProjectId") == pid]
        if not releases:
            continue
        newest = releases[-1]
        events.append(
            (
                5.0,
                who,
                "Created",
                [newest["Id"], pid, str(newest.get("ChannelId"))],
                f"Release {newest.get('Version')} was created for {project}",
            )
        )
    for n, (age, who, category, related, message) in enumerate(events):
        g.store.insert(
            "events",
            {
                "Id": g.store.next_id("Events"),
                "SpaceId": SPACE_ID,
                "Category": category,
                "UserId": who["Id"],
                "Username": who["Username"],
                "IsService": bool(who.get("IsService")),
                "IdentityEstablishedWith": "API key" if who.get("IsService") else "Session cookie",
                "UserAgent": "TeamCity Octopus Deploy plugin/6.1.0" if who.get("IsService") else "Browser",
                "Occurred": stamp(days=age, minutes=n),
                "Message": message,
                "MessageHtml": message,
                "MessageReferences": [],
                "RelatedDocumentIds": related,
                "Comments": None,
                "Details": None,
                "ChangeDetails": {"DocumentContext": None, "Differences": None},
                "IpAddress": "10.0.9.20" if who.get("IsService") else "10.0.1.15",
            },
        )


def _demo_project(g: Gen, d: _Demo, spec: _P, roles: list[str], envs: tuple[str, str, str]) -> None:
    dev, test, prod = envs
    pid = d.projects[spec.name]
    logo_stamp = None
    if spec.logo is not None:
        g.store.blob_put(f"logo/{pid}", png_bytes(spec.logo))
        logo_stamp = f"logo-{g.hex(12).lower()}"
    vcs = None
    if spec.vcs:
        vcs = {
            "Type": "VersionControlled",
            "Url": "https://github.com/example/app.git",
            "DefaultBranch": "main",
            "BasePath": ".octopus",
            "Credentials": {"Type": "Anonymous"},
        }
    g.add(
        "projects",
        project_doc(
            pid,
            spec.name,
            group_id=d.groups[spec.group],
            lifecycle_id=d.lifecycles[spec.lifecycle],
            description=spec.description,
            disabled=spec.disabled,
            library_sets=[d.library_sets[n] for n in spec.library_sets],
            tenanted_mode="TenantedOrUntenanted" if spec.tenanted else "Untenanted",
            vcs=vcs,
            icon=spec.icon,
            logo_stamp=logo_stamp,
        ),
    )
    default_channel = g.add("channels", channel_doc(g.id("channels"), pid, "Default", default=True))
    channels = [default_channel]
    for name, lifecycle, rules in spec.extra_channels:
        rules = [{"Id": g.guid(), **r} for r in rules]
        channels.append(
            g.add(
                "channels",
                channel_doc(
                    g.id("channels"),
                    pid,
                    name,
                    default=False,
                    lifecycle_id=d.lifecycles[lifecycle] if lifecycle else None,
                    rules=rules,
                ),
            )
        )
    g.add("deploymentprocesses", process_doc(f"deploymentprocess-{pid}", pid, spec.steps))

    runbooks: list[Doc] = []
    for name, description, steps in spec.runbooks:
        rb = g.add("runbooks", runbook_doc(g.id("runbooks"), pid, name, description))
        g.add("runbookprocesses", process_doc(rb["RunbookProcessId"], pid, steps, runbook_id=rb["Id"]))
        runbooks.append(rb)

    actions = [a for s in spec.steps for a in s["Actions"]]
    variables = [
        variable(g, "App.Url", f"https://dev.{slugify(spec.name)}.corp.local", scope={"Environment": [dev]}),
        variable(
            g, "App.Url", f"https://test.{slugify(spec.name)}.corp.local", scope={"Environment": [test]}
        ),
        variable(g, "App.Url", f"https://{slugify(spec.name)}.example.com", scope={"Environment": [prod]}),
        variable(
            g,
            "App.LogLevel",
            "Debug",
            scope={"Environment": [dev, test], "Role": ["web-server", "app-server"]},
        ),
        variable(g, "App.LogLevel", "Warning"),
        variable(
            g,
            "App.ApiKey",
            f"{slugify(spec.name)}-prod-key-{g.hex(8)}",
            sensitive=True,
            scope={"Environment": [prod]},
        ),
        variable(
            g,
            "App.ApiKey",
            f"{slugify(spec.name)}-test-key-{g.hex(8)}",
            sensitive=True,
            scope={"Environment": [dev, test]},
        ),
        *spec.variables,
    ]
    if len(channels) > 1:
        variables.append(variable(g, "App.ReleaseRing", "hotfix", scope={"Channel": [channels[1]["Id"]]}))
    if actions:
        variables.append(variable(g, "App.StepTimeoutSeconds", "600", scope={"Action": [actions[0]["Id"]]}))
    if runbooks:
        variables.append(
            variable(g, "App.MaintenanceWindow", "Sunday 02:00", scope={"ProcessOwner": [runbooks[0]["Id"]]})
        )
    if spec.name == DEMO_ORCHESTRATOR_PROJECT:
        variables.append(
            variable(
                g,
                "Train.Name",
                "",
                prompt={
                    "Label": "Release train",
                    "Description": "Name of this release train",
                    "Required": False,
                    "DisplaySettings": {"Octopus.ControlType": "SingleLineText"},
                },
            )
        )
    processes = [{"ProcessType": "Deployment", "Id": pid, "Name": spec.name}]
    processes += [{"ProcessType": "Runbook", "Id": rb["Id"], "Name": rb["Name"]} for rb in runbooks]
    g.add(
        "variables",
        variable_set_doc(
            pid,
            variables,
            {
                "Environments": [{"Id": e, "Name": n} for n, e in d.envs.items()],
                "Machines": [{"Id": m["Id"], "Name": m["Name"]} for m in d.machines],
                "Actions": [{"Id": a["Id"], "Name": a["Name"]} for a in actions],
                "Roles": [{"Id": r, "Name": r} for r in roles],
                "Channels": [{"Id": c["Id"], "Name": c["Name"]} for c in channels],
                "TenantTags": [],
                "Processes": processes,
            },
        ),
    )

    _demo_history(g, d, spec, pid, default_channel["Id"], envs)


def _selected_packages(d: _Demo, steps: list[Doc], index: int, count: int) -> list[Doc]:
    selected = []
    for s in steps:
        for a in s["Actions"]:
            for ref in a["Packages"]:
                feed = ref["FeedId"]
                if feed == BUILTIN_FEED_ID:
                    versions = d.package_versions[ref["PackageId"]]
                    version = versions[min(len(versions) - 1, index * len(versions) // count)]
                elif feed == RELEASES_FEED_ID:
                    version = d.release_versions[ref["PackageId"]][-1]
                else:
                    version = d.external_versions[feed]
                selected.append(
                    {
                        "ActionName": a["Name"],
                        "PackageReferenceName": ref["Name"],
                        "StepName": s["Name"],
                        "Version": version,
                    }
                )
    return selected


def _demo_history(g: Gen, d: _Demo, spec: _P, pid: str, channel_id: str, envs: tuple[str, str, str]) -> None:
    """Releases, and deployments whose newest one is ``spec.last_deploy_days`` old."""
    count = spec.releases
    versions: list[str] = []
    releases: list[Doc] = []
    newest_age = (spec.last_deploy_days or 30.0) + 3
    library_snapshots = [f"variableset-{d.library_sets[n]}-s-0-{g.letters(5)}" for n in spec.library_sets]
    for i in range(count):
        version = f"{spec.major}.{i}"
        age = newest_age + (count - 1 - i) * spec.spacing_days
        vcs_ref = {"GitRef": "refs/heads/main", "GitCommit": g.hex(40).lower()} if spec.vcs else None
        release = release_doc(
            g.id("releases"),
            pid,
            channel_id,
            version,
            assembled=stamp(days=age),
            selected=_selected_packages(d, spec.steps, i, count),
            snapshot=f"{i + 1}-{g.letters(5)}",
            library_snapshots=library_snapshots,
            vcs_ref=vcs_ref,
        )
        releases.append(g.add("releases", release))
        versions.append(version)
    d.release_versions[pid] = versions
    if spec.last_deploy_days is None or count < 2:
        return

    dev, test, prod = envs
    names = {e: n for n, e in d.envs.items()}
    latest, previous = releases[-1], releases[-2]
    prev_age = newest_age + spec.spacing_days
    plan: list[tuple[Doc, str, float, bool]] = [
        (previous, dev, prev_age - 0.1, False),
        (previous, test, prev_age - 1.0, False),
        (previous, prod, prev_age - 2.0, False),
        (latest, dev, newest_age - 0.1, False),
        (latest, test, spec.last_deploy_days, spec.fail_latest),
    ]
    tenants = g.store.all("tenants") if spec.tenanted else []
    for release, env, age, failed in plan:
        connected = [t["Id"] for t in tenants if env in t["ProjectEnvironments"].get(pid, [])]
        tenant_ids: list[str | None] = [*connected] or [None]
        for k, tenant_id in enumerate(tenant_ids):
            created = ago(days=age, minutes=k * 7 + g.rng.randint(0, 5))
            dep, task = deployment_and_task(
                g.id("deployments"),
                g.id("tasks"),
                release,
                project_name=spec.name,
                environment_id=env,
                environment_name=names[env],
                created=created,
                failed=failed,
                tenant_id=tenant_id,
                deployed_by=g.rng.choice(d.deployers),
                duration_seconds=g.rng.randint(25, 240),
            )
            g.add("tasks", task)
            g.add("deployments", dep)


def _demo_triggers(g: Gen, d: _Demo) -> None:
    p = d.projects
    dev, test, prod = (d.envs[n] for n in DEMO_ENVIRONMENTS)
    runbook = g.store.first("runbooks", lambda r: r["Name"] == "Clean temp files")
    assert runbook is not None
    api_default = g.store.first("channels", lambda c: c["ProjectId"] == p["Acme API"] and c["IsDefault"])
    assert api_default is not None
    weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    triggers: list[tuple[str, str, str, Doc, Doc, bool]] = [
        (
            p["Acme Web"],
            "Nightly deploy to Test",
            "Create and deploy a release to Test every night",
            {
                "FilterType": "OnceDailySchedule",
                "StartTime": "2026-01-01T02:00:00.000+00:00",
                "DaysOfWeek": weekdays,
                "Timezone": "AUS Eastern Standard Time",
            },
            {
                "ActionType": "DeployNewRelease",
                "EnvironmentId": test,
                "ChannelId": None,
                "TenantIds": [],
                "TenantTags": [],
                "Variables": None,
            },
            False,
        ),
        (
            p["Ops Toolkit"],
            "Nightly temp cleanup",
            "",
            {
                "FilterType": "OnceDailySchedule",
                "StartTime": "2026-01-01T03:30:00.000+00:00",
                "DaysOfWeek": [*weekdays, "Saturday", "Sunday"],
                "Timezone": "AUS Eastern Standard Time",
            },
            {
                "ActionType": "RunRunbook",
                "RunbookId": runbook["Id"],
                "EnvironmentIds": [prod],
                "TenantIds": [],
                "TenantTags": [],
            },
            False,
        ),
        (
            p["Acme API"],
            "Weekday promotion to Production",
            "",
            {
                "FilterType": "CronExpressionSchedule",
                "CronExpression": "0 0 6 * * Mon-Fri",
                "Timezone": "UTC",
            },
            {
                "ActionType": "DeployLatestRelease",
                "SourceEnvironmentIds": [test],
                "DestinationEnvironmentId": prod,
                "ShouldRedeployWhenReleaseIsCurrent": False,
                "Variables": None,
                "TenantIds": [],
                "TenantTags": [],
            },
            False,
        ),
        (
            p["Acme Web"],
            "Deploy to new web servers",
            "Keep new web servers up to date",
            {
                "FilterType": "MachineFilter",
                "EnvironmentIds": [test, prod],
                "Roles": ["web-server"],
                "EventGroups": ["MachineAvailableForDeployment"],
                "EventCategories": [],
            },
            {
                "ActionType": "AutoDeploy",
                "ShouldRedeployWhenMachineHasBeenDeployedTo": False,
            },
            False,
        ),
        (
            p["Acme API"],
            "New container image",
            "Create a release when a new image is pushed",
            {
                "FilterType": "FeedFilter",
                "Packages": [{"DeploymentAction": "Deploy container", "PackageReference": "acme-api"}],
            },
            {
                "ActionType": "CreateRelease",
                "ChannelId": api_default["Id"],
            },
            False,
        ),
        (
            p["Infrastructure Health"],
            "Hourly health check",
            "Disabled while the check is reworked",
            {
                "FilterType": "CronExpressionSchedule",
                "CronExpression": "0 0 * * * *",
                "Timezone": "UTC",
            },
            {
                "ActionType": "DeployLatestRelease",
                "SourceEnvironmentIds": [dev],
                "DestinationEnvironmentId": test,
                "ShouldRedeployWhenReleaseIsCurrent": True,
                "Variables": None,
                "TenantIds": [],
                "TenantTags": [],
            },
            True,
        ),
    ]
    for project_id, name, description, flt, act, disabled in triggers:
        g.add(
            "projecttriggers",
            {
                "Id": g.id("projecttriggers"),
                "SpaceId": SPACE_ID,
                "ProjectId": project_id,
                "Name": name,
                "Description": description,
                "IsDisabled": disabled,
                "Filter": flt,
                "Action": act,
            },
        )


# ==========================================================================================
# Large
# ==========================================================================================


def _large_server(g: Gen) -> None:
    _base(g)
    envs = [
        g.add("environments", environment_doc(g.id("environments"), name, i))["Id"]
        for i, name in enumerate(LARGE_ENVIRONMENTS)
    ]
    standard = g.add(
        "lifecycles",
        lifecycle_doc(
            g.id("lifecycles"),
            "Standard",
            [
                phase(g, "Development", automatic=[envs[0]]),
                phase(g, "Testing", optional=envs[1:5]),
                phase(g, "Production", optional=envs[5:]),
            ],
        ),
    )["Id"]
    lifecycles = [DEFAULT_LIFECYCLE_ID, standard]
    groups = [DEFAULT_PROJECT_GROUP_ID]
    for i in range(2, LARGE_PROJECT_GROUPS + 1):
        name = f"Portfolio {i:02d}"
        groups.append(
            g.add(
                "projectgroups",
                {
                    "Id": g.id("projectgroups"),
                    "SpaceId": SPACE_ID,
                    "Name": name,
                    "Slug": slugify(name),
                    "Description": "",
                    "EnvironmentIds": [],
                    "RetentionPolicyId": None,
                },
            )["Id"]
        )
    pools = [DEFAULT_WORKER_POOL_ID]
    for i, (name, os_kind) in enumerate((("Linux Workers", "linux"), ("Windows Workers", "windows"))):
        pool = g.add("workerpools", worker_pool_doc(g.id("workerpools"), name, i + 2))["Id"]
        pools.append(pool)
        for n in range(10):
            endpoint = (
                polling_endpoint(g)
                if n % 2
                else listening_endpoint(g, f"https://{os_kind}-w{n:02d}.corp.local:10933/")
            )
            g.add(
                "workers",
                worker_doc(g.id("workers"), f"{os_kind}-worker-{n:02d}", endpoint, [pool], os_kind=os_kind),
            )
    versions = ["1.0.0", "1.1.0", "1.2.0"]
    for k, version in enumerate(versions):
        add_builtin_package(g, "Large.Service", version, published=stamp(days=90 - 30 * k))

    roles = ["web-server", "app-server", "db-server", "worker", "k8s"]
    deployers = [(u["Username"], u["Id"]) for u in g.store.all("users")]
    for i in range(LARGE_PROJECTS):
        pid = g.id("projects")
        name = f"Service {i + 1:04d}"
        g.add(
            "projects",
            project_doc(
                pid,
                name,
                group_id=groups[i % len(groups)],
                lifecycle_id=lifecycles[i % 2],
                library_sets=[],
            ),
        )
        channel_id = g.add("channels", channel_doc(g.id("channels"), pid, "Default", default=True))["Id"]
        role = roles[i % len(roles)]
        deploy = step(
            g,
            "Deploy package",
            action(
                g,
                "Deploy package",
                "Octopus.TentaclePackage",
                {},
                packages=[package_ref(g, "Large.Service", BUILTIN_FEED_ID)],
            ),
            roles=[role],
        )
        verify = step(
            g,
            "Verify",
            action(
                g, "Verify", "Octopus.Script", script_props("exit 0", run_on_server=i % 7 == 0, syntax="Bash")
            ),
        )
        g.add("deploymentprocesses", process_doc(f"deploymentprocess-{pid}", pid, [deploy, verify]))
        g.add(
            "variables",
            variable_set_doc(
                pid,
                [
                    variable(g, "Service.Name", name),
                    variable(
                        g, "Service.Secret", f"secret-{i}", sensitive=True, scope={"Environment": [envs[-3]]}
                    ),
                ],
            ),
        )
        latest: Doc = {}
        for r in range(LARGE_RELEASES_PER_PROJECT):
            version = f"1.{r}.0"
            selected = [
                {
                    "ActionName": "Deploy package",
                    "PackageReferenceName": "",
                    "StepName": "Deploy package",
                    "Version": versions[r * len(versions) // LARGE_RELEASES_PER_PROJECT],
                }
            ]
            latest = g.add(
                "releases",
                release_doc(
                    g.id("releases"),
                    pid,
                    channel_id,
                    version,
                    assembled=stamp(days=(LARGE_RELEASES_PER_PROJECT - r) * 5 + i % 11, minutes=i % 60),
                    selected=selected,
                    snapshot=f"{r + 1}-LARGE",
                ),
            )
        if i % 10 == 0:
            dep, task = deployment_and_task(
                g.id("deployments"),
                g.id("tasks"),
                latest,
                project_name=name,
                environment_id=envs[0],
                environment_name=LARGE_ENVIRONMENTS[0],
                created=ago(days=i % 11 + 1, minutes=i % 60),
                deployed_by=deployers[i % len(deployers)],
            )
            g.add("tasks", task)
            g.add("deployments", dep)

    for i in range(LARGE_TARGETS):
        kind = i % 20
        name = f"host-{i + 1:05d}"
        if kind < 12:
            endpoint = polling_endpoint(g)
        elif kind < 18:
            endpoint = listening_endpoint(g, f"https://{name}.corp.local:10933/")
        elif kind == 18:
            endpoint = cloud_region_endpoint(pools[1])
        else:
            endpoint = kubernetes_endpoint(
                f"https://k8s-{i % 5}.corp.local:6443",
                {"AuthenticationType": "KubernetesStandard", "AccountId": None},
                "default",
                pools[1],
            )
        g.add(
            "machines",
            target_doc(
                g.id("machines"),
                name,
                endpoint,
                environment_ids=[envs[i % len(envs)]],
                roles=[roles[i % len(roles)]],
                os_kind=None if kind >= 18 else ("windows" if i % 3 else "linux"),
                health="Unavailable" if i % 97 == 0 else "Healthy",
            ),
        )
    # The default machine policy is the only one.
    assert g.store.get("machinepolicies", DEFAULT_MACHINE_POLICY_ID) is not None
