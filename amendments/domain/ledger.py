"""The ledger checks: money invariants over an order's lines and payment records.

They hold on every order this product leaves behind, and must hold before it plans an amendment
(an order whose earlier amendment did not finish is refused, and replayed instead):
- captured never exceeds authorized, and refunded never exceeds captured, on any line;
- each fully reversed line nets to zero with its reversals (gross, authorized and captured);
- every other line is authorized and captured in full; refund lines are also refunded in full.
  A fully reversed line may have been paid in part (a reverted amendment's new line, undone
  before its top-up was covered): what matters is that the money on it was taken back;
- the order's captured minus refunded equals its total (the gross of all non-refund lines).
"""

from __future__ import annotations

from amendments.domain.errors import LedgerViolation
from amendments.domain.models import REFUND_PRODUCT_ID, AmendmentResult, LineResult, Outcome
from amendments.domain.order import OrderSnapshot, line_totals


def order_total(order: OrderSnapshot) -> int:
    """What the customer owes: every line but refund lines, reversals included (negative)."""
    return sum(line.gross_amount for line in order.lines if line.product_id != REFUND_PRODUCT_ID)


def ledger_problems(order: OrderSnapshot) -> list[str]:
    problems: list[str] = []
    totals = line_totals(order)
    netted = _fully_reversed(order)
    for line in order.lines:
        t = totals[line.line_id]
        if abs(t.captured) > abs(t.authorized):
            problems.append(
                f"line {line.line_id} captured {t.captured} > authorized {t.authorized}"
            )
        if abs(t.refunded) > abs(t.captured):
            problems.append(f"line {line.line_id} refunded {t.refunded} > captured {t.captured}")
        if line.line_id not in netted and (
            t.authorized != line.gross_amount or t.captured != line.gross_amount
        ):
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
        group = [line, *reversals]
        gross = sum(x.gross_amount for x in group)
        authorized = sum(totals[x.line_id].authorized for x in group)
        captured = sum(totals[x.line_id].captured for x in group)
        if gross or authorized or captured:
            problems.append(
                f"line {line.line_id} is fully reversed but nets to gross {gross}, "
                f"authorized {authorized}, captured {captured}"
            )
    captured = sum(t.captured for t in totals.values())
    refunded = sum(t.refunded for t in totals.values())
    if captured - refunded != order_total(order):
        problems.append(
            f"captured {captured} minus refunded {refunded} is not the order total "
            f"{order_total(order)}"
        )
    return problems


def _fully_reversed(order: OrderSnapshot) -> set[int]:
    """Ids of the lines reversed in full, and of their reversal lines."""
    ids: set[int] = set()
    for line in order.lines:
        reversals = [r for r in order.lines if r.reverses == line.line_id]
        if reversals and sum(r.quantity for r in reversals) == line.quantity:
            ids |= {line.line_id, *(r.line_id for r in reversals)}
    return ids


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
    outcome: Outcome = "applied",
    revert_reason: str | None = None,
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
        outcome=outcome,
        revert_reason=revert_reason,
    )
