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

from temporalio.common import Priority, RetryPolicy

from amendments.failures import NON_RETRYABLE


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
        # The activities raise these non-retryable already; naming them here as well means a
        # refusal is never retried, whoever raises it (the failure vocabulary's list).
        non_retryable_error_types=list(NON_RETRYABLE),
    ),
)

# A read run in the workflow task (a local activity: the plan's and the check's) holds that task,
# and its worker's slot, for as long as it runs and retries, and the SDK retries a local activity
# without limit and keeps a stopping worker alive for it (temporalio/sdk-rust#709). So a local
# read has a budget: at most 5 attempts (0.2 + 0.4 + 0.8 + 1.6 s between them), none longer than
# 10 s, and 10 s in all when that clock runs out during an attempt (the SDK's schedule-to-close is
# only enforced then). After that the workflow queues the same read as a regular activity with the
# call policy above (`workflows/amend.py`): a blip is retried in the task, an outage in the queue.
LOCAL_READ = CallPolicy(
    start_to_close=timedelta(seconds=10),
    retry=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=5,
        non_retryable_error_types=list(NON_RETRYABLE),
    ),
)
LOCAL_READ_BUDGET = timedelta(seconds=10)

# Where a write queues among the others in the task queue (a lower key goes first; Temporal's
# default is 3). An amendment's first write, and its first after a wait for its top-up, queues
# behind the writes of amendments already under way. Under a burst (thousands started at once) a
# first-in-first-out queue moves every amendment one step in turn: more amendments under way than
# the worker's workflow cache holds, each leaves the cache between its steps and replays its
# history at every one of them. With these keys a burst moves a few amendments at a time to their
# wait or their end, each replaying at most once, at its first write. Honoured by a server with
# the dynamic config `matching.useNewMatcher` (Temporal Cloud, and every stack this product
# starts: `amend dev`, the demo, the tests, the benchmark, compose); another server keeps first in,
# first out, and each amendment still runs the same writes.
BEGINNING = Priority(priority_key=4)
UNDER_WAY = Priority(priority_key=2)
