"""Filling a table with thousands of rows while the screen stays live.

A ``DataTable`` measures every cell added since it was last idle, in one go, on the event loop (about
0.05-0.1 ms a cell on a 2-core machine, more for text it must parse as markup), and then repaints.
Rows therefore go in by slices of a few hundred cells, with a short timer between slices, so the
table's measuring, its repaint and the next slice each take their own turn of the loop: each turn
stays well under the 50 ms a person notices (``python -m benchmarks.scan``, ``waves``, ``targets``).
Cells are best given as ``rich.text.Text``: a plain string is parsed as markup first. Every table
octowiz shows is a :class:`Table`, which renders one-line text cells at half the cost of Textual's way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from rich.console import Console, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable

#: Cells added before the filler pauses.
CELLS_PER_SLICE = 480
#: The pause between slices (a timer, not a bare yield: see the module's docstring).
PAUSE = 0.004


def rows_per_slice(table: DataTable[object]) -> int:
    """How many of this table's rows make one slice."""
    return max(1, CELLS_PER_SLICE // max(1, len(table.columns)))


def fill_hidden(table: DataTable[object], rows: int) -> bool:
    """Whether ``rows`` rows are enough to fill ``table`` hidden (see :func:`add_rows`): a few screenfuls."""
    return rows > 4 * rows_per_slice(table)


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


_NULL = Style.null()


def _one_line(console: Console, cell: Text, width: int, pad: int) -> list[Segment]:
    """A one-line cell as Rich renders ``Padding(cell, (0, pad))`` at ``width``, without the generic
    machinery (what ``DataTable._render_cell`` gets from ``console.render_lines``, segment for segment)."""
    inner = width - 2 * pad
    tab_size = console.tab_size if cell.tab_size is None else cell.tab_size
    lines = cell.wrap(
        console,
        inner,
        justify=cell.justify or "default",
        overflow=cell.overflow or "fold",
        tab_size=tab_size or 8,
        no_wrap=True,
    )
    rendered = Text("\n").join(lines).render(console, end=cell.end)
    first = next(
        iter(Segment.split_and_crop_lines(rendered, inner, style=_NULL, pad=True, include_new_lines=False)),
        [Segment(" " * inner, _NULL)],
    )
    padding = [Segment(" " * pad, _NULL)] if pad else []
    return [*padding, *first, *padding]


class Table(DataTable[object]):
    """Textual's ``DataTable``, rendering its one-line text cells through a short path.

    A shown table renders every visible cell again after any change (rows added, focus, resize): for
    a wide table that is 250-350 cells, 50-75 ms on a 2-core machine through Rich's generic
    ``render_lines`` (a padding, a styled wrapper, options copied per cell). One-line ``Text`` cells,
    every cell octowiz shows, are rendered here directly to the same segments
    (``tests/tui/test_tables.py`` compares them); anything else goes the usual way.
    """

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        slow = super()._render_cell
        if row_index < 0 or column_index < 0 or width <= 2 * self.cell_padding:
            return slow(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        row = self.rows.get(row_key) if row_key is not None else None
        if row_key is None or row is None or row.height != 1:
            return slow(row_index, column_index, base_style, width, cursor, hover)
        column_key = self._column_locations.get_key(column_index)
        if column_key is None:
            return slow(row_index, column_index, base_style, width, cursor, hover)
        key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(key)
        if cached is not None:
            return cached
        cell = self._get_row_renderables(row_index).cells[column_index]
        if type(cell) is not Text:
            return slow(row_index, column_index, base_style, width, cursor, hover)
        fixed = row_index < self.fixed_rows or column_index < self.fixed_columns
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            fixed,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre_style = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component_style
        line = _one_line(self.app.console, cell, width, self.cell_padding)
        lines = [list(Segment.apply_style(line, pre_style, post_style))]
        self._cell_render_cache[key] = lines
        return lines
