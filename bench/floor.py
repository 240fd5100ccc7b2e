"""The Temporal floor's worker process, with the product's worker settings and a metrics
endpoint as the product's worker has one: `python -m bench.floor TASK_QUEUE`."""

from __future__ import annotations

import asyncio
import os
import sys

from temporalio.client import Client

from amendments.temporal.connection import DATA_CONVERTER
from amendments.temporal.process import exit_now
from amendments.worker.telemetry import metrics_runtime
from bench.floor_workflow import Floor, noop
from bench.worker import serve


async def main(task_queue: str) -> None:
    client = await Client.connect(
        os.environ["TEMPORAL_ADDRESS"],
        data_converter=DATA_CONVERTER,
        runtime=metrics_runtime(os.environ["METRICS_BIND_ADDRESS"]),
    )
    await serve(client, task_queue, [Floor], [noop], "floor")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
    exit_now(0)
