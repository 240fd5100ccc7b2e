"""The Dintero Checkout client: payment sessions and the transactions they yield, as Dintero's
published Checkout API spec describes them.

Checkout moves money (the Orders API only records it): a session is a payment page for an
amount, a transaction is what the customer authorized in it, and a transaction is captured,
refunded or voided here. It lives on its own host (`https://checkout.dintero.com`) and takes the
account's token, shared with the Orders client. Like that client it retries nothing.

What the spec says and this client relies on: a capture or refund carries the merchant's
reference (`capture_reference` / `refund_reference`), and the transaction's event for it carries
that reference as `event_reference`; a void has no body and no reference; capture, refund and
void answer 200 with the transaction, or 202 with the header `event-request-id`, and then the
operation completes later as an event whose `correlation_request_id` is that id; a session
given up has `cancelled_at`. `amendments/payments/port.py` reconciles and waits on these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from amendments.dintero.client import parse_body, request_json, send

DEFAULT_CHECKOUT_URL = "https://checkout.dintero.com"
MovingEvent = Literal["CAPTURE", "REFUND", "VOID"]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SessionCreated(_Wire):
    id: str
    url: str


class SessionOrder(_Wire):
    amount: int
    currency: str
    merchant_reference: str | None = None


class SessionEvent(_Wire):
    name: str | None = None


class Session(_Wire):
    id: str
    transaction_id: str | None = None
    cancelled_at: str | None = None
    events: list[SessionEvent] = Field(default_factory=list)
    order: SessionOrder

    @property
    def given_up(self) -> bool:
        """Left without a payment: `cancelled_at`, or a `CANCELLED` event (the spec's
        `SessionCancelled`; a session has no status field)."""
        return self.transaction_id is None and (
            self.cancelled_at is not None or any(e.name == "CANCELLED" for e in self.events)
        )


class TransactionEvent(_Wire):
    event: str
    amount: float = 0
    success: bool = True
    event_reference: str | None = None
    request_id: str | None = None
    correlation_request_id: str | None = None


class Transaction(_Wire):
    id: str
    session_id: str | None = None
    merchant_reference: str | None = None
    amount: int
    currency: str
    status: str = "UNKNOWN"
    events: list[TransactionEvent] = Field(default_factory=list)

    @property
    def state(self) -> str:
        """The status, upper case as the spec's enum spells it (read either way)."""
        return self.status.upper()

    def moved(self, event: MovingEvent, reference: str) -> TransactionEvent | None:
        """The successful final event of this kind that carries `reference`, if a write landed."""
        return next(
            (
                e
                for e in self.events
                if e.event == event and e.success and e.event_reference == reference
            ),
            None,
        )

    def initiated(self, event: MovingEvent, reference: str | None) -> list[TransactionEvent]:
        """The `INITIATE_*` events of operations accepted (202) with `reference` (any, for a
        void, which has none), newest first."""
        return [
            e
            for e in reversed(self.events)
            if e.event == f"INITIATE_{event}"
            and e.request_id
            and (reference is None or e.event_reference == reference)
        ]

    def completion(self, request_id: str) -> TransactionEvent | None:
        """The event that completed the accepted operation `request_id`, if it has."""
        return next((e for e in self.events if e.correlation_request_id == request_id), None)

    def total(self, event: MovingEvent) -> int:
        return int(sum(e.amount for e in self.events if e.event == event and e.success))


@dataclass(frozen=True)
class MoveAnswer:
    """Checkout's answer to a capture, refund or void: done (200), or accepted (202) with the
    id of the event that will complete it."""

    transaction: Transaction
    accepted_request_id: str | None = None


class CheckoutClient:
    """Typed calls to Checkout's `/v1/...` over an injected `httpx.AsyncClient`."""

    def __init__(self, http: httpx.AsyncClient, profile_id: str) -> None:
        self.http = http
        self.profile_id = profile_id

    async def aclose(self) -> None:
        await self.http.aclose()

    async def create_session(
        self,
        *,
        amount: int,
        currency: str,
        merchant_reference: str,
        items: list[dict[str, Any]],
        return_url: str,
        callback_url: str,
    ) -> SessionCreated:
        body = {
            "profile_id": self.profile_id,
            "order": {
                "amount": amount,
                "currency": currency,
                "merchant_reference": merchant_reference,
                "items": items,
            },
            "url": {"return_url": return_url, "callback_url": callback_url},
        }
        return await request_json(
            self.http,
            "POST",
            "/v1/sessions-profile",
            SessionCreated,
            operation="create_session",
            json=body,
        )

    async def get_session(self, session_id: str) -> Session:
        return await request_json(
            self.http, "GET", f"/v1/sessions/{session_id}", Session, operation="read_session"
        )

    async def get_transaction(self, transaction_id: str) -> Transaction:
        return await request_json(
            self.http,
            "GET",
            f"/v1/transactions/{transaction_id}",
            Transaction,
            operation="read_transaction",
        )

    async def capture(self, transaction_id: str, amount: int, reference: str) -> MoveAnswer:
        body = {"amount": amount, "capture_reference": reference}
        return await self._move("capture", transaction_id, body)

    async def refund(
        self, transaction_id: str, amount: int, reference: str, reason: str
    ) -> MoveAnswer:
        body: dict[str, Any] = {"amount": amount, "refund_reference": reference}
        if reason:
            body["reason"] = reason
        return await self._move("refund", transaction_id, body)

    async def void(self, transaction_id: str) -> MoveAnswer:
        """A void has no body (the spec's), and so no reference."""
        return await self._move("void", transaction_id, None)

    async def _move(
        self, action: str, transaction_id: str, body: dict[str, Any] | None
    ) -> MoveAnswer:
        response = await send(
            self.http,
            "POST",
            f"/v1/transactions/{transaction_id}/{action}",
            operation=f"{action}_transaction",
            json=body,
        )
        transaction = parse_body(response, Transaction, f"POST .../{action}")
        if response.status_code == 202:
            return MoveAnswer(transaction, response.headers.get("event-request-id") or "")
        return MoveAnswer(transaction)
