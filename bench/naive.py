"""The naive peer's worker process, with the product's worker settings, the same Dintero client
and a metrics endpoint as the product's worker has one: `python -m bench.naive TASK_QUEUE`."""

from __future__ import annotations

import asyncio
import sys

from amendments.config import load_settings
from amendments.temporal.connection import connect
from amendments.temporal.process import exit_now
from amendments.worker import telemetry
from amendments.worker.wiring import dintero_client
from bench.naive_workflow import NaiveActivities, NaiveAmendOrder
from bench.worker import serve


async def main(task_queue: str) -> None:
    settings = load_settings(local_defaults=False)
    client = await connect(settings, runtime=telemetry.runtime(settings))
    dintero = dintero_client(settings)
    activities = NaiveActivities(dintero)
    try:
        await serve(
            client,
            task_queue,
            [NaiveAmendOrder],
            [
                activities.plan,
                activities.create_draft,
                activities.complete_draft,
                activities.record,
                activities.read,
            ],
            "naive",
        )
    finally:
        await dintero.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
    exit_now(0)
