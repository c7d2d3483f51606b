"""``osqp``: the OSQP operator-splitting QP solver, wrapped honestly for comparison.

OSQP's own ``solved`` flag is recorded in ``info`` but never trusted: the
registry certifies its ``x``.  OSQP is asked for ``eps_abs = eps_rel`` tied to
``tol`` and for its solution polish, which is what gives it exact answers on
small problems.  The polish solves its reduced KKT system by iterative
refinement.  With 10 steps the paper's 2-bit problems at 128x128 ended at
relative gaps of 2e-7 to 6e-6, not certified (on the ``odd`` Gaussian, ``eps``
of 1e-8 and 1e-9 did not help); with ``POLISH_REFINE_ITER`` steps they end at
3e-10 to 6e-10 in the same time.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ._base import BackendOutput, importable

NAME = "osqp"
#: iterative-refinement steps of OSQP's polish (its linear system is ill-conditioned here)
POLISH_REFINE_ITER = 50


def available():
    return importable("osqp")


def supports(prob):
    return None


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, eps=None, polish=True, **options):
    """Run OSQP on ``prob``; extra ``options`` go to ``osqp.OSQP.setup``."""
    import osqp

    n = prob.n
    A = sp.identity(n, format="csc")
    lo = np.where(np.isfinite(prob.lower), prob.lower, -np.inf)
    hi = np.where(np.isfinite(prob.upper), prob.upper, np.inf)
    eps = min(1e-6, tol * 10) if eps is None else eps
    settings = dict(
        eps_abs=eps * prob.scale * 1e-2,
        eps_rel=eps,
        max_iter=200_000 if max_iter is None else int(max_iter),
        polishing=bool(polish),
        polish_refine_iter=POLISH_REFINE_ITER,
        verbose=bool(verbose),
    )
    if time_limit is not None:
        settings["time_limit"] = float(time_limit)
    settings.update(options)
    solver = osqp.OSQP()
    P = sp.triu(prob.P, format="csc")
    t0 = time.perf_counter()
    solver.setup(P=P, q=prob.q, A=A, l=lo, u=hi, **settings)
    if x0 is not None:
        solver.warm_start(x=x0)
    res = solver.solve()
    status = str(res.info.status)
    x = res.x if res.x is not None else np.full(n, np.nan)
    return BackendOutput(
        x=x,
        iterations=int(res.info.iter),
        converged=status.startswith("solved"),
        message=f"osqp status '{status}'",
        hit_time_limit="time limit" in status,
        failed="infeasible" in status or "non convex" in status,
        info={"osqp_status": status, "polish_status": int(getattr(res.info, "status_polish", 0)),
              "backend_time": time.perf_counter() - t0},
    )
