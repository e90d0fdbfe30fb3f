"""OCR with the real Tesseract: exact words and boxes on print, meme text on real photos, language
packs, errors, and empty images."""

from __future__ import annotations

import io
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from support import require_data, require_service

from warden.errors import MissingExtraError, ValidationError
from warden.learn.media.memes import Position, edit_distance, find_font, normalise_for_cer, render_meme
from warden.media.ocr import MissingTesseractError, OcrError, TesseractOcr
from warden.media.types import OcrResult

# Measured with this Tesseract 5.3 + the glyph masks: 0.00-0.03 on each of the four memes below,
# 0.024 over 300 rendered calib memes; the grayscale image alone reads them at CER 0.47.
MEME_CER_BOUND = 0.06


@pytest.fixture(scope="module")
def ocr() -> TesseractOcr:
    if shutil.which("tesseract") is None:
        require_service("the tesseract binary is not installed (apt-get install tesseract-ocr)")
    return TesseractOcr(workers=2).load()


def _font(size: int, name: str = "DejaVuSans.ttf") -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(find_font(name)), size)


def _print(lines: list[str], width: int = 700, size: int = 30) -> tuple[Image.Image, list[tuple[str, tuple]]]:
    """Black text on white; also the ink bounding box (left, top, right, bottom) of every word."""
    font = _font(size)
    image = Image.new("RGB", (width, 40 + len(lines) * round(size * 1.8)), "white")
    draw = ImageDraw.Draw(image)
    placed = []
    for row, line in enumerate(lines):
        x, y = 20.0, 20 + row * round(size * 1.8)
        for word in line.split():
            placed.append((word, draw.textbbox((x, y), word, font=font)))
            draw.text((x, y), word, font=font, fill="black")
            x += font.getlength(word + " ")
    ink = np.asarray(image.convert("L")) < 160
    boxes = []
    for word, bbox in placed:
        left, top, right, bottom = (int(v) for v in bbox)
        right, bottom = right + 1, bottom + 1  # textbbox is fractional with a fractional x
        ys, xs = np.nonzero(ink[top:bottom, left:right])
        boxes.append((word, (left + xs.min(), top + ys.min(), left + xs.max() + 1, top + ys.max() + 1)))
    return image, boxes


def _photo(name: str, width: int) -> Image.Image:
    root = require_data("pdq-image-hash-testset")
    with zipfile.ZipFile(root / "pdq_test_images.zip") as zf:
        photo = Image.open(io.BytesIO(zf.read(name))).convert("RGB")
    return photo.resize((width, round(photo.height * width / photo.width)), Image.Resampling.LANCZOS)


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _cer(reference: str, read: str) -> float:
    ref = normalise_for_cer(reference)
    return edit_distance(ref, normalise_for_cer(read)) / len(ref)


def test_printed_text_exact_words_offsets_and_boxes(ocr: TesseractOcr) -> None:
    # 700 px wide: upscaled for Tesseract, so the boxes also prove the scale is undone.
    image, truth = _print(["Moderation keeps forums civil", "Reviewers label eleven queues"])
    result = ocr.recognise(image)
    assert result.text == "Moderation keeps forums civil\nReviewers label eleven queues"
    assert [w.text for w in result.words] == [word for word, _ in truth]
    for word, (word_truth, (left, top, right, bottom)) in zip(result.words, truth, strict=True):
        assert result.text[word.start : word.end] == word.text == word_truth
        # The box holds the word's ink (1 px slack for anti-aliasing) and is not much bigger.
        assert word.left <= left + 1 and word.top <= top + 1, (word, (left, top, right, bottom))
        assert word.left + word.width >= right - 1 and word.top + word.height >= bottom - 1, word
        assert word.width * word.height <= 1.6 * (right - left + 2) * (bottom - top + 2), word
        assert word.box() == [word.left, word.top, word.width, word.height]
        assert word.confidence > 80
    assert result.languages == "eng"


def test_words_in_maps_a_span_to_its_boxes(ocr: TesseractOcr) -> None:
    image, truth = _print(["first line of text", "threats hidden below"])
    result = ocr.recognise(image)
    start = result.text.index("hidden")
    hits = result.words_in(start, start + len("hidden below"))
    assert [w.text for w in hits] == ["hidden", "below"]
    first_line_bottom = max(w.top + w.height for w in result.words[:4])
    assert all(w.top >= first_line_bottom for w in hits)
    expected = dict(truth)["hidden"]
    assert hits[0].left <= expected[0] + 1 and hits[0].left + hits[0].width >= expected[2] - 1
    assert result.words_in(start, start + 1) == hits[:1]
    assert result.words_in(0, 0) == []


MEMES: list[tuple[str, str, str, int, Position]] = [
    ("bridge-mods/aaa-orig.jpg", "when the tests pass on the first try", "DejaVuSans-Bold.ttf", 36, "top"),
    (
        "reg-test-input/labelme-subset/q0003.jpg",
        "nobody reads the terms of service",
        "DejaVuSerif-Bold.ttf",
        30,
        "both",
    ),
    (
        "reg-test-input/labelme-subset/q0291.jpg",
        "me explaining the policy to my cat",
        "DejaVuSansCondensed-Bold.ttf",
        24,
        "bottom",
    ),
    ("misc-images/c.png", "one does not simply ship on friday", "DejaVuSansMono-Bold.ttf", 32, "top"),
]


def _meme(photo: str, text: str, font: str, size: int, position: Position) -> Image.Image:
    """Upper-case white text with a black outline on a real photo, saved as a JPEG like an upload."""
    return _jpeg(render_meme(text, _photo(photo, 560), find_font(font), size, position, "outline", True), 75)


@pytest.mark.parametrize(("photo", "text", "font", "size", "position"), MEMES)
def test_meme_outline_text_on_a_real_photo(
    ocr: TesseractOcr, photo: str, text: str, font: str, size: int, position: Position
) -> None:
    result = ocr.recognise(_meme(photo, text, font, size, position))
    assert _cer(text, result.text) < MEME_CER_BOUND, result.text


def test_gray_preprocessing_alone_fails_on_meme_text() -> None:
    """The reason for the glyph masks: Tesseract on the photo itself misses outlined text."""
    photo, text, font, size, position = MEMES[0]
    gray = TesseractOcr(preprocess="gray").load().recognise(_meme(photo, text, font, size, position))
    assert _cer(text, gray.text) > 3 * MEME_CER_BOUND, gray.text


def test_german_with_the_deu_pack() -> None:
    if shutil.which("tesseract") is None:
        require_service("the tesseract binary is not installed (apt-get install tesseract-ocr)")
    image, _ = _print(["Größere Straßen führen über Brücken"], width=900)
    result = TesseractOcr(languages="deu").load().recognise(image)
    assert result.text == "Größere Straßen führen über Brücken"
    assert result.languages == "deu"


def test_missing_language_pack_names_the_debian_package() -> None:
    if shutil.which("tesseract") is None:
        require_service("the tesseract binary is not installed (apt-get install tesseract-ocr)")
    ocr = TesseractOcr(languages="eng+jpn_vert")  # no pack for vertical Japanese is installed here
    with pytest.raises(MissingTesseractError, match=r"jpn_vert.*apt-get install tesseract-ocr-jpn-vert"):
        ocr.check()
    with pytest.raises(MissingExtraError):  # callers that handle missing extras handle this too
        ocr.recognise(Image.new("RGB", (10, 10), "white"))


def test_missing_binary_and_bad_configuration() -> None:
    with pytest.raises(MissingTesseractError, match="apt-get install tesseract-ocr"):
        TesseractOcr(binary="/nonexistent/tesseract").check()
    with pytest.raises(ValidationError, match="'eng; rm'"):
        TesseractOcr(languages="eng; rm")
    with pytest.raises(ValidationError):
        TesseractOcr(workers=0)


def test_timeout_is_a_clear_error(ocr: TesseractOcr) -> None:
    slow = TesseractOcr().load()
    slow.timeout_s = 0.001  # no Tesseract process answers this fast
    with pytest.raises(OcrError, match="longer than 0.001 s"):
        slow.recognise(Image.new("RGB", (200, 100), "white"))


def test_images_without_text_read_as_empty(ocr: TesseractOcr) -> None:
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8))
    images = [
        Image.new("RGB", (640, 480), "white"),
        Image.new("L", (300, 200), 128),
        noise,
        _photo("bridge-mods/aaa-orig.jpg", 800),
        _photo("reg-test-input/labelme-subset/q2821.jpg", 256),  # zebra stripes
    ]
    for result in ocr.recognise_batch(images):
        assert result == OcrResult(text="", words=[], languages="eng")


def test_batch_matches_single_calls_in_order(ocr: TesseractOcr) -> None:
    printed, _ = _print(["batch order matters"])
    blank = Image.new("RGB", (300, 100), "white")
    other, _ = _print(["second image here"], width=500)
    batch = ocr.recognise_batch([printed, blank, other])
    assert [r.text for r in batch] == ["batch order matters", "", "second image here"]
    assert batch[0] == ocr.recognise(printed)
    assert ocr.recognise_batch([]) == []


def test_identity_names_tesseract_and_preprocessing(ocr: TesseractOcr) -> None:
    assert ocr.name == "tesseract"
    assert ocr.version.split("+")[0][0].isdigit()
    assert ocr.version.endswith("+masks1")
    assert ocr.identity == f"tesseract@{ocr.version}/eng"
