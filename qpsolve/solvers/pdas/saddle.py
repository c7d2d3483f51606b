"""The saddle factor: the dense KKT system of the active set, factored once and updated."""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from ...linalg.threads import blas_threads
from . import constants

__all__ = ["SaddleFactor"]


def _unit_columns(n, NB, rel):
    """``[NB, E_rel]``: the null-space rows of ``n`` pixels and a unit column per released position."""
    C = np.zeros((n, NB.shape[1] + rel.size))
    C[:, :NB.shape[1]] = NB
    C[rel, NB.shape[1] + np.arange(rel.size)] = 1.0
    return C


class SaddleFactor:
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
    factorisation of ``|A|^3 / 3`` flops (see ``benchmarks/results/design_notes.md``).  Every
    constraint, null space and releases alike, enters through
    ``F = L^-1 C`` (``C = [N_base, E_released]``) and the small matrix
    ``G = F^T F``.
    """

    def __init__(self, base, k, sigma, *, L=None, S=None, NB=None, sel=None):
        """A factor from its parts: :meth:`factor` makes a new one, :meth:`bordered` updates one.

        ``base`` are the pixels of the factor in its order, ``k`` the null-space
        dimension, ``sigma`` the weight of ``NA NA^T`` in ``M``, ``L`` the
        Cholesky factor of ``M`` (``None``: least squares on ``S``), ``NB`` the
        null-space rows of the base and ``sel`` where each active pixel sits
        in the base (default: the base is the active set).
        """
        self.base, self.k, self.sigma = base, k, sigma
        self.L, self.S, self.NB = L, S, NB
        self.sel = np.arange(base.size) if sel is None else sel

    @classmethod
    def factor(cls, S, NA, base):
        """A new factor of the saddle system of the active set ``base``.

        ``S`` is ``P^g[base, base]`` (overwritten: ``M`` is formed and factored
        in it), ``NA`` the null-space rows of ``base``.
        """
        a, k = NA.shape
        d = float(np.max(np.diag(S), initial=0.0))
        w = float(np.max(np.sum(NA * NA, axis=1), initial=0.0))
        out = cls(base, k, d / w if d > 0 and w > 0 else 1.0, NB=NA)
        if a >= k:
            # S is symmetric, so its transpose is a Fortran-ordered view of the same matrix:
            # LAPACK/BLAS then work in place (lower triangle only) instead of copying.
            M = S.T
            M = sla.blas.dsyrk(out.sigma, np.asfortranarray(NA), beta=1.0, c=M, lower=1, overwrite_c=1)
            try:
                with blas_threads(None if a >= constants.PARALLEL_CHOLESKY else 1):
                    L = sla.cho_factor(M, lower=True, check_finite=False, overwrite_a=True)[0]
                if np.all(np.isfinite(L)) and out._constraints(L, NA, np.zeros(0, dtype=np.int64)):
                    out.L = L
            except (sla.LinAlgError, ValueError):
                out.L = None
            if out.L is None:
                # The update and the factorisation wrote only the lower triangle: S is intact
                # above the diagonal, and its diagonal is M's minus the update.
                upper = np.triu(M, 1)
                out.S = upper + upper.T
                out.S[np.diag_indices(a)] = np.diag(M) - out.sigma * np.einsum("ij,ij->i", NA, NA)
        else:
            out.S = S
        return out

    def _constraints(self, L, NB, rel, F=None):
        # F = L^-1 [NB, E_rel] (unless the caller has it) and G = F^T F; False when G, scaled to
        # a unit diagonal, is too ill-conditioned to trust (a set that leaves part of the null
        # space free).  Unscaled, the released pixels' columns alone make it so (their norms
        # differ by 1e7).
        if F is None:
            F = sla.solve_triangular(L, _unit_columns(L.shape[0], NB, rel), lower=True, check_finite=False,
                                     overwrite_b=True)
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
        it lacks (``new``, all of them in ``act``; ``cross`` = ``P^g[base, new]``,
        ``corner`` = ``P^g[new, new]``) and releases the base pixels ``act`` lacks.
        ``None`` when the bordered matrix is not positive definite or its constraints
        are too ill-conditioned.
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
        base = np.concatenate([self.base, new])
        pos = np.argsort(base, kind="stable")
        out = SaddleFactor(base, self.k, self.sigma, L=L, sel=pos[np.searchsorted(base, act, sorter=pos)])
        keep = np.zeros(out.base.size, dtype=bool)
        keep[out.sel] = True
        rel = np.flatnonzero(~keep)
        NB = np.concatenate([self.NB, N_new]) if j else self.NB
        F = self._top_constraints(rel, b + j)
        if j:
            # The rows of the new pixels: L_J^-1 (C_J - W^T F_top), C_J = [N_new, 0] (every new
            # pixel is in act, so only base pixels are released).
            CJ = -(W.T @ F[:b])
            CJ[:, :self.k] += N_new
            F[b:] = sla.solve_triangular(LJ, CJ, lower=True, check_finite=False, overwrite_b=True)
        if not out._constraints(L, NB, rel, F):
            return None
        return out

    def _top_constraints(self, rel, rows):
        # L^-1 [NB, E_rel] on this factor's base (``rel`` are base positions) in the first rows of
        # an uninitialised ``rows``-row array: the columns of the null space and of pixels released
        # before are in F already, only the others are solved (each a |base|^2 triangular solve;
        # at 2048^2, 3 300 contacts, all of them cost about 60 ms per bordering).
        k, b = self.k, self.base.size
        at = np.minimum(np.searchsorted(self.rel, rel), max(self.rel.size - 1, 0))
        had = (self.rel[at] == rel) if self.rel.size else np.zeros(rel.size, dtype=bool)
        F = np.empty((rows, k + rel.size), order="F")  # the layout solve_triangular gives
        F[:b, :k] = self.F[:, :k]
        F[:b, k + np.flatnonzero(had)] = self.F[:, k + at[had]]
        fresh = np.flatnonzero(~had)
        if fresh.size:
            F[:b, k + fresh] = sla.solve_triangular(self.L, _unit_columns(b, np.zeros((b, 0)), rel[fresh]),
                                                    lower=True, check_finite=False, overwrite_b=True)
        return F

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
