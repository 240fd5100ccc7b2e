"""The naive peer's worker process, with the product's worker settings and the same Dintero
client: `python -m bench.naive TASK_QUEUE`."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

from temporalio.worker import Worker

from amendments.config import load_settings
from amendments.connection import connect
from amendments.process import exit_now
from amendments.wiring import WORKER_TUNING, dintero_client
from bench.naive_workflow import NaiveActivities, NaiveAmendOrder


async def serve(task_queue: str) -> None:
    settings = load_settings(local_defaults=False)
    client = await connect(settings)
    dintero = dintero_client(settings)
    activities = NaiveActivities(dintero)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[NaiveAmendOrder],
        activities=[
            activities.plan,
            activities.create_draft,
            activities.complete_draft,
            activities.record,
            activities.read,
        ],
        **{**WORKER_TUNING, "graceful_shutdown_timeout": timedelta(seconds=2)},
    ):
        print("naive worker polling", flush=True)
        await stop.wait()
    await dintero.aclose()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
    exit_now(0)
