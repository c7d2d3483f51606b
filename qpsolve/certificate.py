"""Optimality certificates for box QPs: the single judge of every solver.

For a point ``x`` and its gradient ``g = P x + q``:

* primal infeasibility ``max(L - x, x - U, 0)``;
* scaled projected gradient ``|| x - clip(x - g / diag(P), L, U) ||_inf``;
* Frank-Wolfe duality gap ``sum_i max(g_i (x_i - L_i), g_i (x_i - U_i))``.

For a feasible ``x`` the gap bounds ``E(x) - E*`` from above because ``E`` is
convex and the box is the feasible set: ``E* >= E(x) + min_y g.(y - x)``.
Components whose descent direction meets an infinite bound would contribute
``+inf`` unless their gradient is exactly zero; they are reported separately
(``unbounded_gradient``, in the units of ``x``) and held to the projected
gradient's threshold themselves: the projected gradient alone would pass a
point that has run off towards the missing bound, where ``x_i - g_i / P_ii``
rounds back to ``x_i``.  (The price: a minimiser farther than about
``sqrt(tol) * scale / eps`` along a side without a bound, 4.5e11 times the
bounds' scale at the default tolerance, cannot be certified, since float64
cannot place ``x_i`` finely enough there.)  The gap is a proven bound whenever
``unbounded_gradient == 0``.

Floating point limits how small a gap can be.  The gradient is summed in
extended precision, so its own arithmetic adds almost nothing; but ``x`` is a
float64 vector, and rounding the exact optimum to float64 already gives every
``g_i`` an error of about ``r_i = (eps / 2) sqrt(sum_j P_ij^2 x_j^2)``
(:meth:`BoxQP.rounding_level`).  The certificate reports
``gap_floor = sum_i r_i dist_i`` (``dist_i`` the distance to the bound the
gradient points at) and accepts a gap below it: no float64 point can be shown
to be better.  That is what lets problems whose optimal energy is zero (a
ramp under ``odd`` boundaries) and megapixel plates, whose gap sums a
rounding-level gradient over a million free pixels, be certified.

That floor belongs to the *dual point*, not to ``x``.  Convexity gives a
lower bound on ``E*`` from any point ``w``, not only from ``x``; with
``w = x + d`` it reads

``E(x) - E* <= 1/2 d^T P d + sum_i max(h_i (x_i - L_i), h_i (x_i - U_i))``,
``h = g + P d``,

so a solver that knows a correction ``d`` below the float64 resolution of
``x`` (one more Newton step on the free pixels, kept apart instead of being
rounded into ``x``) passes it as ``dual_shift`` and the gap drops to what
the correction leaves: far below the floor.  Any ``d`` gives a valid bound,
so the shift needs no trust; the certificate takes the smaller of the two
gaps.  It uses the shift only when the gradient is exact
(:attr:`BoxQP.exact_gradient`, integer stencils): otherwise the summation
error of ``g`` itself would be the limit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .validation import check_vector

__all__ = ["Certificate", "certificate", "combine", "active_set", "box_violation", "gap_terms", "bound_distance",
           "DEFAULT_TOL"]

DEFAULT_TOL = 1e-8


@dataclass(frozen=True)
class Certificate:
    """The numbers that decide whether ``x`` solves a :class:`~qpsolve.BoxQP`.

    Attributes
    ----------
    objective : float
        ``E(x) = 1/2 x^T P x + q^T x``.
    infeasibility : float
        ``max(L - x, x - U, 0)`` (zero for every result qpsolve returns).
    projected_gradient : float
        Scaled projected gradient in the units of ``x``.
    gap : float
        Frank-Wolfe duality gap over the components with finite bounds in
        their descent direction; an upper bound on ``E(x) - E*``.  With a
        ``dual_shift`` the smaller of the gaps of the dual points ``x`` and
        ``x + shift`` (both bounds hold).
    relative_gap : float
        ``gap / max(1, |E(x)|)``.
    gap_floor : float
        Rounding-error level of ``gap`` (see the module docstring).
    unbounded_gradient : float
        Largest ``|g_i| / P_ii`` over components whose descent direction is
        unbounded (zero on fully bounded problems).
    tol : float
        Tolerance used for :attr:`optimal`.
    optimal : bool
        ``infeasibility == 0``, ``relative_gap <= tol`` (or ``gap <= gap_floor``)
        and ``projected_gradient`` and ``unbounded_gradient`` both at most
        ``sqrt(tol) * scale``.
    """

    objective: float
    infeasibility: float
    projected_gradient: float
    gap: float
    relative_gap: float
    gap_floor: float
    unbounded_gradient: float
    tol: float
    optimal: bool

    def as_dict(self):
        return asdict(self)

    def __str__(self):
        verdict = "optimal" if self.optimal else "NOT optimal"
        return (
            f"{verdict} (tol {self.tol:.0e}): E = {self.objective:.10g}, "
            f"gap = {self.gap:.3e} (relative {self.relative_gap:.3e}), "
            f"projected gradient = {self.projected_gradient:.3e}, "
            f"infeasibility = {self.infeasibility:.3e}"
        )


def gap_terms(g, x, lower, upper):
    """The Frank-Wolfe terms of the duality gap at ``x``, and where they are unbounded.

    ``(terms, unbounded)``: ``terms[i] = max(g_i (x_i - L_i), g_i (x_i - U_i), 0)``
    (the energy a step to the box's corner that the gradient points at
    would gain, to first order; their sum bounds ``E(x) - E*`` for a
    convex energy), and ``unbounded[i]`` where that term is not finite
    (``g_i`` points at an infinite bound); ``terms`` is 0 there.  The
    certificate sums them; solvers estimate the certificate with the
    same terms from a float64 gradient.

    Examples
    --------
    >>> import numpy as np
    >>> terms, unbounded = gap_terms(np.array([2.0, -1.0, 0.5]), np.array([1.0, 1.0, 0.0]),
    ...                              np.zeros(3), np.array([3.0, 3.0, np.inf]))
    >>> terms.tolist(), unbounded.tolist()
    ([2.0, 2.0, 0.0], [False, False, False])
    >>> gap_terms(np.array([-1.0]), np.array([0.0]), np.array([0.0]), np.array([np.inf]))[1].tolist()
    [True]
    """
    with np.errstate(invalid="ignore"):
        term = np.where(g > 0, g * (x - lower), np.where(g < 0, g * (x - upper), 0.0))
    unbounded = ~np.isfinite(term)
    return np.where(unbounded, 0.0, np.maximum(term, 0.0)), unbounded


def bound_distance(g, x, lower, upper):
    """Each variable's distance to the bound its gradient points at: ``x - L`` where ``g > 0``,
    ``U - x`` where ``g < 0``, 0 where ``g == 0`` or that bound is infinite.

    The certificate's rounding floor weighs it (a gap below ``sum(rounding * distance)`` is
    all that float64 can resolve); solvers use it to know when to ask.

    Examples
    --------
    >>> import numpy as np
    >>> bound_distance(np.array([2.0, -1.0, 0.0, -1.0]), np.array([1.0, 1.0, 1.0, 1.0]),
    ...                np.zeros(4), np.array([3.0, 3.0, 3.0, np.inf])).tolist()
    [1.0, 2.0, 0.0, 0.0]
    """
    with np.errstate(invalid="ignore"):
        dist = np.where(g > 0, x - lower, np.where(g < 0, upper - x, 0.0))
    dist[~np.isfinite(dist)] = 0.0
    return dist


def box_violation(x, lower, upper):
    """How far ``x`` lies outside ``[lower, upper]``: the largest violation, 0.0 inside.

    Examples
    --------
    >>> box_violation(np.array([0.5, 2.25, -1.0]), np.zeros(3), np.array([1.0, 2.0, np.inf]))
    1.0
    >>> box_violation(np.array([0.5]), np.array([-np.inf]), np.array([1.0]))
    0.0
    """
    return float(max(np.max(lower - x, initial=0.0), np.max(x - upper, initial=0.0)))


def certificate(prob, x, tol=DEFAULT_TOL, *, gradient=None, dual_shift=None):
    """Certify a candidate solution ``x`` of ``prob``.

    Parameters
    ----------
    prob : BoxQP
        The problem.
    x : (n,) array_like
        Candidate point (any shape with ``n`` elements).
    tol : float, optional
        Relative duality-gap tolerance that decides :attr:`Certificate.optimal`.
    gradient : (n,) ndarray, optional
        ``P x + q`` if the caller already has it (saves one product); by
        default it is summed in extended precision.
    dual_shift : (n,) array_like, optional
        A correction ``d`` whose dual point ``x + d`` may prove a smaller gap
        (module docstring); the smaller of the two gaps is reported.  Ignored
        unless :attr:`BoxQP.exact_gradient` and ``gradient`` is not given.

    Returns
    -------
    Certificate

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> import qpsolve as qs
    >>> prob = qs.BoxQP(sp.identity(2), lower=[1, -1], upper=[2, 1])
    >>> cert = qs.certificate(prob, [1.0, 0.0])
    >>> cert.optimal, cert.gap, cert.objective
    (True, 0.0, 0.5)
    >>> qs.certificate(prob, [2.0, 0.0]).gap   # bounds E(2, 0) - E* = 2 - 0.5
    2.0
    """
    if not (isinstance(tol, (int, float, np.floating)) and np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}")
    x = check_vector(x, prob.n, "x")
    g = prob.gradient(x, precise=True) if gradient is None else gradient
    # A caller's gradient may not be exact: the shifted bound needs the exact one.
    use_shift = dual_shift is not None and gradient is None and prob.exact_gradient
    if use_shift:
        shift = np.asarray(dual_shift, dtype=np.float64).ravel()
        if shift.shape != x.shape or not np.isfinite(shift).all():
            raise ValueError(f"dual_shift must be a finite array of {x.size} numbers")
        Pd = prob.matvec(shift)
        shifted = 0.5 * max(float(shift @ Pd), 0.0)
    infeas = pg = plain = floor = unb = E = 0.0
    # One pass in blocks of rows: the temporaries stay small on megapixel problems.
    for rows, level in prob._rounding_blocks(x):
        xb, gb, lo, hi = x[rows], g[rows], prob.lower[rows], prob.upper[rows]
        infeas = max(infeas, box_violation(xb, lo, hi))
        db = prob.diag[rows]
        pg = max(pg, float(np.max(np.abs(xb - np.minimum(np.maximum(xb - gb / db, lo), hi)), initial=0.0)))
        # Frank-Wolfe gap: g_i > 0 wants x_i at L_i, g_i < 0 wants it at U_i.
        terms, unbounded = gap_terms(gb, xb, lo, hi)
        plain += float(np.sum(terms))
        if use_shift:
            hterms, hunb = gap_terms(gb + Pd[rows], xb, lo, hi)
            shifted = np.inf if hunb.any() else shifted + float(np.sum(hterms))
        floor += float(level @ bound_distance(gb, xb, lo, hi))
        if unbounded.any():
            unb = max(unb, float(np.max(np.abs(gb[unbounded]) / db[unbounded])))
        # E = 1/2 x.(P x) + q.x, and P x = g - q: no second product needed.
        qb = prob.q[rows]
        E += float(0.5 * xb @ (gb - qb) + qb @ xb)
    gap = min(plain, shifted) if use_shift else plain
    rel = gap / max(1.0, abs(E))
    # A non-finite energy or gap (a gradient that overflowed) proves nothing.
    optimal = bool(np.isfinite(E) and np.isfinite(gap) and infeas == 0.0 and (rel <= tol or gap <= floor)
                   and max(pg, unb) <= np.sqrt(tol) * prob.scale)
    return Certificate(
        objective=E,
        infeasibility=infeas,
        projected_gradient=pg,
        gap=gap,
        relative_gap=rel,
        gap_floor=floor,
        unbounded_gradient=unb,
        tol=float(tol),
        optimal=optimal,
    )


def combine(certificates, tol):
    """One :class:`Certificate` for independent problems solved side by side (tiles).

    Objectives, gaps and gap floors add up (the problems' energies do); the
    other numbers are the worst part's; optimal when every part is.  It
    certifies each part against its own problem, not their stitched sum.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from qpsolve.problem import BoxQP
    >>> prob = BoxQP(sp.identity(2, format="csr"), lower=[1, -1], upper=[2, 1])
    >>> c = certificate(prob, [1.0, 0.0])
    >>> both = combine([c, c], 1e-8)
    >>> both.optimal, both.objective == 2 * c.objective
    (True, True)
    """
    ks = list(certificates)
    return Certificate(
        objective=float(sum(k.objective for k in ks)),
        infeasibility=max(k.infeasibility for k in ks),
        projected_gradient=max(k.projected_gradient for k in ks),
        gap=float(sum(k.gap for k in ks)),
        relative_gap=max(k.relative_gap for k in ks),
        gap_floor=float(sum(k.gap_floor for k in ks)),
        unbounded_gradient=max(k.unbounded_gradient for k in ks),
        tol=tol,
        optimal=all(k.optimal for k in ks),
    )


def active_set(prob, x):
    """``-1`` where ``x`` sits on its lower bound, ``+1`` on its upper bound, else ``0``.

    Pinned variables (``lower == upper``) are reported as ``-1``.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    act = np.zeros(prob.n, dtype=np.int8)
    act[x >= prob.upper] = 1
    act[x <= prob.lower] = -1
    return act
