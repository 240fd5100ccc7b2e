"""The planner: order + amendment request -> the complete plan, before anything is written.

A pure function. It refuses (with `AmendmentRejected` naming the field and the reason) what
cannot be applied, assigns new line ids after the order's highest, splits partial reversals so
that the parts of a line always sum exactly to the line, and decides the money: R reversed,
N new, then an even swap, a refund line of R - N, or a top-up of N - R. The workflow only
follows the plan; `top_up.TopUpCollector` owns the top-up's outcomes and records.
"""

from __future__ import annotations

from collections import defaultdict

from amendments.domain.errors import AmendmentPartlyApplied, AmendmentRejected
from amendments.domain.ledger import ledger_problems, result_of
from amendments.domain.models import (
    REFUND_PRODUCT_ID,
    AlreadyApplied,
    AmendOrderInput,
    NewItem,
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
    mine = [r for r in order.records if r.metadata.get("amendment_id") == request.amendment_id]
    if not mine:
        return Planned(plan=plan_amendment(order, request))
    problems = ledger_problems(order)
    if problems:
        raise AmendmentPartlyApplied(
            request.amendment_id, order.order_id, problems[0], request.workflow_id
        )
    reverted = any(r.metadata.get("step", "").startswith("revert-") for r in mine)
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
    payment_id = _payment_of(order, reversals)
    reversed_total = -sum(line.gross_amount for line in reversals)
    new_total = sum(item.gross_amount for item in request.add)

    new_lines: list[PlannedLine] = []
    covered: list[RecordItem] = []
    shares: list[Share] = []
    covered_left = reversed_total
    for offset, item in enumerate(request.add):
        line = new_line(item, next_id + len(reversals) + offset)
        new_lines.append(line)
        part = min(item.gross_amount, covered_left)
        covered_left -= part
        if part:
            covered.append(RecordItem(line_id=line.line_id, amount=part))
        if item.gross_amount > part:
            shares.append(Share(line_id=line.line_id, amount=item.gross_amount - part))

    refund_amount = max(0, reversed_total - new_total)
    top_up_amount = max(0, new_total - reversed_total)
    refund_lines: list[PlannedLine] = []
    if refund_amount:
        refund_lines.append(
            PlannedLine(
                line_id=next_id + len(reversals) + len(new_lines),
                product_id=REFUND_PRODUCT_ID,
                quantity=1,
                gross_amount=refund_amount,
                description=f"Refund for amendment {request.amendment_id}",
                description_alias="Refund",
                role="refund",
            )
        )
        covered.append(RecordItem(line_id=refund_lines[0].line_id, amount=refund_amount))

    multi = top_up_amount > 0
    return Plan(
        order_id=order.order_id,
        amendment_id=request.amendment_id,
        marker=request.marker,
        currency=order.currency,
        payment_id=payment_id,
        lines=(*reversals, *new_lines, *refund_lines),
        multiple_authorizations=multi,
        reversed_total=reversed_total,
        new_total=new_total,
        refund_amount=refund_amount,
        top_up_amount=top_up_amount,
        operations=_operations(
            request.marker if multi else None, payment_id, reversals, covered, refund_lines
        ),
        top_up_shares=tuple(shares),
    )


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
                "cannot be reversed",
            )
        if target.product_id == REFUND_PRODUCT_ID:
            raise AmendmentRejected(
                f"{where}.line_id", f"line {target.line_id} is a refund line and cannot be reversed"
            )
        if totals[target.line_id].captured == 0:
            raise AmendmentRejected(f"{where}.line_id", f"line {target.line_id} was never captured")
        lines.append(
            _reversal_line(
                order, target, reversal.quantity, reversal.reason, first_id + index, where
            )
        )
    return lines


def _payment_of(order: OrderSnapshot, reversals: list[PlannedLine]) -> str:
    """The one payment that authorized the reversed lines (or the order's, if none reversed)."""
    payments: dict[str, list[int]] = defaultdict(list)
    for line in reversals:
        for record in order.records:
            if (
                record.kind == "authorization"
                and record.success
                and any(item.line_id == line.reverses for item in record.items)
            ):
                payments[record.payment_id or "unknown"].append(line.reverses or 0)
    if len(payments) > 1:
        described = ", ".join(f"{pid} (lines {lids})" for pid, lids in payments.items())
        raise AmendmentRejected(
            "reverse",
            f"the reversed lines were paid by more than one payment: {described}; "
            "reverse them in separate amendments",
        )
    if payments:
        return next(iter(payments))
    payment_id = _first_payment(order)
    if payment_id is None:
        raise AmendmentRejected("order_id", f"order {order.order_id} has no payment to amend")
    return payment_id


def _operations(
    marker: str | None,
    payment_id: str,
    reversals: list[PlannedLine],
    covered: list[RecordItem],
    refund_lines: list[PlannedLine],
) -> tuple[PlannedOperation, ...]:
    """The fixed writes in order; with a marker (a top-up plan) each carries an authorization id."""
    operations: list[PlannedOperation] = []
    groups = [
        (
            "reversal",
            tuple(RecordItem(line_id=r.line_id, amount=r.gross_amount) for r in reversals),
        ),
        ("covered", tuple(covered)),
    ]
    for name, items in groups:
        if not items:
            continue
        auth_id = f"{marker}-{name[:3]}" if marker else None
        for kind in ("authorization", "capture"):
            operations.append(
                PlannedOperation(
                    step=f"{name}-{kind}",
                    kind=kind,
                    items=items,
                    payment_id=payment_id,
                    authorization_id=auth_id,
                )
            )
    for line in refund_lines:
        operations.append(
            PlannedOperation(
                step="refund",
                kind="refund",
                items=(RecordItem(line_id=line.line_id, amount=line.gross_amount),),
                payment_id=payment_id,
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
            f"{where}.line_id", f"line {target.line_id} is already fully reversed"
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
