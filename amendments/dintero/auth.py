"""Client-credentials token auth for the Dintero API as an `httpx.Auth`.

It fetches `POST /v1/accounts/{aid}/auth/token` with HTTP Basic client_id:client_secret, caches
the token until `refresh_margin` seconds before `expires_in`, lets concurrent requests share one
fetch (a lock held only while a token is fetched), and refreshes once when the API answers 401
with the token it sent. It must not log, repr or put into an error the secret or a token.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass

import httpx
from pydantic import SecretStr, ValidationError

from amendments.dintero.errors import DinteroAuthError, DinteroInvalidResponse, error_from_response
from amendments.dintero.models import AccessToken
from amendments.temporal import metrics

ACCOUNT_ID = re.compile(r"^[PT]\d{8}$")


def validate_account_id(account_id: str) -> str:
    if not ACCOUNT_ID.fullmatch(account_id):
        raise ValueError(
            f"account_id {account_id!r} is not a Dintero account id: "
            "expected T (test) or P (production) followed by 8 digits, e.g. T12345678"
        )
    return account_id


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: float


class DinteroTokenAuth(httpx.Auth):
    """Bearer token auth with caching, one shared refresh and a retry on 401."""

    def __init__(
        self,
        *,
        account_id: str,
        client_id: str,
        client_secret: SecretStr,
        audience: str,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        token_url: str | None = None,
    ) -> None:
        self.account_id = validate_account_id(account_id)
        # One token serves the Orders API and Checkout: with `token_url`, it is always asked for
        # there (the Orders host), whichever API's request needs it.
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._audience = audience
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return f"DinteroTokenAuth(account_id={self.account_id!r}, client_id={self._client_id!r})"

    def _fresh(self) -> str | None:
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        return None

    def _basic(self) -> str:
        pair = f"{self._client_id}:{self._client_secret.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def _store(self, response: httpx.Response) -> str:
        if response.status_code in (400, 401, 403):
            error = error_from_response(response)
            raise DinteroAuthError(
                f"Dintero refused the client credentials for account {self.account_id}: "
                f"{error.message}",
                status=response.status_code,
                code=error.code,
            )
        if response.is_error:
            raise error_from_response(response)
        try:
            token = AccessToken.model_validate_json(response.content)
        except ValidationError as exc:
            raise DinteroInvalidResponse(
                f"the token endpoint answered with an unexpected body ({exc.error_count()} errors)"
            ) from None
        lifetime = max(0.0, token.expires_in - self._refresh_margin)
        self._token = _Token(token.access_token, self._clock() + lifetime)
        self.tokens_fetched += 1
        return token.access_token

    def _token_request_for(self, request: httpx.Request) -> httpx.Request:
        """The token request, on the same host and path prefix as the API request it serves."""
        path = request.url.path
        prefix = path[: path.find("/v1/accounts/")] if "/v1/accounts/" in path else ""
        url = (
            httpx.URL(self._token_url)
            if self._token_url is not None
            else request.url.copy_with(
                path=f"{prefix}/v1/accounts/{self.account_id}/auth/token", query=None
            )
        )
        headers = {"Authorization": self._basic()}
        if "user-agent" in request.headers:
            headers["User-Agent"] = request.headers["user-agent"]
        return httpx.Request(
            "POST",
            url,
            json={"grant_type": "client_credentials", "audience": self._audience},
            headers=headers,
        )

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = self._fresh()
        if token is None:
            async with self._lock:
                token = self._fresh()
                if token is None:
                    started = time.perf_counter()
                    response = yield self._token_request_for(request)
                    await response.aread()
                    _counted(response, started)
                    token = self._store(response)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        async with self._lock:
            current = self._fresh()
            if current is None or current == token:
                self._token = None
                started = time.perf_counter()
                refreshed = yield self._token_request_for(request)
                await refreshed.aread()
                _counted(refreshed, started)
                current = self._store(refreshed)
        request.headers["Authorization"] = f"Bearer {current}"
        yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("DinteroTokenAuth is for httpx.AsyncClient only")


def _counted(response: httpx.Response, started: float) -> None:
    metrics.dintero_request("token", str(response.status_code), time.perf_counter() - started)
