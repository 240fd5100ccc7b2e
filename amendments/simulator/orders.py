"""The simulator's records of Dintero's Orders API: the request bodies it accepts (strict:
unknown fields are refused, A1) and what it stores, each with the JSON Dintero answers for it
(`view`): drafts, orders and their lines, payment records, and an account's share of them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, StrictBool, StrictInt

from amendments.simulator.base import Strict, now
from amendments.simulator.checkout import CheckoutAccount

# --- request bodies the simulator accepts (strict: unknown fields are refused) -------------


class TaxLineIn(Strict):
    amount: StrictInt
    percentage: float = Field(ge=0, le=100)


class RelatedItemIn(Strict):
    line_id: StrictInt
    type: str


class ItemIn(Strict):
    id: str = Field(min_length=1, max_length=200)
    line_id: StrictInt = Field(ge=1)
    quantity: StrictInt = Field(ge=1)
    gross_amount: StrictInt
    tax_lines: list[TaxLineIn] = Field(default_factory=list)
    description: str = Field(default="", max_length=1000)
    description_alias: str | None = Field(default=None, max_length=1000)
    reversed_reason: str | None = Field(default=None, max_length=1000)
    related_item: RelatedItemIn | None = None


class OptionsIn(Strict):
    generate_order_id: str | None = None
    order_id: str | None = None
    multiple_authorizations: bool | None = None


class OrderIn(Strict):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    items: list[ItemIn] = Field(min_length=1)


class DraftIn(Strict):
    options: OptionsIn = Field(default_factory=OptionsIn)
    order: OrderIn


class OpItemIn(Strict):
    line_id: StrictInt
    amount: StrictInt


class PaymentDetailsIn(Strict):
    payment_id: str = Field(min_length=1, max_length=200)


class OperationIn(Strict):
    items: list[OpItemIn] = Field(min_length=1)
    payment_details: PaymentDetailsIn | None = None
    success: StrictBool
    authorization_id: str | None = Field(default=None, min_length=1, max_length=40)
    metadata: dict[str, str] | None = None
    processed_at: str | None = None
    processed_by: str | None = None


# --- stored state ------------------------------------------------------------------------


@dataclass
class Line:
    item: ItemIn
    multiple_authorizations: bool

    @property
    def sign(self) -> int:
        return (self.item.gross_amount > 0) - (self.item.gross_amount < 0)


@dataclass
class Draft:
    id: str
    options: OptionsIn
    order: OrderIn
    status: str = "open"
    created_at: str = field(default_factory=now)
    reserved_order_id: str | None = None

    def view(self) -> dict[str, Any]:
        reserved = {"order_id": self.reserved_order_id} if self.reserved_order_id else {}
        return {
            "id": self.id,
            "status": self.status,
            **reserved,
            "created_at": self.created_at,
            "options": self.options.model_dump(exclude_none=True),
            "order": {
                "currency": self.order.currency,
                "gross_amount": sum(i.gross_amount for i in self.order.items),
                "items": [i.model_dump(exclude_none=True) for i in self.order.items],
            },
        }


@dataclass
class Operation:
    kind: str  # authorization | capture | refund | cancellation
    body: OperationIn
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: str = field(default_factory=now)

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "created_at": self.created_at,
            "items": [i.model_dump() for i in self.body.items],
            "amount": sum(i.amount for i in self.body.items),
            "success": self.body.success,
        }
        if self.body.payment_details is not None:
            out["payment_details"] = self.body.payment_details.model_dump()
        if self.body.authorization_id is not None:
            out["authorization_id"] = self.body.authorization_id
        if self.body.metadata is not None:
            out["metadata"] = dict(self.body.metadata)
        return out


@dataclass
class Order:
    order_id: str
    currency: str
    lines: dict[int, Line] = field(default_factory=dict)
    operations: list[Operation] = field(default_factory=list)
    status: str = "open"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)

    def ops(self, kind: str, *, successful: bool = True) -> list[Operation]:
        return [o for o in self.operations if o.kind == kind and (o.body.success or not successful)]

    def totals(self, kind: str) -> dict[tuple[int, str | None], int]:
        """Successful amounts per (line_id, authorization_id)."""
        out: dict[tuple[int, str | None], int] = defaultdict(int)
        for op in self.ops(kind):
            for item in op.body.items:
                out[(item.line_id, op.body.authorization_id)] += item.amount
        return out

    def line_total(self, kind: str, line_id: int) -> int:
        return sum(v for (lid, _), v in self.totals(kind).items() if lid == line_id)

    @property
    def gross_amount(self) -> int:
        return sum(line.item.gross_amount for line in self.lines.values())

    def payment_status(self) -> str:
        captured = sum(self.totals("capture").values())
        refunded = sum(self.totals("refund").values())
        if refunded > 0:
            return "refunded" if refunded >= captured else "partially_refunded"
        if not self.ops("capture"):
            return "pending"
        return "paid" if captured >= self.gross_amount else "partially_paid"

    def view(self) -> dict[str, Any]:
        items = [line.item.model_dump(exclude_none=True) for line in self.lines.values()]
        return {
            "id": self.id,
            "order_id": self.order_id,
            "currency": self.currency,
            "status": self.status,
            "payment_status": self.payment_status(),
            "gross_amount": self.gross_amount,
            "net_amount": self.gross_amount
            - sum(t.amount for line in self.lines.values() for t in line.item.tax_lines),
            "items": items,
            "authorizations": [o.view() for o in self.ops("authorization", successful=False)],
            "cancellations": [o.view() for o in self.ops("cancellation", successful=False)],
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class Account:
    drafts: dict[str, Draft] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)
    checkout: CheckoutAccount = field(default_factory=CheckoutAccount)
