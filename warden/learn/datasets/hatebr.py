"""hatebr-pt: loader, spec and label mapping."""

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


def _load_hatebr(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "dataset__HateBR.csv", encoding="utf-8", newline="") as fh:
        # id, comment and final label only (not the post links or account names).
        rows = _columns(csv.reader(fh), ("id", "comentario", "label_final"), "dataset__HateBR.csv")
        for sid, raw, label in rows:
            text = _clean(raw)
            if not text or label not in {"0", "1"}:
                continue
            # Offensive (insults, profanity or hate, mostly aimed at politicians): kind not annotated.
            labels, anyv = ({}, 1) if label == "1" else (dict(BENIGN), 0)
            out.append(_item(spec, sid, text, _split_for(text, TRAIN_CALIB_TEST), labels, anyv))
    return _drop_contradictions(out)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("hatebr-pt", "hatebr-pt", ("pt",), "CC BY-NC 4.0", False, ("hate", "harassment", "profanity"),
          _load_hatebr, ("dataset__HateBR.csv",), cap=_CAP),
)  # fmt: skip

NOTES: dict[str, str] = {
    "hatebr-pt": (
        "HateBR 2.0 (Instagram comments on politicians' posts): offensive -> any_violation=1, categories "
        "unknown (insults, profanity and hate are not told apart in 2.0); non-offensive -> all categories "
        "0. dataset__HateBR.csv only (id, comentario, label_final; not the post links or accounts); "
        "HateBRXplain has the same 7,000 comments and labels and is ignored. Hash 70/15/15; capped at "
        "6,000 items."
    ),
}
