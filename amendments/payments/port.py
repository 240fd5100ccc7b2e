"""The payments port: who moves the money the Orders API records. Chosen by `PAYMENTS`.

- `record-only` (the default, `RecordOnly`): nobody here. The product records on the order what
  another system did (a refund paid out elsewhere, top-up outcomes signalled by the merchant's
  backend), and none of the methods below is ever called (the plan schedules no payments
  activity: `Plan.moves_money`).
- `dintero-checkout` (`checkout/adapter.py`): Dintero Checkout executes it.

A write that moves money is found again by a retry or a reset: each capture and refund carries a
reference derived from the workflow id, the amendment id and the step (never the run id;
`amendments/domain/ids.py`), which the adapter looks for before it writes.
"""

from __future__ import annotations

from typing import Protocol

from amendments.domain.base import Model
from amendments.domain.models import PaymentLink, PaymentsMode
from amendments.payments.checkout.client import MovingEvent


class PaymentsRefused(RuntimeError):
    """Checkout refused a money movement (its message), or the adapter cannot make it."""


class Moved(Model):
    transaction_id: str
    event: MovingEvent
    amount: int
    reconciled: bool = False  # a retry found it already made


class Payments(Protocol):
    mode: PaymentsMode

    async def open_session(
        self, *, reference: str, amount: int, currency: str, order_id: str
    ) -> PaymentLink: ...

    async def capture(
        self, transaction_id: str, amount: int, reference: str, *, reconcile: bool
    ) -> Moved: ...

    async def refund(
        self, transaction_id: str, amount: int, reference: str, reason: str, *, reconcile: bool
    ) -> Moved: ...

    async def void(self, transaction_id: str) -> Moved | None: ...


class RecordOnly:
    """`PAYMENTS=record-only`: moves nothing; being asked to is a wiring error."""

    mode: PaymentsMode = "record-only"

    def _refuse(self) -> PaymentsRefused:
        return PaymentsRefused("PAYMENTS=record-only moves no money; set PAYMENTS=dintero-checkout")

    async def open_session(
        self, *, reference: str, amount: int, currency: str, order_id: str
    ) -> PaymentLink:
        raise self._refuse()

    async def capture(
        self, transaction_id: str, amount: int, reference: str, *, reconcile: bool
    ) -> Moved:
        raise self._refuse()

    async def refund(
        self, transaction_id: str, amount: int, reference: str, reason: str, *, reconcile: bool
    ) -> Moved:
        raise self._refuse()

    async def void(self, transaction_id: str) -> Moved | None:
        raise self._refuse()
