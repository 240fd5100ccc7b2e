"""The revert planner: an applied amendment whose top-up was not covered -> the writes that undo it.

A pure function of the amendment's plan and the top-up parts already paid. One compensating
draft, linked to the order, with line ids after the amendment's:
- a reversal line for each new line of the amendment (its product, quantity, amounts and tax,
  negated), so that each new line nets to zero;
- a restore line for each line the amendment reversed (the reversed product, quantity, amounts
  and tax as they were), so that per product the order holds what it held before;
- for each payment that paid top-up parts: a refund line, refunded in full to that payment,
  when its parts were captured; a release line, cancelled in full, when they were only
  authorized (an order captured at shipment).

Money, per payment and per state (captured or only reserved), each going back the way it came:
the new lines' money is taken back by the reversal lines (a negative authorization of all a
payment put on each new line, and a negative capture of its captured part); the money the
amendment took back from each payment moves onto the restore lines (authorized, and captured
for the part that was captured, as the plan's allocation says); each top-up payment's money
moves onto its refund line and is refunded, or onto its release line and is cancelled. Every
line the amendment added then nets to zero for every payment, each payment holds on the order
what it held before in each state, and each top-up payment nets to zero. Every record carries a
deterministic `authorization_id` (the draft takes several authorizations per line).
"""

from __future__ import annotations

from collections.abc import Sequence

from amendments.domain import ids
from amendments.domain.base import Model
from amendments.domain.models import (
    REFUND_PRODUCT_ID,
    RELEASE_PRODUCT_ID,
    Plan,
    PlannedLine,
    PlannedOperation,
)
from amendments.domain.order import RecordItem, RecordKind, TaxLine
from amendments.domain.top_up import PaidPart

PerLine = dict[int, int]


class RevertPlan(Model):
    lines: tuple[PlannedLine, ...]
    operations: tuple[PlannedOperation, ...]
    refunds: tuple[tuple[str, int], ...]  # (payment_id, amount) given back, in order
    releases: tuple[tuple[str, int], ...] = ()  # (payment_id, amount) let go, in order

    @property
    def line_ids(self) -> tuple[int, ...]:
        return tuple(line.line_id for line in self.lines)


def plan_revert(plan: Plan, paid_parts: Sequence[PaidPart], reason: str) -> RevertPlan:
    next_id = max(plan.line_ids) + 1
    note = f"amendment {plan.amendment_id} reverted: {reason}"[:500]
    new = [line for line in plan.lines if line.role == "new"]
    reversed_ = [line for line in plan.lines if line.role == "reversal"]

    undo: dict[int, PlannedLine] = {}  # new line id -> its reversal line
    lines: list[PlannedLine] = []
    for line in new:
        undo[line.line_id] = _negated(line, next_id + len(lines), "reversal", line.line_id, note)
        lines.append(undo[line.line_id])
    restores = [_negated(r, next_id + len(new) + i, "restore") for i, r in enumerate(reversed_)]
    lines += restores

    # Money on the new lines, per payment in the order it was paid: all of it, and the captured.
    paid: dict[str, PerLine] = {}
    paid_captured: dict[str, PerLine] = {}
    for allocated in plan.allocation:
        if allocated.covers:
            _add(paid, allocated.payment_id, allocated.covers)
            captured = allocated.captured_of("covers")
            _add(paid_captured, allocated.payment_id, _items(captured))
    given_back: dict[str, dict[str, int]] = {"refund": {}, "release": {}}
    for part in paid_parts:
        _add(paid, part.payment_id, part.items)
        if part.captured:
            _add(paid_captured, part.payment_id, part.items)
        settle = given_back["refund" if part.captured else "release"]
        settle[part.payment_id] = settle.get(part.payment_id, 0) + part.amount

    settling: list[tuple[ids.Settling, str, PlannedLine]] = []  # (role, payment, line)
    roles: tuple[tuple[ids.Settling, str, str], ...] = (
        ("refund", REFUND_PRODUCT_ID, "Refund"),
        ("release", RELEASE_PRODUCT_ID, "Release"),
    )
    for role, product, what in roles:
        for payment_id, amount in given_back[role].items():
            line = PlannedLine(
                line_id=next_id + len(lines),
                product_id=product,
                quantity=1,
                gross_amount=amount,
                description=f"{what} of top-up paid by {payment_id}; {note}"[:1000],
                description_alias=what,
                role=role,
            )
            lines.append(line)
            settling.append((role, payment_id, line))

    operations: list[PlannedOperation] = []
    for index, (payment_id, by_line) in enumerate(paid.items(), start=1):
        captured = paid_captured.get(payment_id, {})
        operations += _records(
            plan,
            ids.revert_reversal_group(index),
            payment_id,
            tuple(RecordItem(line_id=undo[lid].line_id, amount=-a) for lid, a in by_line.items()),
            tuple(RecordItem(line_id=undo[lid].line_id, amount=-a) for lid, a in captured.items()),
        )
    # What the amendment took back from each payment goes back onto the restore lines, in the
    # state it was taken from.
    restore_of = {line.line_id: restore for line, restore in zip(reversed_, restores, strict=True)}
    givers = [a for a in plan.allocation if a.taken_back]
    for number, allocated in enumerate(givers, start=1):
        operations += _records(
            plan,
            ids.revert_restore_group(number, len(givers)),
            allocated.payment_id,
            tuple(
                RecordItem(line_id=restore_of[t.line_id].line_id, amount=t.amount)
                for t in allocated.taken_back
            ),
            tuple(
                RecordItem(line_id=restore_of[line_id].line_id, amount=amount)
                for line_id, amount in allocated.captured_of("taken_back").items()
            ),
        )
    numbers = {"refund": 0, "release": 0}
    for role, payment_id, line in settling:
        numbers[role] += 1
        group = ids.revert_settling_group(role, numbers[role])
        items = (RecordItem(line_id=line.line_id, amount=line.gross_amount),)
        records = _records(plan, group, payment_id, items, items if role == "refund" else ())
        settled = records[0].model_copy(
            update={
                "step": ids.settled_step(group, role),
                "kind": "refund" if role == "refund" else "cancellation",
                # A top-up's own transaction holds only this money: let all of it go.
                "voids_payment": role == "release",
            }
        )
        operations += [*records, settled]
    return RevertPlan(
        lines=tuple(lines),
        operations=tuple(operations),
        refunds=tuple(given_back["refund"].items()),
        releases=tuple(given_back["release"].items()),
    )


def _items(per_line: PerLine) -> tuple[RecordItem, ...]:
    return tuple(RecordItem(line_id=line_id, amount=amount) for line_id, amount in per_line.items())


def _negated(
    line: PlannedLine,
    line_id: int,
    role: str,
    reverses: int | None = None,
    reason: str | None = None,
) -> PlannedLine:
    return PlannedLine.model_validate(
        {
            **line.model_dump(),
            "line_id": line_id,
            "gross_amount": -line.gross_amount,
            "tax_lines": tuple(
                TaxLine(amount=-t.amount, percentage=t.percentage) for t in line.tax_lines
            ),
            "reversed_reason": reason,
            "reverses": reverses,
            "role": role,
        }
    )


def _add(paid: dict[str, PerLine], payment_id: str, items: tuple[RecordItem, ...]) -> None:
    by_line = paid.setdefault(payment_id, {})
    for item in items:
        if item.amount:
            by_line[item.line_id] = by_line.get(item.line_id, 0) + item.amount


def _records(
    plan: Plan,
    group: ids.Group,
    payment_id: str,
    authorized: tuple[RecordItem, ...],
    captured: tuple[RecordItem, ...],
) -> list[PlannedOperation]:
    """An authorization, and a capture of its captured part, under one authorization id."""
    records: list[PlannedOperation] = []
    kinds: tuple[tuple[RecordKind, tuple[RecordItem, ...]], ...] = (
        ("authorization", authorized),
        ("capture", captured),
    )
    for kind, items in kinds:
        if items:
            records.append(
                PlannedOperation(
                    step=group.record(kind),
                    kind=kind,
                    items=items,
                    payment_id=payment_id,
                    authorization_id=group.authorization_id(plan.marker),
                )
            )
    return records
