"""`amend conformance`: every assumption the product makes about Dintero, checked against a real
Dintero **test** account in one command.

One probe per assumption of the simulator (A1-A16 in `amendments/simulator/app.py`, C1-C10 in
`amendments/simulator/checkout.py`, under the same ids) and per documented fact the product
leans on (F1-F4). Each probe makes the calls it names on orders it creates itself, and answers
`holds`, `differs` or `unknown` (could not tell), with what it sent, what came back, and what the
product does if the assumption is wrong. Read together, the probes are the executable
description of what the product expects of Dintero.

Safe by construction: a production account (`P...`) is refused before any call; every order a
probe makes is its own (its lines' ids start with `conformance-` and carry the run's id in their
description; its records carry the run's id in `metadata`), and is listed at the end; nothing
touches an order the run did not create; `plan()` lists the calls and makes none. A probe that
cannot run (Checkout not configured, no customer to pay a session) says so, and the rest go on.
Against `amend simulator` every probe holds (the simulator's test controls under `/_sim/` play
the customer there); against a real account, probes that need a paying customer say `unknown`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from amendments.dintero.auth import validate_account_id
from amendments.dintero.client import build_http
from amendments.simulator.server import BackgroundServer

Verdict = Literal["holds", "differs", "unknown"]


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
    needs: Literal["orders", "checkout", "customer"] = "orders"


def _status(answer: httpx.Response) -> str:
    code = ""
    with contextlib.suppress(ValueError, AttributeError):
        code = str(answer.json().get("error", {}).get("code", ""))
    return f"{answer.status_code} {code}".strip()


def _expect(answer: httpx.Response, sent: str, status: int) -> Finding:
    verdict: Verdict = "holds" if answer.status_code == status else "differs"
    return Finding(verdict, sent, _status(answer))


# --- the Orders API: A1-A16 ---------------------------------------------------------------


async def _a1(run: Run) -> Finding:
    body = {
        "options": {"generate_order_id": "ALPHANUMERIC_9"},
        "order": {"currency": "NOK", "items": [run.line(1)], "conformance_unknown_field": 1},
    }
    answer = await run.call("POST", "/draft_orders", body)
    return _expect(answer, "POST draft_orders with an unknown field in order", 400)


async def _a2(run: Run) -> Finding:
    order_id = await run.paid()
    answer = await run.linked(order_id, run.line(1))
    return _expect(answer, f"linked draft on {order_id} reusing line_id 1, completed", 400)


async def _a3(run: Run) -> Finding:
    answer = await run.call(
        "POST",
        "/draft_orders",
        {
            "options": {"generate_order_id": "ALPHANUMERIC_9"},
            "order": {"currency": "NOK", "items": [run.line(1, -100)]},
        },
    )
    return _expect(answer, "draft with a negative gross_amount on a line that reverses none", 400)


async def _a4(run: Run) -> Finding:
    order_id = await run.paid()
    over = run.line(
        2, -20000, related_item={"line_id": 1, "type": "reversed"}, reversed_reason="probe"
    )
    over["id"] = "conformance-1"
    answer = await run.linked(order_id, over)
    return _expect(answer, "reversal line of -20000 for a line of 10000", 400)


async def _a5(run: Run) -> Finding:
    draft = await run.ok(
        "POST",
        "/draft_orders",
        {"options": {"generate_order_id": "ALPHANUMERIC_9"},
         "order": {"currency": "NOK", "items": [run.line(1)]}},
    )  # fmt: skip
    first = await run.ok("PUT", f"/draft_orders/{draft['id']}/complete", {})
    run.orders.append(str(first["orders"][0]["order_id"]))
    again = await run.call("PUT", f"/draft_orders/{draft['id']}/complete", {})
    return _expect(again, "complete a draft twice", 400)


async def _a6(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    await run.ok("POST", f"/orders/{order_id}/authorizations", run.record((1, 6000)))
    answer = await run.call("POST", f"/orders/{order_id}/captures", run.record((1, 6001)))
    return _expect(answer, "authorize 6000, capture 6001", 400)


async def _a7(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    await run.ok("POST", f"/orders/{order_id}/authorizations", run.record((1, 4000)))
    answer = await run.call("POST", f"/orders/{order_id}/authorizations", run.record((1, 4000)))
    return _expect(answer, "a second authorization of a line without multiple_authorizations", 400)


async def _a8(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    await run.ok("POST", f"/orders/{order_id}/cancel", {})
    answer = await run.call("POST", f"/orders/{order_id}/authorizations", run.record((1, 100)))
    return _expect(answer, "authorize on a cancelled order", 400)


async def _a9(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    before = (await run.ok("GET", f"/orders/{order_id}"))["payment_status"]
    await run.ok("POST", f"/orders/{order_id}/authorizations", run.record((1, 10000)))
    await run.ok("POST", f"/orders/{order_id}/captures", run.record((1, 10000)))
    after = (await run.ok("GET", f"/orders/{order_id}"))["payment_status"]
    verdict: Verdict = "holds" if (before, after) == ("pending", "paid") else "differs"
    return Finding(verdict, "payment_status before and after a full capture", f"{before}, {after}")


async def _a10(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    await run.ok("POST", f"/orders/{order_id}/authorizations", run.record((1, 10000)))
    for part in (3000, 3000, 4000):
        await run.ok("POST", f"/orders/{order_id}/captures", run.record((1, part)))
    captures = (await run.ok("GET", f"/orders/{order_id}/captures"))["captures"]
    order = await run.ok("GET", f"/orders/{order_id}")
    embedded = "authorizations" in order and "cancellations" in order
    verdict: Verdict = "holds" if len(captures) == 3 and embedded else "differs"
    return Finding(
        verdict,
        "3 captures, then GET captures and GET order",
        f"{len(captures)} captures listed; order embeds authorizations and cancellations: "
        f"{embedded}",
    )


async def _a11(run: Run) -> Finding:
    answer = await run.call("GET", "/orders/conformance-no-such-order")
    verdict: Verdict = "holds" if answer.status_code == 404 else "differs"
    return Finding(verdict, "a client-credentials token, then a read with it", _status(answer))


async def _a12(run: Run) -> Finding:
    draft = await run.ok(
        "POST",
        "/draft_orders",
        {"options": {"generate_order_id": "ALPHANUMERIC_9_RESERVE"},
         "order": {"currency": "NOK", "items": [run.line(1)]}},
    )  # fmt: skip
    reserved = draft.get("order_id")
    completed = await run.ok("PUT", f"/draft_orders/{draft['id']}/complete", {})
    order_id = str(completed["orders"][0]["order_id"])
    run.orders.append(order_id)
    verdict: Verdict = "holds" if reserved and reserved == order_id else "differs"
    return Finding(verdict, "draft with ALPHANUMERIC_9_RESERVE", f"{reserved} -> {order_id}")


async def _a13(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    await run.ok("POST", f"/orders/{order_id}/authorizations", run.record((1, 4000)))
    reversal = run.line(
        2, -10000, related_item={"line_id": 1, "type": "reversed"}, reversed_reason="probe"
    )
    reversal["id"] = "conformance-1"
    completed = await run.linked(order_id, reversal)
    if completed.status_code != 200:
        return Finding("differs", "reverse a line paid 4000 of 10000", _status(completed))
    answer = await run.call("POST", f"/orders/{order_id}/authorizations", run.record((2, -4000)))
    return _expect(answer, "reverse a line paid 4000 of 10000, authorize -4000 on it", 200)


async def _a14(run: Run) -> Finding:
    order_id = await run.paid(capture=False)
    await run.ok("POST", f"/orders/{order_id}/captures", run.record((1, 6000)))
    over = await run.call("POST", f"/orders/{order_id}/cancellations", run.record((1, 4001)))
    within = await run.call("POST", f"/orders/{order_id}/cancellations", run.record((1, 4000)))
    verdict: Verdict = (
        "holds" if (over.status_code, within.status_code) == (400, 200) else "differs"
    )
    return Finding(
        verdict,
        "authorize 10000, capture 6000, cancel 4001, then cancel 4000",
        f"{_status(over)}, {_status(within)}",
    )


async def _a15(run: Run) -> Finding:
    order_id = await run.paid(capture=False)
    await run.ok("POST", f"/orders/{order_id}/cancellations", run.record((1, 4000)))
    answer = await run.call("POST", f"/orders/{order_id}/captures", run.record((1, 6001)))
    return _expect(answer, "authorize 10000, cancel 4000, capture 6001", 400)


async def _a16(run: Run) -> Finding:
    order_id = await run.paid(capture=False)
    made = await run.ok("POST", f"/orders/{order_id}/cancellations", run.record((1, 1000)))
    order = await run.ok("GET", f"/orders/{order_id}")
    one = await run.call("GET", f"/orders/{order_id}/cancellations/{made['id']}")
    embedded = [c.get("id") for c in order.get("cancellations", [])]
    verdict: Verdict = "holds" if embedded == [made["id"]] and one.status_code == 200 else "differs"
    return Finding(
        verdict,
        "cancel 1000, then GET order and GET the cancellation",
        f"embedded {len(embedded)}; by id {_status(one)}",
    )


# --- documented facts: F1-F4 --------------------------------------------------------------


async def _f1(run: Run) -> Finding:
    answer = await run.call("GET", "/orders/conformance-no-such-order")
    try:
        error = answer.json()["error"]
        shaped = {"code", "message"} <= set(error)
    except (ValueError, KeyError, TypeError):
        shaped = False
    return Finding(
        "holds" if shaped else "differs", "GET an unknown order", f"{_status(answer)} {shaped}"
    )


async def _f2(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    await run.ok("POST", f"/orders/{order_id}/authorizations", run.record((1, 100)))
    listed = (await run.ok("GET", f"/orders/{order_id}/authorizations"))["authorizations"]
    kept = [a.get("metadata") for a in listed]
    verdict: Verdict = "holds" if kept == [{"conformance_run": run.run_id}] else "differs"
    return Finding(verdict, "an authorization with metadata, listed back", str(kept))


async def _f3(run: Run) -> Finding:
    order_id = await run.order(run.line(1), multi=True)
    first = run.record((1, 4000), authorization_id=f"c-{run.run_id}-1")
    second = run.record((1, 6000), authorization_id=f"c-{run.run_id}-2")
    await run.ok("POST", f"/orders/{order_id}/authorizations", first)
    two = await run.call("POST", f"/orders/{order_id}/authorizations", second)
    none = await run.call("POST", f"/orders/{order_id}/captures", run.record((1, 100)))
    verdict: Verdict = "holds" if (two.status_code, none.status_code) == (200, 400) else "differs"
    return Finding(
        verdict,
        "two authorizations under multiple_authorizations, then a capture without its id",
        f"{_status(two)}, {_status(none)}",
    )


async def _f4(run: Run) -> Finding:
    answer = await run.call("POST", "/orders/conformance-no-such-order/captures", run.record())
    verdict: Verdict = "holds" if answer.status_code in (400, 404) else "differs"
    return Finding(verdict, "a capture on an order that does not exist", _status(answer))


# --- Checkout: C1-C10 ---------------------------------------------------------------------


async def _session(
    run: Run, amount: int = 10000, url: dict[str, str] | None = None, **extra: Any
) -> Any:
    assert run.checkout_profile is not None
    body = {
        "profile_id": run.checkout_profile,
        "url": url or {"return_url": "https://example.com/conformance"},
        "order": {
            "amount": amount,
            "currency": "NOK",
            "merchant_reference": f"conformance-{run.run_id}",
            **extra,
        },
    }
    return await run.ok("POST", "/v1/sessions-profile", body)


async def _paid_transaction(run: Run, amount: int = 10000) -> dict[str, Any]:
    session = await _session(run, amount)
    paid = await run.customer(session["id"])
    if paid.status_code != 200:
        raise ProbeError(f"the customer could not pay: {paid.text[:200]}")
    return dict(await run.ok("GET", f"/v1/transactions/{paid.json()['transaction_id']}"))


async def _c1(run: Run) -> Finding:
    items = [{"line_id": "1", "amount": 4000}]
    session = await run.call(
        "POST",
        "/v1/sessions-profile",
        {
            "profile_id": run.checkout_profile,
            "url": {"return_url": "https://example.com/conformance"},
            "order": {"amount": 10000, "currency": "NOK",
                      "merchant_reference": f"conformance-{run.run_id}", "items": items},
        },
    )  # fmt: skip
    return _expect(session, "a session of 10000 whose items sum to 4000", 200)


async def _c2(run: Run) -> Finding:
    session = await _session(run)
    await run.customer(session["id"])
    again = await run.customer(session["id"])
    return _expect(again, "pay a session twice", 400)


async def _c3(run: Run) -> Finding:
    session = await _session(run)
    paid = await run.customer(session["id"], outcome="declined")
    transaction = await run.ok("GET", f"/v1/transactions/{paid.json()['transaction_id']}")
    verdict: Verdict = "holds" if transaction["status"] == "DECLINED" else "differs"
    return Finding(verdict, "a declined payment", f"transaction {transaction['status']}")


async def _c6(run: Run) -> Finding:
    transaction = await _paid_transaction(run)
    over = await run.call(
        "POST", f"/v1/transactions/{transaction['id']}/capture", {"amount": 10001}
    )
    return _expect(over, "capture 10001 of a 10000 authorization", 400)


async def _c8(run: Run) -> Finding:
    session = await _session(run)
    await run.customer(session["id"], outcome="abandoned")
    read = await run.ok("GET", f"/v1/sessions/{session['id']}")
    verdict: Verdict = (
        "holds" if read.get("cancelled_at") and not read.get("transaction_id") else "differs"
    )
    return Finding(
        verdict, "a session the customer gives up", f"cancelled_at {read.get('cancelled_at')}"
    )


async def _c9(run: Run) -> Finding:
    transaction = await _paid_transaction(run)
    await run.checkout.post(
        "/_sim/checkout/accepting",
        json={"action": "capture", "times": 1, "outcome": "never"},
    )
    answer = await run.call(
        "POST",
        f"/v1/transactions/{transaction['id']}/capture",
        {"amount": 100, "capture_reference": f"c-{run.run_id}"},
    )
    read = await run.ok("GET", f"/v1/transactions/{transaction['id']}")
    initiated = [e for e in read["events"] if e["event"] == "INITIATE_CAPTURE"]
    ok = (
        answer.status_code == 202
        and initiated
        and initiated[0].get("request_id") == answer.headers.get("event-request-id")
    )
    return Finding(
        "holds" if ok else "differs",
        "a capture answered 202",
        f"{_status(answer)}; INITIATE_CAPTURE events {len(initiated)}",
    )


async def _c10(run: Run) -> Finding:
    transaction = await _paid_transaction(run)
    product = (transaction.get("payment_product"), transaction.get("payment_product_type"))
    verdict: Verdict = "holds" if all(product) else "differs"
    return Finding(verdict, "a paid transaction's payment product", str(product))


async def _event_reference(run: Run) -> Finding:
    transaction = await _paid_transaction(run)
    reference = f"c-{run.run_id}"
    answer = await run.ok(
        "POST",
        f"/v1/transactions/{transaction['id']}/capture",
        {"amount": 100, "capture_reference": reference},
    )
    found = [e.get("event_reference") for e in answer["events"] if e["event"] == "CAPTURE"]
    verdict: Verdict = "holds" if found == [reference] else "differs"
    return Finding(verdict, f"capture 100 with capture_reference {reference}", f"events {found}")


async def _callback(run: Run) -> Finding:
    """Dintero calls the session's callback_url once the customer pays, with the transaction,
    the session and the merchant's reference (the receiver reads nothing else from it)."""
    calls: list[dict[str, str]] = []

    async def receive(request: Request) -> Response:
        calls.append(dict(request.query_params))
        return Response(status_code=200)

    app = Starlette(routes=[Route("/callback", receive, methods=["GET", "POST"])])
    with BackgroundServer(app) as url:
        session = await _session(
            run, url={"return_url": "https://example.com/conformance",
                      "callback_url": f"{url}/callback"},
        )  # fmt: skip
        paid = await run.customer(session["id"])
        if paid.status_code != 200:
            raise ProbeError(f"the customer could not pay: {paid.text[:200]}")
    fields = {"transaction_id", "session_id", "merchant_reference"}
    got = sorted(set(calls[0]) & fields) if calls else []
    verdict: Verdict = "holds" if calls and set(got) == fields else "differs"
    return Finding(verdict, "a paid session with a callback_url", f"{len(calls)} call(s) {got}")


def _probe(
    id_: str, assumption: str, calls: str, if_it_differs: str, check: Check,
    needs: Literal["orders", "checkout", "customer"] = "orders",
) -> Probe:  # fmt: skip
    return Probe(id_, assumption, tuple(calls.split("; ")), if_it_differs, check, needs)


STRICTER = "nothing for the product (it never sends this); the simulator is stricter than Dintero"
PROBES: tuple[Probe, ...] = (
    _probe("A1", "unknown fields in request bodies are refused (400)",
           "POST draft_orders", STRICTER, _a1),
    _probe("A2", "a linked draft's line ids must be new and after the order's",
           "POST draft_orders; PUT complete; POST authorizations, captures; POST draft_orders; "
           "PUT complete", "the planner already numbers lines after the highest; nothing", _a2),
    _probe("A3", "a negative gross_amount only on a reversal line", "POST draft_orders",
           STRICTER, _a3),
    _probe("A4", "reversals of a line never exceed it", "POST draft_orders x2; PUT complete x2",
           "the planner never over-reverses; the simulator is stricter", _a4),
    _probe("A5", "completing a completed draft is 400, not a retryable 409",
           "POST draft_orders; PUT complete x2",
           "a retried completion would be retried until it times out: find it by its order", _a5),
    _probe("A6", "a capture never exceeds what is authorized", "POST authorizations; POST captures",
           "the ledger check still catches it after the fact; the product never over-captures",
           _a6),
    _probe("A7", "a second authorization needs multiple_authorizations",
           "POST authorizations x2",
           "the planner sets multiple_authorizations whenever a line takes two; nothing breaks, "
           "but the simulator would refuse what Dintero accepts", _a7),
    _probe("A8", "writes on a cancelled order are refused", "POST cancel; POST authorizations",
           "the planner refuses orders not open before any write; nothing", _a8),
    _probe("A9", "payment_status is pending, then paid once captured in full",
           "GET order; POST authorizations, captures; GET order",
           "nothing reads payment_status; informational", _a9),
    _probe("A10", "list endpoints return every record; the order embeds authorizations and "
           "cancellations", "POST authorizations; POST captures x3; GET captures; GET order",
           "paginated lists would hide records from the ledger check and reconciliation: the "
           "client must follow pages", _a10),
    _probe("A11", "a client-credentials token for the account is accepted",
           "POST auth/token; GET orders/{unknown}",
           "nothing works: check DINTERO_CLIENT_ID / _SECRET and the account", _a11),
    _probe("A12", "ALPHANUMERIC_9_RESERVE shows the reserved order id on the draft",
           "POST draft_orders; PUT complete",
           "a lost completion answer could not be matched to its order: PlaceOrder would look "
           "it up by content only", _a12),
    _probe("A13", "a line paid in part can be reversed, its records taking back what was paid",
           "POST authorizations; POST draft_orders; PUT complete; POST authorizations",
           "a revert before a top-up is covered fails: revert by hand", _a13),
    _probe("A14", "a cancellation never exceeds authorized - captured - cancelled",
           "POST authorizations, captures; POST cancellations x2",
           "the ledger check catches it; the product never over-cancels", _a14),
    _probe("A15", "cancelled money cannot be captured", "POST cancellations; POST captures",
           "a merchant's fulfilment could capture released money: capture by the records", _a15),
    _probe("A16", "cancellations are embedded in the order and readable by id",
           "POST cancellations; GET order; GET cancellations/{id}",
           "released money would not show in the ledger: read cancellations from the order",
           _a16),
    _probe("F1", "errors come in Dintero's envelope {error: {code, message}}",
           "GET orders/{unknown}", "error messages would be less precise; nothing else", _f1),
    _probe("F2", "a record's metadata is kept and listed back", "POST authorizations; GET "
           "authorizations", "a retried write could not find its own record: it would be "
           "written twice; do not run amendments against this account", _f2),
    _probe("F3", "with multiple_authorizations, a line takes two authorizations and every "
           "record needs its authorization_id", "POST authorizations x2; POST captures",
           "lines paid by several payments (top-ups, split tenders) could not be recorded",
           _f3),
    _probe("F4", "a write on an order that does not exist is refused",
           "POST orders/{unknown}/captures", "nothing; informational", _f4),
    _probe("C1", "a session whose items do not sum to its amount is accepted (no strict "
           "toggle)", "POST sessions-profile", "sessions for a top-up carry no items; nothing",
           _c1, "checkout"),
    _probe("C2", "a session yields one transaction", "POST sessions-profile; customer pays x2",
           "a second payment would show as a second outcome: the collector takes it as a "
           "duplicate or a new part", _c2, "customer"),
    _probe("C3", "a declined payment leaves a DECLINED transaction",
           "POST sessions-profile; customer declines; GET transaction",
           "a declined outcome would be read from the callback only", _c3, "customer"),
    _probe("C6", "a capture never exceeds what is authorized", "POST sessions-profile; "
           "customer pays; POST capture", "the adapter never over-captures; nothing", _c6,
           "customer"),
    _probe("C8", "a session given up shows cancelled_at and no transaction",
           "POST sessions-profile; customer gives up; GET session",
           "an abandoned session waits for the top-up timeout instead of a new session",
           _c8, "customer"),
    _probe("C9", "a 202 shows an INITIATE_* event with the event-request-id",
           "POST sessions-profile; customer pays; POST capture (answered 202); GET transaction",
           "an accepted operation is waited for by its final event only", _c9, "customer"),
    _probe("C10", "a transaction names its payment_product and payment_product_type",
           "POST sessions-profile; customer pays; GET transaction",
           "nothing reads them beyond the void rule; informational", _c10, "customer"),
    _probe("EVENT_REFERENCE", "a capture's event carries the request's capture_reference as "
           "event_reference", "POST sessions-profile; customer pays; POST capture",
           "a retried capture or refund could not find its own event: it would be sent twice; "
           "do not use PAYMENTS=dintero-checkout", _event_reference, "customer"),
    _probe("CALLBACK", "a paid session calls its callback_url with transaction_id, session_id "
           "and merchant_reference", "POST sessions-profile (callback_url here); customer pays",
           "top-up outcomes would never arrive by themselves: they wait for the timeout",
           _callback, "customer"),
)  # fmt: skip


@dataclass(frozen=True)
class Result:
    probe: Probe
    finding: Finding

    def document(self) -> dict[str, str]:
        return {
            "id": self.probe.id,
            "assumption": self.probe.assumption,
            "verdict": self.finding.verdict,
            "sent": self.finding.sent,
            "received": self.finding.received,
            "if_it_differs": self.probe.if_it_differs,
        }


def refuse_production(account_id: str) -> None:
    validate_account_id(account_id)
    if account_id.startswith("P"):
        raise ProductionAccount(
            f"{account_id} is a production account: conformance probes create orders and "
            "records, and run only on a test account (T + 8 digits)"
        )


def plan(probes: tuple[Probe, ...] = PROBES) -> list[dict[str, Any]]:
    """The calls each probe would make; nothing is sent anywhere."""
    return [
        {"id": p.id, "assumption": p.assumption, "calls": list(p.calls), "needs": p.needs}
        for p in probes
    ]


async def run_probes(
    *,
    base_url: str,
    checkout_url: str,
    account_id: str,
    client_id: str,
    client_secret: SecretStr,
    checkout_profile: str | None,
    only: set[str] | None = None,
) -> tuple[list[Result], list[str]]:
    """Every probe in order (or those `only` names): the results, and the orders created."""
    refuse_production(account_id)
    http = build_http(
        base_url=base_url, account_id=account_id, client_id=client_id, client_secret=client_secret
    )
    checkout = build_http(
        base_url=checkout_url,
        account_id=account_id,
        client_id=client_id,
        client_secret=client_secret,
        auth=http.auth,  # type: ignore[arg-type]
    )
    run = Run(http, checkout, account_id, uuid.uuid4().hex[:10], checkout_profile)
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
    if probe.needs != "orders" and run.checkout_profile is None:
        return Finding(
            "unknown", "nothing", "Checkout not configured (DINTERO_CHECKOUT_PROFILE_ID)"
        )
    if probe.needs == "customer" and not await run.is_simulator():
        return Finding(
            "unknown",
            "nothing",
            "needs a customer to pay a test session (only the simulator can play one here)",
        )
    try:
        return await probe.check(run)
    except (ProbeError, httpx.HTTPError, KeyError, ValueError) as exc:
        return Finding("unknown", "a step before the question", f"{type(exc).__name__}: {exc}")
