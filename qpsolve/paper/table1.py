"""Reproduce Table 1 of the plate-bending paper, side by side with the published numbers.

Völgyes et al., "Image De-Quantization Using Plate Bending Model", Algorithms
11(8):110, 2018, Table 1: 64x64 Gaussian and Rosenbrock images (made by
:mod:`qpsolve.imaging.data`), bit depth reduced by right shift to 2, 3 and 5 bits,
restored by zero padding (the truncated image itself), the bounded Laplace
model and the biharmonic (plate-bending) model, scored by NRMSE, PSNR and SSIM.

Conventions (all checked against the paper's zero-pad rows, which match to the
printed 4 decimals):

* metrics come from :mod:`skimage.metrics` on 8-bit images with
  ``data_range=255``; SSIM uses ``win_size=7``; NRMSE uses the ``'euclidean'``
  normalization, ``||ref - x|| / ||ref||`` (``'min-max'`` and ``'mean'`` do
  not reproduce the paper's zero-pad column);
* a solved float image is turned into 8 bits by :func:`to_8bit` (round to the
  nearest level);
* the envelope is the ``floor`` one of right-shifted data: ``[v, v + step]``
  intersected with ``[0, 255]``.

Every solved row records its solver's certificate; a solve that is not
certified optimal raises :class:`NotCertifiedError` (no table is produced from
an unconverged answer).

The figures of the paper are in :mod:`qpsolve.paper.figures`.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..certificate import DEFAULT_TOL
from ..imaging.data import gaussian, rosenbrock, to_uint8, truncate_bits
from ..imaging.image import dequantize
from ..imaging.io import atomic_output
from ..validation import check_count, check_names

__all__ = [
    "PAPER_TABLE1",
    "PAPER_SIZE",
    "FUNCTIONS",
    "BITS",
    "METHODS",
    "VARIANTS",
    "DEFAULT_VARIANTS",
    "NRMSE_NORMALIZATION",
    "SSIM_WIN_SIZE",
    "NotCertifiedError",
    "Table1Row",
    "check_certified",
    "to_8bit",
    "metrics",
    "paper_values",
    "compute_table1",
    "format_table1",
    "table1_markdown",
    "write_text",
]

#: Image side of the paper's Table 1.
PAPER_SIZE = 64

#: Table 1 of the paper as printed: (function, bits, method, NRMSE, PSNR, SSIM).
PAPER_TABLE1 = (
    ("Gaussian", 2, "zero pad", 0.3252, 17.0239, 0.4174),
    ("Gaussian", 2, "Laplace", 0.3362, 16.7344, 0.4661),
    ("Gaussian", 2, "biharmonic", 0.0713, 30.2044, 0.9462),
    ("Gaussian", 3, "zero pad", 0.1618, 23.0882, 0.7585),
    ("Gaussian", 3, "Laplace", 0.1535, 23.5467, 0.8187),
    ("Gaussian", 3, "biharmonic", 0.1169, 25.9098, 0.8877),
    ("Gaussian", 5, "zero pad", 0.0383, 35.6112, 0.9831),
    ("Gaussian", 5, "Laplace", 0.0308, 37.4985, 0.9918),
    ("Gaussian", 5, "biharmonic", 0.0371, 35.8821, 0.9885),
    ("Rosenbrock", 2, "zero pad", 0.4011, 19.3146, 0.3118),
    ("Rosenbrock", 2, "Laplace", 0.4457, 18.3993, 0.3855),
    ("Rosenbrock", 2, "biharmonic", 0.2315, 24.0895, 0.8097),
    ("Rosenbrock", 3, "zero pad", 0.2194, 24.5547, 0.5317),
    ("Rosenbrock", 3, "Laplace", 0.2646, 22.9290, 0.4988),
    ("Rosenbrock", 3, "biharmonic", 0.1520, 27.7415, 0.8251),
    ("Rosenbrock", 5, "zero pad", 0.0561, 36.4029, 0.8999),
    ("Rosenbrock", 5, "Laplace", 0.0721, 34.2228, 0.8555),
    ("Rosenbrock", 5, "biharmonic", 0.0681, 34.7163, 0.9319),
)

#: Test images of Table 1 (float functions, made 8-bit by :func:`qpsolve.imaging.data.to_uint8`).
FUNCTIONS = {"Gaussian": gaussian, "Rosenbrock": rosenbrock}

#: Bit depths of Table 1.
BITS = (2, 3, 5)

#: Solved methods of Table 1 (``zero pad`` is the truncated image itself, no solve).
METHODS = {
    "Laplace": {"model": "laplace"},
    "biharmonic": {"model": "biharmonic"},
}

#: Research variants (issue item 3): extra rows, not in the paper.  Keys are
#: the names accepted by ``variants=``; values are ``(row label, dequantize keywords)``.
#: ``mixed`` is ``alpha * laplace + beta * biharmonic``; for a wave of length
#: ``lam`` pixels the stretching term dominates when ``lam > 2 pi / sqrt(alpha)``
#: (with ``beta = 1``), so ``alpha = 1`` is Laplace-like at every visible scale,
#: while ``alpha = 0.01`` puts the cross-over near 63 px, the image size.
VARIANTS = {
    "thin-plate": ("thin-plate", {"model": "thin-plate"}),
    "mixed": ("mixed a=1 b=1", {"model": "mixed", "alpha": 1.0, "beta": 1.0}),
    "mixed-0.01": ("mixed a=0.01 b=1", {"model": "mixed", "alpha": 0.01, "beta": 1.0}),
    "even": ("biharmonic even bc", {"model": "biharmonic", "bc": "even"}),
    "triharmonic": ("triharmonic", {"model": "triharmonic"}),
}

#: Variants computed by default (all of them; ``triharmonic`` is the slowest, P ~ h^-6).
DEFAULT_VARIANTS = ("thin-plate", "mixed", "mixed-0.01", "even", "triharmonic")

#: ``skimage.metrics.normalized_root_mse`` normalization that reproduces the paper.
NRMSE_NORMALIZATION = "euclidean"

#: SSIM window of the paper's scores.
SSIM_WIN_SIZE = 7


class NotCertifiedError(RuntimeError):
    """A solve behind a published number was not certified optimal."""


@dataclass(frozen=True)
class Table1Row:
    """One row of our Table 1.

    Attributes
    ----------
    function, bits, method : str, int, str
        Test image, bit depth, method label.
    nrmse, psnr, ssim : float
        Our scores (see :func:`metrics`).
    variant : bool
        ``True`` for research rows (not in the paper).
    paper : tuple of float or None
        The paper's ``(NRMSE, PSNR, SSIM)`` for this row, when it has one and
        the image size is the paper's.
    solver, status : str or None
        Backend and certificate status (``None`` for zero pad: nothing solved).
    certified : bool or None
        ``res.success`` of the solve (``None`` for zero pad).
    objective, relative_gap, solve_time : float or None
        From the solve's certificate.
    """

    function: str
    bits: int
    method: str
    nrmse: float
    psnr: float
    ssim: float
    variant: bool = False
    paper: tuple | None = None
    solver: str | None = None
    status: str | None = None
    certified: bool | None = None
    objective: float | None = None
    relative_gap: float | None = None
    solve_time: float | None = None

    @property
    def diff(self):
        """``ours - paper`` for (NRMSE, PSNR, SSIM), or ``None``."""
        if self.paper is None:
            return None
        return tuple(o - p for o, p in zip((self.nrmse, self.psnr, self.ssim), self.paper))


def check_certified(res, what):
    """Raise :class:`NotCertifiedError` unless ``res.success``; return ``res``.

    Parameters
    ----------
    res : SolveResult
        A result of :func:`qpsolve.solve` / :func:`qpsolve.dequantize`.
    what : str
        Names the solve in the error message.
    """
    if not res.success:
        raise NotCertifiedError(
            f"{what}: solver {res.get('solver')!r} stopped with status {res.status!s}, "
            f"not certified optimal ({res.kkt}); refusing to report its numbers"
        )
    return res


def to_8bit(f):
    """Turn a solved float image (0-255 scale) into the 8-bit image that is scored.

    Rounds to the nearest 8-bit level (``np.rint``), then clips to ``[0, 255]``
    (a no-op apart from round-off: every solution lies inside its envelope,
    which lies inside ``[0, 255]``).  Rounding is the principled choice: the
    solution estimates the continuous signal, and the nearest representable
    level is the best 8-bit estimate of it; truncation would add a systematic
    bias of -1/2 level.  (The *reference* images are made by truncation,
    ``astype(uint8)``, because that is how the paper's data were made, see
    :func:`qpsolve.imaging.data.to_uint8`.)

    Examples
    --------
    >>> to_8bit(np.array([-1e-9, 0.49, 0.5, 1.5, 254.7, 255.0])).tolist()
    [0, 0, 0, 2, 255, 255]
    """
    f = np.asarray(f, dtype=np.float64)
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


def metrics(reference, result):
    """NRMSE, PSNR and SSIM of an 8-bit ``result`` against the 8-bit ``reference``.

    Uses :mod:`skimage.metrics` with ``data_range=255``, NRMSE normalization
    ``'euclidean'`` and SSIM ``win_size=7`` (the settings that reproduce the
    paper's zero-pad rows).

    Examples
    --------
    >>> from qpsolve.imaging.data import gaussian, to_uint8, truncate_bits
    >>> ref = to_uint8(gaussian(64))
    >>> [round(v, 4) for v in metrics(ref, truncate_bits(ref, 2))]
    [0.3252, 17.0239, 0.4174]
    """
    from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

    ref = np.asarray(reference)
    res = np.asarray(result)
    for name, a in (("reference", ref), ("result", res)):
        if a.dtype != np.uint8:
            raise TypeError(f"{name} must be a uint8 image (see to_8bit), got dtype {a.dtype}")
    if ref.shape != res.shape:
        raise ValueError(f"result has shape {res.shape}; expected the reference shape {ref.shape}")
    return (
        float(normalized_root_mse(ref, res, normalization=NRMSE_NORMALIZATION)),
        float(peak_signal_noise_ratio(ref, res, data_range=255)),
        float(structural_similarity(ref, res, data_range=255, win_size=SSIM_WIN_SIZE)),
    )


def paper_values(function, bits, method):
    """The paper's ``(NRMSE, PSNR, SSIM)`` for one row, or ``None`` if it has none.

    Examples
    --------
    >>> paper_values("Gaussian", 2, "biharmonic")
    (0.0713, 30.2044, 0.9462)
    >>> paper_values("Gaussian", 4, "biharmonic") is None
    True
    """
    for f, b, m, *vals in PAPER_TABLE1:
        if (f, b, m) == (function, bits, method):
            return tuple(vals)
    return None


def compute_table1(size=PAPER_SIZE, bits=BITS, functions=tuple(FUNCTIONS), variants=DEFAULT_VARIANTS,
                   solver="auto", tol=DEFAULT_TOL, time_limit=None, progress=None):
    """Compute our Table 1 (and the research-variant rows).

    Parameters
    ----------
    size : int
        Image side (the paper's is 64; other sizes get no paper column).
    bits : sequence of int
        Bit depths (each in 1..7).
    functions : sequence of str
        Keys of :data:`FUNCTIONS`.
    variants : sequence of str
        Keys of :data:`VARIANTS` for extra rows (``()`` for none).
    solver, tol, time_limit
        Passed to :func:`qpsolve.dequantize` / :func:`qpsolve.solve`.
    progress : callable, optional
        Called with each finished :class:`Table1Row`.

    Returns
    -------
    list of Table1Row
        Per function and bit depth: zero pad, Laplace, biharmonic, then the
        variants.

    Raises
    ------
    NotCertifiedError
        When any solve is not certified optimal.

    Examples
    --------
    >>> rows = compute_table1(size=16, bits=(3,), functions=("Gaussian",), variants=())
    >>> [(r.method, r.certified) for r in rows]
    [('zero pad', None), ('Laplace', True), ('biharmonic', True)]
    """
    size = check_count(size, "size", 8)
    bits = tuple(check_count(b, "bits", 1) for b in ((bits,) if isinstance(bits, numbers.Integral) else bits))
    for b in bits:
        if b > 7:
            raise ValueError(f"bits must be in 1..7 (8 bits is the reference itself), got {b}")
    functions = check_names(functions, FUNCTIONS, "functions")
    variants = check_names(variants, VARIANTS, "variants")
    with_paper = size == PAPER_SIZE

    rows = []

    def add(row):
        rows.append(row)
        if progress is not None:
            progress(row)

    for fname in functions:
        reference = to_uint8(FUNCTIONS[fname](size))
        for b in bits:
            quantized = truncate_bits(reference, b)
            add(Table1Row(fname, b, "zero pad", *metrics(reference, quantized),
                          paper=paper_values(fname, b, "zero pad") if with_paper else None))
            jobs = [(label, kw, False) for label, kw in METHODS.items()]
            jobs += [(VARIANTS[v][0], VARIANTS[v][1], True) for v in variants]
            for label, kw, is_variant in jobs:
                t0 = time.perf_counter()
                out, res = dequantize(quantized, bits=b, solver=solver, tol=tol, time_limit=time_limit,
                                      return_result=True, adaptive=False, **kw)  # the paper's model
                elapsed = time.perf_counter() - t0
                check_certified(res, f"{fname} {b}-bit {label} ({size}x{size})")
                add(Table1Row(
                    fname, b, label, *metrics(reference, to_8bit(out)), variant=is_variant,
                    paper=None if is_variant or not with_paper else paper_values(fname, b, label),
                    solver=res.solver, status=str(res.status), certified=bool(res.success),
                    objective=float(res.objective), relative_gap=float(res.kkt.relative_gap),
                    solve_time=elapsed,
                ))
    return rows


def _fmt(v, nd=4):
    return "" if v is None else f"{v:.{nd}f}"


def _fmt_diff(v, nd=4):
    if v is None:
        return ""
    if round(v, nd) == 0:
        v = 0.0  # no "-0.0000"
    return f"{v:+.{nd}f}"


def _cert(row):
    if row.certified is None:
        return "n/a"
    return f"{row.status} {row.solver} gap {row.relative_gap:.1e} {row.solve_time:.2f}s"


def _table(rows, markdown):
    with_paper = any(r.paper is not None for r in rows)
    header = ["function", "bits", "method"]
    for m in ("NRMSE", "PSNR", "SSIM"):
        header += [m, "paper", "diff"] if with_paper else [m]
    header.append("certificate")
    body = []
    for r in rows:
        p = r.paper if r.paper is not None else (None, None, None)
        d = r.diff if r.diff is not None else (None, None, None)
        cells = [r.function, str(r.bits), r.method]
        for k, v in enumerate((r.nrmse, r.psnr, r.ssim)):
            cells += [_fmt(v), _fmt(p[k]), _fmt_diff(d[k])] if with_paper else [_fmt(v)]
        cells.append(_cert(r))
        body.append(cells)
    left = {0, 2, len(header) - 1}
    if markdown:
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join("---" if i in left else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(c for c in row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(header[i]), *(len(b[i]) for b in body)) if body else len(header[i])
              for i in range(len(header))]

    def line(cells):
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(b) for b in body])


def format_table1(rows, markdown=False):
    """Our rows beside the paper's, with ``ours - paper`` differences.

    Parameters
    ----------
    rows : sequence of Table1Row
        From :func:`compute_table1`.
    markdown : bool
        A Markdown table instead of aligned plain text.

    Returns
    -------
    str
        The paper rows first, then the research variants (if any).
    """
    rows = list(rows)
    main = [r for r in rows if not r.variant]
    extra = [r for r in rows if r.variant]
    parts = [_table(main, markdown)]
    if extra:
        title = "Research variants (not in the paper):"
        parts += ["", f"**{title}**" if markdown else title, "", _table(extra, markdown)]
    return "\n".join(parts)


def table1_markdown(rows, size=PAPER_SIZE, solver="auto"):
    """A Markdown document with the table and the conventions behind it."""
    rows = list(rows)
    used = sorted({r.solver for r in rows if r.solver})
    return "\n".join([
        "# Table 1 of Völgyes et al. (2018), reproduced by qpsolve",
        "",
        f"{size}x{size} images from `qpsolve.imaging.data` (Gaussian, Rosenbrock), bit depth reduced by right "
        "shift; envelope `[v, v + step]` intersected with `[0, 255]` (floor rounding); odd boundary "
        "unless stated. Scores from `skimage.metrics` on 8-bit images (`data_range=255`, NRMSE "
        f"normalization `{NRMSE_NORMALIZATION}`, SSIM `win_size={SSIM_WIN_SIZE}`); solved images are "
        "rounded to the nearest 8-bit level. `paper` is the published value, `diff` = ours - paper. "
        f"Solver `{solver}` ({', '.join(used) or 'none'}); every solved row is certified optimal "
        "(relative duality gap shown).",
        "",
        format_table1(rows, markdown=True),
        "",
        "Regenerate with `qpsolve paper table1` (or `python examples/table1.py`).",
        "",
    ])


def write_text(path, text):
    """Write ``text`` to ``path`` atomically (temporary file, then rename).

    The folder must exist; on any error no file (partial or not) is left.
    """
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(path)


