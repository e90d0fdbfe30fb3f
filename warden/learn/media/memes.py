"""Rendered memes: an evaluation set for reading text in images.

The Fine-grained Hateful Memes annotations ship the captions and labels but not the images, so we
draw each caption onto a benign photo (the PDQ test set's originals) in a few fonts, sizes, layouts
and styles, then JPEG-compress it like an uploaded meme. Because the photo is benign and unrelated,
the caption's label is the meme's label: the set measures how much moderation quality OCR loses
(`meme_ocr_f1` vs `meme_text_f1`), not multimodal understanding.
"""

from __future__ import annotations

import io
import math
import random
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ...content import Content
from ...errors import MissingDataError, ValidationError
from ...evaluate.metrics import binary_metrics

if TYPE_CHECKING:
    from ...media.ocr import TesseractOcr
    from ...moderator import Moderator

Position = Literal["top", "bottom", "both"]
Style = Literal["outline", "plain"]

MEMES_DATASET = "fine-grained-hateful-memes-text"
PHOTOS_DATASET = "pdq-image-hash-testset"
SPLITS = ("train", "calib", "test")

# Originals only: every other bridge-mods / dih / modes file is an edit of aaa-orig.jpg, small.jpg is
# all black and wee.jpg (34x42) is a crop that itself contains text.
PHOTO_MEMBERS = (
    "bridge-mods/aaa-orig.jpg",
    "misc-images/c.png",
    "reg-test-input/labelme-subset/q0003.jpg",
    "reg-test-input/labelme-subset/q0004.jpg",
    "reg-test-input/labelme-subset/q0122.jpg",
    "reg-test-input/labelme-subset/q0291.jpg",
    "reg-test-input/labelme-subset/q0746.jpg",
    "reg-test-input/labelme-subset/q1050.jpg",
    "reg-test-input/labelme-subset/q2821.jpg",
)
# Impact is not free to ship; these are the closest heavy faces plus a serif and a monospace.
FONT_FILES = (
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansMono-Bold.ttf",
)
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
FONT_SIZES = (18, 24, 32, 44)
CANVAS_WIDTHS = (420, 560, 720)
JPEG_QUALITIES = (60, 75, 90)
MIN_FONT_SIZE = 10


def _font_dirs() -> list[Path]:
    dirs = list(FONT_DIRS)
    try:  # matplotlib ships DejaVu too, so the set renders without Debian's fonts-dejavu-core
        import matplotlib

        dirs.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf")
    except ImportError:
        pass
    return dirs


def find_font(file_name: str) -> Path:
    """The path of a DejaVu font file, from Debian's fonts-dejavu-core or matplotlib's copy."""
    for d in _font_dirs():
        if (d / file_name).is_file():
            return d / file_name
    raise MissingDataError(
        f"font {file_name} not found in {', '.join(map(str, _font_dirs()))}: "
        "apt-get install fonts-dejavu-core"
    )


@lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Greedy word wrap by rendered width (a word wider than the line gets a line of its own)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if line and font.getlength(candidate) > max_width:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def _split_top_bottom(text: str) -> tuple[str, str]:
    words = text.split()
    if len(words) < 2:
        return text, ""
    cut = math.ceil(len(words) / 2)
    return " ".join(words[:cut]), " ".join(words[cut:])


@dataclass(frozen=True)
class _Block:
    lines: list[str]
    line_height: int

    @property
    def height(self) -> int:
        return self.line_height * len(self.lines)


def _layout(
    parts: Sequence[str], font_path: Path, size: int, width: int, max_block_height: float, stroke: bool
) -> tuple[ImageFont.FreeTypeFont, list[_Block], int]:
    """Shrink the font from `size` until every part wraps into the width and the height budget."""
    margin = max(4, round(width * 0.04))
    current = size
    while True:
        font = _font(str(font_path), current)
        stroke_w = _stroke_width(current) if stroke else 0
        ascent, descent = font.getmetrics()
        line_height = round((ascent + descent) * 1.1) + 2 * stroke_w
        max_width = width - 2 * margin - 2 * stroke_w
        blocks = [_Block(_wrap(p, font, max_width), line_height) for p in parts]
        fits = all(b.height <= max_block_height for b in blocks) and all(
            font.getlength(line) <= max_width for b in blocks for line in b.lines
        )
        if fits or current <= MIN_FONT_SIZE:
            return font, blocks, current
        current = max(MIN_FONT_SIZE, int(current * 0.9))


def _stroke_width(size: int) -> int:
    return max(1, round(size / 14))


def _draw_block(
    draw: ImageDraw.ImageDraw,
    block: _Block,
    font: ImageFont.FreeTypeFont,
    width: int,
    top: int,
    stroke: int,
) -> None:
    """Centred lines; stroke > 0 draws white letters outlined in black, 0 draws black letters."""
    for i, line in enumerate(block.lines):
        x = (width - font.getlength(line)) / 2
        y = top + i * block.line_height + stroke
        if stroke:
            draw.text((x, y), line, font=font, fill="white", stroke_width=stroke, stroke_fill="black")
        else:
            draw.text((x, y), line, font=font, fill="black")


def render_meme(
    text: str,
    photo: Image.Image,
    font_path: Path,
    size: int,
    position: Position = "top",
    style: Style = "outline",
    uppercase: bool = False,
) -> Image.Image:
    """Draw `text` onto `photo` the way meme generators do and return a new RGB image.

    "outline": white letters with a black stroke over the photo ("both" puts the first half of the
    words at the top and the rest at the bottom). "plain": black letters on white bands added above
    and/or below the photo (the caption-over-picture format). `size` is the font size in pixels; a
    caption that does not fit in the width and in 45 % of the height (per band) is set smaller, down to
    10 px."""
    if position not in ("top", "bottom", "both"):
        raise ValidationError(f"position must be top, bottom or both, not {position!r}")
    if style not in ("outline", "plain"):
        raise ValidationError(f"style must be outline or plain, not {style!r}")
    if size < 1:
        raise ValidationError(f"font size must be positive, got {size}")
    shown = " ".join(text.split())
    if uppercase:
        shown = shown.upper()
    parts = list(_split_top_bottom(shown)) if position == "both" else [shown]
    image = photo.convert("RGB")
    width, height = image.size
    outline = style == "outline"
    font, blocks, drawn = _layout(parts, Path(font_path), size, width, 0.45 * height, stroke=outline)
    if position == "both":
        top_block, bottom_block = blocks
    elif position == "top":
        top_block, bottom_block = blocks[0], _Block([], blocks[0].line_height)
    else:
        top_block, bottom_block = _Block([], blocks[0].line_height), blocks[0]
    pad = max(4, drawn // 3)
    if outline:
        stroke = _stroke_width(drawn)
        canvas = image.copy()
        draw = ImageDraw.Draw(canvas)
        _draw_block(draw, top_block, font, width, pad, stroke)
        _draw_block(draw, bottom_block, font, width, height - pad - bottom_block.height, stroke)
        return canvas
    top_band = top_block.height + 2 * pad if top_block.lines else 0
    bottom_band = bottom_block.height + 2 * pad if bottom_block.lines else 0
    canvas = Image.new("RGB", (width, height + top_band + bottom_band), "white")
    canvas.paste(image, (0, top_band))
    draw = ImageDraw.Draw(canvas)
    _draw_block(draw, top_block, font, width, pad, 0)
    _draw_block(draw, bottom_block, font, width, top_band + height + pad, 0)
    return canvas


@dataclass(frozen=True)
class RenderedMeme:
    """One caption drawn on one photo. `image` renders on access (about 10-30 ms) so a whole split
    can be listed without holding every bitmap in memory; keep the result if you need it twice."""

    id: str
    text: str  # the caption as the data set has it: the ground truth for OCR
    labels: dict[str, int]  # policy category -> 0/1, only the categories the source annotates
    font: str  # font file name (DejaVu), resolved by find_font
    size: int  # requested font size in px (long captions are set smaller to fit)
    photo_name: str  # member of pdq_test_images.zip
    position: Position = "top"
    style: Style = "outline"
    uppercase: bool = False
    width: int = 560  # the photo is scaled to this width before drawing
    jpeg_quality: int | None = 75  # re-encoded like an upload; None keeps the lossless rendering
    photo: Image.Image | None = field(default=None, repr=False, compare=False)

    @property
    def image(self) -> Image.Image:
        if self.photo is None:
            raise ValidationError(f"meme {self.id} has no photo to draw on")
        photo = _scaled(self.photo, self.width)
        image = render_meme(
            self.text, photo, find_font(self.font), self.size, self.position, self.style, self.uppercase
        )
        if self.jpeg_quality is None:
            return image
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=self.jpeg_quality)
        buf.seek(0)
        return Image.open(buf).convert("RGB")


def _scaled(photo: Image.Image, width: int) -> Image.Image:
    height = max(1, round(photo.height * width / photo.width))
    return photo.resize((width, height), Image.Resampling.LANCZOS)


def load_photos(data_dir: Path) -> dict[str, Image.Image]:
    """The benign original photos of the PDQ test set, by zip member name."""
    archive = Path(data_dir) / PHOTOS_DATASET / "pdq_test_images.zip"
    if not archive.is_file():
        raise MissingDataError(f"{archive} is missing: the meme set draws on the PDQ test photos")
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        missing = [m for m in PHOTO_MEMBERS if m not in names]
        if missing:
            raise MissingDataError(f"{archive} lacks {', '.join(missing)}")
        return {m: Image.open(io.BytesIO(zf.read(m))).convert("RGB") for m in PHOTO_MEMBERS}


def build_meme_set(
    data_dir: Path, split: str, n: int | None = None, seed: int = 0, renders_per_text: int = 1
) -> list[RenderedMeme]:
    """Captions of one split of Fine-grained Hateful Memes, each drawn on a benign photo.

    Captions, labels and splits are those of Warden's text training (`warden.learn.datasets`):
    train.json is hashed into "train" and "calib", dev_seen + dev_unseen are "test" (test.jsonl has no
    labels), captions the source labels both ways (the image decided) are left out, and train/calib
    lose the captions that also occur in test and their own repeats (`apply_splits`, as in training),
    so the text models never trained on a "test" caption. Hold-out numbers must come from "test" only.

    `n` samples that many captions (None: all). Every rendering choice (photo, font, size, layout,
    style, case, width, JPEG quality) comes from `seed`, so a call is reproducible. `renders_per_text`
    > 1 draws each caption again with other choices (ids get a "#k" suffix)."""
    from ..datasets import DATASETS
    from ..splits import apply_splits

    if split not in SPLITS:
        raise ValidationError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    if renders_per_text < 1:
        raise ValidationError("renders_per_text must be at least 1")
    kept, _ = apply_splits(DATASETS[MEMES_DATASET].load(Path(data_dir)))
    items = [it for it in kept if it.split == split]
    rng = random.Random(f"warden-memes:{split}:{seed}")
    if n is not None:
        if n < 0:
            raise ValidationError(f"n must be >= 0, got {n}")
        items = rng.sample(items, min(n, len(items)))
    photos = load_photos(Path(data_dir))
    for font in FONT_FILES:
        find_font(font)  # fail before building, not on first render
    memes = []
    for item in items:
        source_id = item.id.split(":", 1)[1]
        for k in range(renders_per_text):
            photo_name = rng.choice(PHOTO_MEMBERS)
            style: Style = "plain" if rng.random() < 0.25 else "outline"
            position: Position = rng.choice(("top", "bottom", "both"))
            memes.append(
                RenderedMeme(
                    id=source_id if renders_per_text == 1 else f"{source_id}#{k}",
                    text=item.text,
                    labels=dict(item.labels),
                    font=rng.choice(FONT_FILES),
                    size=rng.choice(FONT_SIZES),
                    photo_name=photo_name,
                    position=position,
                    style=style,
                    uppercase=rng.random() < 0.5,
                    width=rng.choice(CANVAS_WIDTHS),
                    jpeg_quality=rng.choice(JPEG_QUALITIES),
                    photo=photos[photo_name],
                )
            )
    return memes


# -- evaluation -----------------------------------------------------------------------------------


def normalise_for_cer(text: str) -> str:
    """Case-folded, whitespace collapsed: line breaks and letter case are layout, not reading errors."""
    return " ".join(text.casefold().split())


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance (insert, delete, substitute) between two strings or token lists."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def _moderate(
    moderator: Moderator, texts: Sequence[str], category: str, batch_size: int
) -> tuple[list, list]:
    """P(category) and flagged per text; an empty text (nothing read) is not flagged, P = 0."""
    probs = [0.0] * len(texts)
    flags = [False] * len(texts)
    todo = [i for i, t in enumerate(texts) if t.strip()]
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        decisions = moderator.moderate([Content(id=f"meme-{i}", text=texts[i]) for i in chunk])
        for i, decision in zip(chunk, decisions, strict=True):
            score = decision.categories.get(category)
            if score is None:
                raise ValidationError(f"the moderator's policy has no category {category!r}")
            probs[i] = float(score.probability)
            flags[i] = bool(score.flagged)
    return probs, flags


def _f1_metrics(
    prefix: str, y: Sequence[int], probs: Sequence[float], flags: Sequence[bool]
) -> dict[str, float]:
    m = binary_metrics(y, probs, flags, probabilities=True)
    has_pos = m["support_pos"] > 0

    def value(key: str) -> float:
        v = m[key]
        if v is None:  # nothing flagged: no precision; with positives present F1 is 0 by convention
            return 0.0 if has_pos and key in ("f1", "precision", "recall") else math.nan
        return float(v)

    return {f"{prefix}_{k}": value(k) for k in ("f1", "precision", "recall", "pr_auc", "flag_rate")}


def evaluate_memes(
    moderator: Moderator,
    memes: Sequence[RenderedMeme],
    ocr: TesseractOcr,
    category: str = "hate",
    batch_size: int = 64,
) -> dict[str, float]:
    """Moderation quality lost by reading memes instead of knowing their text.

    Every meme is rendered and read by `ocr`; the moderator judges the OCR text (whitespace
    collapsed, as in the media path: `meme_ocr_*`) and the original caption (`meme_text_*`), scored
    against the caption's label for `category` (its `flagged` decision for F1, its probability for
    PR-AUC). Also: character and word error rates of the OCR text after case and whitespace
    normalisation (micro-averaged over all characters, and per style), the share of memes read as
    empty, and OCR throughput (rendering not included)."""
    memes = [m for m in memes if category in m.labels]
    if not memes:
        raise ValidationError(f"no memes with a {category!r} label to evaluate")
    ocr_texts: list[str] = []
    ocr_seconds = 0.0
    for start in range(0, len(memes), batch_size):
        images = [m.image for m in memes[start : start + batch_size]]
        began = time.perf_counter()
        results = ocr.recognise_batch(images)
        ocr_seconds += time.perf_counter() - began
        ocr_texts += [r.text for r in results]
    y = [int(m.labels[category]) for m in memes]
    out: dict[str, float] = {"n": float(len(memes)), "positives": float(sum(y))}
    text_probs, text_flags = _moderate(moderator, [m.text for m in memes], category, 256)
    # Judged as the media path judges a frame's text: whitespace collapsed (line breaks cost F1 0.03
    # on calib memes), case kept.
    from ...media.types import normalise_ocr_text

    ocr_probs, ocr_flags = _moderate(moderator, [normalise_ocr_text(t) for t in ocr_texts], category, 256)
    out.update(_f1_metrics("meme_text", y, text_probs, text_flags))
    out.update(_f1_metrics("meme_ocr", y, ocr_probs, ocr_flags))
    out["meme_flag_agreement"] = float(np.mean([a == b for a, b in zip(text_flags, ocr_flags, strict=True)]))

    char_err: dict[str, list[int]] = {"all": [0, 0], "outline": [0, 0], "plain": [0, 0]}
    word_err = [0, 0]
    for meme, read in zip(memes, ocr_texts, strict=True):
        ref, hyp = normalise_for_cer(meme.text), normalise_for_cer(read)
        dist = edit_distance(ref, hyp)
        for key in ("all", meme.style):
            char_err[key][0] += dist
            char_err[key][1] += len(ref)
        word_err[0] += edit_distance(ref.split(), hyp.split())
        word_err[1] += len(ref.split())
    out["meme_ocr_cer"] = char_err["all"][0] / max(char_err["all"][1], 1)
    for style in ("outline", "plain"):
        errors, chars = char_err[style]
        out[f"meme_ocr_cer_{style}"] = errors / chars if chars else math.nan
    out["meme_ocr_wer"] = word_err[0] / max(word_err[1], 1)
    out["meme_ocr_empty_rate"] = float(np.mean([not t.strip() for t in ocr_texts]))
    out["meme_ocr_images_per_s"] = len(memes) / ocr_seconds if ocr_seconds > 0 else math.nan
    return out
