"""The ledger checks: money invariants over an order's lines and payment records.

They hold on every order this product leaves behind, and must hold before it plans an amendment
(an order whose earlier amendment did not finish is refused, and replayed instead):
- captured never exceeds authorized, and refunded never exceeds captured, on any line;
- each reversed line nets to zero once fully reversed (gross and captured, with its reversals);
- every line is authorized and captured in full; refund lines are also refunded in full;
- the order's captured minus refunded equals its total (the gross of all non-refund lines).
"""

from __future__ import annotations

from amendments.domain.errors import LedgerViolation
from amendments.domain.models import REFUND_PRODUCT_ID, AmendmentResult, LineResult
from amendments.domain.order import OrderSnapshot, line_totals


def order_total(order: OrderSnapshot) -> int:
    """What the customer owes: every line but refund lines, reversals included (negative)."""
    return sum(line.gross_amount for line in order.lines if line.product_id != REFUND_PRODUCT_ID)


def ledger_problems(order: OrderSnapshot) -> list[str]:
    problems: list[str] = []
    totals = line_totals(order)
    for line in order.lines:
        t = totals[line.line_id]
        if abs(t.captured) > abs(t.authorized):
            problems.append(
                f"line {line.line_id} captured {t.captured} > authorized {t.authorized}"
            )
        if abs(t.refunded) > abs(t.captured):
            problems.append(f"line {line.line_id} refunded {t.refunded} > captured {t.captured}")
        if t.authorized != line.gross_amount or t.captured != line.gross_amount:
            problems.append(
                f"line {line.line_id} of {line.gross_amount} is authorized {t.authorized} "
                f"and captured {t.captured}"
            )
        is_refund = line.product_id == REFUND_PRODUCT_ID
        if is_refund and t.refunded != line.gross_amount:
            problems.append(
                f"refund line {line.line_id} is refunded {t.refunded} of {line.gross_amount}"
            )
        if not is_refund and t.refunded:
            problems.append(
                f"line {line.line_id} has a refund of {t.refunded} outside a refund line"
            )
    for line in order.lines:
        reversals = [r for r in order.lines if r.reverses == line.line_id]
        if sum(r.quantity for r in reversals) != line.quantity:
            continue
        gross = line.gross_amount + sum(r.gross_amount for r in reversals)
        captured = totals[line.line_id].captured + sum(
            totals[r.line_id].captured for r in reversals
        )
        if gross or captured:
            problems.append(
                f"line {line.line_id} is fully reversed but nets to gross {gross}, "
                f"captured {captured}"
            )
    captured = sum(t.captured for t in totals.values())
    refunded = sum(t.refunded for t in totals.values())
    if captured - refunded != order_total(order):
        problems.append(
            f"captured {captured} minus refunded {refunded} is not the order total "
            f"{order_total(order)}"
        )
    return problems


def check_ledger(order: OrderSnapshot) -> None:
    problems = ledger_problems(order)
    if problems:
        raise LedgerViolation(order.order_id, problems)


def result_of(
    order: OrderSnapshot,
    amendment_id: str,
    *,
    refund_amount: int = 0,
    top_up_amount: int = 0,
    already_applied: bool = False,
) -> AmendmentResult:
    totals = line_totals(order)
    return AmendmentResult(
        order_id=order.order_id,
        amendment_id=amendment_id,
        total=order_total(order),
        lines=tuple(
            LineResult(
                line_id=line.line_id,
                product_id=line.product_id,
                description=line.description,
                quantity=line.quantity,
                gross_amount=line.gross_amount,
                authorized=totals[line.line_id].authorized,
                captured=totals[line.line_id].captured,
                refunded=totals[line.line_id].refunded,
                reverses=line.reverses,
            )
            for line in order.lines
        ),
        refund_amount=refund_amount,
        top_up_amount=top_up_amount,
        already_applied=already_applied,
    )
