"""One input and one result model per activity. `reconcile` asks a write to look for itself first
(set by a workflow running in a reset run; retried attempts reconcile on their own). `account_id`
is the Dintero account the call goes to (None, as in runs scheduled before accounts were named:
the deployment's default account)."""

from __future__ import annotations

from amendments.domain.base import Model
from amendments.domain.models import (
    AmendOrderInput,
    Outcome,
    PlannedLine,
    PlannedOperation,
)


class PlanRequest(Model):
    amendment: AmendOrderInput


class NewDraftInput(Model):
    order_id: str | None  # None: a new order (PlaceOrder), with a reserved generated order id
    currency: str
    lines: tuple[PlannedLine, ...]
    multiple_authorizations: bool = False
    reconcile: bool = False
    account_id: str | None = None  # None: the deployment's default account


class DraftRef(Model):
    draft_id: str | None
    order_id: str | None
    completed: bool = False
    reconciled: bool = False


class CompleteDraftInput(Model):
    draft_id: str
    order_id: str | None
    reconcile: bool = False
    account_id: str | None = None  # None: the deployment's default account


class RecordInput(Model):
    order_id: str
    amendment_id: str
    operation: PlannedOperation
    reconcile: bool = False
    account_id: str | None = None  # None: the deployment's default account


class VerifyInput(Model):
    order_id: str
    amendment_id: str
    refund_amount: int = 0
    top_up_amount: int = 0
    outcome: Outcome = "applied"
    revert_reason: str | None = None
    account_id: str | None = None  # None: the deployment's default account


class SessionInput(Model):
    order_id: str
    workflow_id: str
    amendment_id: str
    number: int  # the amendment's n-th payment session
    amount: int
    currency: str
    account_id: str | None = None  # None: the deployment's default account


class MoveInput(Model):
    transaction_id: str
    amount: int
    reference: str  # looked for on the transaction's events by a retried write
    reason: str = ""
    reconcile: bool = False
    account_id: str | None = None  # None: the deployment's default account


class VoidInput(Model):
    transaction_id: str
    # A void has no body and no reference in Checkout's spec; runs scheduled before still send
    # one, and it is not used.
    reference: str = ""
    account_id: str | None = None  # None: the deployment's default account
