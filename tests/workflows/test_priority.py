"""An amendment under way goes first: its first write, and its first after each wait for its
top-up, queue with priority key 4; every other write with 2 (workflows/policies.py). The
session's dev server is started as every stack of the product starts it, and keeps its activity
queue in that order. Before: every write had Temporal's default (no key, 3) and the queue was
first in, first out."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.common import Priority
from temporalio.worker import Worker

from amendments.api.starter import send_authorization_outcome
from amendments.domain import ids
from tests.support.harness import Harness, eventually
from tests.support.orders import CHAIR, item, swap


async def writes(client: Client, workflow_id: str) -> list[tuple[str, int]]:
    """Each activity the run scheduled, in order, with its priority key."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [
        (
            e.activity_task_scheduled_event_attributes.activity_type.name,
            e.activity_task_scheduled_event_attributes.priority.priority_key,
        )
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def test_each_stretch_of_writes_begins_behind_the_amendments_under_way(
    harness: Harness,
) -> None:
    order_id = await harness.awaiting_top_up("two-parts")
    await send_authorization_outcome(
        harness.client, order_id, {"payment_id": "PID_A", "amount": 6000, "success": True}
    )
    await harness.wait_for_state(order_id, lambda s: s.top_up_outstanding == 4000)
    await send_authorization_outcome(
        harness.client, order_id, {"payment_id": "PID_B", "amount": 4000, "success": True}
    )
    result = await harness.client.get_workflow_handle(ids.workflow_id(order_id)).result()
    assert result["outcome"] == "applied"

    before_the_wait = [("create_draft", 4), ("complete_draft", 2)] + [("record_operation", 2)] * 4
    each_part = [("record_operation", 4), ("record_operation", 2)]  # authorization, capture
    assert await writes(harness.client, ids.workflow_id(order_id)) == (
        before_the_wait + each_part + each_part
    )


async def test_a_raw_start_reads_through_the_queue_and_its_read_begins(
    harness: Harness, raw: Client
) -> None:
    """Started without the starter's memo, the plan is a regular activity: the first in line."""
    order_id = await harness.place(CHAIR)
    handle = await raw.start_workflow(
        "AmendOrder",
        swap(order_id, "raw", item("Z", 30000)),
        id=ids.workflow_id(order_id),
        task_queue=harness.task_queue,
    )
    await handle.result()
    scheduled = await writes(harness.client, ids.workflow_id(order_id))
    assert scheduled[:2] == [("plan_amendment", 4), ("create_draft", 2)]
    assert [key for _, key in scheduled[2:]] == [2] * (len(scheduled) - 2)


@workflow.defn(name="SchedulesByPriority", sandboxed=False)  # a probe of the server
class SchedulesByPriority:
    @workflow.run
    async def run(self, keys: list[int]) -> None:
        await asyncio.gather(
            *(
                workflow.execute_activity(
                    "note",
                    f"{n}:{key}",
                    start_to_close_timeout=timedelta(seconds=10),
                    priority=Priority(priority_key=key),
                )
                for n, key in enumerate(keys)
            )
        )


async def test_the_server_dispatches_a_backlog_in_priority_order(harness: Harness) -> None:
    """Six activities queued with keys 4, 2, 4, 2, 4, 2 before any activity worker polls; one
    worker taking one at a time runs the three keyed 2 first."""
    client, queue = harness.client, f"priority-{uuid.uuid4().hex[:8]}"
    ran: list[str] = []

    @activity.defn(name="note")
    async def note(label: str) -> None:
        ran.append(label)

    async with Worker(client, task_queue=queue, workflows=[SchedulesByPriority]):
        handle = await client.start_workflow(
            SchedulesByPriority.run, [4, 2, 4, 2, 4, 2], id=queue, task_queue=queue
        )

        async def all_queued() -> bool | None:
            """All six in the queue's backlog (scheduled in the history is not yet queued)."""
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
                    include_task_queue_status=True,
                )
            )
            return described.task_queue_status.backlog_count_hint == 6 or None

        await eventually(all_queued)
        async with Worker(client, task_queue=queue, activities=[note], max_concurrent_activities=1):
            await handle.result()
    assert sorted(ran[:3]) == ["1:2", "3:2", "5:2"]  # within a key, in no promised order
    assert sorted(ran[3:]) == ["0:4", "2:4", "4:4"]
