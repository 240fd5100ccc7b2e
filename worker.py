"""The worker: `python worker.py` (or `amend worker`) runs PlaceOrder and AmendOrder.

Settings come from the environment and `.env` (TEMPORAL_*, TASK_QUEUE, DINTERO_* with
DINTERO_ACCOUNTS_FILE for several merchants, and METRICS_BIND_ADDRESS,
OTEL_EXPORTER_OTLP_ENDPOINT, LOG_FORMAT to watch it run). One `httpx.AsyncClient` per Dintero
account serves every activity; the product's search attributes are registered on the
namespace if missing; SIGINT or SIGTERM stops polling, lets running activities finish, and exits.
The worker is put together in `amendments/worker/wiring.py`; this file is only its entry point.
"""

from __future__ import annotations

import asyncio

from amendments.config import SettingsError, load_settings
from amendments.render import console
from amendments.temporal.process import exit_now
from amendments.worker.telemetry import configure_logging
from amendments.worker.wiring import serve_until_signalled


def main() -> int:
    try:
        settings = load_settings(local_defaults=False)
        configure_logging(settings.log_format)
        settings.accounts()  # refused before connecting, naming what is missing or wrong
        asyncio.run(serve_until_signalled(settings))
    except (SettingsError, ValueError) as exc:
        console.note(f"worker: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    exit_now(main())
