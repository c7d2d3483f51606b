"""``python -m benchmarks``: the solver comparison (see :mod:`qpsolve.bench`)."""

import sys

from qpsolve.bench.harness import main

if __name__ == "__main__":
    sys.exit(main())
