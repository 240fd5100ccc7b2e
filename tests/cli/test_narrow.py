"""Every command that prints a table reads at 80 columns (a narrow terminal, or a pipe, where
rich assumes 80): against the real dev server and the simulator, `amend conformance`, `plan`,
`status` and `list` run with COLUMNS=80; no line passes 80 and no id, probe name or amount is
split across lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from amendments.domain import ids
from amendments.ops.conformance.harness import PROBES
from amendments.simulator import Simulator
from tests.support.cli import Run, amend_async
from tests.support.harness import Harness
from tests.support.money import per_payment
from tests.support.orders import CHAIR, item, rev

pytestmark = pytest.mark.timeout(300)
NARROW = {"COLUMNS": "80"}
AMENDMENT = "narrow-terminal-amendment-0001"


def words(run: Run) -> set[str]:
    assert run.code == 0, run.stdout + run.stderr
    long = [line for line in run.stdout.splitlines() if len(line) > 80]
    assert long == [], "\n".join(long)
    return set(re.split(r"[\s:,()]+", run.stdout))


async def test_conformance_at_80_columns(
    served: tuple[Simulator, str], socket_sim: Simulator
) -> None:
    _, url = served
    env = {
        **NARROW,
        "DINTERO_BASE_URL": url,
        "DINTERO_CHECKOUT_BASE_URL": url,
        "DINTERO_ACCOUNT_ID": "T12345678",
        "DINTERO_CLIENT_ID": "conformance",
        "DINTERO_CLIENT_SECRET": "conformance-secret",
        "DINTERO_CHECKOUT_PROFILE_ID": "P-sim",
    }
    run = await amend_async("conformance", env=env)
    seen = words(run)
    for probe in PROBES:
        assert re.search(rf"^{probe.id}\s+(holds|not run)$", run.stdout, re.MULTILINE), probe.id
    assert {"EVENT_REFERENCE", "DINTERO_ACCOUNTS_FILE", "multiple_authorizations"} <= seen


async def test_plan_status_and_list_at_80_columns(
    cli_env: dict[str, str], harness: Harness, tmp_path: Path
) -> None:
    env = {**cli_env, **NARROW}
    order_id = await harness.place(CHAIR)
    request = tmp_path / "amend.json"
    request.write_text(
        json.dumps(
            {"order_id": order_id, "amendment_id": AMENDMENT, "reverse": [rev(1)],
             "add": [item("replacement-chair-extra-long-product-id", 30000)]}
        )
    )  # fmt: skip
    planned = words(await amend_async("plan", str(request), env=env))
    assert {order_id, AMENDMENT, "replacement-chair-extra-long-product-id", "9800"} <= planned
    assert ids.COVERED.record("authorization") in planned

    started = await amend_async("start", str(request), "--wait", env=env)
    assert {order_id, "30000"} <= words(started)

    status = await amend_async("status", order_id, env=env)
    seen = words(status)
    assert {AMENDMENT, order_id, "PID_123"} <= seen
    # Per payment: the net change by this amendment, and what it holds now, from the raw records.
    [payment] = per_payment(harness.sim.store, order_id).values()
    holds = payment["capture"] - payment["refund"]
    assert "net change by this amendment" in " ".join(status.stdout.split())
    assert str(holds) in seen, status.stdout
    assert "+9800" in seen, status.stdout

    # The UI's current details say the same in words.
    handle = harness.client.get_workflow_handle(ids.workflow_id(order_id))
    metadata = await handle.query("__temporal_workflow_metadata")
    assert (
        f"- PID_123: net change by this amendment: refunded +9800; now on the order: holds "
        f"{holds} (captured {payment['capture']}, refunded {payment['refund']}), reserved 0"
    ) in metadata.current_details

    listed = await amend_async("list", env=env)
    run_id = (await handle.describe()).run_id
    assert {ids.workflow_id(order_id), AMENDMENT, run_id, "Completed"} <= words(listed)
