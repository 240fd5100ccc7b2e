"""The simulator's test controls, under `/_sim/` (a prefix Dintero does not use): the request
log, the state, a reset, the fault rules, the Checkout operations to answer 202, the callback
signature secret, the assumptions to flip, token expiry, and the paying customer
(`customer.py`). Each answers JSON; a malformed control is a 400 in Dintero's envelope.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from amendments.simulator.auth import Tokens
from amendments.simulator.base import SimError
from amendments.simulator.customer import Customer
from amendments.simulator.faults import AcceptRule, FaultRule, Faults
from amendments.simulator.state import Store

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
    account_id: str | None = Field(default=None, pattern=r"^[PT]\d{8}$")  # None: every account


class Controlled(Protocol):
    """What the controls reach into (the `Simulator`)."""

    requests: list[dict[str, Any]]
    faults: Faults
    customer: Customer
    tokens: Tokens

    @property
    def store(self) -> Store: ...

    def reset(self) -> None: ...


def _bad(exc: Exception, what: str = "") -> Response:
    return JSONResponse(SimError(400, "BAD_REQUEST", f"{what}{exc}").envelope(), 400)


def _items(raw: bytes) -> list[Any]:
    loaded = json.loads(raw)
    return loaded if isinstance(loaded, list) else [loaded]


def control_routes(sim: Controlled) -> list[Route]:
    async def requests(request: Request) -> Response:
        since = int(request.query_params.get("since", "0"))
        return JSONResponse(sim.requests[since:])

    async def state(request: Request) -> Response:
        return JSONResponse(sim.store.snapshot())

    async def reset(request: Request) -> Response:
        sim.reset()
        return JSONResponse({"reset": True})

    async def expire(request: Request) -> Response:
        sim.tokens.expire()
        return JSONResponse({"expired": True})

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            sim.faults.clear()
        elif request.method == "POST":
            try:
                rules = [FaultRule.model_validate(item) for item in _items(await request.body())]
            except (ValueError, ValidationError) as exc:
                return _bad(exc, "invalid fault rules: ")
            sim.faults.add(rules)
        return JSONResponse([rule.model_dump(exclude_none=True) for rule in sim.faults.rules])

    async def accepting(request: Request) -> Response:
        if request.method == "DELETE":
            sim.faults.accepting.clear()
        elif request.method == "POST":
            try:
                rules = [AcceptRule.model_validate(item) for item in _items(await request.body())]
            except (ValueError, ValidationError) as exc:
                return _bad(exc)
            sim.faults.accepting.extend(rules)
        return JSONResponse([rule.model_dump(exclude_none=True) for rule in sim.faults.accepting])

    async def signed(request: Request) -> Response:
        try:
            given = SignatureIn.model_validate_json(await request.body())
        except ValidationError as exc:
            return _bad(exc)
        if given.account_id is None:
            sim.customer.signature_secret = given.secret
        elif given.secret is None:
            sim.customer.signature_secrets.pop(given.account_id, None)
        else:
            sim.customer.signature_secrets[given.account_id] = given.secret
        return JSONResponse({"signed": given.secret is not None, "account_id": given.account_id})

    async def assumptions(request: Request) -> Response:
        """`POST {"flip": "A7"}`: behave as if that assumption were wrong (FLIPPABLE); `DELETE`:
        every assumption holds again; `GET`: the flipped ones."""
        if request.method == "DELETE":
            sim.store.flipped.clear()
        elif request.method == "POST":
            try:
                flip = FlipIn.model_validate(await request.json()).flip
            except (ValueError, ValidationError) as exc:
                return _bad(exc)
            sim.store.flipped.add(flip)
        return JSONResponse({"flipped": sorted(sim.store.flipped)})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    every = ["GET", "POST", "DELETE"]
    return [
        Route("/_sim/checkout/sessions/{session_id}/pay", sim.customer.pay, methods=["POST"]),
        Route("/_sim/checkout/accepting", accepting, methods=every),
        Route("/_sim/checkout/signature", signed, methods=["POST"]),
        Route("/_sim/assumptions", assumptions, methods=every),
        Route("/_sim/requests", requests, methods=["GET"]),
        Route("/_sim/state", state, methods=["GET"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/faults", faults, methods=every),
        Route("/_sim/tokens/expire", expire, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ]
