"""Linear algebra kernels the solvers share (algebraic multigrid: :mod:`qpsolve.linalg.amg`)."""
