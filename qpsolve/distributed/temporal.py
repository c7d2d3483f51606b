"""One plane of a temporal chunk: the ``(t, y, x)`` QP, its certified solve, the per-frame blend.

The QP of a ``(T, h, w)`` block of quantized samples is

    ``min 1/2 f^T P f  s.t.  L <= f <= U``

with ``L, U`` each frame's quantizer envelopes (exactly those of a 2-D
:func:`qpsolve.dequantize` of the frame) and ``P``
:func:`qpsolve.model.temporal.temporal_energy`: each frame's own 2-D plate
plus ``temporal_weight`` times the temporal second difference (``odd`` rule:
linear change in time is free) on the pixels where the content is continuous
in time (:func:`~qpsolve.model.temporal.temporal_continuity`, neighbouring
frames at most ``temporal_jump`` levels apart).  Solved by ``spacetime``
(projected Newton preconditioned by the chunk's exact separable inverse;
``pcg`` with AMG when the rule in space is not ``even``) from the frames' 2-D
answers and certified by the shared certificate.

With ``adaptive`` (the default, mode ``blend``) the returned block is
``c + w (x - c)`` with ``x`` that certified solution, ``c`` the bin centres
and ``w`` each frame's 2-D :func:`qpsolve.imaging.photo.blend_weights` (the
same weights a frame-by-frame :func:`qpsolve.dequantize` applies,
:func:`frame_blend_weights`), opened towards the plate where the frames'
plates drift in step (:mod:`qpsolve.distributed.temporal_blend`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["TEMPORAL_OPTIONS", "spacetime_fits", "start_contacts", "default_solver", "frame_envelopes", "frame_blend_weights", "solve_temporal_block", "blend"]

#: options of a temporal chunk's QP that :func:`qpsolve.dequantize` does not know
TEMPORAL_OPTIONS = ("temporal_weight", "temporal_jump")
#: options that shape the envelopes and the frames' plates (the rest go to :func:`qpsolve.solve`)
_MODEL_KEYS = ("model", "bc", "rounding", "alpha", "beta", "adaptive", "outliers") + TEMPORAL_OPTIONS
_BLEND_KEYS = ("reach", "far_reach", "open_reach", "open_near", "open_far", "floor", "texture", "window")


def frame_envelopes(block, step, crange, options):
    """``(lower, upper)`` of a ``(T, h, w)`` block: each frame's 2-D quantizer envelopes, stacked."""
    from ..imaging.bounds import image_envelopes

    los, his = [], []
    for f in np.asarray(block):
        lo, hi, _, _ = image_envelopes(f, None, options.get("model", "biharmonic"), options.get("bc", "even"), None,
                                       rounding=options.get("rounding", "floor"), step=step, levels=None, lower=None,
                                       upper=None, confidence=None, data_range=crange,
                                       alpha=options.get("alpha", 1.0), beta=options.get("beta", 1.0))
        los.append(lo)
        his.append(hi)
    return np.stack(los), np.stack(his)


def _blend_options(adaptive):
    from ..imaging.photo import ADAPTIVE_DEFAULTS

    if adaptive is None or adaptive is False:
        return None
    opts = dict(ADAPTIVE_DEFAULTS)
    if isinstance(adaptive, dict):
        extra = set(adaptive) - set(_BLEND_KEYS)
        if extra:
            raise ValueError(f"adaptive: a temporal video takes only the blend options {list(_BLEND_KEYS)}, "
                             f"got {sorted(extra)}")
        opts.update(adaptive)
    elif adaptive is not True:
        raise ValueError(f"adaptive must be True, False or a dict of blend options, got {adaptive!r}")
    return opts


def frame_blend_weights(lower, upper, adaptive=True):
    """Each frame's 2-D blend weights (``None`` without ``adaptive``), as a 2-D ``dequantize`` computes them."""
    from ..imaging.photo import blend_weights, textured

    opts = _blend_options(adaptive)
    if opts is None:
        return None
    out = []
    for lo, hi in zip(lower, upper):
        tex = textured(lo, hi, opts["window"])
        out.append(blend_weights(lo, hi, textured_mask=tex, **{k: opts[k] for k in _BLEND_KEYS}))
    return np.stack(out)


def blend(x, lower, upper, weights):
    """``c + w (x - c)`` clipped to ``[lower, upper]`` (only rounding is clipped: a convex combination)."""
    if weights is None:
        return x
    finite = np.isfinite(lower) & np.isfinite(upper)
    c = np.where(finite, 0.5 * (np.where(finite, lower, 0.0) + np.where(finite, upper, 0.0)), x)
    out = c + weights * (x - c)
    return np.where(finite, np.clip(out, np.where(finite, lower, out), np.where(finite, upper, out)), x)


def spacetime_fits(options):
    """Whether the ``spacetime`` backend's separable inverse describes a chunk with these options.

    It needs the ``even`` rule in space (a DCT per frame) and one of its
    frame models; otherwise a chunk goes to ``pcg`` (:func:`default_solver`).
    """
    from ..linalg.spacetime import MODELS

    return options.get("bc", "even") == "even" and options.get("model", "biharmonic") in MODELS


def start_contacts(x0, lower, upper):
    """How many values of a start ``x0`` lie on their bounds: the binding set ``spacetime`` expects."""
    if x0 is None:
        return None
    x0 = np.ravel(x0)
    return int(np.count_nonzero((x0 <= np.ravel(lower)) | (x0 >= np.ravel(upper))))


def default_solver(lower, upper, x0, options, P=None):
    """The backend of a block's temporal QP when ``options`` names none.

    ``spacetime`` when its separable inverse fits (:func:`spacetime_fits`)
    and the start touches its bounds at most
    :data:`~qpsolve.solvers.spacetime.MAX_HELD` times (its dense Schur
    complement stays small), or when the start is already optimal for the
    block's energy ``P`` (the shared certificate, at the options' ``tol``):
    ``spacetime`` returns such a start at its first check, where ``pcg``
    would first build its multigrid hierarchy (a flat chroma plane on the
    edge between two bins touches its bounds everywhere: 1 GB and 35-49 s
    per 480p chunk, benchmarks/results/distributed/merged-session5/
    temporal-peak-memory.md).  ``pcg`` with AMG otherwise (textured frames:
    dense contacts, where ``spacetime`` would fall back to a weak
    preconditioner).

    Examples
    --------
    >>> lo = np.zeros((3, 4, 5))
    >>> default_solver(lo, lo + 1, None, {}), default_solver(lo, lo + 1, None, {"bc": "odd"})
    ('spacetime', 'pcg')
    """
    from ..solvers.spacetime import MAX_HELD

    if not spacetime_fits(options):
        return "pcg"
    n = start_contacts(x0, lower, upper)
    if n is None or n <= MAX_HELD:
        return "spacetime"
    if P is not None:
        from ..certificate import DEFAULT_TOL, certificate
        from ..problem import BoxQP

        if certificate(BoxQP(P, lower, upper), np.ravel(x0), options.get("tol", DEFAULT_TOL)).optimal:
            return "spacetime"
    return "pcg"


def solve_temporal_block(lower, upper, options, x0=None):
    """Certified solution of a block's temporal QP (see the module docstring): a :class:`~qpsolve.SolveResult`.

    ``lower``, ``upper`` are ``(T, h, w)`` envelopes; ``options`` the chunk's
    options (model, boundary rule, ``temporal_weight``, ``temporal_jump``,
    and the solver's: ``solver``, ``tol``, ``preconditioner``, ...).

    Examples
    --------
    >>> lo = np.zeros((3, 4, 5)); lo[1:, :, 3:] = 32.0
    >>> res = solve_temporal_block(lo, lo + 32, {})
    >>> res.solver, res.success, bool(np.all((res.x >= lo.ravel()) & (res.x <= lo.ravel() + 32)))
    ('spacetime', True, True)
    >>> ref = solve_temporal_block(lo, lo + 32, {"solver": "pcg"})
    >>> ref.solver, bool(abs(ref.objective - res.objective) < 1e-6)
    ('pcg', True)
    """
    from ..linalg.spacetime import MODELS, SpaceTimeGrid
    from ..model.temporal import TEMPORAL_JUMP, TEMPORAL_WEIGHT, temporal_continuity, temporal_energy
    from ..problem import BoxQP
    from ..solvers import solve
    from ..solvers.spacetime import SpaceTimeQP

    lower, upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    keep = temporal_continuity(lower, upper, options.get("temporal_jump", TEMPORAL_JUMP))
    P = temporal_energy(lower.shape, options.get("model", "biharmonic"), options.get("bc", "even"),
                        weight=options.get("temporal_weight", TEMPORAL_WEIGHT), keep=keep,
                        alpha=options.get("alpha", 1.0), beta=options.get("beta", 1.0))
    solver_opts = {k: v for k, v in options.items() if k not in _MODEL_KEYS}
    model, weight = options.get("model", "biharmonic"), options.get("temporal_weight", TEMPORAL_WEIGHT)
    x0 = None if x0 is None else np.ravel(x0)
    solver = solver_opts.pop("solver", None)
    if solver is None:
        # options only pcg takes (``preconditioner=``, ...) name it: they were written for it
        backend_keys = set(solver_opts) - {"tol", "max_iter", "time_limit", "verbose", "cg_maxiter"}
        solver = "pcg" if backend_keys else default_solver(lower, upper, x0, options, P)
    if solver == "spacetime" and not spacetime_fits(options):
        raise ValueError(f"solver 'spacetime' needs bc='even' and a model in {list(MODELS)}; got bc="
                         f"{options.get('bc', 'even')!r}, model={model!r} (leave solver unset for pcg)")
    if solver == "spacetime":
        grid = SpaceTimeGrid(lower.shape, model, weight, options.get("alpha", 1.0), options.get("beta", 1.0))
        res = solve(SpaceTimeQP(P, lower, upper, spacetime=grid), solver=solver, x0=x0, **solver_opts)
    else:
        if solver == "pcg":
            solver_opts.setdefault("preconditioner", "amg")
        # constants and the three ramps are what the energy barely sees: given to pcg's multigrid they
        # cut its CG iterations (294 to 112 on an 8x96x160 chunk)
        grids = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in lower.shape], indexing="ij")
        nns = np.stack([np.ones(lower.size)] + [g.ravel() for g in grids], axis=1)
        res = solve(BoxQP(P, lower, upper, near_null_space=nns), solver=solver, x0=x0, **solver_opts)
    res.info["temporal"] = {"weight": options.get("temporal_weight", TEMPORAL_WEIGHT),
                            "continuous": float(keep[1:-1].mean()) if keep.shape[0] > 2 else 0.0}
    return res
