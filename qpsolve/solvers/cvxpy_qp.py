"""``cvxpy``: the QP modelled in CVXPY and handed to an installed QP/conic solver.

The objective is ``1/2 x^T P x + q^T x`` with ``psd_wrap(P)`` (P is only
semi-definite, and CVXPY's eigenvalue check would be slow and can misjudge
it); on grid problems ``1/2 |D x|^2`` with the grid factor is used instead
(no ``P`` to factor or check at all).  Only finite bounds become constraints, pinned variables become
equalities.  Clarabel (an interior-point method) is preferred.  CVXPY's status
goes into the message and ``info``; the registry's certificate decides
success.
"""

from __future__ import annotations

import time

import numpy as np

from ._base import BackendOutput

NAME = "cvxpy"
PREFERENCE = ("CLARABEL", "OSQP", "SCS", "HIGHS")
FORMULATIONS = ("auto", "quad_form", "factor")


def available():
    try:
        import cvxpy as cp
    except ImportError:
        return False
    return any(s in cp.installed_solvers() for s in PREFERENCE)


def supports(prob):
    return None


def _pick_solver(cp, name):
    installed = cp.installed_solvers()
    if name is None:
        return next(s for s in PREFERENCE if s in installed)
    if not isinstance(name, str):
        raise TypeError(f"cvxpy_solver must be a string, got {type(name).__name__}")
    if name.upper() not in installed:
        raise ValueError(f"cvxpy_solver {name!r} is not installed; installed: {installed}")
    return name.upper()


def _tight_options(solver, eps, max_iter, time_limit):
    """Tolerances tied to ``tol`` in each solver's own vocabulary."""
    if solver == "CLARABEL":
        opts = dict(tol_gap_abs=eps, tol_gap_rel=eps, tol_feas=eps, tol_ktratio=eps)
        if max_iter is not None:
            opts["max_iter"] = int(max_iter)
        if time_limit is not None:
            opts["time_limit"] = float(time_limit)
    elif solver == "OSQP":
        opts = dict(eps_abs=eps, eps_rel=eps, polish=True,
                    max_iter=200_000 if max_iter is None else int(max_iter))
        if time_limit is not None:
            opts["time_limit"] = float(time_limit)
    elif solver == "SCS":
        opts = dict(eps_abs=eps, eps_rel=eps)
        if max_iter is not None:
            opts["max_iters"] = int(max_iter)
        if time_limit is not None:
            opts["time_limit_secs"] = float(time_limit)
    else:  # a solver we know no tolerance names of: its defaults
        opts = {}
    return opts


def _grid_factor(prob):
    """The grid factor ``D`` when ``D^T D`` really is ``prob.P``, else ``None``."""
    if prob.grid is None:
        return None
    D = prob.grid.factor()
    diff = abs(D.T @ D - prob.P)
    if diff.nnz and diff.max() > 1e-10 * max(1.0, abs(prob.P).max()):
        return None
    return D


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, cvxpy_solver=None, formulation="auto",
          eps=None, **options):
    """Solve ``prob`` through CVXPY.

    Parameters
    ----------
    prob : BoxQP
    tol : float
        Certificate tolerance; the solver's gap and feasibility tolerances
        default to ``max(1e-12, 1e-2 * tol)``.
    max_iter, time_limit : optional
        Passed to the solver under its own option names.
    x0 : ndarray or None
        Used as CVXPY's warm start (interior-point solvers ignore it).
    verbose : bool
        CVXPY's and the solver's output.
    cvxpy_solver : str, optional
        CVXPY solver name (default: the first installed of
        ``CLARABEL, OSQP, SCS, HIGHS``).
    formulation : {'auto', 'quad_form', 'factor'}
        ``factor`` (``1/2 |D x|^2``) needs ``prob.grid``; ``auto`` uses it
        when the grid factor reproduces ``P`` (it was about twice as fast with
        Clarabel at 64 x 64) and ``quad_form`` otherwise.
    eps : float, optional
        Overrides the solver tolerance.
    **options
        Extra solver options (override the defaults above).
    """
    import cvxpy as cp
    import scipy.sparse as sp

    solver = _pick_solver(cp, cvxpy_solver)
    if not isinstance(formulation, str) or formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}, got {formulation!r}")
    D = _grid_factor(prob) if formulation in ("auto", "factor") else None
    if formulation == "factor" and D is None:
        raise ValueError("formulation='factor' needs a grid problem whose P is its grid's energy matrix")
    formulation = "factor" if D is not None else "quad_form"
    if eps is not None and (isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0):
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    eps = max(1e-12, 1e-2 * tol) if eps is None else float(eps)

    n = prob.n
    lo, hi = prob.lower, prob.upper
    x = cp.Variable(n)
    if x0 is not None:
        x.value = np.asarray(x0, dtype=np.float64)
    if formulation == "factor":
        quad = 0.5 * cp.sum_squares(sp.csr_matrix(D) @ x)
    else:
        quad = 0.5 * cp.quad_form(x, cp.psd_wrap(prob.P))
    objective = quad + prob.q @ x if np.any(prob.q != 0) else quad
    pinned = lo == hi
    cons = []
    if pinned.any():
        idx = np.flatnonzero(pinned)
        cons.append(x[idx] == lo[idx])
    for bound, sign in ((lo, 1), (hi, -1)):
        idx = np.flatnonzero(np.isfinite(bound) & ~pinned)
        if idx.size:
            cons.append(x[idx] >= bound[idx] if sign > 0 else x[idx] <= bound[idx])
    problem = cp.Problem(cp.Minimize(objective), cons)

    opts = _tight_options(solver, eps, max_iter, time_limit)
    opts.update(options)
    t0 = time.perf_counter()
    notes = []
    try:
        problem.solve(solver=solver, verbose=bool(verbose), warm_start=x0 is not None, **opts)
    except cp.error.SolverError as exc:
        # Very tight tolerances can make an interior-point method give up
        # ("insufficient progress"); try once more at the solver's defaults.
        notes.append(f"failed at eps={eps:g} ({exc}); retried with {solver} defaults")
        try:
            problem.solve(solver=solver, verbose=bool(verbose))
        except cp.error.SolverError as exc2:
            notes.append(f"retry failed too ({exc2})")
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"cvxpy/{solver} rejected its options {sorted(opts)}: {exc}") from exc
    elapsed = time.perf_counter() - t0
    status = str(problem.status)
    value = x.value
    stats = problem.solver_stats
    iters = getattr(stats, "num_iters", None) if stats is not None else None
    msg = f"cvxpy/{solver} status '{status}'"
    if notes:
        msg += "; " + "; ".join(notes)
    return BackendOutput(
        x=np.full(n, np.nan) if value is None else np.asarray(value, dtype=np.float64).ravel(),
        iterations=int(iters or 0),
        converged=status == "optimal",
        message=msg,
        hit_time_limit=status == "user_limit" and time_limit is not None and elapsed >= 0.9 * time_limit,
        failed=value is None or "infeasible" in status or "unbounded" in status,
        info={"cvxpy_status": status, "cvxpy_solver": solver, "formulation": formulation, "eps": eps,
              "backend_time": elapsed},
    )
