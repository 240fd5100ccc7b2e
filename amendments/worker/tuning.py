"""Workflow-task slots that serve the amendments under way first, and never withhold one for ever.

A worker polls two queues for workflow tasks: its sticky queue, where the next task of a workflow
in its cache arrives (an amendment under way), and the task queue itself, where a new amendment's
first task arrives, and the task of one that has left the cache. Temporal's fixed slots take from
both as they come. Under a burst of more amendments than the cache holds, the task queue always
has a new amendment to offer: each one taken enters the cache and pushes out an amendment under
way, which then replays its history at its next step, and the worker spends itself on replays.

`UnderWayFirst` gives a slot to a poll of the task queue while no sticky task runs, or once that
poll has waited `patience`: while this worker has work on the amendments it holds it finishes
that work first, and a new amendment waits at most `patience` for it.

Why the worker always makes progress (each rule that withholds a slot gives way after a bound):
- a sticky poll is refused only while all `slots` are reserved; a slot is released when its
  workflow task completes, and every workflow task completes within a bound: the workflow code
  yields within the SDK's 2 s deadlock limit, and a read run in the task (a local activity)
  gives up within `workflows.amend.LOCAL_READ_BUDGET` and goes to the task queue instead;
- a poll of the task queue is refused for the sticky tasks at most `patience`, then only while
  all slots are reserved, which the previous point bounds;
- the supplier itself waits on nothing but its own counts (kept under a lock: the SDK calls it
  from its own threads as well as the event loop) and wakes every waiting poll at each change.
Activity slots (a fixed number) are bounded the same way: every Dintero call has an HTTP timeout
below its activity's start-to-close, and the SDK cancels an activity at its start-to-close.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import timedelta

from temporalio.worker import (
    CustomSlotSupplier,
    SlotMarkUsedContext,
    SlotPermit,
    SlotReleaseContext,
    SlotReserveContext,
)

# How long a poll of the task queue waits for the sticky tasks before it takes a free slot all
# the same: a new amendment (or one out of the cache, a signal for a waiting one) is delayed by at
# most this much while the worker is busy with the amendments it holds.
PATIENCE = timedelta(seconds=2)


@dataclass
class _Permit(SlotPermit):
    sticky: bool
    running: bool = False


class UnderWayFirst(CustomSlotSupplier):
    """At most `slots` workflow tasks at once; a task from the task queue itself while no task
    from the sticky queue runs, or once its poll has waited `patience`."""

    def __init__(self, slots: int, patience: timedelta = PATIENCE) -> None:
        self.slots = slots
        self.patience = patience.total_seconds()
        self.reserved = 0
        self.sticky_running = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: list[asyncio.Future[None]] = []

    def _grant(self, sticky: bool, patient: bool) -> _Permit | None:
        """A permit if the rules allow one now (call with the lock held)."""
        if self.reserved >= self.slots:
            return None
        if not sticky and not patient and self.sticky_running > 0:
            return None
        self.reserved += 1
        return _Permit(sticky=sticky)

    async def reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit:
        loop = asyncio.get_running_loop()
        asked = loop.time()
        while True:
            waited = loop.time() - asked
            patient = waited >= self.patience
            with self._lock:
                self._loop = loop
                permit = self._grant(ctx.is_sticky, patient)
                if permit is not None:
                    return permit
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append(waiter)
                # Only a task-queue poll held back by the sticky tasks has a deadline to keep.
                held_back = self.reserved < self.slots and not ctx.is_sticky
            try:
                await asyncio.wait_for(waiter, self.patience - waited if held_back else None)
            except TimeoutError:
                pass  # patient now: look again
            finally:
                with self._lock:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)

    def try_reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit | None:
        with self._lock:
            return self._grant(ctx.is_sticky, patient=False)

    def mark_slot_used(self, ctx: SlotMarkUsedContext) -> None:
        permit = ctx.permit
        if isinstance(permit, _Permit) and permit.sticky:
            self._change(permit, running=True)

    def release_slot(self, ctx: SlotReleaseContext) -> None:
        permit = ctx.permit
        self._change(permit if isinstance(permit, _Permit) else None, running=False, release=True)

    def _change(self, permit: _Permit | None, *, running: bool, release: bool = False) -> None:
        """Count a change (under the lock, from whichever thread the SDK calls on), then wake
        every waiting reservation on the event loop to look again."""
        with self._lock:
            if release:
                self.reserved -= 1
            if permit is not None and permit.running != running:
                permit.running = running
                self.sticky_running += 1 if running else -1
            loop, waiters = self._loop, self._waiters
            self._waiters = []
        if loop is None or not waiters:
            return

        def wake() -> None:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:  # a thread without a loop
            on_loop = False
        if on_loop:
            wake()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(wake)
