"""The web page in a real browser: ``qpsolve web`` started on a free port, driven by headless
Debian Chromium through Playwright.  Upload, wait, download, compare with ``qs.dequantize``;
bad inputs; a page that stays responsive while it solves; screenshots kept as artifacts.

Chromium is required, never skipped: ``.ci/run`` installs Debian's ``chromium`` package.
``QPSOLVE_CHROMIUM`` points at another binary; ``QPSOLVE_ARTIFACTS`` at the artifacts folder
(default ``tmp/artifacts`` in the repository).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tifffile
from playwright.sync_api import expect, sync_playwright

import qpsolve as qs
from qpsolve.imaging.io import read_image, write_image

from web_images import bomb_png, gaussian, palette_png, png_bytes, rgb, truncated_png

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("QPSOLVE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("QPSOLVE_ARTIFACTS", REPO / "tmp" / "artifacts")) / "web"
MAX_PIXELS = 250_000  # the server's limit in these tests: 500 x 500
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("web") / "server.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qpsolve", "web", "--host", "127.0.0.1", "--port", str(port),
             "--max-pixels", str(MAX_PIXELS)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"qpsolve web exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > end:
                raise AssertionError(f"qpsolve web did not answer in 90 s:\n{log.read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the CLI and the Streamlit child it started
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).is_file(), (
        f"Chromium is missing at {CHROMIUM}: the browser tests need Debian's chromium package "
        f"(.ci/run installs it: apt-get install -y chromium), or QPSOLVE_CHROMIUM set to a binary")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
    pg = context.new_page()
    pg.goto(server)
    expect(pg.get_by_text("Choose a file to start")).to_be_visible(timeout=60_000)
    yield pg
    context.close()


def _upload(page, name, data, mime="image/png"):
    page.locator('input[type="file"]').set_input_files({"name": name, "mimeType": mime, "buffer": data})


def _download_button(page):
    return page.get_by_role("button", name=re.compile(r"^Download "))


def _wait_for_result(page, timeout=120_000):
    expect(_download_button(page)).to_be_visible(timeout=timeout)


def _no_traceback(page):
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in page.content()


def _download(page, path, label="Download 16-bit PNG"):
    button = page.get_by_role("button", name=label, exact=True)
    expect(button).to_be_visible()
    with page.expect_download() as info:
        button.click()
    info.value.save_as(path)
    return info.value.suggested_filename


def _shot(page, name, height=None):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let the images finish painting
    size = page.viewport_size
    if height:
        page.set_viewport_size({"width": size["width"], "height": height})
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    page.set_viewport_size(size)


def test_upload_solve_download_equals_dequantize(page, tmp_path):
    img = rgb(64, bits=4)
    _upload(page, "scene.png", png_bytes(img))
    _wait_for_result(page)
    expect(page.get_by_text(re.compile(r"^Certified optimal \(all 3 colour channels\)"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"Time taken: [0-9.]+ s"))).to_be_visible()
    expect(page.get_by_text("Zoomed crops of the flattest regions")).to_be_visible()
    expect(page.get_by_text("Before (left of the line) / after (right of it)")).to_be_visible()
    _no_traceback(page)
    _shot(page, "result.png")
    name = _download(page, tmp_path / "out.png")
    assert name == "scene-dequantized.png"
    got = read_image(tmp_path / "out.png")
    ref = qs.dequantize(img, bits=4, channel_axis=-1)
    assert got.dtype == np.uint16 and got.shape == (64, 64, 3)
    # within one 16-bit code unit: two solves need not agree bit for bit (see test_web_helpers.SAME)
    diff = np.abs(got.astype(np.int64) - np.rint(ref / 255 * 65535))
    assert diff.max() <= 1


def test_16bit_gray_with_float_tiff_download(page, tmp_path):
    img = (gaussian(64, bits=8).astype(np.uint16) * 257) >> 6 << 6   # 10-bit data in 16 bits
    src = tmp_path / "deep.png"
    write_image(src, img, data_range=(0, 65535))
    _upload(page, "deep.png", src.read_bytes())
    expect(page.get_by_text("Detected: 10-bit data in a 16-bit container", exact=False)).to_be_visible(timeout=30_000)
    _wait_for_result(page)
    page.get_by_text("32-bit float TIFF").click()
    expect(page.get_by_role("button", name="Download 32-bit float TIFF")).to_be_visible()
    expect(_download_button(page)).to_have_count(1)
    assert _download(page, tmp_path / "out.tif", "Download 32-bit float TIFF") == "deep-dequantized.tif"
    got = tifffile.imread(tmp_path / "out.tif")
    ref = qs.dequantize(img, bits=10)
    assert got.dtype == np.float32 and got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-3 * 257   # SAME of test_web_helpers, on the 16-bit scale


def test_bad_inputs_show_messages_and_the_page_keeps_working(page):
    big = np.zeros((480, 640), np.uint8)
    big[:, ::2] = 128                                              # 307 200 pixels > MAX_PIXELS
    cases = [
        ("notes.png", b"a shopping list, not a picture", "notes.png could not be read as an image"),
        ("half.png", truncated_png(), "half.png could not be read as an image"),
        ("big.png", png_bytes(big), f"big.png has 307200 pixels (shape (480, 640)), more than max_pixels={MAX_PIXELS}"),
        ("bomb.png", bomb_png(), "bomb.png has 900000000 pixels (shape (30000, 30000)), more than max_pixels="),
        ("indexed.png", palette_png(), "indexed.png is a palette (indexed-colour) image"),
    ]
    for name, data, words in cases:
        _upload(page, name, data)
        # .first: while Streamlit re-renders, the old and the new message can both be in the page
        expect(page.get_by_text(words, exact=False).first).to_be_visible(timeout=30_000)
        expect(_download_button(page)).to_have_count(0)
        _no_traceback(page)
        if name == "indexed.png":
            _shot(page, "bad-input.png", height=700)
    _upload(page, "g.png", png_bytes(gaussian(48, bits=2)))           # and then a good one
    _wait_for_result(page)
    expect(page.get_by_text(re.compile(r"^Certified optimal: no image inside"))).to_be_visible()
    _no_traceback(page)


def test_page_stays_responsive_while_solving(page):
    # a textured photograph at 3 bits: many seconds of the dense-contact solver, long enough to
    # watch the page while it solves (a 128 px one finished within the watching window in CI)
    from skimage import data
    from skimage.transform import resize

    cam = (resize(data.camera(), (256, 256), anti_aliasing=True) * 255).astype(np.uint8) >> 5 << 5
    _upload(page, "camera.png", png_bytes(cam))
    status = page.get_by_text(re.compile(r"^Solving\.\.\. [0-9.]+ s$"))
    expect(status).to_be_visible(timeout=30_000)
    first = float(re.search(r"([0-9]+\.[0-9]) s$", status.inner_text()).group(1))
    page.get_by_text("Expand palette images").click()            # the page answers while the solve runs
    expect(page.get_by_role("checkbox", name="Expand palette images")).to_be_checked()
    page.wait_for_timeout(1500)
    assert _download_button(page).count() == 0, "the solve finished too soon to watch it; use a larger image"
    second = float(re.search(r"([0-9]+\.[0-9]) s$", status.inner_text()).group(1))
    assert second > first                                         # the elapsed time keeps moving
    _wait_for_result(page, timeout=300_000)
    _no_traceback(page)
