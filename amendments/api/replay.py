"""Replaying a failed, timed-out or terminated amendment after its cause was fixed.

A replay is a Temporal **reset**, not a new run over the same input. The failed run's history
holds the plan (line ids, amounts, markers) and every top-up outcome received; a reset keeps
all of it and re-runs only from the workflow task that scheduled the last activity. A new run
would plan again against an order that already carries half of the amendment. In the reset run
the workflow sees `run_id != original_execution_run_id` and every write reconciles first (looks
for its markers on the order), so a write that landed before the failure is not made twice.
Signals received after the reset point are re-applied; a top-up wait that had expired starts
over with its full timeout (once), so a replayed amendment waits again and can still be reverted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from amendments import failures
from amendments.domain import ids

REPLAYABLE = {
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.CANCELED,
}


class NotReplayable(RuntimeError):
    """The workflow is running or completed, or its history offers no reset point."""


@dataclass(frozen=True)
class Replayed:
    workflow_id: str
    failed_run_id: str
    new_run_id: str
    reset_event_id: int
    rerun_from: str


async def replay_amendment(
    client: Client, workflow_id: str, reason: str = "", *, run_id: str | None = None
) -> Replayed:
    """Reset the latest run of `workflow_id`, or the run `run_id` (an older failed run that a
    later one superseded)."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            which = f"run {run_id} of {workflow_id}" if run_id else workflow_id
            raise NotReplayable(f"no amendment {which} was found") from exc
        raise
    status = description.status
    if status not in REPLAYABLE:
        state = status.name.lower() if status is not None else "unknown"
        raise NotReplayable(
            f"{workflow_id} is {state}; only a failed, timed-out, terminated or "
            f"cancelled amendment can be replayed "
            f"({failures.status_hint(ids.order_id_of(workflow_id))} shows it)"
        )
    history = await client.get_workflow_handle(
        workflow_id, run_id=description.run_id
    ).fetch_history()
    reset_event_id, rerun_from = 0, "the start"
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and not reset_event_id:
            reset_event_id = event.event_id
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            reset_event_id = attributes.workflow_task_completed_event_id
            rerun_from = f"activity {attributes.activity_type.name} (event {event.event_id})"
    if not reset_event_id:
        raise NotReplayable(
            f"{workflow_id} never completed a workflow task; start it again instead"
        )
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(
                workflow_id=workflow_id, run_id=description.run_id
            ),
            reason=reason or f"amend replay {workflow_id}",
            workflow_task_finish_event_id=reset_event_id,
            request_id=str(uuid.uuid4()),
            reset_reapply_type=ResetReapplyType.RESET_REAPPLY_TYPE_SIGNAL,
        )
    )
    return Replayed(
        workflow_id=workflow_id,
        failed_run_id=description.run_id,
        new_run_id=response.run_id,
        reset_event_id=reset_event_id,
        rerun_from=rerun_from,
    )
