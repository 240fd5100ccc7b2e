"""Hypothesis strategies shared by the property tests: random orders, and random amendments of
them."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from amendments.domain.models import AmendOrderInput

line_st = st.builds(
    lambda q, unit, rate: {"quantity": q, "gross": q * unit, "rate": rate},
    st.integers(1, 6),
    st.integers(1, 200_000),
    st.sampled_from([0, 12, 15, 25]),
)


def order_lines(specs: list[dict[str, int]]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"P{n}",
            "line_id": n,
            "quantity": s["quantity"],
            "gross_amount": s["gross"],
            "tax_lines": [
                {"amount": s["gross"] * s["rate"] // (100 + s["rate"]), "percentage": s["rate"]}
            ],
            "description": f"Product {n}",
        }
        for n, s in enumerate(specs, start=1)
    ]


@st.composite
def order_and_amendment(draw: st.DrawFn) -> tuple[list[dict[str, Any]], AmendOrderInput]:
    specs = draw(st.lists(line_st, min_size=1, max_size=5))
    lines = order_lines(specs)
    reversed_ids = draw(
        st.lists(st.sampled_from([x["line_id"] for x in lines]), unique=True, max_size=len(lines))
    )
    reverse = [
        {
            "line_id": lid,
            "reason": "r",
            "quantity": draw(st.one_of(st.none(), st.integers(1, lines[lid - 1]["quantity"]))),
        }
        for lid in reversed_ids
    ]
    add = draw(
        st.lists(
            st.builds(
                lambda g, q: {
                    "id": "NEW",
                    "quantity": q,
                    "gross_amount": g,
                    "tax_lines": [{"amount": g // 5, "percentage": 25}],
                    "description": "n",
                },
                st.integers(1, 1_500_000),
                st.integers(1, 3),
            ),
            min_size=0 if reverse else 1,
            max_size=4,
        )
    )
    return lines, AmendOrderInput.model_validate(
        {"order_id": "X", "amendment_id": "a1", "reverse": reverse, "add": add}
    )
