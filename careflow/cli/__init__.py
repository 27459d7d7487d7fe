"""The `careflow` command line: one module per command group, registered here."""

from careflow.cli.app import app, main

__all__ = ["app", "main"]
