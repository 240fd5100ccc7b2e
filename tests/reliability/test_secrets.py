"""Secrets stay secret: the client secret, its Basic-auth form and every access token appear in
no workflow history (fetched as JSON), no log line and no error message."""

from __future__ import annotations

import base64
import logging

import pytest
from pydantic import SecretStr
from temporalio.client import WorkflowFailureError

from amendments.simulator import FaultRule, Simulator
from tests.support.clients import SECRET
from tests.support.harness import Harness
from tests.support.orders import CHAIR, item


async def test_secrets_never_reach_history_logs_or_errors(
    harness: Harness, socket_sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    runs = []
    order_id = await harness.place(CHAIR)
    runs.append(
        await harness.start(
            {
                "order_id": order_id,
                "amendment_id": "ok",
                "reverse": [{"line_id": 1, "quantity": None, "reason": "r"}],
                "add": [item("X", 30000)],
            }
        )
    )
    await runs[-1].result()

    # A failing amendment: Dintero refuses a capture.
    failing = await harness.place(CHAIR)
    socket_sim.add_faults([FaultRule(method="POST", path="*/captures", status=400, times=1)])
    runs.append(
        await harness.start(
            {
                "order_id": failing,
                "amendment_id": "bad",
                "reverse": [{"line_id": 1, "quantity": None, "reason": "r"}],
                "add": [item("X", 39800)],
            }
        )
    )
    messages = []
    with pytest.raises(WorkflowFailureError) as caught:
        await runs[-1].result()
    messages.append(str(caught.value.cause))

    # Dintero refuses the credentials themselves (a fixed pair that is not ours).
    tokens = socket_sim.tokens
    tokens.client_id, tokens.client_secret = "someone-else", SecretStr("x")
    socket_sim.expire_tokens()
    try:
        runs.append(
            await harness.start(
                {"order_id": order_id, "amendment_id": "refused", "add": [item("Y", 100)]}
            )
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await runs[-1].result()
        messages.append(str(caught.value.cause))
    finally:
        tokens.client_id, tokens.client_secret = None, None
    assert "refused the client credentials" in messages[-1]

    secrets = [
        SECRET.get_secret_value(),
        base64.b64encode(f"client-1:{SECRET.get_secret_value()}".encode()).decode(),
        *socket_sim.issued_tokens(),
    ]
    assert len(secrets) >= 3
    histories = [await handle.fetch_history() for handle in runs]
    texts = [history.to_json() for history in histories] + messages + [caplog.text]
    assert caplog.text, "no log lines were captured"
    for text in texts:
        for secret in secrets:
            assert secret not in text
