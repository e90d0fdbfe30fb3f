"""The registry of data sets (one module each, in this order) and loading them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...errors import MissingDataError
from ..splits import apply_splits, near_duplicate_key
from . import (  # noqa: I001  (registry order: the order data sets load in)
    cold,
    davidson,
    deceptive,
    edos,
    ethos,
    fortuna,
    germeval,
    germeval2026,
    haspeede,
    hatebr,
    hateval_es,
    hatexplain,
    hh_harmless,
    id_hate,
    jigsaw,
    jigsaw_templates,
    korean,
    lhsab,
    memes,
    mitre_frr,
    mlma,
    sdcnl,
    sms,
    stormfront,
    surge,
    threatgram,
    toldbr,
    toxicn,
    toxigen,
    tweeteval,
    youtube,
)
from .base import (
    _DATA_HINT,
    REGISTERED,
    DatasetSpec,
    LabeledText,
    log,
)

_MODULES = (
    davidson,
    tweeteval,
    hatexplain,
    ethos,
    toxigen,
    jigsaw,
    memes,
    germeval,
    mlma,
    korean,
    lhsab,
    sms,
    youtube,
    deceptive,
    threatgram,
    germeval2026,
    edos,
    stormfront,
    sdcnl,
    jigsaw_templates,
    surge,
    toldbr,
    hatebr,
    fortuna,
    id_hate,
    cold,
    toxicn,
    haspeede,
    hateval_es,
    mitre_frr,
    hh_harmless,
)
DATASETS: dict[str, DatasetSpec] = REGISTERED  # the same dict the items read
DATASETS.update((s.name, s) for m in _MODULES for s in m.SPECS)
MAPPING_NOTES: dict[str, str] = {k: v for m in _MODULES for k, v in m.NOTES.items()}


def families(names: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Family -> its data sets (registry order), for leave-one-family-out evaluation."""
    wanted = set(DATASETS) if names is None else set(names)
    out: dict[str, list[str]] = {}
    for spec in DATASETS.values():
        if spec.name in wanted:
            out.setdefault(spec.family, []).append(spec.name)
    return out


def _resolve(names: list[str] | None, commercial_only: bool) -> list[DatasetSpec]:
    if names is None:
        specs = list(DATASETS.values())
    else:
        unknown = [n for n in names if n not in DATASETS]
        if unknown:
            raise ValueError(f"unknown data set(s) {unknown}; known: {sorted(DATASETS)}")
        specs = [DATASETS[n] for n in dict.fromkeys(names)]
    if commercial_only:
        specs = [s for s in specs if s.commercial_ok]
    return specs


def load_raw(
    data_dir: Path, names: list[str] | None = None, commercial_only: bool = False
) -> tuple[list[LabeledText], list[str]]:
    """Items as the loaders produce them (splits assigned, no decontamination or dedupe).

    Returns (items, names of data sets skipped because they are missing; only when names is None).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise MissingDataError(f"data root {data_dir} does not exist ({_DATA_HINT})")
    items: list[LabeledText] = []
    missing: list[str] = []
    for spec in _resolve(names, commercial_only):
        try:
            items.extend(spec.load(data_dir))
        except MissingDataError as exc:
            if names is not None:
                raise
            log.warning("skipping data set: %s", exc)
            missing.append(spec.name)
    return items, missing


def load_datasets_with_stats(
    data_dir: Path,
    names: list[str] | None = None,
    commercial_only: bool = False,
    decontaminate_all: bool = True,
) -> tuple[list[LabeledText], dict[str, Any]]:
    """Like `load_datasets`, also returning the split stats (dropped counts, missing sets).

    With `decontaminate_all` the test items of every present registered data set, selected
    or not, are kept out of train/calib: a model trained on a subset must stay clean for
    evaluation on the rest.
    """
    items, missing = load_raw(data_dir, names, commercial_only)
    extra: set[str] = set()
    if decontaminate_all:
        selected = {it.dataset for it in items} | set(missing)
        for spec in DATASETS.values():
            if spec.name in selected or not spec.present(data_dir):
                continue
            try:
                extra.update(near_duplicate_key(it.text) for it in spec.load(data_dir) if it.split == "test")
            except MissingDataError as exc:
                log.warning("cannot decontaminate against %s: %s", spec.name, exc)
    kept, stats = apply_splits(items, extra)
    stats["missing"] = missing
    stats["extra_test_keys"] = len(extra)
    return kept, stats


def load_datasets(
    data_dir: Path, names: list[str] | None = None, commercial_only: bool = False
) -> list[LabeledText]:
    """Load and split the named data sets (all registered ones when `names` is None).

    Missing data: see the module docstring (explicit names raise `MissingDataError`;
    with `names=None` missing sets are skipped with a logged warning).
    """
    return load_datasets_with_stats(data_dir, names, commercial_only)[0]


def data_manifest(
    data_dir: Path, names: Iterable[str], max_files_listed: int = 200
) -> dict[str, dict[str, Any]]:
    """What a model was trained on, checkably: per data set its licence, `commercial_ok` and the
    sha256 of every file under its folder (and one digest over them), so that a registry version
    can say whether today's data are the data it saw."""
    import hashlib

    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(names)):
        spec = DATASETS.get(name)
        if spec is None:  # e.g. review labels merged into training: no folder to hash
            out[name] = {"n_files": 0, "files": {}, "sha256": None}
            continue
        root = spec.location(data_dir)
        files: dict[str, str] = {}
        for path in sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []:
            with path.open("rb") as fh:
                files[path.relative_to(root).as_posix()] = hashlib.file_digest(fh, "sha256").hexdigest()
        total = hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in files.items()).encode()).hexdigest()
        out[name] = {
            "path": spec.path,
            "builtin": spec.builtin,
            "licence": spec.licence,
            "commercial_ok": spec.commercial_ok,
            "n_files": len(files),
            # A set of thousands of small files (one per post) is recorded by its digest alone.
            "files": files if len(files) <= max_files_listed else {},
            "sha256": total,
        }
    return out


def eval_record(item: LabeledText) -> dict[str, Any] | None:
    """The eval-JSONL object for `item`, or None when nothing about it is known."""
    if not item.labels and item.any_violation is None:
        return None
    positives = item.positives()
    labels = positives or (["any"] if item.any_violation == 1 else [])
    return {
        "id": item.id,
        "text": item.text,
        "language": item.language,
        "labels": labels,
        "known": item.known(),
        "dataset": item.dataset,
        "split": item.split,
    }


def to_eval_jsonl(items: Iterable[LabeledText], path: Path) -> int:
    """Write the eval format (one JSON object per line); returns the number written.

    `labels` lists the categories that are 1, or ["any"] for a violation of unknown kind;
    `known` lists the categories whose label is known (1 or 0), so a scorer ignores the rest.
    """
    n = 0
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for item in items:
            rec = eval_record(item)
            if rec is None:
                continue
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_eval_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# Project-written sets (warden/data/, see `project_data`), registered last: that module imports
# this one, so the import has to come after everything it uses is defined.
from ..project_data import MAPPING_NOTES as _PROJECT_NOTES  # noqa: E402
from ..project_data import SPECS as _PROJECT_SPECS  # noqa: E402

DATASETS.update((s.name, s) for s in _PROJECT_SPECS)
MAPPING_NOTES.update(_PROJECT_NOTES)
