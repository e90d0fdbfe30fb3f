"""germeval2018: loader, spec and label mapping."""

from __future__ import annotations

from pathlib import Path

from .base import (
    BENIGN,
    TRAIN_CALIB,
    DatasetSpec,
    LabeledText,
    _clean,
    _covered,
    _item,
    _read_text,
    _spec,
    _split_for,
)

_GERMEVAL_MAP = {"ABUSE": "hate", "INSULT": "harassment", "PROFANITY": "profanity"}


def _load_germeval(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, official in (("germeval2018.training.txt", "train"), ("germeval2018.test.txt", "test")):
        for i, line in enumerate(_read_text(root / fname).splitlines()):
            parts = line.split("\t")
            if len(parts) != 3:
                continue
            text = _clean(parts[0].replace("|LBR|", "\n"), unescape=True)
            if not text:
                continue
            fine = parts[2].strip()
            labels = _covered(spec, [_GERMEVAL_MAP[fine]]) if fine in _GERMEVAL_MAP else dict(BENIGN)
            split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
            out.append(_item(spec, f"{official}:{i}", text, split, labels))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("germeval2018", "germeval2018", ("de",), "CC BY 4.0", True,
          ("hate", "harassment", "profanity"), _load_germeval,
          ("germeval2018.training.txt", "germeval2018.test.txt")),
)  # fmt: skip

NOTES: dict[str, str] = {
    "germeval2018": (
        "Task 2: ABUSE -> hate=1 (GermEval ABUSE = degrading a person as a member of a group, the closest "
        "match to hate); INSULT -> harassment=1; PROFANITY -> profanity=1; OTHER -> all 0. |LBR| -> "
        "newline. training -> train/calib 70/30 by hash; test -> test."
    ),
}
