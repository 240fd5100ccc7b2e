"""The raw contract, driven as a foreign backend would: `AmendOrder` and `PlaceOrder` started with
the SDK's default JSON converter and with `temporal workflow start`, never through the starter API.

Every invalid input closes the run as Failed at once with a non-retryable `AmendmentRejected`
(`OrderRejected`) naming the field in the starter API's own words, without a single Dintero
call and without one failed workflow task (no retry loop); a valid raw start runs to the end.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from amendments import failures
from amendments.api.starter import parse_amendment, parse_order
from amendments.domain import ids
from amendments.domain.errors import AmendmentRejected
from tests.support.cli import temporal_start
from tests.support.harness import PATIENCE, Harness
from tests.support.orders import CHAIR, LUX, item

NEW = item("N", 10000)
ORDER = "K3X9QZ1AB"


def amendment(**fields: Any) -> dict[str, Any]:
    return {
        "order_id": ORDER,
        "amendment_id": "raw-1",
        "reverse": [{"line_id": 1, "quantity": None, "reason": "r"}],
        **fields,
    }


# (name, raw input, field named)
BAD_AMENDMENTS: list[tuple[str, Any, str]] = [
    ("empty amendment", {"order_id": ORDER, "amendment_id": "a"}, "reverse"),
    ("string amount", amendment(add=[{**NEW, "gross_amount": "100"}]), "add.0.gross_amount"),
    ("float amount", amendment(add=[{**NEW, "gross_amount": 100.5}]), "add.0.gross_amount"),
    ("missing order_id", {"amendment_id": "a", "add": [NEW]}, "order_id"),
    ("unknown field", amendment(priority="high"), "priority"),
    ("negative timeout", amendment(top_up_timeout_seconds=-5), "top_up_timeout_seconds"),
    ("unknown timeout policy", amendment(on_top_up_timeout="wait"), "on_top_up_timeout"),
    (
        "tax above gross",
        amendment(add=[{**NEW, "tax_lines": [{"amount": 10001, "percentage": 25}]}]),
        "add.0.tax_lines",
    ),
    ("a string", "amend order K3X9QZ1AB", "input"),
    ("a list", [amendment()], "input"),
    ("a number", 42, "input"),
    ("null", None, "input"),
]


def rejection_of(payload: Any, parse: Any) -> AmendmentRejected:
    with pytest.raises(AmendmentRejected) as caught:
        parse(payload)
    return caught.value


async def closed_failure(handle: WorkflowHandle[Any, Any]) -> ApplicationError:
    """The run's failure once it has closed, checked to have closed as Failed without a single
    failed workflow task."""
    with pytest.raises(WorkflowFailureError) as caught:
        await asyncio.wait_for(handle.result(), PATIENCE)
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    types = [event.event_type async for event in handle.fetch_history_events()]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in types
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.non_retryable
    return cause


@pytest.mark.parametrize(
    ("name", "payload", "field"), BAD_AMENDMENTS, ids=[b[0] for b in BAD_AMENDMENTS]
)
async def test_a_bad_raw_start_fails_at_once_naming_the_field(
    harness: Harness, raw: Client, name: str, payload: Any, field: str
) -> None:
    expected = rejection_of(payload, parse_amendment)
    assert expected.field == field
    mark = harness.mark()
    handle = await raw.start_workflow(
        "AmendOrder",
        payload,
        id=ids.workflow_id(f"raw-{uuid.uuid4()}"),
        task_queue=harness.task_queue,
    )
    cause = await closed_failure(handle)
    assert cause.type == failures.AMENDMENT_REJECTED.name
    assert cause.message == str(expected)  # the starter API's own words
    assert cause.details[0] == {"field": field, "reason": expected.reason}
    assert harness.calls(mark) == []
    attributes = {k.name: v for k, v in (await handle.describe()).typed_search_attributes}
    assert attributes.get("AmendmentStatus") == "Failed"


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        ((), "no input was sent; AmendOrder takes one JSON object"),
        ((amendment(add=[NEW]), amendment(add=[NEW])), "expected one argument, got 2"),
    ],
    ids=["no argument", "two arguments"],
)
async def test_a_raw_start_with_the_wrong_number_of_arguments_fails_at_once(
    harness: Harness, raw: Client, inputs: tuple[Any, ...], reason: str
) -> None:
    mark = harness.mark()
    handle = await raw.start_workflow(
        "AmendOrder",
        args=inputs,
        id=ids.workflow_id(f"raw-{uuid.uuid4()}"),
        task_queue=harness.task_queue,
    )
    cause = await closed_failure(handle)
    assert (cause.type, cause.message) == (failures.AMENDMENT_REJECTED.name, f"input: {reason}")
    assert harness.calls(mark) == []


@pytest.mark.parametrize(
    ("name", "payload", "field"),
    [BAD_AMENDMENTS[0], BAD_AMENDMENTS[1], BAD_AMENDMENTS[4], BAD_AMENDMENTS[8]],
    ids=["empty", "string amount", "unknown field", "a string"],
)
async def test_a_bad_start_from_the_temporal_cli_fails_at_once(
    env: WorkflowEnvironment, harness: Harness, raw: Client, name: str, payload: Any, field: str
) -> None:
    expected = rejection_of(payload, parse_amendment)
    workflow_id = ids.workflow_id(f"cli-{uuid.uuid4()}")
    mark = harness.mark()
    temporal_start(env, harness.task_queue, "AmendOrder", workflow_id, json.dumps(payload))
    cause = await closed_failure(raw.get_workflow_handle(workflow_id))
    assert (cause.type, cause.message) == (failures.AMENDMENT_REJECTED.name, str(expected))
    assert harness.calls(mark) == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"currency": "NOK", "items": [], "payment_id": "P"}, "items"),
        ({"currency": "nok", "items": [NEW], "payment_id": "P"}, "currency"),
        ({"currency": "NOK", "items": [{**NEW, "quantity": 0}], "payment_id": "P"}, "items.0"),
        ("an order", "input"),
    ],
    ids=["no items", "lower-case currency", "zero quantity", "a string"],
)
async def test_a_bad_raw_place_order_fails_at_once(
    harness: Harness, raw: Client, payload: Any, field: str
) -> None:
    expected = rejection_of(payload, parse_order)
    assert expected.field.startswith(field)
    mark = harness.mark()
    handle = await raw.start_workflow(
        "PlaceOrder", payload, id=f"place-raw-{uuid.uuid4()}", task_queue=harness.task_queue
    )
    cause = await closed_failure(handle)
    assert (cause.type, cause.message) == (failures.ORDER_REJECTED.name, str(expected))
    assert harness.calls(mark) == []


async def test_valid_raw_starts_run_to_the_end(
    env: WorkflowEnvironment, harness: Harness, raw: Client
) -> None:
    placed = await raw.execute_workflow(
        "PlaceOrder",
        {"currency": "NOK", "items": [CHAIR], "payment_id": "PID_RAW"},
        id=f"place-raw-{uuid.uuid4()}",
        task_queue=harness.task_queue,
    )
    order_id = placed["order_id"]
    request = {
        "order_id": order_id,
        "amendment_id": "raw-swap",
        "reverse": [{"line_id": 1, "quantity": None, "reason": "Swap"}],
        "add": [LUX],
    }
    result = await raw.execute_workflow(
        "AmendOrder", request, id=ids.workflow_id(order_id), task_queue=harness.task_queue
    )
    assert (result["outcome"], result["total"]) == ("applied", 39800)
    # The same contract from the Temporal CLI: a second, even amendment of the same order.
    request = {**request, "amendment_id": "cli-swap", "reverse": [{"line_id": 3, "reason": "r"}]}
    temporal_start(
        env, harness.task_queue, "AmendOrder", ids.workflow_id(order_id), json.dumps(request)
    )
    handle = raw.get_workflow_handle(ids.workflow_id(order_id))
    result = await asyncio.wait_for(handle.result(), PATIENCE)
    assert result["outcome"] == "applied"
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


PYDANTIC_WORDS = re.compile(
    r"Input should|String should|Field required|Extra inputs|Tuple should|List should|"
    r"valid dictionary|Value error"
)


def test_no_refusal_speaks_pydantic() -> None:
    """Every refusal a person reads is in the product's words: the raw inputs above and the whole
    bad-input catalogue (those refused by the input model itself)."""
    from tests.support.bad_input import CATALOGUE

    payloads = [payload for _, payload, _ in BAD_AMENDMENTS]
    payloads += [
        {"order_id": ORDER, "amendment_id": "a", **fields} for _, _, fields, _ in CATALOGUE
    ]
    reasons = []
    for payload in payloads:
        try:
            parse_amendment(payload)
        except AmendmentRejected as exc:
            reasons.append(str(exc))
    assert len(reasons) >= len(BAD_AMENDMENTS)
    assert [r for r in reasons if PYDANTIC_WORDS.search(r)] == []
    for order in ({"currency": "NOK", "items": [], "payment_id": "P"}, {"currency": 5}):
        assert not PYDANTIC_WORDS.search(str(rejection_of(order, parse_order)))
