"""Exact fast inverses of separable energies on ``(n0, n1, n2)`` boxes, and of their faces.

An energy ``A`` on a C-ordered ``(n0, n1, n2)`` box whose eigenvectors are
products ``v_k (x) c_i (x) c_j`` -- ``c`` the orthonormal DCT-II vectors
(the ``even``-rule second difference's eigenvectors) along the last two
axes, and along the first axis either DCT-II vectors too or the columns
of any orthonormal ``n0 x n0`` basis ``V`` -- is given by its eigenvalues
``lam[k, i, j]`` alone.  Two such energies are solved here:

* a 3-D volume's ``even``-rule grid model (``(L_0 + L_1 + L_2)^2`` for the
  biharmonic, ``L_k`` the Neumann second differences): DCT-II on all three
  axes, eigenvalues ``f(mu_0 + mu_1 + mu_2)``
  (:func:`qpsolve.linalg.volume.volume_inverse`);
* a video chunk's frames plus a temporal term: DCT-II in space, the
  temporal second difference's eigenbasis in time
  (:class:`qpsolve.linalg.spacetime.SpaceTimeInverse`).

:class:`SeparableInverse` applies ``A^+`` (two transforms) and gives any
block of it (:meth:`SeparableInverse.block`, by the method of images);
:class:`FaceInverse` applies the inverse of the energy with a set of
variables held fixed (a dense Schur complement on them).  The projected
Newton loop that uses both is :func:`qpsolve.linalg.facenewton.face_newton`.

Examples
--------
The 3-D Neumann biharmonic of a ``4 x 5 x 6`` box:

>>> from qpsolve.model.operators import energy_matrix
>>> from qpsolve.model.spectra import second_difference_eigenvalues as mu
>>> shape = (4, 5, 6)
>>> lam = (mu(4, "dct")[:, None, None] + mu(5, "dct")[None, :, None] + mu(6, "dct")[None, None, :]) ** 2
>>> inv = SeparableInverse(lam)
>>> A = energy_matrix(shape, "biharmonic", "even")
>>> v = A @ np.random.default_rng(0).normal(size=120)        # in the range of A
>>> bool(np.allclose(A @ inv.solve(v), v)), inv.nullspace.shape
(True, (120, 1))
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft
from numba import njit

from ..validation import check_at_least

__all__ = ["SeparableInverse", "FaceInverse", "FACE_BLOCK_ROWS"]

#: rows of a Schur complement evaluated at once (bounds the index temporaries of :meth:`SeparableInverse.block`)
FACE_BLOCK_ROWS = 256


def _image_weights(n):
    """``W[a, p]``, ``a = 0..n``: the DCT-II Green's function along one axis is
    ``sum_p g_p (W[|i - i'|, p] + W[fold(i + i' + 1), p])``."""
    c2 = np.full(n, 2.0 / n)
    c2[0] = 1.0 / n
    return 0.5 * c2[None, :] * np.cos(np.pi * np.outer(np.arange(n + 1), np.arange(n)) / n)


def _fold(a, n):
    """Mirror ``a`` in ``0..2n`` into ``0..n`` (``cos(pi p a / n)`` is even about ``a = n``)."""
    a = np.abs(a)
    return np.where(a > n, 2 * n - a, a)


@njit(cache=True, nogil=True)
def _fold_index(a, n):
    return a if a <= n else 2 * n - a


@njit(cache=True, nogil=True)
def _block3(K, a0, a1, a2, b0, b1, b2, n0, n1, n2, out):
    """``out[r, c]``: the eight mirror images of ``K`` between row ``r`` and column ``c`` (DCT on every axis)."""
    for r in range(a0.size):
        for c in range(b0.size):
            d0, s0 = abs(a0[r] - b0[c]), _fold_index(a0[r] + b0[c] + 1, n0)
            d1, s1 = abs(a1[r] - b1[c]), _fold_index(a1[r] + b1[c] + 1, n1)
            d2, s2 = abs(a2[r] - b2[c]), _fold_index(a2[r] + b2[c] + 1, n2)
            out[r, c] = (K[d0, d1, d2] + K[d0, d1, s2] + K[d0, s1, d2] + K[d0, s1, s2]
                         + K[s0, d1, d2] + K[s0, d1, s2] + K[s0, s1, d2] + K[s0, s1, s2])


@njit(cache=True, nogil=True)
def _gram3(K, a0, a1, a2, n0, n1, n2, out):
    """:func:`_block3` of a set with itself: the upper triangle, mirrored."""
    for r in range(a0.size):
        for c in range(r, a0.size):
            d0, s0 = abs(a0[r] - a0[c]), _fold_index(a0[r] + a0[c] + 1, n0)
            d1, s1 = abs(a1[r] - a1[c]), _fold_index(a1[r] + a1[c] + 1, n1)
            d2, s2 = abs(a2[r] - a2[c]), _fold_index(a2[r] + a2[c] + 1, n2)
            v = (K[d0, d1, d2] + K[d0, d1, s2] + K[d0, s1, d2] + K[d0, s1, s2]
                 + K[s0, d1, d2] + K[s0, d1, s2] + K[s0, s1, d2] + K[s0, s1, s2])
            out[r, c] = v
            out[c, r] = v


def _images(a, b, n):
    """The two image distances along one axis between index arrays ``a`` (rows) and ``b`` (columns)."""
    return _fold(a[:, None] - b[None, :], n), _fold(a[:, None] + b[None, :] + 1, n)


class SeparableInverse:
    """``A^+ v`` for an energy with DCT-II eigenvectors on axes 1, 2 and DCT-II or ``basis`` on axis 0.

    Parameters
    ----------
    spectrum : (n0, n1, n2) array
        The eigenvalues ``lam >= 0``; along axes 1, 2 (and axis 0 without
        ``basis``) in DCT-II order, along axis 0 in the order of ``basis``'s
        columns.
    basis : (n0, n0) array, optional
        An orthonormal eigenbasis along axis 0 (columns); ``None``: DCT-II.
    shift : float
        ``> 0`` applies ``(A + shift I)^{-1}`` instead.

    Notes
    -----
    ``A`` may be singular: :meth:`solve` returns the minimum-norm solution for
    ``v`` in the range of ``A`` and zeroes the null-space component of any
    other ``v`` (eigenvalues below ``1e-12`` of the largest count as zero).

    Examples
    --------
    A 1 x 1 x n box with spectrum ``mu`` is the 1-D Neumann second difference:

    >>> from qpsolve.model.differences import second_difference
    >>> from qpsolve.model.spectra import second_difference_eigenvalues
    >>> inv = SeparableInverse(second_difference_eigenvalues(6, "dct").reshape(1, 1, 6))
    >>> L = -second_difference(6, "even").toarray()
    >>> v = L @ np.arange(6.0)
    >>> bool(np.allclose(L @ inv.solve(v), v))
    True
    """

    def __init__(self, spectrum, basis=None, shift=0.0):
        lam = np.asarray(spectrum, dtype=np.float64)
        if lam.ndim != 3 or min(lam.shape) < 1:
            raise ValueError(f"spectrum must be an (n0, n1, n2) array with positive sides, got shape {lam.shape}")
        if not np.isfinite(lam).all() or lam.min() < -1e-9 * max(1.0, float(np.abs(lam).max())):
            raise ValueError("spectrum must hold finite non-negative eigenvalues")
        check_at_least(shift, "shift", 0)
        if basis is not None:
            basis = np.asarray(basis, dtype=np.float64)
            if basis.shape != (lam.shape[0],) * 2:
                raise ValueError(f"basis must be ({lam.shape[0]}, {lam.shape[0]}), got {basis.shape}")
        self.shape = lam.shape
        self.basis = basis
        lam = np.maximum(lam, 0.0) + shift
        self._lam = lam
        tiny = 1e-12 * float(lam.max())
        self._inv = np.where(lam > tiny, 1.0 / np.where(lam > tiny, lam, 1.0), 0.0)
        self._null = np.argwhere(lam <= tiny)
        self._kernels = None  # see _kernel_table()
        self._nullspace = None

    @property
    def n(self):
        """Number of variables ``n0 n1 n2``."""
        return int(np.prod(self.shape))

    def _forward(self, v):
        t = sfft.dctn(v.reshape(self.shape), type=2, norm="ortho", axes=(1, 2) if self.basis is not None else None)
        if self.basis is not None:
            t = np.tensordot(self.basis.T, t, axes=1)
        return t

    def _backward(self, t):
        if self.basis is not None:
            t = np.tensordot(self.basis, t, axes=1)
        axes = (1, 2) if self.basis is not None else None
        return sfft.idctn(t, type=2, norm="ortho", axes=axes, overwrite_x=True).ravel()

    def solve(self, v):
        """``A^+ v`` for a flat vector of ``n0 n1 n2`` values (C order)."""
        t = self._forward(np.asarray(v, dtype=np.float64))
        t *= self._inv
        return self._backward(t)

    @property
    def eigenvalues(self):
        """``lam`` (plus ``shift``), in the transform's order, ``(n0, n1, n2)``."""
        return self._lam

    def apply(self, v):
        """``A v`` (two transforms; equal to the assembled product up to rounding)."""
        t = self._forward(np.asarray(v, dtype=np.float64))
        t *= self._lam
        return self._backward(t)

    @property
    def nullspace(self):
        """Orthonormal basis of the null space of ``A`` (``shift = 0``), ``(n, k)``: its eigenvectors of
        eigenvalue zero (for the energies here, constants along the DCT axes)."""
        if self._nullspace is None:
            self._nullspace = self._null_vectors()
        return self._nullspace

    def _null_vectors(self):
        cols = []
        for idx in self._null:
            e = np.zeros(self.shape)
            e[tuple(idx)] = 1.0
            cols.append(self._backward(e))
        return np.stack(cols, axis=1) if cols else np.zeros((self.n, 0))

    def _kernel_table(self):
        """The even kernels whose mirror images give ``A^+``'s entries: one ``(n0 + 1, n1 + 1, n2 + 1)``
        table (DCT on axis 0), or one ``(n1 + 1, n2 + 1)`` table per axis-0 mode (``basis``)."""
        if self._kernels is None:
            n0, n1, n2 = self.shape
            w1, w2 = _image_weights(n1), _image_weights(n2)
            t = np.tensordot(self._inv, w2, axes=([2], [1]))          # (n0, n1, n2 + 1)
            t = np.tensordot(t, w1, axes=([1], [1]))                  # (n0, n2 + 1, n1 + 1)
            t = t.transpose(0, 2, 1)                                  # (n0, n1 + 1, n2 + 1)
            if self.basis is None:
                t = np.tensordot(_image_weights(n0), t, axes=1)       # (n0 + 1, n1 + 1, n2 + 1)
            self._kernels = np.ascontiguousarray(t)
        return self._kernels

    def gram(self, idx):
        """``block(idx, idx)`` (dense, symmetric), in row blocks of :data:`FACE_BLOCK_ROWS` with a basis."""
        idx = np.asarray(idx, dtype=np.int64)
        out = np.empty((idx.size, idx.size))
        if self.basis is None:
            a0, a1, a2 = np.unravel_index(idx, self.shape)
            _gram3(self._kernel_table(), a0, a1, a2, *self.shape, out)
            return out
        for a in range(0, idx.size, FACE_BLOCK_ROWS):  # row blocks bound the index temporaries of block()
            rows = idx[a:a + FACE_BLOCK_ROWS]
            out[a:a + rows.size] = self.block(rows, idx)
        return out

    def block(self, rows, cols):
        """``E_rows^T A^+ E_cols``: the entries of ``A^+`` between flat indices ``rows`` and ``cols``.

        By the method of images from :meth:`_kernel_table`: eight gathers per
        entry (DCT on axis 0) or four per entry and axis-0 mode (``basis``);
        equal to columns of :meth:`solve` up to rounding.

        Examples
        --------
        >>> lam = np.random.default_rng(1).uniform(1, 2, size=(3, 4, 5))
        >>> for inv in (SeparableInverse(lam), SeparableInverse(lam, np.linalg.qr(np.ones((3, 3)) + np.eye(3))[0])):
        ...     idx = np.array([0, 7, 26, 59])
        ...     cols = np.stack([inv.solve(np.eye(60)[i]) for i in idx], axis=1)
        ...     print(bool(np.allclose(inv.block(idx, idx), cols[idx])))
        True
        True
        """
        n0, n1, n2 = self.shape
        K = self._kernel_table()
        a0, a1, a2 = np.unravel_index(np.asarray(rows, dtype=np.int64), self.shape)
        b0, b1, b2 = np.unravel_index(np.asarray(cols, dtype=np.int64), self.shape)
        if self.basis is None:
            out = np.empty((a0.size, b0.size))
            _block3(K, a0, a1, a2, b0, b1, b2, n0, n1, n2, out)
            return out
        d1, s1 = _images(a1, b1, n1)
        d2, s2 = _images(a2, b2, n2)
        V = self.basis
        out = np.zeros(d1.shape)
        for k in range(n0):
            if not V[a0, k].any() and not V[b0, k].any():
                continue
            Kk = K[k]
            g = Kk[d1, d2] + Kk[d1, s2] + Kk[s1, d2] + Kk[s1, s2]
            g *= V[a0, k][:, None]
            g *= V[b0, k][None, :]
            out += g
        return out


class FaceInverse:
    """``(A_FF)^{-1}``: a separable energy with the variables ``held`` fixed, applied exactly.

    For a residual ``r`` (zero on ``held``) :meth:`solve` returns the ``d``
    that minimises ``1/2 d^T A d - r^T d`` with ``d = 0`` on ``held``: by the
    fast inverse and a dense Schur complement ``S = E^T A^+ E`` on the held
    variables, bordered by the null space of ``A`` (``d = A^+ (r - E l) + Z c``
    with ``E^T d = 0`` and ``Z^T (r - E l) = 0``).  Two fast solves and two
    dense triangular solves per call; ``O(|held|^2)`` memory, so the held set
    must be small (contacts of a smooth scene: about 300 per 480p frame).

    Parameters
    ----------
    inv : SeparableInverse
        ``A^+`` (anything with ``solve``, ``block`` and ``nullspace``).
    held : (n,) bool array
        The variables fixed at zero.

    Examples
    --------
    >>> from qpsolve.model.operators import energy_matrix
    >>> from qpsolve.model.spectra import second_difference_eigenvalues as mu
    >>> lam = (mu(3, "dct")[:, None, None] + mu(4, "dct")[None, :, None] + mu(5, "dct")[None, None, :]) ** 2
    >>> A, inv = energy_matrix((3, 4, 5), "biharmonic", "even").toarray(), SeparableInverse(lam)
    >>> held = np.zeros(60, bool); held[[3, 30, 44]] = True
    >>> r = np.where(held, 0.0, np.random.default_rng(1).normal(size=60))
    >>> d = FaceInverse(inv, held).solve(r)
    >>> F = ~held
    >>> bool(np.allclose(d[F], np.linalg.solve(A[np.ix_(F, F)], r[F]))), float(np.abs(d[held]).max())
    (True, 0.0)
    """

    def __init__(self, inv, held):
        import scipy.linalg as sla

        self.inv = inv
        self.held = np.flatnonzero(np.asarray(held, dtype=bool))
        Z = inv.nullspace
        nb = self.held.size
        if Z.shape[1] and nb:
            # keep the null directions the held variables see: one they do not (held all in one frame,
            # or none held) stays free, the face energy is singular along it and d takes no part of it
            _, sv, wt = np.linalg.svd(Z[self.held], full_matrices=False)
            Z = Z @ wt[sv > 1e-8 * max(1.0, float(sv.max()))].T
        else:
            Z = Z[:, :0]
        self._Z = Z
        nz = Z.shape[1]
        self._ZB = Z[self.held]
        self._nb = nb
        self._chol = self._lu = None
        if not nb:
            return
        try:
            # S = E^T A^+ E is positive definite unless the held set carries a null vector of A:
            # Cholesky (half LU's work), the null-space border eliminated through its small Schur complement
            L, _ = self._chol = sla.cho_factor(self._schur(), lower=True, overwrite_a=True, check_finite=False)
            pivots = np.abs(np.diag(L))
            if pivots.min() ** 2 <= 1e-10 * float((pivots ** 2).max()):
                raise np.linalg.LinAlgError("nearly singular")
            self._SZ = sla.cho_solve(self._chol, self._ZB, check_finite=False)
            self._border = sla.lu_factor(self._ZB.T @ self._SZ, check_finite=False) if nz else None
        except np.linalg.LinAlgError:
            self._chol = None
            K = np.zeros((nb + nz, nb + nz))
            K[:nb, :nb] = self._schur()
            K[:nb, nb:] = -self._ZB
            K[nb:, :nb] = -self._ZB.T
            self._lu = sla.lu_factor(K, check_finite=False, overwrite_a=True)

    def _schur(self):
        """``S = E^T A^+ E`` on the held variables (dense)."""
        return self.inv.gram(self.held)

    def _schur_solve(self, a, b):
        """``(l, c)`` with ``S l - Z_B c = a`` and ``-Z_B^T l = b``."""
        import scipy.linalg as sla

        if self._chol is None:
            sol = sla.lu_solve(self._lu, np.concatenate([a, b]), check_finite=False)
            return sol[:self._nb], sol[self._nb:]
        Sa = sla.cho_solve(self._chol, a, check_finite=False)
        if self._border is None:
            return Sa, np.zeros(0)
        # l = S^{-1} (a + Z_B c) and Z_B^T l = -b  =>  (Z_B^T S^{-1} Z_B) c = -b - Z_B^T S^{-1} a
        c = sla.lu_solve(self._border, -b - self._ZB.T @ Sa, check_finite=False)
        return Sa + self._SZ @ c, c

    def solve(self, r):
        """``(A_FF)^{-1} r_F`` extended by zeros on the held variables."""
        r = np.asarray(r, dtype=np.float64)
        ar = self.inv.solve(r)
        if not self._nb:
            ar[self.held] = 0.0
            return ar
        lam, c = self._schur_solve(ar[self.held], -(self._Z.T @ r))
        e = np.zeros_like(r)
        e[self.held] = lam
        d = ar - self.inv.solve(e) + self._Z @ c
        d[self.held] = 0.0
        return d
