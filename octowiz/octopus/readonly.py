"""A transport that lets only reads leave the process: what makes a review read-only, not just promised.

A review shows what both instances hold now; it must never change them, whatever a screen or an engine
function it calls might try. Every client of a review is built over :class:`ReadOnlyTransport`, which
refuses any request other than ``GET`` and ``HEAD`` *before* it is handed to the network (or to the
simulator's in-process app), with a :class:`ReadOnlyRefused` sentence naming what was refused.
"""

from __future__ import annotations

import urllib.request

import httpx

from octowiz.octopus.errors import OctopusError

#: The only methods a review sends.
READ_METHODS = frozenset({"GET", "HEAD"})


class ReadOnlyRefused(OctopusError):
    """A request that would change an instance, refused before it was sent (a read-only review)."""


class _EnvironmentTransport(httpx.AsyncBaseTransport):
    """httpx's default transport, with the environment's proxies as a default ``AsyncClient`` has them.

    A client given a transport ignores ``HTTP(S)_PROXY``; this one honours them again (per scheme, with
    ``NO_PROXY``), so wrapping the default transport changes nothing but the refusal.
    """

    def __init__(self) -> None:
        self._direct = httpx.AsyncHTTPTransport()
        self._proxied: dict[str, httpx.AsyncHTTPTransport] = {}

    def _for(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        proxy = urllib.request.getproxies().get(url.scheme)
        if not proxy or urllib.request.proxy_bypass(url.host):
            return self._direct
        transport = self._proxied.get(proxy)
        if transport is None:
            transport = self._proxied[proxy] = httpx.AsyncHTTPTransport(proxy=proxy)
        return transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._for(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        for transport in self._proxied.values():
            await transport.aclose()


class ReadOnlyTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and refuses every request but ``GET`` and ``HEAD`` before it leaves.

    Args:
        inner: the transport to wrap (the simulator's in-process one); None wraps httpx's default
            transport, for real instances.

    Attributes:
        refused: ``(method, path)`` of every request refused, in order (for tests and reports).
    """

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner if inner is not None else _EnvironmentTransport()
        self._owns_inner = inner is None
        self.refused: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method = request.method.upper()
        if method not in READ_METHODS:
            path = request.url.path
            self.refused.append((method, path))
            raise ReadOnlyRefused(
                f"Review is read-only: octowiz refused to send {method} {path} to {request.url.host}, "
                "so nothing on either instance was changed. Resume the migration to make changes.",
                host=request.url.host,
            )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        # The wrapped transport of a context is shared by every client of the run: only close our own.
        if self._owns_inner:
            await self.inner.aclose()


def read_only(transport: httpx.AsyncBaseTransport | None) -> ReadOnlyTransport:
    """``transport`` (or httpx's default, for None) wrapped so that only reads leave the process."""
    if isinstance(transport, ReadOnlyTransport):
        return transport
    return ReadOnlyTransport(transport)
