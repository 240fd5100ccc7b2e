"""The bad input catalogue: every invalid amendment, order, outcome and setting is refused with
an error naming the field, through the starter API and through the CLI, and the simulator
records no write at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from amendments import failures
from amendments.api.starter import place_order, send_authorization_outcome, start_amendment
from amendments.domain.errors import AmendmentRejected
from tests.support.bad_input import CATALOGUE, NEW
from tests.support.cli import amend_async
from tests.support.clients import make_client
from tests.support.harness import Harness
from tests.support.orders import CHAIR, item, rev
from tests.support.reliability import bounded


@pytest.fixture
async def orders(harness: Harness, served: tuple[object, str]) -> dict[str, str]:
    _, url = served
    main = await harness.place(item("A", 39800), item("B", 20000, quantity=2))
    await harness.amend(
        {"order_id": main, "amendment_id": "setup", "reverse": [rev(1)], "add": [item("C", 30000)]}
    )
    tiny = await harness.place(item("T", 2, quantity=3))
    closed = await harness.place(CHAIR)
    client = make_client(url)
    from amendments.dintero.models import DraftOrderCreate

    unplaced = []
    for _ in range(2):
        draft = await client.create_draft(
            DraftOrderCreate.model_validate(
                {
                    "options": {"generate_order_id": "ALPHANUMERIC_9"},
                    "order": {"currency": "NOK", "items": [{**CHAIR, "line_id": 1}]},
                }
            )
        )
        [order] = await client.complete_draft(draft.id)
        unplaced.append(order.order_id)
    await client.http.post(f"/v1/accounts/T12345678/shopping/orders/{unplaced[0]}/cancel")
    await client.http.post(f"/v1/accounts/T12345678/shopping/orders/{closed}/close")
    await client.aclose()
    return {
        "main": main,
        "tiny": tiny,
        "closed": closed,
        "cancelled": unplaced[0],
        "uncaptured": unplaced[1],
        "missing": "NOSUCHORD",
    }


def writes_since(harness: Harness, mark: int) -> list[str]:
    return [
        f"{r['method']} {r['path']}"
        for r in harness.sim.requests[mark:]
        if r["method"] in ("POST", "PUT") and not str(r["path"]).endswith("/auth/token")
    ]


async def refusal_via_starter(harness: Harness, request: dict[str, Any]) -> tuple[str, str]:
    try:
        handle = await start_amendment(harness.client, request, task_queue=harness.task_queue)
    except AmendmentRejected as exc:
        return exc.field, exc.reason
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == failures.AMENDMENT_REJECTED.name, cause
    details = cause.details[0]
    return details["field"], details["reason"]


async def test_every_bad_amendment_is_refused_before_any_write(
    harness: Harness,
    orders: dict[str, str],
    env: WorkflowEnvironment,
    served: tuple[object, str],
    tmp_path: Path,
) -> None:
    assert len(CATALOGUE) >= 25
    assert len({name for name, *_ in CATALOGUE}) == len(CATALOGUE)
    mark = harness.mark()
    for number, (name, order, fields, field) in enumerate(CATALOGUE):
        request = {"order_id": orders[order], "amendment_id": f"bad-{number}", **fields}
        named, reason = await refusal_via_starter(harness, request)
        assert named == field, (name, named, reason)
        assert reason, name

    _, url = served
    cli_env = {
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "TASK_QUEUE": harness.task_queue,
        "DINTERO_BASE_URL": url,
        "DINTERO_ACCOUNT_ID": "T12345678",
        "DINTERO_CLIENT_ID": "c",
        "DINTERO_CLIENT_SECRET": "s",
    }

    async def via_cli(number: int) -> tuple[str, int, Any, str]:
        name, order, fields, _ = CATALOGUE[number]
        path = tmp_path / f"bad-{number}.json"
        path.write_text(
            json.dumps({"order_id": orders[order], "amendment_id": f"cli-bad-{number}", **fields})
        )
        run = await amend_async("start", str(path), "--json", env=cli_env)
        return name, run.code, run.json() if run.stdout else None, run.stderr

    for name, code, document, stderr in await bounded(
        (via_cli(n) for n in range(len(CATALOGUE))), limit=4
    ):
        field = next(f for n, _, _, f in CATALOGUE if n == name)
        assert code == 1, (name, stderr)
        assert document["error"]["field"] == field, (name, document)
        assert "Traceback" not in stderr
    assert writes_since(harness, mark) == []


async def test_bad_orders_outcomes_and_settings_are_refused(
    harness: Harness, env: WorkflowEnvironment, tmp_path: Path
) -> None:
    mark = harness.mark()
    bad_orders: list[tuple[dict[str, Any], str]] = [
        ({"currency": "nok", "items": [CHAIR], "payment_id": "P"}, "currency"),
        ({"currency": "NOK", "items": [], "payment_id": "P"}, "items"),
        ({"currency": "NOK", "items": [CHAIR], "payment_id": ""}, "payment_id"),
        (
            {"currency": "NOK", "items": [{**CHAIR, "gross_amount": 0}], "payment_id": "P"},
            "items.0.gross_amount",
        ),
    ]
    cli_env = {
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "TASK_QUEUE": harness.task_queue,
    }
    for number, (order, field) in enumerate(bad_orders):
        with pytest.raises(AmendmentRejected) as caught:
            await place_order(harness.client, order, task_queue=harness.task_queue)
        assert caught.value.field == field
        path = tmp_path / f"order-{number}.json"
        path.write_text(json.dumps(order))
        run = await amend_async("place", str(path), "--json", env=cli_env)
        assert run.code == 1
        assert run.json()["error"]["field"] == field

    for outcome, field in (
        ({"payment_id": "P", "amount": 0, "success": True}, "amount"),
        ({"payment_id": "P", "amount": 5, "success": "yes"}, "success"),
        ({"payment_id": "", "amount": 5, "success": True}, "payment_id"),
    ):
        with pytest.raises(AmendmentRejected) as caught:
            await send_authorization_outcome(harness.client, "ANY", outcome)
        assert caught.value.field == field
    run = await amend_async(
        "authorize", "ANY", "--payment-id", "P", "--amount", "0", "--json", env=cli_env
    )
    assert run.code == 1
    assert run.json()["error"]["field"] == "amount"

    valid = json.dumps({"order_id": "ANY", "amendment_id": "a", "add": [NEW]})
    malformed = await amend_async(
        "plan",
        "-",
        stdin=valid,
        env={
            **cli_env,
            "DINTERO_ACCOUNT_ID": "12345678",
            "DINTERO_CLIENT_ID": "c",
            "DINTERO_CLIENT_SECRET": "s",
        },
    )
    assert malformed.code == 1
    assert "dintero_account_id" in malformed.stderr
    assert "T12345678" in malformed.stderr
    assert writes_since(harness, mark) == []
