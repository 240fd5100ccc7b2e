"""`amend demo` (the README's main job) and `amend dev`, as a newcomer runs them."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from temporalio.client import Client

from amendments.connection import DATA_CONVERTER
from amendments.local.stack import Ports
from amendments.simulator.server import free_port
from amendments.starter import place_order
from tests.cli import amend_async
from tests.harness import CHAIR

AMEND = str(Path(sys.executable).with_name("amend"))


async def test_demo_plays_four_amendments_with_the_minimum_calls(tmp_path: Path) -> None:
    run = await amend_async("demo", "--json", cwd=tmp_path, timeout=300)
    assert run.code == 0, run.stderr
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
        a["ui_url"].startswith(report["ui_url"] + "/namespaces/default/workflows/amend-")
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
    assert (tmp_path / ".amend" / "temporal.db").is_file()


async def start_dev(
    tmp_path: Path, ports: Ports
) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    proc = await asyncio.create_subprocess_exec(
        AMEND,
        "dev",
        "--json",
        "--temporal-port",
        str(ports.temporal),
        "--ui-port",
        str(ports.ui),
        "--simulator-port",
        str(ports.simulator),
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


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(proc.wait(), timeout=60)
    assert proc.returncode == 0


async def test_dev_keeps_temporal_state_across_a_restart(tmp_path: Path) -> None:
    ports = Ports(temporal=free_port(), ui=free_port(), simulator=free_port())
    proc, endpoints = await start_dev(tmp_path, ports)
    try:
        assert endpoints["ui"] == f"http://127.0.0.1:{ports.ui}"
        client = await Client.connect(endpoints["temporal"], data_converter=DATA_CONVERTER)
        placed = await place_order(
            client,
            {"currency": "NOK", "items": [CHAIR], "payment_id": "PID_123"},
            workflow_id="place-survives-restart",
        )
    finally:
        await stop(proc)
    assert proc.stderr is not None
    logged = (await proc.stderr.read()).decode()
    assert f"order={placed.order_id} placed and captured" in logged  # the worker's own lines
    proc, endpoints = await start_dev(tmp_path, ports)
    try:
        client = await Client.connect(endpoints["temporal"], data_converter=DATA_CONVERTER)
        handle = client.get_workflow_handle("place-survives-restart")
        assert (await handle.result())["order_id"] == placed.order_id
    finally:
        await stop(proc)
