"""An order's whole life, money per payment: a hypothesis state machine of amendment after
amendment on orders whose lines are paid by several payments.

Each run places an order whose lines are paid by one to three payments (a split tender), then
amends it again and again at random: partial and full reversals (of lines placed, added by
earlier amendments, restored by reverts), new items, cheaper (refunds), even, dearer with top-ups
in parts (declined ones among them, the order's own payments paying again), and top-ups left
uncovered and reverted. Every plan goes through the simulator's rule engine, so each write must
pass Dintero's rules as the simulator knows them.

The money is checked against a model kept here, in a few lines, from the documented rule alone
(newest payment taken back first, oldest covers first, the rest refunded to each payment it came
from): what each payment holds on each line, and what it was refunded, must be the model's,
read straight from the simulator's records (`tests/money.py`, none of the product's code). And
captured minus refunded is never negative for a payment on a line, nothing is refunded to a
payment that never paid, and the product's own ledger check holds.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from amendments.domain.errors import AmendmentRejected
from amendments.domain.ledger import check_ledger
from amendments.domain.models import AmendOrderInput, Plan
from amendments.domain.planner import plan_amendment
from amendments.domain.revert import plan_revert
from amendments.domain.top_up import TopUpCollector
from tests.money import held_per_line, per_payment
from tests.store import Ledger

TENDER = ["PID_A", "PID_B", "PID_C"]  # the order's own payments, oldest first


@dataclass
class Line:
    """The model of one line: what remains of it, and each payment's money on it, in the order
    the payments paid (oldest first)."""

    product: str
    quantity: int
    gross: int
    paid: dict[str, int] = field(default_factory=dict)
    refund: bool = False


class Model:
    def __init__(self) -> None:
        self.lines: dict[int, Line] = {}
        self.payments: list[str] = []  # every payment, in the order of its first record
        self.refunded: dict[str, int] = {}

    def pay(self, line_id: int, payment: str, amount: int) -> None:
        if amount <= 0:
            return
        if payment not in self.payments:
            self.payments.append(payment)
        paid = self.lines[line_id].paid
        paid[payment] = paid.get(payment, 0) + amount

    def take_back(self, line_id: int, amount: int) -> dict[str, int]:
        """The documented rule: newest payment first, each at most what it holds."""
        taken: dict[str, int] = {}
        paid = self.lines[line_id].paid
        for payment in reversed(list(paid)):
            part = min(amount, paid[payment])
            if part:
                taken[payment] = part
                paid[payment] -= part
                amount -= part
        assert amount == 0, "a settled line's payments hold what remains of it"
        return taken

    def held(self) -> dict[int, dict[str, int]]:
        return {
            line_id: {p: v for p, v in line.paid.items() if v}
            for line_id, line in self.lines.items()
            if not line.refund and any(line.paid.values())
        }


line_st = st.builds(
    lambda q, unit: (q, q * unit), st.integers(1, 4), st.integers(1, 60_000)
)  # (quantity, gross)


class OrderLife(RuleBasedStateMachine):
    @initialize(
        specs=st.lists(line_st, min_size=1, max_size=4),
        tenders=st.lists(st.integers(1, 3), min_size=4, max_size=4),
        cuts=st.lists(st.floats(0.05, 0.95), min_size=8, max_size=8),
    )
    def place(self, specs: list[tuple[int, int]], tenders: list[int], cuts: list[float]) -> None:
        self.model = Model()
        lines, shares = [], []
        for n, (quantity, gross) in enumerate(specs, start=1):
            lines.append(
                {
                    "id": f"P{n}",
                    "line_id": n,
                    "quantity": quantity,
                    "gross_amount": gross,
                    "tax_lines": [{"amount": gross // 5, "percentage": 25}],
                    "description": f"Product {n}",
                }
            )
            # The line's money split over its first k payments (at least one minor unit each).
            k = min(tenders[n - 1], gross)
            points = sorted({max(1, min(gross - 1, int(gross * c))) for c in cuts[: k - 1]})
            bounds = [0, *points, gross] if k > 1 else [0, gross]
            split = {TENDER[i]: b - a for i, (a, b) in enumerate(itertools.pairwise(bounds))}
            shares.append({p: v for p, v in split.items() if v})
            self.model.lines[n] = Line(f"P{n}", quantity, gross)
        self.ledger = Ledger(lines, shares)
        for payment in TENDER:  # the records are written payment by payment, oldest first
            for n, share in enumerate(shares, start=1):
                self.model.pay(n, payment, share.get(payment, 0))
        self.amendments = 0
        event(f"payments on the order: {len(self.model.payments)}")

    @rule(data=st.data())
    def amend(self, data: st.DataObject) -> None:
        model = self.model
        reversible = [
            (line_id, line)
            for line_id, line in model.lines.items()
            if not line.refund and line.quantity > 0
        ]
        chosen = (
            data.draw(st.lists(st.sampled_from(reversible), unique_by=lambda x: x[0]))
            if reversible
            else []
        )
        reverse = [
            {
                "line_id": line_id,
                "quantity": data.draw(st.one_of(st.none(), st.integers(1, line.quantity))),
                "reason": "r",
            }
            for line_id, line in chosen
        ]
        grosses = data.draw(st.lists(st.integers(1, 80_000), max_size=2))
        if chosen and data.draw(st.integers(0, 3)) == 0:  # an even swap of the lines reversed
            for entry in reverse:
                entry["quantity"] = None
            grosses = [sum(sum(line.paid.values()) for _, line in chosen)]
        add = [
            {
                "id": f"N{self.amendments}.{i}",
                "quantity": data.draw(st.integers(1, 3)),
                "gross_amount": gross,
                "tax_lines": [{"amount": gross // 5, "percentage": 25}],
                "description": "new",
            }
            for i, gross in enumerate(grosses)
            if gross > 0
        ]
        if not reverse and not add:
            return
        self.amendments += 1
        request = AmendOrderInput.model_validate(
            {
                "order_id": self.ledger.order_id,
                "amendment_id": f"a{self.amendments}",
                "reverse": reverse,
                "add": add,
            }
        )
        try:
            plan = plan_amendment(self.ledger.snapshot(), request)
        except AmendmentRejected as exc:
            assert "less than one minor unit" in exc.reason  # noqa: PT017 - decided per example
            event("refused: a part below one minor unit")
            return
        event(f"branch {plan.branch}")
        self.ledger.draft(plan.lines, plan.multiple_authorizations)
        self.ledger.write(plan.amendment_id, list(plan.operations))
        freed = self._apply_to_model(plan)
        if plan.top_up_amount:
            self._top_up(plan, freed, data)

    def _apply_to_model(self, plan: Plan) -> dict[str, int]:
        """The plan's reversals, covers and refunds, computed by the model's own rule."""
        model = self.model
        freed: dict[str, int] = {}
        self.taken: dict[int, dict[str, int]] = {}  # reversal line -> payment -> amount
        for line in plan.lines:
            if line.role == "reversal":
                assert line.reverses is not None
                target = model.lines[line.reverses]
                target.quantity -= line.quantity
                taken = model.take_back(line.reverses, -line.gross_amount)
                self.taken[line.line_id] = taken
                for payment, amount in taken.items():
                    freed[payment] = freed.get(payment, 0) + amount
        oldest_first = [p for p in model.payments if freed.get(p)]
        for line in plan.lines:
            if line.role != "new":
                continue
            model.lines[line.line_id] = Line(line.product_id, line.quantity, line.gross_amount)
            need = line.gross_amount
            for payment in oldest_first:
                part = min(need, freed[payment])
                model.pay(line.line_id, payment, part)
                freed[payment] -= part
                need -= part
        refunds = {p: freed[p] for p in oldest_first if freed[p]}
        refund_lines = [x for x in plan.lines if x.role == "refund"]
        assert [x.gross_amount for x in refund_lines] == list(refunds.values())
        for line, (payment, amount) in zip(refund_lines, refunds.items(), strict=True):
            model.lines[line.line_id] = Line(line.product_id, 1, amount, refund=True)
            model.refunded[payment] = model.refunded.get(payment, 0) + amount
        return {p: a for p, a in freed.items() if a}

    def _top_up(self, plan: Plan, freed: dict[str, int], data: st.DataObject) -> None:
        """Outcomes until covered, or some then a revert."""
        model = self.model
        covered = data.draw(st.booleans())
        payers = [*TENDER, "PID_T1", "PID_T2", "PID_T3"]
        collector = TopUpCollector()
        collector.open(plan)
        outstanding = plan.top_up_amount
        for number in range(data.draw(st.integers(1, 3))):
            payer = data.draw(st.sampled_from(payers))
            last = number == 2 or data.draw(st.booleans())
            if data.draw(st.booleans()) and not last:  # a declined attempt first
                collector.offer({"payment_id": "PID_X", "amount": outstanding, "success": False})
            amount = outstanding if (last and covered) else max(1, outstanding // 2)
            if not covered and amount >= outstanding:
                amount = outstanding - 1
            if amount <= 0:
                break
            collector.offer({"payment_id": payer, "amount": amount, "success": True})
            outstanding -= amount
            if outstanding == 0:
                break
        shares = {s.line_id: s.amount for s in plan.top_up_shares}
        while (part := collector.next()) is not None:
            writes = [part.authorization, *filter(None, [part.capture])]
            self.ledger.write(plan.amendment_id, writes)
            collector.written(part)
            if part.capture is not None:
                for item in part.capture.items:
                    model.pay(item.line_id, part.outcome.payment_id, item.amount)
                    shares[item.line_id] -= item.amount
        if collector.outstanding == 0:
            event("top-up covered")
            return
        event(f"top-up reverted after {len(collector.captured)} part(s)")
        revert = plan_revert(plan, collector.captured, "not paid in time")
        self.ledger.draft(revert.lines, multiple_authorizations=True)
        self.ledger.write(plan.amendment_id, list(revert.operations))
        # The model: each new line's money back to whoever paid it; each reversed line's money
        # back onto a restore line, to the payments it was taken from; top-ups refunded.
        taken = self.taken
        for line in plan.lines:
            if line.role == "new":
                model.lines[line.line_id].paid.clear()
                model.lines[line.line_id].quantity = 0
        reversals = [x for x in plan.lines if x.role == "reversal"]
        restores = [x for x in revert.lines if x.role == "restore"]  # one per reversal, in order
        for mirror, restore in zip(reversals, restores, strict=True):
            model.lines[restore.line_id] = Line(
                restore.product_id, restore.quantity, restore.gross_amount
            )
            for payment in model.payments:
                model.pay(restore.line_id, payment, taken.get(mirror.line_id, {}).get(payment, 0))
        for refund in [x for x in revert.lines if x.role == "refund"]:
            model.lines[refund.line_id] = Line(
                refund.product_id, 1, refund.gross_amount, refund=True
            )
        for captured in collector.captured:
            model.refunded[captured.payment_id] = (
                model.refunded.get(captured.payment_id, 0) + captured.amount
            )

    # --- what must hold after every step --------------------------------------------------

    @invariant()
    def each_payment_holds_what_the_rule_says(self) -> None:
        assert held_per_line(self.ledger.store, self.ledger.order_id) == self.model.held()

    @invariant()
    def each_payment_was_refunded_what_the_rule_says(self) -> None:
        totals = per_payment(self.ledger.store, self.ledger.order_id)
        refunded = {p: t["refund"] for p, t in totals.items() if t["refund"]}
        assert refunded == {p: v for p, v in self.model.refunded.items() if v}
        for payment, t in totals.items():  # nothing refunded to a payment that never paid
            assert 0 <= t["refund"] <= t["capture"] <= t["authorization"], (payment, t)

    @invariant()
    def no_payment_holds_less_than_nothing_on_a_line(self) -> None:
        for line_id, held in held_per_line(self.ledger.store, self.ledger.order_id).items():
            assert all(v >= 0 for v in held.values()), (line_id, held)

    @invariant()
    def the_products_ledger_check_holds(self) -> None:
        check_ledger(self.ledger.snapshot())


OrderLife.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_an_orders_whole_life = OrderLife.TestCase
