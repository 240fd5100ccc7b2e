"""The Dintero guide's story as plain client calls against the simulator served over HTTP."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from amendments.dintero import DinteroClient, build_http
from amendments.dintero.models import DraftOrderCreate, PaymentOperationCreate
from amendments.domain.order import line_totals
from amendments.simulator import DEMO_ACCOUNT_ID, BackgroundServer, Simulator


def _pay(*items: tuple[int, int]) -> PaymentOperationCreate:
    return PaymentOperationCreate.model_validate(
        {
            "items": [{"line_id": line, "amount": amount} for line, amount in items],
            "payment_details": {"payment_id": "PID_123"},
            "success": True,
        }
    )


def _item(line_id: int, product: str, gross: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": product,
        "line_id": line_id,
        "quantity": extra.pop("quantity", 1),
        "gross_amount": gross,
        "tax_lines": [{"amount": gross // 5, "percentage": 25}],
        "description": extra.pop("description", product),
        **extra,
    }


async def play_guide() -> dict[str, Any]:
    simulator = Simulator()
    with BackgroundServer(simulator) as url:
        http = build_http(
            base_url=url,
            account_id=DEMO_ACCOUNT_ID,
            client_id="demo",
            client_secret=SecretStr("demo"),
        )
        client = DinteroClient(http, DEMO_ACCOUNT_ID)
        try:
            draft = await client.create_draft(
                DraftOrderCreate.model_validate(
                    {
                        "options": {"generate_order_id": "ALPHANUMERIC_9"},
                        "order": {
                            "currency": "NOK",
                            "items": [
                                _item(
                                    1,
                                    "175938",
                                    39800,
                                    quantity=2,
                                    description="Stablestol for utendørsbruk",
                                )
                            ],
                        },
                    }
                )
            )
            [order] = await client.complete_draft(draft.id)
            order_id = order.order_id
            await client.record_authorization(order_id, _pay((1, 39800)))
            await client.record_capture(order_id, _pay((1, 39800)))
            update = await client.create_draft(
                DraftOrderCreate.model_validate(
                    {
                        "options": {"order_id": order_id},
                        "order": {
                            "currency": "NOK",
                            "items": [
                                _item(
                                    2,
                                    "175938",
                                    -39800,
                                    quantity=2,
                                    description="Stablestol for utendørsbruk",
                                    reversed_reason="Replace item",
                                    related_item={"line_id": 1, "type": "reversed"},
                                ),
                                _item(
                                    3, "003929", 38800, description="Stablestol for innendørsbruk"
                                ),
                                _item(4, "refund", 1000, description="Refund"),
                            ],
                        },
                    }
                )
            )
            await client.complete_draft(update.id)
            await client.record_authorization(order_id, _pay((2, -39800)))
            await client.record_capture(order_id, _pay((2, -39800)))
            await client.record_authorization(order_id, _pay((3, 38800), (4, 1000)))
            await client.record_capture(order_id, _pay((3, 38800), (4, 1000)))
            await client.record_refund(order_id, _pay((4, 1000)))
            snapshot = await client.read_order(order_id)
        finally:
            await client.aclose()
    return {
        "order_id": order_id,
        "lines": [t.model_dump() for t in line_totals(snapshot).values()],
        "calls": len(simulator.requests),
    }
