"""The planner: order + amendment request -> the complete plan, before anything is written.

A pure function. It refuses (with `AmendmentRejected` naming the field and the reason) what
cannot be applied, assigns new line ids after the order's highest, splits partial reversals so
that the parts of a line always sum exactly to the line, and decides the money, per payment:

- **Taking back.** A reversal line takes back what it reverses from the payments that paid the
  line, newest payment first, each at most what it still holds on the line (captured minus
  refunded, less what earlier reversals of the line took from it): the last money in goes back
  first, so a line's older payments keep paying for what remains of it. Newest is the payment
  whose first record on the line came last.
- **Covering.** The money taken back moves onto the new lines, in line order, oldest payment
  first; what the new lines need beyond it is the top-up.
- **Refunding.** What is left of each payment's money (its newest money, since the oldest covered
  the new lines first) is refunded to that payment, through a refund line of its own: each
  refund line is authorized, captured and refunded by one payment, and never gets more than the
  payment gave back.

So per payment: kept = paid - taken back + covering, and the top-up's payments pay the rest. A
draft whose lines take money from more than one payment (or a top-up in parts) sets
`multiple_authorizations`, and then every record carries a deterministic `authorization_id`. The
workflow only follows the plan; `top_up.TopUpCollector` owns the top-up's outcomes and records.
"""

from __future__ import annotations

from collections import defaultdict

from amendments.domain import ids, money
from amendments.domain.errors import AmendmentPartlyApplied, AmendmentRejected
from amendments.domain.ledger import ledger_problems, result_of
from amendments.domain.models import (
    REFUND_PRODUCT_ID,
    AlreadyApplied,
    AmendOrderInput,
    NewItem,
    PaymentAllocation,
    Plan,
    Planned,
    PlannedLine,
    PlannedOperation,
    Share,
)
from amendments.domain.order import OrderLine, OrderSnapshot, RecordItem, TaxLine, line_totals


def decide(order: OrderSnapshot, request: AmendOrderInput) -> Planned | AlreadyApplied:
    """The plan, or the recorded result when the amendment is on the order already (a start of
    the same amendment after it ended: nothing is written again). An amendment found half
    applied is `AmendmentPartlyApplied`; a refusal is `AmendmentRejected`."""
    steps = [ids.step_of(r.metadata, request.amendment_id) for r in order.records]
    mine = [step for step in steps if step is not None]
    if not mine:
        return Planned(plan=plan_amendment(order, request))
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


def split(total: int, units: int, quantity: int) -> int:
    """The share of `total` carried by the first `units` of `quantity`: floor(total*units/q).

    A partial reversal of units r..r+k takes split(r+k) - split(r); the parts of any partition,
    in any order, telescope to split(q) - split(0) == total: no lost or extra minor unit.
    """
    return total * units // quantity


def plan_amendment(order: OrderSnapshot, request: AmendOrderInput) -> Plan:
    _check_order(order, request)
    next_id = order.highest_line_id + 1
    reversals = _reversal_lines(order, request, next_id)
    taken = _take_back(order, reversals)
    oldest_first = money.payments_in_order(order)
    freed = {p: sum(parts.get(p, 0) for parts in taken.values()) for p in oldest_first}
    freed = {p: amount for p, amount in freed.items() if amount}
    reversed_total = -sum(line.gross_amount for line in reversals)
    new_total = sum(item.gross_amount for item in request.add)

    new_lines: list[PlannedLine] = []
    covers: dict[str, list[RecordItem]] = defaultdict(list)
    shares: list[Share] = []
    left = dict(freed)
    for offset, item in enumerate(request.add):
        line = new_line(item, next_id + len(reversals) + offset)
        new_lines.append(line)
        need = item.gross_amount
        for payment, available in left.items():
            part = min(need, available)
            if part:
                covers[payment].append(RecordItem(line_id=line.line_id, amount=part))
                left[payment] = available - part
                need -= part
        if need:
            shares.append(Share(line_id=line.line_id, amount=need))

    refunds = {payment: amount for payment, amount in left.items() if amount}
    refund_lines = {
        payment: PlannedLine(
            line_id=next_id + len(reversals) + len(new_lines) + index,
            product_id=REFUND_PRODUCT_ID,
            quantity=1,
            gross_amount=amount,
            description=_refund_description(request.amendment_id, payment, len(refunds)),
            description_alias="Refund",
            role="refund",
        )
        for index, (payment, amount) in enumerate(refunds.items())
    }
    refund_amount = sum(refunds.values())
    top_up_amount = max(0, new_total - reversed_total)
    assert refund_amount == max(0, reversed_total - new_total), "money taken back is all used"

    allocation = tuple(
        PaymentAllocation(
            payment_id=payment,
            taken_back=tuple(
                RecordItem(line_id=line_id, amount=parts[payment])
                for line_id, parts in taken.items()
                if parts.get(payment)
            ),
            covers=tuple(covers.get(payment, ())),
            refunded=refunds.get(payment, 0),
        )
        for payment in freed
    )
    operations = _operations(request.marker, taken, covers, refund_lines, list(freed))
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
        payment_id=next(iter(freed), None) or _first_payment(order),
        lines=(*reversals, *new_lines, *refund_lines.values()),
        multiple_authorizations=multi,
        reversed_total=reversed_total,
        new_total=new_total,
        refund_amount=refund_amount,
        top_up_amount=top_up_amount,
        operations=operations,
        top_up_shares=tuple(shares),
        allocation=allocation,
    )


def _refund_description(amendment_id: str, payment: str, refunds: int) -> str:
    base = f"Refund for amendment {amendment_id}"
    return base if refunds == 1 else f"{base} to payment {payment}"


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
            "order_id", f"order {order.order_id} has no payment records: it was never captured"
        )
    problems = ledger_problems(order)
    if problems:
        raise AmendmentRejected(
            "order_id",
            f"order {order.order_id} is not settled ({problems[0]}); if an earlier amendment "
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
        if target.product_id == REFUND_PRODUCT_ID:
            raise AmendmentRejected(
                f"{where}.line_id",
                f"line {target.line_id} is a refund line (money given back) and cannot be reversed",
            )
        if totals[target.line_id].captured == 0:
            raise AmendmentRejected(f"{where}.line_id", f"line {target.line_id} was never captured")
        lines.append(
            _reversal_line(
                order, target, reversal.quantity, reversal.reason, first_id + index, where
            )
        )
    return lines


def _take_back(order: OrderSnapshot, reversals: list[PlannedLine]) -> dict[int, dict[str, int]]:
    """What each reversal line takes back from each payment (reversal line id -> payment ->
    amount, payments oldest first): newest payment first, each at most what it holds on the
    reversed line (less what earlier reversals of it took)."""
    lines = money.by_line(order)
    taken: dict[int, dict[str, int]] = {}
    for index, reversal in enumerate(reversals):
        where = f"reverse.{index}.line_id"
        target = reversal.reverses
        assert target is not None
        holds = money.group(order, target, lines)
        need = -reversal.gross_amount
        parts: dict[str, int] = {}
        for payment in reversed(list(holds)):
            part = min(need, max(0, holds[payment].held))
            if part and payment == money.UNKNOWN:
                raise AmendmentRejected(
                    where,
                    f"line {target} was paid by a record without payment_details.payment_id: "
                    "the product cannot tell which payment to give the money back to; record "
                    "the line's payments with their payment_id first",
                )
            if part:
                parts[payment] = part
                need -= part
        if need:
            held = sum(max(0, m.held) for m in holds.values())
            raise AmendmentRejected(
                where,
                f"line {target}'s payments hold {held}, less than the {-reversal.gross_amount} "
                "its reversal takes back; record the missing captures on the order first",
            )
        order_of = list(holds)
        taken[reversal.line_id] = {p: parts[p] for p in order_of if p in parts}
    return taken


def _several_payments_per_line(operations: tuple[PlannedOperation, ...]) -> bool:
    payers: dict[int, set[str]] = defaultdict(set)
    for op in operations:
        for item in op.items:
            payers[item.line_id].add(op.payment_id)
    return any(len(payments) > 1 for payments in payers.values())


def _operations(
    marker: str,
    taken: dict[int, dict[str, int]],
    covers: dict[str, list[RecordItem]],
    refund_lines: dict[str, PlannedLine],
    payments: list[str],
) -> tuple[PlannedOperation, ...]:
    """The fixed writes in order: the reversal lines' money taken back (an authorization and a
    capture per payment, negative), the money moved onto the new lines and the refund lines
    (per payment, each with its own refund line), then each refund; each group of records
    under its authorization id (dropped when the draft takes one authorization per line)."""
    reversal = {
        payment: tuple(
            RecordItem(line_id=line_id, amount=-parts[payment])
            for line_id, parts in taken.items()
            if parts.get(payment)
        )
        for payment in payments
    }
    covered = {
        payment: (
            *covers.get(payment, ()),
            *(
                [
                    RecordItem(
                        line_id=refund_lines[payment].line_id,
                        amount=refund_lines[payment].gross_amount,
                    )
                ]
                if payment in refund_lines
                else []
            ),
        )
        for payment in payments
    }
    operations: list[PlannedOperation] = []
    auth_ids: dict[tuple[str, str], str] = {}
    for name, tag, by_payment in (("reversal", "rev", reversal), ("covered", "cov", covered)):
        group = [(payment, items) for payment, items in by_payment.items() if items]
        for number, (payment, items) in enumerate(group, start=1):
            label = name if len(group) == 1 else f"{name}-{number}"
            auth_id = ids.authorization_id(marker, tag if len(group) == 1 else f"{tag}{number}")
            auth_ids[(name, payment)] = auth_id
            for kind in ("authorization", "capture"):
                operations.append(
                    PlannedOperation(
                        step=f"{label}-{kind}",
                        kind=kind,
                        items=items,
                        payment_id=payment,
                        authorization_id=auth_id,
                    )
                )
    for number, (payment, line) in enumerate(refund_lines.items(), start=1):
        operations.append(
            PlannedOperation(
                step="refund" if len(refund_lines) == 1 else f"refund-{number}",
                kind="refund",
                items=(RecordItem(line_id=line.line_id, amount=line.gross_amount),),
                payment_id=payment,
                authorization_id=auth_ids.get(("covered", payment)),
            )
        )
    return tuple(operations)


def _first_payment(order: OrderSnapshot) -> str | None:
    for record in order.records:
        if record.kind == "authorization" and record.success and record.payment_id:
            return record.payment_id
    return None


def _reversal_line(
    order: OrderSnapshot,
    target: OrderLine,
    quantity: int | None,
    reason: str,
    line_id: int,
    where: str,
) -> PlannedLine:
    earlier = [line for line in order.lines if line.reverses == target.line_id]
    done_units = sum(line.quantity for line in earlier)
    done_gross = -sum(line.gross_amount for line in earlier)
    remaining = target.quantity - done_units
    if remaining <= 0:
        raise AmendmentRejected(
            f"{where}.line_id", f"line {target.line_id} is already fully reversed: nothing remains"
        )
    units = remaining if quantity is None else quantity
    if units > remaining:
        raise AmendmentRejected(
            f"{where}.quantity",
            f"reversing {units} units of line {target.line_id}, but only {remaining} of "
            f"{target.quantity} remain",
        )
    upto = done_units + units
    gross = split(target.gross_amount, upto, target.quantity) - done_gross
    if gross <= 0:
        raise AmendmentRejected(
            f"{where}.quantity",
            f"{units} of {target.quantity} units of line {target.line_id} "
            f"({target.gross_amount}) is less than one minor unit",
        )
    done_tax: dict[float, int] = defaultdict(int)
    for line in earlier:
        for tax in line.tax_lines:
            done_tax[tax.percentage] -= tax.amount
    line_tax: dict[float, int] = defaultdict(int)
    for tax in target.tax_lines:
        line_tax[tax.percentage] += tax.amount
    tax_lines = tuple(
        TaxLine(
            amount=-(split(amount, upto, target.quantity) - done_tax[rate]),
            percentage=rate,
        )
        for rate, amount in line_tax.items()
    )
    return PlannedLine(
        line_id=line_id,
        product_id=target.product_id,
        quantity=units,
        gross_amount=-gross,
        tax_lines=tax_lines,
        description=target.description,
        description_alias=target.description_alias,
        reversed_reason=reason,
        reverses=target.line_id,
        role="reversal",
    )


def new_line(item: NewItem, line_id: int) -> PlannedLine:
    return PlannedLine(
        line_id=line_id,
        product_id=item.id,
        quantity=item.quantity,
        gross_amount=item.gross_amount,
        tax_lines=tuple(TaxLine(amount=t.amount, percentage=t.percentage) for t in item.tax_lines),
        description=item.description,
        description_alias=item.description_alias,
        role="new",
    )


def order_lines(items: tuple[NewItem, ...]) -> tuple[PlannedLine, ...]:
    """The lines of a new order: line ids 1..n in the order given."""
    return tuple(new_line(item, number) for number, item in enumerate(items, start=1))
