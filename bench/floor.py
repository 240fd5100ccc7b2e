"""The Temporal floor's worker process, with the product's worker settings:
`python -m bench.floor TASK_QUEUE`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from amendments.connection import DATA_CONVERTER
from amendments.process import exit_now
from amendments.wiring import WORKER_TUNING
from bench.floor_workflow import Floor, noop


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
