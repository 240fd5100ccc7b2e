"""End-to-end helpers: place orders and run amendments through the starter API, read what the
simulator saw, and wait by polling (never by sleeping a fixed time)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from amendments.api.starter import get_state, place_order, start_amendment
from amendments.domain.models import AmendmentResult, AmendmentState, PlacedOrder
from amendments.simulator import Simulator
from amendments.simulator.app import FaultRule
from tests.support.orders import CHAIR, item, swap
from workflows.amend import AmendOrder

T = TypeVar("T")
# How long a wait for a condition may take before it fails the test: far beyond what a loaded
# machine needs, so only a product that never reaches the condition fails it.
PATIENCE = 120.0

_SHOP = re.compile(r"^/v1/accounts/[^/]+/shopping/(.*)$")


def call_name(method: str, path: str) -> str:
    """`POST authorizations`, `GET order`, `PUT complete`, `GET draft_orders`, `POST token`."""
    match = _SHOP.match(path)
    if match is None:
        return f"{method} token" if path.endswith("/auth/token") else f"{method} {path}"
    parts = match.group(1).split("/")
    if parts[0] == "draft_orders":
        if len(parts) == 1:
            return f"{method} draft_orders"
        return f"{method} complete" if parts[-1] == "complete" else f"{method} draft"
    if len(parts) == 2:
        return f"{method} order"
    return f"{method} {parts[2]}"


@dataclass
class Harness:
    client: Client
    sim: Simulator
    task_queue: str

    async def place(
        self, *items: dict[str, Any], payment_id: str = "PID_123", capture: bool = True
    ) -> str:
        placed: PlacedOrder = await place_order(
            self.client,
            {"currency": "NOK", "items": list(items), "payment_id": payment_id, "capture": capture},
            task_queue=self.task_queue,
        )
        return placed.order_id

    async def start(self, request: dict[str, Any]) -> WorkflowHandle[AmendOrder, AmendmentResult]:
        return await start_amendment(self.client, request, task_queue=self.task_queue)

    async def amend(self, request: dict[str, Any]) -> AmendmentResult:
        return await (await self.start(request)).result()

    async def awaiting_top_up(self, amendment_id: str) -> str:
        """A placed CHAIR order whose amendment swaps it for a dearer line (49800, a top-up of
        10000) and now waits for its top-up outcomes: the order id."""
        order_id = await self.place(CHAIR)
        await self.start(swap(order_id, amendment_id, item("Y", 49800)))
        await self.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
        return order_id

    def mark(self) -> int:
        return len(self.sim.requests)

    def calls(self, since: int = 0, *, order_id: str | None = None) -> list[str]:
        """The API calls made since `since` (no token calls), reads in a row sorted, since
        planning and verifying read the order, captures and refunds concurrently."""
        names: list[str] = []
        run: list[str] = []
        for entry in self.sim.requests[since:]:
            path = str(entry["path"])
            if path.endswith("/auth/token"):
                continue
            if order_id is not None and "/orders/" in path and order_id not in path:
                continue
            name = call_name(str(entry["method"]), path)
            if name.startswith("GET"):
                run.append(name)
                continue
            names += sorted(run)
            run = []
            names.append(name)
        return names + sorted(run)

    def records(self, order_id: str, kind: str) -> list[dict[str, Any]]:
        order = self.sim.store.accounts["T12345678"].orders[order_id]
        return [op.view() for op in order.ops(kind, successful=False)]

    async def state(self, order_id: str) -> AmendmentState:
        return await get_state(self.client, order_id)

    async def wait_for_state(
        self, order_id: str, check: Callable[[AmendmentState], bool], within: float = PATIENCE
    ) -> AmendmentState:
        async def probe() -> AmendmentState | None:
            try:
                state = await self.state(order_id)
            except Exception:  # not started yet: keep polling
                return None
            return state if check(state) else None

        return await eventually(probe, within)


async def eventually(probe: Callable[[], Awaitable[T | None]], within: float = PATIENCE) -> T:
    """The probe's first value that is not None, polled with a short backoff; `within` only
    bounds a broken product (a loaded machine may take many times a quiet one's time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    delay = 0.02
    while True:
        value = await probe()
        if value is not None:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {within} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.25)


READ = ["GET captures", "GET order", "GET refunds"]


async def failed_after_writing(harness: Harness, order_id: str, amendment_id: str) -> str:
    """An amendment that wrote its draft and an authorization, then met a 400: its run id."""
    harness.sim.add_faults([FaultRule(method="POST", path="*/captures", status=400, times=1)])
    handle = await harness.start(swap(order_id, amendment_id))
    try:
        await handle.result()
    except WorkflowFailureError:
        pass
    else:
        raise AssertionError("the amendment was to fail on its capture")
    assert handle.result_run_id is not None
    return handle.result_run_id
