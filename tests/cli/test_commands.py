"""The `amend` CLI against the real dev server and the simulator over a socket."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from temporalio.client import Client

from amendments import failures
from amendments.domain import ids
from tests.support.cli import amend, amend_async
from tests.support.harness import Harness
from tests.support.orders import CHAIR, LUX, item

COMMANDS = [
    "demo",
    "dev",
    "worker",
    "simulator",
    "place",
    "plan",
    "start",
    "status",
    "authorize",
    "replay",
    "revert",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    run = amend(command, "--help")
    assert run.code == 0
    assert "--json" in run.stdout
    assert "Usage: amend" in run.stdout


def test_top_level_help_lists_the_commands() -> None:
    run = amend("--help")
    assert run.code == 0
    for command in COMMANDS:
        assert command in run.stdout


def write(tmp_path: Path, name: str, document: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


async def test_place_plan_start_status_as_json(
    cli_env: dict[str, str], harness: Harness, tmp_path: Path
) -> None:
    order_file = write(
        tmp_path, "order.json", {"currency": "NOK", "items": [CHAIR], "payment_id": "PID_123"}
    )
    placed = await amend_async("place", order_file, "--json", env=cli_env)
    assert placed.code == 0, placed.stderr
    order_id = placed.json()["order_id"]
    request = {
        "order_id": order_id,
        "amendment_id": "cli-1",
        "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
        "add": [item("X", 30000)],
    }
    request_file = write(tmp_path, "amend.json", request)

    mark = harness.mark()
    planned = await amend_async("plan", request_file, "--json", env=cli_env)
    assert planned.code == 0, planned.stderr
    plan = planned.json()
    assert (plan["refund_amount"], plan["top_up_amount"]) == (9800, 0)
    assert [line["line_id"] for line in plan["lines"]] == [2, 3, 4]
    assert all(name.startswith("GET") for name in harness.calls(mark)), "plan wrote something"

    readable = await amend_async("plan", request_file, env=cli_env)
    assert readable.code == 0
    assert ids.COVERED.record("authorization") in readable.stdout
    assert "refund 9800" in readable.stdout

    started = await amend_async("start", request_file, "--wait", "--json", env=cli_env)
    assert started.code == 0, started.stderr
    document = started.json()
    assert document["workflow_id"] == ids.workflow_id(order_id)
    assert {x["line_id"]: x["refunded"] for x in document["result"]["lines"]}[4] == 9800

    status = await amend_async("status", order_id, "--json", env=cli_env)
    assert status.code == 0
    assert status.json()["status"] == "Completed"
    table = await amend_async("status", order_id, env=cli_env)
    assert "Completed" in table.stdout
    assert "refund" in table.stdout


async def test_authorize_sends_outcomes(cli_env: dict[str, str], harness: Harness) -> None:
    order_id = await harness.place(CHAIR)
    await harness.start(
        {
            "order_id": order_id,
            "amendment_id": "cli-top-up",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Swap"}],
            "add": [item("Y", 49800)],
        }
    )
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    declined = await amend_async(
        "authorize",
        order_id,
        "--payment-id",
        "P1",
        "--amount",
        "10000",
        "--declined",
        "--wait",
        "--json",
        env=cli_env,
    )
    assert declined.code == 0, declined.stderr
    assert declined.json()["taken"]["disposition"] == "declined"
    too_much = await amend_async(
        "authorize", order_id, "--payment-id", "P2", "--amount", "10001", "--wait", env=cli_env
    )
    assert too_much.code == 1
    assert too_much.stderr.strip() == (
        f"error: amount 10001 exceeds the outstanding top-up 10000 ({ids.workflow_id(order_id)}: "
        f"{failures.status_hint(order_id)} shows where it stands)"
    )
    approved = await amend_async(
        "authorize", order_id, "--payment-id", "P2", "--amount", "10000", env=cli_env
    )
    assert approved.code == 0
    assert "sent approved 10000 (P2)" in approved.stdout
    await harness.wait_for_state(order_id, lambda s: s.status == "Completed")


def test_bad_input_is_one_line_naming_the_field(cli_env: dict[str, str], tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "bad.json",
        {"order_id": "X", "amendment_id": "a", "add": [{**LUX, "gross_amount": -1}]},
    )
    run = amend("plan", bad, env=cli_env)
    assert run.code == 1
    assert run.stderr.strip() == "error: add.0.gross_amount: must be greater than 0"
    as_json = amend("start", bad, "--json", env=cli_env)
    assert as_json.code == 1
    assert as_json.json() == {
        "error": {
            "field": "add.0.gross_amount",
            "message": "add.0.gross_amount: must be greater than 0",
            "reason": "must be greater than 0",
        }
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "NOPE"], "error: no amendment of order NOPE was found"),
        (["plan", "/nonexistent.json"], "error: cannot read /nonexistent.json"),
        (
            ["simulator", "--client-id", "only"],
            "error: --client-id and --client-secret go together",
        ),
    ],
)
def test_errors_are_one_line_without_traceback(
    cli_env: dict[str, str], args: list[str], message: str
) -> None:
    run = amend(*args, env=cli_env)
    assert run.code != 0
    assert run.stderr.startswith(message), run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_unreachable_temporal_is_one_line() -> None:
    run = amend("status", "X", env={"TEMPORAL_ADDRESS": "127.0.0.1:1"}, timeout=120)
    assert run.code == 1
    assert run.stderr.startswith("error: cannot reach Temporal"), run.stderr
    assert "Traceback" not in run.stderr


def test_bench_passes_its_options_to_the_benchmark() -> None:
    run = amend("bench", "--help")
    assert run.code == 0
    assert "usage: amend bench" in run.stdout
    for option in ("--mode", "--waiting", "--concurrency", "--json"):
        assert option in run.stdout
    assert "bench" in amend("--help").stdout


async def test_start_wait_reports_a_revert_and_status_lists_what_was_not_taken(
    cli_env: dict[str, str], harness: Harness, raw: Client, tmp_path: Path
) -> None:
    order_id = await harness.place(CHAIR)
    request = {
        "order_id": order_id,
        "amendment_id": "cli-revert",
        "reverse": [{"line_id": 1, "quantity": None, "reason": "Swap"}],
        "add": [item("Y", 49800)],
        "top_up_timeout_seconds": 2,
    }
    started = asyncio.create_task(
        amend_async("start", write(tmp_path, "r.json", request), "--wait", env=cli_env)
    )
    await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
    await raw.get_workflow_handle(ids.workflow_id(order_id)).signal(
        "authorization_outcome", {"payment_id": "PID_M", "amount": "lots", "success": True}
    )
    run = await started
    assert run.code == 0, run.stderr
    assert "reverted: top-up not covered: 10000 NOK still outstanding" in run.stdout
    status = await amend_async("status", order_id, env=cli_env)
    assert status.code == 0, status.stderr
    assert "Reverted" in status.stdout
    assert "signal PID_M ?: ignored, malformed: amount: must be a whole number" in (status.stdout)
    bad = await amend_async("revert", order_id, "--reason", "", env=cli_env)
    assert bad.code == 1
    assert bad.stderr.strip() == "error: reason: must not be empty"


def test_python_dash_m_amendments_is_the_same_cli() -> None:
    for args in (["--help"], ["deploy", "--help"], ["deploy", "check", "--help"]):
        ours, module = amend(*args), amend(*args, module=True)
        assert (ours.code, module.code) == (0, 0)
        assert module.stdout.replace("python -m amendments", "amend") == ours.stdout
    refused = amend("deploy", "check", "--limit", "0", module=True)
    assert refused.code == 1
    assert "--limit must be at least 1, got 0" in refused.stderr
