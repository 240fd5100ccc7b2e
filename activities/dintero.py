"""The product's activities: thin Temporal adapters over the Dintero client.

Each method does one Dintero call (or one read for planning and verification), translates
`DinteroError` to `ApplicationError` (type = the error class, non_retryable from the client,
next_retry_delay from Retry-After) and makes its write safe to repeat: on a retried attempt,
or in a reset run (`reconcile`), it first looks for the write's markers on the order and returns
what it finds instead of writing again. The happy path makes no extra reads.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.models import (
    CompleteDraftInput,
    DraftRef,
    NewDraftInput,
    PlanOutcome,
    PlanRequest,
    RecordInput,
    VerifyInput,
)
from amendments.dintero import DinteroClient
from amendments.dintero.errors import DinteroError, NotFound
from amendments.dintero.models import (
    DraftOptions,
    DraftOrder,
    DraftOrderBody,
    DraftOrderCreate,
    OrderItem,
    PaymentDetails,
    PaymentOperationCreate,
    RelatedItem,
)
from amendments.dintero.models import OperationItem as WireItem
from amendments.dintero.models import TaxLine as WireTax
from amendments.domain.errors import AmendmentRejected, LedgerViolation
from amendments.domain.ledger import check_ledger, ledger_problems, result_of
from amendments.domain.models import (
    AmendmentResult,
    AmendOrderInput,
    Plan,
    PlannedLine,
    RecordedOperation,
)
from amendments.domain.order import OrderSnapshot
from amendments.domain.planner import plan_amendment, records_of


def _fail(exc: DinteroError) -> NoReturn:
    delay = timedelta(seconds=exc.retry_after) if exc.retry_after is not None else None
    raise ApplicationError(
        exc.message,
        {"status": exc.status, "code": exc.code},
        type=exc.type_name,
        non_retryable=not exc.retryable,
        next_retry_delay=delay,
    ) from None


def _reject(exc: AmendmentRejected) -> NoReturn:
    raise ApplicationError(
        str(exc), exc.details(), type="AmendmentRejected", non_retryable=True
    ) from None


def _retrying(reconcile: bool) -> bool:
    return reconcile or activity.info().attempt > 1


def wire_line(line: PlannedLine) -> OrderItem:
    return OrderItem(
        id=line.product_id,
        line_id=line.line_id,
        quantity=line.quantity,
        gross_amount=line.gross_amount,
        tax_lines=[WireTax(amount=t.amount, percentage=t.percentage) for t in line.tax_lines],
        description=line.description,
        description_alias=line.description_alias,
        reversed_reason=line.reversed_reason,
        related_item=RelatedItem(line_id=line.reverses) if line.reverses is not None else None,
    )


def _same_lines(draft: DraftOrder, lines: tuple[PlannedLine, ...]) -> bool:
    wanted = [wire_line(line).model_dump(exclude_none=True) for line in lines]
    have = [item.model_dump(exclude_none=True) for item in draft.order.items]
    return have == wanted


async def read_for_planning(client: DinteroClient, order_id: str) -> OrderSnapshot:
    """The order to plan against; an unknown order is a refusal naming `order_id`."""
    try:
        return await client.read_order(order_id)
    except NotFound:
        raise AmendmentRejected(
            "order_id", f"order {order_id} was not found on Dintero account {client.account_id}"
        ) from None


async def plan_against(client: DinteroClient, request: AmendOrderInput) -> Plan:
    """A dry run: read the live order and plan; writes nothing (the CLI's `plan`, the demo)."""
    return plan_amendment(await read_for_planning(client, request.order_id), request)


class DinteroActivities:
    """All activities, sharing one `DinteroClient` (one `httpx.AsyncClient` per worker)."""

    def __init__(self, client: DinteroClient) -> None:
        self.client = client

    async def _read(self, order_id: str) -> OrderSnapshot:
        try:
            return await self.client.read_order(order_id)
        except DinteroError as exc:
            _fail(exc)

    @activity.defn(name="plan_amendment")
    async def plan_amendment(self, request: PlanRequest) -> PlanOutcome:
        """Read the order and plan the amendment, or find it already applied."""
        try:
            order = await read_for_planning(self.client, request.amendment.order_id)
        except AmendmentRejected as exc:
            _reject(exc)
        except DinteroError as exc:
            _fail(exc)
        run_id = activity.info().workflow_run_id
        amendment = request.amendment
        if records_of(order, amendment.amendment_id):
            problems = ledger_problems(order)
            if problems:
                raise ApplicationError(
                    f"amendment {amendment.amendment_id} is partly applied on order "
                    f"{order.order_id} ({problems[0]}); resume it with "
                    f"`amend replay {amendment.workflow_id}`",
                    type="AmendmentPartlyApplied",
                    non_retryable=True,
                )
            reverted = any(
                r.metadata.get("step", "").startswith("revert-")
                for r in order.records
                if r.metadata.get("amendment_id") == amendment.amendment_id
            )
            result = result_of(
                order,
                amendment.amendment_id,
                already_applied=True,
                outcome="reverted" if reverted else "applied",
            )
            return PlanOutcome(planned_in_run=run_id, already_applied=result)
        try:
            plan = plan_amendment(order, amendment)
        except AmendmentRejected as exc:
            _reject(exc)
        return PlanOutcome(planned_in_run=run_id, plan=plan)

    @activity.defn(name="create_draft")
    async def create_draft(self, request: NewDraftInput) -> DraftRef:
        """Create the draft (linked to the order, or a new order); on retry, find it first."""
        try:
            if _retrying(request.reconcile):
                found = await self._find_draft(request)
                if found is not None:
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
            draft = await self.client.create_draft(body)
        except DinteroError as exc:
            _fail(exc)
        return DraftRef(draft_id=draft.id, order_id=draft.order_id or request.order_id)

    async def _find_draft(self, request: NewDraftInput) -> DraftRef | None:
        if request.order_id is not None:
            order = await self.client.get_order(request.order_id)
            on_order = {item.line_id for item in order.items}
            if all(line.line_id in on_order for line in request.lines):
                return DraftRef(draft_id=None, order_id=request.order_id, completed=True)
        for draft in await self.client.list_drafts(status="open"):
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
        try:
            if _retrying(request.reconcile):
                draft = await self.client.get_draft(request.draft_id)
                if draft.status == "completed":
                    return DraftRef(
                        draft_id=draft.id,
                        order_id=request.order_id,
                        completed=True,
                        reconciled=True,
                    )
            [order] = await self.client.complete_draft(request.draft_id)
        except DinteroError as exc:
            _fail(exc)
        return DraftRef(draft_id=request.draft_id, order_id=order.order_id, completed=True)

    @activity.defn(name="record_operation")
    async def record_operation(self, request: RecordInput) -> RecordedOperation:
        """Record one authorization, capture or refund; on retry, find it by its markers first."""
        op = request.operation
        metadata = {"amendment_id": request.amendment_id, "step": op.step}
        try:
            if _retrying(request.reconcile):
                for existing in await self.client.list_records(op.kind, request.order_id):
                    if existing.metadata == metadata:
                        return RecordedOperation(
                            step=op.step,
                            kind=op.kind,
                            record_id=existing.id,
                            amount=existing.amount,
                            payment_id=op.payment_id,
                            success=existing.success,
                            reconciled=True,
                        )
            body = PaymentOperationCreate(
                items=[WireItem(line_id=i.line_id, amount=i.amount) for i in op.items],
                payment_details=PaymentDetails(payment_id=op.payment_id),
                success=op.success,
                authorization_id=op.authorization_id,
                metadata=metadata,
            )
            record = await self.client.record(op.kind, request.order_id, body)
        except DinteroError as exc:
            _fail(exc)
        return RecordedOperation(
            step=op.step,
            kind=op.kind,
            record_id=record.id,
            amount=record.amount,
            payment_id=op.payment_id,
            success=record.success,
        )

    @activity.defn(name="verify_ledger")
    async def verify_ledger(self, request: VerifyInput) -> AmendmentResult:
        """Re-read the order and check every money invariant; the result is the per-line ledger."""
        order = await self._read(request.order_id)
        try:
            check_ledger(order)
        except LedgerViolation as exc:
            raise ApplicationError(
                f"ledger check failed after amendment {request.amendment_id}: {exc}",
                {"problems": exc.problems},
                type="LedgerViolation",
                non_retryable=True,
            ) from None
        return result_of(
            order,
            request.amendment_id,
            refund_amount=request.refund_amount,
            top_up_amount=request.top_up_amount,
            outcome=request.outcome,
            revert_reason=request.revert_reason,
        )
