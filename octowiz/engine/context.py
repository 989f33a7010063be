"""What a run of octowiz works with: paths, the key store, and (in the demo) the simulated instances."""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from octowiz.journal import Journal, JournalError, journal_path, list_migrations, migration_name
from octowiz.paths import Paths, default_paths

if TYPE_CHECKING:
    # Imported where used: httpx, the keyring and the simulator are not needed to show the first screen.
    import httpx

    from octowiz.secrets import KeyStore
    from octowiz.sim.simulator import Simulator


@dataclass
class MigrationSummary:
    """One migration as the welcome screen lists it."""

    name: str
    path: Path
    source: str
    destination: str
    done: int
    total: int
    last_activity: str
    next_step: str | None
    error: str = ""


@dataclass
class Context:
    """Everything a run needs, built once by the command line and handed to the app.

    Attributes:
        paths: where state, config and logs live.
        migrations_dir: where this run's journals live (the demo has its own).
        keystore: the OS keyring store; None in the demo (simulated keys are not stored).
        transport: the httpx transport to reach instances (the simulator's in the demo).
        demo: True when the instances are simulated.
        session_keys: keys entered this session when no keyring is usable (memory only).
        requests_per_minute: this run's budget of requests a minute to the destination, from the command
            line (None: the migration's setting, else the default; 0: none). See ``engine/session.py``.
        source_requests_per_minute: the same for the source.
    """

    paths: Paths
    migrations_dir: Path
    keystore: KeyStore | None
    transport: httpx.AsyncBaseTransport | None = None
    demo: bool = False
    simulator: object | None = None
    demo_keys: dict[str, str] = field(default_factory=dict)
    session_keys: dict[str, str] = field(default_factory=dict)
    requests_per_minute: int | None = None
    source_requests_per_minute: int | None = None

    def key_for(self, url: str, role: str) -> tuple[str | None, str]:
        """A key for an instance and where it came from: demo, keyring, environment, session or none.

        Blocking (the keyring): call from a thread.
        """
        from octowiz.octopus.urls import normalise_base_url
        from octowiz.secrets import env_key

        try:
            target = normalise_base_url(url)
        except Exception:
            return None, "none"
        if self.demo:
            return self.demo_keys.get(target), "demo"
        if target in self.session_keys:
            return self.session_keys[target], "session"
        if self.keystore is not None:
            key = self.keystore.get(target)
            if key:
                return key, "keyring"
        key = env_key(role)
        if key:
            return key, "environment"
        return None, "none"

    def migrations(self) -> list[MigrationSummary]:
        """Every migration on this machine (for this mode), newest first. Blocking: call from a thread."""
        from octowiz.engine.steps import STEPS, next_step, progress

        out = []
        for path in list_migrations(self.migrations_dir):
            name = migration_name(path)
            try:
                with Journal.open(path, lock=False) as j:
                    s = j.settings
                    statuses = {k: v[0] for k, v in j.steps().items()}
                    done, total = progress(statuses)
                    out.append(
                        MigrationSummary(
                            name,
                            path,
                            _where(s, "source"),
                            _where(s, "destination"),
                            done,
                            total,
                            j.last_activity,
                            next_step(statuses),
                        )
                    )
            except JournalError as exc:
                out.append(MigrationSummary(name, path, "?", "?", 0, len(STEPS), "", None, str(exc)))
        return out

    def journal_path(self, name: str) -> Path:
        """Where the journal of a migration of this name lives."""
        return journal_path(self.migrations_dir, name)

    def read_only(self) -> Context:
        """A copy of this context whose clients can only read (a review).

        Its transport (the simulator's, or httpx's default for real instances) is wrapped in
        :class:`~octowiz.octopus.readonly.ReadOnlyTransport`, which refuses any request but GET and HEAD
        before it leaves the process. The copy shares the keys and the simulator: close only the original.
        """
        from octowiz.octopus.readonly import read_only

        return dataclasses.replace(self, transport=read_only(self.transport))

    @property
    def is_read_only(self) -> bool:
        """True for a context made by :meth:`read_only`."""
        from octowiz.octopus.readonly import ReadOnlyTransport

        return isinstance(self.transport, ReadOnlyTransport)

    def close(self) -> None:
        """Release the simulator, if any."""
        close = getattr(self.simulator, "close", None)
        if callable(close):
            close()


def _where(settings: dict[str, object], role: str) -> str:
    url = str(settings.get(f"{role}_url") or "not connected")
    space = settings.get(f"{role}_space_name") or settings.get(f"{role}_space")
    return f"{url} ({space})" if space and space != "Default" and url != "not connected" else url


def real_context(paths: Paths | None = None) -> Context:
    """The context for real instances: journals in the state directory, keys in the OS keyring."""
    from octowiz.secrets import KeyStore

    p = paths or default_paths()
    return Context(paths=p, migrations_dir=p.migrations, keystore=KeyStore(p.config))


def demo_context(paths: Paths | None = None, *, reset: bool = False, deferred: bool = False) -> Context:
    """The demo: a simulated Server and Cloud persisted in the demo directory, with their own journals.

    With ``deferred`` (the wizard), the simulator is built when first needed, on a thread
    (:mod:`octowiz.engine.deferred_sim`), so that building it does not delay the first screen.
    """
    p = paths or default_paths()
    if reset and p.demo.exists():
        shutil.rmtree(p.demo)
    if deferred:
        return _deferred_demo_context(p)
    from octowiz.sim.simulator import Simulator

    return simulator_context(p, Simulator(p.demo / "instances", "demo"))


def _deferred_demo_context(p: Paths) -> Context:
    from octowiz.engine.deferred_sim import DeferredKeys, DeferredSimulator, DeferredTransport

    def build() -> Simulator:
        from octowiz.sim.simulator import Simulator

        return Simulator(p.demo / "instances", "demo")

    sim = DeferredSimulator(build)
    return Context(
        paths=p,
        migrations_dir=p.demo / "migrations",
        keystore=None,
        transport=DeferredTransport(sim),
        demo=True,
        simulator=sim,
        demo_keys=DeferredKeys(),  # the simulator's fixed keys: known without building it
    )


def simulator_context(paths: Paths, sim: Simulator) -> Context:
    """A demo context over a given simulator: its transport, its keys (never stored), the demo's journals."""
    from octowiz.octopus.urls import normalise_base_url
    from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN

    return Context(
        paths=paths,
        migrations_dir=paths.demo / "migrations",
        keystore=None,
        transport=sim.transport(),
        demo=True,
        simulator=sim,
        demo_keys={
            normalise_base_url(sim.server_url): SERVER_ADMIN.api_key,
            normalise_base_url(sim.cloud_url): CLOUD_MANAGER.api_key,
        },
    )
