"""Image decoding with explicit limits: bytes, pixels (checked from the header, before decoding).

Two views of a decoded image:
- `open_image`: the first frame converted with Pillow's plain `convert("RGB")`, as other PDQ
  implementations hash it (banks exchange hashes with them, so this view must not change);
- `to_rgb` (used by `warden.media.frames`): what a viewer sees, i.e. EXIF orientation applied by the
  caller, transparency flattened onto white, CMYK and 16-bit pictures converted faithfully.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass
from typing import cast

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ..errors import MediaError
from ..settings import Limits

# Pillow's own bomb check warns at MAX_IMAGE_PIXELS and raises at twice that; our limit is checked
# first from the header, so Pillow's is only a backstop.
Image.MAX_IMAGE_PIXELS = None

# What decoders raise on corrupt or truncated input (besides our own MediaError).
DECODE_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, SyntaxError, ValueError, struct.error)

# Transparent pixels are shown on white: the usual page background, and what most viewers assume.
BACKGROUND = (255, 255, 255)


class MediaLimitError(MediaError):
    """Media over a configured limit (bytes, pixels, frames, seconds): an API answers 413."""

    status = 413


def check_bytes(data: bytes, limits: Limits, what: str = "image") -> None:
    if not data:
        raise MediaError(f"{what} is empty (0 bytes)")
    if len(data) > limits.max_media_bytes:
        raise MediaLimitError(f"{what} has {len(data):,} bytes, limit is {limits.max_media_bytes:,}")


def check_pixels(width: int, height: int, limits: Limits, what: str = "image") -> None:
    if width * height > limits.max_image_pixels:
        raise MediaLimitError(
            f"{what} is {width}x{height} = {width * height:,} pixels, "
            f"limit is {limits.max_image_pixels:,} (decompression-bomb guard)"
        )


def open_unloaded(data: bytes, limits: Limits) -> Image.Image:
    """Identify an image and check its byte and pixel limits without decoding the pixels."""
    check_bytes(data, limits)
    # libwebp allocates the whole canvas when Pillow opens the file: check the header first.
    canvas = webp_canvas(data)
    if canvas is not None:
        check_pixels(*canvas, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        # Pillow's own message names an in-memory object address: nothing a caller can use.
        raise MediaError("not a decodable image: no image format recognised in the bytes") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"not a decodable image: {exc}") from None
    except DECODE_ERRORS as exc:
        raise MediaError(f"corrupt or truncated image: {exc}") from None
    check_pixels(*image.size, limits)
    return image


def open_image(data: bytes, limits: Limits) -> Image.Image:
    """Decode the first frame of an image to RGB, refusing anything over the limits."""
    image = open_unloaded(data, limits)
    try:
        image.load()
        return image.convert("RGB")
    except DECODE_ERRORS as exc:  # truncated or corrupt data
        raise MediaError(f"corrupt or truncated image: {exc}") from None


def exif_upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says (phone photos are stored sideways)."""
    try:
        return ImageOps.exif_transpose(image)
    except DECODE_ERRORS + (KeyError, TypeError):
        return image  # unreadable EXIF: the pixels are still fine, show them as stored


def to_rgb(
    image: Image.Image, background: tuple[int, int, int] = BACKGROUND, top: float | None = None
) -> Image.Image:
    """Any Pillow mode as 8-bit RGB: alpha (including a palette's transparent index) is composited
    onto `background`, 16/32-bit greyscale is rescaled rather than clipped, CMYK is converted.
    `top`: the greatest value of the whole picture when `image` is one strip of it (I and F modes)."""
    mode = image.mode
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        # Pillow's own conversion clips these to 0-255, which turns 16-bit pictures white.
        values = np.asarray(image, dtype=np.float64)
        if top is None:
            top = float(values.max()) if values.size else 0.0
        if mode.startswith("I;16") or top > 255:
            values = values / 257.0
        elif mode == "F" and top <= 1.0:
            values = values * 255.0
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or (
        mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    if not has_alpha:
        return image if mode == "RGB" else image.convert("RGB")
    rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (*background, 255))
    return Image.alpha_composite(canvas, rgba).convert("RGB")


def fit_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The size of at most `max_pixels` that keeps the aspect ratio (never larger than the input)."""
    if width * height <= max_pixels:
        return width, height
    scale = (max_pixels / (width * height)) ** 0.5
    return max(1, int(width * scale)), max(1, int(height * scale))


def fit_pixels(image: Image.Image, max_pixels: int) -> Image.Image:
    """Shrink (never enlarge) so the image holds at most `max_pixels`, keeping the aspect ratio."""
    size = fit_size(*image.size, max_pixels)
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


# -- large stills, decoded once ------------------------------------------------------------------

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}  # EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose)
SWAPS_AXES = frozenset(
    {
        Image.Transpose.TRANSPOSE,
        Image.Transpose.ROTATE_270,
        Image.Transpose.TRANSVERSE,
        Image.Transpose.ROTATE_90,
    }
)
STRIP_ROWS = 256  # rows converted at a time by `shrink_to_rgb` (before its box reduction)
# The PDQ reference's shrink (warden.banks.signal_types.pdq.REFERENCE_DOWNSAMPLE; banks import
# media, so the value is repeated here rather than imported).
REFERENCE_SIDE = 512


def upright_method(image: Image.Image) -> Image.Transpose | None:
    """The transpose the image's EXIF orientation asks for; None when upright or unreadable."""
    try:
        return _TRANSPOSE.get(image.getexif().get(ExifTags.Base.Orientation, 1))
    except DECODE_ERRORS + (KeyError, TypeError):
        return None


def shrink_to_rgb(image: Image.Image, max_pixels: int) -> Image.Image:
    """A loaded still of any mode as 8-bit RGB (as `to_rgb`) of at most `max_pixels`, without a
    second full-size copy: strips of rows are converted and box-reduced (`Image.reduce`, by the
    largest whole factor that stays above the target) into a small picture, which a Lanczos
    resize brings to the final size. Plain RGB and greyscale images needing no box reduction are
    resized directly, to the size OCR shrank them to itself (`ocr._working_copy` at 8 MP): the same
    pixels as before shrinking moved into decoding."""
    width, height = image.size
    if width * height <= max_pixels:
        return to_rgb(image)
    scale = (max_pixels / (width * height)) ** 0.5
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    factor = max(1, min(width // target[0], height // target[1]))
    if factor == 1 and image.mode in ("RGB", "L") and "transparency" not in image.info:
        return to_rgb(image.resize(target, Image.Resampling.LANCZOS))
    top = None
    if image.mode in ("I", "F"):  # one scale for all strips, from the whole picture
        top = float(cast(tuple[float, float], image.getextrema())[1])
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    rows = STRIP_ROWS * factor  # whole blocks per strip: the strips reduce as the picture would
    for y in range(0, height, rows):
        strip = to_rgb(image.crop((0, y, width, min(height, y + rows))), top=top)
        out.paste(strip.reduce(factor) if factor > 1 else strip, (0, y // factor))
    return out if out.size == target else out.resize(target, Image.Resampling.LANCZOS)


def reference_sample(image: Image.Image) -> Image.Image:
    """The pixels PDQ's reference path hashes, from a loaded image of any mode: `open_image`'s
    plain `convert("RGB")`, then the reference CLI's corner-aligned nearest-neighbour shrink to
    512x512 for larger images. Taken row by row, so no full-size RGB copy is made; PDQ of the
    sample equals PDQ of the whole picture bit for bit."""
    width, height = image.size
    if width <= REFERENCE_SIDE and height <= REFERENCE_SIDE:
        return image.convert("RGB")
    rows = (np.arange(REFERENCE_SIDE) * height) // REFERENCE_SIDE
    cols = (np.arange(REFERENCE_SIDE) * width) // REFERENCE_SIDE
    out = np.empty((REFERENCE_SIDE, REFERENCE_SIDE, 3), dtype=np.uint8)
    for i, row in enumerate(rows.tolist()):
        line = np.asarray(image.crop((0, row, width, row + 1)).convert("RGB"))
        out[i] = line[0, cols]
    return Image.fromarray(out)


def rgb_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


# -- animation headers, read without decoding ----------------------------------------------------


def webp_canvas(data: bytes) -> tuple[int, int] | None:
    """Canvas size from a WebP header (VP8X extended, VP8 lossy or VP8L lossless); None otherwise."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        return (
            int.from_bytes(data[26:28], "little") & 0x3FFF,
            int.from_bytes(data[28:30], "little") & 0x3FFF,
        )
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


_GIF_BLOCK = re.compile(rb"[\x21\x2c\x3b]")


@dataclass(frozen=True)
class GifLayout:
    """What a GIF's block structure declares. `frames` stops counting at the scan's `stop_after`."""

    frames: int
    width: int  # the canvas, grown to hold every frame (Pillow grows it the same way)
    height: int


def scan_gif(data: bytes, stop_after: int) -> GifLayout:
    """Count a GIF's frames and their extent by walking its blocks (no LZW decoding).

    Pillow's own frame count walks the whole file in Python; a small GIF of millions of one-pixel
    frames would keep it busy for a minute, so this stops once `stop_after` frames are seen."""
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise MediaError("not a GIF file")
    width, height = struct.unpack_from("<HH", data, 6)
    pos = 13
    if data[10] & 0x80:
        pos += 3 << ((data[10] & 7) + 1)
    frames = 0
    end = len(data)

    def skip_sub_blocks(p: int) -> int:
        while p < end:
            size = data[p]
            p += 1 + size
            if size == 0:
                return p
        raise MediaError("corrupt or truncated image: GIF data ends inside a block")

    while pos < end and frames < stop_after:
        marker = data[pos]
        if marker == 0x3B:  # trailer
            break
        if marker == 0x21:  # extension: label, then sub-blocks
            pos = skip_sub_blocks(pos + 2)
        elif marker == 0x2C:  # image descriptor
            if pos + 10 > end:
                raise MediaError("corrupt or truncated image: GIF data ends inside a frame header")
            left, top, w, h = struct.unpack_from("<HHHH", data, pos + 1)
            flags = data[pos + 9]
            width, height = max(width, left + w), max(height, top + h)
            pos += 10
            if flags & 0x80:
                pos += 3 << ((flags & 7) + 1)
            pos = skip_sub_blocks(pos + 1)  # LZW minimum code size, then the image data
            frames += 1
        else:
            # Pillow skips stray bytes between blocks; skip them alike so that no frame Pillow
            # could reach goes uncounted.
            found = _GIF_BLOCK.search(data, pos)
            if found is None:
                break
            pos = found.start()
    if frames == 0:
        raise MediaError("corrupt or truncated image: GIF has no frames")
    return GifLayout(frames=frames, width=width, height=height)
