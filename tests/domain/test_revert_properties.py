"""Property tests of the revert over random top-up amendments and random top-up parts.

Each case applies an amendment and some top-up parts (successes and declines, on several
payments, the order's own payment among them) through the simulator's rule engine, then the
revert plan. Every write must pass the simulator's rules, the product's ledger check must hold,
and an independent ledger, computed here from the simulator's raw records and lines, must show
the order as it was before the amendment: the same total, the same net quantity per product,
the same net money per payment, and every top-up payment given back in full.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from amendments.domain.errors import AmendmentRejected
from amendments.domain.ledger import check_ledger
from amendments.domain.models import AmendOrderInput, Plan
from amendments.domain.planner import plan_amendment
from amendments.domain.revert import plan_revert
from amendments.domain.top_up import TopUpCollector
from tests.support.money import independent_view
from tests.support.store import Ledger
from tests.support.strategies import order_and_amendment

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PAYERS = ["PID_1", "PID_T1", "PID_T2"]  # PID_1 paid the order itself

parts_st = st.lists(
    st.tuples(st.sampled_from(PAYERS), st.floats(0.05, 0.6), st.booleans()), max_size=4
)


def collect(plan: Plan, parts: list[tuple[str, float, bool]]) -> TopUpCollector:
    collector = TopUpCollector()
    collector.open(plan)
    for payer, share, success in parts:
        amount = max(1, int(plan.top_up_amount * share))
        collector.offer({"payment_id": payer, "amount": amount, "success": success})
    return collector


@PROPERTY
@given(order_and_amendment(), parts_st)
def test_a_revert_leaves_the_order_as_it_was(
    case: tuple[list[dict[str, Any]], AmendOrderInput], parts: list[tuple[str, float, bool]]
) -> None:
    lines, request = case
    ledger = Ledger(lines)
    before = independent_view(ledger.store, ledger.order_id)
    try:
        plan = plan_amendment(
            ledger.snapshot(), request.model_copy(update={"order_id": ledger.order_id})
        )
    except AmendmentRejected:
        return
    if not plan.top_up_amount:
        event("not a top-up")
        return
    ledger.draft(plan.lines, plan.multiple_authorizations)
    ledger.write(plan.amendment_id, list(plan.operations))
    collector = collect(plan, parts)
    while (part := collector.next()) is not None:
        ledger.write(plan.amendment_id, [part.authorization, *filter(None, [part.capture])])
        collector.written(part)
        if collector.outstanding == 0:
            break
    event(f"top-up parts captured: {len(collector.paid)}")
    event(f"covered before the revert: {collector.outstanding == 0}")

    revert = plan_revert(plan, collector.paid, "not paid in time")
    assert revert.line_ids[0] == max(plan.line_ids) + 1
    ledger.draft(revert.lines, multiple_authorizations=True)
    ledger.write(plan.amendment_id, list(revert.operations))

    check_ledger(ledger.snapshot())
    after = independent_view(ledger.store, ledger.order_id)
    assert after["total"] == before["total"]
    assert after["net_quantity"] == before["net_quantity"]
    assert after["money"] == before["money"]  # every top-up payment nets to zero
    refunded: dict[str, int] = defaultdict(int)
    for captured in collector.paid:
        refunded[captured.payment_id] += captured.amount
    assert dict(revert.refunds) == dict(refunded)
    for line in plan.lines:  # every line the amendment added is undone
        if line.role != "new":
            continue
        [undo] = [x for x in revert.lines if x.reverses == line.line_id]
        for kind in ("authorization", "capture"):
            assert after["by_line"][line.line_id][kind] + after["by_line"][undo.line_id][kind] == 0
