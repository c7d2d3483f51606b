"""Pictures for the page: 8-bit previews, the before/after wipe, zoomed crops.

Pure numpy; the page only shows what these return.  Banding shows where the
picture is flat but not constant, so :func:`flattest_windows` looks for the
windows where the result bends least among those whose input changes level
at least once (a window of one level shows nothing before or after).
"""

from __future__ import annotations

import numpy as np

__all__ = ["before_image", "for_browser", "crop_pair", "flattest_windows", "luminance", "to_display", "wipe"]


def to_display(arr, data_range):
    """Map ``arr`` (gray, RGB or with alpha) from ``data_range`` to ``uint8`` for the browser.

    Examples
    --------
    >>> to_display(np.array([[0.0, 127.5, 255.0]]), (0, 255)).tolist()
    [[0, 128, 255]]
    >>> to_display(np.array([[0, 65535]], np.uint16), (0, 65535)).tolist()
    [[0, 255]]
    """
    lo, hi = data_range
    a = (np.asarray(arr, dtype=np.float64) - lo) * (255.0 / (hi - lo if hi > lo else 1.0))
    return np.rint(np.clip(a, 0, 255)).astype(np.uint8)


def for_browser(arr8, min_width=512, max_width=1600):
    """``uint8`` data the browser shows: gray + alpha becomes RGBA (browsers have no LA
    images); images narrower than ``min_width`` are enlarged by whole pixels, so the
    browser shows the steps as they are instead of blurring them, and images wider
    than ``max_width`` are reduced by block means (a page of full-size photographs
    would send tens of megabytes per view; the crops keep full resolution).

    Examples
    --------
    >>> for_browser(np.zeros((2, 2, 2), np.uint8), min_width=1).shape
    (2, 2, 4)
    >>> for_browser(np.zeros((64, 100), np.uint8)).shape
    (384, 600)
    >>> for_browser(np.zeros((3000, 4000, 3), np.uint8)).shape
    (1000, 1333, 3)
    """
    a = np.asarray(arr8)
    if a.ndim == 3 and a.shape[-1] == 2:
        a = np.concatenate([np.repeat(a[..., :1], 3, axis=-1), a[..., 1:]], axis=-1)
    z = -(-int(min_width) // a.shape[1])
    if z > 1:
        a = np.repeat(np.repeat(a, z, axis=0), z, axis=1)
    f = -(-a.shape[1] // int(max_width))
    if f > 1:
        h, w = a.shape[0] // f * f, a.shape[1] // f * f
        blocks = a[:h, :w].reshape(h // f, f, w // f, f, *a.shape[2:]).astype(np.float64)
        a = np.rint(blocks.mean(axis=(1, 3))).astype(np.uint8)
    return a


def before_image(upload, gain):
    """The input as the page compares it: ``y / h`` when brightening (plain division), else ``y``.

    Alpha, if any, is kept as it is.
    """
    img = np.asarray(upload.image, dtype=np.float64)
    if gain == 1:
        return img
    out = img.copy()
    if upload.alpha is not None:
        out[..., :-1] /= gain
    else:
        out /= gain
    return out


def luminance(arr, has_alpha=False):
    """Gray values of gray, gray+alpha, RGB or RGBA data (Rec. 601 weights for RGB).

    Examples
    --------
    >>> luminance(np.ones((2, 2, 3))).shape
    (2, 2)
    """
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 2:
        return a
    if has_alpha:
        a = a[..., :-1]
    if a.ndim == 2 or a.shape[-1] == 1:
        return a.reshape(a.shape[:2])
    return a[..., :3] @ np.array([0.299, 0.587, 0.114])


def _box_sums(a, w):
    """Sums of ``a`` over every ``w x w`` window (top-left corners), by an integral image."""
    s = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    s[1:, 1:] = a.cumsum(0).cumsum(1)
    return s[w:, w:] - s[:-w, w:] - s[w:, :-w] + s[:-w, :-w]


def crop_size(shape):
    """Side of the zoomed crops: a quarter of the shorter side, between 8 and 64 pixels.

    Examples
    --------
    >>> crop_size((64, 64)), crop_size((4000, 6000)), crop_size((20, 30))
    (16, 64, 8)
    """
    return int(min(64, max(8, min(shape[:2]) // 4)))


def flattest_windows(before, after, step=None, k=3, size=None):
    """Top-left corners ``(row, col)`` and side of up to ``k`` non-overlapping flat windows.

    Parameters
    ----------
    before, after : ndarray, 2-D
        Luminance of the input and of the result.
    step : float, optional
        The input's level step in ``before``'s units.  Neighbours more than
        1.5 steps apart are an object's edge, not a band; windows with such
        edges are avoided.  Default: the smallest difference between
        neighbours.
    k : int
        How many windows.
    size : int, optional
        Window side (default :func:`crop_size`).

    Returns
    -------
    list of (int, int, int)
        ``(row, col, size)``, flattest first: least squared Laplacian of
        ``after`` among the windows a band edge of ``before`` crosses (at least
        ``size`` one-level changes between neighbours, at most a quarter of
        the pixels: more is texture) and no object edge does; failing that,
        windows with any one-level change and no edge; then any change at
        all; then all windows.

    Examples
    --------
    >>> y = np.repeat(np.arange(64) // 16 * 64.0, 64).reshape(64, 64)   # four bands
    >>> y[:, :32] += np.random.default_rng(0).integers(0, 2, (64, 32)) * 64  # texture on the left
    >>> flattest_windows(y, y, k=2)   # in the banded right half, across a band edge
    [(48, 36, 16), (4, 36, 16)]
    """
    b = np.asarray(before, dtype=np.float64)
    a = np.asarray(after, dtype=np.float64)
    w = crop_size(b.shape) if size is None else int(size)
    h_, w_ = b.shape
    if h_ < w or w_ < w:
        return [(0, 0, min(h_, w_))]
    p = np.pad(a, 1, mode="edge")  # so that windows on the border are not favoured
    lap = 4 * p[1:-1, 1:-1] - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:]
    rough = _box_sums(lap**2, w)
    dx, dy = np.abs(np.diff(b, axis=1)), np.abs(np.diff(b, axis=0))
    if step is None:
        nz = np.concatenate([dx[dx > 0], dy[dy > 0]])
        step = float(nz.min()) if nz.size else 1.0
    small, big = np.zeros_like(b), np.zeros_like(b)
    for d, sl in ((dx, np.s_[:, 1:]), (dy, np.s_[1:, :])):
        small[sl] += (d > 0) & (d <= 1.01 * step)
        big[sl] += d > 1.5 * step
    n_small, n_big = _box_sums(small, w), _box_sums(big, w)
    stride = max(1, w // 4)
    rows = np.arange(0, rough.shape[0], stride)
    cols = np.arange(0, rough.shape[1], stride)
    cand_r, cand_c = np.meshgrid(rows, cols, indexing="ij")
    cand_r, cand_c = cand_r.ravel(), cand_c.ravel()
    score = rough[cand_r, cand_c]
    ns, nb = n_small[cand_r, cand_c], n_big[cand_r, cand_c]
    for keep in ((ns >= w) & (ns <= w * w / 4) & (nb == 0), (ns > 0) & (nb == 0), ns + nb > 0):
        if keep.any():
            cand_r, cand_c, score = cand_r[keep], cand_c[keep], score[keep]
            break
    chosen = []
    for i in np.argsort(score, kind="stable"):
        r, c = int(cand_r[i]), int(cand_c[i])
        if all(abs(r - r2) >= w or abs(c - c2) >= w for r2, c2, _ in chosen):
            chosen.append((r, c, w))
            if len(chosen) == k:
                break
    return chosen


def crop_pair(before, after, window, zoom_to=256):
    """Zoomed, contrast-stretched ``uint8`` crops of the same window in both images.

    Both crops are stretched by the same factor (the larger of their two
    ranges fills 0-255), each about its own middle.  Same contrast, so the
    steps of the input and their absence in the result compare fairly; own
    middle, because truncated data (``floor``) lie half a level below the
    plate everywhere, an offset that would otherwise dominate the pair.
    Nearest-neighbour zoom: pixels stay square.

    Examples
    --------
    >>> y = np.repeat(np.arange(8) // 4 * 1.0, 8).reshape(8, 8)     # one step of 1
    >>> b, a = crop_pair(y, y * 0.5 + 10.0, (0, 0, 8), zoom_to=16)   # half the step, far above
    >>> b.shape, int(b.min()), int(b.max()), int(a.min()), int(a.max())
    ((16, 16), 0, 255, 64, 191)
    """
    r, c, w = window
    b = np.asarray(before, dtype=np.float64)[r:r + w, c:c + w]
    a = np.asarray(after, dtype=np.float64)[r:r + w, c:c + w]
    span = max(np.ptp(b), np.ptp(a)) or 1.0
    z = max(1, int(zoom_to) // max(1, w))
    out = []
    for x in (b, a):
        mid = (x.min() + x.max()) / 2
        x8 = to_display(x, (mid - span / 2, mid + span / 2))
        out.append(np.kron(x8, np.ones((z, z), np.uint8)) if x.ndim == 2 else np.repeat(np.repeat(x8, z, 0), z, 1))
    return tuple(out)


def wipe(before8, after8, fraction):
    """The before/after wipe: ``before8`` left of the split, ``after8`` right, a line between.

    Examples
    --------
    >>> w = wipe(np.zeros((2, 10), np.uint8), np.full((2, 10), 200, np.uint8), 0.5)
    >>> w[0].tolist()
    [0, 0, 0, 0, 0, 255, 200, 200, 200, 200]
    """
    b = np.asarray(before8)
    a = np.asarray(after8)
    if b.shape != a.shape:
        raise ValueError(f"before and after differ in shape: {b.shape} and {a.shape}")
    split = int(round(float(np.clip(fraction, 0, 1)) * b.shape[1]))
    out = a.copy()
    out[:, :split] = b[:, :split]
    if 0 < split < b.shape[1]:
        out[:, split] = 255  # the handle: a white line
        if out.ndim == 3 and out.shape[-1] in (2, 4):
            out[:, split, -1] = 255
    return out
