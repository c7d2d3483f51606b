"""Bit-depth detection: the quantization step as the gcd of the levels in use.

The paper's tool finds the step of an image as the greatest common divisor
of the levels that occur.  In an unsigned-integer container of ``c`` bits
the levels of ``b``-bit data are multiples of ``2**(c - b)``, so the step is
the largest power of two dividing that gcd and ``bits = c - log2(step)``.
In other dtypes (signed integers, floats holding integers) the values are
level indices: ``step = 1`` and ``bits`` is what the largest index needs.

:func:`check_bits` compares a claimed bit depth with the data: it catches
16-bit data claimed as 8-bit, bits beyond the container, and 8-bit data
stored unscaled in a 16-bit container.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

__all__ = ["BitDepth", "detect_bits", "check_bits"]


@dataclass(frozen=True)
class BitDepth:
    """Result of :func:`detect_bits`.

    Attributes
    ----------
    bits : int
        Detected bit depth (levels are multiples of ``step``).
    step : float
        Level spacing in the image's units (``2**(c - bits)`` in unsigned
        containers, ``1`` for level indices).
    container_bits : int or None
        ``c`` for unsigned-integer containers, else ``None``.
    gcd : int
        Greatest common divisor of the levels in use.
    levels_used : int
        Number of distinct values.
    notes : tuple of str
        Warnings a person should read (e.g. unscaled 8-bit data in a uint16).
    """

    bits: int
    step: float
    container_bits: int | None
    gcd: int
    levels_used: int
    notes: tuple = field(default_factory=tuple)

    def __str__(self):
        c = f" in a {self.container_bits}-bit container" if self.container_bits else ""
        s = f"{self.bits}-bit data{c} (step {self.step:g}, {self.levels_used} levels in use, gcd {self.gcd})"
        return s + "".join(f"; {n}" for n in self.notes)


def _integer_values(image, name):
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(f"{name} must be a numeric array, got {type(image).__name__}")
    arr = np.asarray(image)
    if arr.dtype == bool:
        raise TypeError(f"{name} is boolean (1-bit); there is no bit depth to detect")
    if arr.dtype == object or arr.dtype.kind not in "uif":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        if not np.all(arr == np.round(arr)):
            raise ValueError(
                f"{name} is a float array with non-integer values; its levels cannot be read off the "
                f"data -- give step= (the level spacing) explicitly"
            )
    u = np.unique(arr)
    if u.size > 1_000_000:
        raise ValueError(f"{name} uses {u.size} distinct values; that is not quantized data")
    return arr, u.astype(np.int64)


def detect_bits(image):
    """Detect the quantization step and bit depth of an integer-valued image.

    Parameters
    ----------
    image : ndarray
        Quantized samples in their stored units (any shape, channels
        included).

    Returns
    -------
    BitDepth

    Raises
    ------
    ValueError
        For a constant image (one level: the step is undetermined), negative
        values in an unsigned sense, or non-integer floats.
    TypeError
        For non-numeric or boolean input.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.array([[0, 32, 64], [96, 224, 32]], dtype=np.uint8)
    >>> bd = detect_bits(img)
    >>> bd.bits, bd.step, bd.gcd
    (3, 32.0, 32)
    >>> detect_bits(np.array([0, 96, 192], np.uint8)).bits   # gcd 96 -> step 32
    3
    >>> detect_bits(np.array([0.0, 3.0, 5.0])).bits           # level indices
    3
    """
    arr, u = _integer_values(image, "image")
    if u.size < 2:
        raise ValueError(f"image is constant (value {u[0]}); the quantization step cannot be detected")
    g = int(np.gcd.reduce(np.abs(u)))  # 0 is divisible by everything
    notes = []
    if arr.dtype.kind == "u":
        c = 8 * arr.dtype.itemsize
        step = g & -g  # largest power of two dividing the gcd
        bits = c - int(math.log2(step))
        if step != g:
            notes.append(f"levels are multiples of {g}, not only of a power of two; step {step} assumed")
        if c > 8 and u.max() < 256 and bits == c:
            notes.append(
                f"all values are below 256 in a {c}-bit container: this may be 8-bit data stored unscaled "
                f"(then use step=1 with data_range=(0, 255))"
            )
        return BitDepth(bits, float(step), c, g, int(u.size), tuple(notes))
    if u.min() < 0:
        raise ValueError(
            f"image holds negative values (min {u.min()}); level indices must be >= 0 -- give step= and data_range="
        )
    bits = max(1, int(u.max()).bit_length())
    if g > 1:
        notes.append(f"values share the factor {g}; they may be levels scaled by {g} (give step={g})")
    return BitDepth(bits, 1.0, None, g, int(u.size), tuple(notes))


def check_bits(image, bits):
    """Check a claimed bit depth against the data; return the detected :class:`BitDepth`.

    Raises ``ValueError`` with a clear message when ``bits`` exceeds the
    container, or when the data use finer levels than ``bits`` allows (for
    example 16-bit data claimed as 8-bit).

    Examples
    --------
    >>> import numpy as np
    >>> img16 = np.array([0, 1000, 40001], dtype=np.uint16)
    >>> try:
    ...     check_bits(img16, 8)
    ... except ValueError as exc:
    ...     print(str(exc)[:60])
    image is 16-bit data (step 1) but bits=8 was claimed: 2 of 3
    >>> check_bits(np.array([0, 64, 128], np.uint8), 2).bits
    2
    """
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, numbers.Integral):
        raise TypeError(f"bits must be an integer, got {type(bits).__name__}")
    arr = np.asarray(image)
    if bits < 1:
        raise ValueError(f"bits must be >= 1, got {bits}")
    if arr.dtype.kind == "u" and bits > 8 * arr.dtype.itemsize:
        raise ValueError(f"bits={bits} does not fit the {8 * arr.dtype.itemsize}-bit {arr.dtype} container")
    bd = detect_bits(arr)
    if bd.bits > bits:
        if arr.dtype.kind == "u":
            claimed_step = 2 ** (bd.container_bits - bits)
            off = int(np.count_nonzero(arr.astype(np.int64) % claimed_step))
            detail = f"{off} of {arr.size} values are not multiples of {claimed_step}"
        else:
            off = int(np.count_nonzero(arr > 2**bits - 1))
            detail = f"{off} of {arr.size} values exceed {2**bits - 1}"
        raise ValueError(
            f"image is {bd.bits}-bit data (step {bd.step:g}) but bits={bits} was claimed: {detail}; "
            f"omit bits to use the detected depth"
        )
    return bd
