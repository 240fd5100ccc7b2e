"""An ambiguous failure on each kind of write: Dintero applies it and answers 502. The retried
attempt finds the write by its markers and does not repeat it: every record exists once."""

from __future__ import annotations

from collections import Counter

import pytest

from amendments.domain import ids
from amendments.simulator import FaultRule
from tests.support.harness import READ, Harness
from tests.support.orders import CHAIR, item

BASE = [
    *READ,
    "POST draft_orders",
    "PUT complete",
    "POST authorizations",
    "POST captures",
    "POST authorizations",
    "POST captures",
    "POST refunds",
    *READ,
]


@pytest.mark.parametrize(
    ("method", "path", "after", "reconciliation"),
    [
        ("POST", "*/draft_orders", 4, ["GET draft_orders", "GET order"]),
        ("PUT", "*/complete", 5, ["GET draft"]),
        ("POST", "*/authorizations", 6, ["GET authorizations"]),
        ("POST", "*/captures", 7, ["GET captures"]),
        ("POST", "*/refunds", 10, ["GET refunds"]),
    ],
    ids=["draft", "complete", "authorization", "capture", "refund"],
)
async def test_ambiguous_write_is_not_repeated(
    harness: Harness, method: str, path: str, after: int, reconciliation: list[str]
) -> None:
    order_id = await harness.place(CHAIR)
    harness.sim.add_faults(
        [FaultRule(method=method, path=path, status=502, mode="ambiguous", times=1)]
    )
    mark = harness.mark()
    result = await harness.amend(
        {
            "order_id": order_id,
            "amendment_id": "ambiguous",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
            "add": [item("X", 30000)],
        }
    )
    expected = BASE[:after] + reconciliation + BASE[after:]
    if path == "*/refunds":  # the reconciling read runs just before the verifying reads
        expected = BASE[:after] + sorted(reconciliation + READ)
    assert harness.calls(mark) == expected
    statuses = [r["status"] for r in harness.sim.requests[mark:] if r.get("fault") == "ambiguous"]
    assert statuses == [502]

    drafts = harness.sim.store.accounts["T12345678"].drafts.values()
    assert len([d for d in drafts if d.options.order_id == order_id]) == 1
    steps = Counter(
        r["metadata"]["step"]
        for kind in ("authorization", "capture", "refund")
        for r in harness.records(order_id, kind)
        if r.get("metadata", {}).get("amendment_id") == "ambiguous"
    )
    assert steps == {
        ids.REVERSAL.record("authorization"): 1,
        ids.REVERSAL.record("capture"): 1,
        ids.COVERED.record("authorization"): 1,
        ids.COVERED.record("capture"): 1,
        "refund": 1,
    }
    assert {
        line.line_id: (line.authorized, line.captured, line.refunded) for line in result.lines
    } == {1: (39800, 39800, 0), 2: (-39800, -39800, 0), 3: (30000, 30000, 0), 4: (9800, 9800, 9800)}
    state = await harness.state(order_id)
    assert [op.reconciled for op in state.operations].count(True) == (
        1 if method == "POST" and path != "*/draft_orders" else 0
    )
