"""Building blocks for the simulator's seed data: ids, fixed timestamps and Octopus-shaped documents.

Every builder returns a plain dict in the shape Octopus sends (PascalCase, as in the 2021.2 Swagger
definitions and the samples in ``shared/octopus-samples``), without ``Links``. Nothing here reads the
clock or an unseeded random source, so the same calls always produce the same documents.

A document is complete before it is inserted: the store writes a document through to SQLite when it
is inserted, so mutating it afterwards would make the in-memory and persisted views disagree.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import struct
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from octowiz.sim.resources import COLLECTIONS
from octowiz.sim.store import Doc, Store

SPACE_ID = "Spaces-1"
#: "Now" for every seeded instance; all timestamps are offsets back from it.
BASE_TIME = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
BUILTIN_FEED_ID = "feeds-builtin"
RELEASES_FEED_ID = "feeds-builtin-releases"
DEFAULT_MACHINE_POLICY_ID = "MachinePolicies-1"

_ZIP_TIME = (2026, 1, 15, 10, 0, 0)


# -- time ------------------------------------------------------------------------------------------


def iso(dt: datetime) -> str:
    """Format a time the way Octopus does: ``2026-03-02T09:15:00.000+00:00``."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+00:00"


def ago(*, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    """A moment before :data:`BASE_TIME`."""
    return BASE_TIME - timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def stamp(*, days: float = 0, hours: float = 0, minutes: float = 0) -> str:
    """:func:`iso` of :func:`ago`."""
    return iso(ago(days=days, hours=hours, minutes=minutes))


def human_time(dt: datetime) -> str:
    """The task ``Completed`` text, e.g. ``Monday, March 2, 2026 9:15 AM``."""
    hour = dt.hour % 12 or 12
    return f"{dt:%A}, {dt:%B} {dt.day}, {dt.year} {hour}:{dt:%M} {dt:%p}"


def slugify(name: str) -> str:
    """Octopus-style slug: lower case, runs of other characters become one dash."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# -- binary content --------------------------------------------------------------------------------


def zip_bytes(files: dict[str, str]) -> bytes:
    """A small valid zip with fixed timestamps and attributes (byte-for-byte reproducible)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, text.encode("utf-8"))
    return buf.getvalue()


def png_bytes(rgb: tuple[int, int, int], size: int = 16) -> bytes:
    """A valid ``size``×``size`` PNG: a diagonal two-tone square in ``rgb`` and white."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            rows.extend(rgb if x >= y else (255, 255, 255))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


# -- the generator -----------------------------------------------------------------------------------


class Gen:
    """Allocates ids from the store and deterministic random values for one seeding run."""

    def __init__(self, store: Store, flavour: str, version: str, seed: int) -> None:
        self.store = store
        self.flavour = flavour
        self.version = version
        self.rng = random.Random(seed)

    def id(self, coll: str) -> str:
        """Allocate the next id of a collection with a prefix (``Projects-7``)."""
        prefix = COLLECTIONS[coll].prefix
        if prefix is None:
            raise ValueError(f"{coll} has derived ids")
        return self.store.next_id(prefix)

    def add(self, coll: str, doc: Doc) -> Doc:
        """Insert a finished document (its ``Id`` set, or allocated from the collection prefix)."""
        known = COLLECTIONS.get(coll)
        return self.store.insert(coll, doc, prefix=known.prefix if known else None)

    def guid(self) -> str:
        """A reproducible v4 UUID."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, digits: int) -> str:
        """Reproducible upper-case hex."""
        return f"{self.rng.getrandbits(4 * digits):0{digits}X}"

    def thumbprint(self) -> str:
        """A certificate thumbprint (40 hex digits)."""
        return self.hex(40)

    def letters(self, n: int) -> str:
        """Reproducible upper-case letters."""
        return "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n))

    def poll_uri(self) -> str:
        """A polling Tentacle subscription address, ``poll://<20 letters>/``."""
        return f"poll://{self.letters(20)}/"


# -- users and teams ---------------------------------------------------------------------------------


def claim(value: str, identifying: bool = False) -> Doc:
    """One identity claim."""
    return {"Value": value, "IsIdentifyingClaim": identifying}


def ad_identity(upn: str, sam: str, email: str, display: str) -> Doc:
    """An Active Directory identity."""
    return {
        "IdentityProviderName": "Active Directory",
        "Claims": {
            "upn": claim(upn, True),
            "sam": claim(sam, True),
            "email": claim(email),
            "dn": claim(display),
        },
    }


def ldap_identity(uan: str, email: str, display: str) -> Doc:
    """An LDAP identity (``uan`` = unique account name)."""
    return {
        "IdentityProviderName": "LDAP",
        "Claims": {"uan": claim(uan, True), "email": claim(email, True), "dn": claim(display)},
    }


def password_identity(email: str, display: str) -> Doc:
    """A Username/Password identity."""
    return {
        "IdentityProviderName": "Username/Password",
        "Claims": {"email": claim(email, True), "dn": claim(display)},
    }


def oidc_identity(provider: str, email: str, display: str) -> Doc:
    """An OpenID Connect identity (``Octopus ID`` or ``Azure AD``)."""
    return {
        "IdentityProviderName": provider,
        "Claims": {"email": claim(email, True), "dn": claim(display)},
    }


@dataclass
class UserSpec:
    """A user to seed, and the teams (by name) it belongs to beyond the ones its role implies."""

    username: str
    display_name: str
    email: str | None
    role: str  # admin | manager | reader | none
    identities: list[Doc] = field(default_factory=list)
    teams: tuple[str, ...] = ()
    is_service: bool = False
    is_active: bool = True
    api_keys: tuple[str, ...] = ()
    user_id: str | None = None


def user_doc(user_id: str, spec: UserSpec) -> Doc:
    """A ``UserResource`` plus the simulator-private ``_Role`` and ``_ApiKeyHashes``.

    Like Octopus, the simulator keeps only a hash of each API key, so its state files never hold a key.
    """
    return {
        "Id": user_id,
        "Username": spec.username,
        "DisplayName": spec.display_name,
        "EmailAddress": spec.email,
        "IsActive": spec.is_active,
        "IsService": spec.is_service,
        "CanPasswordBeEdited": any(i["IdentityProviderName"] == "Username/Password" for i in spec.identities),
        "IsRequestor": False,
        "Identities": spec.identities,
        "_Role": spec.role,
        "_ApiKeyHashes": [api_key_hash(k) for k in spec.api_keys],
    }


def external_group(group_id: str, display: str) -> Doc:
    """A team's external security group (``NamedReferenceItem``)."""
    return {"Id": group_id, "DisplayName": display, "DisplayIdAndName": True}


def team_doc(
    team_id: str,
    name: str,
    description: str,
    members: Sequence[str],
    *,
    space_id: str | None,
    groups: Sequence[Doc] = (),
    system: bool = False,
) -> Doc:
    """A ``TeamResource``."""
    return {
        "Id": team_id,
        "Name": name,
        "Description": description,
        "SpaceId": space_id,
        "MemberUserIds": list(members),
        "ExternalSecurityGroups": list(groups),
        "CanBeDeleted": not system,
        "CanBeRenamed": not system,
        "CanChangeMembers": team_id != "teams-everyone",
        "CanChangeRoles": team_id not in ("teams-administrators", "teams-everyone"),
    }


def user_role_doc(name: str, description: str, system: Sequence[str], space: Sequence[str]) -> Doc:
    """A built-in ``UserRoleResource``; its id follows Octopus's (``userroles-systemadministrator``)."""
    return {
        "Id": "userroles-" + re.sub(r"[^a-z]", "", name.lower()),
        "Name": name,
        "Description": description,
        "SupportedRestrictions": [] if system else ["Projects", "Environments", "ProjectGroups", "Tenants"],
        "GrantedSystemPermissions": list(system),
        "GrantedSpacePermissions": list(space),
        "CanBeDeleted": False,
    }


def scoped_user_role_doc(sur_id: str, team_id: str, user_role_id: str, space_id: str | None) -> Doc:
    """A ``ScopedUserRoleResource``: a role a team holds, system-wide (no space) or in one space."""
    return {
        "Id": sur_id,
        "SpaceId": space_id,
        "TeamId": team_id,
        "UserRoleId": user_role_id,
        "EnvironmentIds": [],
        "ProjectIds": [],
        "ProjectGroupIds": [],
        "TenantIds": [],
    }


# -- infrastructure ----------------------------------------------------------------------------------


def environment_doc(env_id: str, name: str, sort_order: int, *, guided_failure: bool = False) -> Doc:
    """An ``EnvironmentResource``."""
    return {
        "Id": env_id,
        "SpaceId": SPACE_ID,
        "Name": name,
        "Slug": slugify(name),
        "Description": "",
        "SortOrder": sort_order,
        "UseGuidedFailure": guided_failure,
        "AllowDynamicInfrastructure": False,
        "ExtensionSettings": [],
    }


def retention(quantity: int, unit: str = "Days", forever: bool = False) -> Doc:
    """A ``RetentionPeriod``."""
    return {"QuantityToKeep": quantity, "ShouldKeepForever": forever, "Unit": unit}


def phase(
    g: Gen,
    name: str,
    automatic: Sequence[str] = (),
    optional: Sequence[str] = (),
    *,
    is_optional: bool = False,
) -> Doc:
    """A lifecycle ``PhaseResource``."""
    return {
        "Id": g.guid(),
        "Name": name,
        "AutomaticDeploymentTargets": list(automatic),
        "OptionalDeploymentTargets": list(optional),
        "MinimumEnvironmentsBeforePromotion": 0,
        "IsOptionalPhase": is_optional,
        "ReleaseRetentionPolicy": None,
        "TentacleRetentionPolicy": None,
    }


def lifecycle_doc(lc_id: str, name: str, phases: list[Doc], *, cloud: bool = False) -> Doc:
    """A ``LifecycleResource`` (Cloud defaults retention to 30 days; Server keeps forever)."""
    keep = retention(30) if cloud else retention(0, "Items", True)
    return {
        "Id": lc_id,
        "SpaceId": SPACE_ID,
        "Name": name,
        "Slug": slugify(name),
        "Description": "",
        "Phases": phases,
        "ReleaseRetentionPolicy": keep,
        "TentacleRetentionPolicy": dict(keep),
    }


def worker_pool_doc(
    pool_id: str,
    name: str,
    sort_order: int,
    *,
    default: bool = False,
    dynamic_type: str | None = None,
    description: str = "",
) -> Doc:
    """A ``WorkerPoolResource``; ``dynamic_type`` makes it a Cloud dynamic pool."""
    doc: Doc = {
        "Id": pool_id,
        "SpaceId": SPACE_ID,
        "Name": name,
        "Slug": slugify(name),
        "Description": description,
        "SortOrder": sort_order,
        "IsDefault": default,
        "CanAddWorkers": dynamic_type is None,
        "WorkerPoolType": "DynamicWorkerPool" if dynamic_type else "StaticWorkerPool",
    }
    if dynamic_type:
        doc["WorkerType"] = dynamic_type
    return doc


def machine_policy_doc(policy_id: str, name: str, *, default: bool, description: str = "") -> Doc:
    """A ``MachinePolicyResource`` with Octopus's default settings."""
    return {
        "Id": policy_id,
        "SpaceId": SPACE_ID,
        "Name": name,
        "Description": description,
        "IsDefault": default,
        "ConnectionConnectTimeout": "00:01:00",
        "ConnectionRetryCountLimit": 5,
        "ConnectionRetrySleepInterval": "00:00:01",
        "ConnectionRetryTimeLimit": "00:05:00",
        "PollingRequestQueueTimeout": "00:02:00",
        "PollingRequestMaximumMessageProcessingTimeout": "00:10:00",
        "MachineCleanupPolicy": {
            "DeleteMachinesBehavior": "DoNotDelete" if default else "DeleteUnavailableMachines",
            "DeleteMachinesElapsedTimeSpan": "1.00:00:00",
        },
        "MachineConnectivityPolicy": {
            "MachineConnectivityBehavior": "ExpectedToBeOnline" if default else "MayBeOfflineAndCanBeSkipped"
        },
        "MachineHealthCheckPolicy": {
            "PowerShellHealthCheckPolicy": {"RunType": "Inline", "ScriptBody": ""},
            "BashHealthCheckPolicy": {"RunType": "Inline", "ScriptBody": ""},
            "HealthCheckInterval": "1.00:00:00",
            "HealthCheckCron": None,
            "HealthCheckCronTimezone": "UTC",
            "HealthCheckType": "RunScript",
        },
        "MachineUpdatePolicy": {
            "CalamariUpdateBehavior": "UpdateOnDeployment",
            "TentacleUpdateBehavior": "NeverUpdate",
            "TentacleUpdateAccountId": None,
        },
    }


def tentacle_version(version: str = "6.3.605") -> Doc:
    """``TentacleVersionDetails``."""
    return {"Version": version, "UpgradeLocked": False, "UpgradeSuggested": True, "UpgradeRequired": False}


def listening_endpoint(g: Gen, uri: str) -> Doc:
    """A listening Tentacle endpoint (``TentaclePassive``)."""
    return {
        "CommunicationStyle": "TentaclePassive",
        "Uri": uri,
        "Thumbprint": g.thumbprint(),
        "ProxyId": None,
        "TentacleVersionDetails": tentacle_version(),
        "CertificateSignatureAlgorithm": "sha256RSA",
        "Id": None,
    }


def polling_endpoint(g: Gen) -> Doc:
    """A polling Tentacle endpoint (``TentacleActive``)."""
    return {
        "CommunicationStyle": "TentacleActive",
        "Uri": g.poll_uri(),
        "Thumbprint": g.thumbprint(),
        "TentacleVersionDetails": tentacle_version("8.1.2301"),
        "CertificateSignatureAlgorithm": "sha256RSA",
        "Id": None,
    }


def ssh_endpoint(g: Gen, host: str, account_id: str, port: int = 22) -> Doc:
    """An SSH endpoint."""
    fingerprint = ":".join(g.hex(2).lower() for _ in range(16))
    return {
        "CommunicationStyle": "Ssh",
        "Host": host,
        "Port": port,
        "Fingerprint": fingerprint,
        "AccountId": account_id,
        "Uri": f"ssh://{host}:{port}/",
        "ProxyId": None,
        "DotNetCorePlatform": "linux-x64",
        "Id": None,
    }


def kubernetes_endpoint(
    cluster_url: str, auth: Doc, namespace: str, worker_pool_id: str | None, *, skip_tls: bool = False
) -> Doc:
    """A Kubernetes API endpoint."""
    return {
        "CommunicationStyle": "Kubernetes",
        "ClusterUrl": cluster_url,
        "ClusterCertificate": None,
        "Namespace": namespace,
        "SkipTlsVerification": "True" if skip_tls else "False",
        "ProxyId": None,
        "DefaultWorkerPoolId": worker_pool_id,
        "Container": {"Image": None, "FeedId": None},
        "Authentication": auth,
        "RunningInContainer": False,
        "Id": None,
    }


def kubernetes_agent_endpoint(g: Gen, namespace: str) -> Doc:
    """A Kubernetes agent endpoint (a polling Tentacle running in the cluster)."""
    return {
        "CommunicationStyle": "KubernetesTentacle",
        "TentacleEndpointConfiguration": {
            "CommunicationMode": "Polling",
            "Uri": g.poll_uri(),
            "Thumbprint": g.thumbprint(),
        },
        "DefaultNamespace": namespace,
        "KubernetesAgentDetails": {
            "AgentVersion": "2.10.2",
            "TentacleVersion": "8.1.2301",
            "UpgradeStatus": "NoUpgrades",
            "HelmReleaseName": f"octopus-agent-{namespace}",
            "KubernetesNamespace": f"octopus-agent-{namespace}",
        },
        "UpgradeLocked": False,
        "Id": None,
    }


def azure_web_app_endpoint(account_id: str, resource_group: str, web_app: str) -> Doc:
    """An Azure Web App endpoint."""
    return {
        "CommunicationStyle": "AzureWebApp",
        "AccountId": account_id,
        "ResourceGroupName": resource_group,
        "WebAppName": web_app,
        "WebAppSlotName": "",
        "DefaultWorkerPoolId": None,
        "Id": None,
    }


def cloud_region_endpoint(worker_pool_id: str | None) -> Doc:
    """A Cloud Region endpoint (``CommunicationStyle`` ``None``)."""
    return {"CommunicationStyle": "None", "DefaultWorkerPoolId": worker_pool_id, "Id": None}


def offline_drop_endpoint(drop_folder: str) -> Doc:
    """An offline package drop endpoint."""
    return {
        "CommunicationStyle": "OfflineDrop",
        "Destination": {"DestinationType": "FileSystem", "DropFolderPath": drop_folder},
        "SensitiveVariablesEncryptionPassword": {"HasValue": True, "NewValue": None},
        "ApplicationsDirectory": "C:\\Applications",
        "OctopusWorkingDirectory": "C:\\Octopus",
        "Id": None,
    }


def step_package_endpoint(worker_pool_id: str | None, account_id: str) -> Doc:
    """A step-package target endpoint (AWS ECS)."""
    return {
        "CommunicationStyle": "StepPackage",
        "DeploymentTargetTypeId": "aws-ecs-target",
        "StepPackageId": "aws-ecs-target",
        "StepPackageVersion": "1.3.4",
        "Inputs": {
            "clusterName": "acme-prod",
            "region": "ap-southeast-2",
            "authentication": {
                "credentials": {"type": "account", "account": account_id},
                "role": {"type": "noAssumedRole"},
            },
        },
        "DefaultWorkerPoolId": worker_pool_id,
        "Id": None,
    }


_TENTACLE_STYLES = ("TentaclePassive", "TentacleActive")


def _machine_common(
    machine_id: str,
    name: str,
    endpoint: Doc,
    *,
    policy_id: str,
    health: str,
    os_kind: str | None,
    disabled: bool,
) -> Doc:
    style = endpoint["CommunicationStyle"]
    if style in _TENTACLE_STYLES:
        thumb, uri = endpoint["Thumbprint"], endpoint["Uri"]
    elif style == "KubernetesTentacle":
        thumb = endpoint["TentacleEndpointConfiguration"]["Thumbprint"]
        uri = endpoint["TentacleEndpointConfiguration"]["Uri"]
    else:
        thumb, uri = None, None
    if disabled:
        status, health, summary = "Disabled", "Unknown", "This machine has been disabled."
    elif health == "Healthy":
        status, summary = (
            "Online",
            "Octopus was able to successfully establish a connection with this machine.",
        )
    else:
        status = "Offline"
        summary = "The machine was unavailable the last time a health check was performed."
    if os_kind == "windows":
        os_name, shell, shell_version, arch = (
            "Microsoft Windows Server 2019 Datacenter",
            "PowerShell",
            "5.1.17763.1",
            "x64",
        )
    elif os_kind == "linux":
        os_name, shell, shell_version, arch = "Ubuntu 22.04.4 LTS", "Bash", "5.1.16", "x64"
    else:
        os_name, shell, shell_version, arch = "Unknown", "Unknown", "Unknown", "Unknown"
    return {
        "Id": machine_id,
        "SpaceId": SPACE_ID,
        "Name": name,
        "Slug": slugify(name),
        "Thumbprint": thumb,
        "Uri": uri,
        "IsDisabled": disabled,
        "MachinePolicyId": policy_id,
        "Status": status,
        "HealthStatus": health,
        "HasLatestCalamari": True,
        "StatusSummary": summary,
        "IsInProcess": False,
        "OperatingSystem": os_name,
        "ShellName": shell,
        "ShellVersion": shell_version,
        "Architecture": arch,
        "Endpoint": endpoint,
    }


def target_doc(
    machine_id: str,
    name: str,
    endpoint: Doc,
    *,
    environment_ids: Sequence[str],
    roles: Sequence[str],
    policy_id: str = DEFAULT_MACHINE_POLICY_ID,
    health: str = "Healthy",
    os_kind: str | None = None,
    tenant_ids: Sequence[str] = (),
    tenant_tags: Sequence[str] = (),
    participation: str = "Untenanted",
    disabled: bool = False,
) -> Doc:
    """A ``DeploymentTargetResource``."""
    doc = _machine_common(
        machine_id, name, endpoint, policy_id=policy_id, health=health, os_kind=os_kind, disabled=disabled
    )
    doc["Roles"] = list(roles)
    doc["EnvironmentIds"] = list(environment_ids)
    doc["TenantIds"] = list(tenant_ids)
    doc["TenantTags"] = list(tenant_tags)
    doc["TenantedDeploymentParticipation"] = participation
    return doc


def worker_doc(
    worker_id: str,
    name: str,
    endpoint: Doc,
    pool_ids: Sequence[str],
    *,
    os_kind: str,
    policy_id: str = DEFAULT_MACHINE_POLICY_ID,
    health: str = "Healthy",
) -> Doc:
    """A ``WorkerResource``."""
    doc = _machine_common(
        worker_id, name, endpoint, policy_id=policy_id, health=health, os_kind=os_kind, disabled=False
    )
    doc["WorkerPoolIds"] = list(pool_ids)
    return doc


# -- feeds and packages ----------------------------------------------------------------------------


def builtin_feeds(*, cloud: bool) -> list[Doc]:
    """The built-in package feed and the project release feed."""
    return [
        {
            "Id": BUILTIN_FEED_ID,
            "SpaceId": SPACE_ID,
            "Name": "Octopus Server (built-in)",
            "Slug": "octopus-server-built-in",
            "FeedType": "BuiltIn",
            "PackageAcquisitionLocationOptions": ["Server", "ExecutionTarget"],
            "IsBuiltInRepoSyncEnabled": False,
            "DeleteUnreleasedPackagesAfterDays": 30 if cloud else None,
            "DeletePackagesAssociatedWithReleases": False,
        },
        {
            "Id": RELEASES_FEED_ID,
            "SpaceId": SPACE_ID,
            "Name": "Octopus Server Releases (built-in)",
            "Slug": "octopus-server-releases-built-in",
            "FeedType": "OctopusProject",
            "PackageAcquisitionLocationOptions": ["NotAcquired"],
        },
    ]


def external_feed_doc(
    feed_id: str,
    name: str,
    feed_type: str,
    uri: str,
    *,
    username: str | None = None,
    password: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Doc:
    """An external feed; a password is kept only as the private ``_Password``."""
    doc: Doc = {
        "Id": feed_id,
        "SpaceId": SPACE_ID,
        "Name": name,
        "Slug": slugify(name),
        "FeedType": feed_type,
        "FeedUri": uri,
        "Username": username,
        "Password": {"HasValue": password is not None, "NewValue": None},
        "DownloadAttempts": 5,
        "DownloadRetryBackoffSeconds": 10,
        "PackageAcquisitionLocationOptions": (
            ["ExecutionTarget", "NotAcquired"] if feed_type == "Docker" else ["Server", "ExecutionTarget"]
        ),
    }
    doc.update(extra or {})
    if password is not None:
        doc["_Password"] = password
    return doc


def package_id_of(package_id: str, version: str) -> str:
    """The built-in feed document id, ``packages-<PackageId>.<Version>``."""
    return f"packages-{package_id}.{version}"


def add_builtin_package(
    g: Gen,
    package_id: str,
    version: str,
    *,
    published: str,
    claimed_size: int | None = None,
    files: dict[str, str] | None = None,
) -> Doc:
    """Store a small real zip for a package version in the built-in feed and its document.

    ``claimed_size`` makes ``PackageSizeBytes`` claim more than the stored bytes (marked with the
    private ``_SizeClaimedOnly``), so size rules have something to find without a huge blob.
    """
    doc_id = package_id_of(package_id, version)
    content = files or {
        "README.txt": f"{package_id} {version}\nBuilt by the octowiz simulator.\n",
        "app/version.txt": f"{version}\n",
        "app/settings.json": '{"Logging": {"LogLevel": "Information"}}\n',
    }
    data = zip_bytes(content)
    g.store.blob_put(f"package/{SPACE_ID}/{doc_id}", data)
    doc: Doc = {
        "Id": doc_id,
        "SpaceId": SPACE_ID,
        "PackageId": package_id,
        "Version": version,
        "FeedId": BUILTIN_FEED_ID,
        "Title": package_id,
        "Summary": f"{package_id} build output",
        "Description": "",
        "ReleaseNotes": "",
        "Published": published,
        "FileExtension": ".zip",
        "PackageSizeBytes": claimed_size if claimed_size is not None else len(data),
        "Hash": hashlib.sha1(data).hexdigest(),
        "NuGetPackageId": package_id,
        "NuGetFeedId": BUILTIN_FEED_ID,
        "PackageVersionBuildInformation": None,
    }
    if claimed_size is not None:
        doc["_SizeClaimedOnly"] = True
    return g.add("packages", doc)


# -- processes and variables -------------------------------------------------------------------------


def package_ref(
    g: Gen,
    package_id: str,
    feed_id: str,
    *,
    name: str = "",
    acquisition: str = "Server",
    properties: dict[str, str] | None = None,
) -> Doc:
    """A ``PackageReference`` on an action (``name`` "" is the primary package)."""
    return {
        "Id": g.guid(),
        "Name": name,
        "PackageId": package_id,
        "FeedId": feed_id,
        "AcquisitionLocation": acquisition,
        "Properties": properties or {},
    }


def action(
    g: Gen,
    name: str,
    action_type: str,
    properties: dict[str, str],
    *,
    packages: Iterable[Doc] = (),
    worker_pool_id: str | None = None,
    worker_pool_variable: str | None = None,
    environments: Sequence[str] = (),
    channels: Sequence[str] = (),
    is_required: bool = False,
) -> Doc:
    """A ``DeploymentActionResource``."""
    pkgs = list(packages)
    return {
        "Id": g.guid(),
        "Name": name,
        "Slug": slugify(name),
        "ActionType": action_type,
        "Notes": None,
        "IsDisabled": False,
        "CanBeUsedForProjectVersioning": bool(pkgs),
        "IsRequired": is_required,
        "WorkerPoolId": worker_pool_id,
        "WorkerPoolVariable": worker_pool_variable,
        "Container": {"Image": None, "FeedId": None},
        "Environments": list(environments),
        "ExcludedEnvironments": [],
        "Channels": list(channels),
        "TenantTags": [],
        "Packages": pkgs,
        "Condition": "Success",
        "Properties": properties,
    }


def step(g: Gen, name: str, act: Doc, *, roles: Sequence[str] = (), condition: str = "Success") -> Doc:
    """A ``DeploymentStepResource`` holding one action."""
    props: dict[str, str] = {}
    if roles:
        props["Octopus.Action.TargetRoles"] = ",".join(roles)
    return {
        "Id": g.guid(),
        "Name": name,
        "Slug": slugify(name),
        "PackageRequirement": "LetOctopusDecide",
        "Properties": props,
        "Condition": condition,
        "StartTrigger": "StartAfterPrevious",
        "Actions": [act],
    }


def script_props(body: str, *, run_on_server: bool, syntax: str = "PowerShell") -> dict[str, str]:
    """Properties of an inline script action."""
    return {
        "Octopus.Action.RunOnServer": "true" if run_on_server else "false",
        "Octopus.Action.Script.ScriptSource": "Inline",
        "Octopus.Action.Script.Syntax": syntax,
        "Octopus.Action.Script.ScriptBody": body,
    }


def process_doc(process_id: str, project_id: str, steps: list[Doc], *, runbook_id: str | None = None) -> Doc:
    """A ``DeploymentProcessResource`` or, with ``runbook_id``, a ``RunbookProcessResource``."""
    doc: Doc = {"Id": process_id, "SpaceId": SPACE_ID, "ProjectId": project_id}
    if runbook_id is not None:
        doc["RunbookId"] = runbook_id
    doc.update({"Version": len(steps) + 1, "LastSnapshotId": None, "Steps": steps})
    return doc


def variable(
    g: Gen,
    name: str,
    value: str,
    *,
    scope: dict[str, list[str]] | None = None,
    sensitive: bool = False,
    type_: str = "String",
    description: str | None = None,
    prompt: Doc | None = None,
) -> Doc:
    """A ``VariableResource``; a sensitive value is kept only as the private ``_SensitiveValue``."""
    doc: Doc = {
        "Id": g.guid(),
        "Name": name,
        "Value": None if sensitive else value,
        "Description": description,
        "Scope": scope or {},
        "IsEditable": True,
        "Prompt": prompt,
        "Type": "Sensitive" if sensitive else type_,
        "IsSensitive": sensitive,
    }
    if sensitive:
        doc["_SensitiveValue"] = value
    return doc


def variable_set_doc(owner_id: str, variables: list[Doc], scope_values: Doc | None = None) -> Doc:
    """A ``VariableSetResource`` (id ``variableset-<OwnerId>``)."""
    return {
        "Id": f"variableset-{owner_id}",
        "SpaceId": SPACE_ID,
        "OwnerId": owner_id,
        "Version": 1,
        "Variables": variables,
        "ScopeValues": scope_values
        or {
            "Environments": [],
            "Machines": [],
            "Actions": [],
            "Roles": [],
            "Channels": [],
            "TenantTags": [],
            "Processes": [],
        },
    }


def channel_doc(
    channel_id: str,
    project_id: str,
    name: str,
    *,
    default: bool,
    lifecycle_id: str | None = None,
    rules: list[Doc] | None = None,
    description: str = "",
) -> Doc:
    """A ``ChannelResource``."""
    return {
        "Id": channel_id,
        "SpaceId": SPACE_ID,
        "ProjectId": project_id,
        "Name": name,
        "Slug": slugify(name),
        "Description": description,
        "LifecycleId": lifecycle_id,
        "IsDefault": default,
        "Rules": rules or [],
        "TenantTags": [],
    }


def project_doc(
    project_id: str,
    name: str,
    *,
    group_id: str,
    lifecycle_id: str,
    description: str = "",
    disabled: bool = False,
    library_sets: Sequence[str] = (),
    tenanted_mode: str = "Untenanted",
    vcs: Doc | None = None,
    icon: Doc | None = None,
    logo_stamp: str | None = None,
) -> Doc:
    """A ``ProjectResource`` (process and variable set ids derived from the project id)."""
    doc: Doc = {
        "Id": project_id,
        "SpaceId": SPACE_ID,
        "Name": name,
        "Slug": slugify(name),
        "Description": description,
        "IsDisabled": disabled,
        "ProjectGroupId": group_id,
        "LifecycleId": lifecycle_id,
        "VariableSetId": f"variableset-{project_id}",
        "DeploymentProcessId": f"deploymentprocess-{project_id}",
        "ClonedFromProjectId": None,
        "DiscreteChannelRelease": False,
        "IncludedLibraryVariableSetIds": list(library_sets),
        "DefaultToSkipIfAlreadyInstalled": False,
        "TenantedDeploymentMode": tenanted_mode,
        "DefaultGuidedFailureMode": "EnvironmentDefault",
        "VersioningStrategy": {
            "Template": "#{Octopus.Version.LastMajor}.#{Octopus.Version.LastMinor}."
            "#{Octopus.Version.NextPatch}",
            "DonorPackage": None,
        },
        "ReleaseCreationStrategy": {
            "ChannelId": None,
            "ReleaseCreationPackage": None,
            "ReleaseCreationPackageStepId": None,
        },
        "Templates": [],
        "AutoDeployReleaseOverrides": [],
        "ReleaseNotesTemplate": None,
        "DeploymentChangesTemplate": None,
        "ForcePackageDownload": False,
        "Icon": icon,
        "AllowIgnoreChannelRules": True,
        "ExtensionSettings": [],
        "AutoCreateRelease": False,
        "IsVersionControlled": vcs is not None,
        "PersistenceSettings": vcs or {"Type": "Database"},
        "ProjectConnectivityPolicy": {
            "SkipMachineBehavior": "None",
            "TargetRoles": [],
            "AllowDeploymentsToNoTargets": False,
            "ExcludeUnhealthyTargets": False,
        },
    }
    if logo_stamp is not None:
        doc["_LogoStamp"] = logo_stamp
    return doc


def runbook_doc(runbook_id: str, project_id: str, name: str, description: str = "") -> Doc:
    """A ``RunbookResource`` (process id ``RunbookProcess-<RunbookId>``)."""
    return {
        "Id": runbook_id,
        "SpaceId": SPACE_ID,
        "ProjectId": project_id,
        "Name": name,
        "Slug": slugify(name),
        "Description": description,
        "RunbookProcessId": f"RunbookProcess-{runbook_id}",
        "PublishedRunbookSnapshotId": None,
        "MultiTenancyMode": "Untenanted",
        "EnvironmentScope": "All",
        "Environments": [],
        "DefaultGuidedFailureMode": "EnvironmentDefault",
        "RunRetentionPolicy": {"QuantityToKeep": 100, "ShouldKeepForever": False},
        "ConnectivityPolicy": {
            "SkipMachineBehavior": "None",
            "TargetRoles": [],
            "AllowDeploymentsToNoTargets": True,
            "ExcludeUnhealthyTargets": False,
        },
    }


# -- history -------------------------------------------------------------------------------------------


def release_doc(
    release_id: str,
    project_id: str,
    channel_id: str,
    version: str,
    *,
    assembled: str,
    selected: list[Doc],
    snapshot: str,
    library_snapshots: Sequence[str] = (),
    vcs_ref: Doc | None = None,
) -> Doc:
    """A ``ReleaseResource``; ``snapshot`` is the suffix of the process/variable snapshot ids."""
    return {
        "Id": release_id,
        "SpaceId": SPACE_ID,
        "ProjectId": project_id,
        "ChannelId": channel_id,
        "Version": version,
        "ReleaseNotes": None,
        "Assembled": assembled,
        "IgnoreChannelRules": False,
        "BuildInformation": [],
        "LibraryVariableSetSnapshotIds": list(library_snapshots),
        "SelectedPackages": selected,
        "SelectedGitResources": [],
        "ProjectDeploymentProcessSnapshotId": f"deploymentprocess-{project_id}-s-{snapshot}",
        "ProjectVariableSetSnapshotId": f"variableset-{project_id}-s-{snapshot}",
        "VersionControlReference": vcs_ref,
    }


def deployment_and_task(
    deployment_id: str,
    task_id: str,
    release: Doc,
    *,
    project_name: str,
    environment_id: str,
    environment_name: str,
    created: datetime,
    failed: bool = False,
    tenant_id: str | None = None,
    deployed_by: tuple[str, str | None] = ("System", None),
    node: str = "OCTOPUS01",
    duration_seconds: int = 47,
) -> tuple[Doc, Doc]:
    """A historical deployment and its completed ``Deploy`` server task."""
    deployment: Doc = {
        "Id": deployment_id,
        "SpaceId": SPACE_ID,
        "ReleaseId": release["Id"],
        "ChannelId": release["ChannelId"],
        "DeploymentProcessId": release["ProjectDeploymentProcessSnapshotId"],
        "Changes": [],
        "ChangesMarkdown": None,
        "EnvironmentId": environment_id,
        "TenantId": tenant_id,
        "ForcePackageDownload": False,
        "ForcePackageRedeployment": False,
        "Priority": "LifecycleDefault",
        "SkipActions": [],
        "SpecificMachineIds": [],
        "ExcludedMachineIds": [],
        "ManifestVariableSetId": None,
        "TaskId": task_id,
        "ProjectId": release["ProjectId"],
        "UseGuidedFailure": False,
        "Comments": None,
        "FormValues": {},
        "QueueTime": None,
        "QueueTimeExpiry": None,
        "Name": f"Deploy to {environment_name}",
        "Created": iso(created),
        "TentacleRetentionPeriod": None,
        "DeployedBy": deployed_by[0],
        "DeployedById": deployed_by[1],
        "FailureEncountered": failed,
        "DeployedToMachineIds": [],
    }
    started = created + timedelta(seconds=2)
    finished = started + timedelta(seconds=duration_seconds)
    task: Doc = {
        "Id": task_id,
        "SpaceId": SPACE_ID,
        "Name": "Deploy",
        "Description": f"Deploy {project_name} release {release['Version']} to {environment_name}",
        "Arguments": {"DeploymentId": deployment_id},
        "State": "Failed" if failed else "Success",
        "Completed": human_time(finished),
        "QueueTime": iso(created),
        "QueueTimeExpiry": None,
        "StartTime": iso(started),
        "LastUpdatedTime": iso(finished),
        "CompletedTime": iso(finished),
        "ServerNode": node,
        "Duration": f"{duration_seconds} seconds",
        "ErrorMessage": "The deployment failed because one or more steps failed." if failed else "",
        "HasBeenPickedUpByProcessor": True,
        "IsCompleted": True,
        "FinishedSuccessfully": not failed,
        "HasPendingInterruptions": False,
        "CanRerun": False,
        "HasWarningsOrErrors": failed,
        "ProjectId": release["ProjectId"],
    }
    return deployment, task


def api_key_hash(api_key: str) -> str:
    """How the simulator stores an API key: its SHA-256, never the key itself."""
    return hashlib.sha256(api_key.encode()).hexdigest()
