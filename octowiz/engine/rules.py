"""The readiness rules (registered on import). Each has a test where it fires and one where it is quiet."""

from __future__ import annotations

from octowiz.engine.inventory import Inventory
from octowiz.engine.readiness import DOCS, Finding, Item, rule


@rule("version.export-import", "Octopus versions")
def versions(inv: Inventory) -> list[Finding]:
    """Rule 1: the source must have Export/Import (2021.1+) and not be newer than the destination."""
    out: list[Finding] = []
    doc = f"{DOCS}/projects/export-import"
    server = Item("server", inv.source_url, f"Octopus {inv.version}")
    if not inv.version.at_least(2021, 1):
        out.append(
            Finding(
                "version.export-import",
                "blocker",
                "The Server is too old for Export/Import",
                f"Octopus {inv.version} predates Project Export/Import, which arrived in 2021.1.",
                "Upgrade the Server to 2021.1 or newer (ideally the latest), then rescan.",
                doc,
                [server],
                everything=True,
            )
        )
    dest = inv.destination
    if dest is not None and inv.version > dest.version:
        out.append(
            Finding(
                "version.export-import",
                "blocker",
                "The Server is newer than Octopus Cloud",
                f"Export/Import moves projects only to an equal or newer version; Cloud runs {dest.version}.",
                "Wait until the Cloud instance is upgraded, or ask Octopus support.",
                doc,
                [server, Item("cloud", dest.url, f"Octopus {dest.version}")],
                everything=True,
            )
        )
    elif dest is not None and inv.version < dest.version and inv.version.at_least(2021, 1):
        out.append(
            Finding(
                "version.export-import",
                "info",
                "The Server is not on the latest version",
                f"Cloud runs {dest.version}; exporting from a recent Server avoids known Export/Import problems.",
                "Consider upgrading the Server before the first wave.",
                f"{DOCS}/administration/upgrading",
                [server],
            )
        )
    return out
