"""Watching a worker run: Prometheus metrics, OpenTelemetry traces and structured logs, each off
unless its setting asks for it.

- `METRICS_BIND_ADDRESS` (`0.0.0.0:9464`): the SDK's runtime serves Prometheus metrics there, its
  own `temporal_*` ones and the product's (`amendments/temporal/metrics.py`) on one endpoint.
- `OTEL_EXPORTER_OTLP_ENDPOINT`: spans go by OTLP/HTTP (the OpenTelemetry SDK reads the standard
  `OTEL_*` variables itself); the Temporal client and worker carry the trace through
  `TracingInterceptor`, from `start_amendment` to each activity and each Dintero request.
- `LOG_FORMAT=json`: one JSON object per line (python-json-logger), with `order_id`,
  `amendment_id`, `step`, `workflow_id`, `run_id` and `attempt` on every line (null when a line
  has none); the default is the readable line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pythonjsonlogger.json import JsonFormatter
from temporalio import activity, workflow
from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, Interceptor
from temporalio.common import MetricMeter, WorkerDeploymentVersion
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError

from amendments.config import Settings
from amendments.temporal.metrics import (
    BUCKETS,
    TASK_QUEUE_BACKLOG,
    TASK_QUEUE_BACKLOG_AGE,
    TASK_QUEUE_DISPATCH_RATE,
    TOP_UPS_WAITING,
    WAITING_AGES,
)

SERVICE = "order-amendments"
FIELDS = ("order_id", "amendment_id", "step", "workflow_id", "run_id", "attempt")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
log = logging.getLogger("amendments.worker.telemetry")
TASK_TYPES = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


def runtime(settings: Settings) -> Runtime | None:
    """A runtime serving Prometheus metrics at `METRICS_BIND_ADDRESS`, or None (the SDK's
    default runtime, no metrics endpoint)."""
    if not settings.metrics_bind_address:
        return None
    return metrics_runtime(settings.metrics_bind_address, settings.deployment_version)


def metrics_runtime(bind_address: str, version: WorkerDeploymentVersion | None = None) -> Runtime:
    """The SDK's runtime serving Prometheus metrics; a versioned worker labels every series
    with its deployment and build id (`deployment_name`, `build_id`: one value each)."""
    tags = (
        {"deployment_name": version.deployment_name, "build_id": version.build_id}
        if version is not None
        else {}
    )
    return Runtime(
        telemetry=TelemetryConfig(
            global_tags=tags,
            metrics=PrometheusConfig(
                bind_address=bind_address,
                durations_as_seconds=True,  # the SDK's latencies in seconds, as Prometheus has it
                histogram_bucket_overrides=BUCKETS,
            ),
        )
    )


async def watch(
    client: Client, meter: MetricMeter, task_queue: str, stop: asyncio.Event, every: float
) -> None:
    """Every `every` seconds until `stop`, the gauges no workflow could keep (each worker sees
    only its own work): the top-ups waiting, counted in visibility, and the task queue's backlog,
    read from the server. A failed read leaves the gauges as they were and is tried again."""
    gauges = Gauges(meter)
    while not stop.is_set():
        try:
            await count_waiting_top_ups(client, gauges)
            await read_backlog(client, gauges, task_queue)
        except RPCError as exc:  # Temporal or its visibility is down: try again next time
            log.warning("cannot read Temporal for the metrics: %s", exc.message)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


class Gauges:
    def __init__(self, meter: MetricMeter) -> None:
        self.waiting = meter.create_gauge(
            TOP_UPS_WAITING, "Amendments awaiting their top-up, by age"
        )
        self.backlog = meter.create_gauge(
            TASK_QUEUE_BACKLOG, "Tasks waiting in the task queue for a worker, by type"
        )
        self.backlog_age = meter.create_gauge_float(
            TASK_QUEUE_BACKLOG_AGE, "How long the oldest task has waited in the task queue", "s"
        )
        self.dispatch_rate = meter.create_gauge_float(
            TASK_QUEUE_DISPATCH_RATE, "Tasks the workers took from the task queue per second"
        )


async def count_waiting_top_ups(client: Client, gauges: Gauges) -> None:
    """`order_amendments_top_ups_waiting{longer_than}` from visibility."""
    now = datetime.now(UTC)
    for label, seconds in WAITING_AGES.items():
        query = (
            "WorkflowType = 'AmendOrder' AND ExecutionStatus = 'Running' "
            "AND AmendmentStatus = 'AwaitingTopUp'"
        )
        if seconds:
            since = (now - timedelta(seconds=seconds)).isoformat()
            query += f" AND StartTime < '{since}'"
        counted = await client.count_workflows(query)
        gauges.waiting.set(counted.count, {"longer_than": label})


async def read_backlog(client: Client, gauges: Gauges, task_queue: str) -> None:
    """The task queue's backlog by task type, as the server's matching service counts it (the
    figures `temporal task-queue describe` prints): tasks waiting, the oldest one's age, and how
    many the workers take per second. Tasks that wait while none is taken mean every worker on
    the queue is down, stuck or stopping (the `TaskQueueStalled` alert)."""
    for label, kind in TASK_TYPES.items():
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                task_queue_type=kind,
                report_stats=True,
            )
        )
        stats = described.stats
        labels = {"task_queue": task_queue, "task_type": label}
        gauges.backlog.set(stats.approximate_backlog_count, labels)
        gauges.backlog_age.set(stats.approximate_backlog_age.ToTimedelta().total_seconds(), labels)
        gauges.dispatch_rate.set(stats.tasks_dispatch_rate, labels)


def tracing(settings: Settings) -> TracerProvider | None:
    """With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the process's tracer provider exporting by OTLP
    (installed as the global one); None otherwise, and nothing is traced."""
    if not settings.otel_exporter_otlp_endpoint:
        return None
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: SERVICE}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def interceptors(tracing_on: bool) -> list[Interceptor]:
    """The client's (and so the worker's: it takes them from its client) interceptors."""
    return [TracingInterceptor()] if tracing_on else []


class TemporalFields(logging.Filter):
    """Lift the SDK's `temporal_workflow` / `temporal_activity` details onto the record as
    `workflow_id`, `run_id` and `attempt`, and make every field of `FIELDS` present."""

    def filter(self, record: logging.LogRecord) -> bool:
        details: dict[str, Any] = {
            **getattr(record, "temporal_workflow", {}),
            **getattr(record, "temporal_activity", {}),
        }
        if "workflow_run_id" in details:
            details.setdefault("run_id", details["workflow_run_id"])
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, details.get(name))
        return True


def configure_logging(log_format: str = "text") -> None:
    """The worker's log lines on stderr: readable (`text`) or one JSON object each (`json`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(TemporalFields())
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(TEXT_FORMAT, rename_fields={"levelname": "level", "name": "logger"})
        )
        # The details are fields of their own; not appended to the message as well.
        workflow.logger.workflow_info_on_message = False
        activity.logger.activity_info_on_message = False
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
