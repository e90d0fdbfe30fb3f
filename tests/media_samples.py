"""Real media files made on the fly for the media tests: images with text, GIFs, H.264 videos and
malformed files (truncated, decompression bomb, empty, mislabelled). Nothing is read from the network."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
VIOLENT = "I will kill you and your family"
HATEFUL = "Muslims are animals and must be deported"
BENIGN = "Have a lovely day at the beach"
TEXT_BOX = (40, 60)  # where text_image puts the first line's top-left corner


def _font(size: int) -> ImageFont.FreeTypeFont:
    if not FONT.is_file():
        pytest.skip(f"{FONT} missing: apt-get install fonts-dejavu-core")
    return ImageFont.truetype(str(FONT), size)


def background(width: int = 640, height: int = 360, seed: int = 0) -> Image.Image:
    """A smooth two-colour gradient (a photo-like background without text)."""
    top = (40 + 30 * seed % 200, 90, 160)
    bottom = (220, 180 - 20 * seed % 120, 90)
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / max(height - 1, 1)
        draw.line(
            [(0, y), (width, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    return image


def text_image(text: str, width: int = 640, height: int = 360, size: int = 34, seed: int = 0) -> Image.Image:
    """Black words on a white band over the gradient, wrapped to the width, starting at TEXT_BOX."""
    image = background(width, height, seed)
    draw = ImageDraw.Draw(image)
    font = _font(size)
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > width - 2 * TEXT_BOX[0]:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    x, y = TEXT_BOX
    step = round(size * 1.4)
    draw.rectangle([x - 12, y - 12, width - x + 12, y + step * len(lines) + 6], fill="white")
    for k, ln in enumerate(lines):
        draw.text((x, y + k * step), ln, font=font, fill="black")
    return image


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def gif(frames: list[Image.Image], duration_ms: int = 500) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
    return buf.getvalue()


def video(frames: list[Image.Image], fps: int = 10) -> bytes:
    """An H.264 MP4 (yuv420p) encoded by the real ffmpeg from the given frames, `fps` frames a second."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed (make system-deps)")
    payload = b"".join(encode(f, "PPM") for f in frames)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "clip.mp4"  # MP4 needs a seekable output for its index
        subprocess.run(
            [
                ffmpeg,
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "image2pipe",
                "-c:v",
                "ppm",
                "-framerate",
                str(fps),
                "-i",
                "pipe:0",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                "-movflags",
                "+faststart",
                str(target),
            ],  # fmt: skip
            input=payload,
            capture_output=True,
            check=True,
            timeout=120,
        )
        return target.read_bytes()


def scene_video(seconds_plain: int = 3, seconds_text: int = 3, text: str = VIOLENT, fps: int = 10) -> bytes:
    """A plain gradient, then a scene with `text` on screen."""
    plain = background(seed=1)
    texty = text_image(text, seed=2)
    return video([plain] * (seconds_plain * fps) + [texty] * (seconds_text * fps), fps)


def truncated_jpeg() -> bytes:
    data = encode(text_image(BENIGN), "JPEG", quality=90)
    return data[: len(data) // 3]


def decompression_bomb() -> bytes:
    """A 10,000 x 10,000 one-bit PNG: ~100 million pixels in a few kilobytes."""
    return encode(Image.new("1", (10_000, 10_000)), "PNG", optimize=True)
