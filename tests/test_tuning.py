"""The workflow-task slots that serve the amendments under way first (`amendments/tuning.py`),
driven as the SDK drives them: reserve before a poll, mark used when a task arrives, release when
it is done (from the SDK's own threads too). A burst through the real worker is measured by the
benchmark's waiting mode."""

from __future__ import annotations

import asyncio
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

from amendments.tuning import UnderWayFirst


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
    await asyncio.wait_for(later, 5)
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
    await asyncio.wait_for(third, 5)
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
