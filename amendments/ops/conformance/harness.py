"""The conformance harness: a run against one account (`Run`), the probes' registry (`@probe`,
`PROBES`), and running them (`run_probes`). The probes themselves are the Orders API's
(`orders.py`: A1-A16, F1-F4), Checkout's (`checkout.py`: C1-C10, and the callback) and the
partner flow's (`partners.py`: P1-P3, A17).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from amendments.dintero.accounts import Account, Accounts, Partner
from amendments.dintero.auth import validate_account_id
from amendments.dintero.client import build_http
from amendments.dintero.directory import AccountClients

# `not_run`: the part it probes is not there (Checkout not configured, the account not reached
# through a partner, no customer to pay a session); it does not fail the run, and says why.
# `unknown`: it ran and could not decide (a step before its question failed).
Verdict = Literal["holds", "differs", "unknown", "not_run"]
Needs = Literal["orders", "checkout", "customer", "partner"]


class ProductionAccount(ValueError):
    """A `P` account: conformance probes write orders, and run only on test accounts."""


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    sent: str
    received: str


@dataclass
class Run:
    """One conformance run: the HTTP client, the run's id and what it created."""

    http: httpx.AsyncClient
    checkout: httpx.AsyncClient  # Checkout's host, with the same token
    account_id: str
    run_id: str
    checkout_profile: str | None = None
    orders: list[str] = field(default_factory=list)
    simulator: bool | None = None
    partner: Partner | None = None  # the partner the account is reached through, if any
    base_url: str = ""  # the Orders API's host (the partner probes make their own calls)

    @property
    def shop(self) -> str:
        return f"/v1/accounts/{self.account_id}/shopping"

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        if path.startswith(("/v1/sessions", "/v1/transactions")):
            return await self.checkout.request(method, path, json=body)
        return await self.http.request(method, self.shop + path, json=body)

    def line(self, line_id: int, gross: int = 10000, **extra: Any) -> dict[str, Any]:
        return {
            "id": f"conformance-{line_id}",
            "line_id": line_id,
            "quantity": 1,
            "gross_amount": gross,
            "tax_lines": [{"amount": gross // 5, "percentage": 25}],
            "description": f"conformance probe {self.run_id}",
            **extra,
        }

    def record(self, *items: tuple[int, int], **extra: Any) -> dict[str, Any]:
        return {
            "items": [{"line_id": line_id, "amount": amount} for line_id, amount in items],
            "payment_details": {"payment_id": f"conformance-{self.run_id}"},
            "success": True,
            "metadata": {"conformance_run": self.run_id},
            **extra,
        }

    async def order(
        self, *lines: dict[str, Any], multi: bool = False, reserve: bool = False
    ) -> str:
        """A new order of the run's own (a draft, completed); its id is kept for the list."""
        options: dict[str, Any] = {
            "generate_order_id": "ALPHANUMERIC_9_RESERVE" if reserve else "ALPHANUMERIC_9"
        }
        if multi:
            options["multiple_authorizations"] = True
        draft = await self.ok(
            "POST",
            "/draft_orders",
            {"options": options, "order": {"currency": "NOK", "items": list(lines)}},
        )
        completed = await self.ok("PUT", f"/draft_orders/{draft['id']}/complete", {})
        order_id = str(completed["orders"][0]["order_id"])
        self.orders.append(order_id)
        return order_id

    async def linked(self, order_id: str, *lines: dict[str, Any]) -> httpx.Response:
        """A draft linked to the order, completed: the first answer that refused, or the
        completion's."""
        draft = await self.call(
            "POST",
            "/draft_orders",
            {"options": {"order_id": order_id}, "order": {"currency": "NOK", "items": list(lines)}},
        )
        if draft.status_code >= 300:
            return draft
        return await self.call("PUT", f"/draft_orders/{draft.json()['id']}/complete", {})

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        answer = await self.call(method, path, body)
        if answer.status_code >= 300:
            raise ProbeError(f"{method} {path} answered {answer.status_code}: {answer.text[:300]}")
        return answer.json()

    async def paid(self, gross: int = 10000, *, capture: bool = True) -> str:
        order_id = await self.order(self.line(1, gross))
        await self.ok("POST", f"/orders/{order_id}/authorizations", self.record((1, gross)))
        if capture:
            await self.ok("POST", f"/orders/{order_id}/captures", self.record((1, gross)))
        return order_id

    async def is_simulator(self) -> bool:
        """Whether the other side is `amend simulator` (its test controls answer): only there
        can a probe play the customer who pays a Checkout session."""
        if self.simulator is None:
            try:
                answer = await self.checkout.get("/_sim/assumptions")
                self.simulator = answer.status_code == 200
            except httpx.HTTPError:
                self.simulator = False
        return self.simulator

    async def customer(self, session_id: str, **pay: Any) -> httpx.Response:
        return await self.checkout.post(
            f"/_sim/checkout/sessions/{session_id}/pay", json={"outcome": "authorized", **pay},
        )  # fmt: skip


class ProbeError(RuntimeError):
    """A call the probe needed as a step (not as its question) did not succeed."""


Check = Callable[[Run], Awaitable[Finding]]


@dataclass(frozen=True)
class Probe:
    id: str
    assumption: str
    calls: tuple[str, ...]
    if_it_differs: str
    check: Check
    needs: Needs = "orders"


STRICTER = "nothing for the product (it never sends this); the simulator is stricter than Dintero"
# Every probe, in the order it runs: each registers itself with `@probe` where it is defined
# (`orders.py`, `checkout.py`).
PROBES: list[Probe] = []


def probe(
    id_: str,
    assumption: str,
    *,
    calls: str,
    if_it_differs: str,
    needs: Needs = "orders",
) -> Callable[[Check], Check]:
    """Register a probe: its id (the assumption's number), what it checks, the calls it makes
    (`; `-separated), and what the product does if Dintero differs."""

    def register(check: Check) -> Check:
        assert all(p.id != id_ for p in PROBES), f"probe {id_} is registered twice"
        PROBES.append(Probe(id_, assumption, tuple(calls.split("; ")), if_it_differs, check, needs))
        return check

    return register


def status_of(answer: httpx.Response) -> str:
    code = ""
    with contextlib.suppress(ValueError, AttributeError):
        code = str(answer.json().get("error", {}).get("code", ""))
    return f"{answer.status_code} {code}".strip()


def expect(answer: httpx.Response, sent: str, status: int) -> Finding:
    verdict: Verdict = "holds" if answer.status_code == status else "differs"
    return Finding(verdict, sent, status_of(answer))


@dataclass(frozen=True)
class Result:
    probe: Probe
    finding: Finding

    def document(self) -> dict[str, str]:
        found = {
            "id": self.probe.id,
            "assumption": self.probe.assumption,
            "verdict": self.finding.verdict,
            "sent": self.finding.sent,
            "received": self.finding.received,
            "if_it_differs": self.probe.if_it_differs,
        }
        if self.finding.verdict == "not_run":
            found["why"] = self.finding.received
        return found


def exit_code(results: Sequence[Result]) -> int:
    """`amend conformance`'s exit status: 1 when a probe differs (Dintero is not what the
    product assumes), else 2 when one could not decide, else 0 (every probe that ran holds;
    those not run do not count)."""
    verdicts = {r.finding.verdict for r in results}
    if "differs" in verdicts:
        return 1
    return 2 if "unknown" in verdicts else 0


def refuse_production(account_id: str) -> None:
    validate_account_id(account_id)
    if account_id.startswith("P"):
        raise ProductionAccount(
            f"{account_id} is a production account: conformance probes create orders and "
            "records, and run only on a test account (T + 8 digits)"
        )


def plan(probes: Sequence[Probe] = PROBES) -> list[dict[str, Any]]:
    """The calls each probe would make; nothing is sent anywhere."""
    return [
        {"id": p.id, "assumption": p.assumption, "calls": list(p.calls), "needs": p.needs}
        for p in probes
    ]


async def run_probes(
    *,
    base_url: str,
    checkout_url: str,
    account: Account,
    checkout_profile: str | None,
    only: set[str] | None = None,
) -> tuple[list[Result], list[str]]:
    """Every probe in order (or those `only` names): the results, and the orders created. The
    account is reached as the product reaches it (its own client, or its partner's)."""
    account_id = account.account_id
    refuse_production(account_id)
    clients = AccountClients(Accounts({account_id: account}, account_id), base_url=base_url)
    http = clients.client(account_id).http
    checkout = build_http(base_url=checkout_url, account_id=account_id, auth=http.auth)
    run = Run(
        http,
        checkout,
        account_id,
        uuid.uuid4().hex[:10],
        checkout_profile,
        partner=account.partner,
        base_url=base_url.rstrip("/"),
    )
    results = []
    try:
        for probe in PROBES:
            if only is not None and probe.id not in only:
                continue
            results.append(Result(probe, await _run_one(run, probe)))
    finally:
        await http.aclose()
        await checkout.aclose()
    return results, run.orders


async def _run_one(run: Run, probe: Probe) -> Finding:
    if probe.needs == "partner":
        if run.partner is None:
            return Finding(
                "not_run",
                "nothing",
                f"{run.account_id} is not reached through a partner "
                f"(DINTERO_ACCOUNTS_FILE: accounts.{run.account_id}.partner)",
            )
    elif probe.needs != "orders" and run.checkout_profile is None:
        return Finding(
            "not_run",
            "nothing",
            "Checkout is not configured (DINTERO_CHECKOUT_PROFILE_ID, or the account's "
            "checkout_profile_id)",
        )
    if probe.needs == "customer" and not await run.is_simulator():
        return Finding(
            "not_run",
            "nothing",
            "needs a customer to pay a test session: only the simulator plays one",
        )
    try:
        return await probe.check(run)
    except (ProbeError, httpx.HTTPError, KeyError, ValueError) as exc:
        return Finding("unknown", "a step before the question", f"{type(exc).__name__}: {exc}")
