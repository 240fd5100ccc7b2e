"""`PlaceOrder`: the guide's steps 1-2 (a new order, authorized in full, and captured in full
unless the input says `"capture": false`: a merchant who captures at shipment).

Used to seed orders for amendments (the demo, tests, and backends that place orders this way).
The plan comes from the planner (`plan_order`: the lines and the records that pay for them); the
workflow writes it: the draft asks for a reserved generated order id, so a retried completion can
find its order, then each record. An invalid input (from any client) fails the run at once as
`OrderRejected`, naming the field.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import Priority, VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from activities.dintero import DinteroActivities
    from activities.models import CompleteDraftInput, NewDraftInput, RecordInput
    from amendments import failures
    from amendments.domain import ids
    from amendments.domain.errors import AmendmentRejected
    from amendments.domain.models import PlacedOrder, PlaceOrderInput
    from amendments.domain.planner import plan_order
    from amendments.render import words
    from workflows.inputs import parse_input, rejection
    from workflows.writes import execute


@workflow.defn(name=ids.PLACE_ORDER)
class PlaceOrder:
    @workflow.run
    async def run(self, *payload: Any) -> PlacedOrder:
        # Validated here, not by the SDK's converter: a bad input fails the run at once.
        try:
            request = parse_input(payload, PlaceOrderInput, ids.PLACE_ORDER)
        except AmendmentRejected as exc:
            raise rejection(exc, failures.ORDER_REJECTED) from None
        placement = plan_order(request)
        reconcile = workflow.info().run_id != workflow.info().original_execution_run_id
        account_id = request.account_id
        priority = Priority(fairness_key=account_id) if account_id else Priority.default
        draft = await execute(
            DinteroActivities.create_draft,
            NewDraftInput(
                order_id=None,
                currency=placement.currency,
                lines=placement.lines,
                reconcile=reconcile,
                account_id=account_id,
            ),
            words.new_order_summary(placement.currency, len(placement.lines)),
            priority,
        )
        assert draft.draft_id is not None
        completed = await execute(
            DinteroActivities.complete_draft,
            CompleteDraftInput(
                draft_id=draft.draft_id,
                order_id=draft.order_id,
                reconcile=reconcile,
                account_id=account_id,
            ),
            words.complete_summary(draft.draft_id),
            priority,
        )
        order_id = completed.order_id
        assert order_id is not None
        for operation in placement.operations:
            await execute(
                DinteroActivities.record_operation,
                RecordInput(
                    order_id=order_id,
                    amendment_id=workflow.info().workflow_id,
                    operation=operation,
                    reconcile=reconcile,
                    account_id=account_id,
                ),
                words.record_summary(operation, order_id),
                priority,
            )
        workflow.logger.info(
            "order=%s placed and %s",
            order_id,
            "captured" if placement.captured else "authorized",
            extra={"order_id": order_id, "step": "placed"},
        )
        return PlacedOrder(order_id=order_id, total=placement.total, captured=placement.captured)


# On a versioned worker: pinned. Placing an order takes seconds, so it ends on the version it
# started on (its code may change freely between releases), and a version drains in seconds.
@workflow.defn(name=ids.PLACE_ORDER, versioning_behavior=VersioningBehavior.PINNED)
class VersionedPlaceOrder(PlaceOrder):
    @workflow.run
    async def run(self, *payload: Any) -> PlacedOrder:
        return await super().run(*payload)
