"""Keep the wizard's long-lived objects out of the cyclic garbage collector's full passes.

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

import gc
import threading

_lock = threading.Lock()
_frozen_at_settle = 0


def settle() -> None:
    """Collect the garbage, then freeze what survives (blocking: one full pass; call on a thread)."""
    global _frozen_at_settle
    with _lock:
        if not unsettled():  # settled by another thread while this one waited
            return
        gc.collect()
        gc.freeze()
        _frozen_at_settle = gc.get_freeze_count()


def unsettled() -> bool:
    """True before the first settle, and when the heap was unfrozen since the last one.

    An unfreeze empties the frozen set (what is frozen again after it is only what was read since, far
    less than the modules); frozen objects that are freed leave it one by one, a handful.
    """
    return _frozen_at_settle == 0 or gc.get_freeze_count() < _frozen_at_settle // 2
