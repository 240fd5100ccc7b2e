"""The Orders API's probes: one per assumption of the simulator (A1-A16, in
`amendments/simulator/app.py`) and per documented fact the product leans on (F1-F4)."""

from __future__ import annotations

from amendments.ops.conformance.harness import (
    STRICTER,
    Finding,
    Run,
    Verdict,
    expect,
    probe,
    status_of,
)

# --- the Orders API: A1-A16 ---------------------------------------------------------------


@probe(
    "A1",
    "unknown fields in request bodies are refused (400)",
    calls="POST draft_orders",
    if_it_differs=STRICTER,
)
async def _a1(run: Run) -> Finding:
    body = {
        "options": {"generate_order_id": "ALPHANUMERIC_9"},
        "order": {"currency": "NOK", "items": [run.line(1)], "conformance_unknown_field": 1},
    }
    answer = await run.call("POST", "/draft_orders", body)
    return expect(answer, "POST draft_orders with an unknown field in order", 400)


@probe(
    "A2",
    "a linked draft's line ids must be new and after the order's",
    calls="POST draft_orders; PUT complete; POST authorizations, captures; POST draft_orders;"
    " PUT complete",
    if_it_differs="the planner already numbers lines after the highest; nothing",
)
async def _a2(run: Run) -> Finding:
    order_id = await run.paid()
    answer = await run.linked(order_id, run.line(1))
    return expect(answer, f"linked draft on {order_id} reusing line_id 1, completed", 400)


@probe(
    "A3",
    "a negative gross_amount only on a reversal line",
    calls="POST draft_orders",
    if_it_differs=STRICTER,
)
async def _a3(run: Run) -> Finding:
    answer = await run.call(
        "POST",
        "/draft_orders",
        {
            "options": {"generate_order_id": "ALPHANUMERIC_9"},
            "order": {"currency": "NOK", "items": [run.line(1, -100)]},
        },
    )
    return expect(answer, "draft with a negative gross_amount on a line that reverses none", 400)


@probe(
    "A4",
    "reversals of a line never exceed it",
    calls="POST draft_orders x2; PUT complete x2",
    if_it_differs="the planner never over-reverses; the simulator is stricter",
)
async def _a4(run: Run) -> Finding:
    order_id = await run.paid()
    over = run.line(
        2, -20000, related_item={"line_id": 1, "type": "reversed"}, reversed_reason="probe"
    )
    over["id"] = "conformance-1"
    answer = await run.linked(order_id, over)
    return expect(answer, "reversal line of -20000 for a line of 10000", 400)


@probe(
    "A5",
    "completing a completed draft is 400, not a retryable 409",
    calls="POST draft_orders; PUT complete x2",
    if_it_differs="a retried completion would be retried until it times out: find it by its order",
)
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
    return expect(again, "complete a draft twice", 400)


@probe(
    "A6",
    "a capture never exceeds what is authorized",
    calls="POST authorizations; POST captures",
    if_it_differs="the ledger check still catches it after the fact; the product never "
    "over-captures",
)
async def _a6(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    await run.ok("POST", f"/orders/{order_id}/authorizations", run.record((1, 6000)))
    answer = await run.call("POST", f"/orders/{order_id}/captures", run.record((1, 6001)))
    return expect(answer, "authorize 6000, capture 6001", 400)


@probe(
    "A7",
    "a second authorization needs multiple_authorizations",
    calls="POST authorizations x2",
    if_it_differs="the planner sets multiple_authorizations whenever a line takes two; "
    "nothing breaks, but the simulator would refuse what Dintero accepts",
)
async def _a7(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    await run.ok("POST", f"/orders/{order_id}/authorizations", run.record((1, 4000)))
    answer = await run.call("POST", f"/orders/{order_id}/authorizations", run.record((1, 4000)))
    return expect(answer, "a second authorization of a line without multiple_authorizations", 400)


@probe(
    "A8",
    "writes on a cancelled order are refused",
    calls="POST cancel; POST authorizations",
    if_it_differs="the planner refuses orders not open before any write; nothing",
)
async def _a8(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    await run.ok("POST", f"/orders/{order_id}/cancel", {})
    answer = await run.call("POST", f"/orders/{order_id}/authorizations", run.record((1, 100)))
    return expect(answer, "authorize on a cancelled order", 400)


@probe(
    "A9",
    "payment_status is pending, then paid once captured in full",
    calls="GET order; POST authorizations, captures; GET order",
    if_it_differs="nothing reads payment_status; informational",
)
async def _a9(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    before = (await run.ok("GET", f"/orders/{order_id}"))["payment_status"]
    await run.ok("POST", f"/orders/{order_id}/authorizations", run.record((1, 10000)))
    await run.ok("POST", f"/orders/{order_id}/captures", run.record((1, 10000)))
    after = (await run.ok("GET", f"/orders/{order_id}"))["payment_status"]
    verdict: Verdict = "holds" if (before, after) == ("pending", "paid") else "differs"
    return Finding(verdict, "payment_status before and after a full capture", f"{before}, {after}")


@probe(
    "A10",
    "list endpoints return every record; the order embeds authorizations and cancellations",
    calls="POST authorizations; POST captures x3; GET captures; GET order",
    if_it_differs="paginated lists would hide records from the ledger check and "
    "reconciliation: the client must follow pages",
)
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


@probe(
    "A11",
    "a client-credentials token for the account is accepted",
    calls="POST auth/token; GET orders/{unknown}",
    if_it_differs="nothing works: check DINTERO_CLIENT_ID / _SECRET and the account",
)
async def _a11(run: Run) -> Finding:
    answer = await run.call("GET", "/orders/conformance-no-such-order")
    verdict: Verdict = "holds" if answer.status_code == 404 else "differs"
    return Finding(verdict, "a client-credentials token, then a read with it", status_of(answer))


@probe(
    "A12",
    "ALPHANUMERIC_9_RESERVE shows the reserved order id on the draft",
    calls="POST draft_orders; PUT complete",
    if_it_differs="a lost completion answer could not be matched to its order: PlaceOrder "
    "would look it up by content only",
)
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


@probe(
    "A13",
    "a line paid in part can be reversed, its records taking back what was paid",
    calls="POST authorizations; POST draft_orders; PUT complete; POST authorizations",
    if_it_differs="a revert before a top-up is covered fails: revert by hand",
)
async def _a13(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    await run.ok("POST", f"/orders/{order_id}/authorizations", run.record((1, 4000)))
    reversal = run.line(
        2, -10000, related_item={"line_id": 1, "type": "reversed"}, reversed_reason="probe"
    )
    reversal["id"] = "conformance-1"
    completed = await run.linked(order_id, reversal)
    if completed.status_code != 200:
        return Finding("differs", "reverse a line paid 4000 of 10000", status_of(completed))
    answer = await run.call("POST", f"/orders/{order_id}/authorizations", run.record((2, -4000)))
    return expect(answer, "reverse a line paid 4000 of 10000, authorize -4000 on it", 200)


@probe(
    "A14",
    "a cancellation never exceeds authorized - captured - cancelled",
    calls="POST authorizations, captures; POST cancellations x2",
    if_it_differs="the ledger check catches it; the product never over-cancels",
)
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
        f"{status_of(over)}, {status_of(within)}",
    )


@probe(
    "A15",
    "cancelled money cannot be captured",
    calls="POST cancellations; POST captures",
    if_it_differs="a merchant's fulfilment could capture released money: capture by the records",
)
async def _a15(run: Run) -> Finding:
    order_id = await run.paid(capture=False)
    await run.ok("POST", f"/orders/{order_id}/cancellations", run.record((1, 4000)))
    answer = await run.call("POST", f"/orders/{order_id}/captures", run.record((1, 6001)))
    return expect(answer, "authorize 10000, cancel 4000, capture 6001", 400)


@probe(
    "A16",
    "cancellations are embedded in the order and readable by id",
    calls="POST cancellations; GET order; GET cancellations/{id}",
    if_it_differs="released money would not show in the ledger: read cancellations from the order",
)
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
        f"embedded {len(embedded)}; by id {status_of(one)}",
    )


# --- documented facts: F1-F4 --------------------------------------------------------------


@probe(
    "F1",
    "errors come in Dintero's envelope {error: {code, message}}",
    calls="GET orders/{unknown}",
    if_it_differs="error messages would be less precise; nothing else",
)
async def _f1(run: Run) -> Finding:
    answer = await run.call("GET", "/orders/conformance-no-such-order")
    try:
        error = answer.json()["error"]
        shaped = {"code", "message"} <= set(error)
    except (ValueError, KeyError, TypeError):
        shaped = False
    return Finding(
        "holds" if shaped else "differs", "GET an unknown order", f"{status_of(answer)} {shaped}"
    )


@probe(
    "F2",
    "a record's metadata is kept and listed back",
    calls="POST authorizations; GET authorizations",
    if_it_differs="a retried write could not find its own record: it would be written twice; "
    "do not run amendments against this account",
)
async def _f2(run: Run) -> Finding:
    order_id = await run.order(run.line(1))
    await run.ok("POST", f"/orders/{order_id}/authorizations", run.record((1, 100)))
    listed = (await run.ok("GET", f"/orders/{order_id}/authorizations"))["authorizations"]
    kept = [a.get("metadata") for a in listed]
    verdict: Verdict = "holds" if kept == [{"conformance_run": run.run_id}] else "differs"
    return Finding(verdict, "an authorization with metadata, listed back", str(kept))


@probe(
    "F3",
    "with multiple_authorizations, a line takes two authorizations and every record needs its"
    " authorization_id",
    calls="POST authorizations x2; POST captures",
    if_it_differs="lines paid by several payments (top-ups, split tenders) could not be recorded",
)
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
        f"{status_of(two)}, {status_of(none)}",
    )


@probe(
    "F4",
    "a write on an order that does not exist is refused",
    calls="POST orders/{unknown}/captures",
    if_it_differs="nothing; informational",
)
async def _f4(run: Run) -> Finding:
    answer = await run.call("POST", "/orders/conformance-no-such-order/captures", run.record())
    verdict: Verdict = "holds" if answer.status_code in (400, 404) else "differs"
    return Finding(verdict, "a capture on an order that does not exist", status_of(answer))
