"""surge-toxicity: loader, spec and label mapping."""

from __future__ import annotations

import csv
from pathlib import Path

from .base import (
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    _clean,
    _columns,
    _covered,
    _drop_contradictions,
    _item,
    _spec,
    _split_for,
)


def _load_surge(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "toxicity_en.csv", encoding="utf-8", newline="") as fh:
        for i, (raw, tox) in enumerate(_columns(csv.reader(fh), ("text", "is_toxic"), "toxicity_en.csv")):
            text = _clean(raw)
            if not text or tox not in {"Toxic", "Not Toxic"}:
                continue
            if tox == "Toxic":
                labels, anyv = {}, 1  # "toxic" by the annotator's own judgement: kind not annotated
            else:
                # Not toxic, but often with harmless swearing: profanity (and categories toxicity does
                # not judge: sexual, spam, illicit goods, self-harm) stay unknown.
                labels, anyv = _covered(spec, []), None
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels, anyv))
    return _drop_contradictions(out)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("surge-toxicity", "surge-toxicity", ("en",), "MIT", True, ("hate", "harassment", "violence"),
          _load_surge, ("toxicity_en.csv",)),
)  # fmt: skip

NOTES: dict[str, str] = {
    "surge-toxicity": (
        "Toxic (the annotator's own judgement) -> any_violation=1, categories unknown; Not Toxic -> hate, "
        "harassment, violence = 0; profanity stays unknown (many not-toxic comments swear harmlessly) as "
        "do the categories toxicity does not judge. Hash 70/15/15."
    ),
}
