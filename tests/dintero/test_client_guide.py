"""The Dintero guide's steps as plain client calls, with the guide's exact bodies, over the
in-process transport and over a real socket to the simulator served by uvicorn."""

from __future__ import annotations

from typing import Any

import pytest

from amendments.dintero import DinteroClient
from amendments.dintero.models import DraftOrderCreate, PaymentOperationCreate
from amendments.domain.order import line_totals

STEP1_DRAFT: dict[str, Any] = {
    "options": {"generate_order_id": "ALPHANUMERIC_9"},
    "order": {
        "currency": "NOK",
        "items": [
            {
                "id": "175938",
                "line_id": 1,
                "quantity": 2,
                "gross_amount": 39800,
                "tax_lines": [{"amount": 7960, "percentage": 25}],
                "description": "Stablestol for utendørsbruk",
                "description_alias": "Stablestol",
            }
        ],
    },
}
STEP2_BODY: dict[str, Any] = {
    "items": [{"amount": 39800, "line_id": 1}],
    "payment_details": {"payment_id": "PID_123"},
    "success": True,
}
REVERSAL_LINE: dict[str, Any] = {
    "id": "175938",
    "line_id": 2,
    "quantity": 2,
    "gross_amount": -39800,
    "tax_lines": [{"amount": -7960, "percentage": 25}],
    "description": "Stablestol for utendørsbruk",
    "description_alias": "Stablestol",
    "reversed_reason": "Replace item",
    "related_item": {"line_id": 1, "type": "reversed"},
}
NEW_LINE: dict[str, Any] = {
    "id": "003929",
    "line_id": 3,
    "quantity": 1,
    "gross_amount": 39800,
    "tax_lines": [{"amount": 7960, "percentage": 25}],
    "description": "Stablestol for innendørsbruk",
    "description_alias": "Stablestol Lux",
}
REFUND_LINE: dict[str, Any] = {
    "id": "refund",
    "line_id": 4,
    "quantity": 1,
    "gross_amount": 1000,
    "tax_lines": [{"amount": 200, "percentage": 25}],
    "description": "Refund",
}
REVERSED_BODY: dict[str, Any] = {
    "items": [{"amount": -39800, "line_id": 2}],
    "payment_details": {"payment_id": "PID_123"},
    "success": True,
}
NEW_BODY: dict[str, Any] = {
    "items": [{"amount": 39800, "line_id": 3}],
    "payment_details": {"payment_id": "PID_123"},
    "success": True,
}
NEW_WITH_REFUND_BODY: dict[str, Any] = {
    "items": [{"amount": 39800, "line_id": 3}, {"amount": 1000, "line_id": 4}],
    "payment_details": {"payment_id": "PID_123"},
    "success": True,
}
REFUND_BODY: dict[str, Any] = {
    "items": [{"amount": 1000, "line_id": 4}],
    "payment_details": {"payment_id": "PID_123"},
    "success": True,
}


def op(body: dict[str, Any]) -> PaymentOperationCreate:
    return PaymentOperationCreate.model_validate(body)


async def place_guide_order(client: DinteroClient) -> str:
    """Guide steps 1-2: the original order, authorized and captured."""
    draft = await client.create_draft(DraftOrderCreate.model_validate(STEP1_DRAFT))
    assert draft.status == "open"
    [order] = await client.complete_draft(draft.id)
    assert len(order.order_id) == 9
    assert order.order_id.isalnum()
    await client.record_authorization(order.order_id, op(STEP2_BODY))
    await client.record_capture(order.order_id, op(STEP2_BODY))
    return order.order_id


async def amend(client: DinteroClient, order_id: str, items: list[dict[str, Any]]) -> None:
    """Guide step 3: a draft linked to the order, completed."""
    body = {"options": {"order_id": order_id}, "order": {"currency": "NOK", "items": items}}
    draft = await client.create_draft(DraftOrderCreate.model_validate(body))
    assert draft.options.order_id == order_id
    [order] = await client.complete_draft(draft.id)
    assert [item.line_id for item in order.items] == [1] + [i["line_id"] for i in items]


def totals(client_totals: dict[int, Any]) -> dict[int, tuple[int, int, int]]:
    return {k: (v.authorized, v.captured, v.refunded) for k, v in client_totals.items()}


@pytest.fixture(params=["in-process", "socket"])
def any_client(
    request: pytest.FixtureRequest, client: DinteroClient, socket_client: DinteroClient
) -> DinteroClient:
    return client if request.param == "in-process" else socket_client


async def test_guide_steps_1_to_4_even_swap(any_client: DinteroClient) -> None:
    order_id = await place_guide_order(any_client)
    await amend(any_client, order_id, [REVERSAL_LINE, NEW_LINE])
    for body in (REVERSED_BODY, NEW_BODY):
        await any_client.record_authorization(order_id, op(body))
        await any_client.record_capture(order_id, op(body))

    snapshot = await any_client.read_order(order_id)
    assert totals(line_totals(snapshot)) == {
        1: (39800, 39800, 0),
        2: (-39800, -39800, 0),
        3: (39800, 39800, 0),
    }
    order = await any_client.get_order(order_id)
    assert order.gross_amount == 39800
    assert order.payment_status == "paid"


async def test_guide_steps_1_to_5_with_refund_line(any_client: DinteroClient) -> None:
    order_id = await place_guide_order(any_client)
    await amend(any_client, order_id, [REVERSAL_LINE, NEW_LINE, REFUND_LINE])
    await any_client.record_authorization(order_id, op(REVERSED_BODY))
    await any_client.record_capture(order_id, op(REVERSED_BODY))
    await any_client.record_authorization(order_id, op(NEW_WITH_REFUND_BODY))
    await any_client.record_capture(order_id, op(NEW_WITH_REFUND_BODY))
    refund = await any_client.record_refund(order_id, op(REFUND_BODY))
    assert refund.amount == 1000

    snapshot = await any_client.read_order(order_id)
    assert totals(line_totals(snapshot)) == {
        1: (39800, 39800, 0),
        2: (-39800, -39800, 0),
        3: (39800, 39800, 0),
        4: (1000, 1000, 1000),
    }
    assert len(await any_client.list_refunds(order_id)) == 1
    order = await any_client.get_order(order_id)
    assert order.payment_status == "partially_refunded"
