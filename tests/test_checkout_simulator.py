"""The simulator's Dintero Checkout, rule by rule, over raw HTTP: sessions, the customer paying
(`/_sim/checkout/sessions/{id}/pay`) and the callback it then makes over a real socket, and the
money rules on captures, refunds and voids (assumptions C1-C7 in `simulator/checkout.py`)."""

from __future__ import annotations

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
        app = Starlette(routes=[Route("/cb", self._cb, methods=["GET", "POST"])])
        self.server = BackgroundServer(app)

    async def _cb(self, request: Request) -> Response:
        self.calls.append((request.method, dict(request.query_params)))
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
            "merchant_reference": "amend-X:a1:1",
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
    assert params["merchant_reference"] == "amend-X:a1:1"
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
    assert part.json()["events"][-1]["capture_reference"] == "c1"
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
        "/v1/sessions-profile", json=session_body(receiver.server.url + "/cb?method=POST")
    )
    session_id = created.json()["id"]
    answer = await http.post(
        f"/_sim/checkout/sessions/{session_id}/pay", json={"outcome": "declined"}
    )
    tid = answer.json()["transaction_id"]
    [(method, params)] = receiver.calls
    assert (method, params["error"], params["transaction_id"]) == ("POST", "declined", tid)
    assert (await http.get(f"/v1/transactions/{tid}")).json()["status"] == "DECLINED"
    refused = await http.post(f"/v1/transactions/{tid}/capture", json={"amount": 1})
    assert refused.json()["error"]["code"] == "TRANSACTION_DECLINED"


async def test_bad_sessions_and_foreign_tokens_are_refused(
    checkout: tuple[Simulator, httpx.AsyncClient], receiver: Receiver
) -> None:
    _, http = checkout
    body = session_body("http://x/cb")
    body["order"]["items"][0]["amount"] = 1
    refused = await http.post("/v1/sessions-profile", json=body)
    assert (refused.status_code, refused.json()["error"]["errors"][0]["field"]) == (
        400,
        "order.items",
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
    assert len(receiver.calls) == 3  # C7: retried on a 5xx
    receiver.answer = 404
    receiver.calls.clear()
    await paid(http, receiver, callback_attempts=3)
    assert len(receiver.calls) == 1  # never on a 4xx
