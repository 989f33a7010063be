"""The lean HTTP/1.1 transport against a raw server on loopback that misbehaves on purpose.

Each server here is a few lines of asyncio that write exact bytes, so the cases a real server or a
proxy produces (an idle connection closed, ``Connection: close``, chunked bodies, a body cut short,
an answer that never comes) are produced exactly, and the client must turn each into the right
outcome: a transparent retry where nothing was processed, otherwise the sentence a person can act on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from octowiz.octopus.client import OctopusClient
from octowiz.octopus.errors import OctopusError, TimeoutError_
from octowiz.octopus.transport import H11Transport
from octowiz.sim.keys import SERVER_ADMIN

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


def ok(body: bytes, *extra: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in extra)
    return (
        f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{head}\r\n"
    ).encode() + body


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head and its Content-Length body (empty bytes at EOF)."""
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + (await reader.readexactly(length) if length else b"")


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A loopback server running ``handler(reader, writer, connection_number)``: its URL, connections."""
    connections: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections) + 1)
        try:
            await handler(reader, writer, len(connections))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", connections


async def test_keep_alive_reuses_one_connection_for_sequential_requests() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await read_request(reader)
            writer.write(ok(b'{"n": %d}' % n))
            await writer.drain()

    async with serving(handler) as (url, connections), httpx.AsyncClient(transport=H11Transport()) as http:
        answers = [(await http.get(f"{url}/api/{i}")).json() for i in range(5)]
    assert answers == [{"n": 1}] * 5
    assert connections == [1]


async def test_an_idle_connection_the_server_closed_is_replaced_without_an_error() -> None:
    # The server answers once per connection and then closes it, as a proxy with a short idle
    # timeout does: the second GET must go out on a new connection, not fail.
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(ok(b'{"n": %d}' % n))
        await writer.drain()

    transport = H11Transport()
    async with serving(handler) as (url, connections), httpx.AsyncClient(transport=transport) as http:
        first = (await http.get(f"{url}/a")).json()
        # Wait for the server's close to arrive (its end-of-file), as it has between two real requests.
        (idle,) = transport._idle[("http", "127.0.0.1", int(url.rsplit(":", 1)[1]))]
        assert await idle.reader.read() == b""
        second = (await http.get(f"{url}/b")).json()
    assert (first, second) == ({"n": 1}, {"n": 2})
    assert connections == [1, 2]


async def test_a_connection_closed_under_a_request_is_an_error_the_client_retries_for_a_get_only() -> None:
    # The server reads a second request on a kept-alive connection and closes without a word. The
    # transport never sends a request again by itself (the client's budget and retry policy must see
    # every request that reaches the wire): the client sends a GET again, never a POST.
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(ok(b"{}"))
        await writer.drain()
        await read_request(reader)  # the second request on this connection: dropped unanswered

    async with serving(handler) as (url, connections):
        async with httpx.AsyncClient(transport=H11Transport()) as http:
            await http.get(f"{url}/warm")
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(f"{url}/again")
        async with OctopusClient(url, SERVER_ADMIN.api_key, backoff_base=0.0) as client:
            assert await client.get_json("/api/warm") == {}
            assert await client.get_json("/api/again") == {}
            sent = client.request_count
            with pytest.raises(OctopusError):
                await client.request("POST", "/api/create", json={})
            assert client.request_count == sent + 1
    # The plain client's connection, the GET that met the drop on the client's first, and its next.
    assert connections == [1, 2, 3]


async def test_connection_close_and_chunked_bodies() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            b"5\r\n[1, 2\r\n4\r\n, 3]\r\n0\r\n\r\n"
        )
        await writer.drain()

    async with serving(handler) as (url, connections), httpx.AsyncClient(transport=H11Transport()) as http:
        assert (await http.get(f"{url}/x")).json() == [1, 2, 3]
        assert (await http.get(f"{url}/y")).json() == [1, 2, 3]
    assert connections == [1, 2]  # "connection: close" is never reused


async def test_a_body_cut_short_and_a_silent_server_become_sentences() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + b"{" * 10)
        await writer.drain()

    async with serving(cut) as (url, _), OctopusClient(url, SERVER_ADMIN.api_key, max_attempts=1) as client:
        with pytest.raises(OctopusError) as cut_short:
            await client.get_json("/api/projects", what="listing projects")
    assert "Traceback" not in str(cut_short.value)
    assert "127.0.0.1" in str(cut_short.value)

    answered = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        await answered.wait()

    async with serving(silent) as (url, _):
        async with OctopusClient(url, SERVER_ADMIN.api_key, read_timeout=0.2, max_attempts=1) as client:
            with pytest.raises(TimeoutError_) as timed_out:
                await client.get_json("/api/projects")
        answered.set()
    assert "did not answer within 0.2 seconds" in str(timed_out.value)


async def test_a_streamed_upload_and_a_streamed_download_round_trip() -> None:
    received: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head.lower()
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        received.append(body)
        payload = body[::-1]
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(payload) + payload)
        await writer.drain()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(50):
            yield bytes([i % 256]) * 10_000

    async with (
        serving(handler) as (url, _),
        httpx.AsyncClient(transport=H11Transport()) as http,
        http.stream("POST", f"{url}/upload", content=chunks()) as response,
    ):
        parts = [part async for part in response.aiter_bytes()]
    sent = b"".join(bytes([i % 256]) * 10_000 for i in range(50))
    assert received == [sent]
    assert b"".join(parts) == sent[::-1]


async def test_a_load_balancers_affinity_cookie_is_kept_and_sent_back() -> None:
    # The client skips httpx's cookie jar for answers that set no cookie (a tenth of a listing's CPU):
    # one that does, as a load balancer pinning a session to a node, must still be honoured.
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            head = await read_request(reader)
            seen.append(b"".join(ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"cookie:")))
            cookie = "set-cookie: AWSALB=node-2; Path=/" if len(seen) == 1 else "x-plain: 1"
            writer.write(ok(b"{}", cookie))
            await writer.drain()

    async with serving(handler) as (url, _), OctopusClient(url, SERVER_ADMIN.api_key) as client:
        for path in ("/api/a", "/api/b", "/api/c"):
            assert await client.get_json(path) == {}
    assert [s.lower() for s in seen] == [b"", b"cookie: awsalb=node-2", b"cookie: awsalb=node-2"]
