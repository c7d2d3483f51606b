"""``tnnmg``: truncated nonsmooth Newton multigrid for grid problems with dense contact sets.

Textured photographs touch their envelopes at a third of their pixels; a
dense Schur complement on the contact set (``pdas``) is then out of reach.
This backend works on the whole grid instead (Graeser and Kornhuber's
truncated nonsmooth Newton multigrid, with the linear step taken further):

1. **Nonlinear smoothing.**  Projected Gauss-Seidel sweeps (numba, on the
   operator's stencil table, :class:`~qpsolve.linalg.gridmg.TypedStencil`)
   decide locally which pixels sit on a bound.
2. **Truncated Newton step.**  With the pixels on a bound held, the plate
   on the free pixels ``F`` solves ``P_FF v = -g_F`` approximately: a few
   conjugate-gradient iterations preconditioned by a V-cycle of the
   Galerkin hierarchy of ``D P D``
   (:class:`~qpsolve.linalg.gridmg.TruncatedHierarchy`).  The active set
   moves at every step, so solving further buys nothing (measured in
   benchmarks/results/dense/notes.md); the hierarchy follows the held set
   by updates of its Galerkin products where pixels changed, not rebuilds.
3. **Projected line search.**  An Armijo search on the energy along the
   projected path ``clip(x + t v)``, halving ``t``: every iteration lowers
   the energy.  When it fails (a nearly singular free region, such as a
   sky under mirrored borders, carries the step through pixels that belong
   on their bounds, and the clipped spikes cost more than the step gains),
   the step is solved once more with the pixels the path clipped first
   held at those bounds, as a primal-dual active-set step would.  A step
   shorter than :data:`RETRY_SHORT` is retried the same way (on upscaled
   photographs contact areas form in wide flat bins, where the plate
   hovers within 1e-6 of a bound and most accepted steps were 1/128 long).
4. **Constrained coarse corrections.**  A few monotone multigrid V-cycles
   (:data:`MONOTONE_CYCLES`, one on lattice matrices;
   :class:`~qpsolve.linalg.gridmg.MonotoneHierarchy`): projected
   Gauss-Seidel on every level of the whole ``P``'s Galerkin hierarchy
   within monotonically restricted obstacles.  Its coarse levels move held
   regions off their bounds, which the truncated step cannot (it frees
   them one layer of pixels per step); the energy still never rises.
   Pixels pressed onto a bound (multiplier over a tenth of their bin) get
   no coarse room, so the coarse levels lift only regions that may leave.
   The first :data:`MONOTONE_TRUNCATED` cycles take their coarse levels
   from the Newton step's truncated hierarchy instead (held pixels get no
   coarse correction, so they no longer block the free ones beside them):
   free regions next to contact rims move at coarse scale too.
5. **Coarse-to-fine.**  Problems without a linear term start from the
   solution of the half-resolution problem (2 x 2 blocks: the bins'
   intersection where they overlap, their means elsewhere), solved the
   same way.
6. The shared certificate decides when to stop; it is asked once the gap
   estimate falls below half the tolerance or below the certificate's
   float64 rounding floor (large flat regions can stall just above tol).

Plain matrices (no grid) that are operators on a 2-D lattice
(:func:`qpsolve.linalg.lattice.find_lattice`) are taken too: their fine
level is :class:`~qpsolve.linalg.gridmg.LatticeStencil` (one stencil per
pixel, read from the matrix), the hierarchies are the Galerkin ones of
``P`` itself, and the coarse-to-fine start solves Galerkin coarse problems
``T^T P T`` within 2-block min / max envelopes.

References
----------
C. Graeser, R. Kornhuber, "Multigrid methods for obstacle problems",
J. Comput. Math. 27 (2009) 1-44.
C. Graeser, O. Sander, "Truncated nonsmooth Newton multigrid methods for
block-separable minimization problems", IMA J. Numer. Anal. 39 (2019).
R. Kornhuber, "Monotone multigrid methods for elliptic variational
inequalities I", Numer. Math. 69 (1994) 167-184.
X.-C. Tai, "Rate of convergence for some constraint decomposition methods
for nonlinear variational inequalities", Numer. Math. 93 (2003) 755-786.
E. Bueler, P. E. Farrell, "A full approximation scheme multilevel method
for nonlinear variational inequalities", SIAM J. Sci. Comput. (2024).
"""

from __future__ import annotations

import time
from functools import cached_property

import numpy as np
from scipy.ndimage import map_coordinates

from ..linalg.threads import blas_threads, out_of_time, report_progress
from ..certificate import bound_distance, certificate, gap_terms
from ._base import BackendOutput, importable

NAME = "tnnmg"

#: projected Gauss-Seidel sweeps (forward, backward, ...) before each Newton step
NONLINEAR_SWEEPS = 4
#: which pixels a Newton step holds: "bound" (on a bound after the sweeps) or "trial"
HOLD = "bound"
#: Gauss-Seidel sweeps before and after each coarse correction in the V-cycle
LINEAR_SWEEPS = 2
#: coarse-to-fine start while both axes stay at least this long after halving
MIN_COARSE = 32
#: coarse envelopes of a 2 x 2 block (:func:`_restrict_envelopes`): "hull" (min of the lowers, max of
#: the uppers) or "overlap" (the bins' intersection where they overlap, their means elsewhere).
#: "overlap", because in textured regions the hull is far wider than the fine bins and the coarse
#: solution said little about the fine contacts (textured 1024^2: 30 -> 23 fine steps; notes, session 7)
COARSE_ENVELOPES = "overlap"
#: coarse levels stop once their relative gap estimate is below this
COARSE_GAP = 1e-3
#: and after at most this many Newton steps (they only give the next level its start)
COARSE_STEPS = 8
#: the certificate is asked once the float64 gap estimate is below this fraction of tol (the estimate
#: is the certificate's own formula in float64; on textured 1024^2 the tail gains ~5 % per step, so
#: waiting for half of tol cost about ten steps)
CHECK_FRACTION = 1.0
#: while more than this fraction of the pixels changed between held and free since the last
#: Newton step, its linear solve stops at this relative residual (the contacts will move again).
#: 1 (never loose): on upscaled photographs thousands of pixels hovering within 1e-6 of a bound
#: flip at every step, and the loose 1-iteration solves made the tail crawl (notes, session 5)
LOOSE_MOVES = 1.0
LOOSE_RTOL = 0.1
#: conjugate-gradient iterations per Newton step at most (the held set moves at every step:
#: more iterations cost more than the steps they save, see benchmarks/results/dense/notes.md)
CG_MAX = 3
#: the same on lattice matrices (``grid=None``).  Three as on grids: four saved fine steps on issue
#: #20's textured plate at 1024^2 (15 -> 13) but not at 512^2 (10), and cost more there than it saved
#: at 1024^2 (benchmarks/results/amg/notes-session8.md)
LATTICE_CG_MAX = 3
#: the Galerkin coarse grids are rebuilt when more than this fraction of the pixels changed
#: between held and free since the last Newton step, else updated by the difference
REBUILD = 0.25
#: constrained (monotone multigrid) V-cycles after each Newton step's line search: their coarse
#: levels move whole regions off their bounds, which the truncated step cannot (0 turns them off).
#: Several per step: the tail's error sits in free "blisters" whose contact rims creep at every
#: Newton step; a cycle costs a fraction of a step and moves them too (benchmarks/results/dense/notes.md,
#: session 6)
MONOTONE_CYCLES = 4
#: how many of those cycles (the first) take their coarse levels from the Newton step's truncated
#: hierarchy (Kornhuber's truncated monotone multigrid): held pixels get no coarse correction, so
#: they no longer pin the coarse functions over the free pixels beside them, and a free region
#: touching a contact moves as a whole; the other cycles still lift held regions.  Two of four:
#: textured 1024^2 23 -> 16 fine steps (notes, session 7); all four lost the lifting (34 at 512^2)
MONOTONE_TRUNCATED = 2
#: the same for plain matrices on a lattice (``grid=None``): one, because four made issue #20's
#: variable-stiffness textured plate at 1024^2 need several times the fine steps (notes, session 6)
LATTICE_MONOTONE_CYCLES = 1
#: projected Gauss-Seidel sweeps before and after each coarse correction of those V-cycles
MONOTONE_SMOOTH = 2
#: coarse obstacles of those V-cycles give no room to a pixel on a bound whose multiplier pushes it
#: beyond this fraction of its bin (``None``: room decides alone)
MONOTONE_FIRM = 0.1
#: Newton steps on the fine level when the caller gives no max_iter: every step lowers the energy
#: and the certificate decides, so the cap only has to sit above what large photographs need
#: (textured 1024^2 needed 226: benchmarks/results/dense/notes.md)
MAX_STEPS = 500
#: halvings of the projected Newton step before the Gauss-Seidel sweeps are left to make progress
ARC_STEPS = 8
#: on the fine level the certificate is also asked when the gap estimate, below this multiple of
#: tol, falls under the float64 rounding floor that the certificate accepts (then again after
#: FLOOR_PAUSE steps if it refused)
FLOOR_WATCH = 1e3
FLOOR_PAUSE = 3
#: after a failed line search, retries with the pixels it clipped first held at their bounds
RETRY_HOLD = 1
#: a step this short counts as failed for the retry (the better of the two is kept): on upscaled
#: photographs most accepted steps were 1/128-1/32, their paths clipped at contact areas forming
#: in wide flat bins (textured 1024^2: 175 fine steps without, notes session 5)
RETRY_SHORT = 0.125
#: the line search on the projected path ``clip(x + t d)``: "armijo" halves t from 1 (:data:`ARC_STEPS`
#: times at most); "exact" walks the path's breakpoints to the minimiser of the piecewise quadratic
#: (:func:`~qpsolve.linalg.gridmg.projected_path_minimum`).  Armijo, because the exact minimiser did not
#: pay: camera 512^2, 3 bits 8 -> 9 fine steps (17 without SEARCH_FULL), and in the textured 2048^2 tail
#: the path's lowest point lies at t ~ 1e-3 (hovering pixels clipped), where Armijo's longer, higher
#: 1/32 moves the iterate further and lowers the gap more (notes, session 8)
LINE_SEARCH = "armijo"
#: the exact search takes the first local minimiser on ``0 <= t <= 1`` (else the lowest point there)
SEARCH_FIRST = True
#: the exact search takes the full step whenever Armijo accepts it (it only replaces the halving)
SEARCH_FULL = True


def available():
    """``True`` when numba imports."""
    return importable("numba")


def supports(prob):
    """``None`` for 2-D grid problems (any model and boundary rule) and for plain matrices that are
    operators on a 2-D lattice (:func:`~qpsolve.linalg.lattice.find_lattice`), else the reason."""
    from ..linalg.gridmg import typed_stencil_support

    if prob.grid is None:
        from ..linalg.lattice import lattice_of

        lat, why = lattice_of(prob)
        return None if lat is not None else f"no grid, and P is not an operator on a 2-D lattice: {why}"
    why = typed_stencil_support(prob.grid)
    if why is None and prob.grid.model == "mixed" and not (prob.grid.alpha > 0 or prob.grid.beta > 0):
        return "model 'mixed' with alpha = beta = 0 has P = 0: no stencil to smooth with"
    return why


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, **options):
    """Truncated nonsmooth Newton multigrid on a 2-D grid problem.

    Parameters
    ----------
    coarse_to_fine : bool
        Start from the half-resolution solution (problems with ``q == 0``
        and no ``x0``; default ``True``).

    Notes
    -----
    ``max_iter`` limits the Newton steps on the fine level (default
    :data:`MAX_STEPS`).
    ``info["levels"]`` lists, coarsest first, each level's size, Newton
    steps, conjugate-gradient iterations, pixels held at the end, time and
    relative gap estimate.  BLAS runs on one thread (the coarsest grid's
    dense solve is small; spinning threads would only compete).
    """
    with blas_threads(1):
        return _solve(prob, tol=tol, max_iter=max_iter, x0=x0, verbose=verbose, time_limit=time_limit, **options)


class _Level:
    """Envelopes and the stencil table of one grid (``ts``: a given fine level, e.g. a lattice matrix's)."""

    def __init__(self, lower, upper, q, grid, ts=None):
        from ..linalg.gridmg import TypedStencil

        self.lower, self.upper, self.q, self.grid = lower, upper, q, grid
        self.n = lower.size
        self.ts = TypedStencil(grid.energy()) if ts is None else ts
        self.shape = (self.ts.n, self.ts.m)

    @cached_property
    def diag(self):
        """``P``'s diagonal, 1 where it is not positive (made when first asked, at every Newton step with
        ``HOLD = "trial"``, and kept; the default never asks, and a full-size array is not held for it)."""
        diag = self.ts.matvec_diagonal()
        diag[diag <= 0] = 1.0
        return diag

    def gradient(self, x):
        g = self.ts.matvec(x)
        g += self.q
        return g


def _resized(ts, shape):
    """The fine table at a coarse level's ``shape`` (no operator to build), or ``None`` (build one)."""
    try:
        return ts.resized(shape)
    except ValueError:
        return None


def _lattice_level(prob):
    """``(fine level, problem in lattice order, order)`` of a plain-matrix problem on a 2-D lattice,
    or ``(None, reason, None)``."""
    from ..linalg.gridmg import LatticeStencil
    from ..linalg.lattice import lattice_of, stencil_array
    from ..problem import BoxQP

    lat, why = lattice_of(prob)
    if lat is None:
        return None, f"P is not an operator on a 2-D lattice: {why}", None
    order = lat.order
    P = lat.permuted(prob.P)
    work = prob if order is None else BoxQP(P, prob.lower[order], prob.upper[order], prob.q[order])
    ts = LatticeStencil(stencil_array(P, lat.shape, lat.radius), lat.shape, lat.radius)
    return _Level(work.lower, work.upper, work.q, None, ts=ts), work, order


def _restrict_envelopes(lower, upper, shape, rule=None):
    """Coarse envelopes of 2 x 2 blocks (odd axes padded by their last row or column).

    ``rule`` (default :data:`COARSE_ENVELOPES`): ``"hull"`` takes the block's min of the lowers
    and max of the uppers; ``"overlap"`` takes the intersection of the block's bins (max of the
    lowers, min of the uppers) where they overlap and their means elsewhere.
    """
    rule = COARSE_ENVELOPES if rule is None else rule
    if rule not in ("hull", "overlap"):
        raise ValueError(f"rule must be 'hull' or 'overlap', got {rule!r}")
    n, m = shape
    lo, hi = lower.reshape(shape), upper.reshape(shape)
    pad = ((0, n % 2), (0, m % 2))
    if n % 2 or m % 2:
        lo, hi = np.pad(lo, pad, mode="edge"), np.pad(hi, pad, mode="edge")
    cn, cm = lo.shape[0] // 2, lo.shape[1] // 2
    lo, hi = lo.reshape(cn, 2, cm, 2), hi.reshape(cn, 2, cm, 2)
    if rule == "hull":
        clo, chi = lo.min(axis=(1, 3)), hi.max(axis=(1, 3))
    else:
        clo, chi = lo.max(axis=(1, 3)), hi.min(axis=(1, 3))
        apart = clo > chi
        if apart.any():
            with np.errstate(invalid="ignore"):  # infinite envelopes give infinite means
                mlo, mhi = lo.mean(axis=(1, 3)), hi.mean(axis=(1, 3))
            clo[apart], chi[apart] = mlo[apart], mhi[apart]
            # never reached with lower <= upper and no lower at +inf; kept so that no coarse bin is empty
            bad = ~(clo <= chi)
            clo[bad], chi[bad] = lo.min(axis=(1, 3))[bad], hi.max(axis=(1, 3))[bad]
    return clo.ravel(), chi.ravel(), (cn, cm)


def _prolong(xc, cshape, shape):
    """Cell-centred bilinear interpolation of a coarse plate onto the fine grid."""
    n, m = shape
    ci = (np.arange(n) + 0.5) / 2 - 0.5
    cj = (np.arange(m) + 0.5) / 2 - 0.5
    I, J = np.meshgrid(ci, cj, indexing="ij")
    return map_coordinates(xc.reshape(cshape), [I, J], order=1, mode="nearest").ravel()


def _estimate(x, g, lo, hi, q):
    """``(gap, E)`` from a float64 gradient: the cheap stand-in for the certificate."""
    gap = float(np.sum(gap_terms(g, x, lo, hi)[0]))
    E = float(0.5 * x @ (g - q) + q @ x)
    return gap, E


def _trial(level, x, d, t, g, E0):
    """``(clip(x + t d), its energy, whether it passes Armijo's sufficient decrease)``."""
    lo, hi, q = level.lower, level.upper, level.q
    xt = d * t  # clip(x + t d) without temporaries (x + t d == t d + x, bit for bit)
    xt += x
    np.clip(xt, lo, hi, out=xt)
    gt = level.gradient(xt)
    Et = float(0.5 * xt @ (gt - q) + q @ xt)
    return xt, Et, Et <= E0 + 1e-4 * float(g @ (xt - x))


def _arc(level, x, d, g, E0, skip=0):
    """Armijo search on the energy along the projected path ``clip(x + t d)``.

    ``t = 1, 1/2, ...`` (:data:`ARC_STEPS` of them; the first ``skip`` are known to fail).
    Returns ``(x_t, t, E(x_t))``, or ``(None, t, E0)`` with ``t`` the last step tried.
    """
    t = 1.0
    for k in range(skip, ARC_STEPS):
        t = 0.5 ** k  # exact powers of two, as the halving gave
        xt, Et, ok = _trial(level, x, d, t, g, E0)
        if ok:
            return xt, t, Et
    return None, t, E0


def _search(level, x, d, g, E0):
    """The line search of a Newton step (:data:`LINE_SEARCH`); returns as :func:`_arc` does.

    The exact minimiser along the path is checked on the point itself (the walk sums rounding over
    its segments) against the same sufficient decrease as Armijo's; when it fails, or when ``d`` does
    not descend, Armijo's halving decides (and gives the retry its short ``t``).
    """
    if LINE_SEARCH == "exact":
        from ..linalg.gridmg import projected_path_minimum

        if SEARCH_FULL:
            xt, Et, ok = _trial(level, x, d, 1.0, g, E0)
            if ok:
                return xt, 1.0, Et
        t, _ = projected_path_minimum(level.ts, x, d, g, level.lower, level.upper, 1.0, SEARCH_FIRST)
        if t > 0.0:
            xt, Et, ok = _trial(level, x, d, t, g, E0)
            if ok:
                return xt, t, Et
        return _arc(level, x, d, g, E0, skip=int(SEARCH_FULL))  # the full step already failed
    return _arc(level, x, d, g, E0)


def _newton(level, x, *, tol, max_iter, deadline, verbose, label, prob=None):
    """Newton steps on one level from ``x`` (feasible); returns ``(x, status, steps, info, cert)``.

    With ``prob`` (the fine level) the shared certificate ends the iteration;
    coarse levels stop at a relative gap estimate of ``tol``.
    """
    from ..linalg.gridmg import TruncatedHierarchy

    ts, lo, hi, q = level.ts, level.lower, level.upper, level.q
    cg_total, history, cert, last_held = 0, [], None, None
    status, rel = "max_iter", np.inf
    steps = 0
    h = None
    mh = None
    cycles = MONOTONE_CYCLES if level.grid is not None else LATTICE_MONOTONE_CYCLES
    if cycles:
        from ..linalg.gridmg import MonotoneHierarchy
        mh = MonotoneHierarchy(ts, smooth=MONOTONE_SMOOTH)
    next_floor_check = 0
    for steps in range(1, max_iter + 1):
        if out_of_time(deadline):
            status = "time_limit"
            break
        for s in range(NONLINEAR_SWEEPS):
            ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
        g = level.gradient(x)
        gap, E = _estimate(x, g, lo, hi, q)
        rel = gap / max(1.0, abs(E))
        report_progress(NAME, "coarse" if prob is None else "fine", level.n, steps, rel, tol)
        ask = rel <= CHECK_FRACTION * tol
        if not ask and prob is not None and rel <= FLOOR_WATCH * tol and steps >= next_floor_check:
            # The certificate also accepts a gap below its rounding floor (no float64 point is
            # provably better); on large flat regions the gap can stall there above tol.
            ask = gap <= float(prob.rounding_level(x) @ bound_distance(g, x, lo, hi))
        if ask:
            if prob is None:
                status = "converged"
                break
            cert = certificate(prob, x, tol)
            report_progress(NAME, "fine", level.n, steps, cert.relative_gap, tol)
            if cert.optimal:
                status = "optimal"
                break
            next_floor_check = steps + FLOOR_PAUSE
        # Semismooth Newton's active set: the pixels a projected gradient step would clip.
        if HOLD == "trial":
            trial = x - g / level.diag
            at_lo, at_hi = trial <= lo, trial >= hi
        else:
            at_lo, at_hi = x <= lo, x >= hi
        best = (None, 0.0, E)
        for attempt in range(1 + RETRY_HOLD):
            if attempt:
                if out_of_time(deadline):
                    break
                # The search failed (or crept): the step's free set contained pixels that belong
                # on their bounds, and the step carried them through.  As a primal-dual active-set
                # step would, hold the pixels its path clipped first at those bounds and solve again.
                y = x + t * d
                push_lo, push_hi = (y < lo) & (d < 0) & ~held, (y > hi) & (d > 0) & ~held
                if not (push_lo.any() or push_hi.any()):
                    break  # nothing clipped: the same step again would fail again
                at_lo, at_hi = at_lo | push_lo, at_hi | push_hi
            held = at_lo | at_hi
            free = (~held).astype(np.uint8)
            d = np.zeros_like(x)
            d[at_lo] = lo[at_lo] - x[at_lo]
            d[at_hi] = hi[at_hi] - x[at_hi]
            # d is zero unless a retry holds pixels off their bounds: no product of a zero vector
            b = -(g + ts.matvec(d)) if d.any() else -g
            b[held] = 0.0
            if h is None or np.count_nonzero(free != h.free) > REBUILD * level.n:
                h = TruncatedHierarchy(ts, free, smooth=LINEAR_SWEEPS, order=1, drop=False)
            else:
                h = h.update(free)
            # Inexact Newton: a loose solve while the contacts move, a tight one near the end.
            moved = 0 if last_held is None else int(np.count_nonzero(held != last_held))
            last_held = held
            rtol = min(1e-2, max(1e-13, 0.1 * rel)) if moved <= LOOSE_MOVES * level.n else LOOSE_RTOL
            v, its = h.pcg(b, rtol=rtol, max_iter=CG_MAX if level.grid is not None else LATTICE_CG_MAX)
            cg_total += its
            d += v
            xt, t, Et = _search(level, x, d, g, E)
            if Et < best[2]:
                best = (xt, t, Et)
            if xt is not None and t > RETRY_SHORT:
                break
        xt, t, _ = best
        if xt is not None:
            x = xt
        if mh is not None:
            # Constrained V-cycles: the truncated step above holds every pixel on a bound, so
            # without them a wrongly held region is released one layer per step (mesh dependence).
            for k in range(cycles):
                trunc = h if k < MONOTONE_TRUNCATED and level.grid is not None else None
                x = mh.vcycle(x, lo, hi, q, firm=MONOTONE_FIRM, truncated=trunc)
        history.append((float(rel), int(held.sum()), int(its), float(t)))
        if verbose:
            print(f"tnnmg {label}: step {steps}: rel gap {rel:.3e}, held {int(held.sum())}, cg {its}, t {t:.3f}")
    info = {"n": level.n, "steps": steps, "cg": cg_total, "rel_gap": float(rel), "status": status,
            "history": history}
    return x, status, steps, info, cert


def _solve(prob, *, tol, max_iter, x0, verbose, time_limit, coarse_to_fine=True, **options):
    if options:
        raise TypeError(f"tnnmg got unknown option(s): {sorted(options)}")
    deadline = None if time_limit is None else time.perf_counter() + float(time_limit)
    max_iter = MAX_STEPS if max_iter is None else int(max_iter)
    grid = prob.grid
    order, caller = None, prob
    if grid is None:
        fine, work, order = _lattice_level(prob)
        if fine is None:
            return BackendOutput(x=prob.start_point(), failed=True, message=work)
        if order is not None and x0 is not None:
            x0 = np.asarray(x0, dtype=np.float64)[order]
        prob = work
    else:
        fine = _Level(prob.lower, prob.upper, prob.q, grid)
    # The table must reproduce this problem's own P (a BoxQP may carry any matrix beside its grid).
    probe = np.random.default_rng(3).normal(size=prob.n)
    ref = prob.matvec(probe)
    if np.max(np.abs(fine.ts.matvec(probe) - ref)) > 1e-9 * max(1.0, float(np.max(np.abs(ref)))):
        what = "the energy matrix of its grid" if grid is not None else "the lattice operator read from it"
        return BackendOutput(x=caller.start_point(), failed=True, message=f"the problem's P is not {what}")
    del probe, ref  # full-size, and the solve below holds its own arrays

    # Coarse-to-fine chain (finest first).
    chain = [fine]
    start_coarse = x0 is None and coarse_to_fine and not np.any(prob.q != 0)
    if grid is None and start_coarse:
        # A lattice matrix has no model to re-discretise: its coarse problems are Galerkin ones.
        lo, hi, shape = prob.lower, prob.upper, fine.shape
        while min(shape) // 2 >= MIN_COARSE:
            ts = chain[-1].ts.coarse()
            lo, hi, shape = _restrict_envelopes(lo, hi, shape, rule="hull")
            chain.append(_Level(lo, hi, np.zeros(lo.size), None, ts=ts))
    elif grid is not None and start_coarse:
        lo, hi, shape = prob.lower, prob.upper, tuple(grid.shape)
        while min(shape) // 2 >= MIN_COARSE:
            lo, hi, shape = _restrict_envelopes(lo, hi, shape)
            g2 = type(grid)(shape=shape, model=grid.model, bc=grid.bc, alpha=grid.alpha, beta=grid.beta)
            chain.append(_Level(lo, hi, np.zeros(lo.size), g2, ts=_resized(chain[-1].ts, shape)))
    levels = []
    x = prob.project(np.array(x0, dtype=np.float64)) if x0 is not None else None
    status, steps, cert = "max_iter", 0, None
    for depth in range(len(chain) - 1, -1, -1):
        lvl = chain[depth]
        t0 = time.perf_counter()
        if x is None:
            start = np.where(np.isfinite(lvl.lower) & np.isfinite(lvl.upper), 0.5 * (lvl.lower + lvl.upper),
                             np.clip(0.0, lvl.lower, lvl.upper))
            x = start
        elif x.size != lvl.n:
            x = np.clip(_prolong(x, chain[depth + 1].shape, lvl.shape), lvl.lower, lvl.upper)
            chain[depth + 1] = None  # its envelopes are not needed any more
        x = np.ascontiguousarray(x, dtype=np.float64)
        finest = depth == 0
        x, status, steps, info, cert = _newton(lvl, x, tol=tol if finest else COARSE_GAP,
                                               max_iter=max_iter if finest else COARSE_STEPS, deadline=deadline,
                                               verbose=verbose, label=f"n={lvl.n}", prob=prob if finest else None)
        info["seconds"] = time.perf_counter() - t0
        levels.append(info)
        if status == "time_limit":
            break
    reached = x is not None and x.size == prob.n
    if not reached:
        x = prob.start_point()
    message = f"{status} after {steps} Newton steps on the fine level ({len(levels)} levels)"
    if grid is None:
        message += f" of the {fine.shape[0]} x {fine.shape[1]} lattice of P"
    if order is not None:  # back from lattice order to the caller's
        back = np.empty_like(x)
        back[order] = x
        x, cert = back, None
    return BackendOutput(x=x, iterations=steps, converged=status == "optimal", message=message,
                         hit_time_limit=status == "time_limit", info={"levels": levels},
                         certified=None if cert is None else (x, tol, None, cert))
