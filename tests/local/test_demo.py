"""`amend demo` (the README's first command) and `amend dev`, as a newcomer runs them."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from amendments import failures
from amendments.api.starter import place_order
from amendments.domain import ids
from amendments.local.stack import Ports
from amendments.simulator.server import free_port
from amendments.temporal.connection import DATA_CONVERTER
from tests.support.cli import amend_async
from tests.support.harness import eventually
from tests.support.orders import CHAIR
from tests.support.paths import EXAMPLES

# It starts its own Temporal dev server (and the local stack), one such test at a time.
pytestmark = [pytest.mark.temporal, pytest.mark.xdist_group("local-stack")]

DEV_FILES = {
    "dev.lock",
    "simulator.json",
    "temporal.db",
    "temporal.db-shm",
    "temporal.db-wal",
    "temporal.log",
}

AMEND = str(Path(sys.executable).with_name("amend"))


async def start_dev(
    tmp_path: Path, ports: Ports, *options: str
) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    proc = await asyncio.create_subprocess_exec(
        AMEND,
        "dev",
        "--json",
        *options,
        "--temporal-port",
        str(ports.temporal),
        "--ui-port",
        str(ports.ui),
        "--simulator-port",
        str(ports.simulator),
        "--metrics-port",
        str(free_port()),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    text = ""
    while not text.endswith("}\n"):
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
        assert line, (await proc.stderr.read()).decode() if proc.stderr else "no output"
        text += line.decode()
    return proc, json.loads(text)


def free_ports() -> Ports:
    return Ports(temporal=free_port(), ui=free_port(), simulator=free_port())


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(proc.wait(), timeout=60)
    assert proc.returncode == 0


async def test_dev_keeps_temporal_state_across_a_restart(tmp_path: Path) -> None:
    ports = free_ports()
    proc, endpoints = await start_dev(tmp_path, ports)
    try:
        assert endpoints["ui"] == f"http://127.0.0.1:{ports.ui}"
        client = await Client.connect(endpoints["temporal"], data_converter=DATA_CONVERTER)
        placed = await place_order(
            client,
            {"currency": "NOK", "items": [CHAIR], "payment_id": "PID_123"},
            workflow_id="place-survives-restart",
        )
        async with httpx.AsyncClient() as http:  # the printed metrics address serves metrics
            metrics_text = (await http.get(endpoints["metrics"])).text
    finally:
        await stop(proc)
    assert proc.stderr is not None
    logged = (await proc.stderr.read()).decode()
    assert f"order={placed.order_id} placed and captured" in logged  # the worker's own lines
    assert "temporal_worker_task_slots_available" in metrics_text
    proc, endpoints = await start_dev(tmp_path, ports)
    try:
        client = await Client.connect(endpoints["temporal"], data_converter=DATA_CONVERTER)
        handle = client.get_workflow_handle("place-survives-restart")
        assert (await handle.result())["order_id"] == placed.order_id
    finally:
        await stop(proc)


async def test_demo_plays_four_amendments_beside_a_running_dev_stack(tmp_path: Path) -> None:
    """The demo, run from the directory where `amend dev` runs, shares nothing with it: its own
    ports, its state in memory; `.amend/` holds only what the dev stack wrote."""
    proc, endpoints = await start_dev(tmp_path, free_ports())
    try:
        dev_order = await amend_async(
            "place", str(EXAMPLES / "order.json"), "--json", env=cli_env_of(endpoints)
        )
        assert dev_order.code == 0, dev_order.stderr
        kept = tmp_path / ".amend" / "simulator.json"
        kept_before = kept.read_text()
        run = await amend_async("demo", "--json", cwd=tmp_path, timeout=300)
        assert run.code == 0, run.stderr
        dev = await Client.connect(endpoints["temporal"], data_converter=DATA_CONVERTER)
        seen_by_dev = [w.id async for w in dev.list_workflows()]
    finally:
        await stop(proc)
    report = run.json()
    assert report["ok"] is True
    assert report["ledger_checks"] == "held"
    amendments = report["amendments"]
    assert [a["status"] for a in amendments] == ["Completed"] * 3 + ["Reverted"]
    assert [a["branch"] for a in amendments] == ["even", "refund", "top-up", "top-up"]
    # Reads 3 + draft 2 + records, + reads 3: the minimum for each branch, nothing repeated. The
    # revert adds its draft 2 and 5 records: the part paid taken back from the new line (2), then
    # refunded through a refund line (3).
    assert [a["dintero_calls"] for a in amendments] == [12, 13, 16, 17]
    assert all(
        a["ui_url"].startswith(
            f"{report['ui_url']}/namespaces/default/workflows/{ids.workflow_id(report['order_id'])}/"
        )
        for a in amendments
    )
    third = {
        x["line_id"]: (x["authorized"], x["captured"], x["refunded"])
        for x in amendments[2]["lines"]
    }
    assert [
        (o["payment_id"], o["amount"], o["disposition"]) for o in amendments[2]["outcomes"]
    ] == [
        ("PID_TOPUP_1", 18000, "recorded"),
        ("PID_TOPUP_2", 12000, "recorded"),
    ]
    assert third[6] == (9900, 9900, 9900)
    assert third[8] == (59900, 59900, 0)
    last = {
        x["line_id"]: (x["product_id"], x["authorized"], x["captured"], x["refunded"])
        for x in amendments[-1]["lines"]
    }
    assert last[9] == ("003930", 10000, 10000, 0)  # the extra chair, paid 10000 of 29900
    assert last[10] == ("003930", -10000, -10000, 0)  # its reversal takes it all back
    assert last[11] == ("amendment-refund", 10000, 10000, 10000)  # the part paid, refunded
    assert report["ui_url"] != endpoints["ui"]
    assert ids.workflow_id(report["order_id"]) not in seen_by_dev
    assert kept.read_text() == kept_before
    assert {p.name for p in (tmp_path / ".amend").iterdir()} <= DEV_FILES
    assert dev_order.json()["order_id"] in kept.read_text()


def cli_env_of(endpoints: dict[str, str]) -> dict[str, str]:
    """What an `amend` client needs to reach this dev stack (the account and credentials are
    the local defaults, as a newcomer's shell has none)."""
    return {"TEMPORAL_ADDRESS": endpoints["temporal"], "DINTERO_BASE_URL": endpoints["simulator"]}


async def status_of(order_id: str, env: dict[str, str]) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        seen = await amend_async("status", order_id, "--json", env=env)
        return seen.json() if seen.code == 0 else None

    return await eventually(probe)


async def test_a_waiting_amendment_survives_a_dev_restart_and_completes(tmp_path: Path) -> None:
    """The simulator keeps its orders in `.amend/simulator.json` as Temporal keeps its runs, so
    an amendment waiting for its top-up across a restart then completes (before: 404)."""
    ports = free_ports()
    proc, endpoints = await start_dev(tmp_path, ports)
    env = cli_env_of(endpoints)
    try:
        placed = await amend_async("place", str(EXAMPLES / "order.json"), "--json", env=env)
        assert placed.code == 0, placed.stderr
        order_id = placed.json()["order_id"]
        dearer = str(EXAMPLES / "dearer.json")
        started = await amend_async("start", dearer, "--order", order_id, env=env)
        assert started.code == 0, started.stderr
        first = await amend_async(
            "authorize", order_id, "--payment-id", "PID_TOP_1", "--amount", "12000", "--wait",
            env=env,
        )  # fmt: skip
        assert first.code == 0, first.stderr
        assert "top-up outstanding: 8100" in first.stdout
    finally:
        await stop(proc)
    assert order_id in (tmp_path / ".amend" / "simulator.json").read_text()

    proc, endpoints = await start_dev(tmp_path, ports)
    try:
        assert (await status_of(order_id, env))["status"] == "AwaitingTopUp"
        second = await amend_async(
            "authorize", order_id, "--payment-id", "PID_TOP_2", "--amount", "8100", "--wait",
            env=env,
        )  # fmt: skip
        assert second.code == 0, second.stderr
        done = await amend_async("start", dearer, "--order", order_id, "--json", env=env)
        assert done.code == 0, done.stderr
        result = done.json()["result"]
        assert (result["outcome"], result["total"]) == ("applied", 69900)

        again = await asyncio.create_subprocess_exec(
            AMEND, "dev", "--temporal-port", str(free_port()), "--ui-port", str(free_port()),
            "--simulator-port", str(free_port()), cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, errors = await asyncio.wait_for(again.communicate(), timeout=60)
        assert again.returncode == 1
        assert errors.decode().strip() == (
            f"error: .amend is in use by a running {failures.DEV} (pid {proc.pid}); stop it first, "
            "or run this one from another directory"
        )
    finally:
        await stop(proc)

    proc, endpoints = await start_dev(tmp_path, ports, "--fresh")
    try:
        gone = await amend_async("status", order_id, env=env)
        assert (gone.code, gone.stderr.strip()) == (
            1,
            f"error: no amendment of order {order_id} was found ({failures.list_hint()})",
        )
        async with httpx.AsyncClient(base_url=endpoints["simulator"]) as http:
            assert (await http.get("/_sim/state")).json() == {}
    finally:
        await stop(proc)


async def test_a_broken_simulator_state_file_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / ".amend").mkdir()
    (tmp_path / ".amend" / "simulator.json").write_text("{not json")
    ports = free_ports()
    broken = await amend_async(
        "dev", "--temporal-port", str(ports.temporal), "--ui-port", str(ports.ui),
        "--simulator-port", str(ports.simulator), cwd=tmp_path,
    )  # fmt: skip
    assert broken.code == 1
    assert broken.stderr.startswith("error: cannot read the simulator's state from ")
    assert failures.FRESH_START in broken.stderr
    assert (tmp_path / ".amend" / "simulator.json").read_text() == "{not json"  # left as it was


async def test_the_checkout_demo_moves_the_money_by_payment_link(tmp_path: Path) -> None:
    run = await amend_async(
        "demo", "--payments", "dintero-checkout", "--json", cwd=tmp_path, timeout=300
    )
    assert run.code == 0, run.stderr
    report = run.json()
    assert report["ok"] is True
    amendments = report["amendments"]
    assert [a["status"] for a in amendments] == ["Completed"] * 3 + ["Reverted"]
    moves = [[m.split(" on ")[0] for m in a["checkout_moves"]] for a in amendments]
    assert moves == [
        [],
        ["refund 9900"],
        ["capture 18000", "capture 12000"],
        [
            "capture 10000",
            "refund 10000",
        ],
    ]
    assert [len(a["payment_links"]) for a in amendments] == [0, 0, 2, 1]
    top_ups = [(o["amount"], o["disposition"]) for o in amendments[2]["outcomes"]]
    assert top_ups == [(18000, "recorded"), (12000, "recorded")]
    bad = await amend_async("demo", "--payments", "cash", cwd=tmp_path)
    assert (bad.code, bad.stderr.strip()) == (
        1,
        "error: --payments must be record-only or dintero-checkout, got 'cash'",
    )
