"""l-hsab-arabic: loader, spec and label mapping."""

from __future__ import annotations

import csv
from pathlib import Path

from .base import (
    BENIGN,
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    _clean,
    _covered,
    _item,
    _spec,
    _split_for,
)


def _load_lhsab(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "L-HSAB.tsv", encoding="utf-8", newline="") as fh:
        # csv, not line splitting: a few quoted tweets span several lines.
        for i, row in enumerate(csv.DictReader(fh, delimiter="\t")):
            text = _clean(row["Tweet"] or "")
            cls = (row["Class"] or "").strip()
            if not text or cls not in {"hate", "abusive", "normal"}:
                continue
            if cls == "hate":
                labels = _covered(spec, ["hate"])
            elif cls == "abusive":
                labels = _covered(spec, ["harassment"])
            else:
                labels = dict(BENIGN)
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("l-hsab-arabic", "l-hsab-arabic", ("ar",), "none declared", False,
          ("hate", "harassment"), _load_lhsab, ("L-HSAB.tsv",)),
)  # fmt: skip

NOTES: dict[str, str] = {
    "l-hsab-arabic": (
        "hate -> hate=1; abusive -> harassment=1; normal -> all 0. Hash 70/15/15. No licence declared: "
        "research/evaluation use only."
    ),
}
