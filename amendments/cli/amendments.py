"""The `amend` commands that drive amendments, through the starter API as a backend would:
`place`, `plan`, `start`, `status`, `list`, `authorize` and `revert` (`replay` has its own
module)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

import typer
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from amendments import failures
from amendments.api.listing import list_amendments, parse_status
from amendments.api.planning import plan_against
from amendments.api.starter import (
    Started,
    get_state,
    parse_account,
    parse_amendment,
    place_order,
    revert_amendment,
    send_authorization_outcome,
    start_or_resume,
)
from amendments.cli.app import (
    AccountOption,
    CliError,
    JsonFlag,
    app,
    handled,
    read_json,
    run,
    settings,
)
from amendments.config import Settings
from amendments.domain import ids
from amendments.domain.models import (
    AmendmentResult,
    AmendmentState,
    AmendOrderInput,
    Plan,
)
from amendments.domain.runs import ListedAmendment
from amendments.render import console, reports
from amendments.render.words import outcome_line, progress_line
from amendments.temporal.connection import connect
from amendments.worker import wiring

OrderOption = Annotated[
    str | None, typer.Option("--order", help="Amend this order, whatever the file says.")
]
InputFile = Annotated[
    str, typer.Argument(help="AmendOrder input as JSON (a path, or - for stdin).")
]


def with_order(document: Any, order_id: str | None, account_id: str | None = None) -> Any:
    """The request with `--order` in place of its `order_id` (the examples say `ORDER_ID`) and
    `--account` in place of its `account_id`."""
    if not isinstance(document, dict):
        return document
    given = {"order_id": order_id, "account_id": account_id}
    return {**document, **{key: value for key, value in given.items() if value is not None}}


async def dry_run(config: Settings, request: AmendOrderInput) -> Plan:
    """The plan a worker with these settings would follow; nothing is written."""
    clients = wiring.account_clients(config)
    try:
        return await plan_against(clients.client(request.account_id), request, config.payments)
    finally:
        await clients.aclose()


async def follow(
    client: Client, handle: WorkflowHandle[Any, Any], order_id: str, account_id: str | None
) -> AmendmentResult:
    """The result, showing progress while it comes: on a terminal a live status line with the
    step and the outstanding top-up, otherwise one line each time they change."""
    result = asyncio.ensure_future(handle.result())
    shown = ""
    with console.live("waiting for the first step ...") as live:
        while not result.done():
            with contextlib.suppress(RPCError):
                line = progress_line(await get_state(client, order_id, account_id=account_id))
                if live is not None:
                    live.update(line)
                elif line != shown:
                    console.say(line)
                shown = line
            await asyncio.wait({result}, timeout=0.5)
    value: AmendmentResult = AmendmentResult.model_validate(result.result())
    return value


async def outcome_of(
    client: Client, handle: WorkflowHandle[Any, Any], *, quiet: bool
) -> AmendmentResult:
    """The run's result (followed on screen unless `quiet`), or, when it failed, one error
    naming the workflow, why, and the commands that look at it and resume it."""
    account_id, order_id = ids.account_and_order(handle.id)
    try:
        if quiet:
            return AmendmentResult.model_validate(await handle.result())
        return await follow(client, handle, order_id, account_id)
    except WorkflowFailureError as exc:
        raise CliError(
            failures.run_failed(handle.id, order_id, failures.message_of(exc)),
            kind=failures.kind_of(exc),
            workflow_id=handle.id,
        ) from None


@app.command()
@handled
def place(
    context: typer.Context,
    file: Annotated[str, typer.Argument(help="PlaceOrder input as JSON (a path, or - for stdin).")],
    account: AccountOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Place an order (authorized in full, and captured unless "capture": false) and print its
    order id."""
    data = with_order(read_json(file), None, account)

    async def main() -> Any:
        config = settings(context)
        client = await connect(config)
        return await place_order(client, data, task_queue=config.task_queue)

    placed = run(main())
    if as_json:
        console.emit_json(placed)
    else:
        how = "captured" if placed.captured else "authorized (not captured)"
        console.say(f"order {placed.order_id} placed, {placed.total} {how}")


@app.command()
@handled
def plan(
    context: typer.Context,
    file: InputFile,
    order: OrderOption = None,
    account: AccountOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Dry run against the live order: print the plan; nothing is written anywhere."""
    request = parse_amendment(with_order(read_json(file), order, account))
    result = run(dry_run(settings(context), request))
    if as_json:
        console.emit_json(result)
    else:
        reports.plan(result)


@app.command()
@handled
def start(
    context: typer.Context,
    file: InputFile,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the result.")] = False,
    order: OrderOption = None,
    account: AccountOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Start an amendment (checked against the live order first); --wait for its result."""
    request = parse_amendment(with_order(read_json(file), order, account))

    async def main() -> tuple[Started, Any]:
        config = settings(context)
        client = await connect(config)

        async def preview(amendment: AmendOrderInput) -> Plan:
            return await dry_run(config, amendment)

        started = await start_or_resume(
            client, request, task_queue=config.task_queue, preview=preview
        )
        handle = started.handle
        run_id = handle.run_id or handle.result_run_id
        if started.existing == "completed":
            return started, await handle.result()
        if not as_json:
            if started.existing == "running":
                console.say(
                    f"amendment {request.amendment_id} is already running as {handle.id} "
                    f"(run {run_id})"
                )
            else:
                console.say(f"started {handle.id} (run {run_id})")
        if not wait:
            return started, None
        return started, await outcome_of(client, handle, quiet=as_json)

    started, result = run(main())
    handle = started.handle
    run_id = handle.run_id or handle.result_run_id
    if as_json:
        console.emit_json(
            {
                "workflow_id": handle.id,
                "run_id": run_id,
                "existing": started.existing,
                "result": result.model_dump(mode="json") if result else None,
            }
        )
        return
    if started.existing == "completed" and result is not None:
        console.say(
            f"amendment {request.amendment_id} of order {request.order_id} was already "
            f"{result.outcome} as {handle.id} (run {run_id}); nothing was written again"
        )
    if result is not None:
        reports.result(result)


@app.command()
@handled
def status(
    context: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order whose latest amendment to show.")],
    account: AccountOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the latest amendment of an order: status, step, records, outstanding top-up, and
    once it ended, the order's money per line (reserved, captured, refunded, released)."""
    account = parse_account(account) if account is not None else None

    async def main() -> tuple[AmendmentState, AmendmentResult | None]:
        client = await connect(settings(context))
        try:
            state = await get_state(client, order_id, account_id=account)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                on = f" on account {account}" if account else ""
                raise CliError(
                    f"no amendment of order {order_id}{on} was found ({failures.list_hint()})"
                ) from None
            raise
        if as_json or state.status not in ("Completed", "Reverted"):
            return state, None
        handle = client.get_workflow_handle(ids.workflow_id(order_id, account))
        described = await handle.describe()
        if described.status != WorkflowExecutionStatus.COMPLETED:
            return state, None
        return state, AmendmentResult.model_validate(await handle.result())

    state, result = run(main())
    if as_json:
        console.emit_json(state)
    else:
        reports.state(state, result)


@app.command("list")
@handled
def list_(
    context: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only amendments whose latest run is in this status (Failed: what needs an "
            "operator).",
        ),
    ] = None,
    order_id: Annotated[str | None, typer.Option("--order", help="Only this order's.")] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="Only this Dintero account's.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 20,
    all_runs: Annotated[
        bool, typer.Option("--all-runs", help="Show the runs each one superseded too.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Recent amendments, one per workflow id (its latest run), newest first."""
    wanted = parse_status(status) if status is not None else None

    async def main() -> list[ListedAmendment]:
        client = await connect(settings(context))
        return await list_amendments(
            client, order_id=order_id, status=wanted, limit=limit, account_id=account
        )

    listed = run(main())
    if as_json:
        console.emit_json({"amendments": [a.model_dump(mode="json") for a in listed]})
        return
    which = (f" of order {order_id}" if order_id else "") + (
        f" on account {account}" if account else ""
    )
    empty = f"no amendment{which}" + (f" is {wanted}" if wanted else " was found")
    reports.listed(listed, all_runs=all_runs, empty=empty)


@app.command()
@handled
def authorize(
    context: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order awaiting a top-up.")],
    payment_id: Annotated[str, typer.Option(help="The payment that was authorized.")],
    amount: Annotated[int, typer.Option(help="Authorized amount, minor units.")],
    declined: Annotated[bool, typer.Option("--declined", help="The authorization failed.")] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Send as an update; wait until recorded.")
    ] = False,
    account: AccountOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Send an authorization_outcome (a top-up authorization's result) to an amendment."""
    outcome = {"payment_id": payment_id, "amount": amount, "success": not declined}
    account = parse_account(account) if account is not None else None

    async def main() -> tuple[Any, int | None]:
        client = await connect(settings(context))
        seen = await send_authorization_outcome(
            client, order_id, outcome, wait=wait, account_id=account
        )
        if seen is None:
            return None, None
        with contextlib.suppress(RPCError):  # the amendment may have ended meanwhile
            state = await get_state(client, order_id, account_id=account)
            return seen, state.top_up_outstanding
        return seen, None

    seen, outstanding = run(main())
    if as_json:
        console.emit_json(
            {
                "sent": outcome,
                "taken": seen.model_dump(mode="json") if seen else None,
                "outstanding": outstanding,
            }
        )
    elif seen is None:
        console.say(
            f"sent {'declined' if declined else 'approved'} {amount} ({payment_id}) as a signal; "
            f"not yet confirmed: {failures.status_hint(order_id, account)} shows how it was "
            "taken (or send it with --wait)"
        )
    else:
        console.say(outcome_line(seen))
        if outstanding is not None:
            console.say(f"top-up outstanding: {outstanding}")


@app.command()
@handled
def revert(
    context: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order whose amendment awaits a top-up.")],
    reason: Annotated[str, typer.Option(help="Why it is undone (shown in the UI).")],
    account: AccountOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Undo an amendment that awaits its top-up: its lines reversed, the order restored, every
    top-up part already captured refunded to its payment. Waits until it is reverted."""
    account = parse_account(account) if account is not None else None

    async def main() -> Any:
        client = await connect(settings(context))
        return await revert_amendment(client, order_id, {"reason": reason}, account_id=account)

    result = run(main())
    if as_json:
        console.emit_json(result)
        return
    console.say(f"reverted amendment {result.amendment_id} of order {result.order_id}")
    reports.ledgers(result)
