"""The starter API for backend services: start amendments, place orders, send top-up outcomes,
read state. Every call validates its input before anything reaches Temporal or Dintero.

    client = await connect(Settings())
    handle = await start_amendment(client, {"order_id": "...", "amendment_id": "...", ...})
    result = await handle.result()

Workflow ID `amend-{order_id}` (`amend-{account_id}-{order_id}` when the request names its
Dintero account; the calls that take an order id take `account_id=` for it): one amendment runs
per order at a time (a second start fails with `AmendmentInProgress`); the same amendment id
started again after it completed returns the completed run (its recorded result, nothing
written); after it failed, `AmendmentNeedsReplay`, and so does a new amendment over a failed one
that wrote to the order. `amend start` takes the
same path (`start_or_resume`), so the CLI and this API give the same answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    Priority,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from amendments import failures
from amendments.api.replay import REPLAYABLE
from amendments.domain import ids
from amendments.domain.errors import AmendmentRejected
from amendments.domain.models import (
    AmendmentResult,
    AmendmentState,
    AmendOrderInput,
    AuthorizationOutcome,
    OutcomeSeen,
    PlacedOrder,
    PlaceOrderInput,
    Plan,
    RevertRequest,
)
from amendments.render.words import details_of, summary_of
from amendments.temporal.search_attributes import (
    AMENDMENT_ID,
    AMENDMENT_STATUS,
    DINTERO_ACCOUNT,
    ORDER_ID,
    TOP_UP_OUTSTANDING,
)
from workflows.amend import AmendOrder
from workflows.place import PlaceOrder

DEFAULT_TASK_QUEUE = "order-amendments"
WRITES = frozenset({"create_draft", "complete_draft", "record_operation"})
M = TypeVar("M", bound=BaseModel)


class AmendmentInProgress(RuntimeError):
    """Another amendment of the same order is running."""


class AmendmentNeedsReplay(RuntimeError):
    """This amendment ran before and did not complete: replay it instead of starting it anew."""


class OutcomeRefused(ValueError):
    """The workflow refused a top-up outcome or a revert (its validator, or the amendment failed
    while the outcome was being written); the message says why."""


def _parse(model: type[M], data: M | Mapping[str, Any]) -> M:
    """A validated model, or `AmendmentRejected` naming the field and the reason."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise AmendmentRejected.from_validation_error(exc) from None


def parse_amendment(data: AmendOrderInput | Mapping[str, Any]) -> AmendOrderInput:
    return _parse(AmendOrderInput, data)


def parse_order(data: PlaceOrderInput | Mapping[str, Any]) -> PlaceOrderInput:
    return _parse(PlaceOrderInput, data)


def parse_outcome(data: AuthorizationOutcome | Mapping[str, Any]) -> AuthorizationOutcome:
    outcome = _parse(AuthorizationOutcome, data)
    if outcome.amount <= 0:
        raise AmendmentRejected("amount", f"must be positive, got {outcome.amount}")
    return outcome


@dataclass(frozen=True)
class Started:
    """A start's answer: the run to follow, and whether it was already there (`completed`: the
    amendment was applied or reverted before, nothing is written again; `running`: it runs)."""

    handle: WorkflowHandle[AmendOrder, AmendmentResult]
    existing: Literal["completed", "running"] | None = None


Preview = Callable[[AmendOrderInput], Awaitable[Plan]]


async def start_amendment(
    client: Client,
    request: AmendOrderInput | Mapping[str, Any],
    *,
    task_queue: str = DEFAULT_TASK_QUEUE,
    plan: Plan | None = None,
) -> WorkflowHandle[AmendOrder, AmendmentResult]:
    """Start an amendment. `plan` (a dry run of the same request) only enriches the summary."""
    started = await start_or_resume(client, request, task_queue=task_queue, plan=plan)
    return started.handle


async def start_or_resume(
    client: Client,
    request: AmendOrderInput | Mapping[str, Any],
    *,
    task_queue: str = DEFAULT_TASK_QUEUE,
    plan: Plan | None = None,
    preview: Preview | None = None,
) -> Started:
    """Start an amendment, or find it: the one path of the starter API and `amend start`.

    In order: the same amendment already completed or running is returned as it is; another
    amendment of the order running is `AmendmentInProgress`; the latest amendment of the order
    failed after writing (this one, or another) is `AmendmentNeedsReplay` naming its run;
    then `preview` (a dry run, which may refuse the request) gives the plan for the summary, and
    the run starts."""
    amendment = parse_amendment(request)
    workflow_id = amendment.workflow_id
    latest = await _latest_run(client, workflow_id)
    if latest is not None:
        if latest.amendment_id == amendment.amendment_id:
            handle = client.get_workflow_handle_for(
                AmendOrder.run, workflow_id, run_id=latest.run_id
            )
            if latest.status == WorkflowExecutionStatus.COMPLETED:
                return Started(handle, "completed")
            if latest.status == WorkflowExecutionStatus.RUNNING:
                return Started(handle, "running")
            raise AmendmentNeedsReplay(
                f"amendment {amendment.amendment_id} of order {amendment.order_id} ended "
                f"{latest.status.name.lower()} (run {latest.run_id}); "
                f"{failures.resume_with(workflow_id)}"
            )
        if latest.status == WorkflowExecutionStatus.RUNNING:
            raise _in_progress(amendment, latest.amendment_id)
        if latest.status in REPLAYABLE and await _wrote_anything(client, workflow_id, latest):
            raise AmendmentNeedsReplay(
                f"the last amendment of order {amendment.order_id}, "
                f"{latest.amendment_id or 'unnamed'} (run {latest.run_id}), ended "
                f"{latest.status.name.lower()} after writing to the order; "
                f"{failures.resume_with(workflow_id)} before starting {amendment.amendment_id}"
            )
    if preview is not None:
        plan = await preview(amendment)
    try:
        handle = await client.start_workflow(
            AmendOrder.run,
            amendment,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(ORDER_ID, amendment.order_id),
                    SearchAttributePair(AMENDMENT_ID, amendment.amendment_id),
                    SearchAttributePair(AMENDMENT_STATUS, "Planning"),
                    SearchAttributePair(TOP_UP_OUTSTANDING, 0),
                    *(
                        [SearchAttributePair(DINTERO_ACCOUNT, amendment.account_id)]
                        if amendment.account_id
                        else []
                    ),
                ]
            ),
            # Each merchant's amendments share the workers fairly with the others'.
            priority=fair(amendment.account_id),
            # The workflow need not upsert these search attributes again, and runs its reads
            # as local activities.
            memo={ids.ATTRIBUTES_AT_START: True, ids.LOCAL_READS: True},
            static_summary=summary_of(amendment, plan),
            static_details=details_of(amendment, plan),
        )
    except WorkflowAlreadyStartedError:
        raise _in_progress(amendment, await _running_amendment(client, workflow_id)) from None
    return Started(handle)


def _in_progress(amendment: AmendOrderInput, running: str | None) -> AmendmentInProgress:
    return AmendmentInProgress(
        f"order {amendment.order_id} already has amendment {running or 'another amendment'} "
        f"running as {amendment.workflow_id}; start {amendment.amendment_id} after it ends "
        f"({failures.status_hint(amendment.order_id, amendment.account_id)} shows it)"
    )


@dataclass(frozen=True)
class _Run:
    run_id: str
    status: WorkflowExecutionStatus
    amendment_id: str | None


async def _latest_run(client: Client, workflow_id: str) -> _Run | None:
    """The latest run of `amend-{order_id}`, by one describe call: not a visibility query, which
    is eventually consistent and rate limited, and this sits on every start."""
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if description.status is None:
        return None
    return _Run(
        description.run_id,
        description.status,
        description.typed_search_attributes.get(AMENDMENT_ID),
    )


async def _wrote_anything(client: Client, workflow_id: str, run: _Run) -> bool:
    """Whether a run scheduled any write (draft, completion, payment record): one that failed
    before (a refused plan) leaves the order as it was, and a new amendment may follow it."""
    handle = client.get_workflow_handle(workflow_id, run_id=run.run_id)
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            if name in WRITES:
                return True
    return False


async def _running_amendment(client: Client, workflow_id: str) -> str | None:
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
        value = description.typed_search_attributes.get(AMENDMENT_ID)
    except Exception:
        return None
    return value


async def place_order(
    client: Client,
    request: PlaceOrderInput | Mapping[str, Any],
    *,
    task_queue: str = DEFAULT_TASK_QUEUE,
    workflow_id: str | None = None,
) -> PlacedOrder:
    """Place an order (guide steps 1-2) and wait for it: authorized in full, and captured in full
    unless `capture` is false."""
    order = parse_order(request)
    return await client.execute_workflow(
        PlaceOrder.run,
        order,
        id=workflow_id or ids.place_workflow_id(order.account_id),
        task_queue=task_queue,
        priority=fair(order.account_id),
        static_summary=f"Place a {order.currency} order of {len(order.items)} lines",
    )


async def send_authorization_outcome(
    client: Client,
    order_id: str,
    outcome: AuthorizationOutcome | Mapping[str, Any],
    *,
    wait: bool = False,
    account_id: str | None = None,
) -> OutcomeSeen | None:
    """Signal a top-up outcome; with `wait`, send it as an update and return how it was taken
    (an `OutcomeRefused` names the reason when the workflow's validator refuses it)."""
    parsed = parse_outcome(outcome)
    handle = _amendment(client, order_id, account_id)
    try:
        if not wait:
            await handle.signal(AmendOrder.on_outcome, parsed)
            return None
        # By name: the SDK's typing of async update methods does not fit execute_update's.
        seen: OutcomeSeen = await handle.execute_update(
            ids.OUTCOME, parsed, result_type=OutcomeSeen
        )
    except (WorkflowUpdateFailedError, RPCError) as exc:
        raise await _refused(client, exc, order_id, account_id) from None
    return seen


async def revert_amendment(
    client: Client,
    order_id: str,
    request: RevertRequest | Mapping[str, Any],
    *,
    account_id: str | None = None,
) -> AmendmentResult:
    """Undo the order's amendment that awaits its top-up, and wait until it is reverted: the
    reverted result, or `OutcomeRefused` saying why it cannot be (nothing awaits a top-up, it
    has ended, or the revert failed)."""
    parsed = _parse(RevertRequest, request)
    handle = _amendment(client, order_id, account_id)
    try:
        result: AmendmentResult = await handle.execute_update(
            ids.REVERT, parsed, result_type=AmendmentResult
        )
    except (WorkflowUpdateFailedError, RPCError) as exc:
        raise await _refused(client, exc, order_id, account_id) from None
    return result


async def _refused(
    client: Client,
    exc: WorkflowUpdateFailedError | RPCError,
    order_id: str,
    account_id: str | None,
) -> Exception:
    """Why a message was not taken, naming the amendment's workflow and where to look next."""
    workflow_id = ids.workflow_id(order_id, account_id)
    status = failures.status_hint(order_id, account_id)
    on = f" on account {account_id}" if account_id else ""
    if isinstance(exc, WorkflowUpdateFailedError):
        return OutcomeRefused(
            f"{failures.message_of(exc)} ({workflow_id}: {status} shows where it stands)"
        )
    if exc.status != RPCStatusCode.NOT_FOUND:
        return exc
    latest = await _latest_run(client, workflow_id)
    if latest is None:
        return OutcomeRefused(
            f"no amendment of order {order_id}{on} is running: none was started "
            f"({failures.list_hint()})"
        )
    ended = f"no amendment of order {order_id}{on} is running: {workflow_id} ended "
    if latest.status in REPLAYABLE:
        return OutcomeRefused(
            f"{ended}{latest.status.name.lower()}; {status} shows why, "
            f"and {failures.resume_hint(workflow_id)}"
        )
    return OutcomeRefused(f"{ended}{latest.status.name.lower()} ({status})")


async def get_state(
    client: Client, order_id: str, *, account_id: str | None = None
) -> AmendmentState:
    """The latest amendment of the order, as its `state` query answers."""
    return await _amendment(client, order_id, account_id).query(AmendOrder.state)


def _amendment(
    client: Client, order_id: str, account_id: str | None
) -> WorkflowHandle[AmendOrder, AmendmentResult]:
    """The order's amendment (on its account, when given: `amend-{account_id}-{order_id}`)."""
    if account_id is not None:
        parse_account(account_id)
    return client.get_workflow_handle_for(AmendOrder.run, ids.workflow_id(order_id, account_id))


def parse_account(account_id: str) -> str:
    """A Dintero account id, or `AmendmentRejected` naming `account_id`."""
    if not ids.ACCOUNT_ID.fullmatch(account_id):
        raise AmendmentRejected(
            "account_id",
            f"{account_id!r} is not a Dintero account id: T (test) or P (production) and 8 "
            "digits, e.g. T12345678",
        )
    return account_id


def fair(account_id: str | None) -> Priority:
    """A run's place in the task queue: with an account, that account is its fairness key."""
    return Priority(fairness_key=account_id) if account_id else Priority.default


__all__ = [
    "AmendmentInProgress",
    "AmendmentNeedsReplay",
    "OutcomeRefused",
    "Started",
    "get_state",
    "parse_account",
    "parse_amendment",
    "place_order",
    "revert_amendment",
    "send_authorization_outcome",
    "start_amendment",
    "start_or_resume",
]
