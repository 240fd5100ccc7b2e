"""Workers as separate processes: killed with SIGKILL mid-flight, two on one task queue, and a
Dintero outage. Every amendment completes and every record exists exactly once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from amendments.api.starter import send_authorization_outcome, start_amendment
from amendments.simulator import FaultRule, Simulator
from tests.support.harness import Harness, eventually
from tests.support.processes import WorkerProcess
from tests.support.reliability import Case, bounded, cases, problems_with


async def run_all(
    client: object,
    task_queue: str,
    sim: Simulator,
    batch: list[Case],
    order_ids: list[str],
    prefix: str,
) -> asyncio.Future[list[None]]:
    from temporalio.client import Client

    assert isinstance(client, Client)

    async def amend(index: int) -> None:
        c, order_id = batch[index], order_ids[index]
        handle = await start_amendment(
            client, c.request(order_id, f"{prefix}-{index}"), task_queue=task_queue
        )
        for payment_id, amount, success in c.outcomes:
            await send_authorization_outcome(
                client, order_id, {"payment_id": payment_id, "amount": amount, "success": success}
            )
        await handle.result()

    return asyncio.ensure_future(bounded((amend(i) for i in range(len(batch))), limit=len(batch)))


def all_problems(sim: Simulator, batch: list[Case], order_ids: list[str], prefix: str) -> list[str]:
    return [
        p for i, c in enumerate(batch) for p in problems_with(sim, order_ids[i], f"{prefix}-{i}", c)
    ]


def finished_steps(sim: Simulator, since: int = 0) -> int:
    return sum(
        1 for r in sim.requests[since:] if r["method"] in ("POST", "PUT") and r["status"] == 200
    )


async def until_writes(sim: Simulator, count: int, since: int = 0) -> None:
    async def probe() -> bool | None:
        return True if finished_steps(sim, since) >= count else None

    await eventually(probe, within=120)


async def test_worker_killed_twice_mid_flight(
    env: WorkflowEnvironment,
    served: tuple[Simulator, str],
    socket_sim: Simulator,
    harness: Harness,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    _, url = served
    batch = cases(50)
    order_ids = await bounded(
        (harness.place(*c.items, capture=c.captured) for c in batch), limit=25
    )
    # Slow every call so that the amendments are still in flight when the worker dies.
    socket_sim.add_faults([FaultRule(path="*", latency_ms=150)])
    task_queue = f"crash-{uuid.uuid4()}"
    worker = WorkerProcess(env, url, task_queue, tmp_path / "worker.log")
    workers.append(worker)
    await worker.start()
    done = await run_all(env.client, task_queue, socket_sim, batch, order_ids, "crash")
    for _ in range(2):
        # Well into the batch, with writes in flight, the worker dies.
        await until_writes(socket_sim, finished_steps(socket_sim) + 40)
        await worker.kill()
        await worker.start()
    socket_sim.faults.clear()
    await asyncio.wait_for(done, timeout=240)
    assert await worker.stop() == 0
    assert all_problems(socket_sim, batch, order_ids, "crash") == []
    assert worker.starts == 3


async def test_two_workers_share_the_queue_and_either_may_die(
    env: WorkflowEnvironment,
    served: tuple[Simulator, str],
    socket_sim: Simulator,
    harness: Harness,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    _, url = served
    batch = cases(40)
    order_ids = await bounded(
        (harness.place(*c.items, capture=c.captured) for c in batch), limit=20
    )
    socket_sim.add_faults([FaultRule(path="*", latency_ms=100)])
    task_queue = f"pair-{uuid.uuid4()}"
    first = WorkerProcess(env, url, task_queue, tmp_path / "first.log")
    second = WorkerProcess(env, url, task_queue, tmp_path / "second.log")
    workers += [first, second]
    await asyncio.gather(first.start(), second.start())
    mark = len(socket_sim.requests)
    done = await run_all(env.client, task_queue, socket_sim, batch, order_ids, "pair")
    await until_writes(socket_sim, 150, since=mark)
    # Both took work before one of them dies.
    assert "step=" in first.log_text()
    assert "step=" in second.log_text()
    await first.kill()
    socket_sim.faults.clear()
    await asyncio.wait_for(done, timeout=240)
    assert await second.stop() == 0
    assert all_problems(socket_sim, batch, order_ids, "pair") == []


async def test_an_outage_delays_but_loses_nothing(socket_sim: Simulator, harness: Harness) -> None:
    batch = cases(20)
    order_ids = await bounded(
        (harness.place(*c.items, capture=c.captured) for c in batch), limit=20
    )
    socket_sim.add_faults([FaultRule(path="*", status=503)])
    mark = harness.mark()
    done = await run_all(harness.client, harness.task_queue, socket_sim, batch, order_ids, "outage")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.sleep(8)  # retries at 0.2, 0.4, 0.8, 1.6, 3.2 s... all answered 503
    refused = [r for r in socket_sim.requests[mark:] if r["status"] == 503]
    assert not done.done()
    assert len(refused) >= 20 * 5  # every amendment retried through several intervals
    socket_sim.faults.clear()
    await asyncio.wait_for(done, timeout=120)
    recovery = loop.time() - began - 8
    assert all_problems(socket_sim, batch, order_ids, "outage") == []
    print(
        f"\noutage: {len(refused)} requests refused over 8 s; all 20 completed "
        f"{recovery:.1f} s after recovery"
    )


@pytest.mark.parametrize("read", ["plan", "verify"])
async def test_worker_killed_mid_read(
    env: WorkflowEnvironment,
    served: tuple[Simulator, str],
    socket_sim: Simulator,
    harness: Harness,
    tmp_path: Path,
    workers: list[WorkerProcess],
    read: str,
) -> None:
    """The reads run as local activities, inside the workflow task: a worker SIGKILLed while
    one waits on Dintero loses the task; the next worker runs the read again and the amendment
    completes, every record written once."""
    _, url = served
    [case] = cases(1)
    [order_id] = [await harness.place(*case.items, capture=case.captured)]
    task_queue = f"mid-read-{uuid.uuid4()}"
    worker = WorkerProcess(env, url, task_queue, tmp_path / "worker.log")
    workers.append(worker)
    await worker.start()
    mark = len(socket_sim.requests)
    # The read is slow: GET order answers after 5 s (the plan's, or the check's: `after` lets the
    # plan's read through when the verify is the one to hit).
    after = 0 if read == "plan" else 1
    socket_sim.add_faults(
        [FaultRule(method="GET", path=f"*/orders/{order_id}", latency_ms=5000, after=after,
                   times=1)]
    )  # fmt: skip
    handle = await start_amendment(
        env.client, case.request(order_id, f"mid-read-{read}"), task_queue=task_queue
    )
    for payment_id, amount, success in case.outcomes:
        await send_authorization_outcome(
            env.client, order_id, {"payment_id": payment_id, "amount": amount, "success": success}
        )

    async def slow_read_begun() -> bool | None:
        return (
            True if any(r.get("fault") == "latency" for r in socket_sim.requests[mark:]) else None
        )

    await eventually(slow_read_begun, within=60)
    await worker.kill()
    await worker.start()
    await asyncio.wait_for(handle.result(), timeout=120)
    assert await worker.stop() == 0
    assert problems_with(socket_sim, order_id, f"mid-read-{read}", case) == []
    reads = [
        r
        for r in socket_sim.requests[mark:]
        if r["method"] == "GET" and r["path"].endswith(f"/orders/{order_id}")
    ]
    assert len(reads) >= 3  # plan, the read cut short, its retry (and the check)
