"""The product's failure vocabulary: every failure type it raises or publishes, in one registry.

A failure type is a name an operator searches for (the Temporal UI, `amend list --failure`, an
alert rule), so each is spelled once, here, and never renamed: the names below are in stored
histories and in the docs. Each entry says whether Temporal retries it, what it means and what
the operator does next; the operating page's table is generated from this registry
(`python -m amendments.failures`, checked by a test).

    where         how it shows                                    retried by Temporal
    workflow      the run fails with it (`ApplicationError.type`)  no
    update        an update (`authorization_outcome`, `revert`)    no: the caller is told
                  fails with it; the run goes on
    activity      an activity attempt fails with it: Dintero's     when `retryable`; a
                  answer, by the client's error class              non-retryable one fails
                                                                   the run with its type
    api           the starter API and the `amend` CLI raise it     no: the caller decides
                  to their caller, before or instead of a run

Everything that turns a failure into an `ApplicationError` goes through `Failure.error`, so no
other module types a failure's name; `NON_RETRYABLE` is what the workflows' retry policies give
Temporal as `non_retryable_error_types`. `root_cause`, `kind_of` and `message_of` read a failure
out of the wrappers Temporal puts around it (activity, workflow and update errors), for the
workflow, the starter API and the CLI alike. The operator's next steps (the `amend` commands
that look at an amendment and resume it) are phrased here too, and only here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from temporalio.exceptions import ApplicationError

from amendments.domain import ids

Where = Literal["workflow", "update", "activity", "api"]


@dataclass(frozen=True)
class Failure:
    """One failure type: its published name, whether Temporal retries it, where it shows, what
    it means and what the operator does next."""

    name: str
    retryable: bool
    where: Where
    meaning: str
    next_step: str

    def error(
        self, message: str, *details: Any, next_retry_delay: timedelta | None = None
    ) -> ApplicationError:
        """This failure as the `ApplicationError` a workflow, an update or an activity raises."""
        return ApplicationError(
            message,
            *details,
            type=self.name,
            non_retryable=not self.retryable,
            next_retry_delay=next_retry_delay,
        )


REGISTRY: dict[str, Failure] = {}


def _register(*failures: Failure) -> None:
    for failure in failures:
        assert failure.name not in REGISTRY, f"{failure.name} is registered twice"
        REGISTRY[failure.name] = failure


def failure(name: str) -> Failure:
    """The registered failure of this name; a `KeyError` names the ones there are."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a failure type of this product") from None


# --- the amendment itself -----------------------------------------------------------------

_REPLAY = "`amend replay` resumes it once the cause is fixed; nothing is written twice"

AMENDMENT_REJECTED = Failure(
    "AmendmentRejected",
    False,
    "workflow",
    "The amendment cannot be applied: its input is invalid, or the order refuses it (an "
    "unknown line, more than remains of a line, another currency, a closed order). The message "
    "names the field and the reason; nothing was written.",
    "Fix the request and start it again; `amend plan` shows what it would write.",
)
ORDER_REJECTED = Failure(
    "OrderRejected",
    False,
    "workflow",
    "A `PlaceOrder` input is invalid (the message names the field and the reason); nothing was "
    "written.",
    "Fix the order and place it again.",
)
TOP_UP_TIMEOUT = Failure(
    "TopUpTimeout",
    False,
    "workflow",
    'The top-up was not covered within `top_up_timeout_seconds` and `on_top_up_timeout` is "fail": '
    "the amendment stays applied; the message names the amount outstanding.",
    "`amend replay` waits for the top-up again (once, in full); `amend revert` undoes it while "
    "it waits.",
)
AMENDMENT_PARTLY_APPLIED = Failure(
    "AmendmentPartlyApplied",
    False,
    "workflow",
    "An earlier run of this amendment wrote part of it and stopped: planning it again would "
    "write twice.",
    "Replay that earlier run (`amend replay`); the message names it.",
)
LEDGER_VIOLATION = Failure(
    "LedgerViolation",
    False,
    "workflow",
    "After the writes the order breaks a money invariant (each problem is listed): something "
    "else wrote to the order, or Dintero did not do what it answered.",
    "Compare the order's records with the amendment's (`amend status`); replay only once the "
    "cause is known.",
)
PAYMENTS_REFUSED = Failure(
    "PaymentsRefused",
    False,
    "activity",
    "Dintero Checkout refused to move the money (a refund, capture or void; its message), or "
    "PAYMENTS=record-only was asked to move some.",
    f"Fix it in Checkout (or the worker's PAYMENTS); {_REPLAY}.",
)
UNEXPECTED = Failure(
    "UnexpectedFailure",
    False,
    "workflow",
    "The run ended on an error the product does not expect (its class and message are in the "
    "message): a bug, or Temporal ending an activity in a way no policy here asks for.",
    f"Report it with the run's history; {_REPLAY}.",
)

# --- messages to a running amendment (updates) --------------------------------------------

REVERT_REFUSED = Failure(
    "RevertRefused",
    False,
    "update",
    "A `revert` was refused: its input is invalid (the message names the field), or the "
    "amendment does not await its top-up (it is planning, applying, or has ended). The "
    "amendment goes on as it was.",
    "Send the revert again with a reason, while the amendment awaits its top-up (`amend status`).",
)
OUTCOME_REFUSED = Failure(
    "OutcomeRefused",
    False,
    "update",
    "A top-up outcome or a revert was not taken: nothing awaits it, the amendment ended, or it "
    "is malformed or more than is outstanding (the message says which). The starter API and "
    "`amend authorize` raise it too.",
    "Read the amendment's state (`amend status`) and send what it waits for.",
)
OUTCOME_NOT_RECORDED = Failure(
    "OutcomeNotRecorded",
    False,
    "update",
    "A top-up outcome's write failed, and the amendment failed with it.",
    f"{_REPLAY}, and records the outcome then.",
)
REVERT_FAILED = Failure(
    "RevertFailed",
    False,
    "update",
    "The revert did not finish: one of its writes failed (the amendment failed with it), or the "
    "top-up was covered first.",
    f"{_REPLAY}, and the revert with it.",
)

_register(
    AMENDMENT_REJECTED,
    ORDER_REJECTED,
    TOP_UP_TIMEOUT,
    AMENDMENT_PARTLY_APPLIED,
    LEDGER_VIOLATION,
    PAYMENTS_REFUSED,
    UNEXPECTED,
    REVERT_REFUSED,
    OUTCOME_REFUSED,
    OUTCOME_NOT_RECORDED,
    REVERT_FAILED,
)

# --- Dintero's answers (the client's error classes, `amendments/dintero/errors.py`) --------

_WAITS = (
    "Nothing: Temporal retries it without limit and the amendment waits; if it lasts, Dintero's "
    "status and `order_amendments_dintero_requests_total` by status say why."
)
_REFUSED = f"Fix what Dintero names (the request, the order, the credentials); {_REPLAY}."

# name, retried, what Dintero did (the next step follows from whether it is retried)
_DINTERO = (
    ("DinteroTransportError", True, "No answer from Dintero: connection refused, reset, dropped."),
    ("DinteroTimeout", True, "Dintero did not answer in time."),
    ("OperationPending", True, "Checkout accepted a move (202) and has not completed it yet."),
    ("RequestTimeout", True, "Dintero answered 408."),
    ("Conflict", True, "Dintero answered 409."),
    ("RateLimited", True, "Dintero answered 429; the retry waits for its `Retry-After`."),
    ("ServerError", True, "Dintero answered 5xx."),
    ("BadRequest", False, "Dintero answered 400 (its message)."),
    ("Unauthorized", False, "Dintero answered 401 after one token refresh."),
    ("Forbidden", False, "Dintero answered 403."),
    ("NotFound", False, "Dintero answered 404."),
    ("DinteroClientError", False, "Dintero answered another 4xx."),
)
_register(
    *(Failure(n, r, "activity", m, _WAITS if r else _REFUSED) for n, r, m in _DINTERO),
    Failure(
        "DinteroAuthError",
        False,
        "activity",
        "Dintero's token endpoint refused the client credentials.",
        "Fix the credentials (DINTERO_CLIENT_ID, DINTERO_CLIENT_SECRET) and restart the workers; "
        f"{_REPLAY}.",
    ),
    Failure(
        "DinteroInvalidResponse",
        False,
        "activity",
        "Dintero answered 2xx with a body the client does not understand.",
        f"Run `amend conformance` against the account: Dintero may have changed; {_REPLAY}.",
    ),
)

# --- Temporal ending a run itself ----------------------------------------------------------

TERMINATED = Failure(
    "TerminatedError",
    False,
    "workflow",
    "Someone terminated the run (the UI, `temporal workflow terminate`, a reset elsewhere).",
    f"If it was not meant to end, {_REPLAY}.",
)
CANCELLED = Failure(
    "CancelledError",
    False,
    "workflow",
    "Someone cancelled the run; every message it had taken was answered first.",
    f"If it was not meant to end, {_REPLAY}.",
)
TIMED_OUT = Failure(
    "TimeoutError",
    False,
    "workflow",
    "Temporal timed the run (or one of its calls) out: a workflow timeout set at its start.",
    f"Start amendments without a workflow timeout (the product bounds its own waits); {_REPLAY}.",
)
_register(TERMINATED, CANCELLED, TIMED_OUT)

# --- what the starter API and the CLI raise to their caller -------------------------------

CONNECT_ERROR = Failure(
    "ConnectError",
    False,
    "api",
    "Temporal does not answer at the configured address.",
    "Check TEMPORAL_ADDRESS (and the profile), or start the local stack with `amend dev`.",
)
_register(CONNECT_ERROR)

_register(
    Failure(
        "AmendmentInProgress",
        False,
        "api",
        "Another amendment of the same order is running (one at a time per order).",
        "Start this one after it ends; `amend status` shows it.",
    ),
    Failure(
        "AmendmentNeedsReplay",
        False,
        "api",
        "This amendment, or the order's last one, ended unfinished after writing to the order.",
        "Replay it (`amend replay`, the message names it) before starting another.",
    ),
    Failure(
        "NotReplayable",
        False,
        "api",
        "Only a failed, timed-out, terminated or cancelled amendment can be replayed.",
        "`amend status` shows what it is doing; a completed one needs nothing.",
    ),
    Failure(
        "RPCError",
        False,
        "api",
        "Temporal refused a call (its message).",
        "Check the namespace and the permissions the message names.",
    ),
    Failure(
        "DeployRefused",
        False,
        "api",
        "`amend deploy` did not change the routing: the version has no pollers on the task "
        "queue, there is no version to roll back to, or the change did not propagate in time.",
        "Start the version's workers (or read `amend deploy status`) and run it again.",
    ),
    Failure(
        "StateInUse",
        False,
        "api",
        "Another `amend dev` holds the local state directory.",
        "Stop it (the message names its pid), or use it.",
    ),
    Failure(
        "SimulatorStateError",
        False,
        "api",
        "The local simulator's state file cannot be read.",
        "Move it away, or start empty with `amend dev --fresh`.",
    ),
)

NON_RETRYABLE: tuple[str, ...] = tuple(
    name for name, f in REGISTRY.items() if not f.retryable and f.where != "api"
)


# --- reading a failure out of Temporal's wrappers -----------------------------------------


def root_cause(exc: BaseException) -> BaseException:
    """The failure under Temporal's wrappers: an `ActivityError`, a `ChildWorkflowError`, a
    `WorkflowFailureError` or a `WorkflowUpdateFailedError` hands on its `cause`, down to the
    first `ApplicationError` (whose own cause is the Python exception behind it)."""
    seen: set[int] = set()
    while not isinstance(exc, ApplicationError) and id(exc) not in seen:
        seen.add(id(exc))
        cause = getattr(exc, "cause", None)
        if not isinstance(cause, BaseException):
            break
        exc = cause
    return exc


def kind_of(exc: BaseException) -> str:
    """The registered failure type of an exception, wrapped or not: an `ApplicationError`'s
    type, a Dintero error's class, an API error's class; `UnexpectedFailure` for anything else."""
    cause = root_cause(exc)
    name = cause.type if isinstance(cause, ApplicationError) else type(cause).__name__
    name = getattr(cause, "failure_type", None) or name  # an error that names its type
    if name in REGISTRY:
        return name
    for klass in type(cause).__mro__:  # a subclass of a registered error speaks for it
        if klass.__name__ in REGISTRY:
            return klass.__name__
    return UNEXPECTED.name


def message_of(exc: BaseException) -> str:
    cause = root_cause(exc)
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause) or type(cause).__name__


def retryable(exc: BaseException) -> bool:
    """Whether another attempt may help: a failure not refused for good, nor a cancellation."""
    cause = root_cause(exc)
    if isinstance(cause, ApplicationError):
        return not cause.non_retryable
    return type(cause).__name__ != "CancelledError"


def amendment_failed(step: str, exc: BaseException) -> ApplicationError:
    """An amendment's end on an error: the root cause's registered type and message, and the
    step that failed, in the one failure that closes the run."""
    cause = root_cause(exc)
    kind = kind_of(cause)
    message = message_of(cause)
    if kind == UNEXPECTED.name:
        message = f"{type(cause).__name__}: {message}"
    details = cause.details if isinstance(cause, ApplicationError) else ()
    return failure(kind).error(f"{_FAILED_AT}{step}: {message}", *details)


_FAILED_AT = "amendment failed at step "


def failed_at(message: str) -> tuple[str | None, str]:
    """The step and the reason in an amendment's failure message (`amendment_failed`'s)."""
    if not message.startswith(_FAILED_AT):
        return None, message
    step, _, why = message.removeprefix(_FAILED_AT).partition(": ")
    return step, why


# --- the operator's next steps ------------------------------------------------------------


def command(*words: str) -> str:
    """An `amend` command as the hints quote it: `` `amend replay amend-K3X9QZ1AB` ``."""
    return "`" + " ".join(("amend", *words)) + "`"


DEV = command("dev")
FRESH = command("dev", "--fresh")
DEPLOY_STATUS = command("deploy", "status")
LOCAL_STACK = f"start the local stack with {DEV}"
FRESH_START = f"start empty with {FRESH}"
BENCH_FROM_CHECKOUT = (
    f"the benchmark runs from a checkout of the repository: cd into it and run "
    f"{command('bench')} (or `python -m bench`) there"
)


def replay_hint(workflow_id: str) -> str:
    return command("replay", workflow_id)


def status_hint(order_id: str, account_id: str | None = None) -> str:
    return command("status", order_id, *(("--account", account_id) if account_id else ()))


def _account(workflow_id: str) -> str | None:
    return ids.account_and_order(workflow_id)[0]


def resume_with(workflow_id: str) -> str:
    return f"resume it with {replay_hint(workflow_id)}"


def resume_hint(workflow_id: str) -> str:
    return f"{replay_hint(workflow_id)} resumes it once the cause is fixed"


def list_hint() -> str:
    return f"{command('list')} shows the recent ones"


def run_failed(workflow_id: str, order_id: str, cause: str) -> str:
    """A run that failed: why, and the commands that look at it and resume it."""
    return (
        f"{workflow_id} failed: {cause}; {status_hint(order_id, _account(workflow_id))} shows "
        "where it stopped, and "
        f"{resume_hint(workflow_id)} (nothing is written twice)"
    )


def listed_failed(workflow_id: str, order_id: str) -> str:
    return (
        f"{workflow_id} failed: {status_hint(order_id, _account(workflow_id))} says why; "
        f"{replay_hint(workflow_id)} resumes it"
    )


def next_step_failed(workflow_id: str) -> str:
    return f"next: {replay_hint(workflow_id)} once the cause is fixed"


def next_step_top_up(order_id: str, outstanding: str) -> str:
    return (
        f"next: top-up outcomes for {outstanding} ({command('authorize', order_id, '...')}), "
        f"or {command('revert', order_id, '--reason', '...')}"
    )


def next_step_running(status: str) -> str:
    return f"next: the {status.lower()} continues on its own ({command('status')} again)"


def table(failures: Iterable[Failure] | None = None) -> str:
    """The operating page's table of failure types (Markdown)."""
    rows = [
        "| type | where | retried | what it means | what to do next |",
        "|---|---|---|---|---|",
    ]
    for f in failures if failures is not None else REGISTRY.values():
        retried = "yes" if f.retryable else "no"
        rows.append(f"| `{f.name}` | {f.where} | {retried} | {f.meaning} | {f.next_step} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # `python -m amendments.failures`: the operating page's table
    sys.stdout.write(table())
