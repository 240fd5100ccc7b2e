"""Where text for people is printed: the `amend` CLI's standard output and standard error.

Every command prints readable lines and tables here, or exactly one JSON document on standard
output with `--json` (`emit_json`); errors and progress go to standard error. What is printed is
composed by `words.py` and `tables.py`; this module only decides where it goes and how it is
laid out on a terminal, a narrow one or a pipe.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from pydantic import BaseModel
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class Status(Protocol):
    def update(self, status: str) -> None: ...


def say(*lines: str) -> None:
    """Lines on standard output, wrapped between words at the width (a terminal's, or 80 in a
    pipe): an id, an amount or a command is never split, and no line passes the width."""
    for line in lines:
        out.print(line)


def show(*renderables: RenderableType) -> None:
    """Tables (and other rich renderables) on standard output."""
    for renderable in renderables:
        out.print(renderable)


def note(line: str) -> None:
    """A line on standard error: what a server is doing, progress."""
    err.print(line, soft_wrap=True)


def show_aside(*renderables: RenderableType) -> None:
    """Tables on standard error: what a command found before it acts (its stdout stays for
    the result, or the one JSON document)."""
    for renderable in renderables:
        err.print(renderable)


@contextlib.contextmanager
def counting(total: int, what: str) -> Iterator[Callable[[str], None]]:
    """Progress over `total` things on standard error: a bar on a terminal, else one line per
    thing done (the line it is given)."""
    if not err.is_terminal:
        yield note
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    with bar:
        task = bar.add_task(what, total=total)

        def advance(line: str) -> None:
            bar.update(task, advance=1, description=f"{what}: {line}")

        yield advance


def error(message: str) -> None:
    err.print(f"error: {message}", soft_wrap=True)


def emit_json(document: Any) -> None:
    """Exactly one JSON document on standard output."""
    if isinstance(document, BaseModel):
        document = document.model_dump(mode="json")
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")


class _Quiet:
    def update(self, status: str) -> None:
        return None


@contextlib.contextmanager
def live(first: str) -> Iterator[Status | None]:
    """A live status line on a terminal (yields it), nothing elsewhere (yields None)."""
    if not out.is_terminal:
        yield None
        return
    with out.status(first) as status:
        yield status


@contextlib.contextmanager
def working(first: str) -> Iterator[Status]:
    """A live status line on a terminal; elsewhere one that says nothing."""
    with live(first) as status:
        yield status if status is not None else _Quiet()
