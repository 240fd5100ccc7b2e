"""An order's whole life, money per payment and per state: a hypothesis state machine of
amendment after amendment on orders whose lines are paid by several payments, and captured in
full, in part or not at all (a merchant who captures at shipment).

Each run places an order whose lines are paid by one to three payments (a split tender), each
line's money captured in full, in part or only authorized, then amends it again and again at
random: partial and full reversals (of lines placed, added by
earlier amendments, restored by reverts), new items, cheaper (refunds), even, dearer with top-ups
in parts (declined ones among them, the order's own payments paying again), and top-ups left
uncovered and reverted. Every plan goes through the simulator's rule engine, so each write must
pass Dintero's rules as the simulator knows them.

The money is checked against a model kept here, in a few lines, from the documented rule alone
(reserved money taken back before captured, newest payment first within each; captured money covers
first, then reserved, oldest payment first; the rest refunded (captured) or released (reserved) to
each payment it came from; a top-up captured only on an order with nothing reserved): what each
payment holds captured and reserved on each line, what it was refunded and what was released, must
be the model's, read straight from the simulator's records (`tests/support/money.py`, none of the
product's code). And neither is ever negative for a payment on a line, nothing is refunded to a
payment that never paid, an order placed without a capture never gets one, and the product's own
ledger check holds."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from amendments.domain.errors import AmendmentRejected
from amendments.domain.ledger import check_ledger
from amendments.domain.models import (
    AmendmentState,
    AmendOrderInput,
    PaymentResult,
    Plan,
    RecordedOperation,
)
from amendments.domain.planner import plan_amendment
from amendments.domain.revert import plan_revert
from amendments.domain.top_up import TopUpCollector
from amendments.render.words import payment_changes
from tests.support.money import held_per_line, per_payment, reserved_per_line
from tests.support.store import Ledger


def _kinds(p: PaymentResult) -> dict[str, int]:
    return {"authorization": p.authorized, "capture": p.captured, "refund": p.refunded,
            "cancellation": p.cancelled}  # fmt: skip


TENDER = ["PID_A", "PID_B", "PID_C"]  # the order's own payments, oldest first
STATES = ["captured", "reserved", "partly"]  # how much of a line's money was captured


@dataclass
class Line:
    """The model of one line: what remains of it, and each payment's money on it, captured and
    only reserved, payments in the order they first paid on the line (oldest first)."""

    product: str
    quantity: int
    gross: int
    paid: dict[str, int] = field(default_factory=dict)  # captured (minus refunded)
    reserved: dict[str, int] = field(default_factory=dict)  # authorized, not captured
    refund: bool = False  # a refund or release line: no goods


Taken = dict[str, tuple[int, int]]  # payment -> (reserved, captured)


class Model:
    def __init__(self) -> None:
        self.lines: dict[int, Line] = {}
        self.payments: list[str] = []  # every payment, in the order of its first record
        self.refunded: dict[str, int] = {}
        self.released: dict[str, int] = {}
        self.ever_captured = False

    def pay(self, line_id: int, payment: str, captured: int, reserved: int = 0) -> None:
        if captured <= 0 and reserved <= 0:
            return
        if payment not in self.payments:
            self.payments.append(payment)
        line = self.lines[line_id]
        self.ever_captured = self.ever_captured or captured > 0
        line.paid[payment] = line.paid.get(payment, 0) + captured
        line.reserved[payment] = line.reserved.get(payment, 0) + reserved

    def take_back(self, line_id: int, amount: int) -> Taken:
        """The documented rule: reserved money first, then captured; newest payment first
        within each, each at most what it holds."""
        line = self.lines[line_id]
        taken: dict[str, list[int]] = {}
        for state, holds in enumerate((line.reserved, line.paid)):
            for payment in reversed(list(line.paid)):
                part = min(amount, holds.get(payment, 0))
                if part:
                    taken.setdefault(payment, [0, 0])[state] += part
                    holds[payment] -= part
                    amount -= part
        assert amount == 0, "a line's payments hold what remains of it"
        return {p: (r, c) for p, (r, c) in taken.items()}

    def held(self) -> dict[int, dict[str, int]]:
        return self._by_line("paid")

    def reserving(self) -> dict[int, dict[str, int]]:
        return self._by_line("reserved")

    def _by_line(self, which: str) -> dict[int, dict[str, int]]:
        out = {
            line_id: {p: v for p, v in getattr(line, which).items() if v}
            for line_id, line in self.lines.items()
            if not line.refund
        }
        return {line_id: by for line_id, by in out.items() if by}

    def has_reserved(self) -> bool:
        return any(self.reserving())


line_st = st.builds(
    lambda q, unit: (q, q * unit), st.integers(1, 4), st.integers(1, 60_000)
)  # (quantity, gross)


class OrderLife(RuleBasedStateMachine):
    @initialize(
        specs=st.lists(line_st, min_size=1, max_size=4),
        tenders=st.lists(st.integers(1, 3), min_size=4, max_size=4),
        cuts=st.lists(st.floats(0.05, 0.95), min_size=8, max_size=8),
        states=st.lists(st.sampled_from(STATES), min_size=4, max_size=4),
    )
    def place(
        self,
        specs: list[tuple[int, int]],
        tenders: list[int],
        cuts: list[float],
        states: list[str],
    ) -> None:
        self.model = Model()
        lines, shares, captures = [], [], []
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
            share = {p: v for p, v in split.items() if v}
            shares.append(share)
            # Captured in full, not at all, or in part (each payment a share of its money).
            state = states[n - 1]
            fraction = {"captured": 1.0, "reserved": 0.0, "partly": cuts[-1]}[state]
            captures.append({p: int(v * fraction) for p, v in share.items() if int(v * fraction)})
            self.model.lines[n] = Line(f"P{n}", quantity, gross)
        self.ledger = Ledger(lines, shares, captures)
        for payment in TENDER:  # the records are written payment by payment, oldest first
            for n, (share, captured) in enumerate(zip(shares, captures, strict=True), start=1):
                got = captured.get(payment, 0)
                self.model.pay(n, payment, got, share.get(payment, 0) - got)
        self.never_captured = not any(any(c.values()) for c in captures)
        self.amendments = 0
        event(f"payments on the order: {len(self.model.payments)}")
        event(f"line states: {sorted(set(states[: len(specs)]))}")

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
            grosses = [
                sum(sum(line.paid.values()) + sum(line.reserved.values()) for _, line in chosen)
            ]
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
        store, order_id = self.ledger.store, self.ledger.order_id
        before = per_payment(store, order_id)
        assert {p.payment_id: _kinds(p) for p in plan.holdings} == before
        self.ledger.draft(plan.lines, plan.multiple_authorizations)
        self.ledger.write(plan.amendment_id, list(plan.operations))
        # `amend status` and the UI: each payment's net change, and what it now holds.
        recorded = AmendmentState(
            order_id=order_id, amendment_id=plan.amendment_id, status="Applying", step="s",
            plan=plan,
            operations=tuple(
                RecordedOperation(step=op.step, kind=op.kind, record_id=op.step, amount=op.amount,
                                  payment_id=op.payment_id, success=op.success)
                for op in plan.operations
            ),
        )  # fmt: skip
        after = per_payment(store, order_id)
        for change, now in payment_changes(recorded):
            assert now is not None
            assert _kinds(now) == after[now.payment_id]
            was = before.get(change.payment_id, dict.fromkeys(after[now.payment_id], 0))
            assert _kinds(change) == {k: after[now.payment_id][k] - was[k] for k in was}
        self._apply_to_model(plan)
        if plan.top_up_amount:
            self._top_up(plan, data)

    def _apply_to_model(self, plan: Plan) -> None:
        """The plan's reversals, covers, refunds and releases, computed by the model's rule."""
        model = self.model
        self.top_up_captured = model.ever_captured and not model.has_reserved()
        assert plan.top_up_captured == self.top_up_captured
        freed: dict[str, list[int]] = {}  # payment -> [reserved, captured]
        self.taken: dict[int, Taken] = {}  # reversal line -> payment -> (reserved, captured)
        for line in plan.lines:
            if line.role == "reversal":
                assert line.reverses is not None
                target = model.lines[line.reverses]
                target.quantity -= line.quantity
                taken = model.take_back(line.reverses, -line.gross_amount)
                self.taken[line.line_id] = taken
                for payment, (reserved, captured) in taken.items():
                    sums = freed.setdefault(payment, [0, 0])
                    sums[0] += reserved
                    sums[1] += captured
        oldest_first = [p for p in model.payments if p in freed]
        for line in plan.lines:
            if line.role != "new":
                continue
            model.lines[line.line_id] = Line(line.product_id, line.quantity, line.gross_amount)
            need = line.gross_amount
            cover: dict[str, list[int]] = {}
            for state in (1, 0):  # captured money first, then reserved, oldest payment first
                for payment in oldest_first:
                    part = min(need, freed[payment][state])
                    if part:
                        cover.setdefault(payment, [0, 0])[state] += part
                        freed[payment][state] -= part
                        need -= part
            for payment in oldest_first:  # recorded payment by payment, oldest first
                if payment in cover:
                    model.pay(line.line_id, payment, cover[payment][1], cover[payment][0])
        for role, state, given in (("refund", 1, model.refunded), ("release", 0, model.released)):
            left = {p: freed[p][state] for p in oldest_first if freed[p][state]}
            settling = [x for x in plan.lines if x.role == role]
            assert [x.gross_amount for x in settling] == list(left.values())
            for line, (payment, amount) in zip(settling, left.items(), strict=True):
                model.lines[line.line_id] = Line(line.product_id, 1, amount, refund=True)
                given[payment] = given.get(payment, 0) + amount

    def _top_up(self, plan: Plan, data: st.DataObject) -> None:
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
            assert (part.capture is not None) == (part.outcome.success and self.top_up_captured)
            if part.outcome.success:
                for item in part.authorization.items:
                    captured = item.amount if self.top_up_captured else 0
                    model.pay(
                        item.line_id, part.outcome.payment_id, captured, item.amount - captured
                    )
                    shares[item.line_id] -= item.amount
        if collector.outstanding == 0:
            event("top-up covered")
            return
        event(f"top-up reverted after {len(collector.paid)} part(s)")
        revert = plan_revert(plan, collector.paid, "not paid in time")
        self.ledger.draft(revert.lines, multiple_authorizations=True)
        self.ledger.write(plan.amendment_id, list(revert.operations))
        # The model: each new line's money back to whoever paid it; each reversed line's money
        # back onto a restore line, to the payments it was taken from, in the state it was
        # taken from; top-ups refunded (captured) or released (only authorized).
        taken = self.taken
        for line in plan.lines:
            if line.role == "new":
                model.lines[line.line_id].paid.clear()
                model.lines[line.line_id].reserved.clear()
                model.lines[line.line_id].quantity = 0
        reversals = [x for x in plan.lines if x.role == "reversal"]
        restores = [x for x in revert.lines if x.role == "restore"]  # one per reversal, in order
        for mirror, restore in zip(reversals, restores, strict=True):
            model.lines[restore.line_id] = Line(
                restore.product_id, restore.quantity, restore.gross_amount
            )
            for payment in model.payments:
                reserved, captured = taken.get(mirror.line_id, {}).get(payment, (0, 0))
                model.pay(restore.line_id, payment, captured, reserved)
        for settling in [x for x in revert.lines if x.role in ("refund", "release")]:
            model.lines[settling.line_id] = Line(
                settling.product_id, 1, settling.gross_amount, refund=True
            )
        for paid in collector.paid:
            assert paid.captured == self.top_up_captured
            given = model.refunded if paid.captured else model.released
            given[paid.payment_id] = given.get(paid.payment_id, 0) + paid.amount

    # --- what must hold after every step --------------------------------------------------

    @invariant()
    def each_payment_holds_what_the_rule_says(self) -> None:
        assert held_per_line(self.ledger.store, self.ledger.order_id) == self.model.held()

    @invariant()
    def each_payment_reserves_what_the_rule_says(self) -> None:
        reserved = reserved_per_line(self.ledger.store, self.ledger.order_id)
        assert reserved == self.model.reserving()

    @invariant()
    def each_payment_was_refunded_and_released_what_the_rule_says(self) -> None:
        totals = per_payment(self.ledger.store, self.ledger.order_id)
        refunded = {p: t["refund"] for p, t in totals.items() if t["refund"]}
        assert refunded == {p: v for p, v in self.model.refunded.items() if v}
        released = {p: t["cancellation"] for p, t in totals.items() if t["cancellation"]}
        assert released == {p: v for p, v in self.model.released.items() if v}
        for payment, t in totals.items():  # nothing refunded to a payment that never paid
            assert 0 <= t["refund"] <= t["capture"], (payment, t)
            assert t["capture"] + t["cancellation"] <= t["authorization"], (payment, t)

    @invariant()
    def an_order_placed_without_a_capture_never_gets_one(self) -> None:
        if self.never_captured:
            assert per_payment(self.ledger.store, self.ledger.order_id) == {} or all(
                t["capture"] == 0
                for t in per_payment(self.ledger.store, self.ledger.order_id).values()
            )

    @invariant()
    def no_payment_holds_less_than_nothing_on_a_line(self) -> None:
        for by_line in (held_per_line, reserved_per_line):
            for line_id, held in by_line(self.ledger.store, self.ledger.order_id).items():
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
