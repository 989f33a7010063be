"""The demo's simulated network, so connectivity probes in ``octowiz --demo`` have something to measure.

The demo's instances are simulated, so is the network between them: the Cloud instance's host resolves
to a loopback listener accepting on its ports; hosts Cloud could reach (public names) resolve to
loopback and their feeds answer HTTP 200; private addresses, single-label and ``.local``-style names do
not resolve. Everything is real DNS-shaped data and real TCP on loopback; nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Any

import httpx

from octowiz.engine.prepare.hosts import host_problem


def reachable_from_cloud(host: str) -> bool:
    """Would Octopus Cloud (the public internet) reach this host? The readiness rules' own answer."""
    return host_problem(host) is None


class DemoNetwork:
    """Loopback listeners standing in for the Cloud instance's ports, and the resolver/connector/transport."""

    def __init__(self, cloud_host: str) -> None:
        self.cloud_host = cloud_host.lower()
        self._server: asyncio.AbstractServer | None = None
        self._port = 0

    async def __aenter__(self) -> DemoNetwork:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        self._server = await asyncio.start_server(accept, "127.0.0.1", 0)
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def resolve(self, host: str, port: int) -> Sequence[tuple[Any, ...]]:
        """Public and Cloud hosts resolve to loopback; the rest do not resolve at all."""
        if host.lower() == self.cloud_host or reachable_from_cloud(host):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (simulated network)")

    async def connect(self, address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Every port of a reachable host is open: it is the loopback listener."""
        return await asyncio.open_connection("127.0.0.1", self._port)

    def http_transport(self) -> httpx.AsyncBaseTransport:
        """Feeds on public hosts answer 200; the others cannot be connected to."""

        def handle(request: httpx.Request) -> httpx.Response:
            if not reachable_from_cloud(request.url.host):
                raise httpx.ConnectError("Name or service not known (simulated network)", request=request)
            return httpx.Response(200, text="simulated feed", request=request)

        return httpx.MockTransport(handle)
