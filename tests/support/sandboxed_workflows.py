"""Workflows that try what a workflow must not do, for `tests/workflows/test_sandbox.py`. A module
of their own so the worker's runner treats them exactly as it treats the product's workflow
modules."""

from __future__ import annotations

import datetime
import random
import time
from collections.abc import Callable

from temporalio import workflow
from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError

FORBIDDEN: dict[str, Callable[[], object]] = {
    "datetime.now": lambda: datetime.datetime.now(tz=datetime.UTC),
    "random.random": random.random,
    "time.time": time.time,
    "open": lambda: open("/etc/hostname").read(),  # noqa: SIM115 - the forbidden call
}


@workflow.defn(name="TriesForbidden")
class TriesForbidden:
    @workflow.run
    async def run(self, call: str) -> str:
        try:
            FORBIDDEN[call]()
        except RestrictedWorkflowAccessError:
            return "refused"
        return "allowed"
