"""How the workflows call Dintero: each activity with its policy and its place in the task queue,
and an amendment's steps (`amendments/domain/steps.py`) run one after the other.

`execute` schedules one activity with the call policy (`policies.py`); `Writes` runs an
amendment's lists of steps in order (a draft and its completion, a payment record, money moved
by the payments adapter, a payment session) and keeps what the `state` query shows of them: the
step under way and every record written. It decides nothing: the plan said which steps, in which
order, with which amounts; a step says how it shows. Deterministic, like the workflows that use
it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from temporalio import workflow
from temporalio.common import Priority
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.dintero import DinteroActivities
    from activities.models import (
        CompleteDraftInput,
        MoveInput,
        NewDraftInput,
        RecordInput,
        SessionInput,
        VoidInput,
    )
    from amendments import failures
    from amendments.domain import ids
    from amendments.domain.models import PaymentLink, Plan, PlannedOperation, RecordedOperation
    from amendments.domain.steps import DraftStep, MoveStep, RecordStep, Step
    from amendments.render import words
    from workflows.policies import BEGINNING, DINTERO_CALL, LOCAL_READ, LOCAL_READ_BUDGET, UNDER_WAY

A = TypeVar("A")
R = TypeVar("R")
Method = Callable[[DinteroActivities, A], Awaitable[R]]


async def execute(
    method: Method[A, R], arg: A, summary: str, priority: Priority = Priority.default
) -> R:
    """One Dintero call as an activity: retried without an attempt limit while its error is
    retryable (`policies.py`)."""
    return await workflow.execute_activity_method(
        method,
        arg,
        start_to_close_timeout=DINTERO_CALL.start_to_close,
        retry_policy=DINTERO_CALL.retry,
        summary=summary,
        priority=priority,
    )


class Writes:
    """An amendment's calls and writes, in order, with what they show."""

    def __init__(self, log: Callable[[str], None], changed: Callable[[], None]) -> None:
        self.step = ids.PLANNING
        self.operations: list[RecordedOperation] = []
        # In a reset run (how a failed amendment is replayed) every write looks for itself on the
        # order first: its earlier run may have landed it.
        self.reconcile = False
        self.priority = BEGINNING  # the next call's place in the task queue (policies.py)
        # The Dintero account every call goes to (None: the deployment's default, as planned
        # before accounts were named), and its fairness key in the task queue: one merchant's
        # burst shares the workers with the others' amendments rather than queueing ahead.
        self.account_id: str | None = None
        self.fairness_key: str | None = None
        self._log = log
        self._changed = changed

    async def run(self, plan: Plan, steps: Sequence[Step]) -> None:
        """Run a list of steps in order: the plan decided them."""
        for step in steps:
            if isinstance(step, DraftStep):
                await self._draft(plan, step)
            elif isinstance(step, RecordStep):
                await self._record(plan, step.operation)
            else:
                await self._move(plan, step)

    async def _draft(self, plan: Plan, step: DraftStep) -> None:
        self.step = step.shown(completing=False)
        draft = await self.call(
            DinteroActivities.create_draft,
            NewDraftInput(
                order_id=plan.order_id,
                currency=plan.currency,
                lines=step.lines,
                multiple_authorizations=step.multiple_authorizations,
                reconcile=self.reconcile,
                account_id=self.account_id,
            ),
            words.draft_summary(step.lines, plan.order_id),
        )
        if not draft.completed:
            assert draft.draft_id is not None
            self.step = step.shown(completing=True)
            await self.call(
                DinteroActivities.complete_draft,
                CompleteDraftInput(
                    draft_id=draft.draft_id,
                    order_id=plan.order_id,
                    reconcile=self.reconcile,
                    account_id=self.account_id,
                ),
                words.complete_summary(draft.draft_id),
            )

    async def _record(self, plan: Plan, operation: PlannedOperation) -> None:
        self.step = operation.step
        recorded = await self.call(
            DinteroActivities.record_operation,
            RecordInput(
                order_id=plan.order_id,
                amendment_id=plan.amendment_id,
                operation=operation,
                reconcile=self.reconcile,
                account_id=self.account_id,
            ),
            words.record_summary(operation),
        )
        self.operations.append(recorded)
        self._changed()

    async def _move(self, plan: Plan, step: MoveStep) -> None:
        """Money moved on the payment's transaction (`PAYMENTS=dintero-checkout`): a capture or
        refund under a reference a retried or reset write finds among the transaction's events;
        a void, which has none, found by the transaction's status."""
        self.step = step.shown
        if step.action == "void":
            await self.call(
                DinteroActivities.checkout_void,
                VoidInput(transaction_id=step.transaction_id, account_id=self.account_id),
                words.move_summary(step),
            )
            return
        move = MoveInput(
            transaction_id=step.transaction_id,
            amount=step.amount,
            reference=ids.checkout_reference(
                workflow.info().workflow_id, plan.amendment_id, step.step
            ),
            reason=step.reason,
            reconcile=self.reconcile,
            account_id=self.account_id,
        )
        method = (
            DinteroActivities.checkout_refund
            if step.action == "refund"
            else DinteroActivities.checkout_capture
        )
        await self.call(method, move, words.move_summary(step))

    async def open_session(self, plan: Plan, number: int, amount: int) -> PaymentLink:
        """The customer's `number`-th payment session (Checkout) for `amount`."""
        self.step = ids.TOP_UP_SESSION
        link = await self.call(
            DinteroActivities.open_payment_session,
            SessionInput(
                order_id=plan.order_id,
                workflow_id=workflow.info().workflow_id,
                amendment_id=plan.amendment_id,
                number=number,
                amount=amount,
                currency=plan.currency,
                account_id=self.account_id,
            ),
            words.session_summary(amount, plan.currency),
        )
        self.step = ids.TOP_UP
        return link

    async def call(self, method: Method[A, R], arg: A, summary: str) -> R:
        self._log(summary)
        priority, self.priority = self.priority, UNDER_WAY
        if self.fairness_key is not None:
            priority = Priority(priority_key=priority.priority_key, fairness_key=self.fairness_key)
        return await execute(method, arg, summary, priority)

    async def read(self, method: Method[A, R], arg: A, summary: str, local: bool) -> R:
        """A read (safe to repeat): with `local`, a local activity with the local-read budget
        (`policies.py`: a blip is retried in the workflow task); then, unless it was refused for
        good, the same read as a regular activity, so that an outage holds no workflow task, no
        worker slot and no stopping worker, and survives a worker restart."""
        if not local:
            return await self.call(method, arg, summary)
        self._log(summary)
        try:
            return await workflow.execute_local_activity_method(
                method,
                arg,
                start_to_close_timeout=LOCAL_READ.start_to_close,
                schedule_to_close_timeout=LOCAL_READ_BUDGET,
                retry_policy=LOCAL_READ.retry,
                local_retry_threshold=LOCAL_READ_BUDGET,
                summary=summary,
            )
        except FailureError as exc:  # an ActivityError, or the local activity's own failure
            if not failures.retryable(exc):
                raise
            self._log(
                f"the read gave up in the workflow task ({failures.message_of(exc)}); queueing it"
            )
        return await self.call(method, arg, summary)
