"""The ledger checks: money invariants over an order's lines and payment records, per payment.

Money on a line is in one of three states: **captured** (paid; less what was refunded),
**reserved** (authorized, neither captured nor cancelled: an order captured only at shipment)
or **cancelled** (an authorization let go, never to be captured). The checks hold on every
order this product leaves behind, and must hold before it plans an amendment (an order whose
earlier amendment did not finish is refused, and replayed instead):
- on every line, for each payment and for each authorization id: captured plus cancelled never
  exceeds authorized, and refunded never exceeds captured;
- every goods line is authorized in full, unless it is reversed in full (below); captured money
  may be less (not shipped yet), never more. A refund line is authorized, captured and refunded
  in full, each payment refunded exactly what it captured on it; a release line is authorized
  and cancelled in full, each payment cancelled exactly what it authorized on it, nothing
  captured. No other line is refunded or cancelled;
- what remains of a line is paid for: for each payment, the line's money together with its
  reversal lines' (negative) is never below zero, neither captured nor reserved (a reversal
  never takes back from a payment more than it held on the line, in either state), and a line
  reversed in full nets to zero in gross, authorized and captured, for each payment too. A fully
  reversed line may have been paid in part (a reverted amendment's new line, undone before its
  top-up was covered): what matters is that each payment's money on it was taken back;
- the order's authorized minus cancelled equals its goods (the gross of all lines but refund and
  release lines) plus what was refunded, and what it captured minus refunded never exceeds its
  goods.
So each payment keeps exactly what it paid or reserved for the goods it still covers.
"""

from __future__ import annotations

from amendments.domain import money
from amendments.domain.errors import LedgerViolation
from amendments.domain.models import (
    REFUND_PRODUCT_ID,
    RELEASE_PRODUCT_ID,
    SETTLING_PRODUCT_IDS,
    AmendmentResult,
    LineResult,
    Outcome,
    PaymentResult,
)
from amendments.domain.order import OrderLine, OrderSnapshot, line_totals


def order_total(order: OrderSnapshot) -> int:
    """What the customer owes: every line but refund and release lines, reversals included."""
    return sum(
        line.gross_amount for line in order.lines if line.product_id not in SETTLING_PRODUCT_IDS
    )


def _name(payment: str) -> str:
    return payment or "a record without payment_id"


def _limits(where: str, m: money.Money) -> list[str]:
    """Captured plus cancelled within authorized, refunded within captured (signs as the line's)."""
    problems: list[str] = []
    if abs(m.captured) + abs(m.cancelled) > abs(m.authorized):
        problems.append(
            f"{where}: captured {m.captured} and cancelled {m.cancelled} exceed authorized "
            f"{m.authorized}"
        )
    if abs(m.refunded) > abs(m.captured):
        problems.append(f"{where}: refunded {m.refunded} > captured {m.captured}")
    return problems


def ledger_problems(order: OrderSnapshot) -> list[str]:
    problems: list[str] = []
    totals = line_totals(order)
    lines = money.by_line(order)
    netted = _fully_reversed(order)
    for (line_id, auth_id), m in money.by_authorization(order).items():
        if auth_id is not None:
            problems += _limits(f"line {line_id} under authorization_id {auth_id}", m)
    for line in order.lines:
        t = totals[line.line_id]
        by_payment = lines.get(line.line_id, {})
        for payment, m in by_payment.items():
            problems += _limits(f"line {line.line_id} by {_name(payment)}", m)
        if line.line_id not in netted and t.authorized != line.gross_amount:
            problems.append(
                f"line {line.line_id} of {line.gross_amount} is authorized {t.authorized}"
            )
        problems += _settling_problems(line, t.refunded, t.cancelled, by_payment)
    for line in order.lines:
        if line.reverses is not None or line.product_id in SETTLING_PRODUCT_IDS:
            continue
        reversals = money.reversals_of(order, line.line_id)
        held = money.group(order, line.line_id, lines)
        for payment, m in held.items():
            if m.held < 0:
                problems.append(
                    f"line {line.line_id}: its reversals took back {-m.held} more captured "
                    f"money from {_name(payment)} than it paid on the line"
                )
            if m.reserved < 0:
                problems.append(
                    f"line {line.line_id}: its reversals took back {-m.reserved} more reserved "
                    f"money from {_name(payment)} than it reserved on the line"
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
    authorized = sum(t.authorized for t in totals.values())
    captured = sum(t.captured for t in totals.values())
    refunded = sum(t.refunded for t in totals.values())
    cancelled = sum(t.cancelled for t in totals.values())
    goods = order_total(order)
    if authorized - cancelled != goods + refunded:
        problems.append(
            f"authorized {authorized} minus cancelled {cancelled} is not the order's goods "
            f"{goods} plus refunded {refunded}"
        )
    if captured - refunded > goods:
        problems.append(
            f"captured {captured} minus refunded {refunded} exceeds the order's goods {goods}"
        )
    return problems


def _settling_problems(
    line: OrderLine, refunded: int, cancelled: int, by_payment: money.ByPayment
) -> list[str]:
    """A refund line refunded in full, a release line cancelled in full, per payment; no other
    line refunded or cancelled."""
    problems: list[str] = []
    if line.product_id == REFUND_PRODUCT_ID:
        if refunded != line.gross_amount:
            problems.append(
                f"refund line {line.line_id} is refunded {refunded} of {line.gross_amount}"
            )
        for payment, m in by_payment.items():
            if m.refunded != m.captured or m.captured != m.authorized:
                problems.append(
                    f"refund line {line.line_id}: {_name(payment)} authorized {m.authorized}, "
                    f"captured {m.captured} and was refunded {m.refunded}"
                )
    elif line.product_id == RELEASE_PRODUCT_ID:
        if cancelled != line.gross_amount:
            problems.append(
                f"release line {line.line_id} is cancelled {cancelled} of {line.gross_amount}"
            )
        for payment, m in by_payment.items():
            if m.cancelled != m.authorized or m.captured:
                problems.append(
                    f"release line {line.line_id}: {_name(payment)} authorized {m.authorized}, "
                    f"cancelled {m.cancelled} and captured {m.captured}"
                )
    if refunded and line.product_id != REFUND_PRODUCT_ID:
        problems.append(f"line {line.line_id} has a refund of {refunded} outside a refund line")
    if cancelled and line.product_id != RELEASE_PRODUCT_ID:
        problems.append(
            f"line {line.line_id} has a cancellation of {cancelled} outside a release line"
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
                cancelled=totals[line.line_id].cancelled,
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
            cancelled=m.cancelled,
        )
        for payment, m in by_payment.items()
    )
