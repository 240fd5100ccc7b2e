"""End to end: the real Temporal dev server, a worker, the simulator over a real socket.

Each case asserts the exact sequence of Dintero calls and the final per-line ledger."""

from __future__ import annotations

from tests.harness import CHAIR, LUX, READ, Harness


def ledger(result: object) -> dict[int, tuple[int, int, int, int]]:
    return {
        line.line_id: (line.gross_amount, line.authorized, line.captured, line.refunded)
        for line in result.lines  # type: ignore[attr-defined]
    }


async def test_guide_example_even_swap(harness: Harness) -> None:
    order_id = await harness.place(CHAIR)
    mark = harness.mark()
    result = await harness.amend(
        {
            "order_id": order_id,
            "amendment_id": "swap-1",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
            "add": [LUX],
        }
    )
    assert harness.calls(mark) == [
        *READ,
        "POST draft_orders",
        "PUT complete",
        "POST authorizations",
        "POST captures",
        "POST authorizations",
        "POST captures",
        *READ,
    ]
    assert ledger(result) == {
        1: (39800, 39800, 39800, 0),
        2: (-39800, -39800, -39800, 0),
        3: (39800, 39800, 39800, 0),
    }
    assert result.total == 39800
    [draft_call] = [r for r in harness.sim.requests[mark:] if r["method"] == "POST"][:1]
    assert draft_call["body"] == {
        "options": {"order_id": order_id},
        "order": {
            "currency": "NOK",
            "items": [
                {
                    **{k: v for k, v in CHAIR.items() if k != "quantity"},
                    "line_id": 2,
                    "quantity": 2,
                    "gross_amount": -39800,
                    "tax_lines": [{"amount": -7960, "percentage": 25.0}],
                    "reversed_reason": "Replace item",
                    "related_item": {"line_id": 1, "type": "reversed"},
                },
                {**LUX, "line_id": 3, "tax_lines": [{"amount": 7960, "percentage": 25.0}]},
            ],
        },
    }
