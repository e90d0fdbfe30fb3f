"""Shared value types of the media path: decoded frames and what OCR read on them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from PIL import Image


@dataclass(frozen=True)
class Frame:
    """One decoded picture to analyse: a still image, an animation frame or a video keyframe.

    `time_s` is the presentation time (None for a still image); `media_index` is which attachment
    of the item it came from; `frame_index` its position among that attachment's analysed frames.
    `source_size` is set when a still was shrunk for analysis: the picture's own size, in which
    the analyzer reports boxes (None: boxes are in `image`'s pixels)."""

    image: Image.Image  # RGB
    media_index: int = 0
    frame_index: int = 0
    time_s: float | None = None
    source_size: tuple[int, int] | None = None


_SPACE = re.compile(r"\s+")


def normalise_ocr_text(text: str) -> str:
    """OCR text as the text tier judges it: line breaks of a layout are not sentence breaks.

    One function for serving, fusion training and the benchmark, so all three score the same text."""
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class OcrWord:
    """A recognised word: its box in the image (pixels) and where it sits in OcrResult.text."""

    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float  # 0-100, Tesseract's scale
    start: int  # character offsets into OcrResult.text, end exclusive
    end: int

    def box(self) -> list[int]:
        return [self.left, self.top, self.width, self.height]


@dataclass
class OcrResult:
    text: str
    words: list[OcrWord] = field(default_factory=list)
    languages: str = "eng"

    def words_in(self, start: int, end: int) -> list[OcrWord]:
        """The words overlapping a character span of `text` (maps text evidence to boxes)."""
        return [w for w in self.words if w.start < end and w.end > start]
