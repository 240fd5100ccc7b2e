"""Every failure an operator meets in `amend` names the amendment's workflow id and the next
command to run (`amend status`, `amend replay`, `amend list`), through real processes against the
dev server: a run that fails under `start --wait` and `replay --wait`, outcomes and reverts sent
to an amendment that ended or never started or that refuses them, and replays of runs that
cannot be replayed."""

from __future__ import annotations

import json
from pathlib import Path

from amendments import failures
from amendments.dintero.errors import BadRequest
from amendments.domain import ids
from amendments.simulator.app import FaultRule
from tests.support.cli import Run, amend_async
from tests.support.harness import Harness
from tests.support.orders import CHAIR, swap


def error(run: Run) -> str:
    assert run.code == 1, (run.stdout, run.stderr)
    line = run.stderr.strip()
    assert line.startswith("error: "), line
    assert "\n" not in line, line  # one line, never a traceback
    return line.removeprefix("error: ")


async def test_a_failed_run_names_itself_and_the_commands_that_resume_it(
    harness: Harness, cli_env: dict[str, str], tmp_path: Path
) -> None:
    order_id = await harness.place(CHAIR)
    workflow_id = ids.workflow_id(order_id)
    request = tmp_path / "swap.json"
    request.write_text(json.dumps(swap(order_id, "s1")))
    harness.sim.add_faults([FaultRule(method="POST", path="*/captures", status=400)])
    next_steps = (
        f"; {failures.status_hint(order_id)} shows where it stopped, and "
        f"{failures.resume_hint(workflow_id)} (nothing is written twice)"
    )
    started = await amend_async("start", str(request), "--wait", env=cli_env)
    failed = error(started)
    assert failed.startswith(f"{workflow_id} failed: ")
    assert "step reversal-capture: Dintero answered 400" in failed
    assert failed.endswith(next_steps)
    as_json = await amend_async("replay", order_id, "--wait", "--json", env=cli_env)
    assert as_json.code == 1
    document = as_json.json()["error"]
    assert (document["workflow_id"], document["kind"]) == (
        workflow_id,
        failures.kind_of(BadRequest("")),
    )
    assert document["message"].endswith(next_steps)

    for message in (
        ("authorize", order_id, "--payment-id", "P", "--amount", "5", "--wait"),
        ("authorize", order_id, "--payment-id", "P", "--amount", "5"),
        ("revert", order_id, "--reason", "changed my mind"),
    ):
        assert error(await amend_async(*message, env=cli_env)) == (
            f"no amendment of order {order_id} is running: {workflow_id} ended failed; "
            f"{failures.status_hint(order_id)} shows why, and {failures.resume_hint(workflow_id)}"
        )

    harness.sim.faults.clear()
    assert (await amend_async("replay", order_id, "--wait", env=cli_env)).code == 0
    assert error(await amend_async("replay", order_id, env=cli_env)) == (
        f"{workflow_id} is completed; only a failed, timed-out, terminated or cancelled "
        f"amendment can be replayed ({failures.status_hint(order_id)} shows it)"
    )
    assert error(await amend_async("revert", order_id, "--reason", "late", env=cli_env)) == (
        f"no amendment of order {order_id} is running: {workflow_id} ended completed "
        f"({failures.status_hint(order_id)})"
    )


async def test_a_waiting_amendment_names_itself_when_it_refuses(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    order_id = await harness.awaiting_top_up("dearer")
    workflow_id = ids.workflow_id(order_id)
    too_much = ("authorize", order_id, "--payment-id", "P", "--amount", "99999", "--wait")
    assert error(await amend_async(*too_much, env=cli_env)) == (
        f"amount 99999 exceeds the outstanding top-up 10000 ({workflow_id}: "
        f"{failures.status_hint(order_id)} shows where it stands)"
    )
    assert error(await amend_async("replay", order_id, env=cli_env)) == (
        f"{workflow_id} is running; only a failed, timed-out, terminated or cancelled "
        f"amendment can be replayed ({failures.status_hint(order_id)} shows it)"
    )


async def test_an_order_without_amendments_points_at_the_list(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    none_started = (
        f"no amendment of order NOSUCH is running: none was started ({failures.list_hint()})"
    )
    authorize = ("authorize", "NOSUCH", "--payment-id", "P", "--amount", "5", "--wait")
    assert error(await amend_async(*authorize, env=cli_env)) == none_started
    assert error(await amend_async("revert", "NOSUCH", "--reason", "r", env=cli_env)) == (
        none_started
    )
    assert error(await amend_async("status", "NOSUCH", env=cli_env)) == (
        f"no amendment of order NOSUCH was found ({failures.list_hint()})"
    )
