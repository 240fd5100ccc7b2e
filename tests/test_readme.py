"""The backend script runs as written wherever it is shown (the README and the documentation's
"Starting amendments from a backend"), against the dev server and the simulator."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import pytest

from tests.support.harness import Harness
from tests.support.paths import ROOT

SHOWN_IN = ("README.md", "docs/backend.md")


def backend_script(page: str) -> str:
    text = (ROOT / page).read_text(encoding="utf-8")
    match = re.search(r"```python\n(import asyncio.*?)```", text, re.S)
    assert match is not None, f"{page} lost its backend script"
    return match.group(1)


@pytest.mark.parametrize("page", SHOWN_IN)
async def test_the_backend_script_runs_as_written(
    harness: Harness, cli_env: dict[str, str], page: str
) -> None:
    # In a thread: the test's worker runs on this event loop.
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", backend_script(page)],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **cli_env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outcome, total, _ = done.stdout.split(" ", 2)
    assert (outcome, total) == ("applied", "59800")
