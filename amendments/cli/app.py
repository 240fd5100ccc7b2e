"""The `amend` command line: the typer app, its global flags, and how every command fails.

Every command prints readable tables, or exactly one JSON document on stdout with `--json`
(`amendments/render/console.py`). Errors are one line (with `--json`, a `{"error": ...}`
document) and a non-zero exit, never a traceback; the `kind` an error carries is its type in the
failure vocabulary (`amendments/failures.py`). Settings come from the environment and `.env`,
then the global flags, through the one loader in `amendments/config.py`: with no Dintero
credentials at all, the client commands use the local stack's simulator (as `amend dev` serves
it); `amend worker` never does.

The commands live beside this module, by what they serve: `servers.py` (the demo, the local
stack, a worker, the simulator, the callback receiver, the codec server), `amendments.py` (place,
plan, start, status, list, authorize, replay, revert) and `ops.py` (conformance, the benchmark).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from amendments import failures
from amendments.api.replay import NotReplayable
from amendments.api.starter import AmendmentInProgress, AmendmentNeedsReplay, OutcomeRefused
from amendments.config import Settings, SettingsError, load_settings
from amendments.dintero.errors import DinteroError
from amendments.domain.errors import AmendmentRejected
from amendments.local.stack import StateInUse
from amendments.ops.deploy import DeployRefused
from amendments.render import console
from amendments.simulator.app import SimulatorStateError
from amendments.temporal.connection import TemporalUnreachable
from amendments.temporal.process import exit_now

app = typer.Typer(
    name="amend",
    help="Order amendments on Temporal for the Dintero Order Management API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)

P = ParamSpec("P")
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document, nothing else.")]
AccountOption = Annotated[
    str | None,
    typer.Option(
        "--account",
        help="The merchant's Dintero account (a deployment serving several); default: the "
        "deployment's own.",
    ),
]


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


class CliError(Exception):
    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


def failed(message: str, as_json: bool, code: int = 1, **details: Any) -> NoReturn:
    if as_json:
        console.emit_json({"error": {"message": message, **details}})
    else:
        console.error(message)
    raise typer.Exit(code)


# What the starter API and the local stack raise to a command, each printed as its message and
# its type in the failure vocabulary.
API_ERRORS = (
    AmendmentInProgress,
    AmendmentNeedsReplay,
    OutcomeRefused,
    NotReplayable,
    StateInUse,
    SimulatorStateError,
    DeployRefused,
)


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
        except (*API_ERRORS, DinteroError, WorkflowFailureError, TemporalUnreachable) as exc:
            fail(failures.message_of(exc), kind=failures.kind_of(exc))
        except (SettingsError, ValidationError) as exc:
            fail(f"settings: {exc}".replace("\n", " "))
        except CliError as exc:
            fail(str(exc), **exc.details)
        except RPCError as exc:
            fail(f"Temporal: {exc.message}", kind=failures.kind_of(exc))

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


async def until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


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


def main() -> None:
    code = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    exit_now(code)
