"""The simulator's Dintero Checkout: payment sessions, the transactions customers make in them,
and the money rules on captures, refunds and voids. Pure state and rules like `state.py`: each
function changes state and returns what Checkout would answer, or raises `SimError` first.

What Dintero's published Checkout API spec says, the simulator does, for every path it serves
(`POST /v1/sessions-profile`, `GET /v1/sessions/{id}`, `GET /v1/transactions/{id}`,
`POST /v1/transactions/{id}/capture|refund|void`):
- a session body needs `profile_id`, `url.return_url`, `order.amount`, `order.currency` and
  `order.merchant_reference`; `url.callback_url` and `order.items` are optional; fields the spec
  does not name are accepted, as its schemas allow; amounts are integers; the answer is 200
  `{id, url}`;
- a capture or refund body needs `amount`, and takes `capture_reference` / `refund_reference`,
  `reason`, and `items` (each with `amount` and `line_id`); a void has no body (one sent is
  ignored);
- a transaction has `id`, `amount`, `currency`, `payment_product`, `payment_product_type`,
  `status` (the spec's upper-case enum, and `PARTIALLY_CAPTURED_REFUNDED` of its newer version)
  and `events`; each event has `id`, `event`, `success`, `amount`, `request_id`,
  `transaction_status`, `created_at`, and for captures and refunds `event_reference` (the
  request's `capture_reference` / `refund_reference`; a void carries none);
- capture, refund and void answer 200 with the transaction, or 202 `TransactionOperationAccepted`
  with the header `event-request-id`: the operation completes later, as an event whose
  `correlation_request_id` is that id (`accepting` below is the test control that makes them);
- a session read has `id`, `created_at`, `order`, `url`, `configuration`, `transaction_id` once
  paid, `events` (`INITIATED`, `AUTHORIZED`, `DECLINED`, `CANCELLED`...) and `cancelled_at` /
  `cancelled_by` once given up; it has no `status` field;
- the callback is a GET to `url.callback_url` (a POST with the transaction in the body when the
  URL carries `method=POST`) with `transaction_id`, `session_id`, `merchant_reference` and `time`;
  a payment that failed is called back only when the URL carries `report_error=true`, with
  `error`; a delivery answered 5xx, 100-101, in over 10 s or not at all is retried (20 times),
  one answered 4xx is not; with a signature secret each carries `Dintero-Signature`
  (`amendments/payments/checkout/signature.py`);
- errors are the spec's `Error` envelope `{"error": {"code", "message", "errors"}}`.

Assumptions, where neither the spec nor Dintero's pages say (each named by its number, which is
also the id of its probe in `amendments/ops/conformance/`: `amend conformance` checks it
against a real test account):
- C1 Without the header `Dintero-Feature-Toggles: strict-session-amounts`, a session whose items
  do not sum to its amount is accepted (the spec says they "should"); with it, it is 400.
- C2 One session yields at most one transaction; paying a used or given-up session is 400.
- C3 A declined payment leaves a `DECLINED` transaction of the amount asked; with
  `report_error=true` its callback carries `error=authorization` and the `transaction_id`.
- C6 Capture <= authorized - captured, refund <= captured - refunded, void only of a transaction
  with nothing captured (the spec lets only some PayEx, Vipps and Klarna types void after a part
  capture; the simulator's cards cannot); a declined or voided transaction takes nothing.
  Operations accepted (202) and not yet completed count as done.
- C8 A customer who gives up leaves the session without a transaction: `cancelled_at` and a
  `CANCELLED` event are set, and with `report_error=true` the callback carries `error=cancelled`
  and no `transaction_id`.
- C9 An operation answered 202 first shows as an `INITIATE_CAPTURE` / `INITIATE_REFUND` /
  `INITIATE_VOID` event whose `request_id` is the `event-request-id` and which carries the
  request's `event_reference`; its final event carries the same `event_reference`.
- C10 The simulator's transactions are card payments, `payment_product: dintero_psp`,
  `payment_product_type: dintero_psp.creditcard`.
(C4, C5 and C7 were settled by the spec: upper-case statuses, `event_reference` on events, the
callback's retries. One deviation is the simulator's on purpose: it calls back `http://` and
local URLs, which Dintero never does, so that a local stack works.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlparse

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from amendments.simulator.base import SimError, bad, now, parse

STRICT_AMOUNTS = "strict-session-amounts"


class _Open(BaseModel):
    """A request body as the spec's schemas read: required fields and types checked, fields it
    does not name accepted."""

    model_config = ConfigDict(extra="allow")


class CheckoutItemIn(_Open):
    id: str | None = None
    line_id: str | None = None
    amount: StrictInt | None = None
    quantity: float | None = None
    description: str | None = None


class CheckoutOrderIn(_Open):
    amount: StrictInt
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    merchant_reference: str
    items: list[CheckoutItemIn] | None = None


class SessionUrlIn(_Open):
    return_url: str = Field(min_length=1)
    callback_url: str | None = None


class SessionIn(_Open):
    profile_id: str
    order: CheckoutOrderIn
    url: SessionUrlIn


class MovedItemIn(_Open):
    amount: StrictInt
    line_id: str


class CaptureIn(_Open):
    amount: StrictInt = Field(ge=0)
    capture_reference: str | None = None
    items: list[MovedItemIn] | None = None


class RefundIn(_Open):
    amount: StrictInt = Field(ge=0)
    reason: str | None = None
    refund_reference: str | None = None
    items: list[MovedItemIn] | None = None


@dataclass
class SessionEvent:
    name: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: str = field(default_factory=now)

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created_at": self.created_at}


@dataclass
class Session:
    id: str
    body: SessionIn
    created_at: str = field(default_factory=now)
    transaction_id: str | None = None
    cancelled_at: str | None = None
    events: list[SessionEvent] = field(default_factory=lambda: [SessionEvent("INITIATED")])

    @property
    def used(self) -> bool:
        return self.transaction_id is not None or self.cancelled_at is not None

    def view(self, base_url: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "created_at": self.created_at,
            "url": self.body.url.model_dump(exclude_none=True),
            "order": self.body.order.model_dump(exclude_none=True),
            "configuration": {},
            "events": [e.view() for e in self.events],
        }
        if self.transaction_id is not None:
            out["transaction_id"] = self.transaction_id
        if self.cancelled_at is not None:
            out["cancelled_at"] = self.cancelled_at
            out["cancelled_by"] = "customer"
        return out

    def page(self, base_url: str) -> str:
        return f"{base_url}/checkout/{self.id}"

    def callback(self) -> tuple[str, str] | None:
        """The method and URL Dintero calls (POST when the URL carries `method=POST`), or None
        when the session has no callback URL."""
        url = self.body.url.callback_url
        if not url:
            return None
        method = parse_qs(urlparse(url).query).get("method", ["GET"])[0].upper()
        return ("POST" if method == "POST" else "GET"), url

    def reports_errors(self) -> bool:
        url = self.body.url.callback_url or ""
        return parse_qs(urlparse(url).query).get("report_error", [""])[0].lower() == "true"


Action = Literal["CAPTURE", "REFUND", "VOID"]


@dataclass
class Event:
    event: str  # AUTHORIZE | CAPTURE | REFUND | VOID | INITIATE_CAPTURE | INITIATE_REFUND...
    amount: int
    success: bool = True
    event_reference: str | None = None
    correlation_request_id: str | None = None
    transaction_status: str = ""
    error: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: str = field(default_factory=now)

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "event": self.event,
            "amount": self.amount,
            "success": self.success,
            "request_id": self.request_id,
            "transaction_status": self.transaction_status,
            "created_at": self.created_at,
        }
        if self.event_reference is not None:
            out["event_reference"] = self.event_reference
        if self.correlation_request_id is not None:
            out["correlation_request_id"] = self.correlation_request_id
        if self.error is not None:
            out["error"] = {"message": self.error}
        return out


@dataclass
class Pending:
    """An operation answered 202 and not completed yet."""

    action: Action
    amount: int
    event_reference: str | None
    request_id: str


@dataclass
class Transaction:
    id: str
    session_id: str
    merchant_reference: str
    amount: int
    currency: str
    declined: bool = False
    events: list[Event] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)

    def total(self, kind: str) -> int:
        done = sum(e.amount for e in self.events if e.event == kind and e.success)
        return done + sum(p.amount for p in self.pending if p.action == kind)

    @property
    def voided(self) -> bool:
        return any(e.event == "VOID" and e.success for e in self.events) or any(
            p.action == "VOID" for p in self.pending
        )

    def status(self) -> str:
        if self.declined:
            return "DECLINED"
        if any(e.event == "VOID" and e.success for e in self.events):
            return "AUTHORIZATION_VOIDED"
        captured = sum(e.amount for e in self.events if e.event == "CAPTURE" and e.success)
        refunded = sum(e.amount for e in self.events if e.event == "REFUND" and e.success)
        if refunded:
            if captured < self.amount:
                return "PARTIALLY_CAPTURED_REFUNDED"
            return "REFUNDED" if refunded >= captured else "PARTIALLY_REFUNDED"
        if captured:
            return "CAPTURED" if captured >= self.amount else "PARTIALLY_CAPTURED"
        return "AUTHORIZED"

    def add(self, event: Event) -> Event:
        self.events.append(event)
        event.transaction_status = self.status()
        self.updated_at = event.created_at
        return event

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "session_id": self.session_id,
            "merchant_reference": self.merchant_reference,
            "amount": self.amount,
            "currency": self.currency,
            "payment_product": "dintero_psp",  # C10
            "payment_product_type": "dintero_psp.creditcard",
            "status": self.status(),
            "events": [e.view() for e in self.events],
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class CheckoutAccount:
    sessions: dict[str, Session] = field(default_factory=dict)
    transactions: dict[str, Transaction] = field(default_factory=dict)


def create_session(
    account: CheckoutAccount, aid: str, body: Any, base_url: str, toggles: str = ""
) -> dict[str, Any]:
    session_in = parse(SessionIn, body)
    order = session_in.order
    items = order.items or []
    if STRICT_AMOUNTS in toggles and items and sum(i.amount or 0 for i in items) != order.amount:
        raise bad("order.items must sum to order.amount (strict-session-amounts)", "order.items")
    session = Session(id=f"{aid}.{uuid.uuid4().hex[:26]}", body=session_in)
    account.sessions[session.id] = session
    return {"id": session.id, "url": session.page(base_url)}


def session_of(account: CheckoutAccount, session_id: str) -> Session:
    found = account.sessions.get(session_id)
    if found is None:
        raise SimError(404, "NOT_FOUND", f"session {session_id} not found")
    return found


def abandon(session: Session) -> None:
    """The customer gives up (C8)."""
    if session.used:
        raise bad(f"session {session.id} is already paid or given up", "session_id")
    session.cancelled_at = now()
    session.events.append(SessionEvent("CANCELLED"))


def transaction_of(account: CheckoutAccount, transaction_id: str) -> Transaction:
    found = account.transactions.get(transaction_id)
    if found is None:
        raise SimError(404, "NOT_FOUND", f"transaction {transaction_id} not found")
    return found


def pay(session: Session, outcome: str, amount: int | None) -> Transaction:
    """The customer pays (or is declined) in the session: its one transaction (C2, C3)."""
    if session.used:
        raise bad(f"session {session.id} is already paid or given up (C2)", "session_id")
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
    )
    transaction.add(Event("AUTHORIZE", asked, success=not declined))
    session.transaction_id = transaction.id
    session.events.append(SessionEvent("DECLINED" if declined else "AUTHORIZED"))
    return transaction


# --- capture, refund, void ----------------------------------------------------------------


@dataclass
class Movement:
    """What a capture, refund or void asks: checked against the money rules (C6) first."""

    action: Action
    amount: int
    event_reference: str | None


def capture_of(transaction: Transaction, body: Any) -> Movement:
    capture_in = parse(CaptureIn, body if body is not None else {})
    _takes_money(transaction)
    left = transaction.amount - transaction.total("CAPTURE")
    _fits(
        "capture", capture_in.amount, left, "what is left to capture", "CAPTURE_EXCEEDS_AUTHORIZED"
    )
    return Movement("CAPTURE", capture_in.amount, capture_in.capture_reference)


def refund_of(transaction: Transaction, body: Any) -> Movement:
    refund_in = parse(RefundIn, body if body is not None else {})
    if transaction.declined:
        raise bad("a declined transaction has nothing to refund", "id", "TRANSACTION_DECLINED")
    left = transaction.total("CAPTURE") - transaction.total("REFUND")
    _fits(
        "refund",
        refund_in.amount,
        left,
        "what is captured and not refunded",
        "REFUND_EXCEEDS_CAPTURED",
    )
    return Movement("REFUND", refund_in.amount, refund_in.refund_reference)


def void_of(transaction: Transaction, body: Any) -> Movement:
    """A void has no body in the spec: one sent is ignored."""
    _takes_money(transaction)
    if transaction.total("CAPTURE"):
        raise bad("a transaction with captures cannot be voided", "id", "VOID_AFTER_CAPTURE")
    return Movement("VOID", transaction.amount, None)


def apply(transaction: Transaction, movement: Movement) -> dict[str, Any]:
    """The movement done at once: its event, and the transaction (200)."""
    transaction.add(
        Event(movement.action, movement.amount, event_reference=movement.event_reference)
    )
    return transaction.view()


def accept(transaction: Transaction, movement: Movement) -> tuple[dict[str, Any], str]:
    """The movement accepted for later (202): its `INITIATE_*` event (C9), and the request id
    the `event-request-id` header carries."""
    initiated = transaction.add(
        Event(
            f"INITIATE_{movement.action}", movement.amount, event_reference=movement.event_reference
        )
    )
    transaction.pending.append(
        Pending(movement.action, movement.amount, movement.event_reference, initiated.request_id)
    )
    return transaction.view(), initiated.request_id


def complete(transaction: Transaction, request_id: str, success: bool) -> None:
    """An accepted movement completes: its final event, `correlation_request_id` set."""
    pending = next((p for p in transaction.pending if p.request_id == request_id), None)
    if pending is None:
        return
    transaction.pending.remove(pending)
    transaction.add(
        Event(
            pending.action,
            pending.amount,
            success=success,
            event_reference=pending.event_reference,
            correlation_request_id=request_id,
            error=None if success else f"the {pending.action.lower()} failed at the acquirer",
        )
    )


def _fits(verb: str, amount: int, left: int, what: str, code: str) -> None:
    if amount > left:
        raise bad(f"{verb} {amount} exceeds {what} ({left})", "amount", code)


def _takes_money(transaction: Transaction) -> None:
    if transaction.declined:
        raise bad("the transaction was declined", "id", "TRANSACTION_DECLINED")
    if transaction.voided:
        raise bad("the transaction is voided", "id", "TRANSACTION_VOIDED")
