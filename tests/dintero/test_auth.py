"""Token auth: caching, expiry, one shared refresh on 401, and secrets kept out of sight."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from amendments.dintero import DinteroClient, DinteroTokenAuth, build_http
from amendments.dintero.errors import DinteroAuthError, NotFound, Unauthorized
from amendments.simulator import FaultRule, Simulator, SimulatorConfig
from tests.support.clients import ACCOUNT, SECRET, make_client


def token_requests(sim: Simulator) -> list[dict[str, object]]:
    return [r for r in sim.requests if str(r["path"]).endswith("/auth/token")]


async def test_one_token_for_many_calls(sim: Simulator, client: DinteroClient) -> None:
    for _ in range(5):
        with pytest.raises(NotFound):
            await client.get_order("missing")
    assert len(token_requests(sim)) == 1
    [request] = token_requests(sim)
    assert request["body"] == {
        "grant_type": "client_credentials",
        "audience": f"http://dintero.test/v1/accounts/{ACCOUNT}",
    }


async def test_concurrent_first_calls_share_one_token_fetch(
    sim: Simulator, client: DinteroClient
) -> None:
    await asyncio.gather(*(client.list_drafts() for _ in range(20)))
    assert len(token_requests(sim)) == 1


async def test_refresh_once_on_401_shared_by_concurrent_callers(
    sim: Simulator, client: DinteroClient
) -> None:
    await client.list_drafts()
    sim.expire_tokens()
    # Hold the 20 first attempts in flight together, so that all of them meet the expired token.
    sim.add_faults([FaultRule(method="GET", path="*/draft_orders", latency_ms=50, times=20)])
    await asyncio.gather(*(client.list_drafts() for _ in range(20)))
    assert len(token_requests(sim)) == 2
    statuses = [r["status"] for r in sim.requests if not str(r["path"]).endswith("/auth/token")]
    assert statuses.count(401) == 20
    assert statuses.count(200) == 21


async def test_cached_token_is_refetched_shortly_before_expiry() -> None:
    now = [1000.0]
    sim = Simulator(SimulatorConfig(token_ttl=3600))
    auth = DinteroTokenAuth(
        account_id=ACCOUNT,
        client_id="c",
        client_secret=SECRET,
        audience=f"http://dintero.test/v1/accounts/{ACCOUNT}",
        refresh_margin=60,
        clock=lambda: now[0],
    )
    http = httpx.AsyncClient(
        base_url="http://dintero.test", auth=auth, transport=httpx.ASGITransport(app=sim)
    )
    client = DinteroClient(http, ACCOUNT)
    await client.list_drafts()
    now[0] += 3600 - 61
    await client.list_drafts()
    assert auth.tokens_fetched == 1
    now[0] += 2  # now within the refresh margin
    await client.list_drafts()
    assert auth.tokens_fetched == 2
    await http.aclose()


async def test_a_401_that_persists_after_refresh_is_unauthorized(
    sim: Simulator, client: DinteroClient
) -> None:
    await client.list_drafts()
    original = sim.tokens.authenticate

    def always_reject(request: object, aid: str | None) -> str:
        from amendments.simulator.base import SimError

        raise SimError(401, "UNAUTHORIZED", "Access forbidden, invalid JWT token was used")

    sim.tokens.authenticate = always_reject  # type: ignore[method-assign]
    with pytest.raises(Unauthorized, match="invalid JWT"):
        await client.list_drafts()
    sim.tokens.authenticate = original  # type: ignore[method-assign]
    assert len(token_requests(sim)) == 2


async def test_wrong_credentials_fail_without_leaking_the_secret() -> None:
    sim = Simulator(SimulatorConfig(client_id="right", client_secret=SecretStr("right-secret")))
    client = make_client("http://dintero.test", httpx.ASGITransport(app=sim))
    with pytest.raises(DinteroAuthError) as caught:
        await client.list_drafts()
    assert caught.value.retryable is False
    assert "refused the client credentials" in str(caught.value)
    rendered = f"{caught.value!s} {caught.value!r} {client!r} {client.http.auth!r}"
    assert SECRET.get_secret_value() not in rendered
    assert "s3cr3t" not in str(sim.requests)
    await client.aclose()


async def test_fixed_credentials_are_accepted() -> None:
    sim = Simulator(SimulatorConfig(client_id="client-1", client_secret=SECRET))
    client = make_client("http://dintero.test", httpx.ASGITransport(app=sim))
    assert await client.list_drafts() == []
    await client.aclose()


def test_account_id_is_validated() -> None:
    with pytest.raises(ValueError, match="T12345678"):
        DinteroTokenAuth(account_id="T-1234", client_id="c", client_secret=SECRET, audience="x")
    with pytest.raises(ValueError, match="account_id"):
        build_http(account_id="X12345678", client_id="c", client_secret=SECRET)


async def test_user_agent_names_the_product(sim: Simulator, client: DinteroClient) -> None:
    captured: list[str] = []
    original = sim.app

    async def spy(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            captured.append(dict(scope["headers"]).get(b"user-agent", b"").decode())
        await original(scope, receive, send)

    sim.app = spy  # type: ignore[assignment]
    await client.list_drafts()
    assert captured
    assert all(ua.startswith("order-amendments/") for ua in captured)
