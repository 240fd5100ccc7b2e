"""A Dintero Orders API simulator: an ASGI app that behaves like the endpoints this product uses.

It serves Dintero's paths under `/v1/accounts/{aid}/...`, issues client-credentials tokens and
checks them, keeps per-account state in memory (`state.Store`), answers errors in Dintero's
envelope `{"error": {"code", "message", "errors"}}`, and injects faults on request. It runs
in-process for tests (`httpx.ASGITransport(app=Simulator().app)`) and as a server
(`amend simulator`). It is not a mock of our client: it enforces the API's rules on its side.

It also serves Dintero Checkout's paths on the same host (`POST /v1/sessions-profile`,
`GET /v1/sessions/{id}`, `GET /v1/transactions/{id}`, `POST /v1/transactions/{id}/capture|
refund|void`) as Dintero's published Checkout spec describes them, with the same tokens,
envelope and faults; what the spec says and the assumptions beyond it (C1-C10) are in
`checkout.py`.

The app routes and serves (this module); the rest is by concern: token auth (`auth.py`), the
rules and state (`state.py`, `orders.py`, `checkout.py`), faults (`faults.py`), the paying
customer and Dintero's callbacks (`customer.py`) and the test controls (`controls.py`).

Test controls live under `/_sim/`, a prefix Dintero does not use:
`GET /_sim/requests` (every API request: method, path, status, body), `GET /_sim/state`,
`POST /_sim/reset`, `GET|POST|DELETE /_sim/faults`, `POST /_sim/checkout/sessions/{id}/pay`
(`{"outcome": "authorized" | "declined" | "abandoned", "amount"?, "duplicates"?, "late_ms"?,
"callback"?}`: the customer pays or gives up, then the session's `callback_url` is called over
HTTP as Dintero calls it), `GET|POST|DELETE /_sim/checkout/accepting` (`{"action": "capture" |
"refund" | "void" | "*", "times"?, "complete_ms"?, "outcome": "success" | "failure" | "never"}`:
such operations answer 202 and complete later, or fail, or never complete) and
`POST /_sim/checkout/signature` (`{"secret": "..." | null, "account_id"?}`: callbacks carry
`Dintero-Signature` from then on, as once a merchant has created a signature secret; with
`account_id`, that account's callbacks only) and
`GET|POST|DELETE /_sim/assumptions` (`{"flip": "A7" | "EVENT_REFERENCE"}`: behave as Dintero
would if that assumption were wrong; for `amend conformance`'s own tests).

Each assumption below (A1-A16, and C1-C10 in `checkout.py`) is checked against a real Dintero
test account by the probe of the same id in
`amendments/ops/conformance/` (`amend conformance`).

Rules enforced (docs/concepts.md and docs/dintero.md). Where Dintero's real
behaviour is unknown the simulator is strict; these are its ASSUMPTIONS, each a choice made
without a Dintero source:
- A1 Unknown fields in request bodies are refused with 400 (Dintero accepts many more fields).
- A2 Line ids are unique per order and a linked draft's lines must be greater than the order's
  highest line id (appended). Violations are 400 `DUPLICATE_LINE_ID` / `BAD_REQUEST`.
- A3 Negative `gross_amount` only on reversal lines (with `related_item`), which must be negative;
  tax amounts carry the line's sign and never exceed the gross amount in magnitude.
- A4 A reversal line keeps the reversed line's product `id`, references a non-reversal line of
  the linked order, and all reversals of a line together never exceed its gross amount,
  quantity or per-rate tax (400 `REVERSAL_EXCEEDS_LINE`).
- A5 Completing a draft that is not open is 400 `DRAFT_NOT_OPEN` (not 409, which is retryable);
  rules are checked again at completion.
- A6 Payment operations: `success` is required; every item names a line of the order; amounts
  are non-zero with the line's sign; successful authorizations of a line never exceed its gross
  amount; captures never exceed successful authorizations and refunds never exceed captures,
  per line, and per (line, authorization_id) on lines of a `multiple_authorizations` draft.
- A7 `options.multiple_authorizations` is per draft: its lines take a second authorization and
  require `authorization_id` on every operation; other lines take one authorization (a declined
  one counts). An authorization_id is used by one authorization record per order.
- A8 Writes on a cancelled or closed order are 400 `ORDER_NOT_OPEN`; only an uncaptured order
  can be cancelled.
- A9 `payment_status`: `refunded`/`partially_refunded` once anything is refunded (by whether
  refunds reach captures), else `pending` without captures, else `paid` when captures reach the
  order's gross amount, else `partially_paid`.
- A10 Creates answer 200; list endpoints return every record (no pagination); `GET /orders/{id}`
  embeds `authorizations` and `cancellations` (documented) but not captures or refunds (not
  documented).
- A12 `generate_order_id: ALPHANUMERIC_9_RESERVE` reserves the order id when the draft is
  created and shows it as the draft's `order_id`; completion creates the order under that id.
- A11 Tokens are opaque strings valid for `token_ttl` seconds for one account; the token request
  must say `grant_type: client_credentials` and an audience ending in `/v1/accounts/{aid}`.
- A17 Partner accounts (`auth.py`): an exchange token (`POST /v1/accounts/{partner}/auth/
  exchange_token`, taken with the partner's own access token) opens only its merchant's token
  endpoint, which takes it as the bearer with an audience ending in the partner's or the
  merchant's `/v1/accounts/{id}` (Dintero's pages show both) and answers the merchant's access
  token, valid `token_ttl` like any other; no other path takes an exchange token, and a
  partner's own token opens only the partner's paths. Any partner acts for any merchant unless
  `partner_links` lists each partner's merchants (403 for another).
- A13 A line need not be authorized or captured in full, and a reversal line may reverse a line
  that was paid only in part, its own records taking back only what was recorded (a reverted
  amendment); with `multiple_authorizations` a reversal line takes one authorization per payment.
  The guide shows only fully paid lines; no Dintero source says either way.
- A14 `POST /orders/{id}/cancellations` (documented: a payment cancellation, a void) takes the
  body of the other payment operations; a successful cancellation never exceeds what is
  authorized minus captured minus cancelled, per line, and per (line, authorization_id) on lines
  of a `multiple_authorizations` draft (400 `AMOUNT_EXCEEDS_AUTHORIZED`): Dintero documents the
  endpoint, not its limits.
- A15 Cancelled money cannot be captured: a capture never exceeds authorized minus captured
  minus cancelled, in the same scopes (400 `AMOUNT_EXCEEDS_AUTHORIZED`).
- A16 Cancellations are read from the order (`GET /orders/{id}` embeds them, as documented) and
  one at a time (`GET /orders/{id}/cancellations/{cancellation_id}`); there is no list endpoint
  (none is documented). A reversal line of a line that was only authorized takes a negative
  authorization and no capture (A13's rule read for reserved money), and a line may be
  authorized and then cancelled in full (a release line): both as the guide's pattern carried
  over to money that was never captured; no Dintero source shows either.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from amendments import failures
from amendments.domain.ids import ACCOUNT_ID
from amendments.simulator import checkout
from amendments.simulator.auth import Tokens
from amendments.simulator.base import SimError
from amendments.simulator.controls import FLIPPABLE, control_routes
from amendments.simulator.customer import Customer
from amendments.simulator.faults import (
    AcceptRule,
    ConnectionDropped,
    FaultRule,
    Faults,
    answer,
    fault_response,
)
from amendments.simulator.state import Store

__all__ = ["FLIPPABLE", "AcceptRule", "FaultRule", "Simulator", "SimulatorConfig"]


@dataclass
class Reply:
    """An answer other than 200 with the body: a status and headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SimulatorConfig:
    token_ttl: float = 3600.0
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # Fixed credentials per account (any other account takes any credentials, or the pair
    # above), and each partner's merchants (None: any partner acts for any merchant).
    credentials: dict[str, tuple[str, SecretStr]] = field(default_factory=dict)
    partner_links: dict[str, set[str]] | None = None
    seed: int | None = None
    # Where drafts, orders and records are kept across restarts (`amend dev`); None: in memory
    # only (tests, the demo). Request log, faults and tokens are never kept.
    state_file: Path | None = None


class SimulatorStateError(RuntimeError):
    """The simulator's state file cannot be read; nothing was loaded from it."""


Handler = Callable[[str, Request, Any], Awaitable[Any] | Any]


@dataclass
class _Route:
    path: str
    method: str
    handler: Handler
    write: bool


@dataclass
class Simulator:
    config: SimulatorConfig = field(default_factory=SimulatorConfig)

    def __post_init__(self) -> None:
        self.store = self._stored() or Store(seed=self.config.seed)
        self.requests: list[dict[str, Any]] = []
        self.faults = Faults(self.config.seed)
        self.tokens = Tokens(
            self.config.token_ttl, self.config.client_id, self.config.client_secret
        )
        self.tokens.credentials = dict(self.config.credentials)
        self.tokens.partner_links = self.config.partner_links
        self.customer = Customer(lambda: self.store, self._keep)
        self.app = self._build()

    # --- what tests and the controls reach ------------------------------------------------

    def reset(self) -> None:
        self.store = Store(seed=self.config.seed)
        self.requests.clear()
        self.faults.reset()
        self.customer.reset()
        self.tokens.clear()
        self.tokens.credentials = dict(self.config.credentials)
        self.tokens.partner_links = self.config.partner_links
        self._keep()

    def add_faults(self, rules: list[FaultRule]) -> None:
        self.faults.add(rules)

    @property
    def accepting(self) -> list[AcceptRule]:
        """Checkout operations to answer 202 (`faults.AcceptRule`)."""
        return self.faults.accepting

    @property
    def callbacks(self) -> list[dict[str, Any]]:
        """Every callback delivery, with its answer."""
        return self.customer.callbacks

    def issued_tokens(self) -> list[str]:
        """Every access token issued since the last reset."""
        return list(self.tokens.issued)

    def expire_tokens(self) -> None:
        self.tokens.expire()

    def reseed(self, seed: int) -> None:
        """Make fault odds reproducible from here on."""
        self.faults.reseed(seed)

    # --- kept across restarts (`amend dev`) -----------------------------------------------

    def _stored(self) -> Store | None:
        path = self.config.state_file
        if path is None or not path.exists():
            return None
        try:
            return Store.load(path.read_bytes(), seed=self.config.seed)
        except (OSError, ValueError) as exc:
            raise SimulatorStateError(
                f"cannot read the simulator's state from {path} ({str(exc).splitlines()[0]}); "
                f"move it away, or {failures.FRESH_START}"
            ) from None

    def _keep(self) -> None:
        """Write the state file whole and then rename it over the old one: a crash leaves the
        previous state or the new one, never half of either."""
        path = self.config.state_file
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(self.store.dump())
        os.replace(partial, path)

    # --- the ASGI app --------------------------------------------------------------------

    def _build(self) -> Starlette:
        prefix = "/v1/accounts/{aid}"
        shop = prefix + "/shopping"

        def store(call: Callable[[Store, str, Request, Any], Any]) -> Handler:
            return lambda aid, request, body: call(self.store, aid, request, body)

        params: Callable[[Request], Any] = lambda request: request.path_params  # noqa: E731
        api = [
            _Route(prefix + "/auth/token", "POST", self.tokens.issue, write=False),
            _Route(prefix + "/auth/exchange_token", "POST", self.tokens.exchange, write=False),
            _Route(shop + "/draft_orders", "POST",
                   store(lambda s, aid, r, body: s.create_draft(aid, body)), write=True),
            _Route(shop + "/draft_orders", "GET",
                   store(lambda s, aid, r, _: s.list_drafts(aid, r.query_params.get("status"))),
                   write=False),
            _Route(shop + "/draft_orders/{draft_id}", "GET",
                   store(lambda s, aid, r, _: s.get_draft(aid, params(r)["draft_id"])), False),
            _Route(shop + "/draft_orders/{draft_id}/complete", "PUT",
                   store(lambda s, aid, r, _: s.complete_draft(aid, params(r)["draft_id"])), True),
            _Route(shop + "/orders/{order_id}", "GET",
                   store(lambda s, aid, r, _: s.get_order(aid, params(r)["order_id"])), False),
            _Route(shop + "/orders/{order_id}/cancel", "POST",
                   store(lambda s, aid, r, _: s.cancel(aid, params(r)["order_id"])), True),
            _Route(shop + "/orders/{order_id}/close", "POST",
                   store(lambda s, aid, r, _: s.close(aid, params(r)["order_id"])), True),
        ]  # fmt: skip
        for kind in ("authorization", "capture", "refund", "cancellation"):
            records = f"{shop}/orders/{{order_id}}/{kind}s"
            if kind != "cancellation":  # A16: no list of cancellations; the order embeds them
                api.append(_Route(records, "GET", self._lister(kind), False))
            api.append(_Route(records, "POST", self._recorder(kind), True))
        api.append(
            _Route(
                shop + "/orders/{order_id}/cancellations/{operation_id}",
                "GET",
                store(lambda s, aid, r, _: s.get_operation(
                    aid, params(r)["order_id"], "cancellation", params(r)["operation_id"]
                )),
                False,
            )
        )  # fmt: skip
        api += [
            _Route("/v1/sessions-profile", "POST", self._create_session, write=True),
            _Route("/v1/transactions/{transaction_id}", "GET", self._get_transaction, False),
            _Route("/v1/sessions/{session_id}", "GET", self._get_session, False),
        ]
        for action in ("capture", "refund", "void"):
            api.append(
                _Route(
                    f"/v1/transactions/{{transaction_id}}/{action}",
                    "POST",
                    self._moving(action),
                    True,
                )
            )
        routes = [Route(r.path, self._endpoint(r), methods=[r.method]) for r in api]
        routes += control_routes(self)
        return Starlette(routes=routes, exception_handlers={HTTPException: self._http_error})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve, turning a `ConnectionDropped` into a connection closed mid-response.

        A server answers 500 when an app fails before starting its response (and Starlette's
        error middleware sends one too), so on a drop the 500 is replaced by the start of a
        response whose promised body never comes; the exception then makes uvicorn close the
        socket, and an in-process `ASGITransport` hands the exception to the client."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dropping = scope.setdefault("state", {})

        async def guarded(message: Message) -> None:
            if not dropping.get("sim_drop"):
                await send(message)
            elif message["type"] == "http.response.start":
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", b"4096"),
                        ],
                    }
                )

        await self.app(scope, receive, guarded)

    @staticmethod
    async def _http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse(
            {
                "error": {
                    "code": "NOT_FOUND" if exc.status_code == 404 else "BAD_REQUEST",
                    "message": f"{request.method} {request.url.path}: {exc.detail}",
                    "errors": [],
                }
            },
            status_code=exc.status_code,
        )

    def _endpoint(self, route: _Route) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await self._serve(request, route)

        return endpoint

    async def _serve(self, request: Request, route: _Route) -> Response:
        raw = await request.body()
        body: Any = None
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "status": None,
            "body": None,
        }
        self.requests.append(entry)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return answer(
                entry,
                SimError(400, "BAD_REQUEST", "request body is not valid JSON").envelope(),
                400,
            )
        entry["body"] = body
        fired = self.faults.fire(request.method, request.url.path)
        if fired is not None and fired.latency:
            entry["fault"] = "latency"
            await asyncio.sleep(fired.latency)
        rule = fired.rule if fired is not None else None
        if rule is not None and rule.status is not None and rule.mode == "respond":
            entry["fault"] = "respond"
            return fault_response(entry, rule)
        aid: str | None = request.path_params.get("aid")  # Checkout's paths name no account
        try:
            if aid is not None and not ACCOUNT_ID.fullmatch(aid):
                raise SimError(404, "NOT_FOUND", f"account {aid!r} does not match ^[PT]\\d{{8}}$")
            if "/auth/" not in route.path:  # the token endpoints check their own credentials
                aid = self.tokens.authenticate(request, aid)
                entry["account"] = aid  # the account of the token that was accepted
            assert aid is not None
            if rule is not None and rule.mode == "drop" and not (rule.apply and route.write):
                entry["fault"] = "drop"
                request.scope["state"]["sim_drop"] = True
                raise ConnectionDropped("connection dropped by the simulator")
            result = route.handler(aid, request, body)
            if asyncio.iscoroutine(result):
                result = await result
            if route.write:
                self._keep()
        except SimError as exc:
            if rule is not None and rule.mode == "ambiguous":
                entry["fault"] = "ambiguous"
                return fault_response(entry, rule)
            return answer(entry, exc.envelope(), exc.status)
        if rule is not None and rule.mode == "drop":
            entry["fault"] = "drop"
            request.scope["state"]["sim_drop"] = True
            raise ConnectionDropped("connection dropped by the simulator after the write landed")
        if rule is not None and rule.mode == "ambiguous":
            entry["fault"] = "ambiguous"
            return fault_response(entry, rule)
        if isinstance(result, Reply):
            return answer(entry, result.body, result.status, result.headers or None)
        return answer(entry, result, 200)

    # --- Checkout handlers ---------------------------------------------------------------

    def _create_session(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        base_url = str(request.base_url).rstrip("/")
        toggles = request.headers.get("dintero-feature-toggles", "")
        account = self.store.accounts[aid].checkout
        return checkout.create_session(account, aid, body, base_url, toggles)

    def _get_session(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        found = checkout.session_of(
            self.store.accounts[aid].checkout, request.path_params["session_id"]
        )
        return found.view(str(request.base_url).rstrip("/"))

    def _get_transaction(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        found = self.store.accounts[aid].checkout
        view = checkout.transaction_of(found, request.path_params["transaction_id"]).view()
        return self._as_flipped(view)

    def _as_flipped(self, view: dict[str, Any]) -> dict[str, Any]:
        """A transaction as Dintero would answer if its events carried no `event_reference`
        (the flip `EVENT_REFERENCE`)."""
        if "EVENT_REFERENCE" in self.store.flipped:
            for event in view.get("events", []):
                event.pop("event_reference", None)
        return view

    def _moving(self, action: str) -> Handler:
        ask = {
            "capture": checkout.capture_of,
            "refund": checkout.refund_of,
            "void": checkout.void_of,
        }
        movement_of = ask[action]

        def handler(aid: str, request: Request, body: Any) -> dict[str, Any] | Reply:
            found = self.store.accounts[aid].checkout
            transaction = checkout.transaction_of(found, request.path_params["transaction_id"])
            movement = movement_of(transaction, body)
            rule = self.faults.accept(action)
            if rule is None:
                return self._as_flipped(checkout.apply(transaction, movement))
            view, request_id = checkout.accept(transaction, movement)
            if rule.outcome != "never":
                done = asyncio.create_task(
                    self._complete_later(
                        transaction, request_id, rule.outcome == "success", rule.complete_ms / 1000
                    )
                )  # fmt: skip
                self.customer.soon(done)
            return Reply(view, 202, {"event-request-id": request_id})

        return handler

    async def _complete_later(
        self, transaction: checkout.Transaction, request_id: str, success: bool, delay: float
    ) -> None:
        await asyncio.sleep(delay)
        checkout.complete(transaction, request_id, success)
        self._keep()

    # --- the Orders API's records ---------------------------------------------------------

    def _lister(self, kind: str) -> Handler:
        def handler(aid: str, request: Request, body: Any) -> dict[str, Any]:
            return self.store.list_operations(aid, request.path_params["order_id"], kind)

        return handler

    def _recorder(self, kind: str) -> Handler:
        def handler(aid: str, request: Request, body: Any) -> dict[str, Any]:
            return self.store.record(aid, request.path_params["order_id"], kind, body)

        return handler
