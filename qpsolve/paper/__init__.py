"""Reproduction of the paper: Table 1 (:mod:`~qpsolve.paper.table1`) and its figures
(:mod:`~qpsolve.paper.figures`, imported on demand: it needs matplotlib)."""

from .table1 import *  # noqa: F401,F403
from .table1 import __all__
