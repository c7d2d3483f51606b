"""The solver-comparison suite: problems, default sizes and the runner.

Re-exported from :mod:`qpsolve.bench`, where the harness lives (this folder is
not installed, ``qpsolve bench`` must work without it).
"""

from qpsolve.bench.harness import (  # noqa: F401
    DEFAULT_SIZES,
    PROBLEMS,
    QUICK_SIZES,
    build_problem,
    predict_time,
    run_benchmark,
    run_child,
)

__all__ = ["DEFAULT_SIZES", "PROBLEMS", "QUICK_SIZES", "build_problem", "predict_time", "run_benchmark",
           "run_child"]
