"""Words for people: the Temporal UI's summaries and details (the workflow imports this for its
current details and its activities' summaries), and the lines the `amend` CLI and the demo print,
so that each says the same thing in the same words.

Pure: it formats the domain's models into strings and decides nothing (no I/O, no Temporal calls).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from amendments import failures
from amendments.domain import ids
from amendments.domain.models import (
    AmendmentState,
    AmendOrderInput,
    OutcomeSeen,
    PaymentResult,
    Plan,
    PlannedLine,
    PlannedOperation,
    RecordedOperation,
)
from amendments.domain.order import RecordItem
from amendments.domain.steps import MoveStep

# --- what each call is, as the UI lists the workflow's activities (their summaries) ---------


def plan_read_summary(order_id: str) -> str:
    return f"Read order {order_id} and plan"


def verify_summary(order_id: str) -> str:
    return f"Re-read order {order_id} and check the ledger"


def draft_summary(lines: Sequence[PlannedLine], order_id: str) -> str:
    """`Draft lines 4-7 on order K3X9QZ1AB`."""
    first, last = lines[0].line_id, lines[-1].line_id
    return f"Draft lines {first if len(lines) == 1 else f'{first}-{last}'} on order {order_id}"


def new_order_summary(currency: str, lines: int) -> str:
    return f"Draft a new {currency} order of {lines} lines"


def complete_summary(draft_id: str) -> str:
    return f"Complete draft {draft_id}"


def record_summary(operation: PlannedOperation, order_id: str | None = None) -> str:
    """`Capture 10000 on lines [6] (top-up-1-capture)`, or for a new order's records
    `Capture 10000 on order K3X9QZ1AB`."""
    if order_id is not None:
        return f"{operation.kind.capitalize()} {operation.amount} on order {order_id}"
    return (
        f"{operation.kind.capitalize()} {operation.amount} on lines "
        f"{[i.line_id for i in operation.items]} ({operation.step})"
    )


def move_summary(step: MoveStep) -> str:
    """Money moved in Checkout: a refund, a capture, or a void and why."""
    where = f"on transaction {step.transaction_id} in Checkout"
    if step.action == "void":
        why = "paid after the revert" if step.late else f"all it reserves released: {step.step}"
        return f"Void transaction {step.transaction_id} in Checkout ({why})"
    return f"{step.action.capitalize()} {step.amount} {where}"


def session_summary(amount: int, currency: str) -> str:
    return f"Open a payment session for {amount} {currency}"


def top_up_timed_out(outstanding: int, plan: Plan, seconds: int) -> str:
    return (
        f"top-up not covered: {outstanding} {plan.currency} still outstanding on order "
        f"{plan.order_id} after {seconds} s"
    )


# --- lines ---------------------------------------------------------------------------------


def plan_line(plan: Plan) -> str:
    """R, N and the branch, in one line: `R reversed 39800, N new 49800 NOK: top-up 10000`."""
    line = (
        f"R reversed {plan.reversed_total}, N new {plan.new_total} {plan.currency}: {plan.branch}"
    )
    if plan.refund_amount:
        line += f" {plan.refund_amount}"
    if plan.release_amount:
        line += f" {plan.release_amount} released"
    if plan.top_up_amount:
        line += f" {plan.top_up_amount}"
        line += "" if plan.top_up_captured else " (authorized only)"
    return line


def progress_line(state: AmendmentState) -> str:
    """Where an amendment stands, in one line: `AwaitingTopUp · step top-up · 10000 outstanding`."""
    parts = [state.status, f"step {state.step}"]
    if state.top_up_outstanding:
        currency = f" {state.plan.currency}" if state.plan else ""
        parts.append(f"top-up outstanding {state.top_up_outstanding}{currency}")
    return " · ".join(parts)


def next_line(state: AmendmentState) -> str | None:
    """What the amendment waits for next, and the command a person would use, if any."""
    if state.status == "Failed":
        return failures.next_step_failed(ids.workflow_id(state.order_id))
    if state.status == "AwaitingTopUp" and state.top_up_outstanding:
        currency = f" {state.plan.currency}" if state.plan else ""
        return failures.next_step_top_up(state.order_id, f"{state.top_up_outstanding}{currency}")
    if state.status in ("Planning", "Applying", "Reverting"):
        return failures.next_step_running(state.status)
    return None


def outcome_line(seen: OutcomeSeen) -> str:
    """One top-up outcome as taken: `signal PID_1 5000: ignored, malformed: amount: ...`."""
    amount = "?" if seen.amount is None else str(seen.amount)
    note = f", {seen.note}" if seen.note else ""
    return f"{seen.via} {seen.payment_id or '?'} {amount}: {seen.disposition}{note}"


def summary_of(request: AmendOrderInput, plan: Plan | None = None) -> str:
    """One line for the Temporal UI: order, lines reversed and added, difference, branch."""
    reversed_ = ", ".join(
        f"{r.line_id}" + (f" x{r.quantity}" if r.quantity else "") for r in request.reverse
    )
    added = ", ".join(f"{a.id} x{a.quantity}" for a in request.add)
    parts = [f"Order {request.order_id}"]
    if reversed_:
        parts.append(f"reverse line {reversed_}")
    if added:
        parts.append(f"add {added}")
    if plan is not None:
        difference = plan.new_total - plan.reversed_total
        parts.append(f"difference {difference:+d} {plan.currency}")
        parts.append(
            {
                "even": "even swap",
                "refund": f"refund {plan.refund_amount}",
                "top-up": f"top-up {plan.top_up_amount}",
            }[plan.branch]
        )
    return " · ".join(parts)


def details_of(request: AmendOrderInput, plan: Plan | None = None) -> str:
    """Markdown for the UI's static details: what the amendment asks, and its plan if known."""
    lines = [f"**Amendment** `{request.amendment_id}` of order `{request.order_id}`", ""]
    if plan is None:
        lines.append("Reverse: " + (", ".join(str(r.line_id) for r in request.reverse) or "none"))
        lines.append("Add: " + (", ".join(a.id for a in request.add) or "none"))
        return "\n".join(lines)
    lines += [plan_line(plan), ""]
    lines += [
        f"- line {x.line_id}: {x.role}{f' of line {x.reverses}' if x.reverses else ''}, "
        f"{x.product_id} x{x.quantity}, **{x.gross_amount}**"
        for x in plan.lines
    ]
    if plan.allocation:
        lines += ["", "Money per payment:"]
        lines += [f"- {row}" for row in allocation_lines(plan)]
    return "\n".join(lines)


def allocation_lines(plan: Plan) -> list[str]:
    """Each payment's part, in words: `PID_1: takes back 10000 (line 4), covers 10000 (line
    6), refunded 0`; then the top-up, when there is one."""

    def on(items: Iterable[RecordItem]) -> str:
        listed = [f"{i.line_id}: {i.amount}" for i in items]
        if not listed:
            return ""
        return f" (line{'s' if len(listed) > 1 else ''} {', '.join(listed)})"

    rows = [
        f"{a.payment_id}: takes back {a.taken_back_total}{on(a.taken_back)}, covers "
        f"{a.covers_total}{on(a.covers)}, refunded {a.refunded}"
        + (f", released {a.released}" if a.released else "")
        for a in plan.allocation
    ]
    if plan.top_up_amount:
        shares = ", ".join(f"{s.line_id}: {s.amount}" for s in plan.top_up_shares)
        how = "" if plan.top_up_captured else ", authorized only: captured at fulfilment"
        rows.append(f"top-up (new payments): {plan.top_up_amount} (lines {shares}){how}")
    return rows


def recorded_by_payment(operations: Iterable[RecordedOperation]) -> list[PaymentResult]:
    """What the amendment has recorded so far, per payment (successful records only)."""
    sums: dict[str, dict[str, int]] = {}
    for op in operations:
        if not op.success:
            continue
        payment = sums.setdefault(
            op.payment_id or "?",
            {"authorization": 0, "capture": 0, "refund": 0, "cancellation": 0},
        )
        payment[op.kind] = payment.get(op.kind, 0) + op.amount
    return [
        PaymentResult(
            payment_id=payment,
            authorized=kinds["authorization"],
            captured=kinds["capture"],
            refunded=kinds["refund"],
            cancelled=kinds["cancellation"],
        )
        for payment, kinds in sums.items()
    ]


def payment_changes(
    state: AmendmentState,
) -> list[tuple[PaymentResult, PaymentResult | None]]:
    """Per payment the amendment has recorded on: its net change, and what the payment now
    holds on the order (what it held before, from the plan, with the change; None when the
    plan predates knowing it)."""
    before = {p.payment_id: p for p in state.plan.holdings} if state.plan is not None else {}
    changes: list[tuple[PaymentResult, PaymentResult | None]] = []
    for change in recorded_by_payment(state.operations):
        now = None
        if before:  # a payment the order did not hold before (a top-up's) held nothing
            was = before.get(change.payment_id)
            now = change if was is None else was.plus(change)
        changes.append((change, now))
    return changes


def change_line(change: PaymentResult, now: PaymentResult | None) -> str:
    """`PID_1: net change by this amendment: refunded +9800; now on the order: holds 0
    (captured 9800, refunded 9800), reserved 0`."""
    moved = [
        f"{kind} {amount:+d}"
        for kind, amount in (
            ("authorized", change.authorized),
            ("captured", change.captured),
            ("refunded", change.refunded),
            ("released", change.cancelled),
        )
        if amount
    ]
    line = f"{change.payment_id}: net change by this amendment: {', '.join(moved) or 'none'}"
    if now is not None:
        line += (
            f"; now on the order: holds {now.held} (captured {now.captured}, "
            f"refunded {now.refunded}), reserved {now.reserved}"
        )
    return line


def current_details(state: AmendmentState) -> str:
    """The UI's current details: a short Markdown step ledger of the amendment as it stands."""
    plan = state.plan
    rows = [f"**{state.status}** · step `{state.step}`", ""]
    if state.error:
        rows += [f"> {state.error}", ""]
    if state.revert_reason:
        rows += [f"Revert: {state.revert_reason}", ""]
    rows += [
        f"- {op.step}{'' if op.success else ' (declined)'}: **{op.amount}** "
        f"`{op.record_id[:8]}`{' (found, not rewritten)' if op.reconciled else ''}"
        for op in state.operations
    ]
    changes = payment_changes(state)
    if changes:
        rows += ["", "Per payment:"]
        rows += [f"- {change_line(change, now)}" for change, now in changes]
    if plan is not None and plan.top_up_amount:
        rows += ["", f"Top-up outstanding: **{state.top_up_outstanding} {plan.currency}**"]
    if state.payment_link is not None:
        rows += ["", payment_link_line(state)]
    not_taken = [o for o in state.outcomes if o.disposition in ("ignored", "failed")]
    if not_taken:
        rows += ["", "Outcomes not taken:"]
        rows += [f"- {outcome_line(o)}" for o in not_taken]
    return "\n".join(rows)


def payment_link_line(state: AmendmentState) -> str:
    """`payment link for 10000 NOK: https://...` (PAYMENTS=dintero-checkout)."""
    link = state.payment_link
    assert link is not None
    currency = f" {state.plan.currency}" if state.plan else ""
    return f"payment link for {link.amount}{currency}: {link.url} (session {link.session_id})"
