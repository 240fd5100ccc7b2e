"""The Temporal floor: a workflow running the same number of no-op activities as an amendment,
on a worker process with the product's worker settings. `python -m bench.floor TASK_QUEUE`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from amendments.process import exit_now
from amendments.temporal import DATA_CONVERTER
from amendments.tuning import WORKER_TUNING
from workflows.policies import WRITE


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
                start_to_close_timeout=WRITE.start_to_close,
                retry_policy=WRITE.retry,
            )
        return activities


async def serve(task_queue: str) -> None:
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"], data_converter=DATA_CONVERTER)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[Floor],
        activities=[noop],
        **{**WORKER_TUNING, "graceful_shutdown_timeout": timedelta(seconds=2)},
    ):
        print("floor worker polling", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
    exit_now(0)
