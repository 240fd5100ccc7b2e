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
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import VersioningBehavior
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.dintero import DinteroActivities
    from activities.models import PlanRequest, VerifyInput
    from amendments import failures
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
        RevertRequest,
    )
    from amendments.domain.revert import plan_revert
    from amendments.domain.steps import part_steps, plan_steps, revert_steps, void_steps
    from amendments.domain.top_up import TopUpCollector, single
    from amendments.render import words
    from amendments.temporal import metrics
    from amendments.temporal.search_attributes import (
        AMENDMENT_FAILURE,
        AMENDMENT_ID,
        AMENDMENT_STATUS,
        DINTERO_ACCOUNT,
        ORDER_ID,
        TOP_UP_OUTSTANDING,
    )
    from workflows.inputs import parse_input, rejection
    from workflows.policies import BEGINNING
    from workflows.writes import Writes

# The starter's memo keys (`ids.ATTRIBUTES_AT_START`: the search attributes it gave at the start,
# so the first upsert, an Action, is left out; `ids.LOCAL_READS`: the two reads run as local
# activities) are memos, not `workflow.patched` ids: a patch upserts the `TemporalChangeVersion`
# search attribute and so costs the very Action the first saves. A run started without them
# keeps its old path, as its history says.


@workflow.defn(name=ids.AMEND_ORDER)
class AmendOrder:
    @workflow.init
    def __init__(self, *payload: Any) -> None:
        # The payload is decoded as plain JSON and validated here, never by the SDK's converter:
        # a bad input must fail the run, not the workflow task (which would retry forever).
        self.request: AmendOrderInput | None = None
        self.rejected: AmendmentRejected | None = None
        try:
            self.request = parse_input(payload, AmendOrderInput, ids.AMEND_ORDER)
        except AmendmentRejected as exc:
            self.rejected = exc
        self.status: AmendmentStatus = "Planning"
        self.plan: Plan | None = None
        self.writes = Writes(self._log, self._publish)
        self.top_up = TopUpCollector()
        self.error: str | None = None
        self.result: AmendmentResult | None = None
        self.published: tuple[str, int] | None = None
        self.payment_link: PaymentLink | None = None  # PAYMENTS=dintero-checkout
        self.sessions = 0
        self.failure: failures.Failure | None = None

    # --- the run ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, *payload: Any) -> AmendmentResult:
        if self.request is not None:
            self.rejected = self._wrong_workflow_id(self.request)
            if self.rejected is not None:
                self.request = None
        if self.request is None:
            assert self.rejected is not None
            self._end("Failed", f"input refused: {self.rejected}", failures.AMENDMENT_REJECTED)
            self._count("rejected")
            raise rejection(self.rejected, failures.AMENDMENT_REJECTED)
        if self._started_with_attributes():
            self.published = (self.status, 0)  # the start set them (free): no upsert (an Action)
        self._publish()
        try:
            result = await self._amend(self.request)
        except (ActivityError, ApplicationError) as exc:
            failure = failures.failure(failures.kind_of(exc))
            self._end("Failed", failures.message_of(exc), failure)
            self._count("rejected" if failure is failures.AMENDMENT_REJECTED else "failed")
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise failures.amendment_failed(self.writes.step, exc) from exc
        except asyncio.CancelledError:  # cancelled: still answer every message and handler
            self._end("Failed", "the amendment was cancelled", failures.CANCELLED)
            self._count("failed")
            raise
        self.result = result
        self._end("Reverted" if result.outcome == "reverted" else "Completed")
        self._count(result.outcome)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    def _count(self, outcome: metrics.Outcome) -> None:
        """The amendment's end in the metrics (nothing is recorded while a run replays its
        history); a replayed amendment (a reset run) is counted as a replay too."""
        elapsed = workflow.now() - workflow.info().start_time
        branch = metrics.branch_of(self.plan.branch if self.plan else None)
        metrics.amendment_finished(outcome, branch, elapsed.total_seconds(), self.account)
        if self.writes.reconcile:
            metrics.replay_finished(outcome)

    def _end(
        self,
        status: AmendmentStatus,
        error: str | None = None,
        failure: failures.Failure | None = None,
    ) -> None:
        """Every exit path: the status (and, failed, the failure type, searchable), and the
        collector closed (every ticket answered)."""
        self.status = status
        self.error = error
        self.failure = failure
        if error is None:
            self.writes.step = ids.DONE
        self.top_up.close(
            f"the amendment is {status.lower()}" + (f" ({error})" if error else ""),
            failed=error,
        )
        self._publish()

    async def _amend(self, request: AmendOrderInput) -> AmendmentResult:
        local = workflow.memo_value(ids.LOCAL_READS, False) is True
        # The input's account (None: the default, known once planned) from the first call on.
        self.writes.account_id = self.writes.fairness_key = request.account_id
        outcome = await self.writes.read(
            DinteroActivities.plan_amendment,
            PlanRequest(amendment=request),
            words.plan_read_summary(request.order_id),
            local,
        )
        info = workflow.info()
        # A reset run replays history up to the reset point with a new run id: from there on,
        # every write first looks for itself on the order (its earlier run may have landed it).
        self.writes.reconcile = info.run_id != info.original_execution_run_id
        decision = outcome.root
        if isinstance(decision, AlreadyApplied):
            self._log("already applied; nothing written")
            self.top_up.close("the amendment was already applied")
            return decision.result
        plan = self.plan = decision.plan
        # Every write goes to the account the plan was made on (a plan made before accounts
        # were named has none: the deployment's default), queued fairly by that account.
        self.writes.account_id = plan.account_id or request.account_id
        self.writes.fairness_key = self.account
        self.top_up.open(plan)
        self.status = "Applying"
        self._publish()

        await self.writes.run(plan, plan_steps(plan))
        revert_reason = None
        if plan.top_up_amount:
            revert_reason = await self._collect_top_up(request, plan)
        if revert_reason is not None:
            await self._revert(plan, revert_reason)

        self.writes.step = ids.VERIFY
        return await self.writes.read(
            DinteroActivities.verify_ledger,
            VerifyInput(
                order_id=plan.order_id,
                amendment_id=plan.amendment_id,
                refund_amount=plan.refund_amount,
                top_up_amount=plan.top_up_amount,
                outcome="applied" if revert_reason is None else "reverted",
                revert_reason=revert_reason,
                account_id=self.writes.account_id,
            ),
            words.verify_summary(plan.order_id),
            local,
        )

    async def _collect_top_up(self, request: AmendOrderInput, plan: Plan) -> str | None:
        """Take outcomes until covered (None) or until the amendment is to be reverted (the
        reason). A timeout with `on_top_up_timeout: "fail"` raises `TopUpTimeout`."""
        self.status = "AwaitingTopUp"
        self.writes.step = ids.TOP_UP
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
            if part is None and self.top_up.session_wanted(self.payment_link is not None):
                self.sessions += 1
                self.payment_link = await self.writes.open_session(
                    plan, self.sessions, self.top_up.outstanding
                )
                self._publish()
                continue
            if part is None:
                left = (deadline - workflow.now()).total_seconds()
                if left <= 0 and self.writes.reconcile and not renewed:
                    # A replayed amendment whose wait had expired waits again, in full, once.
                    renewed = True
                    deadline = workflow.now() + timeout
                    left = timeout.total_seconds()
                try:
                    if left <= 0:
                        raise TimeoutError
                    self.writes.priority = BEGINNING  # what follows a wait begins anew
                    await workflow.wait_condition(self._top_up_news, timeout=left)
                except TimeoutError:
                    message = words.top_up_timed_out(
                        self.top_up.outstanding, plan, request.top_up_timeout_seconds
                    )
                    if request.on_top_up_timeout == "revert" and workflow.patched(
                        ids.REVERT_ON_TIMEOUT
                    ):
                        timed_out = True
                        self.top_up.request_revert(message)
                        continue
                    waited("timed_out")
                    raise failures.TOP_UP_TIMEOUT.error(
                        message, {"outstanding": self.top_up.outstanding}
                    ) from None
                continue
            await self.writes.run(plan, part_steps(plan, part))
            self.top_up.written(part)
            self.payment_link = None  # its session yielded its one transaction
            self.writes.step = ids.TOP_UP  # waiting again: the step awaited, not the last write
            self._publish()

    async def _revert(self, plan: Plan, reason: str) -> None:
        """Undo the amendment (`amendments/domain/revert.py`): one compensating draft, then the
        money, each write reconciled like every other."""
        self.status = "Reverting"
        self.writes.step = ids.REVERT_DRAFT
        self._publish()
        revert = plan_revert(plan, self.top_up.paid, reason)
        self._log(f"reverting: {reason}")
        self.payment_link = None
        await self.writes.run(plan, revert_steps(plan, revert))
        await self.writes.run(plan, void_steps(plan, self.top_up.seen))

    # --- signals, updates, query -----------------------------------------------------------

    @workflow.signal(name=ids.OUTCOME)
    def on_outcome(self, *payload: Any) -> None:
        """At-least-once delivery: every signal is kept in `state`, malformed or late ones as
        `ignored` with the reason."""
        ticket = self.top_up.offer(single(payload), "signal")
        seen = self.top_up.answer(ticket)
        if seen is not None and seen.disposition == "ignored":
            workflow.logger.warning("%s signal ignored: %s", ids.OUTCOME, seen.note)
        workflow.set_current_details(self._details())

    @workflow.signal(name=ids.SESSION_ENDED)
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
        return self.top_up.has_work(session_open=self.payment_link is not None)

    @workflow.update(name=ids.OUTCOME)
    async def outcome_update(self, *payload: Any) -> OutcomeSeen:
        ticket = self.top_up.offer(single(payload), "update")
        await workflow.wait_condition(lambda: self.top_up.answer(ticket) is not None)
        seen = self.top_up.answer(ticket)
        assert seen is not None
        if seen.disposition == "failed":
            raise failures.OUTCOME_NOT_RECORDED.error(seen.note)
        return seen

    @outcome_update.validator
    def _validate_outcome(self, *payload: Any) -> None:
        if self.status in ENDED:
            problem: str | None = (
                f"the amendment is {self.status.lower()}; no top-up is outstanding"
            )
        else:
            problem = self.top_up.refusal(single(payload))
        if problem is not None:
            raise failures.OUTCOME_REFUSED.error(problem)

    @workflow.update(name=ids.REVERT)
    async def revert(self, *payload: Any) -> AmendmentResult:
        """Undo a waiting amendment now; answers with the reverted result once it is done."""
        try:
            request = parse_input(payload, RevertRequest, ids.REVERT)
        except AmendmentRejected as exc:  # the validator refuses it first; kept for replays
            raise rejection(exc, failures.REVERT_REFUSED) from None
        taken = self.top_up.request_revert(f"reverted by an operator: {request.reason}")
        await workflow.wait_condition(lambda: self.status in ENDED)
        if self.result is not None and self.result.outcome == "reverted":
            return self.result
        why = "the top-up was covered first" if not taken else "the revert did not finish"
        raise failures.REVERT_FAILED.error(
            f"not reverted: {why}; the amendment is {self.status.lower()}"
            + (f" ({self.error})" if self.error else "")
        )

    @revert.validator
    def _validate_revert(self, *payload: Any) -> None:
        try:
            parse_input(payload, RevertRequest, ids.REVERT)
        except AmendmentRejected as exc:
            raise rejection(exc, failures.REVERT_REFUSED) from None
        if self.status in ENDED:
            raise failures.REVERT_REFUSED.error(
                f"the amendment is {self.status.lower()}; there is nothing to revert"
            )
        if self.top_up.revert_reason is not None:
            return  # a repeated revert joins the one under way
        if not self.top_up.collecting or self.status != "AwaitingTopUp":
            why = self.top_up.closed or f"it is {self.status.lower()}, step {self.writes.step}"
            raise failures.REVERT_REFUSED.error(
                f"only an amendment awaiting its top-up can be reverted: {why}"
            )

    @workflow.query(name=ids.STATE)
    def state(self) -> AmendmentState:
        request = self.request
        return AmendmentState(
            order_id=request.order_id if request else ids.order_id_of(workflow.info().workflow_id),
            amendment_id=request.amendment_id if request else "",
            status=self.status,
            step=self.writes.step,
            plan=self.plan,
            operations=tuple(self.writes.operations),
            top_up_outstanding=self.top_up_outstanding,
            outcomes=self.top_up.seen,
            error=self.error,
            revert_reason=self.top_up.revert_reason,
            payment_link=self.payment_link if self.status == "AwaitingTopUp" else None,
        )

    # --- helpers ---------------------------------------------------------------------------

    @property
    def account(self) -> str | None:
        """The amendment's Dintero account: the input's, or as planned (the default's)."""
        planned = self.plan.account_id if self.plan is not None else None
        return planned or (self.request.account_id if self.request is not None else None)

    def _wrong_workflow_id(self, request: AmendOrderInput) -> AmendmentRejected | None:
        """An amendment runs as `amend-{order_id}` (`amend-{account_id}-{order_id}` when it
        names its account): one at a time per order; a start under another id is refused."""
        given, expected = workflow.info().workflow_id, request.workflow_id
        if given == expected:
            return None
        field = "account_id" if given == ids.workflow_id(request.order_id) else "order_id"
        return AmendmentRejected(
            field, f"the amendment of this order runs as {expected}, not as {given}"
        )

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
        # A failed amendment is searchable by its failure type (`amend replay --failed --failure`).
        failed = [AMENDMENT_FAILURE.value_set(self.failure.name)] if self.failure else []
        if self.request is None:  # a refused raw start: searchable as Failed all the same
            workflow.upsert_search_attributes([AMENDMENT_STATUS.value_set(self.status), *failed])
            return
        # The account is searchable once known (`amend list --account`): at once when the input
        # names it, else from the plan (the deployment's default).
        account = [DINTERO_ACCOUNT.value_set(self.account)] if self.account else []
        workflow.upsert_search_attributes(
            [
                ORDER_ID.value_set(self.request.order_id),
                AMENDMENT_ID.value_set(self.request.amendment_id),
                AMENDMENT_STATUS.value_set(self.status),
                TOP_UP_OUTSTANDING.value_set(self.top_up_outstanding),
                *account,
                *failed,
            ]
        )

    def _started_with_attributes(self) -> bool:
        """Whether the start gave exactly the search attributes the first upsert would (the
        starter API and `amend start` do; a raw start may not)."""
        request = self.request
        if request is None or workflow.memo_value(ids.ATTRIBUTES_AT_START, False) is not True:
            return False
        given = workflow.info().typed_search_attributes
        return (
            given.get(ORDER_ID) == request.order_id
            and given.get(AMENDMENT_ID) == request.amendment_id
            and given.get(AMENDMENT_STATUS) == self.status
            and given.get(TOP_UP_OUTSTANDING) == 0
            and given.get(DINTERO_ACCOUNT) == request.account_id
        )

    def _details(self) -> str:
        return words.current_details(self.state())

    def _log(self, what: str) -> None:
        """One line per step; its fields also apart, for `LOG_FORMAT=json`."""
        order_id = self.request.order_id if self.request else None
        amendment_id = self.request.amendment_id if self.request else None
        step = self.writes.step
        workflow.logger.info(
            "order=%s amendment=%s step=%s: %s",
            order_id or "?",
            amendment_id or "?",
            step,
            what,
            extra={"order_id": order_id, "amendment_id": amendment_id, "step": step},
        )


# On a versioned worker (TEMPORAL_WORKER_BUILD_ID set) the same workflow declares its versioning
# behavior, which the server refuses from an unversioned one. Auto-upgrade: an amendment waits
# days for its top-up, so at its next workflow task it moves to the version current then, rather
# than holding its own version's workers for days; the price is that each release replays what
# is in flight (`workflow.patched` for every change, the stored histories in the tests, and
# `amend deploy check` against the cluster before a release).
@workflow.defn(name=ids.AMEND_ORDER, versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class VersionedAmendOrder(AmendOrder):
    @workflow.run
    async def run(self, *payload: Any) -> AmendmentResult:
        return await super().run(*payload)
