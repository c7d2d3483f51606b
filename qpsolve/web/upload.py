"""Turning the bytes of an uploaded file into an image the page can solve.

Everything a visitor can upload goes through :func:`decode_upload`, which
either returns an :class:`Upload` or raises :class:`UploadError` with a
message written for the page (no traceback, no temporary path): a file that
is not an image, a truncated file, an image above the pixel limit, a palette
image, a 1-bit or constant image.  Decoding is :func:`qpsolve.io.read_image`,
the reader the command line uses, so the page and ``qpsolve dequantize``
accept and refuse the same files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..imaging.io import DEFAULT_MAX_PIXELS, read_image, split_alpha
from ..model.bitdepth import detect_bits
from ..model.envelopes import container_range

__all__ = ["ACCEPTED_TYPES", "Upload", "UploadError", "decode_upload"]

#: file extensions offered by the page's file input (what the issue promises)
ACCEPTED_TYPES = ("png", "tif", "tiff", "jpg", "jpeg")

_CHANNELS = {2: "gray + alpha", 3: "RGB", 4: "RGBA"}


class UploadError(ValueError):
    """An uploaded file the page cannot use; ``str(exc)`` is the message shown."""


@dataclasses.dataclass(frozen=True)
class Upload:
    """A decoded upload, split into what is solved and what is passed through.

    Attributes
    ----------
    name : str
        The file name as uploaded.
    digest : str
        SHA-256 of the bytes (keys the page's cache of results).
    image : ndarray
        The decoded image with its stored dtype (alpha included).
    colour : ndarray
        ``(H, W)`` gray or ``(H, W, 3)`` RGB: what is de-quantized.
    alpha : ndarray or None
        The alpha channel, passed through untouched.
    detected : BitDepth
        :func:`qpsolve.model.bitdepth.detect_bits` of ``colour``.
    notes : tuple of str
        Warnings of the reader and the detector, for the page to show.
    """

    name: str
    digest: str
    image: np.ndarray
    colour: np.ndarray
    alpha: np.ndarray | None
    detected: object
    notes: tuple

    @property
    def kind(self):
        """``'gray'``, ``'gray + alpha'``, ``'RGB'`` or ``'RGBA'``."""
        return "gray" if self.image.ndim == 2 else _CHANNELS[self.image.shape[-1]]

    @property
    def container_bits(self):
        """Bits of the unsigned container (8 or 16), ``None`` for float data."""
        return self.detected.container_bits

    @property
    def data_range(self):
        """``(0, 2**c - 1)`` of the container, ``None`` for float data."""
        return container_range(self.image.dtype)

    def describe(self):
        """One line for the page, e.g. ``'64 x 48 RGB, 8-bit container'``.

        Examples
        --------
        >>> import numpy as np, io
        >>> from PIL import Image
        >>> buf = io.BytesIO(); Image.fromarray(np.uint8([[0, 64, 128, 192]] * 4)).save(buf, "PNG")
        >>> decode_upload("tiny.png", buf.getvalue()).describe()
        '4 x 4 gray, 8-bit container'
        """
        h, w = self.image.shape[:2]
        store = f"{self.container_bits}-bit container" if self.container_bits else f"{self.image.dtype} values"
        return f"{w} x {h} {self.kind}, {store}"


def _safe_name(name):
    """A file name for the temporary copy: the upload's base name, extension kept."""
    base = os.path.basename(str(name).replace("\\", "/")) or "upload"
    stem, ext = os.path.splitext(base)
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60] or "upload"
    return stem + ext.lower()


def _is_palette(path):
    """True for PNG/GIF/BMP palette images (Pillow modes P and PA); reads the header only."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return im.mode in ("P", "PA")
    except Exception:  # not something Pillow opens: read_image reports it
        return False


def decode_upload(name, data, *, max_pixels=DEFAULT_MAX_PIXELS, convert_palette=False):
    """Decode an uploaded file for the page.

    Parameters
    ----------
    name : str
        The file name the browser sent (its extension chooses the decoder,
        as for :func:`qpsolve.io.read_image`).
    data : bytes
        The file's content.
    max_pixels : int, optional
        Refuse larger images (read from the header, before decoding).
    convert_palette : bool, optional
        Expand a palette image's colour table instead of refusing it.

    Returns
    -------
    Upload

    Raises
    ------
    UploadError
        With a message for the page naming the file and what is wrong.

    Examples
    --------
    >>> try:
    ...     decode_upload("notes.png", b"shopping list")
    ... except UploadError as exc:
    ...     print(str(exc)[:44])
    notes.png could not be read as an image: can
    """
    shown = os.path.basename(str(name)) or "the file"
    ext = os.path.splitext(shown)[1].lower().lstrip(".")
    if ext not in ACCEPTED_TYPES:
        raise UploadError(f"{shown}: expected a PNG, TIFF or JPEG file (.{', .'.join(ACCEPTED_TYPES)})")
    if not data:
        raise UploadError(f"{shown} is empty (0 bytes)")
    digest = hashlib.sha256(data).hexdigest()
    with tempfile.TemporaryDirectory(prefix="qpsolve-web-") as tmp:
        path = Path(tmp) / _safe_name(shown)
        path.write_bytes(data)

        def clean(exc):
            # read_image names the file by its path; the visitor knows it by its name
            return str(exc).replace(repr(str(path)), shown).replace(str(path), shown)

        if not convert_palette and _is_palette(path):
            raise UploadError(
                f"{shown} is a palette (indexed-colour) image: its pixels are indices into a colour table, "
                f"not brightness values. Tick 'Expand palette images' to use its colour table as the levels, "
                f"or save it as gray or RGB."
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                image = read_image(path, max_pixels=max_pixels,
                                   palette="convert" if convert_palette else "error")
            except OSError as exc:
                reason = clean(exc)
                prefix = f"cannot read {shown}: "
                reason = reason[len(prefix):] if reason.startswith(prefix) else reason
                raise UploadError(f"{shown} could not be read as an image: {reason}") from None
            except ValueError as exc:
                msg = clean(exc).replace(" (--max-pixels)", " (qpsolve web --max-pixels)")
                raise UploadError(msg) from None
    notes = [clean(w.message) for w in caught]
    return _split(shown, digest, np.asarray(image), notes)


def _split(name, digest, image, notes):
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (2, 3, 4)):
        raise UploadError(f"{name} has shape {image.shape}; expected a gray, gray + alpha, RGB or RGBA image")
    if image.dtype.kind not in "uif":
        raise UploadError(f"{name} holds {image.dtype} values; expected integer or float pixels")
    colour, alpha = split_alpha(image)
    try:
        detected = detect_bits(colour)
    except (ValueError, TypeError) as exc:
        raise UploadError(f"{name}: {exc}") from None
    notes = list(notes) + list(detected.notes)
    if alpha is not None:
        notes.append("the alpha channel is passed through untouched")
    return Upload(name, digest, image, colour, alpha, detected, tuple(notes))
