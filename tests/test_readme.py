"""The README's backend script runs as written, against the dev server and the simulator."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.harness import Harness

ROOT = Path(__file__).resolve().parent.parent


def backend_script() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Starting amendments from a backend", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "the README lost its backend script"
    return match.group(1)


async def test_the_readme_backend_script_runs_as_written(
    harness: Harness, cli_env: dict[str, str]
) -> None:
    # In a thread: the test's worker runs on this event loop.
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", backend_script()],
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
