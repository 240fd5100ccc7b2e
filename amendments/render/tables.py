"""Tables for people: the `amend` CLI's and the demo's rich tables (the per-line and per-payment
ledgers, the plan, the amendment's records, the list of amendments, the conformance probes).

Pure: it lays the domain's models out in rows (`Sheet`s, which read at any width: whole where
they fit, else the kept columns on the row and the rest under it) and decides nothing;
`console.py` prints them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich import box
from rich.text import Text

from amendments.domain.models import (
    AmendmentState,
    LineResult,
    PaymentResult,
    Plan,
)
from amendments.domain.runs import BulkReplay, DeploymentStatus, FailedAmendment, ListedAmendment
from amendments.render.sheet import Column, Sheet


def _number(name: str) -> Column:
    return Column(name, right=True)


def _under(name: str) -> Column:
    """A column that goes under its row when the sheet is narrow."""
    return Column(name, keep=False)


def ledger_table(lines: Iterable[LineResult], title: str = "per-line ledger") -> Sheet:
    """The per-line ledger: each line's money by state (reserved, captured, refunded, released:
    they sum to what was authorized)."""
    amounts = ("qty", "gross", "reserved", "captured", "refunded", "released")
    sheet = Sheet(
        title,
        [Column("line", right=True), _under("product"), _number("reverses")]
        + [_number(a) for a in amounts],
    )
    for x in lines:
        sheet.add_row(
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
    return sheet


def plan_tables(plan: Plan) -> list[Sheet]:
    draft = Sheet(
        f"draft for order {plan.order_id}"
        + (" (multiple_authorizations)" if plan.multiple_authorizations else ""),
        [
            Column("line", right=True),
            Column("role"),
            Column("product"),
            _number("qty"),
            _number("gross"),
            _under("tax"),
            _under("description"),
        ],
    )
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
    operations = Sheet(
        "payment records, in order",
        [
            Column("step"),
            Column("kind"),
            Column("payment"),
            _under("lines"),
            _number("amount"),
            _under("authorization_id"),
        ],
    )
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


def allocation_table(plan: Plan) -> Sheet:
    """`amend plan`: what the amendment does with each payment's money, before anything is
    written (the last money in goes back first)."""
    sheet = Sheet(
        "money per payment",
        [
            Column("payment"),
            _number("taken back"),
            _under("from lines"),
            _number("covers"),
            _under("on lines"),
            _number("refunded"),
            _number("released"),
        ],
    )
    for a in plan.allocation:
        sheet.add_row(
            a.payment_id,
            str(a.taken_back_total),
            ", ".join(f"{i.line_id}:{i.amount}" for i in a.taken_back),
            str(a.covers_total),
            ", ".join(f"{i.line_id}:{i.amount}" for i in a.covers),
            str(a.refunded),
            str(a.released),
        )
    if plan.top_up_amount:
        sheet.add_row(
            "top-up" if plan.top_up_captured else "top-up (authorized only)",
            "",
            "",
            str(plan.top_up_amount),
            ", ".join(f"{s.line_id}:{s.amount}" for s in plan.top_up_shares),
            "",
            "",
        )
    return sheet


PAYMENT_AMOUNTS = ("authorized", "reserved", "captured", "refunded", "released", "holds")


def payments_table(payments: Iterable[PaymentResult], title: str = "per-payment ledger") -> Sheet:
    """Each payment's money on the order: what it authorized, captured, was refunded and
    released (cancelled), what it reserves (authorized, not captured or released) and what it
    holds (captured minus refunded)."""
    sheet = Sheet(title, [Column("payment"), *(_number(a) for a in PAYMENT_AMOUNTS)])
    for p in payments:
        sheet.add_row(p.payment_id or "?", *(str(a) for a in _amounts(p)))
    return sheet


def _amounts(p: PaymentResult) -> tuple[int, ...]:
    return (p.authorized, p.reserved, p.captured, p.refunded, p.cancelled, p.held)


def change_table(changes: Iterable[tuple[PaymentResult, PaymentResult | None]]) -> Sheet:
    """`amend status`: per payment, the net change this amendment made (what it recorded) and,
    when known, what the payment now holds on the order."""
    sheet = Sheet(
        "per payment: net change by this amendment, and what it now holds on the order",
        [
            Column("payment"),
            Column("money"),
            *(_number(a) for a in PAYMENT_AMOUNTS),
        ],
    )
    for change, now in changes:
        sheet.add_row(change.payment_id, "net change", *(_signed(a) for a in _amounts(change)))
        if now is not None:
            sheet.add_row("", "now on order", *(str(a) for a in _amounts(now)))
    return sheet


def _signed(amount: int) -> str:
    return f"{amount:+d}" if amount else "0"


def state_table(state: AmendmentState) -> Sheet:
    sheet = Sheet(
        f"amendment {state.amendment_id} of order {state.order_id}: "
        f"{state.status} (step {state.step})",
        [
            Column("step"),
            Column("kind"),
            _number("amount"),
            _under("payment"),
            _under("record"),
            _under("note"),
        ],
    )
    for op in state.operations:
        note = ("declined " if not op.success else "") + ("reconciled" if op.reconciled else "")
        sheet.add_row(op.step, op.kind, str(op.amount), op.payment_id or "", op.record_id, note)
    return sheet


def amendments_table(listed: Iterable[ListedAmendment], *, all_runs: bool = False) -> Sheet:
    """`amend list`: one row per amendment (its latest run); with `all_runs`, a row under it
    for each run it superseded (a replay's failed run)."""
    sheet = Sheet(
        "amendments, latest run of each",
        [
            Column("workflow"),
            Column("status"),
            _number("outstanding"),
            _under("amendment"),
            _under("started (UTC)"),
            _under("run"),
        ],
        frame=box.SIMPLE,
    )
    for amendment in listed:
        replays = f" ({len(amendment.superseded)} earlier)" if amendment.superseded else ""
        sheet.add_row(
            amendment.workflow_id,
            amendment.status,
            str(amendment.top_up_outstanding or ""),
            amendment.amendment_id or "",
            f"{amendment.started_at:%Y-%m-%d %H:%M:%S}",
            amendment.run_id + replays,
        )
        if all_runs:
            for old in amendment.superseded:
                sheet.add_row(
                    "",
                    f"superseded ({old.amendment_status or old.execution_status})",
                    "",
                    "",
                    f"{old.started_at:%Y-%m-%d %H:%M:%S}",
                    old.run_id,
                )
    return sheet


def failed_table(found: Iterable[FailedAmendment]) -> Sheet:
    """`amend replay --failed`: each amendment it found, when and why it failed, and where."""
    sheet = Sheet(
        "failed amendments, oldest first",
        [
            Column("amendment"),
            Column("failure"),
            _under("order"),
            _under("failed at (UTC)"),
            _under("step"),
            _under("why"),
        ],
        frame=box.SIMPLE,
    )
    for a in found:
        sheet.add_row(
            a.workflow_id,
            a.failure,
            a.order_id,
            f"{a.closed_at:%Y-%m-%d %H:%M:%S}" if a.closed_at else "",
            a.step or "",
            a.reason,
        )
    return sheet


def replayed_table(report: BulkReplay) -> Sheet:
    """`amend replay --failed`: what happened to each amendment."""
    sheet = Sheet(
        "replay", [Column("amendment"), Column("result"), _under("run or why")], frame=box.SIMPLE
    )
    for r in report.replayed:
        result = "replayed" + (f", {r.outcome}" if r.outcome else "")
        sheet.add_row(r.workflow_id, result, r.new_run_id + (f" ({r.error})" if r.error else ""))
    for s in report.skipped:
        sheet.add_row(s.workflow_id, "skipped", s.why)
    for e in report.errors:
        sheet.add_row(e.workflow_id, "error", e.error)
    return sheet


def deployment_table(found: DeploymentStatus) -> Sheet:
    """`amend deploy status`: each version, what Temporal says of it, who runs on it."""
    sheet = Sheet(
        f"worker deployment {found.deployment}",
        [
            Column("build"),
            Column("status"),
            _number("amendments on it"),
            _number("ramp"),
            _under("drainage"),
        ],
        frame=box.SIMPLE,
    )
    for v in found.versions:
        ramp = f"{v.ramp_percentage:g}%" if v.ramp_percentage else ""
        sheet.add_row(v.build_id, v.status, str(v.amendments), ramp, v.drainage or "")
    return sheet


VERDICT_STYLE = {"holds": "green", "differs": "red", "not_run": "dim"}


def conformance_table(results: Iterable[Any], account_id: str) -> Sheet:
    """`amend conformance`: each assumption, what was sent and came back, the verdict, and
    what the product does if it differs; a probe not run says why."""
    sheet = Sheet(
        f"Dintero conformance of account {account_id}",
        [
            Column("probe"),
            Column("verdict"),
            _under("assumption"),
            _under("sent"),
            _under("received"),
            _under("why not run"),
            _under("if it differs"),
        ],
    )
    for result in results:
        finding = result.finding
        not_run = finding.verdict == "not_run"
        sheet.add_row(
            result.probe.id,
            Text(finding.verdict.replace("_", " "), VERDICT_STYLE.get(finding.verdict, "yellow")),
            result.probe.assumption,
            "" if not_run else finding.sent,
            "" if not_run else finding.received,
            finding.received if not_run else "",
            "" if finding.verdict in ("holds", "not_run") else result.probe.if_it_differs,
        )
    return sheet
