"""The domain's input, plan, state and result models: one per workflow, activity, signal and update.

Frozen, `extra="forbid"`, money as `int` minor units (`StrictInt`: "100" and 100.0 are refused).
These are the JSON contracts of "Starting amendments from a backend" (docs/backend.md); `schemas/`
holds their generated JSON Schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    StrictInt,
    model_validator,
)

from amendments.domain import ids
from amendments.domain.base import Model
from amendments.domain.order import RecordItem, RecordKind, TaxLine

SEVEN_DAYS = 7 * 24 * 3600
REFUND_PRODUCT_ID = "amendment-refund"
# A line that carries surplus reserved money: authorized, then cancelled (a payment cancellation,
# Dintero's void), so that the records say how much of an authorization must not be captured.
RELEASE_PRODUCT_ID = "amendment-release"
SETTLING_PRODUCT_IDS = frozenset({REFUND_PRODUCT_ID, RELEASE_PRODUCT_ID})
MAX_LINES = 500

Text = Annotated[str, Field(min_length=1, max_length=1000)]
Identifier = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:\-]+$")]


def _account_id(value: str) -> str:
    if not ids.ACCOUNT_ID.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Dintero account id: T (test) or P (production) and 8 digits, "
            "e.g. T12345678"
        )
    return value


# A Dintero account: T (test) or P (production) and 8 digits (`ids.ACCOUNT_ID`); the schema
# shows the pattern, the check says it in words.
AccountId = Annotated[
    str,
    Field(json_schema_extra={"pattern": ids.ACCOUNT_ID.pattern}),
    AfterValidator(_account_id),
]
Cents = Annotated[StrictInt, Field(ge=-(10**13), le=10**13)]


class TaxLineIn(Model):
    amount: Annotated[StrictInt, Field(ge=0, le=10**13)]
    percentage: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class Reversal(Model):
    """Reverse `quantity` units of an order line (`null`: everything that remains of it)."""

    line_id: Annotated[StrictInt, Field(ge=1)]
    quantity: Annotated[StrictInt, Field(ge=1, le=10**6)] | None = None
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class NewItem(Model):
    """A new order line; its line id is assigned by the planner."""

    id: Annotated[str, Field(min_length=1, max_length=200)]
    quantity: Annotated[StrictInt, Field(ge=1, le=10**6)]
    gross_amount: Annotated[StrictInt, Field(gt=0, le=10**13)]
    tax_lines: tuple[TaxLineIn, ...] = Field(default=(), max_length=10)
    description: Text
    description_alias: Annotated[str, Field(min_length=1, max_length=1000)] | None = None

    @model_validator(mode="after")
    def _tax(self) -> NewItem:
        rates = [t.percentage for t in self.tax_lines]
        if len(set(rates)) != len(rates):
            raise ValueError("tax_lines: each percentage may appear once")
        if sum(t.amount for t in self.tax_lines) > self.gross_amount:
            raise ValueError("tax_lines: the tax amounts add up to more than gross_amount")
        return self


class AmendOrderInput(Model):
    """The `AmendOrder` workflow input (`schemas/amend_order_input.json`)."""

    order_id: Identifier
    amendment_id: Identifier
    reverse: tuple[Reversal, ...] = Field(default=(), max_length=MAX_LINES)
    add: tuple[NewItem, ...] = Field(default=(), max_length=MAX_LINES)
    top_up_timeout_seconds: Annotated[StrictInt, Field(ge=1, le=366 * 24 * 3600)] = SEVEN_DAYS
    # What a top-up not covered in time does: undo the amendment (the default), or fail and stay
    # applied for `amend replay` to wait again.
    on_top_up_timeout: Literal["revert", "fail"] = "revert"
    # Optional: the currency the new prices are in; when given it must be the order's.
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    # Optional: the merchant's Dintero account, one of those the deployment serves; without it
    # the deployment's single (default) account. It is part of the workflow id.
    account_id: AccountId | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> AmendOrderInput:
        if not self.reverse and not self.add:
            raise ValueError("reverse: an amendment must reverse or add at least one line")
        seen: set[int] = set()
        for r in self.reverse:
            if r.line_id in seen:
                raise ValueError(f"reverse: line {r.line_id} is listed more than once")
            seen.add(r.line_id)
        return self

    @property
    def workflow_id(self) -> str:
        return ids.workflow_id(self.order_id, self.account_id)

    @property
    def marker(self) -> str:
        """A short deterministic key of this amendment, for authorization ids (<= 40 chars)."""
        return ids.marker(self.order_id, self.amendment_id)


class PlaceOrderInput(Model):
    """The `PlaceOrder` workflow input: a new order, authorized in full, and captured in full
    unless `capture` is false (a merchant who captures at shipment: the money only reserved)."""

    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    items: tuple[NewItem, ...] = Field(min_length=1, max_length=MAX_LINES)
    payment_id: Annotated[str, Field(min_length=1, max_length=200)]
    capture: StrictBool = True
    account_id: AccountId | None = None  # as `AmendOrderInput.account_id`


class PlacedOrder(Model):
    """The `PlaceOrder` result."""

    order_id: str
    total: int
    captured: bool = True  # False: authorized only (captured at shipment)


class AuthorizationOutcome(Model):
    """Signal and update `authorization_outcome`: a top-up authorization's result."""

    payment_id: Annotated[str, Field(min_length=1, max_length=200)]
    amount: StrictInt
    success: StrictBool


class RevertRequest(Model):
    """Update `revert`: undo a waiting amendment now, for this reason."""

    reason: Annotated[str, Field(min_length=1, max_length=500)]


# --- the plan ----------------------------------------------------------------------------


class PlannedLine(Model):
    """A line of the amendment's draft, in the domain's words."""

    line_id: int
    product_id: str
    quantity: int
    gross_amount: int
    tax_lines: tuple[TaxLine, ...] = ()
    description: str
    description_alias: str | None = None
    reversed_reason: str | None = None
    reverses: int | None = None
    role: Literal["reversal", "new", "refund", "release", "restore"]


class PlannedOperation(Model):
    """One payment record to write: kind, lines and amounts, payment and markers."""

    step: str
    kind: RecordKind
    items: tuple[RecordItem, ...]
    payment_id: str
    success: bool = True
    authorization_id: str | None = None
    # A cancellation that releases all the payment still holds on the order, captured nothing:
    # with Checkout, its transaction is voided first.
    voids_payment: bool = False

    @property
    def amount(self) -> int:
        return sum(item.amount for item in self.items)


class Share(Model):
    line_id: int
    amount: int


class PaymentAllocation(Model):
    """What the amendment does with one payment's money: taken back from the reversed lines,
    moved onto the new lines, and refunded (captured money) or released (reserved money): the
    rest of what was taken back. The `_captured` parts say how much of each was captured (None:
    all of it, as in plans recorded before money could be only reserved)."""

    payment_id: str
    taken_back: tuple[RecordItem, ...] = ()  # per reversal line, positive amounts
    taken_back_captured: tuple[RecordItem, ...] | None = None
    covers: tuple[RecordItem, ...] = ()  # per new line
    covers_captured: tuple[RecordItem, ...] | None = None
    refunded: int = 0
    released: int = 0

    @property
    def taken_back_total(self) -> int:
        return sum(item.amount for item in self.taken_back)

    @property
    def covers_total(self) -> int:
        return sum(item.amount for item in self.covers)

    def captured_of(self, which: Literal["taken_back", "covers"]) -> dict[int, int]:
        """Per line, the captured part of `taken_back` or `covers`."""
        captured = self.taken_back_captured if which == "taken_back" else self.covers_captured
        items = getattr(self, which) if captured is None else captured
        return {item.line_id: item.amount for item in items}


PaymentsMode = Literal["record-only", "dintero-checkout"]


class PaymentLink(Model):
    """The Checkout payment session open for the outstanding top-up: its page for the customer."""

    session_id: str
    url: str
    amount: int
    merchant_reference: str


class Plan(Model):
    """Everything the amendment will write, decided before the first write."""

    order_id: str
    amendment_id: str
    marker: str
    currency: str
    # The oldest payment the amendment moves money of (the order's first payment when it only
    # adds lines); `allocation` has every payment's part.
    payment_id: str | None
    lines: tuple[PlannedLine, ...]
    multiple_authorizations: bool
    reversed_total: int  # R, positive
    new_total: int  # N
    refund_amount: int
    top_up_amount: int
    operations: tuple[PlannedOperation, ...]
    top_up_shares: tuple[Share, ...]  # what each new line still needs from top-ups, in order
    # Which payments adapter moves the money (`amendments/payments/port.py`), as the planning
    # worker was set up; kept in the plan so that a replay takes the same path.
    payments: PaymentsMode = "record-only"
    # Each payment's part, oldest payment first (`amendments/domain/planner.py` says the rule).
    allocation: tuple[PaymentAllocation, ...] = ()
    release_amount: int = 0  # surplus reserved money released (authorized, then cancelled)
    # Whether top-up parts are captured: on an order that was captured and holds nothing only
    # reserved; else (captured at shipment) a top-up is an authorization only.
    top_up_captured: bool = True
    # The Dintero account the order is on, as the planning worker resolved it (the input's, or
    # the deployment's default); every later write goes to it. None in plans made before.
    account_id: str | None = None
    # Each payment's money on the order before the amendment, oldest first: with what the
    # amendment records, what each payment holds now. Empty in plans made before.
    holdings: tuple[PaymentResult, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _allocation_of_earlier_plans(cls, value: Any) -> Any:
        """Plans recorded before money was planned per payment had one payment and no
        `allocation`: it is what their operations say (so a revert of one in flight, or a
        replay, plans per payment like any other)."""
        if not isinstance(value, dict) or "allocation" in value or not value.get("payment_id"):
            return value
        lines = value.get("lines") or ()
        operations = value.get("operations") or ()

        def field(item: Any, name: str) -> Any:
            return item.get(name) if isinstance(item, dict) else getattr(item, name, None)

        roles = {field(line, "line_id"): field(line, "role") for line in lines}
        taken = [
            {"line_id": field(line, "line_id"), "amount": -field(line, "gross_amount")}
            for line in lines
            if field(line, "role") == "reversal"
        ]
        covered_capture = ids.covered_group(1, 1).record("capture")
        covered = next((op for op in operations if field(op, "step") == covered_capture), None)
        covers = [
            {"line_id": field(item, "line_id"), "amount": field(item, "amount")}
            for item in (field(covered, "items") or () if covered is not None else ())
            if roles.get(field(item, "line_id")) == "new"
        ]
        allocation = (
            {
                "payment_id": value["payment_id"],
                "taken_back": taken,
                "covers": covers,
                "refunded": value.get("refund_amount", 0),
            },
        )
        return {**value, "allocation": allocation if taken or covers else ()}

    @property
    def line_ids(self) -> tuple[int, ...]:
        return tuple(line.line_id for line in self.lines)

    @property
    def moves_money(self) -> bool:
        """Whether the payments adapter moves the money (Checkout: before each refund, capture
        or release is recorded, and a top-up collected through a payment session), or another
        system did and only the records are written."""
        return self.payments == "dintero-checkout"

    @property
    def branch(self) -> Literal["even", "refund", "top-up"]:
        """`refund` when the order got cheaper, whether the surplus is refunded or released."""
        if self.refund_amount or self.release_amount:
            return "refund"
        return "top-up" if self.top_up_amount else "even"


class Placement(Model):
    """A new order's plan (`PlaceOrder`): its lines and the records that pay for them."""

    currency: str
    lines: tuple[PlannedLine, ...]
    operations: tuple[PlannedOperation, ...]
    captured: bool

    @property
    def total(self) -> int:
        return sum(line.gross_amount for line in self.lines)


# --- state, results ----------------------------------------------------------------------

AmendmentStatus = Literal[
    "Planning", "Applying", "AwaitingTopUp", "Reverting", "Completed", "Reverted", "Failed"
]
ENDED: frozenset[str] = frozenset({"Completed", "Reverted", "Failed"})
Outcome = Literal["applied", "reverted"]


class RecordedOperation(Model):
    step: str
    kind: RecordKind
    record_id: str
    amount: int
    payment_id: str | None = None
    success: bool = True
    reconciled: bool = False  # found already written by an earlier attempt


class PaymentResult(Model):
    """One payment's money (on a line, or on the whole order)."""

    payment_id: str
    authorized: int
    captured: int
    refunded: int
    cancelled: int = 0

    @property
    def reserved(self) -> int:
        """Authorized, and neither captured nor cancelled."""
        return self.authorized - self.captured - self.cancelled

    @property
    def held(self) -> int:
        """What the payment has paid and still holds: captured minus refunded."""
        return self.captured - self.refunded

    def plus(self, other: PaymentResult) -> PaymentResult:
        """This payment's money with `other`'s added (a change to it)."""
        return self.model_copy(
            update={
                "authorized": self.authorized + other.authorized,
                "captured": self.captured + other.captured,
                "refunded": self.refunded + other.refunded,
                "cancelled": self.cancelled + other.cancelled,
            }
        )


class LineResult(Model):
    line_id: int
    product_id: str
    description: str
    quantity: int
    gross_amount: int
    authorized: int
    captured: int
    refunded: int
    reverses: int | None = None
    payments: tuple[PaymentResult, ...] = ()  # the same, per payment
    cancelled: int = 0  # released: authorized and cancelled (a void), never to be captured


class AmendmentResult(Model):
    order_id: str
    amendment_id: str
    total: int
    lines: tuple[LineResult, ...]
    refund_amount: int = 0
    top_up_amount: int = 0
    already_applied: bool = False
    outcome: Outcome = "applied"
    revert_reason: str | None = None
    payments: tuple[PaymentResult, ...] = ()  # the order's money per payment, oldest first


Disposition = Literal["recorded", "declined", "duplicate", "ignored", "failed"]


class OutcomeSeen(Model):
    """How one `authorization_outcome` was taken. `recorded`: a success, authorized and captured;
    `declined`: recorded as a declined authorization; `duplicate`: that payment already
    succeeded; `ignored`: not taken, `note` says why (a malformed payload names its field);
    `failed`: its write failed and the amendment failed with it. A malformed payload keeps what
    could be read of it (`None` where a field was missing or of the wrong type)."""

    payment_id: str | None
    amount: int | None
    success: bool | None
    disposition: Disposition
    note: str = ""
    via: Literal["signal", "update"] = "signal"


class AmendmentState(Model):
    """The `state` query's answer."""

    order_id: str
    amendment_id: str
    status: AmendmentStatus
    step: str
    plan: Plan | None = None
    operations: tuple[RecordedOperation, ...] = ()
    top_up_outstanding: int = 0
    outcomes: tuple[OutcomeSeen, ...] = ()
    error: str | None = None
    revert_reason: str | None = None
    payment_link: PaymentLink | None = None  # PAYMENTS=dintero-checkout, while a session is open


# --- what planning decides --------------------------------------------------------------


class Planned(Model):
    """The amendment is not on the order yet: here is everything it will write."""

    kind: Literal["planned"] = "planned"
    plan: Plan


class AlreadyApplied(Model):
    """The amendment's records are on the order already (applied or reverted): its result."""

    kind: Literal["already_applied"] = "already_applied"
    result: AmendmentResult


class PlanOutcome(RootModel[Annotated[Planned | AlreadyApplied, Field(discriminator="kind")]]):
    """What planning decided: `Planned` or `AlreadyApplied` (a tagged union, in `root`). A root
    model, not a bare union: the SDK reads an activity's return type without `Annotated`."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _from_earlier_shape(cls, value: Any) -> Any:
        """Histories recorded before the tagged union hold `{"plan": ...}` or
        `{"already_applied": ...}` (with a `planned_in_run` nobody read): they keep replaying."""
        if isinstance(value, dict) and "kind" not in value:
            if value.get("already_applied") is not None:
                return {"kind": "already_applied", "result": value["already_applied"]}
            return {"kind": "planned", "plan": value.get("plan")}
        return value
