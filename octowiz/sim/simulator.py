"""Both simulated instances together: seeded, persisted, reachable in-process or over loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from octowiz.sim.config import InstanceConfig
from octowiz.sim.instance import ARRIVED, DroppedConnection, SimInstance
from octowiz.sim.keys import CLOUD_MANAGER, CLOUD_READER, SERVER_ADMIN, SERVER_READER
from octowiz.sim.store import Store
from octowiz.sim.tentacles import Hosts

#: Base URLs the in-process transport answers (the Cloud one looks like a real Cloud address).
SERVER_URL = "https://octopus.example.internal"
CLOUD_URL = "https://octowiz-demo.octopus.app"


class SimTransport(httpx.AsyncBaseTransport):
    """An in-process transport that sends each request to the instance its host names.

    A simulated dropped connection surfaces as :class:`httpx.RemoteProtocolError`, exactly what the
    client sees when a real peer closes the connection mid-response.
    """

    def __init__(self, routes: dict[str, SimInstance]) -> None:
        self._routes = {host: httpx.ASGITransport(app=inst.app) for host, inst in routes.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.netloc.decode()
        transport = self._routes.get(host) or self._routes.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(
                f"[Errno -2] Name or service not known: {request.url.host}", request=request
            )
        try:
            return await transport.handle_async_request(request)
        except DroppedConnection as exc:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from exc


@dataclass
class Endpoint:
    """Where a simulated instance answers, and the keys that open it."""

    url: str
    api_key: str
    reader_key: str


class Simulator:
    """A simulated Octopus Server and Octopus Cloud instance.

    Args:
        directory: where both instances persist their state; None keeps them in memory.
        scenario: the scenario seeded into a fresh state (``empty``, ``demo`` or ``large``).
        server: the Server's behaviour; defaults to the self-hosted flavour.
        cloud: the Cloud instance's behaviour; defaults to the Cloud flavour.
        clock: shared clock (tests pass a fake one to move tasks along).
    """

    def __init__(
        self,
        directory: Path | None = None,
        scenario: str = "demo",
        *,
        server: InstanceConfig | None = None,
        cloud: InstanceConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from octowiz.sim.scenarios import seed

        self.scenario = scenario
        server = server or InstanceConfig("server")
        cloud = cloud or InstanceConfig("cloud")
        self.instances: dict[str, SimInstance] = {}
        for name, cfg in (("server", server), ("cloud", cloud)):
            store = Store(directory / name if directory is not None else None)
            if store.is_empty:
                seed(store, cfg.flavour, scenario, version=cfg.version)
                store.set_meta("scenario", scenario)
            self.instances[name] = SimInstance(cfg, store, clock, name=name)
        # The seeded documents live as long as the simulator: keep them out of the cyclic garbage
        # collector's full passes, which otherwise stall a large instance for tens of milliseconds.
        gc.collect()
        gc.freeze()
        self.server_url = SERVER_URL
        self.cloud_url = CLOUD_URL
        # The Server's Tentacle hosts (persisted in the Server's store); scripts run there reach
        # either instance by its in-process URL, so the Server's script console can register on Cloud.
        self.hosts = Hosts(
            self.server.store,
            self.instances,
            {httpx.URL(self.server_url).host: "server", httpx.URL(self.cloud_url).host: "cloud"},
        )
        self.hosts.attach()

    @property
    def server(self) -> SimInstance:
        """The self-hosted Octopus Server."""
        return self.instances["server"]

    @property
    def cloud(self) -> SimInstance:
        """The Octopus Cloud instance."""
        return self.instances["cloud"]

    def run_on_host(
        self,
        host_or_machine: str,
        script_text: str,
        env: dict[str, str] | None = None,
        *,
        stdin: list[str] | None = None,
    ) -> tuple[int, str]:
        """Play "the admin runs the downloaded script on host X": (exit code, output).

        Args:
            host_or_machine: a host name, or the Server name of a machine on it.
            script_text: the script (PowerShell on Windows hosts, Bash on Linux ones).
            env: the environment it sees, e.g. ``{"OCTOPUS_CLOUD_API_KEY": key}``.
            stdin: answers typed at its prompts, in order.
        """
        result = self.hosts.run(host_or_machine, script_text, env, stdin=stdin or [])
        return result.code, result.output

    def transport(self) -> SimTransport:
        """An httpx transport reaching both instances in-process, at ``server_url`` and ``cloud_url``."""
        return SimTransport(
            {
                httpx.URL(self.server_url).host: self.server,
                httpx.URL(self.cloud_url).host: self.cloud,
            }
        )

    def endpoints(self) -> dict[str, Endpoint]:
        """In-process URLs and keys of both instances."""
        return {
            "server": Endpoint(self.server_url, SERVER_ADMIN.api_key, SERVER_READER.api_key),
            "cloud": Endpoint(self.cloud_url, CLOUD_MANAGER.api_key, CLOUD_READER.api_key),
        }

    @contextlib.contextmanager
    def serve(
        self,
        host: str = "127.0.0.1",
        server_port: int = 0,
        cloud_port: int = 0,
        *,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
    ) -> Iterator[dict[str, Endpoint]]:
        """Serve both instances over real HTTP on loopback while the context is open.

        Port 0 picks a free port; a certificate and key serve HTTPS. Yields the endpoints with their
        real URLs.
        """
        tls = {"ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile}
        with (
            _Loopback(self.server.app, host, server_port, **tls) as s_url,
            _Loopback(self.cloud.app, host, cloud_port, **tls) as c_url,
        ):
            yield {
                "server": Endpoint(s_url, SERVER_ADMIN.api_key, SERVER_READER.api_key),
                "cloud": Endpoint(c_url, CLOUD_MANAGER.api_key, CLOUD_READER.api_key),
            }

    def close(self) -> None:
        """Flush and close both stores."""
        for inst in self.instances.values():
            inst.store.close()


class _ArrivalStamped(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, noting in each request's scope when its bytes arrived.

    The simulated latency is counted from that moment (``SimInstance._endpoint``). Counted from when
    the endpoint first runs, eight requests arriving together would each wait for the ones parsed
    and answered before it on this single thread, adding up to a few milliseconds that a real
    server, parsing them in parallel, does not add.
    """

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter()
        before = getattr(self, "scope", None)
        super().data_received(data)
        scope: dict[str, object] | None = getattr(self, "scope", None)
        if scope is not None and scope is not before:
            scope[ARRIVED] = arrived


class _Loopback:
    """A uvicorn server on its own thread and event loop."""

    def __init__(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
    ) -> None:
        self._scheme = "https" if ssl_certfile else "http"
        # Simulated dropped connections raise inside the app on purpose; uvicorn would log them as errors.
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        self._config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="critical",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
            http=_ArrivalStamped,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
        )
        self._server = uvicorn.Server(self._config)
        self._thread = threading.Thread(target=self._run, name=f"sim-http-{port}", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve())
        except BaseException as exc:  # surfaced to the caller by __enter__
            self._error = exc
        finally:
            self._ready.set()

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            self._ready.wait(0.01)
        if not self._server.started:
            raise RuntimeError(
                f"the simulator could not listen on {self._config.host}:{self._config.port}"
                + (f": {self._error}" if self._error else "")
            )
        sock = self._server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        return f"{self._scheme}://{host}:{port}"

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
