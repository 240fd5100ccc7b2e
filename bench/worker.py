"""A benchmark peer's worker, run as its own process: the product's worker settings, polling
until SIGINT or SIGTERM, and a log line once it polls (what `Infra` waits for)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from amendments.worker.wiring import worker_tuning


async def serve(
    client: Client,
    task_queue: str,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
    name: str,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=list(activities),
        **{**worker_tuning(), "graceful_shutdown_timeout": timedelta(seconds=2)},
    ):
        print(f"{name} worker polling", flush=True)
        await stop.wait()
