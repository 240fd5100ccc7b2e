"""The simulator's Dintero Checkout: payment sessions, the transactions customers make in them,
and the money rules on captures, refunds and voids. Pure state and rules like `state.py`: each
method changes state and returns what Checkout would answer, or raises `SimError` first.

Checkout's assumptions (C1-C8, beside A1-A13 in `app.py`), each a choice made where no Dintero
source says:
- C1 A session's `order.items` amounts sum to `order.amount`; `url.callback_url` is required
  here (Dintero makes it optional) because the product always needs its callback.
- C2 One session yields at most one transaction (documented); paying a used session is 400.
- C3 A declined payment is a transaction with status `DECLINED` (amount as asked) whose callback
  carries `error=declined`; Dintero may instead call back with no transaction at all.
- C4 Status values are upper case (`AUTHORIZED`, `CAPTURED`, `PARTIALLY_CAPTURED`,
  `PARTIALLY_REFUNDED`, `PARTIALLY_CAPTURED_REFUNDED`, `REFUNDED`, `AUTHORIZATION_VOIDED`,
  `DECLINED`); Dintero's support pages spell them in lower case.
- C5 Each capture, refund and void is an event on the transaction (`CAPTURE`, `REFUND`, `VOID`)
  carrying the request's `capture_reference` / `refund_reference` / `void_reference`: that is what
  a retried write looks for, as Orders writes look for their metadata.
- C6 Capture <= authorized - captured, refund <= captured - refunded, void only an authorized
  transaction with nothing captured; a declined or voided transaction takes nothing.
- C7 The callback is retried (up to `callback_attempts`, quickly here) on a 5xx or a transport
  error, never on a 4xx.
- C8 A customer who gives up leaves the session without a transaction; its callback carries
  `error=cancelled` and no `transaction_id`, and `GET /v1/sessions/{id}` then answers
  `status: "CANCELLED"` (otherwise `OPEN`, or `PAID` once it has its transaction).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from pydantic import Field, StrictInt

from amendments.simulator.base import SimError, Strict, bad, now, parse


class CheckoutItemIn(Strict):
    id: str | None = None
    line_id: str = Field(min_length=1)
    amount: StrictInt
    quantity: StrictInt = Field(default=1, ge=1)
    description: str | None = None


class CheckoutOrderIn(Strict):
    amount: StrictInt = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    merchant_reference: str = Field(min_length=1, max_length=200)
    items: list[CheckoutItemIn] = Field(default_factory=list)


class SessionUrlIn(Strict):
    return_url: str = Field(min_length=1)
    callback_url: str = Field(min_length=1)


class SessionIn(Strict):
    profile_id: str = Field(min_length=1)
    order: CheckoutOrderIn
    url: SessionUrlIn


class CaptureIn(Strict):
    amount: StrictInt = Field(gt=0)
    capture_reference: str | None = None
    items: list[dict[str, Any]] | None = None


class RefundIn(Strict):
    amount: StrictInt = Field(gt=0)
    reason: str | None = None
    refund_reference: str | None = None
    items: list[dict[str, Any]] | None = None


class VoidIn(Strict):
    void_reference: str | None = None


@dataclass
class Session:
    id: str
    body: SessionIn
    created_at: str = field(default_factory=now)
    transaction_id: str | None = None
    cancelled: bool = False

    @property
    def status(self) -> str:
        if self.transaction_id is not None:
            return "PAID"
        return "CANCELLED" if self.cancelled else "OPEN"

    def view(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"{base_url}/checkout/{self.id}",
            "order": self.body.order.model_dump(),
            "transaction_id": self.transaction_id,
            "status": self.status,
            "created_at": self.created_at,
        }

    def callback(self) -> tuple[str, str]:
        """The method and URL Dintero calls: POST when the URL carries `method=POST`."""
        url = self.body.url.callback_url
        method = parse_qs(urlparse(url).query).get("method", ["GET"])[0].upper()
        return ("POST" if method == "POST" else "GET"), url


@dataclass
class Event:
    event: str  # AUTHORIZE | CAPTURE | REFUND | VOID
    amount: int
    success: bool = True
    reference: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: str = field(default_factory=now)

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "event": self.event,
            "amount": self.amount,
            "success": self.success,
            "created_at": self.created_at,
        }
        if self.reference is not None:
            out[_REFERENCE[self.event]] = self.reference
        return out


_REFERENCE = {
    "AUTHORIZE": "authorization_reference",
    "CAPTURE": "capture_reference",
    "REFUND": "refund_reference",
    "VOID": "void_reference",
}


@dataclass
class Transaction:
    id: str
    session_id: str
    merchant_reference: str
    amount: int
    currency: str
    declined: bool = False
    events: list[Event] = field(default_factory=list)
    created_at: str = field(default_factory=now)

    def total(self, kind: str) -> int:
        return sum(e.amount for e in self.events if e.event == kind and e.success)

    @property
    def voided(self) -> bool:
        return any(e.event == "VOID" and e.success for e in self.events)

    def status(self) -> str:
        if self.declined:
            return "DECLINED"
        if self.voided:
            return "AUTHORIZATION_VOIDED"
        captured, refunded = self.total("CAPTURE"), self.total("REFUND")
        if refunded:
            if refunded >= captured:
                return "REFUNDED" if captured >= self.amount else "PARTIALLY_CAPTURED_REFUNDED"
            return (
                "PARTIALLY_REFUNDED" if captured >= self.amount else ("PARTIALLY_CAPTURED_REFUNDED")
            )
        if captured:
            return "CAPTURED" if captured >= self.amount else "PARTIALLY_CAPTURED"
        return "AUTHORIZED"

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "session_id": self.session_id,
            "merchant_reference": self.merchant_reference,
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status(),
            "events": [e.view() for e in self.events],
            "created_at": self.created_at,
            "payment_product": "simulated",
        }


@dataclass
class CheckoutAccount:
    sessions: dict[str, Session] = field(default_factory=dict)
    transactions: dict[str, Transaction] = field(default_factory=dict)


def create_session(account: CheckoutAccount, aid: str, body: Any, base_url: str) -> dict[str, Any]:
    session_in = parse(SessionIn, body)
    order = session_in.order
    if order.items and sum(i.amount for i in order.items) != order.amount:
        raise bad("order.items must sum to order.amount", "order.items")
    session = Session(id=f"{aid}.{uuid.uuid4().hex[:26]}", body=session_in)
    account.sessions[session.id] = session
    return {"id": session.id, "url": session.view(base_url)["url"]}


def session_of(account: CheckoutAccount, session_id: str) -> Session:
    found = account.sessions.get(session_id)
    if found is None:
        raise SimError(404, "NOT_FOUND", f"session {session_id} not found")
    return found


def abandon(session: Session) -> None:
    """The customer gives up (C8)."""
    if session.status != "OPEN":
        raise bad(f"session {session.id} is {session.status.lower()}", "session_id")
    session.cancelled = True


def transaction_of(account: CheckoutAccount, transaction_id: str) -> Transaction:
    found = account.transactions.get(transaction_id)
    if found is None:
        raise SimError(404, "NOT_FOUND", f"transaction {transaction_id} not found")
    return found


def pay(session: Session, outcome: str, amount: int | None) -> Transaction:
    """The customer pays (or is declined) in the session: its one transaction."""
    if session.transaction_id is not None or session.cancelled:
        raise bad(f"session {session.id} is {session.status.lower()} (C2)", "session_id")
    asked = session.body.order.amount if amount is None else amount
    if not 0 < asked <= session.body.order.amount:
        raise bad(f"amount must be 1..{session.body.order.amount}, got {asked}", "amount")
    declined = outcome == "declined"
    transaction = Transaction(
        id=f"T{uuid.uuid4().hex[:20]}",
        session_id=session.id,
        merchant_reference=session.body.order.merchant_reference,
        amount=asked,
        currency=session.body.order.currency,
        declined=declined,
        events=[Event("AUTHORIZE", asked, success=not declined)],
    )
    session.transaction_id = transaction.id
    return transaction


def capture(transaction: Transaction, body: Any) -> dict[str, Any]:
    capture_in = parse(CaptureIn, body)
    _takes_money(transaction)
    left = transaction.amount - transaction.total("CAPTURE")
    return _moved(
        transaction, "CAPTURE", capture_in.amount, capture_in.capture_reference, left,
        "what is left to capture", "CAPTURE_EXCEEDS_AUTHORIZED",
    )  # fmt: skip


def refund(transaction: Transaction, body: Any) -> dict[str, Any]:
    refund_in = parse(RefundIn, body)
    if transaction.declined:
        raise bad("a declined transaction has nothing to refund", "id", "TRANSACTION_DECLINED")
    left = transaction.total("CAPTURE") - transaction.total("REFUND")
    return _moved(
        transaction, "REFUND", refund_in.amount, refund_in.refund_reference, left,
        "what is captured and not refunded", "REFUND_EXCEEDS_CAPTURED",
    )  # fmt: skip


def _moved(
    transaction: Transaction,
    event: str,
    amount: int,
    reference: str | None,
    left: int,
    what: str,
    code: str,
) -> dict[str, Any]:
    """Append the event when `amount` fits in what is `left` (C6), else refuse naming it."""
    if amount > left:
        raise bad(f"{event.lower()} {amount} exceeds {what} ({left})", "amount", code)
    transaction.events.append(Event(event, amount, reference=reference))
    return transaction.view()


def void(transaction: Transaction, body: Any) -> dict[str, Any]:
    void_in = parse(VoidIn, body if body is not None else {})
    _takes_money(transaction)
    if transaction.total("CAPTURE"):
        raise bad("a transaction with captures cannot be voided", "id", "VOID_AFTER_CAPTURE")
    transaction.events.append(Event("VOID", transaction.amount, reference=void_in.void_reference))
    return transaction.view()


def _takes_money(transaction: Transaction) -> None:
    if transaction.declined:
        raise bad("the transaction was declined", "id", "TRANSACTION_DECLINED")
    if transaction.voided:
        raise bad("the transaction is voided", "id", "TRANSACTION_VOIDED")
