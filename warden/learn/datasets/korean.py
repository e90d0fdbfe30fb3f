"""korean-hate-speech: loader, spec and label mapping."""

from __future__ import annotations

import csv
from pathlib import Path

from .base import (
    BENIGN,
    TRAIN_CALIB,
    DatasetSpec,
    LabeledText,
    _clean,
    _covered,
    _item,
    _spec,
    _split_for,
)


def _load_korean(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, official in (("train.tsv", "train"), ("dev.tsv", "test")):
        with open(root / fname, encoding="utf-8", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)):
                text = _clean(row["comments"])
                if not text:
                    continue
                hate = row["hate"].strip()
                if hate == "hate":
                    labels = _covered(spec, ["hate"])
                elif hate == "offensive":
                    labels = _covered(spec, ["harassment"])
                else:
                    labels = dict(BENIGN)
                split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
                out.append(_item(spec, f"{Path(fname).stem}:{i}", text, split, labels))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("korean-hate-speech", "korean-hate-speech", ("ko",), "CC BY-SA 4.0", False,
          ("hate", "harassment"), _load_korean, ("train.tsv", "dev.tsv")),
)  # fmt: skip

NOTES: dict[str, str] = {
    "korean-hate-speech": (
        "hate -> hate=1; offensive -> harassment=1; none -> all 0. train.tsv -> train/calib 70/30 by hash; "
        "dev.tsv -> test (upstream test labels are withheld). CC BY-SA: not for commercial bundling."
    ),
}
