"""The ledger checks: money invariants over an order's lines and payment records, per payment.

They hold on every order this product leaves behind, and must hold before it plans an amendment
(an order whose earlier amendment did not finish is refused, and replayed instead):
- on every line, for each payment and for each authorization id: captured never exceeds
  authorized, and refunded never exceeds captured;
- every line is authorized and captured in full, unless it is reversed in full (below); refund
  lines are also refunded in full, each payment exactly what it captured on it, and no other
  line is refunded;
- what remains of a line is paid for: for each payment, the line's money together with its
  reversal lines' (negative) is never below zero (a reversal never takes back from a payment
  more than it held on the line), and a line reversed in full nets to zero in gross, authorized
  and captured, for each payment too. A fully reversed line may have been paid in part (a
  reverted amendment's new line, undone before its top-up was covered): what matters is that
  each payment's money on it was taken back;
- the order's captured minus refunded equals its total (the gross of all non-refund lines).
So each payment keeps exactly what it paid for the goods it still covers.
"""

from __future__ import annotations

from amendments.domain import money
from amendments.domain.errors import LedgerViolation
from amendments.domain.models import (
    REFUND_PRODUCT_ID,
    AmendmentResult,
    LineResult,
    Outcome,
    PaymentResult,
)
from amendments.domain.order import OrderSnapshot, line_totals


def order_total(order: OrderSnapshot) -> int:
    """What the customer owes: every line but refund lines, reversals included (negative)."""
    return sum(line.gross_amount for line in order.lines if line.product_id != REFUND_PRODUCT_ID)


def _name(payment: str) -> str:
    return payment or "a record without payment_id"


def ledger_problems(order: OrderSnapshot) -> list[str]:
    problems: list[str] = []
    totals = line_totals(order)
    lines = money.by_line(order)
    netted = _fully_reversed(order)
    for (line_id, auth_id), m in money.by_authorization(order).items():
        if auth_id is None:
            continue
        if abs(m.captured) > abs(m.authorized):
            problems.append(
                f"line {line_id} captured {m.captured} > authorized {m.authorized} under "
                f"authorization_id {auth_id}"
            )
        if abs(m.refunded) > abs(m.captured):
            problems.append(
                f"line {line_id} refunded {m.refunded} > captured {m.captured} under "
                f"authorization_id {auth_id}"
            )
    for line in order.lines:
        t = totals[line.line_id]
        for payment, m in lines.get(line.line_id, {}).items():
            if abs(m.captured) > abs(m.authorized):
                problems.append(
                    f"line {line.line_id} captured {m.captured} > authorized {m.authorized} "
                    f"by {_name(payment)}"
                )
            if abs(m.refunded) > abs(m.captured):
                problems.append(
                    f"line {line.line_id} refunded {m.refunded} > captured {m.captured} "
                    f"by {_name(payment)}"
                )
        if line.line_id not in netted and (
            t.authorized != line.gross_amount or t.captured != line.gross_amount
        ):
            problems.append(
                f"line {line.line_id} of {line.gross_amount} is authorized {t.authorized} "
                f"and captured {t.captured}"
            )
        is_refund = line.product_id == REFUND_PRODUCT_ID
        if is_refund:
            if t.refunded != line.gross_amount:
                problems.append(
                    f"refund line {line.line_id} is refunded {t.refunded} of {line.gross_amount}"
                )
            for payment, m in lines.get(line.line_id, {}).items():
                if m.refunded != m.captured:
                    problems.append(
                        f"refund line {line.line_id}: {_name(payment)} captured {m.captured} "
                        f"and was refunded {m.refunded}"
                    )
        elif t.refunded:
            problems.append(
                f"line {line.line_id} has a refund of {t.refunded} outside a refund line"
            )
    for line in order.lines:
        if line.reverses is not None or line.product_id == REFUND_PRODUCT_ID:
            continue
        reversals = money.reversals_of(order, line.line_id)
        held = money.group(order, line.line_id, lines)
        for payment, m in held.items():
            if m.held < 0:
                problems.append(
                    f"line {line.line_id}: its reversals took back {-m.held} more from "
                    f"{_name(payment)} than it paid on the line"
                )
        if sum(r.quantity for r in reversals) != line.quantity:
            continue
        gross = line.gross_amount + sum(r.gross_amount for r in reversals)
        if gross:
            problems.append(f"line {line.line_id} is fully reversed but nets to gross {gross}")
        for payment, m in held.items():
            if m.authorized or m.captured:
                problems.append(
                    f"line {line.line_id} is fully reversed but nets to authorized "
                    f"{m.authorized}, captured {m.captured} for {_name(payment)}"
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
    lines = money.by_line(order)
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
                payments=payment_results(lines.get(line.line_id, {})),
            )
            for line in order.lines
        ),
        refund_amount=refund_amount,
        top_up_amount=top_up_amount,
        already_applied=already_applied,
        outcome=outcome,
        revert_reason=revert_reason,
        payments=payment_results(money.by_payment(order)),
    )


def payment_results(by_payment: money.ByPayment) -> tuple[PaymentResult, ...]:
    return tuple(
        PaymentResult(
            payment_id=payment,
            authorized=m.authorized,
            captured=m.captured,
            refunded=m.refunded,
        )
        for payment, m in by_payment.items()
    )
