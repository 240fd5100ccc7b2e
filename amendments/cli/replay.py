"""`amend replay`: resume one failed amendment (a reset; nothing is written twice), or, with
`--failed`, every amendment whose latest run failed, after an outage (`api/replay.py`).

`--failed` prints what it found first (amendment, order, when and why it failed, the step), then
replays each, paced, with progress, all on standard error; the summary, or with `--json` exactly
one JSON document, goes to standard output. It writes nothing with `--dry-run`, and without a
terminal to confirm on it refuses unless given `--yes`. Ctrl-C or SIGTERM stops it between
resets: every amendment is then replayed or untouched, and the summary says which. It exits 0
when nothing errored (nothing selected included), 1 when a replay errored, and 128 + the signal
when it was stopped.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from temporalio.client import Client

from amendments import failures
from amendments.api.replay import (
    DEFAULT_CONCURRENCY,
    DEFAULT_RATE,
    Selection,
    check_pace,
    find_failed,
    parse_duration,
    replay_amendment,
    replay_failed,
)
from amendments.api.starter import parse_account
from amendments.cli.amendments import outcome_of
from amendments.cli.app import AccountOption, CliError, JsonFlag, app, handled, run, settings
from amendments.domain import ids
from amendments.domain.runs import BulkReplay
from amendments.render import console, reports
from amendments.temporal.connection import connect


@app.command()
@handled
def replay(
    context: typer.Context,
    amendment: Annotated[
        str | None,
        typer.Argument(
            help=f"The failed amendment: {ids.workflow_id('K3X9QZ1AB')}, or the order id "
            "K3X9QZ1AB (or --failed for every failed one)."
        ),
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Which run to reset (default: the latest).")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the replayed runs and say how they ended.")
    ] = False,
    failed: Annotated[
        bool,
        typer.Option(
            "--failed",
            help="Every amendment whose latest run failed, timed out, was "
            "terminated or cancelled (narrowed by the options below).",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --failed: list them, replay nothing.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="With --failed: replay without asking.")
    ] = False,
    since: Annotated[
        str | None, typer.Option("--since", help="With --failed: closed within (30m, 2h, 1d).")
    ] = None,
    failure: Annotated[
        str | None,
        typer.Option("--failure", help="With --failed: of this failure type (e.g. BadRequest)."),
    ] = None,
    order_prefix: Annotated[
        str | None,
        typer.Option("--order-prefix", help="With --failed: orders whose id starts so."),
    ] = None,
    query: Annotated[
        str | None,
        typer.Option("--query", help="With --failed: a visibility query ANDed with the rest."),
    ] = None,
    rate: Annotated[
        float, typer.Option("--rate", help="With --failed: at most this many resets a second.")
    ] = DEFAULT_RATE,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="With --failed: at most this many at once.")
    ] = DEFAULT_CONCURRENCY,
    account: AccountOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Resume a failed, timed-out or terminated amendment (a reset; nothing is written twice);
    with --failed, every failed amendment, paced, after an outage."""
    bulk_only = {
        "--dry-run": dry_run,
        "--yes": yes,
        "--since": since is not None,
        "--failure": failure is not None,
        "--order-prefix": order_prefix is not None,
        "--query": query is not None,
        "--rate": rate != DEFAULT_RATE,
        "--concurrency": concurrency != DEFAULT_CONCURRENCY,
    }
    if failed:
        if amendment is not None or run_id is not None:
            raise CliError("replay one amendment, or --failed for every failed one: not both")
        selection = Selection(
            since=parse_duration(since) if since is not None else None,
            failure=failure,
            order_prefix=order_prefix,
            query=query,
            account_id=parse_account(account) if account is not None else None,
        )
        # Refused here, before anything is read or written, naming the option.
        selection.visibility_query(datetime.now(UTC))
        check_pace(rate, concurrency)
        code = replay_all(context, selection, rate, concurrency, dry_run, yes, wait, as_json)
        raise typer.Exit(code)
    given = [name for name, on in bulk_only.items() if on]
    if given:
        raise CliError(f"{', '.join(given)} go with --failed")
    if amendment is None:
        raise CliError("name the amendment to replay, or --failed for every failed one")
    replay_one(context, amendment, account, run_id, wait, as_json)


def replay_one(
    context: typer.Context,
    amendment: str,
    account: str | None,
    run_id: str | None,
    wait: bool,
    as_json: bool,
) -> None:
    named, order_id = ids.account_and_order(amendment)
    if account is not None and named is not None and account != named:
        raise CliError(f"--account {account} is not the account {amendment} names ({named})")
    account = parse_account(account) if account is not None else named
    workflow_id = ids.workflow_id(order_id, account)

    async def main() -> tuple[Any, Any]:
        client = await connect(settings(context))
        replayed = await replay_amendment(client, workflow_id, run_id=run_id)
        if not wait:
            return replayed, None
        handle = client.get_workflow_handle(workflow_id, run_id=replayed.new_run_id)
        if not as_json:
            console.say(
                f"replaying {workflow_id}: new run {replayed.new_run_id}, re-running from "
                f"{replayed.rerun_from}"
            )
        return replayed, await outcome_of(client, handle, quiet=as_json)

    replayed, result = run(main())
    if as_json:
        console.emit_json(
            {
                "workflow_id": replayed.workflow_id,
                "failed_run_id": replayed.failed_run_id,
                "new_run_id": replayed.new_run_id,
                "reset_event_id": replayed.reset_event_id,
                "rerun_from": replayed.rerun_from,
                "result": result.model_dump(mode="json") if result else None,
            }
        )
    elif result is None:
        console.say(
            f"replaying {workflow_id}: new run {replayed.new_run_id}, re-running from "
            f"{replayed.rerun_from}; {failures.status_hint(order_id, account)} follows it"
        )
    else:
        reports.result(result)


def replay_all(
    context: typer.Context,
    selection: Selection,
    rate: float,
    concurrency: int,
    dry_run: bool,
    yes: bool,
    wait: bool,
    as_json: bool,
) -> int:
    """Find, show, confirm, replay, summarise: the exit status."""
    stopped_by: list[int] = []

    async def main() -> BulkReplay:
        client: Client = await connect(settings(context))
        found, skipped = await find_failed(client, selection)
        reports.found(found, skipped)
        if dry_run or not found:
            return BulkReplay(selected=len(found), skipped=tuple(skipped))
        if not yes:
            confirm(len(found))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):

            def stopping(number: int = number) -> None:
                stopped_by.append(number)
                stop.set()

            loop.add_signal_handler(number, stopping)
        with reports.replaying(len(found)) as tick:
            return await replay_failed(
                client,
                found=found,
                skipped=skipped,
                rate=rate,
                concurrency=concurrency,
                wait=wait,
                progress=tick,
                stop=stop,
            )

    report = run(main())
    if as_json:
        console.emit_json(report)
    else:
        reports.replayed(report, dry_run=dry_run)
    if stopped_by:
        return 128 + stopped_by[0]
    return 1 if report.errors else 0


def confirm(count: int) -> None:
    """Ask on a terminal; without one, refuse (a script says `--yes`)."""
    if not sys.stdin.isatty():
        raise CliError(
            f"not replaying {count} amendment{'s' if count != 1 else ''} without a terminal to "
            "confirm on: add --yes (or --dry-run to list them only)"
        )
    if not typer.confirm(f"Replay {count} amendment{'s' if count != 1 else ''}?", err=True):
        raise CliError("nothing replayed: not confirmed")
