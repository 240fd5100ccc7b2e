"""Releasing new worker code while amendments wait: `amend deploy check|status|promote|rollback`.

Workers run as versions of a Worker Deployment (`TEMPORAL_DEPLOYMENT_NAME`, and per release
`TEMPORAL_WORKER_BUILD_ID`; `amendments/worker/wiring.py`). `AmendOrder` auto-upgrades: a
waiting amendment moves to the current version at its next workflow task, so the new code must
replay its history; `PlaceOrder` is pinned (seconds long, it ends where it began).

- `check`: the histories of the amendments in flight on this task queue (and, with `since`,
  those closed recently), fetched through visibility, newest first, replayed against the code of
  the process that runs it, with the product's data converter and codec keys. It writes nothing.
- `status`: the deployment's current and ramping versions; per version, Temporal's status and
  drainage, and how many amendments last ran on it (visibility).
- `promote`: make a version current (or ramping, a percentage of new amendments), once it has
  pollers on this task queue, and wait until the routing change has reached every task queue.
- `rollback`: end a ramp, or make the version current before this one current again.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from temporalio.api.deployment.v1 import WorkerDeploymentInfo
from temporalio.api.enums.v1 import (
    RoutingConfigUpdateState,
    TaskQueueType,
    VersionDrainageStatus,
    WorkerDeploymentVersionStatus,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentRampingVersionRequest,
)
from temporalio.client import Client
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer

from amendments import failures
from amendments.api.listing import quoted
from amendments.domain import ids
from amendments.domain.errors import AmendmentRejected
from amendments.domain.runs import (
    CheckReport,
    DeploymentStatus,
    ReplayFailure,
    Routed,
    VersionStatus,
)
from amendments.temporal.search_attributes import ORDER_ID
from workflows.amend import AmendOrder
from workflows.place import PlaceOrder

# How long a routing change may take to reach every task queue before `promote` gives up.
PROPAGATION = timedelta(minutes=2)
# How long `promote` waits for a version's first pollers (its workers just started) by default.
POLLERS_WITHIN = timedelta(seconds=15)
_STATUS = {
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE: "inactive",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT: "current",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING: "ramping",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING: "draining",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED: "drained",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CREATED: "created",
}


class DeployRefused(RuntimeError):
    """A promotion or rollback that cannot be made; the message says what was checked."""


# --- check: replay what is in flight -------------------------------------------------------


def in_flight_query(task_queue: str, since: timedelta | None, now: datetime) -> str:
    kinds = ", ".join(quoted(name) for name in (ids.AMEND_ORDER, ids.PLACE_ORDER))
    open_ = "ExecutionStatus = 'Running'"
    if since is not None:
        open_ = f"({open_} OR CloseTime >= {quoted((now - since).isoformat())})"
    return f"WorkflowType IN ({kinds}) AND TaskQueue = {quoted(task_queue)} AND {open_}"


async def check(
    client: Client,
    task_queue: str,
    *,
    since: timedelta | None = None,
    limit: int | None = None,
) -> CheckReport:
    """Replay the histories of the amendments (and orders being placed) in flight on the task
    queue, newest first, against this process's workflow code and the client's data converter;
    nothing is written to the cluster."""
    query = in_flight_query(task_queue, since, datetime.now(UTC))
    runs = [run async for run in client.list_workflows(query, limit=limit)]
    runs.sort(key=lambda r: r.start_time, reverse=True)
    orders = {run.run_id: run.typed_search_attributes.get(ORDER_ID) for run in runs}
    replayer = Replayer(
        workflows=[AmendOrder, PlaceOrder],
        data_converter=client.data_converter,
        # Quiet: a history that does not replay is reported here, not logged by the SDK's core.
        runtime=Runtime(telemetry=TelemetryConfig(logging=None)),
    )
    failed: list[ReplayFailure] = []
    for run in runs:
        history = await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        error = result.replay_failure
        if error is not None:
            failed.append(
                ReplayFailure(
                    workflow_id=run.id,
                    run_id=run.run_id,
                    order_id=orders[run.run_id] or ids.order_id_of(run.id),
                    error=_replay_error(error),
                )
            )
    return CheckReport(checked=len(runs), failed=tuple(failed))


def _replay_error(error: BaseException) -> str:
    """The SDK core's own message (`[TMPRL1100] Nondeterminism error: ...`) out of the
    activation failure that wraps it; else the error's first line."""
    text = str(error)
    inner = re.search(r'message: "((?:[^"\\]|\\.)*)"', text)
    if inner is not None:
        return inner.group(1)
    return text.splitlines()[0] if text else type(error).__name__


# --- status --------------------------------------------------------------------------------


def _build(version: object) -> str | None:
    build_id = getattr(version, "build_id", "")
    return build_id or None


async def _describe(client: Client, deployment: str) -> tuple[WorkerDeploymentInfo, bytes]:
    try:
        answer = await client.workflow_service.describe_worker_deployment(
            DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment)
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise DeployRefused(
                f"no worker deployment {deployment!r} in namespace {client.namespace}: no "
                "versioned worker has polled yet (start one with TEMPORAL_WORKER_BUILD_ID)"
            ) from None
        raise
    return answer.worker_deployment_info, answer.conflict_token


async def _running(client: Client, version: str | None, task_queue: str) -> int:
    on = (
        f"TemporalWorkerDeploymentVersion = {quoted(version)}"
        if version is not None
        else "TemporalWorkerDeploymentVersion IS NULL"
    )
    query = (
        f"WorkflowType = {quoted(ids.AMEND_ORDER)} AND ExecutionStatus = 'Running' AND "
        f"TaskQueue = {quoted(task_queue)} AND {on}"
    )
    return (await client.count_workflows(query)).count


async def status(client: Client, deployment: str, task_queue: str) -> DeploymentStatus:
    """The deployment's routing, and per version its status and the amendments on it."""
    info, _ = await _describe(client, deployment)
    routing = info.routing_config
    versions = []
    for summary in info.version_summaries:
        build_id = summary.deployment_version.build_id
        drainage = {
            VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINING: "draining",
            VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINED: "drained",
        }.get(summary.drainage_status)
        ramping = _build(routing.ramping_deployment_version) == build_id
        versions.append(
            VersionStatus(
                build_id=build_id,
                status=_STATUS.get(summary.status, "unknown"),
                drainage=drainage,
                amendments=await _running(client, f"{deployment}:{build_id}", task_queue),
                ramp_percentage=routing.ramping_version_percentage if ramping else 0.0,
            )
        )
    versions.sort(key=lambda v: v.build_id)
    return DeploymentStatus(
        deployment=deployment,
        current=_build(routing.current_deployment_version),
        ramping=_build(routing.ramping_deployment_version),
        ramp_percentage=routing.ramping_version_percentage,
        versions=tuple(versions),
        unversioned_amendments=await _running(client, None, task_queue),
    )


# --- promote and roll back -----------------------------------------------------------------


async def pollers(
    client: Client,
    task_queue: str,
    deployment: str,
    build_id: str,
    within: timedelta = timedelta(0),
) -> list[str]:
    """Who polls the task queue (workflow and activity tasks) as this version; waiting up to
    `within` for the first (workers just started poll within seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within.total_seconds()
    while True:
        found = await _pollers(client, task_queue, deployment, build_id)
        if found or loop.time() >= deadline:
            return found
        await asyncio.sleep(0.5)


async def _pollers(client: Client, task_queue: str, deployment: str, build_id: str) -> list[str]:
    found = []
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=kind,
            )
        )
        found += [
            p.identity
            for p in answer.pollers
            if p.deployment_options.deployment_name == deployment
            and p.deployment_options.build_id == build_id
        ]
    return found


def check_ramp(ramp: float | None) -> None:
    if ramp is not None and not 0 < ramp < 100:
        raise AmendmentRejected("ramp", f"must be a percentage above 0 and below 100, got {ramp:g}")


async def promote(
    client: Client,
    deployment: str,
    build_id: str,
    task_queue: str,
    *,
    ramp: float | None = None,
    within: timedelta = PROPAGATION,
    pollers_within: timedelta = POLLERS_WITHIN,
) -> Routed:
    """Make `build_id` current (or, with `ramp`, ramping to that percentage of new amendments),
    once it has pollers on the task queue, and wait until every task queue routes by it."""
    check_ramp(ramp)
    info, token = await _describe(client, deployment)
    routing = info.routing_config
    before = _build(routing.current_deployment_version)
    if ramp is None and before == build_id:
        return _unchanged(info)
    if (
        ramp is not None
        and _build(routing.ramping_deployment_version) == build_id
        and routing.ramping_version_percentage == ramp
    ):
        return _unchanged(info)
    polling = await pollers(client, task_queue, deployment, build_id, pollers_within)
    if not polling:
        raise DeployRefused(
            f"version {build_id} of {deployment} has no pollers on task queue {task_queue} "
            f"(checked for {pollers_within.total_seconds():g} s: the workflow and activity "
            "pollers Temporal reports for that queue, by their deployment and build id): "
            "start its workers first"
        )
    info, token = await _describe(client, deployment)  # the token as of now
    if ramp is None:
        await client.workflow_service.set_worker_deployment_current_version(
            SetWorkerDeploymentCurrentVersionRequest(
                namespace=client.namespace,
                deployment_name=deployment,
                build_id=build_id,
                conflict_token=token,
                identity=IDENTITY,
            )
        )
    else:
        await client.workflow_service.set_worker_deployment_ramping_version(
            SetWorkerDeploymentRampingVersionRequest(
                namespace=client.namespace,
                deployment_name=deployment,
                build_id=build_id,
                percentage=ramp,
                conflict_token=token,
                identity=IDENTITY,
            )
        )
    return await _settled(client, deployment, before, within)


async def rollback(
    client: Client,
    deployment: str,
    task_queue: str,
    *,
    within: timedelta = PROPAGATION,
    pollers_within: timedelta = POLLERS_WITHIN,
) -> Routed:
    """End a ramp (new amendments all go to the current version again); with none, make the
    version that was current before this one current again."""
    info, token = await _describe(client, deployment)
    routing = info.routing_config
    current = _build(routing.current_deployment_version)
    if _build(routing.ramping_deployment_version) is not None:
        await client.workflow_service.set_worker_deployment_ramping_version(
            SetWorkerDeploymentRampingVersionRequest(
                namespace=client.namespace,
                deployment_name=deployment,
                build_id="",
                percentage=0,
                conflict_token=token,
                identity=IDENTITY,
            )
        )
        return await _settled(client, deployment, current, within)
    earlier = [
        s
        for s in info.version_summaries
        if s.deployment_version.build_id != current and s.HasField("last_current_time")
    ]
    if not earlier:
        raise DeployRefused(
            f"nothing to roll back to: no version of {deployment} was current before "
            f"{current or 'the unversioned workers'}"
        )
    previous = max(earlier, key=lambda s: s.last_current_time.ToDatetime())
    back = previous.deployment_version.build_id
    if not await pollers(client, task_queue, deployment, back, pollers_within):
        raise DeployRefused(
            f"version {back} of {deployment}, current before {current}, has no pollers on task "
            f"queue {task_queue}: start its workers again before rolling back to it"
        )
    _, token = await _describe(client, deployment)  # the token as of now
    await client.workflow_service.set_worker_deployment_current_version(
        SetWorkerDeploymentCurrentVersionRequest(
            namespace=client.namespace,
            deployment_name=deployment,
            build_id=back,
            conflict_token=token,
            identity=IDENTITY,
        )
    )
    return await _settled(client, deployment, current, within)


IDENTITY = "amend deploy"


def _unchanged(info: WorkerDeploymentInfo) -> Routed:
    routing = info.routing_config
    current = _build(routing.current_deployment_version)
    return Routed(
        current=current,
        ramping=_build(routing.ramping_deployment_version),
        ramp_percentage=routing.ramping_version_percentage,
        before=current,
        changed=False,
    )


async def _settled(
    client: Client, deployment: str, before: str | None, within: timedelta
) -> Routed:
    """Wait until the routing change has reached every task queue (Temporal propagates it
    asynchronously); then the routing as it is."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within.total_seconds()
    delay = 0.1
    while True:
        info, _ = await _describe(client, deployment)
        state = info.routing_config_update_state
        if state != RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_IN_PROGRESS:
            routing = info.routing_config
            return Routed(
                current=_build(routing.current_deployment_version),
                ramping=_build(routing.ramping_deployment_version),
                ramp_percentage=routing.ramping_version_percentage,
                before=before,
                changed=True,
            )
        if loop.time() > deadline:
            raise DeployRefused(
                f"the routing change of {deployment} was made but has not reached every task "
                f"queue within {within.total_seconds():.0f} s; {failures.DEPLOY_STATUS} shows it"
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)
