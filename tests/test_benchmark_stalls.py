"""The UI benchmarks' stall measure tells octowiz's own stalls from the machine's pauses.

``benchmarks.uiloop.watching_the_loop`` counts each late timer only up to the CPU time the process used
meanwhile; a process that only sleeps runs beside it to show what the machine alone does. A loop kept
busy must count in full, a loop kept waiting off the CPU (as when the virtual machine is paused) not.
"""

from __future__ import annotations

import asyncio
import time

from benchmarks.uiloop import STALL_GOAL, watching_the_loop


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
