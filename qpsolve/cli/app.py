"""The ``qpsolve`` command line.

Each sub-command lives in its own module under :mod:`qpsolve.cli.commands` and
provides ``register(subparsers)`` (adds its parser and sets ``func``).  They
are discovered here, so adding a command never edits this file.

Errors the user can fix (bad arguments, unreadable files, invalid data) print
one line on stderr and exit with status 2; nothing is written.  A solve that
the certificate does not accept exits with status 1 (:class:`NotCertified`),
also with nothing written, so scripts can tell "bad input" from "try another
solver or tolerance".
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from .. import __version__
from . import commands
from .errors import NotCertified, UserError


def build_parser():
    parser = argparse.ArgumentParser(
        prog="qpsolve",
        description="Exact de-quantization of images by the plate-bending model (bounded polyharmonic QP).",
    )
    parser.add_argument("--version", action="version", version=f"qpsolve {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        mod.register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except NotCertified as exc:
        print(f"qpsolve {args.command}: not certified: {exc}", file=sys.stderr)
        return 1
    except (UserError, ValueError, TypeError, OSError) as exc:
        print(f"qpsolve {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qpsolve {args.command}: interrupted; no output written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
