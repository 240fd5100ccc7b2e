"""Watching a worker run: Prometheus metrics, OpenTelemetry traces and structured logs, each off
unless its setting asks for it.

- `METRICS_BIND_ADDRESS` (`0.0.0.0:9464`): the SDK's runtime serves Prometheus metrics there, its
  own `temporal_*` ones and the product's (`amendments/metrics.py`) on one endpoint.
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
from temporalio.client import Client, Interceptor
from temporalio.common import MetricMeter
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError

from amendments.config import Settings
from amendments.metrics import BUCKETS, TOP_UPS_WAITING, WAITING_AGES

SERVICE = "order-amendments"
FIELDS = ("order_id", "amendment_id", "step", "workflow_id", "run_id", "attempt")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
log = logging.getLogger("amendments.telemetry")


def runtime(settings: Settings) -> Runtime | None:
    """A runtime serving Prometheus metrics at `METRICS_BIND_ADDRESS`, or None (the SDK's
    default runtime, no metrics endpoint)."""
    if not settings.metrics_bind_address:
        return None
    return metrics_runtime(settings.metrics_bind_address)


def metrics_runtime(bind_address: str) -> Runtime:
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=bind_address,
                durations_as_seconds=True,  # the SDK's latencies in seconds, as Prometheus has it
                histogram_bucket_overrides=BUCKETS,
            )
        )
    )


async def count_waiting_top_ups(
    client: Client, meter: MetricMeter, stop: asyncio.Event, every: float
) -> None:
    """Set `order_amendments_top_ups_waiting{longer_than}` from visibility every `every`
    seconds until `stop`: a gauge no workflow could keep (each worker would see only its own)."""
    gauge = meter.create_gauge(TOP_UPS_WAITING, "Amendments awaiting their top-up, by age")
    while not stop.is_set():
        now = datetime.now(UTC)
        for label, seconds in WAITING_AGES.items():
            query = (
                "WorkflowType = 'AmendOrder' AND ExecutionStatus = 'Running' "
                "AND AmendmentStatus = 'AwaitingTopUp'"
            )
            if seconds:
                since = (now - timedelta(seconds=seconds)).isoformat()
                query += f" AND StartTime < '{since}'"
            try:
                counted = await client.count_workflows(query)
            except RPCError as exc:  # visibility is down: the gauge keeps its last value
                log.warning("cannot count waiting top-ups: %s", exc.message)
                break
            gauge.set(counted.count, {"longer_than": label})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


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
