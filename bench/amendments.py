"""The benchmark's amendments: orders seeded straight on the simulator, then amended by the
product, by the naive peer (one activity per call, no reconciliation), by the Temporal floor (the
same number of no-op activities) and by a plain httpx script (no Temporal at all)."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

from amendments.api.starter import start_amendment
from amendments.dintero import DinteroClient
from amendments.dintero.convert import wire_line
from amendments.dintero.models import (
    DraftOptions,
    DraftOrderBody,
    DraftOrderCreate,
    PaymentDetails,
    PaymentOperationCreate,
)
from amendments.dintero.models import OperationItem as WireItem
from amendments.domain.models import AmendOrderInput
from amendments.domain.planner import plan_amendment
from bench.actions import actions
from bench.figures import History
from bench.floor_workflow import Floor
from bench.infra import (
    FLOOR_QUEUE,
    NAIVE_QUEUE,
    PRODUCT_QUEUE,
    Infra,
)
from bench.naive_workflow import NaiveAmendOrder

T = TypeVar("T")

# branch: (new item gross, activities per amendment, minimum Dintero calls per amendment)
BRANCHES = {"even": (39800, 8, 12), "refund": (30000, 9, 13)}


def item(product: str, gross: int, line_id: int | None = None) -> dict[str, Any]:
    document = {
        "id": product,
        "quantity": 1,
        "gross_amount": gross,
        "tax_lines": [{"amount": gross // 5, "percentage": 25}],
        "description": product,
    }
    if line_id is not None:
        document["line_id"] = line_id
    return document


async def bounded(jobs: Iterable[Awaitable[T]], limit: int) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[T]) -> T:
        try:
            async with gate:
                return await job
        finally:
            if inspect.iscoroutine(job):
                job.close()  # cancelled while waiting at the gate: it never ran

    return await asyncio.gather(*(one(job) for job in jobs))


async def seed_orders(dintero: DinteroClient, count: int) -> list[str]:
    """Orders authorized and captured in full, made straight through the API (not measured)."""
    pay = PaymentOperationCreate.model_validate(
        {
            "items": [{"line_id": 1, "amount": 39800}],
            "payment_details": {"payment_id": "PID_1"},
            "success": True,
        }
    )

    async def one() -> str:
        draft = await dintero.create_draft(
            DraftOrderCreate.model_validate(
                {
                    "options": {"generate_order_id": "ALPHANUMERIC_9"},
                    "order": {"currency": "NOK", "items": [item("A", 39800, line_id=1)]},
                }
            )
        )
        [order] = await dintero.complete_draft(draft.id)
        await dintero.record_authorization(order.order_id, pay)
        await dintero.record_capture(order.order_id, pay)
        return order.order_id

    return await bounded((one() for _ in range(count)), 50)


def request(order_id: str, branch: str, account_id: str | None = None) -> AmendOrderInput:
    gross = BRANCHES[branch][0]
    return AmendOrderInput.model_validate(
        {
            "order_id": order_id,
            "amendment_id": f"bench-{uuid.uuid4().hex[:12]}",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
            "add": [item("B", gross)],
            "account_id": account_id,
        }
    )


async def product_amendment(infra: Infra, order_id: str, branch: str) -> str:
    """Run one amendment to its end; its workflow id."""
    assert infra.client is not None
    handle = await start_amendment(
        infra.client, request(order_id, branch), task_queue=PRODUCT_QUEUE
    )
    await handle.result()
    return handle.id


async def naive_amendment(infra: Infra, order_id: str, branch: str) -> str:
    """Run one amendment of the naive peer to its end; its workflow id."""
    assert infra.client is not None
    workflow_id = f"naive-{uuid.uuid4()}"
    await infra.client.execute_workflow(
        NaiveAmendOrder.run, request(order_id, branch), id=workflow_id, task_queue=NAIVE_QUEUE
    )
    return workflow_id


async def floor_run(infra: Infra, activities: int) -> str:
    """Run one floor workflow to its end; its workflow id."""
    assert infra.client is not None
    workflow_id = f"floor-{uuid.uuid4()}"
    await infra.client.execute_workflow(
        Floor.run, activities, id=workflow_id, task_queue=FLOOR_QUEUE
    )
    return workflow_id


async def history_size(infra: Infra, workflow_id: str) -> tuple[History, int]:
    """Events and KiB of a workflow's history (what the server stores and sends per run), and
    its Temporal Cloud Actions."""
    assert infra.client is not None
    history = await infra.client.get_workflow_handle(workflow_id).fetch_history()
    size = History(
        events=len(history.events),
        kib=sum(event.ByteSize() for event in history.events) / 1024,
    )
    return size, sum(actions(history.events).values())


async def plain_amendment(dintero: DinteroClient, order_id: str, branch: str) -> None:
    """The same Dintero calls, in sequence, with httpx and no Temporal."""
    amendment = request(order_id, branch)
    plan = plan_amendment(await dintero.read_order(order_id), amendment)
    draft = await dintero.create_draft(
        DraftOrderCreate(
            options=DraftOptions(order_id=order_id),
            order=DraftOrderBody(currency=plan.currency, items=[wire_line(x) for x in plan.lines]),
        )
    )
    await dintero.complete_draft(draft.id)
    for op in plan.operations:
        await dintero.record(
            op.kind,
            order_id,
            PaymentOperationCreate(
                items=[WireItem(line_id=i.line_id, amount=i.amount) for i in op.items],
                payment_details=PaymentDetails(payment_id=op.payment_id),
                success=True,
                metadata={"amendment_id": amendment.amendment_id, "step": op.step},
            ),
        )
    await dintero.read_order(order_id)


def request_top_up(order_id: str) -> AmendOrderInput:
    return AmendOrderInput.model_validate(
        {
            "order_id": order_id,
            "amendment_id": f"wait-{order_id}",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
            "add": [item("B", 49800)],
        }
    )
