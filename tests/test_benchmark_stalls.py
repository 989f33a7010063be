"""The UI benchmarks' stall measure tells octowiz's own stalls from the machine's pauses.

``benchmarks.uiloop.watching_the_loop`` counts each late timer only up to the CPU time the process used
meanwhile, less what a process that only sleeps, on the same CPU, was held up with it: what the machine
alone does. A loop kept busy must count in full; a loop kept waiting off the CPU, or stopped together
with the control, not.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from benchmarks.uiloop import STALL_GOAL, octowiz_share, watching_the_loop

ORIGINAL_AFFINITY = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
linux_only = pytest.mark.skipif(not ORIGINAL_AFFINITY, reason="CPU affinity is Linux's")


def _spin(seconds: float) -> None:
    """Hold the loop on the CPU for ``seconds`` of this process's CPU time."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


async def test_a_loop_kept_busy_is_a_stall_octowiz_caused() -> None:
    async with watching_the_loop() as stalls:
        await asyncio.sleep(0.05)
        _spin(0.15)
        await asyncio.sleep(0.05)
    assert stalls.worst >= 0.13
    assert stalls.own_worst >= 0.13 > STALL_GOAL
    assert stalls.own_over >= 1


async def test_a_loop_kept_off_the_cpu_is_not_a_stall_octowiz_caused() -> None:
    async with watching_the_loop() as stalls:
        await asyncio.sleep(0.05)
        time.sleep(0.15)  # the loop's thread not on a CPU at all: what a paused machine does to it
        await asyncio.sleep(0.05)
    assert stalls.worst >= 0.13  # the wall clock sees it
    assert stalls.own_worst < STALL_GOAL  # but the process was not running
    assert stalls.own_over == 0


async def test_the_machine_alone_is_measured_beside_the_watch() -> None:
    async with watching_the_loop() as stalls:
        await asyncio.sleep(0.2)
    assert stalls.machine is not None
    assert stalls.machine.samples >= 5  # it slept in 10 ms steps while the watch was on


@linux_only
async def test_the_machine_alone_sleeps_on_the_loops_cpu() -> None:
    """The host can stop one virtual CPU alone: the control must share the loop thread's CPU."""
    async with watching_the_loop() as stalls:
        pinned = sorted(os.sched_getaffinity(0))
        await asyncio.sleep(0.05)
    assert len(pinned) == 1
    assert stalls.machine is not None and stalls.machine.cpus == pinned  # the control's own CPUs
    assert os.sched_getaffinity(0) == ORIGINAL_AFFINITY  # given back when the watch ends


async def test_a_pause_that_stopped_the_control_too_is_not_octowiz_s() -> None:
    """The guest charges a virtual CPU's pause as CPU time to the thread it stopped: the loop can't tell
    it from a busy callback. The control stopped for the same time says it was the machine."""
    async with watching_the_loop() as stalls:
        await asyncio.sleep(0.05)
        os.kill(stalls.control_pid, signal.SIGSTOP)  # the machine stops the control...
        _spin(0.15)  # ...while the loop's thread is charged CPU time, as in a paused virtual CPU
        os.kill(stalls.control_pid, signal.SIGCONT)
        await asyncio.sleep(0.05)
    assert stalls.worst >= 0.13  # the wall clock sees it
    assert stalls.machine is not None and stalls.machine.worst >= 0.13  # so does the control
    assert stalls.own_worst < STALL_GOAL  # and it is not counted against octowiz
    assert stalls.own_over == 0


def test_a_pause_the_sleeping_control_shared_is_not_octowiz_s() -> None:
    """Each late timer counts less its overlap with the control's late wake-ups, up to the CPU used."""
    # The loop's timer was 60 ms late and its process "used" 60 ms of CPU meanwhile: a busy callback
    # or a paused virtual CPU look the same from inside. The control, asleep on that CPU, woke 50 ms
    # late within the same 60 ms: the machine stopped them both for those 50 ms.
    assert octowiz_share(10.0, 10.06, 0.06, [(10.005, 10.055)]) == pytest.approx(0.01)
    # Without a pause beside it, the whole delay is octowiz's (up to the CPU it used).
    assert octowiz_share(10.0, 10.06, 0.06, [(9.0, 9.05), (10.1, 10.2)]) == pytest.approx(0.06)
    assert octowiz_share(10.0, 10.06, 0.02, []) == pytest.approx(0.02)
    # A pause longer than the delay leaves nothing to octowiz.
    assert octowiz_share(10.0, 10.06, 0.06, [(9.99, 10.07)]) == 0.0
