"""haspeede2018-it: loader, spec and label mapping."""

from __future__ import annotations

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


def _load_haspeede(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, src in (("haspeede_FB-train.tsv", "fb"), ("haspeede_TW-train.tsv", "tw")):
        for i, line in enumerate(_read_text(root / fname).splitlines()):
            parts = line.split("\t")  # id, text, label; no header, no quoting
            if len(parts) != 3 or parts[2].strip() not in {"0", "1"}:
                continue
            text = _clean(parts[1], unescape=True)
            if not text:
                continue
            # Line numbers, not ids: the Twitter file repeats two tweet ids.
            labels = {"hate": int(parts[2].strip() == "1")}
            out.append(_item(spec, f"{src}:{i}", text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return _drop_contradictions(out)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("haspeede2018-it", "haspeede2018-it", ("it",), "CC BY-NC-SA 4.0", False, ("hate",),
          _load_haspeede, ("haspeede_FB-train.tsv", "haspeede_TW-train.tsv"), cap=_CAP),
)  # fmt: skip

NOTES: dict[str, str] = {
    "haspeede2018-it": (
        "HaSpeeDe 2018 Facebook + Twitter training files: 1 hateful -> hate=1; 0 -> hate=0 only (FB "
        "non-hateful posts include political insults). Test files not present: hash 70/15/15 over both; "
        "capped at 6,000 (= all rows)."
    ),
}
