"""A worker, put together and watched: the workflows, the activities, the Dintero client and the
payments adapter wired onto a task queue (`wiring`), its workflow-task slots (`tuning`), and its
metrics endpoint, traces and log lines (`telemetry`). The one floor of the Temporal side that
imports the workflows; `python worker.py`, `amend worker`, the local stack and the tests build
their worker here."""
