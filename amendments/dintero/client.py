"""The asynchronous Dintero Orders API client: one method per endpoint, typed in and out.

It owns no retry loop (Temporal retries) and no idempotency (activities reconcile); it sends one
request per call, turns every failure into the `errors` hierarchy, and validates every success
into a wire model. One `httpx.AsyncClient` is shared per process; build it with `build_http`
and inject it, so that tests can point it at the simulator with `httpx.ASGITransport`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, TypeVar

import httpx
from opentelemetry import trace
from pydantic import BaseModel, SecretStr, ValidationError

from amendments import __version__
from amendments.dintero.auth import DinteroTokenAuth, validate_account_id
from amendments.dintero.convert import to_snapshot
from amendments.dintero.errors import (
    DinteroInvalidResponse,
    NotFound,
    error_from_response,
    error_from_transport,
)
from amendments.dintero.models import (
    AuthorizationList,
    CaptureList,
    CompletedDraft,
    DraftOrder,
    DraftOrderCreate,
    DraftOrderList,
    Order,
    PaymentOperation,
    PaymentOperationCreate,
    RefundList,
)
from amendments.domain.errors import AmendmentRejected
from amendments.domain.order import OrderSnapshot, RecordKind
from amendments.temporal import metrics

DEFAULT_BASE_URL = "https://api.dintero.com"
USER_AGENT = f"order-amendments/{__version__} (+httpx)"
# Shorter than every activity's start-to-close timeout, so the activity sees a typed timeout.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

M = TypeVar("M", bound=BaseModel)
# A span per request: the route name, the method and the status; never a body, header or token.
_TRACER = trace.get_tracer("amendments.dintero")


def build_http(
    *,
    base_url: str = DEFAULT_BASE_URL,
    account_id: str,
    client_id: str | None = None,
    client_secret: SecretStr | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
    max_connections: int = 50,
    auth: httpx.Auth | None = None,
) -> httpx.AsyncClient:
    """The process's `httpx.AsyncClient` for one Dintero account: token auth, timeouts,
    User-Agent. `auth` is the account's token auth when it is made elsewhere (Checkout's client
    shares the Orders client's; a partner's merchant has a `PartnerTokenAuth`); else the
    account's own client credentials make one."""
    validate_account_id(account_id)
    if auth is None:
        if client_id is None or client_secret is None:
            raise ValueError("build_http needs client_id and client_secret, or auth")
        auth = own_client_auth(base_url, account_id, client_id, client_secret)
    return httpx.AsyncClient(
        base_url=base_url,
        auth=auth,
        timeout=timeout,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        transport=transport,
        # One connection per activity in flight (the worker runs 50); idle connections are
        # dropped after 4 s, before a server's usual 5 s keep-alive, so a request never races
        # the server closing its connection.
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=4.0,
        ),
    )


def own_client_auth(
    base_url: str, account_id: str, client_id: str, client_secret: SecretStr
) -> DinteroTokenAuth:
    """An account's own API client's token auth, its tokens asked for on the Orders host."""
    base = base_url.rstrip("/")
    return DinteroTokenAuth(
        account_id=account_id,
        client_id=client_id,
        client_secret=client_secret,
        audience=f"{base}/v1/accounts/{account_id}",
        token_url=f"{base}/v1/accounts/{account_id}/auth/token",
    )


class DinteroClient:
    """Typed calls to `/v1/accounts/{aid}/shopping/...` over an injected `httpx.AsyncClient`."""

    def __init__(self, http: httpx.AsyncClient, account_id: str) -> None:
        self.http = http
        self.account_id = validate_account_id(account_id)
        self._prefix = f"/v1/accounts/{account_id}/shopping"

    def __repr__(self) -> str:
        return (
            f"DinteroClient(base_url={str(self.http.base_url)!r}, account_id={self.account_id!r})"
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        operation: str,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> M:
        return await request_json(
            self.http,
            method,
            f"{self._prefix}{path}",
            model,
            operation=operation,
            json=json,
            params=params,
        )

    # --- drafts ----------------------------------------------------------------------------

    async def create_draft(self, body: DraftOrderCreate) -> DraftOrder:
        return await self._call(
            "POST", "/draft_orders", DraftOrder, json=body.wire(), operation="create_draft"
        )

    async def get_draft(self, draft_id: str) -> DraftOrder:
        return await self._call(
            "GET", f"/draft_orders/{draft_id}", DraftOrder, operation="get_draft"
        )

    async def list_drafts(self, *, status: str | None = None) -> list[DraftOrder]:
        params = {"status": status} if status else None
        page = await self._call(
            "GET", "/draft_orders", DraftOrderList, params=params, operation="list_drafts"
        )
        return page.draft_orders

    async def complete_draft(self, draft_id: str) -> list[Order]:
        completed = await self._call(
            "PUT",
            f"/draft_orders/{draft_id}/complete",
            CompletedDraft,
            json={},
            operation="complete_draft",
        )
        return completed.orders

    # --- orders and payment records --------------------------------------------------------

    async def get_order(self, order_id: str) -> Order:
        return await self._call("GET", f"/orders/{order_id}", Order, operation="read_order")

    async def list_authorizations(self, order_id: str) -> list[PaymentOperation]:
        page = await self._call(
            "GET",
            f"/orders/{order_id}/authorizations",
            AuthorizationList,
            operation="list_authorizations",
        )
        return page.authorizations

    async def list_captures(self, order_id: str) -> list[PaymentOperation]:
        page = await self._call(
            "GET", f"/orders/{order_id}/captures", CaptureList, operation="list_captures"
        )
        return page.captures

    async def list_refunds(self, order_id: str) -> list[PaymentOperation]:
        page = await self._call(
            "GET", f"/orders/{order_id}/refunds", RefundList, operation="list_refunds"
        )
        return page.refunds

    async def record_authorization(
        self, order_id: str, body: PaymentOperationCreate
    ) -> PaymentOperation:
        return await self._call(
            "POST",
            f"/orders/{order_id}/authorizations",
            PaymentOperation,
            json=body.wire(),
            operation="record_authorization",
        )

    async def record_capture(self, order_id: str, body: PaymentOperationCreate) -> PaymentOperation:
        return await self._call(
            "POST",
            f"/orders/{order_id}/captures",
            PaymentOperation,
            json=body.wire(),
            operation="record_capture",
        )

    async def record_refund(self, order_id: str, body: PaymentOperationCreate) -> PaymentOperation:
        return await self._call(
            "POST",
            f"/orders/{order_id}/refunds",
            PaymentOperation,
            json=body.wire(),
            operation="record_refund",
        )

    async def record_cancellation(
        self, order_id: str, body: PaymentOperationCreate
    ) -> PaymentOperation:
        """A payment cancellation (a void of authorized money) on lines of the order."""
        return await self._call(
            "POST",
            f"/orders/{order_id}/cancellations",
            PaymentOperation,
            json=body.wire(),
            operation="record_cancellation",
        )

    async def list_cancellations(self, order_id: str) -> list[PaymentOperation]:
        """An order's cancellations: Dintero documents no list endpoint for them, but includes
        them in the order's details, as it does authorizations."""
        return (await self.get_order(order_id)).cancellations

    async def list_records(self, kind: RecordKind, order_id: str) -> list[PaymentOperation]:
        """Authorizations, captures, refunds or cancellations of an order, by record kind."""
        lister = {
            "authorization": self.list_authorizations,
            "capture": self.list_captures,
            "refund": self.list_refunds,
            "cancellation": self.list_cancellations,
        }[kind]
        return await lister(order_id)

    async def record(
        self, kind: RecordKind, order_id: str, body: PaymentOperationCreate
    ) -> PaymentOperation:
        """Record an authorization, capture, refund or cancellation, by the domain's record kind."""
        recorder = {
            "authorization": self.record_authorization,
            "capture": self.record_capture,
            "refund": self.record_refund,
            "cancellation": self.record_cancellation,
        }[kind]
        return await recorder(order_id, body)

    async def read_order(self, order_id: str) -> OrderSnapshot:
        """The order with all its payment records: GET order (with its authorizations and
        cancellations), captures and refunds at once."""
        order, captures, refunds = await asyncio.gather(
            self.get_order(order_id), self.list_captures(order_id), self.list_refunds(order_id)
        )
        return to_snapshot(order, captures, refunds)

    async def order_to_plan(self, order_id: str) -> OrderSnapshot:
        """The order an amendment is planned against; an unknown order is a refusal naming
        `order_id` (the amendment cannot be applied), not a failed call."""
        try:
            return await self.read_order(order_id)
        except NotFound as exc:
            raise AmendmentRejected(
                "order_id", f"order {order_id} was not found on Dintero account {self.account_id}"
            ) from exc


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 - httpx raises RuntimeError when the request is unset
    except RuntimeError:
        return False
    return True


async def request_json(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    model: type[M],
    *,
    operation: str,
    json: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> M:
    """One request to a Dintero API, counted and traced under `operation`: the validated body,
    or an `errors` exception (a retry is Temporal's)."""
    response = await send(http, method, url, operation=operation, json=json, params=params)
    return parse_body(response, model, f"{method} {url}")


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    operation: str,
    json: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """One request, counted and traced under `operation`: the response when it succeeded (any
    2xx), or an `errors` exception."""
    with _TRACER.start_as_current_span(
        f"dintero {operation}",
        kind=trace.SpanKind.CLIENT,
        attributes={"dintero.operation": operation, "http.request.method": method},
    ) as span:
        started = time.perf_counter()
        try:
            response = await http.request(method, url, json=json, params=params)
        except httpx.TransportError as exc:
            answer = "timeout" if isinstance(exc, httpx.TimeoutException) else "transport"
            metrics.dintero_request(operation, answer, time.perf_counter() - started)
            span.set_status(trace.StatusCode.ERROR, answer)
            raise error_from_transport(exc, exc.request if _has_request(exc) else None) from exc
        metrics.dintero_request(operation, str(response.status_code), time.perf_counter() - started)
        span.set_attribute("http.response.status_code", response.status_code)
        if response.is_error:
            span.set_status(trace.StatusCode.ERROR, f"HTTP {response.status_code}")
            raise error_from_response(response)
    return response


def parse_body(response: httpx.Response, model: type[M], what: str) -> M:
    """A 2xx body as `model`, or `DinteroInvalidResponse` (never carrying the body)."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise DinteroInvalidResponse(
            f"Dintero answered {what} with a body that does not match "
            f"{model.__name__}: {exc.errors(include_url=False, include_input=False)}",
            status=response.status_code,
        ) from None  # the cause would carry the body, which may hold a token
