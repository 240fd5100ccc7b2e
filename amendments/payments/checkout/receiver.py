"""The Checkout callback receiver (`amend callbacks`): Dintero's callback, turned into an
`authorization_outcome` for the amendment whose payment session was paid.

It serves every account of the deployment: each payment session's callback URL names its account
(`/callbacks/dintero/{account_id}`; the bare `/callbacks/dintero` is the default account's, as
sessions made before accounts were named call it), and the account's side of it (`Merchant`:
its Checkout client, with its token, and its signature secret) answers. An account the receiver
does not serve is a 404 before anything else.

It never trusts the callback's query parameters. For `GET|POST /callbacks/dintero/{account_id}?
transaction_id=&session_id=&merchant_reference=...` it reads the transaction from Checkout with
the account's token, and signals only when the transaction's own session and merchant reference
are the callback's, the reference is one of ours (`amend-{order}/{amendment}/{n}`), that
amendment is running and waiting on exactly that session, and the currency is the plan's and the
amount at most the session's. Then it signals `authorization_outcome` (payment_id = the
transaction id, the transaction's amount, success unless it was declined) and answers 200 at
once: the workflow records it (a duplicate of a recorded payment is answered `duplicate` there,
so Dintero's retries are harmless).

A callback without a transaction but with `error` (the customer gave up: the spec calls back
failures when the URL says `report_error=true`, which the product's does) is checked against
the session in Checkout (`cancelled_at` or a `CANCELLED` event, no transaction, our reference,
the session the amendment waits on) and signalled as `payment_session_ended`: the amendment
opens a fresh session. A declined payment's callback carries its transaction, which is read and
signalled as a declined outcome.

With the account's signature secret set (`DINTERO_SIGNATURE_SECRET`, or the accounts file's
`signature_secret`), a callback must first carry a valid `Dintero-Signature`
(`amendments/payments/checkout/signature.py`), computed over the public URL Dintero called
(`CALLBACK_BASE_URL` and the path, not the Host a proxy passes on) with the account id: one
missing, wrong (another account's secret, or a callback sent to another account's URL) or more
than five minutes off is answered 401 before anything is read from Checkout. The signature does
not cover a body, so the transaction is still read back.

Answers: 200 signalled, or nothing left to do (the payment was taken already; an authorization
for an amendment no longer waiting is voided, so no money stays held); 400 a parameter that
does not match the transaction, a reference that is not ours, a currency or amount that does not
match; 404 a transaction Checkout does not know for this account; 409 an amendment that is not
waiting for this session; 502 Checkout failing; 503 Temporal unreachable (Dintero retries
both). Nothing logged carries a token or a secret.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from amendments.dintero.errors import DinteroError, NotFound
from amendments.domain import ids
from amendments.domain.models import AmendmentState, AuthorizationOutcome
from amendments.payments.checkout import signature
from amendments.payments.checkout.client import CheckoutClient, Transaction

log = logging.getLogger("amendments.payments.checkout.receiver")
DECLINED = {"DECLINED", "FAILED", "AUTHORIZATION_VOIDED"}


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Signing:
    """What a callback's signature is checked with: the secret, the account it is for, and the
    public address Dintero calls (`CALLBACK_BASE_URL`)."""

    secret: SecretStr
    account_id: str
    public_base_url: str


@dataclass(frozen=True)
class Merchant:
    """One account's side of the receiver: its Checkout client (with the account's token) and,
    once the merchant has a signature secret, the check of its callbacks."""

    account_id: str | None
    checkout: CheckoutClient
    signing: Signing | None = None


class Merchants(Protocol):
    """The accounts the receiver serves: `get(None)` is the default account (the bare path)."""

    def get(self, account_id: str | None) -> Merchant | None: ...


@dataclass(frozen=True)
class OneMerchant:
    """A deployment of one account, served on the bare path and on its account's."""

    merchant: Merchant

    def get(self, account_id: str | None) -> Merchant | None:
        if account_id is None or self.merchant.account_id in (None, account_id):
            return self.merchant  # (an account not named: its token's, whichever the path says)
        return None


def callback_app(
    temporal: Client,
    checkout: CheckoutClient | Merchants,
    signing: Signing | None = None,
) -> Starlette:
    """The receiver's app: for one account (`checkout`, `signing`), or for `Merchants`."""
    merchants = (
        OneMerchant(Merchant(signing.account_id if signing else None, checkout, signing))
        if isinstance(checkout, CheckoutClient)
        else checkout
    )
    receiver = Receiver(temporal, merchants)
    methods = ["GET", "POST"]
    return Starlette(
        routes=[
            Route(ids.CALLBACK_PATH, receiver.callback, methods=methods),
            Route(ids.RETURN_PATH, receiver.returned, methods=["GET"]),
            Route(ids.callback_path("{account_id}"), receiver.callback, methods=methods),
            Route("/healthz", receiver.health, methods=["GET"]),
        ]
    )


class Receiver:
    def __init__(self, temporal: Client, merchants: Merchants) -> None:
        self.temporal = temporal
        self.merchants = merchants

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def returned(self, request: Request) -> Response:
        """Where the customer's browser lands after paying (Checkout's `return_url`)."""
        return HTMLResponse("<p>Thank you. Your payment is being processed.</p>")

    async def callback(self, request: Request) -> Response:
        params = request.query_params
        account_id = request.path_params.get("account_id")
        merchant = self.merchants.get(account_id)
        if merchant is None:
            log.warning("callback refused (404): account %s is not served here", account_id)
            return JSONResponse(
                {"error": f"account {account_id} is not served here"}, status_code=404
            )
        try:
            self._signed(request, merchant)
            answer = await self._take(
                merchant,
                params.get("transaction_id", ""),
                params.get("session_id", ""),
                params.get("merchant_reference", ""),
                params.get("error", ""),
            )
        except Refused as exc:
            log.warning("callback refused (%s): %s", exc.status, exc.reason)
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        log.info("callback %s: %s", params.get("transaction_id"), answer["result"])
        return JSONResponse(answer)

    def _signed(self, request: Request, merchant: Merchant) -> None:
        """With the account's signature secret: the callback's signature holds, or a 401 (before
        any Checkout read). The URL signed is the public one Dintero called."""
        signing = merchant.signing
        if signing is None:
            return
        public = signing.public_base_url.rstrip("/") + request.url.path
        try:
            signature.verify(
                request.headers.get(signature.HEADER),
                secret=signing.secret.get_secret_value(),
                account_id=signing.account_id,
                method=request.method,
                url=public,
                params=request.query_params.multi_items(),
                now=time.time(),
            )
        except signature.SignatureRefused as exc:
            raise Refused(401, f"signature refused: {exc}") from None

    async def _take(
        self,
        merchant: Merchant,
        transaction_id: str,
        session_id: str,
        reference: str,
        error: str = "",
    ) -> dict[str, Any]:
        if not transaction_id and error and session_id and reference:
            return await self._given_up(merchant, session_id, reference)
        if not transaction_id or not session_id or not reference:
            raise Refused(400, "transaction_id, session_id and merchant_reference are required")
        transaction = await self._transaction(merchant, transaction_id)
        if transaction.session_id != session_id:
            raise Refused(400, "session_id is not the transaction's session")
        if transaction.merchant_reference != reference:
            raise Refused(400, "merchant_reference is not the transaction's")
        workflow_id, state = await self._amendment(merchant, reference)
        taken = {o.payment_id for o in state.outcomes if o.disposition in ("recorded", "declined")}
        if transaction.id in taken:
            return {"result": "already taken"}
        link = state.payment_link
        if state.status != "AwaitingTopUp" or link is None or link.session_id != session_id:
            if state.status not in ("AwaitingTopUp", "Applying", "Planning"):
                return await self._void(merchant, transaction, workflow_id, state)
            raise Refused(409, f"{workflow_id} is not waiting for session {session_id}")
        if state.plan is None or transaction.currency != state.plan.currency:
            raise Refused(400, f"currency {transaction.currency} is not the amendment's")
        if not 0 < transaction.amount <= link.amount:
            raise Refused(400, f"amount {transaction.amount} is not 1..{link.amount}")
        outcome = AuthorizationOutcome(
            payment_id=transaction.id,
            amount=transaction.amount,
            success=transaction.state not in DECLINED,
        )
        try:
            await self.temporal.get_workflow_handle(workflow_id).signal(ids.OUTCOME, outcome)
        except (RPCError, RuntimeError) as exc:
            raise Refused(503, f"Temporal did not take the signal: {str(exc)[:200]}") from None
        return {"result": "signalled", "workflow_id": workflow_id, "success": outcome.success}

    async def _given_up(
        self, merchant: Merchant, session_id: str, reference: str
    ) -> dict[str, Any]:
        """A session the customer left without paying (no transaction): once Checkout says so,
        the amendment opens a fresh one for what is outstanding."""
        try:
            session = await merchant.checkout.get_session(session_id)
        except NotFound:
            raise Refused(404, f"session {session_id} is not this account's") from None
        except DinteroError as exc:
            raise Refused(502, f"Checkout did not answer: {exc.message}") from None
        if session.order.merchant_reference != reference:
            raise Refused(400, "merchant_reference is not the session's")
        if not session.given_up:
            raise Refused(400, f"session {session_id} was not given up")
        workflow_id, state = await self._amendment(merchant, reference)
        link = state.payment_link
        if link is None or link.session_id != session_id:
            return {"result": "nothing to do (not the session it waits on)"}
        try:
            handle = self.temporal.get_workflow_handle(workflow_id)
            await handle.signal(ids.SESSION_ENDED, {"session_id": session_id})
        except (RPCError, RuntimeError) as exc:
            raise Refused(503, f"Temporal did not take the signal: {str(exc)[:200]}") from None
        return {"result": "signalled: session given up", "workflow_id": workflow_id}

    async def _amendment(self, merchant: Merchant, reference: str) -> tuple[str, AmendmentState]:
        """The workflow id and state of the amendment a merchant reference names, or a 400 (an
        amendment of another account than the callback's is not this callback's)."""
        parsed = ids.parse_merchant_reference(reference)
        if parsed is None:
            raise Refused(400, f"merchant_reference {reference!r} is not an amendment's")
        workflow_id, amendment_id, _ = parsed
        named, _ = ids.account_and_order(workflow_id)
        if named is not None and merchant.account_id is not None and named != merchant.account_id:
            raise Refused(
                400, f"{workflow_id} is not an amendment of account {merchant.account_id}"
            )
        state = await self._state(workflow_id)
        if state is None or state.amendment_id != amendment_id:
            raise Refused(400, f"no amendment {amendment_id} runs as {workflow_id}")
        return workflow_id, state

    async def _transaction(self, merchant: Merchant, transaction_id: str) -> Transaction:
        try:
            return await merchant.checkout.get_transaction(transaction_id)
        except NotFound:
            raise Refused(404, f"transaction {transaction_id} is not this account's") from None
        except DinteroError as exc:
            raise Refused(502, f"Checkout did not answer: {exc.message}") from None

    async def _state(self, workflow_id: str) -> AmendmentState | None:
        handle = self.temporal.get_workflow_handle(workflow_id)
        try:
            state: AmendmentState = await handle.query(ids.STATE, result_type=AmendmentState)
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                return None
            raise Refused(503, f"Temporal did not answer: {exc.message}") from None
        except RuntimeError as exc:  # the SDK's word for a connection it cannot make
            raise Refused(503, f"Temporal did not answer: {str(exc)[:200]}") from None
        return state

    async def _void(
        self, merchant: Merchant, transaction: Transaction, workflow_id: str, state: AmendmentState
    ) -> dict[str, Any]:
        """A payment for an amendment that no longer waits (reverted, completed, failed): an
        authorization nothing captured is voided, so no money stays held for nothing."""
        if transaction.state != "AUTHORIZED":
            return {"result": f"nothing to do ({transaction.state.lower()})"}
        try:
            answer = await merchant.checkout.void(transaction.id)
        except DinteroError as exc:
            raise Refused(502, f"Checkout did not void: {exc.message}") from None
        done = "void accepted" if answer.accepted_request_id is not None else "voided"
        return {"result": f"{done}: {workflow_id} is {state.status.lower()}"}
