"""told-br: loader, spec and label mapping."""

from __future__ import annotations

import csv
from collections.abc import Sequence
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

_TOLD_HATE = ("homophobia", "racism", "misogyny", "xenophobia")


def _told_vote(votes: Sequence[float]) -> int | None:
    """Majority of the 3 annotators (>= 2) -> 1; nobody -> 0; a single vote -> unknown."""
    top = max(votes)
    return 1 if top >= 2 else 0 if top == 0 else None


def _load_toldbr(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    cols = ("text", "obscene", "insult", *_TOLD_HATE)
    with open(root / "ToLD-BR.csv", encoding="utf-8", newline="") as fh:
        for i, (raw, *counts) in enumerate(_columns(csv.reader(fh), cols, "ToLD-BR.csv")):
            text = _clean(raw, unescape=True)
            if not text:
                continue
            votes = [float(c or 0) for c in counts]
            if not any(votes):
                labels = dict(BENIGN)  # no annotator flagged anything: non-toxic
            else:
                found = {
                    "profanity": _told_vote(votes[:1]),
                    "harassment": _told_vote(votes[1:2]),
                    "hate": _told_vote(votes[2:]),
                }
                labels = {c: v for c, v in found.items() if v is not None}
                if not labels:
                    continue
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return _drop_contradictions(out)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("told-br", "told-br", ("pt",), "CC BY-SA 4.0", False, ("hate", "harassment", "profanity"),
          _load_toldbr, ("ToLD-BR.csv",), cap=_CAP),
)  # fmt: skip

NOTES: dict[str, str] = {
    "told-br": (
        "Votes of 3 annotators per type: obscene -> profanity, insult -> harassment, homophobia / racism / "
        "misogyny / xenophobia -> hate; per category >= 2 votes -> 1, 0 votes -> 0, a single vote -> "
        "unknown. All six columns 0 -> all categories 0. Hash 70/15/15; capped at 6,000 items. CC BY-SA "
        "4.0: not commercial_ok (share-alike rule as for korean-hate-speech)."
    ),
}
