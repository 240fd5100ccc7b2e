"""`python -m bench`: throughput, latency, Dintero calls and memory of amendments, each as a ratio
to the Temporal floor measured in the same run, beside a plain httpx script.

    python -m bench                       # throughput mode, 500 amendments per figure
    python -m bench --mode waiting --waiting 10000
    python -m bench --mode fairness --burst 1000 --trickle 20
    python -m bench --json                # one JSON document
    python -m bench --plots docs/images/bench   # and a PNG per figure group (bench/plots.py)

Nothing here is a test: no figure is asserted, the numbers are printed for a person to read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from amendments.temporal.process import exit_now
from bench.amendments import BRANCHES
from bench.fairness import fairness
from bench.infra import (
    Infra,
)
from bench.plots import write_plots
from bench.report import machine, report
from bench.throughput import throughput
from bench.waiting import against_throughput, waiting

T = TypeVar("T")


async def run(args: argparse.Namespace, progress: Callable[[str], None]) -> dict[str, Any]:
    # SIGTERM cancels the run like Ctrl-C does, so the processes it started are stopped too.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    result: dict[str, Any] = {"machine": machine(), "command": args.command}
    if args.mode == "fairness":  # two stacks of its own: fair task queues on, then off
        result["fairness"] = await fairness(
            Path(args.logs), args.burst, args.trickle, args.every, progress
        )
        return result
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
    parser.add_argument(
        "--mode", choices=["throughput", "waiting", "all", "fairness"], default="throughput"
    )
    parser.add_argument("--amendments", type=int, default=500, help="per throughput figure")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--latency-runs", type=int, default=50)
    parser.add_argument("--branch", choices=list(BRANCHES), nargs="+", default=list(BRANCHES))
    parser.add_argument("--waiting", type=int, default=10_000, help="amendments in waiting mode")
    parser.add_argument("--burst", type=int, default=1000, help="fairness mode: one account's")
    parser.add_argument("--trickle", type=int, default=20, help="fairness mode: another's")
    parser.add_argument("--every", type=float, default=1.5, help="seconds between the trickle's")
    parser.add_argument("--logs", default="artifacts/bench", help="where the processes log")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--plots", metavar="DIR", help="write a PNG per figure group there (bench/plots.py)"
    )
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
    if args.plots:
        for path in write_plots(result, Path(args.plots)):
            console.print(f"plot: {path}", highlight=False, soft_wrap=True)
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
