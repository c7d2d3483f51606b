"""Where de-quantized frames go: FFV1 in Matroska, or a folder of 16-bit PNG frames; both atomic.

The Matroska file is written beside ``OUT`` under a temporary name and
renamed when complete; the PNG frames go to a temporary folder beside
``OUT`` that is renamed when complete.  Audio streams are copied packet by
packet (no re-encoding), interleaved by time with the video in Matroska;
beside PNG frames they go to ``audio.mka``, and ``video.json`` keeps the
frame rate and every frame's time stamp.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

from .frames import frame_to_png_array, planes_to_frame

__all__ = ["open_sink", "check_output"]


def check_output(out, overwrite):
    """``OUT`` as a Path; ``.mkv`` is a file, anything else a folder of PNG frames."""
    out = Path(out)
    if not out.parent.resolve().is_dir():
        raise OSError(f"cannot write {str(out)!r}: folder {str(out.parent)!r} does not exist")
    if out.suffix.lower() not in (".mkv", ""):
        raise ValueError(f"output {str(out)!r}: give a folder (16-bit PNG frames) or a .mkv file (FFV1)")
    if out.exists() and not overwrite:
        if out.is_file() or any(out.iterdir()):
            raise ValueError(f"output {str(out)!r} exists; pass overwrite=True (--overwrite) to replace it")
    return out


class _AudioCopy:
    """Copies the audio packets of ``src`` into ``container``, in time order, up to a given time."""

    def __init__(self, src, container):
        import av

        self.inp = av.open(str(src))
        self.pairs = {}
        for s in self.inp.streams.audio:
            self.pairs[s.index] = container.add_stream_from_template(s)
        self.packets = self.inp.demux(*self.inp.streams.audio) if self.pairs else iter(())
        self.pending = None
        self.container = container

    @property
    def present(self):
        return bool(self.pairs)

    def until(self, seconds):
        """Mux every audio packet that starts before ``seconds`` (``None``: all that are left)."""
        while True:
            pk = self.pending if self.pending is not None else next(self.packets, None)
            self.pending = None
            if pk is None:
                return
            if pk.dts is None or pk.size == 0:  # the demuxer's flush packets
                continue
            if seconds is not None and pk.pts is not None and float(pk.pts * pk.time_base) > seconds:
                self.pending = pk
                return
            pk.stream = self.pairs[pk.stream.index]
            self.container.mux(pk)

    def close(self):
        self.inp.close()


class MkvSink:
    """FFV1 (16-bit planes) in Matroska, with the input's audio and time stamps."""

    def __init__(self, out, src, fmt, width, height, rate, time_base):
        import av

        self.out, self.fmt, self.width, self.height = Path(out), fmt, width, height
        fd, self.tmp = tempfile.mkstemp(prefix=".qpsolve-", suffix=".mkv", dir=self.out.parent)
        os.close(fd)
        self.container = av.open(self.tmp, "w", format="matroska")
        self.stream = self.container.add_stream("ffv1", rate=rate or Fraction(25))
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, fmt.out16
        if time_base is not None:
            self.stream.time_base = time_base
            self.stream.codec_context.time_base = time_base
        self.audio = _AudioCopy(src, self.container)
        self.time_base = time_base

    def write(self, planes16, pts, color_range=None):
        frame = planes_to_frame(planes16, self.fmt, self.width, self.height, color_range)
        frame.pts = pts
        if self.time_base is not None:
            frame.time_base = self.time_base
        if pts is not None and self.time_base is not None:
            self.audio.until(float(pts * self.time_base))
        for pk in self.stream.encode(frame):
            self.container.mux(pk)

    def close(self):
        for pk in self.stream.encode():
            self.container.mux(pk)
        self.audio.until(None)
        self.audio.close()
        self.container.close()
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(self.tmp, 0o666 & ~mask)
        if self.out.is_dir():
            shutil.rmtree(self.out)
        os.replace(self.tmp, self.out)
        return self.audio.present

    def abort(self):
        try:
            self.audio.close()
            self.container.close()
        except Exception:  # noqa: BLE001 -- closing a half-written file may fail; it is removed anyway
            pass
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


class PngSink:
    """``frame_000001.png``, ... (16-bit), ``video.json`` (rate, time stamps) and ``audio.mka`` if any."""

    def __init__(self, out, src, fmt, width, height, rate, time_base):
        self.out, self.src, self.fmt, self.width, self.height = Path(out), src, fmt, width, height
        self.tmp = Path(tempfile.mkdtemp(prefix=".qpsolve-", dir=self.out.parent))
        self.rate, self.time_base, self.pts, self.count = rate, time_base, [], 0

    def write(self, planes16, pts, color_range=None):
        from ..imaging.io import write_image

        frame = planes_to_frame(planes16, self.fmt, self.width, self.height, color_range)
        self.count += 1
        write_image(self.tmp / f"frame_{self.count:06d}.png", frame_to_png_array(frame, self.fmt),
                    data_range=(0, 65535))
        self.pts.append(pts)

    def close(self):
        import av

        with av.open(str(self.src)) as probe:
            has_audio = bool(probe.streams.audio)
        if has_audio:
            with av.open(str(self.tmp / "audio.mka"), "w", format="matroska") as c:
                copy = _AudioCopy(self.src, c)
                copy.until(None)
                copy.close()
        meta = {
            "frames": self.count,
            "frame_rate": None if self.rate is None else str(self.rate),
            "time_base": None if self.time_base is None else str(self.time_base),
            "pts": self.pts,
            "pixels": f"16-bit {'gray' if self.fmt.gray else 'RGB'} PNG from {self.fmt.name}",
            "audio": "audio.mka" if has_audio else None,
        }
        (self.tmp / "video.json").write_text(json.dumps(meta, indent=1))
        os.chmod(self.tmp, 0o777 & ~_umask())
        if self.out.is_dir():
            shutil.rmtree(self.out)
        os.replace(self.tmp, self.out)
        return has_audio

    def abort(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def open_sink(out, src, fmt, width, height, rate, time_base):
    """The sink for ``out``: :class:`MkvSink` for ``.mkv``, else :class:`PngSink`."""
    cls = MkvSink if Path(out).suffix.lower() == ".mkv" else PngSink
    return cls(out, src, fmt, width, height, rate, time_base)
