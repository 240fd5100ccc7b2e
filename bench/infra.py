"""The benchmark's processes: the Temporal dev server, the simulator, the product's worker, the
naive peer's worker and the floor worker, each its own process (so their memory can be read),
all on this machine."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
from pydantic import SecretStr
from temporalio.client import Client

from amendments.dintero import DinteroClient, build_http
from amendments.local.devserver import dev_server_options, temporal_binary, wait_for_temporal
from amendments.simulator import DEMO_ACCOUNT_ID
from amendments.simulator.server import free_port
from amendments.temporal.connection import ensure_search_attributes

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_QUEUE = "bench-amendments"
FLOOR_QUEUE = "bench-floor"
NAIVE_QUEUE = "bench-naive"


def memory_kib(pid: int, field_name: str) -> int:
    """VmRSS (resident now) or VmHWM (peak resident) of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise KeyError(field_name)


def children(pid: int) -> list[int]:
    listing = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in listing.read_text().split()] if listing.exists() else []


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads) and its children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK") + sum(cpu_seconds(c) for c in children(pid))


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (the dev server runs as one process)."""
    return memory_kib(pid, "VmRSS") + sum(tree_rss_kib(c) for c in children(pid))


@dataclass
class Infra:
    logs: Path
    simulator_only: bool = False  # no Temporal, no workers: for measuring the HTTP client alone
    # The dev server shares its task queues fairly by fairness key (`matching.enableFairness`,
    # as every dev server the product starts does), or not (fairness mode's comparison).
    fairness: bool = True
    # More merchant accounts the worker serves (DINTERO_ACCOUNTS_FILE), beside the demo's one.
    accounts: tuple[str, ...] = ()
    peers: bool = True  # the naive peer's and the floor's workers (throughput mode compares)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Absolute: every process runs in it, and the worker reads the accounts file from there.
        self.logs = self.logs.resolve()
        self.temporal_port = free_port()
        self.simulator_port = free_port()
        self.simulator_url = f"http://127.0.0.1:{self.simulator_port}"
        self.client: Client | None = None

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}",
            "TASK_QUEUE": PRODUCT_QUEUE,
            "DINTERO_BASE_URL": self.simulator_url,
            "DINTERO_ACCOUNT_ID": DEMO_ACCOUNT_ID,
            "DINTERO_CLIENT_ID": "bench",
            "DINTERO_CLIENT_SECRET": "bench-secret",
            "PYTHONPATH": str(ROOT),  # bench/ is not an installed package
            **({"DINTERO_ACCOUNTS_FILE": str(self.accounts_file)} if self.accounts else {}),
        }

    @property
    def accounts_file(self) -> Path:
        return self.logs / "accounts.toml"

    def spawn(self, name: str, *command: str, metrics: bool = False) -> None:
        """A process logging to `logs/NAME.log`; a worker (`metrics`) serves the SDK's metrics
        on a port of its own, as the product's worker does in production."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{name}.log").open("wb")
        environment = self.environment()
        if metrics:
            self.metrics_ports[name] = free_port()
            environment["METRICS_BIND_ADDRESS"] = f"127.0.0.1:{self.metrics_ports[name]}"
        self.processes[name] = subprocess.Popen(  # noqa: S603 - our own programs, fixed arguments
            list(command), stdout=log, stderr=log, env=environment, cwd=self.logs
        )

    async def counters(self, name: str, *names: str) -> dict[str, float]:
        """The named counters a worker's metrics endpoint shows now, summed over their labels."""
        url = f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"
        async with httpx.AsyncClient(timeout=30) as http:
            text = (await http.get(url)).text
        totals = dict.fromkeys(names, 0.0)
        for line in text.splitlines():
            metric, _, value = line.partition(" ")
            family = metric.split("{", 1)[0]
            if family in totals:
                totals[family] += float(value)
        return totals

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each process, and of this one (the driver)."""
        used = {name: cpu_seconds(process.pid) for name, process in self.processes.items()}
        times = os.times()
        return {**used, "driver": times.user + times.system}

    async def __aenter__(self) -> Infra:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)  # never leave processes behind
            raise
        return self

    async def _start(self) -> None:
        self.spawn(
            "simulator",
            str(Path(sys.executable).with_name("amend")),
            "simulator",
            "--port",
            str(self.simulator_port),
        )
        if self.simulator_only:
            await self._wait_http(f"{self.simulator_url}/healthz")
            return
        self.spawn(
            "temporal",
            temporal_binary(),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.temporal_port),
            "--log-level",
            "error",
            *dev_server_options(matching__enableFairness=self.fairness),
        )
        self.client = await wait_for_temporal(
            f"127.0.0.1:{self.temporal_port}", process=self.processes["temporal"]
        )
        await ensure_search_attributes(self.client, "default")
        await self._wait_http(f"{self.simulator_url}/healthz")
        if self.accounts:
            self.logs.mkdir(parents=True, exist_ok=True)
            self.accounts_file.write_text(
                "".join(
                    f'[accounts.{aid}]\nclient_id = "bench-{aid}"\nclient_secret = "bench"\n'
                    for aid in self.accounts
                )
            )
        self.spawn("worker", sys.executable, str(ROOT / "worker.py"), metrics=True)
        await self._wait_log("worker", "worker polling")
        if self.peers:
            self.spawn("floor", sys.executable, "-m", "bench.floor", FLOOR_QUEUE, metrics=True)
            self.spawn("naive", sys.executable, "-m", "bench.naive", NAIVE_QUEUE, metrics=True)
            await self._wait_log("floor", "floor worker polling")
            await self._wait_log("naive", "naive worker polling")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    async def _wait_http(self, url: str) -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    if (await http.get(url)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{url} did not answer")

    async def _wait_log(self, name: str, text: str) -> None:
        for _ in range(600):
            if text in (self.logs / f"{name}.log").read_text(errors="replace"):
                return
            if self.processes[name].poll() is not None:
                raise RuntimeError(
                    f"{name} exited: {(self.logs / f'{name}.log').read_text()[-2000:]}"
                )
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{name} did not start")

    def dintero(
        self, max_connections: int = 200, account_id: str = DEMO_ACCOUNT_ID
    ) -> DinteroClient:
        http = build_http(
            base_url=self.simulator_url,
            account_id=account_id,
            client_id="bench-driver",
            client_secret=SecretStr("bench"),
            max_connections=max_connections,
        )
        return DinteroClient(http, account_id)

    async def calls_since(self, since: int) -> tuple[int, int]:
        """(API calls without token requests, log length) since a mark in the simulator's log."""
        async with httpx.AsyncClient(base_url=self.simulator_url, timeout=60) as http:
            log = (await http.get("/_sim/requests", params={"since": since})).json()
        calls = sum(1 for r in log if not r["path"].endswith("/auth/token"))
        return calls, since + len(log)
