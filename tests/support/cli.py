"""Running `amend` as a user does: a subprocess with settings in its environment."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from amendments.local.devserver import temporal_binary

AMEND = str(Path(sys.executable).with_name("amend"))


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def amend(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    module: bool = False,
) -> Run:
    """`amend ARGS`; with `module`, `python -m amendments ARGS`, which imports the code in `cwd`
    first (a checkout of a release candidate runs its own code)."""
    program = [sys.executable, "-m", "amendments"] if module else [AMEND]
    environment = {"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1", "COLUMNS": "160"}
    environment.update(env or {})
    result = subprocess.run(
        [*program, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=cwd,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


async def amend_async(*args: str, **kwargs: Any) -> Run:
    """`amend` without blocking the event loop (tests run the worker on the same loop)."""
    return await asyncio.to_thread(amend, *args, **kwargs)


def temporal_start(
    env: WorkflowEnvironment, task_queue: str, workflow: str, workflow_id: str, *inputs: str
) -> None:
    command = [
        temporal_binary(),
        "workflow",
        "start",
        "--address",
        env.client.service_client.config.target_host,
        "--namespace",
        "default",
        "--task-queue",
        task_queue,
        "--type",
        workflow,
        "--workflow-id",
        workflow_id,
    ]
    for value in inputs:
        command += ["--input", value]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
