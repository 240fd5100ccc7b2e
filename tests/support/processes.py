"""Workers as separate processes (`python worker.py`), to kill and restart them in tests."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.support.paths import WORKER


class WorkerProcess:
    def __init__(
        self, env: WorkflowEnvironment, simulator_url: str, task_queue: str, log: Path
    ) -> None:
        self.environment = {
            "PATH": os.environ.get("PATH", ""),
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "TASK_QUEUE": task_queue,
            "DINTERO_BASE_URL": simulator_url,
            "DINTERO_ACCOUNT_ID": "T12345678",
            "DINTERO_CLIENT_ID": "process-worker",
            "DINTERO_CLIENT_SECRET": "process-worker-secret",
            "DINTERO_TIMEOUT_SECONDS": "2",
        }
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        handle = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            WORKER,
            env=self.environment,
            cwd=self.log.parent,
            stdout=handle,
            stderr=handle,
        )
        handle.close()
        await self.wait_for_log("worker polling", count=self.starts)

    async def wait_for_log(self, text: str, count: int = 1, within: float = 60) -> None:
        """Until `text` appears `count` times in the log (the log spans restarts)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.log_text().count(text) < count:
            if loop.time() > deadline:
                raise TimeoutError(f"{text!r} not logged by the worker:\n{self.log_text()[-2000:]}")
            await asyncio.sleep(0.05)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def kill(self) -> None:
        """SIGKILL: no shutdown, in-flight activities are lost with the process."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    def ensure_dead(self) -> None:
        """Teardown: never leave a worker behind, whatever the test did."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()

    async def stop(self, within: float = 120) -> int:
        """SIGTERM, and the exit status once the worker has stopped (a generous bound: only a
        worker that never stops fails it)."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), timeout=within)
        return self.process.returncode or 0
