"""Filling a table with thousands of rows while the screen stays live.

A ``DataTable`` measures every cell added since it was last idle, in one go, on the event loop (about
0.05-0.1 ms a cell on a 2-core machine, more for text it must parse as markup), and then repaints.
Rows therefore go in by slices of a few hundred cells, with a short timer between slices, so the
table's measuring, its repaint and the next slice each take their own turn of the loop: each turn
stays well under the 50 ms a person notices (``python -m benchmarks.scan``, ``waves``, ``targets``).
Cells are best given as ``rich.text.Text``: a plain string is parsed as markup first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from rich.console import RenderableType
from textual.widgets import DataTable

#: Cells added before the filler pauses.
CELLS_PER_SLICE = 480
#: The pause between slices (a timer, not a bare yield: see the module's docstring).
PAUSE = 0.004


def rows_per_slice(table: DataTable[object]) -> int:
    """How many of this table's rows make one slice."""
    return max(1, CELLS_PER_SLICE // max(1, len(table.columns)))


Row = tuple[Sequence[RenderableType], str | None]


async def add_rows(table: DataTable[object], rows: Iterable[Row], *, hidden: bool = False) -> int:
    """Add ``(cells, key)`` rows to ``table`` slice by slice, pausing between slices; how many were added.

    ``hidden``: the table is not shown until it is filled. Every row added makes a shown table render
    all its visible lines again (30-60 ms for a wide table on a 2-core machine), so for thousands of
    rows, filling it hidden costs one such render instead of one per slice.
    """
    per_slice = rows_per_slice(table)
    shown = table.display
    if hidden:
        table.display = False
    added = 0
    try:
        for cells, key in rows:
            if added and added % per_slice == 0:
                await asyncio.sleep(PAUSE)
            table.add_row(*cells, key=key)
            added += 1
    finally:
        table.display = shown
    return added
