"""``qpsolve web [--host 127.0.0.1] [--port 8501]``: the local web page.

Starts the web page (Streamlit, qpsolve/web/app.py) and serves it until
Ctrl-C: upload an image, compare, download.  It listens on 127.0.0.1 (this
computer only) unless --host says otherwise; 0.0.0.0 shares it with the
network, and anyone who reaches it can make this computer solve.  Tracebacks
stay in this terminal; the page shows messages in words.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys

from ...imaging.io import DEFAULT_MAX_PIXELS
from ..argtypes import positive_int


def _port(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {text!r}") from None
    if not 1 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {text!r}")
    return v


def register(sub):
    p = sub.add_parser("web", help="start the local web page (upload, compare, download)",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=_port, default=8501, help="port (default 8501)")
    p.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse larger uploads (default {DEFAULT_MAX_PIXELS})")
    p.set_defaults(func=run)


def streamlit_command(host, port, max_pixels=DEFAULT_MAX_PIXELS):
    """The ``streamlit run`` command line of the page.

    Examples
    --------
    >>> cmd = streamlit_command("127.0.0.1", 8600)
    >>> cmd[1:4], "--server.port=8600" in cmd, cmd[-2:]
    (['-m', 'streamlit', 'run'], True, ['--max-pixels', '100000000'])
    """
    from ...web import APP_PATH

    return [
        sys.executable, "-m", "streamlit", "run", str(APP_PATH),
        f"--server.address={host}",
        f"--server.port={port}",
        "--server.headless=true",            # no browser opened by the server; we print the address
        "--server.fileWatcherType=none",     # an installed tool, not a script being edited
        "--browser.gatherUsageStats=false",  # the page runs locally; nothing is reported anywhere
        "--client.showErrorDetails=none",    # visitors see messages, tracebacks stay in the terminal
        "--client.toolbarMode=minimal",
        "--theme.base=light",
        "--", "--max-pixels", str(max_pixels),
    ]


def check_address(host, port):
    """Raise ``OSError`` in words when ``host:port`` cannot be listened on (in use, unknown host).

    Checked before Streamlit starts, so the command fails with one line and status 2.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"--host {host!r} is not an address of this computer ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None


def run(args):
    try:
        import streamlit  # noqa: F401
    except ImportError:
        raise ValueError("the web page needs Streamlit: pip install streamlit") from None
    check_address(args.host, args.port)
    print(f"qpsolve web: starting the page on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    try:
        return subprocess.call(streamlit_command(args.host, args.port, args.max_pixels), env=os.environ.copy())
    except KeyboardInterrupt:
        return 0
