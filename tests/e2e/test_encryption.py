"""Payload data stays private in Temporal, end to end: a real dev server, the simulator over a
socket, and `python worker.py` run with ENCRYPTION_KEYS. Amendments of every branch (even,
refund, top-up, reverted top-up, a write Dintero refuses) are run through an encrypted client; then:

- each raw history, read by a client without the codec, holds none of the order's product ids,
  descriptions, payment ids or Dintero's error text, in any payload or failure;
- `amend status` (with the key) and the starter API read the runs as usual;
- `temporal workflow show --codec-endpoint` through `amend codec-server`'s app shows them
  decoded, only with the bearer token;
- the histories replay with the keys rotated (key 2 in front, key 1 still listed), and not
  without key 1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from amendments.api.starter import (
    get_state,
    place_order,
    revert_amendment,
    send_authorization_outcome,
    start_amendment,
)
from amendments.domain import ids
from amendments.ops.codec_server import codec_app
from amendments.simulator import BackgroundServer, FaultRule, Simulator
from amendments.temporal.codec import data_converter
from tests.support.cli import amend_async
from tests.support.harness import PATIENCE, eventually
from tests.support.keys import KEY_1, KEY_2, ROTATED, keyring
from tests.support.processes import WorkerProcess
from workflows.amend import AmendOrder
from workflows.place import PlaceOrder

pytestmark = pytest.mark.timeout(600)

TEMPORAL = str(Path(sys.executable).with_name("temporal"))
TOKEN = "codec-token-for-tests"
PRODUCT, SWAP = "SECRET-SOFA-7781", "SECRET-CHAIR-9912"
DESCRIPTION = "A very private sofa"
ORIGINAL, TOP_UP = "PID-SECRET-ORIG", "PID-SECRET-TOPUP"
SECRETS = [PRODUCT, SWAP, DESCRIPTION, ORIGINAL, TOP_UP, "Injected failure"]


def line(product: str, gross: int) -> dict[str, Any]:
    return {
        "id": product,
        "quantity": 1,
        "gross_amount": gross,
        "tax_lines": [{"amount": gross // 5, "percentage": 25}],
        "description": DESCRIPTION,
    }


@pytest.fixture
async def encrypted(
    env: WorkflowEnvironment, served: tuple[Simulator, str], socket_sim: Simulator, tmp_path: Path
) -> AsyncIterator[tuple[Client, WorkerProcess]]:
    _, url = served
    worker = WorkerProcess(env, url, f"enc-{uuid.uuid4()}", tmp_path / "worker.log")
    worker.environment["ENCRYPTION_KEYS"] = KEY_1
    await worker.start()
    target = env.client.service_client.config.target_host
    client = await Client.connect(target, data_converter=data_converter(keyring(KEY_1)))
    try:
        yield client, worker
    finally:
        await worker.stop()
        worker.ensure_dead()


async def test_payloads_are_encrypted_and_still_read(
    encrypted: tuple[Client, WorkerProcess],
    env: WorkflowEnvironment,
    socket_sim: Simulator,
    tmp_path: Path,
) -> None:
    client, worker = encrypted
    queue = worker.environment["TASK_QUEUE"]
    connection_logged(worker)

    async def placed() -> str:
        order = await place_order(
            client,
            {"currency": "NOK", "items": [line(PRODUCT, 40000)], "payment_id": ORIGINAL},
            task_queue=queue,
        )
        return order.order_id

    def request(order_id: str, gross: int, **extra: Any) -> dict[str, Any]:
        return {
            "order_id": order_id,
            "amendment_id": f"enc-{gross}",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "customer"}],
            "add": [line(SWAP, gross)],
            **extra,
        }

    cheaper, even, dearer, undone, refused = [await placed() for _ in range(5)]
    for order_id, gross in ((cheaper, 30000), (even, 40000)):
        started = await start_amendment(client, request(order_id, gross), task_queue=queue)
        assert (await started.result()).outcome == "applied"
    handle = await start_amendment(client, request(dearer, 50000), task_queue=queue)
    outcome = {"payment_id": TOP_UP, "amount": 10000, "success": True}
    await send_authorization_outcome(client, dearer, outcome)
    assert (await handle.result()).outcome == "applied"
    handle = await start_amendment(client, request(undone, 50000), task_queue=queue)
    await send_authorization_outcome(client, undone, {**outcome, "amount": 4000})

    async def taken() -> bool | None:
        return bool((await get_state(client, undone)).outcomes) or None

    await eventually(taken, within=PATIENCE)
    assert (await revert_amendment(client, undone, {"reason": "customer"})).outcome == "reverted"
    socket_sim.add_faults([FaultRule(method="POST", path="*/captures", status=400, times=1)])
    handle = await start_amendment(client, request(refused, 30000), task_queue=queue)
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    # The raw histories: no secret in any payload or failure, read without the codec.
    raw = await Client.connect(env.client.service_client.config.target_host)
    histories: list[WorkflowHistory] = []
    async for execution in raw.list_workflows(f"TaskQueue = '{queue}'"):
        histories.append(await raw.get_workflow_handle(execution.id).fetch_history())
    assert len(histories) == 10
    for history in histories:
        stored = b"".join(event.SerializeToString() for event in history.events)
        assert b"binary/encrypted" in stored
        for secret in SECRETS:
            assert secret.encode() not in stored, (history.workflow_id, secret)

    # Read as usual with the key: the starter API and `amend status`.
    assert (await get_state(client, refused)).status == "Failed"
    cli_env = {
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "ENCRYPTION_KEYS": KEY_1,
    }
    status = await amend_async("status", cheaper, env=cli_env)
    assert status.code == 0, status.stderr
    assert "Completed" in status.stdout
    assert SWAP in status.stdout

    # The `temporal` CLI through the codec server: decoded with the token, refused without.
    app = codec_app(keyring(ROTATED), token=TOKEN, origins=[])
    with BackgroundServer(app) as codec_url:
        address = cli_env["TEMPORAL_ADDRESS"]
        base = [TEMPORAL, "workflow", "show", "-w", ids.workflow_id(cheaper), "--address", address,
                "--codec-endpoint", codec_url, "-o", "json"]  # fmt: skip
        shown = await run(*base, "--codec-auth", f"Bearer {TOKEN}")
        assert shown[0] == 0, shown[2]
        assert SWAP in decoded_text(shown[1])
        refused_codec = await run(*base)
        assert refused_codec[0] != 0 or SWAP not in decoded_text(refused_codec[1])

    # Rotation: replayed with key 2 in front and key 1 still listed; not without key 1.
    replayer = Replayer(
        workflows=[AmendOrder, PlaceOrder], data_converter=data_converter(keyring(ROTATED))
    )
    for history in histories:
        await replayer.replay_workflow(history)
    without = Replayer(
        workflows=[AmendOrder, PlaceOrder], data_converter=data_converter(keyring(KEY_2))
    )
    for history in histories[:2]:  # key 1's payloads cannot be read without key 1
        with pytest.raises(Exception, match="UnknownEncryptionKey"):
            await without.replay_workflow(history)


def connection_logged(worker: WorkerProcess) -> None:
    """The worker names its profile, address, namespace, auth mode and key id: never a key."""
    logged = worker.log_text()
    assert "payloads encrypted (key test-1)" in logged
    assert "profile default" in logged
    assert "auth none (plaintext)" in logged
    assert KEY_1.split(":")[1] not in logged


async def run(*command: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


def decoded_text(output: str) -> str:
    """The CLI's JSON, with every payload's base64 data decoded (the CLI prints payloads as
    Temporal's JSON: data in base64)."""
    found: list[str] = [output]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, str):
                try:
                    found.append(base64.b64decode(data).decode(errors="replace"))
                except ValueError:
                    found.append(data)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    with contextlib.suppress(ValueError):
        walk(json.loads(output))
    return "\n".join(found)
