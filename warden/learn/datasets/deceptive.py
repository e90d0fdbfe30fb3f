"""deceptive-opinion-spam: loader, spec and label mapping."""

from __future__ import annotations

import csv
from pathlib import Path

from .base import (
    BENIGN,
    DatasetSpec,
    LabeledText,
    _clean,
    _covered,
    _item,
    _spec,
)


def _load_deceptive(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "deceptive-opinion.csv", encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            text = _clean(row["text"])
            if not text:
                continue
            labels = _covered(spec, ["spam_scam"]) if row["deceptive"] == "deceptive" else dict(BENIGN)
            out.append(_item(spec, str(i), text, "test", labels))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("deceptive-opinion-spam", "deceptive-opinion-spam", ("en",), "CC BY-NC-SA 3.0", False,
          ("spam_scam",), _load_deceptive, ("deceptive-opinion.csv",), train_use=False),
)  # fmt: skip

NOTES: dict[str, str] = {
    "deceptive-opinion-spam": (
        "deceptive (fake) hotel review -> spam_scam=1; truthful -> all 0. Evaluation only (train_use "
        "False, CC BY-NC-SA): every row is test."
    ),
}
