"""The simulator's Dintero Checkout, rule by rule, over raw HTTP: sessions, the customer paying
(`/_sim/checkout/sessions/{id}/pay`) and the callback it then makes over a real socket (as the spec
describes it: failures only with `report_error=true`, signed once a secret is set), and the money
rules on captures, refunds and voids (the spec's facts and assumptions C1-C10 in
`simulator/checkout.py`; the shapes of bodies and answers are
`tests/payments/test_checkout_spec.py`'s)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from amendments.simulator import Simulator
from amendments.simulator.server import BackgroundServer

AID = "T12345678"


class Receiver:
    """A callback receiver on a real socket that records what Dintero (the simulator) sent."""

    def __init__(self, answer: int = 200) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.requests: list[Request] = []
        self.bodies: list[bytes] = []
        app = Starlette(routes=[Route("/cb", self._cb, methods=["GET", "POST"])])
        self.server = BackgroundServer(app)

    async def _cb(self, request: Request) -> Response:
        self.calls.append((request.method, dict(request.query_params)))
        self.requests.append(request)
        self.bodies.append(await request.body())
        return JSONResponse({}, status_code=self.answer)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.server.start()
    yield found
    found.server.stop()


@pytest.fixture
async def checkout() -> AsyncIterator[tuple[Simulator, httpx.AsyncClient]]:
    sim = Simulator()
    server = BackgroundServer(sim)
    server.start()
    async with httpx.AsyncClient(base_url=server.url) as http:
        token = (
            await http.post(
                f"/v1/accounts/{AID}/auth/token",
                auth=("id", "secret"),
                json={"grant_type": "client_credentials", "audience": f"x/v1/accounts/{AID}"},
            )
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield sim, http
    server.stop()


def session_body(callback_url: str, amount: int = 10000) -> dict[str, Any]:
    return {
        "profile_id": "P-1",
        "order": {
            "amount": amount,
            "currency": "NOK",
            "merchant_reference": "shop-X:a1:1",
            "items": [{"line_id": "1", "amount": amount, "quantity": 1}],
        },
        "url": {"return_url": "https://shop.example/back", "callback_url": callback_url},
    }


async def paid(
    http: httpx.AsyncClient, receiver: Receiver, amount: int | None = None, **pay: Any
) -> tuple[str, str]:
    created = await http.post(
        "/v1/sessions-profile", json=session_body(receiver.server.url + "/cb")
    )
    assert created.status_code == 200, created.text
    session_id = created.json()["id"]
    assert created.json()["url"].endswith(session_id)
    body = {"outcome": "authorized", **pay} | ({"amount": amount} if amount else {})
    answer = await http.post(f"/_sim/checkout/sessions/{session_id}/pay", json=body)
    assert answer.status_code == 200, answer.text
    return session_id, answer.json()["transaction_id"]


async def test_paying_calls_back_and_the_transaction_is_authorized(
    checkout: tuple[Simulator, httpx.AsyncClient], receiver: Receiver
) -> None:
    _, http = checkout
    session_id, transaction_id = await paid(http, receiver, duplicates=2)
    assert len(receiver.calls) == 3  # the callback, then two duplicates
    method, params = receiver.calls[0]
    assert method == "GET"
    assert params["transaction_id"] == transaction_id
    assert params["session_id"] == session_id
    assert params["merchant_reference"] == "shop-X:a1:1"
    assert "time" in params
    assert "error" not in params
    transaction = (await http.get(f"/v1/transactions/{transaction_id}")).json()
    assert (transaction["status"], transaction["amount"], transaction["currency"]) == (
        "AUTHORIZED",
        10000,
        "NOK",
    )
    again = await http.post(
        f"/_sim/checkout/sessions/{session_id}/pay", json={"outcome": "declined"}
    )
    assert again.status_code == 400  # C2: one transaction per session


async def test_capture_refund_and_void_keep_the_money_rules(
    checkout: tuple[Simulator, httpx.AsyncClient], receiver: Receiver
) -> None:
    _, http = checkout
    _, tid = await paid(http, receiver, amount=6000)  # a partial authorization
    too_much = await http.post(f"/v1/transactions/{tid}/capture", json={"amount": 6001})
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (
        400,
        "CAPTURE_EXCEEDS_AUTHORIZED",
    )
    part = await http.post(
        f"/v1/transactions/{tid}/capture", json={"amount": 4000, "capture_reference": "c1"}
    )
    assert part.json()["status"] == "PARTIALLY_CAPTURED"
    assert part.json()["events"][-1]["event_reference"] == "c1"
    voided = await http.post(f"/v1/transactions/{tid}/void", json={})
    assert voided.json()["error"]["code"] == "VOID_AFTER_CAPTURE"
    over = await http.post(f"/v1/transactions/{tid}/refund", json={"amount": 4001})
    assert over.json()["error"]["code"] == "REFUND_EXCEEDS_CAPTURED"
    await http.post(f"/v1/transactions/{tid}/capture", json={"amount": 2000})
    refunded = await http.post(
        f"/v1/transactions/{tid}/refund", json={"amount": 6000, "refund_reference": "r1"}
    )
    assert refunded.json()["status"] == "REFUNDED"

    _, fresh = await paid(http, receiver)
    assert (await http.post(f"/v1/transactions/{fresh}/void", json={})).json()["status"] == (
        "AUTHORIZATION_VOIDED"
    )
    after = await http.post(f"/v1/transactions/{fresh}/capture", json={"amount": 1})
    assert after.json()["error"]["code"] == "TRANSACTION_VOIDED"


async def test_a_declined_payment_is_a_declined_transaction_and_takes_nothing(
    checkout: tuple[Simulator, httpx.AsyncClient], receiver: Receiver
) -> None:
    _, http = checkout
    created = await http.post(
        "/v1/sessions-profile",
        json=session_body(receiver.server.url + "/cb?method=POST&report_error=true"),
    )
    session_id = created.json()["id"]
    answer = await http.post(
        f"/_sim/checkout/sessions/{session_id}/pay", json={"outcome": "declined"}
    )
    tid = answer.json()["transaction_id"]
    [(method, params)] = receiver.calls
    assert (method, params["error"], params["transaction_id"]) == ("POST", "authorization", tid)
    body = json.loads(receiver.bodies[0])  # a POST callback carries the transaction
    assert (body["id"], body["status"]) == (tid, "DECLINED")
    assert (await http.get(f"/v1/transactions/{tid}")).json()["status"] == "DECLINED"
    refused = await http.post(f"/v1/transactions/{tid}/capture", json={"amount": 1})
    assert refused.json()["error"]["code"] == "TRANSACTION_DECLINED"


async def test_bad_sessions_and_foreign_tokens_are_refused(
    checkout: tuple[Simulator, httpx.AsyncClient], receiver: Receiver
) -> None:
    _, http = checkout
    body = session_body("http://x/cb")
    body["order"]["items"][0]["amount"] = 1
    # C1: items that do not sum to the amount pass (the spec says "should"), unless the
    # strict-session-amounts feature toggle asks for the check.
    assert (await http.post("/v1/sessions-profile", json=body)).status_code == 200
    refused = await http.post(
        "/v1/sessions-profile",
        json=body,
        headers={"Dintero-Feature-Toggles": "strict-session-amounts"},
    )
    assert (refused.status_code, refused.json()["error"]["errors"][0]["field"]) == (
        400,
        "order.items",
    )
    del body["profile_id"]  # required by the spec
    missing = await http.post("/v1/sessions-profile", json=body)
    assert (missing.status_code, missing.json()["error"]["errors"][0]["field"]) == (
        400,
        "profile_id",
    )
    _, tid = await paid(http, receiver)
    anonymous = await http.get(f"/v1/transactions/{tid}", headers={"Authorization": "Bearer no"})
    assert anonymous.status_code == 401
    missing = await http.get("/v1/transactions/T000")
    assert missing.status_code == 404


async def test_a_failing_receiver_is_called_again(
    checkout: tuple[Simulator, httpx.AsyncClient], receiver: Receiver
) -> None:
    _, http = checkout
    receiver.answer = 503
    await paid(http, receiver, callback_attempts=3)
    assert len(receiver.calls) == 3  # the spec: retried on a 5xx
    receiver.answer = 404
    receiver.calls.clear()
    await paid(http, receiver, callback_attempts=3)
    assert len(receiver.calls) == 1  # never on a 4xx


async def test_a_failed_payment_is_called_back_only_when_asked(
    checkout: tuple[Simulator, httpx.AsyncClient], receiver: Receiver
) -> None:
    """The spec: failures are reported only to a callback URL with `report_error=true`."""
    _, http = checkout
    for outcome in ("declined", "abandoned"):
        created = await http.post(
            "/v1/sessions-profile", json=session_body(receiver.server.url + "/cb")
        )
        await http.post(
            f"/_sim/checkout/sessions/{created.json()['id']}/pay", json={"outcome": outcome}
        )
    assert receiver.calls == []
    created = await http.post(
        "/v1/sessions-profile", json=session_body(receiver.server.url + "/cb?report_error=true")
    )
    session_id = created.json()["id"]
    await http.post(f"/_sim/checkout/sessions/{session_id}/pay", json={"outcome": "abandoned"})
    [(_, params)] = receiver.calls
    assert params["error"] == "cancelled"
    assert "transaction_id" not in params
    session = (await http.get(f"/v1/sessions/{session_id}")).json()
    assert "cancelled_at" in session
    assert [e["name"] for e in session["events"]] == ["INITIATED", "CANCELLED"]


async def test_callbacks_are_signed_once_a_secret_is_set(
    checkout: tuple[Simulator, httpx.AsyncClient], receiver: Receiver
) -> None:
    """`Dintero-Signature: t=<unix>,v0-hmac-sha256=<hex>` over time, account, method, hostname,
    path and the sorted query, computed here by hand from the callback as it arrived."""
    _, http = checkout
    assert (await http.post("/_sim/checkout/signature", json={"secret": "sh-1"})).status_code == 200
    await paid(http, receiver)
    [request] = receiver.requests
    header = request.headers["dintero-signature"]
    timestamp, hexdigest = (part.split("=", 1)[1] for part in header.split(","))
    query = sorted(request.query_params.multi_items(), key=lambda kv: kv[0])
    encoded = "&".join(
        f"{urllib.parse.quote_plus(k)}={urllib.parse.quote_plus(v)}" for k, v in query
    )
    text = f"{timestamp}\n{AID}\nGET\n127.0.0.1\n/cb\n{encoded}"
    assert hexdigest == hmac.new(b"sh-1", text.encode(), hashlib.sha256).hexdigest()
    assert abs(time.time() - int(timestamp)) < 300
