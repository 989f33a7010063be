"""The simulator's well-known API keys and users, printed by ``octowiz sim``.

These keys open only the simulated instances; they are not secrets and are safe in the repository.
Each flavour has a key for a fully permitted user and one for a user who may only read, so tests
and the demo can show a missing permission.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimUser:
    """A simulated user and the API key that authenticates as them."""

    user_id: str
    username: str
    display_name: str
    email: str
    api_key: str
    role: str  # "admin" (AdministerSystem), "manager" (Cloud's Octopus Manager) or "reader"


SERVER_ADMIN = SimUser(
    "Users-1",
    "migration-admin",
    "Migration Admin",
    "migration-admin@example.com",
    "API-SIMSERVERADMIN00000000000000",
    "admin",
)
SERVER_READER = SimUser(
    "Users-2",
    "read-only",
    "Read Only",
    "read-only@example.com",
    "API-SIMSERVERREADER0000000000000",
    "reader",
)
CLOUD_MANAGER = SimUser(
    "Users-1",
    "cloud-manager",
    "Cloud Manager",
    "cloud-manager@example.com",
    "API-SIMCLOUDMANAGER0000000000000",
    "manager",
)
CLOUD_READER = SimUser(
    "Users-2",
    "cloud-reader",
    "Cloud Reader",
    "cloud-reader@example.com",
    "API-SIMCLOUDREADER00000000000000",
    "reader",
)

USERS = {"server": (SERVER_ADMIN, SERVER_READER), "cloud": (CLOUD_MANAGER, CLOUD_READER)}
