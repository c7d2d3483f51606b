"""The page's script under Streamlit's AppTest (no browser, no server): what a visitor sees."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from qpsolve.web import APP_PATH

from web_images import bomb_png, gaussian, palette_png, png_bytes, rgb, truncated_png


def _page():
    at = AppTest.from_file(str(APP_PATH), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def _upload(at, name, data):
    at.file_uploader[0].set_value((name, data, "image/png"))
    at.run()
    assert not at.exception


def _wait_for_result(at, timeout=60):
    """Re-run the script (as the page's polling fragment does) until the solve has finished."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if at.get("download_button") or at.error:
            return at
        time.sleep(0.2)
        at.run()
        assert not at.exception
    raise AssertionError(f"no result after {timeout} s; status: {[s.label for s in at.status]}")


def _labels(at):
    return [b.proto.label for b in at.get("download_button")]


def test_empty_page_invites_an_upload():
    at = _page()
    assert "Choose a file" in at.info[0].value
    assert at.file_uploader[0].proto.type == [".png", ".tif", ".tiff", ".jpg", ".jpeg"]


def test_upload_shows_defaults_progress_then_result():
    at = _page()
    _upload(at, "g.png", png_bytes(gaussian(48, bits=2)))
    controls = {w.label: w.value for w in [*at.selectbox, *at.number_input, *at.toggle]}
    assert controls == {
        "Smoothness model": "biharmonic", "Boundary rule": "odd", "Outliers (impulse noise, dither)": "none",
        "Bit depth of the data": 2, "Brightening gain h (1 = off)": 1.0, "Content-adaptive (for photographs)": True,
        "Solve in tiles (large photographs)": None,
    }
    assert "Detected: 2-bit data in a 8-bit container" in at.markdown[0].value
    _wait_for_result(at)
    assert _labels(at) == ["Download 16-bit PNG"]
    assert at.success[0].value.startswith("Certified optimal")
    assert "Time taken:" in at.success[0].value


@pytest.mark.parametrize("name, data, words", [
    ("notes.png", b"not a picture at all", "notes.png could not be read as an image"),
    ("half.png", truncated_png(), "half.png could not be read as an image"),
    ("bomb.png", bomb_png(), "more than max_pixels=100000000"),
    ("indexed.png", palette_png(), "is a palette (indexed-colour) image"),
])
def test_bad_upload_shows_a_message_and_the_page_keeps_working(name, data, words):
    at = _page()
    _upload(at, name, data)
    assert len(at.error) == 1 and words in at.error[0].value
    assert not at.get("download_button")
    _upload(at, "g.png", png_bytes(gaussian(32, bits=3)))       # the same session goes on
    _wait_for_result(at)
    assert not at.error and _labels(at) == ["Download 16-bit PNG"]


def test_palette_image_is_solved_once_expansion_is_ticked():
    at = _page()
    _upload(at, "indexed.png", palette_png())
    assert at.error
    at.sidebar.checkbox[0].check().run()
    _wait_for_result(at)
    assert not at.error and _labels(at)


def test_a_contradicting_bit_depth_is_explained_and_a_new_one_solves_again():
    at = _page()
    _upload(at, "c.png", png_bytes(rgb(32, bits=4)))
    _wait_for_result(at)
    at.number_input(key=[w.key for w in at.number_input if w.label.startswith("Bit depth")][0]).set_value(3)
    at.button[0].click().run()                                   # the form's submit button
    assert "do not fit c.png" in at.error[0].value and "bits=3" in at.error[0].value
    at.number_input(key=[w.key for w in at.number_input if w.label.startswith("Bit depth")][0]).set_value(6)
    at.button[0].click().run()
    _wait_for_result(at)
    assert not at.error and "colour channels" in at.success[0].value
