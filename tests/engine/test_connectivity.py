"""Connectivity evidence: real DNS/TCP/HTTP probes on loopback, data centres, probe scripts, verification.

Only loopback is ever contacted. DNS failures use names under the reserved ``.invalid`` TLD answered by an
injected resolver that raises ``socket.gaierror`` (the real resolver would ask the network); every OK
case runs the real resolver (``loop.getaddrinfo`` on an address literal) and real TCP and HTTP against
listeners started here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from octowiz.engine.prepare.connectivity import (
    FAILED,
    OK,
    SKIPPED,
    ConnectivityReport,
    DataCentre,
    DataCentreVerification,
    ProbeResult,
    bash_probe,
    data_centre_verified,
    measure_connectivity,
    merge_data_centres,
    powershell_probe,
    probe_destination,
    probe_feeds,
    probe_listening_tentacles,
    suggest_data_centres,
    system_resolver,
    verify_data_centres,
    write_probe_scripts,
)
from octowiz.octopus.models import Feed, Machine, MachineBase, Worker

GOLDEN = Path(__file__).parent / "golden"
HOSTNAME = socket.gethostname()
BASH = shutil.which("bash") or "/bin/bash"


# ---------------------------------------------------------------------------------------------------------
# Loopback helpers
# ---------------------------------------------------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@asynccontextmanager
async def tcp_listener() -> AsyncIterator[tuple[int, list[int]]]:
    """A real asyncio TCP server on a free loopback port; yields the port and a list of accepted peers."""
    accepted: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer.get_extra_info("peername")[1])
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], accepted


@asynccontextmanager
async def http_server(
    mode: str = "answer", status: str = "401 Unauthorized"
) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A tiny real HTTP server on loopback.

    Modes: ``answer`` reads the request head and answers ``status``; ``silent`` reads and never answers;
    ``eager`` answers before reading anything (so a TLS client gets plain bytes); ``garbage`` answers
    with something that is not HTTP. Yields the port and the request heads it received.
    """
    heads: list[bytes] = []
    response = f"HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno".encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if mode == "eager":
                writer.write(response)
            else:
                heads.append(await reader.readuntil(b"\r\n\r\n"))
                if mode == "answer":
                    writer.write(response)
                elif mode == "garbage":
                    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
                else:  # silent: hold the connection until the client gives up
                    await reader.read()
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], heads


@contextmanager
def listening_sockets(count: int) -> Iterator[list[int]]:
    """Plain listening sockets (the kernel completes connects without accept) for subprocess tests."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(16)
            socks.append(s)
        yield [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@contextmanager
def black_hole() -> Iterator[int]:
    """A loopback port whose connects hang: a backlog-0 listener whose one queue slot is taken.

    Linux drops the SYN of a connect to a full accept queue (``tcp_abort_on_overflow=0``), so the client
    waits, as it does behind a firewall that drops packets. Other kernels refuse instead: then skip.
    """
    if not sys.platform.startswith("linux"):
        pytest.skip("a real dropped connect needs Linux's full-backlog behaviour")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port: int = server.getsockname()[1]
    held: list[socket.socket] = []
    try:
        for _ in range(3):  # fill the queue; the connect that does not complete proves the hole
            c = socket.socket()
            c.settimeout(0.3)
            try:
                c.connect(("127.0.0.1", port))
            except TimeoutError:
                c.close()
                break
            except OSError:
                c.close()
                pytest.skip("this kernel refuses connects to a full backlog instead of dropping them")
            held.append(c)
        else:
            pytest.skip("could not fill the listen backlog")
        yield port
    finally:
        for c in held:
            c.close()
        server.close()


def gaierror_resolver(calls: list[str]) -> Callable[[str, int], Awaitable[Sequence[tuple[Any, ...]]]]:
    """A resolver for ``.invalid`` names that answers as the system does for a name that does not exist."""

    async def resolve(host: str, port: int) -> Sequence[tuple[Any, ...]]:
        calls.append(host)
        assert host.endswith(".invalid"), "tests must not resolve real names"
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    return resolve


def loopback_resolver(calls: list[str]) -> Callable[[str, int], Awaitable[Sequence[tuple[Any, ...]]]]:
    """Selects loopback for ``.invalid`` names: the real resolver then runs on ``127.0.0.1``."""

    async def resolve(host: str, port: int) -> Sequence[tuple[Any, ...]]:
        calls.append(host)
        assert host.endswith(".invalid")
        return await system_resolver("127.0.0.1", port)

    return resolve


def assert_provenance(result: ProbeResult, started: dt.datetime) -> None:
    """Every result says when (UTC, during the test) and from which host it was measured."""
    when = dt.datetime.fromisoformat(result.measured_at)
    assert when.utcoffset() == dt.timedelta(0)
    assert started - dt.timedelta(seconds=1) <= when <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert result.measured_from == HOSTNAME
    assert f"measured from {HOSTNAME} at {result.measured_at}" in result.evidence()
    assert result.sentence in result.evidence()


def target(name: str, uri: str | None, style: str, **fields: Any) -> Machine:
    body: dict[str, Any] = {"Id": fields.pop("Id", f"Machines-{name}"), "Name": name, "Uri": uri}
    body["Endpoint"] = {"CommunicationStyle": style, "Uri": uri}
    body.update(fields)
    return Machine.model_validate(body)


def worker(name: str, uri: str | None, style: str, pools: list[str]) -> Worker:
    return Worker.model_validate(
        {
            "Id": f"Workers-{name}",
            "Name": name,
            "Uri": uri,
            "WorkerPoolIds": pools,
            "Endpoint": {"CommunicationStyle": style, "Uri": uri},
        }
    )


# ---------------------------------------------------------------------------------------------------------
# The destination: DNS, 443, 10943
# ---------------------------------------------------------------------------------------------------------


async def test_destination_open_ports_give_three_ok_results_with_provenance() -> None:
    started = dt.datetime.now(dt.UTC)
    async with tcp_listener() as (https, seen_https), tcp_listener() as (polling, seen_polling):
        results = await probe_destination(f"http://127.0.0.1:{https}", polling_port=polling)

    assert [(r.check, r.target, r.outcome) for r in results] == [
        ("dns", "127.0.0.1", OK),
        ("tcp", f"127.0.0.1:{https}", OK),
        ("tcp", f"127.0.0.1:{polling}", OK),
    ]
    assert results[0].sentence == "127.0.0.1 resolves to 127.0.0.1."
    assert results[1].sentence == (
        f"TCP {https} (Tentacle registration, HTTPS) to 127.0.0.1 is open: connected to 127.0.0.1."
    )
    assert "polling Tentacle communication" in results[2].sentence
    assert len(seen_https) == 1 and len(seen_polling) == 1  # real connections arrived
    for r in results:
        assert r.subject == "the destination"
        assert_provenance(r, started)


async def test_destination_closed_polling_port_is_refused_and_reported_separately() -> None:
    refused = closed_port()
    async with tcp_listener() as (https, _):
        results = await probe_destination(f"http://127.0.0.1:{https}", polling_port=refused)

    dns, tcp_https, tcp_polling = results
    assert (dns.outcome, tcp_https.outcome, tcp_polling.outcome) == (OK, OK, FAILED)
    assert tcp_polling.sentence == (
        f"TCP {refused} (polling Tentacle communication) to 127.0.0.1 (127.0.0.1) was refused "
        "(nothing listens there, or a firewall rejects it)."
    )


async def test_destination_that_does_not_resolve_fails_dns_and_skips_tcp() -> None:
    calls: list[str] = []
    results = await probe_destination(
        "https://acme.example.invalid", resolver=gaierror_resolver(calls), timeout=1
    )
    assert calls == ["acme.example.invalid"]
    dns, tcp443, tcp10943 = results
    assert dns.outcome == FAILED
    assert dns.sentence == "acme.example.invalid does not resolve (Name or service not known)."
    assert (tcp443.target, tcp443.outcome) == ("acme.example.invalid:443", SKIPPED)
    assert (tcp10943.target, tcp10943.outcome) == ("acme.example.invalid:10943", SKIPPED)
    assert tcp10943.sentence == (
        "TCP 10943 (polling Tentacle communication) to acme.example.invalid was not tried: "
        "acme.example.invalid does not resolve (Name or service not known)."
    )


async def test_a_resolver_that_hangs_is_cut_off_by_the_timeout() -> None:
    never = asyncio.Event()

    async def hang(host: str, port: int) -> Sequence[tuple[Any, ...]]:
        await never.wait()
        return []

    dns, *_ = await probe_destination("https://slow.example.invalid", resolver=hang, timeout=0.05)
    assert (dns.outcome, dns.sentence) == (FAILED, "slow.example.invalid did not resolve within 0.05 s.")


async def test_the_resolver_seam_selects_the_target_and_the_real_connect_reaches_it() -> None:
    calls: list[str] = []
    async with tcp_listener() as (https, seen), tcp_listener() as (polling, _):
        results = await probe_destination(
            "https://acme.octopus.invalid",
            https_port=https,
            polling_port=polling,
            resolver=loopback_resolver(calls),
        )
    assert calls == ["acme.octopus.invalid"]
    assert [r.outcome for r in results] == [OK, OK, OK]
    assert results[0].sentence == "acme.octopus.invalid resolves to 127.0.0.1."
    assert results[1].target == f"acme.octopus.invalid:{https}"
    assert seen  # the connection really arrived


async def test_a_dropped_connect_times_out_with_its_own_sentence() -> None:
    with black_hole() as port:
        async with tcp_listener() as (https, _):
            results = await probe_destination(f"http://127.0.0.1:{https}", polling_port=port, timeout=0.3)
    assert results[2].outcome == FAILED
    assert results[2].sentence.endswith(
        "(127.0.0.1) got no answer within 0.3 s (a firewall may be dropping it)."
    )


async def test_the_default_https_port_is_443_and_bad_urls_are_refused() -> None:
    calls: list[str] = []
    results = await probe_destination("https://x.example.invalid/app", resolver=gaierror_resolver(calls))
    assert [r.target for r in results] == [
        "x.example.invalid",
        "x.example.invalid:443",
        "x.example.invalid:10943",
    ]
    with pytest.raises(ValueError, match="not an http"):
        await probe_destination("ftp://x.example.invalid")


# ---------------------------------------------------------------------------------------------------------
# Feeds
# ---------------------------------------------------------------------------------------------------------


def feed(fid: str, name: str, feed_type: str, uri: str | None, **extra: Any) -> Feed:
    return Feed.model_validate({"Id": fid, "Name": name, "FeedType": feed_type, "FeedUri": uri, **extra})


async def test_any_http_answer_means_the_feed_is_reachable_and_no_credentials_are_sent() -> None:
    started = dt.datetime.now(dt.UTC)
    async with http_server() as (p401, heads), http_server(status="404 Not Found") as (p404, _):
        results = await probe_feeds(
            [
                feed(
                    "Feeds-2",
                    "Artifactory",
                    "NuGet",
                    f"http://127.0.0.1:{p401}/api/nuget/v3/main",
                    Username="deploy",
                    Password={"HasValue": True},
                ),
                feed("Feeds-3", "Old Maven", "Maven", f"http://127.0.0.1:{p404}/maven2/"),
            ]
        )
    art, maven = results
    assert (art.check, art.outcome, art.subject_id) == ("http", OK, "Feeds-2")
    assert art.sentence == (
        f"The feed 'Artifactory' (Feeds-2) at http://127.0.0.1:{p401}/api/nuget/v3/main answered "
        "HTTP 401 Unauthorized; 127.0.0.1 is a loopback address, which Octopus Cloud cannot reach over the "
        "internet."
    )
    assert maven.outcome == OK and "answered HTTP 404 Not Found" in maven.sentence
    (head,) = heads
    assert head.startswith(b"GET /api/nuget/v3/main HTTP/1.1\r\n")
    assert b"authorization" not in head.lower()
    for r in results:
        assert_provenance(r, started)


async def test_feeds_that_refuse_stay_silent_or_speak_no_http_are_unreachable() -> None:
    refused = closed_port()
    async with http_server("silent") as (silent, _), http_server("garbage") as (garbage, _):
        results = await probe_feeds(
            [
                feed("Feeds-4", "Down", "NuGet", f"http://127.0.0.1:{refused}/"),
                feed("Feeds-5", "Hung", "NuGet", f"http://127.0.0.1:{silent}/"),
                feed("Feeds-6", "Not HTTP", "Helm", f"http://127.0.0.1:{garbage}/"),
            ],
            timeout=0.3,
        )
    down, hung, garbled = results
    assert [r.outcome for r in results] == [FAILED, FAILED, FAILED]
    assert "refused the connection (nothing listens there, or a firewall rejects it)" in down.sentence
    assert "accepted the connection but gave no HTTP answer within 0.3 s" in hung.sentence
    assert "did not answer HTTP" in garbled.sentence


async def test_a_feed_whose_tls_handshake_fails_is_unreachable() -> None:
    async with http_server("eager") as (port, _):
        (result,) = await probe_feeds(
            [feed("Feeds-7", "TLS", "Docker", f"https://127.0.0.1:{port}/")], timeout=2
        )
    assert result.outcome == FAILED
    assert "failed the TLS handshake" in result.sentence


async def test_built_in_feeds_are_skipped_and_feeds_without_a_url_say_so() -> None:
    calls: list[str] = []
    results = await probe_feeds(
        [
            feed("feeds-builtin", "Octopus Server (built-in)", "BuiltIn", None),
            feed("feeds-builtin-releases", "Octopus Server Releases", "OctopusProject", None),
            feed("Feeds-8", "ECR", "AwsElasticContainerRegistry", None, Region="eu-west-1"),
            feed("Feeds-9", "Share", "NuGet", "\\\\fileserver\\packages"),
            feed("Feeds-10", "Gone", "NuGet", "https://nuget.corp.invalid/v3/index.json"),
        ],
        resolver=gaierror_resolver(calls),
    )
    assert [(r.subject_id, r.outcome) for r in results] == [
        ("Feeds-8", SKIPPED),
        ("Feeds-9", SKIPPED),
        ("Feeds-10", FAILED),
    ]
    assert results[0].sentence == (
        "The feed 'ECR' (Feeds-8) (AwsElasticContainerRegistry) has no FeedUri: there is no URL to probe "
        "from here."
    )
    assert "not an http(s) URL" in results[1].sentence
    assert results[2].sentence == (
        "The feed 'Gone' (Feeds-10) is unreachable: nuget.corp.invalid does not resolve "
        "(Name or service not known)."
    )
    assert calls == ["nuget.corp.invalid"]
    assert await probe_feeds([feed("feeds-builtin", "Built-in", "BuiltIn", None)]) == []


# ---------------------------------------------------------------------------------------------------------
# Listening Tentacles
# ---------------------------------------------------------------------------------------------------------


async def test_listening_tentacles_are_probed_at_the_port_of_their_uri() -> None:
    refused = closed_port()
    calls: list[str] = []
    async with tcp_listener() as (port, seen):
        machines: list[MachineBase] = [
            target("web01", f"https://127.0.0.1:{port}/", "TentaclePassive"),
            worker("w01", f"https://127.0.0.1:{refused}/", "TentaclePassive", ["WorkerPools-1"]),
            target("poll01", "poll://abcdefghijklmnopqrst/", "TentacleActive"),
            target("gone", "https://gone.dc.invalid:10933/", "TentaclePassive"),
        ]
        results = await probe_listening_tentacles(machines, resolver=_only_invalid_fails(calls))
    assert [(r.subject_id, r.target, r.outcome) for r in results] == [
        ("Machines-web01", f"127.0.0.1:{port}", OK),
        ("Workers-w01", f"127.0.0.1:{refused}", FAILED),
        ("Machines-gone", "gone.dc.invalid:10933", FAILED),
    ]
    assert results[0].sentence == (
        f"TCP {port} (listening Tentacle communication) to the listening Tentacle target 'web01' "
        f"(Machines-web01) at 127.0.0.1 is open: connected to 127.0.0.1; 127.0.0.1 is a loopback address, "
        "which Octopus Cloud cannot reach over the internet."
    )
    assert "was refused" in results[1].sentence
    assert "gone.dc.invalid does not resolve" in results[2].sentence
    assert calls == ["gone.dc.invalid"] and len(seen) == 1


def _only_invalid_fails(calls: list[str]) -> Callable[[str, int], Awaitable[Sequence[tuple[Any, ...]]]]:
    """The real resolver for address literals; a gaierror for ``.invalid`` names."""
    fail = gaierror_resolver(calls)

    async def resolve(host: str, port: int) -> Sequence[tuple[Any, ...]]:
        if host.endswith(".invalid"):
            return await fail(host, port)
        assert host == "127.0.0.1"
        return await system_resolver(host, port)

    return resolve


async def test_probes_run_concurrently_but_never_beyond_the_bound() -> None:
    active = peak = 0
    calls: list[str] = []

    async def resolver(host: str, port: int) -> Sequence[tuple[Any, ...]]:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        for _ in range(5):  # let every other probe start, if the bound allowed it
            await asyncio.sleep(0)
        active -= 1
        return await loopback_resolver(calls)(host, port)

    async with tcp_listener() as (port, seen):
        machines = [target(f"t{i}", f"https://t{i}.dc.invalid:{port}/", "TentaclePassive") for i in range(10)]
        results = await probe_listening_tentacles(machines, resolver=resolver, concurrency=3)
    assert [r.outcome for r in results] == [OK] * 10
    assert sorted(calls) == sorted(f"t{i}.dc.invalid" for i in range(10))
    assert peak == 3
    assert len(seen) == 10


# ---------------------------------------------------------------------------------------------------------
# Data centres
# ---------------------------------------------------------------------------------------------------------


def estate() -> list[MachineBase]:
    return [
        target("web01", "https://10.1.2.3:10933/", "TentaclePassive"),
        target("web02", "https://10.1.200.7:10933/", "TentaclePassive"),
        target("db01", "https://10.2.0.5:10933/", "TentaclePassive"),
        target("app01", "https://app01.omaha.corp.example.com:10933/", "TentaclePassive"),
        Machine.model_validate(
            {
                "Id": "Machines-ssh01",
                "Name": "ssh01",
                "Endpoint": {
                    "CommunicationStyle": "Ssh",
                    "Host": "ssh01.Omaha.corp.example.com.",
                    "Port": 22,
                },
            }
        ),
        target("poll01", "poll://aaaaaaaaaaaaaaaaaaaa/", "TentacleActive", EnvironmentIds=["Environments-2"]),
        target(
            "poll02",
            "poll://bbbbbbbbbbbbbbbbbbbb/",
            "TentacleActive",
            EnvironmentIds=["Environments-2", "Environments-3"],
        ),
        target("poll03", "poll://cccccccccccccccccccc/", "TentacleActive", EnvironmentIds=["Environments-2"]),
        target("poll04", "poll://dddddddddddddddddddd/", "TentacleActive", Roles=["web"]),
        worker("wpoll", "poll://eeeeeeeeeeeeeeeeeeee/", "TentacleActive", ["WorkerPools-1"]),
        worker("wlisten", "https://10.1.9.9:10933/", "TentaclePassive", ["WorkerPools-1"]),
        target("region", None, "None"),
        Machine.model_validate(
            {"Id": "Machines-azure", "Name": "azure", "Endpoint": {"CommunicationStyle": "AzureWebApp"}}
        ),
    ]


def test_data_centres_group_by_network_domain_and_polling_placement() -> None:
    names = {
        "Environments-2": "Production",
        "Environments-3": "Staging",
        "WorkerPools-1": "Omaha workers",
    }
    dcs = suggest_data_centres(estate(), names)
    assert [(dc.name, dc.machine_ids, dc.hosts) for dc in dcs] == [
        (
            "omaha.corp.example.com",
            ["Machines-app01", "Machines-ssh01"],
            ["app01.omaha.corp.example.com", "ssh01.omaha.corp.example.com"],
        ),
        (
            "Private network 10.1.0.0/16",
            ["Machines-web01", "Machines-web02", "Workers-wlisten"],
            ["10.1.2.3", "10.1.200.7", "10.1.9.9"],
        ),
        ("Private network 10.2.0.0/16", ["Machines-db01"], ["10.2.0.5"]),
        ("Polling workers: Omaha workers", ["Workers-wpoll"], []),
        ("Polling: Production", ["Machines-poll01", "Machines-poll03"], []),
        ("Polling: Production + Staging", ["Machines-poll02"], []),
        ("Polling: roles web", ["Machines-poll04"], []),
    ]  # the cloud region and the Azure web app live in no data centre of the team's
    assert dcs[1].basis == "same private network 10.1.0.0/16"
    # Each records the modes its Tentacles use (the SSH target adds none): the scripts follow them.
    assert [dc.modes for dc in dcs] == [["listening"], ["listening"], ["listening"], *[["polling"]] * 4]
    assert dcs[0].slug == "omaha-corp-example-com"


def test_the_team_can_rename_and_merge_suggested_data_centres() -> None:
    net1, net2 = suggest_data_centres(estate())[1:3]
    omaha = merge_data_centres("Omaha", net1, net2)
    assert omaha.machine_ids == ["Machines-web01", "Machines-web02", "Workers-wlisten", "Machines-db01"]
    assert omaha.hosts == ["10.1.2.3", "10.1.200.7", "10.1.9.9", "10.2.0.5"]
    renamed = omaha.renamed("Zürich DC")
    assert (renamed.name, renamed.slug, renamed.probe_marker) == (
        "Zürich DC",
        "zurich-dc",
        "octowiz-probe-zurich-dc",
    )
    assert renamed.machine_ids == omaha.machine_ids and omaha.name == "Omaha"
    assert DataCentre.from_dict(json.loads(json.dumps(renamed.to_dict()))) == renamed
    polling = suggest_data_centres(estate())[3]
    mixed = merge_data_centres("Everything", polling, net1)
    assert (mixed.modes, renamed.modes) == (["polling", "listening"], ["listening"])
    # A report stored before data centres had modes still reads (no mode known: checked as before).
    old = {k: v for k, v in renamed.to_dict().items() if k != "modes"}
    assert DataCentre.from_dict(old).modes == []


# ---------------------------------------------------------------------------------------------------------
# Probe scripts
# ---------------------------------------------------------------------------------------------------------


TRICKY_NAMES = ["Omaha", "O'Brien's lab $(rm -rf ~) `id`\nsecond line", 'Zürich ‘quoted’ "DC"', "--help"]


@pytest.mark.parametrize("name", TRICKY_NAMES)
@pytest.mark.parametrize("url", ["https://acme.octopus.app", "http://127.0.0.1:8080", "https://[::1]/"])
def test_every_generated_bash_script_passes_bash_n_and_shellcheck(
    shellcheck: str, name: str, url: str
) -> None:
    script = bash_probe(url, DataCentre(name))
    subprocess.run([BASH, "-n"], input=script, text=True, check=True)
    checked = subprocess.run([shellcheck, "-s", "bash", "-"], input=script, text=True, capture_output=True)
    assert checked.returncode == 0, checked.stdout
    assert "set -u" in script and "timeout" in script and "/dev/tcp/" in script and "nc -z" in script


@pytest.mark.parametrize("modes", [["polling"], ["listening"], ["polling", "listening"]])
def test_bash_scripts_for_every_mode_pass_bash_n_and_shellcheck(shellcheck: str, modes: list[str]) -> None:
    script = bash_probe("https://acme.octopus.app", DataCentre(TRICKY_NAMES[1], modes=modes))
    subprocess.run([BASH, "-n"], input=script, text=True, check=True)
    checked = subprocess.run([shellcheck, "-s", "bash", "-"], input=script, text=True, capture_output=True)
    assert checked.returncode == 0, checked.stdout
    assert ("10943" in script) is ("polling" in modes)
    assert ("NOTE  TCP 10933 inbound" in script) is ("listening" in modes)


def run_script(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, str(path)], capture_output=True, text=True, timeout=30, env=env)


def test_a_generated_bash_script_passes_against_open_loopback_ports(tmp_path: Path) -> None:
    with listening_sockets(2) as (https, polling):
        (sh, _) = write_probe_scripts(
            tmp_path, f"http://127.0.0.1:{https}", [DataCentre("Omaha")], polling_port=polling
        )
        done = run_script(sh)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(
        rf"octowiz probe for data centre Omaha: 127\.0\.0\.1, measured from {re.escape(HOSTNAME)} "
        r"at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
        lines[0],
    )
    assert lines[1:] == [
        "SKIP  DNS 127.0.0.1 is an IP address",
        f"PASS  TCP {https} to 127.0.0.1 (Tentacle registration, HTTPS)",
        f"PASS  TCP {polling} to 127.0.0.1 (polling Tentacle communication)",
        "RESULT: PASS",
    ]


def test_a_generated_bash_script_fails_with_a_refused_port_and_exits_non_zero(tmp_path: Path) -> None:
    refused = closed_port()
    with listening_sockets(1) as (https,):
        sh = tmp_path / "probe.sh"
        sh.write_text(bash_probe(f"http://127.0.0.1:{https}", DataCentre("Omaha"), polling_port=refused))
        done = run_script(sh)
    assert done.returncode == 1
    assert done.stdout.splitlines()[2:] == [
        f"PASS  TCP {https} to 127.0.0.1 (Tentacle registration, HTTPS)",
        f"FAIL  TCP {refused} to 127.0.0.1 (polling Tentacle communication): "
        "connection refused or unreachable",
        "RESULT: FAIL (1 check(s) failed)",
    ]


def test_a_listening_data_centre_needs_443_only_and_notes_the_inbound_port_it_cannot_test(
    tmp_path: Path,
) -> None:
    # The guide: listening Tentacles need 443 outbound (to register) and 10933 inbound from Cloud;
    # 10943 is the polling port, closed here, and must not fail a data centre whose Tentacles listen.
    refused = closed_port()
    lab = DataCentre("Listening lab", modes=["listening"])
    with listening_sockets(1) as (https,):
        sh = tmp_path / "probe.sh"
        sh.write_text(bash_probe(f"http://127.0.0.1:{https}", lab, polling_port=refused))
        done = run_script(sh)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[1:] == [
        "SKIP  DNS 127.0.0.1 is an IP address",
        f"PASS  TCP {https} to 127.0.0.1 (Tentacle registration, HTTPS)",
        "NOTE  TCP 10933 inbound from Octopus Cloud (listening Tentacle communication) cannot be tested from "
        "inside the data centre: allow it in the firewall; a listening test Tentacle named "
        "octowiz-probe-listening-lab that Octopus Cloud reports Healthy proves it",
        "RESULT: PASS",
    ]
    # Where some Tentacles poll, the polling port is still checked (and fails here).
    with listening_sockets(1) as (https,):
        mixed = DataCentre("Listening lab", modes=["polling", "listening"])
        sh.write_text(bash_probe(f"http://127.0.0.1:{https}", mixed, polling_port=refused))
        done = run_script(sh)
    assert done.returncode == 1
    assert f"FAIL  TCP {refused} to 127.0.0.1 (polling Tentacle communication)" in done.stdout
    assert "NOTE  TCP 10933 inbound" in done.stdout


def test_a_generated_bash_script_reports_a_dropped_connect_as_a_timeout(tmp_path: Path) -> None:
    with black_hole() as port, listening_sockets(1) as (https,):
        sh = tmp_path / "probe.sh"
        sh.write_text(
            bash_probe(f"http://127.0.0.1:{https}", DataCentre("Omaha"), polling_port=port, timeout_seconds=1)
        )
        done = run_script(sh)
    assert done.returncode == 1
    assert (
        f"FAIL  TCP {port} to 127.0.0.1 (polling Tentacle communication): no answer within 1 s" in done.stdout
    )


def test_a_generated_bash_script_works_without_timeout_or_nc(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "date"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    refused = closed_port()
    with listening_sockets(1) as (https,):
        sh = tmp_path / "probe.sh"
        sh.write_text(bash_probe(f"http://127.0.0.1:{https}", DataCentre("Bare"), polling_port=refused))
        done = run_script(sh, env={"PATH": str(bin_dir)})
    assert done.returncode == 1, done.stderr
    assert f"PASS  TCP {https} to 127.0.0.1" in done.stdout
    assert f"FAIL  TCP {refused} to 127.0.0.1" in done.stdout


def test_a_generated_bash_script_checks_dns_for_a_host_name(tmp_path: Path) -> None:
    hosts = Path("/etc/hosts")
    if shutil.which("getent") is None or "localhost" not in (hosts.read_text() if hosts.exists() else ""):
        pytest.skip("needs getent and a localhost entry in /etc/hosts (so no DNS server is asked)")
    with listening_sockets(2) as (https, polling):
        sh = tmp_path / "probe.sh"
        sh.write_text(bash_probe(f"https://localhost:{https}", DataCentre("Local"), polling_port=polling))
        done = run_script(sh)
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[1].startswith("PASS  DNS localhost resolves to ")


def test_scripts_carry_only_the_host_never_credentials_and_refuse_odd_hosts() -> None:
    url = "https://admin:API-SECRET123@acme.octopus.app/app?apikey=API-SECRET456#x"
    for script in (bash_probe(url, DataCentre("Omaha")), powershell_probe(url, DataCentre("Omaha"))):
        assert "SECRET" not in script and "admin" not in script and "apikey" not in script
        assert "'acme.octopus.app'" in script
    with pytest.raises(ValueError):
        bash_probe("https://acme_octopus.app", DataCentre("Omaha"))
    with pytest.raises(ValueError, match="not a TCP port"):
        powershell_probe("https://acme.octopus.app", DataCentre("Omaha"), polling_port=70000)


GOLDEN_CASES: dict[str, tuple[str, DataCentre, dict[str, int]]] = {
    "probe-omaha.ps1": ("https://acme.octopus.app", DataCentre("Omaha"), {}),
    "probe-obrien-s-lab-x.ps1": ("https://acme.octopus.app/", DataCentre("O’Brien's lab $(x)"), {}),
    "probe-loopback.ps1": ("http://127.0.0.1:8443", DataCentre("Loopback"), {"polling_port": 10999}),
    "probe-listening-lab.ps1": (
        "https://acme.octopus.app",
        DataCentre("Listening lab", modes=["listening"]),
        {"polling_port": 10999},
    ),
    "probe-mixed-dc.ps1": (
        "https://acme.octopus.app",
        DataCentre("Mixed DC", modes=["polling", "listening"]),
        {},
    ),
}


@pytest.mark.parametrize("filename", sorted(GOLDEN_CASES))
def test_powershell_scripts_match_their_reviewed_golden_files(filename: str) -> None:
    url, dc, ports = GOLDEN_CASES[filename]
    assert f"probe-{dc.slug}.ps1" == filename
    text = powershell_probe(url, dc, **ports)
    golden = GOLDEN / filename
    if os.environ.get("OCTOWIZ_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8", newline="\n")
    assert golden.exists(), f"{golden} is missing: run with OCTOWIZ_UPDATE_GOLDEN=1 and review it"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{filename} changed: review the difference, then OCTOWIZ_UPDATE_GOLDEN=1 rewrites it"
    )


def test_write_probe_scripts_writes_an_executable_sh_and_a_bom_ps1_per_data_centre(tmp_path: Path) -> None:
    dcs = [DataCentre("Omaha"), DataCentre("Zürich DC")]
    paths = write_probe_scripts(tmp_path / "out", "https://acme.octopus.app", dcs)
    assert [p.name for p in paths] == [
        "probe-omaha.sh",
        "probe-omaha.ps1",
        "probe-zurich-dc.sh",
        "probe-zurich-dc.ps1",
    ]
    sh, ps1 = paths[2], paths[3]
    assert sh.stat().st_mode & stat.S_IXUSR
    assert sh.read_text(encoding="utf-8") == bash_probe("https://acme.octopus.app", dcs[1])
    assert ps1.read_bytes().startswith(b"\xef\xbb\xbf")
    assert ps1.read_text(encoding="utf-8-sig") == powershell_probe("https://acme.octopus.app", dcs[1])
    with pytest.raises(ValueError, match="share the slug"):
        write_probe_scripts(tmp_path, "https://acme.octopus.app", [DataCentre("A B"), DataCentre("a-b")])


# ---------------------------------------------------------------------------------------------------------
# Verification by a test Tentacle on the destination
# ---------------------------------------------------------------------------------------------------------


def dest(
    name: str,
    health: str,
    *,
    roles: list[str] | None = None,
    disabled: bool = False,
    style: str = "TentacleActive",
    summary: str | None = None,
) -> Machine:
    return Machine.model_validate(
        {
            "Id": f"Machines-{name}",
            "Name": name,
            "Roles": roles or [],
            "HealthStatus": health,
            "IsDisabled": disabled,
            "StatusSummary": summary,
            "Endpoint": {"CommunicationStyle": style, "Uri": "poll://ffffffffffffffffffff/"},
        }
    )


def dest_worker(name: str, health: str, *, style: str = "TentacleActive") -> Worker:
    return Worker.model_validate(
        {
            "Id": f"Workers-{name}",
            "Name": name,
            "HealthStatus": health,
            "IsDisabled": False,
            "WorkerPoolIds": ["WorkerPools-1"],
            "Endpoint": {"CommunicationStyle": style, "Uri": "https://probe.example.com:10933/"},
        }
    )


def test_a_test_tentacle_registered_as_a_worker_counts() -> None:
    omaha = DataCentre("Omaha", modes=["listening"])
    found = data_centre_verified(
        omaha, [dest_worker("octowiz-probe-omaha", "Healthy", style="TentaclePassive")]
    )
    assert found.verified and found.machine_ids == ["Workers-octowiz-probe-omaha"]
    assert found.sentence == (
        "Test Tentacle worker 'octowiz-probe-omaha' (Workers-octowiz-probe-omaha, listening) from data "
        "centre 'Omaha' is Healthy on the destination."
    )


def test_a_test_tentacle_must_use_the_mode_of_the_data_centres_tentacles() -> None:
    polling = DataCentre("Omaha", modes=["polling"])
    listening_probe = dest("octowiz-probe-omaha", "Healthy", style="TentaclePassive")
    wrong = data_centre_verified(polling, [listening_probe])
    assert not wrong.verified and wrong.machine_ids == ["Machines-octowiz-probe-omaha"]
    assert wrong.sentence == (
        "Test Tentacle 'octowiz-probe-omaha' (Machines-octowiz-probe-omaha, listening) from data centre "
        "'Omaha' is Healthy on the destination, but the data centre's Tentacles are polling, so it does not "
        "count: register it as a polling Tentacle (TentacleActive), which proves outbound TCP 10943 to "
        "Octopus Cloud."
    )
    assert data_centre_verified(polling, [dest("octowiz-probe-omaha", "Healthy")]).verified

    listening = DataCentre("Omaha", modes=["listening"])
    polling_worker = dest_worker("octowiz-probe-omaha", "Healthy")
    wrong = data_centre_verified(listening, [polling_worker])
    assert not wrong.verified
    assert (
        "register it as a listening Tentacle (TentaclePassive), which proves inbound TCP 10933"
        in wrong.sentence
    )
    assert data_centre_verified(listening, [listening_probe]).verified
    # The right mode but unhealthy: its health is the reason, as before.
    down = data_centre_verified(
        listening, [polling_worker, dest("octowiz-probe-omaha", "Unavailable", style="TentaclePassive")]
    )
    assert (
        not down.verified
        and "(Machines-octowiz-probe-omaha, listening) from data centre 'Omaha' is Unavailable"
        in down.sentence
    )

    # Both modes in one data centre: one healthy probe of each.
    mixed = DataCentre("Omaha", modes=["polling", "listening"])
    half = data_centre_verified(mixed, [polling_worker])
    assert not half.verified
    assert half.sentence.endswith(
        "but the data centre's Tentacles are polling and listening and none of its test Tentacles is "
        "listening: register another as a listening Tentacle (TentaclePassive), which proves inbound TCP "
        "10933 from Octopus Cloud."
    )
    both = data_centre_verified(mixed, [polling_worker, listening_probe])
    assert both.verified
    assert both.sentence == (
        "Test Tentacles worker 'octowiz-probe-omaha' (Workers-octowiz-probe-omaha, polling) and "
        "'octowiz-probe-omaha' (Machines-octowiz-probe-omaha, listening) from data centre 'Omaha' are "
        "Healthy on the destination."
    )


def test_a_healthy_test_tentacle_named_or_tagged_for_the_data_centre_verifies_it() -> None:
    omaha = DataCentre("Omaha DC")
    by_role = data_centre_verified(omaha, [dest("tst-1", "Healthy", roles=["web", "octowiz-probe-omaha-dc"])])
    assert by_role.verified and by_role.marker == "octowiz-probe-omaha-dc"
    assert by_role.sentence == (
        "Test Tentacle 'tst-1' (Machines-tst-1, polling) from data centre 'Omaha DC' is Healthy on the "
        "destination."
    )
    by_name = data_centre_verified(
        omaha, [dest("OctoWiz-Probe-Omaha-DC", "Healthy", style="TentaclePassive")]
    )
    assert by_name.verified and "(Machines-OctoWiz-Probe-Omaha-DC, listening)" in by_name.sentence


def test_a_missing_unhealthy_or_disabled_test_tentacle_does_not_verify() -> None:
    omaha = DataCentre("Omaha")
    none = data_centre_verified(omaha, [dest("octowiz-probe-elsewhere", "Healthy")])
    assert not none.verified and none.machine_ids == []
    assert none.sentence == (
        "No machine on the destination is named octowiz-probe-omaha or has that role, so data centre "
        "'Omaha' has no test Tentacle there yet."
    )
    down = data_centre_verified(
        omaha, [dest("octowiz-probe-omaha", "Unavailable", summary="Could not connect\nto the Tentacle.")]
    )
    assert not down.verified
    assert down.sentence == (
        "Test Tentacle 'octowiz-probe-omaha' (Machines-octowiz-probe-omaha, polling) from data centre "
        "'Omaha' is Unavailable on the destination (Could not connect to the Tentacle.)."
    )
    warned = data_centre_verified(omaha, [dest("octowiz-probe-omaha", "HasWarnings")])
    assert not warned.verified and "HasWarnings" in warned.sentence
    disabled = data_centre_verified(omaha, [dest("octowiz-probe-omaha", "Healthy", disabled=True)])
    assert not disabled.verified and "disabled on the destination" in disabled.sentence
    two = data_centre_verified(
        omaha,
        [
            dest("a", "Unhealthy", roles=["octowiz-probe-omaha"]),
            dest("b", "Healthy", roles=["octowiz-probe-omaha"]),
        ],
    )
    assert two.verified and two.machine_ids == ["Machines-a", "Machines-b"]
    assert "'b'" in two.sentence and "(1 other machine carries the marker)" in two.sentence


# ---------------------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------------------


async def test_the_report_collects_everything_round_trips_json_and_summarises() -> None:
    refused = closed_port()
    async with (
        tcp_listener() as (https, _),
        http_server() as (feed_port, _),
        tcp_listener() as (tentacle, seen),
    ):
        feeds = [feed("Feeds-2", "Artifactory", "NuGet", f"http://127.0.0.1:{feed_port}/")]
        machines = [target("web01", f"https://127.0.0.1:{tentacle}/", "TentaclePassive")]
        plain = await measure_connectivity(
            f"http://127.0.0.1:{https}", feeds=feeds, machines=machines, polling_port=refused
        )
        assert not seen  # listening Tentacles are probed only when asked
        report = await measure_connectivity(
            f"http://127.0.0.1:{https}",
            feeds=feeds,
            machines=machines,
            polling_port=refused,
            probe_listening=True,
        )
    assert [r.check for r in plain.results] == ["dns", "tcp", "tcp", "http"]
    assert [(r.check, r.outcome) for r in report.results] == [
        ("dns", OK),
        ("tcp", OK),
        ("tcp", FAILED),
        ("http", OK),
        ("tcp", OK),
    ]
    assert report.measured_from == HOSTNAME and report.started_at <= report.finished_at
    report.data_centres = suggest_data_centres(machines)
    report.verifications = verify_data_centres(
        report.data_centres,
        [dest("octowiz-probe-private-network-127-0-0-0-16", "Healthy", style="TentaclePassive")],
    )
    assert [v.verified for v in report.verifications] == [True]

    restored = ConnectivityReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert restored == report
    assert isinstance(restored.verifications[0], DataCentreVerification)
    assert not report.ok
    summary = report.summary().splitlines()
    assert summary[0] == (
        f"Connectivity measured from {HOSTNAME} at {report.started_at}: 5 probes, 4 ok, 1 failed, 0 skipped."
    )
    assert summary[1] == f"FAILED: {report.failures[0].sentence}"
    assert summary[2] == "Data centres verified by a healthy test Tentacle: 1 of 1."


def test_the_connectivity_module_does_not_import_textual() -> None:
    code = (
        "import sys, octowiz.engine.prepare.connectivity\n"
        "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
