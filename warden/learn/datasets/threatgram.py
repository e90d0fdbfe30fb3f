"""threatgram101: loader, spec and label mapping."""

from __future__ import annotations

import json
from pathlib import Path

from .base import (
    _CAP,
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    _clean,
    _drop_contradictions,
    _item,
    _read_text,
    _spec,
    _split_for,
)


def _load_threatgram(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for i, rec in enumerate(json.loads(_read_text(root / "Labeled_15076.json"))):
        # Only `reply` and `Label` are read (not the channel or the date).
        text = _clean(rec["reply"] or "")
        level = rec["Label"]
        if not text or level not in (0, 1, 2):
            continue
        # 2 violent / extra-legal harm; 1 legal punishment (arrest, impeach): a hard negative;
        # 0 no threat (insults and slurs are not annotated, so only violence is known).
        labels = {"violence": int(level == 2)}
        out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return _drop_contradictions(out)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("threatgram101", "threatgram101", ("en",), "CC BY 4.0 (stated by the copying repo)", True,
          ("violence",), _load_threatgram, ("Labeled_15076.json",), cap=_CAP),
)  # fmt: skip

NOTES: dict[str, str] = {
    "threatgram101": (
        "Telegram replies to US political channels, threat level (meaning inferred by the data curator from "
        "samples; not documented upstream): 2 violent / extra-legal harm (execute, hang) -> violence=1; "
        "1 calls for legal punishment (arrest, impeach) -> violence=0 (hard negative); 0 no threat -> "
        "violence=0. Other categories unknown (level-0 replies still contain insults and slurs). Texts "
        "with contradicting levels dropped. Hash 70/15/15; capped at 6,000 items. Licence CC BY 4.0 as "
        "stated second-hand by the copying repo: verify the upstream card before a commercial release."
    ),
}
