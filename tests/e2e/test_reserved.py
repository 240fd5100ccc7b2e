"""Amend before it ships, end to end: orders authorized and not yet captured (a merchant who
captures at shipment), and orders partly captured (real dev server, simulator over a socket).

Six scenarios, each run twice: through `amend start` (the CLI) and through a raw start with the
SDK's default JSON converter (a backend in any language), top-up outcomes and reverts sent the same
way. Each payment's money is then read straight from the simulator's records
(`tests/support/money.py`: captured and reserved per line, authorized, captured, refunded and
cancelled per payment) and compared with figures written here by hand:

1. a chair (10000, reserved) swapped for a stool (6000): the stool reserved from the chair's
   authorization, 4000 released (a release line, authorized then cancelled); the cancellation
   lands and is answered 502 (the retry finds it), then one is refused: `amend replay` ends it;
2. an even swap: the reservation moves to the new item, nothing released, nothing captured;
3. a dearer swap (25000) with a top-up in two parts: authorizations only;
4. one cushion of two returned: 4000 released, the other's 4000 still reserved;
5. a partly captured order (the chair shipped and captured by the merchant, the lamp not):
   both returned for a stool: the stool takes captured money first (money paid stays paid),
   4000 refunded, the lamp's 10000 released;
6. a dearer amendment on an uncaptured order, its top-up paid in part, then reverted: the
   chair's reservation restored, the top-up's 5000 released (its cancellation answered 502
   once); nothing was ever captured.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.support.cli import amend_async
from tests.support.money import held_per_line, per_payment, reserved_per_line
from tests.support.orders import item, rev
from tests.support.runner import CHAIR, CUSHIONS, LAMP, LAMP_XL, STOOL, Runner, merchant_api

pytestmark = pytest.mark.timeout(600)

TABLE = {**item("TABLE", 10000), "description": "Table"}
NO_MONEY = {"authorization": 0, "capture": 0, "refund": 0, "cancellation": 0}


def money(runner: Runner, order_id: str) -> dict[str, dict[str, int]]:
    return per_payment(runner.harness.sim.store, order_id)


def reserved(runner: Runner, order_id: str) -> dict[int, dict[str, int]]:
    return reserved_per_line(runner.harness.sim.store, order_id)


def records(runner: Runner, order_id: str, kind: str) -> list[dict[str, Any]]:
    return runner.harness.records(order_id, kind)


def nothing_captured(runner: Runner, order_id: str) -> bool:
    order = runner.harness.sim.store.accounts["T12345678"].orders[order_id]
    return not [op for op in order.operations if op.kind == "capture"]


async def cheaper_swap_releases(runner: Runner, tag: str) -> None:
    order_id = await runner.harness.place(CHAIR, payment_id="PID_1", capture=False)
    await runner.amend(order_id, f"{tag}-cheaper", [rev(1)], [STOOL], faulted=True,
                       faulted_kind="cancellations", refused_kind="authorizations")  # fmt: skip
    assert money(runner, order_id) == {
        "PID_1": {**NO_MONEY, "authorization": 10000 - 10000 + 6000 + 4000, "cancellation": 4000}
    }
    assert reserved(runner, order_id) == {3: {"PID_1": 6000}}
    [release] = records(runner, order_id, "cancellation")  # the ambiguous one, once
    assert (release["amount"], release["items"]) == (4000, [{"line_id": 4, "amount": 4000}])
    assert nothing_captured(runner, order_id)
    if runner.how == "cli":
        status = await amend_async("status", order_id, env=runner.cli_env)
        assert status.code == 0, status.stderr
        rows = {
            r.split()[0]: r.split() for r in status.stdout.splitlines() if r.strip()[:2] == "3 "
        }
        assert "released" in status.stdout
        assert "reserved" in status.stdout
        assert rows["3"][-4:] == ["6000", "0", "0", "0"], status.stdout  # line 3: reserved


async def even_swap_moves_the_reservation(runner: Runner, tag: str) -> None:
    order_id = await runner.harness.place(CHAIR, payment_id="PID_1", capture=False)
    await runner.amend(order_id, f"{tag}-even", [rev(1)], [TABLE])
    assert money(runner, order_id) == {"PID_1": {**NO_MONEY, "authorization": 10000}}
    assert reserved(runner, order_id) == {3: {"PID_1": 10000}}
    assert nothing_captured(runner, order_id)


async def dearer_swap_authorizes_top_ups_only(runner: Runner, tag: str) -> None:
    order_id = await runner.harness.place(CHAIR, payment_id="PID_1", capture=False)
    parts = [("PID_T1", 9000, True), ("PID_T2", 6000, True)]
    await runner.amend(order_id, f"{tag}-dearer", [rev(1)], [LAMP_XL], parts)
    assert reserved(runner, order_id) == {3: {"PID_1": 10000, "PID_T1": 9000, "PID_T2": 6000}}
    assert {p: m["authorization"] for p, m in money(runner, order_id).items()} == {
        "PID_1": 10000,
        "PID_T1": 9000,
        "PID_T2": 6000,
    }
    assert nothing_captured(runner, order_id)


async def one_of_two_returned(runner: Runner, tag: str) -> None:
    order_id = await runner.harness.place(CUSHIONS, payment_id="PID_1", capture=False)
    await runner.amend(order_id, f"{tag}-one", [rev(1, 1)], [])
    assert money(runner, order_id) == {
        "PID_1": {**NO_MONEY, "authorization": 8000 - 4000 + 4000, "cancellation": 4000}
    }
    assert reserved(runner, order_id) == {1: {"PID_1": 4000}}
    assert nothing_captured(runner, order_id)


async def partly_captured_amended_on_both(runner: Runner, tag: str) -> None:
    order_id = await runner.harness.place(CHAIR, LAMP, payment_id="PID_1", capture=False)
    async with merchant_api(runner.cli_env["DINTERO_BASE_URL"]) as http:  # the chair shipped
        shipped = await http.post(
            f"/shopping/orders/{order_id}/captures",
            json={
                "items": [{"line_id": 1, "amount": 10000}],
                "payment_details": {"payment_id": "PID_1"},
                "success": True,
            },
        )
        shipped.raise_for_status()
    await runner.amend(order_id, f"{tag}-both", [rev(1), rev(2)], [STOOL], faulted=True)
    assert money(runner, order_id) == {
        "PID_1": {
            "authorization": 20000 - 20000 + 6000 + 4000 + 10000,
            "capture": 10000 - 10000 + 6000 + 4000,
            "refund": 4000,
            "cancellation": 10000,
        }
    }
    assert held_per_line(runner.harness.sim.store, order_id) == {5: {"PID_1": 6000}}
    assert reserved(runner, order_id) == {}
    [refund] = records(runner, order_id, "refund")
    [release] = records(runner, order_id, "cancellation")
    assert (refund["items"], release["items"]) == (
        [{"line_id": 6, "amount": 4000}],
        [{"line_id": 7, "amount": 10000}],
    )


async def reverted_dearer_on_uncaptured(runner: Runner, tag: str) -> None:
    order_id = await runner.harness.place(CHAIR, payment_id="PID_1", capture=False)
    before = reserved(runner, order_id)
    await runner.amend(
        order_id,
        f"{tag}-up",
        [rev(1)],
        [LAMP_XL],
        [("PID_T", 5000, True)],
        faulted=True,
        faulted_kind="cancellations",
        revert=True,
    )  # 15000 asked, 5000 authorized, then reverted (its cancellation answered 502 once)
    state = await runner.harness.state(order_id)
    assert state.status == "Reverted"
    assert {sum(v.values()) for v in reserved(runner, order_id).values()} == {10000}
    assert sum(before[1].values()) == 10000
    assert money(runner, order_id)["PID_T"] == {
        **NO_MONEY,
        "authorization": 5000 - 5000 + 5000,
        "cancellation": 5000,
    }
    [release] = records(runner, order_id, "cancellation")
    assert release["payment_details"]["payment_id"] == "PID_T"
    assert nothing_captured(runner, order_id)


Scenario = Callable[[Runner, str], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {
    "cheaper swap releases": cheaper_swap_releases,
    "even swap": even_swap_moves_the_reservation,
    "dearer swap, top-up in two parts": dearer_swap_authorizes_top_ups_only,
    "one of two returned": one_of_two_returned,
    "partly captured, amended on both": partly_captured_amended_on_both,
    "reverted dearer on uncaptured": reverted_dearer_on_uncaptured,
}


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_reserved_money_stays_reserved(runner: Runner, name: str) -> None:
    await SCENARIOS[name](runner, f"{runner.how}-{uuid.uuid4().hex[:6]}")
