"""The planner without Temporal or HTTP: every rejection names its field; the plan's money."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from amendments.api.starter import parse_amendment
from amendments.domain import ids
from amendments.domain.errors import AmendmentRejected
from amendments.domain.models import REFUND_PRODUCT_ID, AmendOrderInput
from amendments.domain.order import OrderLine, OrderSnapshot, PaymentRecord, RecordItem, TaxLine
from amendments.domain.planner import plan_amendment
from tests.support.orders import rev


def line(line_id: int, gross: int, quantity: int = 1, **extra: Any) -> OrderLine:
    return OrderLine(
        line_id=line_id,
        product_id=extra.pop("product_id", f"P{line_id}"),
        quantity=quantity,
        gross_amount=gross,
        tax_lines=(TaxLine(amount=gross // 5, percentage=25),),
        description=f"Product {line_id}",
        **extra,
    )


def paid(
    *lines: OrderLine, payment: str = "PID_1", status: str = "open", currency: str = "NOK"
) -> OrderSnapshot:
    items = tuple(RecordItem(line_id=x.line_id, amount=x.gross_amount) for x in lines)
    records = tuple(
        PaymentRecord(kind=kind, id=f"{kind}-1", items=items, success=True, payment_id=payment)
        for kind in ("authorization", "capture")
    )
    return OrderSnapshot(
        order_id="ORDER1", currency=currency, status=status, lines=lines, records=records
    )


def request(**fields: Any) -> AmendOrderInput:
    return AmendOrderInput.model_validate({"order_id": "ORDER1", "amendment_id": "a1", **fields})


def new(gross: int, product: str = "N", quantity: int = 1) -> dict[str, Any]:
    return {
        "id": product,
        "quantity": quantity,
        "gross_amount": gross,
        "tax_lines": [{"amount": gross // 5, "percentage": 25}],
        "description": "new",
    }


def rejected(order: OrderSnapshot, req: AmendOrderInput) -> AmendmentRejected:
    with pytest.raises(AmendmentRejected) as caught:
        plan_amendment(order, req)
    return caught.value


# --- rejections against the order --------------------------------------------------------


def test_unknown_line() -> None:
    error = rejected(paid(line(1, 1000)), request(reverse=[rev(7)]))
    assert (error.field, error.reason) == ("reverse.0.line_id", "line 7 is not on order ORDER1")


def test_reversal_line_cannot_be_reversed() -> None:
    order = paid(line(1, 1000), line(2, -1000, reverses=1, product_id="P1"), line(3, 1000))
    error = rejected(order, request(reverse=[rev(2)]))
    assert error.field == "reverse.0.line_id"
    assert "is a reversal line (of line 1)" in error.reason


def test_refund_line_cannot_be_reversed() -> None:
    refund = OrderLine(
        line_id=2, product_id=REFUND_PRODUCT_ID, quantity=1, gross_amount=500, description="Refund"
    )
    order = paid(line(1, 1000), refund)
    order = order.model_copy(
        update={
            "records": (
                *order.records,
                PaymentRecord(
                    kind="refund",
                    id="r",
                    items=(RecordItem(line_id=2, amount=500),),
                    success=True,
                    payment_id="PID_1",
                ),
            )
        }
    )
    error = rejected(order, request(reverse=[rev(2)]))
    assert "refund line" in error.reason


def test_reversing_more_than_remains() -> None:
    order = paid(line(1, 1000, quantity=2))
    error = rejected(order, request(reverse=[rev(1, quantity=3)]))
    assert error.field == "reverse.0.quantity"
    assert error.reason == "reversing 3 units of line 1, but only 2 of 2 remain"


def test_reversing_a_fully_reversed_line() -> None:
    order = paid(line(1, 1000), line(2, -1000, reverses=1, product_id="P1"))
    error = rejected(order, request(reverse=[rev(1)]))
    assert error.reason == "line 1 is already fully reversed: nothing remains"


def test_currency_mismatch() -> None:
    error = rejected(paid(line(1, 1000)), request(reverse=[rev(1)], currency="SEK"))
    assert (error.field, error.reason) == (
        "currency",
        "SEK does not match the order's currency NOK",
    )


@pytest.mark.parametrize("status", ["cancelled", "closed"])
def test_closed_or_cancelled_order(status: str) -> None:
    error = rejected(paid(line(1, 1000), status=status), request(reverse=[rev(1)]))
    assert (error.field, error.reason) == ("order_id", f"order ORDER1 is {status}")


def test_order_with_no_records() -> None:
    order = OrderSnapshot(order_id="ORDER1", currency="NOK", status="open", lines=(line(1, 1000),))
    error = rejected(order, request(reverse=[rev(1)]))
    assert error.reason == "order ORDER1 has no payment records: it was never authorized"


def test_a_line_never_authorized() -> None:
    order = paid(line(1, 1000))
    order = order.model_copy(update={"lines": (*order.lines, line(2, 500))})
    error = rejected(order, request(reverse=[rev(2)]))
    assert error.field == "order_id"
    assert "does not balance (line 2 of 500 is authorized 0)" in error.reason


def test_an_unfinished_earlier_amendment() -> None:
    order = paid(line(1, 1000))
    order = order.model_copy(
        update={"lines": (*order.lines, line(2, -1000, reverses=1, product_id="P1"))}
    )
    error = rejected(order, request(add=[new(100)]))
    assert "replay it" in error.reason


def split_tender(line_: OrderLine, shares: dict[str, int]) -> OrderSnapshot:
    """One line paid by several payments, each under its own authorization id, oldest first."""
    records = tuple(
        PaymentRecord(
            kind=kind,
            id=f"{kind}-{payment}",
            items=(RecordItem(line_id=line_.line_id, amount=amount),),
            success=True,
            payment_id=payment,
            authorization_id=f"shop-{payment}",
        )
        for payment, amount in shares.items()
        for kind in ("authorization", "capture")
    )
    return OrderSnapshot(
        order_id="ORDER1", currency="NOK", status="open", lines=(line_,), records=records
    )


def test_lines_paid_by_two_payments_give_each_its_own_money_back() -> None:
    a, b = paid(line(1, 1000), payment="PID_A"), paid(line(2, 2000), payment="PID_B")
    order = a.model_copy(
        update={"lines": (*a.lines, *b.lines), "records": (*a.records, *b.records)}
    )
    plan = plan_amendment(order, request(reverse=[rev(1), rev(2)], add=[new(1500)]))
    # 3000 taken back; the new line (1500) takes the oldest money first: A's 1000, then 500 of
    # B's; B's other 1500 is refunded to B, through a refund line of its own.
    assert [(x.line_id, x.role, x.gross_amount) for x in plan.lines] == [
        (3, "reversal", -1000),
        (4, "reversal", -2000),
        (5, "new", 1500),
        (6, "refund", 1500),
    ]
    assert plan.multiple_authorizations  # line 5 takes money from two payments
    assert [
        (op.step, op.payment_id, [(i.line_id, i.amount) for i in op.items], op.authorization_id)
        for op in plan.operations
    ] == [
        (
            ids.reversal_group(1, 2).record("authorization"),
            "PID_A",
            [(3, -1000)],
            f"{plan.marker}-rev1",
        ),
        (ids.reversal_group(1, 2).record("capture"), "PID_A", [(3, -1000)], f"{plan.marker}-rev1"),
        (
            ids.reversal_group(2, 2).record("authorization"),
            "PID_B",
            [(4, -2000)],
            f"{plan.marker}-rev2",
        ),
        (ids.reversal_group(2, 2).record("capture"), "PID_B", [(4, -2000)], f"{plan.marker}-rev2"),
        (
            ids.covered_group(1, 2).record("authorization"),
            "PID_A",
            [(5, 1000)],
            f"{plan.marker}-cov1",
        ),
        (ids.covered_group(1, 2).record("capture"), "PID_A", [(5, 1000)], f"{plan.marker}-cov1"),
        (
            ids.covered_group(2, 2).record("authorization"),
            "PID_B",
            [(5, 500), (6, 1500)],
            f"{plan.marker}-cov2",
        ),
        (
            ids.covered_group(2, 2).record("capture"),
            "PID_B",
            [(5, 500), (6, 1500)],
            f"{plan.marker}-cov2",
        ),
        ("refund", "PID_B", [(6, 1500)], f"{plan.marker}-cov2"),
    ]
    allocated = [
        (a.payment_id, a.taken_back_total, a.covers_total, a.refunded) for a in plan.allocation
    ]
    assert allocated == [("PID_A", 1000, 1000, 0), ("PID_B", 2000, 500, 1500)]


def test_a_split_tender_line_gives_back_the_newest_money_first() -> None:
    order = split_tender(line(1, 10000, quantity=4), {"GIFT": 3000, "CARD": 7000})
    # One of four units (2500): all from the card, the newer payment.
    one = plan_amendment(order, request(reverse=[rev(1, 1)]))
    assert [(a.payment_id, a.taken_back_total, a.refunded) for a in one.allocation] == [
        ("CARD", 2500, 2500)
    ]
    # Three of four (7500): the card's 7000, then 500 of the gift card; each refunded its own.
    three = plan_amendment(order, request(reverse=[rev(1, 3)]))
    assert [(a.payment_id, a.taken_back_total, a.refunded) for a in three.allocation] == [
        ("GIFT", 500, 500),
        ("CARD", 7000, 7000),
    ]
    assert [(x.role, x.gross_amount) for x in three.lines] == [
        ("reversal", -7500),
        ("refund", 500),
        ("refund", 7000),
    ]
    assert [op.step for op in three.operations if op.kind == "refund"] == ["refund-1", "refund-2"]
    assert {op.payment_id for op in three.operations if op.kind == "refund"} == {"GIFT", "CARD"}


def test_an_upgrade_paid_by_a_top_up_can_be_returned() -> None:
    """The issue's lamp: 10000 upgraded to 25000 (15000 topped up), then returned. Each payment
    gets its own money back, the top-up's first."""
    order = split_tender(line(4, 25000), {"PID_L1": 10000, "PID_TOP_L1": 15000})
    plan = plan_amendment(order, request(reverse=[rev(4)]))
    assert [(a.payment_id, a.taken_back_total, a.refunded) for a in plan.allocation] == [
        ("PID_L1", 10000, 10000),
        ("PID_TOP_L1", 15000, 15000),
    ]
    assert plan.refund_amount == 25000


def test_less_than_one_minor_unit() -> None:
    error = rejected(paid(line(1, 2, quantity=3)), request(reverse=[rev(1, quantity=1)]))
    assert error.field == "reverse.0.quantity"
    assert "less than one minor unit" in error.reason


# --- rejections of the input itself ------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({}, "reverse", "an amendment must reverse or add at least one line"),
        ({"reverse": [rev(1), rev(1)]}, "reverse", "line 1 is listed more than once"),
        ({"add": [new(0)]}, "add.0.gross_amount", "must be greater than 0"),
        ({"add": [new(-5)]}, "add.0.gross_amount", "must be greater than 0"),
        (
            {"add": [{**new(100), "gross_amount": "100"}]},
            "add.0.gross_amount",
            "must be a whole number (amounts are integers in minor units)",
        ),
        (
            {"add": [{**new(100), "gross_amount": 100.5}]},
            "add.0.gross_amount",
            "must be a whole number (amounts are integers in minor units)",
        ),
        (
            {"add": [{**new(100), "tax_lines": [{"amount": 101, "percentage": 25}]}]},
            "add.0.tax_lines",
            "the tax amounts add up to more than gross_amount",
        ),
        (
            {"add": [{**new(100), "tax_lines": [{"amount": -1, "percentage": 25}]}]},
            "add.0.tax_lines.0.amount",
            "must be at least 0",
        ),
        (
            {"add": [{**new(100), "tax_lines": [{"amount": 1, "percentage": 125}]}]},
            "add.0.tax_lines.0.percentage",
            "must be at most 100",
        ),
        (
            {
                "add": [
                    {
                        **new(100),
                        "tax_lines": [
                            {"amount": 1, "percentage": 25},
                            {"amount": 1, "percentage": 25},
                        ],
                    }
                ]
            },
            "add.0.tax_lines",
            "each percentage may appear once",
        ),
        (
            {"add": [{**new(100), "quantity": 0}]},
            "add.0.quantity",
            "must be at least 1",
        ),
        (
            {"add": [{**new(100), "description": ""}]},
            "add.0.description",
            "must not be empty",
        ),
        (
            {"add": [{**new(100), "id": "x" * 201}]},
            "add.0.id",
            "must be at most 200 characters",
        ),
        (
            {"add": [{**new(100), "colour": "red"}]},
            "add.0.colour",
            "is not a field of this input",
        ),
        ({"reverse": [{"line_id": 1, "quantity": None}]}, "reverse.0.reason", "is required"),
        (
            {"reverse": [{**rev(1), "quantity": -1}]},
            "reverse.0.quantity",
            "must be at least 1",
        ),
        (
            {"reverse": [rev(1)], "top_up_timeout_seconds": 0},
            "top_up_timeout_seconds",
            "must be at least 1",
        ),
        (
            {"reverse": [rev(1)], "amendment_id": "has space"},
            "amendment_id",
            "has characters that are not allowed (it must match ^[A-Za-z0-9._:\\-]+$)",
        ),
        (
            {"reverse": [rev(1)], "currency": "nok"},
            "currency",
            "has characters that are not allowed (it must match ^[A-Z]{3}$)",
        ),
    ],
)
def test_input_rejections_name_the_field(fields: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(AmendmentRejected) as caught:
        parse_amendment({"order_id": "ORDER1", "amendment_id": "a1", **fields})
    assert caught.value.field == field
    assert caught.value.reason.startswith(reason)


def test_wrong_types_are_refused() -> None:
    with pytest.raises(ValidationError):
        request(reverse="line 1")


# --- the plan --------------------------------------------------------------------------


def test_guide_swap_plan() -> None:
    plan = plan_amendment(
        paid(line(1, 39800, quantity=2, product_id="175938")),
        request(reverse=[rev(1)], add=[new(39800, "003929")]),
    )
    assert plan.line_ids == (2, 3)
    assert (plan.reversed_total, plan.new_total, plan.refund_amount, plan.top_up_amount) == (
        39800,
        39800,
        0,
        0,
    )
    reversal = plan.lines[0]
    assert (reversal.product_id, reversal.quantity, reversal.gross_amount, reversal.reverses) == (
        "175938",
        2,
        -39800,
        1,
    )
    assert reversal.tax_lines == (TaxLine(amount=-7960, percentage=25),)
    assert [(op.step, op.payment_id, op.authorization_id) for op in plan.operations] == [
        (ids.REVERSAL.record("authorization"), "PID_1", None),
        (ids.REVERSAL.record("capture"), "PID_1", None),
        (ids.COVERED.record("authorization"), "PID_1", None),
        (ids.COVERED.record("capture"), "PID_1", None),
    ]
    assert plan.branch == "even"


def test_refund_plan() -> None:
    plan = plan_amendment(paid(line(1, 39800)), request(reverse=[rev(1)], add=[new(30000)]))
    assert plan.line_ids == (2, 3, 4)
    assert plan.lines[2].role == "refund"
    assert plan.lines[2].gross_amount == 9800
    assert plan.operations[-1].step == "refund"
    assert plan.branch == "refund"


def test_top_up_plan_uses_authorization_ids() -> None:
    plan = plan_amendment(paid(line(1, 39800)), request(reverse=[rev(1)], add=[new(49800)]))
    assert plan.multiple_authorizations
    assert plan.top_up_amount == 10000
    assert {op.authorization_id for op in plan.operations} == {
        f"{plan.marker}-rev",
        f"{plan.marker}-cov",
    }
    assert all(len(op.authorization_id or "") <= 40 for op in plan.operations)
    assert plan.branch == "top-up"


def test_markers_derive_from_the_workflow_and_amendment_not_the_run() -> None:
    assert request(add=[new(1)]).marker == request(add=[new(1)]).marker
    assert request(add=[new(1)]).marker != request(add=[new(1)], amendment_id="a2").marker
