"""The boundary matrix: every `authorization_outcome` is answered or recorded, in every phase.

For each phase an amendment can be in (planning, applying, awaiting its top-up, verifying,
completed, failed) and each way it can be started (the starter API, a raw start with the SDK's
default JSON converter, `temporal workflow start`), the same five messages (valid, duplicate,
declined, over-amount, malformed) are sent as signals and as updates from a plain JSON client.
Each must be answered (an update returns or is refused) or recorded (a signal shows in `state`
with its disposition), and the run must then **close**: Completed, or Failed where it was made
to fail. Phases are held with faults on the simulator (a read or a write answering 503) and let
go once the messages are in. Then the regressions: a duplicate update after the last capture,
and an update in flight while its write fails.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from amendments import failures
from amendments.domain import ids
from amendments.simulator.app import FaultRule
from tests.support.cli import amend_async, temporal_start
from tests.support.harness import PATIENCE, Harness, eventually
from tests.support.orders import CHAIR, item, swap

OUTCOME = "authorization_outcome"
PHASES = ["planning", "applying", "awaiting", "verifying", "completed", "failed"]
STARTS = ["starter", "raw", "cli"]
NAMES = ["valid", "duplicate", "declined", "over-amount", "malformed"]
TOP_UP = 10000
# What each message becomes, per phase and way of sending. "refused": the update's validator
# said no; "gone": the run had closed, and Temporal itself answered that it is not running.
TAKEN = ["recorded", "duplicate", "declined"]
EXPECTED: dict[str, dict[str, list[str]]] = {
    "planning": {"signal": [*TAKEN, "ignored", "ignored"], "update": ["refused"] * 5},
    "applying": {
        "signal": [*TAKEN, "ignored", "ignored"],
        "update": [*TAKEN, "refused", "refused"],
    },
    "awaiting": {
        "signal": [*TAKEN, "ignored", "ignored"],
        "update": [*TAKEN, "refused", "refused"],
    },
    "verifying": {"signal": ["ignored"] * 5, "update": ["refused"] * 5},
    "completed": {"signal": ["gone"] * 5, "update": ["gone"] * 5},
    "failed": {"signal": ["gone"] * 5, "update": ["gone"] * 5},
}


def outcome(payment_id: str, amount: int, success: bool = True) -> dict[str, Any]:
    return {"payment_id": payment_id, "amount": amount, "success": success}


def messages(via: str) -> list[Any]:
    payer = "PID_S" if via == "signal" else "PID_U"
    return [
        outcome(payer, 3000),
        outcome(payer, 3000),  # the same again: at-least-once delivery
        outcome(f"{payer}X", 1000, success=False),
        outcome(f"{payer}O", 50000),
        {"payment_id": f"{payer}M", "amount": "3000", "success": True},  # malformed amount
    ]


def matrix(order_id: str) -> dict[str, Any]:
    """The amendment every case sends its messages to: CHAIR's line swapped for a dearer one."""
    return swap(order_id, "matrix", item("Y", int(str(CHAIR["gross_amount"])) + TOP_UP))


async def start(
    how: str, harness: Harness, raw: Client, env: WorkflowEnvironment, request: dict[str, Any]
) -> WorkflowHandle[Any, Any]:
    workflow_id = ids.workflow_id(request["order_id"])
    if how == "starter":
        await harness.start(request)
    elif how == "raw":
        await raw.start_workflow(
            "AmendOrder", request, id=workflow_id, task_queue=harness.task_queue
        )
    else:
        await asyncio.to_thread(
            temporal_start, env, harness.task_queue, "AmendOrder", workflow_id, json.dumps(request)
        )
    return raw.get_workflow_handle(workflow_id)


def faulted(harness: Harness, since: int) -> bool | None:
    return any(entry.get("status") == 503 for entry in harness.sim.requests[since:]) or None


async def hold(
    harness: Harness, phase: str, order_id: str, handle: WorkflowHandle[Any, Any]
) -> None:
    """Bring the amendment to `phase` (faults already set for planning and applying)."""
    if phase in ("planning", "applying"):
        await eventually(lambda: asyncio.sleep(0, faulted(harness, 0)))
        return
    if phase == "failed":
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), PATIENCE)
        return
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    if phase == "awaiting":
        return
    mark = harness.mark()
    if phase == "verifying":
        harness.sim.add_faults([FaultRule(method="GET", path="*/refunds", status=503)])
    await handle.signal(OUTCOME, outcome("PID_COVER", TOP_UP))
    if phase == "verifying":
        await harness.wait_for_state(order_id, lambda s: s.step == "verify")
        await eventually(lambda: asyncio.sleep(0, faulted(harness, mark)))
    else:
        await asyncio.wait_for(handle.result(), PATIENCE)


async def send_all(
    handle: WorkflowHandle[Any, Any],
) -> tuple[list[str], list[WorkflowUpdateHandle[Any] | str]]:
    """Signals, then updates, each in order; an update is sent once the previous one was
    accepted (or refused), so the order of arrival is the order sent."""
    signals: list[str] = []
    for payload in messages("signal"):
        try:
            await handle.signal(OUTCOME, payload)
            signals.append("sent")
        except RPCError:
            signals.append("gone")
    updates: list[WorkflowUpdateHandle[Any] | str] = []
    for payload in messages("update"):
        try:
            updates.append(
                await handle.start_update(
                    OUTCOME, payload, wait_for_stage=WorkflowUpdateStage.ACCEPTED
                )
            )
        except WorkflowUpdateFailedError:
            updates.append("refused")
        except RPCError:
            updates.append("gone")
    return signals, updates


@pytest.mark.parametrize("how", STARTS)
@pytest.mark.parametrize("phase", PHASES)
async def test_every_message_is_answered_and_the_run_closes(
    harness: Harness, raw: Client, env: WorkflowEnvironment, phase: str, how: str
) -> None:
    order_id = await harness.place(CHAIR)
    if phase == "planning":
        harness.sim.add_faults([FaultRule(method="GET", path="*/orders/*", status=503)])
    elif phase == "applying":
        harness.sim.add_faults([FaultRule(method="POST", path="*/captures", status=503)])
    elif phase == "failed":
        harness.sim.add_faults([FaultRule(method="POST", path="*/captures", status=400, times=1)])
    handle = await start(how, harness, raw, env, matrix(order_id))
    await hold(harness, phase, order_id, handle)

    signals, updates = await send_all(handle)
    harness.sim.faults.clear()
    answers: list[str] = []
    for update in updates:
        if isinstance(update, str):
            answers.append(update)
            continue
        try:
            seen = await asyncio.wait_for(update.result(), PATIENCE)
        except WorkflowUpdateFailedError as exc:  # refused by the validator, or failed
            # A validator's refusal is published as `OutcomeRefused` (the failure vocabulary).
            refused = getattr(exc.cause, "type", None) == failures.OUTCOME_REFUSED.name
            answers.append("refused" if refused else f"failed: {exc.cause}")
            continue
        answers.append(seen["disposition"])
    assert answers == EXPECTED[phase]["update"], f"{phase}/{how}: updates"

    if phase not in ("completed", "failed"):
        state = await harness.wait_for_state(
            order_id, lambda s: len([o for o in s.outcomes if o.via == "signal"]) >= 5
        )
        if state.top_up_outstanding and phase != "verifying":
            await handle.signal(OUTCOME, outcome("PID_COVER", state.top_up_outstanding))
        result = await asyncio.wait_for(handle.result(), PATIENCE)
        assert result["outcome"] == "applied"
    status = (await handle.describe()).status
    closed = (
        WorkflowExecutionStatus.FAILED if phase == "failed" else WorkflowExecutionStatus.COMPLETED
    )
    assert status == closed, f"{phase}/{how}: the run did not close as expected"

    if phase in ("completed", "failed"):
        assert signals == EXPECTED[phase]["signal"]
        return
    state = await harness.state(order_id)
    seen = [o for o in state.outcomes if o.via == "signal" and o.payment_id != "PID_COVER"]
    assert [o.disposition for o in seen] == EXPECTED[phase]["signal"], f"{phase}/{how}: signals"
    malformed = seen[-1]
    assert malformed.note.startswith("malformed: amount: ")
    assert (malformed.payment_id, malformed.amount) == ("PID_SM", None)
    assert all(o.disposition != "ignored" or o.note for o in state.outcomes)
    # Money: only the recorded outcomes were captured, each payment once.
    captured = {
        r["payment_details"]["payment_id"]: r["amount"]
        for r in harness.records(order_id, "capture")
        if r.get("metadata", {}).get("step", "").startswith("top-up-")
    }
    assert sum(captured.values()) == TOP_UP
    recorded = [o for o in state.outcomes if o.disposition == "recorded"]
    assert sorted(captured) == sorted(str(o.payment_id) for o in recorded)


async def test_a_duplicate_update_after_the_last_capture_is_answered(harness: Harness) -> None:
    """Regression: the second call used to hang and the run never closed."""
    order_id = await harness.place(CHAIR)
    handle = harness.client.get_workflow_handle(ids.workflow_id(order_id))
    await harness.start(matrix(order_id))
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    full = outcome("PID_FULL", TOP_UP)
    first = await handle.execute_update(OUTCOME, full)
    assert first["disposition"] == "recorded"
    try:
        again: Any = await asyncio.wait_for(handle.execute_update(OUTCOME, full), PATIENCE)
    except (WorkflowUpdateFailedError, RPCError) as exc:  # the run may already have closed
        again = type(exc).__name__
    assert again in ("RPCError", "WorkflowUpdateFailedError") or again["disposition"] == "duplicate"
    await asyncio.wait_for(handle.result(), PATIENCE)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_a_duplicate_update_while_verifying_is_a_duplicate(harness: Harness) -> None:
    order_id = await harness.place(CHAIR)
    handle = harness.client.get_workflow_handle(ids.workflow_id(order_id))
    await harness.start(matrix(order_id))
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    harness.sim.add_faults([FaultRule(method="GET", path="*/refunds", status=503)])
    full = outcome("PID_FULL", TOP_UP)
    assert (await handle.execute_update(OUTCOME, full))["disposition"] == "recorded"
    await harness.wait_for_state(order_id, lambda s: s.step == "verify")
    again = await asyncio.wait_for(handle.execute_update(OUTCOME, full), PATIENCE)
    assert (again["disposition"], again["note"]) == ("duplicate", "already recorded as a success")
    harness.sim.faults.clear()
    await asyncio.wait_for(handle.result(), PATIENCE)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_an_update_in_flight_when_its_write_fails(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    """Regression: `amend authorize --wait` used to hang, the run stayed Running and could not
    be replayed. Now the update fails with the write's error, the run closes as Failed, and
    `amend replay` resumes it."""
    order_id = await harness.place(CHAIR)
    await harness.start(matrix(order_id))
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    harness.sim.add_faults([FaultRule(method="POST", path="*/authorizations", status=400, times=1)])
    sent = await amend_async(
        "authorize",
        order_id,
        "--payment-id",
        "PID_W",
        "--amount",
        str(TOP_UP),
        "--wait",
        env=cli_env,
        timeout=60,
    )
    assert sent.code == 1
    assert sent.stderr.startswith("error: not recorded: ")
    assert "Injected failure" in sent.stderr
    handle = harness.client.get_workflow_handle(ids.workflow_id(order_id))
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), PATIENCE)
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    state = await harness.state(order_id)
    assert state.status == "Failed"
    assert [o.disposition for o in state.outcomes] == ["failed"]

    replayed = await amend_async("replay", ids.workflow_id(order_id), env=cli_env, timeout=PATIENCE)
    assert replayed.code == 0, replayed.stderr
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    await handle.signal(OUTCOME, outcome("PID_W", TOP_UP))
    result = await asyncio.wait_for(handle.result(), PATIENCE)
    assert result["outcome"] == "applied"
    steps = [
        r["metadata"]["step"]
        for r in harness.records(order_id, "authorization")
        if r["metadata"].get("step", "").startswith("top-up")
    ]
    assert steps == [ids.top_up_group(1).record("authorization")]  # recorded once, after the replay
