"""PDQ: Meta's perceptual image hash (256 bits), computed with `pdqhash`, matched within 31 bits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pdqhash
from PIL import Image

from ...settings import BankSettings
from ..pdq_index import PdqIndex, hex_to_words
from .base import Fingerprint, IndexHit, SignalIndex, SignalType

# The reference CLI (pdq/cpp/io/pdqio.cpp) shrinks images larger than this to exactly
# DOWNSAMPLE x DOWNSAMPLE with CImg's default nearest-neighbour resize before hashing; the hashes
# ThreatExchange publishes are made that way, so we do the same to reproduce them.
REFERENCE_DOWNSAMPLE = 512


def reference_downsample(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    if height <= REFERENCE_DOWNSAMPLE and width <= REFERENCE_DOWNSAMPLE:
        return rgb
    # CImg's nearest neighbour is corner-aligned: output x reads input floor(x * width / 512).
    rows = (np.arange(REFERENCE_DOWNSAMPLE) * height) // REFERENCE_DOWNSAMPLE
    cols = (np.arange(REFERENCE_DOWNSAMPLE) * width) // REFERENCE_DOWNSAMPLE
    return np.ascontiguousarray(rgb[rows][:, cols])


def bits_to_hex(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def pdq_from_rgb(rgb: np.ndarray) -> Fingerprint:
    """PDQ hash and quality of an RGB uint8 array, as the reference implementation computes them."""
    bits, quality = pdqhash.compute(reference_downsample(np.ascontiguousarray(rgb, dtype=np.uint8)))
    return Fingerprint(bits_to_hex(bits), int(quality))


def pdq_from_image(image: Image.Image) -> Fingerprint:
    return pdq_from_rgb(np.asarray(image.convert("RGB")))


class PdqSignal(SignalType):
    name = "pdq"
    description = "PDQ perceptual image hash (64 hex digits); matches within pdq_max_distance bits."
    aliases = ("pdq",)
    exchange_name = "pdq"
    media = frozenset({"image"})
    distance_unit = "bits"
    examples = ("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22",)
    invalid_examples = ("", "d8f8f0ce", "x" * 64)

    def validate(self, value: str) -> str:
        value = value.strip().lower()
        hex_to_words([value])  # raises ValueError with the reason
        return value

    def from_bytes(self, data: bytes, kind: str) -> list[Fingerprint]:
        if kind != "image":
            return []
        from ...media.images import open_image

        return [pdq_from_image(open_image(data, self.limits))]

    def new_index(self) -> SignalIndex:
        return PdqSignalIndex(self.settings)


class PdqSignalIndex(SignalIndex):
    def __init__(self, settings: BankSettings) -> None:
        self.index = PdqIndex(max_distance=settings.pdq_max_distance)

    def add(self, entries: Sequence[tuple[int, str]]) -> None:
        if not entries:
            return
        ids = [e for e, _ in entries]
        self.index.remove(ids)  # replacing an id: the old code must not match any more
        self.index.add(ids, hex_to_words([v for _, v in entries]))

    def remove(self, entry_ids: Sequence[int]) -> None:
        self.index.remove(entry_ids)

    def query(self, values: Sequence[str]) -> list[list[IndexHit]]:
        if not values:
            return []
        hits = self.index.search(hex_to_words(list(values)))
        return [[IndexHit(h.id, float(h.distance)) for h in row] for row in hits]

    def __len__(self) -> int:
        return len(self.index)
