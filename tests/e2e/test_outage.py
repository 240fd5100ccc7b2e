"""After an outage, every failed amendment replayed in one command (`amend replay --failed`),
end to end against the real dev server and the simulator over HTTP, as an operator does it: the
simulator refuses every capture for good while 20 amendments of three branches run (even,
refund, a top-up whose outcomes were already sent), so they fail part-way; three more wait for
their top-ups and are terminated (the wrong batch); the cause is removed; a dry run lists exactly
those and changes nothing; one command replays them all; each completes with its exact ledger,
per payment, read straight from the simulator, no write made twice; the same command again
replays nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError

from amendments import failures
from amendments.api.starter import send_authorization_outcome
from amendments.dintero.errors import BadRequest
from amendments.domain import ids
from amendments.simulator import FaultRule, Simulator
from tests.support.cli import Run, amend_async
from tests.support.harness import Harness, eventually
from tests.support.money import independent_view
from tests.support.reliability import Case, case, problems_with

KINDS = ("even", "refund", "top-up")
pytestmark = pytest.mark.timeout(600)


async def replay(cli_env: dict[str, str], *args: str) -> Run:
    """`amend replay --failed` over this test's task queue only (the dev server is shared)."""
    query = f"TaskQueue = '{cli_env['TASK_QUEUE']}'"
    return await amend_async("replay", "--failed", "--query", query, *args, env=cli_env)


async def an_outage(harness: Harness) -> tuple[list[Case], list[str], list[str]]:
    """20 amendments failed at their captures, and 3 terminated while they waited: the cases,
    their orders, and the waiting ones' orders."""
    sim, client = harness.sim, harness.client
    batch = [case(KINDS[n % len(KINDS)], n) for n in range(20)]
    orders = [await harness.place(*c.items) for c in batch]
    waiting = [await harness.awaiting_top_up(f"waiting-{n}") for n in range(3)]

    # The outage: Dintero refuses every capture for good.
    sim.add_faults([FaultRule(method="POST", path="*/captures", status=400)])
    handles = []
    for n, (c, order_id) in enumerate(zip(batch, orders, strict=True)):
        handles.append(await harness.start(c.request(order_id, f"outage-{n}")))
        for payment_id, amount, success in c.outcomes:  # sent before the amendment fails
            outcome = {"payment_id": payment_id, "amount": amount, "success": success}
            await send_authorization_outcome(client, order_id, outcome)
    for handle in handles:
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    for order_id in waiting:  # an operator terminates the wrong batch
        await client.get_workflow_handle(ids.workflow_id(order_id)).terminate(reason="wrong batch")
    return batch, orders, waiting


def each_ledger_exact(
    sim: Simulator, batch: list[Case], orders: list[str], waiting: list[str]
) -> None:
    """Each amendment's records once, its ledger exact, each payment keeping what it paid for
    the goods it still covers, read straight from the simulator."""
    for n, (c, order_id) in enumerate(zip(batch, orders, strict=True)):
        assert problems_with(sim, order_id, f"outage-{n}", c) == []
        view = independent_view(sim.store, order_id)
        assert all(count == 1 for count in view["markers"].values()), "a write was made twice"
        paid = sum(int(i["gross_amount"]) for i in c.add)
        kept = {"PID_123": paid - sum(a for _, a, ok in c.outcomes if ok)}
        kept |= {p: a for p, a, ok in c.outcomes if ok}
        assert view["money"] == kept, order_id
    for order_id in waiting:
        view = independent_view(sim.store, order_id)
        assert view["money"] == {"PID_123": 39800, "PID_LATE": 10000}
        assert all(count == 1 for count in view["markers"].values())


async def test_an_outage_is_replayed_in_one_command(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    sim, client = harness.sim, harness.client
    batch, orders, waiting = await an_outage(harness)
    sim.faults.clear()  # the cause is removed
    expected = {ids.workflow_id(o) for o in [*orders, *waiting]}
    mark = harness.mark()

    async def all_listed() -> Run | None:
        dry = await replay(cli_env, "--dry-run", "--json")
        assert dry.code == 0, dry.stderr
        return dry if dry.json()["selected"] == len(expected) else None

    dry = await eventually(all_listed)  # visibility catches up with the closed runs
    assert dry.json() == {
        "selected": 23,
        "replayed": [],
        "skipped": [],
        "errors": [],
        "stopped": False,
    }
    assert all(workflow_id in dry.stderr for workflow_id in expected)  # what it found, listed
    assert failures.kind_of(BadRequest("")) in dry.stderr
    assert harness.mark() == mark  # the dry run called Dintero for nothing
    for workflow_id in expected:  # and reset nothing
        described = await client.get_workflow_handle(workflow_id).describe()
        assert described.status in (
            WorkflowExecutionStatus.FAILED,
            WorkflowExecutionStatus.TERMINATED,
        )

    done = await replay(cli_env, "--yes", "--json")
    assert done.code == 0, done.stderr
    document = json.loads(done.stdout)  # exactly one document on stdout
    assert (document["selected"], document["errors"], document["skipped"]) == (23, [], [])
    by_id = {r["workflow_id"]: r for r in document["replayed"]}
    assert set(by_id) == expected
    assert {by_id[ids.workflow_id(o)]["failure"] for o in orders} == {
        failures.kind_of(BadRequest(""))
    }
    assert {by_id[ids.workflow_id(o)]["failure"] for o in waiting} == {failures.TERMINATED.name}
    assert all(f"replayed {workflow_id}: new run" in done.stderr for workflow_id in expected)

    # The terminated ones wait for their top-ups again, and take them.
    for order_id in waiting:
        await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
        outcome = {"payment_id": "PID_LATE", "amount": 10000, "success": True}
        await send_authorization_outcome(client, order_id, outcome, wait=True)
    for workflow_id in expected:
        result: Any = await client.get_workflow_handle(
            workflow_id, run_id=by_id[workflow_id]["new_run_id"]
        ).result()
        assert result["outcome"] == "applied"

    each_ledger_exact(sim, batch, orders, waiting)

    again = await replay(cli_env, "--yes", "--json")
    assert again.code == 0, again.stderr
    assert (again.json()["selected"], again.json()["replayed"]) == (0, [])
