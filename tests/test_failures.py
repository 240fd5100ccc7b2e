"""The failure vocabulary (`amendments/failures.py`): every failure type the product raises or
publishes is registered once, with whether Temporal retries it, what it means and what the
operator does next; the Dintero client's errors are all in it with the client's own retry
rule; the operating page's table is the registry's; the names that are in stored histories and
the docs never change."""

from __future__ import annotations

import json
import re
from typing import Any

from temporalio.client import WorkflowFailureError
from temporalio.exceptions import (
    ActivityError,
    RetryState,
    TimeoutError,
    TimeoutType,
)

from amendments import failures
from amendments.dintero import errors as dintero_errors
from amendments.temporal.connection import TemporalUnreachable
from tests.support.paths import HISTORIES, ROOT
from workflows.policies import DINTERO_CALL, LOCAL_READ

PUBLISHED = {
    # The names operators and alert rules search for (the histories hold some of them).
    "AmendmentRejected", "OrderRejected", "TopUpTimeout", "AmendmentPartlyApplied",
    "LedgerViolation", "PaymentsRefused", "RevertRefused", "OutcomeRefused",
    "OutcomeNotRecorded", "RevertFailed", "DinteroTransportError", "DinteroTimeout",
    "OperationPending", "RequestTimeout", "Conflict", "RateLimited", "ServerError", "BadRequest",
    "Unauthorized", "Forbidden", "NotFound", "DinteroClientError", "DinteroAuthError",
    "DinteroInvalidResponse", "TerminatedError", "CancelledError", "TimeoutError",
    "AmendmentInProgress", "AmendmentNeedsReplay", "NotReplayable", "ConnectError", "RPCError",
    "StateInUse", "SimulatorStateError", "UnexpectedFailure", "DeployRefused",
}  # fmt: skip


def test_the_published_names_never_change() -> None:
    assert set(failures.REGISTRY) == PUBLISHED


def test_every_dintero_error_is_registered_with_the_clients_retry_rule() -> None:
    def subclasses(
        klass: type[dintero_errors.DinteroError],
    ) -> set[type[dintero_errors.DinteroError]]:
        found = set(klass.__subclasses__())
        for sub in list(found):
            found |= subclasses(sub)
        return found

    raised = {
        k
        for k in subclasses(dintero_errors.DinteroError)
        if k not in (dintero_errors.DinteroHTTPError, dintero_errors.DinteroRetryableError)
    }
    for klass in raised:
        registered = failures.failure(klass.__name__)
        assert registered.retryable == klass.retryable, klass
        assert failures.kind_of(klass("x")) == klass.__name__


def test_every_failure_type_in_a_stored_history_is_registered() -> None:
    found = set()
    for path in HISTORIES.rglob("*.json"):
        found |= set(re.findall(r'"type": "([A-Za-z]+)"', path.read_text(encoding="utf-8")))
    assert found
    assert found <= set(failures.REGISTRY)


def test_the_retry_policies_never_retry_a_refusal() -> None:
    refusals = {n for n, f in failures.REGISTRY.items() if not f.retryable and f.where != "api"}
    for policy in (DINTERO_CALL, LOCAL_READ):
        assert set(policy.retry.non_retryable_error_types or ()) == refusals
    assert not refusals & {n for n, f in failures.REGISTRY.items() if f.retryable}


def test_a_failure_is_raised_as_its_registered_type() -> None:
    error = failures.TOP_UP_TIMEOUT.error("late", {"outstanding": 5})
    assert (error.type, error.non_retryable, error.details) == (
        "TopUpTimeout",
        True,
        ({"outstanding": 5},),
    )
    waiting = failures.failure("RateLimited").error("slow down")
    assert not waiting.non_retryable


def test_the_root_cause_is_read_through_temporals_wrappers() -> None:
    refused = failures.LEDGER_VIOLATION.error("line 4 does not balance")
    in_activity = ActivityError(
        "activity failed", scheduled_event_id=5, started_event_id=6, identity="w",
        activity_type="verify_ledger", activity_id="2",
        retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )  # fmt: skip
    in_activity.__cause__ = refused
    in_workflow = WorkflowFailureError(cause=in_activity)
    assert failures.root_cause(in_workflow) is refused
    assert failures.kind_of(in_workflow) == failures.LEDGER_VIOLATION.name
    assert failures.message_of(in_workflow) == "line 4 does not balance"
    assert not failures.retryable(in_workflow)
    timed_out = TimeoutError("late", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[])
    assert failures.kind_of(timed_out) == "TimeoutError"
    assert failures.retryable(timed_out)
    assert failures.kind_of(TemporalUnreachable("no")) == failures.CONNECT_ERROR.name
    assert failures.kind_of(KeyError("x")) == failures.UNEXPECTED.name
    closing = failures.amendment_failed("verify", in_activity)
    assert (closing.type, closing.message) == (
        "LedgerViolation",
        "amendment failed at step verify: line 4 does not balance",
    )
    odd = failures.amendment_failed("draft", KeyError("x"))
    assert (odd.type, odd.message) == (
        "UnexpectedFailure",
        "amendment failed at step draft: KeyError: 'x'",
    )


def test_the_operating_page_holds_the_registrys_table() -> None:
    """`python -m amendments.failures` prints it; the page holds it between its markers."""
    page = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- failures -->\n(.*?)<!-- /failures -->", page, flags=re.DOTALL)
    assert found is not None, "docs/operating.md has no table of failure types"
    assert found.group(1) == failures.table()


def test_the_hints_name_the_commands_that_exist() -> None:
    """Every `amend` command (and subcommand) a hint names is one the CLI has."""
    import typer

    from amendments.cli import app

    cli = typer.main.get_command(app)
    texts = [f.next_step for f in failures.REGISTRY.values()] + [
        failures.resume_hint("amend-X"), failures.list_hint(), failures.LOCAL_STACK,
        failures.FRESH_START, failures.BENCH_FROM_CHECKOUT, failures.DEPLOY_STATUS,
        failures.next_step_top_up("X", "1 NOK"), failures.next_step_running("Applying"),
    ]  # fmt: skip
    named = {m for text in texts for m in re.findall(r"`amend ([a-z-]+(?: [a-z-]+)?)", text)}
    assert named
    for words in named:
        command: Any = cli
        for word in words.split():
            if not hasattr(command, "list_commands"):
                break  # an argument, not a subcommand
            assert word in command.list_commands(None), words
            command = command.commands[word]
    json.dumps([f.__dict__ for f in failures.REGISTRY.values()])  # plain data, for any tool
