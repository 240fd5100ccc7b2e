"""`amend simulator` serves the simulator as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from amendments.simulator.server import free_port

AMEND = str(Path(sys.executable).with_name("amend"))


def test_amend_simulator_serves_dintero_paths() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [AMEND, "simulator", "--port", str(port), "--client-id", "c", "--client-secret", "s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
        body = {"grant_type": "client_credentials", "audience": f"{base}/v1/accounts/T12345678"}
        refused = httpx.post(f"{base}/v1/accounts/T12345678/auth/token", auth=("c", "x"), json=body)
        assert refused.status_code == 401
        token = httpx.post(f"{base}/v1/accounts/T12345678/auth/token", auth=("c", "s"), json=body)
        assert token.status_code == 200
        drafts = httpx.get(
            f"{base}/v1/accounts/T12345678/shopping/draft_orders",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        assert drafts.json() == {"draft_orders": []}
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_simulator_flags_are_checked() -> None:
    result = subprocess.run(
        [AMEND, "simulator", "--client-id", "only-one"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "go together" in result.stderr
    assert "Traceback" not in result.stderr
