"""The Streamlit page of ``qpsolve web``: upload, compare, download.

Run by ``qpsolve web`` (``streamlit run app.py -- --max-pixels N``).  The page
only lays out what the pure helpers of :mod:`qpsolve.web` compute; solves run
on the worker of :mod:`qpsolve.web.jobs` and the page polls them, so it stays
responsive while a large photograph is solved.  Every error a visitor can
cause is shown as a message in words (the server also hides tracebacks).
"""

from __future__ import annotations

import argparse
import os
import sys

import streamlit as st

from qpsolve.imaging.io import DEFAULT_MAX_PIXELS
from qpsolve.model.noise import OUTLIER_MODES
from qpsolve.model.operators import BOUNDARIES, MODELS
from qpsolve.web import jobs, solving, views
from qpsolve.web.upload import ACCEPTED_TYPES, UploadError, decode_upload

_KEEP = 4  # solved settings kept per visitor, so switching back is instant


def _page_args():
    parser = argparse.ArgumentParser(prog="qpsolve web (page)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS)
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args


def _remember(name, key, value):
    store = st.session_state.setdefault(name, {})
    store[key] = value
    while len(store) > _KEEP:
        store.pop(next(iter(store)))
    return value


def _decoded(file, convert_palette, max_pixels):
    """The decoded upload, or the error message; kept per file so reruns do not decode again."""
    data = file.getvalue()
    key = (file.file_id, convert_palette, max_pixels)
    cache = st.session_state.setdefault("uploads", {})
    if key not in cache:
        try:
            value = decode_upload(file.name, data, max_pixels=max_pixels, convert_palette=convert_palette)
        except UploadError as exc:
            value = exc
        _remember("uploads", key, value)
    return cache[key]


def _settings_form(upload):
    """The controls, in a form so that several changes make one solve."""
    d = solving.Settings()
    top = upload.container_bits or 16
    with st.sidebar.form("settings"):
        st.markdown("**Solve settings**")
        bits = st.number_input(
            "Bit depth of the data", min_value=1, max_value=top, value=min(upload.detected.bits, top), step=1,
            key=f"bits-{upload.digest}",
            help=f"Detected: {upload.detected}. Change it if you know the data had more levels than it uses.",
        )
        model = st.selectbox("Smoothness model", MODELS, index=MODELS.index(d.model),
                             help="biharmonic is the plate-bending model of the paper")
        bc = st.selectbox("Boundary rule", BOUNDARIES, index=BOUNDARIES.index(d.bc),
                          help="how the plate continues past the picture's edges")
        adaptive = st.toggle("Content-adaptive (for photographs)", value=d.adaptive,
                             help="the plate where the level changes, the level centres on texture and deep inside wide levels; "
                                  "off = the paper's plain plate")
        choices = ["none", *OUTLIER_MODES]
        outliers = st.selectbox("Outliers (impulse noise, dither)", choices,
                                index=choices.index(d.outliers or "none"),
                                help="mask: let the plate pass under detected outliers; replace: fill them by "
                                     "non-local means first (paper 6.1)")
        gain = st.number_input("Brightening gain h (1 = off)", min_value=0.01, max_value=1.0, value=d.gain,
                               step=0.05, format="%.2f",
                               help="the picture was recorded with h times the light: 0.25 brightens it 4x "
                                    "without banding (y = h x)")
        tile = st.selectbox("Solve in tiles (large photographs)", solving.TILES, index=solving.TILES.index(d.tile),
                            format_func=lambda t: "off: one QP for the whole picture" if t is None else f"{t} px",
                            help="textured photographs are slow as one QP; tiles are solved one by one, each "
                                 "certified for its own part, and blended (pictures up to 256 x 256 px are "
                                 "then polished by one global solve)")
        st.form_submit_button("Solve with these settings", type="primary")
    return solving.Settings(bits=int(bits), model=model, bc=bc, adaptive=bool(adaptive),
                            outliers=None if outliers == "none" else outliers, gain=float(gain), tile=tile)


def _job(upload, settings):
    key = (upload.digest, settings)
    store = st.session_state.setdefault("jobs", {})
    if key not in store:
        _remember("jobs", key, jobs.submit(lambda: solving.run(upload, settings)))
    return store[key]


def _show_progress(job, upload, before8):
    @st.fragment(run_every=0.5)
    def progress():
        if job.over:
            st.rerun()
        if job.state == "queued":
            label = "Waiting for another solve on this server to finish..."
        else:
            label = f"Solving... {job.elapsed():.1f} s"
        with st.status(label, state="running"):
            st.write(f"The plate QP of {upload.describe()}; it ends when its certificate holds. "
                     "You can change the settings meanwhile: they start a new solve.")

    progress()
    st.image(views.for_browser(before8), caption="Input", width="stretch")


def _show_result(upload, settings, outcome, before, name):
    lines = solving.certificate_words(outcome)
    (st.success if outcome.certified else st.warning)("\n\n".join(lines))
    rng = outcome.data_range or (float(before.min()), float(before.max()))
    before8 = views.to_display(before, rng)
    after8 = views.to_display(outcome.image, rng)
    left, right = st.columns(2)
    label = "Input" if settings.gain == 1 else f"Input / h (plain brightening by {1 / settings.gain:.3g}x)"
    left.image(views.for_browser(before8), caption=label, width="stretch")
    right.image(views.for_browser(after8), caption=f"Result ({outcome.bits}-bit data de-quantized)",
                width="stretch")

    st.subheader("Before / after")
    split = st.slider("Before (left of the line) / after (right of it)", 0, 100, 50, format="%d%%")
    shown = views.for_browser(views.wipe(before8, after8, split / 100))
    st.image(shown, width=min(900, shown.shape[1]))

    st.subheader("Zoomed crops of the flattest regions")
    st.caption("Where banding shows: flat but not constant. Brightness only, contrast stretched by the same "
               "factor in both crops of a pair, so the steps are easy to see and compare fairly.")
    has_alpha = upload.alpha is not None
    lb, la = views.luminance(before, has_alpha), views.luminance(outcome.image, has_alpha)
    step = float(upload.detected.step) / settings.gain  # one level of the data, as shown in before
    for window in views.flattest_windows(lb, la, step=step):
        cb, ca = views.crop_pair(lb, la, window)
        r, c, w = window
        col1, col2 = st.columns(2)
        col1.image(cb, caption=f"input, {w} x {w} px from x = {c}, y = {r}")
        col2.image(ca, caption="result")

    st.subheader("Download")
    formats = [f for f in solving.DOWNLOADS if not (f.endswith("PNG") and outcome.data_range is None)]
    fmt = st.radio("File type", formats, horizontal=True)
    if outcome.data_range is not None and fmt.endswith("PNG"):
        lo, hi = outcome.data_range
        st.caption(f"The PNG maps {lo:g}..{hi:g} (input units{'' if settings.gain == 1 else ' / h'}) to 0..65535.")
    data = st.session_state.setdefault("downloads", {})
    key = (upload.digest, settings, fmt)
    if key not in data:
        _remember("downloads", key, solving.encode(outcome, fmt))
    ext, mime = solving.DOWNLOADS[fmt]
    stem = os.path.splitext(name)[0] or "image"
    st.download_button(f"Download {fmt}", data=data[key], file_name=f"{stem}-dequantized{ext}", mime=mime,
                       on_click="ignore", type="primary")
    with st.expander("Solver details"):
        st.code("\n\n".join(r.summary() for r in {id(r): r for r in outcome.results}.values()), language=None)


def main():
    args = _page_args()
    st.set_page_config(page_title="qpsolve: remove banding", layout="wide")
    st.title("Remove banding from quantized images")
    st.caption("Upload a picture whose smooth areas show steps (too few bits, heavy brightening). qpsolve finds "
               "the smoothest image that still rounds to your pixels, and proves it (plate-bending model).")
    file = st.file_uploader(
        "Upload a PNG, TIFF or JPEG (8 or 16 bits; gray, RGB or RGBA)", type=list(ACCEPTED_TYPES),
        help=f"up to {args.max_pixels:,} pixels",
    )
    convert_palette = st.sidebar.checkbox("Expand palette images", value=False,
                                          help="use an indexed-colour image's colour table as its levels")
    if file is None:
        st.info("Choose a file to start. It goes only to the computer that runs qpsolve web.")
        return
    upload = _decoded(file, convert_palette, args.max_pixels)
    if isinstance(upload, UploadError):
        st.error(str(upload))
        return
    st.write(f"**{upload.name}**: {upload.describe()}. Detected: {upload.detected}.")
    for note in upload.notes:
        st.caption("Note: " + note)
    settings = _settings_form(upload)
    try:
        solving.check(upload, settings)
    except (ValueError, TypeError) as exc:
        st.error(f"These settings do not fit {upload.name}: {exc}")
        return
    before = views.before_image(upload, settings.gain)
    job = _job(upload, settings)
    if not job.over:
        rng = solving.output_range(upload, settings) or (float(before.min()), float(before.max()))
        _show_progress(job, upload, views.to_display(before, rng))
        return
    if not job.finished_ok:
        st.error(f"The solve did not finish: {job.error}")
        return
    _show_result(upload, settings, job.result, before, upload.name)


if __name__ == "__main__":  # Streamlit runs this file as __main__
    main()
