"""`python -m bench`: throughput, latency, Dintero calls and memory of amendments, each as a ratio
to the Temporal floor measured in the same run, beside a plain httpx script.

    python -m bench                       # throughput mode, 500 amendments per figure
    python -m bench --mode waiting --waiting 10000
    python -m bench --json                # one JSON document

Nothing here is a test: no figure is asserted, the numbers are printed for a person to read.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import platform
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from rich import box
from rich.console import Console
from rich.table import Table

from amendments.api.starter import send_authorization_outcome, start_amendment
from amendments.dintero import DinteroClient
from amendments.dintero.convert import wire_line
from amendments.dintero.models import (
    DraftOptions,
    DraftOrderBody,
    DraftOrderCreate,
    PaymentDetails,
    PaymentOperationCreate,
)
from amendments.dintero.models import OperationItem as WireItem
from amendments.domain.models import AmendOrderInput
from amendments.domain.planner import plan_amendment
from amendments.temporal.process import exit_now
from bench.actions import actions, dollars_per_thousand
from bench.figures import AtConcurrency, BranchFigures, History, Latency, Throughput, Trio
from bench.floor_workflow import Floor
from bench.infra import (
    FLOOR_QUEUE,
    NAIVE_QUEUE,
    PRODUCT_QUEUE,
    Infra,
    memory_kib,
    tree_rss_kib,
)
from bench.naive_workflow import NaiveAmendOrder

T = TypeVar("T")

# branch: (new item gross, activities per amendment, minimum Dintero calls per amendment)
BRANCHES = {"even": (39800, 8, 12), "refund": (30000, 9, 13)}


def item(product: str, gross: int, line_id: int | None = None) -> dict[str, Any]:
    document = {
        "id": product,
        "quantity": 1,
        "gross_amount": gross,
        "tax_lines": [{"amount": gross // 5, "percentage": 25}],
        "description": product,
    }
    if line_id is not None:
        document["line_id"] = line_id
    return document


async def bounded(jobs: Iterable[Awaitable[T]], limit: int) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[T]) -> T:
        try:
            async with gate:
                return await job
        finally:
            if inspect.iscoroutine(job):
                job.close()  # cancelled while waiting at the gate: it never ran

    return await asyncio.gather(*(one(job) for job in jobs))


async def seed_orders(dintero: DinteroClient, count: int) -> list[str]:
    """Orders authorized and captured in full, made straight through the API (not measured)."""
    pay = PaymentOperationCreate.model_validate(
        {
            "items": [{"line_id": 1, "amount": 39800}],
            "payment_details": {"payment_id": "PID_1"},
            "success": True,
        }
    )

    async def one() -> str:
        draft = await dintero.create_draft(
            DraftOrderCreate.model_validate(
                {
                    "options": {"generate_order_id": "ALPHANUMERIC_9"},
                    "order": {"currency": "NOK", "items": [item("A", 39800, line_id=1)]},
                }
            )
        )
        [order] = await dintero.complete_draft(draft.id)
        await dintero.record_authorization(order.order_id, pay)
        await dintero.record_capture(order.order_id, pay)
        return order.order_id

    return await bounded((one() for _ in range(count)), 50)


def request(order_id: str, branch: str) -> AmendOrderInput:
    gross = BRANCHES[branch][0]
    return AmendOrderInput.model_validate(
        {
            "order_id": order_id,
            "amendment_id": f"bench-{uuid.uuid4().hex[:12]}",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
            "add": [item("B", gross)],
        }
    )


async def product_amendment(infra: Infra, order_id: str, branch: str) -> str:
    """Run one amendment to its end; its workflow id."""
    assert infra.client is not None
    handle = await start_amendment(
        infra.client, request(order_id, branch), task_queue=PRODUCT_QUEUE
    )
    await handle.result()
    return handle.id


async def naive_amendment(infra: Infra, order_id: str, branch: str) -> str:
    """Run one amendment of the naive peer to its end; its workflow id."""
    assert infra.client is not None
    workflow_id = f"naive-{uuid.uuid4()}"
    await infra.client.execute_workflow(
        NaiveAmendOrder.run, request(order_id, branch), id=workflow_id, task_queue=NAIVE_QUEUE
    )
    return workflow_id


async def floor_run(infra: Infra, activities: int) -> str:
    """Run one floor workflow to its end; its workflow id."""
    assert infra.client is not None
    workflow_id = f"floor-{uuid.uuid4()}"
    await infra.client.execute_workflow(
        Floor.run, activities, id=workflow_id, task_queue=FLOOR_QUEUE
    )
    return workflow_id


async def history_size(infra: Infra, workflow_id: str) -> tuple[History, int]:
    """Events and KiB of a workflow's history (what the server stores and sends per run), and
    its Temporal Cloud Actions."""
    assert infra.client is not None
    history = await infra.client.get_workflow_handle(workflow_id).fetch_history()
    size = History(
        events=len(history.events),
        kib=sum(event.ByteSize() for event in history.events) / 1024,
    )
    return size, sum(actions(history.events).values())


async def plain_amendment(dintero: DinteroClient, order_id: str, branch: str) -> None:
    """The same Dintero calls, in sequence, with httpx and no Temporal."""
    amendment = request(order_id, branch)
    plan = plan_amendment(await dintero.read_order(order_id), amendment)
    draft = await dintero.create_draft(
        DraftOrderCreate(
            options=DraftOptions(order_id=order_id),
            order=DraftOrderBody(currency=plan.currency, items=[wire_line(x) for x in plan.lines]),
        )
    )
    await dintero.complete_draft(draft.id)
    for op in plan.operations:
        await dintero.record(
            op.kind,
            order_id,
            PaymentOperationCreate(
                items=[WireItem(line_id=i.line_id, amount=i.amount) for i in op.items],
                payment_details=PaymentDetails(payment_id=op.payment_id),
                success=True,
                metadata={"amendment_id": amendment.amendment_id, "step": op.step},
            ),
        )
    await dintero.read_order(order_id)


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
            )
    finally:
        await dintero.aclose()
    return Throughput(
        branches=branches,
        worker_peak_rss_mib=memory_kib(infra.pid("worker"), "VmHWM") / 1024,
        floor_worker_peak_rss_mib=memory_kib(infra.pid("floor"), "VmHWM") / 1024,
    )


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
    return _by_process({p: (after[p] - before[p]) * 1000 / count for p in WAITING_PROCESSES})


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


def request_top_up(order_id: str) -> AmendOrderInput:
    return AmendOrderInput.model_validate(
        {
            "order_id": order_id,
            "amendment_id": f"wait-{order_id}",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
            "add": [item("B", 49800)],
        }
    )


def machine() -> dict[str, Any]:
    memory = next(
        line
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory.split()[1]) / 1024**2, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def for_reading(console: Console) -> Console:
    """The console a report is printed on: the terminal as it is (tables fit its width), or,
    when stdout is a file or a pipe, plain text that never wraps a cell: Markdown tables, one
    row per line, as the performance table (docs/performance.md) is."""
    if console.is_terminal:
        return console
    return Console(file=console.file, width=1000, no_color=True, highlight=False)


def _table(console: Console, title: str) -> Table:
    shape = box.HEAVY_HEAD if console.is_terminal else box.MARKDOWN
    return Table(title=title, title_justify="left", box=shape)


def report(console: Console, result: dict[str, Any]) -> None:
    console = for_reading(console)
    console.print(f"machine: {result['machine']}")
    if "throughput" in result:
        table = _table(
            console, "amendments vs the naive peer, the Temporal floor and a plain httpx script"
        )
        for column in (
            "branch",
            "figure",
            "product",
            "naive",
            "floor",
            "plain script",
            "product/naive",
            "product/floor",
        ):
            table.add_column(column, justify="left" if column in ("branch", "figure") else "right")
        figures: Throughput = result["throughput"]
        for branch, rows in figures.branches.items():
            for run in rows.runs:
                per_second = run.per_second
                table.add_row(
                    branch,
                    f"amendments/s at {run.concurrency}",
                    *_ratio_row(
                        per_second.product, per_second.naive, per_second.floor, per_second.plain
                    ),
                )
            for index, name in enumerate(("p50", "p95", "p99")):
                latency = rows.latency_ms
                table.add_row(
                    branch,
                    f"latency {name} ms",
                    *_ratio_row(
                        latency.product[index],
                        latency.naive[index],
                        latency.floor[index],
                        latency.plain[index],
                    ),
                )
            product, naive, floor = (rows.history[n] for n in ("product", "naive", "floor"))
            table.add_row(
                branch,
                "history events / KiB",
                f"{product.events} / {product.kib:.1f}",
                f"{naive.events} / {naive.kib:.1f}",
                f"{floor.events} / {floor.kib:.1f}",
                "-",
                f"{product.kib / naive.kib:.2f} (KiB)",
                f"{product.kib / floor.kib:.2f} (KiB)",
            )
            spent = rows.actions
            table.add_row(
                branch,
                "Cloud Actions (per 1,000: $)",
                *(
                    f"{spent[n]} ({dollars_per_thousand(spent[n]):.2f})"
                    for n in ("product", "naive", "floor")
                ),
                "-",
                f"{spent['product'] / spent['naive']:.2f}",
                f"{spent['product'] / spent['floor']:.2f}",
            )
            for run in rows.runs:
                cpu = run.cpu_ms_per_amendment
                totals = {name: sum(by_process.values()) for name, by_process in cpu.items()}
                table.add_row(
                    branch,
                    f"CPU ms/amendment at {run.concurrency}",
                    *_ratio_row(
                        totals["product"], totals["naive"], totals["floor"], totals["plain"]
                    ),
                )
                table.add_row(
                    "",
                    "  by process",
                    *(_by_process(cpu[name]) for name in ("product", "naive", "floor", "plain")),
                    "",
                    "",
                )
                table.add_row(
                    branch,
                    f"Dintero calls/amendment at {run.concurrency}",
                    f"{run.calls_per_amendment:.2f}",
                    "-",
                    "-",
                    f"{rows.minimum_calls} (minimum)",
                    "",
                    "",
                )
        table.add_row(
            "",
            "worker peak RSS MiB",
            f"{figures.worker_peak_rss_mib:.0f}",
            "-",
            f"{figures.floor_worker_peak_rss_mib:.0f}",
            "-",
            "",
            f"{figures.worker_peak_rss_mib / figures.floor_worker_peak_rss_mib:.2f}",
        )
        console.print(table)
    if "waiting" in result:
        table = _table(console, "amendments waiting for a top-up")
        table.add_column("figure")
        table.add_column("value", justify="right")
        for key, value in result["waiting"].items():
            table.add_row(key.replace("_", " "), _waiting_cell(key, value))
        console.print(table)


def _waiting_cell(key: str, value: Any) -> str:
    if not isinstance(value, float):
        return str(value)
    return f"{value:.2f}" if key.endswith("_to_throughput_mode") else f"{value:.1f}"


def _by_process(cpu: dict[str, float]) -> str:
    return " ".join(f"{name} {ms:.0f}" for name, ms in cpu.items())


def _ratio_row(product: float, naive: float, floor: float, plain: float) -> tuple[str, ...]:
    return (
        f"{product:.1f}",
        f"{naive:.1f}",
        f"{floor:.1f}",
        f"{plain:.1f}",
        f"{product / naive:.2f}",
        f"{product / floor:.2f}",
    )


async def run(args: argparse.Namespace, progress: Callable[[str], None]) -> dict[str, Any]:
    # SIGTERM cancels the run like Ctrl-C does, so the processes it started are stopped too.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    result: dict[str, Any] = {"machine": machine(), "command": args.command}
    async with Infra(Path(args.logs)) as infra:
        if args.mode in ("throughput", "all"):
            result["throughput"] = await throughput(
                infra, args.amendments, args.concurrency, args.latency_runs, args.branch, progress
            )
        if args.mode in ("waiting", "all"):
            result["waiting"] = await waiting(infra, args.waiting, progress)
            if "throughput" in result:
                result["waiting"] = against_throughput(result["waiting"], result["throughput"])
    return result


def main(argv: list[str] | None = None, prog: str = "python -m bench") -> None:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mode", choices=["throughput", "waiting", "all"], default="throughput")
    parser.add_argument("--amendments", type=int, default=500, help="per throughput figure")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--latency-runs", type=int, default=50)
    parser.add_argument("--branch", choices=list(BRANCHES), nargs="+", default=list(BRANCHES))
    parser.add_argument("--waiting", type=int, default=10_000, help="amendments in waiting mode")
    parser.add_argument("--logs", default="artifacts/bench", help="where the processes log")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    args.command = " ".join([prog, *(sys.argv[1:] if argv is None else argv)])
    console = Console(stderr=args.json)
    try:
        with console.status("starting ...") as status:

            def progress(text: str) -> None:
                status.update(text)
                if not console.is_terminal:  # a log file: one timestamped line per step
                    console.print(f"{time.strftime('%H:%M:%S')} {text}", highlight=False)

            result = asyncio.run(run(args, progress))
    except (asyncio.CancelledError, KeyboardInterrupt):
        console.print("stopped; the processes it started are stopped too")
        exit_now(130)
    if args.json:
        document = {
            **result,
            **({"throughput": result["throughput"].as_json()} if "throughput" in result else {}),
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        report(console, result)
    exit_now(0)


if __name__ == "__main__":
    main()
