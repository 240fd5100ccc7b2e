"""Record the workflow histories that tests/workflows/test_replay_histories.py replays.

    python -m tests.support.record_histories [--encrypted]

Plays every branch on a fresh embedded stack (dev server in memory, simulator, worker) and
writes one JSON history per branch under tests/histories/. Refresh them when a change to the
workflows is *meant* to be incompatible (and running workflows are drained first); a change
that must stay compatible with running workflows goes behind `workflow.patched(...)` instead,
and the old histories must keep replaying: those are kept as `legacy_*.json` (see `LEGACY`),
never rewritten by this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from typing import Any

from temporalio.client import WorkflowFailureError

from amendments.api.starter import (
    get_state,
    place_order,
    revert_amendment,
    send_authorization_outcome,
    start_amendment,
)
from amendments.domain import ids
from amendments.local.stack import EmbeddedStack, Ports
from amendments.simulator.server import free_port
from tests.support.harness import eventually
from tests.support.keys import KEY_1
from tests.support.orders import item, rev
from tests.support.paths import HISTORIES as DIRECTORY

# Histories recorded by earlier versions, replayed to prove that runs in flight keep replaying.
LEGACY = {
    "legacy_top_up_timeout": "a timeout before `on_top_up_timeout` existed: it must keep failing",
    "legacy_place_top_up_timeout": "its order, placed by the same version",
}

# name: (order items, reverse, add, outcomes, top-up timeout[, extra input, then])
# `then`: "revert" sends the revert update once the outcomes are in.
BRANCHES: dict[str, tuple[Any, ...]] = {
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
    "top_up_timeout": (
        [item("A", 39800)],
        [rev(1)],
        [item("B", 49800)],
        [],
        1,
        {"on_top_up_timeout": "fail"},
    ),
    "revert_on_timeout": (
        [item("A", 39800)],
        [rev(1)],
        [item("B", 49800)],
        [("PID_A", 4000, True)],
        3,
    ),
    "revert_by_update": (
        [item("A", 39801, 3)],
        [rev(1, 1)],
        [item("B", 20000)],
        [("PID_X", 1000, False), ("PID_A", 1000, True), ("PID_B", 2000, True)],
        60,
        {},
        "revert",
    ),
    "rejected_input": ([item("A", 39800)], [rev(1)], [], [], 60, {"priority": "high"}),
}


# Recorded with ENCRYPTION_KEYS = tests.support.keys.KEY_1 (`python -m
# tests.support.record_histories --encrypted`): they replay with the keys rotated
# (tests/workflows/test_replay_histories.py).
ENCRYPTED = ("refund", "top_up", "revert_by_update")


async def record(*, encrypted: bool = False) -> None:
    directory = DIRECTORY / "encrypted" if encrypted else DIRECTORY
    directory.mkdir(exist_ok=True)
    if encrypted:
        os.environ["ENCRYPTION_KEYS"] = KEY_1  # the embedded stack's settings read it
    async with EmbeddedStack(ports=Ports(free_port(), free_port(), free_port())) as stack:
        assert stack.client is not None
        client, queue = stack.client, stack.task_queue
        for name, (items, reverse, add, outcomes, timeout, *more) in BRANCHES.items():
            if encrypted and name not in ENCRYPTED:
                continue
            extra, then = [*more, {}, ""][:2]
            placed = await place_order(
                client,
                {"currency": "NOK", "items": items, "payment_id": "PID_123"},
                task_queue=queue,
                workflow_id=f"place-{name}",
            )
            request = {
                "order_id": placed.order_id,
                "amendment_id": name,
                "reverse": reverse,
                "add": add,
                "top_up_timeout_seconds": timeout,
                **extra,
            }
            if name == "rejected_input":  # as a foreign client would: the workflow refuses it
                handle = await client.start_workflow(
                    "AmendOrder", request, id=ids.workflow_id(placed.order_id), task_queue=queue
                )
            else:
                handle = await start_amendment(client, request, task_queue=queue)
            for payment_id, amount, success in outcomes:
                await send_authorization_outcome(
                    client,
                    placed.order_id,
                    {"payment_id": payment_id, "amount": amount, "success": success},
                )
            if then == "revert":
                order_id, sent = placed.order_id, len(outcomes)

                async def taken(order_id: str = order_id, sent: int = sent) -> bool | None:
                    return len((await get_state(client, order_id)).outcomes) >= sent or None

                await eventually(taken)
                await revert_amendment(client, placed.order_id, {"reason": "recorded"})
            with contextlib.suppress(WorkflowFailureError):  # some branches fail on purpose
                await handle.result()
            for workflow_id, file in ((handle.id, name), (f"place-{name}", f"place_{name}")):
                history = await client.get_workflow_handle(workflow_id).fetch_history()
                document = {"workflow_id": workflow_id, "history": json.loads(history.to_json())}
                (directory / f"{file}.json").write_text(json.dumps(document, indent=1) + "\n")
                print(f"wrote {directory / file}.json")


if __name__ == "__main__":
    asyncio.run(record(encrypted="--encrypted" in sys.argv))
