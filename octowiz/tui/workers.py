"""Textual's ``@work``, described by the method's name rather than by a repr of its arguments.

Without a description, Textual builds one for every worker from ``repr()`` of each argument. Handed a
scan's result or a wave's catalog (thousands of findings or rows in nested dataclasses), that repr
alone took 20-40 ms of the event loop on a 2-core machine each time a table was filled (profiled with
``OCTOWIZ_BENCH_PROFILE=1 python -m benchmarks.scan``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work as _textual_work

if TYPE_CHECKING:  # the same signature as Textual's, for the type checker
    from textual import work as work
else:

    def work(*, description: str | None = None, **options: Any) -> Any:
        """``textual.work(**options)``, described by the method's name unless a description is given."""

        def decorator(method: Any) -> Any:
            return _textual_work(description=description or method.__name__, **options)(method)

        return decorator
