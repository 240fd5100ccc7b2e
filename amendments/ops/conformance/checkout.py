"""Dintero Checkout's probes: one per assumption of the simulator's Checkout (C1-C10, in
`amendments/simulator/checkout.py`), the `event_reference` a retried move looks for, and the
callback a paid session makes."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from amendments.ops.conformance.harness import (
    Finding,
    ProbeError,
    Run,
    Verdict,
    expect,
    probe,
    status_of,
)
from amendments.simulator.server import BackgroundServer

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


@probe(
    "C1",
    "a session whose items do not sum to its amount is accepted (no strict toggle)",
    calls="POST sessions-profile",
    if_it_differs="sessions for a top-up carry no items; nothing",
    needs="checkout",
)
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
    return expect(session, "a session of 10000 whose items sum to 4000", 200)


@probe(
    "C2",
    "a session yields one transaction",
    calls="POST sessions-profile; customer pays x2",
    if_it_differs="a second payment would show as a second outcome: the collector takes it as"
    " a duplicate or a new part",
    needs="customer",
)
async def _c2(run: Run) -> Finding:
    session = await _session(run)
    await run.customer(session["id"])
    again = await run.customer(session["id"])
    return expect(again, "pay a session twice", 400)


@probe(
    "C3",
    "a declined payment leaves a DECLINED transaction",
    calls="POST sessions-profile; customer declines; GET transaction",
    if_it_differs="a declined outcome would be read from the callback only",
    needs="customer",
)
async def _c3(run: Run) -> Finding:
    session = await _session(run)
    paid = await run.customer(session["id"], outcome="declined")
    transaction = await run.ok("GET", f"/v1/transactions/{paid.json()['transaction_id']}")
    verdict: Verdict = "holds" if transaction["status"] == "DECLINED" else "differs"
    return Finding(verdict, "a declined payment", f"transaction {transaction['status']}")


@probe(
    "C6",
    "a capture never exceeds what is authorized",
    calls="POST sessions-profile; customer pays; POST capture",
    if_it_differs="the adapter never over-captures; nothing",
    needs="customer",
)
async def _c6(run: Run) -> Finding:
    transaction = await _paid_transaction(run)
    over = await run.call(
        "POST", f"/v1/transactions/{transaction['id']}/capture", {"amount": 10001}
    )
    return expect(over, "capture 10001 of a 10000 authorization", 400)


@probe(
    "C8",
    "a session given up shows cancelled_at and no transaction",
    calls="POST sessions-profile; customer gives up; GET session",
    if_it_differs="an abandoned session waits for the top-up timeout instead of a new session",
    needs="customer",
)
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


@probe(
    "C9",
    "a 202 shows an INITIATE_* event with the event-request-id",
    calls="POST sessions-profile; customer pays; POST capture (answered 202); GET transaction",
    if_it_differs="an accepted operation is waited for by its final event only",
    needs="customer",
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
        f"{status_of(answer)}; INITIATE_CAPTURE events {len(initiated)}",
    )


@probe(
    "C10",
    "a transaction names its payment_product and payment_product_type",
    calls="POST sessions-profile; customer pays; GET transaction",
    if_it_differs="nothing reads them beyond the void rule; informational",
    needs="customer",
)
async def _c10(run: Run) -> Finding:
    transaction = await _paid_transaction(run)
    product = (transaction.get("payment_product"), transaction.get("payment_product_type"))
    verdict: Verdict = "holds" if all(product) else "differs"
    return Finding(verdict, "a paid transaction's payment product", str(product))


@probe(
    "EVENT_REFERENCE",
    "a capture's event carries the request's capture_reference as event_reference",
    calls="POST sessions-profile; customer pays; POST capture",
    if_it_differs="a retried capture or refund could not find its own event: it would be sent"
    " twice; do not use PAYMENTS=dintero-checkout",
    needs="customer",
)
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


@probe(
    "CALLBACK",
    "a paid session calls its callback_url with transaction_id, session_id and merchant_reference",
    calls="POST sessions-profile (callback_url here); customer pays",
    if_it_differs="top-up outcomes would never arrive by themselves: they wait for the timeout",
    needs="customer",
)
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
