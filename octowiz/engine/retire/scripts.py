"""Scripts that delete a host's OLD Tentacle instance (the one the Server talks to), keeping the Cloud clone.

Retiring the Server ends with each Tentacle host's original instance removed, the way the Tentacle
Manager's own delete wizard does it (cutover doc §A.2, ``DeleteWizardModel.cs``)::

    Tentacle service --instance <old> --stop --uninstall
    Tentacle delete-instance --instance <old>

``delete-instance`` alone only drops the instance from the index and leaves its service running, hence
the service first. The script never names a clone instance in those two commands, and before touching
anything it checks that every clone of the plan is on the host (a script run on the wrong host stops
there). It is idempotent: when ``list-instances`` no longer lists the old instance it says so and does
nothing. Run through a script console, it must run from the *clone* (Cloud's script console on the
clone's machine): stopping the old instance's service from a script that old instance runs would end
that very script's task before ``delete-instance`` (cutover doc §A.5).

Every command and flag is one of :data:`octowiz.engine.cutover.scripts.TENTACLE_COMMANDS` (checked when
the script is written), and every value is quoted with the clone scripts' own quoting. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from octowiz.engine.cutover.scripts import (
    LINUX_TENTACLE,
    TENTACLE_COMMANDS,
    WINDOWS_TENTACLE,
    HostPlan,
    clone_instance_name,
    command_options,
    ps_quote,
    sh_quote,
)

OS = Literal["windows", "linux"]
Via = Literal["download", "console"]

#: The Tentacle commands the script runs, in order, each with the options it passes.
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("list-instances", ("format",)),
    ("service", ("instance", "stop", "uninstall")),
    ("delete-instance", ("instance",)),
)

for _command, _options in COMMANDS:  # the table the simulator enforces; a typo here fails at import
    assert _command in TENTACLE_COMMANDS and set(_options) <= set(command_options(_command)), _command


def retire_file_name(plan: HostPlan, os: OS | None = None) -> str:
    """``retire-<host>.ps1`` or ``retire-<host>.sh``, with anything unsafe in a file name replaced."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", plan.host).lstrip(".") or "host"
    return f"retire-{safe}.{'ps1' if (os or plan.os) == 'windows' else 'sh'}"


def clone_instances(plan: HostPlan) -> list[str]:
    """The Cloud clone instances on the host: the ones the script must keep."""
    return [clone_instance_name(r) for r in plan.registrations]


def _check(value: str, what: str, windows: bool) -> None:
    if not value or any(not c.isprintable() for c in value):
        raise ValueError(
            f"The {what} {value!r} is empty or holds a control character; it cannot be scripted."
        )
    if windows and '"' in value:
        raise ValueError(
            f"The {what} '{value}' contains a double quote, which Windows PowerShell cannot pass intact to "
            "Tentacle.exe."
        )
    if "'" in value or "*" in value or "?" in value:
        # The instance name is also matched in list-instances' output with a quoted literal pattern.
        raise ValueError(f"The {what} '{value}' holds a quote or a wildcard; delete that instance by hand.")


def _validate(plan: HostPlan, os: OS) -> list[str]:
    if os not in ("windows", "linux"):
        raise ValueError(f"The host {plan.host} has an operating system octowiz cannot script ({os}).")
    clones = clone_instances(plan)
    if not clones:
        raise ValueError(
            f"{plan.host} has no Cloud clone instance: its old instance is deleted only once a clone serves "
            "Octopus Cloud."
        )
    old = plan.original_instance
    _check(old, "old instance name", os == "windows")
    for name in clones:
        _check(name, "clone instance name", os == "windows")
        if name.lower() == old.lower():
            raise ValueError(
                f"The old instance {old} is also a Cloud clone's name: octowiz never deletes a clone."
            )
    return clones


def _listed(name: str) -> str:
    """What ``list-instances --format json`` prints for an instance (``"InstanceName": "<name>"``)."""
    return f'"InstanceName": "{name}"'


def _header(plan: HostPlan, clones: Sequence[str], via: Via, comment: str) -> list[str]:
    old = plan.original_instance
    lines = [
        f"octowiz: delete the old Tentacle instance on {plan.host} (retiring the Octopus Server)",
        "",
        f"What it does: stops and uninstalls the service of the instance '{old}', the one your Octopus",
        "Server talks to, then deletes that instance (Tentacle's own order: service --stop --uninstall,",
        "then delete-instance). Its configuration and home folders stay on disk.",
        "The Octopus Cloud clone instance(s) stay untouched: " + ", ".join(clones) + ".",
        "It first checks that every clone is on this machine, and stops without changing anything if",
        "one is missing. Safe to run again: once the old instance is gone it does nothing.",
        "THIS CANNOT BE UNDONE: a deleted instance is not restored; to serve the Server again the",
        "machine needs a new Tentacle instance registered with it.",
    ]
    if via == "download":
        lines.append(
            f"Run it on {plan.host} as " + ("an administrator." if plan.os == "windows" else "root.")
        )
    else:
        lines.append(
            "octowiz runs it through Octopus Cloud's script console on the clone (never through the old "
            "instance, which would stop its own script)."
        )
    return [f"{comment} {line}".rstrip() for line in lines]


def _bash(plan: HostPlan, clones: Sequence[str], via: Via) -> str:
    old = plan.original_instance
    exe = LINUX_TENTACLE
    out = ["#!/usr/bin/env bash", *_header(plan, clones, via, "#"), "set -euo pipefail", ""]
    out.append(f'instances="$({exe} list-instances --format json)"')
    for clone in clones:
        out += [
            f'if [[ "$instances" == *{sh_quote(_listed(clone))}* ]]; then',
            f"    echo {sh_quote(f'The Cloud clone {clone} is on this machine; it stays')}",
            "else",
            "    echo "
            + sh_quote(
                f"The Cloud clone {clone} is not on this machine: nothing was changed. Run this script on "
                f"{plan.host}."
            ),
            "    exit 1",
            "fi",
        ]
    out += [
        f'if [[ "$instances" == *{sh_quote(_listed(old))}* ]]; then',
        f"    echo {sh_quote(f'Stopping and uninstalling the service of the old instance {old}')}",
        f"    {exe} service --instance {sh_quote(old)} --stop --uninstall",
        f"    echo {sh_quote(f'Deleting the old instance {old}')}",
        f"    {exe} delete-instance --instance {sh_quote(old)}",
        "else",
        f"    echo {sh_quote(f'The old instance {old} is no longer listed; nothing to delete')}",
        "fi",
        "",
        f"echo {sh_quote(_done(plan, clones))}",
    ]
    return "\n".join(out) + "\n"


def _powershell(plan: HostPlan, clones: Sequence[str], via: Via) -> str:
    old = plan.original_instance
    exe = f'& "{WINDOWS_TENTACLE}"'

    def check(failed: str, indent: str = "") -> str:
        return f"{indent}if ($LASTEXITCODE -ne 0) {{ Write-Host {ps_quote(failed)}; exit $LASTEXITCODE }}"

    out = [*_header(plan, clones, via, "#"), "$ErrorActionPreference = 'Stop'", ""]
    out += [
        f"$Instances = {exe} list-instances --format json --console",
        check("list-instances failed."),
    ]
    for clone in clones:
        out += [
            f"if ($Instances -like {ps_quote('*' + _listed(clone) + '*')}) {{",
            f"    Write-Host {ps_quote(f'The Cloud clone {clone} is on this machine; it stays')}",
            "} else {",
            "    Write-Host "
            + ps_quote(
                f"The Cloud clone {clone} is not on this machine: nothing was changed. Run this script on "
                f"{plan.host}."
            ),
            "    exit 1",
            "}",
        ]
    out += [
        f"if ($Instances -like {ps_quote('*' + _listed(old) + '*')}) {{",
        f"    Write-Host {ps_quote(f'Stopping and uninstalling the service of the old instance {old}')}",
        f"    {exe} service --instance {ps_quote(old)} --stop --uninstall --console",
        check(f"service --stop --uninstall failed for {old}.", "    "),
        f"    Write-Host {ps_quote(f'Deleting the old instance {old}')}",
        f"    {exe} delete-instance --instance {ps_quote(old)} --console",
        check(f"delete-instance failed for {old}.", "    "),
        "} else {",
        f"    Write-Host {ps_quote(f'The old instance {old} is no longer listed; nothing to delete')}",
        "}",
        "",
        f"Write-Host {ps_quote(_done(plan, clones))}",
    ]
    return "\n".join(out) + "\n"


def _done(plan: HostPlan, clones: Sequence[str]) -> str:
    return (
        f"Done: the old instance {plan.original_instance} is gone from {plan.host}; "
        f"{', '.join(clones)} still serve{'s' if len(clones) == 1 else ''} Octopus Cloud."
    )


def retire_script(plan: HostPlan, os: OS | None = None, *, via: Via = "download") -> str:
    """The script that deletes ``plan.original_instance`` on the host and keeps its Cloud clones.

    Args:
        plan: the host's clone plan (:func:`octowiz.engine.cutover.targets.host_plans`): its clones are
            the instances the script keeps, ``original_instance`` the one it deletes.
        os: the host's operating system (default the plan's): PowerShell on Windows, Bash on Linux.
        via: ``download`` (run by an administrator on the host) or ``console`` (run by octowiz through
            Octopus Cloud's script console on the clone); only the header differs.

    Raises:
        ValueError: with a sentence, when the host cannot be scripted safely (no clone, an old instance
            named like a clone, a name with a quote or a control character).
    """
    chosen: OS = os or plan.os
    clones = _validate(plan, chosen)
    if via not in ("download", "console"):
        raise ValueError(f"'{via}' is not a way to run a retire script (download or console).")
    return _bash(plan, clones, via) if chosen == "linux" else _powershell(plan, clones, via)


__all__ = ["COMMANDS", "clone_instances", "retire_file_name", "retire_script"]
