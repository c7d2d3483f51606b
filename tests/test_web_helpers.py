"""The web page's logic without a browser: decoding uploads, the solve, the words, the pictures."""

from __future__ import annotations

import io
import socket
import sys
import threading

import numpy as np
import pytest
import tifffile
from PIL import Image

import qpsolve as qs
from qpsolve.imaging.io import read_image, write_image
from qpsolve.web import jobs, solving, views
from qpsolve.web.upload import UploadError, decode_upload

from web_images import bomb_png, gaussian, palette_png, png_bytes, rgb, truncated_png

# Two calls of qs.dequantize on the same image in one process need not agree bit for bit: the
# active-set path is sensitive to rounding (seen: 4.2e-5 on the 0-255 scale between the page's
# solve and the reference, after other solves had run).  Any wrong setting (model, boundary rule,
# adaptive, bit depth) moves pixels by far more than this.
SAME = 1e-3


def _close(a, b):
    return a.shape == b.shape and float(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float)))) <= SAME


# --- uploads -------------------------------------------------------------------------------------

def test_gray_png_is_decoded_and_its_bit_depth_detected():
    up = decode_upload("g.png", png_bytes(gaussian(64, bits=2)))
    assert up.kind == "gray" and up.container_bits == 8 and up.detected.bits == 2
    assert up.alpha is None and up.colour.shape == (64, 64)


def test_rgba_16bit_png_keeps_16_bits_and_splits_alpha(tmp_path):
    img = (rgb(32, bits=8).astype(np.uint16) * 257) >> 6 << 6          # 10-bit data in 16 bits
    alpha = np.full((32, 32, 1), 40000, np.uint16)
    path = tmp_path / "x.png"
    write_image(path, np.concatenate([img, alpha], -1), data_range=(0, 65535))
    up = decode_upload("x.png", path.read_bytes())
    assert up.kind == "RGBA" and up.container_bits == 16 and up.detected.bits == 10
    assert up.colour.shape == (32, 32, 3) and np.array_equal(up.alpha, alpha[..., 0])


def test_tiff_and_jpeg_are_accepted():
    buf = io.BytesIO()
    tifffile.imwrite(buf, gaussian(32, bits=3))
    assert decode_upload("a.tif", buf.getvalue()).detected.bits == 3
    buf = io.BytesIO()
    Image.fromarray(rgb(32, bits=8)).save(buf, "JPEG", quality=90)
    up = decode_upload("photo.JPG", buf.getvalue())
    assert up.kind == "RGB" and up.container_bits == 8


@pytest.mark.parametrize("name, data, words", [
    ("notes.png", b"this is a shopping list, not a picture", "could not be read as an image"),
    ("half.png", truncated_png(), "could not be read as an image"),
    ("empty.png", b"", "is empty"),
    ("bomb.png", bomb_png(), "more than max_pixels=100000000"),
    ("indexed.png", palette_png(), "palette (indexed-colour) image"),
    ("flat.png", png_bytes(np.full((8, 8), 128, np.uint8)), "constant"),
    ("table.csv", b"1,2\n3,4", "expected a PNG, TIFF or JPEG"),
])
def test_bad_uploads_raise_upload_error_naming_the_file(name, data, words):
    with pytest.raises(UploadError) as err:
        decode_upload(name, data)
    msg = str(err.value)
    assert words in msg and name in msg
    assert "/tmp" not in msg and "qpsolve-web-" not in msg  # the visitor never sees our temporary path


def test_pixel_limit_is_the_callers():
    data = png_bytes(gaussian(64))
    with pytest.raises(UploadError, match="4096 pixels .* more than max_pixels=4000"):
        decode_upload("g.png", data, max_pixels=4000)
    assert decode_upload("g.png", data, max_pixels=4096).image.shape == (64, 64)


def test_palette_is_expanded_when_asked():
    up = decode_upload("indexed.png", palette_png(), convert_palette=True)
    assert up.kind == "gray" and any("palette image converted" in n for n in up.notes)


# --- the solve -----------------------------------------------------------------------------------

def test_settings_defaults_are_those_documented_for_dequantize():
    # the README and qs.dequantize's docstring: biharmonic, odd, content-adaptive, no outlier handling
    s = solving.Settings()
    assert (s.model, s.bc, s.adaptive, s.outliers, s.gain, s.bits, s.tile) == (
        "biharmonic", "odd", True, None, 1.0, None, None)


@pytest.mark.parametrize("arr", [gaussian(48, bits=2), rgb(40, bits=4)], ids=["gray", "rgb"])
def test_default_run_is_dequantize_of_the_upload(arr):
    up = decode_upload("x.png", png_bytes(arr))
    out = solving.run(up, solving.Settings())
    ref = qs.dequantize(arr, bits=up.detected.bits, channel_axis=-1 if arr.ndim == 3 else None)
    assert out.certified and _close(out.image, ref)


def test_png_download_round_trips_to_16_bits(tmp_path):
    arr = rgb(32, bits=3)
    up = decode_upload("x.png", png_bytes(np.dstack([arr, np.full(arr.shape[:2], 77, np.uint8)])))
    outcome = solving.run(up, solving.Settings())
    path = tmp_path / "d.png"
    path.write_bytes(solving.encode(outcome, "16-bit PNG"))
    got = read_image(path)
    ref = qs.dequantize(arr, bits=3, channel_axis=-1)
    assert got.dtype == np.uint16 and got.shape == (32, 32, 4)
    # the PNG holds the page's own result exactly, and that is dequantize's to within SAME
    assert np.array_equal(got[..., :3], np.rint(outcome.image[..., :3] / 255 * 65535).astype(np.uint16))
    assert np.abs(got[..., :3].astype(int) - np.rint(ref / 255 * 65535)).max() <= 1
    assert np.all(got[..., 3] == 77 * 257)  # alpha passed through, rescaled with the container
    tif = tmp_path / "d.tif"
    tif.write_bytes(solving.encode(outcome, "32-bit float TIFF"))
    assert np.array_equal(tifffile.imread(tif), outcome.image.astype(np.float32))
    assert _close(tifffile.imread(tif)[..., :3], ref)


def test_brightening_divides_the_envelopes_and_widens_the_png_range():
    arr = gaussian(32, bits=6) // 4 // 4 * 4                     # a dark picture, 6-bit levels
    up = decode_upload("dark.png", png_bytes(arr.astype(np.uint8)))
    s = solving.Settings(gain=0.25, bits=6)
    out = solving.run(up, s)
    ref = qs.dequantize(arr.astype(np.uint8), bits=6, gain=0.25)
    assert _close(out.image, ref) and out.data_range == (0.0, 1020.0)


def test_a_bit_depth_the_data_contradicts_is_refused_in_words():
    up = decode_upload("g.png", png_bytes(gaussian(32, bits=3)))
    with pytest.raises(ValueError, match="3-bit data .* but bits=2"):
        solving.check(up, solving.Settings(bits=2))


@pytest.mark.parametrize("field, value, words", [
    ("model", "cubic", "model must be one of"), ("bc", "zero", "boundary rule must be one of"),
    ("outliers", "drop", "outlier handling must be one of"), ("gain", 0.0, "gain must lie in"),
    ("gain", 2.0, "gain must lie in"), ("gain", float("nan"), "gain must lie in")])
def test_settings_refuse_values_outside_the_library(field, value, words):
    with pytest.raises(ValueError, match=words):
        solving.Settings(**{field: value})


def test_certificate_words_say_optimal_with_the_gap():
    up = decode_upload("g.png", png_bytes(gaussian(32, bits=2)))
    outcome = solving.run(up, solving.Settings())
    lines = solving.certificate_words(outcome)
    rel = outcome.results[0].kkt.relative_gap
    assert lines[0].startswith("Certified optimal: no image inside the quantization envelopes is smoother.")
    assert f"relative {rel:.1e}" in lines[0] and "tolerance 1e-08" in lines[0]
    assert lines[1].startswith(f"Time taken: {outcome.seconds:.2f} s")
    # the default is content-adaptive: the page says the image is a blend of the certified plate
    mean = outcome.results[0].info["blend"]["mean_weight"]
    assert any(line.startswith("Content-adaptive: the certificate is that of the plate") and f"{mean:.2f}" in line
               for line in lines[2:])
    plain = solving.certificate_words(solving.run(up, solving.Settings(adaptive=False)))
    assert not any("blended" in line for line in plain)


def test_certificate_words_name_the_solver_that_finished_after_a_hand_over():
    img = np.random.default_rng(0).integers(0, 8, (96, 96)).astype(np.uint8) * 32   # noise: dense contacts
    res = qs.solve(qs.image_problem(img, bits=3), solver="auto")
    assert res.success and res.solver == "pdas" and res.info["fallback"]["solver"] == "tnnmg"
    outcome = solving.Outcome(res.x.reshape(img.shape), [res], 0.5, 2, (0.0, 255.0))
    assert "(solver: pdas, handed over to tnnmg)." in solving.certificate_words(outcome)[1]
    alone = qs.solve(qs.image_problem(img, bits=3), solver="tnnmg")
    words = solving.certificate_words(solving.Outcome(alone.x.reshape(img.shape), [alone], 0.5, 2, (0.0, 255.0)))
    assert "(solver: tnnmg)." in words[1]


def test_the_solver_words_name_every_backend_of_a_hand_over_chain():
    from types import SimpleNamespace

    chain = [{"solver": s, "iterations": 1, "message": "", "seconds": 0.0} for s in ("pdas", "tnnmg", "pcg")]
    res = SimpleNamespace(solver="pdas", info={"fallback": {"solver": "pcg", "after": "tnnmg"}, "handovers": chain})
    assert solving._solver_words(res) == "pdas, handed over to tnnmg, then pcg"
    res = SimpleNamespace(solver="pdas", info={"fallback": {"solver": "tnnmg"}})  # results without the chain
    assert solving._solver_words(res) == "pdas, handed over to tnnmg"


def test_the_solver_words_say_which_zero_energy_function_answered():
    # a flat tile and a ramp through the real solve: the page names the function, not a plate's words
    flat = qs.solve(qs.image_problem(np.full((16, 16), 96, np.uint8), bits=4))
    from qpsolve.imaging.data import truncate_bits

    ramp = truncate_bits(np.add.outer(np.arange(16), np.arange(16)).astype(np.uint8) * 8, 4)
    ramp = qs.solve(qs.image_problem(ramp, bits=4))
    assert solving._solver_words(flat) == "null-space (zero energy: a constant fits the envelopes)"
    assert solving._solver_words(ramp) == "null-space (zero energy: a bilinear function fits the envelopes)"


def test_tiles_for_large_photographs_are_dequantize_with_tile_and_say_what_they_certify():
    img = gaussian(272, bits=3)                       # above 256 x 256: no global polish
    up = decode_upload("big.png", png_bytes(img))
    outcome = solving.run(up, solving.Settings(tile=128))
    ref, res = qs.dequantize(img, bits=3, tile=128, return_result=True)
    assert _close(outcome.image, ref) and not res.info["polished"]
    line = solving.certificate_words(outcome)[0]
    n = res.info["tiles"]
    assert line.startswith(f"Certified tile by tile: {n} of {n} tiles are certified optimal")
    assert "not certified against the whole image" in line


def test_certificate_words_say_not_optimal_when_the_solver_stopped_short():
    img = gaussian(32, bits=2)
    res = qs.solve(qs.image_problem(img, bits=3), solver="gd-multigrid")   # the paper's scheme: not converged
    assert not res.success
    outcome = solving.Outcome(res.x.reshape(img.shape), [res], 0.5, 2, (0.0, 255.0))
    line = solving.certificate_words(outcome)[0]
    assert line.startswith("Not certified optimal: the solver stopped at a duality gap")
    assert f"{res.kkt.gap:.2g}" in line and "a smoother one may exist" in line


# --- pictures ------------------------------------------------------------------------------------

def test_flattest_windows_find_band_edges_in_smooth_areas_not_texture():
    rng = np.random.default_rng(1)
    before = np.repeat(np.arange(128) // 32 * 64.0, 128).reshape(128, 128)   # four horizontal bands
    before[:, :64] = rng.integers(0, 4, (128, 64)) * 64.0                   # texture on the left half
    after = before.copy()
    after[:, 64:] = np.linspace(0, 255, 128)[:, None]                        # smooth on the right
    wins = views.flattest_windows(before, after, k=3)
    assert len(wins) == 3
    for r, c, w in wins:
        assert c >= 64 and w == 32
        assert np.count_nonzero(np.diff(before[r:r + w, c:c + w], axis=0)) >= w   # a band edge inside


def test_flattest_windows_avoid_object_edges():
    before = np.repeat(np.arange(128) // 16 * 16.0, 128).reshape(128, 128)   # bands one level (16) apart
    before[:, 60:] += 128.0                                                   # an object edge at column 60
    after = np.repeat(np.linspace(0, 127, 128), 128).reshape(128, 128)
    after[:, 60:] += 128.0
    wins = views.flattest_windows(before, after, step=16, k=3)
    assert len(wins) == 3
    for r, c, w in wins:
        assert not (c < 60 < c + w), (r, c, w)            # no window straddles the edge
        assert np.count_nonzero(np.diff(before[r:r + w, c:c + w], axis=0)) >= w
    # without the step, the smallest neighbour difference (one level) is found from the data
    assert views.flattest_windows(before, after, k=3) == wins


def test_wipe_and_display_scaling():
    b = views.to_display(np.zeros((4, 8)), (0, 255))
    a = views.to_display(np.full((4, 8), 255.0), (0, 255))
    w = views.wipe(b, a, 0.25)
    assert (w[:, :2] == 0).all() and (w[:, 2] == 255).all() and (w[:, 3:] == 255).all()
    assert views.for_browser(np.zeros((10, 100), np.uint8)).shape == (60, 600)


# --- off the page's thread -------------------------------------------------------------------------

def test_jobs_run_off_the_calling_thread_and_report_state():
    gate, seen = threading.Event(), {}

    def work():
        seen["thread"] = threading.current_thread().name
        gate.wait(10)
        return "done"

    job = jobs.submit(work)                  # returns at once although work() blocks
    assert not job.over
    gate.set()
    job.wait(10)
    assert job.state == "done" and job.result == "done"
    assert seen["thread"].startswith("qpsolve-web-solve") and seen["thread"] != threading.current_thread().name


# --- the command ---------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [(["web", "--port", "70000"], "expected a port number 1-65535"),
                                         (["web", "--port", "http"], "expected a port number 1-65535"),
                                         (["web", "--max-pixels", "0"], "expected a positive integer")])
def test_web_command_refuses_bad_arguments_in_words(argv, words, capsys):
    from qpsolve.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and words in capsys.readouterr().err


def test_web_command_runs_streamlit_on_the_page_with_the_given_address():
    from qpsolve.cli.commands.web import streamlit_command
    from qpsolve.web import APP_PATH

    cmd = streamlit_command("0.0.0.0", 9000, 1234)
    assert cmd[:5] == [sys.executable, "-m", "streamlit", "run", str(APP_PATH)]
    assert APP_PATH.is_file()
    assert {"--server.address=0.0.0.0", "--server.port=9000", "--client.showErrorDetails=none"} <= set(cmd)
    assert cmd[cmd.index("--"):] == ["--", "--max-pixels", "1234"]


def test_web_command_says_when_the_port_is_taken(capsys):
    from qpsolve.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["web", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "choose another --port" in err
