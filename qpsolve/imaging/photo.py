"""Real photographs: adaptive masks, outliers and dither, decorrelated colour, tiles.

:func:`qpsolve.dequantize` hands over to :func:`dequantize_photo` when any of
``adaptive`` (the default), ``outliers``, ``color_space='decorrelated'`` or
``tile`` is asked for; only ``adaptive=False`` without the others is the
paper's plain path.  The pipeline, per channel:

1. the quantizer's envelopes, exactly as :func:`qpsolve.image_problem` builds
   them (bits/step/levels/explicit bounds, confidence, gain, mask);
2. ``outliers``: impulses masked or replaced, dithered areas relaxed
   (:mod:`qpsolve.model.noise`);
3. ``adaptive``: pixels next to a jump of more than one level pinned to their
   bin midpoint, grown by ``dilate`` pixels, optionally the envelopes of the
   smooth pixels narrowed about their centre by ``shrink``
   (:mod:`qpsolve.model.masks`);
4. the QP: per channel, or jointly with a decorrelated colour energy;
   directly or in overlapping tiles (:mod:`qpsolve.imaging.tiles`).

Every envelope is a box in the *stored* channels, so the returned image lies
inside the (modified) envelopes of the stored channels whatever the colour
space.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..model.envelopes import apply_confidence, container_range
from ..model.masks import ADAPTIVE_MODES, adaptive_envelopes
from ..model.noise import OUTLIER_MODES, treat_outliers
from ..problem import BoxQP
from ..solvers import solve
from ..validation import check_at_least, check_choice, check_positive
from .bounds import image_envelopes, restore, split_channels
from .tiles import GridBounds, solve_tiled

__all__ = ["COLOR_SPACES", "ADAPTIVE_DEFAULTS", "PhotoReport", "dequantize_photo", "color_energy"]

COLOR_SPACES = ("rgb", "decorrelated")

#: parameters of ``adaptive=True`` (measured on scikit-image photographs,
#: see ``examples/photo_benchmark.py``): textured pixels pinned to the bin
#: midpoint and grown by one pixel.  ``shrink`` (> 1 narrows the smooth
#: envelopes about their centre) helped on 64-96 px downscales but is
#: harmful on full-resolution smooth skies, where the truth sits on a level
#: boundary and narrowed envelopes no longer touch (figures in
#: ``benchmarks/results/design_notes.md``); so it is off by default.
ADAPTIVE_DEFAULTS = {"mode": "pin", "dilate": 1, "shrink": 1.0}


@dataclass
class PhotoReport:
    """What the photo pipeline did to one channel (``result.info['photo']``)."""

    textured: int = 0
    outliers: object = None
    tiles: int = 0
    retried: int = 0
    notes: list = field(default_factory=list)

    def __str__(self):
        parts = [f"{self.textured} textured pixel(s) pinned"]
        if self.outliers is not None:
            parts.append(str(self.outliers))
        if self.tiles:
            parts.append(f"{self.tiles} tile(s)" + (f", {self.retried} re-solved" if self.retried else ""))
        return "; ".join(parts + self.notes)


def _adaptive_options(adaptive):
    if adaptive is True:
        return dict(ADAPTIVE_DEFAULTS)
    if isinstance(adaptive, dict):
        unknown = set(adaptive) - set(ADAPTIVE_DEFAULTS)
        if unknown:
            raise ValueError(f"adaptive has unknown key(s) {sorted(unknown)}; allowed {sorted(ADAPTIVE_DEFAULTS)}")
        opts = dict(ADAPTIVE_DEFAULTS, **adaptive)
        check_choice(opts["mode"], ADAPTIVE_MODES, "adaptive['mode']")
        check_at_least(opts["shrink"], "adaptive['shrink']", 1)
        return opts
    raise TypeError(f"adaptive must be True, False or a dict of options, got {adaptive!r}")


def color_energy(P, n_channels=3, chroma_weight=4.0):
    """Joint colour energy ``kron(M, P)`` with ``M = T^T diag(1, w, w) T``.

    ``T`` is the orthonormal opponent transform (luma ``(R+G+B)/sqrt 3`` and
    two chroma axes).  With ``w = 1`` it is ``kron(I, P)``: the per-channel
    problem (the energy of an orthonormal colour transform is the same).
    With ``w > 1`` bending of the chroma costs ``w`` times more: colour
    edges follow luma edges.  ``M = w I + (1 - w)/3 11^T`` is positive
    definite for ``w > 0``, so the joint matrix is PSD.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> P = sp.identity(2, format="csr")
    >>> float(color_energy(P, 3, 1.0).toarray().trace())
    6.0
    """
    check_positive(chroma_weight, "chroma_weight")
    c = int(n_channels)
    w = float(chroma_weight)
    M = w * np.eye(c) + (1.0 - w) / c * np.ones((c, c))
    return sp.kron(sp.csr_matrix(M), P, format="csr")


def _level_step(lo, hi, mask):
    width = hi - lo
    sel = np.isfinite(width) & (width > 0)
    if mask is not None:
        sel &= mask
    if not sel.any():
        return None
    return float(np.median(width[sel]))


def _channel_problem(image, bits, model, bc, mask, kw, adaptive, outliers):
    """Envelopes of one channel after outliers and adaptive.

    Returns ``(bounds, ctx, report, (free, mid))``: a :class:`~qpsolve.imaging.tiles.GridBounds`
    (no operator assembled yet), the context, the :class:`PhotoReport` and what
    :func:`~qpsolve.imaging.bounds.restore` puts back at freed pixels.
    """
    lo, hi, grid, ctx = image_envelopes(image, bits, model, bc, mask, **kw)
    shape = ctx.shape
    mid = 0.5 * (lo + hi)  # the quantizer's bin centres
    rep = PhotoReport()
    step = _level_step(lo, hi, ctx.mask)
    drange = kw.get("data_range") or container_range(np.asarray(image).dtype)
    gain = ctx.gain
    if drange is not None and gain is not None:
        drange = (drange[0] / float(np.min(gain)), drange[1] / float(np.min(gain)))
    touched = np.zeros(shape, dtype=bool)
    if outliers is not None:
        if step is None:
            raise ValueError("outliers needs envelopes of positive width (a quantization step)")
        values = ctx.values if gain is None else ctx.values / gain
        lo2, hi2, nrep = treat_outliers(values, lo, hi, step, outliers, data_range=drange)
        touched = (lo2 != lo) | (hi2 != hi)
        lo, hi = lo2, hi2
        rep.outliers = nrep
    if adaptive:
        opts = _adaptive_options(adaptive)
        keep = ctx.mask if ctx.mask is not None else np.ones(shape, dtype=bool)
        lo2, hi2, smooth = adaptive_envelopes(lo, hi, mode=opts["mode"], dilate=opts["dilate"],
                                              data_range=drange)
        smooth |= ~keep  # outside the user's mask nothing is pinned
        lo = np.where(smooth, lo, lo2)
        hi = np.where(smooth, hi, hi2)
        rep.textured = int((~smooth).sum())
        if opts["shrink"] != 1:
            shrink_here = smooth & keep & ~touched
            lo, hi = apply_confidence(lo, hi, np.where(shrink_here, opts["shrink"], 1.0), drange)
        if opts["mode"] == "free":
            rep.notes.append("textured pixels freed and given their bin midpoint")
            ctx_free = ~smooth
        else:
            ctx_free = None
    else:
        ctx_free = None
    return GridBounds(lo, hi, grid), ctx, rep, (ctx_free, mid if ctx_free is not None else None)


def _solve_prob(bounds, shape, solver, tol, max_iter, verbose, options, tile, progress, rep):
    if tile is None:
        res = solve(bounds.problem(), solver=solver, tol=tol, max_iter=max_iter, verbose=verbose, **options)
    else:
        res = solve_tiled(bounds, shape, tile=tile, solver=solver, tol=tol, max_iter=max_iter,
                          verbose=verbose, progress=progress, **options)
        rep.tiles = res.info["tiles"]
        rep.retried = res.info["tiles_retried"]
    res.info["photo"] = rep
    return res


def dequantize_photo(image, bits, model, bc, mask, solver, kw, *, channel_axis=None, tol, max_iter,
                     verbose, return_result, options, adaptive=False, outliers=None, color_space="rgb",
                     chroma_weight=4.0, tile=None, progress=False):
    """The photo pipeline behind :func:`qpsolve.dequantize` (see the module docstring).

    Arguments are those of :func:`qpsolve.dequantize`; ``kw`` holds the
    envelope keywords it collected.  Each result's ``info['photo']`` is a
    :class:`PhotoReport`.

    Examples
    --------
    >>> import numpy as np
    >>> import qpsolve as qs
    >>> x = np.linspace(0, 1, 24)
    >>> img = ((np.outer(x, x) * 255).astype(np.uint8) >> 5) << 5
    >>> img[:, 18:] = 224                                # an object edge
    >>> out, res = qs.dequantize(img, bits=3, adaptive=True, return_result=True)
    >>> res.success, bool(np.all((out >= img) & (out <= img.astype(float) + 32)))
    (True, True)
    """
    check_choice(outliers, OUTLIER_MODES, "outliers", allow_none=True)
    check_choice(color_space, COLOR_SPACES, "color_space")
    if adaptive is not False and adaptive is not None:
        _adaptive_options(adaptive)
    arr = np.asarray(image)
    if channel_axis is None:
        if color_space != "rgb":
            raise ValueError("color_space='decorrelated' needs channel_axis (a colour image)")
        prob, ctx, rep, extra = _channel_problem(arr, bits, model, bc, mask, kw, adaptive, outliers)
        res = _solve_prob(prob, ctx.shape, solver, tol, max_iter, verbose, options, tile, progress, rep)
        out = restore(res.x, ctx, *extra)
        return (out, res) if return_result else out

    axis, planes = split_channels(arr, channel_axis, kw)
    built = [_channel_problem(plane, bits, model, bc, mask, ckw, adaptive, outliers) for plane, ckw in planes]

    if color_space == "rgb":
        outs, results = [], []
        for prob, ctx, rep, extra in built:
            res = _solve_prob(prob, ctx.shape, solver, tol, max_iter, verbose, options, tile, progress, rep)
            outs.append(restore(res.x, ctx, *extra))
            results.append(res)
    else:
        nc = len(built)
        if nc != 3:
            raise ValueError(f"color_space='decorrelated' needs 3 colour channels, got {nc} "
                             f"(split an alpha channel off first: qpsolve.imaging.io.split_alpha)")
        if tile is not None:
            raise ValueError("color_space='decorrelated' cannot be combined with tile yet; use color_space='rgb'")
        P = color_energy(built[0][0].grid.matrix(), nc, chroma_weight)
        lo = np.concatenate([b[0].lower for b in built])
        hi = np.concatenate([b[0].upper for b in built])
        joint = BoxQP(P, lo, hi)
        res = solve(joint, solver=solver, tol=tol, max_iter=max_iter, verbose=verbose, **options)
        n = built[0][0].n
        outs, results = [], []
        for c, (prob, ctx, rep, extra) in enumerate(built):
            outs.append(restore(res.x[c * n:(c + 1) * n], ctx, *extra))
            results.append(res)
        res.info["photo"] = [b[2] for b in built]
        res.info["color_space"] = f"decorrelated (chroma_weight={chroma_weight:g}, one joint QP)"
    out = np.moveaxis(np.stack(outs), 0, axis)
    return (out, results) if return_result else out
