"""Amendments that cannot be applied, each with the order it is tried on and the field its
refusal must name: the reliability suite starts them all, the raw-contract tests some."""

from __future__ import annotations

from typing import Any

from tests.support.orders import item, rev

NEW = item("N", 10000)


# (name, order, request fields, field named). Orders: "main" holds line 1 (reversed by line 3),
# line 2 (qty 2), line 3 (reversal of 1), line 4 (new), line 5 (refund line).
CATALOGUE: list[tuple[str, str, dict[str, Any], str]] = [
    ("unknown line", "main", {"reverse": [rev(99)]}, "reverse.0.line_id"),
    ("reversal of a reversal line", "main", {"reverse": [rev(3)]}, "reverse.0.line_id"),
    ("reversal of a refund line", "main", {"reverse": [rev(5)]}, "reverse.0.line_id"),
    ("line already fully reversed", "main", {"reverse": [rev(1)]}, "reverse.0.line_id"),
    ("over-reversal", "main", {"reverse": [rev(2, 3)]}, "reverse.0.quantity"),
    ("less than one minor unit", "tiny", {"reverse": [rev(1, 1)]}, "reverse.0.quantity"),
    ("currency mismatch", "main", {"add": [NEW], "currency": "SEK"}, "currency"),
    ("unknown order", "missing", {"add": [NEW]}, "order_id"),
    ("cancelled order", "cancelled", {"add": [NEW]}, "order_id"),
    ("closed order", "closed", {"add": [NEW]}, "order_id"),
    ("never authorized order", "uncaptured", {"add": [NEW]}, "order_id"),
    ("negative price", "main", {"add": [{**NEW, "gross_amount": -100}]}, "add.0.gross_amount"),
    ("zero price", "main", {"add": [{**NEW, "gross_amount": 0}]}, "add.0.gross_amount"),
    (
        "tax greater than gross",
        "main",
        {"add": [{**NEW, "tax_lines": [{"amount": 10001, "percentage": 25}]}]},
        "add.0.tax_lines",
    ),
    (
        "negative tax",
        "main",
        {"add": [{**NEW, "tax_lines": [{"amount": -1, "percentage": 25}]}]},
        "add.0.tax_lines.0.amount",
    ),
    (
        "tax rate above 100",
        "main",
        {"add": [{**NEW, "tax_lines": [{"amount": 1, "percentage": 150}]}]},
        "add.0.tax_lines.0.percentage",
    ),
    (
        "a tax rate twice",
        "main",
        {"add": [{**NEW, "tax_lines": [{"amount": 1, "percentage": 25}] * 2}]},
        "add.0.tax_lines",
    ),
    ("empty amendment", "main", {}, "reverse"),
    ("duplicate line references", "main", {"reverse": [rev(2), rev(2)]}, "reverse"),
    (
        "oversized description",
        "main",
        {"add": [{**NEW, "description": "x" * 1001}]},
        "add.0.description",
    ),
    ("oversized product id", "main", {"add": [{**NEW, "id": "x" * 201}]}, "add.0.id"),
    ("oversized amendment id", "main", {"add": [NEW], "amendment_id": "a" * 101}, "amendment_id"),
    ("price as a string", "main", {"add": [{**NEW, "gross_amount": "100"}]}, "add.0.gross_amount"),
    ("fractional quantity", "main", {"add": [{**NEW, "quantity": 1.5}]}, "add.0.quantity"),
    ("reverse is not a list", "main", {"reverse": "2"}, "reverse"),
    ("unknown field", "main", {"add": [{**NEW, "colour": "red"}]}, "add.0.colour"),
    ("missing reason", "main", {"reverse": [{"line_id": 2, "quantity": None}]}, "reverse.0.reason"),
    ("zero quantity reversal", "main", {"reverse": [rev(2, 0)]}, "reverse.0.quantity"),
    (
        "zero top-up timeout",
        "main",
        {"add": [NEW], "top_up_timeout_seconds": 0},
        "top_up_timeout_seconds",
    ),
    ("amendment id with spaces", "main", {"add": [NEW], "amendment_id": "a b"}, "amendment_id"),
]
