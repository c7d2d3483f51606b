"""One grid level: its Green's function, the equality step, refinement, polish and face steps."""

from __future__ import annotations

import numpy as np

from ...linalg.greens import shared_green
from . import constants
from .saddle import SaddleFactor
from .schur import SchurCache

__all__ = ["Level"]


class Level:
    """Everything one grid level needs: the problem, its Green's function and scales.

    ``table=False`` neither reads nor asks for a dense table of ``P^g``
    (:func:`~qpsolve.linalg.greens.shared_green`) and evaluates its blocks
    by BLAS: the coarse levels of a grid too large for a table, whose
    blocks are few and small.  Only grids of at most
    :data:`~qpsolve.linalg.greens.DENSE_TABLE_PIXELS` pixels evaluate
    exact-order blocks (numba, :class:`SchurCache`), so a smooth solve on a
    larger grid never loads numba; one on a grid that small does (its
    answer must not depend on whether the table exists yet).
    """

    def __init__(self, prob, table=True):
        self.prob = prob
        self.green = shared_green(prob.grid, table=table)
        self.N = self.green.null_basis
        self.has_q = bool(np.any(prob.q != 0))
        self.pq = self.green.solve(prob.q) if self.has_q else None
        self.Nq = self.N.tdot(prob.q)
        lo, hi = prob.lower, prob.upper
        finite = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
        self.span = float(np.ptp(finite)) if finite.size else 1.0
        self.span = self.span if self.span > 0 else max(float(np.abs(finite).max(initial=1.0)), 1.0)
        self.schur = SchurCache(self.green, prob.n, table=table)
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
        if old is not None and old.factored and act.size >= constants.UPDATE_MIN_ACTIVE:
            new = np.setdiff1d(act, old.base, assume_unique=True)
            released = old.base.size + new.size - act.size
            if max(new.size, released) <= constants.UPDATE_FRACTION * act.size:
                cross, corner = self.schur.blocks(old.base, new)
                kkt = old.bordered(act, new, cross, corner, self.N.take(new))
                if kkt is not None:
                    self.updates += 1
                    return kkt
        del old
        return SaddleFactor.factor(self.schur.submatrix(act), self.N.take(act), act)

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
        terms, so the factor shrinks as the grid grows: see
        ``benchmarks/results/design_notes.md``), so one step is not always
        enough for the certificate.  A correction above ``POLISH_STEP`` of
        ``max |x|`` leaves a residual the certificate would reject: the next
        step is taken first, up to ``POLISH_STEPS`` in all, and a certificate
        (as costly as a step on large grids) is spent only on a point likely
        to pass.
        """
        scale = float(np.abs(x).max(initial=0.0))
        s, shift, size = self._refine(x, act, upper)
        for _ in range(constants.POLISH_STEPS - 1):
            if shift is None or size <= constants.POLISH_STEP * scale:
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
