"""Transient failures recovered within a run: reconcile by reading state, then try again, boundedly.

The client retries what is safe to retry (reads, whole-resource PUTs, anything answered 429), but sends a
request that creates a task or a resource only once: if its answer is a 5xx or never comes, the change
may or may not have been made. This module is the one place the engine decides what to do then:

* :func:`is_transient` tells a passing failure (a 5xx, a dropped connection, a 429 the client gave up
  on, a timeout) from one that running again cannot fix (a refused request, a missing permission,
  maintenance mode);
* :meth:`Recovery.send_or_find` sends one creating request and, when it fails, looks for what it would
  have made before sending it again;
* :meth:`Recovery.rounds` runs a whole resumable stage again after a transient failure, as a person
  would rerun the command: the stage reconciles with the journal and both instances before it sends
  anything, so a round never repeats work that was done.

Callers keep the journal's rule: the intent is written before the first request, and the outcome after
the last, with every attempt in between covered by that one intent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from octowiz.octopus.errors import OctopusError, RateLimited, ServerError, TimeoutError_, Unreachable

T = TypeVar("T")

#: Errors that may pass if the request is made again a little later.
TRANSIENT_ERRORS: tuple[type[OctopusError], ...] = (ServerError, Unreachable, RateLimited, TimeoutError_)


def is_transient(exc: BaseException) -> bool:
    """True for a failure that may pass on its own: a 5xx, a dropped connection, a 429, a timeout.

    Maintenance mode (a 503 that says so) is not transient: it lasts until someone switches it off. An
    exception can also say so itself with a true ``transient`` attribute (a stage that collected
    transient failures of its items).
    """
    if getattr(exc, "transient", False):
        return True
    if not isinstance(exc, TRANSIENT_ERRORS):
        return False
    if isinstance(exc, ServerError) and "maintenance" in (exc.error_message or "").lower():
        return False
    return not (
        isinstance(exc, Unreachable) and exc.sentence.startswith(("The host name", "Nothing accepted"))
    )


@dataclass
class Recovery:
    """How often, and after how long, a run tries again after a transient failure.

    Attributes:
        attempts: tries after the first (0 turns recovery off: the first transient failure ends the run).
        wait: seconds before the first try again; doubled for each further one, capped at ``max_wait``;
            a 429's ``Retry-After`` is honoured when longer.
        max_wait: the longest wait between two tries.
        sleep: how to wait (tests pass a recorder or the client's clock).
        retries: tries again made so far, for reports.
        log: one line per try again (what failed, which try), for reports.
    """

    attempts: int = 3
    wait: float = 1.0
    max_wait: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    retries: int = 0
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.attempts < 0:
            raise ValueError("the number of tries again cannot be negative")

    async def pause(self, attempt: int, exc: BaseException) -> None:
        """Count a try again and wait before it (``attempt`` = 1 for the first try again)."""
        self.retries += 1
        self.log.append(f"try {attempt + 1} after: {exc}")
        delay = min(self.max_wait, self.wait * 2 ** (attempt - 1))
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            delay = max(delay, exc.retry_after)
        await self.sleep(delay)

    async def send_or_find(
        self,
        send: Callable[[], Awaitable[T]],
        find: Callable[[], Awaitable[T | None]],
        *,
        refused: tuple[type[OctopusError], ...] = (),
    ) -> T:
        """Send a request that creates something; when it fails, find what it made before sending again.

        Args:
            send: the creating request (sent once per try).
            find: reads the destination for what ``send`` would have made; None when it is not there.
            refused: failures that prove nothing was made (a validation error): raised without a look.

        Returns:
            What ``send`` answered, or what ``find`` found after a failed ``send``.

        Raises:
            OctopusError: the last failure, when ``find`` finds nothing and the failure is not transient or
                the tries are spent; also when ``find`` itself fails (nothing is sent blind).
        """
        attempt = 0
        while True:
            try:
                return await send()
            except refused:
                raise
            except OctopusError as exc:
                failure = exc
            # The answer may have been lost after the change was made: look before calling it a failure.
            try:
                found = await find()
            except OctopusError:
                raise failure from None
            if found is not None:
                return found
            attempt += 1
            if attempt > self.attempts or not is_transient(failure):
                raise failure
            await self.pause(attempt, failure)

    async def rounds(
        self,
        once: Callable[[], Awaitable[T]],
        on_retry: Callable[[int, BaseException], None] | None = None,
    ) -> T:
        """Run a resumable stage; after a transient failure, run it again (it reconciles first).

        Args:
            once: the stage; it must be safe to run again after failing at any point, as a rerun is.
            on_retry: told ``(try again number, the failure)`` before each wait.

        Raises:
            Exception: the stage's failure, when it is not transient or the tries are spent.
        """
        attempt = 0
        while True:
            try:
                return await once()
            except Exception as exc:
                attempt += 1
                if attempt > self.attempts or not is_transient(exc):
                    raise
                if on_retry is not None:
                    on_retry(attempt, exc)
                await self.pause(attempt, exc)
