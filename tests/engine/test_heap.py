"""Big reads are freed off the event loop, piece by piece, so the wizard does not freeze while they go."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from octowiz.heap import let_go


class _Model:
    freed_on: list[int] = []

    def __del__(self) -> None:
        _Model.freed_on.append(threading.get_ident())


@dataclass
class _Inventory:
    machines: list[_Model] = field(default_factory=list)
    processes: dict[str, _Model] = field(default_factory=dict)


async def test_what_is_let_go_is_freed_on_another_thread_not_the_event_loop() -> None:
    _Model.freed_on.clear()
    inventory = _Inventory([_Model() for _ in range(1000)], {f"p{i}": _Model() for i in range(100)})
    box: list[Any] = [inventory, [[_Model()]]]
    del inventory
    await let_go(box)
    assert box == []
    assert len(_Model.freed_on) == 1101
    assert threading.get_ident() not in set(_Model.freed_on)


async def test_what_someone_else_still_holds_is_left_whole() -> None:
    _Model.freed_on.clear()
    kept_list = [_Model() for _ in range(10)]
    kept = _Inventory(kept_list, {"p": _Model()})
    shared = _Model()
    box: list[Any] = [kept, _Inventory([shared, _Model()])]
    await let_go(box)
    assert len(kept.machines) == 10 and kept.machines is kept_list and list(kept.processes) == ["p"]
    assert len(_Model.freed_on) == 1  # the second inventory's own model; the shared one is still here
    assert shared is not None
