"""Produce the README's screenshots from the real app on the simulator: ``python -m octowiz.tui.screenshots``.

Runs the wizard headless against an in-memory simulator in a throw-away directory and saves one SVG
per screen into ``screenshots/`` (or ``--out``). Nothing is drawn by hand; no key is ever on screen.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from textual.widgets import Input

SIZE = (130, 40)


async def settle(pilot: Any) -> None:
    """Wait until the screens' workers and the message queue are idle (not the app's lifelong flow)."""
    for _ in range(500):  # the flow worker pushes the first screen: wait until it is up
        if len(pilot.app.screen_stack) > 1:
            break
        await pilot.pause()
    for _ in range(4):
        busy = [w for w in pilot.app.workers if w.group != "app-flow" and not w.is_finished]
        if busy:
            await pilot.app.workers.wait_for_complete(busy)
        await pilot.pause()


async def until(pilot: Any, condition: Any, seconds: float = 120.0) -> None:
    """Let the app run until ``condition()`` holds (a wave's tasks take seconds on the demo's clock)."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise TimeoutError(
        f"the screen never reached the state to capture (on {type(pilot.app.screen).__name__})"
    )


async def _type(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press(ch)


async def shoot(out: Path) -> list[Path]:
    """Drive the demo through its screens and save each one."""
    from octowiz.engine.context import demo_context
    from octowiz.paths import Paths
    from octowiz.tui.app import make_app

    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ctx = demo_context(Paths(state=root / "state", config=root / "config", logs=root / "logs"))
        app = make_app(ctx)
        app.animation_level = "none"

        def save(name: str) -> None:
            for inp in app.screen.query(Input):
                inp.cursor_blink = False
            saved.append(Path(app.save_screenshot(f"{name}.svg", str(out))))

        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            save("welcome-empty")
            await pilot.press("n")
            await settle(pilot)
            for ch in "acme-to-cloud":
                await pilot.press(ch)
            save("new-migration")
            await pilot.press("enter")
            await settle(pilot)
            save("connect")
            await pilot.press("ctrl+t")
            await settle(pilot)
            save("connect-checked")
            await pilot.press("enter")  # Continue has the focus once both instances check out
            await settle(pilot)
            save("differences")  # the readiness scan runs at once, read-only
            await app.screen.run_action("continue")
            await settle(pilot)
            save("connectivity")
            await app.screen.run_action("continue")
            await settle(pilot)
            save("users")
            await app.screen.run_action("continue")
            await settle(pilot)
            await app.screen.run_action("suggest")
            await settle(pilot)
            save("waves")
            await app.screen.run_action("add")
            await settle(pilot)
            save("waves-add")
            await pilot.press("enter")  # the name field suggests "wave 1"
            await settle(pilot)
            await app.screen.run_action("continue")
            await settle(pilot)
            await app.screen.run_action("migrate")
            await settle(pilot)
            for text in ("demopassword", "tab", "demopassword", "enter"):
                await (pilot.press(text) if text in ("tab", "enter") else _type(pilot, text))
            await until(pilot, lambda: type(app.screen).__name__ == "PreviewDialog")
            save("migrate-preview")
            await pilot.press("shift+tab", "enter")  # Cancel has the focus: Import is before it
            await until(
                pilot, lambda: not [w for w in app.workers if w.group == "migrate-run" and not w.is_finished]
            )
            await settle(pilot)
            save("migrate-done")
            await app.screen.run_action("continue")
            await settle(pilot)
            save("overview")
            await pilot.press("escape")
            await settle(pilot)
            save("welcome")
            await pilot.press("v")
            await settle(pilot)
            save("review")
        ctx.close()
    return saved


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    args = parser.parse_args()
    for path in asyncio.run(shoot(args.out)):
        print(path)


if __name__ == "__main__":
    main()
