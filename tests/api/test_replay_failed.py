"""`amend replay --failed` and `replay_failed`, one rule at a time: what the selection takes
(when it closed, its failure type, its order, any query) and never takes (completed, running,
already replayed); a stop in the middle leaves each amendment untouched or reset, says which,
and the next run finishes the rest; the pace holds (the one timing check here: a lower bound,
read from the histories, that load can only lengthen); and the refusals, naming the option."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from amendments import failures
from amendments.api.replay import Selection, find_failed, parse_duration, replay_failed
from amendments.dintero.errors import BadRequest
from amendments.domain import ids
from amendments.domain.errors import AmendmentRejected
from amendments.simulator import FaultRule
from tests.support.cli import AMEND, amend_async
from tests.support.harness import PATIENCE, Harness, eventually
from tests.support.orders import CHAIR, item, swap

pytestmark = pytest.mark.timeout(600)


def ours(harness: Harness, **parts: Any) -> Selection:
    """A selection over this test's task queue only (the dev server is shared)."""
    query = f"TaskQueue = '{harness.task_queue}'"
    extra = parts.pop("query", None)
    return Selection(query=f"{query} AND ({extra})" if extra else query, **parts)


async def failing(harness: Harness, amendment_id: str, *, status: int = 400) -> str:
    """An amendment that fails at its capture (Dintero answers `status` for good): its order."""
    order_id = await harness.place(CHAIR)
    path = f"*/orders/{order_id}/captures"
    harness.sim.add_faults([FaultRule(method="POST", path=path, status=status, times=1)])
    with pytest.raises(WorkflowFailureError):
        await (await harness.start(swap(order_id, amendment_id))).result()
    return order_id


async def selected(client: Client, selection: Selection, count: int) -> list[str]:
    """The workflow ids the selection takes, once visibility has caught up with `count`."""

    async def probe() -> list[str] | None:
        found, _ = await find_failed(client, selection)
        return [a.workflow_id for a in found] if len(found) >= count else None

    return await eventually(probe)


async def latest(client: Client, order_id: str) -> Any:
    return await client.get_workflow_handle(ids.workflow_id(order_id)).describe()


async def test_the_selection_takes_exactly_what_failed_and_nothing_else(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    client = harness.client
    bad = await failing(harness, "bad")
    rejected = await harness.place(CHAIR)
    refused = {**swap(rejected, "rejected"), "reverse": [{"line_id": 9, "reason": "no such"}]}
    with pytest.raises(WorkflowFailureError):
        await (await harness.start(refused)).result()
    terminated = await harness.awaiting_top_up("terminated")
    await client.get_workflow_handle(ids.workflow_id(terminated)).terminate(reason="operator")
    # Never selected: completed, waiting (running), replayed and running again, replayed and done.
    done = await harness.place(CHAIR)
    await harness.amend(swap(done, "done"))
    running = await harness.awaiting_top_up("running")
    again = await failing(harness, "again")  # replayed below: waits for nothing, completes
    waiting_again = await harness.place(CHAIR)
    path = f"*/orders/{waiting_again}/captures"
    harness.sim.add_faults([FaultRule(method="POST", path=path, status=400, times=1)])
    dearer = swap(waiting_again, "waiting-again", item("Y", 49800))
    with pytest.raises(WorkflowFailureError):
        await (await harness.start(dearer)).result()

    everything = ours(harness)
    await selected(client, everything, 5)
    first = await replay_failed(
        client, ours(harness, query=f"OrderId IN ('{again}', '{waiting_again}')")
    )
    assert (first.selected, len(first.replayed)) == (2, 2)
    await client.get_workflow_handle(ids.workflow_id(again)).result()  # replayed and done
    await harness.wait_for_state(waiting_again, lambda s: s.status == "AwaitingTopUp")

    found, skipped = await find_failed(client, everything)
    assert {a.order_id for a in found} == {bad, rejected, terminated}
    assert [s.workflow_id for s in skipped] == [ids.workflow_id(waiting_again)]
    assert "already replayed" in skipped[0].why
    assert {done, running, again}.isdisjoint({a.order_id for a in found})
    by_order = {a.order_id: a for a in found}
    assert by_order[bad].failure == failures.kind_of(BadRequest(""))
    assert by_order[bad].step == ids.REVERSAL.record("capture")
    assert by_order[rejected].failure == failures.AMENDMENT_REJECTED.name
    assert by_order[terminated].failure == failures.TERMINATED.name
    assert by_order[terminated].reason == "operator"

    for name, order_id in (
        (failures.kind_of(BadRequest("")), bad),
        (failures.AMENDMENT_REJECTED.name, rejected),
        (failures.TERMINATED.name, terminated),
    ):
        found, _ = await find_failed(client, ours(harness, failure=name))
        assert [a.order_id for a in found] == [order_id], name
    found, _ = await find_failed(client, ours(harness, query="AmendmentId = 'bad'"))
    assert [a.order_id for a in found] == [bad]
    found, _ = await find_failed(client, ours(harness, order_prefix=bad))
    assert [a.order_id for a in found] == [bad]


async def test_closed_within_takes_the_last_one_to_fail_only(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    client = harness.client
    first = await failing(harness, "first")
    await selected(client, ours(harness), 1)
    # 12 s apart at least: the window holds the late one only.
    await asyncio.sleep(12)
    late = await failing(harness, "late")
    closed = (await latest(client, late)).close_time
    assert closed is not None
    within = datetime.now(UTC) - closed + timedelta(seconds=6)

    async def only_the_late_one() -> list[str] | None:
        listed, _ = await find_failed(client, ours(harness, since=within))
        return [a.order_id for a in listed] if listed else None

    assert await eventually(only_the_late_one) == [late]
    assert first != late

    dry = await amend_async(
        "replay", "--failed", "--dry-run", "--since", "1d", "--failure",
        failures.kind_of(BadRequest("")), "--query", f"TaskQueue = '{harness.task_queue}'",
        "--json", env=cli_env,
    )  # fmt: skip
    assert dry.code == 0, dry.stderr
    assert dry.json()["selected"] == 2  # first and late: BadRequest, within a day


async def test_stopped_in_the_middle_each_is_untouched_or_reset_and_the_rest_follow(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    client = harness.client
    orders = [await failing(harness, f"stop-{n}") for n in range(6)]
    query = f"TaskQueue = '{harness.task_queue}'"
    await selected(client, ours(harness), len(orders))
    command = [AMEND, "replay", "--failed", "--yes", "--rate", "1", "--query", query, "--json"]
    process = await asyncio.create_subprocess_exec(
        *command,
        env={"PATH": "", "NO_COLOR": "1", **cli_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    lines: list[str] = []
    while not any(line.startswith("replayed ") for line in lines):
        line = await asyncio.wait_for(process.stderr.readline(), PATIENCE)
        assert line, f"it ended before replaying one: {''.join(lines)}"
        lines.append(line.decode())
    process.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(process.communicate(), PATIENCE)
    assert process.returncode == 128 + signal.SIGTERM
    report = json.loads(out)
    replayed = {r["workflow_id"] for r in report["replayed"]}
    untouched = {s["workflow_id"] for s in report["skipped"] if "stopped" in s["why"]}
    assert report["stopped"] is True
    assert replayed
    assert untouched
    assert replayed | untouched == {ids.workflow_id(o) for o in orders}
    assert replayed.isdisjoint(untouched)
    for order_id in orders:  # what it says is what happened
        status = (await latest(client, order_id)).status
        if ids.workflow_id(order_id) in replayed:
            assert status in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED)
        else:
            assert status == WorkflowExecutionStatus.FAILED

    rest_of_them = await amend_async(
        "replay", "--failed", "--yes", "--query", query, "--json", "--wait", env=cli_env
    )
    assert rest_of_them.code == 0, rest_of_them.stderr
    finished = rest_of_them.json()
    assert {r["workflow_id"] for r in finished["replayed"]} == untouched
    assert {r["outcome"] for r in finished["replayed"]} == {"applied"}
    for order_id in orders:
        result: Any = await client.get_workflow_handle(ids.workflow_id(order_id)).result()
        assert result["outcome"] == "applied"


async def test_the_pace_holds(harness: Harness) -> None:
    """At most 2 resets a second: the resets of 10 replays span at least 4.5 s (the first at 0,
    the tenth no sooner than 9 / 2 s later), read from the histories' reset events."""
    client = harness.client
    orders = [await failing(harness, f"paced-{n}") for n in range(10)]
    await selected(client, ours(harness), len(orders))
    report = await replay_failed(client, ours(harness), rate=2, concurrency=4)
    assert (report.selected, len(report.replayed)) == (10, 10)
    resets = []
    for replayed in report.replayed:
        history = await client.get_workflow_handle(
            replayed.workflow_id, run_id=replayed.new_run_id
        ).fetch_history()
        [reset] = [
            e
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
            and e.workflow_task_failed_event_attributes.cause
            == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
        ]
        resets.append(reset.event_time.ToDatetime())
    assert (max(resets) - min(resets)).total_seconds() >= 4.5


async def test_bad_options_are_refused_naming_them(cli_env: dict[str, str]) -> None:
    for args, said in (
        (("--since", "soon"), "since: must be a duration"),
        (("--failure", "Oops"), "failure: 'Oops' is not a failure type"),
        (("--rate", "0"), "rate: must be more than 0"),
        (("--concurrency", "0"), "concurrency: must be at least 1"),
    ):
        run = await amend_async("replay", "--failed", "--dry-run", *args, env=cli_env)
        assert run.code == 1
        assert said in run.stderr, run.stderr
    both = await amend_async("replay", "X", "--failed", env=cli_env)
    assert "not both" in both.stderr
    alone = await amend_async("replay", "X", "--dry-run", env=cli_env)
    assert "--dry-run go with --failed" in alone.stderr
    unasked = await amend_async("replay", "--failed", "--query", "AmendmentId = 'x'", env=cli_env)
    assert unasked.code == 0  # nothing selected: nothing to confirm


def test_a_duration_reads_as_people_write_it() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    for bad in ("", "2", "h", "1x", "1h 30m", "-1h"):
        with pytest.raises(AmendmentRejected, match="since"):
            parse_duration(bad)


def test_the_selection_is_one_visibility_query() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    query = Selection(
        since=timedelta(hours=2),
        failure=failures.TERMINATED.name,
        order_prefix="K3X",
        query="AmendmentId = 'a'",
    ).visibility_query(now)
    assert query == (
        "WorkflowType = 'AmendOrder' AND ExecutionStatus IN ('Failed', 'TimedOut', "
        "'Terminated', 'Canceled') AND CloseTime >= '2026-12-07T10:00:00+00:00' AND "
        "(AmendmentFailure = 'TerminatedError' OR ExecutionStatus = 'Terminated') AND "
        "OrderId STARTS_WITH 'K3X' AND (AmendmentId = 'a')"
    )
    with pytest.raises(AmendmentRejected, match="failure"):
        Selection(failure="Nope").visibility_query(now)
