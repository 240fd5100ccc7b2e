"""`python -m bench ... --plots DIR`: the run's figures drawn as PNGs, one per figure group,
each titled with the machine and the command that measured it:

- `latency.png`: every single amendment's latency, product beside the naive peer, the Temporal
  floor and the plain script, per branch (the distribution, not only its percentiles);
- `throughput.png`: amendments a second at each concurrency measured, per branch;
- `cpu.png`: CPU milliseconds per amendment by process, at the highest concurrency;
- `waiting.png`: the memory of the worker and the server while amendments wait for top-ups;
- `fairness.png`: the trickle's latency alone and beside another account's burst, fair task
  queues on and off.

Only the groups the run measured are drawn. Pure drawing: nothing is measured here.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure  # drawn without pyplot: no global state, no display

from bench.figures import Throughput

VARIANTS = ("product", "naive", "floor", "plain")
LABELS = {
    "product": "product",
    "naive": "naive peer",
    "floor": "Temporal floor",
    "plain": "plain script",
}


def write_plots(result: dict[str, Any], directory: Path) -> list[Path]:
    """A PNG per figure group the run measured, in `directory`; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    about = _about(result)
    written = []
    figures: Throughput | None = result.get("throughput")
    if figures is not None:
        written += [
            _save(_latency(figures, about), directory / "latency.png"),
            _save(_throughput(figures, about), directory / "throughput.png"),
            _save(_cpu(figures, about), directory / "cpu.png"),
        ]
    if "waiting" in result:
        written.append(_save(_waiting(result["waiting"], about), directory / "waiting.png"))
    if "fairness" in result:
        written.append(_save(_fairness(result["fairness"], about), directory / "fairness.png"))
    return written


def _about(result: dict[str, Any]) -> str:
    m = result["machine"]
    command = textwrap.fill(result["command"], 90, subsequent_indent="    ")
    return (
        f"{m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']} ({m['machine']})\n"
        f"{command}"
    )


def _figure(title: str, about: str, columns: int = 1) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(max(7.0, 5.5 * columns + 1), 5.5))
    axes = figure.subplots(1, columns, squeeze=False)
    figure.suptitle(f"{title}\n{about}", fontsize=9)
    return figure, list(axes[0])


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def _latency(figures: Throughput, about: str) -> Figure:
    branches = figures.branches
    figure, axes = _figure("latency of single amendments, one at a time", about, len(branches))
    for ax, (branch, rows) in zip(axes, branches.items(), strict=True):
        samples = [list(rows.latency_samples_ms.get(v, ())) for v in VARIANTS]
        ax.boxplot(samples, tick_labels=[LABELS[v] for v in VARIANTS], showfliers=True)
        ax.set_title(branch)
        ax.set_ylabel("ms from start to result")
        ax.set_ylim(bottom=0)
        ax.tick_params(axis="x", labelrotation=20)
    return figure


def _throughput(figures: Throughput, about: str) -> Figure:
    branches = figures.branches
    figure, axes = _figure("throughput at each concurrency", about, len(branches))
    for ax, (branch, rows) in zip(axes, branches.items(), strict=True):
        levels = [run.concurrency for run in rows.runs]
        for variant in VARIANTS:
            rates = [getattr(run.per_second, variant) for run in rows.runs]
            ax.plot(levels, rates, marker="o", label=LABELS[variant])
        ax.set_title(branch)
        ax.set_xlabel("amendments in flight (concurrency)")
        ax.set_ylabel("amendments a second")
        ax.set_xticks(levels)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    return figure


def _cpu(figures: Throughput, about: str) -> Figure:
    branches = figures.branches
    figure, axes = _figure(
        "CPU per amendment by process, at the highest concurrency", about, len(branches)
    )
    for ax, (branch, rows) in zip(axes, branches.items(), strict=True):
        top = max(rows.runs, key=lambda run: run.concurrency)
        cpu = top.cpu_ms_per_amendment
        processes = sorted({p for by_process in cpu.values() for p in by_process})
        bottoms = [0.0] * len(VARIANTS)
        for process in processes:
            heights = [cpu[v].get(process, 0.0) for v in VARIANTS]
            ax.bar([LABELS[v] for v in VARIANTS], heights, bottom=bottoms, label=process)
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        ax.set_title(f"{branch} at concurrency {top.concurrency}")
        ax.set_ylabel("CPU ms per amendment")
        ax.tick_params(axis="x", labelrotation=20)
        ax.legend(fontsize=8)
    return figure


def _waiting(waiting: dict[str, Any], about: str) -> Figure:
    count = waiting["amendments"]
    figure, [ax] = _figure(f"memory while {count} amendments wait for their top-up", about)
    bars = {
        "worker RSS while waiting": waiting["worker_rss_mib_while_waiting"],
        "worker peak RSS": waiting["worker_peak_rss_mib"],
        "Temporal server RSS while waiting": waiting["server_rss_mib_while_waiting"],
    }
    drawn = ax.bar(list(bars), list(bars.values()), color=["C0", "C0", "C1"])
    ax.bar_label(drawn, fmt="%.0f MiB")
    ax.set_ylabel("MiB")
    ax.tick_params(axis="x", labelrotation=10)
    return figure


def _fairness(fair: dict[str, Any], about: str) -> Figure:
    figure, [ax] = _figure(
        f"another account's trickle of {fair['trickle']} (one every {fair['every_seconds']:g} s) "
        f"beside a burst of {fair['burst']}",
        about,
    )
    groups = {
        "alone,\nfair on": fair["on"]["trickle_alone_ms"],
        "beside the burst,\nfair on": fair["on"]["trickle_during_burst_ms"],
        "alone,\nfair off": fair["off"]["trickle_alone_ms"],
        "beside the burst,\nfair off": fair["off"]["trickle_during_burst_ms"],
    }
    ax.boxplot(list(groups.values()), tick_labels=list(groups), showfliers=True)
    ax.set_yscale("log")
    ax.set_ylabel("ms from start to result (log)")
    return figure
