"""Contract tests of Checkout, from the facts of Dintero's published Checkout API spec: every body
the product's adapter sends, and every answer the simulator gives, has the spec's required
fields and types. The schemas below are written here from those facts (the spec's `SessionProfile`
/ `SessionUrls` / `SessionOrder`, the capture and refund bodies, `Transaction`,
`TransactionEvent`, `SessionCreated`, the session read, `Error`), not copied from it; where the
spec leaves a field optional, so do they, and unknown fields are allowed, as there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest
from pydantic import SecretStr

from amendments.dintero import build_http
from amendments.dintero.errors import OperationPending
from amendments.domain import ids
from amendments.payments.checkout.adapter import DinteroCheckout
from amendments.payments.checkout.client import CheckoutClient
from amendments.payments.port import PaymentsRefused
from amendments.simulator import Simulator
from amendments.simulator import checkout as sim_checkout
from amendments.simulator.app import AcceptRule, FaultRule

# The references an amendment's Checkout writes carry (`ids.checkout_reference`).
WORKFLOW = ids.workflow_id("X")
TOP_UP_CAPTURE = ids.checkout_reference(WORKFLOW, "a1", ids.top_up_group(1).record("capture"))
REFUND_REFERENCE = ids.checkout_reference(WORKFLOW, "a1", ids.settling_step("refund", 1, 1))

AID = "T12345678"
STATUSES = [
    "INITIATED", "AUTHORIZED", "AUTHORIZATION_VOIDED", "CAPTURED", "PARTIALLY_CAPTURED",
    "REFUNDED", "PARTIALLY_REFUNDED", "DECLINED", "FAILED", "UNKNOWN", "ON_HOLD",
    "PARTIALLY_CAPTURED_REFUNDED",  # the spec's newer version
]  # fmt: skip
EVENTS = [
    "INITIALIZE", "AUTHORIZE", "CAPTURE", "REFUND", "VOID", "INITIATE_REFUND", "INITIATE_VOID",
    "INITIATE_CAPTURE", "SETTLEMENT",
]  # fmt: skip
PRODUCTS = [
    "bambora", "collector", "dintero", "dintero_psp", "instabank", "klarna", "netaxept", "payex",
    "santander", "swish", "vipps",
]  # fmt: skip
STRING, INTEGER, NUMBER, BOOLEAN = (
    {"type": "string"},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
)
ITEM = {"type": "object", "properties": {"line_id": STRING, "amount": INTEGER, "id": STRING}}

SESSION_PROFILE = {
    "type": "object",
    "required": ["profile_id", "order", "url"],
    "properties": {
        "profile_id": STRING,
        "url": {
            "type": "object",
            "required": ["return_url"],
            "properties": {"return_url": STRING, "callback_url": STRING},
        },
        "order": {
            "type": "object",
            "required": ["amount", "currency", "merchant_reference"],
            "properties": {
                "amount": INTEGER,
                "currency": STRING,
                "merchant_reference": STRING,
                "items": {"type": "array", "items": ITEM},
            },
        },
    },
}
MOVED_ITEMS = {
    "type": "array",
    "items": {**ITEM, "required": ["amount", "line_id"]},
}
CAPTURE = {
    "type": "object",
    "required": ["amount"],
    "properties": {"amount": INTEGER, "capture_reference": STRING, "items": MOVED_ITEMS},
}
REFUND = {
    "type": "object",
    "required": ["amount"],
    "properties": {
        "amount": INTEGER,
        "reason": STRING,
        "refund_reference": STRING,
        "items": MOVED_ITEMS,
    },
}
TRANSACTION_EVENT = {
    "type": "object",
    "properties": {
        "id": STRING,
        "event": {"enum": EVENTS},
        "transaction_status": {"enum": STATUSES},
        "success": BOOLEAN,
        "amount": NUMBER,
        "request_id": STRING,
        "correlation_request_id": STRING,
        "event_reference": STRING,
        "created_at": STRING,
        "error": {"type": "object", "required": ["message"]},
    },
}
TRANSACTION = {
    "type": "object",
    "required": ["payment_product", "payment_product_type", "amount", "currency"],
    "properties": {
        "id": STRING,
        "payment_product": {"enum": PRODUCTS},
        "payment_product_type": STRING,
        "amount": INTEGER,
        "currency": STRING,
        "status": {"enum": STATUSES},
        "merchant_reference": STRING,
        "session_id": STRING,
        "events": {"type": "array", "items": TRANSACTION_EVENT},
        "created_at": STRING,
        "updated_at": STRING,
    },
}
SESSION_CREATED = {"type": "object", "properties": {"id": STRING, "url": STRING}}
SESSION_READ = {
    "type": "object",
    "properties": {
        "id": STRING,
        "created_at": STRING,
        "transaction_id": STRING,
        "cancelled_at": STRING,
        "cancelled_by": STRING,
        "order": {"type": "object"},
        "url": {"type": "object"},
        "configuration": {"type": "object"},
        "events": {"type": "array", "items": {"type": "object", "properties": {"name": STRING}}},
    },
    "not": {"required": ["status"]},  # the spec's session has no status field
}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message"],
            "properties": {
                "code": STRING,
                "message": STRING,
                "errors": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}


def holds(schema: dict[str, Any], instance: Any) -> None:
    jsonschema.validate(instance, schema)


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to the simulator with a token (as a foreign client would talk to Checkout)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim), base_url="http://checkout.test"
    ) as client:
        token = await client.post(
            f"/v1/accounts/{AID}/auth/token",
            auth=("shop", "secret"),
            json={"grant_type": "client_credentials", "audience": f"x/v1/accounts/{AID}"},
        )
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client


@pytest.fixture
async def adapter(sim: Simulator) -> AsyncIterator[DinteroCheckout]:
    http = build_http(
        base_url="http://checkout.test",
        account_id=AID,
        client_id="worker",
        client_secret=SecretStr("worker-secret"),
        transport=httpx.ASGITransport(app=sim),
    )
    client = CheckoutClient(http, "P-profile")
    yield DinteroCheckout(client, "https://shop.example")
    await client.aclose()


async def authorized(http: httpx.AsyncClient, amount: int = 10000) -> str:
    created = await http.post(
        "/v1/sessions-profile",
        json={
            "profile_id": "P-1",
            "order": {"amount": amount, "currency": "NOK", "merchant_reference": "shop-1"},
            "url": {"return_url": "https://shop.example/back"},
        },
    )
    assert created.status_code == 200, created.text
    paid = await http.post(
        f"/_sim/checkout/sessions/{created.json()['id']}/pay", json={"outcome": "authorized"}
    )
    return str(paid.json()["transaction_id"])


async def test_every_body_the_adapter_sends_is_the_specs(
    sim: Simulator, http: httpx.AsyncClient, adapter: DinteroCheckout
) -> None:
    link = await adapter.open_session(
        reference=ids.merchant_reference(WORKFLOW, "a1", 1),
        amount=10000,
        currency="NOK",
        order_id="X",
    )
    paid = await http.post(
        f"/_sim/checkout/sessions/{link.session_id}/pay",
        json={"outcome": "authorized", "callback": False},  # the callback is not the question
    )
    tid = paid.json()["transaction_id"]
    await adapter.capture(tid, 10000, TOP_UP_CAPTURE, reconcile=False)
    await adapter.refund(tid, 4000, REFUND_REFERENCE, "changed", reconcile=False)
    other = await authorized(http)
    assert await adapter.void(other) is not None
    sent: dict[tuple[str, str], dict[str, Any]] = {}
    for r in sim.requests:  # the first of each: the adapter's (the test's own session is later)
        sent.setdefault((r["method"], r["path"].rsplit("/", 1)[-1]), r)
    session = sent[("POST", "sessions-profile")]["body"]
    holds(SESSION_PROFILE, session)
    assert session["url"]["callback_url"].endswith("/callbacks/dintero?report_error=true")
    holds(CAPTURE, sent[("POST", "capture")]["body"])
    holds(REFUND, sent[("POST", "refund")]["body"])
    assert sent[("POST", "void")]["body"] is None  # a void has no body


async def test_every_answer_the_simulator_gives_is_the_specs(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    created = await http.post(
        "/v1/sessions-profile",
        json={
            "profile_id": "P-1",
            "order": {"amount": 5000, "currency": "NOK", "merchant_reference": "shop-2"},
            "url": {"return_url": "https://shop.example/back"},  # no callback_url: optional
            "configuration": {"channel": "ecommerce"},  # a field the product never sends
        },
    )
    assert created.status_code == 200
    holds(SESSION_CREATED, created.json())
    session_id = created.json()["id"]
    holds(SESSION_READ, (await http.get(f"/v1/sessions/{session_id}")).json())
    paid = await http.post(
        f"/_sim/checkout/sessions/{session_id}/pay", json={"outcome": "authorized"}
    )
    tid = paid.json()["transaction_id"]
    assert paid.json()["callbacks"] == [{"status": None, "attempts": 0, "delivered": False}]
    holds(SESSION_READ, (await http.get(f"/v1/sessions/{session_id}")).json())
    holds(TRANSACTION, (await http.get(f"/v1/transactions/{tid}")).json())
    captured = await http.post(f"/v1/transactions/{tid}/capture", json={"amount": 3000})
    assert captured.status_code == 200
    holds(TRANSACTION, captured.json())
    sim.accepting.append(AcceptRule(action="refund", times=1, complete_ms=0))
    accepted = await http.post(f"/v1/transactions/{tid}/refund", json={"amount": 1000})
    assert accepted.status_code == 202
    assert accepted.headers["event-request-id"]
    holds(TRANSACTION, accepted.json())
    for bad, status in (
        (await http.post(f"/v1/transactions/{tid}/capture", json={"amount": "1"}), 400),
        (await http.post(f"/v1/transactions/{tid}/capture", json={}), 400),
        (await http.get("/v1/transactions/Tnosuch"), 404),
        (await http.get(f"/v1/transactions/{tid}", headers={"Authorization": "Bearer x"}), 401),
    ):
        assert bad.status_code == status
        holds(ERROR, bad.json())
    given_up = await http.post(
        "/v1/sessions-profile",
        json={
            "profile_id": "P-1",
            "order": {"amount": 100, "currency": "NOK", "merchant_reference": "shop-3"},
            "url": {"return_url": "https://shop.example/back"},
        },
    )
    await http.post(
        f"/_sim/checkout/sessions/{given_up.json()['id']}/pay", json={"outcome": "abandoned"}
    )
    read = (await http.get(f"/v1/sessions/{given_up.json()['id']}")).json()
    holds(SESSION_READ, read)
    assert "cancelled_at" in read
    assert "transaction_id" not in read


async def test_an_accepted_operation_completes_as_an_event_correlated_to_it(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    tid = await authorized(http)
    sim.accepting.append(AcceptRule(action="capture", times=1, complete_ms=0))
    accepted = await http.post(
        f"/v1/transactions/{tid}/capture", json={"amount": 10000, "capture_reference": "c-1"}
    )
    request_id = accepted.headers["event-request-id"]
    [initiated] = [e for e in accepted.json()["events"] if e["event"] == "INITIATE_CAPTURE"]
    assert (initiated["request_id"], initiated["event_reference"]) == (request_id, "c-1")
    assert accepted.json()["status"] == "AUTHORIZED"  # nothing captured yet

    async def completed() -> dict[str, Any]:
        for _ in range(200):
            events = (await http.get(f"/v1/transactions/{tid}")).json()["events"]
            done = [e for e in events if e.get("correlation_request_id") == request_id]
            if done:
                return dict(done[0])
            await asyncio.sleep(0.01)
        raise AssertionError("the accepted capture never completed")

    done = await completed()
    assert (done["event"], done["success"], done["event_reference"]) == ("CAPTURE", True, "c-1")
    assert (await http.get(f"/v1/transactions/{tid}")).json()["status"] == "CAPTURED"


async def test_the_adapter_finds_an_ambiguous_capture_by_its_event_reference(
    sim: Simulator, http: httpx.AsyncClient, adapter: DinteroCheckout
) -> None:
    """Checkout captures, then answers 502: the retry finds the capture by the reference its
    event carries (`event_reference`, the spec's only field for it) and captures nothing more."""
    tid = await authorized(http, 10000)
    sim.add_faults(
        [FaultRule(method="POST", path="*/capture", status=502, mode="ambiguous", times=1)]
    )
    with pytest.raises(Exception, match="502"):
        await adapter.capture(tid, 6000, TOP_UP_CAPTURE, reconcile=False)
    moved = await adapter.capture(tid, 6000, TOP_UP_CAPTURE, reconcile=True)
    assert moved.reconciled
    events = (await http.get(f"/v1/transactions/{tid}")).json()["events"]
    assert [(e["event"], e["amount"]) for e in events] == [("AUTHORIZE", 10000), ("CAPTURE", 6000)]


@pytest.mark.parametrize("action", ["capture", "refund", "void"])
async def test_the_adapter_waits_for_an_accepted_operation(
    sim: Simulator, http: httpx.AsyncClient, adapter: DinteroCheckout, action: str
) -> None:
    """202: the adapter reads the transaction until the completing event; a failed one is a
    refusal; one still pending after its wait is `OperationPending`, and the retry (reconciling)
    finds the accepted operation and waits again, never making it twice."""
    tid = await authorized(http, 10000)
    if action == "refund":
        await adapter.capture(tid, 10000, "c-0", reconcile=False)

    async def move(reconcile: bool) -> Any:
        if action == "capture":
            return await adapter.capture(tid, 4000, "ref-1", reconcile=reconcile)
        if action == "refund":
            return await adapter.refund(tid, 4000, "ref-1", "r", reconcile=reconcile)
        return await adapter.void(tid)

    sim.accepting.append(
        AcceptRule.model_validate({"action": action, "times": 1, "complete_ms": 300})
    )
    done = await move(False)
    assert done is not None
    assert not done.reconciled
    sim.accepting.append(
        AcceptRule.model_validate({"action": action, "times": 1, "outcome": "never"})
    )
    fresh = await authorized(http, 10000)
    if action == "refund":
        await adapter.capture(fresh, 10000, "c-0", reconcile=False)
    tid = fresh
    with pytest.raises(OperationPending):
        await move(False)
    transaction = sim.store.accounts[AID].checkout.transactions[tid]
    [pending] = transaction.pending
    sim_checkout.complete(transaction, pending.request_id, True)  # Checkout completes it later
    again = await move(True)
    assert again is not None
    assert again.reconciled
    made = [e for e in transaction.events if e.event == action.upper()]
    assert len(made) == 1

    third = await authorized(http, 10000)
    if action == "refund":
        await adapter.capture(third, 10000, "c-0", reconcile=False)
    tid = third
    sim.accepting.append(
        AcceptRule.model_validate(
            {"action": action, "times": 1, "complete_ms": 0, "outcome": "failure"}
        )
    )
    with pytest.raises(PaymentsRefused, match="could not complete"):
        await move(False)
