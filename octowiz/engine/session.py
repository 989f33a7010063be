"""Open clients for a migration's two instances, with keys from the demo, session, keyring or environment."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from octowiz.engine.context import Context
from octowiz.journal import JournalError
from octowiz.octopus.client import OctopusClient
from octowiz.octopus.errors import InvalidApiKey

#: Octopus Cloud rate-limits (2026.3+); stay well under its documented 200 requests a minute burst.
CLOUD_REQUESTS_PER_MINUTE = 180
#: The journal settings that keep a migration's budgets (``octowiz new --requests-per-minute``).
BUDGET_SETTINGS = {"destination": "requests_per_minute", "source": "source_requests_per_minute"}


def budgets(context: Context, settings: dict[str, Any]) -> tuple[int | None, int | None]:
    """The requests-per-minute budgets ``(source, destination)`` the clients keep to; None for none.

    Each comes from this run's command line (``--source-requests-per-minute``, ``--requests-per-minute``),
    else the migration's journal settings (``source_requests_per_minute``, ``requests_per_minute``), else
    the default: none for the Server (it is yours; a budget there only slows the scan), and
    :data:`CLOUD_REQUESTS_PER_MINUTE` for Octopus Cloud, which rate-limits. 0 anywhere means no budget.
    """
    out: list[int | None] = []
    for role, given, default in (
        ("source", context.source_requests_per_minute, None),
        ("destination", context.requests_per_minute, CLOUD_REQUESTS_PER_MINUTE),
    ):
        value: object = given if given is not None else settings.get(BUDGET_SETTINGS[role])
        if value is None:
            out.append(default)
            continue
        try:
            number = int(str(value))
        except ValueError:
            number = -1
        if number < 0:
            raise JournalError(
                f"The migration's requests-per-minute budget for the {role} is {value!r}, not a whole "
                "number: give one with --requests-per-minute (0 for none)."
            )
        out.append(number or None)
    return out[0], out[1]


@contextlib.asynccontextmanager
async def clients(
    context: Context, settings: dict[str, Any], *, destination: bool = True
) -> AsyncIterator[tuple[OctopusClient, OctopusClient | None]]:
    """The source client and (optionally) the destination client, discovered in their spaces.

    Raises:
        InvalidApiKey: no key is available for an instance (the sentence says where to put one).
        JournalError: the migration's budget setting is not a number.
    """
    s_url = str(settings.get("source_url") or "")
    d_url = str(settings.get("destination_url") or "")
    if not s_url or (destination and not d_url):
        raise InvalidApiKey("This migration is not connected yet: finish the Connect step first.")
    (s_key, _), (d_key, _) = await asyncio.gather(
        asyncio.to_thread(context.key_for, s_url, "source"),
        asyncio.to_thread(context.key_for, d_url, "destination") if destination else _none(),
    )
    for url, key, var in (
        (s_url, s_key, "OCTOWIZ_SOURCE_API_KEY"),
        (d_url, d_key, "OCTOWIZ_DESTINATION_API_KEY"),
    ):
        if url and not key and (destination or url == s_url):
            raise InvalidApiKey(
                f"No API key for {url}: store one with 'octowiz keys set {url}', set {var}, or "
                "enter it again in the Connect step."
            )
    s_budget, d_budget = budgets(context, settings)
    source = OctopusClient(
        s_url,
        s_key or "",
        space_id=settings.get("source_space") or None,
        transport=context.transport,
        requests_per_minute=s_budget,
    )
    dest = None
    if destination:
        dest = OctopusClient(
            d_url,
            d_key or "",
            space_id=settings.get("destination_space") or None,
            transport=context.transport,
            requests_per_minute=d_budget,
        )
    try:
        await asyncio.gather(source.discover(), dest.discover() if dest else _none())
        yield source, dest
    finally:
        await source.aclose()
        if dest is not None:
            await dest.aclose()


async def _none() -> tuple[None, str]:
    return None, "none"
