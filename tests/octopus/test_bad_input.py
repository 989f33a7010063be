"""Every bad input named in the client issue gets the sentence a person would read, never a traceback."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from octowiz.octopus.client import OctopusClient
from octowiz.octopus.errors import (
    Forbidden,
    InvalidApiKey,
    InvalidUrl,
    ServerTooOld,
    TlsError,
    Unauthorized,
    Unreachable,
)
from octowiz.sim.config import InstanceConfig
from octowiz.sim.keys import SERVER_ADMIN
from octowiz.sim.simulator import Endpoint, Simulator
from tests.conftest import FakeTime, make_client


def test_malformed_url_is_refused_before_any_request() -> None:
    with pytest.raises(InvalidUrl) as info:
        OctopusClient("ht!tp://octopus", SERVER_ADMIN.api_key)
    assert "is not a web address" in str(info.value)


@pytest.mark.parametrize(
    "key", ["", "api-abc", "API-abc123", "API-", "APIKEY123", "API-ABC 123", "Bearer xyz"]
)
def test_malformed_key_is_refused_before_any_request(key: str) -> None:
    with pytest.raises(InvalidApiKey) as info:
        OctopusClient("https://octopus.example.com", key)
    assert str(info.value).startswith("That is not an Octopus API key: keys start with API-")


async def test_unreachable_host_refused_port(fake_time: FakeTime) -> None:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with OctopusClient(
        f"http://127.0.0.1:{port}", SERVER_ADMIN.api_key, sleep=fake_time.sleep, max_attempts=2
    ) as client:
        with pytest.raises(Unreachable) as info:
            await client.root()
    assert str(info.value) == (
        f"Nothing accepted a connection at 127.0.0.1:{port}: check the URL and port, and "
        "that the Octopus instance is running."
    )


async def test_unknown_host_name(sim: Simulator, fake_time: FakeTime) -> None:
    async with OctopusClient(
        "https://no-such-octopus.example.internal",
        SERVER_ADMIN.api_key,
        transport=sim.transport(),
        sleep=fake_time.sleep,
    ) as client:
        with pytest.raises(Unreachable) as info:
            await client.root()
    assert "The host name no-such-octopus.example.internal could not be found" in str(info.value)


async def test_wrong_key(sim_http: dict[str, Endpoint], fake_time: FakeTime) -> None:
    async with make_client(sim_http["server"], fake_time, key="API-FAKEWRONGKEY000000000000") as client:
        with pytest.raises(Unauthorized) as info:
            await client.current_user()
    text = str(info.value)
    assert text.startswith(
        "127.0.0.1 did not accept the API key (reading the key's user): check that it is the "
        "right key for this instance"
    )
    assert "Octopus said: You must be logged in to request this resource" in text
    assert info.value.status == 401


async def test_missing_permission(sim_http: dict[str, Endpoint], fake_time: FakeTime) -> None:
    endpoint = sim_http["server"]
    async with make_client(endpoint, fake_time, key=endpoint.reader_key) as client:
        await client.discover()
        projects = await client.projects()  # reading is allowed
        with pytest.raises(Forbidden) as info:
            await client.export_projects([projects[0].id or ""], "correct horse battery staple")
    text = str(info.value)
    assert text.startswith(
        "The API key's user on 127.0.0.1 is not allowed to do this (starting the export): ask an "
        "Octopus administrator to grant the missing permission"
    )
    assert "Missing permission: TaskCreate" in text


async def test_server_too_old(fake_time: FakeTime) -> None:
    sim = Simulator(None, "empty", server=InstanceConfig("server", version="2020.4.0"), clock=fake_time)
    async with OctopusClient(sim.server_url, SERVER_ADMIN.api_key, transport=sim.transport()) as client:
        info = await client.discover()
        assert not info.export_import
        with pytest.raises(ServerTooOld) as err:
            await client.require_export_import(info)
    assert str(err.value) == (
        "Octopus 2020.4.0 predates Project Export/Import, which arrived in 2021.1: upgrade it first."
    )


def _self_signed(tmp: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


async def test_tls_failure_and_ca_bundle(sim: Simulator, tmp_path: Path, fake_time: FakeTime) -> None:
    cert, key = _self_signed(tmp_path)
    with sim.serve(ssl_certfile=cert, ssl_keyfile=key) as endpoints:
        url = endpoints["server"].url
        assert url.startswith("https://")
        async with OctopusClient(url, SERVER_ADMIN.api_key, sleep=fake_time.sleep) as client:
            with pytest.raises(TlsError) as info:
                await client.root()
        assert "The TLS certificate of 127.0.0.1 could not be verified" in str(info.value)
        assert "give its CA bundle (--ca-bundle)" in str(info.value)
        async with OctopusClient(url, SERVER_ADMIN.api_key, ca_bundle=cert) as trusted:
            root = await trusted.root()
        assert root.version


async def test_errors_never_contain_the_key(sim_http: dict[str, Endpoint], fake_time: FakeTime) -> None:
    bad = "API-NOTTHEKEY000000000000000000"
    async with make_client(sim_http["server"], fake_time, key=bad) as client:
        with pytest.raises(Unauthorized) as info:
            await client.projects() if client.space_id else await client.current_user()
    assert bad not in str(info.value) and bad not in repr(info.value)
    assert bad not in "".join(str(a) for a in info.value.args)


async def test_timeouts_say_so(fake_time: FakeTime) -> None:
    with socket.socket() as listener:  # accepts connections but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        async with OctopusClient(
            f"http://127.0.0.1:{port}", SERVER_ADMIN.api_key, read_timeout=0.2, max_attempts=1
        ) as client:
            with pytest.raises(Exception) as info:
                await client.root()
    assert "127.0.0.1 did not answer within 0.2 seconds" in str(info.value)
    assert not isinstance(info.value, httpx.HTTPError)


async def test_https_to_a_plain_http_port_says_to_write_http(
    sim_http: dict[str, Endpoint], fake_time: FakeTime
) -> None:
    plain = sim_http["server"].url  # http://127.0.0.1:PORT
    port = plain.rsplit(":", 1)[1]
    async with OctopusClient(
        f"127.0.0.1:{port}", SERVER_ADMIN.api_key, sleep=fake_time.sleep, max_attempts=1
    ) as client:  # no scheme: https is assumed
        with pytest.raises(TlsError) as info:
            await client.root()
    assert str(info.value) == (
        f"127.0.0.1:{port} does not speak HTTPS (the TLS handshake got a plain answer): if "
        "the instance serves plain HTTP, write its URL with http://."
    )
