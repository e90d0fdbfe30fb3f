"""The rendered-meme evaluation set: reproducible, labelled like its source, held out correctly, and
evaluated end to end with the real Tesseract and the real text moderator."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import require_data, require_service

from warden.errors import ValidationError
from warden.learn.media.memes import (
    FONT_FILES,
    PHOTO_MEMBERS,
    build_meme_set,
    edit_distance,
    evaluate_memes,
    find_font,
    load_photos,
    render_meme,
)
from warden.media.ocr import TesseractOcr
from warden.moderator import Moderator

SOURCE = "fine-grained-hateful-memes-text"


def _gold(root: Path, files: tuple[str, ...]) -> dict[str, int]:
    """id -> 1 if hateful, read straight from the source files."""
    out: dict[str, int] = {}
    for name in files:
        for line in (root / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                out[str(rec["id"])] = int(rec["gold_hate"][0] == "hateful")
    return out


def test_the_set_is_deterministic_and_varied() -> None:
    data = require_data()
    a = build_meme_set(data, "test", 16, seed=3)
    b = build_meme_set(data, "test", 16, seed=3)
    assert a == b  # ids, texts, labels and every rendering choice
    assert np.array_equal(np.asarray(a[0].image), np.asarray(b[0].image))
    other = build_meme_set(data, "test", 16, seed=4)
    assert [m.id for m in other] != [m.id for m in a]
    assert len({m.id for m in a}) == 16
    everything = build_meme_set(data, "calib", 120, seed=0)
    assert {m.font for m in everything} == set(FONT_FILES)
    assert {m.photo_name for m in everything} == set(PHOTO_MEMBERS)
    assert {m.style for m in everything} == {"outline", "plain"}
    assert {m.position for m in everything} == {"top", "bottom", "both"}


def test_labels_and_splits_follow_the_source() -> None:
    data = require_data()
    root = data / SOURCE
    dev = _gold(root, ("dev_seen.json", "dev_unseen.json"))
    train = _gold(root, ("train.json",))
    test = build_meme_set(data, "test", None)
    # dev_seen + dev_unseen, deduplicated, minus captions labelled both ways: 374 captions.
    assert 300 <= len(test) <= len(dev)
    assert all(m.id in dev and m.labels["hate"] == dev[m.id] for m in test)
    assert 0 < sum(m.labels["hate"] for m in test) < len(test)
    for split in ("train", "calib"):
        memes = build_meme_set(data, split, 60, seed=1)
        assert all(m.id in train and m.labels["hate"] == train[m.id] for m in memes)
    assert not {m.text for m in test} & {m.text for m in build_meme_set(data, "train", None)}
    doubled = build_meme_set(data, "test", 5, renders_per_text=2)
    assert [m.id.split("#")[0] for m in doubled[::2]] == [m.id.split("#")[0] for m in doubled[1::2]]
    with pytest.raises(ValidationError, match="unknown split"):
        build_meme_set(data, "dev", 5)


def test_render_draws_the_caption_in_both_styles() -> None:
    photos = load_photos(require_data())
    photo = photos["reg-test-input/labelme-subset/q0003.jpg"].resize((400, 400))
    font = find_font("DejaVuSans-Bold.ttf")
    outline = np.asarray(render_meme("top text here", photo, font, 32, "top", "outline"))
    assert outline.shape == (400, 400, 3)
    top, rest = outline[:60], outline[200:]
    assert (top.min(axis=2) > 240).sum() > 300 and (top.max(axis=2) < 40).sum() > 300  # white + outline
    assert np.array_equal(rest, np.asarray(photo)[200:])  # the picture below is untouched
    plain = render_meme("a caption " * 30, photo, font, 44, "both", "plain")
    assert plain.width == 400 and plain.height > 400  # white bands added above and below
    with pytest.raises(ValidationError):
        render_meme("x", photo, font, 32, "middle", "outline")  # type: ignore[arg-type]
    assert isinstance(render_meme("", Image.new("RGB", (50, 50)), font, 20), Image.Image)


def test_edit_distance() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == edit_distance("abc", "") == 3
    assert edit_distance(["the", "cat"], ["the", "hat"]) == 1


def test_evaluate_memes_with_the_real_moderator() -> None:
    data = require_data()
    if shutil.which("tesseract") is None:
        require_service("the tesseract binary is not installed (apt-get install tesseract-ocr)")
    memes = build_meme_set(data, "test", 20, seed=11)
    assert sum(m.labels["hate"] for m in memes) > 0
    result = evaluate_memes(Moderator.from_settings().load(), memes, TesseractOcr(workers=2))
    assert result["n"] == 20
    for key in ("meme_ocr_f1", "meme_text_f1", "meme_ocr_cer", "meme_ocr_images_per_s", "meme_ocr_wer"):
        assert math.isfinite(result[key]), (key, result)
    assert 0 <= result["meme_ocr_f1"] <= 1 and 0 <= result["meme_text_f1"] <= 1
    assert result["meme_ocr_cer"] < 0.15  # 0.024 on 300 calib memes, 0.022 on the 374 test memes
    assert result["meme_ocr_images_per_s"] > 0.3
    assert result["meme_flag_agreement"] >= 0.7  # OCR text is judged like the caption
