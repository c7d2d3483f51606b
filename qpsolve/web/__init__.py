"""The web page (``qpsolve web``): upload an image, compare, download.

For people who do not write Python.  A local Streamlit page
(:mod:`qpsolve.web.app`) over pure helpers that are tested without a browser:

* :mod:`qpsolve.web.upload` -- uploaded bytes to an image, or a message for the page;
* :mod:`qpsolve.web.solving` -- the controls (defaults = :func:`qpsolve.dequantize`'s),
  the solve, the certificate in words, the download's bytes;
* :mod:`qpsolve.web.jobs` -- solves run on a worker thread, so the page stays responsive;
* :mod:`qpsolve.web.views` -- previews, the before/after wipe, zoomed crops of flat regions.

Only :mod:`qpsolve.web.app` imports Streamlit.
"""

from pathlib import Path

#: the Streamlit script ``qpsolve web`` runs
APP_PATH = Path(__file__).with_name("app.py")

__all__ = ["APP_PATH"]
