"""The ``qpsolve`` command line: the parser in :mod:`~qpsolve.cli.app`, one module per
sub-command in :mod:`qpsolve.cli.commands`."""

from .app import build_parser, main
from .errors import NotCertified, UserError

__all__ = ["NotCertified", "UserError", "build_parser", "main"]
