"""The product's metrics: their names, labels and buckets, recorded through the SDK's meters.

Inside a workflow through `workflow.metric_meter()` (the SDK records nothing while a workflow
replays, so a replay or a cache eviction never counts an amendment twice), inside an activity
through `activity.metric_meter()`; anywhere else (the CLI's dry run) nothing is recorded. The SDK
exports them with its own `temporal_*` metrics on one Prometheus endpoint when the worker's
runtime has one (`METRICS_BIND_ADDRESS`, `amendments/worker/telemetry.py`).

Labels are bounded: an outcome, a branch, a route name, an HTTP status, a record kind, and the
Dintero account of an amendment (`account`: the first `ACCOUNT_LABELS` accounts a worker's
amendments run for are named, any more are `other`, an amendment refused before it had one is
`none`). Never an order id, amendment id or payment id (each would make a series per amendment).
"""

from __future__ import annotations

from typing import Literal

from temporalio import activity, workflow

FINISHED = "order_amendments_finished_total"
DURATION = "order_amendments_duration_seconds"
TOP_UP_WAIT = "order_amendments_top_up_wait_seconds"
DINTERO_REQUESTS = "order_amendments_dintero_requests_total"
DINTERO_SECONDS = "order_amendments_dintero_request_seconds"
RECONCILED = "order_amendments_reconciled_writes_total"
TOP_UPS_WAITING = "order_amendments_top_ups_waiting"
TASK_QUEUE_BACKLOG = "order_amendments_task_queue_backlog"
TASK_QUEUE_BACKLOG_AGE = "order_amendments_task_queue_backlog_age_seconds"
TASK_QUEUE_DISPATCH_RATE = "order_amendments_task_queue_dispatch_rate"
REPLAYS = "order_amendments_replays_finished_total"
PRODUCT_METRICS = (
    FINISHED,
    DURATION,
    TOP_UP_WAIT,
    DINTERO_REQUESTS,
    DINTERO_SECONDS,
    RECONCILED,
    TOP_UPS_WAITING,
    TASK_QUEUE_BACKLOG,
    TASK_QUEUE_BACKLOG_AGE,
    TASK_QUEUE_DISPATCH_RATE,
    REPLAYS,
)
# `order_amendments_top_ups_waiting{longer_than}`: amendments awaiting their top-up now, counted
# in Temporal's visibility (so it survives worker restarts and is the same on every worker: take
# the max across workers), all of them and those started longer ago than each age.
WAITING_AGES = {"0s": 0, "1h": 3600, "1d": 86400}
# `order_amendments_task_queue_*{task_queue, task_type}`: the task queue's backlog as the server
# counts it (workflow and activity tasks waiting, the oldest one's age, tasks taken per second),
# read by each worker every `METRICS_VISIBILITY_SECONDS` (the same on every worker: take the max).

Outcome = Literal["applied", "reverted", "failed", "rejected"]
Branch = Literal["even", "refund", "top_up", "none"]  # none: refused before it had a plan
WaitResult = Literal["covered", "reverted", "timed_out"]

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
# Seconds. An amendment takes about half a second with no top-up, and up to the top-up timeout
# (7 days by default) with one; a Dintero request a few milliseconds to its 10 s timeout.
BUCKETS: dict[str, tuple[float, ...]] = {
    DURATION: (
        0.25, 0.5, 1, 2.5, 5, 10, 30, MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, 6 * HOUR, DAY,
        3 * DAY, 7 * DAY,
    ),
    TOP_UP_WAIT: (
        1, 5, 15, 30, MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, 6 * HOUR, DAY, 3 * DAY, 7 * DAY,
    ),
    DINTERO_SECONDS: (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
}  # fmt: skip


def branch_of(plan_branch: str | None) -> Branch:
    """The plan's branch as a label (`top-up` is spelled `top_up`, as Prometheus labels are)."""
    if plan_branch == "even":
        return "even"
    if plan_branch == "refund":
        return "refund"
    if plan_branch == "top-up":
        return "top_up"
    return "none"


# --- in a workflow ------------------------------------------------------------------------


# How many accounts a worker names in the `account` label; a platform serving more sees the rest
# as `other` (its dashboards then filter by the search attribute `DinteroAccount` instead).
ACCOUNT_LABELS = 50
_LABELLED: set[str] = set()


def account_label(account_id: str | None) -> str:
    """The `account` label: the account, up to `ACCOUNT_LABELS` of them per process."""
    if account_id is None:
        return "none"
    if account_id in _LABELLED:
        return account_id
    if len(_LABELLED) < ACCOUNT_LABELS:
        _LABELLED.add(account_id)
        return account_id
    return "other"


def amendment_finished(
    outcome: Outcome, branch: Branch, seconds: float, account_id: str | None = None
) -> None:
    meter = workflow.metric_meter()
    labels = {"outcome": outcome, "branch": branch, "account": account_label(account_id)}
    meter.create_counter(FINISHED, "Amendments that ended, by outcome and branch").add(1, labels)
    meter.create_histogram_float(DURATION, "From the amendment's start to its end", "s").record(
        seconds, {"branch": branch}
    )


def replay_finished(outcome: Outcome) -> None:
    """A replayed amendment (a reset run: `amend replay`, `amend replay --failed`, a reset in the
    UI) ended: how, so that a replay after an outage can be watched to its end."""
    workflow.metric_meter().create_counter(
        REPLAYS, "Replayed amendments (reset runs) that ended, by outcome"
    ).add(1, {"outcome": outcome})


def top_up_waited(result: WaitResult, seconds: float) -> None:
    workflow.metric_meter().create_histogram_float(
        TOP_UP_WAIT, "How long a top-up was waited for, by how the wait ended", "s"
    ).record(seconds, {"result": result})


# --- in an activity -----------------------------------------------------------------------


def dintero_request(operation: str, status: str, seconds: float) -> None:
    """One Dintero request: `operation` a route name, `status` the HTTP status, `timeout` or
    `transport`. Outside an activity (the CLI's dry run), nothing."""
    if not activity.in_activity():
        return
    meter = activity.metric_meter()
    meter.create_counter(DINTERO_REQUESTS, "Dintero requests, by route and answer").add(
        1, {"operation": operation, "status": status}
    )
    meter.create_histogram_float(DINTERO_SECONDS, "Dintero request time, by route", "s").record(
        seconds, {"operation": operation}
    )


def write_reconciled(kind: str) -> None:
    """A retried or reset write found already landed on the order (and not made again)."""
    if not activity.in_activity():
        return
    activity.metric_meter().create_counter(
        RECONCILED, "Writes a retry or a reset found already landed, by kind"
    ).add(1, {"kind": kind})
