"""Connectivity for Octopus Cloud: evidence measured from this machine, not advice.

The migration guide asks for three things before a migration starts: Tentacles must reach the Cloud
instance (443 outbound to register, 10943 outbound for polling Tentacles, 10933 inbound for listening
ones), Octopus Cloud must reach the external package feeds, and each data centre should prove it with a
test Tentacle registered on the Cloud instance. This module turns that into evidence:

* **Probes** (:func:`probe_destination`, :func:`probe_feeds`, :func:`probe_listening_tentacles`) run real
  DNS lookups (``loop.getaddrinfo``), real TCP connects (``asyncio.open_connection``) and real HTTP
  requests (httpx) *from the machine octowiz runs on*, with short timeouts and bounded concurrency. Every
  :class:`ProbeResult` says what was probed, the outcome, a sentence, when, and from which host: a probe
  from here shows what this machine sees, which is not what a Tentacle in another data centre or Octopus
  Cloud sees, and the result says so rather than pretending otherwise.
* **Data centres** (:func:`suggest_data_centres`) group targets and workers by address so the team can
  run a probe *inside* each one: :func:`bash_probe` and :func:`powershell_probe` produce scripts that need
  no secrets and check what the data centre's Tentacles need, by the guide's per-mode firewall rules:
  outbound TCP 443 (registration) for every Tentacle, outbound 10943 where Tentacles poll. Listening
  Tentacles also need 10933 *inbound* from Cloud, which no script inside the data centre can test: the
  script says so (a ``NOTE`` line) rather than fail. They print PASS/FAIL per port.
* **Verification** (:func:`data_centre_verified`) applies the guide's recommendation: a data centre counts
  as verified when its test Tentacle, a destination target or worker named (or a target tagged)
  ``octowiz-probe-<slug>``, is ``Healthy`` on the Cloud instance in the communication mode the data
  centre's Tentacles use: a healthy polling probe proves nothing about inbound 10933, nor a listening one
  about outbound 10943.

Everything lands in a :class:`ConnectivityReport`, a plain JSON-ready dataclass the journal can store.

The resolver and connector parameters are seams for *selecting targets* (a test maps a reserved name to a
loopback listener): the defaults are the real system resolver and the real TCP connect, and the code that
interprets their outcomes is the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import re
import socket
import ssl
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from octowiz.octopus.models import (
    CommunicationStyle,
    Feed,
    ListeningTentacleEndpoint,
    Machine,
    MachineBase,
    SshEndpoint,
    Worker,
)

# ---------------------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------------------

OK = "ok"
FAILED = "failed"
#: Nothing was measured (the name did not resolve, the feed has no URL); the sentence says why.
SKIPPED = "skipped"
OUTCOMES = (OK, FAILED, SKIPPED)

HTTPS_PORT = 443
POLLING_PORT = 10943
LISTENING_PORT = 10933

DEFAULT_TIMEOUT = 3.0
DEFAULT_HTTP_TIMEOUT = 5.0
DEFAULT_CONCURRENCY = 16
#: How long a generated probe script waits for each connection.
SCRIPT_TIMEOUT_SECONDS = 5

#: A destination machine with this name, or this role, plus a data centre's slug is its test Tentacle.
PROBE_MARKER_PREFIX = "octowiz-probe-"

#: Feeds that live inside Octopus and migrate with it: nothing external to reach.
BUILT_IN_FEED_TYPES = frozenset({"BuiltIn", "OctopusProject"})
BUILT_IN_FEED_IDS = frozenset({"feeds-builtin", "feeds-builtin-releases"})

_REGISTRATION = "Tentacle registration, HTTPS"
#: Tentacle communication modes, in the order octowiz names them.
POLLING_MODE = "polling"
LISTENING_MODE = "listening"
MODES = (POLLING_MODE, LISTENING_MODE)
_POLLING = "polling Tentacle communication"
_LISTENING = "listening Tentacle communication"

#: Styles of machines that live in a data centre the team runs (what Octopus Cloud must reach, or be
#: reached from). Cloud regions, Azure web apps, offline drops and step packages have no such place.
_DATA_CENTRE_STYLES = frozenset(
    {
        CommunicationStyle.TENTACLE_PASSIVE,
        CommunicationStyle.TENTACLE_ACTIVE,
        CommunicationStyle.SSH,
        CommunicationStyle.KUBERNETES_TENTACLE,
    }
)
#: The communication mode each style's firewall rules follow: the Kubernetes agent polls like a Tentacle.
_STYLE_MODES = {
    CommunicationStyle.TENTACLE_ACTIVE.value: POLLING_MODE,
    CommunicationStyle.KUBERNETES_TENTACLE.value: POLLING_MODE,
    CommunicationStyle.TENTACLE_PASSIVE.value: LISTENING_MODE,
}
#: What a test Tentacle must be registered as to prove a mode, and what it proves.
_PROBE_STYLES = {
    POLLING_MODE: CommunicationStyle.TENTACLE_ACTIVE.value,
    LISTENING_MODE: CommunicationStyle.TENTACLE_PASSIVE.value,
}
_PROVES = {
    POLLING_MODE: f"outbound TCP {POLLING_PORT} to Octopus Cloud",
    LISTENING_MODE: f"inbound TCP {LISTENING_PORT} from Octopus Cloud",
}
#: Styles that connect out to Octopus and so have no address Octopus knows.
_UNADDRESSED_STYLES = frozenset({CommunicationStyle.TENTACLE_ACTIVE, CommunicationStyle.KUBERNETES_TENTACLE})
#: Top-level domains that only exist inside an organisation.
_PRIVATE_TLDS = frozenset({"local", "lan", "internal", "intranet", "corp", "home", "localdomain", "private"})

_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")

# ---------------------------------------------------------------------------------------------------------
# Seams
# ---------------------------------------------------------------------------------------------------------

#: ``(host, port) -> getaddrinfo 5-tuples``; the default is the event loop's ``getaddrinfo``.
Resolver = Callable[[str, int], Awaitable[Sequence[tuple[Any, ...]]]]
#: ``(address, port) -> streams``; the default is :func:`asyncio.open_connection`.
Connector = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def system_resolver(host: str, port: int) -> Sequence[tuple[Any, ...]]:
    """Resolve ``host`` with the system resolver, off the event loop (``loop.getaddrinfo``).

    Args:
        host: a name or an address literal.
        port: the port the addresses are for.

    Returns:
        ``getaddrinfo`` 5-tuples for stream sockets.

    Raises:
        socket.gaierror: the name does not resolve.
    """
    loop = asyncio.get_running_loop()
    return await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)


async def system_connector(address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a real TCP connection (:func:`asyncio.open_connection`)."""
    return await asyncio.open_connection(address, port)


# ---------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------


def utc_now() -> str:
    """The current UTC time as ISO 8601 to the second (``2026-05-01T09:30:00+00:00``)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class ProbeResult:
    """One measurement made from this machine.

    Attributes:
        check: ``dns``, ``tcp`` or ``http``.
        subject: what it is about, for a person (``the destination``, ``feed 'Artifactory' (Feeds-2)``).
        target: exactly what was probed (``acme.octopus.app``, ``acme.octopus.app:10943``, a URL).
        outcome: ``ok``, ``failed``, or ``skipped`` when nothing could be measured.
        sentence: what was seen, in one sentence.
        measured_at: when, UTC ISO 8601.
        measured_from: the host name of the machine that measured it.
        subject_id: the Octopus id of the subject (``Feeds-2``, ``Machines-3``), empty for the destination.
        elapsed_ms: how long the measurement took.
    """

    check: str
    subject: str
    target: str
    outcome: str
    sentence: str
    measured_at: str
    measured_from: str
    subject_id: str = ""
    elapsed_ms: int | None = None

    @property
    def ok(self) -> bool:
        """True when the probe succeeded."""
        return self.outcome == OK

    @property
    def provenance(self) -> str:
        """``measured from <host> at <time>``: where this evidence comes from."""
        return f"measured from {self.measured_from} at {self.measured_at}"

    def evidence(self) -> str:
        """The sentence with its provenance, as a report shows it."""
        return f"{self.sentence} ({self.provenance})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeResult:
        """The inverse of :meth:`to_dict`."""
        return cls(**data)


@dataclass
class _Runner:
    """What every probe of one run shares: who measures, how long to wait, how many at once."""

    host_name: str
    timeout: float
    resolver: Resolver
    connector: Connector
    semaphore: asyncio.Semaphore

    @classmethod
    def make(
        cls,
        *,
        timeout: float,
        concurrency: int,
        resolver: Resolver | None,
        connector: Connector | None,
        measured_from: str | None,
    ) -> _Runner:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        return cls(
            host_name=measured_from or socket.gethostname(),
            timeout=timeout,
            resolver=resolver or system_resolver,
            connector=connector or system_connector,
            semaphore=asyncio.Semaphore(concurrency),
        )

    def result(
        self,
        check: str,
        subject: str,
        target: str,
        outcome: str,
        sentence: str,
        *,
        subject_id: str = "",
        started: float | None = None,
    ) -> ProbeResult:
        elapsed = None if started is None else round((time.perf_counter() - started) * 1000)
        return ProbeResult(
            check, subject, target, outcome, sentence, utc_now(), self.host_name, subject_id, elapsed
        )

    async def resolve(self, host: str, port: int) -> list[str] | str:
        """The addresses of ``host`` (unique, in resolver order), or a sentence fragment saying why not."""
        try:
            async with self.semaphore, asyncio.timeout(self.timeout):
                infos = await self.resolver(host, port)
        except socket.gaierror as exc:
            return f"does not resolve ({exc.strerror or exc})"
        except TimeoutError:
            return f"did not resolve within {_seconds(self.timeout)}"
        except OSError as exc:
            return f"could not be resolved ({exc.strerror or exc})"
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        return addresses or "resolved to no address"

    async def connect(self, addresses: Sequence[str], port: int) -> tuple[str, str | None]:
        """Try each address in turn; return ``(address, None)`` on success or ``(address, why)``."""
        why = "no address to connect to"
        address = ""
        for address in addresses:
            try:
                async with self.semaphore, asyncio.timeout(self.timeout):
                    _, writer = await self.connector(address, port)
            except TimeoutError:
                why = f"got no answer within {_seconds(self.timeout)} (a firewall may be dropping it)"
            except ConnectionRefusedError:
                why = "was refused (nothing listens there, or a firewall rejects it)"
            except OSError as exc:
                why = f"failed: {exc.strerror or exc}"
            else:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return address, None
        return address, why


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _address_note(address: str) -> str:
    """``, a private address Octopus Cloud cannot reach`` when the address is not on the internet."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return ""
    if ip.is_loopback:
        kind = "a loopback address"
    elif ip.is_link_local:
        kind = "a link-local address"
    elif ip.is_private:
        kind = "a private address"
    else:
        return ""
    return f"; {address} is {kind}, which Octopus Cloud cannot reach over the internet"


def _host_port(url: str, default_port: int | None = None) -> tuple[str, int]:
    """The host and port of an http(s) URL (the scheme's port when none is written).

    Raises:
        ValueError: not an http(s) URL with a host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL with a host name")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} has an invalid port") from exc
    if port is None:
        port = default_port or (HTTPS_PORT if parts.scheme.lower() == "https" else 80)
    return parts.hostname, port


# ---------------------------------------------------------------------------------------------------------
# Probes
# ---------------------------------------------------------------------------------------------------------


async def probe_destination(
    url: str,
    *,
    https_port: int | None = None,
    polling_port: int = POLLING_PORT,
    timeout: float = DEFAULT_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    resolver: Resolver | None = None,
    connector: Connector | None = None,
    measured_from: str | None = None,
) -> list[ProbeResult]:
    """Resolve the destination's host and open TCP to its HTTPS and polling ports, from this machine.

    Args:
        url: the Octopus Cloud instance URL.
        https_port: the registration (HTTPS) port; default the URL's port, 443 for https.
        polling_port: the port polling Tentacles connect to (10943).
        timeout: seconds to wait for each lookup and each connect.
        concurrency: how many lookups and connects may run at once.
        resolver: selects addresses (default: the system resolver, ``loop.getaddrinfo``).
        connector: opens connections (default: :func:`asyncio.open_connection`).
        measured_from: the host name recorded in the results (default: this machine's).

    Returns:
        Three results, each separate: DNS, TCP to the HTTPS port, TCP to the polling port.

    Raises:
        ValueError: ``url`` is not an http(s) URL.
    """
    runner = _Runner.make(
        timeout=timeout,
        concurrency=concurrency,
        resolver=resolver,
        connector=connector,
        measured_from=measured_from,
    )
    return await _destination(runner, url, https_port, polling_port)


async def _destination(
    runner: _Runner, url: str, https_port: int | None, polling_port: int
) -> list[ProbeResult]:
    host, url_port = _host_port(url)
    port = https_port or url_port
    subject = "the destination"
    started = time.perf_counter()
    addresses = await runner.resolve(host, port)
    dns = partial(runner.result, "dns", subject, host, started=started)
    if isinstance(addresses, str):
        first = dns(FAILED, f"{host} {addresses}.")
    else:
        first = dns(OK, f"{host} resolves to {', '.join(addresses)}.")

    async def tcp(p: int, purpose: str) -> ProbeResult:
        result = partial(runner.result, "tcp", subject, f"{host}:{p}")
        what = f"TCP {p} ({purpose}) to {host}"
        if isinstance(addresses, str):
            return result(SKIPPED, f"{what} was not tried: {host} {addresses}.")
        began = time.perf_counter()
        address, why = await runner.connect(addresses, p)
        if why is None:
            return result(OK, f"{what} is open: connected to {address}.", started=began)
        return result(FAILED, f"{what} ({address}) {why}.", started=began)

    rest = await asyncio.gather(tcp(port, _REGISTRATION), tcp(polling_port, _POLLING))
    return [first, *rest]


def is_built_in_feed(feed: Feed) -> bool:
    """True for the built-in package and release feeds, which move with the instance."""
    return feed.feed_type in BUILT_IN_FEED_TYPES or (feed.id or "").lower() in BUILT_IN_FEED_IDS


def _feed_subject(feed: Feed) -> str:
    return f"feed '{feed.name or feed.id}' ({feed.id})" if feed.id else f"feed '{feed.name}'"


async def probe_feeds(
    feeds: Iterable[Feed],
    *,
    timeout: float = DEFAULT_HTTP_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    resolver: Resolver | None = None,
    trust_env: bool = False,
    measured_from: str | None = None,
) -> list[ProbeResult]:
    """Check that each external feed's ``FeedUri`` answers HTTP, from this machine.

    Any HTTP answer (a 401 or a 404 too) means the feed is reachable; a failed lookup, a refused or
    timed-out connection, a failed TLS handshake or silence means it is not. No credentials are sent and
    redirects are not followed. Built-in feeds are skipped (no result); an external feed without an
    http(s) ``FeedUri`` (S3, ECR, a file share) gets a ``skipped`` result saying so. A result from here
    shows the feed is up and reachable from this machine; the sentence adds when its address is one
    Octopus Cloud cannot reach.

    Args:
        feeds: the source's feeds.
        timeout: seconds for the lookup, the connect and the answer, each.
        concurrency: how many feeds are probed at once.
        resolver: looks the host up first, to tell a DNS failure apart (default: ``loop.getaddrinfo``).
        trust_env: let httpx use the proxy settings of the environment (off: probe directly).
        measured_from: the host name recorded in the results (default: this machine's).

    Returns:
        One result per external feed, in the order given.
    """
    runner = _Runner.make(
        timeout=timeout,
        concurrency=concurrency,
        resolver=resolver,
        connector=None,
        measured_from=measured_from,
    )
    return await _feeds(runner, feeds, trust_env)


async def _feeds(
    runner: _Runner,
    feeds: Iterable[Feed],
    trust_env: bool,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> list[ProbeResult]:
    external = [f for f in feeds if not is_built_in_feed(f)]
    if not external:
        return []
    async with httpx.AsyncClient(
        transport=http_transport,
        timeout=httpx.Timeout(runner.timeout),
        follow_redirects=False,
        trust_env=trust_env,
        headers={"User-Agent": "octowiz-connectivity-probe"},
    ) as client:
        return list(await asyncio.gather(*(_feed(runner, client, f) for f in external)))


async def _feed(runner: _Runner, client: httpx.AsyncClient, feed: Feed) -> ProbeResult:
    subject = _feed_subject(feed)
    uri = (feed.feed_uri or "").strip()
    result = partial(runner.result, "http", subject, uri, subject_id=feed.id or "")
    if not uri:
        return result(
            SKIPPED, f"The {subject} ({feed.feed_type}) has no FeedUri: there is no URL to probe from here."
        )
    try:
        host, port = _host_port(uri)
    except ValueError:
        return result(
            SKIPPED,
            f"The {subject} has FeedUri {uri}, which is not an http(s) URL: nothing can be probed over HTTP, "
            "and Octopus Cloud cannot read a path on this network.",
        )
    started = time.perf_counter()
    addresses = await runner.resolve(host, port)
    if isinstance(addresses, str):
        return result(FAILED, f"The {subject} is unreachable: {host} {addresses}.", started=started)
    note = _address_note(addresses[0])
    try:
        async with runner.semaphore, client.stream("GET", uri) as response:
            status, reason = response.status_code, response.reason_phrase
    except httpx.HTTPError as exc:
        why = _http_failure(exc, runner.timeout)
        return result(FAILED, f"The {subject} at {uri} {why}{note}.", started=started)
    answer = f"HTTP {status} {reason}".rstrip()
    return result(OK, f"The {subject} at {uri} answered {answer}{note}.", started=started)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _http_failure(exc: httpx.HTTPError, timeout: float) -> str:
    """What went wrong, as the end of a sentence (``was refused``, ``gave no HTTP answer within 5 s``)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"did not accept a connection within {_seconds(timeout)} (a firewall may be dropping it)"
    if isinstance(exc, httpx.TimeoutException):
        return f"accepted the connection but gave no HTTP answer within {_seconds(timeout)}"
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLError):
            return f"failed the TLS handshake ({getattr(cause, 'reason', None) or cause})"
        if isinstance(cause, ConnectionRefusedError):
            return "refused the connection (nothing listens there, or a firewall rejects it)"
        if isinstance(cause, socket.gaierror):
            return f"does not resolve ({cause.strerror or cause})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"did not answer HTTP ({exc})"
    return f"could not be reached ({type(exc).__name__}: {exc})"


def _listening_uri(machine: MachineBase) -> str | None:
    endpoint = machine.endpoint
    if isinstance(endpoint, ListeningTentacleEndpoint):
        return endpoint.uri or machine.uri
    return None


def _machine_subject(machine: MachineBase) -> str:
    kind = "worker" if isinstance(machine, Worker) else "target"
    return f"listening Tentacle {kind} '{machine.name}' ({machine.id})"


async def probe_listening_tentacles(
    machines: Iterable[MachineBase],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    resolver: Resolver | None = None,
    connector: Connector | None = None,
    measured_from: str | None = None,
) -> list[ProbeResult]:
    """Open TCP to each listening Tentacle's host and port (from its ``Uri``), from this machine.

    Octopus Cloud connects *in* to listening Tentacles, so this only shows what this machine can reach;
    the sentence adds when the address is one Octopus Cloud cannot reach at all. Other machines (polling,
    SSH, cloud targets) are ignored. Optional: :func:`measure_connectivity` runs it only when asked.

    Args:
        machines: deployment targets and workers, any mix.
        timeout: seconds to wait for each lookup and each connect.
        concurrency: how many lookups and connects may run at once.
        resolver: selects addresses (default: ``loop.getaddrinfo``).
        connector: opens connections (default: :func:`asyncio.open_connection`).
        measured_from: the host name recorded in the results (default: this machine's).

    Returns:
        One ``tcp`` result per listening Tentacle, in the order given.
    """
    runner = _Runner.make(
        timeout=timeout,
        concurrency=concurrency,
        resolver=resolver,
        connector=connector,
        measured_from=measured_from,
    )
    return await _listening(runner, machines)


async def _listening(runner: _Runner, machines: Iterable[MachineBase]) -> list[ProbeResult]:
    async def one(machine: MachineBase, uri: str) -> ProbeResult:
        subject, mid = _machine_subject(machine), machine.id or ""
        try:
            host, port = _host_port(uri, LISTENING_PORT)
        except ValueError:
            unread = partial(runner.result, "tcp", subject, uri, subject_id=mid)
            return unread(SKIPPED, f"The {subject} has Uri {uri!r}, which octowiz cannot read.")
        result = partial(runner.result, "tcp", subject, f"{host}:{port}", subject_id=mid)
        started = time.perf_counter()
        addresses = await runner.resolve(host, port)
        if isinstance(addresses, str):
            return result(FAILED, f"The {subject} is unreachable: {host} {addresses}.", started=started)
        address, why = await runner.connect(addresses, port)
        what = f"TCP {port} ({_LISTENING}) to the {subject} at {host}"
        note = _address_note(address)
        if why is None:
            return result(OK, f"{what} is open: connected to {address}{note}.", started=started)
        return result(FAILED, f"{what} ({address}) {why}{note}.", started=started)

    jobs = [(m, uri) for m in machines if (uri := _listening_uri(m))]
    return list(await asyncio.gather(*(one(m, uri) for m, uri in jobs)))


# ---------------------------------------------------------------------------------------------------------
# Data centres
# ---------------------------------------------------------------------------------------------------------


def slugify(name: str) -> str:
    """A lower-case ``a-z0-9-`` slug of a name (``Zürich DC`` gives ``zurich-dc``); never empty."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug or "data-centre"


@dataclass
class DataCentre:
    """A place where targets and workers live, as octowiz suggests it and the team adjusts it.

    Attributes:
        name: a readable name; the team may rename it (the slug follows the name).
        machine_ids: the targets and workers in it.
        hosts: their addresses (empty for polling Tentacles, which have none).
        basis: why these were grouped (``same private network 10.1.0.0/16``).
        modes: the communication modes its Tentacles use (``polling``, ``listening``, in that order);
            empty when none of its machines is a Tentacle (SSH only) or nothing says (a hand-made one).
            The probe scripts and the verification follow them.
    """

    name: str
    machine_ids: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    basis: str = ""
    modes: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        """The slug of the name: probe script file names and the test-Tentacle marker use it."""
        return slugify(self.name)

    @property
    def probe_marker(self) -> str:
        """``octowiz-probe-<slug>``: the name or role of this data centre's test Tentacle."""
        return PROBE_MARKER_PREFIX + self.slug

    def renamed(self, name: str) -> DataCentre:
        """The same data centre under another name."""
        return DataCentre(name, list(self.machine_ids), list(self.hosts), self.basis, list(self.modes))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataCentre:
        """The inverse of :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            machine_ids=list(data.get("machine_ids", [])),
            hosts=list(data.get("hosts", [])),
            basis=str(data.get("basis", "")),
            modes=[str(mode) for mode in data.get("modes", [])],
        )


def merge_data_centres(name: str, *data_centres: DataCentre) -> DataCentre:
    """One data centre holding the machines and hosts of several (the team knows they are one place).

    Args:
        name: the merged data centre's name.
        data_centres: the ones to merge, in order.
    """
    machine_ids = list(dict.fromkeys(mid for dc in data_centres for mid in dc.machine_ids))
    hosts = list(dict.fromkeys(h for dc in data_centres for h in dc.hosts))
    basis = "merged: " + "; ".join(dc.name for dc in data_centres)
    return DataCentre(
        name, machine_ids, hosts, basis, _ordered_modes(m for dc in data_centres for m in dc.modes)
    )


def _ordered_modes(modes: Iterable[str]) -> list[str]:
    seen = set(modes)
    return [mode for mode in MODES if mode in seen]


def tentacle_mode(machine: MachineBase) -> str | None:
    """``polling`` or ``listening`` for a Tentacle (a Kubernetes agent polls), None for anything else."""
    return _STYLE_MODES.get(machine.communication_style or "")


def machine_host(machine: MachineBase) -> str | None:
    """The host name or address Octopus uses to reach a machine, or None (polling, cloud targets)."""
    endpoint = machine.endpoint
    uri: str | None = None
    if isinstance(endpoint, SshEndpoint):
        if endpoint.host:
            return endpoint.host.strip().lower().rstrip(".") or None
        uri = endpoint.uri
    elif isinstance(endpoint, ListeningTentacleEndpoint):
        uri = endpoint.uri or machine.uri
    elif endpoint is None:
        uri = machine.uri
    if not uri:
        return None
    host = urlsplit(uri.strip()).hostname
    if not host or urlsplit(uri.strip()).scheme.lower() == "poll":
        return None
    return host.lower().rstrip(".")


def _address_group(host: str) -> tuple[str, str, str]:
    """``(key, readable name, basis)`` of the group an address or host name falls in."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        labels = host.split(".")
        if len(labels) == 1:
            return ("short", "Short host names", "unqualified names, resolved by the Octopus Server's DNS")
        # a.b.example.com -> b.example.com; web01.corp -> corp; but example.com stays example.com
        suffix = ".".join(labels[1:]) if len(labels) >= 3 or labels[-1] in _PRIVATE_TLDS else host
        return (f"dns:{suffix}", suffix, f"same DNS domain {suffix}")
    private = ip.is_private or ip.is_loopback or ip.is_link_local
    prefix = (16 if private else 24) if ip.version == 4 else 48
    network = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    if private:
        return (f"net:{network}", f"Private network {network}", f"same private network {network}")
    return (f"net:{network}", f"Network {network}", f"same public network {network}")


def _names(ids: Iterable[str], names: Mapping[str, str]) -> list[str]:
    return sorted({names.get(i, i) for i in ids}, key=str.lower)


def _unaddressed_group(machine: MachineBase, names: Mapping[str, str]) -> tuple[str, str, str]:
    """Polling machines have no address: group targets by environments (or roles), workers by pools."""
    if isinstance(machine, Worker):
        pools = _names(machine.worker_pool_ids or [], names)
        if pools:
            joined = " + ".join(pools)
            return (f"pools:{joined}", f"Polling workers: {joined}", f"polling workers in pools {joined}")
    if isinstance(machine, Machine):
        envs = _names(machine.environment_ids or [], names)
        if envs:
            joined = " + ".join(envs)
            return (f"envs:{joined}", f"Polling: {joined}", f"polling targets in environments {joined}")
        roles = sorted(set(machine.roles or []), key=str.lower)
        if roles:
            joined = " + ".join(roles)
            return (f"roles:{joined}", f"Polling: roles {joined}", f"polling targets with roles {joined}")
    return ("polling", "Polling: unplaced", "polling machines with no environment, pool or role")


def suggest_data_centres(
    machines: Iterable[MachineBase], names: Mapping[str, str] | None = None
) -> list[DataCentre]:
    """Suggest data centres from the addresses of targets and workers.

    Addresses on the same private IPv4 /16 (public /24, IPv6 /48) go together, host names with the same
    DNS domain suffix go together (``web01.omaha.example.com`` and ``db01.omaha.example.com``), and
    polling Tentacles, which have no address, go together by environment (targets; roles when they have
    none) or worker pool (workers). Cloud regions, Azure and other machines without a data centre of
    their own are left out. Each data centre records the modes its Tentacles use
    (:attr:`DataCentre.modes`). The result is plain data: rename with :meth:`DataCentre.renamed`, merge
    with :func:`merge_data_centres`.

    Args:
        machines: deployment targets and workers, any mix.
        names: environment and worker pool names by id, for readable names (ids are used otherwise).

    Returns:
        Data centres with addresses first, then polling groups, each sorted by name.
    """
    names = names or {}
    groups: dict[str, DataCentre] = {}
    order: dict[str, int] = {}
    for machine in machines:
        style = machine.communication_style
        host = machine_host(machine)
        if style not in _DATA_CENTRE_STYLES and not (style is None and host):
            continue
        if host and style not in _UNADDRESSED_STYLES:
            key, name, basis = _address_group(host)
            rank = 0
        else:
            key, name, basis = _unaddressed_group(machine, names)
            rank = 1
        dc = groups.setdefault(key, DataCentre(name, basis=basis))
        order[key] = rank
        dc.machine_ids.append(machine.id or machine.name or "?")
        if (mode := tentacle_mode(machine)) is not None:
            dc.modes = _ordered_modes([*dc.modes, mode])
        if host and host not in dc.hosts:
            dc.hosts.append(host)
    result = sorted(groups.items(), key=lambda kv: (order[kv[0]], kv[1].name.lower()))
    for _, dc in result:
        dc.hosts.sort()
    seen: dict[str, int] = {}
    unique: list[DataCentre] = []
    for _, dc in result:
        count = seen[dc.slug] = seen.get(dc.slug, 0) + 1
        unique.append(dc if count == 1 else dc.renamed(f"{dc.name} ({count})"))
    return unique


# ---------------------------------------------------------------------------------------------------------
# Probe scripts
# ---------------------------------------------------------------------------------------------------------


def _script_host(destination_url: str) -> str:
    """The destination's host, validated so it can sit in a script (no user info, query or secrets)."""
    host, _ = _host_port(destination_url)
    if _HOST_RE.match(host):
        return host
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"{host!r} is not a host name octowiz can put in a script") from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _bash_dns() -> list[str]:
    """The DNS check of the bash probe (``getent``, where the system has it)."""
    return [
        "if command -v getent >/dev/null 2>&1; then",
        '  read -r address _ < <(getent hosts "$destination_host")',
        '  if [ -n "${address:-}" ]; then',
        '    echo "PASS  DNS ${destination_host} resolves to ${address}"',
        "  else",
        '    echo "FAIL  DNS ${destination_host} does not resolve"',
        "    failures=$((failures + 1))",
        "  fi",
        "fi",
    ]


def _powershell_dns() -> list[str]:
    """The DNS check of the PowerShell probe."""
    return [
        "try {",
        "    $Addresses = [System.Net.Dns]::GetHostAddresses($DestinationHost)",
        '    Write-Output "PASS  DNS ${DestinationHost} resolves to $($Addresses[0].IPAddressToString)"',
        "} catch {",
        "    $Why = $_.Exception.GetBaseException().Message",
        '    Write-Output "FAIL  DNS ${DestinationHost} does not resolve: ${Why}"',
        "    $Failures++",
        "}",
    ]


def _polls(data_centre: DataCentre) -> bool:
    """Whether the data centre's scripts check the polling port: polling Tentacles, or no mode known."""
    return POLLING_MODE in data_centre.modes or not data_centre.modes


def _script_ports(
    destination_url: str, data_centre: DataCentre, https_port: int | None, polling_port: int
) -> list[tuple[int, str]]:
    """The outbound checks, by the guide's firewall rules: 443 for every Tentacle, 10943 for polling ones."""
    _, url_port = _host_port(destination_url)
    ports = [(https_port or url_port, _REGISTRATION)]
    if _polls(data_centre):
        ports.append((polling_port, _POLLING))
    for port, _ in ports:
        if not 0 < port < 65536:
            raise ValueError(f"{port} is not a TCP port")
    return ports


def _one_line(text: str) -> str:
    """The text with control characters (newlines) turned into spaces, for comments and strings."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _sh_literal_note(text: str) -> list[str]:
    """A shellcheck directive for a single-quoted literal that looks like an expansion or a typo."""
    if re.search(r"[$`]|[^\x20-\x7e]", text):
        return ["# shellcheck disable=SC1112,SC2016  # the data centre's name, literally"]
    return []


def _ps_quote(text: str) -> str:
    # PowerShell also ends a single-quoted string at typographic single quotes; doubling escapes each.
    return "'" + re.sub(r"(['\u2018\u2019\u201a\u201b])", r"\1\1", text) + "'"


def _inbound_note(data_centre: DataCentre) -> str | None:
    """The ``NOTE`` line for listening Tentacles' inbound port, which no script inside can test."""
    if LISTENING_MODE not in data_centre.modes:
        return None
    return (
        f"NOTE  TCP {LISTENING_PORT} inbound from Octopus Cloud ({_LISTENING}) cannot be tested from inside "
        f"the data centre: allow it in the firewall; a listening test Tentacle named "
        f"{data_centre.probe_marker} that Octopus Cloud reports Healthy proves it"
    )


def _header(
    comment: str, data_centre: DataCentre, host: str, ports: list[tuple[int, str]], timeout: int
) -> list[str]:
    width = max(len(str(p)) for p, _ in ports) + 2
    modes = data_centre.modes
    lines = [
        f"{comment} octowiz connectivity probe for data centre: {_one_line(data_centre.name)}",
        f"{comment}",
        f"{comment} Run it on a machine in that data centre. It checks that the machine resolves the Octopus",
        f"{comment} Cloud instance {host} and can open outbound TCP connections to it:",
    ]
    lines += [f"{comment}   {str(p).ljust(width)}{purpose}" for p, purpose in ports]
    if not modes:
        lines += [
            f"{comment} No Tentacle in this data centre says which mode it will use, so it checks what",
            f"{comment} polling Tentacles need (listening ones: 443 outbound, {LISTENING_PORT} inbound).",
        ]
    elif LISTENING_MODE in modes:
        kind = "Some of its Tentacles listen" if POLLING_MODE in modes else "Its Tentacles listen"
        lines += [
            f"{comment} {kind}: Octopus Cloud must also reach them on TCP {LISTENING_PORT} inbound,",
            f"{comment} which no script inside the data centre can test; it prints a NOTE for it, and a",
            f"{comment} listening test Tentacle named {data_centre.probe_marker}, Healthy on Octopus Cloud,",
            f"{comment} proves it.",
        ]
    lines += [
        f"{comment} Each check waits at most {timeout} seconds. It needs no credentials, sends no data and",
        f"{comment} changes nothing. It prints PASS or FAIL per check; the exit code is 0 when every check",
        f"{comment} passes and 1 when any fails.",
    ]
    return lines


def bash_probe(
    destination_url: str,
    data_centre: DataCentre,
    *,
    https_port: int | None = None,
    polling_port: int = POLLING_PORT,
    timeout_seconds: int = SCRIPT_TIMEOUT_SECONDS,
) -> str:
    """A bash script that checks outbound TCP to the destination from a machine in ``data_centre``.

    The checks follow the data centre's Tentacle modes (:attr:`DataCentre.modes`): 443 always, 10943 when
    Tentacles poll (or no mode is known), and for listening Tentacles a ``NOTE`` line about 10933 inbound,
    which cannot be tested from inside and never fails the script.

    It uses ``timeout`` with bash's ``/dev/tcp``, falls back to ``nc -z`` where ``timeout`` is missing
    (macOS), and to a plain ``/dev/tcp`` connect without either. Only the destination's host goes into
    the script: user info, paths and queries of the URL are dropped.

    Args:
        destination_url: the Octopus Cloud instance URL.
        data_centre: where the script will run (named in its output), with its Tentacles' modes.
        https_port: the registration port; default the URL's port, 443 for https.
        polling_port: the polling Tentacle port (10943), checked only where Tentacles poll.
        timeout_seconds: how long each connection attempt may take.

    Returns:
        The script text.

    Raises:
        ValueError: the URL has no usable host, or a port is out of range.
    """
    host = _script_host(destination_url)
    ports = _script_ports(destination_url, data_centre, https_port, polling_port)
    name = _one_line(data_centre.name)
    note = _inbound_note(data_centre)
    lines = ["#!/usr/bin/env bash", *_header("#", data_centre, host, ports, timeout_seconds)]
    lines += [
        "set -u",
        "",
        f"destination_host={_sh_quote(host)}",
        *_sh_literal_note(name),
        f"data_centre={_sh_quote(name)}",
        f"timeout_seconds={int(timeout_seconds)}",
        f"ports=({' '.join(str(p) for p, _ in ports)})",
        f"purposes=({' '.join(_sh_quote(purpose) for _, purpose in ports)})",
        "",
        "# Opens a TCP connection to host $1, port $2, and closes it; the status says whether it opened",
        "# (124: timed out).",
        "can_connect() {",
        '  local host="$1" port="$2"',
        "  if command -v timeout >/dev/null 2>&1; then",
        "    # shellcheck disable=SC2016  # $1 and $2 belong to the inner bash",
        '    timeout "$timeout_seconds" bash -c \'exec 3<>"/dev/tcp/$1/$2"\' probe "$host" "$port" \\',
        "      2>/dev/null",
        "  elif command -v nc >/dev/null 2>&1; then",
        '    nc -z -w "$timeout_seconds" "$host" "$port" >/dev/null 2>&1',
        "  else",
        "    # Neither timeout nor nc: bash alone, bounded by the system's connect timeout.",
        '    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null',
        "  fi",
        "}",
        "",
        'measured_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"',
        'echo "octowiz probe for data centre ${data_centre}: ${destination_host},'
        ' measured from ${HOSTNAME:-unknown} at ${measured_at}"',
        "failures=0",
        "",
        *(_bash_dns() if not _is_ip(host) else ['echo "SKIP  DNS ${destination_host} is an IP address"']),
        "",
        'for i in "${!ports[@]}"; do',
        '  port="${ports[$i]}"',
        '  purpose="${purposes[$i]}"',
        '  can_connect "$destination_host" "$port"',
        "  status=$?",
        '  if [ "$status" -eq 0 ]; then',
        '    echo "PASS  TCP ${port} to ${destination_host} (${purpose})"',
        "  else",
        '    if [ "$status" -eq 124 ]; then',
        '      why="no answer within ${timeout_seconds} s"',
        "    else",
        '      why="connection refused or unreachable"',
        "    fi",
        '    echo "FAIL  TCP ${port} to ${destination_host} (${purpose}): ${why}"',
        "    failures=$((failures + 1))",
        "  fi",
        "done",
        *([f"echo {_sh_quote(note)}"] if note else []),
        "",
        'if [ "$failures" -gt 0 ]; then',
        '  echo "RESULT: FAIL (${failures} check(s) failed)"',
        "  exit 1",
        "fi",
        'echo "RESULT: PASS"',
        "exit 0",
    ]
    return "\n".join(lines) + "\n"


def powershell_probe(
    destination_url: str,
    data_centre: DataCentre,
    *,
    https_port: int | None = None,
    polling_port: int = POLLING_PORT,
    timeout_seconds: int = SCRIPT_TIMEOUT_SECONDS,
) -> str:
    """A PowerShell script (Windows PowerShell 5.1 and PowerShell 7) doing what :func:`bash_probe` does.

    It connects with ``System.Net.Sockets.TcpClient`` and a bounded wait (``Test-NetConnection`` has no
    timeout and exists only on Windows).

    Args:
        destination_url: the Octopus Cloud instance URL.
        data_centre: where the script will run (named in its output), with its Tentacles' modes.
        https_port: the registration port; default the URL's port, 443 for https.
        polling_port: the polling Tentacle port (10943), checked only where Tentacles poll.
        timeout_seconds: how long each connection attempt may take.

    Returns:
        The script text.

    Raises:
        ValueError: the URL has no usable host, or a port is out of range.
    """
    host = _script_host(destination_url)
    ports = _script_ports(destination_url, data_centre, https_port, polling_port)
    name = _one_line(data_centre.name)
    note = _inbound_note(data_centre)
    lines = _header("#", data_centre, host, ports, timeout_seconds)
    lines += [
        "$ErrorActionPreference = 'Stop'",
        "",
        f"$DestinationHost = {_ps_quote(host)}",
        f"$DataCentre = {_ps_quote(name)}",
        f"$TimeoutSeconds = {int(timeout_seconds)}",
        "$Checks = @(",
        *(f"    @{{ Port = {p}; Purpose = {_ps_quote(purpose)} }}" for p, purpose in ports),
        ")",
        "",
        "$MeasuredAt = [DateTime]::UtcNow.ToString('o')",
        "$MeasuredFrom = [System.Net.Dns]::GetHostName()",
        'Write-Output "octowiz probe for data centre ${DataCentre}: ${DestinationHost},'
        ' measured from ${MeasuredFrom} at ${MeasuredAt}"',
        "$Failures = 0",
        "",
        *(
            _powershell_dns()
            if not _is_ip(host)
            else ['Write-Output "SKIP  DNS ${DestinationHost} is an IP address"']
        ),
        "",
        "foreach ($Check in $Checks) {",
        '    $Label = "TCP $($Check.Port) to ${DestinationHost} ($($Check.Purpose))"',
        "    $Client = New-Object System.Net.Sockets.TcpClient",
        "    try {",
        "        $Connect = $Client.ConnectAsync($DestinationHost, $Check.Port)",
        "        if ($Connect.Wait($TimeoutSeconds * 1000)) {",
        '            Write-Output "PASS  ${Label}"',
        "        } else {",
        '            Write-Output "FAIL  ${Label}: no answer within ${TimeoutSeconds} s"',
        "            $Failures++",
        "        }",
        "    } catch {",
        '        Write-Output "FAIL  ${Label}: $($_.Exception.GetBaseException().Message)"',
        "        $Failures++",
        "    } finally {",
        "        $Client.Close()",
        "    }",
        "}",
        *([f"Write-Output {_ps_quote(note)}"] if note else []),
        "",
        "if ($Failures -gt 0) {",
        '    Write-Output "RESULT: FAIL (${Failures} check(s) failed)"',
        "    exit 1",
        "}",
        "Write-Output 'RESULT: PASS'",
        "exit 0",
    ]
    return "\n".join(lines) + "\n"


def write_probe_scripts(
    out_dir: Path,
    destination_url: str,
    data_centres: Iterable[DataCentre],
    *,
    https_port: int | None = None,
    polling_port: int = POLLING_PORT,
    timeout_seconds: int = SCRIPT_TIMEOUT_SECONDS,
) -> list[Path]:
    """Write ``probe-<slug>.sh`` (executable) and ``probe-<slug>.ps1`` for each data centre.

    The PowerShell file is written with a UTF-8 byte order mark, so Windows PowerShell 5.1 reads a
    non-ASCII data centre name correctly.

    Args:
        out_dir: where to write; created when missing.
        destination_url: the Octopus Cloud instance URL.
        data_centres: one pair of scripts each.
        https_port: the registration port; default the URL's port, 443 for https.
        polling_port: the polling Tentacle port (10943).
        timeout_seconds: how long each connection attempt may take.

    Returns:
        The paths written, ``.sh`` then ``.ps1`` per data centre.

    Raises:
        ValueError: two data centres share a slug (their scripts would overwrite each other).
    """
    dcs = list(data_centres)
    slugs: dict[str, str] = {}
    for dc in dcs:
        if dc.slug in slugs:
            raise ValueError(
                f"Data centres {slugs[dc.slug]!r} and {dc.name!r} share the slug {dc.slug!r}: rename one."
            )
        slugs[dc.slug] = dc.name
    options: dict[str, Any] = {
        "https_port": https_port,
        "polling_port": polling_port,
        "timeout_seconds": timeout_seconds,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for dc in dcs:
        sh = out_dir / f"probe-{dc.slug}.sh"
        sh.write_text(bash_probe(destination_url, dc, **options), encoding="utf-8", newline="\n")
        sh.chmod(0o755)
        ps1 = out_dir / f"probe-{dc.slug}.ps1"
        ps1.write_text(powershell_probe(destination_url, dc, **options), encoding="utf-8-sig", newline="\n")
        written += [sh, ps1]
    return written


# ---------------------------------------------------------------------------------------------------------
# Verification on the destination
# ---------------------------------------------------------------------------------------------------------


@dataclass
class DataCentreVerification:
    """Whether a data centre's test Tentacle is healthy on the destination, with the evidence.

    Attributes:
        data_centre: the data centre's name.
        marker: the name or role that marks its test Tentacle (``octowiz-probe-<slug>``).
        verified: True when a marked, enabled machine is ``Healthy``.
        sentence: what was seen on the destination.
        machine_ids: the destination machines carrying the marker.
        checked_at: when, UTC ISO 8601.
    """

    data_centre: str
    marker: str
    verified: bool
    sentence: str
    machine_ids: list[str] = field(default_factory=list)
    checked_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataCentreVerification:
        """The inverse of :meth:`to_dict`."""
        return cls(**{**data, "machine_ids": list(data.get("machine_ids", []))})


def is_test_tentacle(machine: MachineBase, data_centre: DataCentre) -> bool:
    """True when ``machine`` is named ``octowiz-probe-<slug>`` or has that role (case-insensitive)."""
    marker = data_centre.probe_marker
    if (machine.name or "").strip().lower() == marker:
        return True
    roles = machine.roles if isinstance(machine, Machine) else None
    return any(role.strip().lower() == marker for role in roles or [])


_STYLE_WORDS = {
    CommunicationStyle.TENTACLE_ACTIVE.value: "polling",
    CommunicationStyle.TENTACLE_PASSIVE.value: "listening",
}


def data_centre_verified(
    data_centre: DataCentre,
    destination_machines: Iterable[MachineBase],
    *,
    checked_at: str | None = None,
) -> DataCentreVerification:
    """Is the data centre proven by a healthy test Tentacle registered on the destination?

    The guide recommends a test server in each data centre with a Tentacle *in the desired communication
    mode*, registered with Octopus Cloud. octowiz recognises it by name ``octowiz-probe-<slug>`` (a
    deployment target or a worker) or by that role (a target; see :attr:`DataCentre.probe_marker`). It
    must be enabled with ``HealthStatus`` ``Healthy`` (``HasWarnings`` does not count: its health check
    found a problem) and registered in each mode the data centre's Tentacles use
    (:attr:`DataCentre.modes`): a polling one (``TentacleActive``) proves outbound 10943, a listening one
    (``TentaclePassive``) inbound 10933, so one of each where both are used. A probe in another mode is
    named in the sentence and does not count. A data centre with no known mode takes any healthy probe.

    Args:
        data_centre: the data centre.
        destination_machines: the destination's deployment targets and workers.
        checked_at: when the machines were read (default: now).

    Returns:
        The verdict and the sentence behind it.
    """
    marker = data_centre.probe_marker
    when = checked_at or utc_now()
    found = [m for m in destination_machines if is_test_tentacle(m, data_centre)]
    ids = [m.id or m.name or "?" for m in found]
    dc = f"data centre '{data_centre.name}'"

    def verdict(verified: bool, sentence: str) -> DataCentreVerification:
        return DataCentreVerification(data_centre.name, marker, verified, sentence, ids, when)

    if not found:
        return verdict(
            False,
            f"No machine on the destination is named {marker} or has that role, so {dc} has no test "
            "Tentacle there yet.",
        )

    def describe(m: MachineBase) -> str:
        style = _STYLE_WORDS.get(m.communication_style or "", m.communication_style or "unknown style")
        kind = "worker " if isinstance(m, Worker) else ""
        return f"{kind}'{m.name}' ({m.id}, {style})"

    def state(m: MachineBase) -> str:
        if m.is_disabled:
            return "disabled on the destination, so its health does not count"
        text = f"{m.health_status or 'of unknown health'} on the destination"
        if m.status_summary:
            text += f" ({_one_line(m.status_summary)})"
        return text

    def probe_mode(m: MachineBase) -> str | None:
        return next((mode for mode, style in _PROBE_STYLES.items() if style == m.communication_style), None)

    healthy = [m for m in found if not m.is_disabled and m.health_status == "Healthy"]
    needed = data_centre.modes
    proofs = [m for m in healthy if not needed or probe_mode(m) in needed]
    proven = {probe_mode(m) for m in proofs}
    missing = [mode for mode in needed if mode not in proven]
    # The probe shown per mode the data centre uses (the first healthy one when it has no known mode).
    per_mode = {probe_mode(m): m for m in reversed(proofs)}
    chosen = [per_mode[mode] for mode in needed if mode in per_mode] or proofs[:1]
    others = len(found) - max(1, len(chosen))
    carry = "other machines carry" if others != 1 else "other machine carries"
    also = f" ({others} {carry} the marker)" if others > 0 else ""
    if proofs and not missing:
        if len(chosen) == 1:
            return verdict(
                True, f"Test Tentacle {describe(chosen[0])} from {dc} is Healthy on the destination{also}."
            )
        both = " and ".join(describe(m) for m in chosen)
        return verdict(True, f"Test Tentacles {both} from {dc} are Healthy on the destination{also}.")
    if not needed:
        return verdict(False, f"Test Tentacle {describe(found[0])} from {dc} is {state(found[0])}{also}.")
    mode = missing[0]
    register = f"a {mode} Tentacle ({_PROBE_STYLES[mode]}), which proves {_PROVES[mode]}"
    in_mode = [m for m in found if probe_mode(m) == mode]
    if in_mode:
        return verdict(False, f"Test Tentacle {describe(in_mode[0])} from {dc} is {state(in_mode[0])}{also}.")
    wrong = next((m for m in healthy if probe_mode(m) != mode), found[0])
    uses = " and ".join(needed)
    if probe_mode(wrong) in needed:  # it proves the data centre's other mode: one more is needed
        why = f" and none of its test Tentacles is {mode}: register another as {register}"
    else:
        why = f", so it does not count: register it as {register}"
    return verdict(
        False,
        f"Test Tentacle {describe(wrong)} from {dc} is {state(wrong)}, but the data centre's Tentacles "
        f"are {uses}{why}{also}.",
    )


def verify_data_centres(
    data_centres: Iterable[DataCentre], destination_machines: Iterable[MachineBase]
) -> list[DataCentreVerification]:
    """:func:`data_centre_verified` for each data centre, against one read of the destination."""
    machines = list(destination_machines)
    when = utc_now()
    return [data_centre_verified(dc, machines, checked_at=when) for dc in data_centres]


# ---------------------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------------------


@dataclass
class ConnectivityReport:
    """Everything measured and suggested about connectivity, ready for the journal (JSON).

    Attributes:
        destination_url: the Octopus Cloud instance.
        measured_from: the host name of the machine that ran the probes.
        started_at: when probing started, UTC ISO 8601.
        finished_at: when it finished.
        results: every probe result.
        data_centres: the data centres as suggested or as the team adjusted them.
        verifications: the data centres' test-Tentacle verdicts.
    """

    destination_url: str
    measured_from: str
    started_at: str
    finished_at: str = ""
    results: list[ProbeResult] = field(default_factory=list)
    data_centres: list[DataCentre] = field(default_factory=list)
    verifications: list[DataCentreVerification] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        """How many results have ``outcome``."""
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def failures(self) -> list[ProbeResult]:
        """The failed results."""
        return [r for r in self.results if r.outcome == FAILED]

    @property
    def ok(self) -> bool:
        """True when no probe failed and every data centre is verified."""
        return not self.failures and all(v.verified for v in self.verifications)

    def summary(self) -> str:
        """A few lines a person reads: the counts, each failure, and the data centres' verdicts."""
        n = len(self.results)
        lines = [
            f"Connectivity measured from {self.measured_from} at {self.started_at}: {n} "
            f"probe{'s' if n != 1 else ''}, {self.count(OK)} ok, {self.count(FAILED)} failed, "
            f"{self.count(SKIPPED)} skipped."
        ]
        lines += [f"FAILED: {r.sentence}" for r in self.failures]
        if self.verifications:
            done = sum(1 for v in self.verifications if v.verified)
            lines.append(
                f"Data centres verified by a healthy test Tentacle: {done} of {len(self.verifications)}."
            )
            lines += [f"NOT VERIFIED: {v.sentence}" for v in self.verifications if not v.verified]
        elif self.data_centres:
            lines.append(f"Data centres suggested: {len(self.data_centres)}; none verified yet.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``json.dumps`` takes it as is)."""
        return {
            "destination_url": self.destination_url,
            "measured_from": self.measured_from,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "results": [r.to_dict() for r in self.results],
            "data_centres": [d.to_dict() for d in self.data_centres],
            "verifications": [v.to_dict() for v in self.verifications],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConnectivityReport:
        """The inverse of :meth:`to_dict`."""
        return cls(
            destination_url=str(data["destination_url"]),
            measured_from=str(data["measured_from"]),
            started_at=str(data["started_at"]),
            finished_at=str(data.get("finished_at", "")),
            results=[ProbeResult.from_dict(r) for r in data.get("results", [])],
            data_centres=[DataCentre.from_dict(d) for d in data.get("data_centres", [])],
            verifications=[DataCentreVerification.from_dict(v) for v in data.get("verifications", [])],
        )


async def measure_connectivity(
    destination_url: str,
    *,
    feeds: Iterable[Feed] = (),
    machines: Iterable[MachineBase] = (),
    probe_listening: bool = False,
    https_port: int | None = None,
    polling_port: int = POLLING_PORT,
    timeout: float = DEFAULT_TIMEOUT,
    http_timeout: float = DEFAULT_HTTP_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    resolver: Resolver | None = None,
    connector: Connector | None = None,
    measured_from: str | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> ConnectivityReport:
    """Run the destination and feed probes (and, when asked, the listening Tentacle probes) at once.

    One concurrency bound covers all of them. Data centres and verifications are left to the caller
    (:func:`suggest_data_centres`, :func:`verify_data_centres`), who fills them into the report.

    Args:
        destination_url: the Octopus Cloud instance URL.
        feeds: the source's feeds.
        machines: the source's targets and workers (used only with ``probe_listening``).
        probe_listening: also open TCP to each listening Tentacle (off by default).
        https_port: the registration port; default the URL's port, 443 for https.
        polling_port: the polling Tentacle port (10943).
        timeout: seconds for each DNS lookup and TCP connect.
        http_timeout: seconds for each step of a feed request.
        concurrency: how many probes run at once.
        resolver: selects addresses (default: ``loop.getaddrinfo``).
        connector: opens connections (default: :func:`asyncio.open_connection`).
        measured_from: the host name recorded (default: this machine's).
        http_transport: the transport feed requests use (default: the real network; the demo's
            simulated network passes its own).

    Returns:
        A report with every result, in the order destination, feeds, listening Tentacles.
    """
    runner = _Runner.make(
        timeout=timeout,
        concurrency=concurrency,
        resolver=resolver,
        connector=connector,
        measured_from=measured_from,
    )
    feed_runner = _Runner(runner.host_name, http_timeout, runner.resolver, runner.connector, runner.semaphore)
    report = ConnectivityReport(destination_url, runner.host_name, utc_now())

    async def nothing() -> list[ProbeResult]:
        return []

    parts = await asyncio.gather(
        _destination(runner, destination_url, https_port, polling_port),
        _feeds(feed_runner, feeds, trust_env=False, http_transport=http_transport),
        _listening(runner, machines) if probe_listening else nothing(),
    )
    report.results = [r for part in parts for r in part]
    report.finished_at = utc_now()
    return report
