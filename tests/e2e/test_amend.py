"""End to end: the real Temporal dev server, a worker, the simulator over a real socket.

Each case asserts the exact sequence of Dintero calls and the final per-line ledger."""

from __future__ import annotations

from amendments import failures
from amendments.domain import ids
from amendments.domain.models import AmendmentResult
from tests.support.harness import READ, Harness
from tests.support.orders import CHAIR, LUX, item, swap
from workflows.amend import AmendOrder


def ledger(result: object) -> dict[int, tuple[int, int, int, int]]:
    return {
        line.line_id: (line.gross_amount, line.authorized, line.captured, line.refunded)
        for line in result.lines  # type: ignore[attr-defined]
    }


async def test_guide_example_even_swap(harness: Harness) -> None:
    order_id = await harness.place(CHAIR)
    mark = harness.mark()
    result = await harness.amend(
        {
            "order_id": order_id,
            "amendment_id": "swap-1",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
            "add": [LUX],
        }
    )
    assert harness.calls(mark) == [
        *READ,
        "POST draft_orders",
        "PUT complete",
        "POST authorizations",
        "POST captures",
        "POST authorizations",
        "POST captures",
        *READ,
    ]
    assert ledger(result) == {
        1: (39800, 39800, 39800, 0),
        2: (-39800, -39800, -39800, 0),
        3: (39800, 39800, 39800, 0),
    }
    assert result.total == 39800
    [draft_call] = [r for r in harness.sim.requests[mark:] if r["method"] == "POST"][:1]
    assert draft_call["body"] == {
        "options": {"order_id": order_id},
        "order": {
            "currency": "NOK",
            "items": [
                {
                    **{k: v for k, v in CHAIR.items() if k != "quantity"},
                    "line_id": 2,
                    "quantity": 2,
                    "gross_amount": -39800,
                    "tax_lines": [{"amount": -7960, "percentage": 25.0}],
                    "reversed_reason": "Replace item",
                    "related_item": {"line_id": 1, "type": "reversed"},
                },
                {**LUX, "line_id": 3, "tax_lines": [{"amount": 7960, "percentage": 25.0}]},
            ],
        },
    }


FIXED = ["POST draft_orders", "PUT complete"]
OURS = {"OrderId", "AmendmentId", "AmendmentStatus", "TopUpOutstanding"}
REVERSAL = ["POST authorizations", "POST captures"]
COVERED = ["POST authorizations", "POST captures"]


async def test_cheaper_replacement_refunds_the_difference(harness: Harness) -> None:
    order_id = await harness.place(CHAIR)
    mark = harness.mark()
    result = await harness.amend(swap(order_id, "cheaper", item("X", 30000)))
    assert harness.calls(mark) == [*READ, *FIXED, *REVERSAL, *COVERED, "POST refunds", *READ]
    assert ledger(result) == {
        1: (39800, 39800, 39800, 0),
        2: (-39800, -39800, -39800, 0),
        3: (30000, 30000, 30000, 0),
        4: (9800, 9800, 9800, 9800),
    }
    assert result.total == 30000
    assert result.refund_amount == 9800
    [covered] = [
        r for r in harness.records(order_id, "authorization") if r["items"][0]["line_id"] == 3
    ]
    assert covered["items"] == [{"line_id": 3, "amount": 30000}, {"line_id": 4, "amount": 9800}]
    assert covered["payment_details"] == {"payment_id": "PID_123"}
    assert covered["metadata"] == {
        "amendment_id": "cheaper",
        "step": ids.COVERED.record("authorization"),
    }


async def top_up_started(harness: Harness, request: dict[str, object]) -> None:
    await harness.start(request)
    await harness.wait_for_state(str(request["order_id"]), lambda s: s.status == "AwaitingTopUp")


async def test_dearer_replacement_with_one_full_authorization(harness: Harness) -> None:
    order_id = await harness.place(CHAIR)
    mark = harness.mark()
    await top_up_started(harness, swap(order_id, "dearer", item("Y", 49800)))
    state = await harness.state(order_id)
    assert state.top_up_outstanding == 10000
    assert [op.step for op in state.operations] == [
        ids.REVERSAL.record("authorization"),
        ids.REVERSAL.record("capture"),
        ids.COVERED.record("authorization"),
        ids.COVERED.record("capture"),
    ]
    assert state.plan is not None
    assert state.plan.multiple_authorizations
    description = await harness.client.get_workflow_handle(ids.workflow_id(order_id)).describe()
    attributes = {k.name: v for k, v in description.typed_search_attributes if k.name in OURS}
    assert attributes == {
        "OrderId": order_id,
        "AmendmentId": "dearer",
        "AmendmentStatus": "AwaitingTopUp",
        "TopUpOutstanding": 10000,
    }

    await send(harness, order_id, "PID_321", 10000, True)
    result = await (await harness.start(swap(order_id, "dearer", item("Y", 49800)))).result()
    assert harness.calls(mark) == [
        *READ,
        *FIXED,
        *REVERSAL,
        *COVERED,
        "POST authorizations",
        "POST captures",
        *READ,
    ]
    assert ledger(result)[3] == (49800, 49800, 49800, 0)
    assert result.top_up_amount == 10000
    draft = next(r for r in harness.sim.requests[mark:] if r["method"] == "POST")
    assert draft["body"]["options"] == {"order_id": order_id, "multiple_authorizations": True}
    records = harness.records(order_id, "authorization") + harness.records(order_id, "capture")
    authorization_ids = {r["authorization_id"] for r in records if r["items"][0]["line_id"] > 1}
    assert all(authorization_ids)
    assert all(len(i) <= 40 for i in authorization_ids)
    top_up = [
        r
        for r in harness.records(order_id, "capture")
        if r["payment_details"]["payment_id"] == "PID_321"
    ]
    assert [r["items"] for r in top_up] == [[{"line_id": 3, "amount": 10000}]]
    description = await harness.client.get_workflow_handle(ids.workflow_id(order_id)).describe()
    attributes = {k.name: v for k, v in description.typed_search_attributes}
    assert attributes["AmendmentStatus"] == "Completed"
    assert attributes["TopUpOutstanding"] == 0


async def send(
    harness: Harness, order_id: str, payment_id: str, amount: int, success: bool
) -> None:
    from amendments.api.starter import send_authorization_outcome

    await send_authorization_outcome(
        harness.client, order_id, {"payment_id": payment_id, "amount": amount, "success": success}
    )


async def finish(harness: Harness, order_id: str) -> AmendmentResult:
    handle = harness.client.get_workflow_handle_for(AmendOrder.run, ids.workflow_id(order_id))
    return await handle.result()


async def test_dearer_with_two_partial_authorizations(harness: Harness) -> None:
    order_id = await harness.place(CHAIR)
    mark = harness.mark()
    await top_up_started(harness, swap(order_id, "partial", item("Y", 49800)))
    await send(harness, order_id, "PID_A", 6000, True)
    await harness.wait_for_state(order_id, lambda s: s.top_up_outstanding == 4000)
    await send(harness, order_id, "PID_B", 4000, True)
    result = await finish(harness, order_id)
    assert harness.calls(mark) == [
        *READ,
        *FIXED,
        *REVERSAL,
        *COVERED,
        "POST authorizations",
        "POST captures",
        "POST authorizations",
        "POST captures",
        *READ,
    ]
    assert ledger(result)[3] == (49800, 49800, 49800, 0)
    payments = [r["payment_details"]["payment_id"] for r in harness.records(order_id, "capture")]
    assert payments == ["PID_123", "PID_123", "PID_123", "PID_A", "PID_B"]


async def test_declined_then_approved(harness: Harness) -> None:
    order_id = await harness.place(CHAIR)
    mark = harness.mark()
    await top_up_started(harness, swap(order_id, "declined", item("Y", 49800)))
    await send(harness, order_id, "PID_X", 10000, False)
    await harness.wait_for_state(order_id, lambda s: len(s.outcomes) == 1)
    state = await harness.state(order_id)
    assert state.top_up_outstanding == 10000
    await send(harness, order_id, "PID_X", 10000, True)  # a declined payment may later succeed
    result = await finish(harness, order_id)
    assert harness.calls(mark) == [
        *READ,
        *FIXED,
        *REVERSAL,
        *COVERED,
        "POST authorizations",
        "POST authorizations",
        "POST captures",
        *READ,
    ]
    declined = [r for r in harness.records(order_id, "authorization") if not r["success"]]
    assert [(r["amount"], r["payment_details"]["payment_id"]) for r in declined] == [
        (10000, "PID_X")
    ]
    assert ledger(result)[3] == (49800, 49800, 49800, 0)


async def test_duplicated_signal_is_recorded_once(harness: Harness) -> None:
    order_id = await harness.place(CHAIR)
    mark = harness.mark()
    await top_up_started(harness, swap(order_id, "dup", item("Y", 49800)))
    await send(harness, order_id, "PID_A", 6000, True)
    await send(harness, order_id, "PID_A", 6000, True)
    await harness.wait_for_state(order_id, lambda s: len(s.outcomes) == 2)
    state = await harness.state(order_id)
    assert [o.disposition for o in state.outcomes] == ["recorded", "duplicate"]
    assert state.top_up_outstanding == 4000
    await send(harness, order_id, "PID_B", 4000, True)
    result = await finish(harness, order_id)
    assert harness.calls(mark) == [
        *READ,
        *FIXED,
        *REVERSAL,
        *COVERED,
        "POST authorizations",
        "POST captures",
        "POST authorizations",
        "POST captures",
        *READ,
    ]
    assert ledger(result)[3] == (49800, 49800, 49800, 0)


async def test_top_up_timeout_with_fail_fails_with_the_outstanding_amount(
    harness: Harness,
) -> None:
    from temporalio.client import WorkflowFailureError
    from temporalio.exceptions import ApplicationError

    order_id = await harness.place(CHAIR)
    mark = harness.mark()
    request = {
        **swap(order_id, "late", item("Y", 49800)),
        "top_up_timeout_seconds": 1,
        "on_top_up_timeout": "fail",
    }
    handle = await harness.start(request)
    try:
        await handle.result()
    except WorkflowFailureError as failure:
        cause = failure.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == failures.TOP_UP_TIMEOUT.name
        assert "10000 NOK still outstanding" in cause.message
    else:
        raise AssertionError("the amendment should have failed")
    assert harness.calls(mark) == [*READ, *FIXED, *REVERSAL, *COVERED]
    state = await harness.state(order_id)
    assert state.status == "Failed"
    assert state.top_up_outstanding == 10000
    attributes = {k.name: v for k, v in (await handle.describe()).typed_search_attributes}
    assert attributes["AmendmentStatus"] == "Failed"


async def test_reversing_one_of_two_units_then_the_other(harness: Harness) -> None:
    order_id = await harness.place(item("odd", 39801, quantity=2))
    mark = harness.mark()
    first = await harness.amend(
        {
            "order_id": order_id,
            "amendment_id": "one-unit",
            "reverse": [{"line_id": 1, "quantity": 1, "reason": "Returned"}],
        }
    )
    assert harness.calls(mark) == [*READ, *FIXED, *REVERSAL, *COVERED, "POST refunds", *READ]
    assert ledger(first) == {
        1: (39801, 39801, 39801, 0),
        2: (-19900, -19900, -19900, 0),
        3: (19900, 19900, 19900, 19900),
    }
    assert first.total == 19901
    second = await harness.amend(
        {
            "order_id": order_id,
            "amendment_id": "other-unit",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Returned"}],
        }
    )
    lines = {line.line_id: line for line in second.lines}
    assert lines[4].gross_amount == -19901
    assert lines[4].quantity == 1
    assert lines[2].gross_amount + lines[4].gross_amount == -39801
    tax = [
        r["body"]["order"]["items"][0]["tax_lines"][0]["amount"]
        for r in harness.sim.requests[mark:]
        if r["method"] == "POST" and str(r["path"]).endswith("draft_orders")
    ]
    assert tax == [-3980, -3980]  # 7960 // 2, then the rest: 7960 - 3980
    assert second.total == 0


async def test_adding_items_only(harness: Harness) -> None:
    order_id = await harness.place(CHAIR)
    mark = harness.mark()
    await top_up_started(
        harness, {"order_id": order_id, "amendment_id": "add", "add": [item("Z", 5000)]}
    )
    await send(harness, order_id, "PID_Z", 5000, True)
    result = await finish(harness, order_id)
    assert harness.calls(mark) == [*READ, *FIXED, "POST authorizations", "POST captures", *READ]
    assert ledger(result) == {1: (39800, 39800, 39800, 0), 2: (5000, 5000, 5000, 0)}


async def test_removing_items_only(harness: Harness) -> None:
    order_id = await harness.place(CHAIR, item("B", 10000))
    mark = harness.mark()
    result = await harness.amend(
        {
            "order_id": order_id,
            "amendment_id": "remove",
            "reverse": [{"line_id": 2, "quantity": None, "reason": "Cancelled by customer"}],
        }
    )
    assert harness.calls(mark) == [*READ, *FIXED, *REVERSAL, *COVERED, "POST refunds", *READ]
    assert ledger(result) == {
        1: (39800, 39800, 39800, 0),
        2: (10000, 10000, 10000, 0),
        3: (-10000, -10000, -10000, 0),
        4: (10000, 10000, 10000, 10000),
    }
    assert result.total == 39800


async def test_several_lines_reversed_and_added(harness: Harness) -> None:
    order_id = await harness.place(item("A", 10000), item("B", 20000, quantity=2), item("C", 5000))
    mark = harness.mark()
    await top_up_started(
        harness,
        {
            "order_id": order_id,
            "amendment_id": "many",
            "reverse": [
                {"line_id": 1, "quantity": None, "reason": "Swap"},
                {"line_id": 2, "quantity": 1, "reason": "Swap"},
            ],
            "add": [item("D", 25000), item("E", 30000)],
        },
    )
    state = await harness.state(order_id)
    assert state.plan is not None
    assert [(s.line_id, s.amount) for s in state.plan.top_up_shares] == [(6, 5000), (7, 30000)]
    await send(harness, order_id, "PID_1", 20000, True)
    await harness.wait_for_state(order_id, lambda s: s.top_up_outstanding == 15000)
    await send(harness, order_id, "PID_2", 15000, True)
    result = await finish(harness, order_id)
    assert harness.calls(mark) == [
        *READ,
        *FIXED,
        *REVERSAL,
        *COVERED,
        "POST authorizations",
        "POST captures",
        "POST authorizations",
        "POST captures",
        *READ,
    ]
    assert ledger(result) == {
        1: (10000, 10000, 10000, 0),
        2: (20000, 20000, 20000, 0),
        3: (5000, 5000, 5000, 0),
        4: (-10000, -10000, -10000, 0),
        5: (-10000, -10000, -10000, 0),
        6: (25000, 25000, 25000, 0),
        7: (30000, 30000, 30000, 0),
    }
    first_top_up = [
        r
        for r in harness.records(order_id, "capture")
        if r["payment_details"]["payment_id"] == "PID_1"
    ]
    assert first_top_up[0]["items"] == [
        {"line_id": 6, "amount": 5000},
        {"line_id": 7, "amount": 15000},
    ]


async def test_two_amendments_in_a_row(harness: Harness) -> None:
    order_id = await harness.place(CHAIR)
    await harness.amend(swap(order_id, "first", LUX))
    mark = harness.mark()
    result = await harness.amend(swap(order_id, "second", item("S", 20000), line=3))
    assert harness.calls(mark) == [*READ, *FIXED, *REVERSAL, *COVERED, "POST refunds", *READ]
    assert ledger(result) == {
        1: (39800, 39800, 39800, 0),
        2: (-39800, -39800, -39800, 0),
        3: (39800, 39800, 39800, 0),
        4: (-39800, -39800, -39800, 0),
        5: (20000, 20000, 20000, 0),
        6: (19800, 19800, 19800, 19800),
    }


async def test_a_second_amendment_while_one_runs_is_rejected(harness: Harness) -> None:
    import pytest

    from amendments.api.starter import AmendmentInProgress

    order_id = await harness.place(CHAIR)
    await top_up_started(harness, swap(order_id, "running", item("Y", 49800)))
    mark = harness.mark()
    with pytest.raises(
        AmendmentInProgress, match=f"order {order_id} already has amendment running"
    ):
        await harness.start(swap(order_id, "another", LUX))
    assert harness.calls(mark) == []
    await send(harness, order_id, "PID_321", 10000, True)
    await finish(harness, order_id)


async def test_the_same_amendment_again_returns_the_recorded_result(harness: Harness) -> None:
    from temporalio.common import WorkflowIDReusePolicy

    from amendments.domain.models import AmendOrderInput
    from workflows.amend import AmendOrder

    order_id = await harness.place(CHAIR)
    request = swap(order_id, "again", item("X", 30000))
    first = await harness.amend(request)
    mark = harness.mark()
    second = await harness.amend(request)
    assert second == first
    assert harness.calls(mark) == []
    # Started anew past the starter API (a new run of the same workflow id): it finds its own
    # records on the order, writes nothing and returns the result.
    third = await harness.client.execute_workflow(
        AmendOrder.run,
        AmendOrderInput.model_validate(request),
        id=ids.workflow_id(order_id),
        task_queue=harness.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    assert third.already_applied
    assert third.lines == first.lines
    assert harness.calls(mark) == READ
