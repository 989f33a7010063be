"""Simulated hosts: the machines the Server's Tentacles run on, their instances, and scripts run there.

Each host (keyed by the hostname in a listening Tentacle's URI, or a polling Tentacle's machine name)
holds Tentacle instances: name, configuration path, certificate thumbprint, listening port or
``noListen``, trusted servers (thumbprint, style, address, polling subscription id) and its service.
The original instance ``Tentacle`` is derived lazily from the Server's machine document the first time
a host is touched; hosts are then persisted in the Server's store (collection ``simhosts``), so a
demo's clones survive a restart.

Scripts are *interpreted*, never executed: a small reader for the PowerShell and Bash that octowiz's
clone scripts use (and reasonable hand edits of them) runs each line that invokes the Tentacle binary
against the simulated host, and refuses anything it does not understand, so a script the simulator
cannot read fails loudly instead of passing. Beyond plain commands and ``if``/``else`` it reads exactly
the checks that make a clone script safe to run again: ``name="$(Tentacle …)"`` and
``[[ "$name" == *'literal'* ]]`` in Bash, ``$Name = & <Tentacle or netsh> …`` and
``$Name -like 'pattern'`` (``*``/``?`` only) in PowerShell, and ``netsh advfirewall firewall show rule``.
Tentacle's commands and options come from the one table
in :mod:`octowiz.engine.cutover.scripts` (a pure module: the only thing the simulator takes from the
engine, so generator and simulator cannot drift apart).

Deliberate differences from Tentacle: ``register-with``/``register-worker`` refuse a name that already
exists on the destination even with ``--force`` (octowiz must never overwrite a machine), and
``configure --port`` refuses a port another instance on the host already listens on (the real
Tentacle would only fail when its service starts).

Also here: the script console (``AdHocScript``) and health check (``Health``) task effects, which use
these hosts.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import re
import secrets
import shutil
import string
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from octowiz.engine.cutover.scripts import TENTACLE_COMMANDS, command_options
from octowiz.sim.store import Store

if TYPE_CHECKING:
    from octowiz.sim.instance import SimInstance

Doc = dict[str, Any]

HOSTS = "simhosts"
NETWORK = "simnetwork"
TENTACLE_STYLES = ("TentaclePassive", "TentacleActive")
DEFAULT_INSTANCE = "Tentacle"
POLLING_PORT = 10943


class ScriptFailed(Exception):
    """An effect's failure that keeps the log lines written before it (the task log shows them)."""

    def __init__(self, message: str, log_lines: list[str]) -> None:
        super().__init__(message)
        self.log_lines = log_lines


class _Failure(Exception):
    """A Tentacle command failing the way Tentacle does (its sentence, exit code 1)."""


class _ScriptError(Exception):
    """The script itself cannot run (syntax, an unknown line, a prompt nobody answers)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# -- the network ------------------------------------------------------------------------------------


@functools.cache
def _declared_unreachable() -> frozenset[str]:
    """Hosts the demo scenario itself declares unreachable from Cloud (its listening Tentacles' names)."""
    from octowiz.sim.scenarios import DEMO_UNREACHABLE_LISTENING_URIS  # the scenarios module is heavy

    return frozenset((urlsplit(u).hostname or "").lower() for u in DEMO_UNREACHABLE_LISTENING_URIS)


def _host_of(uri: str | None) -> str:
    if not uri:
        return ""
    with contextlib.suppress(ValueError):
        return (urlsplit(uri if "://" in uri else f"//{uri}").hostname or "").lower()
    return ""


def _port_of(uri: str | None, default: int) -> int:
    with contextlib.suppress(ValueError):
        return urlsplit(uri or "").port or default
    return default


def _private_name(host: str) -> bool:
    """The simulated network's view: what a public cloud cannot route to or resolve."""
    if host in _declared_unreachable():
        return True
    with contextlib.suppress(ValueError):
        return not ipaddress.ip_address(host).is_global
    return "." not in host or host == "localhost" or host.endswith((".local", ".localhost", ".internal"))


def _rand_thumbprint() -> str:
    return secrets.token_hex(20).upper()


def _rand_subscription() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "poll://" + "".join(secrets.choice(alphabet) for _ in range(20)) + "/"


def _os_of(machine: Doc) -> str:
    text = f"{machine.get('OperatingSystem', '')} {machine.get('ShellName', '')}".lower()
    return "windows" if "windows" in text or "powershell" in text else "linux"


def host_key(machine: Doc) -> str:
    """The host a Server machine lives on: a listening Tentacle's URI host, else its name."""
    endpoint = machine.get("Endpoint") or {}
    style = endpoint.get("CommunicationStyle")
    if style == "TentaclePassive":
        return _host_of(endpoint.get("Uri")) or str(machine.get("Name", "")).lower()
    if style == "Ssh":
        return str(endpoint.get("Host") or machine.get("Name", "")).lower()
    return str(machine.get("Name", "")).lower()


# -- hosts ------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What a script run on one host gave: its exit code and output lines."""

    code: int
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        """The output as one text."""
        return "\n".join(self.lines)


class Hosts:
    """The simulated hosts of a Server and the instances their scripts can reach.

    Args:
        store: where hosts persist (the Server instance's store).
        instances: ``{"server": SimInstance, "cloud": SimInstance}``.
        addresses: hostname -> instance label, for ``--server`` URLs and polling addresses.
    """

    def __init__(
        self, store: Store, instances: Mapping[str, SimInstance], addresses: Mapping[str, str]
    ) -> None:
        self.store = store
        self.instances = dict(instances)
        self.addresses = {k.lower(): v for k, v in addresses.items()}

    @property
    def server(self) -> SimInstance:
        return self.instances["server"]

    def attach(self) -> None:
        """Install the script console and health check effects on every instance."""
        for inst in self.instances.values():
            inst.tasks.effects["adhoc"] = self._adhoc_effect(inst)
            inst.tasks.effects["health"] = self._health_effect(inst)

    # -- network --------------------------------------------------------------------------------

    def set_reachable(self, host: str, reachable: bool | None) -> None:
        """Override whether Octopus Cloud reaches ``host`` (None: back to the simulated network's view)."""
        doc = self.store.get(NETWORK, "overrides") or {"Id": "overrides", "Reachable": {}}
        table = dict(doc.get("Reachable") or {})
        if reachable is None:
            table.pop(host.lower(), None)
        else:
            table[host.lower()] = reachable
        self.store.put(NETWORK, {"Id": "overrides", "Reachable": table})

    def cloud_reaches(self, host: str) -> bool:
        """Would the Cloud instance reach ``host``? Overrides first, then the simulated network."""
        name = host.strip().strip("[]").rstrip(".").lower()
        table = (self.store.get(NETWORK, "overrides") or {}).get("Reachable") or {}
        if name in table:
            return bool(table[name])
        return bool(name) and not _private_name(name)

    def _instance_at(self, url_or_host: str) -> tuple[str, SimInstance] | None:
        host = _host_of(url_or_host) or url_or_host.lower()
        label = self.addresses.get(host)
        return (label, self.instances[label]) if label else None

    def _comms_addresses(self, label: str) -> set[str]:
        """``host:port`` pairs where an instance accepts polling connections."""
        out = set()
        for host, owner in self.addresses.items():
            if owner == label:
                out.add(f"{host}:{POLLING_PORT}")
                out.add(f"polling.{host}:443")
        return out

    # -- host documents -------------------------------------------------------------------------

    def all_hosts(self) -> list[Doc]:
        """Every host touched so far."""
        return self.store.all(HOSTS)

    def host(self, name: str) -> Doc:
        """The host of a machine or worker name, or a host name; derived from the Server when new.

        Raises:
            KeyError: no host and no Server machine has that name.
        """
        key = name.strip().lower()
        doc = self.store.get(HOSTS, key)
        if doc is not None:
            return doc
        machines = self._server_machines()
        named = [m for m in machines if str(m.get("Name", "")).lower() == key]
        if named:
            key = host_key(named[0])
            doc = self.store.get(HOSTS, key)
            if doc is not None:
                return doc
        on_host = [m for m in machines if host_key(m) == key]
        if not on_host:
            raise KeyError(f"No simulated host or Server machine is named '{name}'.")
        doc = self._derive(key, on_host)
        self.store.put(HOSTS, doc)
        return doc

    def _server_machines(self) -> list[Doc]:
        store = self.server.store
        return [*store.all("machines"), *store.all("workers")]

    def _derive(self, key: str, machines: list[Doc]) -> Doc:
        """A host as the Server's machine documents describe it: one instance per Tentacle certificate."""
        server_thumb = self._thumbprint(self.server)
        server_host = next((h for h, label in self.addresses.items() if label == "server"), "octopus")
        windows = _os_of(machines[0]) == "windows"
        instances: list[Doc] = []
        for machine in machines:
            endpoint = machine.get("Endpoint") or {}
            style = endpoint.get("CommunicationStyle")
            thumb = str(machine.get("Thumbprint") or endpoint.get("Thumbprint") or "").upper()
            if style not in TENTACLE_STYLES or not thumb:
                continue
            if any(i["Thumbprint"] == thumb for i in instances):
                continue
            name = DEFAULT_INSTANCE if not instances else f"{DEFAULT_INSTANCE}-{len(instances) + 1}"
            listening = style == "TentaclePassive"
            config = (
                f"C:\\Octopus\\{name}\\Tentacle.config"
                if windows
                else f"/etc/octopus/{name}/tentacle-{name}.config"
            )
            instances.append(
                {
                    "Name": name,
                    "ConfigPath": config,
                    "Home": config.rsplit("\\" if windows else "/", 1)[0],
                    "AppDir": "C:\\Octopus\\Applications" if windows else "/home/Octopus/Applications",
                    "Thumbprint": thumb,
                    "Port": _port_of(endpoint.get("Uri"), 10933) if listening else 10933,
                    "NoListen": not listening,
                    "ListenIp": None,
                    "Trusted": [
                        {
                            "Thumbprint": server_thumb,
                            "Style": style,
                            "Address": None if listening else f"https://{server_host}:{POLLING_PORT}",
                            "SubscriptionId": None if listening else endpoint.get("Uri"),
                        }
                    ],
                    "ServiceInstalled": True,
                    # A machine the Server last found unavailable has its Tentacle stopped.
                    "ServiceRunning": machine.get("HealthStatus") != "Unavailable",
                    "Indexed": True,
                    "Original": True,
                }
            )
        return {
            "Id": key,
            "Name": key,
            "Os": "windows" if windows else "linux",
            "HasTentacle": bool(instances),
            "Instances": instances,
            "Firewall": [],
        }

    @staticmethod
    def _thumbprint(inst: SimInstance) -> str:
        doc = inst.store.get("config", "certificate-global") or {}
        return str(doc.get("Thumbprint") or "0" * 40).upper()

    def _save(self, host: Doc) -> None:
        self.store.put(HOSTS, host)

    # -- running scripts ------------------------------------------------------------------------

    def run(
        self,
        host_or_machine: str,
        script_text: str,
        env: Mapping[str, str] | None = None,
        *,
        syntax: str | None = None,
        stdin: Sequence[str] = (),
    ) -> RunResult:
        """Run a script on a host as its administrator would (the downloaded-script case).

        Args:
            host_or_machine: a host name, or the Server name of a machine on it.
            script_text: the script.
            env: environment variables the script sees (``OCTOPUS_CLOUD_API_KEY``).
            syntax: ``PowerShell`` or ``Bash``; by default the host's shell.
            stdin: answers typed at prompts, in order.
        """
        host = self.host(host_or_machine)
        shell = syntax or ("PowerShell" if host["Os"] == "windows" else "Bash")
        return self._run(host, script_text, shell, dict(env or {}), list(stdin))

    def _run(self, host: Doc, text: str, syntax: str, env: dict[str, str], stdin: list[str]) -> RunResult:
        out: list[str] = []
        runner = _Interpreter(self, host, env, stdin, out)
        try:
            if syntax.lower() == "bash":
                _bash_syntax_check(text)
                runner.bash(text)
            elif syntax.lower() == "powershell":
                runner.powershell(text)
            else:
                raise _ScriptError(f"The simulator runs PowerShell and Bash scripts, not {syntax}.")
        except _Exit as done:
            return RunResult(done.code, out)
        except _ScriptError as exc:
            out.append(f"Error: {exc}")
            return RunResult(exc.code, out)
        finally:
            self._save(host)
        return RunResult(runner.status, out)

    # -- Tentacle --------------------------------------------------------------------------------

    def tentacle(self, host: Doc, argv: Sequence[str], out: list[str]) -> int:
        """Run one Tentacle command line on ``host``; its exit code."""
        if not host.get("HasTentacle") and not host.get("Instances"):
            out.append(f"{argv[0] if argv else 'Tentacle'}: command not found")
            return 127
        try:
            _TentacleRun(self, host, out).run(list(argv))
        except _Failure as exc:
            out.append(str(exc))
            return 1
        finally:
            self._save(host)
        return 0

    # -- task effects ---------------------------------------------------------------------------

    def _targets(self, inst: SimInstance, task: Doc) -> list[Doc]:
        args = task.get("Arguments") or {}
        space = task.get("SpaceId")
        store = inst.store
        target_type = str(args.get("TargetType") or "Machines")
        out: list[Doc] = []
        for mid in args.get("MachineIds") or []:
            doc = store.get("workers" if target_type == "Workers" else "machines", mid) or store.get(
                "workers", mid
            )
            if doc is not None:
                out.append(doc)
        envs = set(args.get("EnvironmentIds") or [])
        roles = set(args.get("TargetRoles") or [])
        if envs or roles:
            for m in store.all("machines"):
                if m.get("SpaceId") != space or m in out:
                    continue
                if envs and not envs & set(m.get("EnvironmentIds") or []):
                    continue
                if roles and not roles & set(m.get("Roles") or []):
                    continue
                out.append(m)
        pools = set(args.get("WorkerPoolIds") or [])
        if pools:
            out += [
                w for w in store.all("workers") if pools & set(w.get("WorkerPoolIds") or []) and w not in out
            ]
        return out

    def _host_of_machine(self, inst: SimInstance, machine: Doc) -> tuple[Doc | None, Doc | None]:
        """(host, Tentacle instance) behind an instance's machine: by thumbprint, else the Server's own."""
        thumb = str(machine.get("Thumbprint") or "").upper()
        if thumb:
            for host in self.all_hosts():
                for ti in host.get("Instances") or []:
                    if ti.get("Thumbprint") == thumb:
                        return host, ti
        if inst is self.server:
            with contextlib.suppress(KeyError):
                host = self.host(host_key(machine))
                for ti in host.get("Instances") or []:
                    if ti.get("Thumbprint") == thumb:
                        return host, ti
                return host, None
        return None, None

    def _adhoc_effect(self, inst: SimInstance) -> Callable[[Doc], list[str]]:
        def effect(task: Doc) -> list[str]:
            args = task.get("Arguments") or {}
            body = str(args.get("ScriptBody") or "")
            syntax = str(args.get("Syntax") or "PowerShell")
            log: list[str] = []
            failed: list[str] = []
            succeeded = 0
            for machine in self._targets(inst, task):
                name = str(machine.get("Name"))
                if machine.get("IsDisabled"):
                    log.append(f"Skipping {name}: the machine is disabled.")
                    continue
                status, summary, host = self.check(inst, machine)
                style = (machine.get("Endpoint") or {}).get("CommunicationStyle")
                if host is None and status == "Healthy" and style not in TENTACLE_STYLES:
                    with contextlib.suppress(KeyError):  # an SSH host: no Tentacle, but a shell
                        host = self.host(host_key(machine))
                if host is None or status != "Healthy":
                    log.append(f"{name}: the script could not run: {summary}")
                    failed.append(f"{name} (unavailable)")
                    continue
                log.append(f"Running the {syntax} script on {name} ({host['Name']})")
                result = self._run(host, body, syntax, {}, [])
                log += [f"  {line}" if line else "" for line in result.lines]
                if result.code == 0:
                    log.append(f"{name}: the script succeeded.")
                    succeeded += 1
                else:
                    log.append(f"{name}: the script failed with exit code {result.code}.")
                    failed.append(f"{name} (exit code {result.code})")
            if failed:
                others = f"; it succeeded on {succeeded} other machine(s)" if succeeded else ""
                raise ScriptFailed(f"The script failed on {', '.join(failed)}{others}.", log)
            return log

        return effect

    def _health_effect(self, inst: SimInstance) -> Callable[[Doc], list[str]]:
        def effect(task: Doc) -> list[str]:
            args = task.get("Arguments") or {}
            store = inst.store
            space = task.get("SpaceId")
            chosen: list[tuple[str, Doc]] = []
            ids = [str(i) for i in args.get("MachineIds") or []]
            for mid in ids:
                for coll in ("machines", "workers"):
                    doc = store.get(coll, mid)
                    if doc is not None:
                        chosen.append((coll, doc))
                        break
            env, pool = args.get("EnvironmentId"), args.get("WorkerpoolId")
            if env:
                chosen += [
                    ("machines", m) for m in store.all("machines") if env in (m.get("EnvironmentIds") or [])
                ]
            if pool:
                chosen += [
                    ("workers", w) for w in store.all("workers") if pool in (w.get("WorkerPoolIds") or [])
                ]
            if not ids and not env and not pool:
                chosen = [
                    (c, d)
                    for c in ("machines", "workers")
                    for d in store.all(c)
                    if d.get("SpaceId") in (space, None)
                ]
            seen: set[str] = set()
            log: list[str] = []
            counts: dict[str, int] = {}
            for coll, machine in chosen:
                if machine["Id"] in seen:
                    continue
                seen.add(machine["Id"])
                name = str(machine.get("Name"))
                if machine.get("IsDisabled"):
                    log.append(f"{name}: skipped, the machine is disabled.")
                    continue
                status, summary, _host = self.check(inst, machine)
                counts[status] = counts.get(status, 0) + 1
                log += [f"Checking {name}", f"  {status}: {summary}"]
                doc = dict(machine)
                doc.update(
                    HealthStatus=status,
                    Status="Online" if status == "Healthy" else "Offline",
                    StatusSummary=summary,
                )
                store.put(coll, doc)
            summary_line = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())) or "none checked"
            return [*log, f"Health check complete: {summary_line}."]

        return effect

    def check(self, inst: SimInstance, machine: Doc) -> tuple[str, str, Doc | None]:
        """(HealthStatus, StatusSummary, host) of one of ``inst``'s machines, as a health check sees it."""
        endpoint = machine.get("Endpoint") or {}
        style = endpoint.get("CommunicationStyle")
        cloud = bool(inst.config.is_cloud)
        if style in TENTACLE_STYLES:
            return self._check_tentacle(inst, machine)
        if style == "Ssh":
            host = str(endpoint.get("Host") or "")
            if cloud and not self.cloud_reaches(host):
                return "Unavailable", f"Octopus could not connect to {host}: the host is not reachable.", None
            return (
                "Healthy",
                "Octopus was able to successfully establish a connection with this machine.",
                None,
            )
        if style == "Kubernetes":
            host = _host_of(endpoint.get("ClusterUrl"))
            if cloud and not self.cloud_reaches(host):
                return "Unavailable", f"Octopus could not reach the cluster at {host}.", None
            return "Healthy", "The Kubernetes cluster answered.", None
        if style == "KubernetesTentacle" and cloud:
            return "Unavailable", "No Kubernetes agent has been installed for this instance yet.", None
        return "Healthy", "This machine needs no connection check.", None

    def _check_tentacle(self, inst: SimInstance, machine: Doc) -> tuple[str, str, Doc | None]:
        endpoint = machine.get("Endpoint") or {}
        style = endpoint.get("CommunicationStyle")
        uri = str(endpoint.get("Uri") or machine.get("Uri") or "")
        thumb = str(machine.get("Thumbprint") or endpoint.get("Thumbprint") or "").upper()
        host, ti = self._host_of_machine(inst, machine)
        if host is None or ti is None:
            return "Unavailable", f"No Tentacle with the thumbprint {thumb} answered.", host
        where = f"the instance '{ti['Name']}' on {host['Name']}"
        if not ti.get("ServiceRunning"):
            return "Unavailable", f"The Tentacle service of {where} is not running.", host
        own = self._thumbprint(inst)
        trusted = [t for t in ti.get("Trusted") or [] if str(t.get("Thumbprint", "")).upper() == own]
        if style == "TentacleActive":
            label = next((lbl for lbl, i in self.instances.items() if i is inst), "")
            comms = self._comms_addresses(label)
            polls = [
                t
                for t in trusted
                if t.get("Style") == "TentacleActive"
                and t.get("SubscriptionId") == uri
                and f"{_host_of(t.get('Address'))}:{_port_of(t.get('Address'), 443)}" in comms
            ]
            if not polls:
                return (
                    "Unavailable",
                    f"No polling Tentacle connected with the subscription {uri}: {where} does not poll "
                    "this Octopus Server with it.",
                    host,
                )
            return (
                "Healthy",
                "Octopus was able to successfully establish a connection with this machine.",
                host,
            )
        target_host = _host_of(uri)
        if inst.config.is_cloud and not self.cloud_reaches(target_host):
            return (
                "Unavailable",
                f"Octopus could not connect to {target_host}: the host is not reachable.",
                host,
            )
        if ti.get("NoListen") or int(ti.get("Port") or 0) != _port_of(uri, 10933):
            return "Unavailable", f"Nothing listens on {uri}: {where} listens elsewhere.", host
        if not trusted:
            return (
                "Unhealthy",
                f"The Tentacle at {uri} refused the connection: {where} does not trust this Octopus "
                "Server's certificate.",
                host,
            )
        return "Healthy", "Octopus was able to successfully establish a connection with this machine.", host


# -- Bash syntax ------------------------------------------------------------------------------------


def _bash_syntax_check(text: str) -> None:
    """``bash -n`` when Bash is installed (it is where tests run); the line reader catches the rest."""
    bash = shutil.which("bash")
    if bash is None:
        return
    checked = subprocess.run([bash, "-n"], input=text, text=True, capture_output=True, check=False)
    if checked.returncode != 0:
        detail = " ".join(checked.stderr.split()) or "bash -n rejected it"
        raise _ScriptError(f"The Bash script has a syntax error: {detail}", code=2)


# -- the script reader ------------------------------------------------------------------------------

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_PS_VAR = re.compile(r"\$(?:\{([^}]+)\}|(env:[A-Za-z_][A-Za-z0-9_]*|[A-Za-z_][A-Za-z0-9_]*))")
_PS_QUOTES = "'\u2018\u2019\u201a\u201b"


class _Interpreter:
    """Reads a script line by line and runs what it understands on one host."""

    def __init__(
        self, hosts: Hosts, host: Doc, env: dict[str, str], stdin: list[str], out: list[str]
    ) -> None:
        self.hosts = hosts
        self.host = host
        self.env = env
        self.vars: dict[str, str] = {}
        self.lists: dict[str, list[str]] = {}  # PowerShell variables holding a program's output lines
        self.stdin = stdin
        self.out = out
        self.status = 0
        self.errexit = False
        self.nounset = False
        self.line_no = 0

    def _unknown(self, line: str) -> _ScriptError:
        return _ScriptError(
            f"line {self.line_no}: the simulator does not understand this line, so the script cannot "
            f"be trusted to do what it says: {line.strip()}",
            code=2,
        )

    # -- Bash -------------------------------------------------------------------------------------

    def bash(self, text: str) -> None:
        blocks: list[bool] = []  # is each enclosing if-branch running?
        taken: list[bool] = []
        for self.line_no, line in _logical_lines(text):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            active = all(blocks)
            m = re.fullmatch(r"if\s+(.+?)\s*;\s*then", stripped)
            if m:
                cond = self._bash_test(m.group(1)) if active else False
                blocks.append(cond)
                taken.append(cond)
                continue
            if stripped == "else":
                if not blocks:
                    raise self._unknown(line)
                blocks[-1] = not taken[-1]
                continue
            if stripped == "fi":
                if not blocks:
                    raise self._unknown(line)
                blocks.pop()
                taken.pop()
                continue
            m = re.fullmatch(r'([A-Za-z_][A-Za-z0-9_]*)="\$\((.+)\)"', stripped)
            if m:  # name="$(Tentacle …)": the output kept in a variable
                self._bash_capture(stripped, m.group(1), m.group(2), active)
                continue
            self._bash_command(stripped, self._bash_words(stripped, execute=active), active)

    def _bash_capture(self, line: str, name: str, inner: str, execute: bool) -> None:
        """``name="$(Tentacle …)"``: only a Tentacle command; under ``set -e`` its failure ends the script."""
        if any(c in inner for c in '$`"();&|<>'):
            raise self._unknown(line)
        words = self._bash_words(inner, execute=execute)
        if not words or os.path.basename(words[0]) not in ("Tentacle", "tentacle"):
            raise self._unknown(line)
        if not execute:
            return
        captured: list[str] = []
        self.status = self.hosts.tentacle(self.host, words[1:], captured)
        if self.status != 0:
            self.out += captured  # what Tentacle says on failure reaches the log (stderr is not captured)
        self.vars[name] = "\n".join(captured).rstrip("\n")  # as $( ) strips trailing newlines
        if self.status != 0 and self.errexit:
            raise _Exit(self.status)

    def _bash_test(self, text: str) -> bool:
        # [[ "$var" == *'literal'* ]]: does the variable contain the literal (quoted, so no glob in it)?
        m = re.fullmatch(r"""\[\[\s+"\$([A-Za-z_][A-Za-z0-9_]*)"\s+(==|!=)\s+\*'([^']*)'\*\s+\]\]""", text)
        if m:
            found = m.group(3) in self._bash_var(m.group(1), None, False)
            return found if m.group(2) == "==" else not found
        if text.startswith("[[") and any(c in text[2:-2] for c in "*?["):
            raise self._unknown(f"if {text}; then")  # a pattern match: only the form above is simulated
        words = self._bash_words(text, execute=True)
        if words[:1] == ["[["] and words[-1:] == ["]]"] or words[:1] == ["["] and words[-1:] == ["]"]:
            inner = words[1:-1]
            if len(inner) == 2 and inner[0] in ("-z", "-n"):
                return (inner[1] == "") == (inner[0] == "-z")
            if len(inner) == 3 and inner[1] in ("=", "==", "!="):
                return (inner[0] == inner[2]) == (inner[1] != "!=")
        raise self._unknown(f"if {text}; then")

    def _bash_var(self, name: str, default: str | None, braced_default: bool) -> str:
        if name in self.vars:
            return self.vars[name]
        if name in self.env:
            return self.env[name]
        if name == "?":
            return str(self.status)
        if braced_default:
            return default or ""
        if self.nounset:
            raise _ScriptError(f"line {self.line_no}: {name}: unbound variable")
        return ""

    def _bash_expand(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(3)
            return self._bash_var(name, m.group(2), m.group(2) is not None or ":-" in m.group(0))

        return _VAR.sub(sub, text)

    def _bash_words(self, line: str, *, execute: bool) -> list[str]:
        """Split a line into words with Bash quoting; anything beyond plain commands is refused."""
        words: list[str] = []
        cur: list[str] = []
        has = False
        i = 0
        while i < len(line):
            c = line[i]
            if c == "'":
                end = line.find("'", i + 1)
                if end < 0:
                    raise self._unknown(line)
                cur.append(line[i + 1 : end])
                has, i = True, end + 1
                continue
            if c == '"':
                j, buf = i + 1, []
                while j < len(line) and line[j] != '"':
                    if line[j] == "\\" and j + 1 < len(line) and line[j + 1] in '"\\$`':
                        buf.append(line[j + 1])
                        j += 2
                        continue
                    if line[j] in "`" or line.startswith("$(", j):
                        raise self._unknown(line)
                    buf.append(line[j])
                    j += 1
                if j >= len(line):
                    raise self._unknown(line)
                cur.append(self._bash_expand("".join(buf)) if execute else "".join(buf))
                has, i = True, j + 1
                continue
            if c == "\\" and i + 1 < len(line):
                cur.append(line[i + 1])
                has, i = True, i + 2
                continue
            if c.isspace():
                if has:
                    words.append("".join(cur))
                cur, has = [], False
                i += 1
                continue
            if c == "#" and not has:
                break
            if c in ";&|<>`(){}" or line.startswith("$(", i):
                raise self._unknown(line)
            if c == "$":
                m = _VAR.match(line, i)
                if m is None:
                    raise self._unknown(line)
                cur.append(self._bash_expand(m.group(0)) if execute else m.group(0))
                has, i = True, m.end()
                continue
            cur.append(c)
            has, i = True, i + 1
        if has:
            words.append("".join(cur))
        return words

    def _bash_command(self, line: str, words: list[str], execute: bool = True) -> None:
        """Run one simple command, or (``execute=False``, a branch not taken) only check it is known."""
        if not words:
            return
        assignment = re.match(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", line)
        if assignment:
            if len(words) != 1 and not (words[0] == "export" and len(words) == 2):
                raise self._unknown(line)
            if execute:
                self.vars[assignment.group(1)] = words[-1].split("=", 1)[1]
            return
        head = words[0]
        if head == "sudo":
            words = words[1:]
            head = words[0] if words else ""
        if head == "set":
            for flag in words[1:]:
                if not re.fullmatch(r"[-+][euxo]+|pipefail", flag):
                    raise self._unknown(line)
                if flag.startswith("-") and execute:
                    self.errexit |= "e" in flag
                    self.nounset |= "u" in flag
            return
        if head == "echo":
            args = words[1:]
            while args and args[0] in ("-n", "-e", "-E"):
                args = args[1:]
            if execute:
                self.out.append(" ".join(args))
                self.status = 0
            return
        if head in ("true", ":"):
            self.status = 0 if execute else self.status
            return
        if head == "exit":
            if execute:
                raise _Exit(int(words[1]) if len(words) > 1 and words[1].isdigit() else self.status)
            return
        if head == "read":
            self._bash_read(line, words[1:], execute)
            return
        if os.path.basename(head) in ("Tentacle", "tentacle"):
            if not execute:
                return
            self.status = self.hosts.tentacle(self.host, words[1:], self.out)
            if self.status != 0 and self.errexit:
                raise _Exit(self.status)
            return
        raise self._unknown(line)

    def _bash_read(self, line: str, args: list[str], execute: bool) -> None:
        names: list[str] = []
        i = 0
        while i < len(args):
            a = args[i]
            if a == "-p":
                i += 2
                continue
            if re.fullmatch(r"-[rs]+", a):
                i += 1
                continue
            if re.fullmatch(r"-[rs]*p", a):
                i += 2
                continue
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", a):
                names.append(a)
                i += 1
                continue
            raise self._unknown(line)
        if len(names) != 1:
            raise self._unknown(line)
        if not execute:
            return
        if not self.stdin:
            raise _ScriptError(
                f"line {self.line_no}: the script waited for input ({names[0]}) and nobody answered; "
                "set the variable before running it."
            )
        self.vars[names[0]] = self.stdin.pop(0)
        self.status = 0

    # -- PowerShell ------------------------------------------------------------------------------

    def powershell(self, text: str) -> None:
        blocks: list[bool] = []
        taken: list[bool] = []
        in_comment = False
        for self.line_no, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if in_comment:
                in_comment = "#>" not in stripped
                continue
            if stripped.startswith("<#"):
                in_comment = "#>" not in stripped[2:]
                continue
            if not stripped or stripped.startswith("#"):
                continue
            active = all(blocks)
            m = re.fullmatch(r"if\s*\((.+?)\)\s*\{(.*)\}", stripped)
            if m:  # a whole if on one line
                run = active and self._ps_cond(m.group(1))
                for statement in _split_statements(m.group(2)):
                    self._ps_statement(statement, run)
                continue
            m = re.fullmatch(r"if\s*\((.+)\)\s*\{", stripped)
            if m:
                cond = self._ps_cond(m.group(1)) if active else False
                blocks.append(cond)
                taken.append(cond)
                continue
            if re.fullmatch(r"\}\s*else\s*\{", stripped):
                if not blocks:
                    raise self._unknown(line)
                blocks[-1] = not taken[-1]
                continue
            if stripped == "}":
                if not blocks:
                    raise self._unknown(line)
                blocks.pop()
                taken.pop()
                continue
            for statement in _split_statements(stripped):
                self._ps_statement(statement, active)

    def _ps_get(self, name: str) -> str:
        lowered = name.lower()
        if lowered.startswith("env:"):
            return self.env.get(name[4:], "")
        if lowered == "lastexitcode":
            return str(self.status)
        for key, value in self.vars.items():
            if key.lower() == lowered:
                return value
        if lowered in ("null", "false"):
            return ""
        if lowered == "true":
            return "True"
        return ""

    def _ps_expand(self, text: str) -> str:
        if "$(" in text:
            raise self._unknown(text)
        return _PS_VAR.sub(lambda m: self._ps_get(m.group(1) or m.group(2)), text)

    def _ps_words(self, line: str, *, execute: bool) -> list[str]:
        words: list[str] = []
        cur: list[str] = []
        has = False
        i = 0
        while i < len(line):
            c = line[i]
            if c in _PS_QUOTES:
                j, buf = i + 1, []
                while True:
                    if j >= len(line):
                        raise self._unknown(line)
                    if line[j] in _PS_QUOTES:
                        if j + 1 < len(line) and line[j + 1] in _PS_QUOTES:
                            buf.append(line[j])
                            j += 2
                            continue
                        break
                    buf.append(line[j])
                    j += 1
                cur.append("".join(buf))
                has, i = True, j + 1
                continue
            if c == '"':
                j, buf = i + 1, []
                while True:
                    if j >= len(line):
                        raise self._unknown(line)
                    if line[j] == "`" and j + 1 < len(line):
                        buf.append(line[j + 1])
                        j += 2
                        continue
                    if line[j] == '"':
                        if j + 1 < len(line) and line[j + 1] == '"':
                            buf.append('"')
                            j += 2
                            continue
                        break
                    buf.append(line[j])
                    j += 1
                raw = "".join(buf)
                cur.append(self._ps_expand(raw) if execute else raw)
                has, i = True, j + 1
                continue
            if c.isspace():
                if has:
                    words.append("".join(cur))
                cur, has = [], False
                i += 1
                continue
            if c == "#" and not has:
                break
            if c in ";|<>(){}@`" and not (c == "(" and has):
                raise self._unknown(line)
            if c == "$":
                m = _PS_VAR.match(line, i)
                if m is None:
                    raise self._unknown(line)
                cur.append(self._ps_get(m.group(1) or m.group(2)) if execute else m.group(0))
                has, i = True, m.end()
                continue
            cur.append(c)
            has, i = True, i + 1
        if has:
            words.append("".join(cur))
        return words

    def _ps_cond(self, text: str) -> bool:
        m = re.fullmatch(
            r"\$([A-Za-z_][A-Za-z0-9_]*)\s+-(like|notlike)\s+(['\u2018\u2019\u201a\u201b].*)", text.strip()
        )
        if m:
            return self._ps_like(m.group(1), m.group(3), negate=m.group(2) == "notlike", text=text)
        words = self._ps_words(text.strip(), execute=True)
        if len(words) == 2 and words[0].lower() in ("-not", "!"):
            return not words[1]
        if len(words) == 3 and words[1].lower() in ("-ne", "-eq"):
            same = words[0] == words[2]
            return same if words[1].lower() == "-eq" else not same
        if len(words) == 1:
            return bool(words[0])
        raise self._unknown(f"if ({text})")

    def _ps_statement(self, statement: str, execute: bool = True) -> None:
        """Run one statement, or (``execute=False``, a branch not taken) only check it is known."""
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(&\s.+)", statement)
        if m:  # $Name = & program …: its output lines kept in a variable ($null: thrown away)
            words = self._ps_words(m.group(2), execute=execute)[1:]
            if not words or self._ps_program(words[0]) is None:
                raise self._unknown(statement)
            if execute:
                captured: list[str] = []
                self.status = self._ps_run(words, captured)
                if self.status != 0 and self._ps_program(words[0]) == "tentacle":
                    self.out += captured  # Tentacle's failure sentence goes to the error stream
                if m.group(1).lower() != "null":
                    self.lists[m.group(1).lower()] = captured
                    self.vars[m.group(1)] = " ".join(captured)
            return
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)", statement)
        if m:
            value = self._ps_value(m.group(2).strip(), statement, execute)
            if execute:
                self.vars[m.group(1)] = value
            return
        words = self._ps_words(statement, execute=execute)
        if not words:
            return
        head = words[0]
        if head == "&":
            words = words[1:]
            head = words[0] if words else ""
        low = head.lower()
        if low in ("write-host", "write-output", "echo"):
            if execute:
                self.out.append(" ".join(w for w in words[1:] if w.lower() != "-nonewline"))
            return
        if low == "exit":
            if execute:
                raise _Exit(int(words[1]) if len(words) > 1 and words[1].lstrip("-").isdigit() else 0)
            return
        if self._ps_program(head) is not None:
            if execute:
                self.status = self._ps_run(words, self.out)
            return
        raise self._unknown(statement)

    @staticmethod
    def _ps_program(head: str) -> str | None:
        """``tentacle`` or ``netsh`` for the native programs the simulator runs, else None."""
        if head.lower() in ("netsh", "netsh.exe"):
            return "netsh"
        if os.path.basename(head.replace("\\", "/")).lower() in ("tentacle.exe", "tentacle"):
            return "tentacle"
        return None

    def _ps_run(self, words: list[str], out: list[str]) -> int:
        if self._ps_program(words[0]) == "netsh":
            return self._netsh(words[1:], out)
        return self.hosts.tentacle(self.host, words[1:], out)

    def _ps_like(self, name: str, quoted: str, *, negate: bool, text: str) -> bool:
        """``$var -like 'pattern'``: case-insensitive; on an array (a program's output lines) it keeps the
        matching lines, so the condition holds when any line matches."""
        pattern = self._ps_words(quoted, execute=False)
        if len(pattern) != 1 or any(c in pattern[0] for c in "[]`"):
            raise self._unknown(f"if ({text})")  # only * and ? wildcards are simulated
        regex = re.compile(
            "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern[0]),
            re.IGNORECASE | re.DOTALL,
        )
        values = self.lists.get(name.lower())
        if values is None:
            values = [self._ps_get(name)]
        found = any(regex.fullmatch(v) for v in values)
        return not found if negate else found

    def _ps_value(self, expr: str, statement: str, execute: bool) -> str:
        m = re.fullmatch(r"Read-Host(?:\s+-AsSecureString)?(?:\s+(?:-Prompt\s+)?(.+))?", expr, re.IGNORECASE)
        if m:
            if not execute:
                return ""
            if not self.stdin:
                raise _ScriptError(
                    f"line {self.line_no}: the script waited for input (Read-Host) and nobody answered; "
                    "set the variable before running it."
                )
            return self.stdin.pop(0)
        m = re.fullmatch(
            r"\[System\.Net\.NetworkCredential\]::new\(\s*''\s*,\s*\$([A-Za-z_]\w*)\s*\)\.Password",
            expr,
            re.IGNORECASE,
        )
        if m:
            return self._ps_get(m.group(1))
        words = self._ps_words(expr, execute=execute)
        if len(words) != 1:
            raise self._unknown(statement)
        return words[0]

    def _netsh(self, args: list[str], out: list[str]) -> int:
        """``netsh advfirewall firewall add rule`` / ``show rule name=…`` (exit 1 when none matches)."""
        if self.host.get("Os") != "windows":
            out.append("netsh: command not found")
            return 127
        lowered = [a.lower() for a in args]
        names = [a.split("=", 1)[1] for a in args if a.lower().startswith("name=")]
        rules: list[Doc] = self.host.setdefault("FirewallRules", [])
        if lowered[:4] == ["advfirewall", "firewall", "show", "rule"] and len(names) == 1 and len(args) == 5:
            matching = [r for r in rules if str(r.get("Name", "")).lower() == names[0].lower()]
            if not matching:
                out.append("No rules match the specified criteria.")
                return 1
            for rule in matching:
                out += [
                    "",
                    f"Rule Name:                            {rule['Name']}",
                    "-" * 70,
                    "Enabled:                              Yes",
                    "Direction:                            In",
                    "Protocol:                             TCP",
                    f"LocalPort:                            {rule.get('Port')}",
                    "Action:                               Allow",
                ]
            out.append("Ok.")
            return 0
        if lowered[:4] != ["advfirewall", "firewall", "add", "rule"] or len(names) != 1:
            raise self._unknown("netsh " + " ".join(args))
        ports = [a.split("=", 1)[1] for a in args if a.lower().startswith("localport=")]
        # As netsh does: a second rule of the same name is added, not refused.
        rules.append({"Name": names[0], "Port": ports[0] if ports else None})
        self.host.setdefault("Firewall", []).extend(int(p) for p in ports if p.isdigit())
        out.append("Ok.")
        return 0


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Bash lines with backslash continuations joined, numbered by their first physical line."""
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        yield start, " ".join(pending)
        pending = []
    if pending:
        yield start, " ".join(pending)


def _split_statements(text: str) -> list[str]:
    """PowerShell statements separated by ``;`` outside quotes."""
    out: list[str] = []
    cur: list[str] = []
    quote: str | None = None
    for c in text:
        if quote:
            cur.append(c)
            if (quote == '"' and c == '"') or (quote != '"' and c in _PS_QUOTES):
                quote = None
            continue
        if c == '"' or c in _PS_QUOTES:
            quote = c
        if c == ";":
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(c)
    out.append("".join(cur).strip())
    return [s for s in out if s]


# -- Tentacle's commands ----------------------------------------------------------------------------


class _TentacleRun:
    """One Tentacle command line against a host's instances."""

    def __init__(self, hosts: Hosts, host: Doc, out: list[str]) -> None:
        self.hosts = hosts
        self.host = host
        self.out = out

    def run(self, argv: list[str]) -> None:
        if not argv:
            raise _Failure("Usage: Tentacle <command> [<options>]; see Tentacle help.")
        command = argv[0]
        if command not in TENTACLE_COMMANDS:
            raise _Failure(f"Command '{command}' is not supported. See 'Tentacle help'.")
        opts = self._parse(command, argv[1:])
        getattr(self, "c_" + command.replace("-", "_"))(opts)

    @staticmethod
    def _parse(command: str, args: list[str]) -> dict[str, list[str]]:
        """Mono.Options as Tentacle uses it: ``--name value``, ``--name=value``, ``-name:value``, switches."""
        known = command_options(command)
        opts: dict[str, list[str]] = {}
        unknown: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            m = re.fullmatch(r"(?:--|-|/)([^=:]+)(?:[=:](.*))?", arg, re.DOTALL)
            if m is None or m.group(1) not in known:
                unknown.append(arg)
                i += 1
                continue
            canonical, takes_value = known[m.group(1)]
            if takes_value:
                value = m.group(2)
                if value is None:
                    if i + 1 >= len(args):
                        raise _Failure(f"Missing required value for option '{arg}'.")
                    value = args[i + 1]
                    i += 1
                opts.setdefault(canonical, []).append(value)
            else:
                if m.group(2) is not None:
                    unknown.append(arg)
                else:
                    opts.setdefault(canonical, []).append("")
            i += 1
        if unknown:
            raise _Failure("Unrecognized command line arguments: " + " ".join(unknown))
        return opts

    # -- instances --------------------------------------------------------------------------------

    def _indexed(self) -> list[Doc]:
        return [i for i in self.host.get("Instances") or [] if i.get("Indexed")]

    def _select(self, opts: dict[str, list[str]]) -> Doc:
        indexed = self._indexed()
        names = ", ".join(i["Name"] for i in indexed) or "none"
        if opts.get("instance"):
            wanted = opts["instance"][-1]
            for inst in indexed:
                if inst["Name"].lower() == wanted.lower():
                    return inst
            raise _Failure(
                f"Instance {wanted} of tentacle has not been configured on this machine. "
                f"Available instances: {names}."
            )
        if opts.get("config"):
            for inst in indexed:
                if inst["ConfigPath"].lower() == opts["config"][-1].lower():
                    return inst
            raise _Failure(f"The configuration file {opts['config'][-1]} does not belong to any instance.")
        for inst in indexed:
            if inst["Name"] == DEFAULT_INSTANCE:
                return inst
        if len(indexed) == 1:
            return indexed[0]
        if not indexed:
            raise _Failure("There are no instances of Tentacle configured on this machine.")
        raise _Failure(
            "There is more than one instance of Tentacle configured on this machine. Please pass "
            f"--instance=INSTANCENAME when invoking this command to target a specific instance. "
            f"Available instances: {names}."
        )

    def _restart_note(self) -> None:
        self.out.append("These changes require a restart of the Tentacle.")

    def c_create_instance(self, opts: dict[str, list[str]]) -> None:
        name = (opts.get("instance") or [DEFAULT_INSTANCE])[-1]
        windows = self.host.get("Os") == "windows"
        default_config = (
            f"C:\\Octopus\\{name}\\Tentacle.config"
            if windows
            else f"/etc/octopus/{name}/tentacle-{name}.config"
        )
        config = (opts.get("config") or [default_config])[-1]
        for inst in self._indexed():
            if inst["Name"].lower() == name.lower():
                raise _Failure(f"An instance named '{name}' already exists on this machine.")
            if inst["ConfigPath"].lower() == config.lower():
                raise _Failure(
                    f"The configuration file {config} is already used by the instance '{inst['Name']}'."
                )
        instances = [i for i in self.host.get("Instances") or [] if i["Name"].lower() != name.lower()]
        sep = "\\" if windows else "/"
        instances.append(
            {
                "Name": name,
                "ConfigPath": config,
                "Home": (opts.get("home") or [config.rsplit(sep, 1)[0]])[-1],
                "AppDir": "C:\\Octopus\\Applications" if windows else "/home/Octopus/Applications",
                "Thumbprint": None,
                "Port": 10933,
                "NoListen": False,
                "ListenIp": None,
                "Trusted": [],
                "ServiceInstalled": False,
                "ServiceRunning": False,
                "Indexed": True,
                "Original": False,
            }
        )
        self.host["Instances"] = instances
        self.host["HasTentacle"] = True
        self.out.append(f"Saving instance: {name}")

    def c_delete_instance(self, opts: dict[str, list[str]]) -> None:
        inst = self._select(opts)
        # As Tentacle does: only the index entry goes; the service, config and home stay.
        inst["Indexed"] = False
        self.out.append(f"Deleted instance: {inst['Name']}")

    def c_list_instances(self, opts: dict[str, list[str]]) -> None:
        fmt = (opts.get("format") or ["text"])[-1].lower()
        indexed = self._indexed()
        if fmt == "json":
            body = [{"InstanceName": i["Name"], "ConfigurationFilePath": i["ConfigPath"]} for i in indexed]
            self.out += json.dumps(body, indent=2).splitlines()
        elif fmt == "text":
            self.out += [
                f"Instance '{i['Name']}' uses configuration '{i['ConfigPath']}'." for i in indexed
            ] or ["No instances installed"]
        else:
            raise _Failure(f"The format '{fmt}' is not supported. Try text or json.")

    def c_new_certificate(self, opts: dict[str, list[str]]) -> None:
        inst = self._select(opts)
        blank = "if-blank" in opts
        export = (opts.get("export-file") or opts.get("export-pfx") or [""])[-1]
        if blank and export:
            raise _Failure("Invalid command: --if-blank and --export-pfx cannot be specified together")
        if export:
            self.out += [
                f"A new certificate has been generated and written to {export}. Thumbprint:",
                _rand_thumbprint(),
            ]
            return
        if blank and inst.get("Thumbprint"):
            self.out.append("A certificate already exists, no changes will be applied.")
            return
        inst["Thumbprint"] = _rand_thumbprint()
        self.out += ["A new certificate has been generated and installed. Thumbprint:", inst["Thumbprint"]]
        self._restart_note()

    def c_configure(self, opts: dict[str, list[str]]) -> None:
        inst = self._select(opts)
        trusted: list[Doc] = list(inst.get("Trusted") or [])
        if "reset-trust" in opts:
            self.out.append("Removing all trusted Octopus Servers...")
            trusted = []
        for thumb in opts.get("remove-trust", []):
            trusted = [t for t in trusted if t["Thumbprint"] != thumb.upper()]
        added = [t.upper() for t in opts.get("trust", [])]
        if added:
            self.out.append(f"Adding {len(added)} trusted Octopus Servers")
        for thumb in added:
            # TentacleConfiguration.AddOrUpdateTrustedOctopusServer: the entry with the same thumbprint
            # AND address (none here) is replaced; a polling entry (with an address) of the same server
            # stays, with its subscription id.
            trusted = [
                t for t in trusted if not (str(t["Thumbprint"]).upper() == thumb and t.get("Address") is None)
            ]
            trusted.append(
                {"Thumbprint": thumb, "Style": "TentaclePassive", "Address": None, "SubscriptionId": None}
            )
        inst["Trusted"] = trusted
        for option in ("home", "app"):
            if option in opts:
                inst["Home" if option == "home" else "AppDir"] = opts[option][-1]
        if "port" in opts:
            try:
                port = int(opts["port"][-1])
            except ValueError:
                raise _Failure("Input string was not in a correct format.") from None
            for other in self.host.get("Instances") or []:
                if (
                    other is not inst
                    and other.get("ServiceInstalled", other.get("Indexed"))
                    and not other.get("NoListen")
                    and int(other.get("Port") or 0) == port
                ):
                    raise _Failure(
                        f"Port {port} is already used by the Tentacle instance '{other['Name']}' "
                        "on this machine."
                    )
            inst["Port"] = port
            self.out.append(f"Services listen port: {port}")
        if "noListen" in opts:
            value = opts["noListen"][-1].strip().lower()
            if value not in ("true", "false"):
                raise _Failure("String was not recognized as a valid Boolean.")
            inst["NoListen"] = value == "true"
            for t in trusted:
                if t["Thumbprint"] in added:
                    t["Style"] = "TentacleActive" if inst["NoListen"] else "TentaclePassive"
            self.out.append(
                "Tentacle will not listen on a port"
                if inst["NoListen"]
                else "Tentacle will listen on a TCP port"
            )
        if "listenIpAddress" in opts:
            inst["ListenIp"] = opts["listenIpAddress"][-1]
        self._restart_note()

    def c_server_comms(self, opts: dict[str, list[str]]) -> None:
        inst = self._select(opts)
        trusted: list[Doc] = inst.get("Trusted") or []
        thumbs = sorted({t["Thumbprint"] for t in trusted})
        if not thumbs:
            raise _Failure(
                "Before server communications can be modified, trust must be established with the "
                "configure command"
            )
        thumb = (opts.get("thumbprint") or [""])[-1].upper()
        if not thumb:
            if len(thumbs) != 1:
                raise _Failure(
                    "More than one server is trusted; please provide the thumbprint of the server to "
                    "configure, e.g. --thumbprint=..."
                )
            thumb = thumbs[0]
        style = _style((opts.get("style") or [""])[-1], "--style=TentaclePassive")
        servers = [t for t in trusted if t["Thumbprint"] == thumb]
        if not servers:
            raise _Failure("No trusted server was found with the supplied thumbprint")
        if style == "TentaclePassive":
            server = next((s for s in servers if s.get("Address") is None), None)
            if server is None:
                server = {"Thumbprint": thumb, "Address": None, "SubscriptionId": None}
                trusted.append(server)
            server["Style"] = "TentaclePassive"
        else:
            host = (opts.get("host") or [""])[-1]
            if (opts.get("web-socket") or [""])[-1]:
                raise _Failure("Polling over WebSockets is not simulated.")
            if not host:
                raise _Failure(
                    "Please provide either the server hostname or websocket address, e.g. --host=OCTOPUS"
                )
            port = _int((opts.get("port") or [str(POLLING_PORT)])[-1])
            address = f"https://{host.lower()}:{port}"
            server = next((s for s in servers if s.get("Address") == address), None) or next(
                (s for s in servers if s.get("Style") in (None, "None")), None
            )
            if server is None:
                server = {"Thumbprint": thumb, "SubscriptionId": None}
                trusted.append(server)
            server["Address"] = address
            server["Style"] = "TentacleActive"
            if not server.get("SubscriptionId"):
                existing = next(
                    (
                        s["SubscriptionId"]
                        for s in servers
                        if s.get("Style") == "TentacleActive" and s.get("SubscriptionId")
                    ),
                    None,
                )
                server["SubscriptionId"] = existing or _rand_subscription()
        inst["Trusted"] = trusted
        self.out.append("Updated server communications configuration")
        self._restart_note()

    def c_register_with(self, opts: dict[str, list[str]]) -> None:
        self._register(opts, worker=False)

    def c_register_worker(self, opts: dict[str, list[str]]) -> None:
        self._register(opts, worker=True)

    def _register(self, opts: dict[str, list[str]], *, worker: bool) -> None:
        inst = self._select(opts)
        last = {k: v[-1] for k, v in opts.items() if v}
        if worker:
            if not [p for p in opts.get("workerpool", []) if p.strip()]:
                raise _Failure("Please specify a worker pool name, slug or Id, e.g., --workerpool=Default")
        else:
            if not [e for e in opts.get("env", []) if e.strip()]:
                raise _Failure(
                    "Please specify an environment name, slug or Id, e.g., --environment=Development"
                )
            if not [r for r in opts.get("role", []) if r.strip()]:
                raise _Failure("Please specify a role name, e.g., --role=web-server")
        style = _style(last.get("comms-style", "TentaclePassive"), "--comms-style=TentaclePassive")
        if not inst.get("Thumbprint"):
            raise _Failure(
                "No certificate has been generated for this Tentacle. Please run the new-certificate "
                "command first."
            )
        if style == "TentacleActive" and last.get("proxy"):
            raise _Failure("Option --proxy can only be used with --comms-style=TentaclePassive.")
        if last.get("server-web-socket") and last.get("server-comms-address"):
            raise _Failure("Please specify a --server-web-socket, or a --server-comms-address - not both.")
        server = last.get("server", "")
        credentials = [
            bool(last.get("bearerToken")),
            bool(last.get("apiKey")),
            bool(last.get("username") or last.get("password")),
        ]
        if sum(credentials) >= 2:
            raise _Failure("Please specify a Bearer Token, API Key or username and password - not multiple.")
        if not server:
            raise _Failure("Please specify an Octopus Server, e.g., --server=http://your-octopus-server")
        if not any(credentials):
            raise _Failure(
                "Please specify an Octopus API key, a Bearer Token or a username and password. You can "
                "get an API key from the Octopus web portal. E.g., --apiKey=ABC1234"
            )
        found = self.hosts._instance_at(server)
        if found is None:
            raise _Failure(
                f"Unable to connect to the Octopus Server at {server}: the name does not resolve from "
                "this machine."
            )
        label, dest = found
        address: str | None = None
        if style == "TentacleActive":
            if last.get("server-web-socket"):
                raise _Failure(
                    "Polling over WebSockets is not simulated (and not supported by Octopus Cloud)."
                )
            base = last.get("server-comms-address") or server
            port = (
                _int(last["server-comms-port"])
                if "server-comms-port" in last
                else (POLLING_PORT if "server-comms-address" not in last else _port_of(base, 443))
            )
            address = f"https://{_host_of(base)}:{port}"
            if f"{_host_of(base)}:{port}" not in self.hosts._comms_addresses(label):
                raise _Failure(f"Unable to connect to the Octopus Server's polling endpoint at {address}.")
        self.out.append(f"Registering the tentacle with the server at {server}")
        user = dest.key_user(last.get("apiKey"))
        if user is None:
            raise _Failure(
                "You must be logged in to request this resource. Please provide a valid API key, or sign in "
                "to the Octopus Server."
            )
        needed = "WorkerEdit" if worker else "MachineCreate"
        if needed not in dest.permissions_of(user):
            raise _Failure(
                "You do not have permission to perform this action. Please contact your Octopus "
                f"administrator. Missing permission: {needed}"
            )
        store = dest.store
        space_name = last.get("space")
        if space_name:
            space = store.first("spaces", lambda s: str(s.get("Name", "")).lower() == space_name.lower())
            if space is None:
                raise _Failure(f"The space '{space_name}' was not found.")
            space_id = str(space["Id"])
        else:
            space_id = dest.default_space()
        dest_thumb = Hosts._thumbprint(dest)
        name = last.get("name") or str(self.host["Name"])

        def lookup(coll: str, noun: str, value: str) -> str:
            low = value.lower()
            doc = store.first(
                coll,
                lambda d: (
                    d.get("SpaceId") == space_id
                    and low
                    in (
                        str(d.get("Name", "")).lower(),
                        str(d.get("Slug", "")).lower(),
                        str(d.get("Id", "")).lower(),
                    )
                ),
            )
            if doc is None:
                raise _Failure(
                    f"Could not find the {noun} named {value} on the Octopus Server. Ensure the {noun} "
                    "exists and you have permission to access it."
                )
            return str(doc["Id"])

        coll = "workers" if worker else "machines"
        existing = store.first(
            coll, lambda d: d.get("SpaceId") == space_id and str(d.get("Name", "")).lower() == name.lower()
        )
        if existing is not None:
            # Tentacle overwrites with --force; the simulator refuses either way: octowiz never overwrites.
            noun = "worker" if worker else "machine"
            where = "" if worker else " in the environment"
            raise _Failure(
                f"A {noun} named '{name}' already exists{where}. Use the 'force' parameter if you intended "
                f"to update the existing {noun}."
            )
        policy_id: str | None
        if last.get("policy"):
            policy_id = lookup("machinepolicies", "machine policy", last["policy"])
        else:
            default = store.first(
                "machinepolicies", lambda d: d.get("SpaceId") == space_id and bool(d.get("IsDefault"))
            )
            policy_id = str(default["Id"]) if default else None
        if last.get("proxy"):
            raise _Failure(f"Could not find the proxy named {last['proxy']} on the Octopus Server.")
        thumb = str(inst["Thumbprint"])
        trusted: list[Doc] = inst.get("Trusted") or []
        if style == "TentacleActive":
            previous = next(
                (t for t in trusted if t.get("Address") == address and t.get("Style") == style), None
            )
            subscription = (previous or {}).get("SubscriptionId") or _rand_subscription()
            endpoint: Doc = {"CommunicationStyle": "TentacleActive", "Uri": subscription, "Thumbprint": thumb}
        else:
            subscription = None
            public = (last.get("publicHostName") or str(self.host["Name"])).lower()
            port = (
                _int(last["tentacle-comms-port"])
                if "tentacle-comms-port" in last
                else int(inst.get("Port") or 10933)
            )
            endpoint = {
                "CommunicationStyle": "TentaclePassive",
                "Uri": f"https://{public}:{port}/",
                "Thumbprint": thumb,
                "ProxyId": None,
            }
        endpoint["TentacleVersionDetails"] = {
            "Version": "8.1.0",
            "UpgradeLocked": False,
            "UpgradeSuggested": False,
            "UpgradeRequired": False,
        }
        doc: Doc = {
            "SpaceId": space_id,
            "Name": name,
            "Slug": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
            "Thumbprint": thumb,
            "Uri": endpoint["Uri"],
            "IsDisabled": False,
            "MachinePolicyId": policy_id,
            "Status": "Unknown",
            "HealthStatus": "Unknown",
            "HasLatestCalamari": True,
            "StatusSummary": "",
            "IsInProcess": False,
            "OperatingSystem": "Unknown",
            "ShellName": "Unknown",
            "ShellVersion": "Unknown",
            "Architecture": "Unknown",
            "Endpoint": endpoint,
        }
        if worker:
            doc["WorkerPoolIds"] = [lookup("workerpools", "worker pool", p) for p in opts["workerpool"]]
        else:
            doc["EnvironmentIds"] = [lookup("environments", "environment", e) for e in opts["env"]]
            doc["Roles"] = list(opts["role"])
            doc["TenantIds"] = [lookup("tenants", "tenant", t) for t in opts.get("tenant", [])]
            doc["TenantTags"] = [self._tag(store, space_id, t) for t in opts.get("tenanttag", [])]
            participation = last.get("tenanted-deployment-participation", "Untenanted")
            modes = {m.lower(): m for m in ("Untenanted", "TenantedOrUntenanted", "Tenanted")}
            if participation.lower() not in modes:
                raise _Failure(
                    f"The value '{participation}' is not valid. Valid values are Untenanted, "
                    "TenantedOrUntenanted and Tenanted."
                )
            doc["TenantedDeploymentParticipation"] = modes[participation.lower()]
        store.insert(coll, doc, prefix="Workers" if worker else "Machines")
        # As Tentacle does: the destination joins the trusted servers once registered.
        entry = next(
            (t for t in trusted if t["Thumbprint"] == dest_thumb and t.get("Address") == address), None
        )
        if entry is None:
            entry = {"Thumbprint": dest_thumb}
            trusted.append(entry)
        entry.update(Style=style, Address=address, SubscriptionId=subscription)
        inst["Trusted"] = trusted
        self.out.append("Machine registered successfully")
        self._restart_note()

    @staticmethod
    def _tag(store: Store, space_id: str, canonical: str) -> str:
        set_name, _, tag_name = canonical.partition("/")
        tagset = store.first(
            "tagsets",
            lambda d: d.get("SpaceId") == space_id and str(d.get("Name", "")).lower() == set_name.lower(),
        )
        tags = [str(t.get("Name", "")) for t in (tagset or {}).get("Tags") or []]
        match = next((t for t in tags if t.lower() == tag_name.lower()), None)
        if tagset is None or match is None:
            raise _Failure(f"Could not find the tenant tag {canonical} on the Octopus Server.")
        return f"{tagset['Name']}/{match}"

    def c_service(self, opts: dict[str, list[str]]) -> None:
        wanted = (opts.get("instance") or [""])[-1]
        if wanted == "*":
            if {"install", "uninstall", "reconfigure"} & set(opts):
                raise _Failure("--instance=* can only be used for --start, --stop, and --restart flags")
            targets = self._indexed()
        else:
            targets = [self._select(opts)]
        windows = self.host.get("Os") == "windows"
        for inst in targets:
            label = (
                (
                    "OctopusDeploy Tentacle"
                    if inst["Name"] == DEFAULT_INSTANCE
                    else f"OctopusDeploy Tentacle: {inst['Name']}"
                )
                if windows
                else re.sub(r"\s", "-", inst["Name"].replace("/", ""))
            )
            if "stop" in opts or "uninstall" in opts:
                if inst.get("ServiceRunning"):
                    self.out.append(f"Stopping service {label}")
                inst["ServiceRunning"] = False
            if "uninstall" in opts:
                inst["ServiceInstalled"] = False
                self.out.append(f"Service uninstalled: {label}")
            existed = bool(inst.get("ServiceInstalled"))
            if "install" in opts:
                # An existing service is no error: Windows switches to reconfigure (sc config), Linux
                # rewrites and re-enables the systemd unit (Windows/LinuxServiceConfigurator.cs).
                inst["ServiceInstalled"] = True
                self.out.append("Service installed" if windows else f"Service installed: {label}")
                if windows and existed:
                    self.out.append("Service reconfigured")
            if "reconfigure" in opts:
                if windows:
                    self.out.append(
                        "Service reconfigured"
                        if inst.get("ServiceInstalled")
                        else "[SC] OpenService FAILED 1060: The specified service does not exist as an "
                        "installed service."
                    )
                else:  # stop, disable, rewrite the unit, enable
                    inst["ServiceRunning"] = False
                    inst["ServiceInstalled"] = True
                    self.out.append(f"Service installed: {label}")
            if "start" in opts or "restart" in opts:
                if not inst.get("ServiceInstalled"):
                    raise _Failure(
                        f"Start requested for service {label}, but no service with this name was found."
                    )
                if not inst.get("Thumbprint"):
                    raise _Failure(f"The service {label} could not start: the instance has no certificate.")
                running = bool(inst.get("ServiceRunning"))
                inst["ServiceRunning"] = True
                if not (windows and running and "restart" not in opts):  # Windows: a running one is left
                    self.out.append("Service started" if windows else f"Service started: {label}")

    def c_show_thumbprint(self, opts: dict[str, list[str]]) -> None:
        inst = self._select(opts)
        fmt = (opts.get("format") or ["text"])[-1]
        if fmt.lower() not in ("text", "json"):
            raise _Failure(f"The format '{fmt}' is not supported. Try text or json.")
        thumb = inst.get("Thumbprint")
        self.out.append(
            json.dumps({"Thumbprint": thumb}, separators=(",", ":"))
            if fmt.lower() == "json"
            else str(thumb or "")
        )

    def c_show_configuration(self, opts: dict[str, list[str]]) -> None:
        inst = self._select(opts)
        body = {
            "Octopus": {"Home": inst.get("Home")},
            "Tentacle": {
                "CertificateThumbprint": inst.get("Thumbprint") or "",
                "Communication": {
                    "TrustedOctopusServers": [
                        {
                            "Thumbprint": t.get("Thumbprint"),
                            "CommunicationStyle": {"TentaclePassive": 1, "TentacleActive": 2}.get(
                                str(t.get("Style")), 0
                            ),
                            "Address": t.get("Address"),
                            "Squid": None,
                            "SubscriptionId": t.get("SubscriptionId"),
                        }
                        for t in inst.get("Trusted") or []
                    ]
                },
                "Deployment": {"ApplicationDirectory": inst.get("AppDir")},
                "Services": {
                    "ListenIP": inst.get("ListenIp"),
                    "NoListen": bool(inst.get("NoListen")),
                    "PortNumber": inst.get("Port"),
                },
            },
        }
        self.out += json.dumps(body, indent=2).splitlines()


def _style(value: str, example: str) -> str:
    for style in TENTACLE_STYLES:
        if value.lower() == style.lower():
            return style
    raise _Failure(f"Please specify a valid communications style, e.g. {example}")


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _Failure("Input string was not in a correct format.") from None
