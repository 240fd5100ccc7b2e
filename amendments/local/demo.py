"""The demo's story: the Dintero guide's order, then four amendments of it, through the public
starter API on the embedded stack (dev server, simulator, worker).

With `--payments dintero-checkout` the money moves in the simulator's Checkout: the order is paid
through a payment session, the refund is executed on that transaction, each top-up part is paid
by the customer (played by the simulator) through the payment link the amendment shows, and is
captured; the revert refunds the part paid.

1. an even swap (the guide's chair for the Lux chair);
2. a cheaper replacement (a refund line and a refund);
3. a dearer replacement paid by two partial top-up authorizations, sent as updates;
4. an extra chair the customer pays only in part, then reverted by the operator: the order is
   as it was, and the part paid is refunded to its payment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from amendments.api.planning import plan_against
from amendments.api.starter import (
    get_state,
    place_order,
    revert_amendment,
    send_authorization_outcome,
    start_amendment,
)
from amendments.domain.errors import LedgerViolation
from amendments.domain.ledger import check_ledger
from amendments.domain.models import (
    AmendmentResult,
    AmendOrderInput,
    LineResult,
    OutcomeSeen,
    PaymentLink,
    PaymentResult,
    Plan,
)
from amendments.local.stack import EmbeddedStack


def _item(
    product: str, gross: int, description: str, alias: str, quantity: int = 1
) -> dict[str, Any]:
    return {
        "id": product,
        "quantity": quantity,
        "gross_amount": gross,
        "tax_lines": [{"amount": gross // 5, "percentage": 25}],
        "description": description,
        "description_alias": alias,
    }


GUIDE_ORDER = _item("175938", 39800, "Stablestol for utendørsbruk", "Stablestol", quantity=2)
LUX = _item("003929", 39800, "Stablestol for innendørsbruk", "Stablestol Lux")
BASIC = _item("003930", 29900, "Stablestol, enkel", "Stablestol Basic")
PREMIUM = _item("003931", 59900, "Stablestol i eik", "Stablestol Premium")
EXTRA = _item("003930", 29900, "Stablestol, enkel", "Stablestol Basic")
TOP_UPS = (("PID_TOPUP_1", 18000), ("PID_TOPUP_2", 12000))
PART_PAID = (("PID_TOPUP_3", 10000),)
REVERT_REASON = "the customer did not pay the rest"


class AmendmentReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    workflow_id: str
    run_id: str
    status: str
    branch: str
    dintero_calls: int
    lines: tuple[LineResult, ...]
    payments: tuple[PaymentResult, ...] = ()  # the order's money per payment after it
    ui_url: str
    revert_reason: str | None = None
    outcomes: tuple[OutcomeSeen, ...] = ()  # each top-up outcome, as it was taken
    payment_links: tuple[str, ...] = ()  # PAYMENTS=dintero-checkout: each link shown
    checkout_moves: tuple[str, ...] = ()  # and each capture, refund or void made there


class DemoReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    ui_url: str
    simulator_url: str
    amendments: tuple[AmendmentReport, ...]
    ledger_checks: str
    ok: bool


Progress = Callable[[str], None]


async def play(stack: EmbeddedStack, progress: Progress) -> DemoReport:
    assert stack.client is not None
    assert stack.dintero is not None
    client, dintero, queue = stack.client, stack.dintero, stack.task_queue
    checkout = stack.payments == "dintero-checkout"
    progress("placing the guide's order (2 chairs, 39800 NOK) ...")
    payment_id = await _paid_in_checkout(stack, 39800) if checkout else "PID_123"
    placed = await place_order(
        client,
        {"currency": "NOK", "items": [GUIDE_ORDER], "payment_id": payment_id},
        task_queue=queue,
    )
    order_id = placed.order_id
    story = [
        ("Even swap: the chairs for the Lux chair", 1, LUX, (), None),
        ("Cheaper replacement: the Lux chair for the Basic chair", 3, BASIC, (), None),
        ("Dearer replacement: the Basic chair for the Premium chair", 5, PREMIUM, TOP_UPS, None),
        ("An extra chair, paid in part, then reverted", None, EXTRA, PART_PAID, REVERT_REASON),
    ]
    reports = []
    for number, (title, line_id, new_item, top_ups, revert) in enumerate(story, start=1):
        progress(f"amendment {number}/{len(story)}: {title} ...")
        request = AmendOrderInput.model_validate(
            {
                "order_id": order_id,
                "amendment_id": f"demo-{order_id}-{number}",
                "reverse": [{"line_id": line_id, "quantity": None, "reason": "Replace item"}]
                if line_id is not None
                else [],
                "add": [new_item],
            }
        )
        plan: Plan = await plan_against(dintero, request)
        mark = len(stack.simulator.requests)
        handle = await start_amendment(client, request, task_queue=queue, plan=plan)
        links: list[str] = []
        for session, (payment_id, amount) in enumerate(top_ups, start=1):
            await _until_awaiting(stack, order_id)
            if checkout:
                link = await _customer_pays(stack, order_id, session, amount)
                links.append(link)
                progress(f"amendment {number}: the customer pays {amount} NOK at {link}")
                continue
            progress(f"amendment {number}: top-up authorization {payment_id} of {amount} NOK")
            await send_authorization_outcome(
                client,
                order_id,
                {"payment_id": payment_id, "amount": amount, "success": True},
                wait=True,
            )
        if revert is not None:
            if checkout:  # the customer's second session stays unpaid
                await _until_link(stack, order_id, len(top_ups) + 1)
            progress(f"amendment {number}: the operator reverts it ({revert})")
            await revert_amendment(client, order_id, {"reason": revert})
        result: AmendmentResult = await handle.result()
        state = await get_state(client, order_id)
        calls = [
            r for r in stack.simulator.requests[mark:] if not str(r["path"]).endswith("/auth/token")
        ]
        moves = [
            f"{str(r['path']).rsplit('/', 1)[1]} {r['body'].get('amount', '')} on "
            f"{str(r['path']).split('/')[3]}".replace("  ", " ")
            for r in calls
            if str(r["path"]).startswith("/v1/transactions/")
            and r["status"] == 200
            and r["method"] == "POST"
        ]
        reports.append(
            AmendmentReport(
                title=title,
                workflow_id=handle.id,
                run_id=handle.result_run_id or "",
                status=state.status,
                branch=plan.branch,
                dintero_calls=len(calls),
                lines=result.lines,
                payments=result.payments,
                ui_url=stack.workflow_url(handle.id, handle.result_run_id),
                revert_reason=result.revert_reason,
                outcomes=state.outcomes,
                payment_links=tuple(links),
                checkout_moves=tuple(moves),
            )
        )
    progress("re-reading the order and checking the ledger ...")
    try:
        check_ledger(await dintero.read_order(order_id))
        checks = "held"
    except LedgerViolation as exc:
        checks = f"broken: {'; '.join(exc.problems)}"
    expected = ["Completed" if revert is None else "Reverted" for *_, revert in story]
    ok = checks == "held" and [r.status for r in reports] == expected
    return DemoReport(
        order_id=order_id,
        ui_url=stack.ui_url,
        simulator_url=stack.simulator_url,
        amendments=tuple(reports),
        ledger_checks=checks,
        ok=ok,
    )


async def _until_awaiting(stack: EmbeddedStack, order_id: str) -> None:
    """Poll the `state` query until the amendment waits for its top-up (at most 30 s)."""
    assert stack.client is not None
    for _ in range(600):
        if (await get_state(stack.client, order_id)).status == "AwaitingTopUp":
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the amendment of {order_id} did not reach AwaitingTopUp")


async def _paid_in_checkout(stack: EmbeddedStack, amount: int) -> str:
    """The guide's order paid through a Checkout session: its transaction, captured."""
    checkout = stack.checkout
    session = await checkout.create_session(
        amount=amount,
        currency="NOK",
        merchant_reference="guide-order",
        items=[{"line_id": "1", "amount": amount}],
        return_url="https://shop.example/thanks",
        callback_url=f"{stack.receiver_url}/callbacks/dintero",
    )
    transaction_id = await _pay(stack, session.id, amount)
    await checkout.capture(transaction_id, amount, "guide-order")
    return transaction_id


async def _customer_pays(stack: EmbeddedStack, order_id: str, session: int, amount: int) -> str:
    """The customer opens the amendment's `session`-th payment link and pays `amount`."""
    link = await _until_link(stack, order_id, session)
    await _pay(stack, link.session_id, amount)
    return link.url


async def _pay(stack: EmbeddedStack, session_id: str, amount: int) -> str:
    async with httpx.AsyncClient(base_url=stack.simulator_url) as http:
        paid = await http.post(
            f"/_sim/checkout/sessions/{session_id}/pay",
            json={"outcome": "authorized", "amount": amount},
        )
    paid.raise_for_status()
    return str(paid.json()["transaction_id"])


async def _until_link(stack: EmbeddedStack, order_id: str, session: int) -> PaymentLink:
    """Poll until the amendment shows its `session`-th payment link (at most 30 s)."""
    assert stack.client is not None
    for _ in range(600):
        link = (await get_state(stack.client, order_id)).payment_link
        if link is not None and link.merchant_reference.endswith(f"/{session}"):
            return link
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the amendment of {order_id} showed no payment link {session}")
