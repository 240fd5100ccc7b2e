"""Money per line and per payment, as an order's records say: what each payment authorized,
captured, refunded and cancelled on each line.

Payments are told apart by the records' `payment_details.payment_id`; a record without one counts
under `UNKNOWN` (the planner refuses to take money back from it: it could not say whom to pay).
The order in which payments appear matters to the planner's one rule (the last money in goes back
first), so every mapping here keeps the payments in the order of their first record, oldest first.
Pure: no I/O, no Temporal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from amendments.domain.base import Model
from amendments.domain.order import OrderLine, OrderSnapshot, PaymentRecord

UNKNOWN = ""  # the payment of a record without `payment_details.payment_id`


class Money(Model):
    """One payment's money on one line (or on several, summed)."""

    authorized: int = 0
    captured: int = 0
    refunded: int = 0
    cancelled: int = 0

    @property
    def held(self) -> int:
        """What the payment has paid and still holds: captured minus refunded."""
        return self.captured - self.refunded

    @property
    def reserved(self) -> int:
        """Authorized and neither captured nor cancelled: money only reserved."""
        return self.authorized - self.captured - self.cancelled

    def plus(self, other: Money) -> Money:
        return Money(
            authorized=self.authorized + other.authorized,
            captured=self.captured + other.captured,
            refunded=self.refunded + other.refunded,
            cancelled=self.cancelled + other.cancelled,
        )


_FIELD = {
    "authorization": "authorized",
    "capture": "captured",
    "refund": "refunded",
    "cancellation": "cancelled",
}

ByPayment = dict[str, Money]


def payment_of(record: PaymentRecord) -> str:
    return record.payment_id or UNKNOWN


def by_line(order: OrderSnapshot) -> dict[int, ByPayment]:
    """Every line's money by payment (successful records only), payments oldest first."""
    totals: dict[int, dict[str, dict[str, int]]] = {line.line_id: {} for line in order.lines}
    for record in order.records:
        if not record.success:
            continue
        payment = payment_of(record)
        for item in record.items:
            on_line = totals.setdefault(item.line_id, {})
            sums = on_line.setdefault(payment, dict.fromkeys(_FIELD.values(), 0))
            sums[_FIELD[record.kind]] += item.amount
    return {
        line_id: {payment: Money(**sums) for payment, sums in payments.items()}
        for line_id, payments in totals.items()
    }


def by_authorization(order: OrderSnapshot) -> dict[tuple[int, str | None], Money]:
    """Money per (line, authorization_id): Dintero's limits hold per authorization on the lines
    of a draft with `multiple_authorizations`."""
    totals: dict[tuple[int, str | None], dict[str, int]] = {}
    for record in order.records:
        if not record.success:
            continue
        for item in record.items:
            sums = totals.setdefault(
                (item.line_id, record.authorization_id), dict.fromkeys(_FIELD.values(), 0)
            )
            sums[_FIELD[record.kind]] += item.amount
    return {key: Money(**sums) for key, sums in totals.items()}


def summed(parts: Iterable[Mapping[str, Money]]) -> ByPayment:
    """Several lines' money by payment, summed; payments in the order they first appear."""
    out: ByPayment = {}
    for part in parts:
        for payment, money in part.items():
            out[payment] = out.get(payment, Money()).plus(money)
    return out


def reversals_of(order: OrderSnapshot, line_id: int) -> list[OrderLine]:
    return [line for line in order.lines if line.reverses == line_id]


def group(order: OrderSnapshot, line_id: int, lines: Mapping[int, ByPayment]) -> ByPayment:
    """A line's money together with its reversal lines' (negative), by payment: what each
    payment still holds for what remains of the line."""
    members = [line_id, *(r.line_id for r in reversals_of(order, line_id))]
    return summed(lines.get(member, {}) for member in members)


def payments_in_order(order: OrderSnapshot) -> list[str]:
    """Every payment with a successful record on the order, oldest first."""
    seen: dict[str, None] = {}
    for record in order.records:
        if record.success:
            seen.setdefault(payment_of(record), None)
    return list(seen)


def by_payment(order: OrderSnapshot) -> ByPayment:
    """The whole order's money by payment, oldest first."""
    return summed(by_line(order).values())
