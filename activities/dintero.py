"""The product's activities: thin Temporal adapters over the Dintero client.

Each method does one Dintero call (or one read for planning and verification), translates
`DinteroError` to `ApplicationError` (type = the error class, non_retryable from the client,
next_retry_delay from Retry-After) and makes its write safe to repeat: on a retried attempt,
or in a reset run (`reconcile`), it first looks for the write's markers on the order and returns
what it finds instead of writing again. The happy path makes no extra reads.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import NoReturn

from temporalio import activity

from activities.models import (
    CompleteDraftInput,
    DraftRef,
    MoveInput,
    NewDraftInput,
    PlanRequest,
    RecordInput,
    SessionInput,
    VerifyInput,
    VoidInput,
)
from amendments import failures
from amendments.dintero import DinteroClient
from amendments.dintero.convert import wire_line
from amendments.dintero.errors import DinteroError
from amendments.dintero.models import (
    DraftOptions,
    DraftOrder,
    DraftOrderBody,
    DraftOrderCreate,
    PaymentDetails,
    PaymentOperationCreate,
)
from amendments.dintero.models import OperationItem as WireItem
from amendments.domain import ids
from amendments.domain.errors import AmendmentPartlyApplied, AmendmentRejected, LedgerViolation
from amendments.domain.ledger import check_ledger, result_of
from amendments.domain.models import (
    AmendmentResult,
    PaymentLink,
    Planned,
    PlannedLine,
    PlanOutcome,
    RecordedOperation,
)
from amendments.domain.order import OrderSnapshot
from amendments.domain.planner import decide
from amendments.payments.accounts import Directory, OneAccount
from amendments.payments.port import Moved, Payments, PaymentsRefused
from amendments.temporal import metrics


def _fail(exc: DinteroError) -> NoReturn:
    """Dintero's answer as the activity's failure: its class's registered type (retried or not,
    as the client says), after its `Retry-After` when it gave one."""
    delay = timedelta(seconds=exc.retry_after) if exc.retry_after is not None else None
    raise failures.failure(exc.type_name).error(
        exc.message, {"status": exc.status, "code": exc.code}, next_retry_delay=delay
    ) from exc


def _reject(exc: AmendmentRejected) -> NoReturn:
    raise failures.AMENDMENT_REJECTED.error(str(exc), exc.details()) from exc


def _retrying(reconcile: bool) -> bool:
    return reconcile or activity.info().attempt > 1


def _same_lines(draft: DraftOrder, lines: tuple[PlannedLine, ...]) -> bool:
    wanted = [wire_line(line).model_dump(exclude_none=True) for line in lines]
    have = [item.model_dump(exclude_none=True) for item in draft.order.items]
    return have == wanted


class DinteroActivities:
    """All activities, sharing the worker's Dintero clients (one `httpx.AsyncClient` per
    account) and payments adapters (`amendments/payments/port.py`; record-only moves nothing):
    one account's (a `DinteroClient`), or each account's (`amendments/payments/accounts.py`).
    Every input names its account (None: the deployment's default)."""

    def __init__(
        self, dintero: DinteroClient | Directory, payments: Payments | None = None
    ) -> None:
        self.directory: Directory = (
            OneAccount(dintero, payments) if isinstance(dintero, DinteroClient) else dintero
        )

    def client(self, account_id: str | None) -> DinteroClient:
        """The account's Orders client; an account this deployment does not serve (or cannot
        reach) refuses the amendment before any call."""
        try:
            return self.directory.orders(account_id)
        except AmendmentRejected as exc:
            _reject(exc)

    def payments(self, account_id: str | None) -> Payments:
        try:
            return self.directory.payments(account_id)
        except AmendmentRejected as exc:
            _reject(exc)

    async def _read(self, order_id: str, account_id: str | None) -> OrderSnapshot:
        try:
            return await self.client(account_id).read_order(order_id)
        except DinteroError as exc:
            _fail(exc)

    @activity.defn(name="plan_amendment")
    async def plan_amendment(self, request: PlanRequest) -> PlanOutcome:
        """Read the order and let the planner decide: the plan, or the amendment already on it.
        The plan names the account it was made on, so every later write goes there."""
        account_id = request.amendment.account_id
        client = self.client(account_id)
        try:
            order = await client.order_to_plan(request.amendment.order_id)
        except AmendmentRejected as exc:
            _reject(exc)
        except DinteroError as exc:
            _fail(exc)
        try:
            # The plan says who moves its money: this worker's payments adapter.
            decision = decide(order, request.amendment, self.payments(account_id).mode)
        except AmendmentRejected as exc:
            _reject(exc)
        except AmendmentPartlyApplied as exc:
            raise failures.AMENDMENT_PARTLY_APPLIED.error(
                f"{exc}; {failures.resume_with(exc.workflow_id)}"
            ) from exc
        if isinstance(decision, Planned):
            plan = decision.plan.model_copy(update={"account_id": client.account_id})
            decision = decision.model_copy(update={"plan": plan})
        return PlanOutcome(decision)

    @activity.defn(name="create_draft")
    async def create_draft(self, request: NewDraftInput) -> DraftRef:
        """Create the draft (linked to the order, or a new order); on retry, find it first."""
        try:
            if _retrying(request.reconcile):
                found = await self._find_draft(request)
                if found is not None:
                    metrics.write_reconciled("draft")
                    return found
            body = DraftOrderCreate(
                options=DraftOptions(
                    order_id=request.order_id,
                    generate_order_id=None if request.order_id else "ALPHANUMERIC_9_RESERVE",
                    multiple_authorizations=request.multiple_authorizations or None,
                ),
                order=DraftOrderBody(
                    currency=request.currency, items=[wire_line(line) for line in request.lines]
                ),
            )
            draft = await self.client(request.account_id).create_draft(body)
        except DinteroError as exc:
            _fail(exc)
        return DraftRef(draft_id=draft.id, order_id=draft.order_id or request.order_id)

    async def _find_draft(self, request: NewDraftInput) -> DraftRef | None:
        client = self.client(request.account_id)
        if request.order_id is not None:
            order = await client.get_order(request.order_id)
            on_order = {item.line_id for item in order.items}
            if all(line.line_id in on_order for line in request.lines):
                return DraftRef(draft_id=None, order_id=request.order_id, completed=True)
        for draft in await client.list_drafts(status="open"):
            if draft.options.order_id == request.order_id and _same_lines(draft, request.lines):
                return DraftRef(
                    draft_id=draft.id,
                    order_id=draft.order_id or request.order_id,
                    reconciled=True,
                )
        return None

    @activity.defn(name="complete_draft")
    async def complete_draft(self, request: CompleteDraftInput) -> DraftRef:
        """Complete the draft; on retry, a draft whose lines are on the order is done."""
        client = self.client(request.account_id)
        try:
            if _retrying(request.reconcile):
                draft = await client.get_draft(request.draft_id)
                if draft.status == "completed":
                    metrics.write_reconciled("completion")
                    return DraftRef(
                        draft_id=draft.id,
                        order_id=request.order_id,
                        completed=True,
                        reconciled=True,
                    )
            [order] = await client.complete_draft(request.draft_id)
        except DinteroError as exc:
            _fail(exc)
        return DraftRef(draft_id=request.draft_id, order_id=order.order_id, completed=True)

    @activity.defn(name="record_operation")
    async def record_operation(self, request: RecordInput) -> RecordedOperation:
        """Record one authorization, capture or refund; on retry, find it by its markers first."""
        op = request.operation
        metadata = ids.record_metadata(request.amendment_id, op.step)
        client = self.client(request.account_id)
        try:
            found = None
            if _retrying(request.reconcile):
                records = await client.list_records(op.kind, request.order_id)
                found = next((r for r in records if r.metadata == metadata), None)
                if found is not None:
                    metrics.write_reconciled(op.kind)
            record = found or await client.record(
                op.kind,
                request.order_id,
                PaymentOperationCreate(
                    items=[WireItem(line_id=i.line_id, amount=i.amount) for i in op.items],
                    payment_details=PaymentDetails(payment_id=op.payment_id),
                    success=op.success,
                    authorization_id=op.authorization_id,
                    metadata=metadata,
                ),
            )
        except DinteroError as exc:
            _fail(exc)
        return RecordedOperation(
            step=op.step,
            kind=op.kind,
            record_id=record.id,
            amount=record.amount,
            payment_id=op.payment_id,
            success=record.success,
            reconciled=found is not None,
        )

    @activity.defn(name="verify_ledger")
    async def verify_ledger(self, request: VerifyInput) -> AmendmentResult:
        """Re-read the order and check every money invariant; the result is the per-line ledger."""
        order = await self._read(request.order_id, request.account_id)
        try:
            check_ledger(order)
        except LedgerViolation as exc:
            raise failures.LEDGER_VIOLATION.error(
                f"ledger check failed after amendment {request.amendment_id}: {exc}",
                {"problems": exc.problems},
            ) from exc
        return result_of(
            order,
            request.amendment_id,
            refund_amount=request.refund_amount,
            top_up_amount=request.top_up_amount,
            outcome=request.outcome,
            revert_reason=request.revert_reason,
        )

    # --- money movements (PAYMENTS=dintero-checkout only) ----------------------------------

    @activity.defn(name="open_payment_session")
    async def open_payment_session(self, request: SessionInput) -> PaymentLink:
        """A payment session (the customer's link) for the outstanding top-up."""
        try:
            return await self.payments(request.account_id).open_session(
                reference=ids.merchant_reference(
                    request.workflow_id, request.amendment_id, request.number
                ),
                amount=request.amount,
                currency=request.currency,
                order_id=request.order_id,
            )
        except DinteroError as exc:
            _fail(exc)
        except PaymentsRefused as exc:
            _refused(exc)

    @activity.defn(name="checkout_capture")
    async def checkout_capture(self, request: MoveInput) -> Moved:
        """Capture an authorized top-up transaction; on retry, find the capture first."""
        return await self._move(
            "checkout_capture",
            self.payments(request.account_id).capture(
                request.transaction_id,
                request.amount,
                request.reference,
                reconcile=_retrying(request.reconcile),
            ),
        )

    @activity.defn(name="checkout_refund")
    async def checkout_refund(self, request: MoveInput) -> Moved:
        """Refund on a transaction (the original payment, or a top-up at revert); on retry,
        find the refund first."""
        return await self._move(
            "checkout_refund",
            self.payments(request.account_id).refund(
                request.transaction_id,
                request.amount,
                request.reference,
                request.reason,
                reconcile=_retrying(request.reconcile),
            ),
        )

    @staticmethod
    async def _move(kind: str, moving: Awaitable[Moved]) -> Moved:
        """A money movement's errors as activity failures; a write found already made is
        counted as reconciled."""
        try:
            moved = await moving
        except DinteroError as exc:
            _fail(exc)
        except PaymentsRefused as exc:
            _refused(exc)
        if moved.reconciled:
            metrics.write_reconciled(kind)
        return moved

    @activity.defn(name="checkout_void")
    async def checkout_void(self, request: VoidInput) -> Moved | None:
        """Void an authorization nothing was captured on (nothing when there is none)."""
        try:
            return await self.payments(request.account_id).void(request.transaction_id)
        except DinteroError as exc:
            _fail(exc)
        except PaymentsRefused as exc:
            _refused(exc)


def _refused(exc: PaymentsRefused) -> NoReturn:
    raise failures.PAYMENTS_REFUSED.error(str(exc)) from exc
