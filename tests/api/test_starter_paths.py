"""`amend start` and the starter API take one path: the same answers, in the same words.

Through real `amend` processes against the dev server and the simulator over a socket: the same
amendment again after it completed (its result, exit 0, nothing written), another amendment
while one runs (`AmendmentInProgress`), the same one after it failed, and a new one after a
failed run that wrote to the order (`AmendmentNeedsReplay` naming the run), or one that failed
before writing (allowed); then `amend replay` by order id and by `--run-id`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from amendments import failures
from amendments.api.starter import AmendmentInProgress, AmendmentNeedsReplay, start_amendment
from amendments.domain import ids
from tests.support.cli import amend_async
from tests.support.harness import Harness, failed_after_writing
from tests.support.orders import CHAIR, swap


def write(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / f"{document['amendment_id']}.json"
    path.write_text(json.dumps(document))
    return str(path)


def writes(harness: Harness, since: int) -> list[str]:
    return [c for c in harness.calls(since) if c.startswith(("POST", "PUT"))]


async def test_the_same_amendment_again_after_it_completed(
    harness: Harness, cli_env: dict[str, str], tmp_path: Path
) -> None:
    order_id = await harness.place(CHAIR)
    request = write(tmp_path, swap(order_id, "again"))
    first = await amend_async("start", request, "--wait", env=cli_env)
    assert first.code == 0, first.stderr
    mark = harness.mark()
    again = await amend_async("start", request, env=cli_env)
    assert again.code == 0, again.stderr
    assert (
        f"amendment again of order {order_id} was already applied as {ids.workflow_id(order_id)}"
        in (again.stdout)
    )
    assert "nothing was written again" in again.stdout
    assert "39800" in again.stdout  # the result's ledger
    document = (await amend_async("start", request, "--json", env=cli_env)).json()
    assert document["existing"] == "completed"
    assert document["result"]["outcome"] == "applied"
    assert writes(harness, mark) == []


async def test_another_amendment_while_one_runs(
    harness: Harness, cli_env: dict[str, str], tmp_path: Path
) -> None:
    order_id = await harness.awaiting_top_up("first")
    mark = harness.mark()
    second = await amend_async("start", write(tmp_path, swap(order_id, "second")), env=cli_env)
    assert second.code == 1
    expected = (
        f"error: order {order_id} already has amendment first running as "
        f"{ids.workflow_id(order_id)}; start second after it ends "
        f"({failures.status_hint(order_id)} shows it)"
    )
    assert second.stderr.strip() == expected
    with pytest.raises(AmendmentInProgress) as caught:
        await harness.start(swap(order_id, "second"))
    assert f"error: {caught.value}" == expected  # the starter API's very words
    assert writes(harness, mark) == []
    same = await amend_async("start", write(tmp_path, swap(order_id, "first")), env=cli_env)
    assert same.code == 0
    assert "amendment first is already running" in same.stdout


async def test_the_same_amendment_after_it_failed_says_to_replay(
    harness: Harness, cli_env: dict[str, str], tmp_path: Path
) -> None:
    order_id = await harness.place(CHAIR)
    run_id = await failed_after_writing(harness, order_id, "broken")
    again = await amend_async("start", write(tmp_path, swap(order_id, "broken")), env=cli_env)
    assert again.code == 1
    assert again.stderr.strip() == (
        f"error: amendment broken of order {order_id} ended failed (run {run_id}); "
        f"{failures.resume_with(ids.workflow_id(order_id))}"
    )


async def test_a_new_amendment_after_a_failed_one_that_wrote(
    harness: Harness, cli_env: dict[str, str], tmp_path: Path, raw: Client
) -> None:
    order_id = await harness.place(CHAIR)
    failed_run = await failed_after_writing(harness, order_id, "half")
    mark = harness.mark()
    refused = await amend_async("start", write(tmp_path, swap(order_id, "next")), env=cli_env)
    assert refused.code == 1
    expected = (
        f"error: the last amendment of order {order_id}, half (run {failed_run}), ended failed "
        f"after writing to the order; {failures.resume_with(ids.workflow_id(order_id))} before "
        "starting next"
    )
    assert refused.stderr.strip() == expected
    with pytest.raises(AmendmentNeedsReplay) as caught:
        await harness.start(swap(order_id, "next"))
    assert f"error: {caught.value}" == expected
    assert writes(harness, mark) == []

    # A foreign backend starts another run anyway (raw): it fails at planning and becomes the
    # latest run. The failed one stays reachable by its run id.
    handle = await raw.start_workflow(
        "AmendOrder",
        swap(order_id, "foreign"),
        id=ids.workflow_id(order_id),
        task_queue=harness.task_queue,
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    replayed = await amend_async(
        "replay", ids.workflow_id(order_id), "--run-id", failed_run, "--wait", "--json", env=cli_env
    )
    assert replayed.code == 0, replayed.stderr
    assert replayed.json()["failed_run_id"] == failed_run
    assert replayed.json()["result"]["outcome"] == "applied"


async def test_a_new_amendment_after_one_that_failed_before_writing(
    harness: Harness, raw: Client
) -> None:
    order_id = await harness.place(CHAIR)
    refused = {**swap(order_id, "nothing"), "reverse": [{"line_id": 9, "reason": "r"}]}
    handle = await raw.start_workflow(
        "AmendOrder", refused, id=ids.workflow_id(order_id), task_queue=harness.task_queue
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    result = await (
        await start_amendment(harness.client, swap(order_id, "fine"), task_queue=harness.task_queue)
    ).result()
    assert result.outcome == "applied"


async def test_replay_takes_an_order_id(
    harness: Harness, cli_env: dict[str, str], tmp_path: Path
) -> None:
    order_id = await harness.place(CHAIR)
    await failed_after_writing(harness, order_id, "by-order")
    replayed = await amend_async("replay", order_id, "--wait", "--json", env=cli_env)
    assert replayed.code == 0, replayed.stderr
    assert replayed.json()["workflow_id"] == ids.workflow_id(order_id)
    handle = harness.client.get_workflow_handle(ids.workflow_id(order_id))
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    missing = await amend_async("replay", "NOSUCHORD", env=cli_env)
    assert missing.code == 1
    assert missing.stderr.strip() == f"error: no amendment {ids.workflow_id('NOSUCHORD')} was found"
