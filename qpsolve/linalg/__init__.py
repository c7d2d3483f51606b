"""Fast linear algebra the solvers share (below :mod:`qpsolve.solvers`, above the model).

Exact fast inverses of the grid energies (:mod:`~qpsolve.linalg.greens`, with the
Dirichlet embedding of :mod:`~qpsolve.linalg.dirichlet_embedding`), the BLAS thread
setting (:mod:`~qpsolve.linalg.threads`), grid kernels on row blocks of a small thread pool
(:mod:`~qpsolve.linalg.rowpool`), the heap setting for large solves
(:mod:`~qpsolve.linalg.heap`), geometric multigrid on grid operators truncated on an
active set (:mod:`~qpsolve.linalg.gridmg`, numba kernels) and algebraic multigrid for any
sparse ``P`` (:mod:`~qpsolve.linalg.amg`).
"""
