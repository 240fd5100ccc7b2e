"""`examples/`: an order and one amendment request per branch, as docs/operating.md uses them.
Each validates against its JSON Schema in `schemas/` (the contract a backend in any language
reads), and each runs end to end through the `amend` CLI against the dev server."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from tests.support.cli import amend_async
from tests.support.harness import Harness
from tests.support.paths import ROOT

EXAMPLES = ROOT / "examples"
SCHEMAS = ROOT / "schemas"
# branch, and what the order's total becomes (the placed order is 49800)
BRANCHES = {
    "even-swap": ("even", 49800),
    "refund": ("refund", 39900),
    "dearer": ("top-up", 69900),
    "partial-quantity": ("refund", 47300),
    "multi-line": ("top-up", 59800),
}
TOP_UPS = {"dearer": [("PID_TOP_1", 12000), ("PID_TOP_2", 8100)], "multi-line": [("PID_T", 10000)]}


def load(name: str) -> Any:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def test_every_example_is_listed_and_valid_against_its_schema() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.json")} == {"order", *BRANCHES}
    jsonschema.validate(load("order"), json.loads((SCHEMAS / "place_order_input.json").read_text()))
    schema = json.loads((SCHEMAS / "amend_order_input.json").read_text())
    for name in BRANCHES:
        jsonschema.validate(load(name), schema)


@pytest.mark.parametrize("name", list(BRANCHES))
async def test_each_example_runs_through_the_cli(
    harness: Harness, cli_env: dict[str, str], name: str
) -> None:
    placed = await amend_async("place", str(EXAMPLES / "order.json"), "--json", env=cli_env)
    assert placed.code == 0, placed.stderr
    order_id = placed.json()["order_id"]
    request = str(EXAMPLES / f"{name}.json")
    plan = await amend_async("plan", request, "--order", order_id, "--json", env=cli_env)
    assert plan.code == 0, plan.stderr
    branch, total = BRANCHES[name]
    planned = plan.json()
    refund, top_up = planned["refund_amount"], planned["top_up_amount"]
    assert ("refund" if refund else "top-up" if top_up else "even") == branch
    started = await amend_async("start", request, "--order", order_id, env=cli_env)
    assert started.code == 0, started.stderr
    for payment_id, amount in TOP_UPS.get(name, []):
        await harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
        sent = await amend_async(
            "authorize",
            order_id,
            "--payment-id",
            payment_id,
            "--amount",
            str(amount),
            "--wait",
            env=cli_env,
        )
        assert sent.code == 0, sent.stderr
    done = await amend_async("start", request, "--order", order_id, "--json", env=cli_env)
    assert done.code == 0, done.stderr
    result = done.json()["result"]
    assert (done.json()["existing"], result["outcome"], result["total"]) == (
        "completed",
        "applied",
        total,
    )
