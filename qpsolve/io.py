"""Reading and writing images; every write is atomic (no partial files).

Inputs: PNG (8/16-bit), TIFF, JPEG and anything else imageio reads, plus
``.npy``.  Outputs by extension: ``.png`` (16-bit), ``.tif``/``.tiff``
(float32), ``.npy`` (float64).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["read_image", "write_image", "OUTPUT_EXTENSIONS"]

OUTPUT_EXTENSIONS = (".png", ".tif", ".tiff", ".npy")


def read_image(path):
    """Read an image (or ``.npy`` array) with its stored dtype.

    Raises
    ------
    OSError
        When the file is missing or cannot be decoded (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise OSError(f"cannot read {str(path)!r}: no such file")
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            return tifffile.imread(path)
        import imageio.v3 as iio

        return iio.imread(path)
    except Exception as exc:  # decoders raise many types; report one
        raise OSError(f"cannot read {str(path)!r}: {exc}") from exc


def _encode_png16(arr, data_range):
    lo, hi = data_range
    scaled = (np.asarray(arr, dtype=np.float64) - lo) / (hi - lo) * 65535.0
    if scaled.min() < -1e-6 or scaled.max() > 65535.0 + 1e-6:
        raise ValueError(
            f"values span [{arr.min():g}, {arr.max():g}], outside the range {data_range} mapped "
            f"to 16-bit PNG; write .tif or .npy to keep them"
        )
    return np.rint(np.clip(scaled, 0, 65535)).astype(np.uint16)  # clip only removes round-off


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
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OSError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".qpsolve-", suffix=ext, dir=folder)
    os.close(fd)
    try:
        if ext == ".png":
            import imageio.v3 as iio

            iio.imwrite(tmp, payload, extension=".png")
        elif ext in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(tmp, np.asarray(arr, dtype=np.float32))
        else:
            with open(tmp, "wb") as fh:
                np.save(fh, np.asarray(arr, dtype=np.float64), allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
