"""Text in images with Tesseract, tuned for memes and screenshots.

Tesseract reads clean dark-on-light print well but fails on meme text (white letters with a black
outline over a photo): its global binarisation mixes the letters with the picture. So we do not hand
it the photo. We upscale the image, then build two binary "glyph masks":

- light glyphs: near-white, unsaturated blobs whose border is almost entirely dark (outlined meme
  letters, white text on a dark banner);
- dark glyphs: near-black blobs ringed by near-white (captions on a white band, screenshots).

Each mask holds only letter-shaped components (the photo drops out) drawn black on white; both are
stacked into one page for a single Tesseract run. The readings are merged word by word: the more
confident word wins where boxes overlap. Only when neither mask yields a confident word is the plain
grayscale image read as a fallback (coloured text, low contrast). Measured on 300 rendered memes of
the calib split (`warden.learn.media.memes`), character error rate: 0.47 reading the upscaled grayscale
image, 0.51 keeping the more confident of it and its inverse, 0.024 with the glyph masks.

Tesseract runs as a subprocess (TSV output, image on stdin) rather than through pytesseract, which
writes PNG temp files and cannot set the child's environment: 164 vs 300 ms per mask. The child gets
OMP_THREAD_LIMIT=1 because its OpenMP threads otherwise oversubscribe the cores the batch fills.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from ..errors import MissingExtraError, ValidationError, WardenError
from .budget import DecodeBudget
from .types import OcrResult, OcrWord

PREPROCESS_VERSION = "1"  # bump when the masks or the merge change what is read
Preprocess = Literal["masks", "gray"]

# Tesseract's LSTM reads best with letters tens of pixels tall: narrow images are upscaled to this
# width (at most 4x). 1000 beat 1400 on 120 calib memes (CER 0.030 vs 0.035, and 25 % faster).
TARGET_WIDTH = 1000
MAX_UPSCALE = 4.0
MAX_WORK_PIXELS = 8_000_000  # larger inputs are downscaled first: mask and Tesseract time grow with area
# Building the glyph masks holds ~20 bytes per working pixel (labels, erosions, dilations): 170 MB
# at 8 MP. At most MAX_WORK_PIXELS of mask building run at once in the process, so parallel
# workers on large photos take turns there (their Tesseract processes still run side by side)
# while meme-sized images (~0.6 MP) are never held up.
MASK_BUDGET = DecodeBudget(workers=64, max_pixels=MAX_WORK_PIXELS)

# Glyph masks (8-bit RGB after upscaling), chosen on the calib memes: JPEG blurs small letters and
# their 1-px outline, so a stricter white (190) or dark (80) limit lost whole words (CER 0.02 -> 0.19).
WHITE_MIN = 170  # every channel at least this bright ...
WHITE_MAX_SPREAD = 60  # ... and nearly unsaturated (a light-blue sky is not "white")
DARK_MAX = 100  # every channel at most this
RING_NEAR = 2  # px: a border pixel counts as ringed when the other polarity is this close
RING_MIN = 0.75  # share of a blob's border that must be ringed (0.6 and 0.85 were both worse)
MIN_AREA = 6  # px; smaller blobs are JPEG noise
MAX_GLYPH_HEIGHT = 0.25  # of the image height: taller blobs are picture, not letters
MIN_GLYPHS = 2  # a mask with fewer letter blobs is not worth reading
STACK_GAP = 32  # px of white between the stacked masks

# Merging and cleaning the readings.
CONTAIN = 0.1  # a word overlapping an accepted word by more than this share of the smaller box is a rival
SPECK = 0.4  # words shorter than this share of the median confident word height are specks
CONFIDENT = 60.0  # a word this confident with >= 3 letters or digits means a mask found text
PUNCT_CONF = 50.0  # a word with no letter or digit needs this confidence
SHORT_LINE_CONF = 80.0  # a line without a 3-character word survives only this confident
PSM = "3"  # automatic page segmentation: memes put text at the top and the bottom


class OcrError(WardenError):
    """Tesseract failed or timed out on an image."""


class MissingTesseractError(MissingExtraError):
    """The Tesseract binary or a language pack is not installed (a system package, not a pip extra)."""

    def __init__(self, message: str) -> None:
        WardenError.__init__(self, message)


def debian_package(language: str) -> str:
    """Debian/Ubuntu package of a Tesseract language ('chi_sim' -> 'tesseract-ocr-chi-sim')."""
    return "tesseract-ocr-" + language.lower().replace("_", "-")


@dataclass(frozen=True)
class _Word:
    text: str
    left: float  # original-image pixels
    top: float
    right: float
    bottom: float
    confidence: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def area(self) -> float:
        return max(self.right - self.left, 0.0) * max(self.height, 0.0)

    def overlap(self, other: _Word) -> float:
        """Intersection over the smaller box."""
        w = min(self.right, other.right) - max(self.left, other.left)
        h = min(self.bottom, other.bottom) - max(self.top, other.top)
        if w <= 0 or h <= 0:
            return 0.0
        return w * h / max(min(self.area, other.area), 1e-6)


def _letters(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


class TesseractOcr:
    """Reads the text of images: `recognise(image)` -> OcrResult with per-word boxes and offsets.

    Constructing it only stores configuration; `check()` (run on first use) verifies the binary and
    the language packs. Thread-safe: every call runs its own Tesseract processes."""

    name: ClassVar[str] = "tesseract"

    def __init__(
        self,
        languages: str = "eng",
        timeout_s: float = 20.0,
        workers: int = 2,
        preprocess: Preprocess = "masks",
        binary: str = "tesseract",
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*", languages or ""):
            raise ValidationError(
                f"OCR languages must be '+'-joined Tesseract codes like 'eng+deu', got {languages!r}"
            )
        if timeout_s <= 0:
            raise ValidationError(f"OCR timeout must be positive, got {timeout_s}")
        if workers < 1:
            raise ValidationError(f"OCR workers must be at least 1, got {workers}")
        if preprocess not in ("masks", "gray"):
            raise ValidationError(f"OCR preprocess must be 'masks' or 'gray', got {preprocess!r}")
        self.languages = languages
        self.timeout_s = timeout_s
        self.workers = workers
        self.preprocess = preprocess
        self.binary = binary
        self._binary_version: str | None = None
        self._env = dict(os.environ, OMP_THREAD_LIMIT="1")

    # -- identity and checks ------------------------------------------------------------------

    @property
    def version(self) -> str:
        """Tesseract's version plus our preprocessing, e.g. '5.3.0+masks1'."""
        self.check()
        return f"{self._binary_version}+{self.preprocess}{PREPROCESS_VERSION}"

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.version}/{self.languages}"

    def _run(
        self, args: list[str], stdin: bytes | None = None, what: str = ""
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the binary with our environment and timeout; OcrError on timeout, MissingTesseractError
        when the binary is gone."""
        try:
            return subprocess.run(
                [self.binary, *args],
                input=stdin,
                capture_output=True,
                env=self._env,
                timeout=self.timeout_s,
                check=False,
            )
        except FileNotFoundError:
            raise self._missing_binary() from None
        except subprocess.TimeoutExpired:
            raise OcrError(
                f"'{self.binary} {' '.join(args)}' took longer than {self.timeout_s} s{what} "
                "(raise media.ocr_timeout_s)"
            ) from None

    def _run_info(self, *args: str) -> str:
        done = self._run(list(args))
        # Older releases print these to stderr.
        return (done.stdout + done.stderr).decode("utf-8", "replace")

    def _missing_binary(self) -> MissingTesseractError:
        return MissingTesseractError(
            f"OCR needs the Tesseract binary '{self.binary}', which was not found: "
            "install it with 'apt-get install tesseract-ocr' (Debian/Ubuntu) or 'brew install tesseract', "
            "or turn OCR off (WARDEN_MEDIA__OCR_ENABLED=false)"
        )

    def check(self) -> None:
        """Raise MissingTesseractError naming what to install when the binary or a language is missing."""
        if self._binary_version is not None:
            return
        if shutil.which(self.binary) is None:
            raise self._missing_binary()
        first = self._run_info("--version").strip().splitlines()
        match = re.search(r"tesseract\s+v?(\S+)", first[0] if first else "", re.IGNORECASE)
        version = match.group(1) if match else "unknown"
        listed = self._run_info("--list-langs").splitlines()
        installed = {line.strip() for line in listed if line.strip() and not line.startswith("List of")}
        missing = [lang for lang in self.languages.split("+") if lang not in installed]
        if missing:
            packages = " ".join(debian_package(lang) for lang in missing)
            raise MissingTesseractError(
                f"Tesseract language pack(s) {', '.join(missing)} not installed "
                f"(installed: {', '.join(sorted(installed)) or 'none'}): apt-get install {packages}"
            )
        self._binary_version = version

    def load(self) -> TesseractOcr:
        self.check()
        return self

    # -- recognition ---------------------------------------------------------------------------

    def recognise(self, image: Image.Image) -> OcrResult:
        """The text of one image: words in reading order, a space within a line, a newline between
        lines; every word with its box in the image's own pixels and its offsets into `text`."""
        self.check()
        work, scale = _working_copy(image)
        words: list[_Word] = []
        if self.preprocess == "masks":
            with MASK_BUDGET.reserve(work.width * work.height):
                masks = [mask for mask, glyphs in glyph_masks(np.asarray(work)) if glyphs >= MIN_GLYPHS]
            words += self._read_masks(masks, scale)
        if not any(w.confidence >= CONFIDENT and _letters(w.text) >= 3 for w in words):
            words += self._read(work.convert("L"), scale)
        return self._result(_clip(_merge(words), image.size))

    def recognise_batch(self, images: Sequence[Image.Image]) -> list[OcrResult]:
        """`recognise` over many images, `workers` at a time (each worker is one Tesseract process)."""
        images = list(images)
        if not images:
            return []
        self.check()
        if self.workers == 1 or len(images) == 1:
            return [self.recognise(im) for im in images]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(images))) as pool:
            return list(pool.map(self.recognise, images))

    def _read_masks(self, masks: list[np.ndarray], scale: float) -> list[_Word]:
        """Read the glyph masks in one Tesseract run: stacked one above the other with a white gap,
        then each word moved back. One process instead of two: 1.5-2.4x the images per second on
        300 calib memes at the same CER (0.0239 stacked, 0.0237 read one by one)."""
        if len(masks) < 2:
            return [w for mask in masks for w in self._read(_mask_image(mask), scale)]
        height = masks[0].shape[0]
        slot = height + STACK_GAP
        page = np.zeros((len(masks) * slot - STACK_GAP, masks[0].shape[1]), dtype=bool)
        for i, mask in enumerate(masks):
            page[i * slot : i * slot + height] = mask
        words = []
        for w in self._read(_mask_image(page), scale):
            # The slot the word's centre lies in (Tesseract's boxes can reach a few px into the gap).
            shift = ((w.top + w.bottom) / 2 * scale // slot) * slot / scale
            words.append(_Word(w.text, w.left, w.top - shift, w.right, w.bottom - shift, w.confidence))
        return words

    def _read(self, image: Image.Image, scale: float) -> list[_Word]:
        buf = io.BytesIO()
        image.save(buf, "PPM")  # uncompressed PGM/PPM: ~50x cheaper to write than PNG
        args = ["stdin", "stdout", "-l", self.languages, "--psm", PSM, "tsv"]
        done = self._run(args, buf.getvalue(), f" on a {image.width}x{image.height} image")
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip()[-500:]
            raise OcrError(f"Tesseract exited with {done.returncode}: {tail}")
        return _parse_tsv(done.stdout.decode("utf-8", "replace"), scale)

    def _result(self, lines: list[list[_Word]]) -> OcrResult:
        parts: list[str] = []
        words: list[OcrWord] = []
        pos = 0
        for i, line in enumerate(lines):
            if i:
                parts.append("\n")
                pos += 1
            for j, w in enumerate(line):
                if j:
                    parts.append(" ")
                    pos += 1
                parts.append(w.text)
                left, top = int(np.floor(w.left)), int(np.floor(w.top))
                words.append(
                    OcrWord(
                        text=w.text,
                        left=left,
                        top=top,
                        width=int(np.ceil(w.right)) - left,
                        height=int(np.ceil(w.bottom)) - top,
                        confidence=round(w.confidence, 2),
                        start=pos,
                        end=pos + len(w.text),
                    )
                )
                pos += len(w.text)
        return OcrResult(text="".join(parts), words=words, languages=self.languages)


# -- image preparation ----------------------------------------------------------------------------


def _working_copy(image: Image.Image) -> tuple[Image.Image, float]:
    """RGB, upscaled so letters are big enough for Tesseract; returns it and the scale applied."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")  # only read: no copy needed
    width, height = rgb.size
    if width < 1 or height < 1:
        raise ValidationError(f"cannot read text in an empty {width}x{height} image")
    scale = min(MAX_UPSCALE, TARGET_WIDTH / width) if width < TARGET_WIDTH else 1.0
    scale = min(scale, (MAX_WORK_PIXELS / (width * height)) ** 0.5)
    if abs(scale - 1.0) < 0.02:
        return rgb, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return rgb.resize(size, Image.Resampling.LANCZOS), size[0] / width


def glyph_masks(rgb: np.ndarray) -> tuple[tuple[np.ndarray, int], tuple[np.ndarray, int]]:
    """(light, dark) glyph masks of an RGB uint8 array, each with its number of letter-like blobs.

    Light: white blobs ringed by dark (outlined meme text). Dark: dark blobs ringed by white."""
    # Channel-wise minimum/maximum on views: 20x faster than rgb.min(axis=2) on a (H, W, 3) array.
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    lo = np.minimum(np.minimum(r, g), b)
    hi = np.maximum(np.maximum(r, g), b)
    white = (lo >= WHITE_MIN) & ((hi - lo) < WHITE_MAX_SPREAD)  # uint8: hi >= lo, no wrap-around
    dark = hi <= DARK_MAX
    del lo, hi  # 2 bytes a pixel less while the blobs are labelled
    return _ringed_blobs(white, dark), _ringed_blobs(dark, white)


def _ringed_blobs(blobs: np.ndarray, ring: np.ndarray) -> tuple[np.ndarray, int]:
    """The connected components of `blobs` whose border lies next to `ring` pixels, letter-sized."""
    labels, count = ndi.label(blobs)
    if count == 0:
        return np.zeros(blobs.shape, dtype=bool), 0
    border = blobs & ~ndi.binary_erosion(blobs)
    near = ndi.binary_dilation(ring, iterations=RING_NEAR)
    border_labels = labels[border]
    touching = np.bincount(border_labels, weights=near[border], minlength=count + 1)[1:]
    ringed = touching / np.maximum(np.bincount(border_labels, minlength=count + 1)[1:], 1)
    area = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    heights = np.array([s[0].stop - s[0].start for s in ndi.find_objects(labels)])
    keep = (ringed >= RING_MIN) & (area >= MIN_AREA) & (heights < MAX_GLYPH_HEIGHT * blobs.shape[0])
    return np.concatenate([[False], keep])[labels], int(keep.sum())


def _mask_image(mask: np.ndarray) -> Image.Image:
    # uint8 scalars: with Python ints np.where builds an int64 page first (8 bytes a pixel).
    return Image.fromarray(np.where(mask, np.uint8(0), np.uint8(255)))  # black letters on white


def _parse_tsv(tsv: str, scale: float) -> list[_Word]:
    words = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":  # level 5 = word
            continue
        text = cols[11].strip()
        conf = float(cols[10])
        if not text or conf < 0:
            continue
        left, top, width, height = (int(c) for c in cols[6:10])
        words.append(
            _Word(
                text=text,
                left=left / scale,
                top=top / scale,
                right=(left + width) / scale,
                bottom=(top + height) / scale,
                confidence=conf,
            )
        )
    return words


# -- merging the readings -------------------------------------------------------------------------


def _merge(words: list[_Word]) -> list[list[_Word]]:
    """One reading from several: drop specks, keep the most confident of overlapping words, group
    the rest into lines (top to bottom, left to right) and drop lines that look like noise."""
    # Punctuation-only words are mostly picture edges read as '~*~' or '|' (dropping them below
    # confidence 50 lowered the calib memes' CER slightly; real '&' and '...' read confidently).
    words = [w for w in words if _letters(w.text) or w.confidence >= PUNCT_CONF]
    if not words:
        return []
    confident = [w.height for w in words if w.confidence >= 50 and len(w.text) >= 2]
    if confident:
        floor = SPECK * float(np.median(confident))
        words = [w for w in words if w.height >= floor]
    accepted: list[_Word] = []
    for w in sorted(words, key=lambda w: -w.confidence):
        if all(w.overlap(a) <= CONTAIN for a in accepted):
            accepted.append(w)
    lines = _lines(accepted)
    # Photos yield short debris ("we", "&", "ae an"): a kept line has a word of >= 3 letters or
    # digits, or is confidently read. Confidence thresholds on single words cost more real text
    # than they removed (CER 0.043 -> 0.051 at conf >= 5 on the calib memes).
    return [
        line
        for line in lines
        if any(_letters(w.text) >= 3 for w in line)
        or (
            sum(_letters(w.text) for w in line) >= 2
            and float(np.mean([w.confidence for w in line])) >= SHORT_LINE_CONF
        )
    ]


def _lines(words: list[_Word]) -> list[list[_Word]]:
    """Group words into text lines by vertical position (a word joins the line its centre falls in)."""
    rows: list[tuple[list[_Word], list[float]]] = []  # words, [top, bottom]
    for w in sorted(words, key=lambda w: (w.top + w.bottom) / 2):
        centre = (w.top + w.bottom) / 2
        for row, extent in rows:
            if extent[0] <= centre <= extent[1]:
                row.append(w)
                extent[0], extent[1] = min(extent[0], w.top), max(extent[1], w.bottom)
                break
        else:
            rows.append(([w], [w.top, w.bottom]))
    rows.sort(key=lambda r: r[1][0])
    return [sorted(row, key=lambda w: w.left) for row, _ in rows]


def _clip(lines: list[list[_Word]], size: tuple[int, int]) -> list[list[_Word]]:
    width, height = size
    return [
        [
            _Word(
                w.text,
                max(0.0, w.left),
                max(0.0, w.top),
                min(float(width), w.right),
                min(float(height), w.bottom),
                w.confidence,
            )
            for w in line
        ]
        for line in lines
    ]
