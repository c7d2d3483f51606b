"""CPU seconds of ``BoxQP(P, 0, 1, grid=GridSpec(shape, "biharmonic", "even"))``'s check that P is the grid's.

``python benchmarks/results/boxqp/grid_check_3d.py 128`` times only the check
(:func:`qpsolve.problem._check_grid_matrix`, on the validated CSR matrix), the
median of three calls in this process.
"""
import statistics
import sys
import time

from qpsolve.model.operators import GridSpec, energy_matrix
from qpsolve.problem import _as_matrix, _check_grid_matrix

side = int(sys.argv[1]) if len(sys.argv) > 1 else 128
shape = (side,) * 3
P = _as_matrix(energy_matrix(shape, "biharmonic", "even"))
cpu = []
for _ in range(3):
    t = time.process_time()
    _check_grid_matrix(P, GridSpec(shape, "biharmonic", "even"))
    cpu.append(time.process_time() - t)
print(f"{side}^3 check: median {statistics.median(cpu):.2f} CPU s (runs {', '.join(f'{c:.2f}' for c in cpu)})")
