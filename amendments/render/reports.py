"""The CLI's and the demo's screens: an amendment's result, where an amendment stands, the demo's
story, a plan; each put together from `words` and `tables` and printed through `console`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from amendments import failures
from amendments.domain import ids
from amendments.domain.models import (
    AmendmentResult,
    AmendmentState,
    LineResult,
    OutcomeSeen,
    PaymentResult,
    Plan,
)
from amendments.domain.runs import (
    BulkReplay,
    CheckReport,
    DeploymentStatus,
    FailedAmendment,
    ListedAmendment,
    ReplayedAmendment,
    ReplayError,
    Routed,
    Skipped,
)
from amendments.render import console
from amendments.render.tables import (
    allocation_table,
    amendments_table,
    change_table,
    deployment_table,
    failed_table,
    ledger_table,
    payments_table,
    plan_tables,
    replayed_table,
    state_table,
)
from amendments.render.words import (
    next_line,
    outcome_line,
    payment_changes,
    payment_link_line,
    plan_line,
)

ReplayAnswer = ReplayedAmendment | Skipped | ReplayError


class DemoAmendment(Protocol):
    """What the demo reports of one amendment (`amendments/local/demo.py`)."""

    @property
    def title(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def branch(self) -> str: ...
    @property
    def dintero_calls(self) -> int: ...
    @property
    def lines(self) -> Sequence[LineResult]: ...
    @property
    def payments(self) -> Sequence[PaymentResult]: ...
    @property
    def ui_url(self) -> str: ...
    @property
    def revert_reason(self) -> str | None: ...
    @property
    def outcomes(self) -> Sequence[OutcomeSeen]: ...
    @property
    def payment_links(self) -> Sequence[str]: ...
    @property
    def checkout_moves(self) -> Sequence[str]: ...


class DemoReport(Protocol):
    """What the demo reports of its whole story."""

    @property
    def order_id(self) -> str: ...
    @property
    def amendments(self) -> Sequence[DemoAmendment]: ...
    @property
    def ledger_checks(self) -> str: ...
    @property
    def ok(self) -> bool: ...


def result(result: AmendmentResult) -> None:
    """What `amend start --wait`, `amend replay --wait` and `amend revert` print: the outcome
    and the ledger, per line and per payment."""
    if result.outcome == "reverted":
        console.say(f"reverted: {result.revert_reason}")
    else:
        console.say(f"applied to order {result.order_id}; total {result.total}")
    ledgers(result)


def ledgers(result: AmendmentResult) -> None:
    """The order's money after an amendment, per line and per payment."""
    console.show(ledger_table(result.lines, f"order {result.order_id}"))
    if result.payments:
        console.show(payments_table(result.payments, f"order {result.order_id} per payment"))


def state(state: AmendmentState, result: AmendmentResult | None) -> None:
    """`amend status`: the amendment's records, its money per payment, what it waits for."""
    console.show(state_table(state))
    if result is not None:
        console.show(ledger_table(result.lines, f"order {result.order_id} after it"))
    changes = payment_changes(state)
    if changes:
        console.show(change_table(changes))
    if state.plan is not None and (state.plan.allocation or state.plan.top_up_amount):
        console.show(allocation_table(state.plan))
    if state.top_up_outstanding:
        console.say(f"top-up outstanding: {state.top_up_outstanding}")
    if state.payment_link is not None:
        console.say(payment_link_line(state))
    for seen in state.outcomes:
        if seen.disposition in ("ignored", "failed"):
            console.say(outcome_line(seen))
    if state.revert_reason:
        console.say(f"revert: {state.revert_reason}")
    if state.error:
        console.say(f"error: {state.error}")
    console.say(f"last step: {state.step}")
    upcoming = next_line(state)
    if upcoming:
        console.say(upcoming)


def plan(plan: Plan) -> None:
    """`amend plan`: the draft, the records in order, the money per payment, and R, N and the
    branch."""
    console.show(*plan_tables(plan))
    console.say(plan_line(plan))


def listed(amendments: list[ListedAmendment], *, all_runs: bool, empty: str) -> None:
    """`amend list`: the table, and for each failed one the commands that look at it."""
    if not amendments:
        console.say(empty)
        return
    console.show(amendments_table(amendments, all_runs=all_runs))
    for amendment in amendments:
        if amendment.status == "Failed":
            order_id = amendment.order_id or ids.order_id_of(amendment.workflow_id)
            console.say(failures.listed_failed(amendment.workflow_id, order_id))


def found(amendments: Sequence[FailedAmendment], skipped: Sequence[Skipped]) -> None:
    """What `amend replay --failed` found, before it acts (standard error)."""
    if amendments:
        console.show_aside(failed_table(amendments))
    else:
        console.note("no failed amendment matches")
    for s in skipped:
        console.note(f"skipped {s.workflow_id}: {s.why}")


@contextlib.contextmanager
def replaying(total: int) -> Iterator[Callable[[FailedAmendment, ReplayAnswer], None]]:
    """Progress of a replay after an outage (standard error): a line, or a bar's step, per
    amendment."""
    with console.counting(total, "replaying") as advance:

        def tick(amendment: FailedAmendment, answer: ReplayAnswer) -> None:
            if isinstance(answer, ReplayedAmendment):
                advance(f"replayed {answer.workflow_id}: new run {answer.new_run_id}")
            elif isinstance(answer, Skipped):
                advance(f"skipped {answer.workflow_id}: {answer.why}")
            else:
                advance(f"error {answer.workflow_id}: {answer.error}")

        yield tick


def replayed(report: BulkReplay, *, dry_run: bool) -> None:
    """The end of `amend replay --failed` (standard output): each amendment, then the counts."""
    if report.replayed or report.skipped or report.errors:
        console.show(replayed_table(report))
    what = "would replay (dry run)" if dry_run else "replayed"
    done = report.selected if dry_run else len(report.replayed)
    console.say(
        f"selected {report.selected}; {what} {done}; skipped {len(report.skipped)}; "
        f"errors {len(report.errors)}"
        + ("; stopped: the skipped were not reached and are untouched" if report.stopped else "")
    )


def checked(report: CheckReport) -> None:
    """`amend deploy check`: how many replayed cleanly, and each that did not."""
    clean = report.checked - len(report.failed)
    console.say(f"{clean} of {report.checked} amendments in flight replay against this code")
    for failure in report.failed:
        console.say(
            f"{failure.workflow_id} (order {failure.order_id}, run {failure.run_id}) does not: "
            f"{failure.error}"
        )


def deployment(found: DeploymentStatus) -> None:
    """`amend deploy status`."""
    console.say(
        f"current: {found.current or 'unversioned workers'}"
        + (f"; ramping: {found.ramping} at {found.ramp_percentage:g}%" if found.ramping else "")
    )
    console.show(deployment_table(found))
    for version in found.versions:
        if version.status == "draining":
            console.say(
                f"{version.build_id} is draining: keep its workers until it shows drained "
                f"({version.amendments} amendments last ran on it; they move at their next task)"
            )
    if found.unversioned_amendments:
        console.say(f"{found.unversioned_amendments} amendments run on unversioned workers")


def routed(change: Routed) -> None:
    """`amend deploy promote` and `rollback`: the routing now."""
    now = f"current: {change.current or 'unversioned workers'}" + (
        f"; ramping: {change.ramping} at {change.ramp_percentage:g}%" if change.ramping else ""
    )
    if not change.changed:
        console.say(f"already so, nothing changed: {now}")
    else:
        before = change.before or "unversioned workers"
        console.say(f"routed (every task queue has it): {now}; current before: {before}")


def demo(report: DemoReport) -> None:
    """The demo's story: each amendment, its money, and whether every ledger check held."""
    for number, amendment in enumerate(report.amendments, start=1):
        console.say("", f"[bold]{number}. {amendment.title}[/bold]")
        console.say(
            f"   status {amendment.status} · branch {amendment.branch} · "
            f"{amendment.dintero_calls} Dintero calls"
        )
        console.say(*(f"   top-up {outcome_line(seen)}" for seen in amendment.outcomes))
        console.say(*(f"   payment link {link}" for link in amendment.payment_links))
        console.say(*(f"   Checkout: {move}" for move in amendment.checkout_moves))
        if amendment.revert_reason:
            console.say(f"   {amendment.revert_reason}")
        console.say(f"   {amendment.ui_url}")
        console.show(ledger_table(amendment.lines, f"order {report.order_id}"))
        if amendment.payments:
            console.show(payments_table(amendment.payments, "per payment"))
    console.say(f"ledger checks on the re-read order: {report.ledger_checks}")
    console.say(
        "[green]every amendment ended as planned[/green]"
        if report.ok
        else "[red]the demo did not complete[/red]"
    )
