"""The `amend` command line (`app` holds the typer app and its error handling)."""

from amendments.cli.app import app, main

__all__ = ["app", "main"]
