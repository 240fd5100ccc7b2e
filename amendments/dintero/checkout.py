"""The Dintero Checkout client: payment sessions and the transactions they yield.

Checkout moves money (the Orders API only records it): a session is a payment page for an
amount, a transaction is what the customer authorized in it, and a transaction is captured,
refunded or voided here. It lives on its own host (`https://checkout.dintero.com`) and takes the
account's token, shared with the Orders client. Like that client it retries nothing; each write
carries a reference (`capture_reference`, `refund_reference`, `void_reference`) that a retried
write looks for among the transaction's events first (`amendments/payments.py`).
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from amendments.dintero.client import request_json

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


class Session(_Wire):
    id: str
    status: str | None = None
    transaction_id: str | None = None
    order: SessionOrder


class TransactionEvent(_Wire):
    event: str
    amount: int = 0
    success: bool = True
    capture_reference: str | None = None
    refund_reference: str | None = None
    void_reference: str | None = None

    @property
    def reference(self) -> str | None:
        return self.capture_reference or self.refund_reference or self.void_reference


class Transaction(_Wire):
    id: str
    session_id: str | None = None
    merchant_reference: str | None = None
    amount: int
    currency: str
    status: str
    events: list[TransactionEvent] = Field(default_factory=list)

    @property
    def state(self) -> str:
        """The status in upper case (Dintero's pages spell it both ways: assumption C4)."""
        return self.status.upper()

    def moved(self, event: MovingEvent, reference: str) -> TransactionEvent | None:
        """The successful event of this kind that carries `reference`, if a write landed."""
        return next(
            (e for e in self.events if e.event == event and e.success and e.reference == reference),
            None,
        )

    def total(self, event: MovingEvent) -> int:
        return sum(e.amount for e in self.events if e.event == event and e.success)


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

    async def capture(self, transaction_id: str, amount: int, reference: str) -> Transaction:
        return await self._move(
            "capture", transaction_id, {"amount": amount, "capture_reference": reference}
        )

    async def refund(
        self, transaction_id: str, amount: int, reference: str, reason: str
    ) -> Transaction:
        body = {"amount": amount, "refund_reference": reference, "reason": reason}
        return await self._move("refund", transaction_id, body)

    async def void(self, transaction_id: str, reference: str) -> Transaction:
        return await self._move("void", transaction_id, {"void_reference": reference})

    async def _move(self, action: str, transaction_id: str, body: dict[str, Any]) -> Transaction:
        return await request_json(
            self.http,
            "POST",
            f"/v1/transactions/{transaction_id}/{action}",
            Transaction,
            operation=f"{action}_transaction",
            json=body,
        )
