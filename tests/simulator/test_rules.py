"""Every simulator rule, violated once: the answer is Dintero's envelope with the right status,
and nothing is written. Raw HTTP is used so that bodies our client would refuse can be sent."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from amendments.simulator import Simulator, SimulatorConfig
from amendments.simulator.app import SimulatorStateError

AID = "T12345678"
SHOP = f"/v1/accounts/{AID}/shopping"
TAX = [{"amount": 2000, "percentage": 25}]


def item(line_id: int, gross: int = 10000, **extra: Any) -> dict[str, Any]:
    tax = [{"amount": gross // 5, "percentage": 25}]
    return {
        "id": f"P{line_id}",
        "line_id": line_id,
        "quantity": 2,
        "gross_amount": gross,
        "tax_lines": tax,
        "description": f"Product {line_id}",
        **extra,
    }


def reversal(
    line_id: int, of: int, gross: int = -10000, quantity: int = 2, **extra: Any
) -> dict[str, Any]:
    return {
        "id": f"P{of}",
        "line_id": line_id,
        "quantity": quantity,
        "gross_amount": gross,
        "tax_lines": [{"amount": gross // 5, "percentage": 25}],
        "description": "reversal",
        "reversed_reason": "Replace item",
        "related_item": {"line_id": of, "type": "reversed"},
        **extra,
    }


def pay(*items: tuple[int, int], success: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "items": [{"line_id": lid, "amount": amt} for lid, amt in items],
        "payment_details": {"payment_id": "PID_1"},
        "success": success,
        **extra,
    }


class Api:
    def __init__(self, sim: Simulator, http: httpx.AsyncClient) -> None:
        self.sim = sim
        self.http = http

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.http.request(method, SHOP + path, json=body)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.call(method, path, body)
        assert response.status_code == 200, response.text
        return response.json()

    async def order(
        self, *items: dict[str, Any], multi: bool = False, link: str | None = None
    ) -> str:
        options: dict[str, Any] = (
            {"order_id": link} if link else {"generate_order_id": "ALPHANUMERIC_9"}
        )
        if multi:
            options["multiple_authorizations"] = True
        draft = await self.ok(
            "POST",
            "/draft_orders",
            {"options": options, "order": {"currency": "NOK", "items": list(items)}},
        )
        [order] = (await self.ok("PUT", f"/draft_orders/{draft['id']}/complete", {}))["orders"]
        return str(order["order_id"])

    async def paid(self, *items: dict[str, Any]) -> str:
        order_id = await self.order(*items)
        lines = tuple((i["line_id"], i["gross_amount"]) for i in items)
        await self.ok("POST", f"/orders/{order_id}/authorizations", pay(*lines))
        await self.ok("POST", f"/orders/{order_id}/captures", pay(*lines))
        return order_id

    async def rejected(
        self,
        status: int,
        method: str,
        path: str,
        body: Any,
        code: str | None = None,
        match: str = "",
    ) -> dict[str, Any]:
        before = self.sim.store.snapshot()
        response = await self.call(method, path, body)
        assert response.status_code == status, response.text
        envelope = response.json()
        assert set(envelope) == {"error"}
        assert set(envelope["error"]) == {"code", "message", "errors"}
        assert isinstance(envelope["error"]["message"], str)
        if code is not None:
            assert envelope["error"]["code"] == code
        assert match in envelope["error"]["message"]
        assert self.sim.store.snapshot() == before, "a rejected request changed state"
        return dict(envelope["error"])


@pytest.fixture
async def api(sim: Simulator) -> AsyncIterator[Api]:
    async with api_for(sim) as ready:
        yield ready


@contextlib.asynccontextmanager
async def api_for(sim: Simulator) -> AsyncIterator[Api]:
    token_http = httpx.AsyncClient(base_url="http://sim", transport=httpx.ASGITransport(app=sim))
    token = (
        await token_http.post(
            f"/v1/accounts/{AID}/auth/token",
            auth=("id", "secret"),
            json={"grant_type": "client_credentials", "audience": f"http://sim/v1/accounts/{AID}"},
        )
    ).json()["access_token"]
    await token_http.aclose()
    async with httpx.AsyncClient(
        base_url="http://sim",
        transport=httpx.ASGITransport(app=sim),
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield Api(sim, http)


# --- drafts ------------------------------------------------------------------------------


def draft(*items: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"options": options, "order": {"currency": "NOK", "items": list(items)}}


async def test_unknown_fields_are_refused(api: Api) -> None:
    error = await api.rejected(
        400, "POST", "/draft_orders", draft(item(1, colour="red")), "BAD_REQUEST"
    )
    assert error["errors"][0]["field"] == "order.items.0.colour"


async def test_malformed_amount_is_refused(api: Api) -> None:
    error = await api.rejected(
        400, "POST", "/draft_orders", draft({**item(1), "gross_amount": "100"}), "BAD_REQUEST"
    )
    assert error["errors"][0]["field"] == "order.items.0.gross_amount"


async def test_empty_draft_is_refused(api: Api) -> None:
    await api.rejected(400, "POST", "/draft_orders", draft(), "BAD_REQUEST", "items")


async def test_duplicate_line_in_a_draft(api: Api) -> None:
    await api.rejected(400, "POST", "/draft_orders", draft(item(1), item(1)), match="appears twice")


async def test_linked_draft_line_id_already_on_the_order(api: Api) -> None:
    order_id = await api.paid(item(1))
    await api.rejected(
        400, "POST", "/draft_orders", draft(item(1), order_id=order_id), "DUPLICATE_LINE_ID"
    )


async def test_linked_draft_lines_are_appended(api: Api) -> None:
    order_id = await api.paid(item(1), item(5))
    await api.rejected(
        400,
        "POST",
        "/draft_orders",
        draft(item(3), order_id=order_id),
        match="greater than the order's highest line id 5",
    )


async def test_linked_to_unknown_order(api: Api) -> None:
    await api.rejected(404, "POST", "/draft_orders", draft(item(2), order_id="NOPE"), "NOT_FOUND")


async def test_linked_draft_currency_must_match(api: Api) -> None:
    order_id = await api.paid(item(1))
    body = draft(item(2), order_id=order_id)
    body["order"]["currency"] = "SEK"
    await api.rejected(
        400, "POST", "/draft_orders", body, match="does not match order currency NOK"
    )


async def test_negative_amount_needs_a_reversal(api: Api) -> None:
    await api.rejected(
        400,
        "POST",
        "/draft_orders",
        draft(item(1, gross=-500)),
        match="only allowed on a reversal line",
    )


async def test_reversal_must_be_negative(api: Api) -> None:
    order_id = await api.paid(item(1))
    await api.rejected(
        400,
        "POST",
        "/draft_orders",
        draft(reversal(2, of=1, gross=100), order_id=order_id),
        match="must have a negative gross_amount",
    )


async def test_tax_sign_and_size(api: Api) -> None:
    wrong_sign = item(1, tax_lines=[{"amount": -20, "percentage": 25}])
    await api.rejected(400, "POST", "/draft_orders", draft(wrong_sign), match="sign")
    too_much = item(1, gross=100, tax_lines=[{"amount": 101, "percentage": 25}])
    await api.rejected(400, "POST", "/draft_orders", draft(too_much), match="exceeds gross_amount")


async def test_related_item_needs_a_linked_draft(api: Api) -> None:
    await api.rejected(
        400,
        "POST",
        "/draft_orders",
        draft(reversal(2, of=1)),
        match="needs a draft linked to an order",
    )


async def test_related_item_must_exist(api: Api) -> None:
    order_id = await api.paid(item(1))
    await api.rejected(
        400,
        "POST",
        "/draft_orders",
        draft(reversal(2, of=9), order_id=order_id),
        match="is not a line of order",
    )


async def test_related_item_type_must_be_reversed(api: Api) -> None:
    order_id = await api.paid(item(1))
    bad = reversal(2, of=1)
    bad["related_item"]["type"] = "replaced"
    await api.rejected(
        400, "POST", "/draft_orders", draft(bad, order_id=order_id), match="only 'reversed'"
    )


async def test_a_reversal_line_cannot_be_reversed(api: Api) -> None:
    order_id = await api.paid(item(1))
    await api.order(reversal(2, of=1), link=order_id)
    bad = reversal(3, of=2, gross=-10000)
    await api.rejected(
        400, "POST", "/draft_orders", draft(bad, order_id=order_id), match="itself a reversal line"
    )


async def test_a_reversal_keeps_the_product_id(api: Api) -> None:
    order_id = await api.paid(item(1))
    bad = reversal(2, of=1, id="OTHER")
    await api.rejected(
        400, "POST", "/draft_orders", draft(bad, order_id=order_id), match="product id"
    )


async def test_reversals_never_exceed_the_line(api: Api) -> None:
    order_id = await api.paid(item(1))
    await api.order(reversal(2, of=1, gross=-6000, quantity=1), link=order_id)
    await api.rejected(
        400,
        "POST",
        "/draft_orders",
        draft(reversal(3, of=1, gross=-6000, quantity=1), order_id=order_id),
        "REVERSAL_EXCEEDS_LINE",
        "exceeds its gross_amount",
    )
    await api.rejected(
        400,
        "POST",
        "/draft_orders",
        draft(reversal(3, of=1, gross=-4000, quantity=2), order_id=order_id),
        "REVERSAL_EXCEEDS_LINE",
        "exceeds its quantity",
    )


async def test_completing_twice_fails(api: Api) -> None:
    created = await api.ok(
        "POST", "/draft_orders", draft(item(1), generate_order_id="ALPHANUMERIC_9")
    )
    await api.ok("PUT", f"/draft_orders/{created['id']}/complete", {})
    await api.rejected(400, "PUT", f"/draft_orders/{created['id']}/complete", {}, "DRAFT_NOT_OPEN")


async def test_rules_are_checked_again_at_completion(api: Api) -> None:
    order_id = await api.paid(item(1))
    first = await api.ok("POST", "/draft_orders", draft(item(2), order_id=order_id))
    second = await api.ok("POST", "/draft_orders", draft(item(2), order_id=order_id))
    await api.ok("PUT", f"/draft_orders/{first['id']}/complete", {})
    await api.rejected(
        400, "PUT", f"/draft_orders/{second['id']}/complete", {}, "DUPLICATE_LINE_ID"
    )


async def test_unknown_draft(api: Api) -> None:
    await api.rejected(404, "GET", "/draft_orders/nope", None, "NOT_FOUND")
    await api.rejected(404, "PUT", "/draft_orders/nope/complete", {}, "NOT_FOUND")


async def test_drafts_are_listed_by_status(api: Api) -> None:
    await api.order(item(1))
    open_draft = await api.ok("POST", "/draft_orders", draft(item(1)))
    listed = await api.ok("GET", "/draft_orders?status=open")
    assert [d["id"] for d in listed["draft_orders"]] == [open_draft["id"]]
    assert len((await api.ok("GET", "/draft_orders"))["draft_orders"]) == 2


# --- payment operations ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["authorizations", "captures", "refunds"])
async def test_operation_on_an_unknown_line(api: Api, kind: str) -> None:
    order_id = await api.paid(item(1))
    await api.rejected(
        400, "POST", f"/orders/{order_id}/{kind}", pay((7, 100)), match="not a line of order"
    )


@pytest.mark.parametrize("amount", [0, -100])
async def test_operation_amount_has_the_line_sign(api: Api, amount: int) -> None:
    order_id = await api.order(item(1))
    await api.rejected(
        400,
        "POST",
        f"/orders/{order_id}/authorizations",
        pay((1, amount)),
        match="with the sign of line 1",
    )


async def test_reversal_line_takes_negative_amounts(api: Api) -> None:
    order_id = await api.paid(item(1))
    await api.order(reversal(2, of=1), link=order_id)
    await api.rejected(
        400, "POST", f"/orders/{order_id}/authorizations", pay((2, 10000)), match="sign"
    )
    await api.ok("POST", f"/orders/{order_id}/authorizations", pay((2, -10000)))


async def test_operation_lists_a_line_twice(api: Api) -> None:
    order_id = await api.order(item(1))
    await api.rejected(
        400,
        "POST",
        f"/orders/{order_id}/authorizations",
        pay((1, 10), (1, 10)),
        match="appears twice",
    )


async def test_success_is_required(api: Api) -> None:
    order_id = await api.order(item(1))
    body = pay((1, 100))
    del body["success"]
    error = await api.rejected(
        400, "POST", f"/orders/{order_id}/authorizations", body, "BAD_REQUEST"
    )
    assert error["errors"][0]["field"] == "success"


async def test_authorization_never_exceeds_the_line(api: Api) -> None:
    order_id = await api.order(item(1), multi=True)
    await api.rejected(
        400,
        "POST",
        f"/orders/{order_id}/authorizations",
        pay((1, 10001), authorization_id="a1"),
        "AMOUNT_EXCEEDS_LINE",
    )


async def test_second_authorization_needs_multiple_authorizations(api: Api) -> None:
    order_id = await api.order(item(1))
    await api.ok("POST", f"/orders/{order_id}/authorizations", pay((1, 4000)))
    await api.rejected(
        400, "POST", f"/orders/{order_id}/authorizations", pay((1, 6000)), "ALREADY_AUTHORIZED"
    )


async def test_a_declined_authorization_counts_as_one(api: Api) -> None:
    order_id = await api.order(item(1))
    await api.ok("POST", f"/orders/{order_id}/authorizations", pay((1, 10000), success=False))
    await api.rejected(
        400, "POST", f"/orders/{order_id}/authorizations", pay((1, 10000)), "ALREADY_AUTHORIZED"
    )


async def test_multiple_authorizations_require_authorization_id(api: Api) -> None:
    order_id = await api.order(item(1), multi=True)
    for kind in ("authorizations", "captures", "refunds"):
        await api.rejected(
            400,
            "POST",
            f"/orders/{order_id}/{kind}",
            pay((1, 100)),
            match="authorization_id is required",
        )
    await api.ok(
        "POST", f"/orders/{order_id}/authorizations", pay((1, 4000), authorization_id="a1")
    )
    await api.ok(
        "POST", f"/orders/{order_id}/authorizations", pay((1, 6000), authorization_id="a2")
    )
    await api.rejected(
        400,
        "POST",
        f"/orders/{order_id}/authorizations",
        pay((1, 1), authorization_id="a2"),
        "AMOUNT_EXCEEDS_LINE",
    )


async def test_authorization_id_is_used_once(api: Api) -> None:
    order_id = await api.order(item(1), multi=True)
    await api.ok(
        "POST",
        f"/orders/{order_id}/authorizations",
        pay((1, 100), authorization_id="a1", success=False),
    )
    await api.rejected(
        400,
        "POST",
        f"/orders/{order_id}/authorizations",
        pay((1, 100), authorization_id="a1"),
        "DUPLICATE_AUTHORIZATION_ID",
    )


async def test_capture_never_exceeds_authorized(api: Api) -> None:
    order_id = await api.order(item(1))
    await api.ok("POST", f"/orders/{order_id}/authorizations", pay((1, 6000)))
    await api.ok("POST", f"/orders/{order_id}/captures", pay((1, 5000)))
    await api.rejected(
        400, "POST", f"/orders/{order_id}/captures", pay((1, 1001)), "AMOUNT_EXCEEDS_AUTHORIZED"
    )


async def test_declined_authorization_authorizes_nothing(api: Api) -> None:
    order_id = await api.order(item(1))
    await api.ok("POST", f"/orders/{order_id}/authorizations", pay((1, 10000), success=False))
    await api.rejected(
        400, "POST", f"/orders/{order_id}/captures", pay((1, 1)), "AMOUNT_EXCEEDS_AUTHORIZED"
    )


async def test_capture_per_authorization_id(api: Api) -> None:
    order_id = await api.order(item(1), multi=True)
    await api.ok(
        "POST", f"/orders/{order_id}/authorizations", pay((1, 4000), authorization_id="a1")
    )
    await api.ok(
        "POST", f"/orders/{order_id}/authorizations", pay((1, 6000), authorization_id="a2")
    )
    await api.rejected(
        400,
        "POST",
        f"/orders/{order_id}/captures",
        pay((1, 5000), authorization_id="a1"),
        "AMOUNT_EXCEEDS_AUTHORIZED",
        "'a1'",
    )
    await api.rejected(
        400,
        "POST",
        f"/orders/{order_id}/captures",
        pay((1, 100), authorization_id="zz"),
        "AMOUNT_EXCEEDS_AUTHORIZED",
    )
    await api.ok("POST", f"/orders/{order_id}/captures", pay((1, 4000), authorization_id="a1"))


async def test_refund_never_exceeds_captured(api: Api) -> None:
    order_id = await api.paid(item(1))
    await api.ok("POST", f"/orders/{order_id}/refunds", pay((1, 9000)))
    await api.rejected(
        400, "POST", f"/orders/{order_id}/refunds", pay((1, 1001)), "AMOUNT_EXCEEDS_CAPTURED"
    )


async def test_refund_per_authorization_id(api: Api) -> None:
    order_id = await api.order(item(1), multi=True)
    await api.ok(
        "POST", f"/orders/{order_id}/authorizations", pay((1, 4000), authorization_id="a1")
    )
    await api.ok("POST", f"/orders/{order_id}/captures", pay((1, 4000), authorization_id="a1"))
    await api.rejected(
        400,
        "POST",
        f"/orders/{order_id}/refunds",
        pay((1, 100), authorization_id="a2"),
        "AMOUNT_EXCEEDS_CAPTURED",
    )


async def test_a_cancellation_never_exceeds_what_is_authorized_and_not_captured(api: Api) -> None:
    """A14: cancelled + captured <= authorized per line; A15: cancelled money is not captured;
    A16: the order embeds its cancellations, each readable by id, and there is no list."""
    order_id = await api.order(item(1))
    await api.ok("POST", f"/orders/{order_id}/authorizations", pay((1, 10000)))
    await api.ok("POST", f"/orders/{order_id}/captures", pay((1, 6000)))
    await api.rejected(
        400,
        "POST",
        f"/orders/{order_id}/cancellations",
        pay((1, 4001)),
        "AMOUNT_EXCEEDS_AUTHORIZED",
        "already captured or cancelled 6000",
    )
    cancelled = await api.ok("POST", f"/orders/{order_id}/cancellations", pay((1, 3000)))
    await api.rejected(
        400, "POST", f"/orders/{order_id}/captures", pay((1, 1001)), "AMOUNT_EXCEEDS_AUTHORIZED"
    )
    await api.ok("POST", f"/orders/{order_id}/captures", pay((1, 1000)))
    await api.rejected(
        400, "POST", f"/orders/{order_id}/cancellations", pay((1, 1)), "AMOUNT_EXCEEDS_AUTHORIZED"
    )
    order = await api.ok("GET", f"/orders/{order_id}")
    assert [(c["id"], c["amount"]) for c in order["cancellations"]] == [(cancelled["id"], 3000)]
    one = await api.ok("GET", f"/orders/{order_id}/cancellations/{cancelled['id']}")
    assert one == cancelled
    await api.rejected(404, "GET", f"/orders/{order_id}/cancellations/nope", None, "NOT_FOUND")
    listed = await api.call("GET", f"/orders/{order_id}/cancellations")
    assert listed.status_code in (404, 405)


async def test_a_cancellation_per_authorization_id(api: Api) -> None:
    order_id = await api.order(item(1), multi=True)
    for auth_id, amount in (("a1", 4000), ("a2", 6000)):
        body = pay((1, amount), authorization_id=auth_id)
        await api.ok("POST", f"/orders/{order_id}/authorizations", body)
    await api.rejected(
        400,
        "POST",
        f"/orders/{order_id}/cancellations",
        pay((1, 4001), authorization_id="a1"),
        "AMOUNT_EXCEEDS_AUTHORIZED",
        "'a1'",
    )
    await api.rejected(
        400, "POST", f"/orders/{order_id}/cancellations", pay((1, 100)), "BAD_REQUEST"
    )  # authorization_id is required on a multiple_authorizations line
    await api.ok("POST", f"/orders/{order_id}/cancellations", pay((1, 4000), authorization_id="a1"))


async def test_operations_on_an_unknown_order(api: Api) -> None:
    await api.rejected(404, "POST", "/orders/NOPE/captures", pay((1, 1)), "NOT_FOUND")
    await api.rejected(404, "GET", "/orders/NOPE", None, "NOT_FOUND")


async def test_closed_and_cancelled_orders_take_no_writes(api: Api) -> None:
    closed = await api.paid(item(1))
    await api.ok("POST", f"/orders/{closed}/close")
    await api.rejected(400, "POST", f"/orders/{closed}/refunds", pay((1, 1)), "ORDER_NOT_OPEN")
    await api.rejected(
        400, "POST", "/draft_orders", draft(item(2), order_id=closed), "ORDER_NOT_OPEN"
    )
    cancelled = await api.order(item(1))
    await api.ok("POST", f"/orders/{cancelled}/cancel")
    await api.rejected(
        400, "POST", f"/orders/{cancelled}/authorizations", pay((1, 1)), "ORDER_NOT_OPEN"
    )


async def test_a_captured_order_cannot_be_cancelled(api: Api) -> None:
    order_id = await api.paid(item(1))
    await api.rejected(400, "POST", f"/orders/{order_id}/cancel", None, "ORDER_CAPTURED")


async def test_payment_status_is_derived(api: Api) -> None:
    order_id = await api.order(item(1), item(2))

    async def status() -> str:
        return str((await api.ok("GET", f"/orders/{order_id}"))["payment_status"])

    assert await status() == "pending"
    await api.ok("POST", f"/orders/{order_id}/authorizations", pay((1, 10000), (2, 10000)))
    assert await status() == "pending"
    await api.ok("POST", f"/orders/{order_id}/captures", pay((1, 10000)))
    assert await status() == "partially_paid"
    await api.ok("POST", f"/orders/{order_id}/captures", pay((2, 10000)))
    assert await status() == "paid"
    await api.ok("POST", f"/orders/{order_id}/refunds", pay((2, 10000)))
    assert await status() == "partially_refunded"
    await api.ok("POST", f"/orders/{order_id}/refunds", pay((1, 10000)))
    assert await status() == "refunded"


async def test_order_embeds_authorizations_and_lists_every_record(api: Api) -> None:
    order_id = await api.paid(item(1))
    order = await api.ok("GET", f"/orders/{order_id}")
    assert [a["amount"] for a in order["authorizations"]] == [10000]
    assert "captures" not in order
    captures = await api.ok("GET", f"/orders/{order_id}/captures")
    assert captures["captures"][0]["items"] == [{"line_id": 1, "amount": 10000}]


# --- auth --------------------------------------------------------------------------------


async def test_requests_without_a_valid_token_are_401(sim: Simulator) -> None:
    async with httpx.AsyncClient(
        base_url="http://sim", transport=httpx.ASGITransport(app=sim)
    ) as http:
        for headers in ({}, {"Authorization": "Bearer forged"}, {"Authorization": "Basic eDp5"}):
            response = await http.get(f"{SHOP}/draft_orders", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def test_tokens_expire_and_belong_to_one_account() -> None:
    sim = Simulator(SimulatorConfig(token_ttl=0))
    async with httpx.AsyncClient(
        base_url="http://sim", transport=httpx.ASGITransport(app=sim)
    ) as http:
        token = (
            await http.post(
                f"/v1/accounts/{AID}/auth/token",
                auth=("i", "s"),
                json={
                    "grant_type": "client_credentials",
                    "audience": f"http://sim/v1/accounts/{AID}",
                },
            )
        ).json()
        assert token["expires_in"] == 0
        expired = await http.get(
            f"{SHOP}/draft_orders", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert expired.status_code == 401
    sim = Simulator()
    async with httpx.AsyncClient(
        base_url="http://sim", transport=httpx.ASGITransport(app=sim)
    ) as http:
        token = (
            await http.post(
                f"/v1/accounts/{AID}/auth/token",
                auth=("i", "s"),
                json={
                    "grant_type": "client_credentials",
                    "audience": f"http://sim/v1/accounts/{AID}",
                },
            )
        ).json()
        other = await http.get(
            "/v1/accounts/T87654321/shopping/draft_orders",
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        assert other.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"grant_type": "password", "audience": f"x/v1/accounts/{AID}"}, "grant_type"),
        ({"grant_type": "client_credentials", "audience": "x/v1/accounts/T00000000"}, "audience"),
        ({"grant_type": "client_credentials"}, "audience"),
    ],
)
async def test_token_request_is_checked(sim: Simulator, body: dict[str, Any], field: str) -> None:
    async with httpx.AsyncClient(
        base_url="http://sim", transport=httpx.ASGITransport(app=sim)
    ) as http:
        response = await http.post(f"/v1/accounts/{AID}/auth/token", auth=("i", "s"), json=body)
        assert response.status_code == 400
        assert response.json()["error"]["errors"][0]["field"] == field


async def test_malformed_account_id_is_404(sim: Simulator) -> None:
    async with httpx.AsyncClient(
        base_url="http://sim", transport=httpx.ASGITransport(app=sim)
    ) as http:
        response = await http.post(
            "/v1/accounts/T123/auth/token",
            auth=("i", "s"),
            json={"grant_type": "client_credentials", "audience": "x/v1/accounts/T123"},
        )
        assert response.status_code == 404
        assert "does not match" in response.json()["error"]["message"]


async def test_unknown_paths_answer_in_the_envelope(api: Api) -> None:
    response = await api.call("GET", "/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


# --- state kept in a file (`amend dev`) ----------------------------------------------------


async def test_a_state_file_keeps_every_record_and_the_rules_hold_after_a_restart(
    tmp_path: Path,
) -> None:
    kept = tmp_path / "simulator.json"
    sim = Simulator(SimulatorConfig(state_file=kept))
    async with api_for(sim) as first:
        order_id = await first.paid(item(1), item(2, 6000))
        await first.ok("POST", f"/orders/{order_id}/refunds", pay((2, 1000)))
        rejected = await first.call("POST", f"/orders/{order_id}/refunds", pay((2, 9000)))
        assert rejected.status_code == 400
    restarted = Simulator(SimulatorConfig(state_file=kept))
    assert restarted.store.snapshot() == sim.store.snapshot()
    async with api_for(restarted) as second:
        # The records came back as records: the limits they set still apply.
        await second.rejected(
            400, "POST", f"/orders/{order_id}/refunds", pay((2, 5001)), "AMOUNT_EXCEEDS_CAPTURED"
        )
        await second.ok("POST", f"/orders/{order_id}/refunds", pay((2, 5000)))
        refunds = (await second.ok("GET", f"/orders/{order_id}/refunds"))["refunds"]
        assert [r["amount"] for r in refunds] == [1000, 5000]
    assert not kept.with_name(kept.name + ".partial").exists()
    restarted.reset()
    assert Simulator(SimulatorConfig(state_file=kept)).store.snapshot() == {}


def test_a_state_file_that_does_not_parse_is_refused_and_left_alone(tmp_path: Path) -> None:
    kept = tmp_path / "simulator.json"
    kept.write_text('{"T12345678": {"orders": 3}}')
    with pytest.raises(SimulatorStateError) as refused:
        Simulator(SimulatorConfig(state_file=kept))
    assert str(refused.value).startswith(f"cannot read the simulator's state from {kept} (")
    assert kept.read_text() == '{"T12345678": {"orders": 3}}'
