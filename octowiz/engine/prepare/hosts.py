"""Can Octopus Cloud reach a host? One answer for the readiness rules and the demo's simulated network.

Cloud sits on the public internet: it cannot route to private, loopback or link-local addresses, nor
resolve single-label names or names under internal-only suffixes (``.local``, ``.corp``...).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

#: Top-level domains and suffixes that only resolve inside an organisation.
INTERNAL_SUFFIXES = (
    "local", "lan", "internal", "intranet", "corp", "home", "localdomain", "private", "domain", "home.arpa",
    "test", "invalid",
)  # fmt: skip
#: Address ranges Octopus Cloud cannot route to (beyond loopback and link-local).
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def host_problem(host: str | None) -> str | None:
    """Why Octopus Cloud cannot reach ``host`` (an IP address or a DNS name), or None when it may.

    Cloud sits on the public internet: it cannot route to private, loopback or link-local addresses,
    nor resolve single-label names or names under internal-only suffixes (``.local``, ``.corp``...).
    """
    name = (host or "").strip().strip("[]").rstrip(".").lower()
    if not name:
        return "has no host name"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        address = None
    if address is not None:
        if address.is_loopback:
            return "a loopback address"
        if address.is_link_local:
            return "a link-local address"
        if address.is_unspecified:
            return "an unspecified address"
        if any(address in net for net in PRIVATE_NETWORKS if net.version == address.version):
            return "a private address"
        return None
    if name == "localhost" or name.endswith(".localhost"):
        return "the local machine"
    if "." not in name:
        return "a single-label name that resolves only inside your network"
    for suffix in INTERNAL_SUFFIXES:
        if name.endswith("." + suffix):
            return f"under .{suffix}, which resolves only inside your network"
    return None


def uri_host(uri: str | None) -> str | None:
    """The host of a URI (``https://10.0.4.21:10933/`` gives ``10.0.4.21``), or None."""
    if not uri:
        return None
    try:
        parts = urlsplit(uri if "://" in uri else f"//{uri}")
        return parts.hostname
    except ValueError:
        return None


__all__ = ["INTERNAL_SUFFIXES", "PRIVATE_NETWORKS", "host_problem", "uri_host"]
