"""``pdas``: primal-dual active set with exact Green's-function Schur complements.

For grid problems the plate touches its envelopes at few pixels (about 0.5 %
for the paper's 2-bit Gaussian at 256x256, a number that grows like the side,
not the area).  This backend works on that small active set ``A`` only:

1. **Equality step.**  With ``x_A`` fixed at its bounds ``b`` and the rest
   free, the minimiser is ``x = P^g (E mu - q) + N c`` where ``P^g`` is the
   exact fast inverse of :class:`~qpsolve.linalg.greens.GridGreen`, ``N`` the
   null space of ``P``, and ``(mu, c)`` solve the small dense saddle system

   ``[[E^T P^g E, E^T N], [N^T E, 0]] [mu; c] = [b + (P^g q)_A; N^T q]``.

   The ``|A| x |A|`` block is read off the discrete Green's function by the
   method of images (no transform per column) and kept across iterations;
   one transform pair per iteration gives ``x`` on the whole grid.  While
   the set moves little its Cholesky factor is updated, not made anew:
   pixels that join border it, pixels that leave stay in it held at
   ``mu = 0``.
   ``mu`` is the gradient ``P x + q`` on ``A``: the Lagrange multipliers.
2. **Active-set update** (Hintermueller, Ito and Kunisch 2002): free pixels
   outside their box join ``A`` at the violated bound (only the worst pixel
   of each 5x5 window while violations are large: one contact pushes its
   neighbours back inside); active pixels whose multiplier has the wrong
   sign leave, and the pixels that turn wrong once they have left are
   followed through the dense system without a transform (the end of a
   contact line retreats one pixel per iteration otherwise).  No violation
   and no wrong sign means ``x`` satisfies the KKT conditions.
3. **Polish.**  Near the end ``x`` is refined against its residual (summed
   exactly) with the contacts held on their bounds, multipliers are read off
   its exact gradient, and the shared certificate may end the iteration.
4. **Coarse-to-fine:** the active set of the half-resolution problem (2-block
   min/max envelopes, solved by this same method; the coarsest by ``pcg``)
   seeds the fine one, one child pixel per coarse contact, so the fine level
   needs only a few updates.
5. **Safeguards:** a contact set denser than ``DENSE_FRACTION`` of a level
   whose fine level would then exceed ``max_active`` (textured photographs,
   noise, many pinned pixels: contacts that grow up to eightfold per level)
   or larger than ``max_active`` hands the problem to ``pcg`` from its
   own coarse-to-fine start; a cycle or the iteration limit warm-starts
   ``pcg`` from the best point.  Every problem ``pdas`` supports ends
   certified or with an honest status.

References
----------
M. Hintermueller, K. Ito, K. Kunisch, "The primal-dual active set strategy as
a semismooth Newton method", SIAM J. Optim. 13 (2002) 865-888.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg as sla
from scipy.ndimage import map_coordinates, maximum_filter

from ..linalg.threads import blas_threads
from ..certificate import certificate
from ..linalg import search
from ..linalg.coarse import coarse_envelopes
from ..linalg.greens import green_support, shared_green
from ..validation import check_positive_int
from ._base import BackendOutput
from . import pcg

NAME = "pdas"

#: the dense Schur complement is limited to this many active pixels by default ...
MAX_ACTIVE = 4000
#: ... or to this many times the grid's side, whichever is larger: contact sets of smooth
#: content are lines, so they grow like the side (a 2048^2 plate may need 6 000)
ACTIVE_PER_SIDE = 3


def default_max_active(n):
    """The default ``max_active`` for ``n`` pixels: ``max(MAX_ACTIVE, ACTIVE_PER_SIDE * sqrt(n))``.

    Examples
    --------
    >>> default_max_active(1024 ** 2), default_max_active(2048 ** 2)
    (4000, 6144)
    """
    return max(MAX_ACTIVE, int(ACTIVE_PER_SIDE * np.sqrt(n)))


#: a level whose contacts exceed this fraction of its pixels (texture, noise) is left to pcg ...
DENSE_FRACTION = 0.05
#: ... when they would outgrow max_active on the fine level at this growth per level (texture:
#: measured up to 8x on camera; a small tile of a smooth photo stays well inside)
DENSE_GROWTH = 8
#: ... once the level has at least this many pixels (the coarsest grids are all contact)
DENSE_MIN_PIXELS = 1024
#: coarse levels stop once violations are below this fraction of the envelope span
COARSE_VIOLATION = 1e-4
#: saddle factorisations of at least this many contacts use every BLAS thread
PARALLEL_CHOLESKY = 2500
#: sets of at least this many contacts update the last saddle factor instead of refactoring ...
UPDATE_MIN_ACTIVE = 1000
#: ... when at most this fraction of them joined, and as many left, since it was made
UPDATE_FRACTION = 0.125
#: coarsen while both axes are even and at least this long after halving (pcg solves the last)
MIN_COARSE = 8
#: extra corrections of the certificate's dual shift before an uncertified answer goes to pcg
SHARPEN_STEPS = 2
#: the polish refines again, before any certificate, while its correction exceeds this
#: fraction of max |x| (2-bit Gaussian, odd: the correction after which the certificate
#: passed was 4.5e-12 at 512^2 and 1.9e-13 at 1024^2; it failed after 9.2e-11 at 1024^2
#: and after 5.7e-12 at 2048^2, each certificate costing 0.4 s there) ...
POLISH_STEP = 2e-12
#: ... up to this many refinements
POLISH_STEPS = 3


def available():
    return True  # numpy and scipy only


def supports(prob):
    why = green_support(prob.grid)
    if why is not None:
        return why
    pinned = int(np.count_nonzero(prob.lower == prob.upper))
    limit = default_max_active(prob.n)
    if pinned > min(limit, DENSE_FRACTION * max(prob.n, DENSE_MIN_PIXELS)):
        return (f"{pinned} pinned variables (lower == upper): more than {limit} or "
                f"{DENSE_FRACTION:.0%} of the grid, too many for a dense Schur complement")
    return None


class _Schur:
    """``P^g`` restricted to a growing set of pixels, cached across iterations.

    New pixels append rows and columns; when most cached pixels have left the
    active set the cache is compacted to the current set.  ``odd`` boundaries
    also need each pixel's edge traces, kept as a list of column blocks so
    that growing never copies them.
    """

    def __init__(self, green, n):
        self.green = green
        self.table = green.dense  # small grids solved many times: every block is a gather
        self.pos = np.full(n, -1, dtype=np.int32 if n < 2**31 else np.int64)
        self._reset()
        self.evaluated = 0

    def _reset(self):
        self.pos[:] = -1
        self.idx = np.zeros(0, dtype=np.int64)
        self.store = np.zeros((0, 0))  # grows by a quarter; S is its leading block
        self.chunks = []  # [(start, stop, traces)] covering idx, for odd boundaries

    def _cross(self, new, tr_new):
        if not self.chunks:
            return self.green.block(new, self.idx, tr_new, None)
        return np.concatenate([self.green.block(new, self.idx[a:b], tr_new, tr) for a, b, tr in self.chunks],
                              axis=1)

    def blocks(self, base, new):
        """``P^g[base, new]`` and ``P^g[new, new]`` (``base`` already evaluated)."""
        if self.table is not None:
            return self.table[np.ix_(base, new)], self.table[np.ix_(new, new)]
        self._add(new)
        pb, pn = self.pos[base], self.pos[new]
        return self.store[np.ix_(pb, pn)], self.store[np.ix_(pn, pn)]

    def _add(self, pixels):
        new = pixels[self.pos[pixels] < 0]
        if new.size:
            tr_new = self.green.traces(new)
            k = self.idx.size
            size = k + new.size
            if size > self.store.shape[0]:
                grown = np.empty((size + size // 4 + 16,) * 2)
                grown[:k, :k] = self.store[:k, :k]
                self.store = grown
            S = self.store
            if k:
                cross = self._cross(new, tr_new)
                S[k:size, :k] = cross
                S[:k, k:size] = cross.T
            corner = self.green.block(new, new, tr_new, tr_new)
            S[k:size, k:size] = 0.5 * (corner + corner.T)
            self.pos[new] = np.arange(k, size)
            self.idx = np.concatenate([self.idx, new])
            if tr_new is not None:
                self.chunks.append((k, size, tr_new))
            self.evaluated += new.size

    def submatrix(self, act):
        if self.table is not None:
            return self.table[np.ix_(act, act)]
        self._add(act)
        p = self.pos[act]
        S = self.store[np.ix_(p, p)]
        if self.idx.size > 2 * act.size:
            # Mostly stale: keep just the current set, in its order (a tight store gathers faster).
            chunks = []
            if self.chunks:
                chunks = [(0, act.size, self.green.merge_traces([tr for _, _, tr in self.chunks], p))]
            self._reset()
            self.store, self.idx, self.chunks = S.copy(), act.copy(), chunks
            self.pos[act] = np.arange(act.size)
        return S


class _Saddle:
    """Factorisation of ``[[S, NA], [NA^T, 0]]``, reused for refinement solves and updated
    as the active set changes.

    ``S`` is positive semi-definite (``P^g`` is), so ``M = S + sigma NA NA^T``
    is positive definite whenever the saddle system is regular; one Cholesky
    factor ``L`` of ``M`` and ``k`` extra forward solves (``k`` = null-space
    dimension, 1 or 4) give the answer: adding ``sigma NA (NA^T mu - N^T q) = 0``
    to the first block row does not change the solution.  ``M`` is formed and
    factored in the caller's array (it is not needed afterwards: ``S v`` is
    recovered from the factor).  Degenerate sets (a contact set that leaves
    part of the null space free, repeated rows) fall back to least squares.

    The factor may cover more pixels than the active set (its *base*): pixels
    that left are *released*, held at ``mu = 0`` by one constraint each (so
    they are free), and pixels that joined border the factor
    (:meth:`bordered`).  Both cost a few triangular solves instead of a new
    factorisation of ``|A|^3 / 3`` flops (0.3 s at 3 400 contacts).  Every
    constraint, null space and releases alike, enters through
    ``F = L^-1 C`` (``C = [N_base, E_released]``) and the small matrix
    ``G = F^T F``.
    """

    def __init__(self, S, NA, base):
        a, k = NA.shape
        self.base = base  # the pixels of the factor, in its order
        self.k = k
        d = float(np.max(np.diag(S), initial=0.0))
        w = float(np.max(np.sum(NA * NA, axis=1), initial=0.0))
        self.sigma = d / w if d > 0 and w > 0 else 1.0
        self.L = None
        self.S = None
        self.NB = NA
        if a >= k:
            # S is symmetric, so its transpose is a Fortran-ordered view of the same matrix:
            # LAPACK/BLAS then work in place (lower triangle only) instead of copying.
            M = S.T
            M = sla.blas.dsyrk(self.sigma, np.asfortranarray(NA), beta=1.0, c=M, lower=1, overwrite_c=1)
            try:
                with blas_threads(None if a >= PARALLEL_CHOLESKY else 1):
                    L = sla.cho_factor(M, lower=True, check_finite=False, overwrite_a=True)[0]
                if np.all(np.isfinite(L)) and self._constraints(L, NA, np.zeros(0, dtype=np.int64)):
                    self.L = L
            except (sla.LinAlgError, ValueError):
                self.L = None
            if self.L is None:
                # The update and the factorisation wrote only the lower triangle: S is intact
                # above the diagonal, and its diagonal is M's minus the update.
                upper = np.triu(M, 1)
                self.S = upper + upper.T
                self.S[np.diag_indices(a)] = np.diag(M) - self.sigma * np.einsum("ij,ij->i", NA, NA)
        else:
            self.S = S
        self.sel = np.arange(a)  # where each active pixel sits in the base

    def _constraints(self, L, NB, rel):
        # F = L^-1 [NB, E_rel] and G = F^T F; False when G, scaled to a unit diagonal, is too
        # ill-conditioned to trust (a set that leaves part of the null space free).  Unscaled,
        # the released pixels' columns alone make it so (their norms differ by 1e7).
        C = np.zeros((L.shape[0], self.k + rel.size))
        C[:, :self.k] = NB
        C[rel, self.k + np.arange(rel.size)] = 1.0
        F = sla.solve_triangular(L, C, lower=True, check_finite=False, overwrite_b=True)
        G = F.T @ F
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = 1.0 / np.sqrt(np.diag(G))
            if not np.linalg.cond(G * scale[:, None] * scale[None, :]) < 1e12:
                return False
        self.NB, self.rel, self.F, self.G = NB, rel, F, G
        return True

    @property
    def factored(self):
        return self.L is not None

    def bordered(self, act, new, cross, corner, N_new):
        """The factor of ``act`` from this one: the base grows by the pixels of ``act``
        it lacks (``cross`` = ``P^g[base, new]``, ``corner`` = ``P^g[new, new]``) and
        releases the base pixels ``act`` lacks.  ``None`` when the bordered matrix is not
        positive definite or its constraints are too ill-conditioned.
        """
        b, j = self.base.size, new.size
        L = self.L
        if j:
            # M_new = [[M, M_BJ], [M_BJ^T, M_JJ]]: L_new = [[L, 0], [W^T, L_J]] with W = L^-1 M_BJ
            # and L_J the factor of M_JJ - W^T W.
            W = sla.solve_triangular(L, cross + self.sigma * (self.NB @ N_new.T), lower=True,
                                     check_finite=False)
            MJ = corner + self.sigma * (N_new @ N_new.T) - W.T @ W
            try:
                LJ = np.linalg.cholesky(MJ)
            except np.linalg.LinAlgError:
                return None
            L = np.zeros((b + j, b + j), order="F")
            L[:b, :b] = self.L
            L[b:, :b] = W.T
            L[b:, b:] = LJ
        out = object.__new__(_Saddle)
        out.base = np.concatenate([self.base, new])
        out.k, out.sigma, out.L, out.S = self.k, self.sigma, L, None
        pos = np.argsort(out.base, kind="stable")
        out.sel = pos[np.searchsorted(out.base, act, sorter=pos)]
        keep = np.zeros(out.base.size, dtype=bool)
        keep[out.sel] = True
        rel = np.flatnonzero(~keep)
        NB = np.concatenate([self.NB, N_new]) if j else self.NB
        if not out._constraints(L, NB, rel):
            return None
        return out

    def _solve(self, rhs, rn, r_rel):
        # [[S, NB, E_rel], [NB^T, 0, 0], [E_rel^T, 0, 0]] [mu; c; t] = [rhs; rn; r_rel] on the
        # base, through M = L L^T: returns mu and (c, t).  Right-hand sides may be columns.
        h = sla.solve_triangular(self.L, rhs + self.sigma * (self.NB @ rn), lower=True, check_finite=False)
        y = np.linalg.solve(self.G, self.F.T @ h - np.concatenate([rn, r_rel]))
        h -= self.F @ y
        return sla.solve_triangular(self.L, h, lower=True, trans=1, check_finite=False), y

    def release(self, mu, wrong, pinned, upper, max_rounds=100):
        """Release pixels with wrong-sign multipliers, and those that turn wrong, without a transform.

        Releasing a set ``R`` (``mu_R = 0``, ``x_R`` free) is the same as
        moving the right-hand side of rows ``R`` by ``t`` with
        ``mu_R(t) = 0``, an ``|R| x |R|`` system built from this
        factorisation.  The last pixels of a contact line leave one per PDAS
        iteration otherwise.  Returns the released mask (``None`` when the
        factorisation is not available).
        """
        if self.L is None:
            return None
        a, b = mu.size, self.base.size
        R = wrong.copy()
        cols = np.zeros((a, 0))
        have = np.zeros(0, dtype=np.int64)
        for _ in range(max_rounds):
            idx = np.flatnonzero(R)
            missing = np.setdiff1d(idx, have)
            if missing.size:
                # The response of mu to unit moves of the right-hand side at the missing rows,
                # with every constraint (null space, earlier releases) kept.
                m = missing.size
                E = np.zeros((b, m))
                E[self.sel[missing], np.arange(m)] = 1.0
                Z, _ = self._solve(E, np.zeros((self.k, m)), np.zeros((self.rel.size, m)))
                cols = np.concatenate([cols, Z[self.sel]], axis=1)
                have = np.concatenate([have, missing])
            order = np.searchsorted(have, idx, sorter=np.argsort(have))
            Z = cols[:, np.argsort(have)[order]]
            try:
                t = np.linalg.solve(Z[idx], -mu[idx])
            except np.linalg.LinAlgError:
                return R
            new_mu = mu + Z @ t
            dtol = 1e-12 * max(float(np.abs(new_mu).max(initial=0.0)), 1e-300)
            turned = ~R & ~pinned & np.where(upper, new_mu > dtol, new_mu < -dtol)
            if not turned.any():
                return R
            R |= turned
        return R

    def solve_refined(self, rb, rn):
        """The saddle solve for ``mu`` (active set order) and ``c``, plus one step of
        iterative refinement against ``S = M - sigma NA NA^T``."""
        if self.L is None:
            mu, c = self._lstsq(rb, rn)
            dmu, dc = self._lstsq(rb - self.S @ mu - self.NB @ c, rn - self.NB.T @ mu)
            return mu + dmu, c + dc
        k, L = self.k, self.L
        rhs = np.zeros(self.base.size)
        rhs[self.sel] = rb  # released rows are free: their t absorbs any value
        mu, y = self._solve(rhs, rn, np.zeros(self.rel.size))
        Smu = sla.blas.dtrmv(L, sla.blas.dtrmv(L, mu, lower=1, trans=1), lower=1)
        Smu -= self.sigma * (self.NB @ (self.NB.T @ mu))
        rhs -= Smu + self.NB @ y[:k]
        rhs[self.rel] -= y[k:]
        dmu, dy = self._solve(rhs, rn - self.NB.T @ mu, -mu[self.rel])
        mu += dmu
        return mu[self.sel], y[:k] + dy[:k]

    def _lstsq(self, rb, rn):
        # The saddle system itself, by least squares (no factor: degenerate sets)
        a, k = self.NB.shape
        K = np.zeros((a + k, a + k))
        K[:a, :a], K[:a, a:], K[a:, :a] = self.S, self.NB, self.NB.T
        sol = sla.lstsq(K, np.concatenate([rb, rn]), check_finite=False, lapack_driver="gelsy")[0]
        return sol[:a], sol[a:]


class _Level:
    """Everything one grid level needs: the problem, its Green's function and scales."""

    def __init__(self, prob):
        self.prob = prob
        self.green = shared_green(prob.grid)
        self.N = self.green.null_basis
        self.has_q = bool(np.any(prob.q != 0))
        self.pq = self.green.solve(prob.q) if self.has_q else None
        self.Nq = self.N.tdot(prob.q)
        lo, hi = prob.lower, prob.upper
        finite = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
        self.span = float(np.ptp(finite)) if finite.size else 1.0
        self.span = self.span if self.span > 0 else max(float(np.abs(finite).max(initial=1.0)), 1.0)
        self.schur = _Schur(self.green, prob.n)
        self.kkt = None
        self.updates = 0

    def equality_solve(self, act, upper):
        """Minimiser with ``x[act]`` at its bounds; returns ``x`` and the multipliers.

        The dense saddle system is ill-conditioned (``cond(S)`` grows like the
        fourth power of the distance between contacts), so ``x[act]`` lands on
        its bounds only to about ``1e-10`` relative: plenty to decide the next
        active set; :meth:`refine` polishes the last one.
        """
        prob = self.prob
        b = np.where(upper, prob.upper[act], prob.lower[act])
        base = -self.pq if self.has_q else None
        if act.size == 0:
            return (np.zeros(prob.n) if base is None else base), np.zeros(0)
        kkt = self.kkt = self._saddle(act)
        rb = b + (self.pq[act] if self.has_q else 0.0)
        mu, c = kkt.solve_refined(rb, self.Nq)
        return self._x(act, mu, c, base), mu

    def _saddle(self, act):
        # The saddle factor of act: the last one bordered and released when the set moved
        # little, else a new one.
        old, self.kkt = self.kkt, None  # a new factor can use the memory of the last one
        if old is not None and old.factored and act.size >= UPDATE_MIN_ACTIVE:
            new = np.setdiff1d(act, old.base, assume_unique=True)
            released = old.base.size + new.size - act.size
            if max(new.size, released) <= UPDATE_FRACTION * act.size:
                cross, corner = self.schur.blocks(old.base, new)
                kkt = old.bordered(act, new, cross, corner, self.N.take(new))
                if kkt is not None:
                    self.updates += 1
                    return kkt
        del old
        return _Saddle(self.schur.submatrix(act), self.N.take(act), act)

    def refine(self, x, act, upper):
        """One step of iterative refinement on the free pixels, ``x[act]`` kept.

        The residual ``r = P x + q`` is summed in extended precision; the
        correction solves ``min 1/2 d^T P d + r_F^T d`` with ``d[act] = 0`` by
        the same Green's-function steps.  ``x`` itself is a difference of
        large Green's-function and null-space terms, so its free gradient
        starts at the rounding level of those terms; the small correction
        brings it down to the rounding level of ``x``.

        Returns ``x + d`` rounded and what the rounding dropped (exactly,
        by TwoSum): the certificate's ``dual_shift``.
        """
        return self._refine(x, act, upper)[:2]

    def polish(self, x, act, upper):
        """:meth:`refine`, repeated while its correction is large; returns what the last one does.

        Each refinement of an ``odd`` plate gains only a fixed factor (its
        Green's-function steps round at about ``eps * side^4`` of their
        terms: 500 at 1024x1024, 30 at 2048x2048), so one step is not always
        enough for the certificate.  A correction above ``POLISH_STEP`` of
        ``max |x|`` leaves a residual the certificate would reject: the next
        step is taken first, up to ``POLISH_STEPS`` in all, and a certificate
        (as costly as a step on large grids) is spent only on a point likely
        to pass.
        """
        scale = float(np.abs(x).max(initial=0.0))
        s, shift, size = self._refine(x, act, upper)
        for _ in range(POLISH_STEPS - 1):
            if shift is None or size <= POLISH_STEP * scale:
                break
            del shift  # the next step starts from s, projected in place: no full-size copies
            self.prob.project(s, out=s)
            s, shift, size = self._refine(s, act, upper, overwrite_x=True)
        return s, shift

    def _refine(self, x, act, upper, overwrite_x=False):
        # refine(), and the largest entry of its correction
        if act.size == 0 or self.kkt is None:
            return x, None, 0.0
        if not overwrite_x:
            x = x.copy()
        # Snap the contacts onto their bounds first: clipping them later by even 1e-11
        # would move their neighbours' gradients by 1e-10.
        x[act] = np.where(upper, self.prob.upper[act], self.prob.lower[act])
        d = self._face_solve(self.prob.gradient(x, precise=True), act, self.kkt)
        size = float(np.abs(d).max(initial=0.0))
        # s = x + d and what its rounding dropped, (x - (s - bb)) + (d - bb) with bb = s - x
        # (TwoSum), the same operations written into x and d: at 2048^2 every full-size
        # temporary is 32 MB of fresh memory.
        s = x + d
        bb = s - x
        d -= bb
        np.subtract(s, bb, out=bb)
        x -= bb
        x += d
        return s, x, size

    def sharpen(self, x, shift, act):
        """One more correction of the certificate's dual shift (``x`` is not touched).

        The Green's-function steps of ``odd`` plates are large differences
        (edge solves grow like the fourth power of the side), so one face
        solve removes only part of a residual on large grids; the dual point
        ``x + shift`` takes a second step without rounding it into ``x``.
        """
        h = self.prob.gradient(x, precise=True) + self.prob.matvec(shift)
        return shift + self._face_solve(h, act, self.kkt)

    def face_step(self, g, binding):
        """Newton step on a face: ``min 1/2 d^T P d + g^T d`` with ``d[binding] = 0``."""
        if binding.size == 0:
            w = self.green.solve(g)
            return -w - self.N.dot(self.N.tdot(w))  # any null-space part is free; take none
        self.kkt = self._saddle(binding)
        return self._face_solve(g.copy(), binding, self.kkt)

    def _face_solve(self, g, held, kkt):
        """``min 1/2 d^T P d + g^T d`` with ``d[held] = 0``, given the saddle factor of ``held``.

        ``g`` is overwritten (callers pass a fresh gradient).
        """
        g[held] = 0.0  # d[held] = 0: their gradient does not enter (and is large: the multipliers)
        w = self.green.solve(g)
        nu, c = kkt.solve_refined(w[held], self.N.tdot(g))
        del g
        w *= -1.0
        d = self._x(held, nu, c, w)
        d[held] = 0.0
        return d

    def _x(self, act, mu, c, base):
        # P^g (E mu) + base + N c, summed into the transform's output (base is left as it is)
        f = np.zeros(self.prob.n)
        f[act] = mu
        x = self.green.solve(f)
        del f
        if base is not None:
            x += base
        x += self.N.dot(c)
        return x


#: a violated pixel joins only if it is the worst within this window (odd, in pixels)
PEAK_WINDOW = 5
#: projected Newton: face solves per step, each holding the bound pixels the last one pushed out
NEWTON_FACE_ROUNDS = 3
#: once every violation is below this fraction of the envelope span, all violated pixels join
SMALL_VIOLATION = 1e-4


#: the dense release of wrong-sign contacts is used for at most this many of them
RELEASE_MAX = 256


def _update(level, act, upper, x, mu, ftol, window=PEAK_WINDOW):
    """One PDAS update: returns the new ``(act, upper)`` and how many joined / left.

    Pure PDAS moves every violated pixel into the active set; for the
    biharmonic plate a violated region usually needs only its worst pixel
    (a contact pushes its neighbours back inside), so only local maxima of
    the violation within ``window`` join, which keeps ``A`` small and the
    iteration from oscillating.
    """
    prob = level.prob
    pinned = prob.lower[act] == prob.upper[act]
    wrong = _wrong_signs(prob, act, upper, mu, 1e-12)
    # How far each free pixel lies outside its box (at most one side is positive); the few
    # violated ones are then examined alone, not the whole image again.
    with np.errstate(invalid="ignore"):
        excess = np.maximum(prob.lower - x, x - prob.upper)
    excess[act] = 0.0
    cand = np.flatnonzero(excess > ftol)
    if window > 1 and cand.size and excess[cand].max() > SMALL_VIOLATION * level.span:
        cand = cand[_window_peaks(excess, prob.grid.shape, cand, window)]
    on_lower = prob.lower[cand] - x[cand] > ftol
    below, above = cand[on_lower], cand[~on_lower]
    if not (below.size or above.size) and 0 < wrong.sum() <= RELEASE_MAX and level.kkt is not None:
        # Only releases: follow them through the dense system before paying for a transform
        # (a few at a time: each round solves a system as large as the released set).
        released = level.kkt.release(mu, wrong, pinned, upper)
        if released is not None:
            wrong = released
    keep = ~wrong
    new_act = np.concatenate([act[keep], below, above])
    new_upper = np.concatenate([upper[keep], np.zeros(below.size, bool), np.ones(above.size, bool)])
    order = np.argsort(new_act, kind="stable")
    return new_act[order], new_upper[order], int(below.size + above.size), int(wrong.sum())


def _wrong_signs(prob, act, upper, mu, rel):
    """Contacts whose multiplier pulls away from their bound by more than ``rel`` of the
    largest multiplier (pinned pixels never do)."""
    dtol = rel * max(float(np.abs(mu).max(initial=0.0)), 1e-300)
    return (prob.lower[act] != prob.upper[act]) & np.where(upper, mu > dtol, mu < -dtol)


def _window_peaks(values, shape, idx, window):
    """Which pixels ``idx`` hold the largest of ``values`` in their ``window x window``
    neighbourhood (clipped at the border, ties count as peaks).

    A filter over the whole image costs several passes over it; a few thousand
    candidates need only ``window^2`` gathers each.
    """
    if idx.size * window * window > values.size:
        full = maximum_filter(values.reshape(shape), size=window, mode="nearest").ravel()
        return values[idx] >= full[idx]
    n, m = shape
    i, j = np.divmod(idx, m)
    own = values[idx]
    peak = np.ones(idx.size, dtype=bool)
    h = window // 2
    for di in range(-h, h + 1):
        rows = np.clip(i + di, 0, n - 1) * m
        for dj in range(-h, h + 1):
            peak &= values[rows + np.clip(j + dj, 0, m - 1)] <= own
    return peak


#: PDAS hands over when its largest violation has not halved for this many iterations
STALL_ITERATIONS = 8
#: below this fraction of the envelope span the iterate is polished before the set is updated ...
POLISH_VIOLATION = 1e-6
#: ... unless a multiplier has the wrong sign by more than this fraction of the largest one
#: (the saddle solve's multipliers are good to about 1e-10 of it) on a grid of at least
#: this many pixels (512 x 512)
POLISH_WRONG_SIGN = 1e-6
EARLY_RELEASE_PIXELS = 2**18


def _violation(prob, x):
    return float(np.maximum(np.maximum(prob.lower - x, x - prob.upper), 0).max(initial=0.0))


def _pdas(level, act, upper, *, max_iter, max_active, deadline, verbose, label, window=PEAK_WINDOW,
          tol=None, loose=None, growth=1, max_fine=0):
    """Run PDAS from ``(act, upper)``; returns ``x``, the final set, a status, a history,
    the certificate's dual shift of the final polish and the certificate of ``x`` with it
    (both ``None`` unless the fine level polished its last point).

    Iterations use the once-refined saddle solve.  With ``tol`` (the fine
    level) the answer is polished to rounding and, once every violation is
    tiny, the shared certificate may end the iteration early: the last
    PDAS steps of a contact line move one pixel at a time and change the
    energy by far less than ``tol``.  With ``loose`` (coarse levels, which
    only seed the next one) the iteration stops once violations fall below
    ``loose`` times the envelope span.
    """
    prob = level.prob
    ftol = 1e-12 * level.span
    seen = set()
    history = []
    x = shift = cert = None
    status = "max_iter"
    it = 0
    best, best_it = np.inf, 0
    closest = (np.inf, None, act, upper)  # the iterate nearest the box, for a hand-over
    for it in range(1, max_iter + 1):
        t_it = time.perf_counter()
        if act.size > max_active:
            status = "too_many_active"
            break
        if prob.n >= DENSE_MIN_PIXELS and act.size > DENSE_FRACTION * prob.n and act.size * growth > max_fine:
            status = "dense"
            break
        x, mu = level.equality_solve(act, upper)
        viol = _violation(prob, x)
        polished = False
        if (tol is not None and viol <= POLISH_VIOLATION * level.span
                and not (prob.n >= EARLY_RELEASE_PIXELS
                         and _wrong_signs(prob, act, upper, mu, POLISH_WRONG_SIGN).any())):
            # Nearly there: polish x and read the multipliers off its exact gradient, so that
            # what is left to decide is not the saddle system's rounding (which otherwise makes
            # pixels with near-zero multipliers or slacks flicker in and out).  On large grids,
            # multipliers of the wrong sign far above that rounding are released first: the
            # polish (transforms of the whole grid) would not outlive the change.  Small grids
            # polish regardless: there the polish is cheap and the unpolished releases are not
            # (36 tiles of 64 x 64 from a 4-bit photo: 26 s polished, 142 s released first).
            x, pshift = level.polish(x, act, upper)
            mu = prob.gradient(x, precise=True)[act]
            viol = _violation(prob, x)
            polished = True
        act_new, upper_new, joined, left = _update(level, act, upper, x, mu, ftol, window)
        record = {"active": int(act.size), "joined": joined, "left": left, "violation": viol}
        history.append(record)
        if verbose:
            print(f"[pdas] {label} it {it:3d}  |A| {act.size:6d}  +{joined:5d} -{left:5d}  "
                  f"max violation {viol:.2e}")
        done = joined == 0 and left == 0
        cert = None
        if polished and (done or left == 0):
            # With no wrong-sign multiplier left, the tiny violations that remain may not
            # matter: the certificate decides (one pixel at a time would take many steps).
            # The polished point often passes as it is; when the rounding of the first
            # refinement's large intermediate terms (odd plates) is in the way, a second
            # refinement removes it.  Both certificates reuse the refinement's gradient.
            candidate, cshift = prob.project(x), pshift
            cert = certificate(prob, candidate, tol, dual_shift=cshift)
            if not cert.optimal:
                candidate, cshift = level.refine(candidate, act, upper)
                candidate = prob.project(candidate)
                cert = certificate(prob, candidate, tol, dual_shift=cshift)
            if done or cert.optimal:
                record["certified_early"] = not done
                x, shift, done = candidate, cshift, True
        if not done and loose is not None and viol <= loose * level.span:
            done = True
        record["seconds"] = time.perf_counter() - t_it
        if done:
            status = "optimal"
            break
        cert = None  # it certified a point the iteration moves on from
        if viol < closest[0]:
            closest = (viol, x, act, upper)
        key = hash((act_new.tobytes(), upper_new.tobytes()))
        if key in seen:
            status = "cycle"
            break
        seen.add(key)
        if viol < 0.5 * best:
            best, best_it = viol, it
        elif it - best_it >= STALL_ITERATIONS:
            # PDAS may oscillate on non-M-matrices (a contact released here re-violates
            # there); the globalised projected Newton of the caller takes over.
            status = "stalled"
            break
        act, upper = act_new, upper_new
        if deadline is not None and time.perf_counter() > deadline:
            status = "time_limit"
            break
    if status != "optimal" and closest[1] is not None and closest[1] is not x:
        # A cycling or stalled PDAS ends wherever its cycle happens to be; whoever takes
        # over (projected Newton, the next level, pcg) starts best from the iterate that
        # came nearest the box (Rosenbrock 1024^2: 66 projected-Newton steps from the last
        # iterate of its cycle, 10 from the nearest one).
        _, x, act, upper = closest
    return x, act, upper, status, it, history, shift, cert


def _projected_newton(level, x, *, tol, max_iter, max_active, deadline, verbose, label):
    """Globalised fallback: projected Newton (Bertsekas) with exact face steps.

    The binding set (pixels on a bound whose gradient pushes outward, and
    the pinned ones) is held, the Newton step on the rest comes from the same
    Green's-function machinery, and the projected Armijo search of ``pcg``
    makes every step decrease the energy, so nothing can oscillate.
    """
    prob = level.prob
    lo, hi = prob.lower, prob.upper
    pinned = lo == hi
    x = prob.project(x)
    history, status, it = [], "max_iter", 0
    step = None
    for it in range(1, max_iter + 1):
        t_it = time.perf_counter()
        g = prob.gradient(x, precise=True)
        if certificate(prob, x, tol, gradient=g).optimal:
            status = "optimal"
            break
        # Bertsekas' epsilon-binding set: pixels within eps of a bound that the gradient pushes
        # against would be clipped by the projected search anyway; holding them keeps the
        # Newton step usable.
        eps = min(1e-6 * level.span, float(np.abs(step).max()) if step is not None else np.inf)
        at_lo, at_hi = x <= lo + eps, x >= hi - eps
        binding = np.flatnonzero(pinned | (at_lo & (g > 0)) | (at_hi & (g < 0)))
        for face_round in range(NEWTON_FACE_ROUNDS):
            if binding.size > max_active:
                break
            d = level.face_step(g, binding)
            if face_round == NEWTON_FACE_ROUNDS - 1:
                break  # no further solve: binding stays the set d was solved on
            # Pixels on a bound that the Newton step pushes outward leave no room for a feasible
            # step and cut the projected one short; hold them too and solve again (Rosenbrock
            # 2048^2: certified in 15 steps from PDAS's hand-over, where 200 gradient-like steps
            # without this did not get the gap below 2e-2).
            out = np.flatnonzero((at_lo & (d < 0)) | (at_hi & (d > 0)))
            out = np.setdiff1d(out, binding, assume_unique=True)
            if out.size == 0:
                break
            binding = np.union1d(binding, out)
        if binding.size > max_active:
            status = "too_many_active"
            break
        step, how = search.projected_search(prob, x, g, d)
        if step is None:
            status = "stalled"
            break
        x = prob.project(x + step)
        history.append({"binding": int(binding.size), "step": how, "seconds": time.perf_counter() - t_it})
        if verbose:
            print(f"[pdas] {label} projected Newton it {it:3d}  binding {binding.size:6d}  step {how}")
        if deadline is not None and time.perf_counter() > deadline:
            status = "time_limit"
            break
    return x, status, it, history


class _GridLevel:
    """A coarse level: envelopes on a grid, no assembled matrix (PDAS never needs one)."""

    def __init__(self, lower, upper, grid):
        self.lower, self.upper, self.grid = lower, upper, grid
        self.n = lower.size
        self.q = np.zeros(self.n)

    def boxqp(self):
        from ..problem import BoxQP

        return BoxQP(self.grid.energy(), self.lower, self.upper, grid=self.grid)


def _chain(prob, min_size):
    """Finest first: ``prob`` and its 2-block min/max restrictions while both axes halve."""
    chain = [prob]
    while True:
        top = chain[-1]
        shape = top.grid.shape
        if any(s % 2 or s // 2 < min_size for s in shape):
            break
        lo, hi, grid = coarse_envelopes(top.lower, top.upper, top.grid, (0, 1))  # the restriction pcg uses too
        chain.append(_GridLevel(lo.ravel(), hi.ravel(), grid))
    return chain


def _seed_from_coarse(fine, coarse, act_c, upper_c, x_c):
    """One fine pixel per coarse contact (the child the interpolated coarse plate violates most).

    Each coarse contact covers a 2x2 block of fine pixels; contacts do not
    cluster at the fine scale more than at the coarse one, so seeding all
    four would start PDAS with twice the final set.  Pinned pixels always join.
    """
    fshape, cshape = fine.grid.shape, coarse.grid.shape
    ci, cj = np.divmod(act_c, cshape[1])
    best = np.full(act_c.size, -np.inf)
    pick = np.zeros(act_c.size, dtype=np.int64)
    xc = np.asarray(x_c, dtype=np.float64).reshape(cshape)
    for di in range(2):
        for dj in range(2):
            idx = (2 * ci + di) * fshape[1] + 2 * cj + dj
            # Fine pixel centre (2I + d) sits at coarse coordinate I + (d - 1/2) / 2.
            xf = map_coordinates(xc, [ci + (di - 0.5) / 2, cj + (dj - 0.5) / 2], order=1, mode="nearest")
            score = np.where(upper_c, xf - fine.upper[idx], fine.lower[idx] - xf)
            better = score > best
            best[better], pick[better] = score[better], idx[better]
    pinned = np.flatnonzero(fine.lower == fine.upper)
    act = np.concatenate([pick, pinned])
    upper = np.concatenate([upper_c, np.zeros(pinned.size, bool)])
    act, first = np.unique(act, return_index=True)
    return act, upper[first]


def _active_of(prob, x):
    """Pixels at a bound with the gradient pushing outward (and the pinned ones)."""
    g = prob.gradient(x)
    lo = (x <= prob.lower) & ((g > 0) | (prob.lower == prob.upper))
    hi = (x >= prob.upper) & (g < 0) & ~lo
    act = np.flatnonzero(lo | hi)
    return act, hi[act]


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, **options):
    """Primal-dual active set on grid problems, exact Green's-function steps.

    Parameters
    ----------
    coarse_to_fine : bool
        Seed the active set from the half-resolution problem (grid problems
        with ``q == 0`` and no ``x0``); with ``x0`` the seed is the set where
        ``x0`` sits on a bound with an outward gradient.
    max_active : int, optional
        Largest active set whose dense Schur complement is formed (default
        :func:`default_max_active`: 4 000, or 3 per pixel of the grid's side
        on grids larger than 1333x1333).
    fallback : bool
        When PDAS does not finish (cycle, too many active pixels, iteration
        limit) or rounding keeps its answer from being certified, warm-start
        ``pcg`` from the best point instead of giving up.

    Notes
    -----
    ``info["levels"]`` lists, coarsest first, each level's size, PDAS
    iterations, final ``|A|``, status, time and per-iteration history, the
    Schur columns evaluated and how many saddle factors were updated rather
    than made anew (``factor_updates``).  BLAS runs on one thread (see :mod:`qpsolve.linalg.threads`) but for the
    Cholesky factors of at least ``PARALLEL_CHOLESKY`` contacts.
    """
    with blas_threads(1):
        return _solve(prob, tol=tol, max_iter=max_iter, x0=x0, verbose=verbose, time_limit=time_limit, **options)


def _solve(prob, *, tol, max_iter, x0, verbose, time_limit, coarse_to_fine=True, max_active=None,
           fallback=True, **options):
    # (the parameters are solve()'s)
    if options:
        raise TypeError(f"pdas got unknown option(s): {sorted(options)}")
    if max_active is None:
        max_active = default_max_active(prob.n)
    check_positive_int(max_active, "max_active")
    user_max_iter = max_iter  # the pcg hand-over gets the caller's limit (pcg's own default if None)
    max_iter = 100 if max_iter is None else int(max_iter)
    deadline = None if time_limit is None else time.perf_counter() + float(time_limit)

    if x0 is None:
        # A plate with nothing to bend (a flat envelope, every optimum tied): keep the
        # centre of the box, as a descent method started there would.
        start = prob.start_point()
        g = prob.gradient(start)
        if not np.any(np.abs(g) > 1e-13 * max(prob.row_norm, 1.0) * max(float(np.abs(start).max()), 1.0)):
            return BackendOutput(x=start, iterations=0, converged=True, message="the start point is stationary",
                                 info={"levels": []})
        del start, g  # 64 MB at 2048^2, for the rest of the solve

    use_chain = x0 is None and coarse_to_fine and not np.any(prob.q != 0)
    chain = _chain(prob, MIN_COARSE) if use_chain else [prob]
    levels = []
    parent = None  # the level whose active set seeds the next finer one
    if x0 is not None:
        act, upper = _active_of(prob, x0)
    elif len(chain) > 1:
        # The coarsest level is small: pcg (exact sparse-LU Newton) finds its active set.
        parent = chain.pop()
        t0 = time.perf_counter()
        cprob = parent.boxqp()
        out = pcg.solve(cprob, tol=max(tol, 1e-8), max_iter=None, x0=None, verbose=False,
                        time_limit=None if deadline is None else max(deadline - t0, 1e-3))
        x_parent = cprob.project(out.x)
        act, upper = _active_of(cprob, x_parent)
        levels.append({"n": parent.n, "solver": "pcg", "iterations": out.iterations, "active": int(act.size),
                       "status": "optimal" if out.converged else "not_converged",
                       "seconds": time.perf_counter() - t0})
    else:
        act = np.flatnonzero(prob.lower == prob.upper)
        upper = np.zeros(act.size, bool)

    x, status, it, shift = None, "max_iter", 0, None
    for depth in range(len(chain) - 1, -1, -1):
        lvl = chain[depth]
        if parent is not None:
            act, upper = _seed_from_coarse(lvl, parent, act, upper, x_parent)
        t0 = time.perf_counter()
        level = _Level(lvl)
        fine = depth == 0
        x, act, upper, status, it, hist, shift, cert = _pdas(level, act, upper, max_iter=max_iter if fine else 40,
                                                max_active=max(1, max_active >> depth), deadline=deadline,
                                                verbose=verbose,
                                                label=f"n={lvl.n}", tol=tol if fine else None,
                                                loose=None if fine else COARSE_VIOLATION,
                                                growth=DENSE_GROWTH ** depth, max_fine=max_active)
        x_parent = x
        levels.append({"n": lvl.n, "solver": "pdas", "iterations": it, "active": int(act.size),
                       "status": status, "seconds": time.perf_counter() - t0, "history": hist,
                       "schur_columns": level.schur.evaluated, "factor_updates": level.updates})
        if fine and status in ("stalled", "cycle", "max_iter"):
            t0, updates = time.perf_counter(), level.updates
            x, status, pn_it, hist = _projected_newton(level, x, tol=tol, max_iter=max_iter,
                                                       max_active=max_active, deadline=deadline,
                                                       verbose=verbose, label=f"n={lvl.n}")
            it += pn_it
            shift = None
            levels.append({"n": lvl.n, "solver": "projected-newton", "iterations": pn_it,
                           "status": status, "seconds": time.perf_counter() - t0, "history": hist,
                           "factor_updates": level.updates - updates})
        if status in ("time_limit", "too_many_active", "dense"):
            # On a coarse level the limit is max_active / 2^depth: contacts at least double
            # per level (lines; textures quadruple), so the fine set would not fit either.
            break
        parent = lvl

    reached_fine = x is not None and x.size == prob.n
    message = (f"{status} after {it} PDAS iterations on the fine level ({len(levels)} levels)" if reached_fine
               else f"{status} on a coarse level of {levels[-1]['n']} pixels")
    info = {"levels": levels}
    x = prob.project(x if reached_fine else prob.start_point())
    converged = status == "optimal"
    polished_cert = cert if reached_fine and converged else None  # of this x (projected already)
    cert = None
    if fallback and status != "time_limit":
        # Exact arithmetic says optimal; the shared certificate has the last word.
        if converged:
            cert = polished_cert if polished_cert is not None else certificate(prob, x, tol, dual_shift=shift)
        for _ in range(SHARPEN_STEPS if converged and shift is not None else 0):
            if cert.optimal:
                break
            shift = level.sharpen(x, shift, act)
            cert = certificate(prob, x, tol, dual_shift=shift)
        if cert is None or not cert.optimal:
            remaining = None if deadline is None else max(deadline - time.perf_counter(), 1e-3)
            # From PDAS's point when it got close, else pcg's own coarse-to-fine start.
            fresh = not reached_fine or status in ("dense", "too_many_active")
            out = pcg.solve(prob, tol=tol, max_iter=user_max_iter, x0=x0 if fresh else x, verbose=verbose,
                            time_limit=remaining)
            info["fallback"] = {"solver": "pcg", "iterations": out.iterations, "message": out.message}
            message += f"; pcg from that point: {out.message}"
            return BackendOutput(x=out.x, iterations=it + out.iterations, converged=out.converged,
                                 stalled=out.stalled, hit_time_limit=out.hit_time_limit, message=message,
                                 info=info)
    # (shift and cert exist only when the fine level was reached: coarse levels do not polish)
    return BackendOutput(x=x, iterations=it, converged=converged, stalled=status == "cycle",
                         hit_time_limit=status == "time_limit", message=message, info=info,
                         dual_shift=shift, certified=None if cert is None else (x, tol, shift, cert))
