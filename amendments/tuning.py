"""Workflow-task slots that serve the amendments under way first.

A worker polls two queues for workflow tasks: its sticky queue, where the next task of a workflow
in its cache arrives (an amendment under way), and the task queue itself, where a new amendment's
first task arrives, and the task of one that has left the cache. Temporal's fixed slots take from
both as they come. Under a burst of more amendments than the cache holds, the task queue always
has a new amendment to offer: each one taken enters the cache and pushes out an amendment under
way, which then replays its history at its next step, and the worker spends itself on replays.

`UnderWayFirst` gives a slot to a poll of the task queue only while no sticky task is running:
while this worker has work on the amendments it holds, it finishes that work before it takes
more. Without a burst the sticky queue is idle most of the time and nothing waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from temporalio.worker import (
    CustomSlotSupplier,
    SlotMarkUsedContext,
    SlotPermit,
    SlotReleaseContext,
    SlotReserveContext,
)


@dataclass
class _Permit(SlotPermit):
    sticky: bool
    running: bool = False


class UnderWayFirst(CustomSlotSupplier):
    """At most `slots` workflow tasks at once; a task from the task queue itself only while no
    task from the sticky queue runs."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.reserved = 0
        self.sticky_running = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: list[asyncio.Future[None]] = []

    def _free(self, sticky: bool) -> bool:
        return self.reserved < self.slots and (sticky or self.sticky_running == 0)

    async def reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit:
        self._loop = asyncio.get_running_loop()
        while not self._free(ctx.is_sticky):
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self.reserved += 1
        return _Permit(sticky=ctx.is_sticky)

    def try_reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit | None:
        if not self._free(ctx.is_sticky):
            return None
        self.reserved += 1
        return _Permit(sticky=ctx.is_sticky)

    def mark_slot_used(self, ctx: SlotMarkUsedContext) -> None:
        permit = ctx.permit
        if isinstance(permit, _Permit) and permit.sticky:
            self._on_loop(lambda: self._count(permit, running=True))

    def release_slot(self, ctx: SlotReleaseContext) -> None:
        permit = ctx.permit

        def released() -> None:
            self.reserved -= 1
            if isinstance(permit, _Permit):
                self._count(permit, running=False)

        self._on_loop(released)

    def _count(self, permit: _Permit, running: bool) -> None:
        if permit.running != running:
            permit.running = running
            self.sticky_running += 1 if running else -1

    def _on_loop(self, change: Callable[[], None]) -> None:
        """Apply a change on the event loop (at once when called there; the SDK may call from
        its own threads), then wake every waiting reservation to look again. Before the first
        reservation nothing waits."""
        if self._loop is None:
            change()
            return

        def apply() -> None:
            change()
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._waiters.clear()

        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:  # a thread without a loop
            on_loop = False
        if on_loop:
            apply()
        else:
            self._loop.call_soon_threadsafe(apply)
