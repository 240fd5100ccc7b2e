"""The `authorization_outcome` update: recorded synchronously, refused by its validator when the
amount is not positive, exceeds what is outstanding, or the amendment has ended."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError

from amendments.api.starter import OutcomeRefused, send_authorization_outcome
from amendments.domain import ids
from amendments.domain.models import AuthorizationOutcome
from tests.support.harness import Harness
from tests.support.orders import CHAIR, item


async def started_top_up(harness: Harness) -> str:
    order_id = await harness.place(CHAIR)
    await harness.start(
        {
            "order_id": order_id,
            "amendment_id": "upd",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
            "add": [item("Y", 49800)],
        }
    )
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    return order_id


async def update(harness: Harness, order_id: str, amount: int, success: bool = True) -> object:
    handle = harness.client.get_workflow_handle(ids.workflow_id(order_id))
    outcome = AuthorizationOutcome(payment_id="PID_U", amount=amount, success=success)
    return await handle.execute_update("authorization_outcome", outcome)


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (0, "amount: must be positive, got 0"),
        (-5, "amount: must be positive, got -5"),
        (10001, "amount 10001 exceeds the outstanding top-up 10000"),
    ],
)
async def test_validator_refuses_bad_amounts(harness: Harness, amount: int, reason: str) -> None:
    order_id = await started_top_up(harness)
    mark = harness.mark()
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await update(harness, order_id, amount)
    assert reason in str(caught.value.cause)
    assert harness.calls(mark) == []  # refused before anything was written
    state = await harness.state(order_id)
    assert state.outcomes == ()
    assert state.top_up_outstanding == 10000
    await send_authorization_outcome(
        harness.client, order_id, {"payment_id": "P", "amount": 10000, "success": True}
    )


async def test_update_records_synchronously_then_refuses_after_completion(harness: Harness) -> None:
    order_id = await started_top_up(harness)
    seen = await send_authorization_outcome(
        harness.client,
        order_id,
        {"payment_id": "PID_U", "amount": 4000, "success": True},
        wait=True,
    )
    assert seen is not None
    assert (seen.disposition, seen.amount) == ("recorded", 4000)
    assert (await harness.state(order_id)).top_up_outstanding == 6000
    duplicate = await send_authorization_outcome(
        harness.client,
        order_id,
        {"payment_id": "PID_U", "amount": 4000, "success": True},
        wait=True,
    )
    assert duplicate is not None
    assert duplicate.disposition == "duplicate"
    with pytest.raises(OutcomeRefused, match="exceeds the outstanding top-up 6000"):
        await send_authorization_outcome(
            harness.client,
            order_id,
            {"payment_id": "PID_V", "amount": 7000, "success": True},
            wait=True,
        )
    await send_authorization_outcome(
        harness.client,
        order_id,
        {"payment_id": "PID_V", "amount": 6000, "success": True},
        wait=True,
    )
    result = await harness.client.get_workflow_handle(ids.workflow_id(order_id)).result()
    assert result["top_up_amount"] == 10000
    for wait in (True, False):
        with pytest.raises(OutcomeRefused, match=f"no amendment of order {order_id} is running"):
            await send_authorization_outcome(
                harness.client,
                order_id,
                {"payment_id": "Z", "amount": 1, "success": True},
                wait=wait,
            )


async def test_starter_refuses_a_non_positive_outcome_before_sending() -> None:
    from amendments.domain.errors import AmendmentRejected

    with pytest.raises(AmendmentRejected) as caught:
        await send_authorization_outcome(
            None,  # type: ignore[arg-type]  # refused before the client is touched
            "X",
            {"payment_id": "P", "amount": 0, "success": True},
        )
    assert caught.value.field == "amount"
