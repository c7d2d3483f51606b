"""Solver registry: one signature, one result type, one judge.

Each backend lives in its own module and exposes

``solve(prob, *, tol, max_iter, x0, verbose, time_limit, **options) -> BackendOutput``

plus ``available()`` (its dependencies import) and ``supports(prob)``
(``None`` when it can take the problem, else the reason it cannot).  The
registry validates the arguments, calls the backend, projects ``x`` into the
box and lets :func:`qpsolve.certificate` decide the status.
"""

from __future__ import annotations

import importlib
import numbers
import time

import numpy as np

from ..linalg.heap import large_heap
from ..linalg.threads import blas_threads, check_cancelled
from ..certificate import DEFAULT_TOL, active_set, certificate, combine
from ..problem import BoxQP
from ..result import MESSAGES, SolveResult, Status, chain_text
from ..validation import check_positive_int, check_vector
from ._base import BackendOutput, BackendUnavailable

__all__ = ["solve", "available_solvers", "backend", "finalize", "finalize_parts", "SOLVERS", "AUTO_ORDER",
           "AUTO_RETRIES", "HANDOVERS", "DENSE_HANDOVER", "NULL_SPACE_NAME", "BackendOutput", "BackendUnavailable"]

#: registry name -> module that implements it
SOLVERS = {
    "pdas": "qpsolve.solvers.pdas",
    "pcg": "qpsolve.solvers.pcg",
    "osqp": "qpsolve.solvers.osqp_qp",
    "cvxpy": "qpsolve.solvers.cvxpy_qp",
    "lbfgsb": "qpsolve.solvers.lbfgsb",
    "lsq": "qpsolve.solvers.lsq",
    "gd-multigrid": "qpsolve.solvers.gd_multigrid",
    "admm": "qpsolve.solvers.admm",
    "tnnmg": "qpsolve.solvers.tnnmg",
    "spacetime": "qpsolve.solvers.spacetime",
    "volume": "qpsolve.solvers.volume",
    "banded": "qpsolve.solvers.banded",
}

#: tried in this order by ``solver="auto"`` (``tnnmg`` takes the grid problems ``pdas`` refuses:
#: many pinned pixels, or a model without a fast inverse under its rule, and plain matrices that
#: are operators on a 2-D lattice; ``volume`` a 3-D grid model's even-rule energy, plain or with its
#: grid; ``banded`` 1-D signals and other banded matrices; ``pcg`` every other matrix)
AUTO_ORDER = ("pdas", "tnnmg", "volume", "banded", "pcg", "osqp", "lbfgsb")
#: ``solver="auto"`` re-solves an answer its backend could not certify with these
#: ``(backend, options, largest n)``, in order, until one certifies.  The two ``pcg`` variants
#: fail on different problems: projected Newton alone can stall where exact active-set steps
#: certify, and can crawl from an active-set point where the plain start certifies in a few
#: steps (the photo crops in benchmarks/results/design_notes.md).  An interior-point method
#: (Clarabel through cvxpy) has no active set to crawl through at all; it is slow, so only
#: small problems (photo tiles) get it.  A rerun identical to the first attempt is skipped.
AUTO_RETRIES = (("pcg", {"active_set": True}, None), ("pcg", {}, None), ("cvxpy", {}, 2**14))
#: A backend that stops short may ask to hand over (``BackendOutput.handover``): the registry
#: then continues with this successor in the same attempt, from the point the backend chose,
#: under the backend's BLAS thread setting (its ``BLAS_THREADS``).  ``pdas`` hands a fine level
#: it cannot finish or certify to ``pcg``.  This is one attempt: ``solver="auto"``'s retries
#: (:data:`AUTO_RETRIES`) come after it.
HANDOVERS = {"pdas": "pcg"}
#: A ``pdas`` that hands over because it measured the contacts too dense for its Schur complement
#: (on a coarse level or the fine one: textured photographs) is continued by this backend instead
#: of its :data:`HANDOVERS` successor, under ``solver="auto"`` and when ``pdas`` is named alike
#: (``pcg`` took 64 s where ``tnnmg`` takes 3 on camera 256^2, 3 bits: docs/pdas.md).  Not when the
#: caller passed ``pdas`` options: a ``max_active`` of theirs, not the image, made the set "dense".
DENSE_HANDOVER = "tnnmg"
#: ``SolveResult.solver`` of a zero-energy problem that ``solver="auto"`` answered with a function of
#: ``P``'s null space, without a backend (:mod:`qpsolve.solvers.nullspace`); not a registry name
NULL_SPACE_NAME = "null-space"


def _successor(prob, name, out, dense_ok):
    """Who continues a hand-over: :data:`DENSE_HANDOVER` for a dense ``pdas`` (``dense_ok``: no caller
    options), else :data:`HANDOVERS`."""
    levels = out.info.get("levels") or [{}]
    if dense_ok and name == "pdas" and levels[-1].get("status") in ("dense", "too_many_active"):
        mod = backend(DENSE_HANDOVER)
        if mod is not None and mod.available() and mod.supports(prob) is None:
            return DENSE_HANDOVER
    return HANDOVERS[name]


def backend(name):
    """The module that implements solver ``name`` (see :data:`SOLVERS`), or ``None`` when it does not import."""
    try:
        return importlib.import_module(SOLVERS[name])
    except ImportError:
        return None


def available_solvers():
    """Names usable as ``solve(..., solver=name)`` on this installation.

    Examples
    --------
    >>> import qpsolve as qs
    >>> "osqp" in qs.available_solvers()
    True
    """
    names = []
    for name in SOLVERS:
        mod = backend(name)
        if mod is not None and mod.available():
            names.append(name)
    return names


def _named_grid(prob):
    """A plain matrix that is a grid model's energy on its lattice, with that grid attached.

    The same QP with the same ``P`` (the grid solvers then take it; ``BoxQP``
    checks the match to round-off), so the certificate judges the caller's
    matrix; any other problem as it is.
    """
    if prob.grid is not None:
        return prob
    from ..linalg.lattice import grid_model_of

    grid = grid_model_of(prob)
    if grid is None:
        return prob
    try:
        return BoxQP(prob.P, prob.lower, prob.upper, prob.q, grid=grid, coordinates=prob.coordinates,
                     near_null_space=prob.near_null_space)
    except ValueError:
        return prob


def _pick_auto(prob):
    reasons = []
    for name in AUTO_ORDER:
        mod = backend(name)
        if mod is None or not mod.available():
            continue
        why = mod.supports(prob)
        if why is None:
            return name
        reasons.append(f"{name}: {why}")
    raise BackendUnavailable("no installed solver supports this problem (" + "; ".join(reasons) + ")")


def solve(prob, solver="auto", tol=DEFAULT_TOL, max_iter=None, x0=None, verbose=False,
          time_limit=None, **options):
    """Solve a :class:`~qpsolve.BoxQP` and certify the answer.

    Parameters
    ----------
    prob : BoxQP
        The problem.
    solver : str, optional
        A name from :func:`available_solvers`, or ``"auto"`` (the first
        backend of :data:`AUTO_ORDER` that supports the problem: ``pdas`` on image
        grids, ``banded`` on 1-D signals, ``pcg`` on most other matrices;
        without ``options``, a zero-energy grid problem whose box holds a
        function of ``P``'s null space is answered with it, and the result's
        ``solver`` is then :data:`NULL_SPACE_NAME`, not a registry name).
    tol : float, optional
        Relative duality-gap tolerance of the certificate (default ``1e-8``).
    max_iter : int, optional
        Iteration limit in the backend's own units (default: the backend's).
    x0 : array_like, optional
        Warm start; projected into the box before use.
    verbose : bool, optional
        Print progress.
    time_limit : float, optional
        Wall-clock seconds after which the backend stops (where it can).
    **options
        Passed to the backend (see its module).

    Returns
    -------
    SolveResult
        ``success`` is ``True`` exactly when the shared certificate says
        optimal; ``x`` always lies inside the bounds.

    Raises
    ------
    TypeError, ValueError
        For a bad argument (named in the message).
    qpsolve.solvers.BackendUnavailable
        When the named backend is not installed or cannot take this problem.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> import qpsolve as qs
    >>> prob = qs.BoxQP(sp.identity(2), lower=[1, -1], upper=[2, 1], q=[0, -3])
    >>> sol = qs.solve(prob, solver="osqp")
    >>> sol.success, np.round(sol.x, 6).tolist()
    (True, [1.0, 1.0])
    """
    if not isinstance(prob, BoxQP):
        raise TypeError(f"prob must be a qpsolve.BoxQP, got {type(prob).__name__}")
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a string, got {type(solver).__name__}")
    if solver != "auto" and solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose 'auto' or one of {sorted(SOLVERS)}")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (np.isfinite(tol) and 0 < tol < 1):
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    check_positive_int(max_iter, "max_iter", allow_none=True)
    if time_limit is not None and (
        isinstance(time_limit, bool) or not isinstance(time_limit, numbers.Real) or not time_limit > 0
    ):
        raise ValueError(f"time_limit must be a positive number of seconds or None, got {time_limit!r}")
    if x0 is not None:
        if isinstance(x0, (str, bytes)):
            raise TypeError("x0 must be an array of numbers")
        x0 = prob.project(check_vector(x0, prob.n, "x0"))  # a start point only; the answer is certified separately

    check_cancelled()  # a cancelled channel starts no further solve (see cancel_scope)
    if solver == "auto":
        prob = _named_grid(prob)
    name = _pick_auto(prob) if solver == "auto" else solver
    mod = backend(name)
    if mod is None or not mod.available():
        raise BackendUnavailable(f"solver {name!r} is not installed here; available: {available_solvers()}")
    why = mod.supports(prob)
    if why is not None:
        raise BackendUnavailable(f"solver {name!r} cannot solve this problem: {why}")

    t0 = time.perf_counter()
    if solver == "auto" and not options:  # options go to the backend, which checks them
        res = _null_space_shortcut(prob, float(tol), t0)
        if res is not None:
            if verbose:
                print(f"[auto] zero energy: {res.info['shortcut']} inside the box, certified ({res.kkt})", flush=True)
            return res
    with large_heap(prob.n):
        out = _attempt(prob, name, mod, float(tol), max_iter, x0, bool(verbose), time_limit, options,
                       dense_ok=not options, named=solver != "auto")
        elapsed = time.perf_counter() - t0
        res = finalize(prob, name, out, tol, elapsed)
        if solver == "auto" and not options and not res.success and res.status != Status.TIME_LIMIT:
            res = _retry(prob, res, float(tol), max_iter, x0, bool(verbose), time_limit, t0)
    return res


def _null_space_shortcut(prob, tol, t0):
    """``solver="auto"`` (without backend options) on a zero-energy problem: a certified point of ``P``'s
    null space, or ``None``.

    With ``q == 0`` any function of ``P``'s null space inside the box is optimal
    (:mod:`qpsolve.solvers.nullspace`); a backend's active-set search there runs on multipliers that
    are pure rounding.  Only under ``auto``: a named backend keeps its own run, which is what users
    compare.  The shared certificate decides, as for every backend; when it does not accept the
    point, the normal path runs.  The result's ``solver`` is :data:`NULL_SPACE_NAME` and
    ``info["shortcut"]`` says which functions were tried.
    """
    from .nullspace import null_space_point

    hit = null_space_point(prob)
    if hit is None:
        return None
    x, kind = hit
    out = BackendOutput(x=x, converged=True, info={"shortcut": f"null space: {kind}"},
                        message=f"a {kind} function of P's null space inside the box (zero energy)")
    res = finalize(prob, NULL_SPACE_NAME, out, tol, time.perf_counter() - t0)
    if not res.success:
        return None
    from ..linalg.greens import count_problem

    count_problem(prob.grid)  # still a tile of its shape for pdas's shared tables (see count_problem)
    return res


def _attempt(prob, name, mod, tol, max_iter, x0, verbose, time_limit, options, dense_ok=False, named=False):
    """One backend's solve, continued by its successor (:func:`_successor`) when it asks.

    A named ``pdas`` whose :data:`DENSE_HANDOVER` successor stops uncertified (a named solver gets no
    :data:`AUTO_RETRIES`) is continued once more, from that point, by its :data:`HANDOVERS` successor:
    slower, but what a named ``pdas`` gave before dense contacts went to ``tnnmg``.

    After a hand-over ``info["fallback"]`` describes the last backend (kept as it was: benchmarks and
    the command line read it) and ``info["handovers"]`` every backend of the chain, in order, as
    ``{"solver", "iterations", "message", "seconds"}``.
    """
    start = time.perf_counter()
    out = mod.solve(prob, tol=tol, max_iter=max_iter, x0=x0, verbose=verbose, time_limit=time_limit, **options)
    if not out.handover:
        return out
    # every step of the chain, in order: info["fallback"] keeps only the last (read by benchmarks and the CLI)
    handovers = [_step(name, out, time.perf_counter() - start)]
    check_cancelled()
    successor = _successor(prob, name, out, dense_ok)
    if verbose:
        print(f"[{name}] hands over to {successor} after {time.perf_counter() - start:.1f} s: {out.message}",
              flush=True)

    def run(who, x_start):
        began = time.perf_counter()
        remaining = None if time_limit is None else max(time_limit - (began - start), 1e-3)
        with blas_threads(getattr(mod, "BLAS_THREADS", None)):
            res = backend(who).solve(prob, tol=tol, max_iter=max_iter, x0=x_start, verbose=verbose,
                                     time_limit=remaining)
        handovers.append(_step(who, res, time.perf_counter() - began))
        return res

    start_x = out.handover_x0
    # the stopped backend's own point is not needed any more: on a 12-Mpx channel it is 96 MB held
    # through the whole successor's solve
    out.x = None
    nxt = run(successor, start_x)
    info = dict(out.info)
    info["fallback"] = {"solver": successor, "iterations": nxt.iterations, "message": nxt.message}
    # a dense pdas hands over its caller's start (or none), not its own point
    origin = ("from its own start" if start_x is None else "from the caller's x0" if start_x is x0
              else "from that point")
    message = f"{out.message}; {successor} {origin}: {nxt.message}"
    iterations = out.iterations + nxt.iterations
    time_left = time_limit is None or time.perf_counter() - start < time_limit
    if named and successor != HANDOVERS[name] and not (nxt.converged or nxt.hit_time_limit) and time_left:
        check_cancelled()
        last = HANDOVERS[name]
        if verbose:
            print(f"[{name}] {successor} did not certify: {last} continues from its point", flush=True)
        nxt = run(last, nxt.x)
        info["fallback"] = {"solver": last, "after": successor, "iterations": nxt.iterations,
                            "message": nxt.message}
        message += f"; {last} from that point: {nxt.message}"
        iterations += nxt.iterations
    info["handovers"] = handovers
    if verbose:
        print(f"[{name}] chain: {chain_text(handovers)}", flush=True)
    return BackendOutput(x=nxt.x, iterations=iterations, converged=nxt.converged, stalled=nxt.stalled,
                         hit_time_limit=nxt.hit_time_limit, info=info, message=message)


def _step(who, out, seconds):
    """One entry of ``info["handovers"]``: a backend's run within a hand-over chain."""
    return {"solver": who, "iterations": int(out.iterations), "message": out.message, "seconds": float(seconds)}


def _runs(res, label=None, seconds=None):
    """The backends' runs behind result ``res``: its hand-over chain, or the one backend (``label``
    names it, ``seconds`` its wall time, default ``res.solve_time``)."""
    chain = res.info.get("handovers") if isinstance(res.info, dict) else None
    if chain:
        return list(chain)
    return [_step(label or res.solver, res, res.solve_time if seconds is None else seconds)]


def _retry(prob, first, tol, max_iter, x0, verbose, time_limit, t0):
    """``solver='auto'`` after an uncertified answer: :data:`AUTO_RETRIES`, the first certified wins.

    The runs that did not certify stay on record: ``info["retry_of"]`` of a certified retry lists the
    first attempt's (its hand-over chain), ``info["retries"]`` of an answer no retry could certify
    lists every retry's, each in the form of :func:`_step`.
    """
    tried = []
    for name, extra, largest in AUTO_RETRIES:
        check_cancelled()
        mod = backend(name)
        if ((name == first.solver and not extra) or (largest is not None and prob.n > largest)
                or mod is None or not mod.available() or mod.supports(prob)):
            continue
        remaining = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if remaining is not None and remaining <= 0:
            break
        began = time.perf_counter()
        out = _attempt(prob, name, mod, tol, max_iter, x0, verbose, remaining, extra)
        res = finalize(prob, name, out, tol, time.perf_counter() - t0)
        how = name + "".join(f", {k}={v}" for k, v in extra.items())
        if res.success:
            res.info["retry"] = f"{first.solver} did not certify ({first.status}); {how} did"
            res.info["retry_of"] = _runs(first)
            return res
        tried += _runs(res, label=how, seconds=time.perf_counter() - began)
    first.info["retry"] = f"{first.solver} did not certify ({first.status}); no retry did either"
    first.info["retries"] = tried
    first.solve_time = time.perf_counter() - t0
    return first


def finalize(prob, name, out, tol, elapsed):
    """Project the backend's ``x`` into the box, certify it and build the result."""
    x = np.asarray(out.x, dtype=np.float64).ravel()
    if x.shape != (prob.n,) or not np.isfinite(x).all():
        # A backend that returns garbage still yields a feasible, honest result.
        x = prob.start_point()
        out.failed = True
        out.message = (out.message + "; " if out.message else "") + "backend returned no finite x"
    x = prob.project(x)
    done = out.certified
    if (done is not None and done[1] == tol and done[2] is out.dual_shift and done[0].shape == x.shape
            and np.array_equal(done[0], x)):
        cert = done[3]  # the backend ran the same certificate on the same inputs
    else:
        cert = certificate(prob, x, tol, dual_shift=out.dual_shift)  # any shift gives a valid bound
    if cert.optimal:
        status = Status.OPTIMAL
    elif out.failed:
        status = Status.BACKEND_ERROR
    elif out.hit_time_limit:
        status = Status.TIME_LIMIT
    elif out.stalled:
        status = Status.STALLED
    elif out.converged:
        status = Status.NOT_CERTIFIED
    else:
        status = Status.MAX_ITER
    message = MESSAGES[status]
    if out.message:
        message += f" [{name}: {out.message}]"
    return SolveResult(
        x=x,
        objective=cert.objective,
        status=status,
        success=status == Status.OPTIMAL,
        message=message,
        iterations=int(out.iterations),
        solve_time=float(elapsed),
        kkt=cert,
        active=active_set(prob, x),
        solver=name,
        info=dict(out.info),
    )


def finalize_parts(prob, x, parts, tol, elapsed, *, label, message, info):
    """The result of an ``x`` stitched from independently solved parts (tiles) of ``prob``.

    Each part is a :class:`~qpsolve.SolveResult` of :func:`solve` (certified by
    :func:`finalize`); their certificates are combined
    (:func:`qpsolve.certificate.combine`), the status is the worst part's and
    ``message`` follows :data:`~qpsolve.result.MESSAGES` of that status when a
    part is not certified.  ``x`` must lie in ``prob``'s box already.
    """
    cert = combine([r.kkt for r in parts], tol)
    bad = [r.status for r in parts if not r.success]
    status = Status.OPTIMAL if not bad else max(bad)
    if bad:
        message = MESSAGES[status] + " " + message
    names = sorted({r.solver for r in parts})
    return SolveResult(x=x, objective=cert.objective, status=status, success=not bad, message=message,
                       iterations=sum(int(r.iterations) for r in parts), solve_time=elapsed, kkt=cert,
                       active=active_set(prob, x), solver=f"{label}(" + ",".join(names) + ")", info=info)
