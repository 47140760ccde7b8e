"""The command-line interface (``workbench``)."""

from workbench.cli._app import app, main

__all__ = ["app", "main"]
