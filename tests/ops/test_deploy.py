"""Releasing new worker code while amendments wait (`amend deploy`), on a real dev server with
real processes: workers are `python worker.py` run as builds of a worker deployment, with payloads
encrypted, and `amend deploy` runs as a release pipeline runs it.

- v1 current, 10 amendments waiting for their top-ups: `deploy check` replays 10 of 10 (not
  without the codec key); a release candidate (a copy of the code whose `AmendOrder` starts a
  timer at its very start, unpatched), run as `python -m amendments` from its checkout, names
  all 10 and exits 1.
- v2 promoted: an order being placed when it happened ends on v1 (pinned), and v1 shows draining
  until it has; new amendments run on v2; the 10 waiting amendments move to v2 at their top-ups
  (auto-upgrade) and end with exact ledgers, per payment; v1 then shows drained.
- a ramp of 50% splits new amendments between v1 and v2; a rollback sends them all to v1 again;
  a promotion refused (no pollers, a ramp out of range, no deployment) says what it checked.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import VersioningBehavior
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from amendments.api.starter import (
    get_state,
    place_order,
    send_authorization_outcome,
    start_amendment,
)
from amendments.domain import ids
from amendments.simulator import FaultRule, Simulator
from amendments.simulator.server import free_port
from amendments.temporal.codec import data_converter
from tests.support.cli import Run, amend_async
from tests.support.harness import eventually
from tests.support.keys import KEY_1, keyring
from tests.support.paths import ROOT
from tests.support.processes import WorkerProcess
from tests.support.reliability import AID, Case, bounded, case, problems_with

pytestmark = pytest.mark.timeout(900)

WAITING = 10
AUTO_UPGRADE = VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE
PINNED = VersioningBehavior.VERSIONING_BEHAVIOR_PINNED


@dataclass
class Release:
    """One worker deployment on its own task queue, its workers, and `amend deploy` for it."""

    env: WorkflowEnvironment
    url: str
    sim: Simulator
    client: Client  # with the codec, as the workers have
    tmp: Path
    started: list[WorkerProcess]
    deployment: str = field(default_factory=lambda: f"amendments-{uuid.uuid4().hex[:8]}")
    task_queue: str = field(default_factory=lambda: f"release-{uuid.uuid4()}")

    def settings(self) -> dict[str, str]:
        return {
            "TEMPORAL_ADDRESS": self.env.client.service_client.config.target_host,
            "TASK_QUEUE": self.task_queue,
            "TEMPORAL_DEPLOYMENT_NAME": self.deployment,
            "ENCRYPTION_KEYS": KEY_1,
            "DINTERO_BASE_URL": self.url,
            "DINTERO_ACCOUNT_ID": AID,
            "DINTERO_CLIENT_ID": "cli",
            "DINTERO_CLIENT_SECRET": "cli-secret",
        }

    async def worker(self, build: str, **settings: str) -> WorkerProcess:
        worker = WorkerProcess(self.env, self.url, self.task_queue, self.tmp / f"{build}.log")
        worker.environment.update(
            TEMPORAL_DEPLOYMENT_NAME=self.deployment,
            TEMPORAL_WORKER_BUILD_ID=build,
            ENCRYPTION_KEYS=KEY_1,
            **settings,
        )
        self.started.append(worker)
        await worker.start()
        return worker

    async def deploy(self, *args: str, **kwargs: Any) -> Run:
        env = {**self.settings(), **kwargs.pop("env", {})}
        return await amend_async("deploy", *args, env=env, **kwargs)

    async def status(self) -> dict[str, Any]:
        shown = await self.deploy("status", "--json")
        assert shown.code == 0, shown.stderr
        return dict(shown.json())

    async def version(self, build: str) -> dict[str, Any]:
        [version] = [v for v in (await self.status())["versions"] if v["build_id"] == build]
        return dict(version)

    async def place(self, planned: Case, workflow_id: str | None = None) -> str:
        placed = await place_order(
            self.client,
            {"currency": "NOK", "items": list(planned.items), "payment_id": "PID_123"},
            task_queue=self.task_queue,
            workflow_id=workflow_id,
        )
        return placed.order_id

    async def amend(self, planned: Case, order_id: str, amendment_id: str) -> str:
        handle = await start_amendment(
            self.client, planned.request(order_id, amendment_id), task_queue=self.task_queue
        )
        return handle.id

    async def ran_on(self, workflow_id: str) -> tuple[str, int]:
        """The build an execution's last workflow task ran on, and its versioning behavior."""
        described = await self.client.get_workflow_handle(workflow_id).describe()
        info = described.raw_description.workflow_execution_info.versioning_info
        return info.deployment_version.build_id, info.behavior


@pytest.fixture
async def release(
    env: WorkflowEnvironment,
    served: tuple[Simulator, str],
    socket_sim: Simulator,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> Release:
    _, url = served
    target = env.client.service_client.config.target_host
    client = await Client.connect(target, data_converter=data_converter(keyring(KEY_1)))
    return Release(env, url, socket_sim, client, tmp_path, workers)


def candidate(tmp: Path) -> Path:
    """A checkout of a release whose `AmendOrder` starts a timer first thing, unpatched: it
    cannot replay a history recorded by the code before it."""
    checkout = tmp / "candidate"
    for room in ("amendments", "workflows", "activities"):
        shutil.copytree(ROOT / room, checkout / room, ignore=shutil.ignore_patterns("__pycache__"))
    source = checkout / "workflows" / "amend.py"
    text = source.read_text()
    start = "    async def run(self, *payload: Any) -> AmendmentResult:\n"
    assert text.count(start) == 2  # AmendOrder's, and the versioned subclass's
    first = text.index(start) + len(start)
    source.write_text(
        text[:first] + "        await workflow.sleep(timedelta(seconds=1))\n" + text[first:]
    )
    return checkout


async def check_json(release: Release, *args: str) -> dict[str, Any]:
    done = await release.deploy("check", *args, "--json")
    assert done.code == 0, done.stderr
    return dict(done.json())


async def routed(release: Release, *args: str) -> dict[str, Any]:
    done = await release.deploy(*args, "--json")
    assert done.code == 0, done.stderr
    found: dict[str, Any] = done.json()
    return found


async def waiting_on_v1(release: Release) -> tuple[list[Case], list[str], list[str]]:
    """v1 current and 10 amendments waiting for their top-ups on it: the cases, the orders and
    the workflow ids."""
    v1 = await release.worker("v1")
    assert f"as build v1 of deployment {release.deployment}" in v1.log_text()
    assert await routed(release, "promote", "v1") == {
        "current": "v1",
        "ramping": None,
        "ramp_percentage": 0.0,
        "before": None,
        "changed": True,
    }
    again = await release.deploy("promote", "v1")
    assert again.code == 0, again.stderr
    assert "already so, nothing changed: current: v1" in again.stdout

    batch = [case("top-up", n) for n in range(WAITING)]
    order_ids = await bounded((release.place(c) for c in batch), limit=WAITING)
    workflow_ids = [await release.amend(c, order_ids[n], f"wait-{n}") for n, c in enumerate(batch)]
    for order_id in order_ids:

        async def waiting(order_id: str = order_id) -> bool | None:
            state = await get_state(release.client, order_id)
            return True if state.status == "AwaitingTopUp" else None

        await eventually(waiting)
    assert {await release.ran_on(w) for w in workflow_ids} == {("v1", AUTO_UPGRADE)}
    return batch, order_ids, workflow_ids


async def check_before_release(
    release: Release, order_ids: list[str], workflow_ids: list[str]
) -> None:
    """The same code replays all of them (not without the codec key); a release candidate that
    would break them, run from its own checkout, names each and exits 1."""
    checked = await release.deploy("check", "--json")
    assert checked.code == 0, checked.stderr
    assert checked.json() == {"checked": WAITING, "failed": []}
    blind = await release.deploy("check", "--json", env={"ENCRYPTION_KEYS": ""})
    assert blind.code == 1
    assert len(blind.json()["failed"]) == WAITING

    checkout = candidate(release.tmp)
    broken = await release.deploy("check", "--json", cwd=checkout, module=True)
    assert broken.code == 1, broken.stderr
    report = broken.json()
    assert report["checked"] == WAITING
    assert sorted(f["workflow_id"] for f in report["failed"]) == sorted(workflow_ids)
    assert {f["order_id"] for f in report["failed"]} == set(order_ids)
    assert all(
        f["error"].startswith("[TMPRL1100] Nondeterminism error: ") for f in report["failed"]
    ), report
    told = await release.deploy("check", cwd=checkout, module=True)
    assert told.code == 1
    assert f"0 of {WAITING} amendments in flight replay against this code" in told.stdout
    assert all(order_id in told.stdout for order_id in order_ids)


async def promote_while_placing(release: Release) -> None:
    """v2 promoted while an order is being placed on v1 (its draft cannot be completed yet):
    v1 is draining, and the placement ends where it began, on v1 (pinned)."""
    release.sim.add_faults([FaultRule(method="PUT", path="*/complete", status=503)])
    mark = len(release.sim.requests)
    placement = ids.place_workflow_id()
    placing = asyncio.ensure_future(release.place(case("even", 0), placement))

    async def held() -> bool | None:
        return True if any(r["status"] == 503 for r in release.sim.requests[mark:]) else None

    await eventually(held)
    await release.worker("v2")
    assert await routed(release, "promote", "v2") == {
        "current": "v2",
        "ramping": None,
        "ramp_percentage": 0.0,
        "before": "v1",
        "changed": True,
    }
    old = await release.version("v1")
    assert old["status"] == "draining"
    assert old["amendments"] == WAITING  # their last task ran on v1; they move at their next
    shown = await release.deploy("status")
    assert "v1 is draining: keep its workers until it shows drained" in shown.stdout

    release.sim.faults.clear()
    await asyncio.wait_for(placing, timeout=240)
    assert await release.ran_on(placement) == ("v1", PINNED)


async def test_release_while_amendments_wait(release: Release) -> None:
    batch, order_ids, workflow_ids = await waiting_on_v1(release)
    await check_before_release(release, order_ids, workflow_ids)
    await promote_while_placing(release)

    # New amendments run on v2.
    even = case("even", 1)
    fresh = await release.place(even)
    fresh_id = await release.amend(even, fresh, "fresh")
    await release.client.get_workflow_handle(fresh_id).result()
    assert (await release.ran_on(fresh_id))[0] == "v2"
    assert problems_with(release.sim, fresh, "fresh", even) == []

    # The waiting amendments receive their top-ups and complete on v2, with exact ledgers.
    for n, c in enumerate(batch):
        for payment_id, amount, success in c.outcomes:
            await send_authorization_outcome(
                release.client,
                order_ids[n],
                {"payment_id": payment_id, "amount": amount, "success": success},
            )
    for workflow_id in workflow_ids:
        result = await asyncio.wait_for(
            release.client.get_workflow_handle(workflow_id).result(), timeout=240
        )
        assert result["outcome"] == "applied"
    assert {await release.ran_on(w) for w in workflow_ids} == {("v2", AUTO_UPGRADE)}
    problems = [
        p
        for n, c in enumerate(batch)
        for p in problems_with(release.sim, order_ids[n], f"wait-{n}", c)
    ]
    assert problems == []

    # v1 drains; then its workers may stop.
    async def drained() -> dict[str, Any] | None:
        version = await release.version("v1")
        return version if version["status"] == "drained" else None

    gone = await eventually(drained, within=240)
    assert gone["amendments"] == 0
    assert (await release.version("v2"))["status"] == "current"
    [v1, _] = release.started
    assert await v1.stop() == 0

    # Nothing is in flight now; `--since` checks the closed ones too, `--limit` the newest.
    assert (await check_json(release)) == {"checked": 0, "failed": []}
    closed = await release.client.count_workflows(f"TaskQueue = '{release.task_queue}'")
    assert closed.count == 2 * WAITING + 3  # each placed and amended, and two more placed
    assert (await check_json(release, "--since", "1h")) == {"checked": closed.count, "failed": []}
    assert (await check_json(release, "--since", "1h", "--limit", "5"))["checked"] == 5


@pytest.mark.timeout(600)
async def test_ramp_then_roll_back(release: Release) -> None:
    await release.worker("v1")
    await routed(release, "promote", "v1")
    await release.worker("v2")
    assert await routed(release, "promote", "v2", "--ramp", "50") == {
        "current": "v1",
        "ramping": "v2",
        "ramp_percentage": 50.0,
        "before": "v1",
        "changed": True,
    }
    status = await release.status()
    assert (status["current"], status["ramping"], status["ramp_percentage"]) == ("v1", "v2", 50)

    async def amend_some(prefix: str, count: int) -> list[str]:
        planned = case("even", 3)
        orders = await bounded((release.place(planned) for _ in range(count)), limit=10)
        started = [await release.amend(planned, o, f"{prefix}-{n}") for n, o in enumerate(orders)]
        for workflow_id in started:
            await asyncio.wait_for(
                release.client.get_workflow_handle(workflow_id).result(), timeout=240
            )
        assert [
            p
            for n, o in enumerate(orders)
            for p in problems_with(release.sim, o, f"{prefix}-{n}", planned)
        ] == []
        return [(await release.ran_on(w))[0] for w in started]

    # Half of the new amendments, by workflow id, go to v2.
    builds = await amend_some("ramped", 20)
    assert set(builds) == {"v1", "v2"}, builds

    # A rollback ends the ramp: all new amendments go to v1.
    back = await routed(release, "rollback")
    assert (back["current"], back["ramping"], back["changed"]) == ("v1", None, True)
    assert set(await amend_some("after", 6)) == {"v1"}

    # Promoted in full and rolled back: v1, current before v2, is current again.
    await routed(release, "promote", "v2")
    assert set(await amend_some("promoted", 4)) == {"v2"}
    back = await routed(release, "rollback")
    assert (back["current"], back["before"]) == ("v1", "v2")
    assert set(await amend_some("rolled-back", 4)) == {"v1"}


async def test_promotion_refused_says_what_it_checked(release: Release) -> None:
    absent = await release.deploy("status")
    assert absent.code == 1
    assert f"no worker deployment {release.deployment!r}" in absent.stderr
    port = free_port()
    await release.worker("v1", METRICS_BIND_ADDRESS=f"127.0.0.1:{port}")
    await routed(release, "promote", "v1")

    # Its metrics say which version it is.
    async with httpx.AsyncClient() as http:

        async def labelled() -> str | None:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            return text if "temporal_" in text else None

        metrics = await eventually(labelled)
    series = [line for line in metrics.splitlines() if line.startswith("temporal_")]
    assert series
    assert all(
        f'deployment_name="{release.deployment}"' in line and 'build_id="v1"' in line
        for line in series
    ), series[:3]

    nobody = await release.deploy("promote", "v9", "--wait-for-pollers", "1s")
    assert nobody.code == 1
    assert "version v9" in nobody.stderr
    assert "has no pollers" in nobody.stderr
    assert "checked for 1 s" in nobody.stderr

    for ramp in ("0", "100", "150"):
        refused = await release.deploy("promote", "v1", "--ramp", ramp)
        assert refused.code == 1
        assert "ramp: must be a percentage above 0 and below 100" in refused.stderr

    alone = await release.deploy("rollback")
    assert alone.code == 1
    assert "nothing to roll back to" in alone.stderr
    assert (await release.status())["current"] == "v1"


async def test_turning_versioning_on_while_amendments_wait(release: Release) -> None:
    """The workers were unversioned (as before this feature); amendments wait on them. Versioned
    workers start and their build is promoted: the waiting amendments move to it at their
    top-ups, and the unversioned workers can stop once `deploy status` counts none on them."""
    plain = WorkerProcess(release.env, release.url, release.task_queue, release.tmp / "plain.log")
    plain.environment["ENCRYPTION_KEYS"] = KEY_1
    release.started.append(plain)
    await plain.start()
    assert "as an unversioned worker (no TEMPORAL_WORKER_BUILD_ID)" in plain.log_text()
    batch = [case("top-up", n) for n in range(3)]
    order_ids = await bounded((release.place(c) for c in batch), limit=3)
    workflow_ids = [await release.amend(c, order_ids[n], f"on-{n}") for n, c in enumerate(batch)]
    for order_id in order_ids:

        async def waiting(order_id: str = order_id) -> bool | None:
            state = await get_state(release.client, order_id)
            return True if state.status == "AwaitingTopUp" else None

        await eventually(waiting)
    assert {(await release.ran_on(w))[0] for w in workflow_ids} == {""}

    await release.worker("v1")
    assert (await routed(release, "promote", "v1"))["before"] is None
    status = await release.status()
    assert status["unversioned_amendments"] == len(batch)
    assert await plain.stop() == 0

    for n, c in enumerate(batch):
        for payment_id, amount, success in c.outcomes:
            await send_authorization_outcome(
                release.client,
                order_ids[n],
                {"payment_id": payment_id, "amount": amount, "success": success},
            )
    for workflow_id in workflow_ids:
        result = await asyncio.wait_for(
            release.client.get_workflow_handle(workflow_id).result(), timeout=240
        )
        assert result["outcome"] == "applied"
    assert {(await release.ran_on(w))[0] for w in workflow_ids} == {"v1"}
    problems = [
        p
        for n, c in enumerate(batch)
        for p in problems_with(release.sim, order_ids[n], f"on-{n}", c)
    ]
    assert problems == []
    assert (await release.status())["unversioned_amendments"] == 0
