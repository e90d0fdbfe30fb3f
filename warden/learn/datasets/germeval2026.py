"""germeval2026-harmful: loader, spec and label mapping."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

from .base import (
    _CAP,
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

# (task, file, label column)
_GE26_FILES = (
    ("vio", "GermEval2026/data/vio/vio_train_26.csv", "vio"),
    ("dbo", "GermEval2026/data/dbo/dbo_train_26.csv", "dbo"),
    ("def", "GermEval2026/data/def/def_train.csv", "DEF"),
    ("c2a", "GermEval2026/data/c2a/c2a_train_26.csv", "c2a"),
)


_GE26_VIOLENT = {"call2violence", "prospensity", "propensity", "support", "glorification"}


def _ge26_labels(task: str, value: str) -> dict[str, int]:
    value = value.strip()
    if task == "vio":
        if value in _GE26_VIOLENT:
            return {"violence": 1}
        # 'other' = "other worrying, violence-related statements": too vague, violence unknown.
        return {"violence": 0} if value == "nothing" else {}
    if task == "dbo":
        if value in {"subversive", "agitation"}:
            return {"extremism": 1}
        # criticism = legitimate criticism of the government: a hard negative.
        return {"extremism": 0} if value in {"criticism", "nothing"} else {}
    if task == "def":
        return {"harassment": int(value.upper() == "TRUE")} if value.upper() in {"TRUE", "FALSE"} else {}
    return {}  # c2a: calls to action, criminal or peaceful: no policy category on its own


def _load_germeval2026(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    # One tweet appears in up to four task files under one id: merge the labels. A few short ids
    # are reused for different tweets across files, so the key is (id, whitespace-folded text).
    merged: dict[tuple[str, str], tuple[str, dict[str, int]]] = {}
    for task, rel, column in _GE26_FILES:
        with open(root / rel, encoding="utf-8", newline="") as fh:
            for sid, raw, value in _columns(
                csv.reader(fh, delimiter=";"), ("id", "description", column), rel
            ):
                text = _clean(raw.replace("\r\n", "\n"), unescape=True)
                if not text:
                    continue
                key = (sid.strip(), re.sub(r"\s+", " ", text))
                if key not in merged:
                    merged[key] = (text, {})
                merged[key][1].update(_ge26_labels(task, value))
    out = []
    variants: Counter[str] = Counter()
    for (sid, _), (text, labels) in merged.items():
        variants[sid] += 1
        if not labels:
            continue  # only c2a, or vio 'other': nothing known
        uid = sid if variants[sid] == 1 else f"{sid}~{variants[sid]}"
        out.append(_item(spec, uid, text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return _drop_contradictions(out)


_GE26 = tuple(rel for _, rel, _ in _GE26_FILES)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("germeval2026-harmful", "germeval2026-harmful", ("de",), "GPL-3.0", False,
          ("violence", "extremism", "harassment"), _load_germeval2026, _GE26, cap=3 * _CAP),
)  # fmt: skip

NOTES: dict[str, str] = {
    "germeval2026-harmful": (
        "German posts from a right-wing extremist milieu, four task files merged by (id, text): vio "
        "call2violence/propensity/support/glorification -> violence=1, nothing -> violence=0, other "
        "(vague 'worrying' statements) -> violence unknown; dbo subversive/agitation -> extremism=1, "
        "criticism (legitimate criticism of the government: hard negative) and nothing -> extremism=0; "
        "def (defamation, StGB 185-187) TRUE -> harassment=1, FALSE -> harassment=0; c2a (calls to "
        "action, criminal or peaceful) maps to no category, so peaceful calls count only through their "
        "vio/dbo labels. Each tweet carries only the labels of the tasks it was annotated for; tweets "
        "only in c2a are skipped. Training files only (test labels withheld): hash 70/15/15; capped at "
        "18,000 items (three times the other sets: violence and extremism positives are rare). GPL-3.0 "
        "on data: research use, not commercial_ok."
    ),
}
