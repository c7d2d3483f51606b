"""Argument types shared by the sub-commands (argparse ``type=`` callables).

Examples
--------
>>> positive_int("3")
3
>>> positive_int("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: expected a positive integer, got '0'
"""

import argparse

__all__ = ["positive_int"]


def positive_int(text):
    """``text`` as an ``int`` >= 1, else an :class:`argparse.ArgumentTypeError` naming it."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v
