"""The envelopes of an image and the way back: validated bounds, channels, restoring pixels.

Shared by :mod:`~qpsolve.imaging.image` (the plain plate) and
:mod:`~qpsolve.imaging.photo` (the photo pipeline): :func:`image_envelopes`
turns an image and its quantization model into bounds, a
:class:`~qpsolve.model.operators.GridSpec` and an :class:`ImageContext`;
:func:`restore` puts a solution back into the image's shape, freed pixels
and masked pixels included.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace

import numpy as np

from ..model.envelopes import (
    apply_confidence,
    apply_mask,
    bits_step,
    check_on_grid,
    container_range,
    envelope_from_levels,
    envelope_from_step,
)
from ..model.degradation import brighten_envelopes, gain_map
from ..model.operators import BOUNDARIES, MODELS, GridSpec
from ..validation import (
    check_at_least,
    check_bounds_array,
    check_choice,
    check_data_range,
    check_image,
    check_positive,
    check_same_shape,
)

__all__ = ["ImageContext", "image_envelopes", "split_channels", "restore"]


@dataclass
class ImageContext:
    """What putting the solution back into the image needs: shape, input values, mask, gain.

    ``values`` and ``gain`` may be ``None`` when there is no mask (see :meth:`for_restore`).
    """


    shape: tuple
    values: np.ndarray | None
    mask: np.ndarray | None
    gain: np.ndarray | None = None

    def for_restore(self):
        """This context without what :func:`restore` does not read.

        Restore reads the input values and the gain only outside a mask; without one they are
        image-sized arrays that a caller holding the context through the solve need not keep.

        Examples
        --------
        >>> ctx = ImageContext(shape=(2,), values=np.zeros(2), mask=None, gain=np.ones(2))
        >>> ctx.for_restore()
        ImageContext(shape=(2,), values=None, mask=None, gain=None)
        """
        if self.mask is not None:
            return self
        return replace(self, values=None, gain=None)


def image_envelopes(image, bits, model, bc, mask, *, rounding, step, levels, lower, upper, confidence,
                    data_range, alpha, beta, gain=None):
    """Validated envelopes ``(lower, upper)`` (image-shaped), the ``GridSpec`` and the context.

    Assembles no operator: tiles and the calibration need only the bounds.
    """
    img = check_image(image)
    shape = img.shape
    check_choice(model, MODELS, "model")
    check_choice(bc, BOUNDARIES, "bc")
    for name, w in (("alpha", alpha), ("beta", beta)):
        check_at_least(w, name, 0)
    drange = check_data_range(data_range)
    if drange is None:
        drange = container_range(img.dtype)
    values = img.astype(np.float64)

    lo, hi = _quantizer_envelopes(img, values, bits, step, levels, lower, upper, rounding, drange)

    if confidence is not None:
        lo, hi = apply_confidence(lo, hi, _confidence_array(confidence, shape), drange)

    h = None
    if gain is not None:
        # Brightening x = y / h: the envelopes of x are those of y divided by h.  The
        # dynamic range of x is taken as range / min(h), the widest any brightened
        # pixel can reach, so masked-out pixels are free and nothing is clipped.
        h = gain_map(shape, gain)
        lo, hi = brighten_envelopes(lo, hi, h)
        if drange is not None:
            hmin = float(h.min())
            drange = (drange[0] / hmin, drange[1] / hmin)

    m = None
    if mask is not None:
        m = _mask_array(mask, shape)
        full = drange if drange is not None else (float(np.min(lo[m])), float(np.max(hi[m])))
        lo, hi = apply_mask(lo, hi, m, full)

    grid = GridSpec(shape=shape, model=model, bc=bc, alpha=float(alpha), beta=float(beta))
    return lo, hi, grid, ImageContext(shape=shape, values=values, mask=m, gain=h)


def _quantizer_envelopes(img, values, bits, step, levels, lower, upper, rounding, drange):
    """The quantizer's envelopes: explicit bounds, a table of levels, or a uniform step."""
    given = [n for n, v in (("bits", bits), ("step", step), ("levels", levels)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give only one of bits, step and levels (got {', '.join(given)})")
    if lower is not None or upper is not None:
        if given:
            raise ValueError(f"lower/upper replace the quantization model; do not also give {given[0]}")
        return _explicit_envelopes(lower, upper, img.shape)
    if levels is not None:
        return envelope_from_levels(values, levels, rounding, drange)
    return envelope_from_step(values, _level_step(img, values, bits, step), rounding, drange)


def _explicit_envelopes(lower, upper, shape):
    if lower is None or upper is None:
        raise ValueError("give both lower and upper, or neither")
    lo = check_bounds_array(lower, shape, "lower")
    hi = check_bounds_array(upper, shape, "upper")
    if (lo > hi).any():
        bad = lo > hi
        where = tuple(int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], shape))
        raise ValueError(f"lower > upper at {int(bad.sum())} pixel(s), first at index {where}")
    return lo, hi


def _level_step(img, values, bits, step):
    """The level step of the data, from ``bits`` (in ``img``'s container) or ``step``, checked against it."""
    if bits is not None:
        st = bits_step(img.dtype, bits)
        if img.dtype.kind != "u" and step is None:
            _check_level_indices(values, bits, img.dtype)
        check_on_grid(values, st, what=f"multiples of {st:g} (the level step of {bits}-bit data in {img.dtype})")
        return st
    if step is not None:
        st = check_positive(step, "step")
        check_on_grid(values, st)
        return st
    raise ValueError("say how the image was quantized: bits=, step=, levels=, or lower= and upper=")


def _check_level_indices(values, bits, dtype):
    top = 2**bits - 1
    if (values < 0).any() or (values > top).any():
        raise ValueError(
            f"a {dtype} image with bits={bits} must hold level indices 0..{top}; "
            f"found values in [{values.min():g}, {values.max():g}] (give step= for other scales)"
        )


def _confidence_array(confidence, shape):
    c = np.asarray(confidence)
    if c.dtype == object or c.dtype.kind not in "uif":
        raise TypeError(f"confidence must be numeric, got dtype {c.dtype}")
    if c.ndim and c.shape != shape:
        raise ValueError(f"confidence has shape {c.shape}; expected a scalar or the image shape {shape}")
    return c


def _mask_array(mask, shape):
    m = check_same_shape(mask, shape, "mask")
    if m.dtype != bool:
        if m.dtype.kind not in "uif" or not np.isin(m, (0, 1)).all():
            raise ValueError("mask must be boolean (or contain only 0 and 1)")
        m = m.astype(bool)
    if not m.any():
        raise ValueError("mask selects no pixel; nothing would be de-quantized")
    return m


def split_channels(image, channel_axis, kw):
    """Validate ``channel_axis`` and split ``image`` and per-pixel arrays of ``kw`` by channel.

    Returns the normalized axis and a list of ``(plane, kw_for_that_channel)``.
    """
    arr = np.asarray(image)
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, numbers.Integral):
        raise TypeError(f"channel_axis must be an integer or None, got {channel_axis!r}")
    if not -arr.ndim <= channel_axis < arr.ndim:
        raise ValueError(f"channel_axis={channel_axis} is out of range for a {arr.ndim}-D image")
    axis = channel_axis % arr.ndim
    moved = np.moveaxis(arr, axis, 0)
    per_channel = {}
    for name in ("lower", "upper", "confidence", "gain"):
        v = kw.get(name)
        if v is not None and np.ndim(v) == arr.ndim:
            per_channel[name] = np.moveaxis(np.asarray(v), axis, 0)
    planes = []
    for c in range(moved.shape[0]):
        ckw = dict(kw)
        for name, v in per_channel.items():
            ckw[name] = v[c]
        planes.append((moved[c], ckw))
    return axis, planes


def restore(x, ctx, free=None, mid=None):
    """The solution ``x`` as an image: ``mid`` at ``free`` pixels, input values outside the mask.

    Masked-out pixels keep their input values (the paper's rule), brightened
    as ``y / h`` when there is a gain.

    Examples
    --------
    >>> ctx = ImageContext(shape=(2, 2), values=np.full((2, 2), 7.0), mask=np.array([[True, False], [True, True]]))
    >>> restore(np.arange(4.0), ctx).tolist()
    [[0.0, 7.0], [2.0, 3.0]]
    """
    out = x.reshape(ctx.shape)
    if free is not None:
        out = np.where(free, mid, out)
    if ctx.mask is not None:
        kept = ctx.values if ctx.gain is None else ctx.values / ctx.gain  # brightened as y / h
        out = np.where(ctx.mask, out, kept)  # the paper keeps masked pixels intact
    return out
