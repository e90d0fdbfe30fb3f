"""pt-hate-fortuna: loader, spec and label mapping."""

from __future__ import annotations

import csv
from pathlib import Path

from .base import (
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


def _load_fortuna(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    fname = "2019-05-28_portuguese_hate_speech_binary_classification.csv"
    with open(root / fname, encoding="utf-8", newline="") as fh:
        # text and the combined label only (not the annotator ids).
        for i, (raw, label) in enumerate(_columns(csv.reader(fh), ("text", "hatespeech_comb"), fname)):
            text = _clean(raw, unescape=True)
            if not text or label not in {"0", "1"}:
                continue
            out.append(
                _item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), {"hate": int(label == "1")})
            )
    return _drop_contradictions(out)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("pt-hate-fortuna", "pt-hate-fortuna", ("pt",), "none declared (strictly for research)", False,
          ("hate",), _load_fortuna, ("2019-05-28_portuguese_hate_speech_binary_classification.csv",)),
)  # fmt: skip

NOTES: dict[str, str] = {
    "pt-hate-fortuna": (
        "Binary file, hatespeech_comb (majority of 3): 1 -> hate=1, 0 -> hate=0 only. The hierarchical "
        "file (a different, stricter Hate.speech column) and the annotator columns are not read. Fortuna's "
        "hate includes body-shaming, which the default policy does not list. Hash 70/15/15."
    ),
}
