"""The domain's view of a Dintero order: its lines and payment records, as read at one moment.

The Dintero client builds an `OrderSnapshot` from the wire models; the planner and the ledger
checks read nothing else. Money is `int` minor units; reversal lines have negative amounts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from amendments.domain.base import Model

RecordKind = Literal["authorization", "capture", "refund", "cancellation"]


class TaxLine(Model):
    amount: int
    percentage: float = Field(ge=0, le=100)


class OrderLine(Model):
    line_id: int
    product_id: str
    quantity: int
    gross_amount: int
    tax_lines: tuple[TaxLine, ...] = ()
    description: str = ""
    description_alias: str | None = None
    reversed_reason: str | None = None
    reverses: int | None = None  # the line this one reverses (related_item type "reversed")


class RecordItem(Model):
    line_id: int
    amount: int


class PaymentRecord(Model):
    kind: RecordKind
    id: str
    items: tuple[RecordItem, ...]
    success: bool
    payment_id: str | None = None
    authorization_id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class OrderSnapshot(Model):
    order_id: str
    currency: str
    status: str
    lines: tuple[OrderLine, ...]
    records: tuple[PaymentRecord, ...] = ()

    def line(self, line_id: int) -> OrderLine | None:
        return next((line for line in self.lines if line.line_id == line_id), None)

    @property
    def highest_line_id(self) -> int:
        return max((line.line_id for line in self.lines), default=0)


class LineTotals(Model):
    line_id: int
    gross_amount: int
    authorized: int = 0
    captured: int = 0
    refunded: int = 0
    cancelled: int = 0


def line_totals(order: OrderSnapshot) -> dict[int, LineTotals]:
    """Successful authorized, captured, refunded and cancelled amounts per line, in line order."""
    kinds = ("authorization", "capture", "refund", "cancellation")
    sums: dict[int, dict[str, int]] = {
        line.line_id: dict.fromkeys(kinds, 0) for line in order.lines
    }
    for record in order.records:
        if not record.success:
            continue
        for item in record.items:
            sums.setdefault(item.line_id, dict.fromkeys(kinds, 0))
            sums[item.line_id][record.kind] += item.amount
    gross = {line.line_id: line.gross_amount for line in order.lines}
    return {
        line_id: LineTotals(
            line_id=line_id,
            gross_amount=gross.get(line_id, 0),
            authorized=s["authorization"],
            captured=s["capture"],
            refunded=s["refund"],
            cancelled=s["cancellation"],
        )
        for line_id, s in sorted(sums.items())
    }
