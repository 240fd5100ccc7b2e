"""The revert planner: an applied amendment whose top-up was not covered -> the writes that undo it.

A pure function of the amendment's plan and the top-up parts already captured. One compensating
draft, linked to the order, with line ids after the amendment's:
- a reversal line for each new line of the amendment (its product, quantity, amounts and tax,
  negated), so that each new line nets to zero;
- a restore line for each line the amendment reversed (the reversed product, quantity, amounts
  and tax as they were), so that per product the order holds what it held before;
- a refund line for each payment that paid top-up parts, refunded in full to that payment.

Money, per payment: the new lines' money is taken back by the reversal lines (an authorization
and a capture per payment, negative), each payment exactly what it put on each new line; the
money the amendment took back from each payment moves onto the restore lines (each payment
exactly what it gave up on each reversed line, as the plan's allocation says); each top-up
payment's money moves onto its refund line and is refunded. Every line the amendment added then
nets to zero for every payment, each payment holds on the order what it held before, and each
top-up payment nets to zero. Every record carries a deterministic `authorization_id` (the draft
takes several authorizations per line).
"""

from __future__ import annotations

from collections.abc import Sequence

from amendments.domain import ids
from amendments.domain.base import Model
from amendments.domain.models import (
    REFUND_PRODUCT_ID,
    Plan,
    PlannedLine,
    PlannedOperation,
)
from amendments.domain.order import RecordItem, TaxLine
from amendments.domain.top_up import CapturedPart


class RevertPlan(Model):
    lines: tuple[PlannedLine, ...]
    operations: tuple[PlannedOperation, ...]
    refunds: tuple[tuple[str, int], ...]  # (payment_id, amount) given back, in order

    @property
    def line_ids(self) -> tuple[int, ...]:
        return tuple(line.line_id for line in self.lines)


def plan_revert(plan: Plan, captured: Sequence[CapturedPart], reason: str) -> RevertPlan:
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

    # Money on the new lines, per payment, in the order it was paid.
    paid: dict[str, dict[int, int]] = {}
    for allocated in plan.allocation:
        if allocated.covers:
            _add(paid, allocated.payment_id, allocated.covers)
    refunds: dict[str, int] = {}
    for part in captured:
        _add(paid, part.payment_id, part.items)
        refunds[part.payment_id] = refunds.get(part.payment_id, 0) + part.amount

    refund_lines = [
        PlannedLine(
            line_id=next_id + len(lines) + index,
            product_id=REFUND_PRODUCT_ID,
            quantity=1,
            gross_amount=amount,
            description=f"Refund of top-up paid by {payment_id}; {note}"[:1000],
            description_alias="Refund",
            role="refund",
        )
        for index, (payment_id, amount) in enumerate(refunds.items())
    ]
    lines += refund_lines

    operations: list[PlannedOperation] = []
    for index, (payment_id, by_line) in enumerate(paid.items(), start=1):
        items = tuple(
            RecordItem(line_id=undo[line_id].line_id, amount=-amount)
            for line_id, amount in by_line.items()
            if amount
        )
        operations += _pair(plan, f"revert-reversal-{index}", f"v{index}", payment_id, items)
    # What the amendment took back from each payment goes back onto the restore lines.
    restore_of = {line.line_id: restore for line, restore in zip(reversed_, restores, strict=True)}
    givers = [a for a in plan.allocation if a.taken_back]
    for number, allocated in enumerate(givers, start=1):
        items = tuple(
            RecordItem(line_id=restore_of[taken.line_id].line_id, amount=taken.amount)
            for taken in allocated.taken_back
        )
        step, tag = (
            ("revert-restore", "vr")
            if len(givers) == 1
            else (f"revert-restore-{number}", f"vr{number}")
        )
        operations += _pair(plan, step, tag, allocated.payment_id, items)
    for index, (line, payment_id) in enumerate(zip(refund_lines, refunds, strict=True), start=1):
        items = (RecordItem(line_id=line.line_id, amount=line.gross_amount),)
        step = f"revert-refund-{index}"
        pair = _pair(plan, step, f"vf{index}", payment_id, items)
        refund = pair[1].model_copy(update={"step": f"{step}-refund", "kind": "refund"})
        operations += [*pair, refund]
    return RevertPlan(
        lines=tuple(lines), operations=tuple(operations), refunds=tuple(refunds.items())
    )


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


def _add(paid: dict[str, dict[int, int]], payment_id: str, items: tuple[RecordItem, ...]) -> None:
    by_line = paid.setdefault(payment_id, {})
    for item in items:
        by_line[item.line_id] = by_line.get(item.line_id, 0) + item.amount


def _pair(
    plan: Plan, step: str, tag: str, payment_id: str, items: tuple[RecordItem, ...]
) -> list[PlannedOperation]:
    """An authorization and its capture, under one deterministic authorization id."""
    if not items:
        return []
    return [
        PlannedOperation(
            step=f"{step}-{kind}",
            kind=kind,
            items=items,
            payment_id=payment_id,
            authorization_id=ids.authorization_id(plan.marker, tag),
        )
        for kind in ("authorization", "capture")
    ]
