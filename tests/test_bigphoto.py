"""Large photographs (issue #18): the wide blend smoothing and the benchmark's CLI case."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
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
    # the per-channel split, read off the command's verbose lines: each part took some time, the
    # probe is inside the solve, and the parts fit in the process's wall time
    assert len(row["channels"]) == 3
    for ch in row["channels"]:
        assert set(ch) == {"pipeline", "probe", "solve", "blend"}
        assert 0 <= ch["probe"] <= ch["solve"] and ch["pipeline"] >= 0 and ch["blend"] >= 0
    # the channels may run side by side (channels.channel_jobs): each one's steps fit in the wall time
    assert all(ch["pipeline"] + ch["solve"] + ch["blend"] <= row["wall"] for ch in row["channels"])


def test_cli_case_stopped_at_its_limit_reports_what_it_got_to(tmp_path, capsys):
    # a run longer than its limit is interrupted like Ctrl-C: nothing written, the row says so
    import benchmarks.dense as dense

    dense.CLI_CASES["cli-test-stop"] = ("coffee", (40, 56), 4)
    try:
        dense.cli_child("cli-test-stop", limit=0.5)
    finally:
        del dense.CLI_CASES["cli-test-stop"]
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["certified"] is False and row["statuses"][0].startswith("stopped after")
    assert row["wall"] >= 0.5


def test_a_tiled_case_name_without_its_side_is_refused(capsys):
    from benchmarks.dense import main

    with pytest.raises(SystemExit) as exc:
        main(["--cases", "camera-3-tile", "--out", "unused"])
    assert exc.value.code == 2
    assert "'camera-3-tile': a tiled case ends in -tileT" in capsys.readouterr().err


def test_interleave_makes_the_repeats_in_rounds_and_says_so(monkeypatch, tmp_path):
    # the ratio targets (2048² against 1024²) need both medians to span the same minutes
    import benchmarks.dense as dense

    made = []

    def fake_run(name, timeout, channel_jobs=None):
        made.append(name)
        if name == "camera-4" and made.count(name) == 2:
            return {"case": name, "error": "timed out after 9 s"}
        return {"case": name, "shape": [8, 8], "pixels": 64, "bits": 3, "wall": 1.0 + len(made), "cpu": 1.0,
                "peak_mb": 10.0, "certified": True, "statuses": ["optimal"], "rel_gap": 1e-9, "solve_wall": 0.5,
                "solvers": ["tnnmg"], "fallback": [""], "threads": 1, "load": [0.1, 0.2]}

    monkeypatch.setattr(dense, "_run", fake_run)
    dense.main(["--cases", "camera-3", "camera-4", "--repeats", "3", "--interleave", "--out", str(tmp_path)])
    # round 3 has no camera-4: its second run timed out
    assert made == ["camera-3", "camera-4", "camera-3", "camera-4", "camera-3"]
    results = json.loads((tmp_path / "dense.json").read_text())
    assert [len(results["camera-3"]), len(results["camera-4"])] == [3, 2]
    assert "(made in rounds over the cases by the commands with `--interleave`)" in (tmp_path / "dense.md").read_text()
    made.clear()
    dense.main(["--cases", "camera-3", "camera-4", "--repeats", "2", "--out", str(tmp_path / "plain")])
    assert made == ["camera-3", "camera-3", "camera-4", "camera-4"]
    assert "--interleave" not in (tmp_path / "plain" / "dense.md").read_text()
    # a table grown by a plain run keeps saying that its interleaved rows were made in rounds
    dense.main(["--cases", "camera-4", "--repeats", "1", "--out", str(tmp_path)])
    assert "by the commands with `--interleave`" in (tmp_path / "dense.md").read_text()


def test_a_tiled_case_runs_dequantize_with_its_tiles(monkeypatch, capsys):
    # a 128 x 128 crop of coffee stands for the photograph: the row says every channel was certified
    import benchmarks.dense as dense
    import qpsolve as qs

    real = dense._image
    monkeypatch.setattr(dense, "_image", lambda name: (real(name)[0][:128, :128], real(name)[1]))
    seen = {}
    original = qs.dequantize

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(qs, "dequantize", spy)
    dense.child("coffee-3-tile64", channel_jobs=2)  # --channel-jobs is for untiled cases only
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert seen["tile"] == 64 and seen["channel_axis"] == -1 and row["certified"] and len(row["statuses"]) == 3


def test_channel_splits_read_the_verbose_lines():
    from benchmarks.dense import channel_splits

    lines = ["[photo] channel 0: envelopes and weights in 20.5 s", "tnnmg n=4: step 1: ...",
             "[photo] channel 0: solved (optimal) in 100.0 s", "[photo] channel 0: blended in 0.4 s",
             "[photo] channel 1: envelopes and weights in 19.0 s",
             "[pdas] hands over to tnnmg after 9.0 s: too_many_active on a coarse level of 750000 pixels"]
    assert channel_splits(lines) == [{"pipeline": 20.5, "solve": 100.0, "probe": 0.0, "blend": 0.4},
                                     {"pipeline": 19.0, "probe": 9.0}]
    # channels side by side: their lines interleave, each labelled; a hand-over belongs to its label
    lines = ["[channel 0] [photo] channel 0: envelopes and weights in 20.5 s",
             "[channel 1] [photo] channel 1: envelopes and weights in 19.0 s",
             "[channel 1] [pdas] hands over to tnnmg after 8.0 s: too_many_active on a coarse level",
             "[channel 0] [pdas] hands over to tnnmg after 9.0 s: too_many_active on a coarse level",
             "[channel 1] [photo] channel 1: solved (optimal) in 90.0 s",
             "[channel 0] [photo] channel 0: solved (optimal) in 100.0 s"]
    assert channel_splits(lines) == [{"pipeline": 20.5, "probe": 9.0, "solve": 100.0},
                                     {"pipeline": 19.0, "probe": 8.0, "solve": 90.0}]
    # the labels of weights made after the solve (session 17 on), and of no blend, read the same way
    lines = ["[photo] channel 0: envelopes in 2.5 s", "[photo] channel 0: solved (optimal) in 10.0 s",
             "[photo] channel 0: blended (weights made here) in 0.7 s", "[photo] channel 1: envelopes in 2.4 s",
             "[photo] channel 1: solved (optimal) in 9.0 s", "[photo] channel 1: restored in 0.2 s"]
    assert channel_splits(lines) == [{"pipeline": 2.5, "solve": 10.0, "probe": 0.0, "blend": 0.7},
                                     {"pipeline": 2.4, "solve": 9.0, "probe": 0.0, "blend": 0.2}]



# ------------------------------------------------------------ exact distance transforms (blend weights)

@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(1, 12), min_size=1, max_size=3), density=st.floats(0.0, 1.0),
       seed=st.integers(0, 2**16))
def test_distance_to_is_scipys_edt(shape, density, seed):
    # scipy.ndimage's exact transform is the reference, bit for bit, in 1-D to 3-D
    from qpsolve.imaging.distance import distance_to

    feat = np.random.default_rng(seed).random(shape) < density
    got = distance_to(feat)
    if feat.any():
        assert np.array_equal(got, ndimage.distance_transform_edt(~feat))
    else:
        assert got.shape == feat.shape and np.all(np.isinf(got))


def test_distance_to_on_a_large_sparse_mask():
    # long lines with features far apart and a whole empty row band: the envelope's long reach
    from qpsolve.imaging.distance import distance_to

    feat = np.zeros((300, 700), bool)
    feat[7, 650] = feat[290, 3] = feat[150, 350] = True
    assert np.array_equal(distance_to(feat), ndimage.distance_transform_edt(~feat))


def test_distance_to_refuses_a_scalar():
    from qpsolve.imaging.distance import distance_to

    with pytest.raises(ValueError, match="features"):
        distance_to(np.bool_(True))


def test_blend_weights_match_the_scipy_distance_transforms(monkeypatch):
    # the photo pipeline's weights on a real photograph, against the same formula with scipy's EDT
    import skimage.data

    from qpsolve.imaging import distance, photo
    from qpsolve.imaging.data import truncate_bits

    img = truncate_bits(skimage.data.camera()[100:260, 60:300], 4).astype(np.float64)
    lo, hi = img, img + 16.0
    got = photo.blend_weights(lo, hi)
    # photo imports the transform when it runs (numba only on the photo path), so patch it at its home
    monkeypatch.setattr(distance, "distance_to", lambda m: ndimage.distance_transform_edt(~np.asarray(m)) if np.any(m)
                        else np.full(np.shape(m), np.inf))
    ref = photo.blend_weights(lo, hi)
    assert np.array_equal(got, ref)
    assert 0.2 <= float(got.min()) < float(got.max()) <= 1.0  # the test is not vacuous


# ----------------------------------------------------- pdas's coarsest level: who measures the contacts

def test_a_large_coarsest_level_is_solved_by_tnnmg():
    # 3000 x 4000 stops halving at 375 x 500: 187 500 pixels, where pcg took tens of seconds
    from qpsolve.model.operators import GridSpec
    from qpsolve.solvers.pdas.multilevel import GridLevel, coarsest_solver, level_chain

    big = GridLevel(np.zeros(375 * 500), np.ones(375 * 500), GridSpec(shape=(375, 500)))
    assert coarsest_solver(big.boxqp())[0] == "tnnmg"
    # the smooth benchmark problems (2-bit Gaussian, 256^2 .. 2048^2) halve down to a few pixels: pcg, as before
    from qpsolve.bench.harness import build_problem

    for size in (256, 2048):
        chain = level_chain(build_problem("gaussian2", size), 8)
        assert chain[-1].n <= 256 and coarsest_solver(chain[-1].boxqp())[0] == "pcg"


@pytest.mark.filterwarnings("ignore:The default value of raise_error:PendingDeprecationWarning")
def test_tnnmg_on_the_coarsest_level_gives_the_same_certified_answer(monkeypatch):
    # a textured photograph whose chain stops at 14 x 18 pixels; with the threshold lowered the
    # coarsest level goes to tnnmg, and the answer is the one pcg's coarsest level leads to
    import skimage.data
    from skimage.transform import resize

    import qpsolve as qs
    from qpsolve.imaging.data import truncate_bits
    from qpsolve.linalg import gridmg
    from qpsolve.solvers.pdas import constants

    img = resize(skimage.data.camera().astype(float), (28, 36), order=1, anti_aliasing=False, preserve_range=True)
    prob = qs.image_problem(truncate_bits(np.rint(img).astype(np.uint8), 3), bits=3)
    ref = qs.solve(prob, solver="pdas")
    monkeypatch.setattr(constants, "COARSEST_MULTIGRID", 200)
    monkeypatch.setattr(gridmg, "MIN_SIDE", 14)  # 14 x 18: short sides stay on pcg otherwise
    res = qs.solve(prob, solver="pdas")
    assert ref.info["levels"][0]["solver"] == "pcg" and ref.info["levels"][0]["n"] == 252
    assert res.info["levels"][0]["solver"] == "tnnmg" and res.info["levels"][0]["n"] == 252
    assert res.info["levels"][0]["status"] == "optimal"
    assert ref.success and res.success
    osqp = qs.solve(prob, solver="osqp")  # an independent solver
    for r in (ref, res):
        assert abs(r.objective - osqp.objective) <= 3e-8 * max(1.0, abs(osqp.objective)) + osqp.kkt.gap


# ------------------------------------------------------ the colour pipeline: one channel's problem at a time

def test_channels_are_built_and_solved_one_at_a_time(monkeypatch, capsys):
    # a 12-Mpx channel's envelopes, weights and solver arrays are gigabytes: channel c + 1 is built
    # only after channel c is solved (before, all three were built first), and verbose says how long each took
    import skimage.data

    import qpsolve as qs
    from qpsolve.imaging import channels, photo
    from qpsolve.imaging.data import truncate_bits

    events = []
    build, solve = photo._channel_problem, photo._solve_prob

    def logged_build(*a, **k):
        events.append("build")
        return build(*a, **k)

    def logged_solve(*a, **k):
        events.append("solve")
        return solve(*a, **k)

    monkeypatch.setattr(photo, "_channel_problem", logged_build)
    monkeypatch.setattr(photo, "_solve_prob", logged_solve)
    # channels go one at a time when the memory holds less than two (here: 100 pixels' worth)
    monkeypatch.setattr(channels, "memory_budget", lambda: 100 * channels.BYTES_PER_PIXEL)
    img = truncate_bits(skimage.data.astronaut()[200:240, 180:228], 3)
    out, res = qs.dequantize(img, bits=3, channel_axis=-1, return_result=True, verbose=True)
    assert events == ["build", "solve"] * 3
    assert [r.success for r in res] == [True] * 3 and out.shape == img.shape
    said = capsys.readouterr().out
    for c in range(3):
        # the default makes the blend weights after the solve: the first step times the envelopes alone
        for step in ("envelopes", "solved (optimal)", "blended (weights made here)"):
            assert f"[photo] channel {c}: {step} in " in said
    assert "and weights" not in said


def test_verbose_labels_say_where_the_blend_weights_are_made(capsys):
    # with a shrink the weights are made from the envelopes before it, in the first step
    import skimage.data

    import qpsolve as qs
    from qpsolve.imaging.data import truncate_bits

    img = truncate_bits(skimage.data.camera()[200:240, 180:228], 3)
    qs.dequantize(img, bits=3, adaptive={"shrink": 2.0}, verbose=True)
    said = capsys.readouterr().out
    assert "[photo] envelopes and weights in " in said and "made here" not in said
    qs.dequantize(img, bits=3, verbose=True)
    said = capsys.readouterr().out
    assert "[photo] envelopes in " in said and "[photo] blended (weights made here) in " in said
    assert "and weights" not in said
    # textured pixels pinned instead of blended: nothing is weighted or blended
    qs.dequantize(img, bits=3, adaptive={"mode": "pin"}, verbose=True)
    said = capsys.readouterr().out
    assert "[photo] envelopes in " in said and "[photo] restored in " in said and "blended" not in said


def test_one_at_a_time_gives_what_each_channel_gives_alone():
    # the loop changes the order of the work, not the answer: each channel as a grey image
    import skimage.data

    import qpsolve as qs
    from qpsolve.imaging.data import truncate_bits

    img = truncate_bits(skimage.data.coffee()[100:140, 300:350], 4)
    out = qs.dequantize(img, bits=4, channel_axis=-1)
    for c in range(3):
        assert np.array_equal(out[..., c], qs.dequantize(img[..., c], bits=4))


def test_verbose_says_when_pdas_hands_over(capsys):
    # the hand-over is part of the time a user waits; verbose names the successor and the seconds
    import qpsolve as qs
    from qpsolve.bench.harness import build_problem

    prob = build_problem("gaussian2", 32)
    res = qs.solve(prob, solver="pdas", max_active=1, verbose=True)  # too small a Schur complement: pcg
    said = capsys.readouterr().out
    assert res.success and res.info["fallback"]["solver"] == "pcg"
    assert "[pdas] hands over to pcg after " in said and "too_many_active" in said
    qs.solve(prob, solver="pdas", verbose=True)  # no hand-over, nothing said about one
    assert "hands over" not in capsys.readouterr().out


def test_report_lists_the_cli_splits_under_the_table(tmp_path):
    from benchmarks.dense import report

    row = {"case": "cli-x", "shape": [30, 40, 3], "pixels": 1200, "bits": 4, "wall": 130.0, "cpu": 120.0,
           "peak_mb": 900.0, "certified": False, "statuses": ["stopped after 130 s"], "rel_gap": float("nan"),
           "solve_wall": None, "solvers": [], "fallback": [],
           "channels": [{"pipeline": 20.5, "probe": 9.0, "solve": 100.0, "blend": 0.4}, {"pipeline": 19.0}]}
    report({"cli-x": [row]}, tmp_path, "cmd")
    text = (tmp_path / "dense.md").read_text()
    assert "| cli-x | 30×40×3 | 4 | 1 |" in text and "NO: stopped after 130 s" in text
    assert ("cli-x, run 1 (130 s wall, 120 CPU s, 900 MB, stopped after 130 s)" in text
            and "channel 0: pipeline 20.5 s, probe 9.0 s, solve 100.0 s, blend 0.4 s; channel 1: pipeline 19.0 s"
            in text)


def test_report_says_when_colour_channels_ran_side_by_side(tmp_path):
    # rows of channels solved side by side are not comparable with earlier one-at-a-time rows
    from benchmarks.dense import report

    def row(jobs):
        r = {"case": "c", "shape": [8, 8, 3], "pixels": 64, "bits": 3, "wall": 1.0, "cpu": 1.0, "peak_mb": 10.0,
             "certified": True, "statuses": ["optimal"], "rel_gap": 1e-9, "solve_wall": 0.5, "solvers": ["tnnmg"],
             "fallback": [""], "threads": 1}
        if jobs is not None:
            r["channel_jobs"] = jobs
        return r

    report({"par": [row(2)], "seq": [row(1)], "old": [row(None)]}, tmp_path, "cmd")
    text = (tmp_path / "dense.md").read_text()
    lines = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "| 1 × 2 ch |" in lines["par"]
    assert "× " not in lines["seq"] and "× " not in lines["old"]


def test_report_header_names_every_command_and_says_shared_only_from_recorded_load(tmp_path):
    from benchmarks.dense import report

    def row(case, command, date, load):
        r = {"case": case, "shape": [8, 8], "pixels": 64, "bits": 3, "wall": 1.0, "cpu": 1.0, "peak_mb": 10.0,
             "certified": True, "statuses": ["optimal"], "rel_gap": 1e-9, "solve_wall": 0.5, "solvers": ["tnnmg"],
             "fallback": [""], "load": load}
        if command is not None:
            r["run"] = {"command": command, "date": date}
        return r

    quiet = {"a": [row("a", "cmd-A", "2026-12-06 22:00 UTC", [0.3, 0.9])],
             "b": [row("b", "cmd-B", "2026-12-06 23:00 UTC", [0.5, 1.2]),
                   row("b", "cmd-B", "2026-12-06 23:05 UTC", [0.6, 1.1])]}
    report(quiet, tmp_path, "cmd-B")
    text = (tmp_path / "dense.md").read_text()
    assert "- `cmd-A` (2026-12-06 22:00 UTC: a)" in text
    assert "- `cmd-B` (2026-12-06 23:00 UTC to 2026-12-06 23:05 UTC: b)" in text
    assert "load average 0.3-1.2" in text and "quiet." in text and "**shared**" not in text

    loaded = dict(quiet, c=[row("c", None, None, [3.0, 4.5])])
    report(loaded, tmp_path, "cmd-C")
    text = (tmp_path / "dense.md").read_text()
    assert "1 run(s) made before runs recorded their command; the last command writing this table: `cmd-C`" in text
    assert "load average 0.3-4.5" in text and "**shared**" in text
