"""What an amendment costs in Temporal Cloud Actions: the search attributes the starter sets
at start (free) are not upserted again (the starter says so in the memo, free too); a raw start
that sets none still gets them by upsert, and runs recorded before keep replaying (the recorded
histories, in tests/workflows/test_replay_histories.py). Before: 12 Actions for an even swap,
after: 11."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from amendments.domain import ids
from amendments.temporal.search_attributes import (
    AMENDMENT_ID,
    AMENDMENT_STATUS,
    ORDER_ID,
    TOP_UP_OUTSTANDING,
)
from bench.actions import actions
from tests.support.harness import Harness
from tests.support.orders import CHAIR, swap


async def upserts(client: Client, workflow_id: str) -> tuple[int, int]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    kinds = [e.event_type for e in history.events]
    return (
        kinds.count(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES),
        sum(actions(history.events).values()),
    )


async def test_a_started_amendment_upserts_only_what_changes(harness: Harness, raw: Client) -> None:
    order_id = await harness.place(CHAIR)
    await harness.amend(swap(order_id, "cheap"))
    workflow_id = ids.workflow_id(order_id)
    assert await upserts(harness.client, workflow_id) == (2, 11)  # Applying, Completed
    described = await harness.client.get_workflow_handle(workflow_id).describe()
    attributes = described.typed_search_attributes
    assert (
        attributes.get(ORDER_ID),
        attributes.get(AMENDMENT_ID),
        attributes.get(AMENDMENT_STATUS),
        attributes.get(TOP_UP_OUTSTANDING),
    ) == (order_id, "cheap", "Completed", 0)

    other = await harness.place(CHAIR)
    handle = await raw.start_workflow(
        "AmendOrder", swap(other, "raw"), id=ids.workflow_id(other), task_queue=harness.task_queue
    )
    await handle.result()
    assert await upserts(harness.client, ids.workflow_id(other)) == (3, 12)  # Planning first
