"""The worker: `python worker.py` (or `amend worker`) runs PlaceOrder and AmendOrder.

Settings come from the environment and `.env` (TEMPORAL_*, TASK_QUEUE, DINTERO_*). One
`httpx.AsyncClient` serves every activity; the product's search attributes are registered on the
namespace if missing; SIGINT or SIGTERM stops polling, lets running activities finish, and exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from activities.dintero import DinteroActivities
from amendments.config import Settings, SettingsError
from amendments.dintero import DinteroClient, build_http
from amendments.process import exit_now
from amendments.temporal import connect, ensure_search_attributes
from amendments.tuning import WORKER_TUNING
from workflows.amend import AmendOrder
from workflows.place import PlaceOrder

log = logging.getLogger("amendments.worker")
WORKFLOWS: Sequence[type] = (PlaceOrder, AmendOrder)


def dintero_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> DinteroClient:
    account_id, client_id, secret = settings.dintero_credentials()
    http = build_http(
        base_url=settings.dintero_base_url,
        account_id=account_id,
        client_id=client_id,
        client_secret=secret,
        timeout=httpx.Timeout(settings.dintero_timeout_seconds, connect=5.0),
        transport=transport,
    )
    return DinteroClient(http, account_id)


def build_worker(client: Client, dintero: DinteroClient, task_queue: str, **tuning: Any) -> Worker:
    activities = DinteroActivities(dintero)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=[
            activities.plan_amendment,
            activities.create_draft,
            activities.complete_draft,
            activities.record_operation,
            activities.verify_ledger,
        ],
        **{**WORKER_TUNING, **tuning},
    )


async def run(settings: Settings, stop: asyncio.Event) -> None:
    dintero = dintero_client(settings)
    client = await connect(settings)
    added = await ensure_search_attributes(client, settings.temporal_namespace)
    if added:
        log.info("registered search attributes %s on %s", added, settings.temporal_namespace)
    worker = build_worker(client, dintero, settings.task_queue)
    log.info(
        "worker polling %s on %s/%s; Dintero at %s (account %s)",
        settings.task_queue,
        settings.temporal_address,
        settings.temporal_namespace,
        settings.dintero_base_url,
        dintero.account_id,
    )
    try:
        async with worker:
            await stop.wait()
            log.info("stopping: finishing running activities")
    finally:
        await dintero.aclose()
    log.info("worker stopped")


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


async def serve_until_signalled(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run(settings, stop)


def main() -> int:
    configure_logging()
    try:
        settings = Settings()
        asyncio.run(serve_until_signalled(settings))
    except (SettingsError, ValueError) as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    exit_now(main())
