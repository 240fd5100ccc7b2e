"""Running `amend` as a user does: a subprocess with settings in its environment."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AMEND = str(Path(sys.executable).with_name("amend"))


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def amend(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> Run:
    environment = {"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1", "COLUMNS": "160"}
    environment.update(env or {})
    result = subprocess.run(
        [AMEND, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=cwd,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


async def amend_async(*args: str, **kwargs: Any) -> Run:
    """`amend` without blocking the event loop (tests run the worker on the same loop)."""
    return await asyncio.to_thread(amend, *args, **kwargs)
