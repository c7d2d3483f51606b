"""``gd-multigrid``: the paper's own scheme (section 4.3), kept faithfully as the reference.

Explicit projected gradient steps ``x <- clip(x - dt (P x + q), L, U)`` with
``dt = step_scale / lambda``, where ``lambda >= lambda_max(P)`` is the
Gershgorin bound (the largest absolute row sum), so any ``step_scale < 2`` is
stable and ``1`` decreases ``E`` monotonically.  Coarse to fine: while the
grid may be halved, the lower envelope is restricted by the minimum over
``2 x 2`` blocks, the upper by the maximum and the start image by the mean;
the coarse problem is rebuilt from ``prob.grid``; its solution is up-sampled
bicubically (``scipy.ndimage.zoom``, ``order=3``) and clipped to start the next
level.  Each level gets a fixed iteration budget.

Halving rule: the paper halves a 2-D image while its short edge is longer than
31 px and divisible by two; block reduction also needs the long edge even, so
a 2-D grid is halved while both edges are even and the short one exceeds 31.
Other dimensions halve every axis that is longer than 31 and even (a 3-D
``(x, y, t)`` volume with few frames is halved in ``x, y`` only); 1-D follows the
2-D rule.

This is the slow reference: on real images it does not converge in any
practical budget, and it says so (the registry's certificate decides).  A
linear term ``q`` is used on the finest level only (the coarse levels merely
supply a start point).
"""

from __future__ import annotations

import numbers
import time

import numpy as np

from ..validation import check_int_at_least
from ..linalg.threads import out_of_time
from ._base import BackendOutput, importable

NAME = "gd-multigrid"
MIN_EDGE = 31  # the paper: coarsen while the short edge is longer than 31 px


def available():
    return importable("scipy.ndimage")


def supports(prob):
    if prob.grid is None:
        return "needs a grid problem (from image_problem): the coarse levels are rebuilt from prob.grid"
    return None


def halved_axes(shape):
    """Axes the next coarser level halves (empty when the grid is coarse enough).

    Examples
    --------
    >>> halved_axes((64, 48)), halved_axes((64, 30)), halved_axes((64, 33))
    ((0, 1), (), ())
    >>> halved_axes((64, 64, 6)), halved_axes((62,))
    ((0, 1), (0,))
    """
    shape = tuple(shape)
    ok = tuple(k for k, n in enumerate(shape) if n > MIN_EDGE and n % 2 == 0)
    if len(shape) <= 2:
        return ok if len(ok) == len(shape) else ()
    return ok


def _block_view(a, shape, axes):
    """Reshape so every halved axis splits into (n/2, 2); returns the view and the pair axes."""
    new, pairs = [], []
    for k, n in enumerate(shape):
        if k in axes:
            new += [n // 2, 2]
            pairs.append(len(new) - 1)
        else:
            new.append(n)
    return a.reshape(new), tuple(pairs)


def restrict(lower, upper, image, shape, axes):
    """Min / max / mean over the blocks of the halved ``axes`` (arrays of ``shape``)."""
    out = []
    for arr, red in ((lower, np.min), (upper, np.max), (image, np.mean)):
        view, pairs = _block_view(arr, shape, axes)
        out.append(red(view, axis=pairs))
    return out


def _upsample(x, fine_shape, axes):
    from scipy.ndimage import zoom

    factors = [2.0 if k in axes else 1.0 for k in range(x.ndim)]
    # grid_mode=True treats samples as pixel areas, so the output is exactly 2n per halved axis.
    up = zoom(x, factors, order=3, mode="reflect", grid_mode=True)
    if up.shape != tuple(fine_shape):  # cannot happen with grid_mode, but never pass a wrong shape on
        raise RuntimeError(f"bicubic up-sampling gave {up.shape}, expected {fine_shape}")
    return up


def _gershgorin(P):
    return float(abs(P).sum(axis=1).max())


def _iterate(P, q, lo, hi, x, dt, budget, deadline, check):
    """Projected gradient steps; ``check(x)`` (every so often) may stop early."""
    done = 0
    every, test = check
    while done < budget:
        x = np.minimum(np.maximum(x - dt * (P @ x + q if q is not None else P @ x), lo), hi)
        done += 1
        if done % 20 == 0 and out_of_time(deadline):
            return x, done, "time"
        if every and done % every == 0 and test(x):
            return x, done, "converged"
    return x, done, "budget"


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, iterations_per_level=2000, step_scale=1.0,
          coarsen=True, check_every=100):
    """Run the paper's coarse-to-fine projected gradient scheme.

    Parameters
    ----------
    prob : BoxQP
        A grid problem.
    tol : float
        Certificate tolerance, used only by the optional early stop.
    max_iter : int or None
        Iteration budget of the finest level (default ``iterations_per_level``).
    x0 : ndarray or None
        The initial image (the paper's step 1); default the envelope centres
        (:meth:`BoxQP.start_point`).
    verbose : bool
        One line per level.
    time_limit : float or None
        Wall-clock limit over all levels.
    iterations_per_level : int
        Fixed budget of every coarse level (and of the finest by default).
    step_scale : float
        ``dt = step_scale / lambda`` with ``lambda`` the Gershgorin bound of
        ``lambda_max``; must lie in ``(0, 2)``.
    coarsen : bool
        ``False`` runs the finest level only.
    check_every : int
        On the finest level, stop once the certificate holds (tested every
        ``check_every`` steps); ``0`` keeps the paper's pure fixed budget.
    """
    from ..certificate import certificate
    from ..problem import BoxQP

    per_level = check_int_at_least(iterations_per_level, "iterations_per_level", 1)
    check_every = check_int_at_least(check_every, "check_every", 0)
    if isinstance(step_scale, bool) or not isinstance(step_scale, numbers.Real) or not 0 < step_scale < 2:
        raise ValueError(f"step_scale must lie in (0, 2) for a stable explicit step, got {step_scale!r}")
    if not isinstance(coarsen, (bool, np.bool_)):
        raise TypeError(f"coarsen must be a bool, got {type(coarsen).__name__}")
    fine_budget = per_level if max_iter is None else int(max_iter)

    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + float(time_limit)
    grid = prob.grid
    shape = tuple(grid.shape)
    start = prob.start_point() if x0 is None else np.asarray(x0, dtype=np.float64)

    # Pyramid of (shape, lower, upper, image, axes halved to reach the next coarser level).
    levels = [(shape, prob.lower.reshape(shape), prob.upper.reshape(shape), start.reshape(shape))]
    axes_list = []
    while coarsen:
        axes = halved_axes(levels[-1][0])
        if not axes:
            break
        s, lo, hi, img = levels[-1]
        lo, hi, img = restrict(lo, hi, img, s, axes)
        levels.append((lo.shape, lo, hi, img))
        axes_list.append(axes)

    history = []
    x = None
    stop = "budget"
    for depth in range(len(levels) - 1, -1, -1):
        s, lo, hi, img = levels[depth]
        lo, hi = lo.ravel(), hi.ravel()
        if x is None:
            x = img.ravel()
        else:
            x = _upsample(x.reshape(levels[depth + 1][0]), s, axes_list[depth]).ravel()
        x = np.minimum(np.maximum(x, lo), hi)
        finest = depth == 0
        P = prob.P if finest else grid.matrix(s)
        q = prob.q if finest and np.any(prob.q != 0) else None
        lam = _gershgorin(P)
        dt = step_scale / lam if lam > 0 else 1.0
        if finest and check_every:
            check = (check_every, lambda z: certificate(prob, z, tol).optimal)
        else:
            check = (0, None)
        budget = fine_budget if finest else per_level
        x, done, stop = _iterate(P, q, lo, hi, x, dt, budget, deadline, check)
        history.append({"shape": s, "iterations": done, "dt": dt, "lambda_bound": lam, "stop": stop})
        if verbose:
            E = BoxQP(P, lo, hi, q).objective(x) if not finest else prob.objective(x)
            print(f"[gd-multigrid] level {s}: {done} steps (dt {dt:.3g}), E = {E:.10g}, stop: {stop}")
        if stop == "time":
            if not finest:  # still hand back a fine-grid point: up-sample what we have
                for d in range(depth - 1, -1, -1):
                    x = _upsample(x.reshape(levels[d + 1][0]), levels[d][0], axes_list[d]).ravel()
                x = prob.project(x)
            break

    fine_iters = history[-1]["iterations"] if history[-1]["shape"] == shape else 0
    msgs = {"budget": f"fixed budget of {history[-1]['iterations']} steps spent on the finest level",
            "converged": "certificate met on the finest level",
            "time": "time limit reached"}
    return BackendOutput(
        x=x,
        iterations=fine_iters,
        converged=stop == "converged",
        message=f"{msgs[stop]} ({len(history)} of {len(levels)} level(s) run)",
        hit_time_limit=stop == "time",
        info={"levels": history, "total_steps": int(sum(h["iterations"] for h in history)),
              "backend_time": time.perf_counter() - t0},
    )
