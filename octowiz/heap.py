"""How octowiz keeps the cyclic garbage collector and big frees from freezing the wizard.

The one place that freezes and unfreezes the heap (:func:`gc.freeze`): everything else calls
:func:`settle`, :func:`freeze`, :func:`unfreeze`, :func:`kept_out_of_full_gc` and :func:`let_go` here.

Keep the wizard's long-lived objects out of the cyclic garbage collector's full passes.

A full (generation 2) pass walks every tracked object while the event loop waits. In the wizard most of
them live as long as the process: the modules' classes and functions, the client's pydantic schemas,
Textual's styles, about 85,000 objects once every screen is imported, a 40-80 ms pass on a 2-core
machine whatever the screen is doing (measured with ``python -m benchmarks.migrate_ui --profile``).
Frozen (:func:`gc.freeze`), they are never walked again; they are still freed by reference counting.

The app settles the heap on a thread once the first screen is painted and its other screens are
imported, and again before a step screen when something unfroze the heap since (a screen that kept
its data frozen while shown unfreezes it when it closes). A settle is itself one full pass, so it runs
at those moments, not while a screen works.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import sys
import threading
from collections.abc import AsyncIterator
from typing import Any

_lock = threading.Lock()
_settled = False
_unfrozen_since = False


def settle() -> None:
    """Collect the garbage, then freeze what survives (blocking: one full pass; call on a thread)."""
    global _settled, _unfrozen_since
    with _lock:
        if not unsettled():  # settled by another thread while this one waited
            return
        gc.collect()
        gc.freeze()
        _settled, _unfrozen_since = True, False


def unsettled() -> bool:
    """True before the first settle, and when the heap was unfrozen since the last one.

    Known without asking the collector: ``gc.get_freeze_count`` walks every frozen object (15 ms with
    the wizard's 200,000, holding the interpreter), so every unfreeze goes through :func:`unfreeze`.
    """
    return not _settled or _unfrozen_since


def freeze() -> None:
    """Move everything tracked now out of the collector's passes (constant time: a list splice)."""
    gc.freeze()


def unfreeze() -> None:
    """Hand everything frozen back to normal collection (a screen that kept its data frozen, closing)."""
    global _unfrozen_since
    gc.unfreeze()
    _unfrozen_since = True


@contextlib.asynccontextmanager
async def kept_out_of_full_gc(interval: float = 0.05, *, stay_frozen: bool = False) -> AsyncIterator[None]:
    """While a large inventory is read or a big table filled, keep what is new out of full GC passes.

    A full (generation 2) collection walks every tracked object; as thousands of models accumulate,
    each pass grows (measured: 40 ms, then 100 ms, then 180 ms on the large scenario) and freezes the
    UI's event loop. Freezing the heap every ``interval`` (a constant-time splice) keeps each pass to
    what is new. The models are freed by reference counting when dropped, frozen or not. At the end the
    heap is unfrozen so normal collection resumes, or with ``stay_frozen`` stays frozen until the
    caller (a screen showing what was read, when it closes) calls :func:`unfreeze`.
    """
    stop = asyncio.Event()

    async def keep_freezing() -> None:
        while not stop.is_set():
            gc.freeze()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    task = asyncio.create_task(keep_freezing())
    try:
        yield
    finally:
        stop.set()
        await task
        if stay_frozen:
            # Unfreezing now would make the next full pass walk all of it at once.
            gc.freeze()
        else:
            unfreeze()


async def let_go(box: list[Any]) -> None:
    """Free what ``box`` holds on a thread, piece by piece, the box emptied.

    Freeing an inventory (tens of thousands of models, hundreds of thousands of objects) is only
    reference counting, but it takes 30-50 ms on a 2-core machine, and the release of one big list is
    a single call the interpreter cannot interrupt: on the event loop or on a thread, that is a frozen
    screen. Here lists, dicts and dataclasses that nothing else holds are taken apart and their members
    dropped one at a time, so the UI's thread gets the interpreter back between them. The caller puts
    its references in the box and deletes its own names first, so that the last references are the box's.
    """
    await asyncio.to_thread(_free_in_pieces, box)


def _references_of_a_popped_value() -> int:
    """What ``sys.getrefcount`` says of a value held only by the name it was popped into.

    Measured rather than assumed: interpreters differ in the references they count (3.14 borrows
    some), and a wrong number here would take apart something still in use.
    """
    stack = [object()]
    value = stack.pop()
    return sys.getrefcount(value)


_HELD_HERE_ONLY = _references_of_a_popped_value()


def _free_in_pieces(box: list[Any]) -> None:
    stack = list(box)
    box.clear()
    while stack:
        value = stack.pop()
        # Held here only: nobody can see it taken apart. Anything else is left whole.
        if sys.getrefcount(value) > _HELD_HERE_ONLY:
            continue
        if type(value) is list:
            stack.extend(value)
            value.clear()
        elif type(value) is dict:
            stack.extend(value.values())
            value.clear()
        elif dataclasses.is_dataclass(value) and not isinstance(value, type) and hasattr(value, "__dict__"):
            members = vars(value)
            stack.extend(members.values())
            members.clear()
        # ``value`` is rebound by the next pop: this one piece is freed there.
