"""The inner Dirichlet Laplacian of an ``odd`` plate, solved on a grid one larger.

``GridGreen`` inverts the Dirichlet Laplacian ``L`` on the ``N x M`` inner
pixels of an ``odd`` plate with the DST-I, whose fast transform has length
``2 (N + 1)``.  For the image sizes people use most that length factors
badly: a 2048-pixel side gives ``4094 = 2 * 23 * 89``, and a 2-D DST-I of
2046 x 2046 takes 2.6 times as long as one of 2047 x 2047 (99 ms against
38 ms here), whose length is ``4096``.

:class:`DirichletEmbedding` works in the DST-I basis of the ``(N + 1) x
(M + 1)`` grid instead.  ``L`` is that grid's Laplacian ``L_B`` without its
last row and column (the set ``G``), so ``L^-1 b`` is the field of ``L_B``
with the source ``b`` plus sources on ``G`` chosen to make the field vanish
there (a capacitance correction).  Eliminating the last column first
(``G``'s column block of ``L_B^-1`` is diagonal in the DST basis of the
column) leaves a system for the last row that is diagonal in the DST basis
of the ``M`` remaining columns: every step is exact and costs one pass over
the spectrum or a 1-D transform.

Examples
--------
>>> import numpy as np
>>> emb = DirichletEmbedding(5, 7)
>>> b = np.random.default_rng(0).normal(size=(5, 7))
>>> t = emb.spectrum(b) * emb.inv           # L_B^-1 b, in the large grid's basis
>>> t -= emb.correction(t) * emb.inv        # ... plus the sources on G
>>> x = emb.field(t)
>>> lap = -4 * x                              # L x: the 5-point Laplacian, zero outside
>>> lap[1:] += x[:-1]; lap[:-1] += x[1:]; lap[:, 1:] += x[:, :-1]; lap[:, :-1] += x[:, 1:]
>>> bool(np.allclose(lap, b))
True
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from ..model.spectra import dst_basis_rows, second_difference_eigenvalues

__all__ = ["DirichletEmbedding", "embedding_pays"]


def _prime_factors(n):
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


def _fft_work(length):
    """Relative work per sample of a real FFT of ``length`` (pocketfft's passes).

    Factors up to 11 have unrolled passes (about 2 units each); larger primes
    go through the generic pass, about ``p / 2`` units (fitted to this
    machine: a 2-D DST-I of 2046^2 takes 2.6 times one of 2047^2, one of
    1022^2 the same as one of 1023^2).
    """
    return sum(2.0 if p <= 11 else p / 2.0 for p in _prime_factors(int(length)))


#: the embedded solve costs about this many transforms' worth of extra passes (its passes over
#: the spectrum timed against 2-D transforms: benchmarks/results/design_notes.md)
EMBEDDING_OVERHEAD = 1.65


def embedding_pays(n1, n2):
    """Whether :class:`DirichletEmbedding` beats the plain DST-I on an ``n1 x n2`` inner grid.

    Examples
    --------
    >>> embedding_pays(2046, 2046)   # 2 * 2047 = 2 * 23 * 89; 2 * 2048 is a power of two
    True
    >>> embedding_pays(1022, 1022)   # 2 * 1023 = 2 * 3 * 11 * 31: about as fast as 2048
    False
    """
    plain = _fft_work(2 * (n1 + 1)) + _fft_work(2 * (n2 + 1))
    embedded = _fft_work(2 * (n1 + 2)) + _fft_work(2 * (n2 + 2))
    return plain > EMBEDDING_OVERHEAD * embedded


def _dst(x, axis=-1):
    return sfft.dst(x, type=1, norm="ortho", axis=axis)


class DirichletEmbedding:
    """``L^-1`` of the ``N x M`` Dirichlet Laplacian in the DST-I basis of the ``(N+1) x (M+1)`` grid.

    Spectra here are ``(N + 1, M + 1)`` arrays in the large grid's basis.  A
    field of ``L`` is a spectrum whose field vanishes on the last row and
    column ``G``; :meth:`field` returns its ``N x M`` values.

    Parameters
    ----------
    n1, n2 : int
        The inner grid's shape ``(N, M)``.

    Attributes
    ----------
    inv : ndarray, shape (N + 1, M + 1)
        Inverse eigenvalues of the large grid's Laplacian ``L_B`` (negative):
        ``1 / lam`` with ``lam = -(mu_rows[:, None] + mu_cols[None, :])``.
    mu_rows, mu_cols : ndarray
        The 1-D eigenvalues along each axis.
    """

    #: columns per block when summing over the large grid's rows (bounds the temporaries)
    _BLOCK = 256

    def __init__(self, n1, n2):
        self.shape = (int(n1), int(n2))
        nb, mb = n1 + 1, n2 + 1
        self.mu_rows = second_difference_eigenvalues(nb, "dst")
        self.mu_cols = second_difference_eigenvalues(mb, "dst")
        self.inv = np.add.outer(self.mu_rows, self.mu_cols)
        np.divide(-1.0, self.inv, out=self.inv)
        self.phi_last = dst_basis_rows(nb, [n1])[0]  # basis values on the last row of the large grid
        self.psi_last = dst_basis_rows(mb, [n2])[0]  # ... and on its last column
        # Columns of G's block of L_B^-1 on the last column: diagonal in the DST of that column.
        self.c_col = self.inv @ self.psi_last**2
        # The last row once the last column is eliminated: L_B without its last column is
        # a Dirichlet Laplacian of (N + 1) x M, diagonal in the DST of the M columns.
        mu_mid, w = second_difference_eigenvalues(n2, "dst"), self.phi_last**2
        self.c_row = np.concatenate([w @ (-1.0 / np.add.outer(self.mu_rows, mu_mid[b:b + self._BLOCK]))
                                     for b in range(0, n2, self._BLOCK)])

    # ------------------------------------------------------------------ transforms
    def spectrum(self, b):
        """The large grid's spectrum of ``b`` (``N x M``) padded with zeros on ``G``."""
        n1, n2 = self.shape
        a = np.empty((n1 + 1, n2 + 1))  # not np.zeros: only G needs them
        a[:n1, :n2] = b
        a[n1, :] = 0.0
        a[:n1, n2] = 0.0
        return sfft.dstn(a, type=1, norm="ortho", workers=-1, overwrite_x=True)

    def field(self, t):
        """The ``N x M`` values of the field of spectrum ``t`` (``t`` is overwritten)."""
        n1, n2 = self.shape
        return sfft.idstn(t, type=1, norm="ortho", workers=-1, overwrite_x=True)[:n1, :n2]

    def row_basis(self, positions):
        """Basis values on rows ``positions`` of the large grid, ``(len, N + 1)``."""
        return dst_basis_rows(self.shape[0] + 1, positions)

    def col_basis(self, positions):
        """Basis values on columns ``positions`` of the large grid, ``(M + 1, len)``."""
        return dst_basis_rows(self.shape[1] + 1, positions).T

    # ------------------------------------------------------------------ the correction
    def sources(self, row_last, col_last):
        """Spectra of the sources on ``G`` that make a field vanish there.

        Parameters
        ----------
        row_last : ndarray, shape (M + 1,)
            ``phi_last @ t``: the field's last row, in the basis of the columns.
        col_last : ndarray, shape (N + 1,)
            ``t @ psi_last``: its last column, in the basis of the rows.

        Returns
        -------
        s_col, s_row : ndarray
            Spectra (rows' and columns' bases) of the sources on the last column
            (all ``N + 1`` rows) and on the last row (the first ``M`` columns).
            The corrected spectrum is ``t - (outer(s_col, psi_last) +
            outer(phi_last, s_row)) * inv``.
        """
        n2 = self.shape[1]
        u = col_last / self.c_col  # the last column's source alone
        # What the last row still sees once that source acts, then the row's own source.
        rest = row_last - self.psi_last * (self.inv.T @ (self.phi_last * u))
        r = _dst(rest)[:n2]
        s = np.zeros(n2 + 1)
        s[:n2] = _dst(_dst(r) / self.c_row)
        s_row = _dst(s)
        # The column's source, knowing the row's.
        s_col = (col_last - self.phi_last * (self.inv @ (self.psi_last * s_row))) / self.c_col
        return s_col, s_row

    def correction(self, t):
        """``outer(s_col, psi_last) + outer(phi_last, s_row)`` for spectrum ``t`` (divide by ``lam``)."""
        s_col, s_row = self.sources(self.phi_last @ t, t @ self.psi_last)
        return np.multiply.outer(s_col, self.psi_last) + np.multiply.outer(self.phi_last, s_row)
