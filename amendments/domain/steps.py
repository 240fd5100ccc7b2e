"""The amendment's writes as lists of steps, each saying who moves its money: the workflow runs a
list in order and decides nothing (`workflows/amend.py`).

A step is one of:
- `DraftStep`: the draft of the lines, linked to the order, then its completion;
- `RecordStep`: one payment record written on the order (authorization, capture, refund,
  cancellation);
- `MoveStep`: money moved by the payments adapter before it is recorded (`PAYMENTS=
  dintero-checkout`: a refund, a capture or a void on the payment's Checkout transaction). A
  cancellation that lets go of all a payment still reserves voids its transaction first; a
  partial one is recorded only (the spec allows a partial void for some payment products only).
With `record-only` no step moves money: another system did, and the records say so.

Pure functions of the plan, the top-up part, the revert plan and the outcomes not taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Literal

from pydantic import Field

from amendments.domain import ids
from amendments.domain.base import Model
from amendments.domain.models import OutcomeSeen, Plan, PlannedLine, PlannedOperation
from amendments.domain.revert import RevertPlan
from amendments.domain.top_up import TopUpPart


class DraftStep(Model):
    kind: Literal["draft"] = "draft"
    lines: tuple[PlannedLine, ...]
    multiple_authorizations: bool
    revert: bool = False  # the revert's draft (its steps show as `revert-draft`...)

    def shown(self, completing: bool) -> str:
        """The step the amendment shows while the draft is made, then completed."""
        return ids.draft_step(self.revert, completing)


class RecordStep(Model):
    kind: Literal["record"] = "record"
    operation: PlannedOperation


class MoveStep(Model):
    """Money moved on a payment's transaction by the payments adapter. `step` names the record
    it goes with (its reference derives from it); a void has no amount. `late`: a payment the
    customer made while the amendment was being reverted, voided since it is not taken."""

    kind: Literal["move"] = "move"
    action: Literal["refund", "capture", "void"]
    step: str
    transaction_id: str
    amount: int = 0
    reason: str = ""
    late: bool = False

    @property
    def shown(self) -> str:
        """The step the amendment shows while the money moves."""
        return ids.REVERT_VOID if self.late else ids.checkout_step(self.step)


Step = Annotated[DraftStep | RecordStep | MoveStep, Field(discriminator="kind")]


def plan_steps(plan: Plan) -> tuple[Step, ...]:
    """The amendment's fixed writes: its draft, then its records (a refund executed first)."""
    draft = DraftStep(lines=plan.lines, multiple_authorizations=plan.multiple_authorizations)
    return (draft, *_records(plan, plan.operations))


def part_steps(plan: Plan, part: TopUpPart) -> tuple[Step, ...]:
    """A top-up outcome's writes: its authorization, then (a success) its capture, executed on
    the payment's transaction first."""
    steps: list[Step] = [RecordStep(operation=part.authorization)]
    capture = part.capture
    if capture is not None:
        if plan.moves_money:
            steps.append(
                MoveStep(
                    action="capture",
                    step=capture.step,
                    transaction_id=capture.payment_id,
                    amount=capture.amount,
                )
            )
        steps.append(RecordStep(operation=capture))
    return tuple(steps)


def revert_steps(plan: Plan, revert: RevertPlan) -> tuple[Step, ...]:
    """The revert's writes: its draft, then its records (each refund executed first)."""
    draft = DraftStep(lines=revert.lines, multiple_authorizations=True, revert=True)
    return (draft, *_records(plan, revert.operations))


def void_steps(plan: Plan, seen: Sequence[OutcomeSeen]) -> tuple[Step, ...]:
    """A customer who paid while the amendment was being reverted: the payment was not taken,
    and is voided so that no money stays held for nothing (once per payment)."""
    if not plan.moves_money:
        return ()
    voided: dict[str, None] = {}
    for outcome in seen:
        if outcome.success and outcome.disposition == "ignored" and outcome.payment_id:
            voided.setdefault(outcome.payment_id, None)
    return tuple(
        MoveStep(
            action="void", step=ids.revert_void_step(payment), transaction_id=payment, late=True
        )
        for payment in voided
    )


def _records(plan: Plan, operations: Iterable[PlannedOperation]) -> list[Step]:
    steps: list[Step] = []
    for operation in operations:
        if plan.moves_money and operation.kind == "cancellation" and operation.voids_payment:
            steps.append(
                MoveStep(action="void", step=operation.step, transaction_id=operation.payment_id)
            )
        if plan.moves_money and operation.kind == "refund":
            steps.append(
                MoveStep(
                    action="refund",
                    step=operation.step,
                    transaction_id=operation.payment_id,
                    amount=abs(operation.amount),
                    reason=f"amendment {plan.amendment_id} of order {plan.order_id}",
                )
            )
        steps.append(RecordStep(operation=operation))
    return steps
