"""Thousands of rows go into a table slice by slice, the event loop getting turns in between."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from octowiz.tui.tables import Row, add_rows, rows_per_slice


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
