"""Find ``octowiz.tcss`` both in a checkout (``styles/`` beside the package) and in an installed wheel
(the build copies ``styles/`` to ``octowiz/styles/``)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def css_path() -> Path:
    """The stylesheet's absolute path."""
    for candidate in (_PACKAGE / "styles" / "octowiz.tcss", _PACKAGE.parent / "styles" / "octowiz.tcss"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"octowiz.tcss is missing from {_PACKAGE / 'styles'} and {_PACKAGE.parent / 'styles'}: "
        "reinstall octowiz."
    )
