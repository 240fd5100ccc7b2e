"""An order's whole life end to end, money per payment (real dev server, simulator over a socket).

Five scenarios, each run twice: through `amend start` (the CLI, as an operator), and through a raw
start with the SDK's default JSON converter (as a backend in any language), the top-up outcomes
sent the same way. In each, one write of the last amendment lands and is answered 502 (the retry
must find it), and one later write is refused (400): the amendment fails, and `amend replay`
finishes it. Each payment's money is then read straight from the simulator's records
(`tests/support/money.py`) and compared with figures written here by hand:

1. a lamp (10000) upgraded to a lamp XL (25000), the 15000 paid as a top-up; then the XL returned:
   the top-up's payment gets 15000 back, the lamp's 10000;
2. two cushions (8000) added and paid in two top-up parts (5000 + 3000); one returned: 4000 back,
   the newest part's 3000 first, then 1000 of the first part;
3. a split tender (a gift card 3000 and a card 7000 on one line, the order made by the merchant's
   own system through Dintero's API) swapped for a cheaper item (6000): the gift card's 3000 and
   3000 of the card cover it, the card gets 4000 back;
4. three amendments in a row on one order (a partial return, an upgrade paid by a top-up, a
   return of the upgrade);
5. an amendment on the split-tender line whose top-up is paid in part, then reverted by the
   operator: every payment holds what it held before, the top-up's part refunded.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from amendments.simulator import Simulator
from tests.support.cli import amend_async
from tests.support.harness import PATIENCE, eventually
from tests.support.money import held_per_line, per_payment
from tests.support.orders import rev
from tests.support.runner import CHAIR, CUSHIONS, LAMP, LAMP_XL, STOOL, Runner, merchant_api

pytestmark = pytest.mark.timeout(600)


def refunds(sim: Simulator, order_id: str) -> dict[str, int]:
    return {p: t["refund"] for p, t in per_payment(sim.store, order_id).items() if t["refund"]}


def kept(sim: Simulator, order_id: str) -> dict[str, int]:
    """What each payment holds on the order: captured minus refunded."""
    return {
        p: t["capture"] - t["refund"]
        for p, t in per_payment(sim.store, order_id).items()
        if t["capture"] - t["refund"]
    }


async def split_tender_order(sim_url: str, shares: dict[str, int], line: dict[str, Any]) -> str:
    """An order made by the merchant's own system, as Dintero's API allows: one line, paid by
    several payments (a gift card and a card), each authorized and captured under its own
    authorization id on a draft with `multiple_authorizations`."""
    async with merchant_api(sim_url) as http:
        draft = await http.post(
            "/shopping/draft_orders",
            json={
                "options": {
                    "generate_order_id": "ALPHANUMERIC_9",
                    "multiple_authorizations": True,
                },
                "order": {"currency": "NOK", "items": [{**line, "line_id": 1}]},
            },
        )
        draft.raise_for_status()
        completed = await http.put(f"/shopping/draft_orders/{draft.json()['id']}/complete", json={})
        completed.raise_for_status()
        order_id = str(completed.json()["orders"][0]["order_id"])
        for payment, amount in shares.items():
            for kind in ("authorizations", "captures"):
                written = await http.post(
                    f"/shopping/orders/{order_id}/{kind}",
                    json={
                        "items": [{"line_id": 1, "amount": amount}],
                        "payment_details": {"payment_id": payment},
                        "success": True,
                        "authorization_id": f"shop-{payment}",
                    },
                )
                written.raise_for_status()
    return order_id


Scenario = Callable[[Runner, str], Awaitable[None]]


async def upgrade_then_return(runner: Runner, tag: str) -> None:
    sim = runner.harness.sim
    order_id = await runner.harness.place(LAMP, payment_id="PID_L1")
    await runner.amend(order_id, f"{tag}-up", [rev(1)], [LAMP_XL], [("PID_TOP_L1", 15000, True)])
    assert kept(sim, order_id) == {"PID_L1": 10000, "PID_TOP_L1": 15000}
    await runner.amend(order_id, f"{tag}-back", [rev(3)], [], faulted=True)
    assert refunds(sim, order_id) == {"PID_L1": 10000, "PID_TOP_L1": 15000}
    assert kept(sim, order_id) == {}


async def bought_in_parts_then_one_returned(runner: Runner, tag: str) -> None:
    sim = runner.harness.sim
    order_id = await runner.harness.place(CHAIR, payment_id="PID_1")
    parts = [("PID_C1", 5000, True), ("PID_C2", 3000, True)]
    await runner.amend(order_id, f"{tag}-add", [], [CUSHIONS], parts)
    await runner.amend(order_id, f"{tag}-one", [rev(2, 1)], [], faulted=True)
    assert refunds(sim, order_id) == {"PID_C2": 3000, "PID_C1": 1000}
    assert kept(sim, order_id) == {"PID_1": 10000, "PID_C1": 4000}


async def split_tender_swapped_for_cheaper(runner: Runner, tag: str) -> None:
    sim = runner.harness.sim
    url = runner.cli_env["DINTERO_BASE_URL"]
    order_id = await split_tender_order(url, {"GIFT": 3000, "CARD": 7000}, CHAIR)
    # The dry run shows each payment's part before anything is written.
    request = {"order_id": order_id, "amendment_id": "dry", "reverse": [rev(1)], "add": [STOOL]}
    (runner.tmp / "dry.json").write_text(json.dumps(request), encoding="utf-8")
    mark = len(sim.requests)
    dry = await amend_async("plan", str(runner.tmp / "dry.json"), env=runner.cli_env)
    assert dry.code == 0, dry.stderr
    assert "money per payment" in dry.stdout
    rows = [row.split() for row in dry.stdout.splitlines()]
    assert [row for row in rows if row[:1] in (["GIFT"], ["CARD"])] == [
        ["GIFT", "3000", "2:3000", "3000", "3:3000", "0", "0"],
        ["CARD", "7000", "2:7000", "3000", "3:3000", "4000", "0"],
    ]
    assert all(r["method"] == "GET" for r in sim.requests[mark:] if "/auth/" not in r["path"])
    await runner.amend(order_id, f"{tag}-swap", [rev(1)], [STOOL], faulted=True)
    assert refunds(sim, order_id) == {"CARD": 4000}
    assert kept(sim, order_id) == {"GIFT": 3000, "CARD": 3000}
    assert held_per_line(sim.store, order_id) == {3: {"GIFT": 3000, "CARD": 3000}}


async def three_in_a_row(runner: Runner, tag: str) -> None:
    sim = runner.harness.sim
    order_id = await runner.harness.place(CUSHIONS, LAMP, payment_id="PID_1")
    # 1: one cushion of two back (4000).
    await runner.amend(order_id, f"{tag}-1", [rev(1, 1)], [])
    assert refunds(sim, order_id) == {"PID_1": 4000}
    # 2: the lamp (10000) for a lamp XL (25000): a top-up of 15000 in two parts, one declined.
    outcomes = [("PID_X", 15000, False), ("PID_T1", 9000, True), ("PID_T2", 6000, True)]
    await runner.amend(order_id, f"{tag}-2", [rev(2)], [LAMP_XL], outcomes)
    # 3: the XL back, and the other cushion (4000): newest money first on each line.
    await runner.amend(order_id, f"{tag}-3", [rev(6), rev(1)], [], faulted=True)
    assert refunds(sim, order_id) == {"PID_1": 4000 + 10000 + 4000, "PID_T1": 9000, "PID_T2": 6000}
    assert kept(sim, order_id) == {}


async def reverted_on_a_split_tender(runner: Runner, tag: str) -> None:
    sim = runner.harness.sim
    url = runner.cli_env["DINTERO_BASE_URL"]
    order_id = await split_tender_order(url, {"GIFT": 3000, "CARD": 7000}, CHAIR)
    before = kept(sim, order_id)
    await runner.amend(
        order_id,
        f"{tag}-up",
        [rev(1)],
        [LAMP_XL],
        [("PID_T", 5000, True)],
        faulted=True,
        revert=True,
    )  # 15000 asked, 5000 paid, then the operator reverts it (its refund answered 502 once)
    state = await runner.harness.state(order_id)
    assert state.status == "Reverted"
    assert kept(sim, order_id) == before
    assert refunds(sim, order_id) == {"PID_T": 5000}


SCENARIOS: dict[str, Scenario] = {
    "upgrade then return": upgrade_then_return,
    "bought in parts, one returned": bought_in_parts_then_one_returned,
    "split tender swapped for cheaper": split_tender_swapped_for_cheaper,
    "three in a row": three_in_a_row,
    "reverted on a split tender": reverted_on_a_split_tender,
}


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_each_payment_gets_its_own_share(runner: Runner, name: str) -> None:
    await SCENARIOS[name](runner, f"{runner.how}-{uuid.uuid4().hex[:6]}")

    async def settled() -> bool | None:  # nothing left running on the task queue
        async for _ in runner.raw.list_workflows(
            f"TaskQueue = '{runner.harness.task_queue}' AND ExecutionStatus = 'Running'"
        ):
            return None
        return True

    await eventually(settled, within=PATIENCE)
