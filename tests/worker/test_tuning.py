"""The workflow-task slots that serve the amendments under way first
(`amendments/worker/tuning.py`),
driven as the SDK drives them: reserve before a poll, mark used when a task arrives, release when
it is done (from the SDK's own threads too). Each rule that withholds a slot gives way after a
bound. A burst through the real worker is measured by the benchmark's waiting mode."""

from __future__ import annotations

import asyncio
import sys
import threading
from dataclasses import dataclass
from typing import Any, cast

import pytest
from temporalio.worker import (
    SlotMarkUsedContext,
    SlotPermit,
    SlotReleaseContext,
    SlotReserveContext,
)

from amendments.worker.tuning import PATIENCE as SLOT_PATIENCE
from amendments.worker.tuning import UnderWayFirst
from tests.support.harness import PATIENCE


@dataclass
class Context:
    """What the SDK passes: the fields the supplier reads."""

    is_sticky: bool = False
    permit: SlotPermit | None = None
    slot_info: Any = None


async def reserve(slots: UnderWayFirst, sticky: bool) -> SlotPermit:
    return await slots.reserve_slot(cast(SlotReserveContext, Context(is_sticky=sticky)))


def start(slots: UnderWayFirst, permit: SlotPermit) -> None:
    """A task arrived on the permit's slot."""
    slots.mark_slot_used(cast(SlotMarkUsedContext, Context(permit=permit)))


def release(slots: UnderWayFirst, permit: SlotPermit) -> None:
    slots.release_slot(cast(SlotReleaseContext, Context(permit=permit)))


async def pending(reservation: asyncio.Task[SlotPermit]) -> bool:
    for _ in range(5):
        await asyncio.sleep(0)
    return not reservation.done()


async def test_a_new_amendment_waits_while_a_cached_one_has_a_task() -> None:
    slots = UnderWayFirst(5)
    sticky = await reserve(slots, True)
    # A sticky poll that waits for a task holds a slot but runs nothing: no one waits for it.
    first = await reserve(slots, False)
    release(slots, first)
    start(slots, sticky)
    later = asyncio.create_task(reserve(slots, False))
    assert await pending(later)
    # Another cached amendment's task is still served at once.
    other = await reserve(slots, True)
    release(slots, sticky)
    await asyncio.wait_for(later, PATIENCE)
    assert (slots.reserved, slots.sticky_running) == (2, 0)
    release(slots, other)
    release(slots, later.result())
    assert slots.reserved == 0


async def test_never_more_than_the_slots_and_a_release_from_another_thread_wakes_a_poll() -> None:
    slots = UnderWayFirst(2)
    held = [await reserve(slots, True) for _ in range(2)]
    third = asyncio.create_task(reserve(slots, True))
    assert await pending(third)
    assert slots.try_reserve_slot(cast(SlotReserveContext, Context(is_sticky=True))) is None
    releaser = threading.Thread(target=release, args=(slots, held[0]))
    releaser.start()
    releaser.join()
    await asyncio.wait_for(third, PATIENCE)
    assert slots.reserved == 2


async def test_a_cancelled_poll_leaves_no_slot_taken() -> None:
    slots = UnderWayFirst(1)
    held = await reserve(slots, True)
    waiting = asyncio.create_task(reserve(slots, False))
    assert await pending(waiting)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release(slots, held)
    await asyncio.sleep(0)
    assert (slots.reserved, slots.sticky_running) == (0, 0)
    assert await reserve(slots, False) is not None


async def test_a_sticky_task_that_never_ends_delays_a_new_amendment_by_the_patience_only() -> None:
    """The wedge's slot rule: a cached amendment's task that never completes (a workflow task
    heartbeating for a read that never ends) must not keep the task queue unpolled for ever."""
    slots = UnderWayFirst(5)
    stuck = await reserve(slots, True)
    start(slots, stuck)  # and never released
    loop = asyncio.get_running_loop()
    asked = loop.time()
    permit = await asyncio.wait_for(reserve(slots, False), PATIENCE)
    assert loop.time() - asked >= SLOT_PATIENCE.total_seconds()
    assert (slots.reserved, slots.sticky_running) == (2, 1)
    # The patience is per poll: the next one waits for it again, a sticky one not at all.
    again = asyncio.create_task(reserve(slots, False))
    assert await pending(again)
    assert await asyncio.wait_for(reserve(slots, True), 5) is not None
    release(slots, permit)
    await asyncio.wait_for(again, PATIENCE)


async def test_the_counts_stay_exact_when_the_sdk_calls_from_many_threads() -> None:
    """The SDK reserves eagerly, marks and releases from its own threads while polls reserve on
    the event loop: no update is lost, whatever the interleaving."""
    slots = UnderWayFirst(1_000)
    rounds = 2_000

    def churn() -> None:
        for _ in range(rounds):
            permit = slots.try_reserve_slot(cast(SlotReserveContext, Context(is_sticky=True)))
            assert permit is not None
            start(slots, permit)
            release(slots, permit)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        threads = [threading.Thread(target=churn) for _ in range(4)]
        for thread in threads:
            thread.start()
        for _ in range(rounds):
            permit = await reserve(slots, True)
            start(slots, permit)
            release(slots, permit)
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    await asyncio.sleep(0)
    assert (slots.reserved, slots.sticky_running) == (0, 0)
