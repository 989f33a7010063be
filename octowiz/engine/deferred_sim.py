"""The demo's simulator, built when it is first needed rather than before the wizard's first screen.

Importing the simulator and opening (or, on a first launch, seeding) its stores costs about half a
second of CPU, half the budget of a cold start. The wizard's Welcome screen needs none of it: it lists
the demo's journals. So ``octowiz --demo`` hands the app a :class:`DeferredSimulator` and a
:class:`DeferredTransport`; the app builds the simulator on a thread once the first screen is painted
(:meth:`DeferredSimulator.get`), and the first request that comes sooner waits for it on a thread,
never on the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from octowiz.sim.simulator import Simulator

    _Transport = httpx.AsyncBaseTransport
else:
    # httpx costs a tenth of a second to import, before the first screen that needs none of it; httpx
    # only calls a transport's methods, all of which DeferredTransport defines.
    _Transport = object


class DeferredSimulator:
    """A :class:`~octowiz.sim.simulator.Simulator` built on first use, once, whoever asks first.

    Attribute reads other than ``get``, ``built`` and ``close`` are forwarded to the simulator and build
    it if need be (blocking): read them from a thread, or after :meth:`get` returned.
    """

    def __init__(self, build: Callable[[], Simulator]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._sim: Simulator | None = None

    def get(self) -> Simulator:
        """The simulator, built now if it is not yet (blocking: call from a thread)."""
        with self._lock:
            if self._sim is None:
                self._sim = self._build()
            return self._sim

    @property
    def built(self) -> bool:
        """True once the simulator exists."""
        return self._sim is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # copy/pickle probes, and our own attributes before __init__
            raise AttributeError(name)
        return getattr(self.get(), name)

    def close(self) -> None:
        """Close the simulator's stores if it was ever built (nothing to do otherwise)."""
        with self._lock:
            if self._sim is not None:
                self._sim.close()


class DeferredTransport(_Transport):
    """The simulator's in-process transport; the first request waits on a thread for it to be built."""

    def __init__(self, simulator: DeferredSimulator) -> None:
        self.simulator = simulator
        self._inner: httpx.AsyncBaseTransport | None = None

    async def _transport(self) -> httpx.AsyncBaseTransport:
        if self._inner is None:
            built = self.simulator.built
            sim = self.simulator.get() if built else await asyncio.to_thread(self.simulator.get)
            self._inner = self._inner or sim.transport()
        return self._inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await (await self._transport()).handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()

    async def __aenter__(self) -> DeferredTransport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()


class DeferredKeys(dict[str, str]):
    """The simulator's API keys by normalised URL, worked out on first look-up (blocking: the simulator's
    module is imported then). ``Context.key_for`` reads them from a thread."""

    def _fill(self) -> None:
        if not self:
            from octowiz.octopus.urls import normalise_base_url
            from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN
            from octowiz.sim.simulator import CLOUD_URL, SERVER_URL

            self[normalise_base_url(SERVER_URL)] = SERVER_ADMIN.api_key
            self[normalise_base_url(CLOUD_URL)] = CLOUD_MANAGER.api_key

    def get(self, key: str, default: Any = None) -> Any:
        self._fill()
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self._fill()
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._fill()
        return super().__contains__(key)
