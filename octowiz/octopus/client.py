"""The async Octopus REST client: one per instance, correct at any size.

What it guarantees:

* the base URL is normalised and the API key checked for shape before any request is sent;
* the key travels only in the ``X-Octopus-ApiKey`` header (never in a URL, a log line or an error);
* TLS is verified (optionally against a CA bundle), with explicit connect and read timeouts;
* lists never truncate: the first page tells the total, the rest are fetched concurrently by
  ``skip``, and ``/all`` serves the small collections Octopus offers it for; ``ids=`` look-ups are
  batched instead of one request per item;
* safe requests (GET, HEAD, and whole-resource PUTs) are retried with exponential backoff and jitter,
  honouring ``Retry-After``, bounded in attempts and in time; requests that create tasks or resources
  are never retried once they may have reached the server: callers reconcile by reading state;
* at most ``concurrency`` requests are in flight, and a client-side requests-per-minute budget keeps
  the client under a rate limit instead of storming into it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import gc
import hashlib
import inspect
import json
import logging
import random
import re
import ssl
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from octowiz import __version__, heap
from octowiz.octopus import models as m
from octowiz.octopus import transport as _transport
from octowiz.octopus.errors import (
    InvalidApiKey,
    NotFound,
    OctopusError,
    RateLimited,
    ServerError,
    ServerTooOld,
    TaskFailed,
    TlsError,
    Unreachable,
    from_response,
    from_transport,
    retry_after_seconds,
)
from octowiz.octopus.urls import expand, normalise_base_url

log = logging.getLogger("octowiz.octopus")

API_KEY_RE = re.compile(r"^API-[A-Z0-9]+$")
EXPORT_IMPORT_MIN = (2021, 1)
#: Links a space root must have for Export/Import to be usable (octopus-api.md §1.2).
EXPORT_IMPORT_LINKS = ("ExportProjects", "ImportProjects", "ProjectImportFiles", "ProjectImportPreview")
#: Octopus accepts this ``take`` as "everything" (``Page.All``).
TAKE_ALL = 2147483647
ID_BATCH = 100
SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")


#: Pages with more items than this are validated on a thread, in chunks of this many, when their
#: body is over ``PARSE_INLINE_BYTES`` (big documents such as deployment processes).
PARSE_INLINE = 16
#: A page body up to this size is decoded and validated on the event loop in one pass (a few
#: milliseconds at most); a bigger one goes to a thread in chunks so the UI never freezes.
PARSE_INLINE_BYTES = 512 * 1024


async def _maybe_await(value: R | Awaitable[R]) -> R:
    if inspect.isawaitable(value):
        return await value
    return value


def _validate_chunks(adapter: TypeAdapter[list[T]], items: list[Any]) -> list[T]:
    out: list[T] = []
    for start in range(0, len(items), PARSE_INLINE):
        out.extend(adapter.validate_python(items[start : start + PARSE_INLINE]))
    return out


@functools.cache
def _list_adapter(model: type[T]) -> TypeAdapter[list[T]]:
    """A cached validator for a page of ``model`` items (one Rust call per page, not per item)."""
    return TypeAdapter(list[model])  # type: ignore[valid-type]


class _Page(BaseModel, Generic[T]):
    """A page of a list: the items as models and the total (the rest of the envelope is ignored)."""

    Items: list[T] = []
    TotalResults: int = 0


@functools.cache
def _page_model(model: type[T]) -> type[_Page[T]]:
    """The page model for ``model``, validated from a page's bytes in one pass.

    Decoding and validating in one pass in pydantic-core, straight from the bytes, costs about half
    of ``json.loads`` followed by validating the Python objects it built (profiled on a 77 kB page
    of 30 projects: 0.27 ms against 0.56 ms).
    """
    return _Page[model]  # type: ignore[valid-type]


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, consulted only for answers that set a cookie.

    httpx hands every answer to the standard library's cookie jar, building urllib request and
    response adapters for it first: a tenth of a listing's CPU (profiled), for API answers that never
    set a cookie. An answer that does (a load balancer's affinity cookie) is kept and sent back as
    before.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


def _settle_young_objects() -> None:
    """Keep a listing's pages out of the cyclic GC's older generations.

    What a listing reads lives on, so every gen-1 and gen-2 pass walks it again: listing 7,000 items
    spent 0.25-0.6 s of its 0.65-0.85 s of CPU in those passes, and a late full pass froze the UI.
    After each page, one young-generation pass collects whatever cyclic garbage is young (the tasks
    and futures of finished requests), then what survived is frozen, never walked again; it is still
    freed by reference counting when dropped. Anything frozen while alive that becomes cyclic
    garbage later is kept until the heap is unfrozen, so answers break their own cycle (see
    :meth:`OctopusClient.request`). Screens that hold big listings unfreeze
    when they close (see :mod:`octowiz.heap`), handing it all back to normal collection.
    """
    if gc.isenabled():
        gc.collect(0)
        heap.freeze()


def _validated_out_of_gc(validate: Callable[[bytes], R], body: bytes) -> R:
    """Validate a page from its bytes with the cyclic GC paused, then freeze what it built.

    A page's models hold no reference cycles, and they live as long as the listing: the collector's
    passes over them during and after validation only moved them along (25-40 ms of a large
    listing's CPU). The young generation is collected first (whatever cyclic garbage other work left),
    then the page is validated without passes and frozen in constant time: never walked at all. It is
    freed by reference counting when dropped, like everything frozen.
    """
    if not gc.isenabled():
        return validate(body)
    gc.collect(0)
    gc.disable()
    try:
        result = validate(body)
    finally:
        gc.enable()
    heap.freeze()
    return result


_decode_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def _decode_turn() -> AsyncIterator[None]:
    """One page decoded per turn of the event loop, whichever listing or client it belongs to.

    Decoding and validating a page of 100 items takes 5-10 ms of CPU on a 2-core machine. Pages are
    requested eight at a time and land together, so their decodes fell in one turn of the loop: a
    60 ms stall of the screen showing a scan. Each decode here holds the turn until the loop has run
    once more (what else was due, a key, a paint), then hands it to the next page: the same CPU, in
    slices a person does not notice.
    """
    loop = asyncio.get_running_loop()
    turn = _decode_turns.get(loop)
    if turn is None:
        turn = _decode_turns[loop] = asyncio.Lock()
    async with turn:
        yield
        await asyncio.sleep(0)


def check_api_key(api_key: str) -> str:
    """Refuse a malformed key before it is sent anywhere.

    Raises:
        InvalidApiKey: the key does not look like ``API-`` followed by capitals and digits.
    """
    key = (api_key or "").strip()
    if not API_KEY_RE.fullmatch(key):
        raise InvalidApiKey(
            "That is not an Octopus API key: keys start with API- followed by capital letters "
            "and digits (create one under your profile, API keys)."
        )
    return key


@dataclass(frozen=True, order=True)
class OctopusVersion:
    """An Octopus version such as ``2024.2.9220``; local builds (``0.0.0-local``) count as newest."""

    year: int
    minor: int
    build: int
    raw: str = field(compare=False, default="")

    @classmethod
    def parse(cls, text: str) -> OctopusVersion:
        """Parse ``YYYY.N.build[-pre]``; unparsable parts count as 0."""
        nums = [int(x) for x in re.findall(r"\d+", (text or "").split("-")[0])[:3]] + [0, 0, 0]
        if nums[:3] == [0, 0, 0]:
            return cls(9999, 99, 0, text)
        return cls(nums[0], nums[1], nums[2], text)

    def at_least(self, year: int, minor: int, build: int = 0) -> bool:
        """True when this version is ``year.minor.build`` or newer."""
        return (self.year, self.minor, self.build) >= (year, minor, build)

    def __str__(self) -> str:
        return self.raw or f"{self.year}.{self.minor}.{self.build}"


@dataclass
class InstanceInfo:
    """What discovery learned about an instance."""

    url: str
    version: OctopusVersion
    root: m.Root
    space_id: str
    space_links: dict[str, str]
    export_import: bool
    is_cloud_host: bool

    @property
    def export_import_reason(self) -> str:
        """Why Export/Import is not available, or empty when it is."""
        if self.export_import:
            return ""
        if not self.version.at_least(*EXPORT_IMPORT_MIN):
            return (
                f"Octopus {self.version} predates Project Export/Import, which arrived in 2021.1: "
                "upgrade it first."
            )
        missing = [k for k in EXPORT_IMPORT_LINKS if k not in self.space_links]
        return f"The space does not offer Export/Import (links missing: {', '.join(missing)})."


@dataclass
class TaskProgress:
    """One observation of a running task, for progress displays."""

    task: m.ServerTask
    percent: int
    log_tail: list[str]
    estimated_remaining: str | None


#: The least a budget's window is kept longer than the instance's (see ``RateBudget``'s ``slack``).
MIN_BUDGET_SLACK = 0.1


class RateBudget:
    """A client-side budget: never more than ``per_minute`` requests in any 60 seconds.

    A sliding window over the times of the last ``per_minute`` sends: a request goes at once while
    fewer went in the last minute, else it waits until the oldest of them is a minute old. Short runs
    are never slowed, long ones go at the budget, and the budget holds as written over any window a
    rate limiter (or a person reading its log) looks at. A token bucket refilled at the budget's rate
    would not: a full bucket plus a minute's refill lets twice the budget through in one minute.

    Args:
        per_minute: the budget.
        window: the window in seconds (60; tests scale it down with the budget).
        slack: seconds the window is kept longer than the instance's, because requests reach it a
            little late and not all equally late (two sent a window apart may arrive a little less
            than a window apart). None: a fiftieth of the window, and never under 0.1 s, since that
            spread comes from networks and schedulers and does not shrink with the window.
        clock: monotonic seconds.
        sleep: how to wait (tests pass a recorder).
    """

    def __init__(
        self,
        per_minute: int,
        *,
        window: float = 60.0,
        slack: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("the requests-per-minute budget must be positive")
        self.limit = per_minute
        self.window = window
        self.slack = max(window / 50, MIN_BUDGET_SLACK) if slack is None else slack
        self.clock = clock
        self.sleep = sleep
        self._sent: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until a request may go without breaking the budget, and count it as sent."""
        async with self._lock:
            now = self.clock()
            # The window kept here is longer than the instance's by the spread in how late requests
            # reach it, so the instance never counts more in its own.
            window = self.window + self.slack
            while self._sent and self._sent[0] <= now - window:
                self._sent.popleft()
            if len(self._sent) >= self.limit:
                oldest = self._sent.popleft()
                await self.sleep(oldest + window - now)
                # Never earlier than the oldest send's window is over, however coarse the clock.
                now = max(self.clock(), oldest + window)
            self._sent.append(now)


class OctopusClient:
    """An async client for one Octopus instance.

    Args:
        url: the instance as pasted (normalised here).
        api_key: ``API-…``; refused before any request when malformed.
        space_id: the space to work in; discovery fills in the default space when None.
        transport: an httpx transport (the simulator's in-process one, in tests and the demo).
        ca_bundle: a CA bundle file for instances behind a private certificate authority.
        connect_timeout: seconds to establish a connection.
        read_timeout: seconds to wait for each read.
        concurrency: requests in flight at once (Octopus default guidance: keep it modest).
        requests_per_minute: the client-side budget, or None for no budget: never more requests than
            this in any 60 seconds.
        max_attempts: attempts per safe request, the first included.
        retry_budget: seconds of waiting a single request may spend on retries.
        backoff_base: the first retry's upper wait in seconds; it doubles each time (full jitter).
        page_size: the ``take`` used when walking pages.
        sleep: how to wait between retries (tests record instead of sleeping).
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        space_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        ca_bundle: str | Path | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        concurrency: int = 8,
        requests_per_minute: int | None = None,
        max_attempts: int = 5,
        retry_budget: float = 120.0,
        backoff_base: float = 0.5,
        page_size: int = 100,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = normalise_base_url(url)
        # Parsed once: every request's URL is built from these as a plain string (parsing URLs was
        # a tenth of the client's CPU per request, profiled).
        self._base_path = httpx.URL(self.base_url).path.rstrip("/")
        self._base_prefix = self.base_url.rstrip("/")
        key = check_api_key(api_key)
        self.space_id = space_id
        self.concurrency = concurrency
        self.max_attempts = max(1, max_attempts)
        self.retry_budget = retry_budget
        self.backoff_base = backoff_base
        self.page_size = page_size
        self.read_timeout = read_timeout
        self._sleep = sleep
        self._sem = asyncio.Semaphore(concurrency)
        self._budget = RateBudget(requests_per_minute, sleep=sleep) if requests_per_minute else None
        self._rng = random.Random()
        self._space_links: dict[str, str] = {}
        self.request_count = 0
        self.retry_count = 0
        verify: bool | ssl.SSLContext = True
        if ca_bundle:
            try:
                verify = ssl.create_default_context(cafile=str(ca_bundle))
            except (OSError, ssl.SSLError) as exc:
                raise TlsError(
                    f"The CA bundle {ca_bundle} cannot be read ({exc.strerror or exc}): give the path of "
                    "a PEM file holding the certificate authority's certificate."
                ) from None
        elif transport is None:
            verify = default_tls_context()
        if transport is None and _transport.wanted():
            transport = _transport.H11Transport(
                verify if isinstance(verify, ssl.SSLContext) else None, max_idle=concurrency
            )
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "X-Octopus-ApiKey": key,
                "User-Agent": f"octowiz/{__version__} (+https://octopus.com migration)",
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
            verify=verify,
            follow_redirects=True,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._http._cookies = _Cookies()
        del key  # the header holds it; nothing else does

    @property
    def host(self) -> str:
        """The instance's host name, for messages."""
        return httpx.URL(self.base_url).host

    async def __aenter__(self) -> OctopusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- the request pipeline -------------------------------------------------------------------

    def _url(self, path: str) -> str:
        """A request path relative to the base URL (links from Octopus start with ``/api``)."""
        if path.startswith(("http://", "https://")):
            base = httpx.URL(self.base_url)
            target = httpx.URL(path)
            if target.host != base.host:
                raise OctopusError(
                    f"Octopus linked to another host ({target.host}); octowiz only follows links on "
                    f"{base.host}.",
                    host=base.host,
                )
            return target.raw_path.decode()
        prefix = self._base_path
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]
        return path if path.startswith("/") else "/" + path

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: Any = None,
        headers: dict[str, str] | None = None,
        what: str = "",
        retry: bool | None = None,
        expect: Iterable[int] = (),
    ) -> httpx.Response:
        """Send one request through the budget, the concurrency bound and the retry policy.

        Args:
            retry: force retrying on or off; by default only safe methods retry.
            expect: error statuses to hand back instead of raising (a 404 that means "absent").
            what: a few words for error sentences ("listing projects").

        Raises:
            OctopusError: the matching domain error.
        """
        method = method.upper()
        may_retry = (method in SAFE_METHODS) if retry is None else retry
        url = self._url(path)
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        query = urlencode(clean) if clean else ""
        target = httpx.URL(self._base_prefix + url + (("&" if "?" in url else "?") + query if query else ""))
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._sem:
                    # The token is taken with the slot, just before sending: taken before waiting for a
                    # slot, requests queued behind slow answers would leave together, bunched.
                    if self._budget is not None:
                        await self._budget.acquire()
                    self.request_count += 1
                    response = await self._http.request(
                        method, target, json=json, content=content, headers=headers
                    )
                    # httpx leaves every answer in a reference cycle with its body's stream
                    # (Response -> BoundAsyncStream -> Response), read and closed by now: only the
                    # cyclic GC could free it, and an answer frozen while still in hand (a page is
                    # frozen after it is parsed) was never freed, 12 MB per listing of 7,000 items.
                    # The read body as the stream breaks the cycle: reference counting frees it.
                    response.stream = httpx.ByteStream(response.content)
            except httpx.HTTPError as exc:
                err = from_transport(exc, httpx.URL(self.base_url + url), self.read_timeout)
                # A connection that never opened cannot have reached the server: safe to try again.
                reached = not isinstance(exc, httpx.ConnectError)
                if (
                    (may_retry or not reached)
                    and self._can_retry(attempt, started, None)
                    and not isinstance(exc, httpx.UnsupportedProtocol)
                ):
                    if isinstance(exc, httpx.ConnectError) and err.sentence.startswith("The host name"):
                        raise err from None
                    await self._backoff(attempt, None)
                    continue
                raise err from None
            # Let the request waiting for this slot go out before the caller decodes and parses
            # this answer: with answers arriving together, parsing first would hold back every
            # following request by the time it takes to parse the whole batch.
            await asyncio.sleep(0)
            status = response.status_code
            log.debug("%s %s -> %s", method, url, status)
            if status < 400 or status in expect:
                return response
            # A 429 was not processed, so even a POST may go again, unless its body was a stream
            # already consumed: then the caller, who can open the stream anew, retries.
            streamed = content is not None and not isinstance(content, (bytes, str))
            if status in RETRY_STATUSES and (may_retry or (status == 429 and not streamed)):
                wait = retry_after_seconds(response) if status in (429, 503) else None
                if self._can_retry(attempt, started, wait):
                    await self._backoff(attempt, wait)
                    continue
            raise from_response(response, what)

    def _can_retry(self, attempt: int, started: float, wait: float | None) -> bool:
        if attempt >= self.max_attempts:
            return False
        spent = time.monotonic() - started
        return spent + (wait or 0.0) <= self.retry_budget

    async def _backoff(self, attempt: int, retry_after: float | None) -> None:
        self.retry_count += 1
        if retry_after is not None:
            delay = retry_after
        else:
            delay = self._rng.uniform(0, self.backoff_base * (2 ** (attempt - 1)))
        await self._sleep(min(delay, self.retry_budget))

    async def get_json(self, path: str, params: dict[str, Any] | None = None, what: str = "") -> Any:
        """GET and decode JSON.

        Raises:
            OctopusError: the matching domain error, or an answer that is not JSON at all.
        """
        response = await self.request("GET", path, params=params, what=what)
        try:
            return json.loads(response.content)
        except ValueError:
            raise self._not_json(response, what) from None

    def _model(self, model: type[T], data: Any, what: str = "") -> T:
        """``data`` as ``model``, or a sentence when the instance answered in another shape."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise self._not_octopus(exc, what) from None

    def _model_of(self, model: type[T], response: httpx.Response, what: str = "") -> T:
        """A response's JSON body as ``model``, or a sentence when it is not JSON or not that shape."""
        try:
            data = json.loads(response.content)
        except ValueError:
            raise self._not_json(response, what) from None
        return self._model(model, data, what)

    def _not_octopus(self, exc: ValidationError, what: str) -> OctopusError:
        """The sentence for JSON that is not shaped as Octopus's (another product, a broken proxy)."""
        errors = exc.errors()
        where = ".".join(str(part) for part in errors[0]["loc"]) if errors else ""
        detail = errors[0]["msg"] if errors else "an unexpected shape"
        return OctopusError(
            f"{self.host} answered {what or 'a request'}, but not as Octopus does ({where or 'the answer'}: "
            f"{detail}): check that the URL is the Octopus Server itself; "
            "if it is, its version may answer in a shape octowiz does not know yet.",
            host=self.host,
        )

    def _not_json(self, response: httpx.Response, what: str) -> OctopusError:
        """The sentence for a successful answer whose body is not Octopus's JSON (a proxy's page)."""
        kind = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
        return OctopusError(
            f"{self.host} answered {what or 'a request'} with something that is not Octopus's JSON "
            f"({kind}): check that the URL is the Octopus Server itself, not a proxy or sign-in page.",
            host=self.host,
        )

    async def get_model(
        self, model: type[T], path: str, params: dict[str, Any] | None = None, what: str = ""
    ) -> T:
        """GET one resource as a model."""
        return self._model(model, await self.get_json(path, params, what), what)

    # -- discovery -------------------------------------------------------------------------------

    async def root(self) -> m.Root:
        """``GET /api``."""
        return await self.get_model(m.Root, "/api", what="reading the API root")

    async def discover(self, space: str | None = None) -> InstanceInfo:
        """Read the root and the space root; learn version, space and Export/Import availability.

        Args:
            space: a space id or name; None uses ``space_id`` given at construction, else the default space.
        """
        root = await self.root()
        if not root.version:
            # Another product's API answering /api with JSON: "no default space" would send the
            # person looking in the wrong place.
            raise OctopusError(
                f"{self.host} answered, but not as Octopus does (its /api names no Octopus version): "
                "check that the URL is the Octopus instance itself.",
                host=self.host,
            )
        version = OctopusVersion.parse(root.version)
        wanted = space or self.space_id
        space_id = await self.resolve_space(wanted) if wanted else await self.default_space_id()
        self.space_id = space_id
        space_root = await self.get_json(f"/api/{space_id}", what="reading the space root")
        links = dict(space_root.get("Links") or {})
        self._space_links = links
        available = version.at_least(*EXPORT_IMPORT_MIN) and all(k in links for k in EXPORT_IMPORT_LINKS)
        host = self.host
        return InstanceInfo(
            self.base_url,
            version,
            root,
            space_id,
            links,
            available,
            host.endswith(".octopus.app") or host.endswith(".octopusdeploy.app"),
        )

    async def spaces(self) -> list[m.Space]:
        """Every space (``/api/spaces/all``)."""
        data = await self.get_json("/api/spaces/all", what="listing spaces")
        return [self._model(m.Space, s) for s in data]

    async def resolve_space(self, id_or_name: str) -> str:
        """A space id from an id, slug or name."""
        spaces = await self.spaces()
        for s in spaces:
            if id_or_name.lower() in {
                str(s.id).lower(),
                str(s.name).lower(),
                str(getattr(s, "slug", "") or "").lower(),
            }:
                return str(s.id)
        names = ", ".join(str(s.name) for s in spaces) or "none visible to this key"
        raise NotFound(f"{self.host} has no space called '{id_or_name}' (spaces: {names}).", host=self.host)

    async def default_space_id(self) -> str:
        """The default space's id."""
        for s in await self.spaces():
            if s.is_default:
                return str(s.id)
        raise NotFound(f"{self.host} has no default space: choose a space explicitly.", host=self.host)

    def space_path(self, suffix: str) -> str:
        """``/api/{space}/{suffix}`` for the current space."""
        if not self.space_id:
            raise OctopusError("No space chosen yet: call discover() first.", host=self.host)
        return f"/api/{self.space_id}/{suffix.lstrip('/')}"

    def link(self, name: str, fallback: str, **values: Any) -> str:
        """Expand a space-root link template, or the fallback template when the server gave none."""
        template = self._space_links.get(name) or fallback
        return expand(template, **values)

    async def require_export_import(self, info: InstanceInfo) -> None:
        """Raise :class:`ServerTooOld` when the instance cannot export or import projects."""
        if not info.export_import:
            raise ServerTooOld(info.export_import_reason, host=self.host)

    # -- users and permissions ------------------------------------------------------------------

    async def current_user(self) -> m.User:
        """The key's user (``/api/users/me``)."""
        return await self.get_model(m.User, "/api/users/me", what="reading the key's user")

    async def permissions(self, user_id: str) -> m.UserPermissionSet:
        """The user's effective permissions."""
        return await self.get_model(
            m.UserPermissionSet, f"/api/users/{user_id}/permissions", what="reading the key's permissions"
        )

    async def users(self) -> list[m.User]:
        """Every user."""
        return await self.list_all("/api/users", m.User, what="listing users")

    async def teams(self) -> list[m.Team]:
        """Every team, system teams included."""
        return await self.list_all(
            "/api/teams", m.Team, params={"includeSystem": "true"}, what="listing teams"
        )

    async def authentication(self) -> m.AuthenticationResource:
        """The enabled authentication providers."""
        return await self.get_model(
            m.AuthenticationResource, "/api/authentication", what="reading authentication providers"
        )

    # -- lists -------------------------------------------------------------------------------

    async def _pages(
        self,
        path: str,
        decode: Callable[[httpx.Response], Awaitable[tuple[R, int, int]]],
        params: dict[str, Any] | None,
        what: str,
    ) -> list[R]:
        """Every page of a collection through ``decode`` (parsed page, items on it, total), in order.

        The first page tells the total; the remaining pages are all requested at once, bounded by
        ``concurrency`` in flight, and each is decoded the moment it lands, so decoding overlaps with
        the requests still waiting.
        """
        base = dict(params or {})
        take = int(base.pop("take", self.page_size))
        first = await self.request("GET", path, params={**base, "skip": 0, "take": take}, what=what)
        async with _decode_turn():
            parsed, count, total = await decode(first)
        out = [parsed]
        if count >= total or not count:
            return out

        async def fetch(skip: int) -> R:
            response = await self.request("GET", path, params={**base, "skip": skip, "take": take}, what=what)
            async with _decode_turn():
                page = (await decode(response))[0]
                _settle_young_objects()
            return page

        out.extend(await asyncio.gather(*(fetch(s) for s in range(count, total, count))))
        return out

    async def collect(
        self,
        path: str,
        parse: Callable[[list[Any]], list[R] | Awaitable[list[R]]],
        params: dict[str, Any] | None = None,
        what: str = "",
    ) -> list[list[R]]:
        """Read every page of a collection as plain JSON, ``parse`` each page's items; never truncates.

        Pages come back in server order.
        """

        async def decode(response: httpx.Response) -> tuple[list[R], int, int]:
            try:
                data = json.loads(response.content)
                items = list(data.get("Items") or [])
                total = int(data.get("TotalResults") or 0)
            except (ValueError, TypeError, AttributeError):
                raise self._not_json(response, what) from None
            return await _maybe_await(parse(items)), len(items), total

        return await self._pages(path, decode, params, what)

    async def list_all(
        self, path: str, model: type[T], params: dict[str, Any] | None = None, what: str = ""
    ) -> list[T]:
        """Every item of a paged collection, as models, in server order, without duplicates.

        Each page is decoded and validated from its bytes in one pass; only a page too big to do
        that without freezing the UI goes to a thread, in chunks. Duplicates can appear when the
        collection shifts while it is read; they are dropped by ``Id``.
        """
        page_model = _page_model(model)
        adapter = _list_adapter(model)

        async def decode(response: httpx.Response) -> tuple[list[T], int, int]:
            body = response.content
            try:
                if len(body) <= PARSE_INLINE_BYTES:
                    page = _validated_out_of_gc(page_model.model_validate_json, body)
                    return page.Items, len(page.Items), page.TotalResults
                data = json.loads(body)
                raw = list(data.get("Items") or [])
                total = int(data.get("TotalResults") or 0)
            except ValidationError as exc:
                if any(e["type"] == "json_invalid" for e in exc.errors()):
                    raise self._not_json(response, what) from None
                raise self._not_octopus(exc, what) from None
            except (ValueError, TypeError, AttributeError):
                raise self._not_json(response, what) from None
            # A page of big documents (deployment processes) takes tens of milliseconds to
            # validate: on a thread, in small chunks, so the GIL goes back to the UI between them.
            return await asyncio.to_thread(_validate_chunks, adapter, raw), len(raw), total

        pages = await self._pages(path, decode, params, what)
        seen: set[str] = set()
        out: list[T] = []
        for page in pages:
            for item in page:
                key = getattr(item, "id", None)
                if key:
                    if key in seen:
                        continue
                    seen.add(key)
                out.append(item)
        return out

    async def all_unpaged(self, coll: str, model: type[T], what: str = "") -> list[T]:
        """A space collection through Octopus's unpaged ``/all`` endpoint.

        Thousands of items (2,000 projects' channels) took 30-45 ms to validate in one go on the event
        loop: beyond a page's worth they are validated on a thread, in small chunks.
        """
        what = what or f"listing {coll}"
        data = await self.get_json(self.space_path(f"{coll}/all"), what=what)
        adapter = _list_adapter(model)
        try:
            if not isinstance(data, list) or len(data) <= self.page_size:
                return adapter.validate_python(data)
            return await asyncio.to_thread(_validate_chunks, adapter, data)
        except ValidationError as exc:
            raise self._not_octopus(exc, what) from None

    async def get_many(self, coll: str, ids: Iterable[str], model: type[T], what: str = "") -> list[T]:
        """Look up many resources by id with batched ``ids=`` requests, not one request each."""
        unique = list(dict.fromkeys(i for i in ids if i))
        batches = [unique[i : i + ID_BATCH] for i in range(0, len(unique), ID_BATCH)]

        async def one(batch: list[str]) -> list[T]:
            data = await self.get_json(
                self.space_path(coll), {"ids": ",".join(batch), "take": len(batch)}, what or f"reading {coll}"
            )
            return [self._model(model, x, what) for x in data.get("Items") or []]

        results = await asyncio.gather(*(one(b) for b in batches))
        return [x for r in results for x in r]

    async def count(self, path: str, params: dict[str, Any] | None = None, what: str = "") -> int:
        """How many items a collection holds (``take=0``/``1`` and ``TotalResults``)."""
        data = await self.get_json(path, {**(params or {}), "skip": 0, "take": 1}, what)
        return int(data.get("TotalResults") or 0)

    # -- space resources -------------------------------------------------------------------------

    async def projects(self) -> list[m.Project]:
        """Every project of the space."""
        return await self.list_all(self.space_path("projects"), m.Project, what="listing projects")

    async def project(self, id_or_slug: str) -> m.Project:
        """One project."""
        return await self.get_model(
            m.Project, self.space_path(f"projects/{id_or_slug}"), what="reading a project"
        )

    async def project_by_name(self, name: str) -> m.Project | None:
        """The project with exactly this name, or None."""
        data = await self.get_json(
            self.space_path("projects"), {"partialName": name, "take": TAKE_ALL}, what="finding a project"
        )
        for raw in data.get("Items") or []:
            if str(raw.get("Name", "")).lower() == name.lower():
                return self._model(m.Project, raw)
        return None

    async def project_groups(self) -> list[m.ProjectGroup]:
        """Every project group."""
        return await self.all_unpaged("projectgroups", m.ProjectGroup)

    async def environments(self) -> list[m.Environment]:
        """Every environment."""
        return await self.all_unpaged("environments", m.Environment)

    async def lifecycles(self) -> list[m.Lifecycle]:
        """Every lifecycle."""
        return await self.all_unpaged("lifecycles", m.Lifecycle)

    async def channels(self, project_id: str) -> list[m.Channel]:
        """A project's channels."""
        return await self.list_all(
            self.space_path(f"projects/{project_id}/channels"), m.Channel, what="listing channels"
        )

    async def releases(self, project_id: str) -> list[m.Release]:
        """A project's releases, newest first."""
        return await self.list_all(
            self.space_path(f"projects/{project_id}/releases"), m.Release, what="listing releases"
        )

    async def release_count(self, project_id: str) -> int:
        """How many releases a project has, in one request."""
        return await self.count(self.space_path(f"projects/{project_id}/releases"), what="counting releases")

    async def deployments(
        self, project_ids: Iterable[str] | None = None, take: int | None = None
    ) -> list[m.Deployment]:
        """Deployments, newest first, optionally of some projects only."""
        params: dict[str, Any] = {}
        if project_ids:
            params["projects"] = ",".join(project_ids)
        if take:
            data = await self.get_json(
                self.space_path("deployments"), {**params, "take": take}, "listing deployments"
            )
            return [self._model(m.Deployment, x) for x in data.get("Items") or []]
        return await self.list_all(
            self.space_path("deployments"), m.Deployment, params, "listing deployments"
        )

    async def deployment_process(self, project: m.Project) -> m.DeploymentProcess:
        """A project's deployment process."""
        return await self.get_model(
            m.DeploymentProcess,
            self.space_path(f"projects/{project.id}/deploymentprocesses"),
            what="reading a deployment process",
        )

    async def variable_set(self, variable_set_id: str) -> m.VariableSet:
        """A variable set (sensitive values come back empty, as Octopus sends them)."""
        return await self.get_model(
            m.VariableSet, self.space_path(f"variables/{variable_set_id}"), what="reading variables"
        )

    async def runbooks(self, project_id: str) -> list[m.Runbook]:
        """A project's runbooks."""
        return await self.list_all(
            self.space_path(f"projects/{project_id}/runbooks"), m.Runbook, what="listing runbooks"
        )

    async def set_project_disabled(self, project_id: str, disabled: bool) -> m.Project:
        """Disable or enable a project by GET-modify-PUT, keeping every field Octopus sent."""
        raw = await self.get_json(self.space_path(f"projects/{project_id}"), what="reading a project")
        raw["IsDisabled"] = disabled
        response = await self.request(
            "PUT",
            self.space_path(f"projects/{project_id}"),
            json=raw,
            what="disabling a project" if disabled else "enabling a project",
        )
        return self._model_of(m.Project, response)

    async def machines(self, **filters: Any) -> list[m.Machine]:
        """Deployment targets (filters as Octopus names them: ``commStyles``, ``roles``…)."""
        return await self.list_all(
            self.space_path("machines"), m.Machine, filters, "listing deployment targets"
        )

    async def create_machine(self, body: dict[str, Any]) -> m.Machine:
        """Register a deployment target (never retried: reconcile by listing on failure)."""
        response = await self.request(
            "POST", self.space_path("machines"), json=body, what="creating a target"
        )
        return self._model_of(m.Machine, response)

    async def workers(self, **filters: Any) -> list[m.Worker]:
        """Workers."""
        return await self.list_all(self.space_path("workers"), m.Worker, filters, "listing workers")

    async def create_worker(self, body: dict[str, Any]) -> m.Worker:
        """Register a worker (never retried: reconcile by listing on failure)."""
        response = await self.request("POST", self.space_path("workers"), json=body, what="creating a worker")
        return self._model_of(m.Worker, response)

    async def update_machine(self, machine_id: str, body: dict[str, Any], *, worker: bool = False) -> Any:
        """PUT a whole target (or worker) body back (a PUT of the whole document, so retried)."""
        coll = "workers" if worker else "machines"
        response = await self.request(
            "PUT", self.space_path(f"{coll}/{machine_id}"), json=body, what=f"updating a {coll[:-1]}"
        )
        return response.json()

    async def machine_policies(self) -> list[m.MachinePolicy]:
        """Machine policies."""
        return await self.all_unpaged("machinepolicies", m.MachinePolicy)

    async def create_machine_policy(self, body: dict[str, Any]) -> m.MachinePolicy:
        """Create a machine policy (never retried: reconcile by name)."""
        response = await self.request(
            "POST", self.space_path("machinepolicies"), json=body, what="creating a machine policy"
        )
        return self._model_of(m.MachinePolicy, response)

    async def accounts(self) -> list[m.Account]:
        """Accounts (their secrets come back as ``HasValue`` only)."""
        return await self.all_unpaged("accounts", m.Account)

    async def certificates(self) -> list[m.Certificate]:
        """Certificates (their data and password are write-only)."""
        return await self.all_unpaged("certificates", m.Certificate)

    async def tenants(self) -> list[m.Tenant]:
        """Tenants."""
        return await self.all_unpaged("tenants", m.Tenant)

    async def worker_pools(self) -> list[m.WorkerPool]:
        """Worker pools."""
        return await self.all_unpaged("workerpools", m.WorkerPool)

    async def create_worker_pool(self, body: dict[str, Any]) -> m.WorkerPool:
        """Create a worker pool (never retried)."""
        response = await self.request(
            "POST", self.space_path("workerpools"), json=body, what="creating a worker pool"
        )
        return self._model_of(m.WorkerPool, response)

    async def feeds(self) -> list[m.Feed]:
        """Feeds."""
        return await self.all_unpaged("feeds", m.Feed)

    # -- packages --------------------------------------------------------------------------------

    async def packages(self, package_id: str | None = None) -> list[m.Package]:
        """Built-in feed package versions (every version, or every version of one package id)."""
        params = {"nuGetPackageId": package_id} if package_id else None
        return await self.list_all(self.space_path("packages"), m.Package, params, "listing packages")

    async def package(self, package_id: str, version: str) -> m.Package | None:
        """One built-in package version, or None when absent."""
        response = await self.request(
            "GET",
            self.space_path(f"packages/packages-{package_id}.{version}"),
            expect=(404,),
            what="reading a package",
        )
        return None if response.status_code == 404 else self._model_of(m.Package, response)

    @contextlib.asynccontextmanager
    async def stream(self, path: str, what: str = "") -> AsyncIterator[httpx.Response]:
        """Open a streamed GET (package or artifact bytes); retried only until the body starts.

        A 429/5xx answer or a connection that fails before the answer's head arrived is tried again
        like any GET; once the response is handed over, a failure reading the body is the caller's
        (it knows how much it has written).
        """
        url = self._url(path)
        attempt = 0
        started = time.monotonic()
        while True:
            attempt += 1
            handed_over = False
            try:
                async with self._sem:
                    if self._budget is not None:
                        await self._budget.acquire()
                    self.request_count += 1
                    async with self._http.stream("GET", url) as response:
                        if response.status_code >= 400:
                            await response.aread()
                            if response.status_code in RETRY_STATUSES and self._can_retry(
                                attempt, started, retry_after_seconds(response)
                            ):
                                await self._backoff(attempt, retry_after_seconds(response))
                                continue
                            raise from_response(response, what)
                        handed_over = True
                        yield response
                        return
            except httpx.HTTPError as exc:
                err = from_transport(exc, httpx.URL(self.base_url + url), self.read_timeout)
                if (
                    not handed_over
                    and self._can_retry(attempt, started, None)
                    and not isinstance(exc, httpx.UnsupportedProtocol)
                    and not err.sentence.startswith("The host name")
                ):
                    await self._backoff(attempt, None)
                    continue
                raise err from None

    async def download_to(self, path: str, dest: Path, what: str = "") -> tuple[int, str]:
        """Stream a download into ``dest`` (written as ``.part`` then renamed).

        Returns:
            ``(bytes, sha256 hex)`` of what was written.
        """
        tmp = dest.with_name(dest.name + ".part")
        sha = hashlib.sha256()
        size = 0
        try:
            async with self.stream(path, what) as response:
                with tmp.open("wb") as f:
                    try:
                        async for chunk in response.aiter_bytes(1 << 20):
                            f.write(chunk)
                            sha.update(chunk)
                            size += len(chunk)
                    except httpx.HTTPError as exc:
                        raise from_transport(
                            exc, httpx.URL(self.base_url + self._url(path)), self.read_timeout
                        ) from None
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)  # never leave half a download behind (a full disk, a dropped link)
        return size, sha.hexdigest()

    async def upload_multipart(
        self,
        path: str,
        filename: str,
        chunks: AsyncIterator[bytes],
        size: int | None,
        *,
        params: dict[str, Any] | None = None,
        what: str = "",
    ) -> httpx.Response:
        """POST a file as ``multipart/form-data`` part ``fileData``, streaming ``chunks``; never retried."""
        boundary = uuid.uuid4().hex
        safe_name = filename.replace('"', "")
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="fileData"; filename="{safe_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        async def body() -> AsyncIterator[bytes]:
            yield head
            async for chunk in chunks:
                yield chunk
            yield tail

        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if size is not None:
            headers["Content-Length"] = str(len(head) + size + len(tail))
        return await self.request(
            "POST", path, params=params, content=body(), headers=headers, retry=False, what=what
        )

    async def upload_package(
        self,
        filename: str,
        chunks: AsyncIterator[bytes],
        size: int | None,
        overwrite_mode: str = "FailIfExists",
    ) -> m.Package:
        """Push a package to the built-in feed, streamed."""
        template = self._space_links.get("PackageUpload", "")
        params = (
            {"overwriteMode": overwrite_mode}
            if (not template or "overwriteMode" in template)
            else {"replace": "true" if overwrite_mode == "OverwriteExisting" else "false"}
        )
        response = await self.upload_multipart(
            self.space_path("packages/raw"), filename, chunks, size, params=params, what="uploading a package"
        )
        return self._model_of(m.Package, response)

    # -- export / import -------------------------------------------------------------------------

    async def export_projects(self, project_ids: list[str], password: str) -> m.ProjectExportResponse:
        """Start an export task on this (source) instance. Never retried."""
        body = {"IncludedProjectIds": project_ids, "Password": {"HasValue": True, "NewValue": password}}
        path = self.link("ExportProjects", self.space_path("projects/import-export/export"))
        response = await self.request("POST", path, json=body, what="starting the export")
        return self._model_of(m.ProjectExportResponse, response)

    async def task_artifacts(self, task_id: str) -> list[m.Artifact]:
        """Artifacts attached to a task."""
        return await self.list_all(
            self.space_path("artifacts"), m.Artifact, {"regarding": task_id}, "listing the task's artifacts"
        )

    async def upload_import_file(self, path: Path) -> m.ProjectImportFile:
        """Upload an export archive to this (destination) instance's import files, streamed from disk."""
        size = path.stat().st_size

        async def chunks() -> AsyncIterator[bytes]:
            with path.open("rb") as f:
                while block := f.read(1 << 20):
                    yield block

        target = self.link("ProjectImportFiles", self.space_path("projects/import-export/import-files"))
        attempt = 0
        started = time.monotonic()
        while True:
            attempt += 1
            try:
                response = await self.upload_multipart(
                    target, path.name, chunks(), size, what="uploading the export archive"
                )
                break
            except RateLimited as exc:  # not processed: send the file again after the wait it asks for
                if not self._can_retry(attempt, started, exc.retry_after):
                    raise
                await self._backoff(attempt, exc.retry_after)
        try:
            data = response.json()
        except ValueError:
            data = {}
        if isinstance(data, dict) and data.get("Id"):
            return self._model(m.ProjectImportFile, data)
        # The upload's answer is UNCONFIRMED (octopus-api.md §5.3): find the file by name instead.
        for f in await self.import_files():
            if f.file_name == path.name:
                return f
        raise NotFound(
            f"{self.host} accepted the upload but does not list {path.name} among its import files.",
            host=self.host,
        )

    async def import_files(self) -> list[m.ProjectImportFile]:
        """Archives uploaded to this instance and not yet imported."""
        path = self.link("ProjectImportFiles", self.space_path("projects/import-export/import-files"))
        data = await self.get_json(path, what="listing import files")
        return self._model(m.ProjectImportFileListResponse, data).project_import_files or []

    def _import_body(self, uploaded_file_id: str, password: str) -> dict[str, Any]:
        return {
            "ImportSource": {"Type": "upload", "UploadedFileId": uploaded_file_id},
            "Password": {"HasValue": True, "NewValue": password},
        }

    async def import_preview(self, uploaded_file_id: str, password: str) -> m.ProjectImportPreviewResponse:
        """What importing an uploaded archive would create or match (read-only on the server)."""
        path = self.link("ProjectImportPreview", self.space_path("projects/import-export/import/preview"))
        response = await self.request(
            "POST",
            path,
            json=self._import_body(uploaded_file_id, password),
            retry=True,
            what="previewing the import",
        )
        return self._model_of(m.ProjectImportPreviewResponse, response)

    async def import_projects(self, uploaded_file_id: str, password: str) -> m.ProjectImportResponse:
        """Start an import task. Never retried."""
        path = self.link("ImportProjects", self.space_path("projects/import-export/import"))
        response = await self.request(
            "POST", path, json=self._import_body(uploaded_file_id, password), what="starting the import"
        )
        return self._model_of(m.ProjectImportResponse, response)

    # -- tasks -----------------------------------------------------------------------------------

    async def task(self, task_id: str) -> m.ServerTask:
        """One server task."""
        return await self.get_model(m.ServerTask, f"/api/tasks/{task_id}", what="reading a task")

    async def tasks(self, ids: Iterable[str]) -> list[m.ServerTask]:
        """Many tasks by id, in batches."""
        unique = list(dict.fromkeys(ids))
        out: list[m.ServerTask] = []
        for i in range(0, len(unique), ID_BATCH):
            batch = unique[i : i + ID_BATCH]
            data = await self.get_json(
                "/api/tasks", {"ids": ",".join(batch), "take": len(batch)}, "reading tasks"
            )
            out.extend(self._model(m.ServerTask, x) for x in data.get("Items") or [])
        return out

    async def active_tasks(self, name: str | None = None) -> list[m.ServerTask]:
        """Tasks queued or executing on the instance, optionally only those of one task type name."""
        params: dict[str, Any] = {"states": "Queued,Executing"}
        if name:
            params["name"] = name
        return await self.list_all("/api/tasks", m.ServerTask, params, "listing running tasks")

    async def task_details(self, task_id: str, tail: int = 20) -> m.TaskDetails:
        """A task with its progress and the tail of its log."""
        return await self.get_model(
            m.TaskDetails,
            f"/api/tasks/{task_id}/details",
            {"verbose": "false", "tail": tail},
            what="reading task progress",
        )

    async def cancel_task(self, task_id: str) -> m.ServerTask:
        """Cancel a task (idempotent, so retried)."""
        response = await self.request(
            "POST", f"/api/tasks/{task_id}/cancel", retry=True, what="cancelling a task"
        )
        return self._model_of(m.ServerTask, response)

    async def wait_for_task(
        self,
        task_id: str,
        *,
        on_progress: Callable[[TaskProgress], Awaitable[None] | None] | None = None,
        poll_interval: float = 2.0,
        timeout: float | None = None,
        tail: int = 10,
    ) -> m.ServerTask:
        """Poll a task until it completes, reporting progress from ``/details``.

        The timeout clock only runs once the task has started (a queued task waits for capacity,
        as the official scripts allow).

        Raises:
            TaskFailed: the task ended in any state but Success.
            asyncio.TimeoutError: it executed for longer than ``timeout``.
        """
        executing_since: float | None = None
        while True:
            details = await self.task_details(task_id, tail)
            task = details.task
            assert task is not None
            if on_progress is not None:
                lines = [e.message_text or "" for a in details.activity_logs or [] for e in _walk_log(a)]
                progress = details.progress
                result = on_progress(
                    TaskProgress(
                        task,
                        int(progress.progress_percentage or 0) if progress else 0,
                        lines[-tail:],
                        progress.estimated_time_remaining if progress else None,
                    )
                )
                if asyncio.iscoroutine(result):
                    await result
            if task.is_completed:
                if task.state != "Success":
                    raise TaskFailed(
                        f"The task {task_id} on {self.host} ended {task.state}: "
                        f"{task.error_message or 'see its log in Octopus'}.",
                        host=self.host,
                        error_message=task.error_message or None,
                    )
                return task
            if task.state == "Executing" and executing_since is None:
                executing_since = time.monotonic()
            if (
                timeout is not None
                and executing_since is not None
                and time.monotonic() - executing_since > timeout
            ):
                raise TimeoutError(f"task {task_id} ran longer than {timeout} seconds")
            await self._sleep(poll_interval)

    async def run_script(self, body: dict[str, Any]) -> m.ServerTask:
        """Queue an ad-hoc script task (script console). Never retried."""
        response = await self.request("POST", "/api/tasks", json=body, what="queueing a script")
        return self._model_of(m.ServerTask, response)

    async def create_task(self, body: dict[str, Any]) -> m.ServerTask:
        """Queue a task in the space (a ``Health`` check…). Never retried."""
        response = await self.request("POST", self.space_path("tasks"), json=body, what="queueing a task")
        return self._model_of(m.ServerTask, response)

    async def task_log(self, task_id: str) -> list[str]:
        """A task's whole log as plain lines (``/raw``)."""
        response = await self.request("GET", f"/api/tasks/{task_id}/raw", what="reading a task's log")
        return response.text.splitlines()

    # -- logos and triggers ----------------------------------------------------------------------

    async def logo(self, project: m.Project) -> bytes:
        """A project's logo bytes."""
        path = (project.links or {}).get("Logo") or self.space_path(f"projects/{project.id}/logo")
        response = await self.request("GET", path, what="reading a logo")
        return response.content

    async def put_logo(self, project_id: str, data: bytes, filename: str = "logo.png") -> None:
        """Upload a project logo (multipart ``fileData``); a PUT of the whole image, so retried."""

        async def one() -> AsyncIterator[bytes]:
            yield data

        path = self.space_path(f"projects/{project_id}/logo")
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self.upload_multipart(path, filename, one(), len(data), what="uploading a logo")
                return
            except (ServerError, Unreachable, RateLimited) as exc:
                if attempt == self.max_attempts:
                    raise
                await self._backoff(attempt, getattr(exc, "retry_after", None))

    async def triggers(self, project_id: str) -> list[m.ProjectTrigger]:
        """A project's triggers."""
        return await self.list_all(
            self.space_path(f"projects/{project_id}/triggers"), m.ProjectTrigger, what="listing triggers"
        )

    async def create_trigger(self, body: dict[str, Any]) -> m.ProjectTrigger:
        """Create a trigger (never retried: reconcile by listing triggers by name)."""
        response = await self.request(
            "POST", self.space_path("projecttriggers"), json=body, what="creating a trigger"
        )
        return self._model_of(m.ProjectTrigger, response)

    async def set_trigger_disabled(self, trigger_id: str, disabled: bool) -> m.ProjectTrigger:
        """Disable or enable a trigger by GET-modify-PUT (a PUT of the whole trigger, so retried)."""
        path = self.space_path(f"projecttriggers/{trigger_id}")
        raw = await self.get_json(path, what="reading a trigger")
        raw["IsDisabled"] = disabled
        response = await self.request(
            "PUT", path, json=raw, what="disabling a trigger" if disabled else "enabling a trigger"
        )
        return self._model_of(m.ProjectTrigger, response)

    # -- events, build information, deployments ---------------------------------------------------

    async def events(self, **filters: Any) -> list[m.Event]:
        """Audit events matching Octopus's filters (``eventCategories``, ``regarding``, ``projects``,
        ``documentTypes``, ``from``, ``to``: comma-separated where Octopus takes lists), every page."""
        params = {k: _param(v) for k, v in filters.items() if v not in (None, "", [])}
        return await self.list_all(self.space_path("events"), m.Event, params, "listing audit events")

    async def build_information(self, package_id: str | None = None) -> list[m.BuildInformation]:
        """Build information pushed to the space (every package version, or one package id's)."""
        params = {"packageId": package_id} if package_id else None
        return await self.list_all(
            self.space_path("build-information"), m.BuildInformation, params, "listing build information"
        )

    async def create_deployment(self, body: dict[str, Any]) -> m.Deployment:
        """Deploy a release (classic ``POST deployments``: ``ReleaseId``, ``EnvironmentId``…).

        Never retried: a lost answer is reconciled by listing the project's deployments.
        """
        response = await self.request(
            "POST", self.space_path("deployments"), json=body, what="creating a deployment"
        )
        return self._model_of(m.Deployment, response)

    # -- server administration --------------------------------------------------------------------

    async def maintenance(self) -> m.MaintenanceConfiguration:
        """The maintenance mode setting."""
        return await self.get_model(
            m.MaintenanceConfiguration, "/api/maintenanceconfiguration", what="reading maintenance mode"
        )

    async def set_maintenance(self, on: bool) -> m.MaintenanceConfiguration:
        """Switch maintenance mode (needs ``AdministerSystem``)."""
        current = await self.get_json("/api/maintenanceconfiguration", what="reading maintenance mode")
        current["IsInMaintenanceMode"] = on
        response = await self.request(
            "PUT", "/api/maintenanceconfiguration", json=current, what="switching maintenance mode"
        )
        return self._model_of(m.MaintenanceConfiguration, response)

    async def nodes(self) -> list[m.OctopusServerNode]:
        """The instance's server nodes."""
        data = await self.get_json("/api/octopusservernodes/all", what="listing server nodes")
        return [self._model(m.OctopusServerNode, x) for x in data]

    async def set_task_cap(self, node_id: str, cap: int) -> m.OctopusServerNode:
        """Set a node's task cap (``MaxConcurrentTasks``; needs ``AdministerSystem``)."""
        raw = await self.get_json(f"/api/octopusservernodes/{node_id}", what="reading a server node")
        raw["MaxConcurrentTasks"] = cap
        response = await self.request(
            "PUT", f"/api/octopusservernodes/{node_id}", json=raw, what="setting the task cap"
        )
        return self._model_of(m.OctopusServerNode, response)

    async def features(self) -> m.FeaturesConfiguration:
        """Feature switches (``IsBuiltInWorkerEnabled``…)."""
        return await self.get_model(
            m.FeaturesConfiguration, "/api/featuresconfiguration", what="reading features"
        )


@functools.cache
def default_tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, made once: loading the CA store takes 20-30 ms, and the wizard opens
    two clients per step on its event loop (it makes this one on a thread when it starts)."""
    return httpx.create_ssl_context()


def _walk_log(activity: Any) -> Iterable[Any]:
    yield from activity.log_elements or []
    for child in activity.children or []:
        yield from _walk_log(child)


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set)):
        return ",".join(str(v) for v in value)
    return str(value)


__all__ = [
    "API_KEY_RE",
    "InstanceInfo",
    "OctopusClient",
    "OctopusVersion",
    "RateBudget",
    "TaskProgress",
    "check_api_key",
]
