"""The `amend` command line, a typer app in rooms by what the commands serve: the app, its
global flags and its error handling (`app`), the servers and the demo (`servers`), the commands
that drive amendments (`amendments`), and the operators' tools (`ops`)."""

from amendments.cli import servers  # noqa: I001 - the commands are listed in this order
from amendments.cli import amendments, replay, ops, deploy
from amendments.cli.app import app, main

__all__ = ["amendments", "app", "deploy", "main", "ops", "replay", "servers"]
