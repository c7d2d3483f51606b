"""``lsq``: scipy's bounded linear least squares on ``D f ~ 0``, wrapped honestly.

For a grid problem ``E(f) = 1/2 |D f|^2`` with the sparse factor ``D`` of
:func:`qpsolve.model.operators.energy_factor`, so the QP is
``lsq_linear(D, 0, bounds)``.  A linear term ``q`` has no such form, hence only
grid problems with ``q == 0`` are taken.  ``lsq_linear`` wants
``lower < upper`` strictly, so pinned variables are eliminated first
(``D_free f_free ~ -D_pinned v``).  Tiny problems use the exact active-set
method ``bvls`` on a dense ``D``; others ``trf`` with LSMR (sparse).

``lsq_linear`` has no callback and returns no iterate when stopped, so a
``time_limit`` is enforced on ``trf`` by the products with ``D``: the first
product after the deadline interrupts the solve, and the answer is the box
centre with status ``time_limit`` (``bvls``, for a few dozen variables, runs
to its end).
"""

from __future__ import annotations

import numbers
import time

import numpy as np

from ._base import BackendOutput, importable

NAME = "lsq"
METHODS = ("auto", "bvls", "trf")


def available():
    return importable("scipy.optimize")


def supports(prob):
    if prob.grid is None:
        return "needs a grid problem (from image_problem) to build the factor D with D^T D = P"
    if np.any(prob.q != 0):
        return "lsq_linear minimizes |D f - b|^2 and cannot express a linear term q != 0"
    D = prob.grid.factor()
    diff = abs(D.T @ D - prob.P)
    if diff.nnz and diff.max() > 1e-10 * max(1.0, abs(prob.P).max()):
        return "P is not the energy matrix of its grid spec, so the grid factor does not apply"
    return None


class _OutOfTime(Exception):
    """Raised from inside ``lsq_linear`` by a product after the deadline."""


def _deadline_operator(A, deadline):
    """``A`` as a LinearOperator whose products raise :class:`_OutOfTime` after ``deadline``."""
    from scipy.sparse.linalg import LinearOperator

    class Timed(LinearOperator):
        # The public product methods are replaced, not just the private ones: LSMR calls them
        # thousands of times, and LinearOperator's checks around each call cost more than a
        # product of a small grid.
        def __init__(self):
            super().__init__(A.dtype, A.shape)
            self.AT = A.T.tocsr()

        def _check(self):
            if time.perf_counter() > deadline:
                raise _OutOfTime

        def matvec(self, x):
            self._check()
            return A @ x

        def rmatvec(self, x):
            self._check()
            return self.AT @ x

        # (LinearOperator's own adjoint calls _rmatvec: it checks too)
        _matvec = _matmat = matmat = matvec
        _rmatvec = _rmatmat = rmatmat = rmatvec

    return Timed()


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, method="auto", dense_limit=32,
          lsq_tol=None, lsmr_tol=None, **options):
    """Run ``scipy.optimize.lsq_linear`` on ``prob``.

    Parameters
    ----------
    prob : BoxQP
        A grid problem with ``q == 0``.
    tol : float
        Certificate tolerance; ``lsq_linear``'s own ``tol`` defaults to
        ``max(10 * tol**2, 1e-16)``.
    max_iter : int or None
        Passed as ``max_iter`` (default ``10 n`` for ``bvls``, 1000 for ``trf``).
    x0 : ndarray or None
        Ignored: ``lsq_linear`` takes no start point (recorded in ``info``).
    verbose : bool
        scipy's ``verbose=1``.
    time_limit : float or None
        Enforced on ``trf`` through its products with ``D``: when it runs out,
        no iterate of ``lsq_linear`` is available and the box centre is
        returned (status ``time_limit``).  ``bvls`` ignores it (recorded in
        ``info``).
    method : {'auto', 'bvls', 'trf'}
        ``auto`` picks ``bvls`` (dense) up to ``dense_limit`` free variables.
    dense_limit : int
        Size limit of ``auto``'s dense ``bvls``.
    lsq_tol, lsmr_tol : float, optional
        ``lsq_linear``'s ``tol`` and ``lsmr_tol``.
    **options
        Other ``lsq_linear`` keywords (e.g. ``lsmr_maxiter``).
    """
    from scipy.optimize import lsq_linear

    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if isinstance(dense_limit, bool) or not isinstance(dense_limit, numbers.Integral) or dense_limit < 0:
        raise ValueError(f"dense_limit must be a non-negative integer, got {dense_limit!r}")
    for name, v in (("lsq_tol", lsq_tol), ("lsmr_tol", lsmr_tol)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real) or not v > 0):
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    # trf stops on a relative change of the cost below lsq_tol; a duality gap of tol
    # needs E - E* of order tol**2 (tol = 1e-11 left gaps of 1e-6 on 40-pixel signals).
    lsq_tol = max(10 * tol**2, 1e-16) if lsq_tol is None else float(lsq_tol)

    t0 = time.perf_counter()
    lo, hi = prob.lower, prob.upper
    pinned = lo == hi
    free = ~pinned
    x = np.where(pinned, lo, 0.0)
    info = {"x0_ignored": x0 is not None, "pinned": int(pinned.sum())}
    if not free.any():
        return BackendOutput(x=x, converged=True, message="every variable is pinned", info=info)

    D = prob.grid.factor().tocsc()
    A = D[:, free].tocsr()
    b = -(D[:, pinned] @ lo[pinned]) if pinned.any() else np.zeros(D.shape[0])
    if method == "auto":
        # bvls does a dense lstsq per active-set change: fine for tiny problems, but already
        # at a hundred or so variables far slower than trf/LSMR, and very sensitive to BLAS
        # threading (benchmarks/results/design_notes.md).
        method = "bvls" if free.sum() <= dense_limit else "trf"
    if max_iter is None:
        # scipy's defaults (n for bvls, 100 for trf) end many active-set runs early.
        max_iter = 10 * int(free.sum()) if method == "bvls" else 1000
    kw = dict(method=method, tol=lsq_tol, max_iter=int(max_iter), verbose=1 if verbose else 0)
    info["time_limit_ignored"] = time_limit is not None and method == "bvls"
    if method == "bvls":
        A = A.toarray()
    else:
        kw.update(lsq_solver="lsmr", lsmr_tol=lsmr_tol)
        if time_limit is not None:
            A = _deadline_operator(A, t0 + float(time_limit))
    kw.update(options)
    try:
        res = lsq_linear(A, b, bounds=(lo[free], hi[free]), **kw)
    except _OutOfTime:
        x[free] = prob.start_point()[free]
        info.update(method=method, backend_time=time.perf_counter() - t0)
        return BackendOutput(x=x, hit_time_limit=True, info=info,
                             message=f"lsq_linear ({method}) stopped by the time limit; it returns no "
                                     "iterate, so this is the box centre")
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"lsq_linear ({method}) rejected its options {sorted(options)}: {exc}") from exc
    x[free] = res.x
    info.update(lsq_status=int(res.status), lsq_message=str(res.message), method=method,
                optimality=float(res.optimality), backend_time=time.perf_counter() - t0)
    return BackendOutput(
        x=x,
        iterations=int(res.nit),
        converged=bool(res.success),
        message=f"lsq_linear ({method}) status {res.status}: '{res.message}'",
        failed=res.status < 0,
        info=info,
    )
