"""Video intake: bytes to a private temporary file, probed with ffprobe before any decoder runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import MediaError
from ..settings import Limits


def ffmpeg_binary(name: str = "ffmpeg") -> str:
    path = shutil.which(name)
    if path is None:
        raise MediaError(f"{name} is not installed: install Debian's ffmpeg package (make system-deps)")
    return path


def probe_duration(path: Path) -> float:
    """Seconds of video in the file; MediaError when ffprobe finds no decodable video stream."""
    cmd = [
        ffmpeg_binary("ffprobe"), "-v", "error", "-select_streams", "v:0",
        "-show_entries", "stream=codec_type,duration:format=duration", "-of", "json", str(path),
    ]  # fmt: skip
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        raise MediaError("video probe timed out") from None
    info = json.loads(out.stdout or b"{}")
    streams = info.get("streams") or []
    if out.returncode != 0 or not streams:
        message = out.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MediaError(f"not a decodable video: {message[-1] if message else 'no video stream'}")
    duration = streams[0].get("duration") or info.get("format", {}).get("duration")
    try:
        return float(duration)
    except (TypeError, ValueError):
        raise MediaError("video has no readable duration") from None


@contextmanager
def video_file(data: bytes, limits: Limits) -> Iterator[Path]:
    """A temporary file holding the video, after size and duration checks. Removed on exit."""
    if not data:
        raise MediaError("video is empty (0 bytes)")
    if len(data) > limits.max_media_bytes:
        raise MediaError(f"video has {len(data):,} bytes, limit is {limits.max_media_bytes:,}")
    with tempfile.TemporaryDirectory(prefix="warden-video-") as tmp:
        # A fixed, shell-safe name: some native hashers build shell commands from the path.
        path = Path(tmp) / "input.video"
        path.write_bytes(data)
        duration = probe_duration(path)
        if duration > limits.max_video_seconds:
            raise MediaError(f"video lasts {duration:.0f} s, limit is {limits.max_video_seconds:.0f} s")
        yield path
