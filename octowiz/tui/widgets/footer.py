"""The footer of keys, rebuilt only when what it shows changes.

Textual's :class:`~textual.widgets.Footer` throws its keys away and mounts new ones whenever the
screen's bindings *may* have changed: each focus change, each ``refresh_bindings``. Most of those
change nothing it shows (a table taking the focus from a button offers the same keys), yet each
rebuild costs a whole-screen layout and a repaint of the footer, 20-40 ms on a 2-core machine, in
one turn of the event loop. This footer compares what it would show with what it shows, and
rebuilds only when they differ.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer as TextualFooter

#: What the footer shows: per shown binding its key, how the key is shown, its description, action,
#: tooltip, group and whether it is enabled; then the footer's own settings.
Shown = tuple[tuple[object, ...], ...]


class Footer(TextualFooter):
    """Textual's footer, rebuilt only when the keys it shows (or how it shows them) change."""

    _showing: Shown | None = None
    """What the footer shows now; ``None`` before the screen's bindings are ready (it is empty then)."""

    def _shown(self) -> Shown:
        """What :meth:`compose` would show now."""
        app = self.app
        bindings = self.screen.active_bindings
        shown: list[tuple[object, ...]] = [
            (b.key, app.get_key_display(b), b.description, b.action, tooltip, b.group, enabled)
            for _node, b, enabled, tooltip in bindings.values()
            if b.show
        ]
        # The command palette's key, shown apart on the right, and how the footer is set.
        palette = bindings.get(app.COMMAND_PALETTE_BINDING)
        shown.append((palette is not None and palette[2], palette is not None))
        shown.append((self.compact, self.show_command_palette, app.ENABLE_COMMAND_PALETTE))
        return tuple(shown)

    def compose(self) -> ComposeResult:
        self._showing = self._shown() if self._bindings_ready else None
        yield from super().compose()

    async def recompose(self) -> None:
        if self._showing is not None and self.is_attached and self._shown() == self._showing:
            return
        await super().recompose()
