"""The benchmark's tables for a person: each figure as a ratio to the Temporal floor measured in
the same run, with the machine it ran on."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, TypeVar

from rich import box
from rich.console import Console
from rich.table import Table

from bench.actions import dollars_per_thousand
from bench.figures import Throughput

T = TypeVar("T")


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
                    *(by_process(cpu[name]) for name in ("product", "naive", "floor", "plain")),
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
    if "fairness" in result:
        fair = result["fairness"]
        table = _table(
            console,
            f"one account's burst of {fair['burst']} beside another's trickle of "
            f"{fair['trickle']} (one every {fair['every_seconds']:g} s): the trickle's latency",
        )
        for column in ("fair task queues", "alone p50 / p95 ms", "beside the burst p50 / p95 ms",
                       "p95 beside / alone", "burst amendments/s"):  # fmt: skip
            table.add_column(column, justify="left" if column == "fair task queues" else "right")
        for name in ("on", "off"):
            row = fair[name]
            alone, during = row["trickle_alone"], row["trickle_during_burst"]
            table.add_row(
                name,
                f"{alone['p50_ms']:.0f} / {alone['p95_ms']:.0f}",
                f"{during['p50_ms']:.0f} / {during['p95_ms']:.0f}",
                f"{row['p95_during_to_alone']:.2f}",
                f"{row['burst_per_second']:.1f}",
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


def by_process(cpu: dict[str, float]) -> str:
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
