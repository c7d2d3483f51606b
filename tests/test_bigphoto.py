"""Large photographs (issue #18): the wide blend smoothing and the benchmark's CLI case."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import skimage.io
from hypothesis import given, settings, strategies as st
from scipy import ndimage

from qpsolve.imaging.smoothing import FFT_TAPS, gaussian_nearest

ROOT = Path(__file__).resolve().parent.parent


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), sigma=st.floats(0.3, 20.0),
       truncate=st.sampled_from([2.0, 4.0, 6.0]), seed=st.integers(0, 2**16))
def test_gaussian_nearest_is_scipys_filter(rows, cols, sigma, truncate, seed):
    # scipy.ndimage's own direct correlation is the reference, short and long kernels alike,
    # including kernels much longer than the array (the edge rule then decides everything)
    a = np.random.default_rng(seed).normal(size=(rows, cols))
    ref = ndimage.gaussian_filter(a, sigma, mode="nearest", truncate=truncate)
    got = gaussian_nearest(a, sigma, truncate=truncate)
    assert got.shape == a.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * max(1.0, float(np.abs(a).max())))


def test_gaussian_nearest_takes_the_fft_path_on_long_kernels():
    # a constant image stays constant (the normalised kernel, edges extended), and a step keeps
    # its symmetry about the middle, on a kernel long enough for the FFT
    sigma = FFT_TAPS / 4.0
    flat = np.full((30, 50), 3.5)
    np.testing.assert_allclose(gaussian_nearest(flat, sigma, truncate=4.0), 3.5, rtol=0, atol=1e-12)
    step = np.zeros((5, 200))
    step[:, 100:] = 1.0
    out = gaussian_nearest(step, sigma, truncate=4.0)
    np.testing.assert_allclose(out[:, :100], 1.0 - out[:, 100:][:, ::-1], rtol=0, atol=1e-12)


def test_gaussian_nearest_refuses_a_nonpositive_sigma():
    import pytest

    with pytest.raises(ValueError, match="sigma"):
        gaussian_nearest(np.zeros((3, 3)), 0.0)


def test_cli_case_runs_the_command_and_reports_it(tmp_path):
    # the benchmark's 12-Mpx case at a small size: the input it writes is the 4-bit upscaled photo,
    # and the row comes from `python -m qpsolve dequantize` run as its own process
    import benchmarks.dense as dense

    dense.CLI_CASES["cli-test-tiny"] = ("coffee", (40, 56), 4)
    try:
        shape, bits = dense.cli_input("cli-test-tiny", str(tmp_path / "in.png"))
        img = skimage.io.imread(tmp_path / "in.png")
        assert img.shape == (40, 56, 3) and shape == img.shape and bits == 4
        assert np.all(img % 16 == 0) and len(np.unique(img)) > 4
        code = ("import benchmarks.dense as d; d.CLI_CASES['cli-test-tiny'] = ('coffee', (40, 56), 4); "
                "d.child('cli-test-tiny')")
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                           timeout=300)
    finally:
        del dense.CLI_CASES["cli-test-tiny"]
    assert p.returncode == 0, p.stderr
    row = json.loads(p.stdout.strip().splitlines()[-1])
    assert row["shape"] == [40, 56, 3] and row["pixels"] == 40 * 56
    assert row["certified"] is True, row
    assert row["statuses"] == ["optimal"] * 3 and 0 <= row["rel_gap"] <= 1e-8
    assert row["cpu"] > 0 and row["peak_mb"] > 10 and row["solvers"]
