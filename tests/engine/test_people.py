"""Users and teams report: sign-in verdicts, destination matches, admins, teams' groups and roles, CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from octowiz.engine.prepare.inventory import DestinationInventory, Inventory, collect
from octowiz.engine.prepare.people import (
    TEAM_COLUMNS,
    USER_COLUMNS,
    UsersReport,
    canonical_provider,
    teams_csv,
    users_csv,
    users_report,
    write_csv,
)
from octowiz.octopus import models as m
from octowiz.octopus.client import OctopusClient, OctopusVersion
from octowiz.sim.instance import ScriptedFault
from octowiz.sim.simulator import Simulator

AD_OR_LDAP_ONLY = {"akhan", "bsmith", "jdoe", "mgarcia", "tnguyen", "pjones"}
PASSWORD_USERS = {"lwilson", "migration-admin", "read-only"}


async def report_of(clients: tuple[OctopusClient, OctopusClient]) -> UsersReport:
    return users_report(await collect(*clients))


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# -- users ------------------------------------------------------------------------------------------------


async def test_ad_and_ldap_only_users_cannot_sign_in_and_password_users_are_invited(
    clients: tuple[OctopusClient, OctopusClient],
) -> None:
    report = await report_of(clients)
    rows = {u.username: u for u in report.users}
    assert set(rows) == AD_OR_LDAP_ONLY | PASSWORD_USERS | {"build-server"}
    for name in AD_OR_LDAP_ONLY:
        assert rows[name].cloud_sign_in == "no", name
        assert "not available on Octopus Cloud" in rows[name].reason
        assert set(rows[name].providers) <= {"Active Directory", "LDAP"}
    for name in PASSWORD_USERS:
        assert rows[name].cloud_sign_in == "invite", name
        assert rows[name].providers == ("Username/Password",)
        assert "Octopus ID" in rows[name].reason
    service = rows["build-server"]
    assert service.is_service and service.cloud_sign_in == "no" and "service account" in service.reason
    assert rows["pjones"].is_active is False
    assert report.counts()["yes"] == 0
    assert report.destination_providers == ("Octopus ID", "Azure AD")


async def test_destination_users_matched_by_email_case_insensitively(
    demo: Simulator, clients: tuple[OctopusClient, OctopusClient]
) -> None:
    jane = demo.cloud.store.first("users", lambda d: d["Username"] == "jane.doe")
    assert jane is not None
    demo.cloud.store.put("users", {**jane, "EmailAddress": jane["EmailAddress"].upper()})
    report = await report_of(clients)
    rows = {u.username: u for u in report.users}
    assert report.destination_checked
    assert rows["jdoe"].on_destination == "jane.doe"
    assert rows["mgarcia"].on_destination == "maria.garcia"
    assert [u.username for u in report.users if u.on_destination] == ["jdoe", "mgarcia"]


async def test_admins_flagged_and_teams_listed(clients: tuple[OctopusClient, OctopusClient]) -> None:
    report = await report_of(clients)
    rows = {u.username: u for u in report.users}
    assert {u.username for u in report.users if u.admin} == {"jdoe", "migration-admin"}
    assert rows["jdoe"].teams == ("Octopus Administrators",)
    assert rows["bsmith"].teams == ("Developers",)
    assert "Everyone" not in rows["lwilson"].teams


async def test_without_destination_nothing_is_matched(clients: tuple[OctopusClient, OctopusClient]) -> None:
    report = users_report(await collect(clients[0]))
    assert not report.destination_checked and report.destination_providers is None
    assert all(u.on_destination is None for u in report.users)
    assert {r["on_destination"] for r in parse(users_csv(report))} == {"unknown"}


def test_sign_in_verdicts_follow_the_destination_providers() -> None:
    def user(uid: str, provider: str | None, **kw: object) -> m.User:
        identities = [m.Identity(identity_provider_name=provider)] if provider else []
        return m.User(id=uid, username=uid, email_address=f"{uid}@example.com", identities=identities, **kw)

    inv = Inventory("https://octopus.example.internal", "Spaces-1", OctopusVersion.parse("2024.2.9220"))
    inv.users = [
        user("aad", "AzureAD"),
        user("okta", "Okta"),
        user("github", "GitHub"),
        user("mixed", "Active Directory"),
        user("nobody", None),
        user("svc", None, is_service=True),
        user("=cmd", "Octopus ID", display_name="+SUM(A1)"),
    ]
    inv.users[3].identities = [
        m.Identity(identity_provider_name=name) for name in ("Active Directory", "Username/Password")
    ]
    inv.destination = DestinationInventory(
        "https://x.octopus.app", OctopusVersion.parse("2026.3.1"), auth_providers=["Octopus ID", "AzureAD"]
    )
    rows = {u.username: u for u in users_report(inv).users}
    assert rows["aad"].cloud_sign_in == "yes" and "Azure AD" in rows["aad"].reason
    assert rows["okta"].cloud_sign_in == "invite" and "not enabled on the destination" in rows["okta"].reason
    assert rows["github"].cloud_sign_in == "invite"
    assert rows["mixed"].cloud_sign_in == "invite"
    assert rows["nobody"].cloud_sign_in == "invite"
    assert rows["svc"].cloud_sign_in == "no"
    assert rows["=cmd"].cloud_sign_in == "yes"
    # Without destination providers, every Cloud provider counts.
    inv.destination = None
    assert {u.username: u.cloud_sign_in for u in users_report(inv).users}["okta"] == "yes"
    # A cell a spreadsheet would run as a formula is neutralised.
    text = users_csv(users_report(inv))
    assert "'=cmd" in text and "'+SUM(A1)" in text
    assert canonical_provider("Google Apps") == "Google"


# -- teams ------------------------------------------------------------------------------------------------


async def test_teams_with_external_groups_flagged_and_roles_read_in_bulk(
    demo: Simulator, clients: tuple[OctopusClient, OctopusClient]
) -> None:
    before = demo.server.request_count("/api/scopeduserroles") + demo.server.request_count("/api/userroles")
    report = await report_of(clients)
    roles_requests = (
        demo.server.request_count("/api/scopeduserroles")
        + demo.server.request_count("/api/userroles")
        - before
    )
    assert roles_requests == 2  # one bulk list of scoped roles, one of role names
    teams = {t.name: t for t in report.teams}
    assert report.roles_known
    dev, ops, admins = teams["Developers"], teams["Operators"], teams["Octopus Administrators"]
    assert dev.groups_cannot_map and dev.external_groups[0].provider == "Active Directory"
    assert ops.groups_cannot_map and ops.external_groups[0].provider == "LDAP"
    assert admins.groups_cannot_map and admins.space == "system"
    assert "cannot map on Cloud" in dev.external_groups[0].cloud
    assert not teams["Auditors"].groups_cannot_map
    assert dev.members == ("akhan", "bsmith") and dev.space == "Spaces-1"
    assert admins.roles == ("System Administrator (system)",)
    assert dev.roles == ("Project Contributor (Spaces-1)",)
    assert teams["Octopus Managers"].roles == ("System Manager (system)",)
    assert "Octopus Managers" in admins.note


async def test_roles_that_cannot_be_read_are_a_problem_not_a_failure(
    demo: Simulator, clients: tuple[OctopusClient, OctopusClient]
) -> None:
    demo.server.scripted.append(ScriptedFault(r"/scopeduserroles$", 403, count=1))
    inv = await collect(*clients)
    assert "scoped user roles" in inv.problems
    report = users_report(inv)
    assert not report.roles_known and "scoped user roles" in report.problems
    assert all(t.roles is None for t in report.teams)
    assert {r["roles"] for r in parse(teams_csv(report))} == {"unknown"}
    assert len(report.users) == 10  # the rest was still read


# -- CSV --------------------------------------------------------------------------------------------------


async def test_csv_parses_back_and_holds_no_secret(
    clients: tuple[OctopusClient, OctopusClient], tmp_path: Path
) -> None:
    report = await report_of(clients)
    users_text, teams_text = users_csv(report), teams_csv(report)
    assert users_text.splitlines()[0].split(",") == list(USER_COLUMNS)
    assert teams_text.splitlines()[0].split(",") == list(TEAM_COLUMNS)
    assert "\r\n" in users_text  # RFC 4180 line ends
    users = parse(users_text)
    assert [r["username"] for r in users] == [u.username for u in report.users]
    jdoe = next(r for r in users if r["username"] == "jdoe")
    assert jdoe["cloud_sign_in"] == "no" and jdoe["admin"] == "yes" and jdoe["on_destination"] == "jane.doe"
    assert jdoe["reason"] == next(u.reason for u in report.users if u.username == "jdoe")
    teams = {r["team"]: r for r in parse(teams_text)}
    assert teams["Developers"]["cannot_map_on_cloud"] == "yes"
    assert (
        teams["Developers"]["external_groups"] == "CORP\\Developers [Active Directory: cannot map on Cloud]"
    )
    assert teams["Developers"]["members"] == "akhan; bsmith"

    paths = write_csv(tmp_path / "out" / "people", report)
    assert [p.name for p in paths] == ["users.csv", "teams.csv"]
    for path in paths:
        raw = path.read_bytes()
        assert b"API-" not in raw
        assert b"\r\n" in raw and b"\r\r\n" not in raw
        with path.open(newline="", encoding="utf-8") as f:
            assert len(list(csv.reader(f))) > 1
    assert paths[0].read_bytes().decode("utf-8") == users_text
    assert sorted(p.name for p in (tmp_path / "out" / "people").iterdir()) == ["teams.csv", "users.csv"]
    for text in (users_text, teams_text):
        assert "API-" not in text and "password" not in text.lower().replace("username/password", "")
