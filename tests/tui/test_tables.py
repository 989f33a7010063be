"""Thousands of rows go into a table slice by slice, the event loop getting turns in between."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

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


async def test_a_hidden_fill_shows_the_table_again_when_it_ends_or_fails() -> None:
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
