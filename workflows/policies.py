"""The retry policy and timeout of every Dintero call, reads and writes alike (a read is as safe
to repeat as a reconciling write). Temporal is the only retry engine.

Every Dintero call is retried without an attempt limit while its error is retryable (transport,
408, 409, 429 after Retry-After, 5xx): an outage delays an amendment, never loses it. Non-retryable
errors (other 4xx, a refused plan, a ledger breach) fail the workflow at once. The start-to-close
timeouts sit above the client's HTTP timeout (10 s), so a slow Dintero surfaces as a typed error,
and no higher: an activity lost with a crashed worker is retried once its timeout passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy


@dataclass(frozen=True)
class CallPolicy:
    start_to_close: timedelta
    retry: RetryPolicy


DINTERO_CALL = CallPolicy(
    start_to_close=timedelta(seconds=15),
    retry=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
    ),
)
