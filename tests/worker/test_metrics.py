"""The worker's Prometheus metrics, as an operator's Prometheus sees them.

One `python worker.py` with `METRICS_BIND_ADDRESS` runs an amendment of each branch, one refused
by the planner, one reverted, one with an ambiguous write and one that fails; then `/metrics` is
scraped and every product series is checked with its exact count. The Dintero request counts are
checked against the simulator's own request log (a ledger the product does not keep), and no
label value may be an order, amendment or payment id. Where Debian's `prometheus` is installed
(`scripts/test` installs it), a real Prometheus scrapes the same worker, loads the committed
alert rules, and answers `sum by (outcome) (order_amendments_finished_total)`.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from amendments.api.replay import replay_amendment
from amendments.api.starter import revert_amendment, send_authorization_outcome
from amendments.domain import ids
from amendments.simulator import Simulator
from amendments.simulator.app import FaultRule
from amendments.simulator.server import free_port
from amendments.temporal import metrics
from amendments.worker.telemetry import metrics_runtime, watch
from tests.support.clients import ACCOUNT
from tests.support.compose import mounts
from tests.support.harness import PATIENCE, Harness, call_name, eventually
from tests.support.orders import CHAIR, item, swap
from tests.support.paths import ROOT
from tests.support.processes import WorkerProcess
from workflows.amend import AmendOrder

RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
OPERATION = {
    "POST token": "token",
    "POST draft_orders": "create_draft",
    "GET draft_orders": "list_drafts",
    "GET draft": "get_draft",
    "PUT complete": "complete_draft",
    "GET order": "read_order",
    **{f"GET {kind}s": f"list_{kind}s" for kind in ("authorization", "capture", "refund")},
    **{f"POST {kind}s": f"record_{kind}" for kind in ("authorization", "capture", "refund")},
}
METRIC = re.compile(r"\b(?:order_amendments|temporal)_[a-z_]+\b")
WAITING = (
    "WorkflowType = 'AmendOrder' AND ExecutionStatus = 'Running' "
    "AND AmendmentStatus = 'AwaitingTopUp'"
)


def samples(text: str) -> Iterator[Sample]:
    for family in text_string_to_metric_families(text):
        yield from family.samples


def product(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """`name`'s samples by their product labels, summed over the SDK's own labels (the activity
    type, the task queue...)."""
    sdk = {"service_name", "namespace", "task_queue", "activity_type", "workflow_type"}
    summed: dict[tuple[tuple[str, str], ...], float] = collections.defaultdict(float)
    for s in samples(text):
        if s.name == name:
            summed[tuple(sorted((k, v) for k, v in s.labels.items() if k not in sdk))] += s.value
    return dict(summed)


def by(label: str, series: dict[tuple[tuple[str, str], ...], float]) -> dict[str, float]:
    out: dict[str, float] = collections.defaultdict(float)
    for labels, value in series.items():
        out[dict(labels)[label]] += value
    return dict(out)


async def scrape(port: int) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    response.raise_for_status()
    return response.text


async def test_each_product_series_counts_what_happened(
    env: WorkflowEnvironment, served: tuple[Simulator, str], tmp_path: Path
) -> None:
    sim, url = served
    port = free_port()
    task_queue = f"metrics-{uuid.uuid4()}"
    worker = WorkerProcess(env, url, task_queue, tmp_path / "worker.log")
    worker.environment["METRICS_BIND_ADDRESS"] = f"127.0.0.1:{port}"
    worker.environment["METRICS_VISIBILITY_SECONDS"] = "0.5"
    harness = Harness(env.client, sim, task_queue)
    mark = harness.mark()
    await worker.start()
    try:
        ids = await one_of_each(harness, port)
        text = await scrape(port)
        if shutil.which("prometheus") is not None or os.environ.get("CI"):
            await real_prometheus_agrees(port, tmp_path)
    finally:
        worker.ensure_dead()
    check_product_series(text)
    check_dintero_requests(text, sim.requests[mark:])
    check_names_and_labels(text, ids)


async def one_of_each(harness: Harness, port: int) -> set[str]:
    """Even, refund, top-up (covered), refused, reverted, ambiguous write, failed and then
    replayed: the order, amendment and payment ids it used (none may be a label value)."""
    sim, client = harness.sim, harness.client
    even = await harness.place(CHAIR)
    await harness.amend(swap(even, "swap-1"))
    cheaper = await harness.place(CHAIR)
    await harness.amend(swap(cheaper, "cheaper-1", item("Z", 29900)))

    dearer = await harness.awaiting_top_up("dearer")
    waiting = await client.count_workflows(WAITING)  # this one, and others' left waiting
    text = await eventually(lambda: _gauge_at_least(port, waiting.count))
    ages = by("longer_than", product(text, metrics.TOP_UPS_WAITING))
    assert set(ages) == set(metrics.WAITING_AGES)
    assert ages["0s"] >= 1
    outcome = {"payment_id": "PID_TOP", "amount": 10000, "success": True}
    await send_authorization_outcome(client, dearer, outcome, wait=True)
    await client.get_workflow_handle(ids.workflow_id(dearer)).result()

    refused = await harness.place(CHAIR)
    bad = {**swap(refused, "refused"), "reverse": [{"line_id": 9, "reason": "no such"}]}
    with pytest.raises(WorkflowFailureError):
        await (await harness.start(bad)).result()

    undone = await harness.awaiting_top_up("undone")
    await revert_amendment(client, undone, {"reason": "customer changed their mind"})

    ambiguous = await harness.place(CHAIR)
    path = f"*/orders/{ambiguous}/captures"
    sim.add_faults([FaultRule(method="POST", path=path, status=502, mode="ambiguous", times=1)])
    await harness.amend(swap(ambiguous, "ambiguous"))

    broken = await harness.place(CHAIR)
    path = f"*/orders/{broken}/captures"
    sim.add_faults([FaultRule(method="POST", path=path, status=400, times=1)])
    with pytest.raises(WorkflowFailureError):
        await (await harness.start(swap(broken, "broken"))).result()
    replayed = await replay_amendment(client, ids.workflow_id(broken))  # the cause is gone
    await client.get_workflow_handle(replayed.workflow_id, run_id=replayed.new_run_id).result()

    orders = {even, cheaper, dearer, refused, undone, ambiguous, broken}
    amendments = {"swap-1", "cheaper-1", "dearer", "refused", "undone", "ambiguous", "broken"}
    return orders | amendments | {"PID_123", "PID_TOP"}


def check_product_series(text: str) -> None:
    # The account a plan was made on (the worker's one); a refused input had none yet.
    on = ("account", ACCOUNT)
    assert product(text, metrics.FINISHED) == {
        (on, ("branch", "even"), ("outcome", "applied")): 3,
        (on, ("branch", "refund"), ("outcome", "applied")): 1,
        (on, ("branch", "top_up"), ("outcome", "applied")): 1,
        (on, ("branch", "top_up"), ("outcome", "reverted")): 1,
        (("account", "none"), ("branch", "none"), ("outcome", "rejected")): 1,
        (on, ("branch", "even"), ("outcome", "failed")): 1,
    }
    durations = by("branch", product(text, metrics.DURATION + "_count"))
    assert durations == {"even": 4, "refund": 1, "top_up": 2, "none": 1}
    assert product(text, metrics.REPLAYS) == {(("outcome", "applied"),): 1}
    assert all(v > 0 for v in product(text, metrics.DURATION + "_sum").values())
    assert by("result", product(text, metrics.TOP_UP_WAIT + "_count")) == {
        "covered": 1,
        "reverted": 1,
    }
    assert product(text, metrics.RECONCILED) == {(("kind", "capture"),): 1}


def check_dintero_requests(text: str, requests: list[dict[str, Any]]) -> None:
    """Every request the simulator saw from this worker, by route and answer, as counted."""
    seen = collections.Counter(
        (OPERATION[call_name(r["method"], r["path"])], str(r["status"])) for r in requests
    )
    counted = {
        (dict(labels)["operation"], dict(labels)["status"]): value
        for labels, value in product(text, metrics.DINTERO_REQUESTS).items()
    }
    assert counted == dict(seen)
    assert counted[("record_capture", "502")] == 1
    assert counted[("record_capture", "400")] == 1
    timed = by("operation", product(text, metrics.DINTERO_SECONDS + "_count"))
    assert timed == dict(collections.Counter(operation for operation, _ in seen.elements()))


def check_names_and_labels(text: str, ids: set[str]) -> None:
    names = {s.name for s in samples(text)}
    # The SDK's own metrics share the endpoint.
    assert "temporal_workflow_task_schedule_to_start_latency_bucket" in names
    assert "temporal_worker_task_slots_available" in names
    # Every metric that compose's dashboards and alert rules query is one this worker exports.
    queried = set()
    for board in mounts("grafana")["/var/lib/grafana/dashboards"].glob("*.json"):
        queried |= set(METRIC.findall(board.read_text()))
    [prometheus] = mounts("prometheus").values()
    for rules in yaml.safe_load((prometheus / "prometheus.yml").read_text())["rule_files"]:
        queried |= set(METRIC.findall((prometheus / rules).read_text()))
    assert set(metrics.PRODUCT_METRICS) - {n.removesuffix("_bucket") for n in queried} == set()
    assert queried - names == set()
    # Bounded labels only: never an order, amendment or payment id.
    values = {v for s in samples(text) for v in s.labels.values()}
    assert values & ids == set()


async def _gauge_at_least(port: int, count: int) -> str | None:
    text = await scrape(port)
    ages = by("longer_than", product(text, metrics.TOP_UPS_WAITING))
    return text if ages.get("0s", -1) >= count else None


async def real_prometheus_agrees(port: int, tmp_path: Path) -> None:
    """A real Prometheus scraping the worker, with the committed alert rules loaded."""
    binary = shutil.which("prometheus")
    assert binary is not None, "CI installs Debian's prometheus (scripts/test)"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "worker", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    web = free_port()
    server = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{web}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web}") as http:

            async def outcomes() -> dict[str, float] | None:
                try:
                    answer = await http.get(
                        "/api/v1/query",
                        params={"query": "sum by (outcome) (order_amendments_finished_total)"},
                    )
                except httpx.TransportError:
                    return None
                if answer.status_code != 200:
                    return None
                result: list[dict[str, Any]] = answer.json()["data"]["result"]
                found = {r["metric"]["outcome"]: float(r["value"][1]) for r in result}
                return found if len(found) == 4 else None

            assert await eventually(outcomes, within=60) == {
                "applied": 5.0,
                "reverted": 1.0,
                "rejected": 1.0,
                "failed": 1.0,
            }
            groups = (await http.get("/api/v1/rules")).json()["data"]["groups"]
            rules = [rule for group in groups for rule in group["rules"]]
            assert rules
            assert all(rule["health"] in ("ok", "unknown") for rule in rules), rules
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=PATIENCE)


@pytest.mark.skipif(
    shutil.which("promtool") is None and not os.environ.get("CI"),
    reason="Debian's prometheus (promtool) is installed by scripts/test as root",
)
def test_promtool_accepts_the_committed_rules_and_config() -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None
    for check in (["check", "rules", str(RULES)], ["check", "config", "prometheus.yml"]):
        done = subprocess.run(
            [promtool, *check],
            cwd=RULES.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


async def test_a_task_queue_nobody_takes_from_shows_as_stalled(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The wedge as an operator sees it: work waits in the task queue and no worker takes any.
    The gauges read from the server show the backlog, its age growing and nothing taken; then a
    worker starts and takes it."""
    port = free_port()
    runtime = metrics_runtime(f"127.0.0.1:{port}")
    task_queue = f"stalled-{uuid.uuid4()}"
    await env.client.start_workflow(
        "AmendOrder", {"order_id": "X", "amendment_id": "x"}, id=f"stalled-{uuid.uuid4()}",
        task_queue=task_queue,
    )  # fmt: skip
    stop = asyncio.Event()
    watching = asyncio.create_task(watch(env.client, runtime.metric_meter, task_queue, stop, 0.2))

    def figures(text: str, task_type: str) -> tuple[float, float, float]:
        def one(name: str) -> float:
            return by("task_type", product(text, name)).get(task_type, -1.0)

        return (
            one(metrics.TASK_QUEUE_BACKLOG),
            one(metrics.TASK_QUEUE_BACKLOG_AGE),
            one(metrics.TASK_QUEUE_DISPATCH_RATE),
        )

    async def stalled() -> tuple[float, float, float] | None:
        seen = figures(await scrape(port), "workflow")
        return seen if seen[0] >= 1 and seen[1] > 0 else None

    try:
        backlog, age, taken = await eventually(stalled)
        assert (backlog, taken) == (1, 0)

        async def older() -> float | None:
            seen = figures(await scrape(port), "workflow")
            return seen[1] if seen[1] > age and seen[2] == 0 else None

        await eventually(older)  # the task ages, and nothing is taken
        assert figures(await scrape(port), "activity") == (0, 0, 0)
        worker = Worker(env.client, task_queue=task_queue, workflows=[AmendOrder])
        async with worker:  # a worker takes the task: the backlog empties

            async def taken_now() -> bool | None:
                seen = figures(await scrape(port), "workflow")
                return True if seen[0] == 0 else None

            await eventually(taken_now)
    finally:
        stop.set()
        await watching


@pytest.mark.skipif(
    shutil.which("promtool") is None and not os.environ.get("CI"),
    reason="Debian's prometheus (promtool) is installed by scripts/test as root",
)
def test_the_stall_alert_fires_only_when_tasks_age_and_none_is_taken(tmp_path: Path) -> None:
    """`TaskQueueStalled` over series as the gauges give them: activity tasks age while none is
    taken (it fires after its 2 minutes), workflow tasks age as much but are being taken (a busy
    queue, not a stalled one: it never fires)."""
    labels = 'task_queue="order-amendments",task_type="{}"'
    tests = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": [
                    {"series": f"{metrics.TASK_QUEUE_BACKLOG_AGE}{{{labels.format('activity')}}}",
                     "values": "0+15x30"},
                    {"series": f"{metrics.TASK_QUEUE_DISPATCH_RATE}{{{labels.format('activity')}}}",
                     "values": "0x30"},
                    {"series": f"{metrics.TASK_QUEUE_BACKLOG_AGE}{{{labels.format('workflow')}}}",
                     "values": "0+15x30"},
                    {"series": f"{metrics.TASK_QUEUE_DISPATCH_RATE}{{{labels.format('workflow')}}}",
                     "values": "3x30"},
                ],
                "alert_rule_test": [
                    {"eval_time": "2m", "alertname": "TaskQueueStalled", "exp_alerts": []},
                    {
                        "eval_time": "4m",
                        "alertname": "TaskQueueStalled",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "page",
                                    "task_queue": "order-amendments",
                                    "task_type": "activity",
                                },
                                "exp_annotations": {
                                    "summary": "activity tasks on order-amendments have waited "
                                    "4m 0s and no worker takes any",
                                    "action": "temporal task-queue describe --task-queue "
                                    "order-amendments (pollers, backlog); restart the workers "
                                    "that poll nothing (their logs say why); amendments resume "
                                    "where they were.",
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    }  # fmt: skip
    (tmp_path / "stall_test.yml").write_text(yaml.safe_dump(tests))
    promtool = shutil.which("promtool")
    assert promtool is not None
    done = subprocess.run(
        [promtool, "test", "rules", "stall_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
