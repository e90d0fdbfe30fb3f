"""cold-zh: loader, spec and label mapping."""

from __future__ import annotations

import csv
from pathlib import Path

from .base import (
    _CAP,
    BENIGN,
    DatasetSpec,
    LabeledText,
    _clean,
    _columns,
    _drop_contradictions,
    _item,
    _spec,
)


def _load_cold(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, split in (("COLDataset__train.csv", "train"), ("COLDataset__dev.csv", "calib"),
                         ("COLDataset__test.csv", "test")):  # fmt: skip
        with open(root / fname, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            # The index column restarts per topic, so ids are row numbers; the file, not the
            # 'split' column (dev.csv says 'train' on some rows), gives the split.
            cols = ("label", "TEXT") + (("fine-grained-label",) if split == "test" else ())
            for sid, (label, raw, *fine) in enumerate(_columns(reader, cols, fname)):
                text = _clean(raw)
                if not text or label not in {"0", "1"}:
                    continue
                anyv: int | None = None
                if label == "0":
                    labels = dict(BENIGN)  # safe, anti-bias counter-speech included (fine-grained 3)
                elif fine and fine[0] == "2":
                    labels = {"hate": 1}  # attack on a group (race, region, gender)
                elif fine and fine[0] == "1":
                    labels = {"harassment": 1}  # attack on an individual
                else:
                    labels, anyv = {}, 1  # train/dev: offensive, target not annotated
                out.append(_item(spec, f"{split}:{sid}", text, split, labels, anyv))
    return _drop_contradictions(out)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("cold-zh", "cold-zh", ("zh",), "Apache-2.0", True, ("hate", "harassment"), _load_cold,
          ("COLDataset__train.csv", "COLDataset__dev.csv", "COLDataset__test.csv"), cap=_CAP),
)  # fmt: skip

NOTES: dict[str, str] = {
    "cold-zh": (
        "COLD: label 0 safe -> all categories 0 (includes test fine-grained 3, anti-bias counter-speech); "
        "test fine-grained 2 attack group (race, region, gender) -> hate=1, 1 attack individual -> "
        "harassment=1; train/dev label 1 (offensive, target not annotated) -> any_violation=1, categories "
        "unknown. Official files train/dev/test -> train/calib/test (the split column is ignored: dev.csv "
        "says train on half its rows); ids are row numbers (the index restarts per topic). Capped at 6,000 "
        "items."
    ),
}
