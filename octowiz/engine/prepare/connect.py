"""The connect step: check each instance and the pair, the way an Octopus admin would."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from octowiz.octopus import permissions as perms
from octowiz.octopus.client import OctopusClient, OctopusVersion
from octowiz.octopus.errors import OctopusError

ROLE_NEEDS = {"source": perms.READ + perms.EXPORT, "destination": perms.IMPORT + perms.GAP_FILL}
CLOUD_ONLY_PROVIDERS = {"Octopus ID"}
SERVER_ONLY_PROVIDERS = {"Active Directory", "LDAP"}


@dataclass
class InstanceCheck:
    """What validating one instance found.

    Attributes:
        role: ``source`` or ``destination``.
        url: the normalised URL.
        error: the sentence when the instance could not be checked at all.
        version: the Octopus version.
        spaces: ``(id, name)`` of the spaces the key can see.
        space_id: the chosen (or default) space.
        export_import: whether Project Export/Import is available, and ``export_import_reason`` if not.
        user: the key's user (display name and username).
        missing: permissions the migration needs that the key's user lacks.
        administer_system: whether the user has ``AdministerSystem`` (matters only for retiring the Server).
        looks_like_cloud: the host or sign-in providers look like Octopus Cloud.
    """

    role: str
    url: str
    error: str = ""
    version: OctopusVersion | None = None
    spaces: list[tuple[str, str]] = field(default_factory=list)
    space_id: str = ""
    export_import: bool = False
    export_import_reason: str = ""
    user: str = ""
    missing: list[str] = field(default_factory=list)
    administer_system: bool = False
    looks_like_cloud: bool = False
    installation_id: str = ""

    @property
    def ok(self) -> bool:
        """True when the instance can play its role."""
        return not self.error and self.export_import and not self.missing


async def check_instance(
    role: str,
    url: str,
    api_key: str,
    space: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    ca_bundle: str | None = None,
) -> InstanceCheck:
    """Validate one instance for its role; never raises for a bad input (the check carries the sentence)."""
    check = InstanceCheck(role=role, url=url)
    try:
        async with OctopusClient(
            url, api_key, transport=transport, ca_bundle=ca_bundle, max_attempts=2
        ) as client:
            check.url = client.base_url
            info = await client.discover(space or None)
            check.version = info.version
            check.space_id = info.space_id
            check.export_import = info.export_import
            check.export_import_reason = info.export_import_reason
            check.installation_id = info.root.installation_id or ""
            check.spaces = [(str(s.id), str(s.name)) for s in await client.spaces()]
            me = await client.current_user()
            check.user = (
                f"{me.display_name or me.username} ({me.username})" if me.username else str(me.display_name)
            )
            granted = await client.permissions(str(me.id))
            have = set(granted.system_permissions or [])
            for name, restrictions in (granted.space_permissions or {}).items():
                if any(
                    r.space_id == info.space_id
                    and not (
                        r.restricted_to_project_ids
                        or r.restricted_to_environment_ids
                        or r.restricted_to_project_group_ids
                        or r.restricted_to_tenant_ids
                    )
                    for r in restrictions or []
                ):
                    have.add(name)
            check.missing = sorted(set(ROLE_NEEDS[role]) - have)
            check.administer_system = "AdministerSystem" in have
            providers = {
                p.name for p in (await client.authentication()).authentication_providers or [] if p.name
            }
            check.looks_like_cloud = info.is_cloud_host or (
                bool(providers & CLOUD_ONLY_PROVIDERS) and not providers & SERVER_ONLY_PROVIDERS
            )
    except OctopusError as exc:
        check.error = str(exc)
    return check


def check_pair(source: InstanceCheck, destination: InstanceCheck) -> list[str]:
    """Problems with the pair itself: the same instance twice, or a source newer than the destination."""
    problems: list[str] = []
    if source.url == destination.url or (
        source.installation_id and source.installation_id == destination.installation_id
    ):
        problems.append(
            "The source and the destination are the same Octopus instance: the destination must be "
            "your Octopus Cloud instance."
        )
    if source.version and destination.version and source.version > destination.version:
        problems.append(
            f"The source runs Octopus {source.version}, newer than the destination's "
            f"{destination.version}: Export/Import only moves projects to an equal or newer version. "
            "Wait for Cloud to be upgraded, or contact Octopus support."
        )
    return problems


def connection_settings(source: InstanceCheck, destination: InstanceCheck) -> dict[str, str]:
    """What the journal records of a checked connection: URLs, spaces (id and name), versions; never keys."""
    out: dict[str, str] = {}
    for role, check in (("source", source), ("destination", destination)):
        out[f"{role}_url"] = check.url
        out[f"{role}_space"] = check.space_id
        out[f"{role}_space_name"] = dict(check.spaces).get(check.space_id, check.space_id)
        out[f"{role}_version"] = str(check.version or "")
    return out


def describe(check: InstanceCheck) -> list[tuple[str, str]]:
    """Lines for display: ``(status, text)`` with status ``ok``, ``warn`` or ``error``."""
    if check.error:
        return [("error", check.error)]
    lines = [("ok", f"Reachable: Octopus {check.version}")]
    if check.export_import:
        lines.append(("ok", "Project Export/Import is available"))
    else:
        lines.append(("error", check.export_import_reason))
    lines.append(("ok", f"Key belongs to {check.user}"))
    if check.missing:
        lines.append(
            (
                "error",
                f"The key's user lacks {', '.join(check.missing)}: ask an Octopus administrator to "
                f"grant {'them' if len(check.missing) > 1 else 'it'}",
            )
        )
    else:
        lines.append(("ok", "The key has the permissions the migration needs"))
    if check.role == "source":
        if check.administer_system:
            # Only a permission the key holds: retiring the Server is not an octowiz step yet.
            lines.append(("ok", "AdministerSystem: the key can retire this Server later"))
        else:
            lines.append(
                (
                    "warn",
                    "No AdministerSystem: not needed to migrate, only to retire this Server later "
                    "(maintenance mode, task cap 0)",
                )
            )
    else:
        lines.append(
            ("ok", "Looks like Octopus Cloud")
            if check.looks_like_cloud
            else ("warn", "This does not look like Octopus Cloud (no *.octopus.app address or Cloud sign-in)")
        )
    return lines
