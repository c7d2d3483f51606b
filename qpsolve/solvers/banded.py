"""``banded``: a primal-dual interior-point method on banded ``P`` (1-D signals), exact in linear time.

A 1-D signal's plate is pentadiagonal, and the grid solvers (``pdas``,
``tnnmg``) take 2-D grids only, so before this backend ``auto`` handed 1-D
problems to ``pcg``, whose active-set steps crawl through a signal that
touches its bins everywhere (a 4 096-sample random walk at 3 bits: 200
steps and not certified, in 3.4 s).  An interior-point method does not
search for the active set at all: every iteration is one Newton step on the
barrier-smoothed optimality conditions,

``(P + Z/S + W/T) dx = r``,   ``S = diag(x - L)``, ``T = diag(U - x)``,

whose matrix has ``P``'s band, so a banded Cholesky factor
(:mod:`qpsolve.linalg.banded`) solves it exactly in ``O(n b^2)``.  Mehrotra's
predictor-corrector (one factorisation, two solves per iteration) takes the
complementarity ``mu`` down by about an order of magnitude per iteration,
degenerate contacts or not; 20-35 iterations reach the certificate's
tolerance on quantized signals.  The iterates stay strictly inside the box,
so the Frank-Wolfe gap of the shared certificate is about ``2 n mu`` and is
asked for once its float64 estimate is below ``tol``.

Pinned variables (``L == U``) are taken out before the iteration (the band
only narrows); a side whose bound is infinite has no barrier.  ``auto``
takes this backend for problems that no grid solver takes and whose
bandwidth, or cyclic bandwidth, is at most :data:`MAX_BANDWIDTH`
(1-D grids of every model and boundary rule, and user-built chain
matrices).  A ``periodic`` line is a ring: its ``P`` is banded but for two
corner blocks, a term of rank ``2 b`` that each factor takes into account by
the Sherman-Morrison-Woodbury formula (:func:`~qpsolve.linalg.banded.cholesky_factor`).

References
----------
S. Mehrotra, "On the implementation of a primal-dual interior point method",
SIAM J. Optim. 2 (1992) 575-601.
J. Nocedal, S. J. Wright, *Numerical Optimization*, 2nd ed., Springer 2006,
section 16.6 (interior-point methods for quadratic programs).

Examples
--------
>>> import numpy as np, qpsolve as qs
>>> rng = np.random.default_rng(0)
>>> walk = np.clip(np.rint(128 + np.cumsum(rng.normal(0, 1, 2000))), 0, 255).astype(np.uint8)
>>> prob = qs.image_problem(walk & 0b11100000, bits=3)   # 3 bits, a 1-D signal
>>> sol = qs.solve(prob)
>>> sol.solver, sol.success
('banded', True)
"""

from __future__ import annotations

import time

import numpy as np

from ..certificate import certificate
from ..linalg.threads import out_of_time, report_progress
from ._base import BackendOutput, importable

NAME = "banded"

#: ``auto`` and ``supports`` take ``P`` up to this bandwidth: a factorisation costs ``n (b + 1)^2``
#: multiply-adds, so at 16 a megasample signal's Newton system is still a few hundred million
#: (the triharmonic plate on a line has bandwidth 3)
MAX_BANDWIDTH = 16
#: interior-point iterations when the caller gives no ``max_iter`` (Mehrotra's method needs 20-40)
MAX_ITER = 200
#: the fraction of the way to the boundary a step goes
STEP_FRACTION = 0.99
#: boxes at most this many ulps wide are held at their lower bound, outside the iteration
NARROW_ULPS = 64
#: an iterate this many times ``prob.scale`` away from the origin is taken as diverging (a problem
#: unbounded below along a side without a bound)
DIVERGED = 1.0 / np.finfo(np.float64).eps
#: added (times P's largest diagonal entry) when a Newton system is singular to working precision
REGULARIZE = 1e-14
#: iterations whose estimates pass may ask the certificate (up to three points each, a few products
#: apiece) this many times; the next such iteration stops the run
CERTIFICATE_ASKS = 8


def available():
    return importable("scipy.linalg")


def supports(prob):
    """``None`` when ``P`` is banded, or cyclically banded, within :data:`MAX_BANDWIDTH`, else the reason it is not."""
    grid = prob.grid
    if grid is not None and len(grid.shape) > 1:
        row = int(np.prod(grid.shape[1:]))
        if row > MAX_BANDWIDTH:
            return (f"a {'x'.join(map(str, grid.shape))} grid is not banded (its rows couple pixels "
                    f"{row} apart, more than {MAX_BANDWIDTH})")
    from ..linalg.banded import bandwidth, cyclic_bandwidth

    b = bandwidth(prob.P)
    if b > MAX_BANDWIDTH:
        if cyclic_bandwidth(prob.P, limit=MAX_BANDWIDTH) > MAX_BANDWIDTH:
            return f"P has bandwidth {b}, and cyclic bandwidth too, more than {MAX_BANDWIDTH} (not a 1-D chain or ring)"
    return None


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, **options):
    """Mehrotra's predictor-corrector interior-point method with banded Cholesky steps.

    Parameters
    ----------
    prob : BoxQP
        ``P`` of bandwidth, or cyclic bandwidth, at most :data:`MAX_BANDWIDTH`
        (see :func:`supports`).
    tol : float
        Certificate tolerance: the iteration stops once the shared certificate
        accepts the current point or one of its two variants (:func:`_certified`).
    max_iter : int or None
        Interior-point iterations (default :data:`MAX_ITER`).
    x0 : ndarray or None
        Start point, moved a hundredth of its bin inside the box (interior
        points only); default: the middle of each bin.
    verbose : bool
        Print one line per iteration.
    time_limit : float or None
        Checked between iterations.
    """
    if options:
        raise TypeError(f"solver 'banded' takes no options, got {sorted(options)}")
    from ..linalg.banded import bandwidth, cholesky_factor, cyclic_bandwidth, cyclic_corners, lower_bands

    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    max_iter = MAX_ITER if max_iter is None else int(max_iter)
    lower, upper = prob.lower, prob.upper
    # pinned variables sit at their bound and leave the system, and so do boxes a few ulps wide, in
    # which float64 has too few points for an iteration to approach a bound (either bound is as good)
    both = np.isfinite(lower) & np.isfinite(upper)
    with np.errstate(invalid="ignore"):
        narrow = both & (upper - lower <= NARROW_ULPS * np.spacing(np.maximum(np.abs(lower), np.abs(upper))))
    live = (lower < upper) & ~narrow
    idx = np.flatnonzero(live)
    x_full = np.where(live, 0.0, lower)
    P = prob.P.tocsr()
    Pl = P[idx][:, idx] if idx.size < prob.n else P
    # the pinned variables' pull on the live ones moves into the linear term
    ql = prob.q[idx] + (P @ x_full)[idx] if idx.size < prob.n else prob.q.copy()
    # E of the whole problem = E of the live part under ql + this constant (the pinned part's own)
    pinned_energy = prob.objective(x_full) if idx.size < prob.n else 0.0
    lo, hi = lower[idx], upper[idx]
    has_lo, has_hi = np.isfinite(lo), np.isfinite(hi)
    bounded = int(has_lo.sum() + has_hi.sum())
    b = bandwidth(Pl)
    corners = None
    if b > MAX_BANDWIDTH:  # a ring (periodic line): its band, and the corners by Woodbury
        b = cyclic_bandwidth(Pl)
        corners = cyclic_corners(Pl, b)
    ab0 = lower_bands(Pl, b)
    width = hi - lo
    # a typical bin: the start's distance from one-sided bounds and the scale of the first multipliers
    typical = float(np.median(width[np.isfinite(width)])) if np.isfinite(width).any() else 1.0
    typical = typical if typical > 0 else 1.0
    x = _interior_start(lo, hi, has_lo, has_hi, typical,
                        None if x0 is None else np.asarray(x0, dtype=np.float64)[idx])

    def full(v):
        out = x_full.copy()
        out[idx] = v
        return out

    # A side without a bound carries slack 1 and multiplier 0 (``m_lo`` / ``m_hi`` are 0 there): every
    # formula below then gives it no barrier, no step and no complementarity, without branching.
    m_lo, m_hi = has_lo.astype(np.float64), has_hi.astype(np.float64)
    lo_or, hi_or = np.where(has_lo, lo, 0.0), np.where(has_hi, hi, 0.0)
    inside_lo, inside_hi = np.nextafter(lo, np.inf), np.nextafter(hi, -np.inf)

    def slacks(v):
        return m_lo * (v - lo_or) + (1.0 - m_lo), m_hi * (hi_or - v) + (1.0 - m_hi)

    s, t = slacks(x)
    g = Pl @ x + ql
    kappa = 1e-2 * max(float(np.max(np.abs(g), initial=0.0)), 1e-3 * float(np.max(ab0[0], initial=0.0)) * typical,
                       np.finfo(np.float64).tiny)
    z = m_lo * (np.maximum(g, 0.0) + kappa)
    w = m_hi * (np.maximum(-g, 0.0) + kappa)

    diag = np.where(ab0[0] > 0, ab0[0], 1.0)  # the certificate's scaling of the gradient
    pg_limit = np.sqrt(tol) * prob.scale
    status, cert, asks, it, history = "max_iter", None, 0, 0, []
    message = ""
    for it in range(max_iter + 1):
        g = Pl @ x + ql
        mu = (float(s @ z) + float(t @ w)) / max(bounded, 1)
        gap, E, dist, unb = _estimate(x, g, lo, hi, ql, diag)
        rel = gap / max(1.0, abs(E + pinned_energy))
        history.append((float(mu), float(rel)))
        report_progress(NAME, "fine", prob.n, it, rel, tol)
        if verbose:
            print(f"[banded] iteration {it}: mu {mu:.3e}, gap estimate {rel:.3e}", flush=True)
        # the certificate's own tests, in float64: the gap, or its rounding floor (bounds of 1e10 and
        # more put the floor far above tol, and the certificate accepts a gap below it; looked at once
        # the estimate stops falling), and on sides without a bound the gradient
        stagnant = len(history) > 1 and rel > 0.5 * history[-2][1]
        ask = unb <= pg_limit and (rel <= tol or (stagnant and gap <= float(prob.rounding_level(full(x))[idx] @ dist)))
        if ask:
            if asks == CERTIFICATE_ASKS:
                status, message = "stalled", f"the certificate refused {asks} points whose estimates passed"
                break
            asks += 1
            x, cert = _certified(prob, full, x, g, s, t, ab0[0], lo, hi, tol)
            if cert is not None and cert.optimal:
                status = "optimal"
                break
        if it == max_iter:
            break
        if out_of_time(deadline):
            status = "time_limit"
            break
        # Newton system of the perturbed KKT conditions: the barrier terms go on P's diagonal
        zs, wt = z / s, w / t
        ab = ab0.copy()
        ab[0] += zs
        ab[0] += wt
        try:
            step = cholesky_factor(ab, corners)
        except np.linalg.LinAlgError:
            # late in the iteration the barrier may have faded from a null direction of P whose
            # bounds are far away: a regularisation at rounding level keeps the step defined
            ab[0] += REGULARIZE * max(float(ab0[0].max(initial=0.0)), 1.0)
            try:
                step = cholesky_factor(ab, corners)
            except np.linalg.LinAlgError:
                status, message = "singular", "the Newton system is singular to working precision"
                break

        def direction(target, corr_lo=0.0, corr_hi=0.0):
            # target: sigma * mu; corr_*: Mehrotra's second-order terms ds * dz and dt * dw
            a_lo = m_lo * target - corr_lo
            a_hi = m_hi * target - corr_hi
            # the dual residual g - z + w and the terms z, w of the complementarity rows cancel
            dx = step(a_lo / s - a_hi / t - g)
            dz = a_lo / s - z - zs * dx
            dw = a_hi / t - w + wt * dx
            return dx, dz, dw

        dx, dz, dw = direction(0.0)
        a = _longest_step(s, t, z, w, m_lo * dx, -m_hi * dx, dz, dw)
        if bounded:
            mu_aff = (float((s + a * m_lo * dx) @ (z + a * dz)) + float((t - a * m_hi * dx) @ (w + a * dw))) / bounded
            sigma = (mu_aff / mu) ** 3 if mu > 0 else 0.0
            dx, dz, dw = direction(sigma * mu, m_lo * dx * dz, -m_hi * dx * dw)
            a = _longest_step(s, t, z, w, m_lo * dx, -m_hi * dx, dz, dw)
        a = min(1.0, STEP_FRACTION * a)
        x_new = x + a * dx
        if not np.isfinite(x_new).all() or float(np.max(np.abs(x_new), initial=0.0)) > DIVERGED * prob.scale:
            status, message = "stalled", "the iterate diverged: the problem looks unbounded below"
            break
        # a variable whose step rounds onto its bound (float64 cannot resolve its slack) stays one
        # ulp inside it
        x_new = np.minimum(np.maximum(x_new, inside_lo), inside_hi)
        x, (s, t) = x_new, slacks(x_new)
        cert = None  # a refused certificate belonged to the point before
        z += a * dz
        w += a * dw
    if status != "optimal" and cert is None:
        # the snapped point may pass where the interior one does not (a projected gradient that
        # an almost-zero diagonal magnifies); the registry's certificate judges what is returned.
        # A cert still set means the loop already tried these candidates on this very x.
        x, cert = _certified(prob, full, x, g, s, t, ab0[0], lo, hi, tol)
        status = "optimal" if cert is not None and cert.optimal else status
    xf = full(x)
    info = {"iterations": it, "mu": history[-1][0], "rel_gap_estimate": history[-1][1],
            "bandwidth": int(ab0.shape[0] - 1), "cyclic": corners is not None, "pinned": int(prob.n - idx.size),
            "history": history, "backend_time": time.perf_counter() - t0}
    if verbose:
        print(f"[banded] {status} after {it} iterations", flush=True)
    return BackendOutput(
        x=xf, iterations=it, converged=status == "optimal",
        message=message or f"{status} after {it} interior-point iterations",
        stalled=status in ("stalled", "singular"), hit_time_limit=status == "time_limit",
        info=info, certified=None if cert is None else (xf, tol, None, cert),
    )


def _certified(prob, full, x, g, s, t, d, lo, hi, tol):
    """``(point, its certificate)``, the first certified of three candidates, else ``x`` and its own.

    1. ``x`` with its clear contacts snapped onto their bounds: where the gradient points at a
       bound and a projected-gradient step (``g_i / P_ii``) would reach it, which on the central
       path is a slack below about ``sqrt(mu / P_ii)`` beside a multiplier of ``sqrt(mu P_ii)`` or
       more.  It lies on its contacts exactly (``SolveResult.active`` reports them, a linear
       program gets its vertex); variables hovering near a bound with a gradient near zero, which a
       plate lying along a bound has by the thousand, stay where they are.
    2. ``x`` itself.
    3. One projected Jacobi step from the snapped point with the gradient at ``x``: a variable
       whose curvature is negligible beside the barrier's (a diagonal of 1e-50 next to ones)
       never leaves the middle of its box in the iteration, and the certificate's projected
       gradient, scaled by that diagonal, sees it.

    ``(x, None)`` for a non-finite ``x`` (an unbounded problem's diverging iterate).
    """
    if not np.isfinite(x).all():
        return x, None
    at_lo = (g > 0) & (g >= s * d) & np.isfinite(lo)
    at_hi = (g < 0) & (-g >= t * d) & np.isfinite(hi)
    snapped = np.where(at_lo, lo, np.where(at_hi, hi, x))
    first = None
    for point in ("snapped", "x", "jacobi"):
        if point == "snapped":
            if not (at_lo.any() or at_hi.any()):
                continue
            y = snapped
        elif point == "x":
            y = x
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.where(d > 0, g / d, 0.0)
            y = np.minimum(np.maximum(snapped - step, lo), hi)
            if not np.isfinite(y).all():
                continue
        cert = certificate(prob, full(y), tol)
        if cert.optimal:
            return y, cert
        if point == "x":
            first = cert
    return x, first


def _interior_start(lo, hi, has_lo, has_hi, typical, x0):
    """A point strictly inside every finite bound: ``x0`` moved 1 % of a bin inside, or the bins' middles.

    Every finite box holds a float64 strictly inside (the narrower ones were pinned); where ``x0`` is
    too close to a bound for the margin to show, the middle is taken.  ``typical`` is a typical bin
    width, used for one-sided boxes.
    """
    width = hi - lo
    finite = np.isfinite(width)
    middle = np.where(finite, 0.5 * np.where(finite, lo, 0.0) + 0.5 * np.where(finite, hi, 0.0), 0.0)
    # one-sided boxes: a typical bin (or a millionth of the bound's size) inside
    off_lo = lo + np.maximum(typical, 1e-6 * np.abs(np.where(has_lo, lo, 0.0)))
    off_hi = hi - np.maximum(typical, 1e-6 * np.abs(np.where(has_hi, hi, 0.0)))
    start = np.where(finite, middle, np.where(has_lo, off_lo, np.where(has_hi, off_hi, 0.0)))
    if x0 is None:
        return start
    margin = np.where(finite, 0.01 * width, 0.01 * typical)
    x = np.minimum(np.maximum(x0, np.where(has_lo, lo + margin, -np.inf)), np.where(has_hi, hi - margin, np.inf))
    inside = (~has_lo | (x > lo)) & (~has_hi | (x < hi))
    return np.where(inside, x, start)


def _longest_step(s, t, z, w, ds, dt, dz, dw):
    """The largest ``a`` (at most ``1 / STEP_FRACTION``) keeping ``s, t, z, w`` positive along the direction."""
    a = 1.0 / STEP_FRACTION
    for v, dv in ((s, ds), (t, dt), (z, dz), (w, dw)):
        neg = dv < 0
        if neg.any():
            with np.errstate(over="ignore"):
                a = min(a, float(np.min(v[neg] / -dv[neg])))
    return a


def _estimate(x, g, lo, hi, q, diag):
    """``(gap, E, dist, unbounded)`` of the live variables from a float64 gradient: the certificate's
    numbers estimated.

    ``dist`` is each variable's distance to the bound its gradient points at (zero where that bound
    is infinite) and ``unbounded`` the largest ``|g_i| / P_ii`` where it is: there the certificate
    asks the gradient itself to vanish.
    """
    # certificate.bound_distance's formula, kept in one pass with the mask of the distances that are
    # not finite (an infinite bound, or one so far that the distance overflows), which the
    # certificate's gap_terms also counts as unbounded
    with np.errstate(invalid="ignore"):
        dist = np.where(g > 0, x - lo, np.where(g < 0, hi - x, 0.0))
    open_side = ~np.isfinite(dist)
    dist[open_side] = 0.0
    unbounded = float(np.max(np.abs(g[open_side]) / diag[open_side], initial=0.0))
    E = float(0.5 * x @ (g - q) + q @ x)
    # the iterates lie strictly inside the box, where the Frank-Wolfe terms (certificate.gap_terms)
    # are |g_i| times these distances
    return float(np.abs(g) @ dist), E, dist, unbounded
