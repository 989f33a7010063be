"""The octowiz app: owns the step order and the journal; screens are steps that dismiss a result."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding

from octowiz import __version__, heap
from octowiz.engine.context import Context
from octowiz.engine.steps import STEP_IDS, next_step
from octowiz.journal import Journal, JournalError, journal_path
from octowiz.tui.screens.welcome import WelcomeScreen
from octowiz.tui.styles import css_path
from octowiz.tui.workers import work

if TYPE_CHECKING:
    from textual.screen import Screen

    from octowiz.engine.prepare.connectivity import ConnectivityReport
    from octowiz.engine.prepare.readiness import ScanResult
    from octowiz.tui.screens.dialogs import DeleteChoice
    from octowiz.tui.screens.overview import OverviewData


def load_screens() -> None:
    """Import every screen after Welcome, and what they need (blocking: call on a thread).

    About half a second of imports (the engine, the client's pydantic models, the screens) that the first
    screen does not need: the app runs this on a thread once Welcome is painted, and awaits it (on a
    thread again, so never on the event loop) before it shows any other screen. A second call, or one
    made while the first is still importing, returns once the modules are there.
    """
    import octowiz.engine.prepare.scanning
    import octowiz.tui.screens.connect
    import octowiz.tui.screens.connectivity
    import octowiz.tui.screens.cutover
    import octowiz.tui.screens.dialogs
    import octowiz.tui.screens.differences
    import octowiz.tui.screens.migrate
    import octowiz.tui.screens.overview
    import octowiz.tui.screens.retire
    import octowiz.tui.screens.targets
    import octowiz.tui.screens.users
    import octowiz.tui.screens.waves  # noqa: F401


#: The steps after Connect: each is a step screen the app shows, records and moves on from.
STEP_SCREENS = STEP_IDS[1:]


#: The interpreter's thread switch interval while the wizard runs (see ``OctowizApp.on_mount``).
UI_SWITCH_INTERVAL = 0.001


class OctowizApp(App[None]):
    """The wizard. Build it with :func:`make_app`."""

    CSS_PATH = css_path()
    TITLE = "octowiz"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", tooltip="Leave octowiz", id="app.quit", show=False)]

    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context
        self.journal: Journal | None = None
        #: Set once the warm-up after the first screen is over (for benchmarks and tests to wait on).
        self.warmed_up = threading.Event()
        #: The interpreter's switch interval before the app, restored when it ends.
        self._switch_interval = sys.getswitchinterval()

    def on_mount(self) -> None:
        # A thread running Python (a scan's rules, the journal, the heap's settle) keeps the GIL for
        # up to the switch interval each time the UI thread wants it back, and the UI thread wants it
        # back after every system call: closing eight connections took 45 ms at the default 5 ms.
        # At 1 ms the screen stays live; the threads lose little.
        sys.setswitchinterval(min(self._switch_interval, UI_SWITCH_INTERVAL))
        self.flow()

    def on_unmount(self) -> None:
        sys.setswitchinterval(self._switch_interval)

    def _warm_up(self) -> None:
        """After the first screen is painted: the other screens' modules, the demo's simulator, the TLS
        context every client shares (loading the CA store, 20-30 ms, would otherwise fall on the event
        loop when the first step opens its clients), and the heap settled (see :mod:`octowiz.heap`)."""
        from octowiz.engine.deferred_sim import DeferredSimulator
        from octowiz.octopus.client import default_tls_context

        sim = self.context.simulator

        def warm() -> None:
            try:
                load_screens()
                default_tls_context()
                if isinstance(sim, DeferredSimulator):
                    sim.get()  # octowiz --demo: built now rather than when the first request needs it
                heap.settle()
            finally:
                self.warmed_up.set()  # a failure here surfaces again where the module or simulator is used

        self.run_worker(warm, thread=True, group="app-warm-up", exit_on_error=False)

    async def _screens(self) -> None:
        """Wait, on a thread, until the screens after Welcome are imported (see :func:`load_screens`)."""
        await asyncio.to_thread(load_screens)

    # -- the flow --------------------------------------------------------------------------------

    @work(exclusive=True, group="app-flow", exit_on_error=True)
    async def flow(self) -> None:
        """Welcome → (new | resume | review | delete) → the steps, for as long as the app runs."""
        first = True
        while True:
            welcome = WelcomeScreen(self.context)
            if first:
                first = False
                welcome.call_after_refresh(self._warm_up)  # once Welcome is painted, not before
            choice = await self.push_screen_wait(welcome)
            try:
                await self._screens()
                if choice.action == "new":
                    await self._new()
                elif choice.action == "resume" and choice.name:
                    await self._resume(choice.name)
                elif choice.action == "review" and choice.name:
                    await self._review(choice.name)
                elif choice.action == "delete" and choice.name:
                    await self._delete(choice.name)
            except JournalError as exc:
                self.notify(str(exc), title="Journal", severity="error", timeout=15)
            finally:
                await self._close_journal()

    async def _new(self) -> None:
        from octowiz.tui.screens.dialogs import NameDialog

        name = await self.push_screen_wait(NameDialog(self._name_problem))
        if not name:
            return
        path = self.context.journal_path(name)
        settings: dict[str, object] = {"name": name}
        sim = self.context.simulator

        def create() -> Journal:
            if self.context.demo and sim is not None:
                # Blocking for a demo simulator still being built (DeferredSimulator): on this thread.
                settings.update(
                    source_url=getattr(sim, "server_url", ""), destination_url=getattr(sim, "cloud_url", "")
                )
            return Journal.create(path, settings)

        self.journal = await asyncio.to_thread(create)
        await self._run_steps()

    def _name_problem(self, name: str) -> str:
        try:
            path = journal_path(self.context.migrations_dir, name)
        except JournalError as exc:
            return str(exc)
        if path.exists():
            return (
                f"A migration called '{name}' already exists: resume it from the list, "
                "or choose another name."
            )
        return ""

    async def _resume(self, name: str) -> None:
        journal = await asyncio.to_thread(Journal.open, self.context.journal_path(name))
        self.journal = journal
        if journal.took_over_from:
            held = journal.took_over_from
            self.notify(
                f"The last run (process {held.get('pid')} on {held.get('host')}) ended without closing "
                "the migration; its journal is intact and octowiz continues from it.",
                title="Resumed",
            )
        await self._run_steps()

    async def _run_steps(self) -> None:
        """Go to the step where the migration stands; after a step, on to the next, or the overview."""
        from octowiz.tui.screens.connect import ConnectScreen
        from octowiz.tui.screens.overview import OverviewScreen

        assert self.journal is not None
        journal = self.journal
        step = await asyncio.to_thread(lambda: next_step(self._statuses(journal)))
        while True:
            if step == "connect":

                def enter() -> tuple[dict[str, str], dict[str, object]]:
                    if journal.step_status("connect") != "done":
                        journal.set_step("connect", "in progress")
                    return self._statuses(journal), journal.settings

                statuses, settings = await asyncio.to_thread(enter)
                result = await self.push_screen_wait(ConnectScreen(self.context, journal, statuses, settings))
                if result is None:
                    return
                step = await asyncio.to_thread(lambda: next_step(self._statuses(journal)))
                continue
            if step in STEP_SCREENS:
                outcome = await self._scan_step(journal, step)
                if outcome != "done":
                    return
                await asyncio.to_thread(journal.set_step, step, "done")
                step = await asyncio.to_thread(lambda: next_step(self._statuses(journal)))
                continue
            data = await asyncio.to_thread(self._overview, journal)
            chosen = await self.push_screen_wait(OverviewScreen(self.context, data, review=False))
            if chosen == "welcome":
                return
            step = chosen

    async def _scan_step(self, journal: Journal, step: str, *, review: bool = False) -> str:
        """Show a step screen (a scan's last result or a fresh scan, waves, migrate); return how it ended."""
        from octowiz.engine.prepare.scanning import latest_connectivity, latest_readiness
        from octowiz.tui.screens.connectivity import ConnectivityScreen
        from octowiz.tui.screens.cutover import CutoverScreen
        from octowiz.tui.screens.differences import DifferencesScreen
        from octowiz.tui.screens.migrate import MigrateScreen
        from octowiz.tui.screens.retire import RetireScreen
        from octowiz.tui.screens.targets import TargetsScreen
        from octowiz.tui.screens.users import UsersScreen
        from octowiz.tui.screens.waves import WavesScreen

        def enter() -> tuple[dict[str, str], str, ScanResult | None, ConnectivityReport | None]:
            if not review and journal.step_status(step) != "done":
                journal.set_step(step, "in progress")
            readiness = latest_readiness(journal) if step == "differences" else None
            connectivity = latest_connectivity(journal) if step == "connectivity" else None
            name = str(journal.settings.get("name", "migration"))
            return self._statuses(journal), name, readiness, connectivity

        statuses, name, latest_scan, latest_report = await asyncio.to_thread(enter)
        if heap.unsettled():  # the screen before unfroze the heap: one full pass now, not during this step
            await asyncio.to_thread(heap.settle)
        if step == "waves":
            screen: Screen[str] = WavesScreen(self.context, journal, statuses, review=review)
        elif step == "migrate":
            screen = MigrateScreen(self.context, journal, statuses, review=review)
        elif step == "targets":
            screen = TargetsScreen(
                self.context, journal, statuses, self.context.paths.downloads / name, review=review
            )
        elif step == "cutover":
            screen = CutoverScreen(self.context, journal, statuses, review=review)
        elif step == "retire":
            screen = RetireScreen(
                self.context, journal, statuses, self.context.paths.downloads / name, review=review
            )
        elif step == "users":
            screen = UsersScreen(
                self.context, journal, statuses, self.context.paths.downloads / name, review=review
            )
        elif step == "differences":
            screen = DifferencesScreen(self.context, journal, statuses, latest_scan, review=review)
        else:
            scripts = self.context.paths.downloads / name / "probe-scripts"
            screen = ConnectivityScreen(
                self.context, journal, statuses, latest_report, scripts, review=review
            )
        return await self.push_screen_wait(screen)

    async def _review(self, name: str) -> None:
        from octowiz.tui.screens.overview import OverviewScreen

        path = self.context.journal_path(name)
        # Read-only by construction, not by promise: the journal is opened read-only (every write raises)
        # and the clients go through a transport that refuses anything but GET and HEAD.
        review = self.context.read_only()

        def read() -> OverviewData:
            with Journal.open(path, lock=False, read_only=True) as journal:
                return self._overview(journal)

        data = await asyncio.to_thread(read)
        while True:
            chosen = await self.push_screen_wait(OverviewScreen(review, data, review=True))
            if chosen not in STEP_SCREENS:
                return
            journal = await asyncio.to_thread(Journal.open, path, lock=False, read_only=True)
            # The step screens are built from the app's context: the read-only one while reviewing.
            own, self.context = self.context, review
            try:
                await self._scan_step(journal, chosen, review=True)
            finally:
                self.context = own
                await asyncio.to_thread(journal.close)

    async def _delete(self, name: str) -> None:
        from octowiz.tui.screens.dialogs import ConfirmDelete

        path = self.context.journal_path(name)

        def urls() -> tuple[list[str], bool]:
            with Journal.open(path, lock=False) as journal:
                s = journal.settings
            found = [str(s[k]) for k in ("source_url", "destination_url") if s.get(k)]
            store = self.context.keystore
            stored = bool(store is not None and set(found) & set(store.urls()))
            return found, stored

        try:
            found, stored = await asyncio.to_thread(urls)
        except JournalError:
            found, stored = [], False
        choice: DeleteChoice | None = await self.push_screen_wait(ConfirmDelete(name, found, stored))
        if choice is None:
            return

        def remove() -> None:
            lock = Journal.open(path) if path.exists() else None  # refuse while another run holds it
            if lock is not None:
                lock.close()
            for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm"), Path(str(path) + ".lock")):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            if choice.forget_keys and self.context.keystore is not None:
                for url in found:
                    self.context.keystore.forget(url)

        try:
            await asyncio.to_thread(remove)
        except JournalError as exc:
            self.notify(str(exc), title="Not deleted", severity="error", timeout=15)
            return
        self.notify(
            f"Deleted the migration '{name}'" + (" and forgot its keys." if choice.forget_keys else ".")
        )

    @staticmethod
    def _statuses(journal: Journal) -> dict[str, str]:
        return {k: v[0] for k, v in journal.steps().items()}

    def _overview(self, journal: Journal) -> OverviewData:
        from octowiz.engine.migrate.waves import project_state
        from octowiz.tui.screens.overview import OverviewData

        s = journal.settings
        items = journal.items("project")
        waves: dict[str, dict[str, int]] = {}
        for wave, ids in journal.waves().items():
            counts = waves.setdefault(wave, {})
            for pid in ids:
                state = project_state([row for row in items if row[1] == pid], wave)
                state = "planned" if state.startswith("planned") else state
                counts[state] = counts.get(state, 0) + 1
        return OverviewData(
            str(s.get("name", "")), s, self._statuses(journal), journal.actions(limit=10), waves
        )

    async def _close_journal(self) -> None:
        if self.journal is not None:
            journal, self.journal = self.journal, None
            await asyncio.to_thread(journal.close)

    async def action_quit(self) -> None:
        await self._close_journal()
        self.exit()


def make_app(context: Context) -> OctowizApp:
    """Build the app for ``__main__`` and for tests alike."""
    app = OctowizApp(context)
    app.sub_title = f"v{__version__}"
    return app
