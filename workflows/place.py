"""`PlaceOrder`: the guide's steps 1-2 (a new order, authorized in full, and captured in full
unless the input says `"capture": false`: a merchant who captures at shipment).

Used to seed orders for amendments (the demo, tests, and backends that place orders this way).
The draft asks for a reserved generated order id, so a retried completion can find its order.
An invalid input (from any client) fails the run at once as `OrderRejected`, naming the field.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.dintero import DinteroActivities
    from activities.models import CompleteDraftInput, NewDraftInput, RecordInput
    from amendments.domain.errors import AmendmentRejected
    from amendments.domain.models import PlacedOrder, PlaceOrderInput, PlannedOperation
    from amendments.domain.order import RecordItem
    from amendments.domain.planner import order_lines
    from workflows.inputs import parse_input, rejection
    from workflows.policies import DINTERO_CALL


@workflow.defn(name="PlaceOrder")
class PlaceOrder:
    @workflow.run
    async def run(self, *payload: Any) -> PlacedOrder:
        # Validated here, not by the SDK's converter: a bad input fails the run at once.
        try:
            request = parse_input(payload, PlaceOrderInput, "PlaceOrder")
        except AmendmentRejected as exc:
            raise rejection(exc, "OrderRejected") from None
        lines = order_lines(request.items)
        reconcile = workflow.info().run_id != workflow.info().original_execution_run_id
        draft = await workflow.execute_activity_method(
            DinteroActivities.create_draft,
            NewDraftInput(
                order_id=None, currency=request.currency, lines=lines, reconcile=reconcile
            ),
            start_to_close_timeout=DINTERO_CALL.start_to_close,
            retry_policy=DINTERO_CALL.retry,
            summary=f"Draft a new {request.currency} order of {len(lines)} lines",
        )
        assert draft.draft_id is not None
        completed = await workflow.execute_activity_method(
            DinteroActivities.complete_draft,
            CompleteDraftInput(
                draft_id=draft.draft_id, order_id=draft.order_id, reconcile=reconcile
            ),
            start_to_close_timeout=DINTERO_CALL.start_to_close,
            retry_policy=DINTERO_CALL.retry,
            summary=f"Complete draft {draft.draft_id}",
        )
        order_id = completed.order_id
        assert order_id is not None
        items = tuple(RecordItem(line_id=line.line_id, amount=line.gross_amount) for line in lines)
        kinds = ("authorization", "capture") if request.capture else ("authorization",)
        for kind in kinds:
            operation = PlannedOperation.model_validate(
                {
                    "step": f"place-{kind}",
                    "kind": kind,
                    "items": items,
                    "payment_id": request.payment_id,
                }
            )
            await workflow.execute_activity_method(
                DinteroActivities.record_operation,
                RecordInput(
                    order_id=order_id,
                    amendment_id=workflow.info().workflow_id,
                    operation=operation,
                    reconcile=reconcile,
                ),
                start_to_close_timeout=DINTERO_CALL.start_to_close,
                retry_policy=DINTERO_CALL.retry,
                summary=f"{kind.capitalize()} {operation.amount} on order {order_id}",
            )
        workflow.logger.info(
            "order=%s placed and %s",
            order_id,
            "captured" if request.capture else "authorized",
            extra={"order_id": order_id, "step": "placed"},
        )
        return PlacedOrder(
            order_id=order_id, total=sum(i.amount for i in items), captured=request.capture
        )
