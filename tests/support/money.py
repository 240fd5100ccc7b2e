"""An order's money and content computed straight from the simulator's stored lines and records,
without any of the product's code: the independent ledger that tests hold the product to."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from amendments.simulator.state import Store

AID = "T12345678"
REFUND_PRODUCT = "amendment-refund"
RELEASE_PRODUCT = "amendment-release"
KINDS = ("authorization", "capture", "refund", "cancellation")


def independent_view(store: Store, order_id: str, account_id: str = AID) -> dict[str, Any]:
    """The order's total, net quantity per product (a reversal line counts against its
    product), net money per payment (captured minus refunded), totals per line and kind, and how
    many times each (amendment, step) marker was written."""
    order = store.accounts[account_id].orders[order_id]
    net_quantity: dict[str, int] = defaultdict(int)
    total = 0
    for line in order.lines.values():
        item = line.item
        if item.id in (REFUND_PRODUCT, RELEASE_PRODUCT):
            continue
        net_quantity[item.id] += -item.quantity if item.related_item else item.quantity
        total += item.gross_amount
    money: dict[str, int] = defaultdict(int)
    refunded: dict[str, int] = defaultdict(int)
    by_line: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    markers: Counter[tuple[str, str]] = Counter()
    for op in order.operations:
        metadata = op.body.metadata or {}
        markers[(metadata.get("amendment_id", ""), metadata.get("step", ""))] += 1
        if not op.body.success:
            continue
        payer = op.body.payment_details.payment_id if op.body.payment_details else "?"
        amount = sum(i.amount for i in op.body.items)
        if op.kind == "capture":
            money[payer] += amount
        elif op.kind == "refund":
            money[payer] -= amount
            refunded[payer] += amount
        for i in op.body.items:
            by_line[i.line_id][op.kind] += i.amount
    return {
        "total": total,
        "net_quantity": {k: v for k, v in net_quantity.items() if v},
        "money": {k: v for k, v in money.items() if v},
        "refunded": dict(refunded),
        "by_line": by_line,
        "markers": markers,
    }


def per_payment(store: Store, order_id: str, account_id: str = AID) -> dict[str, dict[str, int]]:
    """Each payment's authorized, captured, refunded and cancelled money on the whole order, from
    the raw records (successful ones), payments in the order of their first record."""
    order = store.accounts[account_id].orders[order_id]
    out: dict[str, dict[str, int]] = {}
    for op in order.operations:
        if not op.body.success:
            continue
        payer = op.body.payment_details.payment_id if op.body.payment_details else "?"
        sums = out.setdefault(payer, dict.fromkeys(KINDS, 0))
        sums[op.kind] += sum(i.amount for i in op.body.items)
    return out


def held_per_line(store: Store, order_id: str) -> dict[int, dict[str, int]]:
    """What each payment holds on each line: captured minus refunded, a reversal line's money
    counted on the line it reverses (so a line's entry is what its payments still hold for
    what remains of it)."""
    return _per_line(store, order_id, {"capture": 1, "refund": -1})


def reserved_per_line(store: Store, order_id: str) -> dict[int, dict[str, int]]:
    """What each payment reserves on each line: authorized minus captured minus cancelled, a
    reversal line's money counted on the line it reverses (money authorized, not yet taken)."""
    return _per_line(store, order_id, {"authorization": 1, "capture": -1, "cancellation": -1})


def _per_line(store: Store, order_id: str, signs: dict[str, int]) -> dict[int, dict[str, int]]:
    order = store.accounts[AID].orders[order_id]
    target = {
        line_id: (line.item.related_item.line_id if line.item.related_item else line_id)
        for line_id, line in order.lines.items()
    }
    out: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for op in order.operations:
        if not op.body.success or op.kind not in signs:
            continue
        payer = op.body.payment_details.payment_id if op.body.payment_details else "?"
        for i in op.body.items:
            out[target[i.line_id]][payer] += signs[op.kind] * i.amount
    held = {line: {p: v for p, v in by.items() if v} for line, by in out.items()}
    return {line: by for line, by in held.items() if by}
