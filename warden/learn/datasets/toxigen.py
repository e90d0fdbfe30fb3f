"""toxigen-demonstrations: loader, spec and label mapping."""

from __future__ import annotations

from pathlib import Path

from ...errors import MissingDataError
from .base import (
    BENIGN,
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    _clean,
    _covered,
    _item,
    _read_text,
    _spec,
    _split_for,
)


def _load_toxigen(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    seen: set[str] = set()
    paths = sorted(root.glob("*__*.txt"))
    if not paths:
        raise MissingDataError(f"data set '{spec.name}' is incomplete: no <group>__<label>_*.txt in {root}")
    for path in paths:
        kind = path.stem.split("__", 1)[1]
        if not kind.startswith(("hate_", "neutral_")):
            continue
        for i, raw in enumerate(_read_text(path).splitlines()):
            text = _clean(raw)
            # Upstream repeats sentences across files (two neutral_muslim files are identical).
            if not text or text in seen:
                continue
            seen.add(text)
            labels = _covered(spec, ["hate"]) if kind.startswith("hate_") else dict(BENIGN)
            out.append(_item(spec, f"{path.stem}:{i}", text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("toxigen-demonstrations", "toxigen-demonstrations", ("en",), "CDLA-Permissive-2.0", True,
          ("hate",), _load_toxigen, ()),
)  # fmt: skip

NOTES: dict[str, str] = {
    "toxigen-demonstrations": (
        "Human-written ToxiGen seed sentences: hate_* files -> hate=1, neutral_* files -> all 0; "
        "identical sentences kept once. Hash 70/15/15."
    ),
}
