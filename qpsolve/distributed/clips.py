"""Synthetic clips with a known truth: what the video tests and benchmarks measure against."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["moving_scene", "quantize", "write_clip"]


def moving_scene(frames, height, width, *, speed=0.3, colour=False, container_bits=8):
    """A smooth scene that drifts: a broad bright blob moving right by ``speed`` px per frame.

    Returns the truth as float planes in the container's units (``0 .. 2**container_bits - 1``):
    a list with one ``(frames, height, width)`` array (gray) or three (``Y``
    full size, ``U, V`` at half size in both directions, as in
    ``yuv420p``; smooth, slowly changing gradients).

    Examples
    --------
    >>> [p.shape for p in moving_scene(4, 16, 24, colour=True)]
    [(4, 16, 24), (4, 8, 12), (4, 8, 12)]
    """
    top = 2.0**container_bits - 1

    def plane(h, w, amp, base, sx, phase):
        t = np.arange(frames, dtype=np.float64)[:, None, None]
        y = (np.arange(h, dtype=np.float64)[None, :, None] + 0.5) / h
        x = (np.arange(w, dtype=np.float64)[None, None, :] + 0.5) / w
        cx = 1.0 / 3.0 + phase + speed * t / w * sx
        blob = np.exp(-(((x - cx) / 0.35) ** 2 + ((y - 0.5) / 0.4) ** 2))
        return top * (base + amp * blob)

    y = plane(height, width, 0.70, 0.16, 1.0, 0.0)
    if not colour:
        return [y]
    h2, w2 = (height + 1) // 2, (width + 1) // 2
    return [y, plane(h2, w2, 0.25, 0.40, 0.5, 0.1), plane(h2, w2, -0.20, 0.60, 0.5, -0.1)]


def quantize(planes, bits, container_bits=8):
    """Truncate float planes to ``bits`` significant bits of the container (levels ``k * 2**(c - bits)``)."""
    dtype = np.uint8 if container_bits <= 8 else np.uint16
    shift = container_bits - bits
    return [((np.floor(p).astype(np.int64) >> shift) << shift).astype(dtype) for p in planes]


def write_clip(path, planes, *, fps=25, container_bits=8, audio=False):
    """Write quantized planes as a lossless FFV1/Matroska clip (``gray``/``yuv420p``, 8 or 10 bits).

    ``audio=True`` adds a second of a 440 Hz tone (FLAC) so tests can see it kept.
    """
    import av

    gray = len(planes) == 1
    fmt = ("gray" if gray else "yuv420p") + ("" if container_bits == 8 else f"{container_bits}le")
    frames, height, width = planes[0].shape
    with av.open(str(path), "w", format="matroska") as out:
        vs = out.add_stream("ffv1", rate=Fraction(fps))
        vs.width, vs.height, vs.pix_fmt = width, height, fmt
        aus = out.add_stream("flac", rate=8000, layout="mono") if audio else None
        if aus is not None:
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000) * 32767).astype(np.int16)
            af = av.AudioFrame.from_ndarray(tone[None, :], format="s16", layout="mono")
            af.sample_rate, af.pts = 8000, 0
            for pk in aus.encode(af):
                out.mux(pk)
            for pk in aus.encode():
                out.mux(pk)
        dtype = "<u1" if container_bits == 8 else "<u2"
        for i in range(frames):
            f = av.VideoFrame(width, height, fmt)
            for p, a in zip(f.planes, planes):
                buf = np.zeros((p.height, p.line_size // np.dtype(dtype).itemsize), dtype=dtype)
                buf[:, :p.width] = a[i]
                p.update(buf.tobytes())
            f.pts = i
            for pk in vs.encode(f):
                out.mux(pk)
        for pk in vs.encode():
            out.mux(pk)
    return path
