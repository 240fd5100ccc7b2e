"""The Temporal floor's workflow and activity: as many no-op activities as an amendment has.
Kept apart from the worker runner so the workflow sandbox imports nothing but Temporal."""

from __future__ import annotations

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from workflows.policies import DINTERO_CALL


@activity.defn(name="noop")
async def noop(step: int) -> int:
    return step


@workflow.defn(name="Floor")
class Floor:
    @workflow.run
    async def run(self, activities: int) -> int:
        for step in range(activities):
            await workflow.execute_activity(
                noop,
                step,
                start_to_close_timeout=DINTERO_CALL.start_to_close,
                retry_policy=DINTERO_CALL.retry,
            )
        return activities
