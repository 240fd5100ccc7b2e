"""Throughput mode: the same amendments, run by the product, the naive peer, the Temporal floor and
the plain script at each concurrency, with their latency, Dintero calls, history size and CPU."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from bench.amendments import (
    BRANCHES,
    bounded,
    floor_run,
    history_size,
    naive_amendment,
    plain_amendment,
    product_amendment,
    seed_orders,
)
from bench.figures import AtConcurrency, BranchFigures, Latency, Throughput, Trio
from bench.infra import (
    Infra,
    memory_kib,
)

T = TypeVar("T")


async def timed(jobs: list[Callable[[], Awaitable[object]]], concurrency: int) -> float:
    began = time.perf_counter()
    await bounded((job() for job in jobs), concurrency)
    return time.perf_counter() - began


async def measured(
    infra: Infra,
    jobs: list[Callable[[], Awaitable[object]]],
    concurrency: int,
    processes: tuple[str, ...],
) -> tuple[float, dict[str, float]]:
    """Seconds for the jobs, and CPU milliseconds per job of each process taking part."""
    before = infra.cpu()
    seconds = await timed(jobs, concurrency)
    after = infra.cpu()
    return seconds, {name: (after[name] - before[name]) * 1000 / len(jobs) for name in processes}


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


async def throughput(
    infra: Infra,
    count: int,
    concurrencies: list[int],
    latency_runs: int,
    branches_to_run: list[str],
    progress: Callable[[str], None],
) -> Throughput:
    dintero = infra.dintero()
    branches: dict[str, BranchFigures] = {}
    try:
        for branch in branches_to_run:
            _, activities, minimum = BRANCHES[branch]
            progress(f"{branch}: latency of single amendments ...")
            orders = await seed_orders(dintero, latency_runs * 3)
            product_ms, naive_ms, floor_ms, plain_ms = [], [], [], []
            product_id = naive_id = floor_id = ""
            for order_id, naive_order in zip(
                orders[:latency_runs], orders[latency_runs : 2 * latency_runs], strict=True
            ):
                began = time.perf_counter()
                product_id = await product_amendment(infra, order_id, branch)
                product_ms.append((time.perf_counter() - began) * 1000)
                began = time.perf_counter()
                naive_id = await naive_amendment(infra, naive_order, branch)
                naive_ms.append((time.perf_counter() - began) * 1000)
                began = time.perf_counter()
                floor_id = await floor_run(infra, activities)
                floor_ms.append((time.perf_counter() - began) * 1000)
            sized = {
                "product": await history_size(infra, product_id),
                "naive": await history_size(infra, naive_id),
                "floor": await history_size(infra, floor_id),
            }
            history = {name: size for name, (size, _) in sized.items()}
            cloud_actions = {name: counted for name, (_, counted) in sized.items()}
            for order_id in orders[2 * latency_runs :]:
                began = time.perf_counter()
                await plain_amendment(dintero, order_id, branch)
                plain_ms.append((time.perf_counter() - began) * 1000)
            latency = Latency(
                product=percentiles(product_ms),
                naive=percentiles(naive_ms),
                floor=percentiles(floor_ms),
                plain=percentiles(plain_ms),
            )
            runs = []
            for concurrency in concurrencies:
                progress(f"{branch}: {count} amendments at concurrency {concurrency} ...")
                orders = await seed_orders(dintero, count * 3)
                _, mark = await infra.calls_since(0)
                product_s, product_cpu = await measured(
                    infra,
                    [partial(product_amendment, infra, o, branch) for o in orders[:count]],
                    concurrency,
                    ("worker", "temporal", "simulator", "driver"),
                )
                calls, _ = await infra.calls_since(mark)
                naive_s, naive_cpu = await measured(
                    infra,
                    [
                        partial(naive_amendment, infra, o, branch)
                        for o in orders[2 * count : 3 * count]
                    ],
                    concurrency,
                    ("naive", "temporal", "simulator", "driver"),
                )
                floor_s, floor_cpu = await measured(
                    infra,
                    [partial(floor_run, infra, activities)] * count,
                    concurrency,
                    ("floor", "temporal", "driver"),
                )
                plain_s, plain_cpu = await measured(
                    infra,
                    [
                        partial(plain_amendment, dintero, o, branch)
                        for o in orders[count : 2 * count]
                    ],
                    concurrency,
                    ("simulator", "driver"),
                )
                runs.append(
                    AtConcurrency(
                        concurrency=concurrency,
                        per_second=Trio(
                            product=count / product_s,
                            naive=count / naive_s,
                            floor=count / floor_s,
                            plain=count / plain_s,
                        ),
                        cpu_ms_per_amendment={
                            "product": product_cpu,
                            "naive": naive_cpu,
                            "floor": floor_cpu,
                            "plain": plain_cpu,
                        },
                        calls_per_amendment=calls / count,
                    )
                )
            branches[branch] = BranchFigures(
                history=history,
                actions=cloud_actions,
                latency_ms=latency,
                runs=tuple(runs),
                minimum_calls=minimum,
                latency_samples_ms={
                    "product": tuple(product_ms),
                    "naive": tuple(naive_ms),
                    "floor": tuple(floor_ms),
                    "plain": tuple(plain_ms),
                },
            )
    finally:
        await dintero.aclose()
    return Throughput(
        branches=branches,
        worker_peak_rss_mib=memory_kib(infra.pid("worker"), "VmHWM") / 1024,
        floor_worker_peak_rss_mib=memory_kib(infra.pid("floor"), "VmHWM") / 1024,
    )
