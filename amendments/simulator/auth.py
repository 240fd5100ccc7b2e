"""The simulator's token endpoint and the check of every other request's bearer token, as
Dintero's client-credentials flow works (A11 in `app.py`): `POST /v1/accounts/{aid}/auth/token`
with HTTP Basic client credentials, `grant_type: client_credentials` and an audience ending in
`/v1/accounts/{aid}`, answers an opaque token valid `token_ttl` seconds for that one account.

By default any client id and secret are accepted for any account (a local run needs no
configuration); a fixed pair can be required.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from starlette.requests import Request

from amendments.simulator.base import SimError


@dataclass
class Token:
    account_id: str
    expires_at: float


class Tokens:
    """Tokens issued and checked; `client_id` and `client_secret` (both or neither) are the
    only credentials accepted when given."""

    def __init__(
        self, ttl: float, client_id: str | None = None, client_secret: SecretStr | None = None
    ) -> None:
        self.ttl = ttl
        self.client_id = client_id
        self.client_secret = client_secret
        self.issued: dict[str, Token] = {}

    def clear(self) -> None:
        self.issued.clear()

    def expire(self) -> None:
        for token in self.issued.values():
            token.expires_at = 0.0

    def issue(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        """`POST /v1/accounts/{aid}/auth/token`."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            client_id, sep, secret = (
                base64.b64decode(encoded, validate=True).decode().partition(":")
            )
        except (ValueError, UnicodeDecodeError):
            client_id, sep, secret = "", "", ""
        if scheme.lower() != "basic" or not sep or not client_id or not secret:
            raise SimError(401, "UNAUTHORIZED", "HTTP Basic client credentials are required")
        fixed_id, fixed_secret = self.client_id, self.client_secret
        if (
            fixed_id is not None
            and fixed_secret is not None
            and (
                not secrets.compare_digest(client_id, fixed_id)
                or not secrets.compare_digest(secret, fixed_secret.get_secret_value())
            )
        ):
            raise SimError(401, "UNAUTHORIZED", "invalid client credentials")
        if not isinstance(body, dict) or body.get("grant_type") != "client_credentials":
            raise SimError(
                400,
                "BAD_REQUEST",
                "grant_type must be client_credentials",
                [{"field": "grant_type", "message": "must be client_credentials"}],
            )
        audience = body.get("audience")
        if not isinstance(audience, str) or not audience.rstrip("/").endswith(
            f"/v1/accounts/{aid}"
        ):
            raise SimError(
                400,
                "BAD_REQUEST",
                f"audience must be the account's API URL ending in /v1/accounts/{aid}",
                [{"field": "audience", "message": "wrong account"}],
            )
        token = "sim." + secrets.token_urlsafe(24)
        self.issued[token] = Token(aid, time.monotonic() + self.ttl)
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(self.ttl)}

    def authenticate(self, request: Request, aid: str | None) -> str:
        """The account the bearer token is for (it must be the path's account, when the path
        names one: Checkout's paths do not)."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = self.issued.get(value) if scheme.lower() == "bearer" else None
        if (
            token is None
            or (aid is not None and token.account_id != aid)
            or token.expires_at <= time.monotonic()
        ):
            raise SimError(401, "UNAUTHORIZED", "Access forbidden, invalid JWT token was used")
        return token.account_id
