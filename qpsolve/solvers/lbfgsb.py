"""``lbfgsb``: scipy's L-BFGS-B on the box QP, wrapped honestly for comparison.

L-BFGS-B handles the box natively and needs only ``E`` and ``P x + q`` (one
sparse product per evaluation).  Its ``ftol``/``gtol`` are set far below what
the certificate asks, and each restart re-centres the objective on the last
iterate so that rounding in ``E`` does not end the run early; whatever it
reports goes into the message, and the registry's certificate decides success.
"""

from __future__ import annotations

import numbers
import time

import numpy as np

from ..linalg.threads import out_of_time
from ._base import BackendOutput, importable

NAME = "lbfgsb"


def available():
    return importable("scipy.optimize")


def supports(prob):
    return None


def _positive(value, name, kind=numbers.Real):
    if isinstance(value, bool) or not isinstance(value, kind) or not (np.isfinite(value) and value > 0):
        what = "integer" if kind is numbers.Integral else "number"
        raise ValueError(f"{name} must be a positive {what}, got {value!r}")
    return value


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, maxcor=20, ftol=None, gtol=None,
          maxls=50, restarts=5, **options):
    """Run ``scipy.optimize.minimize(method="L-BFGS-B")`` on ``prob``.

    Parameters
    ----------
    prob : BoxQP
    tol : float
        Certificate tolerance; ``ftol`` defaults to ``1e-3 * tol**2`` (the
        re-centred objective is near zero, so L-BFGS-B's relative test
        ``reduction <= ftol * max(|f|, 1)`` is absolute, and ``E - E*`` must
        get about ``tol**2`` small before the duality gap is ``tol`` small)
        and ``gtol`` to ``0.1 * tol * max(1, |E|)`` over the summed box widths
        (so the free variables' share of the duality gap stays within the
        certificate), recomputed at every restart.
    max_iter : int or None
        L-BFGS-B iterations (default 20000); ``maxfun`` is ``4 * max_iter``.
    x0 : ndarray or None
        Start point (default :meth:`BoxQP.start_point`).
    verbose : bool
        Print one line when done.
    time_limit : float or None
        Enforced through the per-iteration callback (``StopIteration``).
    maxcor, ftol, gtol, maxls : optional
        Passed to L-BFGS-B.
    restarts : int
        Extra runs, each re-centred on the last iterate (see the comment in
        the code), while the certificate is not met (default 5).
    **options
        Any other ``minimize(..., options=)`` entry.
    """
    from scipy.optimize import Bounds, minimize

    from ..certificate import certificate

    maxcor = int(_positive(maxcor, "maxcor", numbers.Integral))
    maxls = int(_positive(maxls, "maxls", numbers.Integral))
    if isinstance(restarts, bool) or not isinstance(restarts, numbers.Integral) or restarts < 0:
        raise ValueError(f"restarts must be a non-negative integer, got {restarts!r}")
    ftol = 1e-3 * tol**2 if ftol is None else float(_positive(ftol, "ftol"))
    user_gtol = None if gtol is None else float(_positive(gtol, "gtol"))
    width = prob.upper - prob.lower
    width = float(np.sum(np.where(np.isfinite(width), width, prob.scale)))
    maxiter = 20_000 if max_iter is None else int(max_iter)
    x_start = prob.start_point() if x0 is None else np.asarray(x0, dtype=np.float64)

    P, q = prob.P, prob.q
    t0 = time.perf_counter()
    timed_out = [False]

    def callback(intermediate_result):
        # scipy >= 1.11 halts cleanly when a new-style callback raises StopIteration; Cancelled
        # (out_of_time's, a cancelled colour channel: linalg.threads.cancel_scope) passes through it.
        if out_of_time(None if time_limit is None else t0 + time_limit):
            timed_out[0] = True
            raise StopIteration

    # E(x) evaluated directly carries rounding noise ~eps * |x^T P x|, far above the
    # E - E* that a 1e-8 duality gap needs, so L-BFGS-B stalls on "relative reduction".
    # Each run therefore minimizes E(c + d) - E(c) = 1/2 d^T P d + g_c^T d about the
    # last iterate c, whose noise shrinks with the step; restart while not certified.
    x = x_start.copy()
    runs, nit, nfev, res = [], 0, 0, None
    for _ in range(1 + restarts):
        c, gc = x, P @ x + q

        def fun(z, c=c, gc=gc):
            d = z - c
            Pd = P @ d
            return 0.5 * float(d @ Pd) + float(gc @ d), Pd + gc

        # |projected g|_inf <= gtol keeps the duality gap of the free variables
        # (|g_i| times their box width) at a tenth of what the certificate allows.
        gtol = user_gtol or 0.1 * tol * max(1.0, abs(prob.objective(c))) / max(width, 1e-300)
        opts = dict(maxiter=max(1, maxiter - nit), maxfun=4 * maxiter, maxcor=maxcor,
                    ftol=ftol, gtol=gtol, maxls=maxls)
        opts.update(options)
        try:
            res = minimize(fun, c, jac=True, method="L-BFGS-B",
                           bounds=Bounds(prob.lower, prob.upper), callback=callback, options=opts)
        except StopIteration:  # scipy < 1.11 lets the callback's StopIteration escape
            runs.append("time limit (callback)")
            timed_out[0], res = True, None
            break
        except (ValueError, TypeError) as exc:
            # A bad pass-through option: name it, as every qpsolve entry point does.
            raise type(exc)(f"lbfgsb rejected its options {sorted(options)}: {exc}") from exc
        # scipy skips L-BFGS-B entirely when every variable is fixed (no nit/status then).
        x, nit, nfev = res.x, nit + int(res.get("nit", 0)), nfev + int(res.get("nfev", 0))
        runs.append(str(res.message))
        if timed_out[0] or nit >= maxiter or certificate(prob, prob.project(x), tol).optimal:
            break
    if res is None:
        msg, status, success = runs[-1], 99, False
    else:
        msg, success = str(res.message), bool(res.success)
        status = int(res.get("status", 0 if success else 2))
    if verbose:
        print(f"[lbfgsb] {msg}; {nit} iterations in {len(runs)} run(s), E = {prob.objective(x):.12g}")
    return BackendOutput(
        x=x,
        iterations=nit,
        converged=success,
        message=f"L-BFGS-B status {status}: '{msg}'" + (f" ({len(runs)} re-centred runs)" if len(runs) > 1 else ""),
        stalled="ABNORMAL" in msg.upper(),
        hit_time_limit=timed_out[0],
        info={"lbfgsb_status": status, "lbfgsb_message": msg, "nfev": nfev, "runs": runs,
              "ftol": ftol, "gtol": gtol, "backend_time": time.perf_counter() - t0},
    )
