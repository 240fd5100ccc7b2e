"""The `amend` command line: run the demo, the embedded stack, a worker or the simulator, and
drive amendments (place, plan, start, status, list, authorize, replay, revert).

Every command prints readable tables, or exactly one JSON document on stdout with `--json`.
Errors are one line (with `--json`, a `{"error": ...}` document) and a non-zero exit, never a
traceback. Settings come from the environment and `.env`, then the global flags, through the one
loader in `amendments/config.py`: with no Dintero credentials at all, the client commands use the
local stack's simulator (as `amend dev` serves it); `amend worker` never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
import uvicorn
from pydantic import BaseModel, SecretStr, ValidationError
from rich.console import Console
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from amendments.api.listing import list_amendments, parse_status
from amendments.api.planning import plan_against
from amendments.api.replay import NotReplayable, replay_amendment
from amendments.api.starter import (
    AmendmentInProgress,
    AmendmentNeedsReplay,
    OutcomeRefused,
    Started,
    get_state,
    parse_amendment,
    place_order,
    revert_amendment,
    send_authorization_outcome,
    start_or_resume,
)
from amendments.config import Settings, SettingsError, load_settings
from amendments.dintero.errors import DinteroError
from amendments.domain import ids
from amendments.domain.errors import AmendmentRejected
from amendments.domain.models import (
    AmendmentResult,
    AmendmentState,
    AmendOrderInput,
    ListedAmendment,
    PaymentsMode,
    Plan,
)
from amendments.local.demo import play
from amendments.local.stack import STATE_DIR, EmbeddedStack, Ports, StateInUse
from amendments.ops.codec_server import codec_app, origins_of
from amendments.ops.conformance.harness import (
    PROBES,
    ProductionAccount,
    refuse_production,
    run_probes,
)
from amendments.ops.conformance.harness import plan as probe_plan
from amendments.payments.checkout.receiver import Signing, callback_app
from amendments.render.words import (
    allocation_table,
    amendments_table,
    conformance_table,
    ledger_table,
    next_line,
    outcome_line,
    payment_link_line,
    payments_table,
    plan_line,
    plan_tables,
    progress_line,
    recorded_by_payment,
    state_table,
)
from amendments.simulator import DEMO_ACCOUNT_ID
from amendments.simulator.app import Simulator, SimulatorConfig, SimulatorStateError
from amendments.simulator.server import serve
from amendments.temporal import codec
from amendments.temporal.connection import TemporalUnreachable, connect
from amendments.temporal.process import exit_now
from amendments.worker import telemetry, wiring

app = typer.Typer(
    name="amend",
    help="Order amendments on Temporal for the Dintero Order Management API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

P = ParamSpec("P")
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document, nothing else.")]


@dataclass
class Options:
    """What the global flags said, kept on the root context (`context.obj`), not in module state."""

    overrides: dict[str, Any] = field(default_factory=dict)


def _context_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> typer.Context | None:
    """The command's context among its arguments (typer hands over its click base class, so
    it is recognised by what it offers, not by its class)."""
    found = (a for a in (*args, *kwargs.values()) if hasattr(a, "params") and hasattr(a, "obj"))
    context: typer.Context | None = next(found, None)
    return context


# --- plumbing -----------------------------------------------------------------------------


class CliError(Exception):
    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


def failed(message: str, as_json: bool, code: int = 1, **details: Any) -> NoReturn:
    if as_json:
        emit_json({"error": {"message": message, **details}})
    else:
        err.print(f"error: {message}", soft_wrap=True)
    raise typer.Exit(code)


def emit_json(document: Any) -> None:
    if isinstance(document, BaseModel):
        document = document.model_dump(mode="json")
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")


def handled(function: Callable[P, T]) -> Callable[P, T]:
    """Turn every expected failure into one clear line and a non-zero exit."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        context = _context_of(args, kwargs)
        as_json = bool(context is not None and context.params.get("as_json"))

        def fail(message: str, **details: Any) -> NoReturn:
            failed(message, as_json, **details)

        try:
            return function(*args, **kwargs)
        except AmendmentRejected as exc:
            fail(f"{exc.field}: {exc.reason}", field=exc.field, reason=exc.reason)
        except (
            AmendmentInProgress,
            AmendmentNeedsReplay,
            OutcomeRefused,
            NotReplayable,
            StateInUse,
            SimulatorStateError,
        ) as exc:
            fail(str(exc), kind=type(exc).__name__)
        except DinteroError as exc:
            fail(exc.message, kind=exc.type_name)
        except WorkflowFailureError as exc:
            cause = exc.cause
            kind = cause.type if isinstance(cause, ApplicationError) else type(cause).__name__
            fail(str(cause), kind=kind)
        except (SettingsError, ValidationError) as exc:
            fail(f"settings: {exc}".replace("\n", " "))
        except CliError as exc:
            fail(str(exc), **exc.details)
        except RPCError as exc:
            fail(f"Temporal: {exc.message}", kind="RPCError")
        except TemporalUnreachable as exc:
            fail(str(exc), kind="ConnectError")

    return wrapper


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def settings(context: typer.Context, *, local_defaults: bool = True) -> Settings:
    """`load_settings` with the global flags (the one loader: `amendments/config.py`)."""
    options = context.find_root().obj
    overrides = options.overrides if isinstance(options, Options) else {}
    return load_settings(local_defaults=local_defaults, **overrides)


def read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError(f"{path} is not JSON: {exc}") from None


def with_order(document: Any, order_id: str | None) -> Any:
    """The request with `--order` in place of its `order_id` (the examples say `ORDER_ID`)."""
    if order_id is None or not isinstance(document, dict):
        return document
    return {**document, "order_id": order_id}


async def _plan(config: Settings, request: AmendOrderInput) -> Plan:
    dintero = wiring.dintero_client(config)
    try:
        return await plan_against(dintero, request)
    finally:
        await dintero.aclose()


# --- tables -------------------------------------------------------------------------------


async def follow(
    client: Client, handle: WorkflowHandle[Any, Any], order_id: str
) -> AmendmentResult:
    """The result, showing progress while it comes: on a terminal a live status line with the
    step and the outstanding top-up, otherwise one line each time they change."""
    result = asyncio.ensure_future(handle.result())
    shown = ""
    live = console.status("waiting for the first step ...") if console.is_terminal else None
    with live if live is not None else contextlib.nullcontext():
        while not result.done():
            with contextlib.suppress(RPCError):
                line = progress_line(await get_state(client, order_id))
                if live is not None:
                    live.update(line)
                elif line != shown:
                    console.print(line, soft_wrap=True)
                shown = line
            await asyncio.wait({result}, timeout=0.5)
    value: AmendmentResult = AmendmentResult.model_validate(result.result())
    return value


async def outcome_of(
    client: Client, handle: WorkflowHandle[Any, Any], order_id: str, *, quiet: bool
) -> AmendmentResult:
    """The run's result (followed on screen unless `quiet`), or, when it failed, one error
    naming the workflow, why, and the commands that look at it and resume it."""
    try:
        if quiet:
            return AmendmentResult.model_validate(await handle.result())
        return await follow(client, handle, order_id)
    except WorkflowFailureError as exc:
        cause = exc.cause
        kind = cause.type if isinstance(cause, ApplicationError) else type(cause).__name__
        raise CliError(
            f"{handle.id} failed: {cause}; `amend status {order_id}` shows where it stopped, "
            f"and `amend replay {handle.id}` resumes it once the cause is fixed (nothing is "
            "written twice)",
            kind=kind,
            workflow_id=handle.id,
        ) from None


def print_result(result: AmendmentResult) -> None:
    """What `amend start --wait` and `amend replay --wait` print: the outcome and the ledger."""
    if result.outcome == "reverted":
        console.print(f"reverted: {result.revert_reason}", soft_wrap=True)
    else:
        console.print(f"applied to order {result.order_id}; total {result.total}")
    console.print(ledger_table(result.lines, f"order {result.order_id}"))
    if result.payments:
        console.print(payments_table(result.payments, f"order {result.order_id} per payment"))


# --- commands -----------------------------------------------------------------------------


@app.callback()
def main_options(
    context: typer.Context,
    temporal_address: Annotated[
        str | None, typer.Option(help="Temporal frontend host:port.")
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="Temporal namespace.")] = None,
    task_queue: Annotated[str | None, typer.Option(help="Task queue of the workers.")] = None,
    dintero_url: Annotated[str | None, typer.Option(help="Dintero API base URL.")] = None,
) -> None:
    """Settings come from the environment and .env; these flags override them."""
    options = context.ensure_object(Options)
    for key, value in (
        ("temporal_address", temporal_address),
        ("temporal_namespace", namespace),
        ("task_queue", task_queue),
        ("dintero_base_url", dintero_url),
    ):
        if value is not None:
            options.overrides[key] = value


@app.command()
@handled
def demo(
    context: typer.Context,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave everything running afterwards.")
    ] = False,
    payments: Annotated[
        str,
        typer.Option(
            "--payments",
            help="record-only (record what another system did) or dintero-checkout (the money "
            "moves in the simulator's Checkout, the customer pays by payment link).",
        ),
    ] = "record-only",
    as_json: JsonFlag = False,
) -> None:
    """Start the embedded stack and play the guide's story: an order, then four amendments."""
    if payments not in ("record-only", "dintero-checkout"):
        raise CliError(f"--payments must be record-only or dintero-checkout, got {payments!r}")
    mode: PaymentsMode = "dintero-checkout" if payments == "dintero-checkout" else "record-only"

    async def main() -> bool:
        # In memory: nothing shared with an `amend dev`.
        async with EmbeddedStack(payments=mode) as stack:
            if as_json:
                report = await play(stack, lambda _: None)
                emit_json(report)
            else:
                console.print(f"Temporal UI   {stack.ui_url}\nDintero sim.  {stack.simulator_url}")
                if stack.ports != Ports():
                    console.print(
                        "(the usual ports are taken, by an `amend dev`?: the demo runs on its "
                        "own, and keeps its state in memory)",
                        soft_wrap=True,
                    )
                with console.status("starting ...") as status:
                    report = await play(stack, status.update)
                for number, amendment in enumerate(report.amendments, start=1):
                    console.print()
                    console.print(f"[bold]{number}. {amendment.title}[/bold]")
                    console.print(
                        f"   status {amendment.status} · branch {amendment.branch} · "
                        f"{amendment.dintero_calls} Dintero calls"
                    )
                    for seen in amendment.outcomes:
                        console.print(f"   top-up {outcome_line(seen)}", soft_wrap=True)
                    for link in amendment.payment_links:
                        console.print(f"   payment link {link}", soft_wrap=True)
                    for move in amendment.checkout_moves:
                        console.print(f"   Checkout: {move}", soft_wrap=True)
                    if amendment.revert_reason:
                        console.print(f"   {amendment.revert_reason}", soft_wrap=True)
                    console.print(f"   {amendment.ui_url}", soft_wrap=True)
                    console.print(ledger_table(amendment.lines, f"order {report.order_id}"))
                    if amendment.payments:
                        console.print(payments_table(amendment.payments, "per payment"))
                console.print(f"ledger checks on the re-read order: {report.ledger_checks}")
                console.print(
                    "[green]every amendment ended as planned[/green]"
                    if report.ok
                    else "[red]the demo did not complete[/red]"
                )
            if keep:
                if not as_json:
                    console.print(
                        f"\nEverything keeps running; the UI is at {stack.ui_url}. Ctrl-C stops it."
                    )
                await _until_signalled()
            return report.ok

    if not run(main()):
        raise typer.Exit(1)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@app.command()
@handled
def dev(
    context: typer.Context,
    temporal_port: Annotated[int, typer.Option(help="Temporal frontend port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal UI port.")] = 8233,
    simulator_port: Annotated[int, typer.Option(help="Dintero simulator port.")] = 8700,
    metrics_port: Annotated[
        int, typer.Option(help="The worker's Prometheus metrics port (0: none).")
    ] = 9464,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start empty: forget what .amend/ kept.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run the dev server, the simulator and a worker until Ctrl-C; both keep their state in
    .amend/ (temporal.db, simulator.json) across restarts."""
    telemetry.configure_logging()  # the worker's lines on stderr, as `amend worker` shows them

    async def main() -> None:
        ports = Ports(temporal=temporal_port, ui=ui_port, simulator=simulator_port)
        metrics = f"127.0.0.1:{metrics_port}" if metrics_port else None
        async with EmbeddedStack(
            ports=ports, state_dir=STATE_DIR, fresh=fresh, metrics=metrics
        ) as stack:
            endpoints = {
                "temporal": stack.temporal_address,
                "ui": stack.ui_url,
                "simulator": stack.simulator_url,
                "metrics": f"http://{metrics}/metrics" if metrics else None,
                "task_queue": stack.task_queue,
                "account_id": DEMO_ACCOUNT_ID,
                "state": str(STATE_DIR),
            }
            if as_json:
                emit_json(endpoints)
            else:
                for name, value in endpoints.items():
                    console.print(f"{name:<11} {value}")
                console.print(
                    f"Ctrl-C stops everything; Temporal's and the simulator's state stay in "
                    f"{STATE_DIR}/ (`amend dev --fresh` starts empty)"
                )
            await _until_signalled()

    run(main())


@app.command()
@handled
def worker(context: typer.Context, as_json: JsonFlag = False) -> None:
    """Run a worker from the settings until SIGINT or SIGTERM (as `python worker.py` does)."""
    config = settings(context, local_defaults=False)
    config.dintero_credentials()  # refused here, as `python worker.py` refuses, naming them
    if as_json:
        emit_json(
            {
                "task_queue": config.task_queue,
                "temporal": config.temporal_address,
                "dintero": config.dintero_base_url,
                "metrics": config.metrics_bind_address,
            }
        )
    telemetry.configure_logging(config.log_format)
    run(wiring.serve_until_signalled(config))


@app.command()
@handled
def conformance(
    context: typer.Context,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only this probe (repeatable).")
    ] = None,
    show_plan: Annotated[
        bool, typer.Option("--plan", help="Print the calls each probe would make; send none.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Check every assumption about Dintero against the configured TEST account: one probe
    each, on orders it creates itself. Exit 0 only when every probe holds."""
    config = settings(context)
    account_id, client_id, secret = config.dintero_credentials()
    try:
        refuse_production(account_id)
    except ProductionAccount as exc:
        raise CliError(str(exc)) from None
    unknown = sorted(set(only or ()) - {p.id for p in PROBES})
    if unknown:
        raise CliError(f"--only: no probe {', '.join(unknown)} (known: "
                       f"{', '.join(p.id for p in PROBES)})")  # fmt: skip
    chosen = tuple(p for p in PROBES if not only or p.id in only)
    if show_plan:
        planned = probe_plan(chosen)
        if as_json:
            emit_json({"account": account_id, "plan": planned})
            return
        for row in planned:
            console.print(f"{row['id']}: {row['assumption']}", soft_wrap=True)
            console.print(f"    calls: {'; '.join(row['calls'])}", soft_wrap=True)
        return
    results, orders = run(
        run_probes(
            base_url=config.dintero_base_url,
            checkout_url=config.dintero_checkout_base_url,
            account_id=account_id,
            client_id=client_id,
            client_secret=secret,
            checkout_profile=config.dintero_checkout_profile_id,
            only={p.id for p in chosen},
        )
    )
    if as_json:
        emit_json(
            {
                "account": account_id,
                "probes": [r.document() for r in results],
                "orders": orders,
            }
        )
    else:
        console.print(conformance_table(results, account_id))
        console.print(f"orders created (all this run's own): {', '.join(orders) or 'none'}")
    if any(r.finding.verdict != "holds" for r in results):
        raise typer.Exit(1)


@app.command(name="codec-server")
@handled
def codec_server(
    context: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8720,
    new_key: Annotated[
        bool, typer.Option("--new-key", help="Print a fresh AES-256 key (base64) and exit.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Serve /encode and /decode for the Temporal UI and the `temporal` CLI (Temporal's remote
    codec): payloads decrypted with ENCRYPTION_KEYS for people allowed to see them."""
    if new_key:
        console.print(codec.new_key())
        return
    config = settings(context, local_defaults=False)
    keyring = config.keyring()
    token = config.codec_server_token.get_secret_value() if config.codec_server_token else None
    origins = origins_of(config.codec_cors_origins)
    app_ = codec_app(keyring, token=token, origins=origins)
    url = f"http://{host}:{port}"
    if as_json:
        emit_json({"codec_server": url, "origins": origins, "token": token is not None})
    else:
        keys = ", ".join(keyring.ids) if keyring else "none: payloads pass through unchanged"
        err.print(
            f"codec server on {url} (keys {keys}; "
            f"{'bearer token required' if token else 'no token: open to whoever reaches it'}; "
            f"CORS for {', '.join(origins) or 'no browser origin'}) (Ctrl-C stops it)"
        )
    serve(app_, host, port, log_level="warning")  # no access log: never a payload


@app.command()
@handled
def callbacks(
    context: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8710,
    as_json: JsonFlag = False,
) -> None:
    """Receive Dintero Checkout's callbacks at /callbacks/dintero (PAYMENTS=dintero-checkout):
    each checked against Checkout and the amendment, then signalled to it."""
    config = settings(context, local_defaults=False)
    account_id, _, _ = config.dintero_credentials()  # it reads transactions with the token
    telemetry.configure_logging(config.log_format)
    signing = None
    if config.dintero_signature_secret is not None:
        if not config.callback_base_url:
            raise CliError(
                "DINTERO_SIGNATURE_SECRET needs CALLBACK_BASE_URL: the signature is over the "
                "public URL Dintero calls"
            )
        signing = Signing(config.dintero_signature_secret, account_id, config.callback_base_url)

    async def main() -> None:
        client = await connect(config)
        dintero = wiring.dintero_client(config)
        checkout = wiring.checkout_client(config, dintero)
        server = uvicorn.Server(
            uvicorn.Config(
                callback_app(client, checkout, signing),
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
            )
        )
        try:
            await server.serve()
        finally:
            await checkout.aclose()
            await dintero.aclose()

    url = f"http://{host}:{port}/callbacks/dintero"
    if as_json:
        emit_json({"callbacks": url, "checkout": config.dintero_checkout_base_url})
    else:
        err.print(f"callback receiver on {url} (Ctrl-C stops it)")
    run(main())


@app.command()
@handled
def simulator(
    context: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8700,
    token_ttl: Annotated[float, typer.Option(help="Lifetime of issued tokens, seconds.")] = 3600,
    client_id: Annotated[
        str | None, typer.Option(envvar="SIMULATOR_CLIENT_ID", help="Accept only this client id.")
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(envvar="SIMULATOR_CLIENT_SECRET", help="Accept only this secret."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for order ids and fault odds.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Serve the Dintero simulator (Dintero's paths under /v1/accounts/{aid}/...)."""
    if (client_id is None) != (client_secret is None):
        raise CliError("--client-id and --client-secret go together")
    config = SimulatorConfig(
        token_ttl=token_ttl,
        client_id=client_id,
        client_secret=SecretStr(client_secret) if client_secret is not None else None,
        seed=seed,
    )
    if as_json:
        emit_json({"simulator": f"http://{host}:{port}", "token_ttl": token_ttl})
    else:
        console.print(f"Dintero simulator on http://{host}:{port} (Ctrl-C stops it)")
    serve(Simulator(config), host, port, log_level="warning")


@app.command()
@handled
def place(
    context: typer.Context,
    file: Annotated[str, typer.Argument(help="PlaceOrder input as JSON (a path, or - for stdin).")],
    as_json: JsonFlag = False,
) -> None:
    """Place an order (authorized in full, and captured unless "capture": false) and print its
    order id."""
    data = read_json(file)

    async def main() -> Any:
        config = settings(context)
        client = await connect(config)
        return await place_order(client, data, task_queue=config.task_queue)

    placed = run(main())
    if as_json:
        emit_json(placed)
    else:
        how = "captured" if placed.captured else "authorized (not captured)"
        console.print(f"order {placed.order_id} placed, {placed.total} {how}")


@app.command()
@handled
def plan(
    context: typer.Context,
    file: Annotated[str, typer.Argument(help="AmendOrder input as JSON (a path, or - for stdin).")],
    order: Annotated[
        str | None, typer.Option("--order", help="Amend this order, whatever the file says.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Dry run against the live order: print the plan; nothing is written anywhere."""
    request = parse_amendment(with_order(read_json(file), order))
    result = run(_plan(settings(context), request))
    if as_json:
        emit_json(result)
        return
    for table in plan_tables(result):
        console.print(table)
    console.print(plan_line(result))


@app.command()
@handled
def start(
    context: typer.Context,
    file: Annotated[str, typer.Argument(help="AmendOrder input as JSON (a path, or - for stdin).")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the result.")] = False,
    order: Annotated[
        str | None, typer.Option("--order", help="Amend this order, whatever the file says.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Start an amendment (checked against the live order first); --wait for its result."""
    request = parse_amendment(with_order(read_json(file), order))

    async def main() -> tuple[Started, Any]:
        config = settings(context)
        client = await connect(config)

        async def preview(amendment: AmendOrderInput) -> Plan:
            return await _plan(config, amendment)

        started = await start_or_resume(
            client, request, task_queue=config.task_queue, preview=preview
        )
        handle = started.handle
        run_id = handle.run_id or handle.result_run_id
        if started.existing == "completed":
            return started, await handle.result()
        if not as_json:
            if started.existing == "running":
                console.print(
                    f"amendment {request.amendment_id} is already running as {handle.id} "
                    f"(run {run_id})"
                )
            else:
                console.print(f"started {handle.id} (run {run_id})")
        if not wait:
            return started, None
        return started, await outcome_of(client, handle, request.order_id, quiet=as_json)

    started, result = run(main())
    handle = started.handle
    run_id = handle.run_id or handle.result_run_id
    if as_json:
        emit_json(
            {
                "workflow_id": handle.id,
                "run_id": run_id,
                "existing": started.existing,
                "result": result.model_dump(mode="json") if result else None,
            }
        )
        return
    if started.existing == "completed" and result is not None:
        console.print(
            f"amendment {request.amendment_id} of order {request.order_id} was already "
            f"{result.outcome} as {handle.id} (run {run_id}); nothing was written again"
        )
    if result is not None:
        print_result(result)


@app.command()
@handled
def status(
    context: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order whose latest amendment to show.")],
    as_json: JsonFlag = False,
) -> None:
    """Show the latest amendment of an order: status, step, records, outstanding top-up, and
    once it ended, the order's money per line (reserved, captured, refunded, released)."""

    async def main() -> tuple[AmendmentState, AmendmentResult | None]:
        client = await connect(settings(context))
        try:
            state = await get_state(client, order_id)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise CliError(
                    f"no amendment of order {order_id} was found (`amend list` shows the "
                    "recent ones)"
                ) from None
            raise
        if as_json or state.status not in ("Completed", "Reverted"):
            return state, None
        handle = client.get_workflow_handle(ids.workflow_id(order_id))
        described = await handle.describe()
        if described.status != WorkflowExecutionStatus.COMPLETED:
            return state, None
        return state, AmendmentResult.model_validate(await handle.result())

    state, result = run(main())
    if as_json:
        emit_json(state)
        return
    console.print(state_table(state))
    if result is not None:
        console.print(ledger_table(result.lines, f"order {result.order_id} after it"))
    recorded = recorded_by_payment(state.operations)
    if recorded:
        console.print(payments_table(recorded, "recorded by this amendment, per payment"))
    if state.plan is not None and (state.plan.allocation or state.plan.top_up_amount):
        console.print(allocation_table(state.plan))
    if state.top_up_outstanding:
        console.print(f"top-up outstanding: {state.top_up_outstanding}")
    if state.payment_link is not None:
        console.print(payment_link_line(state), soft_wrap=True)
    for seen in state.outcomes:
        if seen.disposition in ("ignored", "failed"):
            console.print(outcome_line(seen), soft_wrap=True)
    if state.revert_reason:
        console.print(f"revert: {state.revert_reason}", soft_wrap=True)
    if state.error:
        console.print(f"error: {state.error}", soft_wrap=True)
    console.print(f"last step: {state.step}")
    upcoming = next_line(state)
    if upcoming:
        console.print(upcoming, soft_wrap=True)


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
        return await list_amendments(client, order_id=order_id, status=wanted, limit=limit)

    listed = run(main())
    if as_json:
        emit_json({"amendments": [a.model_dump(mode="json") for a in listed]})
        return
    if not listed:
        which = f" of order {order_id}" if order_id else ""
        console.print(f"no amendment{which}" + (f" is {wanted}" if wanted else " was found"))
        return
    console.print(amendments_table(listed, all_runs=all_runs))
    failed_ones = [a for a in listed if a.status == "Failed"]
    for amendment in failed_ones:
        console.print(
            f"{amendment.workflow_id} failed: `amend status "
            f"{amendment.order_id or ids.order_id_of(amendment.workflow_id)}` "
            f"says why; `amend replay {amendment.workflow_id}` resumes it",
            soft_wrap=True,
        )


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
    as_json: JsonFlag = False,
) -> None:
    """Send an authorization_outcome (a top-up authorization's result) to an amendment."""
    outcome = {"payment_id": payment_id, "amount": amount, "success": not declined}

    async def main() -> tuple[Any, int | None]:
        client = await connect(settings(context))
        seen = await send_authorization_outcome(client, order_id, outcome, wait=wait)
        if seen is None:
            return None, None
        with contextlib.suppress(RPCError):  # the amendment may have ended meanwhile
            return seen, (await get_state(client, order_id)).top_up_outstanding
        return seen, None

    seen, outstanding = run(main())
    if as_json:
        emit_json(
            {
                "sent": outcome,
                "taken": seen.model_dump(mode="json") if seen else None,
                "outstanding": outstanding,
            }
        )
    elif seen is None:
        console.print(
            f"sent {'declined' if declined else 'approved'} {amount} ({payment_id}) as a signal; "
            f"not yet confirmed: `amend status {order_id}` shows how it was taken (or send it "
            "with --wait)"
        )
    else:
        console.print(outcome_line(seen), soft_wrap=True)
        if outstanding is not None:
            console.print(f"top-up outstanding: {outstanding}")


@app.command()
@handled
def replay(
    context: typer.Context,
    amendment: Annotated[
        str,
        typer.Argument(help="The failed amendment: amend-K3X9QZ1AB, or the order id K3X9QZ1AB."),
    ],
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Which run to reset (default: the latest).")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the replayed run's result.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Resume a failed, timed-out or terminated amendment (a reset; nothing is written twice)."""
    workflow_id = ids.workflow_id(ids.order_id_of(amendment))

    async def main() -> tuple[Any, Any]:
        client = await connect(settings(context))
        replayed = await replay_amendment(client, workflow_id, run_id=run_id)
        if not wait:
            return replayed, None
        handle = client.get_workflow_handle(workflow_id, run_id=replayed.new_run_id)
        if not as_json:
            console.print(
                f"replaying {workflow_id}: new run {replayed.new_run_id}, re-running from "
                f"{replayed.rerun_from}"
            )
        order_id = ids.order_id_of(workflow_id)
        return replayed, await outcome_of(client, handle, order_id, quiet=as_json)

    replayed, result = run(main())
    if as_json:
        emit_json(
            {
                "workflow_id": replayed.workflow_id,
                "failed_run_id": replayed.failed_run_id,
                "new_run_id": replayed.new_run_id,
                "reset_event_id": replayed.reset_event_id,
                "rerun_from": replayed.rerun_from,
                "result": result.model_dump(mode="json") if result else None,
            }
        )
        return
    if result is None:
        console.print(
            f"replaying {workflow_id}: new run {replayed.new_run_id}, re-running from "
            f"{replayed.rerun_from}; `amend status {ids.order_id_of(workflow_id)}` follows it"
        )
    else:
        print_result(result)


@app.command()
@handled
def revert(
    context: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order whose amendment awaits a top-up.")],
    reason: Annotated[str, typer.Option(help="Why it is undone (shown in the UI).")],
    as_json: JsonFlag = False,
) -> None:
    """Undo an amendment that awaits its top-up: its lines reversed, the order restored, every
    top-up part already captured refunded to its payment. Waits until it is reverted."""

    async def main() -> Any:
        client = await connect(settings(context))
        return await revert_amendment(client, order_id, {"reason": reason})

    result = run(main())
    if as_json:
        emit_json(result)
        return
    console.print(f"reverted amendment {result.amendment_id} of order {result.order_id}")
    console.print(ledger_table(result.lines, f"order {result.order_id}"))
    if result.payments:
        console.print(payments_table(result.payments, f"order {result.order_id} per payment"))


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def bench(context: typer.Context) -> None:
    """Run the benchmark (`python -m bench`); `amend bench --help` lists its options."""
    from bench.__main__ import main as bench_main  # noqa: PLC0415 - only this command needs it

    bench_main(list(context.args), prog="amend bench")


def main() -> None:
    code = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    exit_now(code)


if __name__ == "__main__":
    main()


__all__ = ["app", "main"]
