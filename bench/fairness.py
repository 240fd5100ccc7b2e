"""Fairness mode: one merchant's burst beside another merchant's trickle, on one worker serving
both accounts. The trickle's latency while the burst runs, against the same trickle alone, with
the dev server's fair task queues on (`matching.enableFairness`: every amendment carries its
account as fairness key) and off (first in, first out within a priority).

Each setting runs on its own fresh stack: the trickle alone first (`trickle` amendments, one
started every `every` seconds, each timed from its start to its result), then the burst
(`burst` amendments of the other account, started as fast as Temporal takes them) with the same
trickle started once the burst is under way. The trickle is another merchant's backend: it has
its own connection to Temporal (the burst's starts and waits do not share it), and the burst's
end is read from visibility (not a thousand result polls).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client

from amendments.api.starter import start_amendment
from amendments.temporal.search_attributes import DINTERO_ACCOUNT
from bench.amendments import bounded, request, seed_orders
from bench.infra import PRODUCT_QUEUE, Infra

BURSTING, TRICKLING = "T22222222", "T44444444"


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50 and p95 in ms (the nearest rank, on a few dozen values)."""
    ordered = sorted(seconds)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    return {"p50_ms": rank(0.50), "p95_ms": rank(0.95), "mean_ms": statistics.mean(ordered) * 1000}


async def one(client: Client, order_id: str) -> float:
    """Seconds from a trickle amendment's start to its result."""
    began = time.perf_counter()
    handle = await start_amendment(
        client, request(order_id, "even", TRICKLING), task_queue=PRODUCT_QUEUE
    )
    await handle.result()
    return time.perf_counter() - began


async def trickle(client: Client, orders: list[str], every: float) -> list[float]:
    """One amendment started every `every` seconds (open loop: none waits for the one before)."""
    runs = []
    for order_id in orders:
        runs.append(asyncio.create_task(one(client, order_id)))
        await asyncio.sleep(every)
    return list(await asyncio.gather(*runs))


async def burst_of(infra: Infra, orders: list[str]) -> None:
    """Every amendment of the burst started at once (as a bulk edit does), then waited for
    until none runs (read from visibility)."""
    assert infra.client is not None
    client = infra.client
    await bounded(
        (
            start_amendment(client, request(o, "even", BURSTING), task_queue=PRODUCT_QUEUE)
            for o in orders
        ),
        200,
    )
    running = (
        f"WorkflowType = 'AmendOrder' AND ExecutionStatus = 'Running' AND "
        f"{DINTERO_ACCOUNT.name} = '{BURSTING}'"
    )
    while True:
        if not (await client.count_workflows(running)).count:
            return
        await asyncio.sleep(1)


async def setting(
    logs: Path, fair: bool, burst: int, count: int, every: float, progress: Callable[[str], None]
) -> dict[str, Any]:
    name = "on" if fair else "off"
    async with Infra(
        logs / name, fairness=fair, accounts=(BURSTING, TRICKLING), peers=False
    ) as infra:
        assert infra.client is not None
        seeding = [infra.dintero(account_id=a) for a in (TRICKLING, TRICKLING, BURSTING)]
        try:
            progress(f"fairness {name}: seeding {2 * count + burst} orders ...")
            alone_orders, during_orders, burst_orders = [
                await seed_orders(d, n) for d, n in zip(seeding, (count, count, burst), strict=True)
            ]
        finally:
            for dintero in seeding:
                await dintero.aclose()
        # Another merchant's backend, on its own connection.
        other = await Client.connect(infra.client.service_client.config.target_host)
        progress(f"fairness {name}: {count} trickle amendments alone ...")
        alone = await trickle(other, alone_orders, every)
        progress(f"fairness {name}: a burst of {burst}, and the trickle beside it ...")
        began = time.perf_counter()
        bursting = asyncio.ensure_future(burst_of(infra, burst_orders))
        await asyncio.sleep(min(2.0, every))  # the burst is under way
        during = await trickle(other, during_orders, every)
        trickle_done = time.perf_counter() - began
        await bursting
        burst_seconds = time.perf_counter() - began
    alone_p, during_p = percentiles(alone), percentiles(during)
    return {
        "trickle_alone": alone_p,
        "trickle_during_burst": during_p,
        "p95_during_to_alone": during_p["p95_ms"] / alone_p["p95_ms"],
        "p50_during_to_alone": during_p["p50_ms"] / alone_p["p50_ms"],
        "burst_seconds": burst_seconds,
        "burst_per_second": burst / burst_seconds,
        "trickle_ended_before_burst": trickle_done < burst_seconds,
        # Each trickle amendment's latency, for the plot.
        "trickle_alone_ms": [s * 1000 for s in alone],
        "trickle_during_burst_ms": [s * 1000 for s in during],
    }


async def fairness(
    logs: Path, burst: int, count: int, every: float, progress: Callable[[str], None]
) -> dict[str, Any]:
    """The trickle's latency alone and beside the burst, fairness on and off."""
    result: dict[str, Any] = {"burst": burst, "trickle": count, "every_seconds": every}
    for fair in (True, False):
        result["on" if fair else "off"] = await setting(logs, fair, burst, count, every, progress)
    return result
