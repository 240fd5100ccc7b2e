"""Shared fixtures: a fresh simulator per test, in-process and over a socket, with clients; and
what happens when a test outlives its time limit (`timeout` in pyproject.toml, longer marks
where a test needs them): every asyncio task's and thread's stack is printed, the processes the
run started (the dev server, workers, CLI runs) are killed, and the run ends, so CI fails in
minutes with the place it hung."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import traceback
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from amendments.config import Settings
from amendments.dintero import DinteroClient
from amendments.local.devserver import DEV_SERVER_OPTIONS, temporal_binary
from amendments.simulator import BackgroundServer, Simulator
from amendments.simulator.server import free_port
from amendments.temporal.connection import DATA_CONVERTER, ensure_search_attributes
from amendments.worker.wiring import build_worker, dintero_client
from tests.support.clients import ACCOUNT, SECRET, make_client
from tests.support.harness import Harness
from tests.support.processes import WorkerProcess
from tests.support.runner import Runner


@pytest.fixture
def sim() -> Simulator:
    return Simulator()


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[DinteroClient]:
    client = make_client("http://dintero.test", httpx.ASGITransport(app=sim))
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def served() -> Iterator[tuple[Simulator, str]]:
    """One simulator served by uvicorn on a free port for the whole session."""
    simulator = Simulator()
    with BackgroundServer(simulator) as url:
        yield simulator, url


@pytest.fixture
def socket_sim(served: tuple[Simulator, str]) -> Simulator:
    simulator, _ = served
    simulator.reset()
    return simulator


@pytest.fixture
async def socket_client(
    served: tuple[Simulator, str], socket_sim: Simulator
) -> AsyncIterator[DinteroClient]:
    _, url = served
    client = make_client(url)
    yield client
    await client.aclose()


# --- Temporal: one real dev server per session --------------------------------------------


UI_PORT = free_port()
# Where the session dev server's UI decodes payloads (`amend codec-server`'s app, started by the
# test that needs it: tests/e2e/test_ui_browser.py); plain payloads pass through it unchanged.
CODEC_PORT = free_port()


@pytest.fixture(scope="session")
def codec_port() -> int:
    """Where the session dev server's UI looks for the codec server."""
    return CODEC_PORT


@pytest.fixture(scope="session")
def ui_url() -> str:
    """The session dev server's web UI."""
    return f"http://127.0.0.1:{UI_PORT}"


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_local(
        data_converter=DATA_CONVERTER,
        dev_server_existing_path=temporal_binary(),
        dev_server_log_level="error",
        dev_server_extra_args=[
            *DEV_SERVER_OPTIONS,
            "--ui-codec-endpoint",
            f"http://127.0.0.1:{CODEC_PORT}",
        ],
        ui=True,
        ui_port=UI_PORT,
    )
    await ensure_search_attributes(environment.client, "default")
    yield environment
    await environment.shutdown()


@pytest.fixture
async def harness(
    env: WorkflowEnvironment, served: tuple[Simulator, str], socket_sim: Simulator
) -> AsyncIterator[Harness]:
    """A worker on a fresh task queue, its activities calling the simulator over a socket."""
    _, url = served
    settings = Settings(
        _env_file=None,
        dintero_base_url=url,
        dintero_account_id=ACCOUNT,
        dintero_client_id="client-1",
        dintero_client_secret=SECRET,
        dintero_timeout_seconds=2,
    )
    dintero = dintero_client(settings)
    task_queue = f"tq-{uuid.uuid4()}"
    async with build_worker(env.client, dintero, task_queue, on_fatal_error=worker_failed):
        yield Harness(env.client, socket_sim, task_queue)
    await dintero.aclose()


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """Worker processes (`python worker.py`) a test starts; killed at teardown if still running."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.ensure_dead()


WORKER_FAILURES: list[str] = []


async def worker_failed(error: BaseException) -> None:
    """A test's worker stopped on a fatal error: the test itself only sees its waits go
    unanswered, so the time-limit report names the error."""
    WORKER_FAILURES.append("".join(traceback.format_exception(error)))


@pytest.fixture
def cli_env(
    env: WorkflowEnvironment, served: tuple[Simulator, str], harness: Harness
) -> dict[str, str]:
    """The settings an `amend` process needs to reach this test's dev server, task queue and
    simulator (over its socket)."""
    _, url = served
    return {
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "TASK_QUEUE": harness.task_queue,
        "DINTERO_BASE_URL": url,
        "DINTERO_ACCOUNT_ID": ACCOUNT,
        "DINTERO_CLIENT_ID": "cli",
        "DINTERO_CLIENT_SECRET": "cli-secret",
    }


@pytest.fixture(params=["cli", "raw"])
def runner(
    request: pytest.FixtureRequest,
    harness: Harness,
    raw: Client,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> Runner:
    return Runner(str(request.param), harness, raw, cli_env, tmp_path)


@pytest.fixture
async def raw(env: WorkflowEnvironment) -> Client:
    """A client with the SDK's default data converter, as a backend in any language has: it
    speaks the plain JSON contract, not the product's own converter or starter API."""
    return await Client.connect(env.client.service_client.config.target_host, namespace="default")


# --- a test that outlives its time limit ----------------------------------------------------

SESSION_LOOP: list[asyncio.AbstractEventLoop] = []


@pytest.fixture(scope="session", autouse=True)
async def _session_loop() -> None:
    """The event loop every test runs in, for the time-limit report."""
    SESSION_LOOP.append(asyncio.get_running_loop())


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """pytest-timeout's thread method, with the asyncio tasks' stacks and the child processes'
    end first (its own dump of the threads follows, then `os._exit(1)`)."""
    if settings.method != "thread":
        return None
    import pytest_timeout

    def expired() -> None:
        report_tasks(item)
        kill_children()
        pytest_timeout.timeout_timer(item, settings)

    timer = threading.Timer(settings.timeout, expired)
    timer.name = f"time limit {item.nodeid}"
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # pytest-timeout's protocol
    timer.start()
    return True


def report_tasks(item: pytest.Item) -> None:
    """Where every asyncio task of the session's loop was waiting (read from this thread: the
    loop itself may be the one that is stuck)."""
    out = sys.__stderr__ or sys.stderr
    for failure in WORKER_FAILURES:
        out.write(f"\n+++ a test's worker stopped on a fatal error:\n{failure}")
    out.write(f"\n+++ {item.nodeid} outlived its time limit; asyncio tasks:\n")
    for loop in SESSION_LOOP:
        for _ in range(3):  # the set of tasks may change while it is read
            try:
                tasks = list(asyncio.all_tasks(loop))
                break
            except RuntimeError:
                continue
        else:
            tasks = []
        for task in tasks:
            out.write(f"--- {task.get_name()}: {task.get_coro()!r}\n")
            for frame in task.get_stack():
                out.write("".join(traceback.format_stack(frame, limit=1)))
    out.flush()


def kill_children() -> None:
    """SIGKILL every process this one started, and theirs (read from /proc), so that none
    outlives the run holding CI's output open."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], list(parents.get(os.getpid(), []))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(parents.get(pid, []))
    for pid in found:
        with contextlib.suppress(OSError):  # it ended meanwhile
            os.kill(pid, signal.SIGKILL)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that takes the session's dev server (`env`, directly or through another
    fixture) needs a Temporal server: it is marked so, and `-m "not temporal"` leaves it out."""
    for item in items:
        if "env" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.temporal)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reliability")
    group.addoption(
        "--storm-size", type=int, default=200, help="amendments in the fault storm (default 200)"
    )
    group.addoption(
        "--storm-seed", type=int, default=2026, help="seed of the storm's fault odds (default 2026)"
    )
