"""Domain errors: what went wrong talking to Octopus, in one sentence a person can act on.

Every error carries the instance (``host``), the HTTP status where there was one, and Octopus's own
``ErrorMessage`` and ``Errors``. ``str(error)`` is the sentence, followed by Octopus's words. No error
ever holds the API key: requests carry it in a header, and URLs are normalised without queries.
"""

from __future__ import annotations

import html
import json
import re
import socket
import ssl
from typing import Any

import httpx


class OctopusError(Exception):
    """Base of every error talking to an Octopus instance.

    Attributes:
        sentence: what happened and what to do, in one sentence.
        host: the instance's host (no credentials).
        status: the HTTP status, if a response arrived.
        error_message: Octopus's ``ErrorMessage``.
        errors: Octopus's ``Errors`` list.
    """

    def __init__(
        self,
        sentence: str,
        *,
        host: str = "",
        status: int | None = None,
        error_message: str | None = None,
        errors: list[str] | None = None,
    ) -> None:
        self.sentence = sentence
        self.host = host
        self.status = status
        self.error_message = error_message
        self.errors = list(errors or [])
        super().__init__(str(self))

    def __str__(self) -> str:
        detail = self.error_message or ""
        extra = [e for e in self.errors if e and e not in detail]
        if extra:
            detail = (detail + " " if detail else "") + "; ".join(extra)
        return f"{self.sentence} (Octopus said: {detail})" if detail else self.sentence


class InvalidUrl(OctopusError):
    """The address cannot be an Octopus instance's URL."""


class InvalidApiKey(OctopusError):
    """The API key is malformed; refused before any request is sent."""


class Unauthorized(OctopusError):
    """401: the key is wrong, expired, or its user is disabled."""


class Forbidden(OctopusError):
    """403: the key's user lacks a permission."""


class NotFound(OctopusError):
    """404: the resource (or the endpoint) does not exist there."""


class ValidationFailed(OctopusError):
    """400 or 409: Octopus refused the request's content."""


class RateLimited(OctopusError):
    """429: Octopus asked us to slow down, for ``retry_after`` seconds."""

    def __init__(self, sentence: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(sentence, **kw)


class ServerError(OctopusError):
    """5xx: the instance failed."""


class Unreachable(OctopusError):
    """No connection: unknown host, refused, or dropped."""


class TlsError(OctopusError):
    """The TLS certificate could not be verified."""


class TimeoutError_(OctopusError):
    """The instance did not answer in time."""


class ServerTooOld(OctopusError):
    """The instance's version lacks what the migration needs."""


class TaskFailed(OctopusError):
    """A server task ended in Failed, Canceled or TimedOut."""


def _body(response: httpx.Response) -> tuple[str | None, list[str]]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        if _web_page(response) is not None:
            return None, []  # a proxy's page: from_response names it, never quoting its markup
        text = response.text.strip() if response.headers.get("content-type", "").startswith("text/") else ""
        return (text[:300] or None), []
    if isinstance(data, dict):
        errors = data.get("Errors") or []
        message = data.get("ErrorMessage")  # text, when Octopus sent it: a proxy may send anything
        return (
            None if message is None else str(message),
            [str(e) for e in errors] if isinstance(errors, list) else [],
        )
    return None, []


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header as seconds (delta-seconds form), or None."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            import datetime as dt

            when = parsedate_to_datetime(value)
            return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


_TITLE = re.compile(r"<(title|h1)[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)


def _web_page(response: httpx.Response) -> str | None:
    """An HTML answer's title (or first heading), ``""`` when it has neither; None when not HTML."""
    text = response.text
    if "html" not in response.headers.get("content-type", "") and text.lstrip()[:1] != "<":
        return None
    found = sorted(_TITLE.findall(text), key=lambda m: m[0].lower() != "title")
    if not found:
        return ""
    title = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found[0][1])).split())
    return title[:80]


def from_response(response: httpx.Response, what: str = "") -> OctopusError:
    """Turn an error response into the matching domain error.

    An HTML page where Octopus answers JSON (a proxy's or load balancer's error page, a sign-in page)
    is named by its title, never quoted: its markup is no sentence.
    """
    error = _from_response(response, what)
    page = _web_page(response) if error.error_message is None and not error.errors else None
    if page is not None:
        titled = f" ('{page}')" if page else ""
        error.sentence += (
            f" The answer was a web page{titled}, not Octopus's own: a proxy or load balancer in front "
            "of it may have answered."
        )
        error.args = (str(error),)
    return error


def _from_response(response: httpx.Response, what: str) -> OctopusError:
    host = response.request.url.host if response.request else ""
    status = response.status_code
    message, errors = _body(response)
    doing = f" ({what})" if what else ""
    kw: dict[str, Any] = {"host": host, "status": status, "error_message": message, "errors": errors}
    if status == 401:
        return Unauthorized(
            f"{host} did not accept the API key{doing}: check that it is the right key for this "
            "instance, that it has not expired, and that its user is active.",
            **kw,
        )
    if status == 403:
        return Forbidden(
            f"The API key's user on {host} is not allowed to do this{doing}: ask an Octopus "
            "administrator to grant the missing permission, or use a key of a user who has it.",
            **kw,
        )
    if status == 404:
        return NotFound(
            f"{host} has no such resource{doing}: check the URL and the space, or the Octopus version "
            "may be too old for this.",
            **kw,
        )
    if status in (400, 409, 413, 422):
        return ValidationFailed(
            f"{host} refused the request{doing}: correct what Octopus lists and try again.", **kw
        )
    if status == 429:
        retry = retry_after_seconds(response)
        wait = f" for {retry:g} seconds" if retry is not None else ""
        return RateLimited(
            f"{host} is rate-limiting requests{doing}: octowiz waits{wait} and slows down; lower the "
            "requests-per-minute budget if this keeps happening.",
            retry_after=retry,
            **kw,
        )
    if status == 503 and message and "maintenance" in message.lower():
        return ServerError(
            f"{host} is in maintenance mode{doing}: only system administrators can make changes "
            "until it is switched off.",
            **kw,
        )
    if status >= 500:
        return ServerError(
            f"{host} failed with HTTP {status}{doing}: try again later, and check the Octopus "
            "Server's logs if it keeps failing.",
            **kw,
        )
    return OctopusError(f"{host} answered HTTP {status}{doing}.", **kw)


def from_transport(exc: httpx.HTTPError, url: httpx.URL, timeout: float | None = None) -> OctopusError:
    """Turn a transport failure (no usable response) into the matching domain error."""
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    text = str(exc)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or str(cause)
            return TlsError(
                f"The TLS certificate of {host} could not be verified ({reason}): if the instance "
                "uses a private certificate authority, give its CA bundle (--ca-bundle).",
                host=host,
            )
        if isinstance(cause, ssl.SSLError) and cause.reason == "WRONG_VERSION_NUMBER":
            return TlsError(
                f"{host}:{port} does not speak HTTPS (the TLS handshake got a plain answer): if the instance "
                "serves plain HTTP, write its URL with http://.",
                host=host,
            )
        if isinstance(cause, ssl.SSLError):
            return TlsError(
                f"The TLS handshake with {host} failed ({cause.reason or cause}): check that the URL's "
                "port serves HTTPS, or give the right CA bundle.",
                host=host,
            )
        cause = cause.__cause__ or cause.__context__
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return TlsError(
            f"The TLS certificate of {host} could not be verified: if the instance uses a private "
            "certificate authority, give its CA bundle (--ca-bundle).",
            host=host,
        )
    if isinstance(exc, httpx.TimeoutException):
        limit = f" within {timeout:g} seconds" if timeout else " in time"
        return TimeoutError_(
            f"{host} did not answer{limit}: check that the instance is up and reachable from this "
            "machine, or raise the timeout.",
            host=host,
        )
    if isinstance(exc, httpx.ConnectError):
        lowered = text.lower()
        causes = _causes(exc)
        if any(isinstance(c, ConnectionRefusedError) for c in causes):
            lowered += " refused"
        if any(isinstance(c, socket.gaierror) for c in causes):
            lowered += " name or service not known"
        if (
            "name or service not known" in lowered
            or "nodename nor servname" in lowered
            or "temporary failure in name resolution" in lowered
            or "getaddrinfo" in lowered
            or "no address" in lowered
        ):
            return Unreachable(
                f"The host name {host} could not be found: check the spelling of the URL, or this "
                "machine's DNS.",
                host=host,
            )
        if "refused" in lowered:
            return Unreachable(
                f"Nothing accepted a connection at {host}:{port}: check the URL and port, and that "
                "the Octopus instance is running.",
                host=host,
            )
        return Unreachable(
            f"Could not connect to {host}:{port} ({text or type(exc).__name__}): check the URL, "
            "proxy and firewall.",
            host=host,
        )
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return Unreachable(
            f"The connection to {host} dropped before the answer was complete: octowiz retries "
            "what is safe to retry; check the network if it keeps happening.",
            host=host,
        )
    return Unreachable(f"Talking to {host} failed ({type(exc).__name__}: {text}).", host=host)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from, including grouped exceptions."""
    out: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        cur = todo.pop()
        if cur in out:
            continue
        out.append(cur)
        if isinstance(cur, BaseExceptionGroup):
            todo.extend(cur.exceptions)
        for nxt in (cur.__cause__, cur.__context__):
            if nxt is not None:
                todo.append(nxt)
    return out
