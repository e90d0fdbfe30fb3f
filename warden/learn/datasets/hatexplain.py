"""hatexplain-test-val: loader, spec and label mapping."""

from __future__ import annotations

import ast
import csv
from collections import Counter
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


def _load_hatexplain(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, official in (("hatexplain_val.csv", "val"), ("hatexplain_test.csv", "test")):
        with open(root / fname, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                votes = Counter(ast.literal_eval(row["annotators"])["label"])
                label, n = votes.most_common(1)[0]
                if n < 2:
                    continue  # three different labels: no majority
                text = _clean(row.get("unmasked_sentence") or "")
                if not text:
                    text = _clean(" ".join(ast.literal_eval(row["post_tokens"])))
                if not text:
                    continue
                if label == 0:
                    labels = _covered(spec, ["hate"])
                elif label == 2:
                    labels = _covered(spec, ["harassment"])
                else:
                    labels = dict(BENIGN)
                split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
                out.append(_item(spec, row["id"], text, split, labels))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("hatexplain-test-val", "hatexplain-test-val", ("en",), "MIT", True,
          ("hate", "harassment"), _load_hatexplain, ("hatexplain_val.csv", "hatexplain_test.csv")),
)  # fmt: skip

NOTES: dict[str, str] = {
    "hatexplain-test-val": (
        "Majority of the 3 annotator labels: hatespeech -> hate=1; offensive -> harassment=1, hate=0; "
        "normal -> all 0; no majority -> skipped. Text = unmasked_sentence (this third-party copy "
        "replaces <user> with random first names and <number> with digits) else the joined post_tokens. "
        "Official val -> train/calib 70/30 by hash; official test -> test."
    ),
}
