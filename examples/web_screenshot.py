"""Screenshot of the web page after solving one image (the picture in the README).

    python examples/web_screenshot.py IMAGE OUT.png [--width 1400] [--height 2000]

Starts ``qpsolve web`` on a free port, opens it in headless Debian Chromium
(Playwright), uploads IMAGE with the page's defaults, waits for the result
and saves a screenshot of the page.  Needs /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("image")
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=2000)
    ap.add_argument("--timeout", type=float, default=900, help="seconds to wait for the solve")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "qpsolve", "web", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(url)
            page.locator('input[type="file"]').set_input_files(args.image)
            t0 = time.monotonic()
            expect(page.get_by_role("button", name="Download 16-bit PNG")).to_be_visible(
                timeout=args.timeout * 1000)
            print(f"result shown after {time.monotonic() - t0:.1f} s")
            page.wait_for_timeout(1000)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
