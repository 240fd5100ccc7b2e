"""The simulator's token endpoints and the check of every other request's bearer token, as
Dintero's client-credentials flow and its partner API work (A11, A17 in `app.py`).

- `POST /v1/accounts/{aid}/auth/token` with HTTP Basic client credentials, `grant_type:
  client_credentials` and an audience ending in `/v1/accounts/{aid}` answers an opaque access
  token valid `ttl` seconds for that one account.
- A partner (an account id ending in five zeros) takes its own token so, then
  `POST /v1/accounts/{partner}/auth/exchange_token` with it and `{"account_id": merchant}`
  answers an exchange token for that merchant; `POST /v1/accounts/{merchant}/auth/token` with
  the exchange token as its bearer, `grant_type: client_credentials` and an audience ending in
  the partner's or the merchant's `/v1/accounts/{id}` (Dintero's pages show both) answers the
  merchant's access token.

By default any client id and secret are accepted for any account, and any partner may act for
any merchant (a local run needs no configuration); fixed credentials can be required, for every
account (`client_id`, `client_secret`) or per account (`credentials`), and a partner's merchants
can be listed (`partner_links`). Only access tokens open the API's other paths, each for its own
account's paths only (A17: an exchange token opens nothing but its merchant's token endpoint).
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr
from starlette.requests import Request

from amendments.domain.ids import ACCOUNT_ID
from amendments.simulator.base import SimError

PARTNER_ID = re.compile(r"^[PT]\d{3}00000$")
UNAUTHORIZED = "Access forbidden, invalid JWT token was used"


@dataclass
class Token:
    account_id: str
    expires_at: float
    kind: Literal["access", "exchange"] = "access"
    partner: str | None = None  # the partner that acts for the account (via an exchange)


def _audience_ok(audience: Any, *accounts: str) -> bool:
    return isinstance(audience, str) and any(
        audience.rstrip("/").endswith(f"/v1/accounts/{aid}") for aid in accounts
    )


def _grant(body: Any) -> None:
    if not isinstance(body, dict) or body.get("grant_type") != "client_credentials":
        raise SimError(
            400,
            "BAD_REQUEST",
            "grant_type must be client_credentials",
            [{"field": "grant_type", "message": "must be client_credentials"}],
        )


class Tokens:
    """Tokens issued and checked; `client_id` and `client_secret` (both or neither) are the
    only credentials accepted when given, `credentials` an account's own."""

    def __init__(
        self, ttl: float, client_id: str | None = None, client_secret: SecretStr | None = None
    ) -> None:
        self.ttl = ttl
        self.client_id = client_id
        self.client_secret = client_secret
        self.credentials: dict[str, tuple[str, SecretStr]] = {}
        # partner -> the merchants it may act for; None: any partner for any merchant
        self.partner_links: dict[str, set[str]] | None = None
        self.issued: dict[str, Token] = {}

    def clear(self) -> None:
        self.issued.clear()

    def expire(self) -> None:
        for token in self.issued.values():
            token.expires_at = 0.0

    def _new(self, token: Token) -> dict[str, Any]:
        value = "sim." + secrets.token_urlsafe(24)
        self.issued[value] = token
        return {"access_token": value, "token_type": "Bearer", "expires_in": int(self.ttl)}

    def _bearer(self, request: Request) -> Token | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = self.issued.get(value) if scheme.lower() == "bearer" else None
        if token is None or token.expires_at <= time.monotonic():
            return None
        return token

    def _client(self, aid: str, client_id: str, secret: str) -> bool:
        fixed = self.credentials.get(aid)
        if fixed is None and self.client_id is not None and self.client_secret is not None:
            fixed = (self.client_id, self.client_secret)
        if fixed is None:
            return True
        return secrets.compare_digest(client_id, fixed[0]) and secrets.compare_digest(
            secret, fixed[1].get_secret_value()
        )

    def issue(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        """`POST /v1/accounts/{aid}/auth/token`: client credentials, or a partner's exchange
        token for this merchant."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return self._exchanged(aid, request, body)
        try:
            client_id, sep, secret = (
                base64.b64decode(encoded, validate=True).decode().partition(":")
            )
        except (ValueError, UnicodeDecodeError):
            client_id, sep, secret = "", "", ""
        if scheme.lower() != "basic" or not sep or not client_id or not secret:
            raise SimError(401, "UNAUTHORIZED", "HTTP Basic client credentials are required")
        if not self._client(aid, client_id, secret):
            raise SimError(401, "UNAUTHORIZED", "invalid client credentials")
        _grant(body)
        if not _audience_ok(body.get("audience"), aid):
            raise SimError(
                400,
                "BAD_REQUEST",
                f"audience must be the account's API URL ending in /v1/accounts/{aid}",
                [{"field": "audience", "message": "wrong account"}],
            )
        return self._new(Token(aid, time.monotonic() + self.ttl))

    def _exchanged(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        token = self._bearer(request)
        if token is None or token.kind != "exchange" or token.account_id != aid:
            raise SimError(401, "UNAUTHORIZED", UNAUTHORIZED)
        _grant(body)
        assert token.partner is not None
        if not _audience_ok(body.get("audience"), token.partner, aid):
            raise SimError(
                400,
                "BAD_REQUEST",
                f"audience must end in /v1/accounts/{token.partner} or /v1/accounts/{aid}",
                [{"field": "audience", "message": "wrong account"}],
            )
        return self._new(Token(aid, time.monotonic() + self.ttl, partner=token.partner))

    def exchange(self, pid: str, request: Request, body: Any) -> dict[str, Any]:
        """`POST /v1/accounts/{partner_id}/auth/exchange_token` `{"account_id": merchant}`:
        the partner's access token for an exchange token of the merchant."""
        if not PARTNER_ID.fullmatch(pid):
            raise SimError(
                400,
                "BAD_REQUEST",
                f"partner_id {pid} is not a partner account (^[PT]\\d{{3}}00000$)",
                [{"field": "partner_id", "message": "not a partner account"}],
            )
        token = self._bearer(request)
        if token is None or token.kind != "access" or token.account_id != pid:
            raise SimError(401, "UNAUTHORIZED", UNAUTHORIZED)
        merchant = body.get("account_id") if isinstance(body, dict) else None
        if not isinstance(merchant, str) or not ACCOUNT_ID.fullmatch(merchant):
            raise SimError(
                400,
                "BAD_REQUEST",
                "account_id must be an account id (^[PT]\\d{8}$)",
                [{"field": "account_id", "message": "required"}],
            )
        links = self.partner_links
        if links is not None and merchant not in links.get(pid, set()):
            raise SimError(403, "FORBIDDEN", f"partner {pid} does not act for {merchant}")
        return self._new(Token(merchant, time.monotonic() + self.ttl, kind="exchange", partner=pid))

    def authenticate(self, request: Request, aid: str | None) -> str:
        """The account the bearer access token is for (it must be the path's account, when the
        path names one: Checkout's paths do not)."""
        token = self._bearer(request)
        if token is None or token.kind != "access" or (aid is not None and token.account_id != aid):
            raise SimError(401, "UNAUTHORIZED", UNAUTHORIZED)
        return token.account_id
