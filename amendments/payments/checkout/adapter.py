"""`PAYMENTS=dintero-checkout`: the payments port (`amendments/payments/port.py`) over Dintero
Checkout. A refund is made on the transaction that paid the reversed lines before it is
recorded; a top-up is collected through a payment session (a link for the customer) whose
callback the receiver (`receiver.py`) turns into an `authorization_outcome` (or, for a session
given up, `payment_session_ended`), and each authorized transaction is captured here before the
capture is recorded; a revert refunds what was captured and voids what was authorized too late.

Checkout documents no idempotency key either, so each capture and refund carries a reference
derived from the workflow id, the amendment id and the step (never the run id;
`amendments/domain/ids.py`), and a retried or reset write reads the transaction's events for it
(the spec's `event_reference`) first, exactly as the Orders writes look for their metadata; a
void, which has no body in the spec, is found by the transaction's status.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from amendments.dintero.errors import OperationPending
from amendments.domain import ids
from amendments.domain.models import PaymentLink, PaymentsMode
from amendments.payments.checkout.client import CheckoutClient, MoveAnswer, MovingEvent, Transaction
from amendments.payments.port import Moved, PaymentsRefused

# How long one activity attempt waits for an operation Checkout accepted (202) to complete, well
# inside the activities' 15 s start-to-close with the request before it; then the attempt fails
# as `OperationPending` and the retry waits again.
ACCEPTED_WAIT = timedelta(seconds=3)


class DinteroCheckout:
    """`PAYMENTS=dintero-checkout`, as Dintero's Checkout spec describes it: a write is found by
    the `event_reference` its event carries (a void by the transaction's status and its `VOID`
    event: a void carries no reference), and an operation answered 202 is waited for by reading
    the transaction until the event whose `correlation_request_id` is the accepted request's
    id: its success is the write's, its failure a refusal. The wait is bounded in an attempt
    (`ACCEPTED_WAIT`); past it the attempt fails as `OperationPending` and Temporal's retry,
    reconciling, finds the accepted operation and waits again."""

    mode: PaymentsMode = "dintero-checkout"

    def __init__(
        self, client: CheckoutClient, callback_base_url: str, account_id: str | None = None
    ) -> None:
        self.client = client
        self.callback_base_url = callback_base_url.rstrip("/")
        # The callback URL names the account (callbacks are signed per account), so that a
        # receiver serving several accounts checks each with its own secret.
        path = ids.callback_path(account_id) if account_id is not None else ids.CALLBACK_PATH
        self.callback_url = f"{self.callback_base_url}{path}?report_error=true"

    async def open_session(
        self, *, reference: str, amount: int, currency: str, order_id: str
    ) -> PaymentLink:
        """A payment page for `amount`. Not reconciled: a session nobody was shown (its answer
        lost, then made again) is never paid, and expires. Its callback URL asks for failures
        too (`report_error=true`: without it the spec's Checkout calls back only payments)."""
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
            return_url=self.callback_base_url + ids.RETURN_PATH,
            callback_url=self.callback_url,
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
        answer = await self.client.capture(transaction_id, amount, reference)
        return await self._made(answer, "CAPTURE", reference)

    async def refund(
        self, transaction_id: str, amount: int, reference: str, reason: str, *, reconcile: bool
    ) -> Moved:
        if reconcile:
            found = await self._landed(transaction_id, "REFUND", reference)
            if found is not None:
                return found
        answer = await self.client.refund(transaction_id, amount, reference, reason)
        return await self._made(answer, "REFUND", reference)

    async def void(self, transaction_id: str) -> Moved | None:
        """Void an authorization nothing was captured on; None when there is nothing to void
        (captured or declined). A void already made (its answer lost, or accepted and then
        completed) is found by the transaction's status, one under way by its `INITIATE_VOID`
        event: a void carries no reference."""
        transaction = await self.client.get_transaction(transaction_id)
        voided = _void_found(transaction)
        if voided is not None:
            return voided
        under_way = _under_way(transaction, "VOID", None)
        if under_way is not None:
            return await self._completed(transaction_id, "VOID", under_way, reconciled=True)
        if transaction.state != "AUTHORIZED":
            return None
        answer = await self.client.void(transaction_id)
        if answer.accepted_request_id is not None:
            return await self._completed(transaction_id, "VOID", answer.accepted_request_id)
        made = _void_found(answer.transaction)
        if made is None:
            raise PaymentsRefused(
                f"Checkout answered the void of {transaction_id} without voiding it "
                f"(status {answer.transaction.status})"
            )
        return made.model_copy(update={"reconciled": False})

    async def _landed(
        self, transaction_id: str, event: MovingEvent, reference: str
    ) -> Moved | None:
        """A write found on the transaction: done (its event with our reference, or the one
        completing an accepted request of ours), or accepted and under way (waited for); None
        when it never landed, or landed and failed (then it is made again: a replay after a
        failed completion tries once more)."""
        transaction = await self.client.get_transaction(transaction_id)
        found = transaction.moved(event, reference)
        if found is not None:
            return Moved(
                transaction_id=transaction_id,
                event=event,
                amount=int(found.amount),
                reconciled=True,
            )
        for initiated in transaction.initiated(event, reference):
            done = transaction.completion(initiated.request_id or "")
            if done is not None and done.success:
                return Moved(
                    transaction_id=transaction_id,
                    event=event,
                    amount=int(done.amount),
                    reconciled=True,
                )
        under_way = _under_way(transaction, event, reference)
        if under_way is not None:
            return await self._completed(transaction_id, event, under_way, reconciled=True)
        return None  # never made, or made and failed: make it (again)

    async def _made(self, answer: MoveAnswer, event: MovingEvent, reference: str) -> Moved:
        transaction = answer.transaction
        if answer.accepted_request_id is not None:
            return await self._completed(transaction.id, event, answer.accepted_request_id)
        found = transaction.moved(event, reference)
        if found is None:
            raise PaymentsRefused(
                f"Checkout answered the {event.lower()} of {transaction.id} without it "
                f"(status {transaction.status})"
            )
        return Moved(transaction_id=transaction.id, event=event, amount=int(found.amount))

    async def _completed(
        self, transaction_id: str, event: MovingEvent, request_id: str, *, reconciled: bool = False
    ) -> Moved:
        """Wait for an accepted operation's completion (its `correlation_request_id` event),
        reading the transaction with a short backoff, at most `ACCEPTED_WAIT` in this attempt."""
        if not request_id:
            raise PaymentsRefused(
                f"Checkout accepted the {event.lower()} of {transaction_id} (202) without an "
                "event-request-id to follow it by"
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ACCEPTED_WAIT.total_seconds()
        delay = 0.1
        while True:
            transaction = await self.client.get_transaction(transaction_id)
            done = transaction.completion(request_id)
            if done is not None:
                if not done.success:
                    raise PaymentsRefused(
                        f"Checkout could not complete the {event.lower()} of {transaction_id} "
                        f"it had accepted (request {request_id})"
                    )
                return Moved(
                    transaction_id=transaction_id,
                    event=event,
                    amount=int(done.amount),
                    reconciled=reconciled,
                )
            if loop.time() + delay > deadline:
                raise OperationPending(
                    f"Checkout accepted the {event.lower()} of {transaction_id} (request "
                    f"{request_id}) and has not completed it yet",
                    retry_after=1.0,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


def _under_way(transaction: Transaction, event: MovingEvent, reference: str | None) -> str | None:
    """The request id of an operation accepted and not completed yet, if there is one."""
    for initiated in transaction.initiated(event, reference):
        if transaction.completion(initiated.request_id or "") is None:
            return initiated.request_id
    return None


def _void_found(transaction: Transaction) -> Moved | None:
    if transaction.state != "AUTHORIZATION_VOIDED" and transaction.total("VOID") == 0:
        return None
    return Moved(
        transaction_id=transaction.id,
        event="VOID",
        amount=transaction.total("VOID") or transaction.amount,
        reconciled=True,
    )
