"""The one result type every solver returns."""

from __future__ import annotations

import enum

import numpy as np
from scipy.optimize import OptimizeResult

__all__ = ["Status", "SolveResult", "MESSAGES", "chain_text"]


class Status(enum.IntEnum):
    """Termination status, an ``int`` as in :mod:`scipy.optimize` (0 means success)."""

    OPTIMAL = 0
    MAX_ITER = 1
    STALLED = 2
    TIME_LIMIT = 3
    BACKEND_ERROR = 4
    NOT_CERTIFIED = 5

    def __str__(self):
        return self.name.lower()


MESSAGES = {
    Status.OPTIMAL: "Optimal: the duality gap and the projected gradient are within tolerance.",
    Status.MAX_ITER: "The iteration limit was reached before the certificate was met.",
    Status.STALLED: "The solver made no further progress before the certificate was met.",
    Status.TIME_LIMIT: "The time limit was reached before the certificate was met.",
    Status.BACKEND_ERROR: "The backend failed; x is the best feasible point known.",
    Status.NOT_CERTIFIED: "The backend stopped, but its answer does not meet the certificate.",
}


def chain_text(chain):
    """One line for a hand-over chain (``info["handovers"]``): ``pdas (3 it, 0.1 s) -> tnnmg (8 it, 4.2 s)``.

    Examples
    --------
    >>> chain_text([{"solver": "pdas", "iterations": 3, "seconds": 0.12},
    ...             {"solver": "tnnmg", "iterations": 8, "seconds": 4.2}])
    'pdas (3 it, 0.1 s) -> tnnmg (8 it, 4.2 s)'
    """
    return " -> ".join(f"{h['solver']} ({h['iterations']} it, {h['seconds']:.1f} s)" for h in chain)


class SolveResult(OptimizeResult):
    """Outcome of :func:`qpsolve.solve`, a :class:`scipy.optimize.OptimizeResult`.

    Attributes
    ----------
    x : ndarray
        The solution, always inside its bounds.
    objective : float
        ``1/2 x^T P x + q^T x``.
    status : Status
        :class:`Status` (an ``IntEnum``; ``0`` is success).
    success : bool
        ``True`` exactly when the certificate says optimal.
    message : str
        Why the solver stopped (and, for backends, what they reported).
    iterations : int
        Outer iterations of the backend (its own notion).
    solve_time : float
        Wall-clock seconds spent in the backend.
    kkt : Certificate
        The shared certificate of ``x``.
    active : ndarray of int8
        ``-1`` at lower bound, ``+1`` at upper bound, ``0`` strictly inside.
    solver : str
        Registry name of the backend, or ``"null-space"``
        (:data:`qpsolve.solvers.NULL_SPACE_NAME`) when ``solver="auto"``
        answered a zero-energy problem without one, or ``"tiles(...)"`` for
        a tiled solve.
    info : dict
        Backend-specific extras (residual history, levels, ...).
    """

    def __repr__(self):
        return (
            f"SolveResult(solver={self.get('solver')!r}, status={self.status!s}, "
            f"objective={self.objective:.10g}, iterations={self.iterations}, "
            f"solve_time={self.solve_time:.3g}s, gap={self.kkt.gap:.3e})"
        )

    __str__ = __repr__

    def summary(self):
        """A few lines a person can read (with a ``handovers`` line when backends handed over and a
        ``retry`` line after ``solver="auto"``'s retries)."""
        info = self.get("info") or {}
        chain = info.get("handovers") if isinstance(info, dict) else None
        steps = [f"handovers   : {chain_text(chain)}"] if chain else []
        if isinstance(info, dict) and info.get("retry"):
            steps.append(f"retry       : {info['retry']}")
        return "\n".join(
            [
                f"solver      : {self.solver}",
                *steps,
                f"status      : {self.status!s} ({int(self.status)}) - {self.message}",
                f"objective   : {self.objective:.12g}",
                f"iterations  : {self.iterations}",
                f"solve time  : {self.solve_time:.3f} s",
                f"certificate : {self.kkt}",
                f"active      : {int(np.sum(self.active < 0))} at lower, {int(np.sum(self.active > 0))} at upper",
            ]
        )
