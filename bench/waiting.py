"""Waiting mode: thousands of amendments waiting for their top-up at once: the worker's memory and
CPU while they wait, and how fast they complete when their outcomes arrive."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from amendments.api.starter import send_authorization_outcome, start_amendment
from bench.amendments import bounded, request_top_up, seed_orders
from bench.figures import Throughput
from bench.infra import (
    PRODUCT_QUEUE,
    Infra,
    memory_kib,
    tree_rss_kib,
)
from bench.report import by_process

T = TypeVar("T")


async def waiting(infra: Infra, count: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """`count` amendments that wait for a top-up; then their signals; memory while they wait."""
    assert infra.client is not None
    client = infra.client
    dintero = infra.dintero()
    try:
        progress(f"seeding {count} orders ...")
        orders = await seed_orders(dintero, count)
    finally:
        await dintero.aclose()
    progress(f"starting {count} dearer amendments ...")
    cache_before = await infra.counters("worker", *CACHE_COUNTERS.values())
    cpu_before = infra.cpu()
    began = time.perf_counter()
    handles = await bounded(
        (start_amendment(client, request_top_up(o), task_queue=PRODUCT_QUEUE) for o in orders), 200
    )
    started = time.perf_counter() - began
    progress("waiting until every amendment awaits its top-up ...")
    while True:
        waiting_now = (
            await client.count_workflows(
                'WorkflowType="AmendOrder" AND AmendmentStatus="AwaitingTopUp"'
            )
        ).count
        progress(f"{waiting_now}/{count} awaiting their top-up ...")
        if waiting_now >= count:
            break
        await asyncio.sleep(2)
    reached = time.perf_counter() - began
    worker_mib = memory_kib(infra.pid("worker"), "VmRSS") / 1024
    server_mib = tree_rss_kib(infra.pid("temporal")) / 1024
    cache_waiting = await infra.counters("worker", *CACHE_COUNTERS.values())
    cpu_waiting = infra.cpu()
    partial = {
        "amendments": count,
        "seconds_to_start": started,
        "seconds_until_all_waiting": reached,
        "per_second_until_all_waiting": count / reached,
        "worker_rss_mib_while_waiting": worker_mib,
        "server_rss_mib_while_waiting": server_mib,
        **_cache_figures(cache_before, cache_waiting, "until_all_waiting"),
        "cpu_ms_per_amendment_until_all_waiting": _cpu_ms(cpu_before, cpu_waiting, count),
    }
    (infra.logs / "waiting-partial.json").write_text(json.dumps(partial, indent=2))
    progress(f"sending {count} top-up signals ...")
    began = time.perf_counter()
    await bounded(
        (
            send_authorization_outcome(
                client, o, {"payment_id": "PID_T", "amount": 10000, "success": True}
            )
            for o in orders
        ),
        200,
    )
    await bounded((h.result() for h in handles), 200)
    completed = time.perf_counter() - began
    cache_done = await infra.counters("worker", *CACHE_COUNTERS.values())
    cpu_done = infra.cpu()
    return {
        **partial,
        "worker_peak_rss_mib": memory_kib(infra.pid("worker"), "VmHWM") / 1024,
        "seconds_to_complete_after_signals": completed,
        **_cache_figures(cache_waiting, cache_done, "after_signals"),
        "cpu_ms_per_amendment_after_signals": _cpu_ms(cpu_waiting, cpu_done, count),
    }


WAITING_PROCESSES = ("worker", "temporal", "simulator", "driver")


def _cpu_ms(before: dict[str, float], after: dict[str, float], count: int) -> str:
    """CPU milliseconds per amendment of each process taking part, as the report prints them."""
    return by_process({p: (after[p] - before[p]) * 1000 / count for p in WAITING_PROCESSES})


# The product worker's workflow cache, from the SDK's metrics: a task for a workflow out of the
# cache (a miss) replays its history first; a forced eviction makes room in a full cache.
CACHE_COUNTERS = {
    "misses": "temporal_sticky_cache_miss",
    "evictions": "temporal_sticky_cache_total_forced_eviction",
}


def _cache_figures(before: dict[str, float], after: dict[str, float], phase: str) -> dict[str, int]:
    return {
        f"cache_{figure}_{phase}": round(after[counter] - before[counter])
        for figure, counter in CACHE_COUNTERS.items()
    }


def against_throughput(waiting: dict[str, Any], figures: Throughput) -> dict[str, Any]:
    """The rate to all waiting beside throughput mode's: the product's even swap at the highest
    concurrency measured (its steps up to the wait are the even swap's but the last read)."""
    branch = figures.branches.get("even") or next(iter(figures.branches.values()))
    top = max(branch.runs, key=lambda run: run.concurrency)
    rate = top.per_second.product
    return {
        **waiting,
        f"throughput_mode_per_second_at_{top.concurrency}": rate,
        "until_all_waiting_to_throughput_mode": waiting["per_second_until_all_waiting"] / rate,
    }
