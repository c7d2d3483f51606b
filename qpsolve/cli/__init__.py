"""The ``qpsolve`` command line: the parser in :mod:`~qpsolve.cli.app`, one module per
sub-command in :mod:`qpsolve.cli.commands`."""

from .app import UserError, build_parser, main

__all__ = ["UserError", "build_parser", "main"]
