"""Banding measures: how many false contours a reconstruction keeps, and where.

PSNR and SSIM average over the whole picture; a default that gains 0.7 dB
can still keep every band of a sky (DESIGN.md section 8).  Two measures
look at the bands themselves.

:func:`banding` (with a reference)
    Counts *step-jumps*: neighbouring pixels, inside the regions where the
    reference is smooth, whose reconstruction jumps by half a quantization
    step or more while the reference moves by less than a quarter step.
    Reported per 1000 neighbouring pairs of those regions, with the RMS
    gradient error there (in steps).

:func:`soft_banding` (with a reference)
    Counts *soft steps*: the same, at a distance of several pixels and
    after a slight blur of both images, with a lower threshold -- a shade a
    few pixels wide that carries a step the reference does not have.  The
    step-jump count misses it (no neighbouring pair jumps), the eye does not.

:func:`cambi` (no reference)
    A CAMBI-style index (Tandon et al. 2021): flat patches whose values
    differ from nearby flat patches by a visible contrast, at several
    scales.  For real inputs without ground truth.

Both take images in their stored units (e.g. 0-255 floats for 8-bit data).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["BandingScore", "banding", "SoftBandingScore", "soft_banding", "smooth_region", "cambi", "cambi_map",
           "visible_step", "SMOOTH_WINDOW", "JUMP_FRACTION", "STILL_FRACTION", "SOFT_LAG", "SOFT_SIGMA",
           "SOFT_FRACTION"]

#: side of the square window over which the reference must stay within one
#: quantization step for a pixel to belong to the smooth region: a band of
#: the quantized image is then at least about half this wide, wide enough to
#: be seen as a band rather than as texture (paper section 6.3: false contours
#: are perceivable only where the signal changes slowly).
SMOOTH_WINDOW = 9

#: a neighbouring pair *jumps* when the reconstruction changes by at least
#: this fraction of a step: a visible edge at a bin boundary (the midpoint
#: jumps by a whole step there, a plate that crosses the boundary smoothly by
#: a small fraction of it).
JUMP_FRACTION = 0.5

#: ... while the reference changes by less than this fraction of a step, so
#: the jump is not in the picture.
STILL_FRACTION = 0.25

#: :func:`soft_banding` compares changes over pairs this many pixels apart:
#: a shade up to about this wide is one soft step (the smooth region's
#: window is 9, so the reference moves by less than a step over it)
SOFT_LAG = 8

#: ... of both images blurred by a Gaussian of this many pixels first, so
#: that pixel noise of the reference and one-pixel islands of the
#: reconstruction do not count: what is left is what shows at a distance
SOFT_SIGMA = 1.5

#: ... and a pair counts when the two changes differ by at least this
#: fraction of a step (a shade of a quarter step over a few pixels is
#: plainly visible in a sky stretched to show its bands)
SOFT_FRACTION = 0.25


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _odd_window(value, name, minimum=3):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum or value % 2 == 0:
        raise ValueError(f"{name} must be an odd integer >= {minimum}, got {value!r}")
    return int(value)


def _as_pair(reference, image):
    """``(reference, image)`` as float64 arrays of one shape (else a ValueError naming both)."""
    ref = _as_image(reference, "reference")
    img = _as_image(image, "image")
    if ref.shape != img.shape:
        raise ValueError(f"image has shape {img.shape}; reference has shape {ref.shape}")
    return ref, img


def _as_image(a, name):
    if isinstance(a, (str, bytes)) or a is None:
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__}")
    arr = np.asarray(a)
    if arr.dtype == object or arr.dtype.kind not in "uifb":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be 2-D (or 3-D with channel_axis), got {arr.ndim}-D")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _planes(arr, channel_axis, name):
    """The 2-D planes of ``arr``: itself, or its channels along ``channel_axis``."""
    if channel_axis is None:
        if arr.ndim != 2:
            raise ValueError(f"{name} is {arr.ndim}-D; give channel_axis for a colour image")
        return [arr]
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, numbers.Integral):
        raise TypeError(f"channel_axis must be an integer or None, got {channel_axis!r}")
    if arr.ndim != 3 or not -3 <= channel_axis < 3:
        raise ValueError(f"channel_axis={channel_axis} needs a 3-D {name}, got shape {arr.shape}")
    return list(np.moveaxis(arr, channel_axis, 0))


def smooth_region(reference, step, *, window=SMOOTH_WINDOW):
    """Pixels where the reference stays within one quantization step over a window.

    Parameters
    ----------
    reference : ndarray, 2-D
        The original (unquantized) image.
    step : float
        Quantization step in the image's units (16 for 4-bit data in 0-255).
    window : int
        Odd side of the square window (:data:`SMOOTH_WINDOW`).

    Returns
    -------
    ndarray of bool
        ``True`` where ``max - min`` of the reference over the window around
        the pixel is below ``step``: there the quantized picture is a flat
        band, or two bands one level apart, at least ``window // 2`` pixels
        wide -- where false contours show.

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.tile(np.arange(40.0), (12, 1))        # 1 per pixel
    >>> ramp[:, 30:] += 100                                # an edge
    >>> m = smooth_region(ramp, 16)
    >>> bool(m[6, 10]), bool(m[6, 29]), bool(m[6, 30])
    (True, False, False)
    """
    r = np.asarray(reference, dtype=np.float64)
    step = _positive(step, "step")
    window = _odd_window(window, "window")
    spread = ndimage.maximum_filter(r, size=window, mode="nearest") - ndimage.minimum_filter(
        r, size=window, mode="nearest")
    return spread < step


@dataclass(frozen=True)
class BandingScore:
    """What :func:`banding` measured.

    Attributes
    ----------
    jumps_per_1000 : float
        Step-jumps per 1000 neighbouring pairs of the smooth region.
    gradient_error : float
        RMS of ``(y_i - y_j) - (r_i - r_j)`` over those pairs, in steps.
    pairs : int
        Neighbouring pairs (horizontal and vertical, both pixels smooth).
    jumps : int
        Pairs that jump.
    smooth_fraction : float
        Fraction of the pixels in the smooth region.
    """

    jumps_per_1000: float
    gradient_error: float
    pairs: int
    jumps: int
    smooth_fraction: float


def banding(reference, image, step, *, channel_axis=None, window=SMOOTH_WINDOW,
            jump=JUMP_FRACTION, still=STILL_FRACTION):
    """Reference-based banding: step-jumps and gradient error where the reference is smooth.

    Definition.  The *smooth region* is :func:`smooth_region` of the
    reference (it changes by less than one step over a ``window``-wide
    square).  Over every horizontal and vertical neighbouring pair
    ``(i, j)`` with both pixels in it, a *step-jump* is

        ``|y_i - y_j| >= jump * step``  and  ``|r_i - r_j| < still * step``

    -- the reconstruction ``y`` shows an edge of half a step or more where
    the reference ``r`` is still.  The count is given per 1000 such pairs;
    the *gradient error* is the RMS of ``(y_i - y_j) - (r_i - r_j)`` over the
    same pairs, in steps.

    Why this definition.  A false contour is an edge at a bin boundary
    inside a smooth area: the bin midpoint jumps by one whole step there,
    the truth by a fraction of a pixel's slope, a plate that removed the
    band by a small fraction of a step.  Half a step is the largest
    threshold no smooth reconstruction of a bin-boundary crossing exceeds
    (any blend weight above one half of a plate moves the jump below it)
    and the smallest that a midpoint-like reconstruction always exceeds.
    Pairs where the reference itself moves by a quarter step are left out
    of the count (a real edge, or noise of that size), and the window keeps
    texture out: a textured area quantized to the midpoint jumps too, but
    there it looks like texture, not like a band.  The gradient error sees
    what the count does not: a plate that overshoots between bands, or
    smears a slope.  Zero for ``image == reference``.

    Parameters
    ----------
    reference : ndarray
        Original image (2-D, or 3-D with ``channel_axis``).
    image : ndarray
        Reconstruction, same shape and units.
    step : float
        Quantization step in the image's units (``2**(8 - bits)`` for
        ``bits``-bit data in 0-255).
    channel_axis : int, optional
        Colour axis: pairs of every channel are pooled.
    window : int
        See :func:`smooth_region`.
    jump, still : float
        The thresholds above, as fractions of ``step``
        (:data:`JUMP_FRACTION`, :data:`STILL_FRACTION`).

    Returns
    -------
    BandingScore

    Examples
    --------
    >>> import numpy as np
    >>> sky = np.tile(np.linspace(0, 64, 256), (32, 1))    # a slow ramp, 4 steps of 16
    >>> mid = np.floor(sky / 16) * 16 + 8                   # 4-bit bin midpoints
    >>> banding(sky, sky, 16).jumps_per_1000
    0.0
    >>> s = banding(sky, mid, 16)
    >>> s.jumps, s.pairs, round(s.jumps_per_1000, 2)
    (128, 16096, 7.95)
    """
    ref, img = _as_pair(reference, image)
    step = _positive(step, "step")
    jump = _positive(jump, "jump")
    still = _positive(still, "still")
    pairs = jumps = smooth = total = 0
    sq = 0.0
    for r, y in zip(_planes(ref, channel_axis, "reference"), _planes(img, channel_axis, "image")):
        m = smooth_region(r, step, window=window)
        smooth += int(m.sum())
        total += m.size
        for ax in (0, 1):
            a = [slice(None)] * 2
            b = [slice(None)] * 2
            a[ax] = slice(None, -1)
            b[ax] = slice(1, None)
            a, b = tuple(a), tuple(b)
            both = m[a] & m[b]
            dr = (r[b] - r[a])[both]
            dy = (y[b] - y[a])[both]
            pairs += dr.size
            jumps += int(np.count_nonzero((np.abs(dy) >= jump * step) & (np.abs(dr) < still * step)))
            sq += float(np.sum(((dy - dr) / step) ** 2))
    per = 1000.0 * jumps / pairs if pairs else 0.0
    return BandingScore(jumps_per_1000=per, gradient_error=float(np.sqrt(sq / pairs)) if pairs else 0.0,
                        pairs=pairs, jumps=jumps, smooth_fraction=smooth / total if total else 0.0)


@dataclass(frozen=True)
class SoftBandingScore:
    """What :func:`soft_banding` measured.

    Attributes
    ----------
    per_1000 : float
        Soft steps per 1000 pairs.
    pairs : int
        Pairs ``lag`` apart (horizontal and vertical, both pixels in the smooth region).
    steps : int
        Pairs that count.
    """

    per_1000: float
    pairs: int
    steps: int


def soft_banding(reference, image, step, *, channel_axis=None, lag=SOFT_LAG, sigma=SOFT_SIGMA,
                 fraction=SOFT_FRACTION, window=SMOOTH_WINDOW):
    """Reference-based soft bands: shades a few pixels wide that the reference does not have.

    Definition.  Blur the reference ``r`` and the reconstruction ``y`` by a
    Gaussian of ``sigma`` pixels (``r_s``, ``y_s``).  Over every pair of
    pixels ``(i, j)`` ``lag`` apart along a row or a column, both in the
    :func:`smooth_region` of the (unblurred) reference, with
    ``dy = y_s_j - y_s_i`` and ``dr = r_s_j - r_s_i``, a *soft step* is

        ``|dy - dr| >= fraction * step``  and  ``|dy| > |dr|``

    -- over ``lag`` pixels the reconstruction changes by a ``fraction`` of
    a step more than the reference does: a change that is not in the
    picture.  Reported per 1000 such pairs.

    Why.  :func:`banding` counts neighbours that jump by half a step: a
    sharp contour.  A blend that crosses a bin boundary over four or five
    pixels jumps nowhere, yet shows as a soft band in a sky: within a few
    pixels it changes by a step where the reference changes by a fraction
    of one.  Differences over ``lag`` pixels see such a shade whole; the
    blur keeps the reference's pixel noise and one-pixel islands out (they
    look like grain, not like bands); comparing with the reference's own
    change keeps a true slope out.  A plate that overshoots or bends where
    the reference does not (a halo, a tile's plane) counts too: it is a
    shade the picture does not have.  A reconstruction that is *flatter*
    than the reference (sub-step texture smoothed away) does not count: that
    is lost detail, not a band, and PSNR, SSIM and the gradient error of
    :func:`banding` see it.  Zero for ``image == reference``.

    Parameters
    ----------
    reference, image : ndarray
        Original and reconstruction (2-D, or 3-D with ``channel_axis``), same shape and units.
    step : float
        Quantization step in the image's units.
    channel_axis : int, optional
        Colour axis: pairs of every channel are pooled.
    lag : int
        Distance of the pairs in pixels (:data:`SOFT_LAG`).
    sigma : float
        Blur in pixels, 0 for none (:data:`SOFT_SIGMA`).
    fraction : float
        Threshold as a fraction of ``step`` (:data:`SOFT_FRACTION`).
    window : int
        See :func:`smooth_region`.

    Returns
    -------
    SoftBandingScore

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> sky = np.tile(np.linspace(0, 64, 256), (32, 1))       # a slow ramp, 4 steps of 16
    >>> mid = np.floor(sky / 16) * 16 + 8                      # 4-bit bin midpoints
    >>> soft = ndimage.uniform_filter1d(mid, 5, axis=1)        # its steps spread over 5 pixels
    >>> banding(sky, soft, 16).jumps                           # no neighbour jumps half a step ...
    0
    >>> soft_banding(sky, soft, 16).steps > 0                  # ... but the shades are there
    True
    >>> soft_banding(sky, sky, 16).per_1000
    0.0
    """
    ref, img = _as_pair(reference, image)
    step = _positive(step, "step")
    fraction = _positive(fraction, "fraction")
    if isinstance(lag, bool) or not isinstance(lag, numbers.Integral) or lag < 1:
        raise ValueError(f"lag must be an integer >= 1, got {lag!r}")
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    lag = int(lag)
    pairs = steps = 0
    for r, y in zip(_planes(ref, channel_axis, "reference"), _planes(img, channel_axis, "image")):
        m = smooth_region(r, step, window=window)
        if sigma > 0:
            r = ndimage.gaussian_filter(r, float(sigma), mode="nearest")
            y = ndimage.gaussian_filter(y, float(sigma), mode="nearest")
        for ax in (0, 1):
            if r.shape[ax] <= lag:
                continue
            a = [slice(None)] * 2
            b = [slice(None)] * 2
            a[ax] = slice(None, -lag)
            b[ax] = slice(lag, None)
            a, b = tuple(a), tuple(b)
            both = m[a] & m[b]
            dy = (y[b] - y[a])[both]
            dr = (r[b] - r[a])[both]
            pairs += dy.size
            steps += int(np.count_nonzero((np.abs(dy - dr) >= fraction * step) & (np.abs(dy) > np.abs(dr))))
    return SoftBandingScore(per_1000=1000.0 * steps / pairs if pairs else 0.0, pairs=pairs, steps=steps)


# --- CAMBI-style no-reference index -------------------------------------------------------------

#: luma weights (BT.709) for colour input to :func:`cambi`
_LUMA = np.array([0.2126, 0.7152, 0.0722])

#: BT.1886 display: white and black luminance (cd/m^2) and gamma, as CAMBI assumes
_WHITE, _BLACK, _GAMMA = 300.0, 0.01, 2.4


def _bt1886(codes):
    """Display luminance of full-range 10-bit codes (BT.1886 EOTF)."""
    lw, lb = _WHITE ** (1 / _GAMMA), _BLACK ** (1 / _GAMMA)
    a = (lw - lb) ** _GAMMA
    b = lb / (lw - lb)
    return a * np.maximum(np.asarray(codes, dtype=np.float64) / 1023.0 + b, 0.0) ** _GAMMA


def visible_step(codes, k, tvi=0.019):
    """Whether a step of ``k`` 10-bit codes up from ``codes`` is visible on a BT.1886 display.

    Visible means ``L(v + k) - L(v) >= tvi * (L(v) + L(v + k)) / 2`` (the
    threshold-versus-intensity rule CAMBI uses; 300 cd/m^2 white, 0.01 black).

    Examples
    --------
    >>> import numpy as np
    >>> visible_step(np.array([40, 400, 900]), 4).tolist()   # one 8-bit code: seen below mid-grey only
    [True, True, False]
    """
    lo, hi = _bt1886(codes), _bt1886(codes + k)
    return hi - lo >= tvi * 0.5 * (lo + hi)


def _flat_mask(v, window):
    """Pixels whose ``window``-square neighbourhood is mostly zero-derivative (CAMBI's spatial mask)."""
    right = np.ones(v.shape, dtype=bool)
    down = np.ones(v.shape, dtype=bool)
    right[:, :-1] = v[:, :-1] == v[:, 1:]
    down[:-1, :] = v[:-1, :] == v[1:, :]
    zero = (right & down).astype(np.float64)
    # counts, rounded: the running sums of uniform_filter leave residues of 1e-16
    count = np.rint(ndimage.uniform_filter(zero, size=window, mode="nearest") * window * window)
    return 2 * count > window * window


def _scale_map(v, window, mask_window, contrasts, tvi):
    """Banding confidence of one scale: ``max_k w(k) p0 q_k / (q_k + p0)`` at flat pixels."""
    flat = _flat_mask(v, mask_window)
    out = np.zeros(v.shape)
    if not flat.any():
        return out
    idx = np.flatnonzero(flat)
    vals = v.ravel()[idx]
    values, inverse = np.unique(vals, return_inverse=True)
    p0 = np.zeros(idx.size)
    q = np.zeros((len(contrasts), idx.size))  # max(p_{+k}, p_{-k}) per flat pixel
    where = {int(u): np.flatnonzero(inverse == i) for i, u in enumerate(values)}
    for u, own in where.items():
        # fraction of the window around each pixel that is flat and has value u
        frac = np.rint(ndimage.uniform_filter((flat & (v == u)).astype(np.float64), size=window,
                                              mode="constant") * window * window).ravel() / (window * window)
        p0[own] = frac[idx[own]]
        for j, k in enumerate(contrasts):
            for other in (where.get(u - k), where.get(u + k)):
                if other is not None:
                    np.maximum.at(q[j], other, frac[idx[other]])
    best = np.zeros(idx.size)
    for j, k in enumerate(contrasts):
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(q[j] + p0 > 0, p0 * q[j] / (q[j] + p0), 0.0)
        c *= (1.0 + np.log2(k)) * visible_step(vals, k, tvi)
        np.maximum(best, c, out=best)
    out.ravel()[idx] = best
    return out


def _codes(image, channel_axis, bit_depth):
    arr = _as_image(image, "image")
    if channel_axis is not None:
        planes = _planes(arr, channel_axis, "image")
        if len(planes) != 3:
            raise ValueError(f"cambi needs 3 colour channels along channel_axis, got {len(planes)}")
        arr = np.tensordot(_LUMA, np.stack(planes), axes=1)
    elif arr.ndim != 2:
        raise ValueError(f"image is {arr.ndim}-D; give channel_axis for a colour image")
    if isinstance(bit_depth, bool) or not isinstance(bit_depth, numbers.Integral) or not 1 <= bit_depth <= 16:
        raise ValueError(f"bit_depth must be an integer in 1..16, got {bit_depth!r}")
    return arr * 2.0 ** (10 - int(bit_depth))


def _downscale(x):
    """2x2 block mean (an odd last row/column is dropped)."""
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    return x[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def cambi_map(image, *, channel_axis=None, bit_depth=8, scales=5, window=17, mask_window=5,
              max_log_contrast=7, tvi=0.019):
    """Per-scale banding-confidence maps of :func:`cambi` (list, finest first).

    Parameters are those of :func:`cambi`.

    Examples
    --------
    >>> import numpy as np
    >>> bands = np.repeat(np.arange(4) * 16.0 + 100, 16)[None, :].repeat(32, 0)
    >>> maps = cambi_map(bands, scales=2)
    >>> [m.shape for m in maps], bool(maps[0][:, 16].max() > 0), float(maps[0][:, 4].max())
    ([(32, 64), (16, 32)], True, 0.0)
    """
    codes = _codes(image, channel_axis, bit_depth)
    window = _odd_window(window, "window")
    mask_window = _odd_window(mask_window, "mask_window")
    if isinstance(scales, bool) or not isinstance(scales, numbers.Integral) or scales < 1:
        raise ValueError(f"scales must be an integer >= 1, got {scales!r}")
    if isinstance(max_log_contrast, bool) or not isinstance(max_log_contrast, numbers.Integral) or not (
            0 <= max_log_contrast <= 10):
        raise ValueError(f"max_log_contrast must be an integer in 0..10, got {max_log_contrast!r}")
    tvi = _positive(tvi, "tvi")
    contrasts = [2 ** i for i in range(int(max_log_contrast) + 1)]
    maps = []
    x = codes
    for s in range(int(scales)):
        if s:
            if min(x.shape) < 2 * mask_window:
                break  # too small for another scale
            x = _downscale(x)
        v = np.clip(np.rint(x), 0, 1023).astype(np.int64)
        maps.append(_scale_map(v, window, mask_window, contrasts, tvi))
    return maps


def cambi(image, *, channel_axis=None, bit_depth=8, scales=5, window=17, mask_window=5,
          max_log_contrast=7, topk=0.6, tvi=0.019):
    """No-reference banding index in the manner of CAMBI (Tandon et al. 2021).

    What it computes (from the paper's description):

    1. luma (BT.709 weights for colour), as 10-bit codes
       (``image * 2**(10 - bit_depth)``, rounded);
    2. at each of ``scales`` scales (2x2 block means, halving the size each
       time), the *flat* pixels: those whose ``mask_window`` square is mostly
       (more than half) zero-derivative pixels -- equal to their right and
       lower neighbours.  Bands are flat; texture, noise and smooth ramps
       finer than one code are not;
    3. at each flat pixel ``p`` of value ``v`` and each contrast ``k`` in
       ``1, 2, 4, ..., 2**max_log_contrast`` codes, with ``p_0``, ``p_{+k}``
       and ``p_{-k}`` the fractions of the ``window`` square around ``p``
       that are flat pixels of value ``v``, ``v + k`` and ``v - k``:
       ``c_k = p_0 q / (q + p_0)``, ``q = max(p_{+k}, p_{-k})`` -- large when
       ``p`` sits in a flat band next to another flat band ``k`` codes away;
    4. contrast awareness: ``c_k`` counts only if the step is visible on a
       BT.1886 display (300 cd/m^2 white, 0.01 black), ``dL >= tvi * L``
       (the paper's threshold-versus-intensity rule), and is weighted by
       ``1 + log2 k`` (a compressive supra-threshold response); the pixel's
       confidence is the largest over ``k``;
    5. pooling: per scale, the mean of the highest ``topk`` fraction of the
       map; the index is the mean over scales, times 100.

    The same window in pixels at every scale makes it multiscale: coarse
    scales see wide bands whose edges are far apart.

    Simplified against the paper and Netflix's implementation: no
    anti-dithering pre-filter and no spatial upsampling to 4K (windows are in
    pixels of the given image: ``window=17`` covers 17, 34, ..., 272 pixels
    over five scales); block means instead of the paper's downscaling
    filter; contrasts extended from 4 codes to ``2**max_log_contrast`` (128
    codes = one 3-bit step of 8-bit data), since de-quantization is about
    steps of one quantization level, not of one code; plain ``1 + log2 k``
    weights and a mean over scales instead of the tuned tables; luminance
    from full-range codes.  Its scale is therefore not Netflix's: compare
    values of this function with each other.

    Parameters
    ----------
    image : ndarray
        2-D, or 3-D with ``channel_axis`` (3 colour channels), in the units
        of a ``bit_depth``-bit container (0-255 for 8 bits; floats allowed).
    channel_axis : int, optional
        Colour axis.
    bit_depth : int
        Bit depth of the container (8: 0-255).
    scales : int
        Number of scales (fewer when the image gets too small).
    window : int
        Odd side of the histogram window, in pixels of each scale.
    mask_window : int
        Odd side of the flatness window.
    max_log_contrast : int
        Largest contrast ``2**max_log_contrast`` codes (10-bit).
    topk : float
        Fraction of each scale's pixels pooled, in (0, 1].
    tvi : float
        Visibility threshold, ``dL / L``.

    Returns
    -------
    float
        0 when no flat band borders another; larger for more, wider and
        more visible bands.

    References
    ----------
    .. [1] P. Tandon, M. Afonso, J. Sole, L. Krasula, "CAMBI: Contrast-aware
           Multiscale Banding Index", Picture Coding Symposium (PCS), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> sky = np.tile(np.linspace(40, 104, 256), (64, 1))     # a smooth ramp
    >>> mid = np.floor(sky / 16) * 16 + 8                      # its 4-bit midpoints
    >>> cambi(sky), cambi(mid) > 1
    (0.0, True)
    """
    topk = _positive(topk, "topk")
    if topk > 1:
        raise ValueError(f"topk must be in (0, 1], got {topk!r}")
    maps = cambi_map(image, channel_axis=channel_axis, bit_depth=bit_depth, scales=scales, window=window,
                     mask_window=mask_window, max_log_contrast=max_log_contrast, tvi=tvi)
    pooled = []
    for m in maps:
        vals = np.sort(m.ravel())[::-1]
        n = max(1, int(np.ceil(topk * vals.size)))
        pooled.append(float(vals[:n].mean()))
    return 100.0 * float(np.mean(pooled))
