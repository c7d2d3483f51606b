"""From a quantized image to a BoxQP and back: ``image_problem`` and ``dequantize``."""

from __future__ import annotations

import warnings

import numpy as np

from ..certificate import DEFAULT_TOL
from ..problem import BoxQP
from ..solvers import solve
from ..validation import check_calibration, check_positive_int
from . import channels as _channels
from .bounds import image_envelopes, restore, split_channels
from .photo import dequantize_photo
from .progress import solve_with_bar

__all__ = ["image_problem", "dequantize"]


def _build(image, bits, model, bc, mask, **kw):
    """The BoxQP of one channel and its context (see :func:`~qpsolve.imaging.bounds.image_envelopes`)."""
    lo, hi, grid, ctx = image_envelopes(image, bits, model, bc, mask, **kw)
    return BoxQP(grid.energy(), lo.ravel(), hi.ravel(), grid=grid), ctx.for_restore()


def image_problem(image, bits=None, model="biharmonic", bc="odd", mask=None, *, rounding="floor",
                  step=None, levels=None, lower=None, upper=None, confidence=None, data_range=None,
                  alpha=1.0, beta=1.0, gain=None):
    """Build the de-quantization QP of a grayscale image (or 1-D signal, or 3-D volume).

    Parameters
    ----------
    image : ndarray, 1-D to 3-D
        Quantized samples in their stored units.
    bits : int, optional
        Bit depth of the quantized data.  In an unsigned-integer container of
        ``c`` bits the levels are multiples of ``2**(c - bits)`` (a 3-bit image
        in a uint8 holds 0, 32, ..., 224); any other dtype holds level indices
        ``0 .. 2**bits - 1``.
    model : {'laplace', 'biharmonic', 'triharmonic', 'thin-plate', 'mixed'}
        Smoothness energy (see :func:`qpsolve.model.operators.energy_matrix`).
    bc : {'odd', 'even', 'periodic'}
        Boundary rule.
    mask : ndarray of bool, optional
        ``True`` where the envelope holds.  Outside, the bounds become the
        dynamic range, so the plate passes freely under foreground objects.
    rounding : {'floor', 'round', 'ceil'}
        Quantizer that made the data (``floor`` = truncation / right shift).
    step : float, optional
        Level spacing in image units (instead of ``bits``).
    levels : array_like, optional
        Non-uniform table of quantization levels (instead of ``bits``).
    lower, upper : ndarray, optional
        Explicit envelopes (instead of a quantization model).
    confidence : float or ndarray, optional
        Per-pixel confidence: envelopes are scaled about their centre by
        ``1 / confidence`` (``inf`` pins a pixel, ``0`` frees it).
    data_range : (float, float), optional
        Dynamic range; default ``(0, 2**c - 1)`` for unsigned containers.
    alpha, beta : float
        Weights of ``mixed`` (stretching and bending).
    gain : float or ndarray, optional
        Illumination degradation ``h`` of ``y = h * x`` (finite, ``> 0``; see
        :func:`qpsolve.model.degradation.gain_map`, which also builds
        ``h = w * m + (1 - m)`` from a shadow mask).  The image is brightened:
        the envelopes (after ``confidence``, before ``mask``) are divided by
        ``h``, and the dynamic range becomes ``data_range / min(h)`` -- the
        largest range any brightened pixel can reach, so nothing is clipped.
        ``gain=1`` is plain de-quantization.

    Returns
    -------
    BoxQP
        With ``grid`` set; the variables are the pixels in C order.

    Examples
    --------
    >>> import numpy as np
    >>> import qpsolve as qs
    >>> img = (np.linspace(0, 255, 32)[None, :].repeat(8, 0).astype(np.uint8) >> 6) << 6
    >>> prob = qs.image_problem(img, bits=2)
    >>> prob.n, float(prob.lower.min()), float(prob.upper.max())
    (256, 0.0, 255.0)
    """
    prob, _ = _build(image, bits, model, bc, mask, rounding=rounding, step=step, levels=levels,
                     lower=lower, upper=upper, confidence=confidence, data_range=data_range,
                     alpha=alpha, beta=beta, gain=gain)
    return prob


def _solve_single(image, bits, model, bc, mask, solver, tol, max_iter, verbose, options, kw, progress=False,
                  label="image"):
    prob, ctx = _build(image, bits, model, bc, mask, **kw)
    res = solve_with_bar(progress, label, lambda: solve(prob, solver=solver, tol=tol, max_iter=max_iter,
                                                         verbose=verbose, **options))
    return restore(res.x, ctx), res


def _calibrate_channel(image, out, bits, bc, mask, kw, power, margin):
    """Step 2 of ``adaptive``: :func:`~qpsolve.model.masks.calibrated_blend` on one channel.

    The quantizer's envelopes are rebuilt (no operator: only the bounds are
    used); pixels pinned by step 1 sit on their bin centre and are not
    measured; masked pixels are left out.  Returns the blended channel and
    ``{'rho', 'weight', 'power', 'margin'}``.
    """
    from ..model.masks import calibrated_blend

    lo, hi, _, ctx = image_envelopes(image, bits, "laplace", bc, mask, **kw)
    select = np.abs(out - 0.5 * (lo + hi)) > 1e-9 * np.maximum(1.0, np.abs(hi))  # not pinned
    if ctx.mask is not None:
        select &= ctx.mask
    blended, weight, rho = calibrated_blend(out, lo, hi, select=select, power=power, margin=margin)
    return blended, {"rho": rho, "weight": weight, "power": power, "margin": margin}


def _calibration_options(adaptive):
    """Split ``adaptive`` into (the photo pipeline's value, ``(power, margin)`` or ``None``)."""
    from ..model.masks import CALIBRATION_MARGIN, CALIBRATION_POWER

    if adaptive is None or adaptive is False:
        return False, None
    if adaptive is True:
        return True, None  # the default returns the certified solution as it is (issue #19)
    if not isinstance(adaptive, dict):
        raise TypeError(f"adaptive must be True, False or a dict of options, got {adaptive!r}")
    # calibration keys are handled here; the rest goes to the photo pipeline
    rest = dict(adaptive)
    calibrate = rest.pop("calibrate", False)
    power = rest.pop("power", CALIBRATION_POWER)
    margin = rest.pop("margin", CALIBRATION_MARGIN)
    if not isinstance(calibrate, bool):
        raise TypeError(f"adaptive['calibrate'] must be True or False, got {calibrate!r}")
    calib = check_calibration(power, margin, label=lambda key: f"adaptive[{key!r}]")
    return rest or True, (calib if calibrate else None)


def dequantize(image, bits=None, model="biharmonic", bc="odd", mask=None, solver="auto", *,
               rounding="floor", step=None, levels=None, lower=None, upper=None, confidence=None,
               data_range=None, alpha=1.0, beta=1.0, gain=None, channel_axis=None, tol=DEFAULT_TOL,
               max_iter=None, verbose=False, return_result=False, adaptive=True, outliers=None,
               color_space="rgb", chroma_weight=4.0, tile=None, progress=False, channel_jobs=None, **options):
    """Recover a smooth signal from a quantized image by the plate-bending model.

    Solves ``min 1/2 f^T P f  s.t.  L <= f <= U`` exactly (see
    :func:`image_problem` for the envelope arguments) and returns ``f`` in the
    image's own units; pixels outside ``mask`` keep their input values.

    By default the model is content-adaptive (``adaptive=True``, paper
    section 6.3, see below), which is what photographs need; ``adaptive=False``
    is the paper's plain plate (what Table 1 and the figures use).  Either way
    one stated QP per channel is solved and certified (``result.x``,
    ``result.kkt``): the paper's plate on the quantizer's envelopes.  With
    ``adaptive`` the image returned is that solution blended pixel by pixel
    with the bin centres, ``c + w (x - c)`` (``result.info['blend']``).

    Parameters
    ----------
    image : ndarray
        Quantized image (1-D to 3-D, plus a channel axis if ``channel_axis``).
    bits, model, bc, mask, rounding, step, levels, lower, upper, confidence, data_range, alpha, beta
        As in :func:`image_problem`.
    gain : float or ndarray, optional
        Degradation ``h`` of ``y = h * x`` (see :func:`image_problem`): the
        result is the brightened image, in the input's units times ``1 / h``;
        pixels outside ``mask`` come back as ``y / h``.  With ``channel_axis``
        an array with the image's ``ndim`` is split per channel.
    solver : str
        Backend name (see :func:`qpsolve.available_solvers`) or ``"auto"``.
    channel_axis : int, optional
        Axis of colour channels, each solved as its own QP (as in scikit-image).
    channel_jobs : int, optional
        How many channels are solved at once, each on its own thread.  The
        default (``None``) runs as many as finish soonest on the cores the
        process may use (all three of an RGB image on two cores) when the
        channels are small enough for the memory and the solve is not tiled
        (:func:`qpsolve.imaging.channels.channel_jobs`), else one; ``1`` solves
        them one after another.  The answers are the same either way (bit for
        bit where BLAS's thread count does not change a factorisation's
        rounding; each is certified).  With ``verbose`` and a count above 1,
        each channel's lines are prefixed ``[channel c]``.  An interrupt
        (Ctrl-C) stops the channels still running at their solvers' next
        iteration.
    tol, max_iter, verbose, **options
        Passed to :func:`qpsolve.solve`.
    adaptive : bool or dict, optional
        Content-adaptive (issue #19): the plate where the data say where the
        picture is, the bin centres where they do not.  The weight ``w`` of
        the plate is 1 on a level transition (where the quantized picture
        changes level: false contours, crossed smoothly by the plate) and
        falls with the distance to it, slowly near clean contours (a smooth
        picture: the plate interpolates) and near any contour (of 64
        transition pixels or more) in an open area (far from texture: a sky
        whose contours noise frays), fast near
        contours frayed by texture, to 0.2 deep inside wide levels and on textured pixels
        (:func:`qpsolve.imaging.photo.textured`: more than two adjacent levels
        in a 9-pixel window, off their plane): see
        :func:`qpsolve.imaging.photo.blend_weights`.  A convex blend of two
        points of the envelopes stays inside them.  The report is in
        ``result.info['photo']`` and ``result.info['blend']``.

        A dict overrides the options of
        :data:`qpsolve.imaging.photo.ADAPTIVE_DEFAULTS` (``reach``, ``far_reach``,
        ``open_reach``, ``open_near``, ``open_far``, ``floor``, ``texture`` of the blend; ``window``, ``dilate`` of the
        textured test, ``window=2`` being the older neighbour test; ``mode``:
        ``'pin'`` pins the textured pixels to their bin centres and returns
        that QP's certified solution itself, the default before issue #19's
        blend; ``shrink``) and takes three more keys:
        ``calibrate`` (bool, default ``False``; ``True`` shrinks the whole
        solution towards the bin centres by one weight from its calibration
        ratio, :func:`qpsolve.model.masks.calibrated_blend`, and reports
        ``result.info['adaptive']``; the result is then that blend of the
        certified QP, no longer a minimizer), ``power`` and ``margin`` (of
        the calibration).  ``False`` (or ``None``) is the paper's model.

        What it does to other inputs: 1-D signals and 3-D volumes use the
        same tests along every axis; with ``mask`` only pixels
        inside it are blended; with ``gain`` (brightening), ``levels`` or
        explicit ``lower``/``upper`` the test works on those envelopes;
        every ``model`` and ``tile`` work unchanged.
    outliers : {None, 'mask', 'replace'}, optional
        Impulse and dither handling (paper section 6.1, see
        :mod:`qpsolve.model.noise`); the report is in
        ``result.info['photo'].outliers``.
    color_space : {'rgb', 'decorrelated'}, optional
        ``decorrelated`` solves the channels jointly with chroma bending
        weighted ``chroma_weight`` times luma bending; envelopes stay boxes
        in the stored channels (see :func:`qpsolve.imaging.photo.color_energy`).
    chroma_weight : float, optional
        Weight of chroma bending for ``color_space='decorrelated'``.
    tile : int or (int, int), optional
        Solve in overlapping tiles of this size, each its own certified QP
        with the envelopes sliced out of the image's, and blend them; the
        global operator is never assembled unless the result is polished
        by one global solve (``polish=True``/``False``/``'auto'`` among
        ``**options``; ``'auto'`` polishes up to
        :data:`qpsolve.imaging.tiles.AUTO_POLISH_PIXELS` pixels).  ``jobs=k`` among
        ``**options`` solves tiles in ``k`` worker processes.  See
        :func:`qpsolve.imaging.tiles.solve_tiled` for what an unpolished result
        certifies.
    progress : bool, optional
        Show tqdm progress bars on stderr: over the tiles of a tiled solve;
        otherwise one bar per channel (solved side by side: one line each),
        named by the channel and the running solver, that follows the
        solver's relative duality gap on a log scale from its first value
        to ``tol`` (see :mod:`qpsolve.imaging.progress`).  Nothing is
        printed without it.
    return_result : bool
        Also return the :class:`~qpsolve.SolveResult` (a list, one per channel,
        when ``channel_axis`` is given).

    Returns
    -------
    out : ndarray of float64
        Same shape as ``image``, in its units (e.g. 0-255 for a uint8).
    result : SolveResult or list of SolveResult
        Only with ``return_result=True``.

    References
    ----------
    .. [1] A. Völgyes, A. Martinsen, A. Stray-Pedersen, D. Waaler, M. Pedersen,
           "Image De-Quantization Using Plate Bending Model", Algorithms 11(8):110, 2018.

    Examples
    --------
    >>> import numpy as np
    >>> import qpsolve as qs
    >>> x = np.linspace(-1, 1, 48)
    >>> truth = np.exp(-2 * (x[:, None] ** 2 + x[None, :] ** 2))
    >>> img = (((truth / truth.max()) * 255).astype(np.uint8) >> 6) << 6   # 2 bits
    >>> out, res = qs.dequantize(img, bits=2, return_result=True)
    >>> res.success, out.dtype, bool(np.all(out >= img))
    (True, dtype('float64'), True)
    """
    shape = np.shape(image)
    if channel_axis is None and len(shape) == 3 and shape[-1] in (3, 4):
        # scikit-image's convention (no channel_axis: no channels) silently turns a colour
        # photograph into one 3-D plate over (row, column, channel): slow, and not what was meant.
        warnings.warn(f"image of shape {shape} is solved as one 3-D volume; for a colour image "
                      "pass channel_axis=-1", UserWarning, stacklevel=2)
    check_positive_int(channel_jobs, "channel_jobs", allow_none=True)
    kw = dict(rounding=rounding, step=step, levels=levels, lower=lower, upper=upper,
              confidence=confidence, data_range=data_range, alpha=alpha, beta=beta, gain=gain)
    adaptive, calib = _calibration_options(adaptive)
    if adaptive or outliers is not None or color_space != "rgb" or tile is not None:
        out, res = dequantize_photo(image, bits, model, bc, mask, solver, kw, channel_axis=channel_axis,
                                    tol=tol, max_iter=max_iter, verbose=verbose, return_result=True,
                                    options=options, adaptive=adaptive, outliers=outliers,
                                    color_space=color_space, chroma_weight=chroma_weight, tile=tile,
                                    progress=progress, channel_jobs=channel_jobs)
        if calib is not None:
            # step 2 of adaptive: shrink an over-shooting plate towards the bin centres, per channel
            if channel_axis is None:
                out, res.info["adaptive"] = _calibrate_channel(image, out, bits, bc, mask, kw, *calib)
            else:
                axis, planes = split_channels(image, channel_axis, kw)
                done = [_calibrate_channel(plane, o, bits, bc, mask, ckw, *calib)
                        for (plane, ckw), o in zip(planes, np.moveaxis(out, axis, 0))]
                out = np.moveaxis(np.stack([o for o, _ in done]), 0, axis)
                joint = len({id(r) for r in res}) == 1 and len(res) > 1  # color_space='decorrelated'
                for r, (_, info) in zip(res, done):
                    r.info["adaptive"] = [i for _, i in done] if joint else info
        return (out, res) if return_result else out
    if channel_axis is None:
        out, res = _solve_single(image, bits, model, bc, mask, solver, tol, max_iter, verbose, options, kw,
                                 progress=progress)
        return (out, res) if return_result else out

    axis, channels = split_channels(image, channel_axis, kw)
    done = _channels.solve_planes(lambda c, item: _solve_single(item[0], bits, model, bc, mask, solver, tol,
                                                                max_iter, verbose, options, item[1],
                                                                progress=progress, label=f"channel {c}"),
                                  channels, channel_jobs, tile=tile, verbose=verbose, solver=solver)
    outs, results = [o for o, _ in done], [r for _, r in done]
    out = np.moveaxis(np.stack(outs), 0, axis)
    return (out, results) if return_result else out
