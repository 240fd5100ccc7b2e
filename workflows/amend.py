"""`AmendOrder`: the guide's steps 3-6 for one amendment, as a deterministic Temporal workflow.

It plans through an activity (the planner is pure, but planning needs the order), then follows
the plan: draft, complete, reversal authorization and capture, covered authorization and
capture, refund; for a top-up it waits for `authorization_outcome` signals or updates until the
outstanding amount is covered or `top_up_timeout_seconds` pass; finally it re-reads the order
and runs the ledger checks. It decides no amounts itself. In a reset run (how failed amendments
are replayed) every write reconciles first, so nothing is written twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.dintero import DinteroActivities
    from activities.models import (
        CompleteDraftInput,
        NewDraftInput,
        PlanRequest,
        RecordInput,
        VerifyInput,
    )
    from amendments.domain.models import (
        AmendmentResult,
        AmendmentState,
        AmendmentStatus,
        AmendOrderInput,
        AuthorizationOutcome,
        OutcomeSeen,
        Plan,
        PlannedOperation,
        RecordedOperation,
        Share,
    )
    from amendments.domain.planner import after, outcome_problem, top_up_records
    from amendments.temporal import (
        AMENDMENT_ID,
        AMENDMENT_STATUS,
        ORDER_ID,
        TOP_UP_OUTSTANDING,
    )
    from workflows.policies import PLAN, VERIFY, WRITE, CallPolicy

OUTCOME = "authorization_outcome"
A = TypeVar("A")
R = TypeVar("R")


@workflow.defn(name="AmendOrder")
class AmendOrder:
    @workflow.init
    def __init__(self, request: AmendOrderInput) -> None:
        self.request = request
        self.status: AmendmentStatus = "Planning"
        self.step = "planning"
        self.plan: Plan | None = None
        self.operations: list[RecordedOperation] = []
        self.outstanding: tuple[Share, ...] = ()
        self.queue: list[tuple[int, AuthorizationOutcome]] = []
        self.seen: dict[int, OutcomeSeen] = {}
        self.succeeded: set[str] = set()
        self.tickets = 0
        self.error: str | None = None
        self.reconcile = False
        self.published: tuple[str, int] | None = None

    # --- the run ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: AmendOrderInput) -> AmendmentResult:
        self._publish()
        try:
            result = await self._amend(request)
        except (TimeoutError, ActivityError, ApplicationError) as exc:
            self.status = "Failed"
            self.error = _message(exc)
            self._publish()
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise _failure(self.step, exc) from exc
        self.status = "Completed"
        self.step = "done"
        self._publish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _amend(self, request: AmendOrderInput) -> AmendmentResult:
        outcome = await self._call(
            DinteroActivities.plan_amendment,
            PlanRequest(amendment=request),
            PLAN,
            f"Read order {request.order_id} and plan",
        )
        info = workflow.info()
        # A reset run replays history up to the reset point with a new run id: from there on,
        # every write first looks for itself on the order (its earlier run may have landed it).
        self.reconcile = info.run_id != info.original_execution_run_id
        if outcome.already_applied is not None:
            self._log("already applied; nothing written")
            return outcome.already_applied
        assert outcome.plan is not None
        plan = self.plan = outcome.plan
        self.outstanding = plan.top_up_shares
        self.status = "Applying"
        self._publish()

        self.step = "draft"
        draft = await self._call(
            DinteroActivities.create_draft,
            NewDraftInput(
                order_id=plan.order_id,
                currency=plan.currency,
                lines=plan.lines,
                multiple_authorizations=plan.multiple_authorizations,
                reconcile=self.reconcile,
            ),
            WRITE,
            f"Draft lines {_ids(plan)} on order {plan.order_id}",
        )
        if not draft.completed:
            assert draft.draft_id is not None
            self.step = "complete"
            await self._call(
                DinteroActivities.complete_draft,
                CompleteDraftInput(
                    draft_id=draft.draft_id, order_id=plan.order_id, reconcile=self.reconcile
                ),
                WRITE,
                f"Complete draft {draft.draft_id}",
            )
        for operation in plan.operations:
            await self._record(plan, operation)
        if plan.top_up_amount:
            await self._collect_top_up(request, plan)

        self.step = "verify"
        return await self._call(
            DinteroActivities.verify_ledger,
            VerifyInput(
                order_id=plan.order_id,
                amendment_id=plan.amendment_id,
                refund_amount=plan.refund_amount,
                top_up_amount=plan.top_up_amount,
            ),
            VERIFY,
            f"Re-read order {plan.order_id} and check the ledger",
        )

    async def _collect_top_up(self, request: AmendOrderInput, plan: Plan) -> None:
        self.status = "AwaitingTopUp"
        self.step = "top-up"
        self._publish()
        deadline = workflow.now() + timedelta(seconds=request.top_up_timeout_seconds)
        number = 0
        while self.top_up_outstanding > 0:
            left = (deadline - workflow.now()).total_seconds()
            try:
                if left <= 0:
                    raise TimeoutError
                await workflow.wait_condition(lambda: bool(self.queue), timeout=left)
            except TimeoutError:
                raise ApplicationError(
                    f"top-up not covered: {self.top_up_outstanding} {plan.currency} still "
                    f"outstanding on order {plan.order_id} after "
                    f"{request.top_up_timeout_seconds} s",
                    {"outstanding": self.top_up_outstanding},
                    type="TopUpTimeout",
                    non_retryable=True,
                ) from None
            ticket, outcome = self.queue.pop(0)
            if outcome.success and outcome.payment_id in self.succeeded:
                self.seen[ticket] = _seen(outcome, "duplicate", "already recorded as a success")
                continue
            problem = outcome_problem(outcome, self.top_up_outstanding)
            if problem is not None:
                self.seen[ticket] = _seen(outcome, "ignored", problem)
                workflow.logger.warning("ignored %s: %s", OUTCOME, problem)
                continue
            number += 1
            authorization, capture = top_up_records(plan, self.outstanding, outcome, number)
            await self._record(plan, authorization)
            if capture is not None:
                await self._record(plan, capture)
                self.outstanding = after(self.outstanding, capture.items)
                self.succeeded.add(outcome.payment_id)
            self.seen[ticket] = _seen(outcome, "recorded")
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
            WRITE,
            f"{operation.kind.capitalize()} {operation.amount} on lines "
            f"{[i.line_id for i in operation.items]} ({operation.step})",
        )
        self.operations.append(recorded)
        self._publish()

    async def _call(
        self,
        method: Callable[[DinteroActivities, A], Awaitable[R]],
        arg: A,
        policy: CallPolicy,
        summary: str,
    ) -> R:
        self._log(summary)
        return await workflow.execute_activity_method(
            method,
            arg,
            start_to_close_timeout=policy.start_to_close,
            retry_policy=policy.retry,
            summary=summary,
        )

    # --- signal, update, query -------------------------------------------------------------

    @workflow.signal(name=OUTCOME)
    def on_outcome(self, outcome: AuthorizationOutcome) -> None:
        """At-least-once delivery: queued; checked and de-duplicated when taken."""
        if self.status in ("Completed", "Failed"):
            workflow.logger.warning("%s after the amendment ended: ignored", OUTCOME)
            return
        self._enqueue(outcome)

    @workflow.update(name=OUTCOME)
    async def outcome_update(self, outcome: AuthorizationOutcome) -> OutcomeSeen:
        ticket = self._enqueue(outcome)
        await workflow.wait_condition(lambda: ticket in self.seen)
        return self.seen[ticket]

    @outcome_update.validator
    def _validate_outcome(self, outcome: AuthorizationOutcome) -> None:
        if self.status in ("Completed", "Failed"):
            raise ValueError(f"the amendment is {self.status.lower()}; no top-up is outstanding")
        if self.plan is None:
            raise ValueError("the amendment is still being planned; send the outcome again shortly")
        if not self.plan.top_up_amount:
            raise ValueError("this amendment has no top-up")
        if outcome.success and outcome.payment_id in self.succeeded:
            return  # a duplicate: accepted, and answered as such
        pending = sum(o.amount for _, o in self.queue if o.success)
        problem = outcome_problem(outcome, self.top_up_outstanding - pending)
        if problem is not None:
            raise ValueError(problem)

    @workflow.query(name="state")
    def state(self) -> AmendmentState:
        return AmendmentState(
            order_id=self.request.order_id,
            amendment_id=self.request.amendment_id,
            status=self.status,
            step=self.step,
            plan=self.plan,
            operations=tuple(self.operations),
            top_up_outstanding=self.top_up_outstanding,
            outcomes=tuple(self.seen[t] for t in sorted(self.seen)),
            error=self.error,
        )

    # --- helpers ---------------------------------------------------------------------------

    @property
    def top_up_outstanding(self) -> int:
        return sum(share.amount for share in self.outstanding)

    def _enqueue(self, outcome: AuthorizationOutcome) -> int:
        self.tickets += 1
        self.queue.append((self.tickets, outcome))
        return self.tickets

    def _publish(self) -> None:
        """Refresh the UI's current details; upsert search attributes only when they change
        (each upsert is a history event)."""
        workflow.set_current_details(self._details())
        published = (self.status, self.top_up_outstanding)
        if published == self.published:
            return
        self.published = published
        workflow.upsert_search_attributes(
            [
                ORDER_ID.value_set(self.request.order_id),
                AMENDMENT_ID.value_set(self.request.amendment_id),
                AMENDMENT_STATUS.value_set(self.status),
                TOP_UP_OUTSTANDING.value_set(self.top_up_outstanding),
            ]
        )

    def _details(self) -> str:
        """The UI's current details: a short Markdown step ledger."""
        currency = self.plan.currency if self.plan else ""
        rows = [f"**{self.status}** · step `{self.step}`", ""]
        if self.error:
            rows += [f"> {self.error}", ""]
        rows += [
            f"- {op.step}{'' if op.success else ' (declined)'}: **{op.amount}** "
            f"`{op.record_id[:8]}`{' (found, not rewritten)' if op.reconciled else ''}"
            for op in self.operations
        ]
        if self.plan is not None and self.plan.top_up_amount:
            rows += ["", f"Top-up outstanding: **{self.top_up_outstanding} {currency}**"]
        return "\n".join(rows)

    def _log(self, what: str) -> None:
        workflow.logger.info(
            "order=%s amendment=%s step=%s: %s",
            self.request.order_id,
            self.request.amendment_id,
            self.step,
            what,
        )


def _ids(plan: Plan) -> str:
    ids = plan.line_ids
    return f"{ids[0]}-{ids[-1]}" if len(ids) > 1 else str(ids[0])


def _seen(outcome: AuthorizationOutcome, disposition: str, note: str = "") -> OutcomeSeen:
    return OutcomeSeen.model_validate(
        {**outcome.model_dump(), "disposition": disposition, "note": note}
    )


def _root(exc: BaseException) -> BaseException:
    """The error under the ActivityError wrappers."""
    while isinstance(exc, ActivityError) and exc.cause is not None:
        exc = exc.cause
    return exc


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
