"""The top-up collector: the one owner of a dearer amendment's `authorization_outcome` messages.

A plain, deterministic object (no Temporal import) that the workflow drives. Every outcome that
arrives, as a signal or an update, well-formed or not, gets a **ticket**, and every ticket is
answered exactly once with an `OutcomeSeen`:

- `recorded`: a success, to be authorized (and captured, unless the order's money is only
  reserved: then capture stays with fulfilment), spread over the new lines in order;
- `declined`: a failure, recorded on the order as a declined authorization;
- `duplicate`: a success for a payment id already recorded as a success (delivery is at least
  once; a declined payment id may later succeed);
- `ignored`: not taken, and `note` says why: malformed (naming the field), not positive, more
  than is outstanding, sent before the plan or after the collector closed;
- `failed`: its write failed, and the amendment failed with it.

Outcomes that need writing are queued and handed out one at a time by `next()`; the workflow
writes the part's records and reports back with `written()`. `close()` ends collection for any
reason (covered, timed out, reverted, a failed write, the amendment failed or ended) and answers
every ticket still waiting, so no update handler and no `wait_condition` can wait forever.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from amendments.domain import ids
from amendments.domain.errors import AmendmentRejected
from amendments.domain.models import (
    AuthorizationOutcome,
    Disposition,
    OutcomeSeen,
    Plan,
    PlannedOperation,
    Share,
)
from amendments.domain.order import RecordItem

Via = Literal["signal", "update"]


@dataclass(frozen=True)
class NotOneArgument:
    """A message or start that did not carry exactly one argument."""

    count: int

    def problem(self, what: str) -> AmendmentRejected:
        if self.count == 0:
            return AmendmentRejected("input", f"no input was sent; {what} takes one JSON object")
        return AmendmentRejected("input", f"expected one argument, got {self.count}")


def single(payload: Sequence[object]) -> object:
    """The one argument of a message, or `NotOneArgument`: the SDK is told to decode any number
    of plain JSON values, so that the product, not the SDK, refuses a wrong one."""
    return payload[0] if len(payload) == 1 else NotOneArgument(len(payload))


@dataclass(frozen=True)
class TopUpPart:
    """One outcome to write: its authorization, and its capture when it succeeded on an order
    whose top-ups are captured (`Plan.top_up_captured`)."""

    ticket: int
    outcome: AuthorizationOutcome
    number: int
    authorization: PlannedOperation
    capture: PlannedOperation | None


@dataclass(frozen=True)
class PaidPart:
    """A top-up part recorded on the order: the money a revert must give back, refunded when it
    was captured, released when only authorized."""

    number: int
    payment_id: str
    items: tuple[RecordItem, ...]
    captured: bool = True

    @property
    def amount(self) -> int:
        return sum(item.amount for item in self.items)


def parse_outcome(payload: object) -> AuthorizationOutcome:
    """A well-formed outcome, or `AmendmentRejected` naming the field and the reason."""
    if isinstance(payload, NotOneArgument):
        raise payload.problem("an authorization outcome")
    try:
        outcome = AuthorizationOutcome.model_validate(payload)
    except ValidationError as exc:
        raise AmendmentRejected.from_validation_error(exc) from None
    if outcome.amount <= 0:
        raise AmendmentRejected("amount", f"must be positive, got {outcome.amount}")
    return outcome


class TopUpCollector:
    def __init__(self) -> None:
        self.plan: Plan | None = None
        self.shares: tuple[Share, ...] = ()
        self.answers: dict[int, OutcomeSeen] = {}
        self.queue: deque[tuple[int, AuthorizationOutcome, Via]] = deque()
        self.succeeded: set[str] = set()
        self.paid: list[PaidPart] = []
        self.tickets = 0
        self.parts = 0
        self.current: tuple[int, AuthorizationOutcome, Via] | None = None
        self.closed: str | None = None
        self.revert_reason: str | None = None

    # --- the plan's side ---------------------------------------------------------------------

    def open(self, plan: Plan) -> None:
        """Collection starts once the plan is known; a plan without a top-up closes it at once."""
        self.plan = plan
        self.shares = plan.top_up_shares
        if not plan.top_up_amount:
            self.close("this amendment has no top-up")

    @property
    def outstanding(self) -> int:
        return sum(share.amount for share in self.shares)

    @property
    def collecting(self) -> bool:
        return self.plan is not None and self.closed is None

    def has_work(self, session_open: bool = True) -> bool:
        """Something for the workflow to do: an outcome to take, a revert to carry out, or a
        payment session to open (`session_wanted`)."""
        return (
            bool(self.queue) or self.revert_reason is not None or self.session_wanted(session_open)
        )

    def session_wanted(self, session_open: bool) -> bool:
        """Whether the customer needs a payment session for what is outstanding: the plan's money
        moves by Checkout, none is open, and no outcome waits to be written."""
        return (
            self.plan is not None
            and self.plan.moves_money
            and not session_open
            and self.collecting
            and self.revert_reason is None
            and self.outstanding > 0
            and not self.queue
            and self.current is None
        )

    # --- outcomes in -------------------------------------------------------------------------

    def refusal(self, payload: object) -> str | None:
        """Why an update would be refused before it is accepted, or None: the validator's words.
        A duplicate is accepted (and answered as a duplicate at once)."""
        try:
            outcome = parse_outcome(payload)
        except AmendmentRejected as exc:
            return str(exc)
        left, succeeding = self._projected()
        if outcome.success and outcome.payment_id in succeeding:
            return None  # at-least-once: a repeat is accepted, and answered as a duplicate
        if self.closed is not None:
            return f"no top-up is being collected: {self.closed}"
        if self.plan is None:
            return "the amendment is still being planned; send the outcome again shortly"
        if self.revert_reason is not None:
            return f"the amendment is being reverted ({self.revert_reason})"
        return _amount_problem(outcome, left)

    def offer(self, payload: object, via: Via = "signal") -> int:
        """Take one message; its ticket is answered now or when its part is written or closed."""
        self.tickets += 1
        ticket = self.tickets
        try:
            outcome = parse_outcome(payload)
        except AmendmentRejected as exc:
            self._answer(ticket, _partial(payload), "ignored", f"malformed: {exc}", via)
            return ticket
        if outcome.success and outcome.payment_id in self.succeeded:
            self._answer(ticket, outcome, "duplicate", "already recorded as a success", via)
        elif self.closed is not None:
            note = f"arrived after collection closed: {self.closed}"
            self._answer(ticket, outcome, "ignored", note, via)
        else:
            self.queue.append((ticket, outcome, via))
        return ticket

    def request_revert(self, reason: str) -> bool:
        """Ask for the amendment to be reverted; False once collection has closed without one."""
        if self.revert_reason is None and self.closed is None:
            self.revert_reason = reason
        return self.revert_reason is not None

    # --- outcomes out ------------------------------------------------------------------------

    def next(self) -> TopUpPart | None:
        """The next outcome to write, or None; duplicates and bad amounts are answered here."""
        assert self.plan is not None, "collection starts with open(plan)"
        while self.queue and self.current is None:
            ticket, outcome, via = self.queue.popleft()
            if outcome.success and outcome.payment_id in self.succeeded:
                self._answer(ticket, outcome, "duplicate", "already recorded as a success", via)
                continue
            problem = _amount_problem(outcome, self.outstanding)
            if problem is not None:
                self._answer(ticket, outcome, "ignored", problem, via)
                continue
            self.parts += 1
            authorization, capture = top_up_records(self.plan, self.shares, outcome, self.parts)
            self.current = (ticket, outcome, via)
            return TopUpPart(ticket, outcome, self.parts, authorization, capture)
        return None

    def written(self, part: TopUpPart) -> None:
        """Every record of `part` landed on the order."""
        assert self.current is not None
        assert self.current[0] == part.ticket, "written() reports the part next() handed out"
        via = self.current[2]
        self.current = None
        if not part.outcome.success:
            self._answer(part.ticket, part.outcome, "declined", "recorded as declined", via)
            return
        items = part.authorization.items
        self.shares = after(self.shares, items)
        self.succeeded.add(part.outcome.payment_id)
        paid = PaidPart(part.number, part.outcome.payment_id, items, part.capture is not None)
        self.paid.append(paid)
        self._answer(part.ticket, part.outcome, "recorded", "", via)

    def close(self, reason: str, *, failed: str | None = None) -> None:
        """No more outcomes are taken. A part being written is answered `failed` (with `failed`,
        the error) or `ignored`; every queued outcome is answered `ignored` with `reason`."""
        if self.closed is None:
            self.closed = reason
        if self.current is not None:
            ticket, outcome, via = self.current
            self.current = None
            if failed is not None:
                self._answer(ticket, outcome, "failed", f"not recorded: {failed}", via)
            else:
                self._answer(ticket, outcome, "ignored", f"not taken: {self.closed}", via)
        while self.queue:
            ticket, outcome, via = self.queue.popleft()
            self._answer(ticket, outcome, "ignored", f"not taken: {self.closed}", via)

    def answer(self, ticket: int) -> OutcomeSeen | None:
        return self.answers.get(ticket)

    @property
    def seen(self) -> tuple[OutcomeSeen, ...]:
        return tuple(self.answers[t] for t in sorted(self.answers))

    # --- helpers -----------------------------------------------------------------------------

    def _projected(self) -> tuple[int, set[str]]:
        """What will be outstanding, and which payments will have succeeded, once the part being
        written and the queue are taken exactly as `next()` will take them."""
        left, succeeding = self.outstanding, set(self.succeeded)
        waiting = [o for _, o, _ in self.queue]
        if self.current is not None:
            waiting.insert(0, self.current[1])
        for outcome in waiting:
            if not outcome.success or outcome.payment_id in succeeding or outcome.amount > left:
                continue
            left -= outcome.amount
            succeeding.add(outcome.payment_id)
        return left, succeeding

    def _answer(
        self,
        ticket: int,
        outcome: AuthorizationOutcome | Mapping[str, Any],
        disposition: Disposition,
        note: str,
        via: Via,
    ) -> None:
        if ticket in self.answers:
            return
        fields = outcome.model_dump() if isinstance(outcome, AuthorizationOutcome) else outcome
        self.answers[ticket] = OutcomeSeen.model_validate(
            {**fields, "disposition": disposition, "note": note, "via": via}
        )


def _partial(payload: object) -> dict[str, Any]:
    """What can be read of a malformed payload, for the record."""
    data = payload if isinstance(payload, Mapping) else {}
    payment_id = data.get("payment_id")
    amount = data.get("amount")
    success = data.get("success")
    return {
        "payment_id": payment_id[:200] if isinstance(payment_id, str) else None,
        "amount": amount if type(amount) is int else None,
        "success": success if isinstance(success, bool) else None,
    }


def _amount_problem(outcome: AuthorizationOutcome, outstanding: int) -> str | None:
    if outcome.amount > outstanding:
        return f"amount {outcome.amount} exceeds the outstanding top-up {outstanding}"
    return None


# --- the records of one part ------------------------------------------------------------------


def spread(outstanding: tuple[Share, ...], amount: int) -> tuple[RecordItem, ...]:
    """`amount` spread over the lines still owed, in line order."""
    items: list[RecordItem] = []
    left = amount
    for share in outstanding:
        if left == 0:
            break
        part = min(share.amount, left)
        if part:
            items.append(RecordItem(line_id=share.line_id, amount=part))
            left -= part
    if left:
        raise ValueError(f"{amount} exceeds what is outstanding")
    return tuple(items)


def after(outstanding: tuple[Share, ...], paid: tuple[RecordItem, ...]) -> tuple[Share, ...]:
    by_line = {item.line_id: item.amount for item in paid}
    return tuple(
        Share(line_id=s.line_id, amount=s.amount - by_line.get(s.line_id, 0))
        for s in outstanding
        if s.amount - by_line.get(s.line_id, 0) > 0
    )


def top_up_records(
    plan: Plan, outstanding: tuple[Share, ...], outcome: AuthorizationOutcome, number: int
) -> tuple[PlannedOperation, PlannedOperation | None]:
    """The authorization (declined or not) for a top-up outcome, and its capture if it succeeded
    on an order whose top-ups are captured."""
    items = spread(outstanding, outcome.amount)
    group = ids.top_up_group(number)
    auth_id = group.authorization_id(plan.marker)
    authorization = PlannedOperation(
        step=group.record("authorization"),
        kind="authorization",
        items=items,
        payment_id=outcome.payment_id,
        success=outcome.success,
        authorization_id=auth_id,
    )
    if not outcome.success or not plan.top_up_captured:
        return authorization, None
    capture = PlannedOperation(
        step=group.record("capture"),
        kind="capture",
        items=items,
        payment_id=outcome.payment_id,
        authorization_id=auth_id,
    )
    return authorization, capture
