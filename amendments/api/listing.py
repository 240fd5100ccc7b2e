"""Recent amendments, one per workflow id: what `amend list` shows and a backend may ask for.

Temporal's visibility keeps a record per **run**, and a replayed amendment (a reset) has two: the
run that failed, whose `AmendmentStatus` stays `Failed` for good (Temporal never changes a
closed run's record), and the run that went on. So a list by `AmendmentStatus` alone shows
amendments that later completed as failed. Here the latest run of each `amend-{order_id}` speaks
for the amendment, the older runs are marked superseded by it, and a status filter applies to
the latest run only: `Failed` lists exactly the amendments an operator still has to act on.
"""

from __future__ import annotations

from collections.abc import Iterable

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from amendments.domain import ids
from amendments.domain.errors import AmendmentRejected
from amendments.domain.models import AmendmentStatus
from amendments.domain.runs import ListedAmendment, ListedRun
from amendments.temporal.search_attributes import (
    AMENDMENT_ID,
    AMENDMENT_STATUS,
    DINTERO_ACCOUNT,
    ORDER_ID,
    TOP_UP_OUTSTANDING,
)

STATUSES: tuple[AmendmentStatus, ...] = (
    "Planning",
    "Applying",
    "AwaitingTopUp",
    "Reverting",
    "Completed",
    "Reverted",
    "Failed",
)
NEEDS_OPERATOR = ("Failed",)
RUNS_SCANNED = 10_000  # a bound on one listing's visibility pages, not a page size


def status_of(run: WorkflowExecution) -> AmendmentStatus:
    """The amendment's status by this run: its `AmendmentStatus`, except that a run Temporal
    closed itself (terminated, timed out, cancelled) or one that failed before upserting says
    `Failed`, which is what it is to an operator."""
    upserted = run.typed_search_attributes.get(AMENDMENT_STATUS)
    execution = run.status
    if execution == WorkflowExecutionStatus.RUNNING:
        return _known(upserted) or "Planning"
    if execution == WorkflowExecutionStatus.COMPLETED:
        return "Reverted" if upserted == "Reverted" else "Completed"
    return "Failed"


def _known(value: str | None) -> AmendmentStatus | None:
    for status in STATUSES:
        if status == value:
            return status
    return None


def parse_status(value: str) -> AmendmentStatus:
    """A status as a person types it (any case), or a refusal naming the ones there are."""
    for status in STATUSES:
        if status.lower() == value.strip().lower():
            return status
    raise AmendmentRejected("status", f"must be one of {', '.join(STATUSES)}; got {value!r}")


def _run(run: WorkflowExecution) -> ListedRun:
    return ListedRun(
        run_id=run.run_id,
        execution_status=_execution(run),
        amendment_status=run.typed_search_attributes.get(AMENDMENT_STATUS),
        started_at=run.start_time,
        closed_at=run.close_time,
    )


def _execution(run: WorkflowExecution) -> str:
    return run.status.name.lower() if run.status is not None else "unknown"


def latest_runs(runs: Iterable[WorkflowExecution]) -> list[ListedAmendment]:
    """One entry per workflow id, newest amendment first: the latest-started run speaks for it
    (a reset run starts after the run it resets)."""
    by_id: dict[str, list[WorkflowExecution]] = {}
    for run in runs:
        by_id.setdefault(run.id, []).append(run)
    listed = []
    for workflow_id, group in by_id.items():
        group.sort(key=lambda r: r.start_time, reverse=True)
        latest, older = group[0], group[1:]
        attributes = latest.typed_search_attributes
        listed.append(
            ListedAmendment(
                workflow_id=workflow_id,
                order_id=attributes.get(ORDER_ID),
                amendment_id=attributes.get(AMENDMENT_ID),
                status=status_of(latest),
                execution_status=_execution(latest),
                run_id=latest.run_id,
                started_at=latest.start_time,
                closed_at=latest.close_time,
                top_up_outstanding=attributes.get(TOP_UP_OUTSTANDING) or 0,
                account_id=attributes.get(DINTERO_ACCOUNT),
                superseded=tuple(_run(run) for run in older),
            )
        )
    listed.sort(key=lambda a: a.started_at, reverse=True)
    return listed


def quoted(value: str) -> str:
    """A string as a visibility query's literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def list_amendments(
    client: Client,
    *,
    order_id: str | None = None,
    status: AmendmentStatus | None = None,
    limit: int = 20,
    account_id: str | None = None,
) -> list[ListedAmendment]:
    """The latest `limit` amendments (an order's, with `order_id`; an account's, with
    `account_id`: the search attribute `DinteroAccount` the workflow sets), by their latest
    run, those whose latest run is in `status` only when it is given."""
    if limit < 1:
        raise AmendmentRejected("limit", f"must be at least 1, got {limit}")
    if account_id is not None and not ids.ACCOUNT_ID.fullmatch(account_id):
        raise AmendmentRejected("account_id", f"{account_id!r} is not a Dintero account id")
    query = "WorkflowType = 'AmendOrder'"
    if account_id is not None:
        query += f" AND {DINTERO_ACCOUNT.name} = {quoted(account_id)}"
    if order_id is not None:
        query += f" AND WorkflowId = {quoted(ids.workflow_id(order_id, account_id))}"
    runs = [run async for run in client.list_workflows(query, limit=RUNS_SCANNED)]
    listed = latest_runs(runs)
    if status is not None:
        listed = [amendment for amendment in listed if amendment.status == status]
    return listed[:limit]
