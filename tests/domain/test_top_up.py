"""The top-up collector without Temporal: every message gets exactly one answer, on every path.

A stateful test drives arbitrary interleavings of valid, duplicate, declined, over-amount,
malformed and late outcomes, as signals and as updates (an update first meets the validator's
`refusal`), with writes that land or fail, timeouts and reverts, and checks after every step:
no ticket is left unanswered once the collector is closed, the captures never exceed the top-up,
no payment id is ever recorded as a success twice, and an update the validator accepted is never
ignored afterwards for its amount.
"""

from __future__ import annotations

from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from amendments.domain.models import AmendOrderInput, Plan
from amendments.domain.order import OrderLine, OrderSnapshot, PaymentRecord, RecordItem
from amendments.domain.planner import plan_amendment
from amendments.domain.top_up import NotOneArgument, TopUpCollector, Via, single

PAYMENTS = ["PID_A", "PID_B", "PID_C", "PID_D"]
VIAS = st.sampled_from(list(get_args(Via)))


def top_up_plan(*new: int, old: int = 39800) -> Plan:
    """An order of one captured line of `old`, swapped for new lines of `new` (a top-up)."""
    order = OrderSnapshot(
        order_id="O1",
        currency="NOK",
        status="open",
        lines=(OrderLine(line_id=1, product_id="A", quantity=1, gross_amount=old),),
        records=tuple(
            PaymentRecord(
                kind=kind,
                id=f"r-{kind}",
                items=(RecordItem(line_id=1, amount=old),),
                success=True,
                payment_id="PID_0",
            )
            for kind in ("authorization", "capture")
        ),
    )
    request = AmendOrderInput.model_validate(
        {
            "order_id": "O1",
            "amendment_id": "a1",
            "reverse": [{"line_id": 1, "reason": "swap"}],
            "add": [
                {"id": f"N{n}", "quantity": 1, "gross_amount": g, "description": "new"}
                for n, g in enumerate(new)
            ],
        }
    )
    return plan_amendment(order, request)


def outcome(payment_id: str, amount: int, success: bool = True) -> dict[str, Any]:
    return {"payment_id": payment_id, "amount": amount, "success": success}


def write_all(collector: TopUpCollector) -> None:
    while (part := collector.next()) is not None:
        collector.written(part)


def test_a_success_is_recorded_then_its_duplicate_answered_at_once() -> None:
    collector = TopUpCollector()
    collector.open(top_up_plan(49800))
    first = collector.offer(outcome("PID_A", 4000))
    write_all(collector)
    assert collector.answer(first) is not None
    assert collector.answer(first).disposition == "recorded"  # type: ignore[union-attr]
    assert collector.outstanding == 6000
    again = collector.offer(outcome("PID_A", 4000), "update")
    seen = collector.answer(again)
    assert seen is not None
    assert (seen.disposition, seen.via) == ("duplicate", "update")


def test_a_declined_payment_may_later_succeed() -> None:
    collector = TopUpCollector()
    collector.open(top_up_plan(49800))
    declined = collector.offer(outcome("PID_A", 10000, success=False))
    write_all(collector)
    approved = collector.offer(outcome("PID_A", 10000))
    write_all(collector)
    assert [collector.answer(t).disposition for t in (declined, approved)] == [  # type: ignore[union-attr]
        "declined",
        "recorded",
    ]
    assert collector.outstanding == 0


@pytest.mark.parametrize(
    ("payload", "note"),
    [
        ("approved", "malformed: input: must be a JSON object"),
        ({"payment_id": "P", "amount": "100", "success": True}, "malformed: amount:"),
        ({"payment_id": "P", "success": True}, "malformed: amount: is required"),
        ({**outcome("P", 5), "extra": 1}, "malformed: extra: is not a field of this input"),
        (outcome("P", 0), "malformed: amount: must be positive, got 0"),
        (NotOneArgument(0), "malformed: input: no input was sent"),
        (NotOneArgument(2), "malformed: input: expected one argument, got 2"),
    ],
)
def test_a_malformed_outcome_is_kept_as_ignored_naming_the_field(payload: Any, note: str) -> None:
    collector = TopUpCollector()
    collector.open(top_up_plan(49800))
    refusal = collector.refusal(payload)  # what the update validator says
    assert refusal is not None
    assert refusal.startswith(note.removeprefix("malformed: "))
    seen = collector.answer(collector.offer(payload))
    assert seen is not None
    assert seen.disposition == "ignored"
    assert seen.note.startswith(note)
    assert collector.outstanding == 10000


def test_single_tells_zero_one_and_many_arguments_apart() -> None:
    assert single([{"a": 1}]) == {"a": 1}
    assert single([]) == NotOneArgument(0)
    assert single([1, 2]) == NotOneArgument(2)


def test_over_amount_is_refused_counting_outcomes_not_yet_written() -> None:
    collector = TopUpCollector()
    collector.open(top_up_plan(49800))
    assert collector.refusal(outcome("PID_A", 6000)) is None
    collector.offer(outcome("PID_A", 6000), "update")
    assert collector.refusal(outcome("PID_B", 5000)) == (
        "amount 5000 exceeds the outstanding top-up 4000"
    )
    # A signal is not validated: it is queued, then ignored when its turn comes.
    late = collector.offer(outcome("PID_B", 5000))
    write_all(collector)
    assert collector.answer(late).note == "amount 5000 exceeds the outstanding top-up 4000"  # type: ignore[union-attr]


def test_before_the_plan_signals_wait_and_updates_are_refused() -> None:
    collector = TopUpCollector()
    assert collector.refusal(outcome("PID_A", 1)) == (
        "the amendment is still being planned; send the outcome again shortly"
    )
    early = collector.offer(outcome("PID_A", 10000))
    assert collector.answer(early) is None
    collector.open(top_up_plan(49800))
    write_all(collector)
    assert collector.answer(early).disposition == "recorded"  # type: ignore[union-attr]


def test_a_plan_without_top_up_answers_waiting_signals_at_once() -> None:
    collector = TopUpCollector()
    early = collector.offer(outcome("PID_A", 100))
    collector.open(top_up_plan(39800))
    seen = collector.answer(early)
    assert seen is not None
    assert (seen.disposition, seen.note) == ("ignored", "not taken: this amendment has no top-up")


def test_a_failed_write_fails_its_ticket_and_ignores_the_queue() -> None:
    collector = TopUpCollector()
    collector.open(top_up_plan(49800))
    writing = collector.offer(outcome("PID_A", 4000), "update")
    queued = collector.offer(outcome("PID_B", 4000), "update")
    assert collector.next() is not None
    collector.close("the amendment is failed", failed="400 Bad Request")
    assert collector.answer(writing).disposition == "failed"  # type: ignore[union-attr]
    assert collector.answer(writing).note == "not recorded: 400 Bad Request"  # type: ignore[union-attr]
    assert collector.answer(queued).disposition == "ignored"  # type: ignore[union-attr]
    after = collector.offer(outcome("PID_C", 1))
    assert collector.answer(after).note.startswith("arrived after collection closed")  # type: ignore[union-attr]
    assert collector.refusal(outcome("PID_C", 1)) == (
        "no top-up is being collected: the amendment is failed"
    )


def test_a_revert_is_taken_only_while_collecting() -> None:
    collector = TopUpCollector()
    collector.open(top_up_plan(49800))
    assert collector.request_revert("by operator")
    assert collector.has_work()
    assert collector.refusal(outcome("PID_A", 1)) == "the amendment is being reverted (by operator)"
    closed = TopUpCollector()
    closed.open(top_up_plan(49800))
    closed.close("the top-up is covered")
    assert not closed.request_revert("too late")
    assert closed.revert_reason is None


# --- the stateful test ----------------------------------------------------------------------

MALFORMED = st.one_of(
    st.just("approved"),
    st.just(None),
    st.just([1, 2]),
    st.builds(NotOneArgument, st.sampled_from([0, 2, 3])),
    st.fixed_dictionaries({"payment_id": st.sampled_from(PAYMENTS)}),
    st.fixed_dictionaries(
        {
            "payment_id": st.sampled_from(PAYMENTS),
            "amount": st.one_of(st.text(max_size=3), st.floats(1, 10), st.integers(-100, 0)),
            "success": st.booleans(),
        }
    ),
    st.fixed_dictionaries(
        {"payment_id": st.just(""), "amount": st.integers(1, 9), "success": st.booleans()}
    ),
    st.fixed_dictionaries(
        {"payment_id": st.just("P"), "amount": st.integers(1, 9), "success": st.just("yes")}
    ),
)


class CollectorMachine(RuleBasedStateMachine):
    """A workflow's view of the collector: messages in, parts written or failed, and a close."""

    @initialize(new=st.lists(st.integers(1, 30000), min_size=1, max_size=3), planned=st.booleans())
    def start(self, new: list[int], planned: bool) -> None:
        self.plan = top_up_plan(*[39800 // len(new) + g for g in new])
        self.collector = TopUpCollector()
        self.planned = False
        if planned:
            self.open()
        self.tickets: list[int] = []
        self.accepted: set[int] = set()  # updates the validator let through
        self.refused = 0
        self.writing: Any = None

    def open(self) -> None:
        self.collector.open(self.plan)
        self.planned = True

    def send(self, payload: object, via: Via) -> None:
        if via == "update" and self.collector.refusal(payload) is not None:
            self.refused += 1  # refused by the validator: never reaches the workflow
            return
        self.tickets.append(self.collector.offer(payload, via))
        if via == "update":
            self.accepted.add(self.tickets[-1])

    @rule(
        payment=st.sampled_from(PAYMENTS),
        share=st.floats(0.01, 1.0),
        success=st.booleans(),
        via=VIAS,
    )
    def valid(self, payment: str, share: float, success: bool, via: Via) -> None:
        amount = max(1, int(self.plan.top_up_amount * share))
        self.send(outcome(payment, amount, success), via)

    @rule(via=VIAS)
    def duplicate(self, via: Via) -> None:
        if self.collector.succeeded:
            payment = sorted(self.collector.succeeded)[0]
            self.send(outcome(payment, 1), via)

    @rule(extra=st.integers(1, 10**6), via=VIAS)
    def over_amount(self, extra: int, via: Via) -> None:
        self.send(outcome("PID_A", self.plan.top_up_amount + extra), via)

    @rule(payload=MALFORMED, via=VIAS)
    def malformed(self, payload: object, via: Via) -> None:
        before = len(self.tickets)
        self.send(payload, via)
        if len(self.tickets) > before:
            seen = self.collector.answer(self.tickets[-1])
            assert seen is not None, "a malformed outcome is answered at once"
            assert seen.disposition == "ignored"
            assert seen.note.startswith("malformed: ")

    @precondition(lambda self: not self.planned)
    @rule()
    def planned_now(self) -> None:
        self.open()

    @precondition(lambda self: self.planned and self.writing is None)
    @rule()
    def take(self) -> None:
        if self.collector.collecting:
            self.writing = self.collector.next()

    @precondition(lambda self: self.planned)
    @rule(payment=st.sampled_from(PAYMENTS), share=st.floats(0.01, 0.5))
    def redelivered(self, payment: str, share: float) -> None:
        """At-least-once delivery: the same success twice before either is taken."""
        amount = max(1, int(self.plan.top_up_amount * share))
        self.send(outcome(payment, amount), "signal")
        self.send(outcome(payment, amount), "signal")

    @precondition(lambda self: self.planned)
    @rule(first=st.floats(0.2, 0.9), second=st.floats(0.2, 0.9), payers=st.permutations(PAYMENTS))
    def racing_updates(self, first: float, second: float, payers: list[str]) -> None:
        """Two payment systems answer at once: the second update is judged against the first."""
        for share, payer in ((first, payers[0]), (second, payers[1])):
            self.send(outcome(payer, max(1, int(self.plan.top_up_amount * share))), "update")

    @precondition(lambda self: self.writing is not None)
    @rule(fails=st.integers(0, 7))
    def write(self, fails: int) -> None:
        if fails == 0:  # one write in eight fails, and the amendment with it
            self.collector.close("the amendment is failed", failed="500 from Dintero")
        else:
            self.collector.written(self.writing)
            if self.collector.outstanding == 0:
                self.collector.close("the top-up is covered")
        self.writing = None

    @precondition(lambda self: self.planned and self.writing is None and len(self.tickets) >= 6)
    @rule(why=st.sampled_from(["timed out", "revert", "cancelled"]))
    def end(self, why: str) -> None:
        if why == "revert":
            if self.collector.request_revert("operator"):
                self.collector.close("the amendment is being reverted (operator)")
            return
        self.collector.close(why)

    @invariant()
    def answered_once_closed(self) -> None:
        if self.collector.closed is not None:
            missing = [t for t in self.tickets if self.collector.answer(t) is None]
            assert missing == [], f"unanswered tickets after close: {missing}"
            assert self.collector.current is None
            assert not self.collector.queue

    @invariant()
    def an_accepted_update_is_taken_or_closed_out(self) -> None:
        """The validator's word holds: an accepted update is never ignored for its amount."""
        for ticket in self.accepted:
            seen = self.collector.answer(ticket)
            if seen is not None and seen.disposition == "ignored":
                assert seen.note.startswith("not taken: "), seen.note

    @invariant()
    def every_answer_is_a_ticket(self) -> None:
        assert set(self.collector.answers) <= set(self.tickets)
        assert len(self.tickets) == self.collector.tickets

    @invariant()
    def captures_never_exceed_the_top_up(self) -> None:
        captured = sum(part.amount for part in self.collector.paid)
        assert captured <= self.plan.top_up_amount
        if self.planned:
            assert self.collector.outstanding == self.plan.top_up_amount - captured

    @invariant()
    def a_payment_succeeds_once(self) -> None:
        payments = [part.payment_id for part in self.collector.paid]
        assert len(payments) == len(set(payments))
        recorded = [o for o in self.collector.seen if o.disposition == "recorded"]
        assert len(recorded) == len(self.collector.paid)
        assert len({o.payment_id for o in recorded}) == len(recorded)

    def teardown(self) -> None:
        # Whatever happened, the workflow's exit path closes the collector: nothing waits on.
        if self.writing is not None:
            self.collector.close("the amendment is failed", failed="stopped")
        self.collector.close("the amendment ended")
        assert all(self.collector.answer(t) is not None for t in self.tickets)


CollectorMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCollector = CollectorMachine.TestCase
