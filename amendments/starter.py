"""The starter API for backend services: start amendments, place orders, send top-up outcomes,
read state. Every call validates its input before anything reaches Temporal or Dintero.

    client = await connect(Settings())
    handle = await start_amendment(client, {"order_id": "...", "amendment_id": "...", ...})
    result = await handle.result()

Workflow ID `amend-{order_id}`: one amendment runs per order at a time (a second start fails
with `AmendmentInProgress`); the same amendment id started again after it completed returns the
completed run (its recorded result, nothing written); after it failed, `AmendmentNeedsReplay`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

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
    amendment_workflow_id,
)
from amendments.render import details_of, summary_of
from amendments.search_attributes import AMENDMENT_ID, AMENDMENT_STATUS, ORDER_ID
from workflows.amend import OUTCOME, REVERT, AmendOrder
from workflows.place import PlaceOrder

DEFAULT_TASK_QUEUE = "order-amendments"
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


async def start_amendment(
    client: Client,
    request: AmendOrderInput | Mapping[str, Any],
    *,
    task_queue: str = DEFAULT_TASK_QUEUE,
    plan: Plan | None = None,
) -> WorkflowHandle[AmendOrder, AmendmentResult]:
    """Start an amendment. `plan` (a dry run of the same request) only enriches the summary."""
    amendment = parse_amendment(request)
    workflow_id = amendment.workflow_id
    earlier = await _earlier_run(client, amendment)
    if earlier is not None:
        status, run_id = earlier
        if status in (WorkflowExecutionStatus.COMPLETED, WorkflowExecutionStatus.RUNNING):
            return client.get_workflow_handle_for(AmendOrder.run, workflow_id, run_id=run_id)
        raise AmendmentNeedsReplay(
            f"amendment {amendment.amendment_id} of order {amendment.order_id} ended "
            f"{status.name.lower()}; resume it with `amend replay {workflow_id}`"
        )
    try:
        return await client.start_workflow(
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
                ]
            ),
            static_summary=summary_of(amendment, plan),
            static_details=details_of(amendment, plan),
        )
    except WorkflowAlreadyStartedError:
        running = await _running_amendment(client, workflow_id)
        raise AmendmentInProgress(
            f"order {amendment.order_id} already has amendment {running} running as "
            f"{workflow_id}; start {amendment.amendment_id} after it ends"
        ) from None


async def _earlier_run(
    client: Client, amendment: AmendOrderInput
) -> tuple[WorkflowExecutionStatus, str] | None:
    """The latest run of `amend-{order_id}`, if it is this very amendment.

    One describe call, not a visibility query: visibility is eventually consistent and rate
    limited, and this sits on every start. An older run of the same amendment is still safe:
    the new run finds its records on the order (`already_applied`) or refuses to continue a
    partly applied one, naming `amend replay`."""
    try:
        description = await client.get_workflow_handle(amendment.workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if description.typed_search_attributes.get(AMENDMENT_ID) != amendment.amendment_id:
        return None
    if description.status is None:
        return None
    return description.status, description.run_id


async def _running_amendment(client: Client, workflow_id: str) -> str:
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
        value = description.typed_search_attributes.get(AMENDMENT_ID)
    except Exception:
        return "another amendment"
    return value or "another amendment"


async def place_order(
    client: Client,
    request: PlaceOrderInput | Mapping[str, Any],
    *,
    task_queue: str = DEFAULT_TASK_QUEUE,
    workflow_id: str | None = None,
) -> PlacedOrder:
    """Place an order (guide steps 1-2) and wait for it: authorized and captured in full."""
    order = parse_order(request)
    return await client.execute_workflow(
        PlaceOrder.run,
        order,
        id=workflow_id or f"place-{uuid.uuid4()}",
        task_queue=task_queue,
        static_summary=f"Place a {order.currency} order of {len(order.items)} lines",
    )


async def send_authorization_outcome(
    client: Client,
    order_id: str,
    outcome: AuthorizationOutcome | Mapping[str, Any],
    *,
    wait: bool = False,
) -> OutcomeSeen | None:
    """Signal a top-up outcome; with `wait`, send it as an update and return how it was taken
    (an `OutcomeRefused` names the reason when the workflow's validator refuses it)."""
    parsed = parse_outcome(outcome)
    handle = client.get_workflow_handle_for(AmendOrder.run, amendment_workflow_id(order_id))
    try:
        if not wait:
            await handle.signal(AmendOrder.on_outcome, parsed)
            return None
        # By name: the SDK's typing of async update methods does not fit execute_update's.
        seen: OutcomeSeen = await handle.execute_update(OUTCOME, parsed, result_type=OutcomeSeen)
    except (WorkflowUpdateFailedError, RPCError) as exc:
        raise _refused(exc, order_id) from None
    return seen


async def revert_amendment(
    client: Client, order_id: str, request: RevertRequest | Mapping[str, Any]
) -> AmendmentResult:
    """Undo the order's amendment that awaits its top-up, and wait until it is reverted: the
    reverted result, or `OutcomeRefused` saying why it cannot be (nothing awaits a top-up, it
    has ended, or the revert failed)."""
    parsed = _parse(RevertRequest, request)
    handle = client.get_workflow_handle_for(AmendOrder.run, amendment_workflow_id(order_id))
    try:
        result: AmendmentResult = await handle.execute_update(
            REVERT, parsed, result_type=AmendmentResult
        )
    except (WorkflowUpdateFailedError, RPCError) as exc:
        raise _refused(exc, order_id) from None
    return result


def _refused(exc: WorkflowUpdateFailedError | RPCError, order_id: str) -> Exception:
    if isinstance(exc, WorkflowUpdateFailedError):
        cause = exc.cause
        return OutcomeRefused(str(getattr(cause, "message", cause)))
    if exc.status == RPCStatusCode.NOT_FOUND:
        return OutcomeRefused(
            f"no amendment of order {order_id} is running (none started, or it has ended)"
        )
    return exc


async def get_state(client: Client, order_id: str) -> AmendmentState:
    """The latest amendment of the order, as its `state` query answers."""
    handle = client.get_workflow_handle_for(AmendOrder.run, amendment_workflow_id(order_id))
    return await handle.query(AmendOrder.state)


__all__ = [
    "OUTCOME",
    "AmendmentInProgress",
    "AmendmentNeedsReplay",
    "OutcomeRefused",
    "get_state",
    "parse_amendment",
    "place_order",
    "revert_amendment",
    "send_authorization_outcome",
    "start_amendment",
]
