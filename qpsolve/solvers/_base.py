"""What a backend hands back to the registry, before certification."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["BackendOutput", "BackendUnavailable", "importable", "face_newton_output"]


def importable(module):
    """``True`` when ``module`` imports: what a backend's ``available()`` asks."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


class BackendUnavailable(RuntimeError):
    """Raised when a backend cannot run on this machine or this problem."""


@dataclass
class BackendOutput:
    """Raw output of a backend.

    The registry projects ``x`` into the box, computes the shared
    certificate and sets the status; a backend only says what it did.

    Attributes
    ----------
    x : ndarray
        Final iterate (may be slightly outside the box; it will be projected).
    iterations : int
        Outer iterations in the backend's own sense.
    converged : bool
        The backend believes it has met ``tol`` (never trusted on its own).
    message : str
        The backend's own words.
    stalled, hit_time_limit : bool
        Why it stopped, when it did not converge.
    info : dict
        Anything worth reporting (residual history, levels, ...).
    dual_shift : ndarray, optional
        A correction below the float64 resolution of ``x`` (one more Newton
        step, not rounded into ``x``) whose dual point may prove a smaller
        gap; see :mod:`qpsolve.certificate`.  Any value gives a valid bound.
    certified : tuple, optional
        ``(x, tol, dual_shift, Certificate)`` when the backend already ran
        :func:`~qpsolve.certificate.certificate` on its final point; the
        registry reuses it only for the very same inputs (a cache, not a
        verdict: the certificate is the same function either way).
    handover : bool
        The backend stopped short and asks the registry to continue with its
        successor (:data:`qpsolve.solvers.HANDOVERS`) in the same attempt.
    handover_x0 : ndarray, optional
        Where the successor starts (``None``: its own start).
    """

    x: np.ndarray
    iterations: int = 0
    converged: bool = False
    message: str = ""
    stalled: bool = False
    hit_time_limit: bool = False
    failed: bool = False
    info: dict = field(default_factory=dict)
    dual_shift: np.ndarray | None = None
    certified: tuple | None = None
    handover: bool = False
    handover_x0: np.ndarray | None = None


def face_newton_output(run, tol, info=None):
    """The :class:`BackendOutput` of a :class:`~qpsolve.linalg.facenewton.FaceNewtonRun` at ``tol``.

    ``info`` (optional) is merged into the output's info after the run's CG
    iterations and gaps.
    """
    info = {"cg_iterations": run.cg_iterations, "gaps": run.gaps, "held": run.held, **(info or {})}
    steps = f"{run.iterations} Newton steps, {run.cg_iterations} CG iterations"
    if run.status == "optimal":
        return BackendOutput(x=run.x, iterations=run.iterations, converged=True, certified=(run.x, tol, None, run.cert),
                             message=steps, info=info)
    if run.status == "time_limit":
        return BackendOutput(x=run.x, iterations=run.iterations, hit_time_limit=True, message="time limit; " + steps,
                             info=info)
    if run.status == "stalled":
        return BackendOutput(x=run.x, iterations=run.iterations, stalled=True, message="no descent step; " + steps,
                             info=info)
    return BackendOutput(x=run.x, iterations=run.iterations, message=steps, info=info)
