"""What the page solves and how it reports it, without Streamlit.

:class:`Settings` holds the page's controls; its defaults are read from the
signature of :func:`qpsolve.dequantize`, so the page cannot drift from the
library: with the defaults, :func:`run` is exactly ``qs.dequantize(colour,
bits=detected, channel_axis=-1 if RGB)`` and the download holds that array.
:func:`certificate_words` says in plain words what the certificate proves.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import tempfile
import time

import numpy as np

from ..imaging.image import dequantize
from ..imaging.io import merge_alpha, write_image
from ..model.bitdepth import check_bits
from ..model.noise import OUTLIER_MODES
from ..model.operators import BOUNDARIES, MODELS
from ..solvers import NULL_SPACE_NAME
from ..validation import check_choice

__all__ = [
    "DOWNLOADS",
    "LIBRARY_DEFAULTS",
    "Outcome",
    "Settings",
    "certificate_words",
    "encode",
    "output_range",
    "run",
]

_SIG = inspect.signature(dequantize).parameters
#: the defaults of :func:`qpsolve.dequantize` the page starts from
LIBRARY_DEFAULTS = {name: _SIG[name].default for name in ("model", "bc", "adaptive", "outliers", "gain", "tile")}

#: tile sides the page offers for large photographs (``None``: one QP, the library's default)
TILES = (None, 64, 128, 256)

#: download formats: label -> (extension, MIME type)
DOWNLOADS = {
    "16-bit PNG": (".png", "image/png"),
    "32-bit float TIFF": (".tif", "image/tiff"),
}

_CHANNEL_NAMES = ("red", "green", "blue")


@dataclasses.dataclass(frozen=True)
class Settings:
    """The page's controls.  ``bits=None`` means "as detected"; ``gain=1`` is no brightening.

    Examples
    --------
    >>> s = Settings()
    >>> s.model, s.bc, s.adaptive, s.outliers, s.gain, s.tile
    ('biharmonic', 'odd', True, None, 1.0, None)
    """

    bits: int | None = None
    model: str = LIBRARY_DEFAULTS["model"]
    bc: str = LIBRARY_DEFAULTS["bc"]
    adaptive: bool = LIBRARY_DEFAULTS["adaptive"]
    outliers: str | None = LIBRARY_DEFAULTS["outliers"]
    gain: float = 1.0 if LIBRARY_DEFAULTS["gain"] is None else float(LIBRARY_DEFAULTS["gain"])
    tile: int | None = LIBRARY_DEFAULTS["tile"]

    def __post_init__(self):
        check_choice(self.model, MODELS, "model")
        check_choice(self.bc, BOUNDARIES, "boundary rule")
        check_choice(self.outliers, OUTLIER_MODES, "outlier handling", allow_none=True)
        if not (isinstance(self.gain, (int, float)) and math.isfinite(self.gain) and 0 < self.gain <= 1):
            raise ValueError(f"gain must lie in (0, 1] (1 = no brightening), got {self.gain!r}")
        if self.tile not in TILES:
            raise ValueError(f"tile must be one of {TILES}, got {self.tile!r}")

    def kwargs(self, upload):
        """Keyword arguments of :func:`qpsolve.dequantize` for ``upload``."""
        return dict(
            bits=upload.detected.bits if self.bits is None else int(self.bits),
            model=self.model,
            bc=self.bc,
            adaptive=bool(self.adaptive),
            outliers=self.outliers,
            gain=None if self.gain == 1 else float(self.gain),
            channel_axis=-1 if upload.colour.ndim == 3 else None,
            tile=self.tile,
        )


@dataclasses.dataclass
class Outcome:
    """A finished solve: the image (alpha put back), its results and the wall time."""

    image: np.ndarray
    results: list
    seconds: float
    bits: int
    data_range: tuple | None

    @property
    def certified(self):
        return all(r.success for r in self.results)


def check(upload, settings):
    """Validate ``settings`` against ``upload`` before solving; raise ``ValueError`` in words.

    Examples
    --------
    >>> import numpy as np, io
    >>> from PIL import Image
    >>> from qpsolve.web.upload import decode_upload
    >>> buf = io.BytesIO(); Image.fromarray(np.uint8([[0, 64, 128, 192]] * 4)).save(buf, "PNG")
    >>> up = decode_upload("x.png", buf.getvalue())
    >>> try:
    ...     check(up, Settings(bits=1))
    ... except ValueError as exc:
    ...     print(str(exc)[:40])
    image is 2-bit data (step 64) but bits=1
    """
    if settings.bits is not None:
        check_bits(upload.colour, int(settings.bits))
    return settings


def output_range(upload, settings):
    """Values mapped to 0 and 65535 in the 16-bit PNG, or ``None`` (float data: TIFF only).

    Brightening by ``1 / gain`` widens the range to ``container max / gain``,
    as ``qpsolve brighten`` does, so nothing is clipped.
    """
    rng = upload.data_range
    if rng is None:
        return None
    return (rng[0], rng[1] / settings.gain)


def run(upload, settings):
    """Solve ``upload`` with ``settings``; return an :class:`Outcome`.

    Examples
    --------
    >>> import numpy as np, io
    >>> from PIL import Image
    >>> from qpsolve.web.upload import decode_upload
    >>> ramp = (np.linspace(0, 255, 16)[None, :].repeat(12, 0).astype(np.uint8) >> 6) << 6
    >>> buf = io.BytesIO(); Image.fromarray(ramp).save(buf, "PNG")
    >>> up = decode_upload("ramp.png", buf.getvalue())
    >>> out = run(up, Settings())
    >>> out.bits, out.certified, out.image.shape
    (2, True, (12, 16))
    """
    check(upload, settings)
    kw = settings.kwargs(upload)
    t0 = time.perf_counter()
    out, res = dequantize(upload.colour, return_result=True, **kw)
    seconds = time.perf_counter() - t0
    results = res if isinstance(res, list) else [res]
    return Outcome(merge_alpha(out, upload.alpha), results, seconds, kw["bits"], output_range(upload, settings))


def encode(outcome, fmt):
    """The bytes of the download: ``fmt`` is a key of :data:`DOWNLOADS`.

    Written by :func:`qpsolve.io.write_image`, the writer of the command line.
    """
    ext, _ = DOWNLOADS[fmt]
    if ext == ".png" and outcome.data_range is None:
        raise ValueError("float input has no 16-bit range; download the float TIFF")
    with tempfile.TemporaryDirectory(prefix="qpsolve-web-") as tmp:
        path = os.path.join(tmp, "result" + ext)
        write_image(path, outcome.image, data_range=outcome.data_range if ext == ".png" else None)
        with open(path, "rb") as fh:
            return fh.read()


def _gap(result):
    kkt = result.kkt
    return f"duality gap {kkt.gap:.2g}, relative {kkt.relative_gap:.1e}"


def _tiled(results):
    """Words for unpolished tiled results (certified tile by tile), or ``None``."""
    infos = [r.info for r in results]
    if not infos or any("tiles" not in i or i.get("polished") for i in infos):
        return None
    tiles = sum(int(i["tiles"]) for i in infos)
    good = sum(int(i["tiles_certified"]) for i in infos)
    head = "Certified tile by tile" if good == tiles else "Not certified everywhere"
    return (f"{head}: {good} of {tiles} tiles are certified optimal for their own part of the picture; "
            f"the blended image is not certified against the whole image (one global solve would do that).")


def _verdict(results, names):
    """One sentence over the distinct results (one per channel, or one joint QP)."""
    tiled = _tiled(results)
    if tiled is not None:
        return tiled
    good = [r for r in results if r.success]
    if len(good) == len(results):
        worst = max(results, key=lambda r: r.kkt.relative_gap)
        where = f" (all {len(results)} colour channels)" if len(results) > 1 else ""
        return (f"Certified optimal{where}: no image inside the quantization envelopes is smoother. "
                f"The proof: a {_gap(worst)}{' at most' if len(results) > 1 else ''}, "
                f"within the tolerance {worst.kkt.tol:g}.")
    parts = []
    for r, name in zip(results, names if len(results) > 1 else [""] * len(results)):
        label = f"{name}: " if name else ""
        if r.success:
            parts.append(f"{label}certified optimal ({_gap(r)})")
        elif r.kkt is None:
            parts.append(f"{label}not certified ({r.message})")
        else:
            parts.append(f"{label}not certified optimal: the solver stopped at a {_gap(r)}, above the "
                         f"tolerance {r.kkt.tol:g} ({r.status!s})")
    return ("; ".join(parts).capitalize()
            + ". The result stays inside the envelopes, but a smoother one may exist.")


def _solver_words(result):
    """Who produced ``result.x``: the backend, ``'pdas, handed over to tnnmg'`` after a hand-over,
    ``'pdas, handed over to tnnmg, then pcg'`` after a chain of them (``info["handovers"]``), or
    ``'null-space (zero energy: a constant fits the envelopes)'`` when no backend was needed."""
    info = result.info if isinstance(result.info, dict) else {}
    if result.solver == NULL_SPACE_NAME:
        kind = str(info.get("shortcut", "")).rpartition(": ")[2] or "null-space"
        what = {"constant": "a constant", "affine": "a plane", "multilinear": "a bilinear function"}.get(kind, kind)
        return f"{NULL_SPACE_NAME} (zero energy: {what} fits the envelopes)"
    chain = [h.get("solver") for h in info.get("handovers") or () if isinstance(h, dict)]
    if len(chain) > 1 and all(chain):
        return f"{result.solver}, handed over to " + ", then ".join(chain[1:])
    fallback = info.get("fallback")
    if isinstance(fallback, dict) and fallback.get("solver"):
        return f"{result.solver}, handed over to {fallback['solver']}"
    return str(result.solver)


def certificate_words(outcome):
    """Plain-words lines for the page: one per solved QP, then the time and the blend.

    Examples
    --------
    >>> import numpy as np, io
    >>> from PIL import Image
    >>> from qpsolve.web.upload import decode_upload
    >>> ramp = (np.linspace(0, 255, 16)[None, :].repeat(12, 0).astype(np.uint8) >> 6) << 6
    >>> buf = io.BytesIO(); Image.fromarray(ramp).save(buf, "PNG")
    >>> lines = certificate_words(run(decode_upload("r.png", buf.getvalue()), Settings()))
    >>> lines[0].startswith("Certified optimal: no image inside the quantization envelopes is smoother.")
    True
    """
    results = outcome.results
    distinct = [r for i, r in enumerate(results) if all(r is not q for q in results[:i])]
    names = list(_CHANNEL_NAMES) if len(distinct) == 3 else [f"channel {i + 1}" for i in range(len(distinct))]
    lines = [_verdict(distinct, names)]
    solver = ", ".join(sorted({_solver_words(r) for r in distinct if getattr(r, "solver", None)}))
    lines.append(f"Time taken: {outcome.seconds:.2f} s for the whole image"
                 + (f" (solver: {solver})." if solver else "."))
    weights = []
    for r in distinct:
        info = r.info.get("adaptive")
        for item in (info if isinstance(info, list) else [info] if info else []):
            weights.append(item["weight"])
    if weights and min(weights) < 1:
        lines.append(
            "Content-adaptive: the certificate is that of the plate with textured pixels held at their level; "
            f"the result was then blended towards the level centres (weight {min(weights):.2f}), "
            "because the plate departed from them more than quantization noise would."
        )
    blends = []
    for r in distinct:
        info = r.info.get("blend")
        blends += [b for b in (info if isinstance(info, list) else [info]) if b]
    if blends:
        mean = sum(b["mean_weight"] for b in blends) / len(blends)
        lines.append(
            "Content-adaptive: the certificate is that of the plate on the quantization envelopes; the image "
            "shown is that plate blended with the level centres pixel by pixel (the plate where the level "
            f"changes, mostly the centres on texture and deep inside wide levels; mean weight {mean:.2f})."
        )
    return lines
