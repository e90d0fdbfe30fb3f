"""davidson-hate-offensive: loader, spec and label mapping."""

from __future__ import annotations

import csv
from pathlib import Path

from .base import (
    BENIGN,
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    _clean,
    _item,
    _spec,
    _split_for,
)


def _load_davidson(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "labeled_data.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = _clean(row["tweet"], unescape=True)
            if not text:
                continue
            cls = row["class"]
            if cls == "0":
                labels = {"hate": 1}  # hateful tweets: whether they are also profane is not annotated
            elif cls == "1":
                labels = {"profanity": 1, "hate": 0}
            else:
                labels = dict(BENIGN)
            out.append(_item(spec, row[""], text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("davidson-hate-offensive", "davidson-hate-offensive", ("en",), "MIT", True,
          ("hate", "profanity"), _load_davidson, ("labeled_data.csv",)),
)  # fmt: skip

NOTES: dict[str, str] = {
    "davidson-hate-offensive": (
        "class 0 hate_speech -> hate=1 (profanity unknown); class 1 offensive_language -> profanity=1, "
        "hate=0; class 2 neither -> all categories 0. No official split: hash 70/15/15."
    ),
}
