"""Users and teams: who can sign in to Octopus Cloud as they are, and what their teams grant.

Project Export/Import does not carry users: every user must be created again on Cloud, and Active
Directory and LDAP are not available there (``auth-provider-compatibility``). This module reads an
:class:`~octowiz.engine.prepare.inventory.Inventory` (no requests of its own) and reports, per user, how they
can sign in to Cloud, whether they are already there (same email), and, per team, its members, roles
and external groups, with CSV exports an administrator can work through.

The reports and the CSV files never hold a secret: only names, email addresses, provider names,
team and role names, and external group names.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octowiz.engine.prepare.inventory import Inventory
from octowiz.octopus import models as m

ADMINISTRATORS_TEAM = "teams-administrators"
EVERYONE_TEAM = "teams-everyone"

#: ``cloud_sign_in`` values.
SIGN_IN_YES = "yes"
SIGN_IN_INVITE = "invite"
SIGN_IN_NO = "no"

# Canonical provider names, keyed by the name squeezed to lower-case letters (Octopus spells them
# differently in identities, the ``/api/authentication`` list and configuration: "Azure AD", "AzureAD").
AZURE_AD = "Azure AD"
GOOGLE = "Google"
OKTA = "Okta"
OCTOPUS_ID = "Octopus ID"
USERNAME_PASSWORD = "Username/Password"
GITHUB = "GitHub"
ACTIVE_DIRECTORY = "Active Directory"
LDAP = "LDAP"

_CANONICAL = {
    "azuread": AZURE_AD,
    "aad": AZURE_AD,
    "entraid": AZURE_AD,
    "microsoftentraid": AZURE_AD,
    "googleapps": GOOGLE,
    "google": GOOGLE,
    "googleworkspace": GOOGLE,
    "okta": OKTA,
    "octopusid": OCTOPUS_ID,
    "usernamepassword": USERNAME_PASSWORD,
    "github": GITHUB,
    "activedirectory": ACTIVE_DIRECTORY,
    "directoryservices": ACTIVE_DIRECTORY,
    "ldap": LDAP,
}
#: Providers a user can sign in to Octopus Cloud with directly.
CLOUD_PROVIDERS = (AZURE_AD, GOOGLE, OKTA, OCTOPUS_ID)
#: Providers Cloud offers only through Octopus ID (the user is invited by email).
VIA_OCTOPUS_ID = (USERNAME_PASSWORD, GITHUB)
#: Providers Octopus Cloud does not offer at all.
NOT_ON_CLOUD = (ACTIVE_DIRECTORY, LDAP)

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def canonical_provider(name: str) -> str:
    """The provider's canonical name (``AzureAD`` → ``Azure AD``); unknown names come back unchanged."""
    return _CANONICAL.get(re.sub(r"[^a-z]", "", name.lower()), name)


@dataclass(frozen=True)
class UserRow:
    """One source user.

    Attributes:
        cloud_sign_in: ``yes`` (an identity whose provider Cloud offers), ``invite`` (invite them through
            Octopus ID) or ``no`` (only Active Directory/LDAP identities, a service account, or nothing
            to invite them with).
        reason: one sentence saying why, and what to do.
        on_destination: the username of the destination user with the same email (case-insensitive),
            or None (none found, or the destination was not read: see ``UsersReport.destination_checked``).
        teams: names of the teams the user is a member of (Everyone left out: every user is in it).
    """

    id: str
    username: str
    display_name: str
    email: str
    providers: tuple[str, ...]
    cloud_sign_in: str
    reason: str
    on_destination: str | None
    is_service: bool
    is_active: bool
    admin: bool
    teams: tuple[str, ...]


@dataclass(frozen=True)
class ExternalGroup:
    """A directory group mapped to a team, with the provider its id suggests and what Cloud can do."""

    id: str
    name: str
    provider: str  # Active Directory | LDAP | Azure AD | unknown
    cloud: str  # a few words: "cannot map on Cloud", ...

    @property
    def cannot_map(self) -> bool:
        """True for Active Directory and LDAP groups: Octopus Cloud cannot map them."""
        return self.provider in NOT_ON_CLOUD


@dataclass(frozen=True)
class TeamRow:
    """One source team.

    Attributes:
        space: ``system`` for a system team, else the space id.
        members: usernames of its members.
        roles: readable roles (``Project Contributor (Spaces-1)``); None when they could not be read.
        note: anything Cloud does differently for this team, or "".
    """

    id: str
    name: str
    space: str
    members: tuple[str, ...]
    external_groups: tuple[ExternalGroup, ...]
    roles: tuple[str, ...] | None
    note: str = ""

    @property
    def groups_cannot_map(self) -> bool:
        """True when an external group of this team cannot be mapped on Octopus Cloud."""
        return any(g.cannot_map for g in self.external_groups)


@dataclass
class UsersReport:
    """Users and teams of the source, judged for Octopus Cloud.

    Attributes:
        destination_checked: True when the destination's users were read (``on_destination`` means
            something).
        destination_providers: the destination's sign-in providers, when known.
        roles_known: True when the teams' roles were read.
        problems: inventory parts that could not be read and matter here (part → sentence).
    """

    users: list[UserRow]
    teams: list[TeamRow]
    destination_checked: bool
    destination_providers: tuple[str, ...] | None
    roles_known: bool
    problems: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Users per sign-in verdict, plus those already on the destination and the administrators."""
        out = {
            v: sum(1 for u in self.users if u.cloud_sign_in == v)
            for v in (SIGN_IN_YES, SIGN_IN_INVITE, SIGN_IN_NO)
        }
        out["on_destination"] = sum(1 for u in self.users if u.on_destination)
        out["admins"] = sum(1 for u in self.users if u.admin)
        return out


# -- the report -----------------------------------------------------------------------------------------


def users_report(inv: Inventory) -> UsersReport:
    """One row per source user and per source team (reads the inventory only)."""
    dest = inv.destination
    dest_users_known = dest is not None and "destination users" not in inv.problems
    dest_providers: tuple[str, ...] | None = None
    if dest is not None and dest.auth_providers:
        dest_providers = tuple(canonical_provider(p) for p in dest.auth_providers)
    offered = [p for p in CLOUD_PROVIDERS if dest_providers is None or p in dest_providers]
    by_email: dict[str, str] = {}
    for du in dest.users if dest is not None else []:
        if du.email_address:
            by_email.setdefault(du.email_address.strip().lower(), str(du.username or du.id))

    team_names: dict[str, list[str]] = {}
    admins: set[str] = set()
    for team in inv.teams:
        for uid in team.member_user_ids or []:
            if team.id != EVERYONE_TEAM:
                team_names.setdefault(uid, []).append(str(team.name or team.id))
            if team.id == ADMINISTRATORS_TEAM:
                admins.add(uid)

    users = []
    for u in sorted(inv.users, key=lambda x: str(x.username or "").lower()):
        providers = tuple(
            dict.fromkeys(
                canonical_provider(i.identity_provider_name)
                for i in u.identities or []
                if i.identity_provider_name
            )
        )
        verdict, reason = _sign_in(u, providers, offered, known=dest_providers is not None)
        email = (u.email_address or "").strip()
        users.append(
            UserRow(
                id=str(u.id),
                username=str(u.username or u.id),
                display_name=str(u.display_name or ""),
                email=email,
                providers=providers,
                cloud_sign_in=verdict,
                reason=reason,
                on_destination=by_email.get(email.lower()) if email else None,
                is_service=bool(u.is_service),
                is_active=u.is_active is not False,
                admin=str(u.id) in admins,
                teams=tuple(sorted(team_names.get(str(u.id), []), key=str.lower)),
            )
        )

    roles_known = "scoped user roles" not in inv.problems and "user roles" not in inv.problems
    usernames = {str(u.id): str(u.username or u.id) for u in inv.users}
    teams = [
        _team_row(inv, t, usernames, roles_known)
        for t in sorted(inv.teams, key=lambda t: (t.space_id is not None, str(t.name or "").lower()))
    ]
    relevant = (
        "users",
        "teams",
        "scoped user roles",
        "user roles",
        "destination users",
        "destination authentication",
    )
    return UsersReport(
        users=users,
        teams=teams,
        destination_checked=dest_users_known,
        destination_providers=dest_providers,
        roles_known=roles_known,
        problems={k: v for k, v in inv.problems.items() if k in relevant or k == "destination"},
    )


def _sign_in(user: m.User, providers: tuple[str, ...], offered: list[str], *, known: bool) -> tuple[str, str]:
    """``(verdict, one sentence)`` for how a user can sign in to Octopus Cloud as they are."""
    if user.is_service:
        return SIGN_IN_NO, (
            "A service account never signs in: create a service account on the destination and give it a new "
            "API key."
        )
    where = "the destination offers" if known else "Octopus Cloud supports"
    usable = [p for p in providers if p in offered]
    if usable:
        return SIGN_IN_YES, f"They can sign in with {usable[0]}, which {where}."
    email = (user.email_address or "").strip()
    invite = (
        "invite them through Octopus ID"
        if email
        else "add an email address, then invite them through Octopus ID"
    )
    disabled = [p for p in providers if p in CLOUD_PROVIDERS]
    if disabled:
        return SIGN_IN_INVITE, (
            f"{disabled[0]} works on Octopus Cloud but is not enabled on the destination: enable it "
            f"there, or {invite}."
        )
    local = [p for p in providers if p in VIA_OCTOPUS_ID]
    if local:
        what = "Username/password sign-in" if local[0] == USERNAME_PASSWORD else f"{local[0]} sign-in"
        by_email = "invite them by email" if email else "add an email address, then invite them"
        return SIGN_IN_INVITE, f"{what} is available on Octopus Cloud only through Octopus ID: {by_email}."
    unknown = [p for p in providers if p not in NOT_ON_CLOUD]
    if unknown:
        return SIGN_IN_INVITE, f"{unknown[0]} is not a provider Octopus Cloud lists: {invite}."
    if providers:
        names = " and ".join(providers)
        return SIGN_IN_NO, (
            f"{names} {'is' if len(providers) == 1 else 'are'} not available on Octopus Cloud: {invite}, or "
            "give them an Azure AD, Okta or Google identity."
        )
    if email:
        return SIGN_IN_INVITE, "They have no sign-in identity yet: invite them through Octopus ID by email."
    return SIGN_IN_NO, "They have no sign-in identity and no email address to invite them with."


def _group(item: m.NamedReferenceItem) -> ExternalGroup:
    gid = str(item.id or "")
    name = str(item.display_name or gid)
    low = gid.lower()
    if low.startswith("s-1-"):
        provider = ACTIVE_DIRECTORY
    elif "=" in low and any(k in low for k in ("dc=", "cn=", "ou=", "uid=")):
        provider = LDAP
    elif _GUID.match(gid):
        provider = AZURE_AD
    else:
        provider = "unknown"
    cloud = {
        ACTIVE_DIRECTORY: "cannot map on Cloud",
        LDAP: "cannot map on Cloud",
        AZURE_AD: "can map on Cloud (Azure AD app registration)",
    }.get(provider, "check: only Azure AD and Okta groups map on Cloud")
    return ExternalGroup(gid, name, provider, cloud)


def _team_row(inv: Inventory, team: m.Team, usernames: dict[str, str], roles_known: bool) -> TeamRow:
    tid = str(team.id)
    note = ""
    if tid == ADMINISTRATORS_TEAM:
        note = (
            "On Octopus Cloud this team is reserved for Octopus staff: put your administrators in "
            "Octopus Managers."
        )
    elif tid == EVERYONE_TEAM:
        note = "Every user is a member."
    return TeamRow(
        id=tid,
        name=str(team.name or tid),
        space=str(team.space_id) if team.space_id else "system",
        members=tuple(sorted((usernames.get(u, u) for u in team.member_user_ids or []), key=str.lower)),
        external_groups=tuple(_group(g) for g in team.external_security_groups or []),
        roles=tuple(_roles_of(inv, tid)) if roles_known else None,
        note=note,
    )


def _roles_of(inv: Inventory, team_id: str) -> list[str]:
    out = []
    for sur in inv.scoped_user_roles:
        if sur.get("TeamId") != team_id:
            continue
        role_id = str(sur.get("UserRoleId") or "")
        name = inv.user_roles.get(role_id, role_id)
        scope = [str(sur.get("SpaceId") or "system")]
        for key, kind, label in (
            ("ProjectIds", "project", "projects"),
            ("ProjectGroupIds", "projectgroup", "project groups"),
            ("EnvironmentIds", "environment", "environments"),
            ("TenantIds", "tenant", "tenants"),
        ):
            ids = [str(i) for i in sur.get(key) or []]
            if ids:
                scope.append(f"{label} " + ", ".join(sorted(inv.name_of(kind, i) for i in ids)))
        out.append(f"{name} ({'; '.join(scope)})")
    return sorted(out, key=str.lower)


# -- CSV ------------------------------------------------------------------------------------------------

#: ``users.csv`` columns, in order.
USER_COLUMNS = (
    "username",  # the source username
    "display_name",
    "email",
    "identity_providers",  # "; "-separated provider names of the user's identities
    "cloud_sign_in",  # yes | invite | no
    "reason",  # one sentence: why, and what to do
    "on_destination",  # the destination username with the same email; "" none; "unknown" not checked
    "service_account",  # yes | no
    "active",  # yes | no
    "admin",  # yes when in Octopus Administrators
    "teams",  # "; "-separated team names (Everyone left out)
)
#: ``teams.csv`` columns, in order.
TEAM_COLUMNS = (
    "team",
    "space",  # system, or the space id
    "members",  # "; "-separated usernames
    "external_groups",  # "; "-separated "name [provider: what Cloud can do]"
    "cannot_map_on_cloud",  # yes when an Active Directory/LDAP group is mapped
    "roles",  # "; "-separated "Role (space or system; restrictions)"; "unknown" when unreadable
    "note",
)


def _cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (a leading = + - @ gets a quote, OWASP advice)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _table(columns: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)  # RFC 4180
    writer.writerow(list(columns))
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def users_csv(report: UsersReport) -> str:
    """The users as RFC 4180 CSV, columns :data:`USER_COLUMNS`."""
    return _table(
        USER_COLUMNS,
        (
            [
                u.username,
                u.display_name,
                u.email,
                "; ".join(u.providers),
                u.cloud_sign_in,
                u.reason,
                (u.on_destination or "") if report.destination_checked else "unknown",
                _yes(u.is_service),
                _yes(u.is_active),
                _yes(u.admin),
                "; ".join(u.teams),
            ]
            for u in report.users
        ),
    )


def teams_csv(report: UsersReport) -> str:
    """The teams as RFC 4180 CSV, columns :data:`TEAM_COLUMNS`."""
    return _table(
        TEAM_COLUMNS,
        (
            [
                t.name,
                t.space,
                "; ".join(t.members),
                "; ".join(f"{g.name} [{g.provider}: {g.cloud}]" for g in t.external_groups),
                _yes(t.groups_cannot_map),
                "unknown" if t.roles is None else "; ".join(t.roles),
                t.note,
            ]
            for t in report.teams
        ),
    )


def write_csv(out_dir: Path, report: UsersReport) -> list[Path]:
    """Write ``users.csv`` and ``teams.csv`` into ``out_dir`` (created if needed); returns their paths.

    Each file is written to a temporary file beside it and renamed into place, so a reader never sees
    half a file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in (("users.csv", users_csv(report)), ("teams.csv", teams_csv(report))):
        path = out_dir / name
        _atomic_write(path, text)
        paths.append(path)
    return paths


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def report_dict(report: UsersReport) -> dict[str, Any]:
    """A JSON-ready summary (for the journal's scans): counts and the rows."""
    return {
        "counts": report.counts(),
        "destination_checked": report.destination_checked,
        "roles_known": report.roles_known,
        "users": [
            {
                "username": u.username,
                "cloud_sign_in": u.cloud_sign_in,
                "reason": u.reason,
                "on_destination": u.on_destination,
                "admin": u.admin,
                "providers": list(u.providers),
            }
            for u in report.users
        ],
        "teams": [
            {"name": t.name, "space": t.space, "cannot_map": t.groups_cannot_map, "roles": t.roles}
            for t in report.teams
        ],
        "problems": report.problems,
    }
