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


async def _ready(pilot: Any) -> None:
    """Until the step screen on top has read both instances and nothing runs on it."""
    await settle(pilot)
    await until(
        pilot,
        lambda: (
            (getattr(pilot.app.screen, "loaded", None) or getattr(pilot.app.screen, "report", None))
            is not None
            and not pilot.app.screen.busy
        ),
    )
    await settle(pilot)


async def _run(pilot: Any, action: str) -> None:
    """Run a step screen's action and wait for it to end."""
    await pilot.app.screen.run_action(action)
    await _ready(pilot)


async def _confirm(pilot: Any, action: str, word: str, *, reason: str = "") -> None:
    """Run an action that asks for a typed confirmation (and a reason), confirm it, wait for the end."""
    screen = pilot.app.screen
    await screen.run_action(action)
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "TypedConfirm")
    await settle(pilot)  # the dialog has focused its first field
    if pilot.app.screen.reason_hint:
        await _type(pilot, reason)
        await pilot.press("tab")
    await _type(pilot, word)
    await pilot.press("enter")
    await settle(pilot)
    if pilot.app.screen is not screen:  # the dialog refused what was typed: say what it said
        dialog = pilot.app.screen
        raise RuntimeError(f"{dialog.heading} {dialog.query_one('#typed-error').render()}")
    await _ready(pilot)


#: What the Retire step asks the team to type (the engine checks it).
BACKUP_PHRASE = "a full backup exists"


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
            for _ in range(3):  # laid out and drawn (settle would wait on the run, which waits on this)
                await pilot.pause()
            save("migrate-preview")
            await pilot.press("shift+tab", "enter")  # Cancel has the focus: Import is before it
            await until(
                pilot, lambda: not [w for w in app.workers if w.group == "migrate-run" and not w.is_finished]
            )
            await settle(pilot)
            save("migrate-done")
            await app.screen.run_action("continue")
            await _ready(pilot)
            # Targets: the canary cloned through the Server's script console, then a health check.
            await _confirm(pilot, "run_hosts", "run")
            await _run(pilot, "health")
            save("targets")
            # The other hosts. Some of the demo's Tentacles do not answer (web-test-02's is offline): they
            # stay behind on the Server, each with a reason, so the cut-over can go on without them.
            await _confirm(pilot, "run_hosts", "run")
            await _run(pilot, "health")
            targets: Any = app.screen
            for name in [r.name for r in targets.rows if r.cloud_state == "missing"]:
                targets.query_one("#machines").move_cursor(row=[r.name for r in targets.rows].index(name))
                await _confirm(
                    pilot, "leave", "leave", reason="Its Tentacle does not answer; it stays for now"
                )
            await app.screen.run_action("continue")
            await _ready(pilot)
            save("cutover")
            await _confirm(pilot, "disable", "disable", reason="Demo: targets checked by hand")
            await app.screen.run_action("continue")
            await _ready(pilot)
            # Retire: the checklist, the Server made read-only, then the old instances, canary first.
            await _confirm(pilot, "backup", BACKUP_PHRASE)
            await _run(pilot, "audit")
            await _confirm(pilot, "read_only", "read-only")
            await _confirm(pilot, "delete", "delete")  # the canary
            save("retire")
            retire: Any = app.screen
            while retire.report is not None and not retire.report.retired and retire.report.offered_hosts():
                await _confirm(pilot, "delete", "delete")
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
