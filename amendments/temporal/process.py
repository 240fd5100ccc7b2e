"""Leaving a process that used a Temporal client.

The SDK's Rust bridge keeps native threads that can call into Python while the interpreter is
finalizing, which aborts the process (`Fatal Python error: PyGILState_Release`, exit -6; see
temporalio/sdk-python issue 300). Entry points therefore flush their output and leave with
`os._exit` once all their work is done and every resource is closed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
