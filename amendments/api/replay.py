"""Replaying failed, timed-out, terminated or cancelled amendments after their cause was fixed:
one (`replay_amendment`, `amend replay AMENDMENT`), or every one a selection finds after an
outage (`replay_failed`, `amend replay --failed`).

A replay is a Temporal **reset**, not a new run over the same input. The failed run's history
holds the plan (line ids, amounts, markers) and every top-up outcome received; a reset keeps
all of it and re-runs only from the workflow task that scheduled the last activity. A new run
would plan again against an order that already carries half of the amendment. In the reset run
the workflow sees `run_id != original_execution_run_id` and every write reconciles first (looks
for its markers on the order), so a write that landed before the failure is not made twice.
Signals received after the reset point are re-applied; a top-up wait that had expired starts
over with its full timeout (once), so a replayed amendment waits again and can still be reverted.

After an outage, `replay_failed` finds every amendment whose **latest** run failed (Temporal's
visibility, narrowed by when it closed, its failure type, its order id's prefix or any query),
then resets each exactly as one replay does, paced (`rate` resets a second at most, `concurrency`
at once) so that the writes the replays make again reach Dintero at a pace it accepts. It is
safe to stop and to run again: an amendment is either untouched or reset (a reset is one call,
and one failed run's reset carries the same request id every time, so Temporal makes it once);
an amendment already replayed and running is skipped, one replayed and finished is no longer
selected.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyType
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryReverseRequest,
    ResetWorkflowExecutionRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.client import WorkflowExecution as Run
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from amendments import failures
from amendments.api.listing import RUNS_SCANNED, quoted
from amendments.domain import ids
from amendments.domain.base import Model
from amendments.domain.errors import AmendmentRejected
from amendments.domain.runs import (
    BulkReplay,
    FailedAmendment,
    ReplayedAmendment,
    ReplayError,
    Skipped,
)
from amendments.temporal.search_attributes import AMENDMENT_FAILURE, DINTERO_ACCOUNT, ORDER_ID

REPLAYABLE = {
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.CANCELED,
}


class NotReplayable(RuntimeError):
    """The workflow is running or completed, or its history offers no reset point."""


@dataclass(frozen=True)
class Replayed:
    workflow_id: str
    failed_run_id: str
    new_run_id: str
    reset_event_id: int
    rerun_from: str


async def replay_amendment(
    client: Client, workflow_id: str, reason: str = "", *, run_id: str | None = None
) -> Replayed:
    """Reset the latest run of `workflow_id`, or the run `run_id` (an older failed run that a
    later one superseded)."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            which = f"run {run_id} of {workflow_id}" if run_id else workflow_id
            raise NotReplayable(f"no amendment {which} was found") from exc
        raise
    status = description.status
    if status not in REPLAYABLE:
        state = status.name.lower() if status is not None else "unknown"
        raise NotReplayable(
            f"{workflow_id} is {state}; only a failed, timed-out, terminated or "
            f"cancelled amendment can be replayed "
            f"({failures.status_hint(ids.order_id_of(workflow_id))} shows it)"
        )
    history = await client.get_workflow_handle(
        workflow_id, run_id=description.run_id
    ).fetch_history()
    reset_event_id, rerun_from = 0, "the start"
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and not reset_event_id:
            reset_event_id = event.event_id
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            reset_event_id = attributes.workflow_task_completed_event_id
            rerun_from = f"activity {attributes.activity_type.name} (event {event.event_id})"
    if not reset_event_id:
        raise NotReplayable(
            f"{workflow_id} never completed a workflow task; start it again instead"
        )
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(
                workflow_id=workflow_id, run_id=description.run_id
            ),
            reason=reason or f"amend replay {workflow_id}",
            workflow_task_finish_event_id=reset_event_id,
            request_id=ids.reset_request_id(workflow_id, description.run_id),
            reset_reapply_type=ResetReapplyType.RESET_REAPPLY_TYPE_SIGNAL,
        )
    )
    return Replayed(
        workflow_id=workflow_id,
        failed_run_id=description.run_id,
        new_run_id=response.run_id,
        reset_event_id=reset_event_id,
        rerun_from=rerun_from,
    )


# --- after an outage: every failed amendment ----------------------------------------------

# Dintero documents no rate limit for its Orders API (it answers 429 with `Retry-After`, which
# every activity honours). A replay re-runs an amendment's remaining writes, up to a dozen
# calls; 5 replays a second with 4 at once keep a replay after an outage around 60 calls a
# second at most, the pace of a busy shop, while a thousand amendments replay in under 4 minutes.
DEFAULT_RATE = 5.0
DEFAULT_CONCURRENCY = 4
# How a run Temporal closed itself fails, for a selection by failure type.
CLOSED_BY_TEMPORAL = {
    WorkflowExecutionStatus.TERMINATED: failures.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT: failures.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED: failures.CANCELLED,
}
_VISIBILITY_STATUS = {
    WorkflowExecutionStatus.FAILED: "Failed",
    WorkflowExecutionStatus.TIMED_OUT: "TimedOut",
    WorkflowExecutionStatus.TERMINATED: "Terminated",
    WorkflowExecutionStatus.CANCELED: "Canceled",
}
_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, field: str = "since") -> timedelta:
    """`90s`, `30m`, `2h`, `1d`, `1h30m`: a duration, or a refusal naming the field."""
    parts = _DURATION.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise AmendmentRejected(
            field, f"must be a duration like 30m, 2h, 1d or 1h30m (s, m, h, d), got {text!r}"
        )
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


class Selection(Model):
    """Which failed amendments to replay; every part narrows the one before."""

    since: timedelta | None = None  # closed within this long
    failure: str | None = None  # a failure type of the vocabulary
    order_prefix: str | None = None
    query: str | None = None  # a raw visibility query, ANDed with the rest
    account_id: str | None = None  # one merchant's (the search attribute `DinteroAccount`)

    def visibility_query(self, now: datetime) -> str:
        statuses = ", ".join(quoted(s) for s in _VISIBILITY_STATUS.values())
        parts = [f"WorkflowType = {quoted(ids.AMEND_ORDER)}", f"ExecutionStatus IN ({statuses})"]
        if self.since is not None:
            parts.append(f"CloseTime >= {quoted((now - self.since).isoformat())}")
        if self.failure is not None:
            parts.append(_failure_clause(self.failure))
        if self.order_prefix:
            parts.append(f"{ORDER_ID.name} STARTS_WITH {quoted(self.order_prefix)}")
        if self.account_id:
            parts.append(f"{DINTERO_ACCOUNT.name} = {quoted(self.account_id)}")
        if self.query:
            parts.append(f"({self.query})")
        return " AND ".join(parts)


def _failure_clause(name: str) -> str:
    try:
        wanted = failures.failure(name)
    except KeyError:
        known = ", ".join(n for n, f in failures.REGISTRY.items() if f.where != "api")
        raise AmendmentRejected(
            "failure", f"{name!r} is not a failure type of this product (known: {known})"
        ) from None
    clause = f"{AMENDMENT_FAILURE.name} = {quoted(wanted.name)}"
    for status, closing in CLOSED_BY_TEMPORAL.items():
        if closing is wanted:  # Temporal closed it: no workflow code set the attribute
            clause = f"({clause} OR ExecutionStatus = {quoted(_VISIBILITY_STATUS[status])})"
    return clause


async def find_failed(
    client: Client, selection: Selection
) -> tuple[list[FailedAmendment], list[Skipped]]:
    """Every amendment whose latest run matches the selection and failed (oldest first), and
    those already replayed and running again (skipped, saying so). An amendment replayed and
    finished is not selected: its latest run did not fail."""
    query = selection.visibility_query(datetime.now(UTC))
    newest: dict[str, Run] = {}
    async for run in client.list_workflows(query, limit=RUNS_SCANNED):
        kept = newest.get(run.id)
        if kept is None or run.start_time > kept.start_time:
            newest[run.id] = run
    found: list[FailedAmendment] = []
    skipped: list[Skipped] = []
    for run in newest.values():
        latest = await client.get_workflow_handle(run.id).describe()
        if latest.run_id == run.run_id and latest.status in REPLAYABLE:
            found.append(await _failed(client, run))
        elif latest.status == WorkflowExecutionStatus.RUNNING:
            skipped.append(
                Skipped(
                    workflow_id=run.id,
                    why=f"running again as run {latest.run_id} (already replayed)",
                )
            )
    found.sort(key=lambda a: (a.closed_at or datetime.min.replace(tzinfo=UTC), a.workflow_id))
    return found, skipped


async def _failed(client: Client, run: Run) -> FailedAmendment:
    """How a run ended, from its last event: the failure (decoded: it may be encrypted) and the
    step the workflow failed at, or what Temporal did."""
    status = run.status or WorkflowExecutionStatus.FAILED
    failure = run.typed_search_attributes.get(AMENDMENT_FAILURE)
    reason = status.name.lower()
    last = await client.workflow_service.get_workflow_execution_history_reverse(
        GetWorkflowExecutionHistoryReverseRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=run.id, run_id=run.run_id),
            maximum_page_size=1,
        )
    )
    for event in last.history.events[:1]:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            error = await client.data_converter.decode_failure(
                event.workflow_execution_failed_event_attributes.failure
            )
            reason = failures.message_of(error)
            if failure is None and isinstance(error, ApplicationError) and error.type:
                failure = error.type
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            reason = event.workflow_execution_terminated_event_attributes.reason or "terminated"
    if failure is None:
        closing = CLOSED_BY_TEMPORAL.get(status)
        failure = closing.name if closing is not None else failures.UNEXPECTED.name
    step, why = failures.failed_at(reason)
    order_id = run.typed_search_attributes.get(ORDER_ID) or ids.order_id_of(run.id)
    return FailedAmendment(
        workflow_id=run.id,
        order_id=order_id,
        run_id=run.run_id,
        status=status.name.lower(),
        closed_at=run.close_time,
        failure=failure,
        step=step,
        reason=why,
    )


def check_pace(rate: float, concurrency: int) -> None:
    """A pace a replay can keep, or a refusal naming the option."""
    if rate <= 0:
        raise AmendmentRejected("rate", f"must be more than 0 resets a second, got {rate}")
    if concurrency < 1:
        raise AmendmentRejected("concurrency", f"must be at least 1, got {concurrency}")


Progress = Callable[[FailedAmendment, "ReplayedAmendment | Skipped | ReplayError"], None]


async def replay_failed(
    client: Client,
    selection: Selection | None = None,
    *,
    rate: float = DEFAULT_RATE,
    concurrency: int = DEFAULT_CONCURRENCY,
    wait: bool = False,
    found: list[FailedAmendment] | None = None,
    skipped: list[Skipped] | None = None,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
) -> BulkReplay:
    """Replay every failed amendment the selection finds (or the `found` ones, as
    `find_failed` listed them, with those it `skipped`), each exactly as `replay_amendment`
    does, at most `rate` resets a second and `concurrency` at once; with `wait`, wait for the
    replayed runs and say how each ended. Once `stop` is set no further reset starts (those
    under way finish): every amendment is then replayed or untouched, and the skipped say which
    were not reached."""
    check_pace(rate, concurrency)
    skipped = list(skipped or ())
    if found is None:
        found, skipped = await find_failed(client, selection or Selection())
    replayed: list[ReplayedAmendment] = []
    errors: list[ReplayError] = []
    stop = stop or asyncio.Event()
    gate = asyncio.Semaphore(concurrency)
    loop = asyncio.get_running_loop()
    begun = loop.time()

    async def one(index: int, amendment: FailedAmendment) -> None:
        async with gate:
            # The i-th reset starts no sooner than i / rate seconds after the first.
            delay = begun + index / rate - loop.time()
            if delay > 0 and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                answer: ReplayedAmendment | Skipped | ReplayError = Skipped(
                    workflow_id=amendment.workflow_id,
                    why="not replayed: the command was stopped before its turn (untouched)",
                )
            else:
                answer = await _reset(client, amendment)
        if isinstance(answer, ReplayedAmendment):
            replayed.append(answer)
        elif isinstance(answer, Skipped):
            skipped.append(answer)
        else:
            errors.append(answer)
        if progress is not None:
            progress(amendment, answer)

    await asyncio.gather(*(one(i, a) for i, a in enumerate(found)))
    order = {a.workflow_id: i for i, a in enumerate(found)}
    replayed.sort(key=lambda r: order[r.workflow_id])
    if wait and not stop.is_set():
        replayed = list(await asyncio.gather(*(_ended(client, r) for r in replayed)))
    return BulkReplay(
        selected=len(found),
        replayed=tuple(replayed),
        skipped=tuple(skipped),
        errors=tuple(errors),
        stopped=stop.is_set(),
    )


async def _reset(
    client: Client, amendment: FailedAmendment
) -> ReplayedAmendment | Skipped | ReplayError:
    try:
        replayed = await replay_amendment(
            client,
            amendment.workflow_id,
            f"replay after an outage ({amendment.failure})",
            run_id=amendment.run_id,
        )
    except NotReplayable as exc:  # it changed meanwhile (replayed by someone else)
        return Skipped(workflow_id=amendment.workflow_id, why=str(exc))
    except RPCError as exc:
        return ReplayError(workflow_id=amendment.workflow_id, error=f"Temporal: {exc.message}")
    return ReplayedAmendment(
        workflow_id=amendment.workflow_id,
        failed_run_id=replayed.failed_run_id,
        new_run_id=replayed.new_run_id,
        failure=amendment.failure,
    )


async def _ended(client: Client, replayed: ReplayedAmendment) -> ReplayedAmendment:
    """How a replayed run ended: applied, reverted, or failed again (with what)."""
    handle = client.get_workflow_handle(replayed.workflow_id, run_id=replayed.new_run_id)
    try:
        result = await handle.result(follow_runs=False)
    except Exception as exc:
        kind = failures.kind_of(exc)
        return replayed.model_copy(
            update={"outcome": "failed", "error": f"{kind}: {failures.message_of(exc)}"}
        )
    outcome = result.get("outcome", "applied") if isinstance(result, dict) else "applied"
    return replayed.model_copy(update={"outcome": outcome})
