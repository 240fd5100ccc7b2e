"""The `amend` command line: run the simulator, the worker, the demo, and drive amendments.

Every command prints readable output, or one JSON document with `--json`; errors are one line on
stderr and a non-zero exit, never a traceback. Settings come from the environment and `.env`,
read here and never at import.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from amendments.dintero.errors import DinteroError
from amendments.guide import play_guide
from amendments.simulator.app import Simulator, SimulatorConfig
from amendments.simulator.server import serve

app = typer.Typer(
    name="amend",
    help="Order amendments on Temporal for the Dintero Order Management API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document, nothing else.")]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")


@app.command()
def simulator(
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
        fail("--client-id and --client-secret go together")
    config = SimulatorConfig(
        token_ttl=token_ttl,
        client_id=client_id,
        client_secret=SecretStr(client_secret) if client_secret is not None else None,
        seed=seed,
    )
    if as_json:
        emit_json({"simulator": f"http://{host}:{port}", "token_ttl": token_ttl})
    else:
        console.print(f"Dintero simulator on [bold]http://{host}:{port}[/] (Ctrl-C stops it)")
    serve(Simulator(config), host, port, log_level="warning")


@app.command()
def demo(as_json: JsonFlag = False) -> None:
    """Play the Dintero guide against the simulator over HTTP and print the per-line ledger."""
    try:
        result = asyncio.run(play_guide())
    except DinteroError as exc:
        fail(exc.message)
    if as_json:
        emit_json(result)
        return
    table = Table(title=f"order {result['order_id']}: per-line ledger")
    for column in ("line", "gross", "authorized", "captured", "refunded"):
        table.add_column(column, justify="right")
    for line in result["lines"]:
        table.add_row(
            *(
                str(line[k])
                for k in ("line_id", "gross_amount", "authorized", "captured", "refunded")
            )
        )
    console.print(table)
    console.print(f"{result['calls']} Dintero calls")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
