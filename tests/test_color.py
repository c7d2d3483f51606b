"""Colour: per channel and decorrelated; envelopes always hold in the stored channels."""

import numpy as np
import pytest

import qpsolve as qs
from qpsolve.imaging.photo import color_energy


def _colour(n=24, bits=3):
    x = np.linspace(0, 1, n)
    r = np.add.outer(x, x) / 2
    g = np.outer(x, 1 - x) * 2
    b = 0.3 + 0.5 * r
    rgb = np.clip(np.stack([r, g, b], -1) * 255, 0, 255).astype(np.uint8)
    return (rgb >> (8 - bits)) << (8 - bits), 2 ** (8 - bits)


@pytest.mark.parametrize("space,adaptive", [("rgb", False), ("decorrelated", False), ("decorrelated", True)])
@pytest.mark.parametrize("axis", [-1, 0])
def test_envelopes_hold_in_stored_channels(space, adaptive, axis):
    q, st = _colour()
    img = np.moveaxis(q, -1, 0) if axis == 0 else q
    out, res = qs.dequantize(img, bits=3, channel_axis=axis, color_space=space, adaptive=adaptive,
                             return_result=True)
    assert out.shape == img.shape and all(r.success for r in res)
    assert np.all(out >= img) and np.all(out <= np.minimum(img.astype(float) + st, 255))


def test_decorrelated_with_unit_weight_is_per_channel():
    q, _ = _colour(16)
    _, per = qs.dequantize(q, bits=3, channel_axis=-1, return_result=True)
    _, joint = qs.dequantize(q, bits=3, channel_axis=-1, color_space="decorrelated", chroma_weight=1.0,
                             return_result=True)
    total = sum(r.objective for r in per)
    assert abs(joint[0].objective - total) <= 1e-6 * max(1.0, abs(total))


def test_color_energy_is_psd_and_penalizes_chroma():
    P = qs.energy_matrix((6, 6))
    J = color_energy(P, 3, 4.0)
    rng = np.random.default_rng(0)
    f = rng.normal(size=36)
    grey = np.concatenate([f, f, f])
    chroma = np.concatenate([f, -f, 0 * f])
    e = lambda v: float(v @ (J @ v))  # noqa: E731
    assert e(grey) == pytest.approx(3 * float(f @ (P @ f)))
    assert e(chroma) == pytest.approx(4 * 2 * float(f @ (P @ f)))
    with pytest.raises(ValueError, match="chroma_weight"):
        color_energy(P, 3, 0)


def test_colour_errors():
    q, _ = _colour(8)
    with pytest.raises(ValueError, match="channel_axis"):
        qs.dequantize(q[..., 0], bits=3, color_space="decorrelated")
    with pytest.raises(ValueError, match="3 colour channels"):
        qs.dequantize(np.concatenate([q, q[..., :1]], -1), bits=3, channel_axis=-1, color_space="decorrelated")
    with pytest.raises(ValueError, match="color_space"):
        qs.dequantize(q, bits=3, channel_axis=-1, color_space="lab")


def test_an_rgb_shaped_array_without_channel_axis_warns_and_is_a_volume():
    # (h, w, 3) without channel_axis is a 3-D plate (scikit-image's convention); the user is told
    # how to ask for colour, and a volume whose last axis is not 3 or 4 long stays silent.
    import warnings

    import qpsolve as qs

    rng = np.random.default_rng(3)
    rgb = (rng.integers(0, 4, (12, 10, 3)) * 64).astype(np.uint8)
    with pytest.warns(UserWarning, match=r"channel_axis=-1"):
        vol = qs.dequantize(rgb, bits=2, adaptive=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        per_channel = qs.dequantize(rgb, bits=2, adaptive=False, channel_axis=-1)
        qs.dequantize(np.concatenate([rgb, rgb], axis=-1)[..., :5], bits=2, adaptive=False)
    assert vol.shape == per_channel.shape == rgb.shape
    # the volume couples the channels, the colour solve does not: their answers differ
    assert not np.allclose(vol, per_channel)
