"""Screens not styled a second time when first shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import events
from textual.screen import Screen

# A mixin, not a screen (as ``onepaint.OnePaint``): Textual takes CSS type names from the first base.
if TYPE_CHECKING:
    _Mixin = Screen[Any]
else:
    _Mixin = object


class StyledOnce(_Mixin):
    """Shown for the first time, the screen is not styled again (Textual's handler runs next).

    Every widget was styled as it was mounted, a moment ago, in the same turn; the resume would style
    all of them once more (25-30 ms for a step screen's 70-odd widgets on a 2-core machine, 5-8 ms for
    a dialog) in the turn of the first paint. Shown again later (after a dialog, or a change of
    theme), it is.
    """

    _resumed = False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False
