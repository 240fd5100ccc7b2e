"""Who the activities call for one account: its Dintero Orders client and its payments adapter.

`OneAccount` is a deployment of one account (a `DinteroClient` and one adapter, as before);
`ManyAccounts` serves every account of `DINTERO_ACCOUNTS_FILE` (`amendments/dintero/accounts.py`),
each with its own token, Checkout profile and callback URL (which names the account: the
receiver checks each callback with that account's signature secret). Either answers an account
it does not serve with `AmendmentRejected` naming `account_id`, before any call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from amendments.dintero import DinteroClient
from amendments.dintero.directory import AccountClients
from amendments.domain.errors import AmendmentRejected
from amendments.payments.port import Payments, RecordOnly


class Directory(Protocol):
    def account_id(self, account_id: str | None) -> str:
        """The account an amendment is for (the default for None)."""
        ...

    def orders(self, account_id: str | None) -> DinteroClient: ...

    def payments(self, account_id: str | None) -> Payments: ...


class OneAccount:
    """One account: its client and its payments adapter."""

    def __init__(self, client: DinteroClient, payments: Payments | None = None) -> None:
        self.client = client
        self._payments: Payments = payments or RecordOnly()

    def account_id(self, account_id: str | None) -> str:
        if account_id is not None and account_id != self.client.account_id:
            raise AmendmentRejected(
                "account_id",
                f"{account_id} is not an account this deployment serves "
                f"(it serves {self.client.account_id})",
            )
        return self.client.account_id

    def orders(self, account_id: str | None) -> DinteroClient:
        self.account_id(account_id)
        return self.client

    def payments(self, account_id: str | None) -> Payments:
        self.account_id(account_id)
        return self._payments


class ManyAccounts:
    """Every account of the deployment, each client and adapter made on first use."""

    def __init__(
        self,
        clients: AccountClients,
        payments_of: Callable[[AccountClients, str], Payments] | None = None,
    ) -> None:
        self.clients = clients
        self._payments_of = payments_of
        self._payments: dict[str, Payments] = {}

    def account_id(self, account_id: str | None) -> str:
        return self.clients.account(account_id).account_id

    def orders(self, account_id: str | None) -> DinteroClient:
        return self.clients.client(account_id)

    def payments(self, account_id: str | None) -> Payments:
        resolved = self.account_id(account_id)
        found = self._payments.get(resolved)
        if found is None:
            made = self._payments_of(self.clients, resolved) if self._payments_of else None
            found = self._payments[resolved] = made or RecordOnly()
        return found

    async def aclose(self) -> None:
        await self.clients.aclose()
