"""The core (client, models, simulator) never imports Textual (CONVENTIONS.md)."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_without_textual() -> None:
    code = (
        "import sys\n"
        "import octowiz.octopus.client, octowiz.octopus.models, "
        "octowiz.sim.simulator, octowiz.sim.scenarios\n"
        "import octowiz.cli\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
