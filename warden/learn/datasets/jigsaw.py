"""jigsaw-toxic-sample: loader, spec and label mapping."""

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

_JIGSAW_MAP = {"obscene": "profanity", "threat": "violence", "insult": "harassment", "identity_hate": "hate"}


def _load_jigsaw(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, official in (("train_sample.csv", "train"), ("test_sample.csv", "test")):
        with open(root / fname, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                flags = ["toxic", "severe_toxic", *_JIGSAW_MAP]
                if any(row[f] == "-1" for f in flags):
                    continue  # not scored in the Kaggle test set
                text = _clean(row["comment_text"])
                if not text:
                    continue
                positives = [cat for col, cat in _JIGSAW_MAP.items() if row[col] == "1"]
                if positives:
                    labels, anyv = _covered(spec, positives), 1
                elif row["toxic"] == "1" or row["severe_toxic"] == "1":
                    labels, anyv = {}, 1  # toxic, but the kind of toxicity is not annotated
                else:
                    labels, anyv = dict(BENIGN), 0
                split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
                out.append(_item(spec, row["id"], text, split, labels, any_violation=anyv))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("jigsaw-toxic-sample", "jigsaw-toxic-sample", ("en",), "CC0 / CC BY-SA 3.0", True,
          ("profanity", "violence", "harassment", "hate"), _load_jigsaw,
          ("train_sample.csv", "test_sample.csv")),
)  # fmt: skip

NOTES: dict[str, str] = {
    "jigsaw-toxic-sample": (
        "obscene -> profanity, threat -> violence, insult -> harassment, identity_hate -> hate (the other "
        "three of these four are 0 when one is set); toxic/severe_toxic with no other flag -> "
        "any_violation=1 with categories unknown; all 0 -> all categories 0. train_sample -> train/calib "
        "70/30 by hash; test_sample -> test, rows with -1 (not scored) skipped."
    ),
}
