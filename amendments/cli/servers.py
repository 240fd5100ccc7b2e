"""The `amend` commands that run something until stopped, or play a story: `demo`, `dev`,
`worker`, `simulator`, `callbacks` (the Checkout callback receiver) and `codec-server`."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn
from pydantic import SecretStr

from amendments import failures
from amendments.cli.app import CliError, JsonFlag, app, handled, run, settings, until_signalled
from amendments.domain.ids import DEMO_ACCOUNT_ID
from amendments.domain.models import PaymentsMode
from amendments.local.demo import play
from amendments.local.stack import STATE_DIR, EmbeddedStack, Ports
from amendments.ops.codec_server import codec_app, origins_of
from amendments.payments.checkout.receiver import callback_app
from amendments.render import console, reports
from amendments.simulator.app import Simulator, SimulatorConfig
from amendments.simulator.server import serve
from amendments.temporal import codec
from amendments.temporal.connection import connect
from amendments.worker import telemetry, wiring


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
                console.emit_json(report)
            else:
                console.say(f"Temporal UI   {stack.ui_url}", f"Dintero sim.  {stack.simulator_url}")
                if stack.ports != Ports():
                    console.say(
                        f"(the usual ports are taken, by an {failures.DEV}?: the demo runs on "
                        "its own, and keeps its state in memory)"
                    )
                with console.working("starting ...") as status:
                    report = await play(stack, status.update)
                reports.demo(report)
            if keep:
                if not as_json:
                    console.say(
                        "",
                        f"Everything keeps running; the UI is at {stack.ui_url}. Ctrl-C stops it.",
                    )
                await until_signalled()
            return report.ok

    if not run(main()):
        raise typer.Exit(1)


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
                console.emit_json(endpoints)
            else:
                console.say(*(f"{name:<11} {value}" for name, value in endpoints.items()))
                console.say(
                    f"Ctrl-C stops everything; Temporal's and the simulator's state stay in "
                    f"{STATE_DIR}/ ({failures.FRESH} starts empty)"
                )
            await until_signalled()

    run(main())


@app.command()
@handled
def worker(context: typer.Context, as_json: JsonFlag = False) -> None:
    """Run a worker from the settings until SIGINT or SIGTERM (as `python worker.py` does)."""
    config = settings(context, local_defaults=False)
    served = config.accounts()  # refused here, as `python worker.py` refuses, naming them
    if as_json:
        console.emit_json(
            {
                "task_queue": config.task_queue,
                "temporal": config.temporal_address,
                "dintero": config.dintero_base_url,
                "accounts": sorted(served.accounts),
                "default_account": served.default,
                "metrics": config.metrics_bind_address,
            }
        )
    telemetry.configure_logging(config.log_format)
    run(wiring.serve_until_signalled(config))


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
        console.say(codec.new_key())
        return
    config = settings(context, local_defaults=False)
    keyring = config.keyring()
    token = config.codec_server_token.get_secret_value() if config.codec_server_token else None
    origins = origins_of(config.codec_cors_origins)
    app_ = codec_app(keyring, token=token, origins=origins)
    url = f"http://{host}:{port}"
    if as_json:
        console.emit_json({"codec_server": url, "origins": origins, "token": token is not None})
    else:
        keys = ", ".join(keyring.ids) if keyring else "none: payloads pass through unchanged"
        console.note(
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
    """Receive Dintero Checkout's callbacks at /callbacks/dintero/{account} (PAYMENTS=
    dintero-checkout): each checked against Checkout and the amendment, then signalled to it."""
    config = settings(context, local_defaults=False)
    telemetry.configure_logging(config.log_format)
    # It reads transactions with each account's token, and checks each account's signatures.
    merchants = wiring.AccountMerchants(config, wiring.account_clients(config))

    async def main() -> None:
        client = await connect(config)
        server = uvicorn.Server(
            uvicorn.Config(
                callback_app(client, merchants),
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
            )
        )
        try:
            await server.serve()
        finally:
            await merchants.aclose()

    url = f"http://{host}:{port}/callbacks/dintero"
    if as_json:
        console.emit_json({"callbacks": url, "checkout": config.dintero_checkout_base_url})
    else:
        console.note(f"callback receiver on {url} (Ctrl-C stops it)")
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
        console.emit_json({"simulator": f"http://{host}:{port}", "token_ttl": token_ttl})
    else:
        console.say(f"Dintero simulator on http://{host}:{port} (Ctrl-C stops it)")
    serve(Simulator(config), host, port, log_level="warning")
