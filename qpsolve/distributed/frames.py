"""Video frames as planes of integers, and back, with PyAV (no ffmpeg command line).

A decoded frame becomes a list of 2-D arrays, one per plane in its stored
layout (``Y, U, V`` at their own sizes for ``yuv420p``; one plane for gray;
``G, B, R`` for RGB, repacked losslessly to ``gbrp``), so de-quantization sees
the stored integers: the quantization grid lives there, not in RGB.  Results
are written at 16 bits in the same layout (``yuv420p16le``, ``gray16le``,
``gbrp16le``): FFV1 in Matroska, or 16-bit PNG frames (RGB through
swscale, or gray).
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["PlaneFormat", "plane_format", "frame_planes", "planes_to_frame"]

_LAYOUT = re.compile(r"^(gray|gbrp|yuvj?4[0-4][0-4]p)(9le|10le|12le|14le|16le)?$")


class PlaneFormat:
    """How a video's frames are stored: the planar layout, bits per sample, the 16-bit output layout."""

    def __init__(self, name, bits, layout, convert=None):
        self.name = name          # the decoder's pixel format
        self.bits = bits          # container bits per sample (8, 10, 12)
        self.layout = layout      # gray, gbrp, yuv420p, ...
        self.convert = convert    # format frames are repacked to before reading (packed RGB), or None

    @property
    def out16(self):
        """The 16-bit pixel format of the output (FFV1 codes all of them)."""
        return f"{self.layout}16le"

    @property
    def gray(self):
        return self.layout == "gray"

    @property
    def crange(self):
        """The container's range ``(0, 2**bits - 1)``."""
        return (0.0, float(2**self.bits - 1))

    def __repr__(self):
        return f"PlaneFormat({self.name!r}, bits={self.bits}, layout={self.layout!r})"


def plane_format(frame, max_bits=12):
    """The :class:`PlaneFormat` of a decoded frame, or ``ValueError`` saying what is not supported.

    Samples of more than ``max_bits`` bits are refused (16-bit video has
    nothing to de-quantize; :func:`qpsolve.distributed.video.read_planes`
    reads it back with ``max_bits=16``).

    Examples
    --------
    >>> import av
    >>> plane_format(av.VideoFrame(16, 8, "yuv420p10le"))
    PlaneFormat('yuv420p10le', bits=10, layout='yuv420p')
    >>> plane_format(av.VideoFrame(16, 8, "rgb24")).layout
    'gbrp'
    """
    name = frame.format.name
    if name in ("rgb24", "bgr24", "rgb0", "bgr0", "0rgb", "0bgr"):
        return PlaneFormat(name, 8, "gbrp", convert="gbrp")
    m = _LAYOUT.match(name)
    if not m:
        raise ValueError(f"video pixel format {name!r} is not supported: qpsolve reads planar gray, YUV 4:2:0/"
                         f"4:2:2/4:4:4 and RGB at 8 to 12 bits (no alpha)")
    bits = int(m.group(2)[:-2]) if m.group(2) else 8
    if bits > max_bits:
        raise ValueError(f"video pixel format {name!r} has {bits}-bit samples; de-quantization is for 8- to "
                         f"12-bit video")
    layout = m.group(1).replace("yuvj", "yuv")
    return PlaneFormat(name, bits, layout)


def frame_planes(frame, fmt):
    """The planes of ``frame`` as 2-D ``uint8``/``uint16`` arrays (copies, without the line padding)."""
    if fmt.convert is not None:
        frame = frame.reformat(format=fmt.convert)
    dtype = np.dtype(np.uint8) if fmt.bits <= 8 else np.dtype("<u2")
    out = []
    for p in frame.planes:
        a = np.frombuffer(memoryview(p), dtype=dtype)
        out.append(a.reshape(p.height, p.line_size // dtype.itemsize)[:, :p.width].astype(
            np.uint8 if fmt.bits <= 8 else np.uint16))
    return out


def to_uint16(plane, bits):
    """A plane in the container's units (0..2**bits - 1, float) as 16-bit integers (0..65535).

    Examples
    --------
    >>> to_uint16(np.array([0.0, 127.5, 255.0]), 8).tolist()
    [0, 32768, 65535]
    """
    scale = 65535.0 / (2**bits - 1)
    return np.rint(np.clip(np.asarray(plane, dtype=np.float64) * scale, 0, 65535)).astype(np.uint16)


def planes_to_frame(planes16, fmt, width, height, color_range=None):
    """An ``av.VideoFrame`` in ``fmt.out16`` from 16-bit planes (line padding filled in)."""
    import av

    frame = av.VideoFrame(width, height, fmt.out16)
    for p, a in zip(frame.planes, planes16):
        a = np.asarray(a, dtype="<u2")
        if a.shape != (p.height, p.width):
            raise ValueError(f"plane of shape {a.shape} does not fit {fmt.out16} {width}x{height} "
                             f"(expected {(p.height, p.width)})")
        buf = np.zeros((p.height, p.line_size // 2), dtype="<u2")
        buf[:, :p.width] = a
        p.update(buf.tobytes())
    if color_range is not None:
        frame.color_range = color_range
    return frame


def frame_to_png_array(frame, fmt):
    """The 16-bit array a PNG frame holds: gray as it is, colour as RGB (swscale's conversion)."""
    if fmt.gray:
        return frame.to_ndarray(format="gray16le")
    return frame.reformat(format="rgb48le").to_ndarray()
