"""What the benchmarks share to measure the wizard: a migration to resume, and the event loop's stalls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octowiz.engine.context import Context
from octowiz.journal import Journal
from octowiz.paths import Paths
from octowiz.sim.keys import CLOUD_MANAGER, SERVER_ADMIN


def resumable(server: str, cloud: str, tmp: Path, *done: str) -> Context:
    """A context whose one migration, ``bench``, is connected to the instances with ``done`` steps done."""
    paths = Paths(tmp / "state", tmp / "config", tmp / "logs")
    ctx = Context(
        paths=paths,
        migrations_dir=paths.migrations,
        keystore=None,
        session_keys={server: SERVER_ADMIN.api_key, cloud: CLOUD_MANAGER.api_key},
    )
    with Journal.create(ctx.journal_path("bench"), {"name": "bench"}) as j:
        j.set_settings(
            source_url=server, source_space="Spaces-1", destination_url=cloud, destination_space="Spaces-1"
        )
        for step in ("connect", *done):
            j.set_step(step, "done")
    return ctx


#: The goal for the longest event-loop stall of any screen while it works (issue 11): 50 ms.
STALL_GOAL = 0.05


@dataclass
class Stalls:
    """The longest time a 10 ms timer fired late while the watch was on (seconds).

    Wall-clock delays count whatever kept the loop from running: its own work, another thread holding
    the GIL, and, on a busy machine, other processes. ``cpu_worst`` counts only the loop thread's own
    CPU in one callback (``time.thread_time``), which other processes do not inflate: the stall that
    callback would cause on an idle machine (a pause of the virtual machine during the callback still
    counts in it, see ``own_worst``).

    Attributes:
        worst: the longest delay.
        by_phase: the longest delay in each phase ``phase()`` named when the timer fired late.
        over: how many times the timer fired more than :data:`STALL_GOAL` late.
        cpu_worst: the most CPU the loop thread spent in one callback.
        cpu_where: that callback (a task's coroutine, or the function called).
        cpu_by_phase: the most CPU in one callback in each phase.
        own_worst: the longest delay octowiz itself can have caused: each delay counted only up to the
            CPU time its process (every thread of it) used meanwhile, less the part of it during which
            a process that only sleeps, on the loop thread's CPU, was held up too. A delay while the
            process was not on a CPU at all (another process running) counts as 0; so does a pause of
            the virtual machine, which the guest charges as CPU time to whatever thread it stopped
            (seen here: a busy loop's 66 ms gap came with 66 ms of its ``thread_time``).
        own_by_phase: ``own_worst`` in each phase.
        own_over: how many times ``own`` was over :data:`STALL_GOAL`.
        control_pid: the sleeping control's process while the watch is on.
        machine: the hiccups of a process that does nothing but wait, run beside the watch
            (:class:`SleepingControl`): what the machine alone does to a timer in the same minutes.
    """

    worst: float = 0.0
    by_phase: dict[str, float] = field(default_factory=dict)
    over: int = 0
    cpu_worst: float = 0.0
    cpu_where: str = ""
    cpu_by_phase: dict[str, float] = field(default_factory=dict)
    own_worst: float = 0.0
    own_by_phase: dict[str, float] = field(default_factory=dict)
    own_over: int = 0
    control_pid: int = 0
    machine: Hiccups | None = None


def _describe(handle: asyncio.Handle) -> str:
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        return getattr(coro, "__qualname__", repr(coro))
    return getattr(callback, "__qualname__", repr(callback))


@contextlib.asynccontextmanager
async def watching_the_loop(phase: Callable[[], str] | None = None) -> AsyncIterator[Stalls]:
    """Measure how late a timer that should fire every 10 ms fires: what a screen would feel.

    ``phase`` names what the screen is doing (read when a late timer fires) to tell the stalls apart.
    """
    import time

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stalls = Stalls()
    original = asyncio.Handle._run

    profiling = bool(os.environ.get("OCTOWIZ_BENCH_PROFILE"))
    # OCTOWIZ_BENCH_PROFILE_MS: show the stalls over this many milliseconds (default: the goal).
    shown_over = float(os.environ.get("OCTOWIZ_BENCH_PROFILE_MS") or STALL_GOAL * 1000) / 1000
    recent: list[tuple[float, float, float, str]] = []  # (start, end, CPU, what) while profiling
    worst_slices: list[tuple[float, list[str]]] = []

    def timed(handle: asyncio.Handle) -> None:
        start = time.thread_time()
        wall = time.perf_counter()
        try:
            original(handle)
        finally:
            spent = time.thread_time() - start
            if profiling:
                recent.append((wall, time.perf_counter(), spent, _describe(handle)))
                del recent[:-400]
            if spent > 0.005:
                if spent > stalls.cpu_worst:
                    stalls.cpu_worst, stalls.cpu_where = spent, _describe(handle)
                if phase is not None:
                    name = phase()
                    stalls.cpu_by_phase[name] = max(stalls.cpu_by_phase.get(name, 0.0), spent)

    late_timers: list[tuple[float, float, float, str]] = []  # (due, fired, CPU used, phase) over 1 ms

    async def monitor() -> None:
        cpu_before = time.process_time()
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.01)
            fired = loop.time()
            late = fired - before - 0.01
            cpu_now = time.process_time()
            used, cpu_before = cpu_now - cpu_before, cpu_now
            name = phase() if phase is not None else ""
            if late > 0.001:
                late_timers.append((fired - late, fired, used, name))
            if profiling and late > shown_over:
                now = time.perf_counter()
                window = [r for r in recent if r[1] >= now - late - 0.01]
                busy = sum(r[1] - r[0] for r in window)
                lines = [
                    f"{late * 1000:.0f} ms late: callbacks {busy * 1000:.0f} ms wall, "
                    f"{sum(r[2] for r in window) * 1000:.0f} ms CPU, outside them "
                    f"{(late + 0.01 - busy) * 1000:.0f} ms; octowiz's process on a CPU {used * 1000:.0f} ms"
                ]
                lines += [
                    f"    {(r[1] - r[0]) * 1000:5.1f} ms wall {r[2] * 1000:5.1f} CPU  {r[3]}"
                    for r in window
                    if r[1] - r[0] > 0.002
                ]
                lines += [
                    f"      message {(r[1] - r[0]) * 1000:5.1f} ms wall {r[2] * 1000:5.1f} CPU  {r[3]}"
                    for r in DISPATCHED
                    if r[1] >= now - late - 0.01 and r[1] - r[0] > 0.002
                ]
                lines += [
                    f"      paint {spent * 1000:5.1f} ms: "
                    + ", ".join(f"{what} {t * 1000:.1f}" for what, t in parts if t > 0.001)
                    for end, spent, parts in PAINTS
                    if end >= now - late - 0.01 and spent > 0.005
                ]
                worst_slices.append((late, lines))
            stalls.worst = max(stalls.worst, late)
            stalls.over += late > STALL_GOAL
            if phase is not None:
                stalls.by_phase[name] = max(stalls.by_phase.get(name, 0.0), late)

    with contextlib.ExitStack() as undo:
        asyncio.Handle._run = timed  # type: ignore[method-assign,assignment]
        undo.callback(setattr, asyncio.Handle, "_run", original)
        control = SleepingControl(_pin_to_one_cpu(undo))
        control.start()
        undo.callback(control.kill)
        stalls.control_pid = control.pid
        watcher = asyncio.create_task(monitor())
        undo.callback(watcher.cancel)
        # OCTOWIZ_BENCH_PROFILE=1: the callbacks and messages of each stall over the goal, printed at
        # the end; =2: also sample where the UI thread is while it stalls (a thread that takes the GIL:
        # stalls grow).
        sampler = (
            sampling_stalls()
            if os.environ.get("OCTOWIZ_BENCH_PROFILE") == "2"
            else contextlib.nullcontext(None)
        )
        if profiling:
            from textual.message_pump import MessagePump

            dispatch = MessagePump._dispatch_message

            async def timed_dispatch(pump: Any, message: Any) -> None:
                start, wall = time.thread_time(), time.perf_counter()
                try:
                    await dispatch(pump, message)
                finally:
                    what = f"{type(pump).__name__}<-{type(message).__name__}"
                    DISPATCHED.append((wall, time.perf_counter(), time.thread_time() - start, what))
                    del DISPATCHED[:-400]

            MessagePump._dispatch_message = timed_dispatch  # type: ignore[method-assign,assignment]
            undo.callback(setattr, MessagePump, "_dispatch_message", dispatch)
            undo.callback(_timing_paints())
        try:
            async with sampler as sampled:
                yield stalls
        finally:
            stop.set()
        await watcher
        stalls.machine = machine = control.result()
    for due, fired, used, name in late_timers:
        own = octowiz_share(due, fired, used, machine.pauses)
        stalls.own_worst = max(stalls.own_worst, own)
        stalls.own_over += own > STALL_GOAL
        if phase is not None:
            stalls.own_by_phase[name] = max(stalls.own_by_phase.get(name, 0.0), own)
    for _late, lines in sorted(worst_slices, key=lambda w: -w[0])[:6]:
        print("\n".join(lines))
    if sampled is not None:
        print("where the UI thread was while the loop stalled (sampled every 5 ms):")
        print(sampled.report(top=12, depth=14))


def _pin_to_one_cpu(undo: contextlib.ExitStack) -> int | None:
    """Pin the loop's thread to one of its CPUs until ``undo`` closes; that CPU, or None where it can't.

    The sleeping control is pinned to the same CPU, so that a pause of that virtual CPU alone shows in
    both. Threads the loop's thread starts meanwhile (``asyncio.to_thread``'s workers) inherit the pin
    and keep it after the watch: they compete with the loop for its CPU, which can only make the
    stalls and times measured longer. Unpinned (no ``sched_setaffinity``: not Linux), a pause of the
    loop's CPU alone can count as octowiz's.
    """
    try:
        affinity = os.sched_getaffinity(0)
        cpu = min(affinity)
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError) as exc:
        print(
            f"(the event loop is not pinned to one CPU: {exc}; a pause of its CPU alone counts as octowiz's)"
        )
        return None
    undo.callback(os.sched_setaffinity, 0, affinity)
    return cpu


def octowiz_share(due: float, fired: float, used: float, pauses: list[tuple[float, float]]) -> float:
    """How much of a timer's delay (it was ``due``, it ``fired``) octowiz can have caused.

    At most the CPU time its process ``used`` meanwhile, and at most the delay less the time that a
    process doing nothing but sleep, on the same CPU, was held up too (``pauses``: its late wake-ups
    as (due, woke) on the same monotonic clock): the virtual machine stopped them both.
    """
    late = fired - due
    paused = sum(max(0.0, min(fired, end) - max(due, start)) for start, end in pauses)
    return max(0.0, min(used, late - paused))


@dataclass
class Hiccups:
    """How late a 10 ms sleep woke in a process that does nothing else (see :class:`SleepingControl`).

    ``pauses`` are its wake-ups more than 1 ms late, as (due, woke) on the monotonic clock; ``cpus``
    the CPUs it was allowed to run on (empty where the platform does not say).
    """

    worst: float = 0.0
    over: int = 0  # times over STALL_GOAL
    samples: int = 0
    pauses: list[tuple[float, float]] = field(default_factory=list)
    cpus: list[int] = field(default_factory=list)


_CONTROL = """
import json, os, signal, sys, time
if sys.argv[1]:
    os.sched_setaffinity(0, {int(sys.argv[1])})
cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
print("ready", flush=True)
worst, over, samples, pauses = 0.0, 0, 0, []
while not stop:
    before = time.monotonic()
    time.sleep(0.01)
    woke = time.monotonic()
    late = woke - before - 0.01
    worst, over, samples = max(worst, late), over + (late > GOAL), samples + 1
    if late > 0.001:
        pauses.append((woke - late, woke))
found = {"worst": worst, "over": over, "samples": samples, "pauses": pauses, "cpus": cpus}
print(json.dumps(found), flush=True)
"""


class SleepingControl:
    """Beside a watch, a process that only sleeps 10 ms at a time and notes how late it wakes.

    On a virtual machine whose host runs other guests, every process stops now and then: on the
    2-core VM these benchmarks were written on, an idle Python loop woke 88 ms late once in two
    minutes with nothing else running. Measured in the same minutes as the wizard, it tells the
    machine's pauses from the wizard's. The host can stop one virtual CPU alone (seen here: a busy
    loop on one CPU stopped 53 ms while another, on the other CPU, ran on), so the control sleeps on
    ``cpu``, the loop thread's.
    """

    def __init__(self, cpu: int | None = None) -> None:
        self.cpu = cpu
        self.pid = 0

    def start(self) -> None:
        import subprocess
        import sys

        code = _CONTROL.replace("GOAL", repr(STALL_GOAL))
        cpu = "" if self.cpu is None else str(self.cpu)
        self._process = subprocess.Popen([sys.executable, "-c", code, cpu], stdout=subprocess.PIPE, text=True)
        self.pid = self._process.pid
        assert self._process.stdout is not None
        self._process.stdout.readline()  # "ready": sleeping from here on

    def result(self) -> Hiccups:
        import signal

        self._process.send_signal(signal.SIGTERM)
        out, _ = self._process.communicate(timeout=10)
        found = json.loads(out.strip().splitlines()[-1])
        pauses = [(float(a), float(b)) for a, b in found["pauses"]]
        cpus = [int(c) for c in found["cpus"]]
        return Hiccups(float(found["worst"]), int(found["over"]), int(found["samples"]), pauses, cpus)

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def stall_verdict(what: str, stalls: Stalls) -> str:
    """The lines every UI benchmark prints: the longest stall octowiz caused against the goal, the
    wall-clock stall and the machine's own pauses beside it, and the loop's longest callback."""
    own, worst, machine = stalls.own_worst, stalls.worst, stalls.machine or Hiccups()
    return (
        f"longest event-loop stall {what} that octowiz caused = {own * 1000:.0f} ms; / goal = "
        f"{own / STALL_GOAL:.2f} (goal < {STALL_GOAL * 1000:.0f} ms): "
        f"{'PASS' if own < STALL_GOAL else 'OVER TARGET'}\n"
        f"  (each delay counted up to the CPU time octowiz's process used meanwhile, less the time a\n"
        f"  process that only sleeps, on the loop's CPU, was held up with it: the machine's pauses)\n"
        f"  by the wall clock = {worst * 1000:.0f} ms, {stalls.over} time(s) over the goal; a process "
        f"that only sleeps, run beside it: {machine.worst * 1000:.0f} ms, {machine.over} time(s) over "
        f"the goal in {machine.samples} sleeps (the machine's own pauses)\n"
        f"  the loop's own CPU in its longest callback = {stalls.cpu_worst * 1000:.0f} ms "
        f"({stalls.cpu_where or 'none over 5 ms'}); / goal = {stalls.cpu_worst / STALL_GOAL:.2f}"
    )


def stall_results(stalls: Stalls) -> dict[str, object]:
    """The RESULT keys every UI benchmark reports for its stalls (``benchmarks.report`` reads them)."""
    machine = stalls.machine or Hiccups()
    return {
        "own_stall_ms": round(stalls.own_worst * 1000, 1),
        "stall_ms": round(stalls.worst * 1000, 1),
        "machine_hiccup_ms": round(machine.worst * 1000, 1),
        "loop_cpu_ms": round(stalls.cpu_worst * 1000, 1),
        "loop_cpu_where": stalls.cpu_where,
        "goal_ms": STALL_GOAL * 1000,
        "stall_pass": stalls.own_worst < STALL_GOAL,
    }


def result_line(name: str, **values: object) -> str:
    """The one machine-readable line a benchmark ends with: ``RESULT {json}``."""
    return "RESULT " + json.dumps({"name": name, **values}, sort_keys=False)


#: Textual messages handled while sampling: (start, end, loop thread CPU, receiver<-message).
DISPATCHED: list[tuple[float, float, float, str]] = []
#: Screen paints while sampling: (end, seconds, [(part, seconds)]), parts being the layout ("reflow")
#: and each widget's render, costliest first.
PAINTS: list[tuple[float, float, list[tuple[str, float]]]] = []


def _timing_paints() -> Callable[[], None]:
    """Time each screen paint and what it was spent on, into :data:`PAINTS`; returns the undo."""
    from textual._compositor import Compositor
    from textual.screen import Screen
    from textual.widget import Widget

    refresh, render_lines, reflow = Screen._refresh_layout, Widget.render_lines, Compositor.reflow
    parts: dict[str, float] = {}
    depth = [0]

    def timed_refresh(screen: Any, *args: Any, **kwargs: Any) -> Any:
        parts.clear()
        start = time.perf_counter()
        try:
            return refresh(screen, *args, **kwargs)
        finally:
            end = time.perf_counter()
            PAINTS.append((end, end - start, sorted(parts.items(), key=lambda kv: -kv[1])[:6]))
            del PAINTS[:-200]

    def timed_render(widget: Any, crop: Any) -> Any:
        depth[0] += 1
        start = time.perf_counter()
        try:
            return render_lines(widget, crop)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                what = f"{type(widget).__name__}#{widget.id}" if widget.id else type(widget).__name__
                parts[what] = parts.get(what, 0.0) + time.perf_counter() - start

    def timed_reflow(compositor: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return reflow(compositor, *args, **kwargs)
        finally:
            parts["reflow"] = parts.get("reflow", 0.0) + time.perf_counter() - start

    Screen._refresh_layout = timed_refresh  # type: ignore[method-assign,assignment]
    Widget.render_lines = timed_render  # type: ignore[method-assign,assignment]
    Compositor.reflow = timed_reflow  # type: ignore[method-assign,assignment]

    def undo() -> None:
        Screen._refresh_layout = refresh  # type: ignore[method-assign]
        Widget.render_lines = render_lines  # type: ignore[method-assign]
        Compositor.reflow = reflow  # type: ignore[method-assign]

    return undo


@dataclass
class Sampled:
    """Where the UI thread was while its event loop stalled, and the garbage collector's long passes.

    Attributes:
        stacks: ``stack -> samples`` (one sample every 5 ms of a stall), innermost frame last.
        gc_pauses: ``(generation, seconds, CPU seconds)`` of every collection longer than 10 ms.
        heaps: ``(seconds, objects tracked, objects frozen)`` after every collection longer than 20 ms.
        messages: ``receiver<-message class -> the most CPU one such message's handling took``.
    """

    stacks: dict[str, int] = field(default_factory=dict)
    gc_pauses: list[tuple[int, float, float]] = field(default_factory=list)
    heaps: list[tuple[float, int, int]] = field(default_factory=list)
    messages: dict[str, float] = field(default_factory=dict)

    def report(self, top: int = 8, depth: int = 8) -> str:
        """The stacks most often seen stalled, and the long GC passes, as lines to print."""
        lines = []
        total = sum(self.stacks.values()) or 1
        for stack, n in sorted(self.stacks.items(), key=lambda kv: -kv[1])[:top]:
            frames = stack.split(" <- ")[:depth]
            lines.append(f"  {n * 5:6d} ms ({n / total:4.0%})  " + " <- ".join(frames))
        long_gc = sorted(self.gc_pauses, key=lambda p: -p[1])[:10]
        lines.append(
            f"  GC passes over 10 ms: {len(self.gc_pauses)}"
            + (
                ": " + ", ".join(f"gen{g} {s * 1000:.0f} ms (CPU {c * 1000:.0f})" for g, s, c in long_gc)
                if long_gc
                else ""
            )
        )
        costly = sorted(self.messages.items(), key=lambda kv: -kv[1])[:8]
        lines.append(
            "  most CPU in one message's handling: "
            + ", ".join(f"{what} {spent * 1000:.0f} ms" for what, spent in costly)
        )
        for spent, tracked, frozen in self.heaps[:10]:
            lines.append(f"  a {spent * 1000:.0f} ms pass: {tracked:,} objects tracked, {frozen:,} frozen")
        return "\n".join(lines)


@contextlib.asynccontextmanager
async def sampling_stalls(threshold: float = 0.02) -> AsyncIterator[Sampled]:
    """While on: every 5 ms, if the event loop has not run for ``threshold``, sample where it is.

    A heartbeat every 5 ms on the loop; a watcher thread samples the loop thread's stack whenever the
    heartbeat is late. Sampling costs the loop nothing but the GIL the watcher takes for a moment.
    """
    import gc
    import sys
    import threading
    import time

    loop = asyncio.get_running_loop()
    main = threading.get_ident()
    sampled = Sampled()
    beat = [time.perf_counter()]
    stop = threading.Event()
    gc_start = [0.0, 0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        # Any thread's collection stops the loop too: it holds the GIL throughout.
        if phase == "start":
            gc_start[:] = [time.perf_counter(), time.thread_time()]
        else:
            spent = time.perf_counter() - gc_start[0]
            cpu = time.thread_time() - gc_start[1]
            if spent > 0.01:
                sampled.gc_pauses.append((info.get("generation", -1), spent, cpu))
            if spent > 0.02:  # what a long pass walked: the tracked objects, and those frozen out of it
                sampled.heaps.append((spent, len(gc.get_objects()), gc.get_freeze_count()))

    def heartbeat() -> None:
        beat[0] = time.perf_counter()
        if not stop.is_set():
            loop.call_later(0.005, heartbeat)

    def stack(frame: Any) -> str:
        names: list[str] = []
        while frame is not None and len(names) < 40:
            code = frame.f_code
            module = frame.f_globals.get("__name__", "?")
            names.append(f"{module}.{code.co_name}:{frame.f_lineno}")
            frame = frame.f_back
        return " <- ".join(names)

    def watch() -> None:
        me = threading.get_ident()
        while not stop.wait(0.005):
            if time.perf_counter() - beat[0] < threshold:
                continue
            frames = sys._current_frames()
            key = stack(frames.get(main))
            if key.startswith("selectors.select"):
                # The loop is ready to run but waits for the GIL: whoever else is running holds it.
                others = [stack(f) for t, f in frames.items() if t not in (main, me)]
                busy = [o for o in others if not o.startswith(("threading.wait", "concurrent.futures"))]
                key = "[another thread] " + (busy[0] if busy else "(none busy)")
            sampled.stacks[key] = sampled.stacks.get(key, 0) + 1

    from textual.message_pump import MessagePump

    dispatch = MessagePump._dispatch_message

    async def timed_dispatch(pump: Any, message: Any) -> None:
        # The loop thread's CPU while one message is handled (handlers that await count what ran between).
        start = time.thread_time()
        try:
            await dispatch(pump, message)
        finally:
            spent = time.thread_time() - start
            what = f"{type(pump).__name__}<-{type(message).__name__}"
            if spent > sampled.messages.get(what, 0.0):
                sampled.messages[what] = spent

    MessagePump._dispatch_message = timed_dispatch  # type: ignore[method-assign,assignment]
    gc.callbacks.append(on_gc)
    heartbeat()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield sampled
    finally:
        stop.set()
        watcher.join()
        gc.callbacks.remove(on_gc)
        MessagePump._dispatch_message = dispatch  # type: ignore[method-assign]


async def warmed_up(app: Any) -> None:
    """Wait until the wizard's warm-up after its first screen is over (the other screens imported, the
    heap settled: ``OctowizApp._warm_up``), as it is by the time a person has read the Welcome screen."""
    await asyncio.to_thread(app.warmed_up.wait, 60)


OPENING, WORKING = "opening the screen", "while it works"


def screen_phases(app: Any, kind: type) -> Callable[[], str]:
    """A ``phase`` for :func:`watching_the_loop`: ``OPENING`` until a screen of ``kind`` is current and
    painted once (Textual composing, styling and painting it), ``WORKING`` afterwards."""
    state = {"asked": False, "painted": False}

    def painted() -> None:
        state["painted"] = True

    def phase() -> str:
        if state["painted"]:
            return WORKING
        screen: Any = app.screen
        current = isinstance(screen, kind)
        if current and not state["asked"]:
            state["asked"] = True
            screen.call_after_refresh(painted)
        return OPENING

    return phase


def phase_lines(stalls: Stalls) -> str:
    """The longest stall and the loop's longest callback in each phase, against the goal."""
    lines = []
    for name, worst in stalls.by_phase.items():
        cpu = stalls.cpu_by_phase.get(name, 0.0)
        lines.append(
            f"  {name}: longest stall {worst * 1000:.0f} ms, loop CPU in one callback {cpu * 1000:.0f} ms "
            f"({'PASS' if worst < STALL_GOAL else 'OVER TARGET'} against {STALL_GOAL * 1000:.0f} ms)"
        )
    return "\n".join(lines)


def phase_values(stalls: Stalls) -> dict[str, object]:
    """The per-phase numbers for the RESULT line."""
    return {
        "stall_by_phase_ms": {k: round(v * 1000, 1) for k, v in stalls.by_phase.items()},
        "loop_cpu_by_phase_ms": {k: round(v * 1000, 1) for k, v in stalls.cpu_by_phase.items()},
        "own_stall_by_phase_ms": {k: round(v * 1000, 1) for k, v in stalls.own_by_phase.items()},
    }
