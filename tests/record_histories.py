"""Record the workflow histories that tests/test_replay_histories.py replays.

    python -m tests.record_histories

Plays every branch on a fresh embedded stack (dev server in memory, simulator, worker) and
writes one JSON history per branch under tests/histories/. Refresh them when a change to the
workflows is *meant* to be incompatible (and running workflows are drained first); a change
that must stay compatible with running workflows goes behind `workflow.patched(...)` instead,
and the old histories must keep replaying.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowFailureError

from amendments.embedded import EmbeddedStack, Ports
from amendments.starter import place_order, send_authorization_outcome, start_amendment
from tests.harness import item

DIRECTORY = Path(__file__).resolve().parent / "histories"


def rev(line_id: int, quantity: int | None = None) -> dict[str, Any]:
    return {"line_id": line_id, "quantity": quantity, "reason": "Replace item"}


# name: (order items, reverse, add, outcomes, top-up timeout)
BRANCHES: dict[str, tuple[list[Any], list[Any], list[Any], list[tuple[str, int, bool]], int]] = {
    "even": ([item("A", 39800)], [rev(1)], [item("B", 39800)], [], 60),
    "refund": ([item("A", 39800)], [rev(1)], [item("B", 30000)], [], 60),
    "top_up": (
        [item("A", 39800)],
        [rev(1)],
        [item("B", 49800)],
        [
            ("PID_X", 10000, False),
            ("PID_A", 6000, True),
            ("PID_A", 6000, True),
            ("PID_B", 4000, True),
        ],
        60,
    ),
    "partial_quantity": ([item("A", 39801, 3)], [rev(1, 1)], [], [], 60),
    "multi_line": (
        [item("A", 10000), item("B", 20000, 2)],
        [rev(1), rev(2, 1)],
        [item("D", 25000), item("E", 30000)],
        [("PID_1", 35000, True)],
        60,
    ),
    "add_only": ([item("A", 39800)], [], [item("Z", 5000)], [("PID_Z", 5000, True)], 60),
    "top_up_timeout": ([item("A", 39800)], [rev(1)], [item("B", 49800)], [], 1),
}


async def record() -> None:
    DIRECTORY.mkdir(exist_ok=True)
    async with EmbeddedStack(ports=Ports.available(Ports(0, 0, 0)), database=None) as stack:
        assert stack.client is not None
        client, queue = stack.client, stack.task_queue
        for name, (items, reverse, add, outcomes, timeout) in BRANCHES.items():
            placed = await place_order(
                client,
                {"currency": "NOK", "items": items, "payment_id": "PID_123"},
                task_queue=queue,
                workflow_id=f"place-{name}",
            )
            handle = await start_amendment(
                client,
                {
                    "order_id": placed.order_id,
                    "amendment_id": name,
                    "reverse": reverse,
                    "add": add,
                    "top_up_timeout_seconds": timeout,
                },
                task_queue=queue,
            )
            for payment_id, amount, success in outcomes:
                await send_authorization_outcome(
                    client,
                    placed.order_id,
                    {"payment_id": payment_id, "amount": amount, "success": success},
                )
            with contextlib.suppress(WorkflowFailureError):  # the timeout branch fails on purpose
                await handle.result()
            for workflow_id, file in ((handle.id, name), (f"place-{name}", f"place_{name}")):
                history = await client.get_workflow_handle(workflow_id).fetch_history()
                document = {"workflow_id": workflow_id, "history": json.loads(history.to_json())}
                (DIRECTORY / f"{file}.json").write_text(json.dumps(document, indent=1) + "\n")
                print(f"wrote tests/histories/{file}.json")


if __name__ == "__main__":
    asyncio.run(record())
