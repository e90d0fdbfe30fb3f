"""edos: loader, spec and label mapping."""

from __future__ import annotations

import csv
from pathlib import Path

from .base import (
    _CAP,
    DatasetSpec,
    LabeledText,
    _clean,
    _columns,
    _drop_contradictions,
    _item,
    _spec,
)

_EDOS_SPLITS = {"train": "train", "dev": "calib", "test": "test"}


_EDOS_VIOLENT = ("1.1 threats of harm", "1.2 incitement and encouragement of harm")


def _load_edos(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "data" / "edos_labelled_aggregated.csv", encoding="utf-8", newline="") as fh:
        cols = ("rewire_id", "text", "label_sexist", "label_vector", "split")
        for sid, raw, sexist, vector, split in _columns(csv.reader(fh), cols, "edos_labelled_aggregated.csv"):
            text = _clean(raw)
            if not text or split not in _EDOS_SPLITS or sexist not in {"sexist", "not sexist"}:
                continue
            if sexist == "sexist":
                labels = {"hate": 1}
                if vector in _EDOS_VIOLENT:
                    labels["violence"] = 1
            else:
                labels = {"hate": 0}  # not sexist: other abuse is not annotated
            out.append(_item(spec, sid, text, _EDOS_SPLITS[split], labels))
    return _drop_contradictions(out)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("edos", "edos", ("en",), "CC0-1.0", True, ("hate",), _load_edos,
          ("data/edos_labelled_aggregated.csv",), cap=_CAP),
)  # fmt: skip

NOTES: dict[str, str] = {
    "edos": (
        "SemEval-2023 EDOS (Gab, Reddit): sexist -> hate=1 (gender-based), and violence=1 for vectors 1.1 "
        "threats of harm and 1.2 incitement and encouragement of harm (violence unknown for the other "
        "sexist vectors); not sexist -> hate=0 only. Official train/dev/test -> train/calib/test; capped "
        "at 6,000 items."
    ),
}
