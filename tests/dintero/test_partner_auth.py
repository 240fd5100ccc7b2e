"""The Dintero clients of many accounts (`AccountClients`) over the simulator: each account's own
client credentials, or its partner's token exchanged for it (one partner token for all of the
partner's merchants, one exchange and one merchant token per merchant, each cached and shared by
concurrent calls), fetched again when they expire; an account that is not served or cannot be
reached is refused before any request, naming `account_id`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from amendments.dintero.accounts import Account, Accounts, Partner, SecretSource
from amendments.dintero.directory import AccountClients
from amendments.dintero.errors import DinteroAuthError
from amendments.domain.errors import AmendmentRejected
from amendments.simulator import Simulator, SimulatorConfig

BASE = "http://dintero.test"
PARTNER, M1, M2, OWN = "T11200000", "T33333333", "T33333334", "T22222222"
SECRETS = ("partner-secret-xyz", "own-secret-xyz")


def accounts(partner_secret: SecretSource | None = None) -> Accounts:
    partner = Partner(
        PARTNER, "partner", partner_secret or SecretSource("p", value=SecretStr(SECRETS[0]))
    )
    return Accounts(
        {
            M1: Account(M1, partner=partner),
            M2: Account(M2, partner=partner),
            OWN: Account(OWN, "own", SecretSource("o", value=SecretStr(SECRETS[1]))),
        },
        default=OWN,
    )


@pytest.fixture
def sim() -> Simulator:
    return Simulator(
        SimulatorConfig(
            credentials={
                PARTNER: ("partner", SecretStr(SECRETS[0])),
                OWN: ("own", SecretStr(SECRETS[1])),
            },
            partner_links={PARTNER: {M1, M2}},
        )
    )


@pytest.fixture
async def clients(sim: Simulator) -> AsyncIterator[AccountClients]:
    made = AccountClients(accounts(), base_url=BASE, transport=httpx.ASGITransport(app=sim))
    yield made
    await made.aclose()


def token_calls(sim: Simulator) -> list[tuple[str, Any]]:
    return [(r["path"], r["body"]) for r in sim.requests if "/auth/" in r["path"]]


async def test_each_account_reached_its_own_way(sim: Simulator, clients: AccountClients) -> None:
    calls = [clients.client(aid).list_drafts() for aid in (M1, M2, OWN, None) for _ in range(10)]
    await asyncio.gather(*calls)
    audience = f"{BASE}/v1/accounts/"
    assert sorted(token_calls(sim), key=str) == sorted(
        [
            (f"/v1/accounts/{PARTNER}/auth/token",
             {"grant_type": "client_credentials", "audience": audience + PARTNER}),
            (f"/v1/accounts/{PARTNER}/auth/exchange_token", {"account_id": M1}),
            (f"/v1/accounts/{PARTNER}/auth/exchange_token", {"account_id": M2}),
            (f"/v1/accounts/{M1}/auth/token",
             {"grant_type": "client_credentials", "audience": audience + PARTNER}),
            (f"/v1/accounts/{M2}/auth/token",
             {"grant_type": "client_credentials", "audience": audience + PARTNER}),
            (f"/v1/accounts/{OWN}/auth/token",
             {"grant_type": "client_credentials", "audience": audience + OWN}),
        ],
        key=str,
    )  # fmt: skip
    api = [r for r in sim.requests if "/shopping/" in r["path"]]
    assert len(api) == 40
    for request in api:  # every call on its own account's path, with its own account's token
        assert request["status"] == 200
        assert request["path"].startswith(f"/v1/accounts/{request['account']}/")
    assert clients.client(None) is clients.client(OWN)


async def test_expired_tokens_are_fetched_again(sim: Simulator, clients: AccountClients) -> None:
    await clients.client(M1).list_drafts()
    before = len(token_calls(sim))
    sim.expire_tokens()  # the merchant's, the exchange's and the partner's
    await clients.client(M1).list_drafts()
    again = [path for path, _ in token_calls(sim)[before:]]
    # The merchant's token is refused (401); the exchange with the stale partner token too; the
    # partner's token, the exchange and the merchant's token are fetched once more.
    assert again == [
        f"/v1/accounts/{PARTNER}/auth/exchange_token",
        f"/v1/accounts/{PARTNER}/auth/token",
        f"/v1/accounts/{PARTNER}/auth/exchange_token",
        f"/v1/accounts/{M1}/auth/token",
    ]
    statuses = [r["status"] for r in sim.requests if "/shopping/" in r["path"]]
    assert statuses == [200, 401, 200]


async def test_a_merchant_the_partner_may_not_act_for_is_refused(sim: Simulator) -> None:
    sim.tokens.partner_links = {PARTNER: {M2}}
    made = AccountClients(accounts(), base_url=BASE, transport=httpx.ASGITransport(app=sim))
    try:
        with pytest.raises(
            DinteroAuthError, match=f"partner {PARTNER}'s exchange for account {M1}"
        ):
            await made.client(M1).list_drafts()
        await made.client(M2).list_drafts()
    finally:
        await made.aclose()


async def test_unreachable_accounts_are_refused_before_any_request(sim: Simulator) -> None:
    missing = SecretSource("partners.T11200000.client_secret_env", env="NO_SUCH_VARIABLE_XYZ")
    made = AccountClients(accounts(missing), base_url=BASE, transport=httpx.ASGITransport(app=sim))
    with pytest.raises(AmendmentRejected) as refused:
        made.client(M1)
    assert refused.value.field == "account_id"
    assert refused.value.reason == (
        f"account {M1} has no usable credentials: partners.T11200000.client_secret_env: the "
        "environment variable NO_SUCH_VARIABLE_XYZ is not set"
    )
    with pytest.raises(AmendmentRejected, match="T99999999 is not an account this deployment"):
        made.client("T99999999")
    assert sim.requests == []
    made.client(OWN)  # the others are not held up
    for secret in SECRETS:
        assert secret not in repr(made.client(OWN)) + repr(made.client(OWN).http.auth)
    await made.aclose()
