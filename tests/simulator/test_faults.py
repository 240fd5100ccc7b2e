"""Each injected fault as the client sees it: the right error class, the write applied or not."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from amendments.dintero import DinteroClient
from amendments.dintero.errors import (
    DinteroTimeout,
    DinteroTransportError,
    NotFound,
    RateLimited,
    ServerError,
)
from amendments.dintero.models import DraftOrderCreate, PaymentOperationCreate
from amendments.simulator import FaultRule, Simulator
from tests.support.clients import make_client

ORDER = DraftOrderCreate.model_validate(
    {
        "options": {"generate_order_id": "ALPHANUMERIC_9"},
        "order": {
            "currency": "NOK",
            "items": [
                {
                    "id": "p",
                    "line_id": 1,
                    "quantity": 1,
                    "gross_amount": 10000,
                    "tax_lines": [{"amount": 2000, "percentage": 25}],
                }
            ],
        },
    }
)
PAY = PaymentOperationCreate.model_validate(
    {
        "items": [{"line_id": 1, "amount": 10000}],
        "payment_details": {"payment_id": "P"},
        "success": True,
    }
)


async def authorized_order(client: DinteroClient) -> str:
    draft = await client.create_draft(ORDER)
    [order] = await client.complete_draft(draft.id)
    await client.record_authorization(order.order_id, PAY)
    return order.order_id


@pytest.fixture(params=["in-process", "socket"])
def pair(
    request: pytest.FixtureRequest,
    sim: Simulator,
    client: DinteroClient,
    socket_sim: Simulator,
    socket_client: DinteroClient,
) -> tuple[Simulator, DinteroClient]:
    return (sim, client) if request.param == "in-process" else (socket_sim, socket_client)


async def test_respond_fails_without_applying(pair: tuple[Simulator, DinteroClient]) -> None:
    sim, client = pair
    order_id = await authorized_order(client)
    sim.add_faults([FaultRule(method="POST", path="*/captures", status=503, times=1)])
    with pytest.raises(ServerError) as caught:
        await client.record_capture(order_id, PAY)
    assert caught.value.retryable
    assert caught.value.status == 503
    assert await client.list_captures(order_id) == []
    await client.record_capture(order_id, PAY)  # the rule fired once and is gone
    assert len(await client.list_captures(order_id)) == 1


async def test_rate_limit_carries_retry_after(pair: tuple[Simulator, DinteroClient]) -> None:
    sim, client = pair
    sim.add_faults([FaultRule(path="*/orders/*", status=429, retry_after=3, times=1)])
    with pytest.raises(RateLimited) as caught:
        await client.get_order("any")
    assert caught.value.retryable
    assert caught.value.retry_after == 3.0


async def test_ambiguous_applies_the_write_then_fails(
    pair: tuple[Simulator, DinteroClient],
) -> None:
    sim, client = pair
    order_id = await authorized_order(client)
    sim.add_faults(
        [FaultRule(method="POST", path="*/captures", status=502, mode="ambiguous", times=1)]
    )
    with pytest.raises(ServerError):
        await client.record_capture(order_id, PAY)
    captures = await client.list_captures(order_id)
    assert [c.amount for c in captures] == [10000]
    log = [
        r for r in sim.requests if r["method"] == "POST" and str(r["path"]).endswith("/captures")
    ]
    assert log[0]["status"] == 502
    assert log[0]["fault"] == "ambiguous"


@pytest.mark.parametrize("apply", [True, False])
async def test_drop_closes_the_connection(
    pair: tuple[Simulator, DinteroClient], apply: bool
) -> None:
    sim, client = pair
    order_id = await authorized_order(client)
    sim.add_faults([FaultRule(method="POST", path="*/captures", mode="drop", apply=apply, times=1)])
    with pytest.raises(DinteroTransportError) as caught:
        await client.record_capture(order_id, PAY)
    assert caught.value.retryable
    assert len(await client.list_captures(order_id)) == (1 if apply else 0)


async def test_drop_on_a_read(pair: tuple[Simulator, DinteroClient]) -> None:
    sim, client = pair
    sim.add_faults([FaultRule(method="GET", path="*/draft_orders", mode="drop", times=1)])
    with pytest.raises(DinteroTransportError):
        await client.list_drafts()
    assert await client.list_drafts() == []


async def test_latency_over_the_client_timeout_is_a_timeout(
    served: tuple[Simulator, str], socket_sim: Simulator
) -> None:
    _, url = served
    client = make_client(url, timeout=httpx.Timeout(0.3))
    order_id = await authorized_order(client)
    socket_sim.add_faults([FaultRule(method="POST", path="*/captures", latency_ms=800, times=1)])
    with pytest.raises(DinteroTimeout) as caught:
        await client.record_capture(order_id, PAY)
    assert caught.value.retryable
    # A slow Dintero still lands the write after the client gave up: the ambiguous case.
    for _ in range(100):
        if await client.list_captures(order_id):
            break
        await asyncio.sleep(0.02)
    assert len(await client.list_captures(order_id)) == 1
    await client.aclose()


async def test_after_lets_the_first_matches_through(pair: tuple[Simulator, DinteroClient]) -> None:
    sim, client = pair
    order_id = await authorized_order(client)
    sim.add_faults([FaultRule(method="GET", path="*/captures", status=503, after=2, times=1)])
    assert await client.list_captures(order_id) == []
    assert await client.list_captures(order_id) == []
    with pytest.raises(ServerError):
        await client.list_captures(order_id)
    assert await client.list_captures(order_id) == []


async def test_latency_alone_only_delays(pair: tuple[Simulator, DinteroClient]) -> None:
    sim, client = pair
    sim.add_faults([FaultRule(method="GET", path="*/draft_orders", latency_ms=50, times=1)])
    assert await client.list_drafts() == []


async def test_probability_is_reproducible_with_a_seed() -> None:
    def fired(seed: int) -> list[bool]:
        from amendments.simulator import SimulatorConfig

        sim = Simulator(SimulatorConfig(seed=seed))
        sim.add_faults([FaultRule(path="*", status=500, probability=0.5)])
        return [sim.faults.fire("GET", "/x") is not None for _ in range(200)]

    first = fired(7)
    assert first == fired(7)
    assert 60 < sum(first) < 140


def test_fault_rules_are_validated() -> None:
    with pytest.raises(ValueError, match="times or probability"):
        FaultRule(status=500, times=1, probability=0.5)
    with pytest.raises(ValueError, match="needs a status or a latency_ms"):
        FaultRule()
    with pytest.raises(ValueError, match="extra"):
        FaultRule.model_validate({"status": 500, "colour": "red"})


async def test_sim_controls_over_http(sim: Simulator, client: DinteroClient) -> None:
    async with httpx.AsyncClient(
        base_url="http://sim", transport=httpx.ASGITransport(app=sim)
    ) as http:
        bad = await http.post("/_sim/faults", json=[{"status": 200}])
        assert bad.status_code == 400
        assert "invalid fault rules" in bad.json()["error"]["message"]
        rules = await http.post(
            "/_sim/faults", json=[{"path": "*/captures", "status": 503, "times": 2}]
        )
        assert rules.json() == [
            {
                "method": "*",
                "path": "*/captures",
                "status": 503,
                "times": 2,
                "after": 0,
                "latency_ms": 0,
                "mode": "respond",
                "apply": True,
            }
        ]
        assert (await http.delete("/_sim/faults")).json() == []
        await authorized_order(client)
        log = (await http.get("/_sim/requests")).json()
        assert [(r["method"], r["status"]) for r in log] == [
            ("POST", 200),
            ("POST", 200),
            ("PUT", 200),
            ("POST", 200),
        ]
        assert log[1]["path"] == "/v1/accounts/T12345678/shopping/draft_orders"
        assert log[1]["body"]["order"]["items"][0]["gross_amount"] == 10000
        assert set(log[0]) >= {"method", "path", "status", "body"}
        assert (await http.get("/_sim/requests?since=3")).json() == log[3:]
        state = (await http.get("/_sim/state")).json()
        assert len(state["T12345678"]["orders"]) == 1
        await http.post("/_sim/reset")
        assert (await http.get("/_sim/requests")).json() == []
        assert (await http.get("/_sim/state")).json() == {}


async def test_get_faults_shows_what_is_left_and_a_rule_without_limits_is_permanent(
    pair: tuple[Simulator, DinteroClient],
) -> None:
    sim, client = pair
    async with httpx.AsyncClient(
        base_url="http://sim", transport=httpx.ASGITransport(app=sim)
    ) as http:
        await http.post(
            "/_sim/faults",
            json=[
                {"method": "GET", "path": "*/orders/*", "status": 503, "times": 2},
                {"method": "GET", "path": "*/orders/*", "status": 500},
            ],
        )
        statuses = []
        for _ in range(5):
            with pytest.raises(ServerError) as caught:
                await client.get_order("NOSUCHORD")
            statuses.append(caught.value.status)
        assert statuses == [503, 503, 500, 500, 500]  # the first used up, the second permanent
        left = (await http.get("/_sim/faults")).json()
        assert [(r["status"], r.get("times")) for r in left] == [(500, None)]
        await http.delete("/_sim/faults")
    with pytest.raises(NotFound):
        await client.get_order("NOSUCHORD")
