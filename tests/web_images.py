"""Small upload files for the web page's tests (shared by the browser-less and the browser tests)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def gaussian(n=64, bits=2):
    """The paper's Gaussian, ``bits``-bit data in a uint8."""
    x = np.linspace(-1, 1, n)
    g = np.exp(-2 * (x[:, None] ** 2 + x[None, :] ** 2))
    return ((g / g.max() * 255).astype(np.uint8) >> (8 - bits)) << (8 - bits)


def rgb(n=64, bits=4):
    """A smooth colour scene, ``bits``-bit data in a uint8, shape ``(n, n, 3)``."""
    y, x = np.mgrid[0:n, 0:n] / (n - 1)
    chans = [0.5 + 0.45 * np.sin(2.5 * x + 1.0), 0.2 + 0.7 * y * x, 0.9 - 0.6 * (x - 0.4) ** 2 - 0.5 * y]
    img = (np.clip(np.stack(chans, -1), 0, 1) * 255).astype(np.uint8)
    return (img >> (8 - bits)) << (8 - bits)


def png_bytes(arr, **save):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", **save)
    return buf.getvalue()


def palette_png():
    """A 4-colour palette (indexed) PNG."""
    im = Image.fromarray(gaussian(32)).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _chunk(tag, body):
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)


def bomb_png(width=30000, height=30000):
    """A PNG whose header claims ``width x height`` gray pixels but whose data is tiny."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b""))


def truncated_png():
    """The first half of a valid PNG."""
    data = png_bytes(rgb(64))
    return data[: len(data) // 2]
