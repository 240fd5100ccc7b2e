"""One trace per amendment, from `start_amendment` through the workflow and each activity to each
Dintero request, with the OpenTelemetry SDK's in-memory exporter: the span tree, and that no span
holds the client secret, a token or an Authorization header."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from amendments.api.starter import place_order, start_amendment
from amendments.config import Settings
from amendments.domain import ids
from amendments.simulator import Simulator
from amendments.simulator.server import BackgroundServer
from amendments.temporal.connection import DATA_CONVERTER
from amendments.worker.telemetry import FIELDS, interceptors
from amendments.worker.wiring import build_worker, dintero_client
from tests.support.harness import Harness
from tests.support.orders import CHAIR, swap
from tests.support.processes import WorkerProcess

SECRET = "tracing-secret-never-in-a-span"
ACTIVITIES = (
    "plan_amendment",
    "create_draft",
    "complete_draft",
    "record_operation",
    "verify_ledger",
)


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """The process's tracer provider (set once: OpenTelemetry allows one global provider)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    yield memory
    memory.clear()


@pytest.fixture
async def traced(
    env: WorkflowEnvironment, served: tuple[Simulator, str], exporter: InMemorySpanExporter
) -> AsyncIterator[tuple[Client, str]]:
    """A client with the tracing interceptor, and a worker built from it (the worker takes the
    client's interceptors), its activities calling the simulator over a socket."""
    _, url = served
    client = await Client.connect(
        env.client.service_client.config.target_host,
        data_converter=DATA_CONVERTER,
        interceptors=interceptors(tracing_on=True),
    )
    settings = Settings(
        _env_file=None,
        dintero_base_url=url,
        dintero_account_id="T12345678",
        dintero_client_id="tracing",
        dintero_client_secret=SecretStr(SECRET),
    )
    dintero = dintero_client(settings)
    task_queue = f"traced-{uuid.uuid4()}"
    async with build_worker(client, dintero, task_queue):
        yield client, task_queue
    await dintero.aclose()


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


async def test_one_trace_from_the_start_to_each_dintero_request(
    traced: tuple[Client, str], exporter: InMemorySpanExporter, served: tuple[Simulator, str]
) -> None:
    client, task_queue = traced
    sim, _ = served
    placed = await place_order(
        client, {"currency": "NOK", "items": [CHAIR], "payment_id": "PID_1"}, task_queue=task_queue
    )
    exporter.clear()
    handle = await start_amendment(client, swap(placed.order_id, "traced"), task_queue=task_queue)
    await handle.result()
    spans = list(exporter.get_finished_spans())

    [start] = [s for s in spans if s.name == "StartWorkflow:AmendOrder"]
    assert start.parent is None
    assert start.context is not None
    trace_id = start.context.trace_id
    amendment = [s for s in spans if s.context is not None and s.context.trace_id == trace_id]
    # The SDK's interceptor hangs the workflow's run, each activity it schedules and its
    # completion under the client's start span.
    under_start = [s.name for s in children(amendment, start)]
    expected = ["plan_amendment", "create_draft", "complete_draft"]
    expected += ["record_operation"] * 4 + ["verify_ledger"]
    assert sorted(under_start) == sorted(
        ["RunWorkflow:AmendOrder", "CompleteWorkflow:AmendOrder"]
        + [f"StartActivity:{name}" for name in expected]
    )
    requests = []
    for step in children(amendment, start):
        if not step.name.startswith("StartActivity:"):
            continue
        [ran] = children(amendment, step)
        assert ran.name == step.name.replace("StartActivity:", "RunActivity:")
        calls = children(amendment, ran)
        assert calls, f"{ran.name} made no Dintero request"
        for call in calls:
            assert call.name.startswith("dintero ")
            attributes = dict(call.attributes or {})
            assert attributes["dintero.operation"] == call.name.removeprefix("dintero ")
            assert attributes["http.response.status_code"] == 200
            requests.append(attributes["dintero.operation"])
    # the plan and the check read the order (three requests each); then the writes
    assert requests.count("read_order") == 2
    assert requests.count("record_capture") == 2
    assert "create_draft" in requests
    assert "complete_draft" in requests

    tokens = set(sim.issued_tokens())
    for span in spans:
        values = [str(v) for v in (span.attributes or {}).values()]
        values += [str(v) for event in span.events for v in (event.attributes or {}).values()]
        text = " ".join([span.name, *values])
        assert SECRET not in text
        assert "authorization" not in " ".join(map(str, (span.attributes or {}))).lower()
        assert "Bearer" not in text
        assert not any(token in text for token in tokens)


async def test_a_worker_exports_its_spans_by_otlp_and_logs_json(
    env: WorkflowEnvironment, served: tuple[Simulator, str], tmp_path: Path
) -> None:
    """`python worker.py` with `OTEL_EXPORTER_OTLP_ENDPOINT` (a receiver here, speaking OTLP/HTTP
    as a collector does) and `LOG_FORMAT=json`."""
    received: list[bytes] = []

    async def collect(request: Request) -> Response:
        received.append(await request.body())
        return Response(ExportTraceServiceResponse().SerializeToString())

    collector = BackgroundServer(Starlette(routes=[Route("/v1/traces", collect, methods=["POST"])]))
    collector.start()
    sim, url = served
    task_queue = f"otlp-{uuid.uuid4()}"
    worker = WorkerProcess(env, url, task_queue, tmp_path / "worker.log")
    worker.environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.url
    worker.environment["LOG_FORMAT"] = "json"
    await worker.start()
    try:
        harness = Harness(env.client, sim, task_queue)
        order_id = await harness.place(CHAIR)
        await harness.amend(swap(order_id, "exported"))
    finally:
        assert await worker.stop() == 0  # SIGTERM: the spans not yet sent are flushed
        collector.stop()

    spans = [
        span
        for body in received
        for resource in ExportTraceServiceRequest.FromString(body).resource_spans
        if {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
        == "order-amendments"
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    by_id = {span.span_id: span for span in spans}
    requests = [span for span in spans if span.name.startswith("dintero ")]
    assert {"dintero create_draft", "dintero record_capture", "dintero read_order"} <= {
        span.name for span in requests
    }
    # Each request under the activity that made it (the workflow's spans join when the client
    # that started it traces too: the test above).
    assert {by_id[span.parent_span_id].name for span in requests} == {
        f"RunActivity:{name}" for name in ACTIVITIES
    }

    lines = [json.loads(line) for line in worker.log_text().splitlines() if line.strip()]
    steps = [line for line in lines if line.get("order_id") == order_id]
    assert {line["step"] for line in steps} >= {
        "planning",
        "draft",
        ids.COVERED.record("capture"),
        "verify",
    }
    for line in lines:
        assert set(FIELDS) <= set(line), line
    step = next(line for line in steps if line["step"] == "draft")
    assert step["amendment_id"] == "exported"
    assert step["workflow_id"] == ids.workflow_id(order_id)
    assert step["run_id"]
    assert step["attempt"] == 1
    assert "process-worker-secret" not in worker.log_text()
