"""Thousands of rows go into a table slice by slice, the event loop getting turns in between."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from octowiz.tui.tables import Row, Table, add_rows, rows_per_slice


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable(id="t")


async def test_rows_fill_in_order_with_the_loop_running_between_slices() -> None:
    app = _TableApp()
    async with app.run_test() as pilot:
        table: DataTable[object] = app.query_one("#t", DataTable)
        table.add_columns("Name", "State", "Count", "Note")
        per_slice = rows_per_slice(table)
        rows = [
            ([Text(f"p{i}"), Text("ready"), Text(str(i)), Text("")], f"k{i}")
            for i in range(per_slice * 5 + 3)
        ]
        turns: list[int] = []  # the table's row count each time another task got a turn
        done = asyncio.Event()

        async def ticker() -> None:
            while not done.is_set():
                turns.append(table.row_count)
                await asyncio.sleep(0)

        tick = asyncio.create_task(ticker())
        added = await add_rows(table, rows)
        done.set()
        await tick
        await pilot.pause()
        assert added == len(rows) == table.row_count
        assert [str(table.get_row_at(i)[0]) for i in (0, len(rows) - 1)] == ["p0", f"p{len(rows) - 1}"]
        # The loop ran between every two slices: the other task saw each slice's count.
        assert {per_slice * n for n in range(1, 6)} <= set(turns)


async def test_a_hidden_fill_shows_the_table_again_when_it_fails() -> None:
    app = _TableApp()
    async with app.run_test() as pilot:
        table: DataTable[object] = app.query_one("#t", DataTable)
        table.add_columns("Name")
        seen_hidden: list[bool] = []

        def rows() -> Iterator[Row]:
            for i in range(rows_per_slice(table) * 2):
                seen_hidden.append(not table.display)
                yield [Text(str(i))], None
            raise RuntimeError("the catalog changed under the fill")

        with pytest.raises(RuntimeError):
            await add_rows(table, rows(), hidden=True)
        await pilot.pause()
        assert all(seen_hidden) and table.display


_CELLS = [
    Text("plain"),
    Text("bold", style="bold"),
    Text("1,234", justify="right"),
    Text(""),
    Text("never", style="bright_black"),
    Text("a very long cell that is cut where the column ends, however wide the column is"),
    Text("✔ verified", style="green"),
    Text("tab\there"),
    Text("two\nlines"),
    Text("wide 中文字符 characters"),
    Text("an ellipsis where it is cut short", overflow="ellipsis"),
    Text.assemble(("● ", "bold green"), ("name", "bold")),
    Text("centred", justify="center"),
    Text("odd centre", justify="center", style="italic"),
    Text("left, padded", justify="left", style="on blue"),
    Text("right with space ", justify="right"),
    Text("full justify spreads words", justify="full"),
    Text("a Style object", style=Style(color="red", bold=True)),
    Text("", style="bold"),
    Text("a link", style="link https://example.com"),
    Text("  leading", justify="right", style="dim"),
    Text("ellipsis right-justified and long", justify="right", overflow="ellipsis"),
]


class _FastApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Table(id="t", zebra_stripes=True, cursor_type="row")


async def test_the_short_path_renders_every_cell_exactly_as_textual_does() -> None:
    app = _FastApp()
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one("#t", Table)
        table.add_columns("A", "B", "C", "D", "E")
        for i in range(len(_CELLS)):
            table.add_row(
                *(_CELLS[(i + k * 5) % len(_CELLS)] for k in range(4)), "plain [b]markup[/b]"[: 4 + i]
            )
        await pilot.pause()
        compared = 0
        for row in range(-1, table.row_count):  # -1: the header, which goes the usual way
            for column in range(5):
                for width in (1, 2, 3, 5, 8, 13, 40):
                    for cursor in (False, True):
                        base = Style(bgcolor="#202020") if row % 2 else Style()
                        table._cell_render_cache.clear()
                        fast = table._render_cell(row, column, base, width, cursor=cursor)
                        table._cell_render_cache.clear()
                        usual = DataTable._render_cell(table, row, column, base, width, cursor=cursor)
                        assert fast == usual, (row, column, width, cursor)
                        compared += 1
        assert compared == (len(_CELLS) + 1) * 5 * 7 * 2


async def test_a_cell_replaced_in_place_shows_its_new_text() -> None:
    app = _FastApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one("#t", Table)
        name, _ = table.add_columns("Name", "State")
        row = table.add_row(Text("web-01"), Text("waiting"), key="r")
        await pilot.pause()

        def shown() -> str:
            return "".join(segment.text for segment in table.render_line(1))

        assert "waiting" in shown()
        table.update_cell(row, list(table.columns)[1], Text("started"))  # as wide: same cache width
        await pilot.pause()
        assert "started" in shown() and "waiting" not in shown()


class _TwoTablesApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable(id="usual")
        yield Table(id="short")


async def test_columns_are_as_wide_as_textual_measures_them() -> None:
    app = _TwoTablesApp()
    async with app.run_test(size=(200, 50)) as pilot:
        usual = app.query_one("#usual", DataTable)
        short = app.query_one("#short", Table)
        for table in (usual, short):
            table.add_columns("A", "B", "C", "D")
            for i in range(len(_CELLS)):
                table.add_row(*(_CELLS[(i + k * 3) % len(_CELLS)] for k in range(3)), "x" * i)
            table.add_row(Text("x" * 60), "plain", None, 12345, label="labelled")
            table.add_row(Text("tall\ncell\nhere"), Text("a"), Text("b"), Text("c"), height=None)
        await pilot.pause()
        assert [c.content_width for c in short.ordered_columns] == [
            c.content_width for c in usual.ordered_columns
        ]
        assert short.virtual_size == usual.virtual_size
        assert [short.rows[k].height for k in short.rows] == [usual.rows[k].height for k in usual.rows]


async def test_a_name_with_brackets_is_shown_as_it_is_not_read_as_markup() -> None:
    app = _FastApp()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one("#t", Table)
        name, pool = table.add_columns("Name", "Pool")
        row = table.add_row("web [eu] [bold]01[/bold]", "Default Worker Pool", key="r")
        table.update_cell(row, pool, "[red]Linux[/red] pool", update_width=True)
        await pilot.pause()
        shown = "".join(segment.text for segment in table.render_line(1))
        assert "web [eu] [bold]01[/bold]" in shown and "[red]Linux[/red] pool" in shown


async def test_rows_added_slice_by_slice_land_on_the_lines_textual_would_give_them() -> None:
    app = _FastApp()
    async with app.run_test(size=(80, 20)) as pilot:
        table = app.query_one("#t", Table)
        table.add_columns("Name", "Note")
        rows: list[Row] = [([Text(f"m{i}"), Text("x")], f"k{i}") for i in range(300)]
        await add_rows(table, rows[:150])
        await pilot.pause()
        # Textual's lists are current: the next rows extend them.
        assert table._total_row_height == len(table.ordered_rows) == 150
        table.add_row(Text("tall\nrow"), Text("y"), key="tall", height=2)
        await add_rows(table, rows[150:])
        await pilot.pause()
        kept_lines, kept_order = list(table._y_offsets), list(table.ordered_rows)
        table._offset_cache.clear()
        table._ordered_row_cache.clear()
        assert kept_lines == table._y_offsets and kept_order == table.ordered_rows
        assert len(kept_lines) == 302 and kept_lines[151] == (RowKey("tall"), 1)
        table.move_cursor(row=table.row_count - 1)
        await pilot.pause()
        assert table.cursor_row == 300 and "m299" in "".join(
            s.text for s in table.render_line(table.size.height - 1)
        )


class _ResizedApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable(id="usual", zebra_stripes=True, cursor_type="row")
        yield Table(id="short", zebra_stripes=True, cursor_type="row")


async def test_a_table_grown_taller_renders_only_its_new_lines_and_shows_what_textual_does() -> None:
    app = _ResizedApp()
    async with app.run_test(size=(100, 60)) as pilot:
        usual = app.query_one("#usual", DataTable)
        short = app.query_one("#short", Table)
        for table in (usual, short):
            table.styles.height = 8
            table.add_columns("Name", "State", "Count")
            for i in range(200):
                table.add_row(
                    Text(f"project {i}", style="bold" if i % 3 else ""), Text("ready"), Text(str(i))
                )
            table.move_cursor(row=3)
        await pilot.pause()

        rendered: list[tuple[int, int]] = []
        fast = Table._render_cell

        def counting(self: Table, row: int, column: int, *args: object, **kwargs: object) -> object:
            rendered.append((row, column))
            return fast(self, row, column, *args, **kwargs)  # type: ignore[arg-type]

        def lines(table: DataTable[object]) -> list[str]:
            return ["".join(s.text for s in strip) for strip in table.render_lines(table.size.region)]

        Table._render_cell = counting  # type: ignore[assignment,method-assign]
        try:
            assert lines(short) == lines(usual)
            before = len(rendered)
            for table in (usual, short):
                table.styles.height = 20  # taller: 12 more lines
            await pilot.pause()
            assert short.size.height == 20 and lines(short) == lines(usual)
            assert 0 < len(rendered) - before <= 12 * 3  # only the new lines' cells
            for table in (usual, short):
                table.styles.height = 10  # shorter: every line it shows was rendered already
            await pilot.pause()
            before = len(rendered)
            assert lines(short) == lines(usual) and len(rendered) == before
            for table in (usual, short):
                table.styles.width = 60  # narrower: Textual's own handling (a new width drops the caches)
            await pilot.pause()
            assert short.size.width == 60 and lines(short) == lines(usual)
        finally:
            Table._render_cell = fast  # type: ignore[method-assign]
