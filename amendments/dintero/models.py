"""Wire models of the Dintero Orders ("Shopping") API: the JSON the client sends and receives.

These mirror Dintero's field names and nothing else; domain decisions live in
`amendments.domain`. Request models forbid unknown fields so that a typo never reaches the
API; response models ignore fields they do not know, since Dintero adds fields over time.
Amounts are integers in minor units; reversal lines carry negative amounts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TaxLine(_Request):
    amount: StrictInt
    percentage: float = Field(ge=0, le=100)


class RelatedItem(_Request):
    line_id: StrictInt
    type: Literal["reversed"] = "reversed"


class OrderItem(_Request):
    """An order line as sent in a draft and as returned on an order."""

    id: str = Field(min_length=1, max_length=200)
    line_id: StrictInt = Field(ge=1)
    quantity: StrictInt = Field(ge=1)
    gross_amount: StrictInt
    tax_lines: list[TaxLine] = Field(default_factory=list)
    description: str = Field(default="", max_length=1000)
    description_alias: str | None = Field(default=None, max_length=1000)
    reversed_reason: str | None = Field(default=None, max_length=1000)
    related_item: RelatedItem | None = None


class DraftOptions(_Request):
    generate_order_id: Literal["ALPHANUMERIC_9", "ALPHANUMERIC_9_RESERVE"] | None = None
    order_id: str | None = None
    multiple_authorizations: bool | None = None


class DraftOrderBody(_Request):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    items: list[OrderItem]


class DraftOrderCreate(_Request):
    options: DraftOptions = Field(default_factory=DraftOptions)
    order: DraftOrderBody

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class PaymentDetails(_Request):
    payment_id: str = Field(min_length=1, max_length=200)


class OperationItem(_Request):
    line_id: StrictInt
    amount: StrictInt


class PaymentOperationCreate(_Request):
    """The body of POST .../authorizations, .../captures, .../refunds and .../cancellations."""

    items: list[OperationItem] = Field(min_length=1)
    payment_details: PaymentDetails | None = None
    success: StrictBool = True
    authorization_id: str | None = Field(default=None, min_length=1, max_length=40)
    metadata: dict[str, str] | None = None

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


# --- responses ---------------------------------------------------------------------------


class TaxLineOut(_Response):
    amount: int
    percentage: float


class RelatedItemOut(_Response):
    line_id: int
    type: str


class OrderItemOut(_Response):
    id: str
    line_id: int
    quantity: int
    gross_amount: int
    tax_lines: list[TaxLineOut] = Field(default_factory=list)
    description: str = ""
    description_alias: str | None = None
    reversed_reason: str | None = None
    related_item: RelatedItemOut | None = None


class PaymentDetailsOut(_Response):
    payment_id: str | None = None


class OperationItemOut(_Response):
    line_id: int
    amount: int


class PaymentOperation(_Response):
    id: str
    items: list[OperationItemOut]
    amount: int
    success: bool
    payment_details: PaymentDetailsOut | None = None
    authorization_id: str | None = None
    metadata: dict[str, str] | None = None
    created_at: str | None = None


class DraftOptionsOut(_Response):
    order_id: str | None = None
    generate_order_id: str | None = None
    multiple_authorizations: bool | None = None


class DraftOrderBodyOut(_Response):
    currency: str
    items: list[OrderItemOut]
    gross_amount: int | None = None


class DraftOrder(_Response):
    id: str
    status: str
    order_id: str | None = None  # the reserved order id (generate_order_id ALPHANUMERIC_9_RESERVE)
    options: DraftOptionsOut = Field(default_factory=DraftOptionsOut)
    order: DraftOrderBodyOut
    created_at: str | None = None


class DraftOrderList(_Response):
    draft_orders: list[DraftOrder]


class Order(_Response):
    id: str
    order_id: str
    currency: str
    status: str
    payment_status: str
    items: list[OrderItemOut]
    gross_amount: int
    authorizations: list[PaymentOperation] = Field(default_factory=list)
    cancellations: list[PaymentOperation] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None


class CompletedDraft(_Response):
    orders: list[Order]


class AuthorizationList(_Response):
    authorizations: list[PaymentOperation]


class CaptureList(_Response):
    captures: list[PaymentOperation]


class RefundList(_Response):
    refunds: list[PaymentOperation]


class AccessToken(_Response):
    access_token: str
    token_type: str
    expires_in: int
