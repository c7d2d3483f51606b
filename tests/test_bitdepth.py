"""Bit-depth detection (gcd of the levels in use) and checks of claimed depths."""

import numpy as np
import pytest

from qpsolve.model.bitdepth import check_bits, detect_bits

rng = np.random.default_rng(2)


@pytest.mark.parametrize("bits", [1, 2, 3, 5, 8])
def test_uint8_shifted(bits):
    img = (rng.integers(0, 256, (20, 20), dtype=np.uint8) >> (8 - bits)) << (8 - bits)
    img.flat[:2] = [0, 255 >> (8 - bits) << (8 - bits)]  # make sure a level with the lowest set bit occurs
    img.flat[2] = 1 << (8 - bits)
    bd = detect_bits(img)
    assert bd.bits == bits and bd.step == 2.0 ** (8 - bits) and bd.container_bits == 8


@pytest.mark.parametrize("bits", [10, 12, 16])
def test_uint16(bits):
    img = (rng.integers(0, 65536, (16, 16), dtype=np.uint16) >> (16 - bits)) << (16 - bits)
    img.flat[0] = 1 << (16 - bits)
    assert detect_bits(img).bits == bits


def test_gcd_not_power_of_two():
    bd = detect_bits(np.array([0, 96, 192], np.uint8))
    assert bd.gcd == 96 and bd.step == 32 and bd.bits == 3 and bd.notes


def test_level_indices_and_float():
    assert detect_bits(np.array([0, 1, 6], np.int32)).bits == 3
    assert detect_bits(np.array([0.0, 15.0])).bits == 4
    with pytest.raises(ValueError, match="non-integer"):
        detect_bits(np.array([0.0, 0.5]))
    with pytest.raises(ValueError, match="negative"):
        detect_bits(np.array([-1, 3]))


def test_unscaled_8bit_in_uint16_noted():
    bd = detect_bits(np.array([0, 17, 255], np.uint16))
    assert bd.bits == 16 and any("unscaled" in n for n in bd.notes)


def test_bad_inputs():
    with pytest.raises(ValueError, match="constant"):
        detect_bits(np.full((3, 3), 64, np.uint8))
    with pytest.raises(TypeError, match="boolean"):
        detect_bits(np.ones((2, 2), bool))
    with pytest.raises(TypeError):
        detect_bits("image")
    with pytest.raises(ValueError, match="empty"):
        detect_bits(np.zeros((0,), np.uint8))


def test_16bit_claimed_as_8bit():
    img = rng.integers(0, 65536, (8, 8), dtype=np.uint16)
    img.flat[0] = 1
    with pytest.raises(ValueError, match="16-bit data .* bits=8 was claimed"):
        check_bits(img, 8)


def test_bits_larger_than_container():
    with pytest.raises(ValueError, match="does not fit"):
        check_bits(np.array([0, 1], np.uint8), 9)
    with pytest.raises(TypeError):
        check_bits(np.array([0, 1], np.uint8), 2.0)
    with pytest.raises(ValueError, match=">= 1"):
        check_bits(np.array([0, 1], np.uint8), 0)


def test_claim_accepted_when_consistent():
    img = np.array([0, 64, 128, 192], np.uint8)
    assert check_bits(img, 2).bits == 2
    assert check_bits(img, 4).bits == 2  # more bits than used is allowed (cannot be disproved)
    with pytest.raises(ValueError, match="exceed 7"):
        check_bits(np.array([0, 9]), 3)
