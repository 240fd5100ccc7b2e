"""The naive peer: the amendment as a team would write it from temporalio/samples-python in an
afternoon. The same Dintero calls with the same client, in the same order, under the same
retry policy and timeouts, but no markers on the records, no reconciliation on retry, no search
attributes, no summaries or current details, no ledger check (the last read is only a read). It
is what the product's guarantees are measured against; it is not safe to run for real (a retried
write after an ambiguous failure records money twice). Kept apart from its worker so the
workflow sandbox imports nothing it should not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
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
    from amendments.domain.models import AmendOrderInput, Plan, PlannedOperation
    from amendments.domain.planner import plan_amendment
    from workflows.policies import DINTERO_CALL

R = TypeVar("R")


class NaiveActivities:
    def __init__(self, client: DinteroClient) -> None:
        self.client = client

    @activity.defn(name="naive_plan")
    async def plan(self, request: AmendOrderInput) -> Plan:
        return plan_amendment(await self.client.read_order(request.order_id), request)

    @activity.defn(name="naive_create_draft")
    async def create_draft(self, plan: Plan) -> str:
        draft = await self.client.create_draft(
            DraftOrderCreate(
                options=DraftOptions(order_id=plan.order_id),
                order=DraftOrderBody(
                    currency=plan.currency, items=[wire_line(line) for line in plan.lines]
                ),
            )
        )
        return draft.id

    @activity.defn(name="naive_complete_draft")
    async def complete_draft(self, draft_id: str) -> None:
        await self.client.complete_draft(draft_id)

    @activity.defn(name="naive_record")
    async def record(self, order_id: str, operation: PlannedOperation) -> None:
        await self.client.record(
            operation.kind,
            order_id,
            PaymentOperationCreate(
                items=[WireItem(line_id=i.line_id, amount=i.amount) for i in operation.items],
                payment_details=PaymentDetails(payment_id=operation.payment_id),
                success=operation.success,
                authorization_id=operation.authorization_id,
            ),
        )

    @activity.defn(name="naive_read")
    async def read(self, order_id: str) -> None:
        await self.client.read_order(order_id)


@workflow.defn(name="NaiveAmendOrder")
class NaiveAmendOrder:
    @workflow.run
    async def run(self, request: AmendOrderInput) -> int:
        plan: Plan = await _call(NaiveActivities.plan, request)
        draft_id: str = await _call(NaiveActivities.create_draft, plan)
        await _call(NaiveActivities.complete_draft, draft_id)
        for operation in plan.operations:
            await _call(NaiveActivities.record, plan.order_id, operation)
        await _call(NaiveActivities.read, plan.order_id)
        return plan.new_total


async def _call(method: Callable[..., Awaitable[R]], *args: Any) -> R:
    """An activity under the product's call policy (the same timeouts and retries)."""
    result: R = await workflow.execute_activity_method(
        method,
        args=list(args),
        start_to_close_timeout=DINTERO_CALL.start_to_close,
        retry_policy=DINTERO_CALL.retry,
    )
    return result
