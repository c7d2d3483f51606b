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
import os
import pkgutil
import sys
import threading

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


def run():
    """The ``qpsolve`` console script: :func:`main`, then exit with its status.

    After an interrupt, while cancelled colour-channel threads are still
    running (they stop at their solver's next check, which can be seconds
    away inside a numba kernel on a large photograph), the process ends at
    once with ``os._exit`` instead of shutting the interpreter down under
    them: such shutdowns ended with status 120 (a failed flush) or -6
    (``terminate called without an active exception``) instead of 130 in
    about 1 run in 10.  Nothing has been written at that point (outputs are
    written after the solve), so nothing is left half-written either.
    """
    code = main()
    from ..imaging.channels import CHANNEL_THREAD

    if code == 130 and any(t.name.startswith(CHANNEL_THREAD) and t.is_alive() for t in threading.enumerate()):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed or broken stream: nothing more to say anyway
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
