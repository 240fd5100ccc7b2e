"""The payments port: who moves the money the Orders API records. Chosen by `PAYMENTS`.

- `record-only` (the default): nobody here. The product records on the order what another
  system did (a refund paid out elsewhere, top-up outcomes signalled by the merchant's backend),
  and none of the methods below is ever called (the workflow schedules no payments activity).
- `dintero-checkout`: Dintero Checkout executes it. A refund is made on the transaction that
  paid the reversed lines before it is recorded; a top-up is collected through a payment session
  (a link for the customer) whose callback the receiver (`amendments/callbacks.py`) turns into
  an `authorization_outcome` (or, for a session given up, `payment_session_ended`), and each
  authorized transaction is captured here before the capture is recorded; a revert refunds what
  was captured and voids what was authorized too late.

Checkout documents no idempotency key either, so each write carries a reference derived from
the workflow id, the amendment id and the step (never the run id; `amendments/domain/ids.py`),
and a retried or reset write reads the transaction's events for it first, exactly as the Orders
writes look for their metadata.
"""

from __future__ import annotations

from typing import Protocol

from amendments.dintero.checkout import CheckoutClient, MovingEvent, Transaction
from amendments.domain.base import Model
from amendments.domain.models import PaymentLink, PaymentsMode

CALLBACK_PATH = "/callbacks/dintero"
RETURN_PATH = "/callbacks/dintero/return"


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

    async def void(self, transaction_id: str, reference: str) -> Moved | None: ...


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

    async def void(self, transaction_id: str, reference: str) -> Moved | None:
        raise self._refuse()


class DinteroCheckout:
    """`PAYMENTS=dintero-checkout`."""

    mode: PaymentsMode = "dintero-checkout"

    def __init__(self, client: CheckoutClient, callback_base_url: str) -> None:
        self.client = client
        self.callback_base_url = callback_base_url.rstrip("/")

    async def open_session(
        self, *, reference: str, amount: int, currency: str, order_id: str
    ) -> PaymentLink:
        """A payment page for `amount`. Not reconciled: a session nobody was shown (its answer
        lost, then made again) is never paid, and expires."""
        created = await self.client.create_session(
            amount=amount,
            currency=currency,
            merchant_reference=reference,
            items=[
                {
                    "id": "amendment-top-up",
                    "line_id": "1",
                    "amount": amount,
                    "quantity": 1,
                    "description": f"Top-up for order {order_id}",
                }
            ],
            return_url=self.callback_base_url + RETURN_PATH,
            callback_url=self.callback_base_url + CALLBACK_PATH,
        )
        return PaymentLink(
            session_id=created.id, url=created.url, amount=amount, merchant_reference=reference
        )

    async def capture(
        self, transaction_id: str, amount: int, reference: str, *, reconcile: bool
    ) -> Moved:
        if reconcile:
            found = await self._landed(transaction_id, "CAPTURE", reference)
            if found is not None:
                return found
        moved = await self.client.capture(transaction_id, amount, reference)
        return self._made(moved, "CAPTURE", reference)

    async def refund(
        self, transaction_id: str, amount: int, reference: str, reason: str, *, reconcile: bool
    ) -> Moved:
        if reconcile:
            found = await self._landed(transaction_id, "REFUND", reference)
            if found is not None:
                return found
        moved = await self.client.refund(transaction_id, amount, reference, reason)
        return self._made(moved, "REFUND", reference)

    async def void(self, transaction_id: str, reference: str) -> Moved | None:
        """Void an authorization nothing was captured on; None when there is nothing to void
        (captured, declined or voided already)."""
        transaction = await self.client.get_transaction(transaction_id)
        if transaction.state != "AUTHORIZED":
            return None
        moved = await self.client.void(transaction_id, reference)
        return self._made(moved, "VOID", reference)

    async def _landed(
        self, transaction_id: str, event: MovingEvent, reference: str
    ) -> Moved | None:
        transaction = await self.client.get_transaction(transaction_id)
        found = transaction.moved(event, reference)
        if found is None:
            return None
        return Moved(
            transaction_id=transaction_id, event=event, amount=found.amount, reconciled=True
        )

    @staticmethod
    def _made(transaction: Transaction, event: MovingEvent, reference: str) -> Moved:
        found = transaction.moved(event, reference)
        if found is None:
            raise PaymentsRefused(
                f"Checkout answered the {event.lower()} of {transaction.id} without it "
                f"(status {transaction.status})"
            )
        return Moved(transaction_id=transaction.id, event=event, amount=found.amount)
