"""One `DinteroClient` per account a deployment serves (`accounts.Accounts`), each made when its
account is first used, with that account's token auth: its own client's, or its partner's
exchanged token (one partner token shared by the partner's merchants). A token is never sent on
another account's paths: each account's client has its own auth, and its paths name its account.

An account an amendment names that the deployment does not serve, or whose secret cannot be
read, is refused here as `AmendmentRejected` naming `account_id`, before any request is made.
"""

from __future__ import annotations

import httpx

from amendments.dintero.accounts import Account, Accounts, MissingSecret
from amendments.dintero.auth import DinteroTokenAuth, PartnerTokenAuth
from amendments.dintero.client import (
    DEFAULT_TIMEOUT,
    DinteroClient,
    build_http,
    own_client_auth,
)
from amendments.domain.errors import AmendmentRejected


class AccountClients:
    """The Dintero client of each account, made on first use and kept."""

    def __init__(
        self,
        accounts: Accounts,
        *,
        base_url: str,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
    ) -> None:
        self.accounts = accounts
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._transport = transport
        self._max_connections = max_connections
        self._clients: dict[str, DinteroClient] = {}
        self._partners: dict[str, DinteroTokenAuth] = {}

    def __repr__(self) -> str:
        return f"AccountClients(base_url={self.base_url!r}, accounts={len(self.accounts.accounts)})"

    def account(self, account_id: str | None) -> Account:
        """The account (the default for None), or `AmendmentRejected` naming `account_id`."""
        return self.accounts.get(account_id)

    def client(self, account_id: str | None) -> DinteroClient:
        account = self.account(account_id)
        found = self._clients.get(account.account_id)
        if found is None:
            http = build_http(
                base_url=self.base_url,
                account_id=account.account_id,
                timeout=self._timeout,
                transport=self._transport,
                max_connections=self._max_connections,
                auth=self.auth(account),
            )
            found = self._clients[account.account_id] = DinteroClient(http, account.account_id)
        return found

    def auth(self, account: Account) -> httpx.Auth:
        """The account's token auth: its client's, or its partner's exchanged token."""
        existing = self._clients.get(account.account_id)
        if existing is not None and existing.http.auth is not None:
            return existing.http.auth
        try:
            if account.partner is None:
                assert account.client_id is not None
                assert account.secret is not None
                return own_client_auth(
                    self.base_url, account.account_id, account.client_id, account.secret.read()
                )
            partner = account.partner
            shared = self._partners.get(partner.account_id)
            if shared is None:
                shared = self._partners[partner.account_id] = own_client_auth(
                    self.base_url, partner.account_id, partner.client_id, partner.secret.read()
                )
        except MissingSecret as exc:
            raise AmendmentRejected(
                "account_id",
                f"account {account.account_id} has no usable credentials: {exc}",
            ) from None
        return PartnerTokenAuth(
            account_id=account.account_id, partner=shared, base_url=self.base_url
        )

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
