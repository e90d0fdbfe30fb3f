"""ethos: loader, spec and label mapping."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from .base import (
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    _clean,
    _item,
    _spec,
    _split_for,
)


def _ethos_norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _load_ethos(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    violence: dict[str, int] = {}
    with open(root / "Ethos_Dataset_Multi_Label.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            # Joined on normalised text: 23 comments differ from the binary file only in spacing.
            violence[_ethos_norm(row["comment"])] = int(float(row["violence"]) >= 0.5)
    out = []
    with open(root / "Ethos_Dataset_Binary.csv", encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh, delimiter=";")):
            text = _clean(row["comment"])
            if not text:
                continue
            labels: dict[str, int] = {"hate": int(float(row["isHate"]) >= 0.5)}
            if labels["hate"] and _ethos_norm(text) in violence:
                labels["violence"] = violence[_ethos_norm(text)]
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("ethos", "ethos", ("en",), "GPL-3.0", False, ("hate",), _load_ethos,
          ("Ethos_Dataset_Binary.csv", "Ethos_Dataset_Multi_Label.csv")),
)  # fmt: skip

NOTES: dict[str, str] = {
    "ethos": (
        "Binary file: isHate >= 0.5 -> hate=1, otherwise hate=0 only (non-hate comments include "
        "profanity and threats). Hateful comments found in the multi-label file (joined on "
        "whitespace-normalised text) also get violence = (violence >= 0.5). Hash 70/15/15."
    ),
}
