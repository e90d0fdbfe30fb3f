"""Video intake: bytes to a private temporary file, probed with ffprobe before any decoder runs.

A video is written and probed once per request: inside an `open_video` / `video_file` block, a
nested `video_file` call for the same bytes (the vPDQ and TMK hashers make one) reuses that file
instead of writing and probing a second copy. The reuse is per context (thread or task), so
concurrent requests never share files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MediaError
from ..settings import Limits
from .images import MediaLimitError, check_bytes

_PROBE_TIMEOUT_S = 30.0


def ffmpeg_binary(name: str = "ffmpeg") -> str:
    path = shutil.which(name)
    if path is None:
        raise MediaError(f"{name} is not installed: install Debian's ffmpeg package (make system-deps)")
    return path


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream as ffprobe reports it; width and height as displayed (rotation applied)."""

    duration_s: float
    width: int
    height: int
    codec: str


def _run_probe(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            [ffmpeg_binary("ffprobe"), "-v", "error", *args], capture_output=True, timeout=_PROBE_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise MediaError("video probe timed out") from None


def _last_line(stderr: bytes, default: str) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else default


def _duration_from_packets(path: Path) -> float | None:
    """The end of the last video packet: for files whose header has no duration (browser
    MediaRecorder WebM, streamed Matroska). Demuxing only, no decoding."""
    out = _run_probe(
        [
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,duration_time",
            "-of",
            "csv=p=0",
            str(path),
        ]
    )
    end: float | None = None
    for line in out.stdout.decode("ascii", "replace").splitlines():
        fields = line.split(",")
        try:
            stop = float(fields[0]) + (float(fields[1]) if len(fields) > 1 and fields[1] else 0.0)
        except ValueError:
            continue  # N/A timestamps
        end = stop if end is None else max(end, stop)
    return end


def probe_video(path: Path) -> VideoInfo:
    """Duration, display size and codec of the first video stream; MediaError if there is none."""
    out = _run_probe(
        [
            "-select_streams", "v:0",
            "-show_entries", "stream=codec_name,width,height,duration:stream_side_data=rotation"
            ":stream_tags=rotate:format=duration",
            "-of", "json", str(path),
        ]
    )  # fmt: skip
    try:
        info: dict[str, Any] = json.loads(out.stdout or b"{}")
    except ValueError:
        info = {}
    streams = info.get("streams") or []
    if out.returncode != 0 or not streams:
        raise MediaError(f"not a decodable video: {_last_line(out.stderr, 'no video stream')}")
    stream = streams[0]
    duration: float | None
    try:
        duration = float(stream.get("duration") or info.get("format", {}).get("duration"))
    except (TypeError, ValueError):
        duration = _duration_from_packets(path)
    if duration is None or not duration >= 0:  # also rejects NaN
        raise MediaError("video has no readable duration")
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    if width <= 0 or height <= 0:
        raise MediaError("not a decodable video: the video stream has no picture size")
    rotation = stream.get("tags", {}).get("rotate")
    for side_data in stream.get("side_data_list") or []:
        rotation = side_data.get("rotation", rotation)
    try:
        if round(float(rotation or 0)) % 180 == 90:  # phone videos stored sideways
            width, height = height, width
    except ValueError:
        pass
    return VideoInfo(duration_s=duration, width=width, height=height, codec=str(stream.get("codec_name", "")))


@dataclass(frozen=True)
class VideoFile:
    """A checked video on disk, valid inside the `open_video` block that made it."""

    path: Path
    info: VideoInfo


def _check_duration(info: VideoInfo, limits: Limits) -> None:
    if info.duration_s > limits.max_video_seconds:
        raise MediaLimitError(
            f"video lasts {info.duration_s:.0f} s, limit is {limits.max_video_seconds:.0f} s"
        )


@contextmanager
def open_video(data: bytes, limits: Limits) -> Iterator[VideoFile]:
    """The video in a private temporary file, after size, stream and duration checks; removed on exit."""
    check_bytes(data, limits, "video")
    with tempfile.TemporaryDirectory(prefix="warden-video-") as tmp:
        # A fixed, shell-safe name: some native hashers build shell commands from the path.
        path = Path(tmp) / "input.video"
        path.write_bytes(data)
        info = probe_video(path)
        _check_duration(info, limits)
        yield VideoFile(path=path, info=info)


@contextmanager
def video_file(data: bytes, limits: Limits) -> Iterator[Path]:
    """A temporary file holding the video, after size and duration checks. Removed on exit."""
    with open_video(data, limits) as video:
        yield video.path
