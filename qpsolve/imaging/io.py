"""Reading and writing images; every write is atomic (no partial files).

Inputs: PNG (8/16-bit), TIFF, JPEG and anything else imageio reads, plus
``.npy``; grayscale, grayscale+alpha, RGB and RGBA.  Outputs by extension:
``.png`` (16-bit), ``.tif``/``.tiff`` (float32), ``.npy`` (float64).

Policy for inputs the envelope model cannot describe:

* **palette (indexed-colour) images** hold indices into a colour table, not
  intensities.  By default :func:`read_image` refuses them
  (``palette="error"``); ``palette="convert"`` expands the table explicitly
  (to gray, gray+alpha, RGB or RGBA) and says so with a
  :class:`PaletteConversionWarning`.  The levels of the table are then
  the image's levels (detect them with :func:`qpsolve.model.bitdepth.detect_bits`).
* **1-bit images** are always refused: two levels carry no smooth signal to
  recover (the paper's section 6: every method assigns one value per region).
* **decompression bombs**: the pixel count is read from the header before
  any decoding and compared with ``max_pixels`` (default 100 Mpx).
* truncated or corrupt files raise :class:`OSError` naming the file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..validation import check_positive_int

__all__ = [
    "read_image",
    "write_image",
    "check_output_path",
    "atomic_output",
    "split_alpha",
    "merge_alpha",
    "OUTPUT_EXTENSIONS",
    "DEFAULT_MAX_PIXELS",
    "PaletteConversionWarning",
]

OUTPUT_EXTENSIONS = (".png", ".tif", ".tiff", ".npy")

#: default limit of :func:`read_image` against decompression bombs (100 Mpx)
DEFAULT_MAX_PIXELS = 100_000_000

_PALETTES = ("error", "convert")


class PaletteConversionWarning(UserWarning):
    """Emitted when ``read_image(..., palette="convert")`` expands a colour table."""


def _guard_pixels(path, npix, shape, max_pixels):
    if max_pixels is not None and npix > max_pixels:
        raise ValueError(
            f"{str(path)!r} has {npix} pixels (shape {shape}), more than max_pixels={max_pixels}; "
            f"this protects against decompression bombs -- raise max_pixels (--max-pixels) if you trust the file"
        )


def _read_npy(path, max_pixels):
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    npix = int(np.prod(arr.shape[:2])) if arr.ndim >= 2 else int(arr.size)
    _guard_pixels(path, npix, arr.shape, max_pixels)
    return np.array(arr)


def _read_tiff(path, max_pixels):
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.pages:
            raise OSError("no image in the file")
        page = tif.pages[0]
        shape = tuple(page.shape)
        npix = int(page.imagewidth) * int(page.imagelength)
        _guard_pixels(path, npix, shape, max_pixels)
        photometric = getattr(page.photometric, "name", str(page.photometric))
        if photometric == "PALETTE":
            raise ValueError(
                f"{str(path)!r} is a palette (indexed-colour) TIFF; convert it to gray or RGB first"
            )
        if page.bitspersample == 1:
            raise ValueError(f"{str(path)!r} is a 1-bit (bilevel) TIFF; two levels cannot be de-quantized")
        return page.asarray()


def _png_header(path):
    """(width, height, bit depth, colour type, interlace) of a PNG, or ``None``."""
    with open(path, "rb") as fh:
        head = fh.read(33)
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    w = int.from_bytes(head[16:20], "big")
    h = int.from_bytes(head[20:24], "big")
    return w, h, head[24], head[25], head[28]


def _read_png16_colour(path):
    """Decode a 16-bit gray+alpha/RGB/RGBA PNG (Pillow reduces those to 8 bits).

    Plain numpy: Sub and Up filters are vectorized, Average and Paeth run a
    loop over the pixels of a row.
    """
    import zlib

    with open(path, "rb") as fh:
        data = fh.read()
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        tag = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if len(body) < n:
            raise OSError("truncated PNG chunk")
        if tag == b"IHDR":
            ihdr = body
        elif tag == b"IDAT":
            idat.append(body)
        elif tag == b"IEND":
            break
        pos += 12 + n
    else:
        raise OSError("truncated PNG: no IEND chunk")
    w, h = int.from_bytes(ihdr[0:4], "big"), int.from_bytes(ihdr[4:8], "big")
    channels = {4: 2, 2: 3, 6: 4}[ihdr[9]]
    if ihdr[12]:
        raise ValueError(f"{str(path)!r}: interlaced 16-bit colour PNGs are not supported; re-save without interlace")
    bpp = 2 * channels
    stride = w * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    if raw.size < h * (stride + 1):
        raise OSError("truncated PNG image data")
    raw = raw[: h * (stride + 1)].reshape(h, stride + 1)
    out = np.zeros((h, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for i in range(h):
        f, line = raw[i, 0], raw[i, 1:].astype(np.int64)
        if f == 0:
            cur = line
        elif f == 1:
            cur = np.cumsum(line.reshape(w, bpp), axis=0).ravel() & 0xFF
        elif f == 2:
            cur = (line + prev) & 0xFF
        elif f in (3, 4):
            cur = line.copy()
            for j in range(0, stride, bpp):
                a = cur[j - bpp:j] if j else np.zeros(bpp, np.int64)
                b = prev[j:j + bpp]
                if f == 3:
                    pred = (a + b) // 2
                else:
                    c = prev[j - bpp:j] if j else np.zeros(bpp, np.int64)
                    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
                    pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
                cur[j:j + bpp] = (cur[j:j + bpp] + pred) & 0xFF
        else:
            raise OSError(f"bad PNG filter type {f} in row {i}")
        out[i] = cur
        prev = cur
    pix = out.astype(np.uint8).reshape(h, w, channels, 2)
    return (pix[..., 0].astype(np.uint16) << 8) | pix[..., 1]


def _read_pil(path, max_pixels, palette):
    """Decode with Pillow (PNG, JPEG, ...): header checks first, then the pixels."""
    from PIL import Image

    hdr = _png_header(path)
    if hdr is not None:
        _guard_pixels(path, hdr[0] * hdr[1], (hdr[1], hdr[0]), max_pixels)
    # Pillow has its own bomb limit (warning above MAX_IMAGE_PIXELS, error above twice that);
    # ours (max_pixels) replaces it for this call.
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return _decode_pil(path, max_pixels, palette, Image)
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _decode_pil(path, max_pixels, palette, Image):
    with Image.open(path) as im:
        w, h = im.size
        frames = getattr(im, "n_frames", 1)
        _guard_pixels(path, int(w) * int(h), (h, w), max_pixels)
        if frames > 1:
            warnings.warn(f"{str(path)!r} has {frames} frames; reading the first only", stacklevel=3)
        mode = im.mode
        if mode == "1":
            raise ValueError(
                f"{str(path)!r} is a 1-bit (black and white) image; two levels carry no smooth signal "
                f"to recover (paper section 6), so it is refused"
            )
        if mode in ("P", "PA"):
            if palette == "error":
                raise ValueError(
                    f"{str(path)!r} is a palette (indexed-colour) image: its values are indices into a "
                    f"colour table, not intensities; pass palette='convert' (CLI: --convert-palette) to "
                    f"expand the table, or convert it to gray/RGB yourself"
                )
            im.load()
            has_alpha = mode == "PA" or "transparency" in im.info
            pal = im.getpalette() or []
            rgb = np.asarray(pal, dtype=np.int64).reshape(-1, 3) if pal else np.zeros((0, 3))
            gray = rgb.size and bool(np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 1] == rgb[:, 2]))
            target = ("LA" if has_alpha else "L") if gray else ("RGBA" if has_alpha else "RGB")
            warnings.warn(
                f"{str(path)!r}: palette image converted to {target} (its colour table gives the levels)",
                PaletteConversionWarning,
                stacklevel=3,
            )
            return np.asarray(im.convert(target))
        if mode == "CMYK":
            raise ValueError(f"{str(path)!r} is a CMYK image; convert it to RGB first")
        hdr = _png_header(path)
        if hdr is not None and hdr[2] == 16 and hdr[3] in (2, 4, 6):
            return _read_png16_colour(path)  # Pillow would silently reduce these to 8 bits
        im.load()  # truncated data raises here (Pillow does not load truncated images by default)
    import imageio.v3 as iio

    arr = iio.imread(path, index=0) if frames > 1 else iio.imread(path)
    return np.asarray(arr)


def read_image(path, *, max_pixels=DEFAULT_MAX_PIXELS, palette="error"):
    """Read an image (or ``.npy`` array) with its stored dtype.

    Parameters
    ----------
    path : str or Path
        PNG (8- or 16-bit), TIFF, JPEG, anything else Pillow/imageio decode,
        or ``.npy``.
    max_pixels : int or None, optional
        Refuse images with more pixels (rows x columns) than this, checked
        from the header before decoding (decompression bombs).  ``None``
        disables the check.
    palette : {'error', 'convert'}, optional
        What to do with palette (indexed-colour) images: refuse them, or
        expand the colour table to gray/RGB(A) with a
        :class:`PaletteConversionWarning`.

    Returns
    -------
    ndarray
        ``(rows, cols)`` for gray, ``(rows, cols, channels)`` for gray+alpha,
        RGB, RGBA, in the stored dtype (``uint8``/``uint16``/...).

    Raises
    ------
    OSError
        When the file is missing, truncated or cannot be decoded (the message
        names it).
    ValueError
        For images beyond ``max_pixels``, 1-bit images, palette images with
        ``palette='error'``, CMYK.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "x.npy"); np.save(p, np.zeros((4, 5), np.uint8))
    >>> read_image(p).shape
    (4, 5)
    >>> try:
    ...     read_image(p, max_pixels=10)
    ... except ValueError as exc:
    ...     print("refused:", "20 pixels" in str(exc))
    refused: True
    """
    max_pixels = check_positive_int(max_pixels, "max_pixels", allow_none=True)
    if not isinstance(palette, str) or palette not in _PALETTES:
        raise ValueError(f"palette must be one of {_PALETTES}, got {palette!r}")
    path = Path(path)
    if not path.is_file():
        raise OSError(f"cannot read {str(path)!r}: no such file")
    ext = path.suffix.lower()
    try:
        if ext == ".npy":
            arr = _read_npy(path, max_pixels)
        elif ext in (".tif", ".tiff"):
            arr = _read_tiff(path, max_pixels)
        else:
            arr = _read_pil(path, max_pixels, palette)
    except (ValueError, OSError) as exc:
        msg = str(exc)
        if isinstance(exc, ValueError) and str(path) in msg:
            raise  # our own, already names the file
        if str(path) in msg:
            raise OSError(msg) from exc
        raise OSError(f"cannot read {str(path)!r}: {msg or type(exc).__name__}") from exc
    except Exception as exc:  # decoders raise many types (SyntaxError, zlib.error, ...); report one
        raise OSError(f"cannot read {str(path)!r}: {exc or type(exc).__name__}") from exc
    arr = np.asarray(arr)
    if arr.dtype == bool:
        raise ValueError(f"{str(path)!r} is a 1-bit (boolean) image; two levels cannot be de-quantized")
    return arr


def split_alpha(image):
    """Split an alpha channel off a gray+alpha or RGBA image (last axis 2 or 4).

    Returns ``(colour, alpha)``; ``alpha`` is ``None`` when there is none.
    The alpha channel is returned untouched (same dtype, same values).

    Examples
    --------
    >>> rgba = np.zeros((3, 3, 4), np.uint8); rgba[..., 3] = 200
    >>> c, a = split_alpha(rgba)
    >>> c.shape, a.shape, int(a.max())
    ((3, 3, 3), (3, 3), 200)
    >>> split_alpha(np.zeros((3, 3, 3)))[1] is None
    True
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] in (2, 4):
        return arr[..., :-1] if arr.shape[-1] == 4 else arr[..., 0], arr[..., -1]
    return arr, None


def merge_alpha(colour, alpha):
    """Put an alpha channel back after :func:`split_alpha` (values unchanged, as float64).

    Examples
    --------
    >>> merge_alpha(np.zeros((2, 2, 3)), np.full((2, 2), 7, np.uint8))[..., 3].tolist()
    [[7.0, 7.0], [7.0, 7.0]]
    """
    if alpha is None:
        return colour
    c = np.asarray(colour, dtype=np.float64)
    a = np.asarray(alpha).astype(np.float64)
    if c.ndim == 2:
        c = c[..., None]
    return np.concatenate([c, a[..., None]], axis=-1)


def _encode_png16(arr, data_range):
    lo, hi = data_range
    scaled = (np.asarray(arr, dtype=np.float64) - lo) / (hi - lo) * 65535.0
    if scaled.min() < -1e-6 or scaled.max() > 65535.0 + 1e-6:
        raise ValueError(
            f"values span [{arr.min():g}, {arr.max():g}], outside the range {data_range} mapped "
            f"to 16-bit PNG; write .tif or .npy to keep them"
        )
    return np.rint(np.clip(scaled, 0, 65535)).astype(np.uint16)  # clip only removes round-off


def _png_chunk(tag, data):
    import zlib

    return (len(data).to_bytes(4, "big") + tag + data
            + (zlib.crc32(tag + data) & 0xFFFFFFFF).to_bytes(4, "big"))


def _write_png16(path, arr):
    """16-bit PNG of gray (H, W), gray+alpha, RGB or RGBA (H, W, C) ``uint16`` data.

    Written directly (Pillow cannot write 16-bit colour PNGs).
    """
    import zlib

    a = np.asarray(arr, dtype=np.uint16)
    if a.ndim == 2:
        a = a[..., None]
    h, w, c = a.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = a.astype(">u2").reshape(h, w * c).view(np.uint8).reshape(h, 2 * w * c)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 per row
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([16, colour_type, 0, 0, 0])
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.write(_png_chunk(b"IHDR", ihdr))
        fh.write(_png_chunk(b"IDAT", zlib.compress(raw, 6)))
        fh.write(_png_chunk(b"IEND", b""))


def check_output_path(path):
    """Check, before any work, that ``path`` can be written by :func:`write_image`.

    Returns it as a :class:`~pathlib.Path`; raises ``ValueError`` for an
    unsupported extension and ``OSError`` for a missing folder.

    Examples
    --------
    >>> check_output_path("result.npy").suffix
    '.npy'
    """
    out = Path(path)
    if out.suffix.lower() not in OUTPUT_EXTENSIONS:
        raise ValueError(f"output {str(path)!r}: extension must be one of {OUTPUT_EXTENSIONS}")
    if not out.parent.resolve().is_dir():
        raise OSError(f"cannot write {str(path)!r}: folder does not exist")
    return out


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temporary file name beside ``path``; rename it to ``path`` on success.

    On any error (including ``KeyboardInterrupt``) the temporary file is
    removed, so no partial output is ever left.  The folder must exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_output(target) as tmp:
    ...     _ = pathlib.Path(tmp).write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OSError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".qpsolve-", suffix=path.suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        mask = os.umask(0)  # mkstemp makes 0600; give the file what open() would
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _tiff_layout(shape):
    """How tifffile should store an image of ``shape``: said, so that readers agree on it.

    tifffile guesses RGB for ``(h, w, 3|4)`` today and will stop guessing;
    gray + alpha and other channel counts are interleaved samples of a gray page.
    """
    if len(shape) == 3 and shape[-1] in (3, 4):
        extra = {"extrasamples": ("unassalpha",)} if shape[-1] == 4 else {}
        return {"photometric": "rgb", "planarconfig": "contig", **extra}
    if len(shape) == 3:
        return {"photometric": "minisblack", "planarconfig": "contig"}
    return {"photometric": "minisblack"}


def write_image(path, arr, *, data_range=None):
    """Write ``arr`` atomically: to a temporary file beside ``path``, then renamed.

    Parameters
    ----------
    path : str or Path
        ``.png`` (16-bit, needs ``data_range``), ``.tif``/``.tiff`` (float32)
        or ``.npy`` (float64).
    arr : ndarray
        The image.
    data_range : (float, float), optional
        For PNG: the values mapped to 0 and 65535.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in OUTPUT_EXTENSIONS:
        raise ValueError(f"output {str(path)!r}: extension must be one of {OUTPUT_EXTENSIONS}")
    if ext == ".png":
        if data_range is None:
            raise ValueError("a PNG output needs the input's data range (use .tif or .npy for floats)")
        payload = _encode_png16(arr, data_range)
    with atomic_output(path) as tmp:
        if ext == ".png":
            _write_png16(tmp, payload)
        elif ext in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(tmp, np.asarray(arr, dtype=np.float32), **_tiff_layout(np.shape(arr)))
        else:
            with open(tmp, "wb") as fh:
                np.save(fh, np.asarray(arr, dtype=np.float64), allow_pickle=False)
    return path
