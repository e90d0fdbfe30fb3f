"""purplellama-cyberseceval-prompts: loader, spec and label mapping."""

from __future__ import annotations

import json
from pathlib import Path

from .base import (
    BENIGN,
    CATEGORIES,
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    _clean,
    _item,
    _read_text,
    _spec,
    _split_for,
)


def _load_mitre_frr(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for i, rec in enumerate(json.loads(_read_text(root / "mitre_frr.json"))):
        text = _clean(rec.get("mutated_prompt") or "")
        if not text or rec.get("is_malicious") is not False:
            continue
        # Borderline-sounding but benign security coding prompts (false-refusal test set).
        out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), dict(BENIGN)))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("purplellama-cyberseceval-prompts", "purplellama-cyberseceval-prompts", ("en",), "MIT", True,
          CATEGORIES, _load_mitre_frr, ("mitre_frr.json",)),
)  # fmt: skip

NOTES: dict[str, str] = {
    "purplellama-cyberseceval-prompts": (
        "CyberSecEval mitre_frr.json only: 750 borderline-sounding but benign security coding prompts "
        "(is_malicious False) -> all categories 0 (over-refusal negatives). The prompt-injection files "
        "are not a policy category and are not read. Hash 70/15/15."
    ),
}
