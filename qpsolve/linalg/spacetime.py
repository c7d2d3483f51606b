"""Exact fast inverse of a video chunk's separable energy: a DCT in space, a ``T x T`` eigenbasis in time.

A chunk of ``T`` frames of ``h x w`` pixels (one vector, time first) with
each frame's 2-D energy ``P2`` (``even`` rule: diagonalised by the 2-D
DCT-II, eigenvalues ``f(mu)``, see :mod:`qpsolve.model.spectra`) and a
temporal term ``weight * D^T D`` (``D`` the temporal second difference
under the ``odd`` rule, a ``T x T`` matrix with eigenpairs ``tau_k, v_k``)
has the energy

    ``A = I_T (x) P2  +  weight * (D^T D) (x) I_s``

whose eigenvectors are ``v_k (x) dct_ij`` with eigenvalues
``weight * tau_k + f(mu_ij)``.  :class:`SpaceTimeInverse` (a
:class:`~qpsolve.linalg.separable.SeparableInverse` with the temporal
eigenbasis on axis 0) applies the generalised inverse ``A^+`` in
``O(T N log N + T^2 N)`` for ``N = h w``: two 2-D DCTs per frame and a
``T x T`` product per pixel; :class:`~qpsolve.linalg.separable.FaceInverse`
(re-exported here) applies it with the binding variables held.

The chunk's QP (:func:`qpsolve.model.temporal.temporal_energy`) keeps the
temporal rows only where the content is continuous in time, so its ``P``
equals ``A`` where that mask is full and differs from it on the rows
dropped; the ``spacetime`` backend uses ``A^+`` as the preconditioner of its
face solves, where any symmetric positive definite approximation is exact
enough (the certificate judges the answer, not the preconditioner).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.differences import second_difference
from ..model.spectra import second_difference_eigenvalues
from ..validation import check_at_least, check_choice, check_weights
from .separable import FaceInverse, SeparableInverse

__all__ = ["SpaceTimeGrid", "SpaceTimeInverse", "FaceInverse", "frame_spectrum"]

#: the frame models whose ``even``-rule energy is a polynomial in the Neumann Laplacian
MODELS = ("laplace", "biharmonic", "thin-plate", "triharmonic", "mixed")


def frame_spectrum(shape, model="biharmonic", alpha=1.0, beta=1.0):
    """Eigenvalues ``f(mu)`` of a frame's ``even``-rule energy in 2-D DCT-II order, ``(h, w)``.

    ``mu`` are the eigenvalues of the negative Neumann Laplacian; ``f`` is
    ``mu`` (laplace), ``mu^2`` (biharmonic, and thin-plate, which equals it
    under the ``even`` rule), ``mu^3`` (triharmonic) or ``alpha mu + beta mu^2``
    (mixed).

    Examples
    --------
    >>> from qpsolve.model.operators import energy_matrix
    >>> f = frame_spectrum((3, 4), "biharmonic")
    >>> ref = np.linalg.eigvalsh(energy_matrix((3, 4), "biharmonic", "even").toarray())
    >>> bool(np.allclose(np.sort(f.ravel()), ref))
    True
    """
    check_choice(model, MODELS, "model")
    h, w = (int(s) for s in shape)
    mu = second_difference_eigenvalues(h, "dct")[:, None] + second_difference_eigenvalues(w, "dct")[None, :]
    if model == "laplace":
        return mu
    if model in ("biharmonic", "thin-plate"):
        return mu**2
    if model == "triharmonic":
        return mu**3
    return alpha * mu + beta * mu**2


@dataclass(frozen=True)
class SpaceTimeGrid:
    """A ``(T, h, w)`` chunk's separable energy: each frame's ``even``-rule plate plus ``weight D_tt^T D_tt``.

    Parameters
    ----------
    shape : (T, h, w)
    model : str
        The frames' model (``even`` rule in space).
    weight : float
        Weight of the temporal term (``odd`` rule in time).
    alpha, beta : float
        Weights of ``mixed``.
    """

    shape: tuple
    model: str = "biharmonic"
    weight: float = 0.1
    alpha: float = 1.0
    beta: float = 1.0

    def __post_init__(self):
        shape = tuple(int(s) for s in self.shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"shape must be (T, h, w) with positive sides, got {self.shape!r}")
        object.__setattr__(self, "shape", shape)
        check_choice(self.model, MODELS, "model")
        check_at_least(self.weight, "weight", 0)
        check_weights(self.alpha, self.beta)

    def matrix(self):
        """The assembled ``A`` (CSR): the same as :func:`~qpsolve.model.temporal.temporal_energy` with every
        temporal row kept and ``bc='even'``."""
        from ..model.temporal import temporal_energy

        return temporal_energy(self.shape, self.model, "even", weight=self.weight, alpha=self.alpha, beta=self.beta)


class SpaceTimeInverse(SeparableInverse):
    """``A^+ v`` for the separable energy ``A`` of a :class:`SpaceTimeGrid`.

    A :class:`~qpsolve.linalg.separable.SeparableInverse` with the temporal
    eigenbasis on axis 0.  ``A`` is singular (constants in space that change
    linearly in time cost nothing); :meth:`solve` returns the minimum-norm
    solution for ``v`` in the range of ``A`` and zeroes the null-space
    component of any other ``v``.  ``shift > 0`` applies
    ``(A + shift I)^{-1}`` instead.

    Examples
    --------
    >>> grid = SpaceTimeGrid((4, 5, 6), "biharmonic", weight=0.3)
    >>> A, inv = grid.matrix(), SpaceTimeInverse(grid)
    >>> v = A @ np.random.default_rng(0).normal(size=120)    # in the range of A
    >>> bool(np.allclose(A @ inv.solve(v), v))
    True
    >>> inv.nullspace.shape                                  # constants in space, 1 and t in time
    (120, 2)
    >>> idx = np.array([0, 7, 26, 59])
    >>> cols = np.stack([inv.solve(np.eye(120)[i]) for i in idx], axis=1)
    >>> bool(np.allclose(inv.block(idx, idx), cols[idx]))
    True
    """

    def __init__(self, grid, shift=0.0):
        if not isinstance(grid, SpaceTimeGrid):
            raise TypeError(f"grid must be a SpaceTimeGrid, got {type(grid).__name__}")
        check_at_least(shift, "shift", 0)
        self.grid = grid
        T = grid.shape[0]
        D = second_difference(T, "odd").toarray()
        tau, V = np.linalg.eigh(D.T @ D)
        tau = np.maximum(tau, 0.0)
        lam = grid.weight * tau[:, None, None] + frame_spectrum(grid.shape[1:], grid.model, grid.alpha,
                                                                 grid.beta)[None]
        super().__init__(lam, basis=V, shift=shift)
