"""Scripts that clone a Tentacle as a second instance on the same host, pointing at Octopus Cloud.

The migration guide recommends a *second* Tentacle instance per machine: the original instance keeps
serving the Octopus Server until cut-over, the new one talks to Octopus Cloud. This module writes the
script for one host (PowerShell on Windows, Bash on Linux), in two variants of the same steps:

* ``download``: the administrator runs it on the host. It registers the clone with Cloud itself
  (``register-with`` / ``register-worker``), reading Cloud's API key from the environment variable
  :data:`API_KEY_ENV` at run time or prompting for it; the key is never written into the file.
* ``console``: octowiz runs it through the Server's script console (an ``AdHocScript`` task). It
  carries no key at all: it trusts Cloud's certificate, sets up polling (``server-comms``) or
  listening, starts the service and prints a report (thumbprint, polling subscription id) between
  marker lines; :func:`parse_console_report` reads that report back from the task log and octowiz
  registers the machine on Cloud through the REST API with its own key.

Every command and flag is one that Tentacle's own command definitions accept: :data:`TENTACLE_COMMANDS`
records them with the source file each comes from, the simulator refuses anything outside it, and a
test checks every flag this module emits against it. Every value is single-quoted for its shell, so a
name with spaces, quotes or ``$`` cannot break the script or inject a command. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

#: Downloaded scripts read the Cloud API key from this variable, or prompt for it when unset.
API_KEY_ENV = "OCTOPUS_CLOUD_API_KEY"

WINDOWS_TENTACLE = r"C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe"
LINUX_TENTACLE = "/opt/octopus/tentacle/Tentacle"
#: The port the original listening instance uses by default; a listening clone needs another one.
ORIGINAL_LISTENING_PORT = 10933
#: Cloud's default polling port; polling over 443 goes to ``polling.<cloud host>`` instead.
POLLING_PORT = 10943

#: Marker lines around each clone's report in a console run (read by :func:`parse_console_report`).
REPORT_BEGIN = "OCTOWIZ-CLONE-BEGIN"
REPORT_END = "OCTOWIZ-CLONE-END"

# -- Tentacle's command line ------------------------------------------------------------------------
# Options are written as Tentacle declares them (Mono.Options prototypes): "a|alias=" takes a value,
# a name without "=" is a switch. Source: OctopusDeploy/OctopusTentacle, source/Octopus.Tentacle/.

# Startup/OctopusProgram.cs + Startup/ConsoleHost.cs ("Or one of the common options").
_COMMON = ("console", "nologo", "noconsolelogging")
# Startup/AbstractStandardCommand.cs: AddInstanceOption, on every instance-bound command.
_INSTANCE = ("instance=", "config=")
# Commands/OptionSets/ApiEndpointOptions.cs (ignoreSslErrors only where the HTTP client supports it).
_API = ("server=", "apiKey=", "bearerToken=", "u|username=|user=", "p|password=", "ignoreSslErrors")
# Commands/RegisterMachineCommandBase.cs (current: server-comms-address, agent options).
_REGISTER = (
    "name=",
    "policy=",
    "h|publicHostName=",
    "f|force",
    "comms-style=",
    "agent-comms=",
    "default-job-container=",
    "default-job-container-feed=",
    "proxy=",
    "space=",
    "server-comms-port=",
    "server-comms-address=",
    "server-web-socket=",
    "tentacle-comms-port=",
)

TENTACLE_COMMANDS: dict[str, frozenset[str]] = {
    # Commands/CreateInstanceCommand.cs (an AbstractCommand: its own instance/config/home options).
    "create-instance": frozenset((*_COMMON, "instance=", "config=", "home=")),
    # Commands/DeleteInstanceCommand.cs (AbstractStandardCommand: instance/config only).
    "delete-instance": frozenset((*_COMMON, *_INSTANCE)),
    # Commands/NewCertificateCommand.cs
    "new-certificate": frozenset(
        (*_COMMON, *_INSTANCE, "b|if-blank", "e|export-file=", "export-pfx=", "pfx-password=")
    ),
    # Commands/ConfigureCommand.cs
    "configure": frozenset(
        (
            *_COMMON,
            *_INSTANCE,
            "home=|homedir=",
            "app=|appdir=",
            "port=",
            "noListen=",
            "listenIpAddress=",
            "trust=",
            "remove-trust=",
            "reset-trust",
        )
    ),
    # Commands/RegisterMachineCommand.cs + RegisterMachineCommandBase.cs + OptionSets/ApiEndpointOptions.cs
    "register-with": frozenset(
        (
            *_COMMON,
            *_INSTANCE,
            *_API,
            *_REGISTER,
            "env|environment=",
            "r|role=",
            "tenant=",
            "tenanttag=",
            "tenanted-deployment-participation=",
        )
    ),
    # Commands/RegisterWorkerCommand.cs + RegisterWorkerCommandBase.cs + the two above
    "register-worker": frozenset((*_COMMON, *_INSTANCE, *_API, *_REGISTER, "workerpool=")),
    # Commands/ServerCommsCommand.cs
    "server-comms": frozenset(
        (*_COMMON, *_INSTANCE, "thumbprint=", "style=", "host=", "port=", "web-socket=")
    ),
    # Startup/ServiceCommand.cs (an AbstractCommand: --instance only, "or * to use all instances").
    "service": frozenset(
        (
            *_COMMON,
            "start",
            "stop",
            "restart",
            "reconfigure",
            "install",
            "username=|user=",
            "uninstall",
            "password=",
            "dependOn=",
            "instance=",
        )
    ),
    # Commands/ShowThumbprintCommand.cs
    "show-thumbprint": frozenset((*_COMMON, *_INSTANCE, "e|export-file=", "thumbprint-only", "format=")),
    # Commands/ShowConfigurationCommand.cs (+ optional ApiEndpointOptions)
    "show-configuration": frozenset((*_COMMON, *_INSTANCE, "file=", "space=", *_API)),
    # Commands/ListInstancesCommand.cs (an AbstractCommand)
    "list-instances": frozenset((*_COMMON, "format=")),
}


def command_options(command: str) -> dict[str, tuple[str, bool]]:
    """Every option name ``command`` accepts: name -> (canonical name, takes a value).

    The canonical name is the first alias longer than one letter (``b|if-blank`` gives ``if-blank``,
    ``env|environment`` gives ``env``).

    Raises:
        KeyError: Tentacle has no such command (in :data:`TENTACLE_COMMANDS`).
    """
    out: dict[str, tuple[str, bool]] = {}
    for prototype in TENTACLE_COMMANDS[command]:
        takes_value = prototype.endswith("=")
        names = [n.rstrip("=") for n in prototype.split("|")]
        canonical = next((n for n in names if len(n) > 1), names[0])
        for n in names:
            out[n] = (canonical, takes_value)
    return out


# -- what to clone ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """One Server machine or worker to clone onto Cloud (names, never ids, for everything on Cloud)."""

    machine_id: str
    name: str
    kind: Literal["target", "worker"]
    comms: Literal["listening", "polling"]
    environments: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    tenant_tags: tuple[str, ...] = ()
    participation: str | None = None
    policy: str | None = None
    worker_pools: tuple[str, ...] = ()
    listening_port: int | None = None
    public_hostname: str | None = None
    environments_are_production: bool = False


@dataclass(frozen=True)
class HostPlan:
    """One script per host: the registrations whose Tentacle lives there."""

    host: str
    os: Literal["windows", "linux"]
    registrations: tuple[Registration, ...]
    original_instance: str = "Tentacle"


@dataclass(frozen=True)
class CloudTarget:
    """The Octopus Cloud instance the clones point at."""

    url: str
    space: str
    polling_over_443: bool = False
    thumbprint: str = ""


@dataclass(frozen=True)
class CloneReport:
    """What a console run printed for one clone instance."""

    instance: str
    thumbprint: str
    subscription_id: str | None


def clone_instance_name(reg: Registration) -> str:
    """The clone instance's name, unique per registration (``OctopusCloud-web01``).

    Instance names become file names and service names on the host, so only letters, digits, ``.``,
    ``_`` and ``-`` are kept; when anything had to be replaced, a short hash of the real name keeps two
    names that differ only there apart. Workers get their own prefix (a target and a worker may share a
    name on the Server).
    """
    prefix = "OctopusCloud-" if reg.kind == "target" else "OctopusCloudWorker-"
    safe = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9._-]", "-", reg.name)).strip("-.")
    if safe != reg.name or not safe:
        safe = f"{safe or 'machine'}-{hashlib.sha1(reg.name.encode()).hexdigest()[:6]}"
    return prefix + safe


def script_file_name(plan: HostPlan) -> str:
    """``<host>.ps1`` or ``<host>.sh``, with anything unsafe in a file name replaced."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", plan.host).lstrip(".") or "host"
    return f"{safe}.{'ps1' if plan.os == 'windows' else 'sh'}"


def syntax(plan: HostPlan) -> Literal["PowerShell", "Bash"]:
    """The script console syntax of the host's script."""
    return "PowerShell" if plan.os == "windows" else "Bash"


# -- quoting ----------------------------------------------------------------------------------------


def _check_value(value: str, what: str, windows: bool) -> None:
    if any(not c.isprintable() for c in value):
        raise ValueError(f"The {what} {value!r} contains a line break or control character; rename it first.")
    if windows and '"' in value:
        # Windows PowerShell 5.1 passes an embedded double quote to a native program unescaped, so
        # Tentacle.exe would see a different value: refuse rather than register a wrong name.
        raise ValueError(
            f"The {what} '{value}' contains a double quote, which Windows PowerShell cannot pass intact "
            "to Tentacle.exe; rename it on the Server or register this machine by hand."
        )


def ps_quote(text: str) -> str:
    """A PowerShell single-quoted literal; typographic single quotes also end one, so they are doubled."""
    return "'" + re.sub(r"(['\u2018\u2019\u201a\u201b])", r"\1\1", text) + "'"


def sh_quote(text: str) -> str:
    """A Bash single-quoted literal (``'`` becomes ``'\\''``)."""
    return "'" + text.replace("'", "'\\''") + "'"


# -- the script -------------------------------------------------------------------------------------


def _cloud_host(cloud: CloudTarget) -> str:
    host = urlsplit(cloud.url).hostname
    if not host:
        raise ValueError(f"'{cloud.url}' is not the URL of an Octopus Cloud instance.")
    return host


@dataclass
class _Step:
    """One Tentacle command (or another program) and a sentence saying what it does."""

    say: str
    command: str  # a Tentacle command, or "" for a firewall rule / note
    args: Sequence[tuple[str, str | None]]  # (option, value or None for a switch)
    raw: str = ""  # a non-Tentacle line (already quoted)
    firewall_rule: str = ""  # Windows: the rule's name, so a rerun adds it only once


@dataclass
class _Capture:
    """A Tentacle command whose output is kept in a variable, for the checks that make a rerun safe."""

    var: str  # "instances" / "configuration" (``$Instances`` in PowerShell)
    command: str
    args: Sequence[tuple[str, str | None]]


@dataclass
class _Unless:
    """Run ``steps`` unless the captured ``var`` contains ``text``; then only say ``skip``."""

    var: str
    text: str  # a literal: instance names and thumbprints hold no quote or wildcard character
    skip: str
    steps: list[_Step]


_Item = _Step | _Capture | _Unless


def _validate(plan: HostPlan, cloud: CloudTarget, via: str) -> None:
    windows = plan.os == "windows"
    if plan.os not in ("windows", "linux"):
        raise ValueError(f"The host {plan.host} has an operating system octowiz cannot script ({plan.os}).")
    if not plan.registrations:
        raise ValueError(f"There is nothing to clone on {plan.host}.")
    if via not in ("download", "console"):
        raise ValueError(f"'{via}' is not a way to run a clone script (download or console).")
    if via == "console" and not re.fullmatch(r"[0-9A-Fa-f]{40}", cloud.thumbprint):
        raise ValueError(
            "The Cloud instance's certificate thumbprint is needed for a script-console run; read it first."
        )
    _check_value(cloud.space, "space name", windows)
    _check_value(plan.host, "host name", windows)
    _check_value(plan.original_instance, "instance name", windows)
    names: set[str] = set()
    ports: set[int] = set()
    for reg in plan.registrations:
        instance = clone_instance_name(reg)
        if instance in names:
            raise ValueError(f"Two registrations on {plan.host} would share the instance name {instance}.")
        names.add(instance)
        for what, values in (
            ("machine name", (reg.name,)),
            ("environment name", reg.environments),
            ("role", reg.roles),
            ("tenant name", reg.tenants),
            ("tenant tag", reg.tenant_tags),
            ("machine policy name", (reg.policy,) if reg.policy else ()),
            ("worker pool name", reg.worker_pools),
            ("host name", (reg.public_hostname,) if reg.public_hostname else ()),
        ):
            for value in values:
                _check_value(value, what, windows)
        if reg.kind == "target" and (not reg.environments or not reg.roles):
            raise ValueError(f"The target {reg.name} needs at least one environment and one role on Cloud.")
        if reg.kind == "worker" and not reg.worker_pools:
            raise ValueError(f"The worker {reg.name} needs at least one worker pool on Cloud.")
        if reg.comms == "listening":
            port = reg.listening_port
            if port is None or not 0 < port < 65536 or port == ORIGINAL_LISTENING_PORT:
                raise ValueError(
                    f"The listening clone of {reg.name} needs a free TCP port other than the original "
                    f"instance's {ORIGINAL_LISTENING_PORT}."
                )
            if port in ports:
                raise ValueError(f"Two listening clones on {plan.host} would both use port {port}.")
            ports.add(port)


def _paths(plan: HostPlan, instance: str) -> tuple[str, str, str]:
    """(config file, home directory, applications directory) of a clone instance."""
    if plan.os == "windows":
        home = f"C:\\Octopus\\{instance}"
        return f"{home}\\Tentacle.config", home, f"{home}\\Applications"
    home = f"/etc/octopus/{instance}"
    return f"{home}/tentacle-{instance}.config", home, f"/home/Octopus/{instance}/Applications"


def _trust_text(cloud: CloudTarget) -> str:
    """What ``show-configuration`` prints for a trusted Octopus Server with Cloud's thumbprint.

    Tentacle prints ``Tentacle.Communication.TrustedOctopusServers`` as indented JSON
    (ShowConfigurationCommand.cs, JsonHierarchicalConsoleKeyValueStore), one ``"Thumbprint": "…"`` per
    server; the instance's own certificate is ``"CertificateThumbprint"``, which this text (starting
    with a quote) cannot match. Without Cloud's thumbprint (a download script written when Cloud's
    certificate could not be read) any trusted server counts: only this script gives a clone trust.
    """
    thumb = cloud.thumbprint.upper()
    return f'"Thumbprint": "{thumb}"' if thumb else '"Thumbprint": "'


def _steps(plan: HostPlan, cloud: CloudTarget, reg: Registration, via: str, api_key: str) -> list[_Item]:
    """The steps for one clone, each safe to run again: a rerun converges without --force.

    * ``create-instance`` only when ``list-instances --format json`` does not list the clone (Tentacle
      prints ``"InstanceName": "<name>"`` per instance, ListInstancesCommand.cs).
    * ``new-certificate --if-blank`` keeps the certificate an earlier run made (Cloud knows it by it).
    * Trust: ``--reset-trust`` only while the clone does not trust Cloud yet. A clone that trusts Cloud
      was registered (``register-with`` adds the trust only once the machine exists on Cloud) or
      configured by a console run; resetting would drop that trust and, when polling, the subscription
      id Cloud knows the machine by: ``server-comms`` would then invent a new one and the registered
      machine would never be reached again. The reset exists to start from a clean slate; a clone that
      trusts Cloud got there from that clean slate, so nothing else is there to drop.
    * ``configure --trust`` and ``server-comms`` are idempotent in Tentacle (a trusted server is
      updated in place by thumbprint and address; ``server-comms`` keeps the address's subscription id).
    * ``register-with`` / ``register-worker`` only while the clone does not trust Cloud: run twice they
      fail ("already exists"), and --force would overwrite the machine on Cloud.
    * ``service --install --start``: on an existing service ``--install`` switches to reconfigure on
      Windows and rewrites the systemd unit on Linux (Startup/WindowsServiceConfigurator.cs,
      LinuxServiceConfigurator.cs); ``--start`` leaves a running service alone.
    """
    windows = plan.os == "windows"
    instance = clone_instance_name(reg)
    config, home, apps = _paths(plan, instance)
    listening = reg.comms == "listening"
    cloud_host = _cloud_host(cloud)
    inst = [("--instance", instance)]
    create_args = [*inst, ("--config", config)]
    if windows:
        create_args.append(("--home", home))
    configure_args: list[tuple[str, str | None]] = [*inst, ("--app", apps)]
    if listening:
        configure_args += [("--port", str(reg.listening_port)), ("--noListen", "False")]
    else:
        configure_args += [("--noListen", "True")]
    trusts_cloud = _trust_text(cloud)
    steps: list[_Item] = [
        _Capture("instances", "list-instances", [("--format", "json")]),
        _Unless(
            "instances",
            f'"InstanceName": "{instance}"',
            f"The Tentacle instance {instance} already exists; keeping it",
            [_Step(f"Creating the Tentacle instance {instance}", "create-instance", create_args)],
        ),
        _Step(f"Giving {instance} its own certificate", "new-certificate", [*inst, ("--if-blank", None)]),
        _Capture("configuration", "show-configuration", inst),
        _Unless(
            "configuration",
            trusts_cloud,
            f"{instance} already trusts Octopus Cloud; keeping that trust"
            + ("" if listening else " and its polling subscription"),
            [
                _Step(
                    f"Clearing the trusted servers of {instance}",
                    "configure",
                    [*inst, ("--reset-trust", None)],
                )
            ],
        ),
        _Step(
            f"Configuring {instance} to " + (f"listen on port {reg.listening_port}" if listening else "poll"),
            "configure",
            configure_args,
        ),
    ]
    if listening:
        port = str(reg.listening_port)
        if windows:
            rule = f"name=Octopus Deploy Tentacle {instance}"
            steps.append(
                _Step(
                    f"Opening TCP port {port} inbound in Windows Firewall",
                    "",
                    [],
                    raw=f"& netsh advfirewall firewall add rule {ps_quote(rule)} dir=in action=allow "
                    f"protocol=TCP localport={port}",
                    firewall_rule=rule,
                )
            )
        else:
            steps.append(
                _Step(
                    "",
                    "",
                    [],
                    raw="echo "
                    + sh_quote(
                        f"Note: allow TCP port {port} inbound from Octopus Cloud in this host's firewall; "
                        "this script does not change the firewall."
                    ),
                )
            )
    if via == "console":
        steps.append(
            _Step(
                f"Trusting the Octopus Cloud certificate in {instance}",
                "configure",
                [*inst, ("--trust", cloud.thumbprint.upper())],
            )
        )
        if not listening:
            host, port = (f"polling.{cloud_host}", "443") if cloud.polling_over_443 else (cloud_host, "10943")
            steps.append(
                _Step(
                    f"Pointing {instance} at {host}:{port}",
                    "server-comms",
                    [
                        *inst,
                        ("--thumbprint", cloud.thumbprint.upper()),
                        ("--style", "TentacleActive"),
                        ("--host", host),
                        ("--port", port),
                    ],
                )
            )
    else:
        register: list[tuple[str, str | None]] = [
            *inst,
            ("--server", cloud.url),
            ("--apiKey", api_key),
            ("--space", cloud.space),
            ("--name", reg.name),
        ]
        if reg.kind == "target":
            register += [("--environment", e) for e in reg.environments]
            register += [("--role", r) for r in reg.roles]
            register += [("--tenant", t) for t in reg.tenants]
            register += [("--tenanttag", t) for t in reg.tenant_tags]
            if reg.participation:
                register.append(("--tenanted-deployment-participation", reg.participation))
        else:
            register += [("--workerpool", p) for p in reg.worker_pools]
        if reg.policy:
            register.append(("--policy", reg.policy))
        if listening:
            register += [
                ("--comms-style", "TentaclePassive"),
                ("--publicHostName", reg.public_hostname or plan.host),
            ]
        else:
            register.append(("--comms-style", "TentacleActive"))
            if cloud.polling_over_443:
                register.append(("--server-comms-address", f"https://polling.{cloud_host}"))
            else:
                register.append(("--server-comms-port", str(POLLING_PORT)))
        what = "deployment target" if reg.kind == "target" else "worker"
        command = "register-with" if reg.kind == "target" else "register-worker"
        steps.append(
            _Unless(
                "configuration",
                trusts_cloud,
                f"{instance} is already registered with Octopus Cloud (it trusts Cloud's certificate); "
                f"skipping {command}",
                [
                    _Step(
                        f"Registering {instance} with Octopus Cloud as the {what} {reg.name}",
                        command,
                        register,
                    )
                ],
            )
        )
    steps.append(
        _Step(
            f"Installing and starting the service of {instance}",
            "service",
            [*inst, ("--install", None), ("--start", None)],
        )
    )
    return steps


def _describe(plan: HostPlan, reg: Registration, cloud: CloudTarget) -> str:
    what = "deployment target" if reg.kind == "target" else "worker"
    if reg.comms == "listening":
        how = f"listening on port {reg.listening_port}, reached at {reg.public_hostname or plan.host}"
    elif cloud.polling_over_443:
        how = f"polling polling.{_cloud_host(cloud)} on port 443"
    else:
        how = f"polling {_cloud_host(cloud)} on port {POLLING_PORT}"
    return f"{clone_instance_name(reg)}: {what} '{reg.name}', {how}"


def _header(plan: HostPlan, cloud: CloudTarget, via: str, comment: str) -> list[str]:
    lines = [
        f"octowiz: clone the Tentacle on {plan.host} for Octopus Cloud",
        "",
        "What it does: creates a SECOND Tentacle instance on this machine for each registration below,",
        "gives it its own certificate and connects it to the Octopus Cloud instance",
        f"{cloud.url} (space '{cloud.space}'):",
    ]
    lines += [f"  {_describe(plan, r, cloud)}" for r in plan.registrations]
    lines += [
        f"The original instance '{plan.original_instance}' is untouched: it keeps serving your "
        "Octopus Server.",
    ]
    if via == "download":
        lines += [
            f"Run it on {plan.host} as " + ("an administrator." if plan.os == "windows" else "root."),
            f"The Octopus Cloud API key is read from the environment variable {API_KEY_ENV}, or asked",
            "for when that is unset; it is never written to disk.",
        ]
    else:
        lines += [
            "octowiz runs it through the Octopus Server's script console; it holds no API key: octowiz",
            "registers each instance on Octopus Cloud afterwards from the report printed at the end.",
        ]
    lines += [
        "It stops at the first command that fails, and is safe to run again: what an earlier run did",
        "is kept (the instance, its certificate, its trust of Octopus Cloud, its registration).",
    ]
    return [f"{comment} {line}".rstrip() for line in lines]


def _ps_arg(option: str, value: str | None) -> str:
    if value is None:
        return option
    return f"{option} {'$ApiKey' if value is _API_KEY_PS else ps_quote(value)}"


def _sh_arg(option: str, value: str | None) -> str:
    if value is None:
        return option
    return f"{option} " + (f'"${API_KEY_ENV}"' if value is _API_KEY_SH else sh_quote(value))


# Sentinels for the key: the script passes a variable, never a value.
_API_KEY_PS = "\0ps-key"
_API_KEY_SH = "\0sh-key"


_PS_VARS = {"instances": "$Instances", "configuration": "$Configuration"}


def _ps_items(items: Sequence[_Item], instance: str, indent: str = "") -> list[str]:
    exe = f'& "{WINDOWS_TENTACLE}"'
    out: list[str] = []

    def check(failed: str) -> None:
        out.append(
            f"{indent}if ($LASTEXITCODE -ne 0) {{ Write-Host {ps_quote(failed)}; exit $LASTEXITCODE }}"
        )

    for item in items:
        if isinstance(item, _Capture):
            args = " ".join(_ps_arg(o, v) for o, v in item.args)
            out.append(f"{indent}{_PS_VARS[item.var]} = {exe} {item.command} {args} --console")
            check(f"{item.command} failed for {instance}.")
        elif isinstance(item, _Unless):
            pattern = ps_quote(f"*{item.text}*")
            out.append(f"{indent}if ({_PS_VARS[item.var]} -like {pattern}) {{")
            out.append(f"{indent}    Write-Host {ps_quote(item.skip)}")
            out.append(f"{indent}}} else {{")
            out += _ps_items(item.steps, instance, indent + "    ")
            out.append(f"{indent}}}")
        elif item.firewall_rule:
            # netsh adds a second rule of the same name when asked twice: look for it first.
            out.append(
                f"{indent}$null = & netsh advfirewall firewall show rule {ps_quote(item.firewall_rule)}"
            )
            out.append(f"{indent}if ($LASTEXITCODE -eq 0) {{")
            out.append(
                f"{indent}    Write-Host {ps_quote(f'The firewall rule for {instance} is already there')}"
            )
            out.append(f"{indent}}} else {{")
            out.append(f"{indent}    Write-Host {ps_quote(item.say)}")
            out.append(f"{indent}    {item.raw}")
            out.append(
                f"{indent}    if ($LASTEXITCODE -ne 0) {{ Write-Host "
                f"{ps_quote(f'The firewall rule for {instance} could not be added.')}; exit $LASTEXITCODE }}"
            )
            out.append(f"{indent}}}")
        else:
            if item.say:
                out.append(f"{indent}Write-Host {ps_quote(item.say)}")
            if item.command:
                args = " ".join(_ps_arg(o, v) for o, v in item.args)
                out.append(f"{indent}{exe} {item.command} {args} --console")
                check(f"{item.command} failed for {instance}.")
            else:
                out.append(f"{indent}{item.raw}")
    return out


def _powershell(plan: HostPlan, cloud: CloudTarget, via: str) -> str:
    exe = f'& "{WINDOWS_TENTACLE}"'
    out = [*_header(plan, cloud, via, "#"), "$ErrorActionPreference = 'Stop'", ""]
    if via == "download":
        out += [
            f"$ApiKey = $env:{API_KEY_ENV}",
            "if (-not $ApiKey) {",
            "    $SecureKey = Read-Host -AsSecureString 'Octopus Cloud API key'",
            "    $ApiKey = [System.Net.NetworkCredential]::new('', $SecureKey).Password",
            "}",
            "",
        ]
    for reg in plan.registrations:
        out += _ps_items(_steps(plan, cloud, reg, via, _API_KEY_PS), clone_instance_name(reg))
        out.append("")
    if via == "console":
        for reg in plan.registrations:
            instance = clone_instance_name(reg)
            out += [
                f"Write-Host {ps_quote(f'{REPORT_BEGIN} {instance}')}",
                f"{exe} show-thumbprint --instance {ps_quote(instance)} --format json --console",
                "Write-Host ''",
                f"{exe} show-configuration --instance {ps_quote(instance)} --console",
                "Write-Host ''",
                f"Write-Host {ps_quote(f'{REPORT_END} {instance}')}",
            ]
        out.append("")
    out.append(f"Write-Host {ps_quote(_done(plan, via))}")
    return "\n".join(out) + "\n"


def _sh_items(items: Sequence[_Item], indent: str = "") -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, _Capture):
            # set -e stops the script when the command in the substitution fails.
            args = " ".join(_sh_arg(o, v) for o, v in item.args)
            out.append(f'{indent}{item.var}="$({LINUX_TENTACLE} {item.command} {args})"')
        elif isinstance(item, _Unless):
            # A glob match in [[ ]]: no pipe (grep -q under pipefail can fail on SIGPIPE), no grep.
            out.append(f'{indent}if [[ "${item.var}" == *{sh_quote(item.text)}* ]]; then')
            out.append(f"{indent}    echo {sh_quote(item.skip)}")
            out.append(f"{indent}else")
            out += _sh_items(item.steps, indent + "    ")
            out.append(f"{indent}fi")
        else:
            if item.say:
                out.append(f"{indent}echo {sh_quote(item.say)}")
            if item.command:
                args = " ".join(_sh_arg(o, v) for o, v in item.args)
                out.append(f"{indent}{LINUX_TENTACLE} {item.command} {args}")
            else:
                out.append(f"{indent}{item.raw}")
    return out


def _bash(plan: HostPlan, cloud: CloudTarget, via: str) -> str:
    out = ["#!/usr/bin/env bash", *_header(plan, cloud, via, "#")]
    if _needs_literal_note(plan, cloud):
        # Single-quoted values that look like expansions are meant literally (names from Octopus).
        out.append("# shellcheck disable=SC2016,SC1112")
    out += ["set -euo pipefail", ""]
    if via == "download":
        out += [
            f'if [ -z "${{{API_KEY_ENV}:-}}" ]; then',
            f"    read -rs -p 'Octopus Cloud API key: ' {API_KEY_ENV}",
            "    echo",
            "fi",
            "",
        ]
    for reg in plan.registrations:
        out += _sh_items(_steps(plan, cloud, reg, via, _API_KEY_SH))
        out.append("")
    if via == "console":
        for reg in plan.registrations:
            instance = clone_instance_name(reg)
            out += [
                f"echo {sh_quote(f'{REPORT_BEGIN} {instance}')}",
                f"{LINUX_TENTACLE} show-thumbprint --instance {sh_quote(instance)} --format json",
                "echo",
                f"{LINUX_TENTACLE} show-configuration --instance {sh_quote(instance)}",
                "echo",
                f"echo {sh_quote(f'{REPORT_END} {instance}')}",
            ]
        out.append("")
    out.append(f"echo {sh_quote(_done(plan, via))}")
    return "\n".join(out) + "\n"


def _needs_literal_note(plan: HostPlan, cloud: CloudTarget) -> bool:
    values = [cloud.space, cloud.url, plan.host]
    for reg in plan.registrations:
        values += [reg.name, *reg.environments, *reg.roles, *reg.tenants, *reg.tenant_tags, *reg.worker_pools]
        values += [v for v in (reg.policy, reg.public_hostname) if v]
    return any(re.search(r"[$`]|[^\x20-\x7e]", v) for v in values)


def _done(plan: HostPlan, via: str) -> str:
    n = len(plan.registrations)
    made = f"{n} Tentacle instance{'s' if n != 1 else ''}"
    if via == "download":
        return f"Done: {made} registered with Octopus Cloud; the original instance is unchanged."
    return f"Done: {made} ready for Octopus Cloud; the original instance is unchanged."


def script(plan: HostPlan, cloud: CloudTarget, *, via: Literal["download", "console"]) -> str:
    """The script that clones the host's Tentacle for each registration of ``plan``.

    Raises:
        ValueError: with a sentence, when the plan cannot be scripted safely (a listening clone
            without a free port, a name with a line break, a console run without Cloud's thumbprint…).
    """
    _validate(plan, cloud, via)
    return _powershell(plan, cloud, via) if plan.os == "windows" else _bash(plan, cloud, via)


# -- reading a console run back ---------------------------------------------------------------------

_MARKER = re.compile(rf"({REPORT_BEGIN}|{REPORT_END})\s+([A-Za-z0-9._-]+)")
_CERT_THUMB = re.compile(r'"CertificateThumbprint"\s*:\s*"([0-9A-Fa-f]{40})"')
_JSON_THUMB = re.compile(r'"Thumbprint"\s*:\s*"([0-9A-Fa-f]{40})"')
_ANY_THUMB = re.compile(r"(?<![0-9A-Fa-f])([0-9A-Fa-f]{40})(?![0-9A-Fa-f])")
_SUBSCRIPTION = re.compile(r"poll://[A-Za-z0-9]+/", re.IGNORECASE)


def parse_console_report(log_lines: Iterable[str]) -> dict[str, CloneReport]:
    """The clones a console run reported, by instance name.

    Tolerant of what the task log adds around the script's output (timestamps, prefixes, a missing
    end marker at the end of a cut-off log): a section runs from its begin marker to its end marker,
    the thumbprint is ``Tentacle.CertificateThumbprint`` from ``show-configuration`` or else the
    ``show-thumbprint`` JSON, and the subscription id is the first ``poll://…/`` in the section.
    Sections without a thumbprint are left out.
    """
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in log_lines:
        marker = _MARKER.search(line)
        if marker:
            current = marker.group(2) if marker.group(1) == REPORT_BEGIN else None
            if current is not None:
                sections[current] = []
            continue
        if current is not None:
            sections[current].append(line)
    out: dict[str, CloneReport] = {}
    for instance, lines in sections.items():
        text = "\n".join(lines)
        found = _CERT_THUMB.search(text) or _JSON_THUMB.search(text) or _ANY_THUMB.search(text)
        if found is None:
            continue
        subscription = _SUBSCRIPTION.search(text)
        out[instance] = CloneReport(
            instance, found.group(1).upper(), subscription.group(0).lower() if subscription else None
        )
    return out
