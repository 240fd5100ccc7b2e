"""The lines of a draft, in the domain's words: reversal lines (a partial reversal split so that
the parts of a line always sum exactly to the line), new lines, the lines of a new order, and the
lines that settle money: a refund line (captured money given back) and a release line (reserved
money let go). Pure functions; the planner decides which lines an amendment needs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from amendments.domain.errors import AmendmentRejected
from amendments.domain.models import (
    REFUND_PRODUCT_ID,
    RELEASE_PRODUCT_ID,
    NewItem,
    PlannedLine,
)
from amendments.domain.order import OrderLine, OrderSnapshot, TaxLine


def split(total: int, units: int, quantity: int) -> int:
    """The share of `total` carried by the first `units` of `quantity`: floor(total*units/q).

    A partial reversal of units r..r+k takes split(r+k) - split(r); the parts of any partition,
    in any order, telescope to split(q) - split(0) == total: no lost or extra minor unit.
    """
    return total * units // quantity


def reversal_line(
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


def settling_lines(
    role: Literal["refund", "release"], amounts: dict[str, int], first: int, amendment_id: str
) -> dict[str, PlannedLine]:
    """A refund line (captured money given back) or a release line (reserved money let go) per
    payment, numbered from `first`."""
    what = "Refund" if role == "refund" else "Release"
    description = f"{what} for amendment {amendment_id}"
    return {
        payment: PlannedLine(
            line_id=first + index,
            product_id=REFUND_PRODUCT_ID if role == "refund" else RELEASE_PRODUCT_ID,
            quantity=1,
            gross_amount=amount,
            description=description if len(amounts) == 1 else f"{description} to payment {payment}",
            description_alias=what,
            role=role,
        )
        for index, (payment, amount) in enumerate(amounts.items())
    }
