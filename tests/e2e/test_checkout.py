"""PAYMENTS=dintero-checkout end to end: the real dev server, the simulator over a socket serving
Orders and Checkout on one host, a worker with the Checkout adapter, and the callback receiver as
a real process (`amend callbacks`). The customer is played by the simulator's
`/_sim/checkout/sessions/{id}/pay`, which calls the receiver over HTTP as Dintero does.

Each test checks the money on both APIs from the simulator's own state: the Checkout
transaction's events and the order's records, each exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import signal
import sys
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from amendments.api.starter import revert_amendment
from amendments.config import Settings
from amendments.domain import ids
from amendments.domain.models import AmendmentResult, AmendmentState
from amendments.payments.checkout.adapter import DinteroCheckout
from amendments.payments.checkout.client import CheckoutClient
from amendments.payments.checkout.receiver import callback_app
from amendments.simulator import Simulator
from amendments.simulator.app import AcceptRule, FaultRule
from amendments.simulator.server import free_port
from amendments.temporal.codec import data_converter
from amendments.temporal.connection import DATA_CONVERTER
from amendments.worker.wiring import build_worker, checkout_client, dintero_client
from tests.support.cli import amend_async
from tests.support.harness import PATIENCE, Harness, eventually
from tests.support.keys import KEY_1, keyring
from tests.support.orders import CHAIR, item, swap
from workflows.amend import AmendOrder

AMEND = str(Path(sys.executable).with_name("amend"))
ACCOUNT = "T12345678"


@dataclass
class Stack:
    harness: Harness
    checkout: CheckoutClient
    http: httpx.AsyncClient  # to the simulator's test controls
    receiver: str

    @property
    def sim(self) -> Simulator:
        return self.harness.sim

    def transaction(self, transaction_id: str) -> Any:
        return self.sim.store.accounts[ACCOUNT].checkout.transactions[transaction_id]

    async def paid_order(self, amount: int = 39800, *, capture: bool = True) -> tuple[str, str]:
        """An order paid through Checkout: the transaction, captured (unless `capture` is false:
        captured at shipment), is its payment_id."""
        session = await self.checkout.create_session(
            amount=amount,
            currency="NOK",
            merchant_reference=f"shop-{uuid.uuid4().hex[:8]}",
            items=[{"line_id": "1", "amount": amount}],
            return_url="https://shop.example/back",
            callback_url=self.receiver,  # not an amendment's: the receiver refuses, harmless
        )
        transaction_id = await self.pay(session.id)
        if capture:
            await self.checkout.capture(transaction_id, amount, "shop-takes-it")
        order_id = await self.harness.place(CHAIR, payment_id=transaction_id, capture=capture)
        return order_id, transaction_id

    async def pay(self, session_id: str, **pay: Any) -> str:
        body = {"outcome": "authorized", **pay}
        answer = await self.http.post(f"/_sim/checkout/sessions/{session_id}/pay", json=body)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["transaction_id"])

    async def link(self, order_id: str, number: int) -> AmendmentState:
        """The state once its `number`-th payment session is open."""
        return await self.harness.wait_for_state(
            order_id,
            lambda s: (
                s.payment_link is not None
                and s.payment_link.merchant_reference.endswith(f"/{number}")
            ),
        )

    def events(self, transaction_id: str) -> list[tuple[str, int]]:
        return [(e.event, e.amount) for e in self.transaction(transaction_id).events if e.success]


SIGNATURE_SECRET = "whsec-test-not-a-real-one"


@pytest.fixture
async def stack(
    env: WorkflowEnvironment, served: tuple[Simulator, str], socket_sim: Simulator
) -> AsyncIterator[Stack]:
    async with checkout_stack(env, served, socket_sim) as found:
        yield found


@pytest.fixture
async def signed_stack(
    env: WorkflowEnvironment, served: tuple[Simulator, str], socket_sim: Simulator
) -> AsyncIterator[Stack]:
    """The same, once the merchant has created a signature secret: Dintero signs every
    callback, and the receiver (`DINTERO_SIGNATURE_SECRET`, `CALLBACK_BASE_URL`) checks it."""
    socket_sim.customer.signature_secret = SIGNATURE_SECRET
    async with checkout_stack(env, served, socket_sim, SIGNATURE_SECRET) as found:
        yield found


@pytest.fixture
async def encrypted_stack(
    env: WorkflowEnvironment, served: tuple[Simulator, str], socket_sim: Simulator
) -> AsyncIterator[Stack]:
    """The same with ENCRYPTION_KEYS: the worker's client, the receiver and the test's client
    encrypt every payload."""
    async with checkout_stack(env, served, socket_sim, keys=KEY_1) as found:
        yield found


@contextlib.asynccontextmanager
async def checkout_stack(
    env: WorkflowEnvironment,
    served: tuple[Simulator, str],
    socket_sim: Simulator,
    secret: str | None = None,
    keys: str | None = None,
) -> AsyncIterator[Stack]:
    _, url = served
    port = free_port()
    receiver_url = f"http://127.0.0.1:{port}"
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "DINTERO_BASE_URL": url,
        "DINTERO_CHECKOUT_BASE_URL": url,
        "DINTERO_ACCOUNT_ID": ACCOUNT,
        "DINTERO_CLIENT_ID": "receiver",
        "DINTERO_CLIENT_SECRET": "receiver-secret",
    }
    if secret is not None:
        environment |= {"DINTERO_SIGNATURE_SECRET": secret, "CALLBACK_BASE_URL": receiver_url}
    client = env.client
    if keys is not None:
        environment["ENCRYPTION_KEYS"] = keys
        client = await Client.connect(
            env.client.service_client.config.target_host,
            data_converter=data_converter(keyring(keys)),
        )
    receiver = await asyncio.create_subprocess_exec(
        AMEND, "callbacks", "--port", str(port), env=environment,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    settings = Settings(
        _env_file=None,
        dintero_base_url=url,
        dintero_checkout_base_url=url,
        dintero_account_id=ACCOUNT,
        dintero_client_id="worker",
        dintero_client_secret=SecretStr("worker-secret"),
        dintero_timeout_seconds=2,
        payments="dintero-checkout",
        dintero_checkout_profile_id="P-sim",
        callback_base_url=receiver_url,
    )
    dintero = dintero_client(settings)
    checkout = checkout_client(settings, dintero)
    payments = DinteroCheckout(checkout, receiver_url)
    task_queue = f"checkout-{uuid.uuid4()}"
    try:
        async with httpx.AsyncClient(base_url=url) as http:

            async def healthy() -> bool | None:
                try:
                    return (await http.get(f"{receiver_url}/healthz")).status_code == 200 or None
                except httpx.TransportError:
                    return None

            await eventually(healthy)
            async with build_worker(client, dintero, task_queue, payments):
                yield Stack(
                    Harness(client, socket_sim, task_queue),
                    checkout,
                    http,
                    f"{receiver_url}/callbacks/dintero",
                )
    finally:
        receiver.send_signal(signal.SIGINT)
        await asyncio.wait_for(receiver.wait(), timeout=PATIENCE)
        await dintero.aclose()
        await checkout.aclose()
        assert receiver.stderr is not None
        logged = (await receiver.stderr.read()).decode()
        assert "receiver-secret" not in logged
        assert "Bearer" not in logged
        if secret is not None:
            assert secret not in logged


async def replays(stack: Stack, order_id: str) -> None:
    """The Checkout path's history replays against the workflow as it is (determinism)."""
    handle = stack.harness.client.get_workflow_handle(ids.workflow_id(order_id))
    replayer = Replayer(workflows=[AmendOrder], data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(await handle.fetch_history())


async def result(stack: Stack, order_id: str) -> AmendmentResult:
    handle = stack.harness.client.get_workflow_handle(
        ids.workflow_id(order_id), result_type=AmendmentResult
    )
    found: AmendmentResult = await handle.result()
    return found


def dearer(order_id: str, amendment_id: str) -> dict[str, Any]:
    return swap(order_id, amendment_id, item("Y", 49800))  # a top-up of 10000


async def test_a_refund_is_executed_in_checkout_then_recorded(stack: Stack) -> None:
    order_id, paid_by = await stack.paid_order()
    done = await stack.harness.amend(swap(order_id, "cheaper", item("Z", 29900)))
    assert done.outcome == "applied"
    assert stack.events(paid_by) == [("AUTHORIZE", 39800), ("CAPTURE", 39800), ("REFUND", 9900)]
    refunds = stack.harness.records(order_id, "refund")
    assert [(r["amount"], r["payment_details"]["payment_id"]) for r in refunds] == [(9900, paid_by)]
    await replays(stack, order_id)


async def test_a_top_up_paid_in_one_session(stack: Stack) -> None:
    order_id, _ = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "one-session"))
    state = await stack.link(order_id, 1)
    assert state.payment_link is not None
    assert state.payment_link.amount == 10000
    assert state.payment_link.merchant_reference == f"{ids.workflow_id(order_id)}/one-session/1"
    address = stack.harness.client.service_client.config.target_host
    status = await amend_async("status", order_id, env={"TEMPORAL_ADDRESS": address})
    assert f"payment link for 10000 NOK: {state.payment_link.url}" in status.stdout
    transaction_id = await stack.pay(state.payment_link.session_id)
    done = await result(stack, order_id)
    assert (done.outcome, done.total) == ("applied", 49800)
    assert stack.events(transaction_id) == [("AUTHORIZE", 10000), ("CAPTURE", 10000)]
    captures = [
        r
        for r in stack.harness.records(order_id, "capture")
        if r["payment_details"]["payment_id"] == transaction_id
    ]
    assert [c["amount"] for c in captures] == [10000]


async def test_each_refund_runs_on_its_own_payments_transaction(stack: Stack) -> None:
    """A line paid by two Checkout transactions (the order's, and a top-up's), returned: each
    transaction is refunded its own money in Checkout before the refund is recorded, the
    top-up's (the newest money) first on the line."""
    order_id, paid_by = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "upgrade"))
    state = await stack.link(order_id, 1)
    assert state.payment_link is not None
    top_up = await stack.pay(state.payment_link.session_id)
    await result(stack, order_id)
    back = {
        "order_id": order_id,
        "amendment_id": "return",
        "reverse": [{"line_id": 3, "quantity": None, "reason": "returned"}],
        "add": [],
    }
    done = await stack.harness.amend(back)
    assert done.outcome == "applied"
    assert stack.events(top_up) == [("AUTHORIZE", 10000), ("CAPTURE", 10000), ("REFUND", 10000)]
    assert stack.events(paid_by) == [("AUTHORIZE", 39800), ("CAPTURE", 39800), ("REFUND", 39800)]
    refunds = stack.harness.records(order_id, "refund")
    assert sorted((r["payment_details"]["payment_id"], r["amount"]) for r in refunds) == sorted(
        [(paid_by, 39800), (top_up, 10000)]
    )
    assert {(p.payment_id, p.captured - p.refunded) for p in done.payments} == {
        (paid_by, 0),
        (top_up, 0),
    }
    await replays(stack, order_id)


async def test_an_order_not_captured_is_amended_without_capturing(stack: Stack) -> None:
    """Nothing is captured at amendment time on an order captured at shipment: a cheaper swap
    releases the surplus by a cancellation record only (a partial void is not for every payment
    product); returning the rest releases all the transaction still reserves: it is voided in
    Checkout, then the cancellation recorded."""
    order_id, paid_by = await stack.paid_order(capture=False)
    cheaper = await stack.harness.amend(swap(order_id, "cheaper", item("Z", 29900)))
    assert cheaper.outcome == "applied"
    assert stack.events(paid_by) == [("AUTHORIZE", 39800)]
    releases = stack.harness.records(order_id, "cancellation")
    assert [(r["amount"], r["payment_details"]["payment_id"]) for r in releases] == [
        (9900, paid_by)
    ]
    back = {
        "order_id": order_id,
        "amendment_id": "all-back",
        "reverse": [{"line_id": 3, "quantity": None, "reason": "returned"}],
        "add": [],
    }
    done = await stack.harness.amend(back)
    assert stack.events(paid_by) == [("AUTHORIZE", 39800), ("VOID", 39800)]
    assert stack.transaction(paid_by).status() == "AUTHORIZATION_VOIDED"
    releases = stack.harness.records(order_id, "cancellation")
    assert [r["amount"] for r in releases] == [9900, 29900]
    assert stack.harness.records(order_id, "capture") == []
    assert [(p.payment_id, p.authorized, p.captured, p.cancelled) for p in done.payments] == [
        (paid_by, 39800 - 39800 + 29900 + 9900 - 29900 + 29900, 0, 39800)
    ]
    await replays(stack, order_id)


async def test_a_top_up_on_an_order_not_captured_is_authorized_only(stack: Stack) -> None:
    order_id, paid_by = await stack.paid_order(capture=False)
    await stack.harness.start(dearer(order_id, "dearer-uncaptured"))
    state = await stack.link(order_id, 1)
    assert state.payment_link is not None
    top_up = await stack.pay(state.payment_link.session_id)
    done = await result(stack, order_id)
    assert (done.outcome, done.total) == ("applied", 49800)
    assert stack.events(top_up) == [("AUTHORIZE", 10000)]
    assert stack.events(paid_by) == [("AUTHORIZE", 39800)]
    assert stack.harness.records(order_id, "capture") == []
    await replays(stack, order_id)


async def test_an_encrypted_top_up_keeps_its_payment_link_private(
    encrypted_stack: Stack, env: WorkflowEnvironment
) -> None:
    """With ENCRYPTION_KEYS, the payment link (a capability URL), the session and the paying
    transaction appear in no payload of the raw history; the run reads as usual with the key."""
    stack = encrypted_stack
    order_id, paid_by = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "encrypted-top-up"))
    state = await stack.link(order_id, 1)
    assert state.payment_link is not None
    link = state.payment_link
    top_up = await stack.pay(link.session_id)
    done = await result(stack, order_id)
    assert (done.outcome, done.total) == ("applied", 49800)
    history = await env.client.get_workflow_handle(ids.workflow_id(order_id)).fetch_history()
    stored = b"".join(event.SerializeToString() for event in history.events)
    assert b"binary/encrypted" in stored
    for secret in (link.url, link.session_id, top_up, paid_by):
        assert secret.encode() not in stored, secret
    assert stack.events(top_up) == [("AUTHORIZE", 10000), ("CAPTURE", 10000)]


async def test_a_declined_session_then_a_paid_one(stack: Stack) -> None:
    order_id, _ = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "declined-first"))
    first = await stack.link(order_id, 1)
    assert first.payment_link is not None
    declined = await stack.pay(first.payment_link.session_id, outcome="declined")
    second = await stack.link(order_id, 2)
    assert second.payment_link is not None
    assert (second.payment_link.amount, second.top_up_outstanding) == (10000, 10000)
    approved = await stack.pay(second.payment_link.session_id)
    done = await result(stack, order_id)
    assert done.total == 49800
    assert stack.events(declined) == []  # its authorization failed: nothing moved
    assert stack.events(approved) == [("AUTHORIZE", 10000), ("CAPTURE", 10000)]
    auths = stack.harness.records(order_id, "authorization")
    assert [(a["payment_details"]["payment_id"], a["success"]) for a in auths[-2:]] == [
        (declined, False),
        (approved, True),
    ]


async def test_a_partial_authorization_then_a_session_for_the_rest(stack: Stack) -> None:
    order_id, _ = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "in-parts"))
    first = await stack.link(order_id, 1)
    assert first.payment_link is not None
    part = await stack.pay(first.payment_link.session_id, amount=4000, duplicates=2, late_ms=300)
    second = await stack.link(order_id, 2)
    assert second.payment_link is not None
    assert second.payment_link.amount == 6000
    rest = await stack.pay(second.payment_link.session_id, duplicates=1)
    done = await result(stack, order_id)
    assert done.total == 49800

    async def every_callback_answered() -> list[dict[str, Any]] | None:
        late = [c for c in stack.sim.callbacks if c.get("transaction_id") == part]
        return late if len(late) == 4 else None  # the callback, two duplicates, one late

    # The late duplicate arrives after the end, and changes nothing.
    late = await eventually(every_callback_answered)
    assert stack.events(part) == [("AUTHORIZE", 4000), ("CAPTURE", 4000)]
    assert stack.events(rest) == [("AUTHORIZE", 6000), ("CAPTURE", 6000)]
    captured: dict[str, int] = {}
    for record in stack.harness.records(order_id, "capture"):
        pid = record["payment_details"]["payment_id"]
        captured[pid] = captured.get(pid, 0) + record["amount"]
    assert (captured[part], captured[rest]) == (4000, 6000)
    assert all(c["status"] == 200 for c in late)
    await replays(stack, order_id)


async def test_forged_callbacks_change_nothing(stack: Stack) -> None:
    order_id, paid_by = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "forged"))
    state = await stack.link(order_id, 1)
    assert state.payment_link is not None
    session_id = state.payment_link.session_id
    reference = state.payment_link.merchant_reference
    shop = stack.transaction(paid_by)  # a real transaction, of another session and reference
    forged = [
        ({"transaction_id": paid_by, "session_id": session_id, "merchant_reference": reference},
         400, "session_id is not the transaction's session"),
        ({"transaction_id": paid_by, "session_id": shop.session_id,
          "merchant_reference": reference}, 400, "merchant_reference is not the transaction's"),
        ({"transaction_id": paid_by, "session_id": shop.session_id,
          "merchant_reference": shop.merchant_reference}, 400, "is not an amendment's"),
        ({"transaction_id": "Tnosuch", "session_id": session_id, "merchant_reference": reference},
         404, "is not this account's"),
        ({"session_id": session_id, "merchant_reference": reference}, 400, "are required"),
    ]  # fmt: skip
    for params, status, reason in forged:
        answer = await stack.http.get(stack.receiver, params=params)
        assert (answer.status_code, reason in answer.json()["error"]) == (status, True), params
    # A real payment in a session of ours, for more than that session asked: refused too.
    other = await stack.checkout.create_session(
        amount=20000, currency="NOK", merchant_reference=f"{ids.workflow_id(order_id)}/forged/9",
        items=[], return_url="https://x", callback_url="http://127.0.0.1:1/nowhere",
    )  # fmt: skip
    tid = await stack.pay(other.id, callback_attempts=1)
    foreign = {"transaction_id": tid, "session_id": other.id,
               "merchant_reference": f"{ids.workflow_id(order_id)}/forged/9"}  # fmt: skip
    answer = await stack.http.get(stack.receiver, params=foreign)
    assert answer.status_code == 409  # not the session the amendment waits on
    after = await stack.harness.state(order_id)
    assert (after.outcomes, after.top_up_outstanding) == ((), 10000)
    assert stack.events(tid) == [("AUTHORIZE", 20000)]


async def test_a_revert_refunds_what_was_captured_and_voids_a_late_payment(
    stack: Stack,
) -> None:
    order_id, _ = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "undone"))
    first = await stack.link(order_id, 1)
    assert first.payment_link is not None
    part = await stack.pay(first.payment_link.session_id, amount=4000)
    second = await stack.link(order_id, 2)
    assert second.payment_link is not None
    reverted = await revert_amendment(
        stack.harness.client, order_id, {"reason": "customer changed their mind"}
    )
    assert reverted.outcome == "reverted"
    assert stack.events(part) == [("AUTHORIZE", 4000), ("CAPTURE", 4000), ("REFUND", 4000)]
    # The customer pays the second link after all: the receiver voids it.
    late = await stack.pay(second.payment_link.session_id)
    assert stack.transaction(late).status() == "AUTHORIZATION_VOIDED"
    assert [c["status"] for c in stack.sim.callbacks if c.get("transaction_id") == late] == [200]
    refunds = [
        r
        for r in stack.harness.records(order_id, "refund")
        if r["payment_details"]["payment_id"] == part
    ]
    assert [r["amount"] for r in refunds] == [4000]


@pytest.mark.parametrize("write", ["capture", "refund"])
async def test_an_ambiguous_checkout_write_lands_once(stack: Stack, write: str) -> None:
    """Checkout applies the write, then answers 502: the retry finds it by its reference."""
    order_id, paid_by = await stack.paid_order()
    stack.sim.add_faults(
        [FaultRule(method="POST", path=f"/v1/transactions/*/{write}", status=502,
                   mode="ambiguous", times=1)]
    )  # fmt: skip
    if write == "refund":
        await stack.harness.amend(swap(order_id, "ambiguous", item("Z", 29900)))
        assert stack.events(paid_by) == [
            ("AUTHORIZE", 39800), ("CAPTURE", 39800), ("REFUND", 9900)
        ]  # fmt: skip
        assert [r["amount"] for r in stack.harness.records(order_id, "refund")] == [9900]
        return
    await stack.harness.start(dearer(order_id, "ambiguous"))
    state = await stack.link(order_id, 1)
    assert state.payment_link is not None
    tid = await stack.pay(state.payment_link.session_id)
    await result(stack, order_id)
    assert stack.events(tid) == [("AUTHORIZE", 10000), ("CAPTURE", 10000)]
    mine = [
        r
        for r in stack.harness.records(order_id, "capture")
        if r["payment_details"]["payment_id"] == tid
    ]
    assert [r["amount"] for r in mine] == [10000]


async def test_temporal_unreachable_is_a_5xx_so_that_dintero_retries(stack: Stack) -> None:
    """The receiver, in process, with a client whose Temporal is gone: a genuine callback of
    ours is answered 503 (Dintero calls again later), and nothing is lost."""
    order_id, _ = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "later"))
    state = await stack.link(order_id, 1)
    assert state.payment_link is not None
    session = state.payment_link
    gone = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    app = callback_app(gone, stack.checkout)
    tid = await stack.pay(session.session_id, callback_attempts=1)  # the real receiver takes it
    params = {
        "transaction_id": tid,
        "session_id": session.session_id,
        "merchant_reference": session.merchant_reference,
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as r:
        answer = await r.get("/callbacks/dintero", params=params)
    assert answer.status_code == 503
    assert "Temporal did not answer" in answer.json()["error"]
    assert (await result(stack, order_id)).total == 49800


async def test_a_payment_racing_a_revert_is_never_left_held(stack: Stack) -> None:
    """The outcome of a payment and the operator's revert arrive together: whichever the
    workflow takes first, the money ends right (captured and refunded, or voided)."""
    order_id, _ = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "race"))
    state = await stack.link(order_id, 1)
    assert state.payment_link is not None
    # The customer pays; Dintero's callback is lost, so the outcome is sent as it would be.
    tid = await stack.pay(state.payment_link.session_id, callback=False)
    client = stack.harness.client
    handle = client.get_workflow_handle(ids.workflow_id(order_id))
    outcome = {"payment_id": tid, "amount": 10000, "success": True}
    reverting = asyncio.create_task(
        revert_amendment(client, order_id, {"reason": "cancelled at the till"})
    )
    await handle.signal("authorization_outcome", outcome)
    try:
        done = await reverting
    except Exception:  # the top-up was covered first: the amendment applied instead
        done = await result(stack, order_id)
    moved = stack.events(tid)
    if done.outcome == "reverted":
        assert moved in (
            [("AUTHORIZE", 10000), ("VOID", 10000)],
            [("AUTHORIZE", 10000), ("CAPTURE", 10000), ("REFUND", 10000)],
        ), moved
    else:
        assert moved == [("AUTHORIZE", 10000), ("CAPTURE", 10000)]
    assert stack.transaction(tid).status() in ("AUTHORIZATION_VOIDED", "REFUNDED", "CAPTURED")


async def test_an_ambiguous_refund_at_revert_lands_once(stack: Stack) -> None:
    order_id, _ = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "ambiguous-at-revert"))
    first = await stack.link(order_id, 1)
    assert first.payment_link is not None
    part = await stack.pay(first.payment_link.session_id, amount=4000)
    await stack.link(order_id, 2)
    stack.sim.add_faults(
        [FaultRule(method="POST", path=f"/v1/transactions/{part}/refund", status=502,
                   mode="ambiguous", times=1)]
    )  # fmt: skip
    await revert_amendment(stack.harness.client, order_id, {"reason": "no"})
    assert stack.events(part) == [("AUTHORIZE", 4000), ("CAPTURE", 4000), ("REFUND", 4000)]
    refunds = [
        r["amount"]
        for r in stack.harness.records(order_id, "refund")
        if r["payment_details"]["payment_id"] == part
    ]
    assert refunds == [4000]


@pytest.mark.parametrize("ambiguous", [False, True])
async def test_a_payment_taken_while_reverting_is_voided_by_the_workflow(
    stack: Stack, ambiguous: bool
) -> None:
    """The outcome reaches the workflow once its revert has begun (the receiver read the state
    just before): not taken, and voided by the revert so that no money stays held; a void that
    Checkout applies and then answers 502 is not made twice."""
    order_id, _ = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "late-outcome"))
    state = await stack.link(order_id, 1)
    assert state.payment_link is not None
    tid = await stack.pay(state.payment_link.session_id, callback=False)
    stack.sim.add_faults(  # the revert's draft takes a second: time for the outcome to arrive
        [FaultRule(method="POST", path="*/draft_orders", latency_ms=1000, times=1)]
    )
    if ambiguous:
        stack.sim.add_faults(
            [FaultRule(method="POST", path=f"/v1/transactions/{tid}/void", status=502,
                       mode="ambiguous", times=1)]
        )  # fmt: skip
    client = stack.harness.client
    reverting = asyncio.create_task(revert_amendment(client, order_id, {"reason": "too late"}))
    await stack.harness.wait_for_state(order_id, lambda s: s.status == "Reverting")
    outcome = {"payment_id": tid, "amount": 10000, "success": True}
    await client.get_workflow_handle(ids.workflow_id(order_id)).signal(
        "authorization_outcome", outcome
    )
    done = await reverting
    assert done.outcome == "reverted"
    assert stack.events(tid) == [("AUTHORIZE", 10000), ("VOID", 10000)]
    seen = [o for o in (await stack.harness.state(order_id)).outcomes if o.payment_id == tid]
    assert [o.disposition for o in seen] == ["ignored"]
    await replays(stack, order_id)


async def test_an_abandoned_session_gets_a_fresh_one(stack: Stack) -> None:
    """The customer leaves the payment page: Dintero calls back with `error=cancelled` and no
    transaction; the receiver checks the session with Checkout and the amendment opens another."""
    order_id, _ = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "abandoned"))
    first = await stack.link(order_id, 1)
    assert first.payment_link is not None
    left = await stack.http.post(
        f"/_sim/checkout/sessions/{first.payment_link.session_id}/pay",
        json={"outcome": "abandoned"},
    )
    assert left.json()["callbacks"][0]["status"] == 200, left.json()
    second = await stack.link(order_id, 2)
    assert second.payment_link is not None
    assert second.payment_link.amount == 10000
    # A forged "given up" for the new session, which Checkout says is still open: refused.
    forged = {
        "session_id": second.payment_link.session_id,
        "merchant_reference": second.payment_link.merchant_reference,
        "error": "cancelled",
    }
    answer = await stack.http.get(stack.receiver, params=forged)
    assert (answer.status_code, "was not given up" in answer.json()["error"]) == (400, True)
    paid = await stack.pay(second.payment_link.session_id)
    done = await result(stack, order_id)
    assert done.total == 49800
    assert stack.events(paid) == [("AUTHORIZE", 10000), ("CAPTURE", 10000)]
    assert [a["success"] for a in stack.harness.records(order_id, "authorization")][-1] is True
    await replays(stack, order_id)


# --- as Dintero's spec has it: operations accepted (202), signed callbacks -----------------


def final_moves(stack: Stack, transaction_id: str) -> list[tuple[str, int]]:
    """The transaction's money moved, as its successful final events say (not the
    `INITIATE_*` events of operations accepted for later)."""
    return [
        (e.event, e.amount)
        for e in stack.transaction(transaction_id).events
        if e.success and not e.event.startswith("INITIATE_")
    ]


async def test_moves_accepted_for_later_and_answered_502_move_the_money_once(
    stack: Stack,
) -> None:
    """Every capture, refund and void answers 202 and completes 400 ms later, the first of each
    is also answered 502 after Checkout took it (ambiguous), and the customer's callback is
    lost (the outcome reaches the amendment later, as Dintero's retry would bring it): each
    payment's money moves exactly once."""
    order_id, paid_by = await stack.paid_order()
    stack.sim.accepting.append(AcceptRule(action="*", complete_ms=400))
    stack.sim.add_faults(
        [FaultRule(method="POST", path=f"/v1/transactions/*/{write}", status=502,
                   mode="ambiguous", times=1) for write in ("capture", "refund", "void")]
    )  # fmt: skip
    await stack.harness.start(dearer(order_id, "accepted"))
    first = await stack.link(order_id, 1)
    assert first.payment_link is not None
    part = await stack.pay(first.payment_link.session_id, amount=4000, callback=False)
    outcome = {"payment_id": part, "amount": 4000, "success": True}
    handle = stack.harness.client.get_workflow_handle(ids.workflow_id(order_id))
    await handle.signal("authorization_outcome", outcome)  # the late delivery
    second = await stack.link(order_id, 2)
    assert second.payment_link is not None
    # The customer pays the second link just as the operator reverts: it is voided.
    late = await stack.pay(second.payment_link.session_id, callback=False)
    stack.sim.add_faults(
        [FaultRule(method="POST", path="*/draft_orders", latency_ms=1000, times=1)]
    )
    client = stack.harness.client
    reverting = asyncio.create_task(revert_amendment(client, order_id, {"reason": "changed"}))
    await stack.harness.wait_for_state(order_id, lambda s: s.status == "Reverting")
    await handle.signal("authorization_outcome", {"payment_id": late, "amount": 6000,
                                                  "success": True})  # fmt: skip
    done = await reverting
    assert done.outcome == "reverted"
    assert final_moves(stack, part) == [("AUTHORIZE", 4000), ("CAPTURE", 4000), ("REFUND", 4000)]
    assert final_moves(stack, late) == [("AUTHORIZE", 6000), ("VOID", 6000)]
    assert final_moves(stack, paid_by) == [("AUTHORIZE", 39800), ("CAPTURE", 39800)]
    captured = [r["metadata"]["step"] for r in stack.harness.records(order_id, "capture")
                if r["payment_details"]["payment_id"] == part and r["amount"] > 0]  # fmt: skip
    assert captured == [
        ids.top_up_group(1).record("capture"),
        ids.revert_settling_group("refund", 1).record("capture"),
    ]  # each recorded once
    refunded = [r["amount"] for r in stack.harness.records(order_id, "refund")
                if r["payment_details"]["payment_id"] == part]  # fmt: skip
    assert refunded == [4000]
    await replays(stack, order_id)


async def test_a_refund_accepted_then_failing_fails_the_amendment_until_replayed(
    stack: Stack, cli_env: dict[str, str]
) -> None:
    """Checkout accepts the refund and then reports it failed: the amendment fails before the
    refund is recorded (like a refused write), and `amend replay` makes the refund again."""
    order_id, paid_by = await stack.paid_order()
    stack.sim.accepting.append(
        AcceptRule(action="refund", times=1, complete_ms=100, outcome="failure")
    )
    handle = await stack.harness.start(swap(order_id, "refund-fails", item("Z", 29900)))
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert "could not complete the refund" in str(failed.value.cause)
    assert stack.harness.records(order_id, "refund") == []
    replay_env = {**cli_env, "TASK_QUEUE": stack.harness.task_queue}
    replayed = await amend_async("replay", ids.workflow_id(order_id), env=replay_env)
    assert replayed.code == 0, replayed.stderr
    await stack.harness.client.get_workflow_handle(ids.workflow_id(order_id)).result()
    refunded = [(e.event, e.amount, e.success) for e in stack.transaction(paid_by).events
                if e.event.endswith("REFUND")]  # fmt: skip
    assert refunded == [("INITIATE_REFUND", 9900, True), ("REFUND", 9900, False),
                        ("REFUND", 9900, True)]  # fmt: skip
    assert [r["amount"] for r in stack.harness.records(order_id, "refund")] == [9900]


async def test_signed_callbacks_are_checked_before_anything_is_read(signed_stack: Stack) -> None:
    """With a signature secret, Dintero's signed callback is taken; one unsigned, signed with
    another secret, or five minutes off is refused 401 without a Checkout read."""
    stack = signed_stack
    order_id, _ = await stack.paid_order()
    await stack.harness.start(dearer(order_id, "signed"))
    state = await stack.link(order_id, 1)
    assert state.payment_link is not None
    link = state.payment_link
    other = await stack.checkout.create_session(
        amount=10000, currency="NOK", merchant_reference=link.merchant_reference,
        items=[], return_url="https://x", callback_url="http://127.0.0.1:1/nowhere",
    )  # fmt: skip
    tid = await stack.pay(other.id, callback_attempts=1)  # a real transaction, not delivered
    params = {
        "transaction_id": tid,
        "session_id": other.id,
        "merchant_reference": link.merchant_reference,
        "time": "2026-12-03T10:00:00Z",
    }
    query = "&".join(f"{k}={urllib.parse.quote_plus(v)}" for k, v in sorted(params.items()))
    path = urllib.parse.urlsplit(stack.receiver).path

    def by_hand(secret: str, at: int) -> str:
        text = f"{at}\n{ACCOUNT}\nGET\n127.0.0.1\n{path}\n{query}"
        digest = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
        return f"t={at},v0-hmac-sha256={digest}"

    now = int(time.time())
    mark = len(stack.sim.requests)
    for headers in (
        {},
        {"Dintero-Signature": by_hand("another-secret", now)},
        {"Dintero-Signature": by_hand(SIGNATURE_SECRET, now - 301)},
        {"Dintero-Signature": by_hand(SIGNATURE_SECRET, now + 301)},
    ):
        answer = await stack.http.get(stack.receiver, params=params, headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert "signature refused" in answer.json()["error"]
    assert stack.sim.requests[mark:] == []  # nothing was read from Checkout
    # Signed right, it is checked as any callback (here: not the session the amendment waits on).
    answer = await stack.http.get(
        stack.receiver, params=params, headers={"Dintero-Signature": by_hand(SIGNATURE_SECRET, now)}
    )
    assert answer.status_code == 409
    # And the customer's real payment, signed by Dintero (the simulator), completes it.
    paid = await stack.pay(link.session_id)
    done = await result(stack, order_id)
    assert done.total == 49800
    assert final_moves(stack, paid) == [("AUTHORIZE", 10000), ("CAPTURE", 10000)]
    delivered = [c for c in stack.sim.callbacks if c.get("transaction_id") == paid]
    assert [c["status"] for c in delivered] == [200]
