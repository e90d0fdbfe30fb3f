"""toxicn-zh: loader, spec and label mapping."""

from __future__ import annotations

import csv
from pathlib import Path

from .base import (
    _CAP,
    BENIGN,
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    _clean,
    _columns,
    _drop_contradictions,
    _item,
    _spec,
    _split_for,
)


def _load_toxicn(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "ToxiCN_1.0.csv", encoding="utf-8-sig", newline="") as fh:
        cols = ("content", "toxic", "toxic_type", "expression")
        for i, (raw, toxic, kind, expression) in enumerate(_columns(csv.reader(fh), cols, "ToxiCN_1.0.csv")):
            text = _clean(raw)
            if not text:
                continue
            anyv: int | None = None
            if toxic == "0":
                labels = dict(BENIGN)
            elif kind == "2" and expression in {"1", "2"}:
                labels = {"hate": 1}  # explicit or implicit hate
            elif kind == "1":
                labels, anyv = {"hate": 0}, 1  # general offence without a targeted group
            else:
                continue  # expression 3 'reporting': quotes or reports hate, labelled toxic: ambiguous
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels, anyv))
    return _drop_contradictions(out)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("toxicn-zh", "toxicn-zh", ("zh",), "CC BY-NC-ND 4.0", False, ("hate",), _load_toxicn,
          ("ToxiCN_1.0.csv",), cap=_CAP),
)  # fmt: skip

NOTES: dict[str, str] = {
    "toxicn-zh": (
        "ToxiCN 1.0: toxic 0 -> all categories 0; toxic_type 2 (hate) with explicit or implicit "
        "expression -> hate=1; toxic_type 1 (general offence, no targeted group) -> any_violation=1, "
        "hate=0; expression 3 'reporting' (quoting or reporting hate, labelled toxic) skipped as "
        "ambiguous. Hash 70/15/15; capped at 6,000 items. CC BY-NC-ND: research only."
    ),
}
