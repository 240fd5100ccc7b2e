"""The worker keeps Temporal's default workflow sandbox: it refuses the calls that would make a
workflow non-deterministic. (Passing every module through would save about a sixth of the
worker's CPU in the benchmark, but then a workflow module's own imports are the real modules and
every one of these calls is allowed: measured with this test, three of four got through.)"""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from amendments.worker.wiring import worker_tuning
from tests.support.sandboxed_workflows import FORBIDDEN, TriesForbidden


@pytest.mark.parametrize("call", sorted(FORBIDDEN))
async def test_non_deterministic_calls_are_refused(env: WorkflowEnvironment, call: str) -> None:
    task_queue = f"sandbox-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=[TriesForbidden], **worker_tuning()
    ):
        result = await env.client.execute_workflow(
            TriesForbidden.run, call, id=f"sandbox-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result == "refused"
