"""`python worker.py` as operators run it: settings from the environment, one log line per
step with order and amendment id, a clean stop on SIGTERM, a clear error on missing settings."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from amendments.api.starter import place_order, start_amendment
from amendments.domain import ids
from amendments.simulator import Simulator
from tests.support.orders import CHAIR, LUX
from tests.support.paths import WORKER


def worker_env(env: WorkflowEnvironment, url: str, task_queue: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": "default",
        "TASK_QUEUE": task_queue,
        "DINTERO_BASE_URL": url,
        "DINTERO_ACCOUNT_ID": "T12345678",
        "DINTERO_CLIENT_ID": "worker-test",
        "DINTERO_CLIENT_SECRET": "worker-test-secret",
    }


async def test_worker_runs_amendments_logs_steps_and_stops_on_sigterm(
    env: WorkflowEnvironment, served: tuple[Simulator, str], tmp_path: Path
) -> None:
    _, url = served
    task_queue = f"proc-{uuid.uuid4()}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        WORKER,
        cwd=tmp_path,
        env=worker_env(env, url, task_queue),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        placed = await place_order(
            env.client,
            {"currency": "NOK", "items": [CHAIR], "payment_id": "PID_123"},
            task_queue=task_queue,
        )
        handle = await start_amendment(
            env.client,
            {
                "order_id": placed.order_id,
                "amendment_id": "logged",
                "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
                "add": [LUX],
            },
            task_queue=task_queue,
        )
        await handle.result()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    log = stderr.decode()
    assert proc.returncode == 0, log
    steps = [
        line for line in log.splitlines() if f"order={placed.order_id} amendment=logged" in line
    ]
    expected = [
        "planning",
        "draft",
        "complete",
        ids.REVERSAL.record("authorization"),
        ids.REVERSAL.record("capture"),
    ]
    expected += [ids.COVERED.record("authorization"), ids.COVERED.record("capture"), "verify"]
    missing = [s for s in expected if not any(f"step={s}:" in line for line in steps)]
    assert missing == [], log
    assert "worker stopped" in log
    assert "worker-test-secret" not in log


def test_worker_names_missing_settings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, WORKER],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert (
        "missing setting(s): DINTERO_ACCOUNT_ID, DINTERO_CLIENT_ID, DINTERO_CLIENT_SECRET"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_worker_names_a_malformed_account_id(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, WORKER],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "DINTERO_ACCOUNT_ID": "12345678"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "dintero_account_id" in result.stderr
    assert "T12345678" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, WORKER],
        [str(Path(sys.executable).with_name("amend")), "worker"],
    ],
    ids=["python worker.py", "amend worker"],
)
def test_a_worker_without_credentials_refuses_to_start_the_same_way(
    tmp_path: Path, command: list[str]
) -> None:
    """No `.env`, no DINTERO_*: neither falls back to the local simulator."""
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "TEMPORAL_ADDRESS": "127.0.0.1:1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert (
        "missing setting(s): DINTERO_ACCOUNT_ID, DINTERO_CLIENT_ID, DINTERO_CLIENT_SECRET; "
        "a worker never falls back to the local simulator"
    ) in done.stderr
    assert "cannot reach Temporal" not in done.stderr  # refused before connecting
