"""The benchmark harness (:mod:`~qpsolve.bench.harness`): ``qpsolve bench`` and
``python -m benchmarks`` run it."""

from .harness import *  # noqa: F401,F403
from .harness import __all__
