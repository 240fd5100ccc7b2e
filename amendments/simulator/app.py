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

Test controls live under `/_sim/`, a prefix Dintero does not use:
`GET /_sim/requests` (every API request: method, path, status, body), `GET /_sim/state`,
`POST /_sim/reset`, `GET|POST|DELETE /_sim/faults`, `POST /_sim/checkout/sessions/{id}/pay`
(`{"outcome": "authorized" | "declined" | "abandoned", "amount"?, "duplicates"?, "late_ms"?,
"callback"?}`: the customer pays or gives up, then the session's `callback_url` is called over
HTTP as Dintero calls it), `GET|POST|DELETE /_sim/checkout/accepting` (`{"action": "capture" |
"refund" | "void" | "*", "times"?, "complete_ms"?, "outcome": "success" | "failure" | "never"}`:
such operations answer 202 and complete later, or fail, or never complete) and
`POST /_sim/checkout/signature` (`{"secret": "..." | null}`: callbacks carry
`Dintero-Signature` from then on, as once a merchant has created a signature secret) and
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
import base64
import fnmatch
import json
import os
import random
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from amendments import failures
from amendments.payments.checkout import signature
from amendments.simulator import checkout
from amendments.simulator.base import SimError, now
from amendments.simulator.state import Store

ACCOUNT_ID = re.compile(r"^[PT]\d{8}$")


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised by the app to drop a connection: uvicorn closes the socket, and an in-process
    `httpx.ASGITransport` hands the client the same transport error a real drop would."""


class FaultRule(BaseModel):
    """One fault: which requests it hits, how often, and what it does to them."""

    model_config = ConfigDict(extra="forbid")

    method: str = "*"
    path: str = "*"
    status: int | None = Field(default=None, ge=400, le=599)
    times: int | None = Field(default=None, ge=1)
    after: int = Field(default=0, ge=0)  # let this many matching requests through first
    probability: float | None = Field(default=None, gt=0, le=1)
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    retry_after: int | None = Field(default=None, ge=0)
    mode: Literal["respond", "ambiguous", "drop"] = "respond"
    apply: bool = True  # drop mode only: whether the write lands before the connection drops

    @model_validator(mode="after")
    def _check(self) -> FaultRule:
        if self.times is not None and self.probability is not None:
            raise ValueError("give times or probability, not both")
        if self.mode == "respond" and self.status is None and self.latency_ms == 0:
            raise ValueError("a respond rule needs a status or a latency_ms")
        return self

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(method.upper(), self.method.upper()) and fnmatch.fnmatchcase(
            path, self.path
        )


@dataclass
class _Token:
    account_id: str
    expires_at: float


class AcceptRule(BaseModel):
    """Capture, refund or void answered 202 (accepted), completing `complete_ms` later as a
    success or a failure, or never; `times` such answers (none: until cleared)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["capture", "refund", "void", "*"] = "*"
    times: int | None = Field(default=None, ge=1)
    complete_ms: int = Field(default=200, ge=0, le=600_000)
    outcome: Literal["success", "failure", "never"] = "success"


# Assumptions the test control `/_sim/assumptions` can flip: A7 (a second authorization of a
# line accepted without `multiple_authorizations`) and EVENT_REFERENCE (Checkout events carry
# no `event_reference`), so that `amend conformance` can be shown to tell them apart.
FLIPPABLE = ("A7", "EVENT_REFERENCE")


class FlipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flip: Literal["A7", "EVENT_REFERENCE"]


class SignatureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(default=None, min_length=1, max_length=200)


@dataclass
class Reply:
    """An answer other than 200 with the body: a status and headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class PayIn(BaseModel):
    """`POST /_sim/checkout/sessions/{id}/pay`: how the customer pays, and how Dintero calls
    back (`duplicates` more deliveries at once, one more `late_ms` later)."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["authorized", "declined", "abandoned"]
    amount: int | None = Field(default=None, gt=0)
    duplicates: int = Field(default=0, ge=0, le=20)
    late_ms: int | None = Field(default=None, ge=0, le=60_000)
    callback_attempts: int = Field(default=20, ge=1, le=20)
    callback: bool = True  # False: the callback is lost (the test delivers the outcome itself)


@dataclass
class SimulatorConfig:
    token_ttl: float = 3600.0
    client_id: str | None = None
    client_secret: SecretStr | None = None
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
class _Fired:
    rule: FaultRule
    latency: float = 0.0


@dataclass
class Simulator:
    config: SimulatorConfig = field(default_factory=SimulatorConfig)

    def __post_init__(self) -> None:
        self.store = self._stored() or Store(seed=self.config.seed)
        self.requests: list[dict[str, Any]] = []
        self.faults: list[FaultRule] = []
        self.callbacks: list[dict[str, Any]] = []  # every callback delivery, with its answer
        self.accepting: list[AcceptRule] = []  # Checkout operations to answer 202
        self.signature_secret: str | None = None  # callbacks signed when set
        self._late_callbacks: set[asyncio.Task[None]] = set()
        self._tokens: dict[str, _Token] = {}
        self._random = random.Random(self.config.seed)
        self.app = self._build()

    # --- controls ------------------------------------------------------------------------

    def reset(self) -> None:
        self.store = Store(seed=self.config.seed)
        self.requests.clear()
        self.faults.clear()
        self.callbacks.clear()
        self.accepting.clear()
        self.signature_secret = None
        self._tokens.clear()
        self._keep()

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

    def add_faults(self, rules: list[FaultRule]) -> None:
        self.faults.extend(rules)

    def issued_tokens(self) -> list[str]:
        """Every access token issued since the last reset."""
        return list(self._tokens)

    def reseed(self, seed: int) -> None:
        """Make fault odds reproducible from here on."""
        self._random = random.Random(seed)

    def expire_tokens(self) -> None:
        for token in self._tokens.values():
            token.expires_at = 0.0

    # --- the ASGI app --------------------------------------------------------------------

    def _build(self) -> Starlette:
        prefix = "/v1/accounts/{aid}"
        shop = prefix + "/shopping"
        api = [
            _Route(prefix + "/auth/token", "POST", self._token, write=False),
            _Route(shop + "/draft_orders", "POST", self._create_draft, write=True),
            _Route(shop + "/draft_orders", "GET", self._list_drafts, write=False),
            _Route(shop + "/draft_orders/{draft_id}", "GET", self._get_draft, write=False),
            _Route(shop + "/draft_orders/{draft_id}/complete", "PUT", self._complete, write=True),
            _Route(shop + "/orders/{order_id}", "GET", self._get_order, write=False),
            _Route(shop + "/orders/{order_id}/cancel", "POST", self._cancel, write=True),
            _Route(shop + "/orders/{order_id}/close", "POST", self._close, write=True),
        ]
        for kind in ("authorization", "capture", "refund", "cancellation"):
            records = f"{shop}/orders/{{order_id}}/{kind}s"
            if kind != "cancellation":  # A16: no list of cancellations; the order embeds them
                api.append(_Route(records, "GET", self._lister(kind), False))
            api.append(_Route(records, "POST", self._recorder(kind), True))
        api.append(
            _Route(
                shop + "/orders/{order_id}/cancellations/{operation_id}",
                "GET",
                self._getter("cancellation"),
                False,
            )
        )
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
        routes += [
            Route("/_sim/checkout/sessions/{session_id}/pay", self._sim_pay, methods=["POST"]),
            Route(
                "/_sim/checkout/accepting",
                self._sim_accepting,
                methods=["GET", "POST", "DELETE"],
            ),
            Route("/_sim/checkout/signature", self._sim_signature, methods=["POST"]),
            Route("/_sim/assumptions", self._sim_assumptions, methods=["GET", "POST", "DELETE"]),
            Route("/_sim/requests", self._sim_requests, methods=["GET"]),
            Route("/_sim/state", self._sim_state, methods=["GET"]),
            Route("/_sim/reset", self._sim_reset, methods=["POST"]),
            Route("/_sim/faults", self._sim_faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sim/tokens/expire", self._sim_expire, methods=["POST"]),
            Route("/healthz", self._health, methods=["GET"]),
        ]
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
            return self._answer(
                entry,
                SimError(400, "BAD_REQUEST", "request body is not valid JSON").envelope(),
                400,
            )
        entry["body"] = body
        fired = self._fire(request.method, request.url.path)
        if fired is not None and fired.latency:
            entry["fault"] = "latency"
            await asyncio.sleep(fired.latency)
        rule = fired.rule if fired is not None else None
        if rule is not None and rule.status is not None and rule.mode == "respond":
            entry["fault"] = "respond"
            return self._fault_response(entry, rule)
        aid: str | None = request.path_params.get("aid")  # Checkout's paths name no account
        try:
            if aid is not None and not ACCOUNT_ID.fullmatch(aid):
                raise SimError(404, "NOT_FOUND", f"account {aid!r} does not match ^[PT]\\d{{8}}$")
            if not route.path.endswith("/auth/token"):
                aid = self._authenticate(request, aid)
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
                return self._fault_response(entry, rule)
            return self._answer(entry, exc.envelope(), exc.status)
        if rule is not None and rule.mode == "drop":
            entry["fault"] = "drop"
            request.scope["state"]["sim_drop"] = True
            raise ConnectionDropped("connection dropped by the simulator after the write landed")
        if rule is not None and rule.mode == "ambiguous":
            entry["fault"] = "ambiguous"
            return self._fault_response(entry, rule)
        if isinstance(result, Reply):
            return self._answer(entry, result.body, result.status, result.headers or None)
        return self._answer(entry, result, 200)

    def _fire(self, method: str, path: str) -> _Fired | None:
        for rule in list(self.faults):
            if not rule.matches(method, path):
                continue
            if rule.after > 0:
                rule.after -= 1
                continue
            if rule.probability is not None and self._random.random() >= rule.probability:
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times == 0:
                    self.faults.remove(rule)
            return _Fired(rule=rule, latency=rule.latency_ms / 1000)
        return None

    def _fault_response(self, entry: dict[str, Any], rule: FaultRule) -> Response:
        status = rule.status or 500
        message = {
            429: "Too many requests",
            503: "Service temporarily unavailable",
        }.get(status, "Injected failure")
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
        envelope = SimError(status, "SIMULATED_FAULT", message).envelope()
        return self._answer(entry, envelope, status, headers)

    @staticmethod
    def _answer(
        entry: dict[str, Any], body: Any, status: int, headers: dict[str, str] | None = None
    ) -> Response:
        entry["status"] = status
        return JSONResponse(body, status_code=status, headers=headers)

    # --- auth ----------------------------------------------------------------------------

    def _token(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            client_id, sep, secret = (
                base64.b64decode(encoded, validate=True).decode().partition(":")
            )
        except (ValueError, UnicodeDecodeError):
            client_id, sep, secret = "", "", ""
        if scheme.lower() != "basic" or not sep or not client_id or not secret:
            raise SimError(401, "UNAUTHORIZED", "HTTP Basic client credentials are required")
        fixed_id, fixed_secret = self.config.client_id, self.config.client_secret
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
        self._tokens[token] = _Token(aid, time.monotonic() + self.config.token_ttl)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self.config.token_ttl),
        }

    def _authenticate(self, request: Request, aid: str | None) -> str:
        """The account the bearer token is for (it must be the path's account, when the path
        names one: Checkout's paths do not)."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = self._tokens.get(value) if scheme.lower() == "bearer" else None
        if (
            token is None
            or (aid is not None and token.account_id != aid)
            or token.expires_at <= time.monotonic()
        ):
            raise SimError(401, "UNAUTHORIZED", "Access forbidden, invalid JWT token was used")
        return token.account_id

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
            rule = self._accepting(action)
            if rule is None:
                return self._as_flipped(checkout.apply(transaction, movement))
            view, request_id = checkout.accept(transaction, movement)
            if rule.outcome != "never":
                done = asyncio.create_task(
                    self._complete_later(
                        transaction, request_id, rule.outcome == "success", rule.complete_ms / 1000
                    )
                )  # fmt: skip
                self._late_callbacks.add(done)
                done.add_done_callback(self._late_callbacks.discard)
            return Reply(view, 202, {"event-request-id": request_id})

        return handler

    def _accepting(self, action: str) -> AcceptRule | None:
        for rule in list(self.accepting):
            if rule.action not in (action, "*"):
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times == 0:
                    self.accepting.remove(rule)
            return rule
        return None

    async def _complete_later(
        self, transaction: checkout.Transaction, request_id: str, success: bool, delay: float
    ) -> None:
        await asyncio.sleep(delay)
        checkout.complete(transaction, request_id, success)
        self._keep()

    async def _sim_assumptions(self, request: Request) -> Response:
        """`POST {"flip": "A7"}`: behave as if that assumption were wrong (FLIPPABLE); `DELETE`:
        every assumption holds again; `GET`: the flipped ones."""
        if request.method == "DELETE":
            self.store.flipped.clear()
        elif request.method == "POST":
            try:
                flip = FlipIn.model_validate(await request.json()).flip
            except (ValueError, ValidationError) as exc:
                return JSONResponse(SimError(400, "BAD_REQUEST", str(exc)).envelope(), 400)
            self.store.flipped.add(flip)
        return JSONResponse({"flipped": sorted(self.store.flipped)})

    async def _sim_pay(self, request: Request) -> Response:
        """Play the customer in a session, then call its callback_url as Dintero does."""
        try:
            pay_in = PayIn.model_validate(await request.json())
        except (ValueError, ValidationError) as exc:
            return JSONResponse(SimError(400, "BAD_REQUEST", str(exc)).envelope(), 400)
        session_id = request.path_params["session_id"]
        found = [
            account.checkout.sessions[session_id]
            for account in self.store.accounts.values()
            if session_id in account.checkout.sessions
        ]
        if not found:
            return JSONResponse(SimError(404, "NOT_FOUND", f"session {session_id}").envelope(), 404)
        session = found[0]
        aid = session_id.partition(".")[0]
        if pay_in.outcome == "abandoned":
            try:
                checkout.abandon(session)
            except SimError as exc:
                return JSONResponse(exc.envelope(), exc.status)
            self._keep()
            answer = await self._call_back(session, None, pay_in.callback_attempts)
            return JSONResponse({"transaction_id": None, "callbacks": [answer]})
        try:
            transaction = checkout.pay(session, pay_in.outcome, pay_in.amount)
        except SimError as exc:
            return JSONResponse(exc.envelope(), exc.status)
        self.store.accounts[aid].checkout.transactions[transaction.id] = transaction
        self._keep()
        if not pay_in.callback:
            return JSONResponse({"transaction_id": transaction.id, "callbacks": []})
        delivered = [await self._call_back(session, transaction, pay_in.callback_attempts)]
        for _ in range(pay_in.duplicates):
            delivered.append(await self._call_back(session, transaction, 1))
        if pay_in.late_ms is not None:
            late = asyncio.create_task(self._late(session, transaction, pay_in.late_ms / 1000))
            self._late_callbacks.add(late)
            late.add_done_callback(self._late_callbacks.discard)
        return JSONResponse({"transaction_id": transaction.id, "callbacks": delivered})

    async def _late(
        self, session: checkout.Session, transaction: checkout.Transaction, delay: float
    ) -> None:
        await asyncio.sleep(delay)
        await self._call_back(session, transaction, 1)

    async def _call_back(
        self, session: checkout.Session, transaction: checkout.Transaction | None, attempts: int
    ) -> dict[str, Any]:
        """One delivery of the callback as the spec describes it: a GET (a POST with the
        transaction when the URL says `method=POST`) with the transaction, session, reference
        and time; a payment that failed only with `report_error=true`, with `error` (C3, C8);
        retried on a 5xx, 100-101, a timeout or a transport error, never on a 4xx; signed when
        a signature secret is set. No callback URL, or a failure not to report: no delivery."""
        target = session.callback()
        failed = transaction is None or transaction.declined
        if target is None or (failed and not session.reports_errors()):
            answer: dict[str, Any] = {"status": None, "attempts": 0, "delivered": False}
            self.callbacks.append({"session_id": session.id, **answer})
            return answer
        method, url = target
        params = {
            "session_id": session.id,
            "merchant_reference": session.body.order.merchant_reference,
            "time": now(),
        }
        if transaction is None:
            params["error"] = "cancelled"
        else:
            params["transaction_id"] = transaction.id
            if transaction.declined:
                params["error"] = "authorization"
        body = transaction.view() if method == "POST" and transaction is not None else None
        answer = {"status": None, "attempts": 0, "delivered": True}
        aid = session.id.partition(".")[0]
        async with httpx.AsyncClient(timeout=10) as http:
            for attempt in range(1, attempts + 1):
                answer["attempts"] = attempt
                request = http.build_request(method, url, params=params, json=body)
                if self.signature_secret is not None:
                    request.headers[signature.HEADER] = signature.sign(
                        self.signature_secret,
                        int(time.time()),
                        aid,
                        method,
                        str(request.url),
                        request.url.params.multi_items(),
                    )
                try:
                    response = await http.send(request)
                except httpx.TransportError as exc:
                    answer["status"] = type(exc).__name__
                else:
                    answer["status"] = response.status_code
                    if response.status_code < 500 and response.status_code not in (100, 101):
                        break
                await asyncio.sleep(0.05 * attempt)
        self.callbacks.append({"session_id": session.id, **params, **answer})
        return answer

    # --- API handlers --------------------------------------------------------------------

    def _create_draft(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        return self.store.create_draft(aid, body)

    def _list_drafts(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        return self.store.list_drafts(aid, request.query_params.get("status"))

    def _get_draft(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        return self.store.get_draft(aid, request.path_params["draft_id"])

    def _complete(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        return self.store.complete_draft(aid, request.path_params["draft_id"])

    def _get_order(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        return self.store.get_order(aid, request.path_params["order_id"])

    def _cancel(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        return self.store.cancel(aid, request.path_params["order_id"])

    def _close(self, aid: str, request: Request, body: Any) -> dict[str, Any]:
        return self.store.close(aid, request.path_params["order_id"])

    def _lister(self, kind: str) -> Handler:
        def handler(aid: str, request: Request, body: Any) -> dict[str, Any]:
            return self.store.list_operations(aid, request.path_params["order_id"], kind)

        return handler

    def _getter(self, kind: str) -> Handler:
        def handler(aid: str, request: Request, body: Any) -> dict[str, Any]:
            params = request.path_params
            return self.store.get_operation(aid, params["order_id"], kind, params["operation_id"])

        return handler

    def _recorder(self, kind: str) -> Handler:
        def handler(aid: str, request: Request, body: Any) -> dict[str, Any]:
            return self.store.record(aid, request.path_params["order_id"], kind, body)

        return handler

    # --- /_sim/ controls -----------------------------------------------------------------

    async def _sim_accepting(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.accepting.clear()
        elif request.method == "POST":
            try:
                raw = json.loads(await request.body())
                items = raw if isinstance(raw, list) else [raw]
                self.accepting.extend(AcceptRule.model_validate(item) for item in items)
            except (ValueError, ValidationError) as exc:
                return JSONResponse(SimError(400, "BAD_REQUEST", str(exc)).envelope(), 400)
        return JSONResponse([rule.model_dump(exclude_none=True) for rule in self.accepting])

    async def _sim_signature(self, request: Request) -> Response:
        try:
            given = SignatureIn.model_validate_json(await request.body())
        except ValidationError as exc:
            return JSONResponse(SimError(400, "BAD_REQUEST", str(exc)).envelope(), 400)
        self.signature_secret = given.secret
        return JSONResponse({"signed": given.secret is not None})

    async def _sim_requests(self, request: Request) -> Response:
        since = int(request.query_params.get("since", "0"))
        return JSONResponse(self.requests[since:])

    async def _sim_state(self, request: Request) -> Response:
        return JSONResponse(self.store.snapshot())

    async def _sim_reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"reset": True})

    async def _sim_expire(self, request: Request) -> Response:
        self.expire_tokens()
        return JSONResponse({"expired": True})

    async def _sim_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            try:
                raw = json.loads(await request.body())
                items = raw if isinstance(raw, list) else [raw]
                rules = [FaultRule.model_validate(item) for item in items]
            except (ValueError, ValidationError) as exc:
                return JSONResponse(
                    {
                        "error": {
                            "code": "BAD_REQUEST",
                            "message": f"invalid fault rules: {exc}",
                            "errors": [],
                        }
                    },
                    status_code=400,
                )
            self.add_faults(rules)
        return JSONResponse([rule.model_dump(exclude_none=True) for rule in self.faults])

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})
