"""Reverting an amendment whose top-up was not covered: by its timeout, and by the `revert` update.

Five amendments (a swap with no top-up part captured, one part, two parts on two payments plus a
declined one, a partial-quantity reversal, a multi-line amendment whose top-up is partly paid by
the order's own payment), each reverted both ways, each with one ambiguous failure injected on a
revert write (it lands, and the answer is a 5xx). Each run must **complete** with outcome
`reverted` and `AmendmentStatus` Reverted, and the order, read straight from the simulator, must
be as it was: the same total and net content per product, every top-up payment refunded exactly
what it paid, the order's own payment unchanged, and every write made once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)

from amendments import failures
from amendments.api.starter import OutcomeRefused, revert_amendment, send_authorization_outcome
from amendments.domain import ids
from amendments.domain.models import AmendmentResult
from amendments.simulator.app import FaultRule
from tests.support.cli import amend_async
from tests.support.harness import PATIENCE, Harness
from tests.support.money import independent_view
from tests.support.orders import CHAIR, item, rev

PAID_BY = "PID_123"  # the payment that paid the placed order (Harness.place)


@dataclass(frozen=True)
class Scenario:
    items: tuple[dict[str, Any], ...]
    reverse: tuple[dict[str, Any], ...]
    add: tuple[dict[str, Any], ...]
    parts: tuple[tuple[str, int, bool], ...]
    fault: FaultRule  # set once the parts are recorded: it can only hit a revert write

    @property
    def refunds(self) -> dict[str, int]:
        """What each top-up payment paid, computed here from the parts sent."""
        paid: dict[str, int] = {}
        for payer, amount, success in self.parts:
            if success:
                paid[payer] = paid.get(payer, 0) + amount
        return paid


def ambiguous(method: str, path: str) -> FaultRule:
    """The write lands, and the answer is a 502: the activity's retry must find it."""
    return FaultRule(method=method, path=path, mode="ambiguous", status=502, times=1)


SCENARIOS = {
    "no part captured": Scenario(
        (CHAIR,),
        (rev(1),),
        (item("Y", 49800),),
        (),
        ambiguous("POST", "*/draft_orders"),
    ),
    "one part captured": Scenario(
        (CHAIR,),
        (rev(1),),
        (item("Y", 49800),),
        (("PID_A", 4000, True),),
        ambiguous("POST", "*/refunds"),
    ),
    "two parts on two payments": Scenario(
        (CHAIR,),
        (rev(1),),
        (item("Y", 49800),),
        (("PID_X", 5000, False), ("PID_A", 3000, True), ("PID_B", 2000, True)),
        ambiguous("POST", "*/captures"),
    ),
    "partial quantity": Scenario(
        (item("odd", 39801, quantity=3),),
        (rev(1, 1),),
        (item("Y", 20000),),
        (("PID_A", 1000, True),),
        ambiguous("PUT", "*/complete"),
    ),
    "multi-line": Scenario(
        (item("A", 10000), item("B", 20000, quantity=2)),
        (rev(1), rev(2, 1)),
        (item("D", 25000), item("E", 30000)),
        ((PAID_BY, 5000, True), ("PID_B", 7000, True)),
        ambiguous("POST", "*/authorizations"),
    ),
}


async def amend_until_waiting(
    harness: Harness, scenario: Scenario, **extra: Any
) -> tuple[str, dict[str, Any]]:
    order_id = await harness.place(*scenario.items)
    before = independent_view(harness.sim.store, order_id)
    await harness.start(
        {
            "order_id": order_id,
            "amendment_id": "to-revert",
            "reverse": list(scenario.reverse),
            "add": list(scenario.add),
            **extra,
        }
    )
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    for payer, amount, success in scenario.parts:
        outcome = {"payment_id": payer, "amount": amount, "success": success}
        await send_authorization_outcome(harness.client, order_id, outcome, wait=True)
    harness.sim.add_faults([scenario.fault.model_copy()])
    return order_id, before


async def check_reverted(
    harness: Harness, order_id: str, before: dict[str, Any], scenario: Scenario
) -> AmendmentResult:
    handle = harness.client.get_workflow_handle(ids.workflow_id(order_id))
    result = AmendmentResult.model_validate(await asyncio.wait_for(handle.result(), PATIENCE))
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    attributes = {k.name: v for k, v in description.typed_search_attributes}
    assert (attributes["AmendmentStatus"], attributes["TopUpOutstanding"]) == ("Reverted", 0)
    assert result.outcome == "reverted"
    assert harness.sim.faults.rules == [], "the ambiguous failure was injected on a revert write"

    after = independent_view(harness.sim.store, order_id)
    assert after["total"] == before["total"] == result.total
    assert after["net_quantity"] == before["net_quantity"]
    assert after["money"] == before["money"] == {PAID_BY: before["total"]}
    assert after["refunded"] == scenario.refunds
    written = [marker for marker in after["markers"] if marker[0] == "to-revert"]
    assert all(after["markers"][m] == 1 for m in written), "a write was made twice"
    assert any(ids.is_revert_step(step) for _, step in written)
    state = await harness.state(order_id)
    assert state.status == "Reverted"
    assert state.revert_reason is not None
    assert result.revert_reason == state.revert_reason
    return result


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_revert_by_update(harness: Harness, name: str) -> None:
    scenario = SCENARIOS[name]
    order_id, before = await amend_until_waiting(harness, scenario)
    result = await revert_amendment(harness.client, order_id, {"reason": "customer cancelled"})
    assert result.revert_reason == "reverted by an operator: customer cancelled"
    await check_reverted(harness, order_id, before, scenario)


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_revert_by_timeout(harness: Harness, name: str) -> None:
    scenario = SCENARIOS[name]
    order_id, before = await amend_until_waiting(harness, scenario, top_up_timeout_seconds=3)
    result = await check_reverted(harness, order_id, before, scenario)
    assert result.revert_reason is not None
    assert result.revert_reason.startswith("top-up not covered: ")


async def test_a_repeated_revert_joins_the_first_and_a_late_one_is_refused(
    harness: Harness, raw: Client
) -> None:
    scenario = SCENARIOS["one part captured"]
    order_id, before = await amend_until_waiting(harness, scenario)
    handle = raw.get_workflow_handle(ids.workflow_id(order_id))
    first, second = await asyncio.gather(
        handle.execute_update("revert", {"reason": "twice"}),
        handle.execute_update("revert", {"reason": "twice"}),
    )
    assert first == second
    assert first["outcome"] == "reverted"
    await check_reverted(harness, order_id, before, scenario)
    with pytest.raises(OutcomeRefused, match=f"no amendment of order {order_id} is running"):
        await revert_amendment(harness.client, order_id, {"reason": "again"})


async def test_revert_is_refused_when_nothing_awaits_a_top_up(harness: Harness) -> None:
    order_id = await harness.place(CHAIR)
    harness.sim.add_faults([FaultRule(method="POST", path="*/captures", status=503)])
    await harness.start(
        {"order_id": order_id, "amendment_id": "even", "reverse": [rev(1)], "add": [CHAIR]}
    )
    await harness.wait_for_state(order_id, lambda s: s.status == "Applying")
    mark = harness.mark()
    with pytest.raises(OutcomeRefused, match="only an amendment awaiting its top-up"):
        await revert_amendment(harness.client, order_id, {"reason": "r"})
    handle = harness.client.get_workflow_handle(ids.workflow_id(order_id))
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update("revert", {"reason": ""})
    assert "reason: must not be empty" in str(caught.value.cause)
    harness.sim.faults.clear()
    result = await asyncio.wait_for(handle.result(), PATIENCE)
    assert result["outcome"] == "applied"
    assert [c for c in harness.calls(mark) if "draft" in c] == []  # nothing was reverted


async def test_fail_on_timeout_then_replay_then_revert_from_the_cli(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    scenario = SCENARIOS["two parts on two payments"]
    # The replayed run waits again for the same timeout, and `amend revert` must reach it within
    # that: long enough for a CLI process on a loaded machine, short enough to wait for once.
    order_id, before = await amend_until_waiting(
        harness, scenario, top_up_timeout_seconds=30, on_top_up_timeout="fail"
    )
    handle = harness.client.get_workflow_handle(ids.workflow_id(order_id))
    with pytest.raises(WorkflowFailureError) as caught:
        await asyncio.wait_for(handle.result(), PATIENCE)
    assert getattr(caught.value.cause, "type", None) == failures.TOP_UP_TIMEOUT.name
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    replayed = await amend_async("replay", ids.workflow_id(order_id), env=cli_env)
    assert replayed.code == 0, replayed.stderr
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    reverted = await amend_async(
        "revert", order_id, "--reason", "customer never paid", "--json", env=cli_env
    )
    assert reverted.code == 0, reverted.stderr
    assert reverted.json()["outcome"] == "reverted"
    await check_reverted(harness, order_id, before, scenario)
    late = await amend_async("revert", order_id, "--reason", "again", env=cli_env)
    assert late.code == 1
    assert late.stderr.strip() == (
        f"error: no amendment of order {order_id} is running: {ids.workflow_id(order_id)} ended "
        f"completed ({failures.status_hint(order_id)})"
    )


async def test_a_failed_revert_write_fails_the_update_and_replay_finishes_the_revert(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    scenario = SCENARIOS["one part captured"]
    order_id, before = await amend_until_waiting(harness, scenario)
    harness.sim.faults.clear()
    harness.sim.add_faults([FaultRule(method="POST", path="*/refunds", status=400, times=1)])
    with pytest.raises(OutcomeRefused, match="not reverted: the revert did not finish"):
        await asyncio.wait_for(
            revert_amendment(harness.client, order_id, {"reason": "cancelled"}), PATIENCE
        )
    handle = harness.client.get_workflow_handle(ids.workflow_id(order_id))
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    replayed = await amend_async("replay", ids.workflow_id(order_id), env=cli_env)
    assert replayed.code == 0, replayed.stderr
    handle = harness.client.get_workflow_handle(ids.workflow_id(order_id))  # the replayed run
    harness.sim.add_faults([scenario.fault.model_copy()])  # and an ambiguous write on top
    result = await check_reverted(harness, order_id, before, scenario)
    assert result.revert_reason == "reverted by an operator: cancelled"


async def test_a_malformed_signal_shows_in_the_ui_details(harness: Harness, raw: Client) -> None:
    order_id = await harness.place(CHAIR)
    await harness.start(
        {"order_id": order_id, "amendment_id": "ui", "reverse": [rev(1)], "add": [item("Y", 49800)]}
    )
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    handle = raw.get_workflow_handle(ids.workflow_id(order_id))
    await handle.signal("authorization_outcome", {"payment_id": "PID_M", "amount": 5})
    state = await harness.wait_for_state(order_id, lambda s: len(s.outcomes) == 1)
    assert state.outcomes[0].note == "malformed: success: is required"
    metadata = await handle.query("__temporal_workflow_metadata")
    assert "signal PID_M 5: ignored, malformed: success: is required" in metadata.current_details
    await revert_amendment(harness.client, order_id, {"reason": "test over"})


async def test_after_a_revert_the_order_can_be_amended_again(harness: Harness, raw: Client) -> None:
    scenario = SCENARIOS["partial quantity"]
    order_id, before = await amend_until_waiting(harness, scenario)
    reverted = await revert_amendment(harness.client, order_id, {"reason": "cancelled"})
    await check_reverted(harness, order_id, before, scenario)
    # The same amendment started again, raw: it finds its records and writes nothing.
    mark = harness.mark()
    request = {
        "order_id": order_id,
        "amendment_id": "to-revert",
        "reverse": list(scenario.reverse),
        "add": list(scenario.add),
    }
    again = await raw.execute_workflow(
        "AmendOrder", request, id=ids.workflow_id(order_id), task_queue=harness.task_queue
    )
    assert (again["already_applied"], again["outcome"]) == (True, "reverted")
    assert [c for c in harness.calls(mark) if c.startswith(("POST", "PUT"))] == []
    # The restored unit is an ordinary line: a later amendment returns it for a refund.
    [restored] = [x for x in reverted.lines if x.product_id == "odd" and x.line_id > 2]
    assert (restored.reverses, restored.quantity) == (None, 1)
    refund = await harness.amend(
        {
            "order_id": order_id,
            "amendment_id": "return-it",
            "reverse": [rev(restored.line_id)],
        }
    )
    assert (refund.outcome, refund.refund_amount) == ("applied", restored.gross_amount)
