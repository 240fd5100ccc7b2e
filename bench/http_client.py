"""`python -m bench.http_client`: CPU of the product's Dintero client per request, against the
simulator in a process of its own. It isolates the HTTP client's share of the worker's CPU, the
largest in the worker's profile (see docs/performance-history.md).

    python -m bench.http_client                 # 3,000 order reads at concurrency 50
    python -m bench.http_client --requests 10000 --concurrency 10
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import time
from pathlib import Path

from amendments.temporal.process import exit_now
from bench.amendments import bounded, seed_orders
from bench.infra import Infra


async def measure(requests: int, concurrency: int, logs: Path) -> float:
    """Client CPU milliseconds per request (each order read is three requests)."""
    async with Infra(logs, simulator_only=True) as infra:
        dintero = infra.dintero(max_connections=50)
        try:
            [order_id] = await seed_orders(dintero, 1)
            reads = requests // 3
            await bounded((dintero.read_order(order_id) for _ in range(reads // 10)), concurrency)
            began = time.process_time()
            await bounded((dintero.read_order(order_id) for _ in range(reads)), concurrency)
            return (time.process_time() - began) * 1000 / (reads * 3)
        finally:
            await dintero.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.http_client", description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--logs", default="artifacts/bench-http", help="where the processes log")
    args = parser.parse_args()
    per_request = asyncio.run(measure(args.requests, args.concurrency, Path(args.logs)))
    sniffio = "installed" if importlib.util.find_spec("sniffio") else "absent"
    print(f"client CPU per request: {per_request:.2f} ms", end=" ")
    print(f"(concurrency {args.concurrency}, sniffio {sniffio})")
    exit_now(0)


if __name__ == "__main__":
    main()
