"""Shared by the reliability tests: one amendment case per branch, and the exactly-once check."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from amendments.dintero.convert import to_snapshot
from amendments.dintero.models import CaptureList, Order, RefundList
from amendments.domain import ids
from amendments.domain.ledger import check_ledger
from amendments.domain.order import OrderSnapshot, line_totals
from amendments.simulator import Simulator
from tests.support.money import independent_view
from tests.support.orders import item, rev

AID = "T12345678"
T = TypeVar("T")
REV = [ids.REVERSAL.record("authorization"), ids.REVERSAL.record("capture")]
COV = [ids.COVERED.record("authorization"), ids.COVERED.record("capture")]
REVERT = [
    *(
        ids.revert_reversal_group(n).record(kind)
        for n in (1, 2)
        for kind in ("authorization", "capture")
    ),
    ids.revert_restore_group(1, 1).record("authorization"),
    ids.revert_restore_group(1, 1).record("capture"),
    ids.revert_settling_group("refund", 1).record("authorization"),
    ids.revert_settling_group("refund", 1).record("capture"),
    ids.settled_step(ids.revert_settling_group("refund", 1), "refund"),
]


@dataclass(frozen=True)
class Case:
    kind: str
    items: tuple[dict[str, Any], ...]
    reverse: tuple[dict[str, Any], ...]
    add: tuple[dict[str, Any], ...]
    outcomes: tuple[tuple[str, int, bool], ...] = ()
    steps: tuple[str, ...] = ()
    minimum_calls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    reverted: bool = False  # ends reverted: its new lines are undone, so only partly paid
    captured: bool = True  # False: the order is placed authorized only (captured at shipment)

    def request(self, order_id: str, amendment_id: str) -> dict[str, Any]:
        return {
            "order_id": order_id,
            "amendment_id": amendment_id,
            "reverse": list(self.reverse),
            "add": list(self.add),
            **self.extra,
        }


def top_up_steps(outcomes: Iterable[tuple[str, int, bool]], *, captured: bool = True) -> list[str]:
    steps = []
    for number, (_, _, success) in enumerate(outcomes, start=1):
        steps.append(ids.top_up_group(number).record("authorization"))
        if success and captured:
            steps.append(ids.top_up_group(number).record("capture"))
    return steps


def case(kind: str, number: int) -> Case:
    """The `number`-th case of a branch; amounts vary with the number."""
    cents = 100 * (number % 50)
    if kind == "even":
        return Case(
            kind,
            (item("A", 39800 + cents),),
            (rev(1),),
            (item("B", 39800 + cents),),
            steps=(*REV, *COV),
            minimum_calls=12,
        )
    if kind == "refund":
        return Case(
            kind,
            (item("A", 39800 + cents),),
            (rev(1),),
            (item("B", 30000),),
            steps=(*REV, *COV, "refund"),
            minimum_calls=13,
        )
    if kind == "top-up":
        outcomes: tuple[tuple[str, int, bool], ...] = (
            ("PID_A", 6000, True),
            ("PID_B", 4000 + cents, True),
        )
        if number % 2:
            outcomes = (("PID_X", 10000 + cents, False), *outcomes)
        return Case(
            kind,
            (item("A", 39800),),
            (rev(1),),
            (item("B", 49800 + cents),),
            outcomes=outcomes,
            steps=(*REV, *COV, *top_up_steps(outcomes)),
            minimum_calls=16 + (1 if number % 2 else 0),
        )
    if kind == "partial":
        return Case(
            kind,
            (item("A", 39801 + cents, quantity=3),),
            (rev(1, 1),),
            (),
            steps=(
                *REV,
                ids.COVERED.record("authorization"),
                ids.COVERED.record("capture"),
                "refund",
            ),
            minimum_calls=13,
        )
    if kind == "revert":
        outcomes = (("PID_A", 3000 + cents, True),)
        return Case(
            kind,
            (item("A", 39800),),
            (rev(1),),
            (item("B", 49800 + cents),),
            outcomes=outcomes,
            steps=(*REV, *COV, *top_up_steps(outcomes), *REVERT),
            # + the revert's draft 2, the new line's money taken back from 2 payments (4), the
            # chair restored (2), the part refunded (3)
            minimum_calls=16 + 13,
            extra={"top_up_timeout_seconds": 10},  # one part paid, then the timeout reverts it
            reverted=True,
        )
    if kind == "multi-line":
        outcomes = (("PID_1", 20000, True), ("PID_2", 15000 + cents, True))
        return Case(
            kind,
            (item("A", 10000), item("B", 20000, quantity=2), item("C", 5000)),
            (rev(1), rev(2, 1)),
            (item("D", 25000), item("E", 30000 + cents)),
            outcomes=outcomes,
            steps=(*REV, *COV, *top_up_steps(outcomes)),
            minimum_calls=16,
        )
    if kind == "uncaptured":  # captured at shipment: cheaper (a release), or dearer
        if number % 2 == 0:
            return Case(
                kind,
                (item("A", 39800 + cents),),
                (rev(1),),
                (item("B", 30000),),
                steps=(
                    ids.REVERSAL.record("authorization"),
                    ids.COVERED.record("authorization"),
                    "release",
                ),
                minimum_calls=11,
                captured=False,
            )
        outcomes = (("PID_A", 6000, True), ("PID_B", 4000 + cents, True))
        return Case(
            kind,
            (item("A", 39800),),
            (rev(1),),
            (item("B", 49800 + cents),),
            outcomes=outcomes,
            steps=(
                ids.REVERSAL.record("authorization"),
                ids.COVERED.record("authorization"),
                *top_up_steps(outcomes, captured=False),
            ),
            minimum_calls=12,
            captured=False,
        )
    raise ValueError(kind)


KINDS = ("even", "refund", "top-up", "partial", "multi-line", "revert", "uncaptured")


def cases(count: int) -> list[Case]:
    return [case(KINDS[n % len(KINDS)], n) for n in range(count)]


def snapshot(sim: Simulator, order_id: str, account_id: str = AID) -> OrderSnapshot:
    store = sim.store
    return to_snapshot(
        Order.model_validate(store.get_order(account_id, order_id)),
        CaptureList.model_validate(store.list_operations(account_id, order_id, "capture")).captures,
        RefundList.model_validate(store.list_operations(account_id, order_id, "refund")).refunds,
    )


def problems_with(
    sim: Simulator, order_id: str, amendment_id: str, planned: Case, account_id: str = AID
) -> list[str]:
    """Everything wrong with one amendment's records: [] when each planned record exists exactly
    once (by its markers), one draft was created (two for a revert), and the order's ledger is
    exact; a reverted one must also leave the order as it was, read straight from the simulator."""
    problems = []
    order = snapshot(sim, order_id, account_id)
    steps = Counter(
        r.metadata.get("step")
        for r in order.records
        if r.metadata.get("amendment_id") == amendment_id
    )
    if steps != Counter(planned.steps):
        problems.append(f"{order_id}: records {dict(steps)} != planned {sorted(planned.steps)}")
    drafts = [
        d for d in sim.store.accounts[account_id].drafts.values() if d.options.order_id == order_id
    ]
    if len(drafts) != (2 if planned.reverted else 1):
        problems.append(f"{order_id}: {len(drafts)} drafts")
    try:
        check_ledger(order)
    except AssertionError as exc:
        problems.append(str(exc))
    if planned.reverted:
        view = independent_view(sim.store, order_id, account_id)
        placed = sum(int(i["gross_amount"]) for i in planned.items)
        if list(view["money"].values()) != [placed] or view["total"] != placed:
            problems.append(f"{order_id}: reverted, but money is {view['money']}")
        content = {str(i["id"]): int(i["quantity"]) for i in planned.items}
        if view["net_quantity"] != content:
            problems.append(f"{order_id}: reverted, but holds {view['net_quantity']}")
        return problems
    for totals in line_totals(order).values():
        captured = totals.gross_amount if planned.captured else 0  # nothing captured if not
        if (totals.authorized, totals.captured) != (totals.gross_amount, captured):
            problems.append(f"{order_id}: line {totals.line_id} is {totals}")
    return problems


async def bounded(jobs: Iterable[Awaitable[T]], limit: int = 50) -> list[T]:
    """Await many jobs, at most `limit` at a time."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[T]) -> T:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))
