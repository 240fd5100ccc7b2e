"""An order held by the simulator's rule engine (`Store`, no HTTP), for property tests: plans are
applied through every rule Dintero's side enforces, and the order is read back as the client
would read it."""

from __future__ import annotations

from typing import Any

from amendments.dintero.convert import to_snapshot, wire_line
from amendments.dintero.models import CaptureList, Order, RefundList
from amendments.domain.models import AuthorizationOutcome, Plan, PlannedLine, PlannedOperation
from amendments.domain.order import OrderSnapshot
from amendments.domain.top_up import after, top_up_records
from amendments.simulator.state import Store

AID = "T12345678"


class Ledger:
    """An order held by the simulator's Store, amended by applying plans."""

    def __init__(
        self,
        lines: list[dict[str, Any]],
        tenders: list[dict[str, int]] | None = None,
        captures: list[dict[str, int]] | None = None,
    ) -> None:
        """The order, authorized in full: by PID_1, or line by line by the payments `tenders`
        name (a split tender: each line's share per payment), payment by payment in the order
        they first appear; captured in full, or per line and payment as `captures` says (an
        order captured at shipment: nothing, or only some lines, yet)."""
        tenders = tenders or [{"PID_1": x["gross_amount"]} for x in lines]
        multi = any(len(tender) > 1 for tender in tenders)
        self.store = Store(seed=1)
        options: dict[str, Any] = {"generate_order_id": "ALPHANUMERIC_9"}
        if multi:
            options["multiple_authorizations"] = True
        draft = self.store.create_draft(
            AID, {"options": options, "order": {"currency": "NOK", "items": lines}}
        )
        [order] = self.store.complete_draft(AID, draft["id"])["orders"]
        self.order_id = order["order_id"]
        captures = captures if captures is not None else tenders
        payments = list(dict.fromkeys(p for tender in tenders for p in tender))
        for payment in payments:
            for kind, amounts in (("authorization", tenders), ("capture", captures)):
                items = [
                    {"line_id": x["line_id"], "amount": amount[payment]}
                    for x, amount in zip(lines, amounts, strict=True)
                    if amount.get(payment)
                ]
                if not items:
                    continue
                body: dict[str, Any] = {
                    "items": items,
                    "payment_details": {"payment_id": payment},
                    "success": True,
                }
                if multi:
                    body["authorization_id"] = f"init-{payment}"
                self.store.record(AID, self.order_id, kind, body)

    def snapshot(self) -> OrderSnapshot:
        order = Order.model_validate(self.store.get_order(AID, self.order_id))
        captures = CaptureList.model_validate(
            self.store.list_operations(AID, self.order_id, "capture")
        )
        refunds = RefundList.model_validate(
            self.store.list_operations(AID, self.order_id, "refund")
        )
        return to_snapshot(order, captures.captures, refunds.refunds)

    def draft(self, lines: tuple[PlannedLine, ...], multiple_authorizations: bool) -> None:
        options: dict[str, Any] = {"order_id": self.order_id}
        if multiple_authorizations:
            options["multiple_authorizations"] = True
        draft = self.store.create_draft(
            AID,
            {
                "options": options,
                "order": {
                    "currency": "NOK",
                    "items": [
                        wire_line(x).model_dump(mode="json", exclude_none=True) for x in lines
                    ],
                },
            },
        )
        self.store.complete_draft(AID, draft["id"])

    def write(self, amendment_id: str, operations: list[PlannedOperation]) -> None:
        for op in operations:
            body: dict[str, Any] = {
                "items": [i.model_dump() for i in op.items],
                "payment_details": {"payment_id": op.payment_id},
                "success": op.success,
                "metadata": {"amendment_id": amendment_id, "step": op.step},
            }
            if op.authorization_id:
                body["authorization_id"] = op.authorization_id
            self.store.record(AID, self.order_id, op.kind, body)

    def apply(self, plan: Plan, top_up_parts: int = 1) -> None:
        self.draft(plan.lines, plan.multiple_authorizations)
        operations = list(plan.operations)
        outstanding = plan.top_up_shares
        remaining = plan.top_up_amount
        for number in range(1, top_up_parts + 1):
            if remaining == 0:
                break
            amount = remaining if number == top_up_parts else max(1, remaining // 2)
            outcome = AuthorizationOutcome(payment_id=f"PID_T{number}", amount=amount, success=True)
            authorization, capture = top_up_records(plan, outstanding, outcome, number)
            operations += [authorization, *([capture] if capture is not None else [])]
            outstanding = after(outstanding, authorization.items)
            remaining -= amount
        self.write(plan.amendment_id, operations)
