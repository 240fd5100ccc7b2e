"""`amend replay` resumes failed amendments after the cause was fixed, writing nothing twice."""

from __future__ import annotations

from collections import Counter

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from amendments import failures
from amendments.api.starter import send_authorization_outcome
from amendments.dintero.errors import BadRequest
from amendments.domain import ids
from amendments.domain.models import AmendmentResult, LineResult
from amendments.simulator import FaultRule
from tests.support.cli import amend_async
from tests.support.harness import READ, Harness
from tests.support.orders import CHAIR, item


def record_steps(harness: Harness, order_id: str, amendment_id: str) -> Counter[str]:
    return Counter(
        r["metadata"]["step"]
        for kind in ("authorization", "capture", "refund")
        for r in harness.records(order_id, kind)
        if r.get("metadata", {}).get("amendment_id") == amendment_id
    )


async def failure_of(harness: Harness, order_id: str) -> ApplicationError:
    handle = harness.client.get_workflow_handle(ids.workflow_id(order_id))
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_replay_after_a_non_retryable_capture_failure(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    order_id = await harness.place(CHAIR)
    # The second capture of the amendment (the covered new items) is refused with a 400.
    harness.sim.add_faults(
        [FaultRule(method="POST", path="*/captures", status=400, after=1, times=1)]
    )
    await harness.start(
        {
            "order_id": order_id,
            "amendment_id": "fix-me",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
            "add": [item("X", 30000)],
        }
    )
    cause = await failure_of(harness, order_id)
    assert cause.type == failures.kind_of(BadRequest(""))
    assert "amendment failed at step covered-capture: Dintero answered 400 to POST" in cause.message
    assert "Injected failure (SIMULATED_FAULT)" in cause.message
    state = await harness.state(order_id)
    assert state.status == "Failed"
    assert record_steps(harness, order_id, "fix-me") == {
        ids.REVERSAL.record("authorization"): 1,
        ids.REVERSAL.record("capture"): 1,
        ids.COVERED.record("authorization"): 1,
    }

    harness.sim.faults.clear()
    replayed = await amend_async(
        "replay", ids.workflow_id(order_id), "--wait", "--json", env=cli_env
    )
    assert replayed.code == 0, replayed.stderr
    document = replayed.json()
    assert document["rerun_from"].startswith("activity record_operation")
    assert document["new_run_id"] != document["failed_run_id"]
    assert document["result"]["refund_amount"] == 9800

    assert record_steps(harness, order_id, "fix-me") == {
        ids.REVERSAL.record("authorization"): 1,
        ids.REVERSAL.record("capture"): 1,
        ids.COVERED.record("authorization"): 1,
        ids.COVERED.record("capture"): 1,
        "refund": 1,
    }
    state = await harness.state(order_id)
    assert state.status == "Completed"
    lines = {x.line_id: (x.authorized, x.captured, x.refunded) for x in document_lines(document)}
    assert lines == {
        1: (39800, 39800, 0),
        2: (-39800, -39800, 0),
        3: (30000, 30000, 0),
        4: (9800, 9800, 9800),
    }


def document_lines(document: dict[str, object]) -> list[LineResult]:
    return list(AmendmentResult.model_validate(document["result"]).lines)


async def test_replay_after_a_top_up_timeout_waits_again(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    order_id = await harness.place(CHAIR)
    await harness.start(
        {
            "order_id": order_id,
            "amendment_id": "late",
            "top_up_timeout_seconds": 3,
            "on_top_up_timeout": "fail",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
            "add": [item("Y", 49800)],
        }
    )
    cause = await failure_of(harness, order_id)
    assert cause.type == failures.TOP_UP_TIMEOUT.name
    mark = harness.mark()

    replayed = await amend_async("replay", ids.workflow_id(order_id), "--json", env=cli_env)
    assert replayed.code == 0, replayed.stderr
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    await send_authorization_outcome(
        harness.client, order_id, {"payment_id": "PID_LATE", "amount": 10000, "success": True}
    )
    result = await harness.client.get_workflow_handle(ids.workflow_id(order_id)).result()
    assert result["top_up_amount"] == 10000
    # The re-run last step (covered-capture) found its record and wrote nothing; in the reset
    # run every later write looks for itself first, then writes.
    assert harness.calls(mark) == [
        "GET authorizations",
        "GET captures",  # covered-capture found; top-up auth looks first
        "POST authorizations",
        "GET captures",
        "POST captures",
        *READ,
    ]
    assert record_steps(harness, order_id, "late") == {
        ids.REVERSAL.record("authorization"): 1,
        ids.REVERSAL.record("capture"): 1,
        ids.COVERED.record("authorization"): 1,
        ids.COVERED.record("capture"): 1,
        ids.top_up_group(1).record("authorization"): 1,
        ids.top_up_group(1).record("capture"): 1,
    }


async def test_replay_refuses_a_completed_amendment(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    order_id = await harness.place(CHAIR)
    await harness.amend(
        {
            "order_id": order_id,
            "amendment_id": "done",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "r"}],
            "add": [item("X", 39800)],
        }
    )
    run = await amend_async("replay", ids.workflow_id(order_id), env=cli_env)
    assert run.code == 1
    assert run.stderr.strip() == (
        f"error: {ids.workflow_id(order_id)} is completed; only a failed, timed-out, terminated or "
        f"cancelled amendment can be replayed ({failures.status_hint(order_id)} shows it)"
    )
