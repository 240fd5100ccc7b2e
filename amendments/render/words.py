"""Text for people, in one place: the Temporal UI's summaries and details, the `amend` CLI's
tables and lines, and what the demo prints, so that each says the same thing in the same words.

Pure: it formats the domain's models into strings and rich tables, and decides nothing (no I/O,
no Temporal calls; the workflow imports it for its current details).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich import box
from rich.table import Table

from amendments.domain import ids
from amendments.domain.models import (
    AmendmentState,
    AmendOrderInput,
    LineResult,
    ListedAmendment,
    OutcomeSeen,
    PaymentResult,
    Plan,
    RecordedOperation,
)
from amendments.domain.order import RecordItem


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
    workflow_id = ids.workflow_id(state.order_id)
    if state.status == "Failed":
        return f"next: `amend replay {workflow_id}` once the cause is fixed"
    if state.status == "AwaitingTopUp" and state.top_up_outstanding:
        currency = f" {state.plan.currency}" if state.plan else ""
        return (
            f"next: top-up outcomes for {state.top_up_outstanding}{currency} "
            f"(`amend authorize {state.order_id} ...`), or `amend revert {state.order_id} "
            "--reason ...`"
        )
    if state.status in ("Planning", "Applying", "Reverting"):
        return f"next: the {state.status.lower()} continues on its own (`amend status` again)"
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
    by_payment = recorded_by_payment(state.operations)
    if by_payment:
        rows += ["", "Recorded per payment:"]
        rows += [
            f"- {p.payment_id}: authorized {p.authorized}, captured {p.captured}, "
            f"refunded {p.refunded}, released {p.cancelled}, reserved {p.reserved}"
            for p in by_payment
        ]
    if plan is not None and plan.top_up_amount:
        rows += ["", f"Top-up outstanding: **{state.top_up_outstanding} {plan.currency}**"]
    if state.payment_link is not None:
        rows += ["", payment_link_line(state)]
    not_taken = [o for o in state.outcomes if o.disposition in ("ignored", "failed")]
    if not_taken:
        rows += ["", "Outcomes not taken:"]
        rows += [f"- {outcome_line(o)}" for o in not_taken]
    return "\n".join(rows)


def ledger_table(lines: Iterable[LineResult], title: str = "per-line ledger") -> Table:
    """The per-line ledger: each line's money by state (reserved, captured, refunded, released:
    they sum to what was authorized); a light frame, so that it fits an 80-column terminal."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in (
        "line",
        "product",
        "reverses",
        "qty",
        "gross",
        "reserved",
        "captured",
        "refunded",
        "released",
    ):
        if column == "product":  # the one column that may wrap: an id folds, never a number
            table.add_column(column, justify="left", overflow="fold")
        else:
            table.add_column(column, justify="right", no_wrap=True, min_width=len(column))
    for x in lines:
        table.add_row(
            str(x.line_id),
            x.product_id,
            str(x.reverses or ""),
            str(x.quantity),
            str(x.gross_amount),
            str(x.authorized - x.captured - x.cancelled),
            str(x.captured),
            str(x.refunded),
            str(x.cancelled),
        )
    return table


def plan_tables(plan: Plan) -> list[Table]:
    draft = Table(
        title=f"draft for order {plan.order_id}"
        + (" (multiple_authorizations)" if plan.multiple_authorizations else ""),
        title_justify="left",
    )
    for column in ("line", "role", "product", "qty", "gross", "tax", "description"):
        draft.add_column(column)
    for x in plan.lines:
        draft.add_row(
            str(x.line_id),
            x.role + (f" of {x.reverses}" if x.reverses else ""),
            x.product_id,
            str(x.quantity),
            str(x.gross_amount),
            ", ".join(f"{t.amount}@{t.percentage:g}%" for t in x.tax_lines),
            x.description,
        )
    operations = Table(title="payment records, in order", title_justify="left")
    for column in ("step", "kind", "payment", "lines", "amount", "authorization_id"):
        operations.add_column(column)
    for op in plan.operations:
        operations.add_row(
            op.step,
            op.kind,
            op.payment_id,
            ", ".join(f"{i.line_id}:{i.amount}" for i in op.items),
            str(op.amount),
            op.authorization_id or "",
        )
    tables = [draft, operations]
    if plan.allocation or plan.top_up_amount:
        tables.append(allocation_table(plan))
    return tables


def allocation_table(plan: Plan) -> Table:
    """`amend plan`: what the amendment does with each payment's money, before anything is
    written (the last money in goes back first)."""
    table = Table(title="money per payment", title_justify="left")
    columns = ("payment", "taken back", "from lines", "covers", "on lines", "refunded", "released")
    for column in columns:
        table.add_column(column, justify="left" if column in ("payment",) else "right")
    for a in plan.allocation:
        table.add_row(
            a.payment_id,
            str(a.taken_back_total),
            ", ".join(f"{i.line_id}:{i.amount}" for i in a.taken_back),
            str(a.covers_total),
            ", ".join(f"{i.line_id}:{i.amount}" for i in a.covers),
            str(a.refunded),
            str(a.released),
        )
    if plan.top_up_amount:
        table.add_row(
            "top-up" if plan.top_up_captured else "top-up (authorized only)",
            "",
            "",
            str(plan.top_up_amount),
            ", ".join(f"{s.line_id}:{s.amount}" for s in plan.top_up_shares),
            "",
            "",
        )
    return table


def payments_table(payments: Iterable[PaymentResult], title: str = "per-payment ledger") -> Table:
    """Each payment's money on the order: what it authorized, captured, was refunded and
    released (cancelled), what it reserves (authorized, not captured or released) and what it
    holds (captured minus refunded)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("payment", overflow="fold")
    for column in ("authorized", "reserved", "captured", "refunded", "released", "holds"):
        table.add_column(column, justify="right", no_wrap=True)
    for p in payments:
        table.add_row(
            p.payment_id or "?",
            str(p.authorized),
            str(p.reserved),
            str(p.captured),
            str(p.refunded),
            str(p.cancelled),
            str(p.captured - p.refunded),
        )
    return table


def state_table(state: AmendmentState) -> Table:
    table = Table(
        title=f"amendment {state.amendment_id} of order {state.order_id}: "
        f"{state.status} (step {state.step})",
        title_justify="left",
    )
    for column in ("step", "kind", "amount", "payment", "record", "note"):
        table.add_column(column)
    for op in state.operations:
        note = ("declined " if not op.success else "") + ("reconciled" if op.reconciled else "")
        table.add_row(op.step, op.kind, str(op.amount), op.payment_id or "", op.record_id, note)
    return table


def amendments_table(listed: Iterable[ListedAmendment], *, all_runs: bool = False) -> Table:
    """`amend list`: one row per amendment (its latest run); with `all_runs`, a row under it
    for each run it superseded (a replay's failed run)."""
    table = Table(title="amendments, latest run of each", title_justify="left", box=box.SIMPLE)
    for column in ("workflow", "amendment", "status", "outstanding", "started (UTC)", "run"):
        table.add_column(column, overflow="fold")
    for amendment in listed:
        replays = f" ({len(amendment.superseded)} earlier)" if amendment.superseded else ""
        table.add_row(
            amendment.workflow_id,
            amendment.amendment_id or "",
            amendment.status,
            str(amendment.top_up_outstanding or ""),
            f"{amendment.started_at:%Y-%m-%d %H:%M:%S}",
            amendment.run_id + replays,
        )
        if all_runs:
            for old in amendment.superseded:
                table.add_row(
                    "",
                    "",
                    f"superseded ({old.amendment_status or old.execution_status})",
                    "",
                    f"{old.started_at:%Y-%m-%d %H:%M:%S}",
                    old.run_id,
                )
    return table


def payment_link_line(state: AmendmentState) -> str:
    """`payment link for 10000 NOK: https://...` (PAYMENTS=dintero-checkout)."""
    link = state.payment_link
    assert link is not None
    currency = f" {state.plan.currency}" if state.plan else ""
    return f"payment link for {link.amount}{currency}: {link.url} (session {link.session_id})"


def conformance_table(results: Iterable[Any], account_id: str) -> Table:
    """`amend conformance`: each assumption, what was sent and came back, the verdict, and
    what the product does if it differs."""
    table = Table(title=f"Dintero conformance of account {account_id}", title_justify="left")
    for column in ("probe", "verdict", "assumption", "sent", "received", "if it differs"):
        table.add_column(column, overflow="fold")
    for result in results:
        finding = result.finding
        style = {"holds": "green", "differs": "red"}.get(finding.verdict, "yellow")
        table.add_row(
            result.probe.id,
            f"[{style}]{finding.verdict}[/{style}]",
            result.probe.assumption,
            finding.sent,
            finding.received,
            "" if finding.verdict == "holds" else result.probe.if_it_differs,
        )
    return table
