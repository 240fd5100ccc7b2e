"""`amend list`: one row per amendment (its latest run), so that an amendment that failed and was
replayed to completion no longer looks failed, while Temporal's own visibility (what the UI's
`AmendmentStatus = "Failed"` query lists) still holds the failed run. Real `amend` processes
against the dev server; visibility is eventually consistent, so each listing is polled until
it shows what the workflows already did (their runs have closed before)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.client import Client

from amendments import failures
from amendments.domain import ids
from tests.support.cli import Run, amend_async
from tests.support.harness import Harness, eventually, failed_after_writing
from tests.support.orders import CHAIR


async def listing(
    cli_env: dict[str, str], check: Callable[[list[dict[str, Any]]], bool], *args: str
) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        run = await amend_async("list", *args, "--json", env=cli_env)
        assert run.code == 0, run.stderr
        amendments: list[dict[str, Any]] = run.json()["amendments"]
        return amendments if check(amendments) else None

    return await eventually(probe)


async def test_a_replayed_amendment_is_listed_by_its_latest_run(
    harness: Harness, cli_env: dict[str, str], raw: Client
) -> None:
    order_id = await harness.place(CHAIR)
    failed_run = await failed_after_writing(harness, order_id, "flaky")
    workflow_id = ids.workflow_id(order_id)

    failed = await listing(cli_env, lambda a: len(a) == 1, "--order", order_id)
    assert (failed[0]["status"], failed[0]["run_id"]) == ("Failed", failed_run)
    needs = await listing(
        cli_env, lambda a: workflow_id in [x["workflow_id"] for x in a], "--status", "failed"
    )
    assert next(x for x in needs if x["workflow_id"] == workflow_id)["amendment_id"] == "flaky"
    text = await amend_async("list", "--order", order_id, env=cli_env)
    assert failures.listed_failed(workflow_id, order_id) in text.stdout

    replayed = await amend_async("replay", workflow_id, "--wait", "--json", env=cli_env)
    assert replayed.code == 0, replayed.stderr
    new_run = replayed.json()["new_run_id"]

    latest = await listing(
        cli_env, lambda a: len(a) == 1 and a[0]["run_id"] == new_run, "--order", order_id
    )
    assert latest[0]["status"] == "Completed"
    assert latest[0]["execution_status"] == "completed"
    assert [(r["run_id"], r["amendment_status"]) for r in latest[0]["superseded"]] == [
        (failed_run, "Failed")
    ]
    still_failed = await listing(cli_env, lambda a: True, "--status", "Failed")
    assert workflow_id not in [x["workflow_id"] for x in still_failed]
    # What Temporal's visibility (and so the UI's search) still says about the replayed run:
    ui_query = f"AmendmentStatus = 'Failed' AND WorkflowId = '{workflow_id}'"
    assert [w.run_id async for w in raw.list_workflows(ui_query)] == [failed_run]

    text = await amend_async("list", "--order", order_id, "--all-runs", env=cli_env)
    assert text.code == 0
    assert "Completed" in text.stdout
    assert "(1 earlier)" in text.stdout
    assert "superseded (Failed)" in text.stdout
    assert failed_run in text.stdout
    assert "failed:" not in text.stdout


async def test_a_waiting_amendment_shows_what_is_outstanding(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    order_id = await harness.awaiting_top_up("dearer")
    waiting = await listing(
        cli_env, lambda a: bool(a) and a[0]["status"] == "AwaitingTopUp", "--order", order_id
    )
    assert (waiting[0]["amendment_id"], waiting[0]["top_up_outstanding"]) == ("dearer", 10000)
    assert waiting[0]["order_id"] == order_id
    awaiting = await listing(
        cli_env,
        lambda a: ids.workflow_id(order_id) in [x["workflow_id"] for x in a],
        "--status",
        "AwaitingTopUp",
        "--limit",
        "500",
    )
    assert {x["status"] for x in awaiting} == {"AwaitingTopUp"}
    text = await amend_async("list", "--order", order_id, env=cli_env)
    assert "AwaitingTopUp" in text.stdout
    assert "10000" in text.stdout


def refused(run: Run) -> str:
    assert run.code == 1
    return run.stderr.strip()


async def test_bad_list_options_are_refused_naming_them(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    assert refused(await amend_async("list", "--status", "Done", env=cli_env)) == (
        "error: status: must be one of Planning, Applying, AwaitingTopUp, Reverting, "
        "Completed, Reverted, Failed; got 'Done'"
    )
    assert refused(await amend_async("list", "--limit", "0", env=cli_env)) == (
        "error: limit: must be at least 1, got 0"
    )
    bad = await amend_async("list", "--status", "Done", "--json", env=cli_env)
    assert bad.json()["error"]["field"] == "status"
    none = await amend_async("list", "--order", "NOSUCHORD", env=cli_env)
    assert (none.code, none.stdout.strip()) == (0, "no amendment of order NOSUCHORD was found")
    quoted = await amend_async("list", "--order", "it's", "--json", env=cli_env)
    assert (quoted.code, quoted.json()) == (0, {"amendments": []})
