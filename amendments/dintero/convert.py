"""Between the domain and Dintero's wire models, both ways: the one place where Dintero's field
names are translated. Pure: no I/O, no HTTP."""

from __future__ import annotations

from amendments.dintero.models import (
    Order,
    OrderItem,
    OrderItemOut,
    PaymentOperation,
    RelatedItem,
)
from amendments.dintero.models import TaxLine as WireTax
from amendments.domain.models import PlannedLine
from amendments.domain.order import (
    OrderLine,
    OrderSnapshot,
    PaymentRecord,
    RecordItem,
    RecordKind,
    TaxLine,
)


def to_line(item: OrderItemOut) -> OrderLine:
    reverses = (
        item.related_item.line_id
        if item.related_item is not None and item.related_item.type == "reversed"
        else None
    )
    return OrderLine(
        line_id=item.line_id,
        product_id=item.id,
        quantity=item.quantity,
        gross_amount=item.gross_amount,
        tax_lines=tuple(TaxLine(amount=t.amount, percentage=t.percentage) for t in item.tax_lines),
        description=item.description,
        description_alias=item.description_alias,
        reversed_reason=item.reversed_reason,
        reverses=reverses,
    )


def to_record(kind: RecordKind, op: PaymentOperation) -> PaymentRecord:
    return PaymentRecord(
        kind=kind,
        id=op.id,
        items=tuple(RecordItem(line_id=i.line_id, amount=i.amount) for i in op.items),
        success=op.success,
        payment_id=op.payment_details.payment_id if op.payment_details else None,
        authorization_id=op.authorization_id,
        metadata=dict(op.metadata or {}),
    )


def to_snapshot(
    order: Order, captures: list[PaymentOperation], refunds: list[PaymentOperation]
) -> OrderSnapshot:
    records = (
        [to_record("authorization", op) for op in order.authorizations]
        + [to_record("capture", op) for op in captures]
        + [to_record("refund", op) for op in refunds]
        + [to_record("cancellation", op) for op in order.cancellations]
    )
    return OrderSnapshot(
        order_id=order.order_id,
        currency=order.currency,
        status=order.status,
        lines=tuple(to_line(item) for item in order.items),
        records=tuple(records),
    )


def wire_line(line: PlannedLine) -> OrderItem:
    """A planned line as a draft's order item (a reversal links the line it reverses)."""
    return OrderItem(
        id=line.product_id,
        line_id=line.line_id,
        quantity=line.quantity,
        gross_amount=line.gross_amount,
        tax_lines=[WireTax(amount=t.amount, percentage=t.percentage) for t in line.tax_lines],
        description=line.description,
        description_alias=line.description_alias,
        reversed_reason=line.reversed_reason,
        related_item=RelatedItem(line_id=line.reverses) if line.reverses is not None else None,
    )
