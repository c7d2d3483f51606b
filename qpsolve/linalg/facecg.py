"""Preconditioned conjugate gradients on one face of a box: ``P_FF d_F = b_F``.

The projected Newton backends (:mod:`qpsolve.solvers.pcg` with AMG or LU,
:mod:`qpsolve.solvers.spacetime` with the separable video inverse) each
solve the Newton system of the current face, the variables not held at a
bound, with a preconditioner that knows the face.  Vectors stay full
length and zero off the face, so the operator is ``D P D`` (``D`` the 0/1
diagonal of the face) and any matrix-vector product of ``P`` serves.
"""

from __future__ import annotations

import time

import numpy as np

from .threads import out_of_time

__all__ = ["face_cg"]


def face_cg(matvec, precondition, b, free, *, rtol, max_iter, deadline=None):
    """Preconditioned CG on ``D P D d = b`` with ``b`` zero off the face.

    Parameters
    ----------
    matvec : callable
        ``p -> P @ p`` (full length).
    precondition : callable
        ``r -> z``: an SPD approximation of ``(P_FF)^-1`` applied to a face
        residual, zero off the face.
    b : ndarray
        Right-hand side, zero off the face.
    free : ndarray of bool or float
        The face (1 on free variables, 0 on held ones).
    rtol : float
        Stop once ``||r|| <= rtol ||b||``.
    max_iter : int
        Most iterations.
    deadline : float, optional
        :func:`time.perf_counter` value after which the current iterate is returned.

    Returns
    -------
    d : ndarray
        The step (zero off the face).  On a direction of zero or negative
        curvature (a singular face) the iteration stops there; if nothing was
        taken yet, that direction itself is returned for a line search to use.
    iterations : int
    relative_residual : float
        ``||r|| / ||b||`` (0 when ``b`` is zero).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[4.0, 1, 0], [1, 3, 1], [0, 1, 2]])
    >>> free = np.array([True, True, False])
    >>> b = np.array([1.0, 2, 0])
    >>> d, it, res = face_cg(lambda p: P @ p, lambda r: r / np.diag(P), b, free, rtol=1e-12, max_iter=10)
    >>> bool(np.allclose(d[:2], np.linalg.solve(P[:2, :2], b[:2]))), float(d[2]), it
    (True, 0.0, 2)
    """
    d = np.zeros_like(b)
    bnorm = float(np.linalg.norm(b))
    if bnorm == 0.0:
        return d, 0, 0.0
    r = b.copy()
    z = precondition(r)
    p = z.copy()
    rz = float(r @ z)
    it = 0
    for it in range(1, max_iter + 1):
        Ap = free * matvec(p)
        curv = float(p @ Ap)
        if curv <= 1e-300 or not np.isfinite(curv) or rz <= 0.0:
            if not d.any():
                d = p
            break
        a = rz / curv
        d += a * p
        r -= a * Ap
        if float(np.linalg.norm(r)) <= rtol * bnorm or out_of_time(deadline):
            break
        z = precondition(r)
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return d, it, float(np.linalg.norm(r)) / bnorm
