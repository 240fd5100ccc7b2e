"""An order's whole life end to end, money per payment (real dev server, simulator over a socket).

Five scenarios, each run twice: through `amend start` (the CLI, as an operator), and through a raw
start with the SDK's default JSON converter (as a backend in any language), the top-up outcomes
sent the same way. In each, one write of the last amendment lands and is answered 502 (the retry
must find it), and one later write is refused (400): the amendment fails, and `amend replay`
finishes it. Each payment's money is then read straight from the simulator's records
(`tests/money.py`) and compared with figures written here by hand:

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

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from amendments.domain import ids
from amendments.simulator import DEMO_ACCOUNT_ID, FaultRule, Simulator
from tests.cli import amend_async
from tests.harness import PATIENCE, Harness, eventually, item
from tests.money import held_per_line, per_payment

pytestmark = pytest.mark.timeout(600)

LAMP = {**item("LAMP", 10000), "description": "Lamp"}
LAMP_XL = {**item("LAMP-XL", 25000), "description": "Lamp XL"}
CUSHIONS = {**item("CUSHION", 8000, quantity=2), "description": "Cushion"}
CHAIR = {**item("CHAIR", 10000), "description": "Chair"}
STOOL = {**item("STOOL", 6000), "description": "Stool"}


def rev(line_id: int, quantity: int | None = None) -> dict[str, Any]:
    return {"line_id": line_id, "quantity": quantity, "reason": "customer"}


class Runner:
    """Starts amendments and sends outcomes one way (`cli` or `raw`), faults the last one."""

    def __init__(
        self, how: str, harness: Harness, raw: Client, cli_env: dict[str, str], tmp: Path
    ) -> None:
        self.how, self.harness, self.raw, self.cli_env, self.tmp = how, harness, raw, cli_env, tmp

    async def amend(
        self,
        order_id: str,
        amendment_id: str,
        reverse: list[dict[str, Any]],
        add: list[dict[str, Any]],
        outcomes: list[tuple[str, int, bool]] = (),  # type: ignore[assignment]
        *,
        faulted: bool = False,
        revert: bool = False,
        faulted_kind: str | None = None,
        refused_kind: str | None = None,
    ) -> None:
        """Run one amendment to its end. With `faulted`, one write lands and is answered 502,
        and (unless it is reverted: the revert's own failures are `test_revert_e2e.py`'s) one
        later write is refused once: the run fails, and `amend replay` finishes it. With
        `revert`, the operator reverts it once its outcomes are recorded. `faulted_kind` names
        the records answered 502 (`captures` by default, `refunds` for a revert), `refused_kind`
        the records refused (the same by default)."""
        sim = self.harness.sim
        request: dict[str, Any] = {
            "order_id": order_id,
            "amendment_id": amendment_id,
            "reverse": reverse,
            "add": add,
        }
        refused = faulted and not revert
        if faulted:
            kind = faulted_kind or ("refunds" if revert else "captures")
            path = f"*/orders/{order_id}/{kind}"
            sim.add_faults(
                [FaultRule(method="POST", path=path, status=502, mode="ambiguous", times=1)]
            )
            if refused:
                path = f"*/orders/{order_id}/{refused_kind or kind}"
                sim.add_faults([FaultRule(method="POST", path=path, status=400, times=1)])
        if self.how == "cli":
            file = self.tmp / f"{amendment_id}.json"
            file.write_text(json.dumps(request), encoding="utf-8")
            started = await amend_async("start", str(file), env=self.cli_env)
            assert started.code == 0, started.stderr
        else:
            await self.raw.start_workflow(
                "AmendOrder",
                request,
                id=ids.workflow_id(order_id),
                task_queue=self.harness.task_queue,
            )
        handle = self.raw.get_workflow_handle(ids.workflow_id(order_id))
        if outcomes:
            await self.harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
        for payment_id, amount, success in outcomes:
            await self.outcome(order_id, payment_id, amount, success)
        if revert:
            recorded = sum(1 for *_, success in outcomes if success)
            await self.harness.wait_for_state(
                order_id,
                lambda s: sum(1 for o in s.outcomes if o.disposition == "recorded") == recorded,
            )
            await self.revert(order_id)
        try:
            await handle.result()
            failed = False
        except WorkflowFailureError:
            failed = True
        assert failed == refused, "the refused write fails the run, and only it"
        if failed:
            replayed = await amend_async("replay", ids.workflow_id(order_id), env=self.cli_env)
            assert replayed.code == 0, replayed.stderr
            await self.raw.get_workflow_handle(ids.workflow_id(order_id)).result()
        sim.faults.clear()

    async def revert(self, order_id: str) -> None:
        if self.how == "cli":
            reverted = await amend_async(
                "revert", order_id, "--reason", "never paid", env=self.cli_env
            )
            assert reverted.code == 0, reverted.stderr
            return
        handle: WorkflowHandle[Any, Any] = self.raw.get_workflow_handle(ids.workflow_id(order_id))
        await handle.execute_update("revert", {"reason": "never paid"})

    async def outcome(self, order_id: str, payment_id: str, amount: int, success: bool) -> None:
        if self.how == "cli":
            args = ["authorize", order_id, "--payment-id", payment_id, "--amount", str(amount)]
            sent = await amend_async(*args, *([] if success else ["--declined"]), "--wait",
                                     env=self.cli_env)  # fmt: skip
            assert sent.code == 0, sent.stderr
            return
        handle: WorkflowHandle[Any, Any] = self.raw.get_workflow_handle(ids.workflow_id(order_id))
        await handle.signal(
            "authorization_outcome",
            {"payment_id": payment_id, "amount": amount, "success": success},
        )


@pytest.fixture(params=["cli", "raw"])
def runner(
    request: pytest.FixtureRequest,
    harness: Harness,
    raw: Client,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> Runner:
    return Runner(str(request.param), harness, raw, cli_env, tmp_path)


def refunds(sim: Simulator, order_id: str) -> dict[str, int]:
    return {p: t["refund"] for p, t in per_payment(sim.store, order_id).items() if t["refund"]}


def kept(sim: Simulator, order_id: str) -> dict[str, int]:
    """What each payment holds on the order: captured minus refunded."""
    return {
        p: t["capture"] - t["refund"]
        for p, t in per_payment(sim.store, order_id).items()
        if t["capture"] - t["refund"]
    }


@contextlib.asynccontextmanager
async def merchant_api(sim_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The merchant's own system on Dintero's Orders API (its own credentials and token)."""
    base = f"{sim_url}/v1/accounts/{DEMO_ACCOUNT_ID}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        token = await http.post(
            "/auth/token",
            auth=("merchant-shop", "merchant-secret"),
            json={
                "grant_type": "client_credentials",
                "audience": f"https://api.dintero.com/v1/accounts/{DEMO_ACCOUNT_ID}",
            },
        )
        token.raise_for_status()
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield http


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
    rows = [row.split() for row in dry.stdout.splitlines() if row.startswith(("│ GIFT", "│ CARD"))]
    assert [[x for x in row if x != "│"] for row in rows] == [
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
