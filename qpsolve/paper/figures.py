"""Figures 3-5 of the plate-bending paper, drawn from certified solves.

* :func:`figure3` - 1-D: quantized samples, envelopes, Laplace and biharmonic curves.
* :func:`figure4` - 2-D: reference, 2-bit, Laplace, biharmonic for the Gaussian and Rosenbrock.
* :func:`figure5` - masking: a synthetic night sky with a bright moon, solved across the moon
  with a mask, and without it (the halo).

Each returns a :class:`matplotlib.figure.Figure` built without :mod:`matplotlib.pyplot` (no
global state, no display needed); :func:`save_figure` writes it atomically and
:func:`write_figures` makes all three.  Every solve goes through
:func:`qpsolve.solve` / :func:`qpsolve.dequantize` with ``solver="auto"`` and must be
certified optimal, else :class:`qpsolve.paper.NotCertifiedError` is raised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..certificate import DEFAULT_TOL
from ..imaging.data import gaussian, rosenbrock, to_uint8, truncate_bits
from ..imaging.image import dequantize, image_problem
from ..imaging.io import atomic_output
from .table1 import check_certified, metrics, to_8bit
from ..solvers import solve
from ..validation import check_count, check_int_in

__all__ = [
    "FIGURE_FILES",
    "signal_1d",
    "night_sky",
    "figure3",
    "figure4",
    "figure5",
    "save_figure",
    "write_figures",
]

#: File names :func:`write_figures` uses, by figure number.
FIGURE_FILES = {3: "figure3_1d.png", 4: "figure4_2d.png", 5: "figure5_mask.png"}

_LAPLACE = "tab:red"
_BIHARMONIC = "tab:blue"


def _new_figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def signal_1d(n=48):
    """A smooth 1-D test signal with a local maximum, as 8-bit samples.

    ``0.15 + 0.25 x + 0.55 exp(-((x - 0.4) / 0.2)^2)`` on ``[0, 1]``, made
    8-bit by :func:`qpsolve.imaging.data.to_uint8` (scaled so its maximum is 255).

    Returns
    -------
    x : ndarray of float
        Sample positions in ``[0, 1]``.
    samples : ndarray of uint8
        The 8-bit signal.

    Examples
    --------
    >>> x, s = signal_1d(48)
    >>> s.dtype, int(s.max()), 0 < int(np.argmax(s)) < 47
    (dtype('uint8'), 255, True)
    """
    n = check_count(n, "n", 8)
    x = np.linspace(0.0, 1.0, n)
    f = 0.15 + 0.25 * x + 0.55 * np.exp(-(((x - 0.4) / 0.2) ** 2))
    return x, to_uint8(f)


def night_sky(size=64):
    """A synthetic 8-bit night sky (smooth dark gradient) with a bright moon disk.

    The sky is a smooth horizon glow, ``10 + 170 exp(-((1 - y) / 0.45)^2) (0.8 + 0.2 x)``
    for ``x, y`` in ``[0, 1]`` (dark, about 11, at the top; 146-180 at the
    horizon, the bottom row); the moon is a disk of radius ``0.12 size`` at
    205-235 (a little limb darkening) in the dark upper part.

    Returns
    -------
    image : ndarray of uint8
        The reference image.
    moon : ndarray of bool
        ``True`` on the moon disk.

    Examples
    --------
    >>> img, moon = night_sky(32)
    >>> img.shape, bool(img[moon].min() > img[~moon].max())
    ((32, 32), True)
    """
    size = check_count(size, "size", 8)
    t = np.linspace(0.0, 1.0, size)
    Y, X = np.meshgrid(t, t, indexing="ij")
    sky = 10.0 + 170.0 * np.exp(-(((1.0 - Y) / 0.45) ** 2)) * (0.8 + 0.2 * X)
    cy, cx, r = 0.35, 0.62, 0.12
    d2 = ((Y - cy) ** 2 + (X - cx) ** 2) / r**2
    moon = d2 <= 1.0
    img = np.where(moon, 235.0 - 30.0 * d2, sky)
    return np.clip(img, 0, 255).astype(np.uint8), moon


def _solve_1d(samples, bits, model, solver, tol):
    prob = image_problem(samples, bits=bits, model=model)
    res = check_certified(solve(prob, solver=solver, tol=tol), f"figure 3 ({model}, {samples.size} samples)")
    return res.x, prob


def figure3(n=48, bits=3, solver="auto", tol=DEFAULT_TOL):
    """Figure 3: a 1-D signal quantized to ``bits`` bits and its two reconstructions.

    The samples of :func:`signal_1d` are truncated to ``bits`` bits; the
    envelope of each sample is ``[v, v + step]`` (within ``[0, 255]``); the
    bounded Laplace solution (piecewise linear, flat-topped at the maximum) and
    the biharmonic one (smooth, overshooting into the top band) are solved on
    the 1-D grid with :func:`qpsolve.image_problem` and :func:`qpsolve.solve`.

    Parameters
    ----------
    n : int
        Number of samples (>= 8).
    bits : int
        Bit depth after truncation (1..7).
    solver, tol
        Passed to :func:`qpsolve.solve`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = check_count(n, "n", 8)
    bits = check_int_in(bits, "bits", 1, 7)
    x, ref = signal_1d(n)
    q = truncate_bits(ref, bits)
    f_lap, prob = _solve_1d(q, bits, "laplace", solver, tol)
    f_bih, _ = _solve_1d(q, bits, "biharmonic", solver, tol)
    idx = np.arange(n)

    fig = _new_figure(7.0, 4.2)
    ax = fig.add_subplot()
    ax.fill_between(idx, prob.lower, prob.upper, step="mid", color="0.88", label="envelope [L, U]")
    ax.step(idx, prob.lower, where="mid", color="0.55", lw=0.8)
    ax.step(idx, prob.upper, where="mid", color="0.55", lw=0.8)
    ax.plot(idx, ref, ":", color="k", lw=1.2, label="original (8-bit)")
    ax.plot(idx, q, "o", color="k", ms=3.5, label=f"{bits}-bit samples")
    ax.plot(idx, f_lap, "-", color=_LAPLACE, lw=1.8, label="Laplace")
    ax.plot(idx, f_bih, "-", color=_BIHARMONIC, lw=1.8, label="biharmonic")
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(-5, 262)
    ax.set_xlabel("sample")
    ax.set_ylabel("value (0-255)")
    ax.set_title(f"Figure 3: 1-D signal, {bits}-bit truncation, certified solutions")
    ax.legend(loc="lower center", fontsize=8, ncol=3)
    return fig


def figure4(size=64, bits=2, solver="auto", tol=DEFAULT_TOL):
    """Figure 4: reference, ``bits``-bit, Laplace and biharmonic for the Gaussian and Rosenbrock.

    Parameters
    ----------
    size : int
        Image side (>= 8; the paper's Table 1 uses 64).
    bits : int
        Bit depth after truncation (the paper shows 2).
    solver, tol
        Passed to :func:`qpsolve.dequantize`.

    Returns
    -------
    matplotlib.figure.Figure
        Panels are titled with PSNR / SSIM against the reference.
    """
    size = check_count(size, "size", 8)
    bits = check_int_in(bits, "bits", 1, 7)
    fig = _new_figure(11.0, 5.8)
    axes = fig.subplots(2, 4)
    for row, (name, fn) in enumerate((("Gaussian", gaussian), ("Rosenbrock", rosenbrock))):
        ref = to_uint8(fn(size))
        q = truncate_bits(ref, bits)
        panels = [("8-bit reference", ref, None), (f"{bits}-bit (zero pad)", q, q)]
        for label, model in (("Laplace", "laplace"), ("biharmonic", "biharmonic")):
            out, res = dequantize(q, bits=bits, model=model, solver=solver, tol=tol, return_result=True,
                                  adaptive=False)  # the paper's model
            check_certified(res, f"figure 4 ({name}, {model}, {size}x{size})")
            panels.append((label, out, to_8bit(out)))
        for ax, (label, img, scored) in zip(axes[row], panels):
            ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            title = f"{name}: {label}"
            if scored is not None:
                _, psnr, ssim = metrics(ref, scored)
                title += f"\nPSNR {psnr:.2f} dB, SSIM {ssim:.3f}"
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"Figure 4: {size}x{size}, {bits}-bit, certified Laplace and biharmonic solutions")
    return fig


def figure5(size=64, bits=2, solver="auto", tol=DEFAULT_TOL):
    """Figure 5: masking, on the synthetic :func:`night_sky`.

    The mask is the sky: every pixel off the (hard-edged) moon disk.
    With the mask, the moon's pixels carry no envelope, so the plate passes
    under the moon and the sky is solved across it; the moon is then put back.
    Without the mask the moon's envelope ``[192, 255]`` bends the stiff plate
    and the sky around the moon is pulled to its upper envelope (a halo).

    Panels: original, mask, ``bits``-bit input, biharmonic without mask (halo);
    Laplace with mask, biharmonic solved inside the mask only (the plate under
    the moon), biharmonic with the moon added back, and a profile through the
    moon's centre row.

    Parameters
    ----------
    size : int
        Image side (>= 16).
    bits : int
        Bit depth after truncation (default 2, as in the paper).
    solver, tol
        Passed to :func:`qpsolve.solve`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    size = check_count(size, "size", 16)
    bits = check_int_in(bits, "bits", 1, 7)
    ref, moon = night_sky(size)
    q = truncate_bits(ref, bits)
    mask = ~moon  # the moon is a hard-edged disk: every other pixel is sky

    def run(model, m, what):
        prob = image_problem(q, bits=bits, model=model, mask=m)
        res = check_certified(solve(prob, solver=solver, tol=tol), f"figure 5 ({what}, {size}x{size})")
        plate = res.x.reshape(q.shape)
        restored = plate if m is None else np.where(m, plate, q.astype(np.float64))
        return plate, restored

    _, lap_masked = run("laplace", mask, "Laplace with mask")
    plate, bih_masked = run("biharmonic", mask, "biharmonic with mask")
    _, bih_nomask = run("biharmonic", None, "biharmonic without mask")

    sky = mask

    def sky_psnr(img):
        err = to_8bit(img)[sky].astype(np.float64) - ref[sky]
        mse = float(np.mean(err**2))
        return np.inf if mse == 0 else 10 * np.log10(255.0**2 / mse)

    fig = _new_figure(12.0, 6.4)
    axes = fig.subplots(2, 4)
    panels = [
        (axes[0, 0], ref, "original (8-bit)"),
        (axes[0, 1], mask.astype(float) * 255, "mask (white: sky, solved)"),
        (axes[0, 2], q, f"{bits}-bit input\nsky PSNR {sky_psnr(q):.1f} dB"),
        (axes[0, 3], bih_nomask, f"biharmonic, no mask (halo)\nsky PSNR {sky_psnr(bih_nomask):.1f} dB"),
        (axes[1, 0], lap_masked, f"Laplace with mask\nsky PSNR {sky_psnr(lap_masked):.1f} dB"),
        (axes[1, 1], np.clip(plate, 0, 255), "biharmonic, solved in mask only\n(plate under the moon)"),
        (axes[1, 2], bih_masked, f"biharmonic with mask, moon added back\nsky PSNR {sky_psnr(bih_masked):.1f} dB"),
    ]
    for ax, img, title in panels:
        ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    r = int(np.round(np.mean(np.nonzero(moon)[0])))
    axes[0, 0].axhline(r, color="tab:orange", lw=0.6, ls="--")
    ax = axes[1, 3]
    cols = np.arange(size)
    ax.plot(cols, ref[r], ":", color="k", lw=1.2, label="original")
    ax.step(cols, q[r], where="mid", color="0.5", lw=0.9, label=f"{bits}-bit")
    ax.plot(cols, bih_nomask[r], color="tab:orange", lw=1.4, label="no mask")
    ax.plot(cols, plate[r], color=_BIHARMONIC, lw=1.4, label="mask (plate)")
    ax.set_title(f"row {r} through the moon", fontsize=8)
    ax.set_ylim(-5, 262)
    ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Figure 5: masking a {size}x{size} night sky with a moon, {bits}-bit, certified solutions")
    return fig


def save_figure(fig, path, dpi=110):
    """Save ``fig`` as PNG at ``path`` atomically (temporary file, then rename).

    The folder must exist; on error nothing is left behind.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"figure path {str(path)!r} must end in .png")
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path


def write_figures(out_dir, size=64, solver="auto", tol=DEFAULT_TOL):
    """Make Figures 3-5 and write them as PNGs into ``out_dir`` (created if missing).

    All figures are computed (and certified) before anything is written.
    ``size`` is the image side of Figures 4 and 5 (>= 16); Figure 3 is 1-D and
    uses ``min(size, 64)`` samples.

    Returns
    -------
    list of Path
        The files written (names from :data:`FIGURE_FILES`).
    """
    size = check_count(size, "size", 16)
    figs = {3: figure3(min(size, 64), solver=solver, tol=tol),
            4: figure4(size, solver=solver, tol=tol),
            5: figure5(size, solver=solver, tol=tol)}
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OSError(f"output {str(out_dir)!r} exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    return [save_figure(figs[k], out_dir / FIGURE_FILES[k]) for k in sorted(figs)]
