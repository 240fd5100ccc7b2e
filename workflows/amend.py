"""`AmendOrder`: the guide's steps 3-6 for one amendment, as a deterministic Temporal workflow.

It validates its raw input itself (any SDK, the Temporal CLI or the plain JSON converter may
start it: an invalid input fails the run at once as `AmendmentRejected`, before any Dintero
call), plans through an activity, then follows the plan: draft, complete, reversal
authorization and capture, covered authorization and capture, refund. For a top-up the
`TopUpCollector` owns every `authorization_outcome` signal and update until the outstanding
amount is covered, the operator reverts (update `revert`) or `top_up_timeout_seconds` pass
(`on_top_up_timeout`: revert the amendment, or fail it for `amend replay`). Finally it re-reads
the order and runs the ledger checks. It decides no amounts itself. In a reset run (how failed
amendments are replayed) every write reconciles first, so nothing is written twice. On every
exit path the collector is closed, so every message is answered and no handler waits forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.dintero import DinteroActivities
    from activities.models import (
        CompleteDraftInput,
        MoveInput,
        NewDraftInput,
        PlanRequest,
        RecordInput,
        SessionInput,
        VerifyInput,
        VoidInput,
    )
    from amendments.domain import ids
    from amendments.domain.errors import AmendmentRejected
    from amendments.domain.models import (
        ENDED,
        AlreadyApplied,
        AmendmentResult,
        AmendmentState,
        AmendmentStatus,
        AmendOrderInput,
        OutcomeSeen,
        PaymentLink,
        Plan,
        PlannedLine,
        PlannedOperation,
        RecordedOperation,
        RevertRequest,
    )
    from amendments.domain.revert import plan_revert
    from amendments.domain.steps import (
        DraftStep,
        MoveStep,
        RecordStep,
        Step,
        moves_money,
        part_steps,
        plan_steps,
        revert_steps,
        void_steps,
    )
    from amendments.domain.top_up import TopUpCollector, single
    from amendments.render.words import current_details
    from amendments.temporal import metrics
    from amendments.temporal.search_attributes import (
        AMENDMENT_ID,
        AMENDMENT_STATUS,
        ORDER_ID,
        TOP_UP_OUTSTANDING,
    )
    from workflows.inputs import parse_input, rejection
    from workflows.policies import (
        BEGINNING,
        DINTERO_CALL,
        LOCAL_READ,
        LOCAL_READ_BUDGET,
        UNDER_WAY,
    )

OUTCOME = "authorization_outcome"
REVERT = "revert"
SESSION_ENDED = "payment_session_ended"  # PAYMENTS=dintero-checkout: a session given up
# Runs that started before timeouts could revert keep failing on a timeout when replayed.
REVERT_ON_TIMEOUT = "revert-on-top-up-timeout"
# Set in the memo by the starter (free at start): its search attributes are the first upsert's,
# so that upsert (an Action) is left out. Not a `workflow.patched`, which upserts the
# `TemporalChangeVersion` search attribute and so costs the very Action it would save; a run
# started before has no such memo and keeps upserting, as its history says.
ATTRIBUTES_AT_START = "search_attributes_at_start"
# Set in the memo by the starter: the two reads (plan, verify) run as local activities, in the
# workflow task, without the server round trip of a scheduled activity. Gated by the memo for
# the same reason as above; runs without it keep their regular activities.
LOCAL_READS = "local_reads"
A = TypeVar("A")
R = TypeVar("R")


@workflow.defn(name="AmendOrder")
class AmendOrder:
    @workflow.init
    def __init__(self, *payload: Any) -> None:
        # The payload is decoded as plain JSON and validated here, never by the SDK's converter:
        # a bad input must fail the run, not the workflow task (which would retry forever).
        self.request: AmendOrderInput | None = None
        self.rejected: AmendmentRejected | None = None
        try:
            self.request = parse_input(payload, AmendOrderInput, "AmendOrder")
        except AmendmentRejected as exc:
            self.rejected = exc
        self.status: AmendmentStatus = "Planning"
        self.step = "planning"
        self.plan: Plan | None = None
        self.operations: list[RecordedOperation] = []
        self.top_up = TopUpCollector()
        self.error: str | None = None
        self.result: AmendmentResult | None = None
        self.reconcile = False
        self.published: tuple[str, int] | None = None
        self.payment_link: PaymentLink | None = None  # PAYMENTS=dintero-checkout
        self.sessions = 0
        self.priority = BEGINNING  # the next write's place in the task queue (policies.py)

    # --- the run ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, *payload: Any) -> AmendmentResult:
        if self.request is None:
            assert self.rejected is not None
            self._end("Failed", f"input refused: {self.rejected}")
            self._count("rejected")
            raise rejection(self.rejected, "AmendmentRejected")
        if self._started_with_attributes():
            self.published = (self.status, 0)  # the start set them (free): no upsert (an Action)
        self._publish()
        try:
            result = await self._amend(self.request)
        except (ActivityError, ApplicationError) as exc:
            self._end("Failed", _message(exc))
            self._count("rejected" if _kind(exc) == "AmendmentRejected" else "failed")
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise _failure(self.step, exc) from exc
        except asyncio.CancelledError:  # cancelled: still answer every message and handler
            self._end("Failed", "the amendment was cancelled")
            self._count("failed")
            raise
        self.result = result
        self._end("Reverted" if result.outcome == "reverted" else "Completed")
        self._count(result.outcome)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    def _count(self, outcome: metrics.Outcome) -> None:
        """The amendment's end in the metrics (nothing is recorded while a run replays)."""
        elapsed = workflow.now() - workflow.info().start_time
        branch = metrics.branch_of(self.plan.branch if self.plan else None)
        metrics.amendment_finished(outcome, branch, elapsed.total_seconds())

    def _end(self, status: AmendmentStatus, error: str | None = None) -> None:
        """Every exit path: the status, and the collector closed (every ticket answered)."""
        self.status = status
        self.error = error
        self.step = "done" if error is None else self.step
        self.top_up.close(
            f"the amendment is {status.lower()}" + (f" ({error})" if error else ""),
            failed=error,
        )
        self._publish()

    async def _amend(self, request: AmendOrderInput) -> AmendmentResult:
        outcome = await self._read(
            DinteroActivities.plan_amendment,
            PlanRequest(amendment=request),
            f"Read order {request.order_id} and plan",
        )
        info = workflow.info()
        # A reset run replays history up to the reset point with a new run id: from there on,
        # every write first looks for itself on the order (its earlier run may have landed it).
        self.reconcile = info.run_id != info.original_execution_run_id
        decision = outcome.root
        if isinstance(decision, AlreadyApplied):
            self._log("already applied; nothing written")
            self.top_up.close("the amendment was already applied")
            return decision.result
        plan = self.plan = decision.plan
        self.top_up.open(plan)
        self.status = "Applying"
        self._publish()

        await self._run_steps(plan, plan_steps(plan))
        revert_reason = None
        if plan.top_up_amount:
            revert_reason = await self._collect_top_up(request, plan)
        if revert_reason is not None:
            await self._revert(plan, revert_reason)

        self.step = "verify"
        return await self._read(
            DinteroActivities.verify_ledger,
            VerifyInput(
                order_id=plan.order_id,
                amendment_id=plan.amendment_id,
                refund_amount=plan.refund_amount,
                top_up_amount=plan.top_up_amount,
                outcome="applied" if revert_reason is None else "reverted",
                revert_reason=revert_reason,
            ),
            f"Re-read order {plan.order_id} and check the ledger",
        )

    async def _draft(
        self,
        plan: Plan,
        lines: tuple[PlannedLine, ...],
        multiple_authorizations: bool,
        prefix: str = "",
    ) -> None:
        self.step = f"{prefix}draft"
        draft = await self._call(
            DinteroActivities.create_draft,
            NewDraftInput(
                order_id=plan.order_id,
                currency=plan.currency,
                lines=lines,
                multiple_authorizations=multiple_authorizations,
                reconcile=self.reconcile,
            ),
            f"Draft lines {_ids(lines)} on order {plan.order_id}",
        )
        if not draft.completed:
            assert draft.draft_id is not None
            self.step = f"{prefix}complete"
            await self._call(
                DinteroActivities.complete_draft,
                CompleteDraftInput(
                    draft_id=draft.draft_id, order_id=plan.order_id, reconcile=self.reconcile
                ),
                f"Complete draft {draft.draft_id}",
            )

    async def _collect_top_up(self, request: AmendOrderInput, plan: Plan) -> str | None:
        """Take outcomes until covered (None) or until the amendment is to be reverted (the
        reason). A timeout with `on_top_up_timeout: "fail"` raises `TopUpTimeout`."""
        self.status = "AwaitingTopUp"
        self.step = "top-up"
        self._publish()
        timeout = timedelta(seconds=request.top_up_timeout_seconds)
        waiting_since = workflow.now()
        deadline = waiting_since + timeout
        renewed = timed_out = False

        def waited(result: metrics.WaitResult) -> None:
            metrics.top_up_waited(result, (workflow.now() - waiting_since).total_seconds())

        while True:
            if self.top_up.revert_reason is not None:
                waited("timed_out" if timed_out else "reverted")
                self.top_up.close(f"the amendment is being reverted ({self.top_up.revert_reason})")
                return self.top_up.revert_reason
            if self.top_up.outstanding == 0:
                waited("covered")
                self.top_up.close("the top-up is covered")
                return None
            part = self.top_up.next()
            if part is None and moves_money(plan) and self.payment_link is None:
                await self._open_session(plan)
                continue
            if part is None:
                left = (deadline - workflow.now()).total_seconds()
                if left <= 0 and self.reconcile and not renewed:
                    # A replayed amendment whose wait had expired waits again, in full, once.
                    renewed = True
                    deadline = workflow.now() + timeout
                    left = timeout.total_seconds()
                try:
                    if left <= 0:
                        raise TimeoutError
                    self.priority = BEGINNING  # what follows a wait begins anew
                    await workflow.wait_condition(self._top_up_news, timeout=left)
                except TimeoutError:
                    message = (
                        f"top-up not covered: {self.top_up.outstanding} {plan.currency} still "
                        f"outstanding on order {plan.order_id} after "
                        f"{request.top_up_timeout_seconds} s"
                    )
                    if request.on_top_up_timeout == "revert" and workflow.patched(
                        REVERT_ON_TIMEOUT
                    ):
                        timed_out = True
                        self.top_up.request_revert(message)
                        continue
                    waited("timed_out")
                    raise ApplicationError(
                        message,
                        {"outstanding": self.top_up.outstanding},
                        type="TopUpTimeout",
                        non_retryable=True,
                    ) from None
                continue
            await self._run_steps(plan, part_steps(plan, part))
            self.top_up.written(part)
            self.payment_link = None  # its session yielded its one transaction
            self.step = "top-up"  # waiting again: the step awaited, not the last write
            self._publish()

    async def _revert(self, plan: Plan, reason: str) -> None:
        """Undo the amendment (`amendments/domain/revert.py`): one compensating draft, then the
        money, each write reconciled like every other."""
        self.status = "Reverting"
        self.step = "revert-draft"
        self._publish()
        revert = plan_revert(plan, self.top_up.paid, reason)
        self._log(f"reverting: {reason}")
        self.payment_link = None
        await self._run_steps(plan, revert_steps(plan, revert))
        await self._run_steps(plan, void_steps(plan, self.top_up.seen))

    # --- the steps ---------------------------------------------------------------------------

    async def _run_steps(self, plan: Plan, steps: Sequence[Step]) -> None:
        """Run a list of steps (`amendments/domain/steps.py`) in order: the plan decided them."""
        for step in steps:
            if isinstance(step, DraftStep):
                await self._draft(plan, step.lines, step.multiple_authorizations, step.prefix)
            elif isinstance(step, RecordStep):
                await self._record(plan, step.operation)
            else:
                await self._move(plan, step)

    async def _move(self, plan: Plan, step: MoveStep) -> None:
        """Money moved on the payment's transaction (`PAYMENTS=dintero-checkout`): a capture or
        refund under a reference a retried or reset write finds among the transaction's events;
        a void, which has none, found by the transaction's status."""
        assert self.request is not None
        if step.action == "void":
            paid_late = step.step.startswith("revert-void-")
            self.step = "revert-void" if paid_late else f"{step.step}-checkout"
            why = "paid after the revert" if paid_late else f"all it reserves released: {step.step}"
            await self._call(
                DinteroActivities.checkout_void,
                VoidInput(transaction_id=step.transaction_id),
                f"Void transaction {step.transaction_id} in Checkout ({why})",
            )
            return
        self.step = f"{step.step}-checkout"
        reference = ids.checkout_reference(
            workflow.info().workflow_id, self.request.amendment_id, step.step
        )
        move = MoveInput(
            transaction_id=step.transaction_id,
            amount=step.amount,
            reference=reference,
            reason=step.reason,
            reconcile=self.reconcile,
        )
        if step.action == "refund":
            await self._call(
                DinteroActivities.checkout_refund,
                move,
                f"Refund {step.amount} on transaction {step.transaction_id} in Checkout",
            )
        else:
            await self._call(
                DinteroActivities.checkout_capture,
                move,
                f"Capture {step.amount} on transaction {step.transaction_id} in Checkout",
            )

    async def _open_session(self, plan: Plan) -> None:
        self.sessions += 1
        self.step = "top-up-session"
        self.payment_link = await self._call(
            DinteroActivities.open_payment_session,
            SessionInput(
                order_id=plan.order_id,
                workflow_id=workflow.info().workflow_id,
                amendment_id=plan.amendment_id,
                number=self.sessions,
                amount=self.top_up.outstanding,
                currency=plan.currency,
            ),
            f"Open a payment session for {self.top_up.outstanding} {plan.currency}",
        )
        self.step = "top-up"
        self._publish()

    async def _record(self, plan: Plan, operation: PlannedOperation) -> None:
        self.step = operation.step
        recorded = await self._call(
            DinteroActivities.record_operation,
            RecordInput(
                order_id=plan.order_id,
                amendment_id=plan.amendment_id,
                operation=operation,
                reconcile=self.reconcile,
            ),
            f"{operation.kind.capitalize()} {operation.amount} on lines "
            f"{[i.line_id for i in operation.items]} ({operation.step})",
        )
        self.operations.append(recorded)
        self._publish()

    async def _call(
        self,
        method: Callable[[DinteroActivities, A], Awaitable[R]],
        arg: A,
        summary: str,
    ) -> R:
        self._log(summary)
        priority, self.priority = self.priority, UNDER_WAY
        return await workflow.execute_activity_method(
            method,
            arg,
            start_to_close_timeout=DINTERO_CALL.start_to_close,
            retry_policy=DINTERO_CALL.retry,
            summary=summary,
            priority=priority,
        )

    async def _read(
        self,
        method: Callable[[DinteroActivities, A], Awaitable[R]],
        arg: A,
        summary: str,
    ) -> R:
        """A read (safe to repeat): a local activity when the starter asked for it, with the
        local-read budget (`workflows/policies.py`: a blip is retried in the task); then, unless
        it was refused for good, the same read as a regular activity, so that an outage holds no
        workflow task, no worker slot and no stopping worker, and survives a worker restart."""
        if workflow.memo_value(LOCAL_READS, False) is not True:
            return await self._call(method, arg, summary)
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
            if not _retryable(exc):
                raise
            self._log(f"the read gave up in the workflow task ({_message(exc)}); queueing it")
        return await self._call(method, arg, summary)

    # --- signals, updates, query -----------------------------------------------------------

    @workflow.signal(name=OUTCOME)
    def on_outcome(self, *payload: Any) -> None:
        """At-least-once delivery: every signal is kept in `state`, malformed or late ones as
        `ignored` with the reason."""
        ticket = self.top_up.offer(single(payload), "signal")
        seen = self.top_up.answer(ticket)
        if seen is not None and seen.disposition == "ignored":
            workflow.logger.warning("%s signal ignored: %s", OUTCOME, seen.note)
        workflow.set_current_details(self._details())

    @workflow.signal(name=SESSION_ENDED)
    def on_session_ended(self, *payload: Any) -> None:
        """The customer left the payment session without paying (the receiver checked it with
        Checkout): the top-up wait opens a fresh one. Any other session is no news."""
        given = single(payload)
        session_id = given.get("session_id") if isinstance(given, dict) else None
        link = self.payment_link
        if link is not None and session_id == link.session_id:
            self._log(f"payment session {session_id} given up; opening another")
            self.payment_link = None

    def _top_up_news(self) -> bool:
        """What the top-up wait wakes up for: an outcome or a revert, or (Checkout) its payment
        session given up."""
        sessions = self.plan is not None and moves_money(self.plan)
        return self.top_up.has_work() or (sessions and self.payment_link is None)

    @workflow.update(name=OUTCOME)
    async def outcome_update(self, *payload: Any) -> OutcomeSeen:
        ticket = self.top_up.offer(single(payload), "update")
        await workflow.wait_condition(lambda: self.top_up.answer(ticket) is not None)
        seen = self.top_up.answer(ticket)
        assert seen is not None
        if seen.disposition == "failed":
            raise ApplicationError(seen.note, type="OutcomeNotRecorded", non_retryable=True)
        return seen

    @outcome_update.validator
    def _validate_outcome(self, *payload: Any) -> None:
        if self.status in ENDED:
            raise ValueError(f"the amendment is {self.status.lower()}; no top-up is outstanding")
        problem = self.top_up.refusal(single(payload))
        if problem is not None:
            raise ValueError(problem)

    @workflow.update(name=REVERT)
    async def revert(self, *payload: Any) -> AmendmentResult:
        """Undo a waiting amendment now; answers with the reverted result once it is done."""
        try:
            request = parse_input(payload, RevertRequest, "revert")
        except AmendmentRejected as exc:  # the validator refuses it first; kept for replays
            raise rejection(exc, "RevertRefused") from None
        taken = self.top_up.request_revert(f"reverted by an operator: {request.reason}")
        await workflow.wait_condition(lambda: self.status in ENDED)
        if self.result is not None and self.result.outcome == "reverted":
            return self.result
        why = "the top-up was covered first" if not taken else "the revert did not finish"
        raise ApplicationError(
            f"not reverted: {why}; the amendment is {self.status.lower()}"
            + (f" ({self.error})" if self.error else ""),
            type="RevertFailed",
            non_retryable=True,
        )

    @revert.validator
    def _validate_revert(self, *payload: Any) -> None:
        try:
            parse_input(payload, RevertRequest, "revert")
        except AmendmentRejected as exc:
            raise ValueError(str(exc)) from None
        if self.status in ENDED:
            raise ValueError(f"the amendment is {self.status.lower()}; there is nothing to revert")
        if self.top_up.revert_reason is not None:
            return  # a repeated revert joins the one under way
        if not self.top_up.collecting or self.status != "AwaitingTopUp":
            why = self.top_up.closed or f"it is {self.status.lower()}, step {self.step}"
            raise ValueError(f"only an amendment awaiting its top-up can be reverted: {why}")

    @workflow.query(name="state")
    def state(self) -> AmendmentState:
        request = self.request
        return AmendmentState(
            order_id=request.order_id if request else ids.order_id_of(workflow.info().workflow_id),
            amendment_id=request.amendment_id if request else "",
            status=self.status,
            step=self.step,
            plan=self.plan,
            operations=tuple(self.operations),
            top_up_outstanding=self.top_up_outstanding,
            outcomes=self.top_up.seen,
            error=self.error,
            revert_reason=self.top_up.revert_reason,
            payment_link=self.payment_link if self.status == "AwaitingTopUp" else None,
        )

    # --- helpers ---------------------------------------------------------------------------

    @property
    def top_up_outstanding(self) -> int:
        """What the customer still owes: nothing once the amendment is being reverted."""
        if self.plan is None or self.status in ("Reverting", "Reverted"):
            return 0
        return self.top_up.outstanding

    def _publish(self) -> None:
        """Refresh the UI's current details; upsert search attributes only when they change
        (each upsert is a history event)."""
        workflow.set_current_details(self._details())
        published = (self.status, self.top_up_outstanding)
        if published == self.published:
            return
        self.published = published
        if self.request is None:  # a refused raw start: searchable as Failed all the same
            workflow.upsert_search_attributes([AMENDMENT_STATUS.value_set(self.status)])
            return
        workflow.upsert_search_attributes(
            [
                ORDER_ID.value_set(self.request.order_id),
                AMENDMENT_ID.value_set(self.request.amendment_id),
                AMENDMENT_STATUS.value_set(self.status),
                TOP_UP_OUTSTANDING.value_set(self.top_up_outstanding),
            ]
        )

    def _started_with_attributes(self) -> bool:
        """Whether the start gave exactly the search attributes the first upsert would (the
        starter API and `amend start` do; a raw start may not)."""
        request = self.request
        if request is None or workflow.memo_value(ATTRIBUTES_AT_START, False) is not True:
            return False
        given = workflow.info().typed_search_attributes
        return (
            given.get(ORDER_ID) == request.order_id
            and given.get(AMENDMENT_ID) == request.amendment_id
            and given.get(AMENDMENT_STATUS) == self.status
            and given.get(TOP_UP_OUTSTANDING) == 0
        )

    def _details(self) -> str:
        return current_details(self.state())

    def _log(self, what: str) -> None:
        """One line per step; its fields also apart, for `LOG_FORMAT=json`."""
        order_id = self.request.order_id if self.request else None
        amendment_id = self.request.amendment_id if self.request else None
        workflow.logger.info(
            "order=%s amendment=%s step=%s: %s",
            order_id or "?",
            amendment_id or "?",
            self.step,
            what,
            extra={"order_id": order_id, "amendment_id": amendment_id, "step": self.step},
        )


def _ids(lines: tuple[PlannedLine, ...]) -> str:
    ids = [line.line_id for line in lines]
    return f"{ids[0]}-{ids[-1]}" if len(ids) > 1 else str(ids[0])


def _root(exc: BaseException) -> BaseException:
    """The error under the ActivityError wrappers."""
    while isinstance(exc, ActivityError) and exc.cause is not None:
        exc = exc.cause
    return exc


def _retryable(exc: FailureError) -> bool:
    """Whether an activity gave up on a time limit or on an error worth another attempt: not
    one Dintero, the planner or the ledger refused for good, nor a cancellation."""
    cause = _root(exc)
    if isinstance(cause, ApplicationError):
        return not cause.non_retryable
    return not isinstance(cause, CancelledError)


def _kind(exc: BaseException) -> str | None:
    cause = _root(exc)
    return cause.type if isinstance(cause, ApplicationError) else None


def _message(exc: BaseException) -> str:
    cause = _root(exc)
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause) or type(cause).__name__


def _failure(step: str, exc: BaseException) -> ApplicationError:
    """The workflow's failure: the root cause's type and message, with the step that failed."""
    cause = _root(exc)
    kind = (
        cause.type if isinstance(cause, ApplicationError) and cause.type else type(cause).__name__
    )
    details = cause.details if isinstance(cause, ApplicationError) else ()
    return ApplicationError(
        f"amendment failed at step {step}: {_message(exc)}",
        *details,
        type=kind,
        non_retryable=True,
    )
