"""Content-adaptive masks (paper 6.3), impulses and dither (paper 6.1), tiles."""

import numpy as np
import pytest
from scipy import ndimage

import qpsolve as qs
from qpsolve.model.masks import adaptive_envelopes, adaptive_mask, separated
from qpsolve.model.noise import detect_dither, detect_impulses, floyd_steinberg, treat_outliers


def _scene(n=40):
    """A smooth ramp with a bright disc: an object border on a smooth background."""
    y, x = np.mgrid[0:n, 0:n]
    truth = 40 + 150 * x / (n - 1)
    disc = (x - n // 2) ** 2 + (y - n // 2) ** 2 < (n // 4) ** 2
    return np.where(disc, 230.0, truth), disc


def test_adaptive_mask_marks_jumps_only():
    truth, disc = _scene()
    q = (truth.astype(np.uint8) >> 5) << 5
    smooth = adaptive_mask(q, 32)
    edge = disc ^ ndimage.binary_erosion(disc)
    assert not smooth[edge].any()                 # the border of the disc is textured
    assert smooth[:, :4].all()                    # the ramp far away is smooth
    assert adaptive_mask(q, 32, dilate=2).sum() < smooth.sum()
    with pytest.raises(ValueError, match="step"):
        adaptive_mask(q, 0)
    with pytest.raises(ValueError, match="dilate"):
        adaptive_mask(q, 32, dilate=-1)


def test_separated_uses_envelopes_any_quantizer():
    lv = np.array([0.0, 10.0, 40.0])
    lo, hi = qs.model.envelopes.envelope_from_levels(np.array([0.0, 10.0, 40.0]), lv, "floor")
    assert separated(lo, hi).tolist() == [False, False, False]  # neighbours in the level table
    assert separated(np.array([0.0, 3.0]), np.array([1.0, 4.0])).tolist() == [True, True]


def test_adaptive_envelopes_modes():
    v = np.array([0.0, 1.0, 2.0, 5.0, 6.0])
    lo, hi, smooth = adaptive_envelopes(v, v + 1, mode="free", data_range=(0, 10))
    assert lo.tolist() == [0, 1, 0, 0, 6] and hi.tolist() == [1, 2, 10, 10, 7]
    with pytest.raises(ValueError, match="mode"):
        adaptive_envelopes(v, v + 1, mode="bogus")


@pytest.mark.parametrize("bits", [3, 4])
def test_adaptive_dequantize_stays_in_stored_envelopes(bits):
    truth, _ = _scene(32)
    q = (truth.astype(np.uint8) >> (8 - bits)) << (8 - bits)
    st = 2 ** (8 - bits)
    out, res = qs.dequantize(q, bits=bits, adaptive=True, return_result=True)
    assert res.success
    assert np.all(out >= q) and np.all(out <= np.minimum(q.astype(float) + st, 255))
    assert res.info["photo"].textured > 0
    with pytest.raises(ValueError, match="unknown key"):
        qs.dequantize(q, bits=bits, adaptive={"bogus": 1})
    with pytest.raises(TypeError, match="adaptive"):
        qs.dequantize(q, bits=bits, adaptive="yes")


def test_adaptive_reduces_error_at_object_border():
    truth, disc = _scene(40)
    q = (np.rint(truth).astype(np.uint8) >> 5) << 5
    plain = qs.dequantize(q, bits=3)
    adapt = qs.dequantize(q, bits=3, adaptive=True)
    band = ndimage.binary_dilation(disc, iterations=3) & ~disc
    err = lambda o: np.sqrt(np.mean((o - truth)[band] ** 2))  # noqa: E731
    assert err(adapt) < err(plain)


def test_impulse_detector():
    img = np.full((9, 9), 96.0)
    img[4, 4] = 224
    img[1, 1] = 128  # one level: not an impulse
    imp = detect_impulses(img, 32)
    assert imp.sum() == 1 and imp[4, 4]
    edge = np.zeros((9, 9))
    edge[:, 5:] = 224
    assert not detect_impulses(edge, 32).any()  # edges are not impulses


@pytest.mark.parametrize("mode", ["mask", "replace"])
def test_impulses_removed(mode):
    rng = np.random.default_rng(3)
    x = np.linspace(0, 1, 32)
    truth = 60 + 120 * np.add.outer(x, x) / 2
    q = (truth.astype(np.uint8) >> 5) << 5
    noisy = q.copy()
    idx = rng.choice(q.size, 8, replace=False)
    noisy.flat[idx] = np.where(q.flat[idx] > 128, 0, 224)
    out, res = qs.dequantize(noisy, bits=3, outliers=mode, return_result=True)
    rep = res.info["photo"].outliers
    assert res.success and rep.mode == mode and rep.impulses >= 6
    plain = qs.dequantize(noisy, bits=3)
    far = lambda o: np.abs(o - truth).flat[idx].mean()  # noqa: E731
    assert far(out) < far(plain) / 2
    assert far(out) < 40


def test_dither_detector_and_no_flat_halos():
    """Floyd-Steinberg dither: without treatment the plate goes flat (paper 6.1).

    Criterion: the fraction of pixels outside the object whose gradient
    magnitude is below 0.2 (flat plateaus) must drop below 0.15, and the
    band of 2..6 pixels around the object must not be flat.
    """
    truth, disc = _scene(40)
    q = floyd_steinberg(truth, 32)
    assert detect_dither(q, 32)[~disc].mean() > 0.3
    ramp = (truth.astype(np.uint8) >> 5) << 5
    assert detect_dither(ramp.astype(float), 32).mean() < 0.05
    band = ndimage.binary_dilation(disc, iterations=6) & ~ndimage.binary_dilation(disc, iterations=1)

    def flat(o):
        gy, gx = np.gradient(o)
        f = np.hypot(gx, gy) < 0.2
        return f[~disc].mean(), f[band].mean()

    kw = dict(step=32, rounding="round", data_range=(0, 255))
    before = flat(qs.dequantize(q, **kw))
    out, res = qs.dequantize(q, outliers="mask", return_result=True, **kw)
    after = flat(out)
    assert res.success and res.info["photo"].outliers.relaxed > 0
    assert before[0] > 0.3 and after[0] < 0.15 and after[1] < 0.1


def test_treat_outliers_validation():
    v = np.full((5, 5), 64.0)
    with pytest.raises(ValueError, match="outliers"):
        treat_outliers(v, v, v + 32, 32, "drop")
    with pytest.raises(ValueError, match="outliers"):
        qs.dequantize(v.astype(np.uint8), bits=3, outliers="drop")


def test_floyd_steinberg_preserves_mean():
    f = np.full((16, 16), 100.0)
    d = floyd_steinberg(f, 32)
    assert set(np.unique(d)) <= {96.0, 128.0} and abs(d.mean() - 100) < 2


def test_tiled_matches_untiled_after_polish():
    x = np.linspace(-1, 1, 48)
    img = ((np.exp(-2 * (x[:, None] ** 2 + x ** 2)) * 255).astype(np.uint8) >> 5) << 5
    full = qs.dequantize(img, bits=3, return_result=True)[1]
    out, res = qs.dequantize(img, bits=3, tile=24, return_result=True)
    assert res.success and res.info["tiles"] == 9 and res.info["polished"]
    rel = abs(res.objective - full.objective) / max(1.0, abs(full.objective))
    assert rel <= 10 * res.kkt.tol
    # unpolished: feasible, honest status, objective not below the optimum
    from qpsolve.tiles import solve_tiled

    prob = qs.image_problem(img, bits=3)
    st = solve_tiled(prob, img.shape, tile=24, polish=False)
    assert st.kkt.infeasibility == 0 and st.objective >= full.objective - 1e-6 * abs(full.objective)
    assert st.info["polished"] is False
    with pytest.raises(ValueError, match="tile"):
        solve_tiled(prob, img.shape, tile=4)
