"""The paying customer and Dintero's callbacks: what happens on the other side of a payment
session, played on request (`POST /_sim/checkout/sessions/{id}/pay`).

The customer pays (authorized or declined, in full or in part) or gives up; then the session's
`callback_url` is called over HTTP as Dintero's Checkout calls it (C3, C8 in `checkout.py`),
retried on a 5xx, signed with `Dintero-Signature` when a signature secret is set, delivered
again on request (duplicates at once, one more later), or lost (`callback: false`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from amendments.payments.checkout import signature
from amendments.simulator import checkout
from amendments.simulator.base import SimError, now
from amendments.simulator.state import Store


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


class Customer:
    """Plays the customer in a session and delivers Dintero's callbacks."""

    def __init__(self, store: Callable[[], Store], keep: Callable[[], None]) -> None:
        self._store = store
        self._keep = keep
        self.callbacks: list[dict[str, Any]] = []  # every callback delivery, with its answer
        # Callbacks are signed when the account has a secret: its own (`signature_secrets`),
        # else the one every account shares (`signature_secret`).
        self.signature_secret: str | None = None
        self.signature_secrets: dict[str, str] = {}
        self.later: set[asyncio.Task[None]] = set()  # deliveries and completions still to come

    def reset(self) -> None:
        self.callbacks.clear()
        self.signature_secret = None
        self.signature_secrets.clear()

    def soon(self, work: asyncio.Task[None]) -> None:
        """Keep a task that completes later (a late callback, an accepted operation)."""
        self.later.add(work)
        work.add_done_callback(self.later.discard)

    async def pay(self, request: Request) -> Response:
        """Play the customer in a session, then call its callback_url as Dintero does."""
        try:
            pay_in = PayIn.model_validate(await request.json())
        except (ValueError, ValidationError) as exc:
            return JSONResponse(SimError(400, "BAD_REQUEST", str(exc)).envelope(), 400)
        session_id = request.path_params["session_id"]
        store = self._store()
        found = [
            account.checkout.sessions[session_id]
            for account in store.accounts.values()
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
            answer = await self.call_back(session, None, pay_in.callback_attempts)
            return JSONResponse({"transaction_id": None, "callbacks": [answer]})
        try:
            transaction = checkout.pay(session, pay_in.outcome, pay_in.amount)
        except SimError as exc:
            return JSONResponse(exc.envelope(), exc.status)
        store.accounts[aid].checkout.transactions[transaction.id] = transaction
        self._keep()
        if not pay_in.callback:
            return JSONResponse({"transaction_id": transaction.id, "callbacks": []})
        delivered = [await self.call_back(session, transaction, pay_in.callback_attempts)]
        for _ in range(pay_in.duplicates):
            delivered.append(await self.call_back(session, transaction, 1))
        if pay_in.late_ms is not None:
            self.soon(asyncio.create_task(self._late(session, transaction, pay_in.late_ms / 1000)))
        return JSONResponse({"transaction_id": transaction.id, "callbacks": delivered})

    async def _late(
        self, session: checkout.Session, transaction: checkout.Transaction, delay: float
    ) -> None:
        await asyncio.sleep(delay)
        await self.call_back(session, transaction, 1)

    async def call_back(
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
                secret = self.signature_secrets.get(aid, self.signature_secret)
                if secret is not None:
                    request.headers[signature.HEADER] = signature.sign(
                        secret,
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
