"""Image decoding with explicit limits: bytes, pixels (checked from the header, before decoding)."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import MediaError
from ..settings import Limits

# Pillow's own bomb check warns at MAX_IMAGE_PIXELS and raises at twice that; our limit is checked
# first from the header, so Pillow's is only a backstop.
Image.MAX_IMAGE_PIXELS = None


def open_image(data: bytes, limits: Limits) -> Image.Image:
    """Decode the first frame of an image to RGB, refusing anything over the limits."""
    if not data:
        raise MediaError("image is empty (0 bytes)")
    if len(data) > limits.max_media_bytes:
        raise MediaError(f"image has {len(data):,} bytes, limit is {limits.max_media_bytes:,}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > limits.max_image_pixels:
                raise MediaError(
                    f"image is {width}x{height} = {width * height:,} pixels, "
                    f"limit is {limits.max_image_pixels:,} (decompression-bomb guard)"
                )
            image.load()
            return image.convert("RGB")
    except MediaError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"not a decodable image: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise MediaError(f"corrupt or truncated image: {exc}") from None


def rgb_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)
