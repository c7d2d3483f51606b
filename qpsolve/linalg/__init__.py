"""Fast linear algebra the solvers share (below :mod:`qpsolve.solvers`, above the model).

Exact fast inverses of the grid energies (:mod:`~qpsolve.linalg.greens`, with the
Dirichlet embedding of :mod:`~qpsolve.linalg.dirichlet_embedding`), the BLAS thread
setting (:mod:`~qpsolve.linalg.threads`) and the heap setting for large solves
(:mod:`~qpsolve.linalg.heap`).
"""
