"""The planner: order + amendment request -> the complete plan, before anything is written.

A pure function. It refuses (with `AmendmentRejected` naming the field and the reason) what
cannot be applied, assigns new line ids after the order's highest, splits partial reversals so
that the parts of a line always sum exactly to the line, and decides the money, per payment and
per state: money **captured** (paid: captured minus refunded) and money **reserved** (authorized,
neither captured nor cancelled: an order is often captured only at shipment). Each keeps its
state; the last money in goes back first:

- **Taking back.** A reversal line takes back what it reverses from the payments on the line:
  reserved money first (releasing a reservation moves no money; when units of a line partly
  captured go back, the part not yet captured goes first), then captured money; within each,
  newest payment first, each at most what it holds on the line (less what earlier reversals of
  the line took from it). Newest is the payment whose first record on the line came last. The
  reversal line records a negative authorization of all it takes back, and a negative capture
  of the captured part only.
- **Covering.** The money taken back moves onto the new lines, in line order: captured money
  first (so money paid stays paid), then reserved, oldest payment first within each. A new line
  is authorized for what covers it and captured for the captured part only: an order not
  captured stays so, capture belongs to fulfilment. What the new lines need beyond is the
  top-up, captured only on an order with nothing reserved (else an authorization only).
- **Settling.** What is left of each payment's captured money is refunded to it through a
  refund line of its own (authorized, captured, refunded: the guide's); what is left of its
  reserved money is released through a release line of its own (authorized, then cancelled:
  the mirror of the refund line), so that the records say what must never be captured.

So per payment and state: kept = had - taken back + covering. A draft whose lines take money
from more than one payment (or a top-up in parts) sets `multiple_authorizations`, and then every
record carries a deterministic `authorization_id`. The workflow only follows the plan;
`top_up.TopUpCollector` owns the top-up's outcomes and records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from amendments.domain import ids, money
from amendments.domain.errors import AmendmentPartlyApplied, AmendmentRejected
from amendments.domain.ledger import ledger_problems, payment_results, result_of
from amendments.domain.lines import new_line, order_lines, reversal_line, settling_lines
from amendments.domain.models import (
    REFUND_PRODUCT_ID,
    SETTLING_PRODUCT_IDS,
    AlreadyApplied,
    AmendOrderInput,
    PaymentAllocation,
    PaymentsMode,
    Placement,
    PlaceOrderInput,
    Plan,
    Planned,
    PlannedLine,
    PlannedOperation,
    Share,
)
from amendments.domain.order import OrderSnapshot, RecordItem, RecordKind, line_totals


def decide(
    order: OrderSnapshot, request: AmendOrderInput, payments: PaymentsMode = "record-only"
) -> Planned | AlreadyApplied:
    """The plan, or the recorded result when the amendment is on the order already (a start of
    the same amendment after it ended: nothing is written again). An amendment found half
    applied is `AmendmentPartlyApplied`; a refusal is `AmendmentRejected`. `payments` says who
    moves the money (the worker's adapter): the plan's steps follow from it."""
    steps = [ids.step_of(r.metadata, request.amendment_id) for r in order.records]
    mine = [step for step in steps if step is not None]
    if not mine:
        return Planned(plan=plan_amendment(order, request, payments))
    problems = ledger_problems(order)
    if problems:
        raise AmendmentPartlyApplied(
            request.amendment_id, order.order_id, problems[0], request.workflow_id
        )
    reverted = any(ids.is_revert_step(step) for step in mine)
    return AlreadyApplied(
        result=result_of(
            order,
            request.amendment_id,
            already_applied=True,
            outcome="reverted" if reverted else "applied",
        )
    )


@dataclass
class Taken:
    """What one reversal line takes back from one payment: reserved and captured."""

    reserved: int = 0
    captured: int = 0

    @property
    def total(self) -> int:
        return self.reserved + self.captured


def plan_amendment(
    order: OrderSnapshot, request: AmendOrderInput, payments: PaymentsMode = "record-only"
) -> Plan:
    _check_order(order, request)
    next_id = order.highest_line_id + 1
    reversals = _reversal_lines(order, request, next_id)
    taken = _take_back(order, reversals)
    oldest_first = money.payments_in_order(order)
    givers = [p for p in oldest_first if any(p in t for t in taken.values())]
    freed_captured = {p: sum(t[p].captured for t in taken.values() if p in t) for p in givers}
    freed_reserved = {p: sum(t[p].reserved for t in taken.values() if p in t) for p in givers}
    reversed_total = -sum(line.gross_amount for line in reversals)
    new_total = sum(item.gross_amount for item in request.add)

    new_lines: list[PlannedLine] = []
    covers: dict[str, list[RecordItem]] = defaultdict(list)
    covers_captured: dict[str, list[RecordItem]] = defaultdict(list)
    shares: list[Share] = []
    for offset, item in enumerate(request.add):
        line = new_line(item, next_id + len(reversals) + offset)
        new_lines.append(line)
        need = item.gross_amount
        on_line: dict[str, int] = defaultdict(int)
        for left, captured in ((freed_captured, True), (freed_reserved, False)):
            for payment, available in left.items():
                part = min(need, available)
                if not part:
                    continue
                left[payment] = available - part
                need -= part
                on_line[payment] += part
                if captured:
                    covers_captured[payment].append(RecordItem(line_id=line.line_id, amount=part))
        for payment, amount in on_line.items():
            covers[payment].append(RecordItem(line_id=line.line_id, amount=amount))
        if need:
            shares.append(Share(line_id=line.line_id, amount=need))

    refunds = {p: amount for p, amount in freed_captured.items() if amount}
    releases = {p: amount for p, amount in freed_reserved.items() if amount}
    first = next_id + len(reversals) + len(new_lines)
    refund_lines = settling_lines("refund", refunds, first, request.amendment_id)
    release_lines = settling_lines(
        "release", releases, first + len(refund_lines), request.amendment_id
    )
    refund_amount = sum(refunds.values())
    release_amount = sum(releases.values())
    top_up_amount = max(0, new_total - reversed_total)
    assert refund_amount + release_amount == max(0, reversed_total - new_total), "all used"

    allocation = tuple(
        PaymentAllocation(
            payment_id=payment,
            taken_back=tuple(
                RecordItem(line_id=line_id, amount=t[payment].total)
                for line_id, t in taken.items()
                if payment in t
            ),
            taken_back_captured=tuple(
                RecordItem(line_id=line_id, amount=t[payment].captured)
                for line_id, t in taken.items()
                if payment in t and t[payment].captured
            ),
            covers=tuple(covers.get(payment, ())),
            covers_captured=tuple(covers_captured.get(payment, ())),
            refunded=refunds.get(payment, 0),
            released=releases.get(payment, 0),
        )
        for payment in givers
    )
    holdings = money.by_payment(order)
    # A release of all a payment still reserves, from a payment that captured nothing: with
    # Checkout its whole authorization is voided (the spec's void of an uncaptured transaction).
    voids = {
        p for p in releases if holdings[p].captured == 0 and holdings[p].reserved == releases[p]
    }
    operations = _operations(
        request.marker, taken, givers, covers, covers_captured, refund_lines, release_lines, voids
    )
    # Several authorizations on a line (a top-up's, or several payments' money): the draft
    # needs `multiple_authorizations`, and every record an authorization id.
    multi = top_up_amount > 0 or _several_payments_per_line(operations)
    if not multi:
        operations = tuple(op.model_copy(update={"authorization_id": None}) for op in operations)
    return Plan(
        order_id=order.order_id,
        amendment_id=request.amendment_id,
        marker=request.marker,
        currency=order.currency,
        payment_id=next(iter(givers), None) or _first_payment(order),
        lines=(*reversals, *new_lines, *refund_lines.values(), *release_lines.values()),
        multiple_authorizations=multi,
        reversed_total=reversed_total,
        new_total=new_total,
        refund_amount=refund_amount,
        top_up_amount=top_up_amount,
        operations=operations,
        top_up_shares=tuple(shares),
        allocation=allocation,
        release_amount=release_amount,
        top_up_captured=_captures_top_ups(holdings),
        payments=payments,
        holdings=payment_results(holdings),
    )


def _captures_top_ups(holdings: money.ByPayment) -> bool:
    """Whether a top-up is captured: on an order that was captured and holds nothing only
    reserved. An order never captured, or with money reserved, is captured at fulfilment."""
    reserved = sum(m.reserved for m in holdings.values())
    return reserved == 0 and any(m.captured for m in holdings.values())


def _check_order(order: OrderSnapshot, request: AmendOrderInput) -> None:
    if order.order_id != request.order_id:
        raise AmendmentRejected("order_id", f"read order {order.order_id}, not {request.order_id}")
    if order.status != "open":
        raise AmendmentRejected("order_id", f"order {order.order_id} is {order.status}")
    if request.currency is not None and request.currency != order.currency:
        raise AmendmentRejected(
            "currency", f"{request.currency} does not match the order's currency {order.currency}"
        )
    if not order.records:
        raise AmendmentRejected(
            "order_id", f"order {order.order_id} has no payment records: it was never authorized"
        )
    problems = ledger_problems(order)
    if problems:
        raise AmendmentRejected(
            "order_id",
            f"order {order.order_id} does not balance ({problems[0]}); if an earlier amendment "
            "did not finish, replay it before starting another",
        )


def _reversal_lines(
    order: OrderSnapshot, request: AmendOrderInput, first_id: int
) -> list[PlannedLine]:
    totals = line_totals(order)
    lines: list[PlannedLine] = []
    for index, reversal in enumerate(request.reverse):
        where = f"reverse.{index}"
        target = order.line(reversal.line_id)
        if target is None:
            raise AmendmentRejected(
                f"{where}.line_id", f"line {reversal.line_id} is not on order {order.order_id}"
            )
        if target.reverses is not None:
            raise AmendmentRejected(
                f"{where}.line_id",
                f"line {target.line_id} is a reversal line (of line {target.reverses}) and "
                "cannot be reversed: to sell the item again, add it as a new line",
            )
        if target.product_id in SETTLING_PRODUCT_IDS:
            what = "refund" if target.product_id == REFUND_PRODUCT_ID else "release"
            raise AmendmentRejected(
                f"{where}.line_id",
                f"line {target.line_id} is a {what} line (money given back or let go) and "
                "cannot be reversed",
            )
        if totals[target.line_id].authorized == 0:
            raise AmendmentRejected(
                f"{where}.line_id", f"line {target.line_id} was never authorized"
            )
        lines.append(
            reversal_line(
                order, target, reversal.quantity, reversal.reason, first_id + index, where
            )
        )
    return lines


def _take_back(order: OrderSnapshot, reversals: list[PlannedLine]) -> dict[int, dict[str, Taken]]:
    """What each reversal line takes back from each payment (reversal line id -> payment ->
    reserved and captured, payments oldest first): reserved money first, then captured, newest
    payment first within each, each at most what it holds on the reversed line (less what
    earlier reversals of it took)."""
    lines = money.by_line(order)
    taken: dict[int, dict[str, Taken]] = {}
    for index, reversal in enumerate(reversals):
        where = f"reverse.{index}.line_id"
        target = reversal.reverses
        assert target is not None
        holds = money.group(order, target, lines)
        need = -reversal.gross_amount
        parts: dict[str, Taken] = defaultdict(Taken)
        for state in ("reserved", "captured"):
            for payment in reversed(list(holds)):
                available = holds[payment].reserved if state == "reserved" else holds[payment].held
                part = min(need, max(0, available))
                if not part:
                    continue
                if payment == money.UNKNOWN:
                    raise AmendmentRejected(
                        where,
                        f"line {target} was paid by a record without payment_details.payment_id:"
                        " the product cannot tell which payment to give the money back to; "
                        "record the line's payments with their payment_id first",
                    )
                setattr(parts[payment], state, getattr(parts[payment], state) + part)
                need -= part
        if need:
            held = sum(max(0, m.held) + max(0, m.reserved) for m in holds.values())
            raise AmendmentRejected(
                where,
                f"line {target}'s payments hold {held}, less than the {-reversal.gross_amount} "
                "its reversal takes back; record the missing authorizations on the order first",
            )
        taken[reversal.line_id] = {p: parts[p] for p in holds if p in parts}
    return taken


def _several_payments_per_line(operations: tuple[PlannedOperation, ...]) -> bool:
    payers: dict[int, set[str]] = defaultdict(set)
    for op in operations:
        for item in op.items:
            payers[item.line_id].add(op.payment_id)
    return any(len(payments) > 1 for payments in payers.values())


ByPayment = dict[str, tuple[RecordItem, ...]]


def _operations(
    marker: str,
    taken: dict[int, dict[str, Taken]],
    payments: list[str],
    covers: dict[str, list[RecordItem]],
    covers_captured: dict[str, list[RecordItem]],
    refund_lines: dict[str, PlannedLine],
    release_lines: dict[str, PlannedLine],
    voids: set[str],
) -> tuple[PlannedOperation, ...]:
    """The fixed writes in order: the reversal lines' money taken back (per payment an
    authorization of all it gives back, negative, and a capture of the captured part), the money
    moved onto the new lines and the settling lines (per payment: authorized, and captured for
    the captured part and the refund line), then each refund and each release (a cancellation);
    each group under its authorization id (dropped when the draft takes one per line)."""

    def settled(payment: str) -> list[RecordItem]:
        return [
            RecordItem(line_id=lines[payment].line_id, amount=lines[payment].gross_amount)
            for lines in (refund_lines, release_lines)
            if payment in lines
        ]

    groups: list[tuple[Callable[[int, int], ids.Group], ByPayment, ByPayment]] = [
        (
            ids.reversal_group,
            {
                p: tuple(RecordItem(line_id=lid, amount=-t[p].total) for lid, t in taken.items()
                         if p in t)
                for p in payments
            },
            {
                p: tuple(RecordItem(line_id=lid, amount=-t[p].captured) for lid, t in taken.items()
                         if p in t and t[p].captured)
                for p in payments
            },
        ),
        (
            ids.covered_group,
            {p: (*covers.get(p, ()), *settled(p)) for p in payments},
            {
                p: (
                    *covers_captured.get(p, ()),
                    *([settled(p)[0]] if p in refund_lines else []),
                )
                for p in payments
            },
        ),
    ]  # fmt: skip
    operations: list[PlannedOperation] = []
    covering: dict[str, str] = {}  # payment -> the authorization id of the money it covers with
    for group_of, authorized, captured in groups:
        group = [(payment, items) for payment, items in authorized.items() if items]
        for number, (payment, items) in enumerate(group, start=1):
            named = group_of(number, len(group))
            auth_id = named.authorization_id(marker)
            if group_of is ids.covered_group:
                covering[payment] = auth_id
            operations.append(
                PlannedOperation(
                    step=named.record("authorization"),
                    kind="authorization",
                    items=items,
                    payment_id=payment,
                    authorization_id=auth_id,
                )
            )
            if captured[payment]:
                operations.append(
                    PlannedOperation(
                        step=named.record("capture"),
                        kind="capture",
                        items=captured[payment],
                        payment_id=payment,
                        authorization_id=auth_id,
                    )
                )
    settling: tuple[tuple[RecordKind, ids.Settling, dict[str, PlannedLine]], ...] = (
        ("refund", "refund", refund_lines),
        ("cancellation", "release", release_lines),
    )
    for kind, role, lines in settling:
        for number, (payment, line) in enumerate(lines.items(), start=1):
            operations.append(
                PlannedOperation(
                    step=ids.settling_step(role, number, len(lines)),
                    kind=kind,
                    items=(RecordItem(line_id=line.line_id, amount=line.gross_amount),),
                    payment_id=payment,
                    authorization_id=covering.get(payment),
                    voids_payment=kind == "cancellation" and payment in voids,
                )
            )
    return tuple(operations)


def _first_payment(order: OrderSnapshot) -> str | None:
    for record in order.records:
        if record.kind == "authorization" and record.success and record.payment_id:
            return record.payment_id
    return None


def plan_order(request: PlaceOrderInput) -> Placement:
    """A new order's plan (`PlaceOrder`): its lines, authorized in full, and captured in full
    unless the request says `capture: false`, all to the request's payment."""
    lines = order_lines(request.items)
    items = tuple(RecordItem(line_id=line.line_id, amount=line.gross_amount) for line in lines)
    kinds: tuple[RecordKind, ...] = (
        ("authorization", "capture") if request.capture else ("authorization",)
    )
    return Placement(
        currency=request.currency,
        lines=lines,
        operations=tuple(
            PlannedOperation(
                step=ids.place_step(kind), kind=kind, items=items, payment_id=request.payment_id
            )
            for kind in kinds
        ),
        captured=request.capture,
    )
