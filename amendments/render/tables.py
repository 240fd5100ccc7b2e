"""Tables for people: the `amend` CLI's and the demo's rich tables (the per-line and per-payment
ledgers, the plan, the amendment's records, the list of amendments, the conformance probes).

Pure: it lays the domain's models out in rows and decides nothing; `console.py` prints them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich import box
from rich.table import Table

from amendments.domain.models import (
    AmendmentState,
    LineResult,
    PaymentResult,
    Plan,
)
from amendments.domain.runs import BulkReplay, DeploymentStatus, FailedAmendment, ListedAmendment


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


def failed_table(found: Iterable[FailedAmendment]) -> Table:
    """`amend replay --failed`: each amendment it found, when and why it failed, and where."""
    table = Table(title="failed amendments, oldest first", title_justify="left", box=box.SIMPLE)
    for column in ("amendment", "order", "failed at (UTC)", "failure", "step", "why"):
        table.add_column(column, overflow="fold")
    for a in found:
        table.add_row(
            a.workflow_id,
            a.order_id,
            f"{a.closed_at:%Y-%m-%d %H:%M:%S}" if a.closed_at else "",
            a.failure,
            a.step or "",
            a.reason,
        )
    return table


def replayed_table(report: BulkReplay) -> Table:
    """`amend replay --failed`: what happened to each amendment."""
    table = Table(title="replay", title_justify="left", box=box.SIMPLE)
    for column in ("amendment", "result", "run or why"):
        table.add_column(column, overflow="fold")
    for r in report.replayed:
        result = "replayed" + (f", {r.outcome}" if r.outcome else "")
        table.add_row(r.workflow_id, result, r.new_run_id + (f" ({r.error})" if r.error else ""))
    for s in report.skipped:
        table.add_row(s.workflow_id, "skipped", s.why)
    for e in report.errors:
        table.add_row(e.workflow_id, "error", e.error)
    return table


def deployment_table(found: DeploymentStatus) -> Table:
    """`amend deploy status`: each version, what Temporal says of it, who runs on it."""
    table = Table(
        title=f"worker deployment {found.deployment}", title_justify="left", box=box.SIMPLE
    )
    for column in ("build", "status", "drainage", "amendments on it", "ramp"):
        table.add_column(column, overflow="fold")
    for v in found.versions:
        ramp = f"{v.ramp_percentage:g}%" if v.ramp_percentage else ""
        table.add_row(v.build_id, v.status, v.drainage or "", str(v.amendments), ramp)
    return table


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
