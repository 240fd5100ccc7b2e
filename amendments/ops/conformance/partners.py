"""The partner flow's probes (`needs="partner"`: they run when the probed account is reached
through a partner, `DINTERO_ACCOUNTS_FILE` `accounts.<id>.partner`): the exchange (P1), the
audience the product sends for the merchant's token (P2) and the other one Dintero's pages show
(P3), and what an exchange token opens by itself (A17, the simulator's assumption). Each makes
its own token calls with the partner's credentials; none writes anything."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from amendments.dintero.accounts import Partner
from amendments.ops.conformance.harness import (
    Finding,
    ProbeError,
    Run,
    Verdict,
    probe,
    status_of,
)


def _partner(run: Run) -> Partner:
    assert run.partner is not None  # the harness runs these only with a partner
    return run.partner


async def _partner_token(http: httpx.AsyncClient, run: Run) -> str:
    """The partner's own token (its API client's credentials, its own audience)."""
    partner = _partner(run)
    pair = f"{partner.client_id}:{partner.secret.read().get_secret_value()}".encode()
    answer = await http.post(
        f"/v1/accounts/{partner.account_id}/auth/token",
        json={
            "grant_type": "client_credentials",
            "audience": f"{run.base_url}/v1/accounts/{partner.account_id}",
        },
        headers={"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")},
    )
    if answer.status_code != 200:
        raise ProbeError(f"the partner's token was refused: {status_of(answer)}")
    return str(answer.json()["access_token"])


async def _exchange(http: httpx.AsyncClient, run: Run) -> httpx.Response:
    token = await _partner_token(http, run)
    return await http.post(
        f"/v1/accounts/{_partner(run).account_id}/auth/exchange_token",
        json={"account_id": run.account_id},
        headers={"Authorization": f"Bearer {token}"},
    )


async def _exchange_token(http: httpx.AsyncClient, run: Run) -> str:
    answer = await _exchange(http, run)
    if answer.status_code != 200:
        raise ProbeError(f"the exchange was refused: {status_of(answer)}")
    return str(answer.json()["access_token"])


async def _merchant_token(http: httpx.AsyncClient, run: Run, audience_of: str) -> httpx.Response:
    exchange = await _exchange_token(http, run)
    return await http.post(
        f"/v1/accounts/{run.account_id}/auth/token",
        json={
            "grant_type": "client_credentials",
            "audience": f"{run.base_url}/v1/accounts/{audience_of}",
        },
        headers={"Authorization": f"Bearer {exchange}"},
    )


def _client(run: Run) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=run.base_url, timeout=httpx.Timeout(10.0, connect=5.0))


def _lifetime(body: Any) -> str:
    return f"expires_in {body.get('expires_in')!r}" if isinstance(body, dict) else "no body"


@probe(
    "P1",
    "a partner's token is exchanged for one of its merchant's (exchange_token, "
    '{"account_id": merchant}), its lifetime in expires_in',
    calls="POST partner auth/token; POST partner auth/exchange_token",
    if_it_differs="the merchants reached through this partner cannot be amended: their "
    "amendments fail as DinteroAuthError naming the refused exchange",
    needs="partner",
)
async def _p1(run: Run) -> Finding:
    async with _client(run) as http:
        answer = await _exchange(http, run)
    body = answer.json() if answer.status_code == 200 else None
    ok = isinstance(body, dict) and isinstance(body.get("access_token"), str)
    ok = ok and isinstance(body.get("expires_in"), int)  # type: ignore[union-attr]
    received = f"{status_of(answer)}, {_lifetime(body)}"
    return Finding("holds" if ok else "differs", f"exchange for {run.account_id}", received)


async def _merchant_token_opens_orders(run: Run, audience_of: str) -> Finding:
    async with _client(run) as http:
        answer = await _merchant_token(http, run, audience_of)
        sent = f"the exchange token, audience /v1/accounts/{audience_of}"
        if answer.status_code != 200:
            return Finding("differs", sent, status_of(answer))
        token = answer.json()["access_token"]
        opened = await http.get(
            f"/v1/accounts/{run.account_id}/shopping/draft_orders",
            headers={"Authorization": f"Bearer {token}"},
        )
    verdict: Verdict = "holds" if opened.status_code == 200 else "differs"
    received = f"{_lifetime(answer.json())}; GET draft_orders with it: {status_of(opened)}"
    return Finding(verdict, sent, received)


@probe(
    "P2",
    "the merchant's token endpoint takes the exchange token as its bearer with the partner's "
    "account URL as audience (what the product sends), and the token opens the Orders API",
    calls="POST partner auth/token; POST exchange_token; POST merchant auth/token; "
    "GET draft_orders",
    if_it_differs="the product's tokens for this partner's merchants are refused (their "
    "amendments fail as DinteroAuthError): send the merchant's audience instead "
    "(PartnerTokenAuth.merchant_token_request; probe P3 says whether Dintero takes it)",
    needs="partner",
)
async def _p2(run: Run) -> Finding:
    return await _merchant_token_opens_orders(run, _partner(run).account_id)


@probe(
    "P3",
    "the merchant's token endpoint also takes the merchant's own account URL as audience (the "
    "other example Dintero's pages show)",
    calls="POST partner auth/token; POST exchange_token; POST merchant auth/token; "
    "GET draft_orders",
    if_it_differs="nothing: the product sends the partner's audience (P2)",
    needs="partner",
)
async def _p3(run: Run) -> Finding:
    return await _merchant_token_opens_orders(run, run.account_id)


@probe(
    "A17",
    "an exchange token opens no merchant path by itself: the merchant's token is needed",
    calls="POST partner auth/token; POST exchange_token; GET draft_orders with it",
    if_it_differs="nothing: the product always takes the merchant's token (one call more per "
    "token than it would need)",
    needs="partner",
)
async def _a17(run: Run) -> Finding:
    async with _client(run) as http:
        exchange = await _exchange_token(http, run)
        answer = await http.get(
            f"/v1/accounts/{run.account_id}/shopping/draft_orders",
            headers={"Authorization": f"Bearer {exchange}"},
        )
    verdict: Verdict = "holds" if answer.status_code in (401, 403) else "differs"
    return Finding(verdict, "GET draft_orders with the exchange token", status_of(answer))
