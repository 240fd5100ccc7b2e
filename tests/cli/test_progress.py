"""`amend` never leaves the operator guessing: `start --wait` prints the started line at once and
then each step (one line per change when not on a terminal), `replay --wait` prints the same
result as `start --wait`, `authorize` says what a signal is (sent, not yet confirmed) and what an
update did and what is still outstanding, and an unreachable Temporal names the address tried and
how to start the local stack."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from temporalio.client import WorkflowFailureError

from amendments import failures
from amendments.domain import ids
from amendments.simulator.app import FaultRule
from tests.support.cli import amend, amend_async
from tests.support.harness import Harness
from tests.support.orders import CHAIR, item, swap


async def test_start_wait_shows_each_step_then_the_result(
    harness: Harness, cli_env: dict[str, str], tmp_path: Path
) -> None:
    order_id = await harness.place(CHAIR)
    path = tmp_path / "dearer.json"
    path.write_text(json.dumps(swap(order_id, "dearer", item("Y", 49800))))
    waiting = asyncio.create_task(amend_async("start", str(path), "--wait", env=cli_env))
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    sent = await amend_async(
        "authorize", order_id, "--payment-id", "PID_1", "--amount", "4000", "--wait", env=cli_env
    )
    assert sent.code == 0, sent.stderr
    assert sent.stdout.splitlines() == [
        "update PID_1 4000: recorded",
        "top-up outstanding: 6000",
    ]
    signal = await amend_async(
        "authorize", order_id, "--payment-id", "PID_2", "--amount", "6000", env=cli_env
    )
    assert signal.code == 0, signal.stderr
    assert signal.stdout.strip() == (
        f"sent approved 6000 (PID_2) as a signal; not yet confirmed: "
        f"{failures.status_hint(order_id)} shows how it was taken (or send it with --wait)"
    )
    run = await waiting
    assert run.code == 0, run.stderr
    lines = [line.rstrip() for line in run.stdout.splitlines()]
    assert lines[0].startswith(f"started {ids.workflow_id(order_id)} (run ")
    # Polled twice a second: each state seen is printed once, in order (which ones a poll
    # catches depends on timing; the waiting state lasts until the first outcome is sent).
    progress = [line for line in lines[1:] if " · step " in line]
    assert progress == sorted(set(progress), key=progress.index), "a state printed twice"
    assert any(
        re.fullmatch(r"AwaitingTopUp · step top-up\S* · top-up outstanding (10000|6000) NOK", x)
        for x in progress
    ), progress
    assert f"applied to order {order_id}; total 49800" in lines


async def test_replay_wait_prints_what_start_wait_prints(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    order_id = await harness.place(CHAIR)
    harness.sim.add_faults([FaultRule(method="POST", path="*/captures", status=400, times=1)])
    handle = await harness.start(swap(order_id, "replayed"))
    try:
        await handle.result()
    except WorkflowFailureError:
        pass
    else:
        raise AssertionError("the amendment should have failed")
    run = await amend_async("replay", order_id, "--wait", env=cli_env)
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"replaying {ids.workflow_id(order_id)}: new run ")
    assert f"applied to order {order_id}; total 39800" in lines
    assert any(line.startswith("order ") for line in lines)  # the ledger table's title


async def test_status_names_the_last_step_and_what_comes_next(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    order_id = await harness.awaiting_top_up("waits")
    waiting = await amend_async("status", order_id, env=cli_env)
    assert waiting.code == 0, waiting.stderr
    assert "last step: top-up" in waiting.stdout
    assert failures.next_step_top_up(order_id, "10000 NOK") in waiting.stdout
    harness.sim.add_faults([FaultRule(method="POST", path="*/authorizations", status=400, times=1)])
    await amend_async(
        "authorize", order_id, "--payment-id", "P", "--amount", "10000", "--wait", env=cli_env
    )
    await harness.wait_for_state(order_id, lambda s: s.status == "Failed")
    failed = await amend_async("status", order_id, env=cli_env)
    assert f"last step: {ids.top_up_group(1).record('authorization')}" in failed.stdout
    assert failures.next_step_failed(ids.workflow_id(order_id)) in failed.stdout


def test_unreachable_temporal_names_the_address_and_the_local_stack() -> None:
    run = amend("status", "X", env={"TEMPORAL_ADDRESS": "127.0.0.1:1"}, timeout=120)
    assert run.code == 1
    assert run.stderr.startswith("error: cannot reach Temporal at 127.0.0.1:1 (")
    assert run.stderr.strip().endswith(f"check TEMPORAL_ADDRESS, or {failures.LOCAL_STACK}")
