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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, cast

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text, TextType
from textual import events
from textual.css.styles import RenderStyles
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from octowiz.tui.onepaint import OnePaint

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

    ``hidden``: the table is hidden while it fills, and left hidden for :func:`reveal` to show (or
    shown again at once if the filling fails). Every row added makes a shown table render all its
    visible lines again (30-60 ms for a wide table on a 2-core machine), so for thousands of rows,
    filling it hidden costs one such render instead of one per slice.
    """
    per_slice = rows_per_slice(table)
    shown = table.display
    if hidden:
        table.display = False  # a table that had the focus loses it here (Textual's rule)
    added = 0
    try:
        for cells, key in rows:
            if added and added % per_slice == 0:
                await asyncio.sleep(PAUSE)
            table.add_row(*cells, key=key)
            added += 1
    except BaseException:
        table.display = shown
        raise
    return added


#: Lines a table revealed by :func:`reveal` shows more of at each paint.
LINES_PER_PAINT = 8


async def reveal(table: Table, painted: Callable[[], Awaitable[None]]) -> None:
    """Show a table that was filled hidden, its header first, then :data:`LINES_PER_PAINT` more lines
    at each paint, ``painted()`` awaited between steps (``StepScreen.painted``).

    Shown at once, a wide table renders every visible cell in one paint (30-60 ms on a 2-core
    machine), on top of the screen's new layout. Here the table takes its room at once, with its
    lines blank below those shown so far; each later paint renders only the lines new since the last
    (the others come from the table's cache) and changes nothing else on the screen. Give the table
    the focus, its cursor and anything beside it before: each of those renders its lines again.
    """
    shown = table.header_height if table.show_header else 0
    table.shown_lines = shown
    table.display = True
    try:
        while True:
            await painted()
            if shown >= table.size.height:
                return
            shown += LINES_PER_PAINT
            table.shown_lines = shown
    finally:
        table.shown_lines = None


_NULL = Style.null()


def _literal(cell: object) -> object:
    """A ``str`` cell as text shown as it is (Textual would parse it as markup first)."""
    return Text(cell) if isinstance(cell, str) else cell


#: Cells whose one-line segments are kept between paints, per table.
LINE_CACHE_SIZE = 20_000


def _one_line(console: Console, cell: Text, width: int, pad: int) -> list[Segment]:
    """A one-line cell as Rich renders ``Padding(cell, (0, pad))`` at ``width``, without the generic
    machinery (what ``DataTable._render_cell`` gets from ``console.render_lines``, segment for segment).
    """
    inner = width - 2 * pad
    first = _fitting_line(console, cell, inner) or _wrapped_line(console, cell, inner)
    padding = [Segment(" " * pad, _NULL)] if pad else []
    return [*padding, *first, *padding]


def _fitting_line(console: Console, cell: Text, inner: int) -> list[Segment]:
    """The usual cell, built directly: one line of one style that fits its column (else empty)."""
    plain = cell.plain
    justify = cell.justify
    if not plain or cell.spans or "\n" in plain or "\t" in plain:
        return []
    length = cell_len(plain)
    if not 0 < length <= inner or (justify in ("right", "center") and plain[-1].isspace()):
        return []  # cropped, or trailing spaces Rich strips before justifying
    style = console.get_style(cell.style) if cell.style else None
    room = inner - length
    if justify in (None, "default"):
        return [Segment(plain, style), Segment(" " * room, _NULL)] if room else [Segment(plain, style)]
    if justify == "left":
        return [Segment(plain + " " * room, style)]
    if justify == "right":
        return [Segment(" " * room + plain, style)]
    if justify == "center":
        return [Segment(" " * (room // 2) + plain + " " * (room - room // 2), style)]
    return []  # "full": Rich's way


def _wrapped_line(console: Console, cell: Text, inner: int) -> list[Segment]:
    """Any other cell, through Rich's wrapping and cropping: its first line, padded to ``inner``."""
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
    return next(
        iter(Segment.split_and_crop_lines(rendered, inner, style=_NULL, pad=True, include_new_lines=False)),
        [Segment(" " * inner, _NULL)],
    )


class _StylesOfOnePaint:
    """A component's styles whose Rich style is found once per paint (see ``Table.get_component_styles``)."""

    def __init__(self, styles: RenderStyles) -> None:
        self._styles = styles
        self._rich: Style | None = None

    @property
    def rich_style(self) -> Style:
        if self._rich is None:
            self._rich = self._styles.rich_style
        return self._rich

    def __getattr__(self, name: str) -> Any:
        return getattr(self._styles, name)


class Table(OnePaint, DataTable[object]):
    """Textual's ``DataTable``, rendering its one-line text cells through a short path.

    A shown table renders every visible cell again after any change (rows added, focus, resize): for
    a wide table that is 250-450 cells, 50-75 ms on a 2-core machine through Rich's generic
    ``render_lines`` (a padding, a styled wrapper, options copied per cell). One-line ``Text`` cells,
    every cell octowiz shows, are rendered here directly to the same segments
    (``tests/tui/test_tables.py`` compares them); anything else goes the usual way. Two things make
    the short path short:

    - a cell's unstyled line is kept, per cell and width, across the repaints that change nothing in
      it (Textual's own cache is dropped by every row added and every focus change);
    - the cell's position (Rich "meta") is added last, so the styles before it repeat from cell to
      cell and come from Rich's cache of combined styles.

    It also finds the styles of one paint once, measures ``Text`` cells directly, appends a new row to
    Textual's list of screen lines, keeps its rendered lines when only its height changes, and shows
    ``str`` cells as they are (each method says why).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lines: dict[tuple[int, int, int], tuple[Text, list[Segment]]] = {}
        self._width_rendered: int | None = None
        self._shown_lines: int | None = None

    @property
    def shown_lines(self) -> int | None:
        """How many of its lines (from the top, the header's included) the table shows; the others
        are left blank, not rendered. ``None``: all of them (see :func:`reveal`)."""
        return self._shown_lines

    @shown_lines.setter
    def shown_lines(self, lines: int | None) -> None:
        if lines != self._shown_lines:
            self._shown_lines = lines
            self.refresh()  # the lines already shown come from the line cache

    def render_line(self, y: int) -> Strip:
        shown = self._shown_lines
        if shown is not None and y >= shown:
            return Strip.blank(self.size.width, self.rich_style)
        return super().render_line(y)

    def _on_resize(self, event: events.Resize) -> None:
        """A new height keeps every line rendered so far; only a new width renders them all again.

        Textual counts any resize as a change of the table, which drops every cached line, cell and
        row: a table that grows (revealed a few rows at a time, or a panel beneath it shrinking) would
        render all its visible cells again, 30-60 ms for a wide one on a 2-core machine. A line's
        segments depend on the table's width (the space after the last column), not on its height,
        and Textual's line cache is keyed by the line's position and width already.
        """
        width = event.size.width
        if width == self._width_rendered:
            event.prevent_default()  # Textual's handler (DataTable's) would drop every cache
        self._width_rendered = width

    # -- one paint: styles asked for again and again, found once (see ``onepaint``) -------------
    #
    # Besides its own style and background colours, the table asks for the styles of the header and
    # of the row's stripe for every line it paints.

    def get_component_styles(self, *names: str) -> RenderStyles:
        if self._paint_memo is None:
            return super().get_component_styles(*names)
        styles = self._once_per_paint(
            names, lambda: _StylesOfOnePaint(super(Table, self).get_component_styles(*names))
        )
        return cast(RenderStyles, styles)

    def add_row(
        self,
        *cells: object,
        height: int | None = 1,
        key: str | None = None,
        label: TextType | None = None,
    ) -> RowKey:
        """Add a row; a ``str`` cell is shown as it is, never read as markup (a name like ``web [eu]``).

        Textual keeps the screen line of every row in a list it builds again from all the rows after
        any change: when the table is next idle (to size it) and when it next paints. For 5,000 rows
        added slice by slice that is 10-20 ms a slice, growing with the table. A row added at the end
        is appended to that list here instead, when the list is current.
        """
        update = self._update_count
        offsets = self._offset_cache.get(update)
        lines = len(offsets) if offsets is not None else -1
        row_key = super().add_row(*map(_literal, cells), height=height, key=key, label=label)
        if offsets is not None and len(offsets) == lines and self._update_count == update + 1:
            offsets.extend((row_key, y) for y in range(self.rows[row_key].height))
            self._offset_cache[self._update_count] = offsets
        return row_key

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: object,
        *,
        update_width: bool = False,
    ) -> None:
        """Replace a cell; a ``str`` value is shown as it is (see :meth:`add_row`)."""
        super().update_cell(row_key, column_key, _literal(value), update_width=update_width)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Widen the columns for new rows: one-line ``Text`` rows measured here, the rest by Textual.

        Textual measures each cell through Rich's generic ``measure`` (fresh console options per
        cell), about 40 µs a cell; a ``Text`` cell's width is its longest line's, as Rich measures it.
        """
        generic: list[RowKey] = []
        columns = self.ordered_columns
        for row_key in new_rows:
            row_index = self._row_locations.get(row_key)
            if row_index is None:
                continue  # removed before the table was idle
            row = self.rows.get(row_key)
            if row is None or row.label is not None or row.auto_height:
                generic.append(row_key)
                continue
            cells = self._get_row_renderables(row_index).cells
            texts = [cell for cell in cells if type(cell) is Text]
            if len(texts) != len(cells):
                generic.append(row_key)
                continue
            for column, text in zip(columns, texts, strict=False):  # a short row: Textual's rule
                plain = text.plain
                width = max(map(cell_len, plain.splitlines()), default=0) if plain else 0
                if width > column.content_width:
                    column.content_width = width
        super()._update_dimensions(generic)

    def _cell_line(self, cell: Text, width: int, pad: int) -> list[Segment]:
        """The cell's padded line before any table style: kept while the cell object lives here."""
        key = (id(cell), width, pad)
        kept = self._lines.get(key)
        if kept is not None and kept[0] is cell:
            return kept[1]
        if len(self._lines) >= LINE_CACHE_SIZE:
            self._lines.clear()
        line = _one_line(self.app.console, cell, width, pad)
        self._lines[key] = (cell, line)
        return line

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
        pad = self.cell_padding
        if row_index < 0 or column_index < 0 or width <= 2 * pad:
            return slow(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        row = self.rows.get(row_key) if row_key is not None else None
        if row_key is None or row is None or row.height != 1:
            return slow(row_index, column_index, base_style, width, cursor, hover)
        column_key = self._column_locations.get_key(column_index)
        if column_key is None:
            return slow(row_index, column_index, base_style, width, cursor, hover)
        show_hover = self._show_hover_cursor
        key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            show_hover,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(key)
        if cached is not None:
            return cached
        cell = self._get_row_renderables(row_index).cells[column_index]
        if type(cell) is not Text:
            return slow(row_index, column_index, base_style, width, cursor, hover)
        line = self._cell_line(cell, width, pad)
        if any(segment.style is not None and (segment.style._meta or segment.style.link) for segment in line):
            return slow(row_index, column_index, base_style, width, cursor, hover)
        fixed = row_index < self.fixed_rows or column_index < self.fixed_columns
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            fixed,
            hover,
            cursor,
            self.show_cursor,
            show_hover,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        # Textual's order is base + position + component, then each segment's own style, then the
        # post style. The position sets nothing but the meta, so adding it last gives equal styles.
        position = Style.from_meta({"row": row_index, "column": column_index})
        styled = base_style + component_style
        finished: dict[Style | None, Style] = {}
        out: list[Segment] = []
        for text, style, _ in line:
            done = finished.get(style)
            if done is None:
                done = finished[style] = styled + style + post_style + position
            out.append(Segment(text, done))
        lines = [out]
        self._cell_render_cache[key] = lines
        return lines
