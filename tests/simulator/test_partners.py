"""The simulator's tokens for many accounts, as Dintero's partner API works (A11, A17), over raw
HTTP as any client sends it: per-account credentials; a partner's token exchanged for one of its
merchant's; the merchant's token endpoint taking the exchange token with either audience
Dintero's pages show; an exchange token opening nothing else; a token never opening another
account's paths; a partner acting only for its linked merchants once links are configured."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from amendments.simulator import Simulator, SimulatorConfig

BASE = "http://dintero.test"
PARTNER, MERCHANT, OTHER = "T11200000", "T33333333", "T44444444"


def basic(client_id: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def grant(audience_of: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "audience": f"{BASE}/v1/accounts/{audience_of}"}


@pytest.fixture
def sim() -> Simulator:
    return Simulator(
        SimulatorConfig(
            credentials={
                PARTNER: ("partner", SecretStr("partner-secret")),
                OTHER: ("other", SecretStr("other-secret")),
            }
        )
    )


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=BASE, transport=httpx.ASGITransport(app=sim)) as client:
        yield client


async def token(http: httpx.AsyncClient, aid: str, client_id: str, secret: str) -> str:
    answer = await http.post(
        f"/v1/accounts/{aid}/auth/token", json=grant(aid), headers=basic(client_id, secret)
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def exchanged(http: httpx.AsyncClient, merchant: str = MERCHANT) -> str:
    partner = await token(http, PARTNER, "partner", "partner-secret")
    answer = await http.post(
        f"/v1/accounts/{PARTNER}/auth/exchange_token",
        json={"account_id": merchant},
        headers=bearer(partner),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["expires_in"] > 0
    return str(answer.json()["access_token"])


async def drafts(http: httpx.AsyncClient, aid: str, value: str) -> int:
    answer = await http.get(f"/v1/accounts/{aid}/shopping/draft_orders", headers=bearer(value))
    return answer.status_code


async def test_per_account_credentials(http: httpx.AsyncClient) -> None:
    wrong = await http.post(
        f"/v1/accounts/{OTHER}/auth/token", json=grant(OTHER), headers=basic("partner", "x")
    )
    assert wrong.status_code == 401
    other = await token(http, OTHER, "other", "other-secret")
    assert await drafts(http, OTHER, other) == 200
    assert await drafts(http, MERCHANT, other) == 401  # never another account's paths
    anyone = await token(http, MERCHANT, "whoever", "anything")  # not configured: open
    assert await drafts(http, MERCHANT, anyone) == 200


@pytest.mark.parametrize("audience_of", [PARTNER, MERCHANT])
async def test_the_partner_exchange_opens_the_merchant(
    http: httpx.AsyncClient, sim: Simulator, audience_of: str
) -> None:
    exchange = await exchanged(http)
    assert await drafts(http, MERCHANT, exchange) == 401  # A17: not by itself
    answer = await http.post(
        f"/v1/accounts/{MERCHANT}/auth/token", json=grant(audience_of), headers=bearer(exchange)
    )
    assert answer.status_code == 200, answer.text
    merchant = answer.json()["access_token"]
    assert await drafts(http, MERCHANT, merchant) == 200
    assert await drafts(http, PARTNER, merchant) == 401
    assert await drafts(http, OTHER, merchant) == 401
    logged = [r for r in sim.requests if r["path"].endswith("/shopping/draft_orders")]
    assert [(r["status"], r.get("account")) for r in logged] == [
        (401, None),
        (200, MERCHANT),
        (401, None),
        (401, None),
    ]


async def test_what_the_exchange_refuses(http: httpx.AsyncClient, sim: Simulator) -> None:
    partner = await token(http, PARTNER, "partner", "partner-secret")
    other = await token(http, OTHER, "other", "other-secret")

    async def exchange(pid: str, value: str, body: object) -> int:
        answer = await http.post(
            f"/v1/accounts/{pid}/auth/exchange_token", json=body, headers=bearer(value)
        )
        return answer.status_code

    assert await exchange(PARTNER, other, {"account_id": MERCHANT}) == 401  # not the partner's
    assert await exchange(OTHER, other, {"account_id": MERCHANT}) == 400  # not a partner id
    assert await exchange(PARTNER, partner, {"account_id": "33333333"}) == 400
    assert await exchange(PARTNER, partner, {}) == 400
    ex = await exchanged(http)
    for wrong_audience in (OTHER, "T99999999"):
        answer = await http.post(
            f"/v1/accounts/{MERCHANT}/auth/token", json=grant(wrong_audience), headers=bearer(ex)
        )
        assert answer.status_code == 400
    elsewhere = await http.post(
        f"/v1/accounts/{OTHER}/auth/token", json=grant(PARTNER), headers=bearer(ex)
    )
    assert elsewhere.status_code == 401  # the exchange token is for MERCHANT only
    sim.tokens.partner_links = {PARTNER: {OTHER}}
    assert await exchange(PARTNER, partner, {"account_id": MERCHANT}) == 403
    assert await exchange(PARTNER, partner, {"account_id": OTHER}) == 200
