"""The built wheel ships the styles inside the package and runs headless from a fresh virtual environment."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEADLESS = """
import asyncio, tempfile
from pathlib import Path
import octowiz, octowiz.tui.styles
from octowiz.engine.context import demo_context
from octowiz.paths import Paths
from octowiz.tui.app import make_app
from octowiz.tui.screens.welcome import WelcomeScreen

async def main():
    root = Path(tempfile.mkdtemp())
    ctx = demo_context(Paths(root / "s", root / "c", root / "l"))
    app = make_app(ctx)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(500):
            if len(app.screen_stack) > 1:
                break
            await pilot.pause()
        for _ in range(4):
            busy = [w for w in app.workers if w.group != "app-flow" and not w.is_finished]
            if busy:
                await app.workers.wait_for_complete(busy)
            await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen), app.screen
        banner = app.screen.query_one("#demo-banner")
        print("banner-style", banner.styles.text_style)
    ctx.close()
    print("package", Path(octowiz.__file__).parent)
    print("css", octowiz.tui.styles.css_path())

asyncio.run(main())
"""


def test_wheel_installs_and_runs_headless(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    [wheel] = list(dist.glob("octowiz-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert "octowiz/styles/octowiz.tcss" in zf.namelist()

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Install the wheel's files only; dependencies come from this environment (no network here). A
    # plain path in a .pth file does not activate this checkout's editable install, so `octowiz`
    # can only be the one from the wheel.
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    (site / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    out = subprocess.run([str(py), "-c", HEADLESS], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.strip().splitlines())
    assert Path(lines["package"]) == site / "octowiz"
    assert Path(lines["css"]) == site / "octowiz" / "styles" / "octowiz.tcss"
    assert "bold" in lines["banner-style"]  # the stylesheet was really applied
