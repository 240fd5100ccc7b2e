"""Replay determinism: stored histories of every branch replay against today's workflows with
the product's data converter; a change in the order of activities is caught by the replayer.
Refresh the histories with `python -m tests.support.record_histories` (see that module)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from activities.dintero import DinteroActivities
from activities.models import PlanRequest, VerifyInput
from amendments import failures
from amendments.domain.models import AmendmentResult, AmendOrderInput
from amendments.temporal.codec import data_converter
from amendments.temporal.connection import DATA_CONVERTER
from tests.support.keys import ROTATED, keyring
from tests.support.paths import HISTORIES as DIRECTORY
from tests.support.record_histories import BRANCHES, LEGACY
from tests.support.record_histories import ENCRYPTED as ENCRYPTED_BRANCHES
from workflows.amend import AmendOrder
from workflows.place import PlaceOrder

FILES = sorted(DIRECTORY.glob("*.json"))


def history(path: Path) -> WorkflowHistory:
    document = json.loads(path.read_text())
    return WorkflowHistory.from_json(document["workflow_id"], document["history"])


def test_every_branch_is_recorded() -> None:
    names = {path.stem for path in FILES}
    assert set(BRANCHES) | {f"place_{b}" for b in BRANCHES} | set(LEGACY) == names


def test_a_legacy_timeout_still_fails_when_replayed() -> None:
    """Recorded before a timeout could revert: replayed today it must take the same path (the
    `workflow.patched` marker is absent from its history), ending in `TopUpTimeout`."""
    events = history(DIRECTORY / "legacy_top_up_timeout.json").events
    failed = events[-1].workflow_execution_failed_event_attributes
    assert failed.failure.application_failure_info.type == failures.TOP_UP_TIMEOUT.name
    assert not any(e.HasField("marker_recorded_event_attributes") for e in events)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=[AmendOrder, PlaceOrder], data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(history(path))


ENCRYPTED = sorted((DIRECTORY / "encrypted").glob("*.json"))


def test_every_encrypted_branch_is_recorded() -> None:
    names = {path.stem for path in ENCRYPTED}
    assert names == set(ENCRYPTED_BRANCHES) | {f"place_{b}" for b in ENCRYPTED_BRANCHES}


@pytest.mark.parametrize("path", ENCRYPTED, ids=[p.stem for p in ENCRYPTED])
async def test_an_encrypted_history_replays_after_a_key_rotation(path: Path) -> None:
    """Recorded with key 1 only; replayed with key 2 in front and key 1 still listed. Its
    payloads are sealed: the plain converter cannot read them."""
    stored = b"".join(event.SerializeToString() for event in history(path).events)
    assert b"PID_123" not in stored  # the order's payment id, in every recorded run
    rotated = Replayer(
        workflows=[AmendOrder, PlaceOrder], data_converter=data_converter(keyring(ROTATED))
    )
    await rotated.replay_workflow(history(path))
    plain = Replayer(workflows=[AmendOrder, PlaceOrder], data_converter=DATA_CONVERTER)
    with pytest.raises(Exception, match=r"binary/encrypted|Encoded failure|encoding"):
        await plain.replay_workflow(history(path))


@workflow.defn(name="AmendOrder", sandboxed=False)  # a test double defined beside pytest imports
class ReorderedAmendOrder(AmendOrder):
    """AmendOrder with one change: it verifies the ledger before creating the draft."""

    @workflow.run
    async def run(self, *payload: Any) -> AmendmentResult:
        return await super().run(*payload)

    async def _amend(self, request: AmendOrderInput) -> AmendmentResult:
        plan = PlanRequest(amendment=request)
        await self.writes.call(DinteroActivities.plan_amendment, plan, "plan")
        self.status = "Applying"
        self._publish()  # as the real workflow does; only the next activity differs
        return await self.writes.call(
            DinteroActivities.verify_ledger,
            VerifyInput(order_id=request.order_id, amendment_id=request.amendment_id),
            "verify first",
        )


async def test_a_reordered_workflow_is_caught() -> None:
    replayer = Replayer(workflows=[ReorderedAmendOrder], data_converter=DATA_CONVERTER)
    with pytest.raises(NondeterminismError, match=r"Nondeterminism.*verify_ledger"):
        await replayer.replay_workflow(history(DIRECTORY / "even.json"))
