"""Labelled data written by the Warden team, shipped inside the package (`warden/data/`).

Unlike the public sets (read from the data root, see `datasets`), these live at
`Path(warden.__file__).parent / "data"` (`PACKAGE_DATA_DIR`) and are registered in
`datasets.DATASETS` as builtin specs: a directory that does not exist yet, or holds no
files, loads as [] and is never reported as missing.

* `warden-seeds`: every `seeds/*.jsonl`; `hash_split` 70/15/15 on the near-duplicate key.
* `warden-contrast`: `contrast/train/*.jsonl` -> train/calib by hash 80/20;
  `contrast/test/*.jsonl` -> "test", a fixed suite (`load_contrast_suite`) that is never used
  for training or calibration.

JSONL schema, one object per line (blank lines are ignored)::

    {"id": str,            unique within the file
     "text": str,          non-empty
     "language": str,      ISO 639-1 ("en", "zh", ...)
     "violates": [cat...], policy categories; [] = benign
     "known": "all" | [cat...],   default "all": every category not in violates is 0; a list:
                                  only those are known, the others unknown; violates must be a subset
     "phenomenon": str,    optional ("negation", "counter_speech", "figurative_violence", ...)
     "note": str}          optional, free text

Anything else (invalid JSON, unknown fields or categories, duplicate ids, a bad language code,
a missing text) raises `ProjectDataError` naming the file and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from .datasets.base import CATEGORIES, DatasetSpec, LabeledText, _clean, _item, _split_for
from .splits import near_duplicate_key

# = Path(warden.__file__).parent / "data"
PACKAGE_DATA_DIR = Path(__file__).resolve().parent.parent / "data"

_ISO_639_1 = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de "
    "dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id "
    "ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu "
    "lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu "
    "rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr "
    "ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"
)
ISO_639_1: frozenset[str] = frozenset(_ISO_639_1.split())
_FIELDS = {"id", "text", "language", "violates", "known", "phenomenon", "note"}
_REQUIRED = ("id", "text", "language", "violates")
TRAIN_CALIB_TEST = (0.70, 0.15, 0.15)
CONTRAST_TRAIN_CALIB = (0.80, 0.20, 0.0)
LICENCE = "Apache-2.0 (written by the Warden team)"


class ProjectDataError(ValidationError):
    """A project-written JSONL file breaks the schema; the message names the file and line."""


def package_data_dir() -> Path:
    """Where the project-written data live (read at call time, so tests can point it elsewhere)."""
    return PACKAGE_DATA_DIR


def _categories(value: Any, field: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise ProjectDataError(f"{where}: '{field}' must be a list of category names, got {value!r}")
    unknown = [c for c in value if c not in CATEGORIES]
    if unknown:
        raise ProjectDataError(f"{where}: unknown categor{'y' if len(unknown) == 1 else 'ies'} {unknown} in "
                               f"'{field}' (known: {', '.join(CATEGORIES)})")  # fmt: skip
    if len(set(value)) != len(value):
        raise ProjectDataError(f"{where}: '{field}' lists a category twice: {value}")
    return value


def parse_record(obj: Any, where: str) -> tuple[str, str, str, dict[str, int], str | None]:
    """(id, text, language, labels, phenomenon) of one JSONL object; `where` is "file:line"."""
    if not isinstance(obj, dict):
        raise ProjectDataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    extra = sorted(set(obj) - _FIELDS)
    if extra:
        raise ProjectDataError(f"{where}: unknown field(s) {extra} (allowed: {', '.join(sorted(_FIELDS))})")
    missing = [f for f in _REQUIRED if f not in obj]
    if missing:
        raise ProjectDataError(f"{where}: missing field(s) {missing}")
    sid, text, language = obj["id"], obj["text"], obj["language"]
    if not isinstance(sid, str) or not sid.strip():
        raise ProjectDataError(f"{where}: 'id' must be a non-empty string, got {sid!r}")
    if not isinstance(text, str) or not _clean(text):
        raise ProjectDataError(f"{where}: missing text ('text' must be a non-empty string)")
    if not isinstance(language, str) or language not in ISO_639_1:
        raise ProjectDataError(f"{where}: bad language {language!r} (an ISO 639-1 code such as 'en' or 'zh')")
    violates = _categories(obj["violates"], "violates", where)
    known_raw = obj.get("known", "all")
    if known_raw == "all":
        known = list(CATEGORIES)
    else:
        if isinstance(known_raw, str):
            raise ProjectDataError(
                f"{where}: 'known' must be \"all\" or a list of categories, got {known_raw!r}"
            )
        known = _categories(known_raw, "known", where)
        if not known:
            raise ProjectDataError(f"{where}: 'known' is empty (nothing would be learned from the item)")
    outside = [c for c in violates if c not in known]
    if outside:
        raise ProjectDataError(f"{where}: 'violates' {outside} not in 'known' {known}")
    for opt in ("phenomenon", "note"):
        if opt in obj and (not isinstance(obj[opt], str) or not obj[opt].strip()):
            raise ProjectDataError(f"{where}: '{opt}' must be a non-empty string when given")
    labels = {c: int(c in violates) for c in known}
    phenomenon = obj["phenomenon"].strip() if "phenomenon" in obj else None
    return sid, _clean(text), language, labels, phenomenon


def jsonl_objects(path: Path) -> Iterator[tuple[str, Any]]:
    """("file:line", decoded object) for each non-blank line; invalid JSON raises ProjectDataError."""
    with open(path, encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ProjectDataError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None


def read_jsonl(
    spec: DatasetSpec,
    path: Path,
    prefix: str = "",
    split: str | None = None,
    fractions: Sequence[float] = TRAIN_CALIB_TEST,
) -> list[LabeledText]:
    """Validated items of one file: all in `split`, or (None) hash-split by `fractions`."""
    out = []
    seen: dict[str, str] = {}  # id -> line number
    for where, obj in jsonl_objects(path):
        sid, text, language, labels, phenomenon = parse_record(obj, where)
        if sid in seen:
            raise ProjectDataError(f"{where}: duplicate id {sid!r} (first on line {seen[sid]})")
        seen[sid] = where.rsplit(":", 1)[1]
        item_split = split or _split_for(text, fractions)
        out.append(_item(spec, f"{prefix}{path.stem}:{sid}", text, item_split, labels,
                         language=language, phenomenon=phenomenon))  # fmt: skip
    return out


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def _load_seeds(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    return [it for path in _files(root) for it in read_jsonl(spec, path)]


def _contrast_test(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    return [it for path in _files(root / "test") for it in read_jsonl(spec, path, "test/", "test")]


def _load_contrast(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    train = [
        it
        for path in _files(root / "train")
        for it in read_jsonl(spec, path, "train/", fractions=CONTRAST_TRAIN_CALIB)
    ]
    return train + _contrast_test(spec, root)


_LANGS = tuple(sorted(ISO_639_1))

SPECS: tuple[DatasetSpec, ...] = (
    DatasetSpec("warden-seeds", "seeds", _LANGS, LICENCE, True, CATEGORIES, True, _load_seeds,
                family="warden-seeds", builtin=True, package_root=package_data_dir),
    DatasetSpec("warden-contrast", "contrast", _LANGS, LICENCE, True, CATEGORIES, True, _load_contrast,
                family="warden-contrast", builtin=True, package_root=package_data_dir),
)  # fmt: skip

MAPPING_NOTES: dict[str, str] = {
    "warden-seeds": (
        "Written by the Warden team (warden/data/seeds/*.jsonl): 'violates' -> 1; with known 'all' every "
        "other category is 0, with a known list only those categories are labelled. Hash 70/15/15."
    ),
    "warden-contrast": (
        "Contrast pairs written by the Warden team (negation, counter-speech, figurative violence, ...; "
        "`phenomenon` kept on each item): contrast/train -> train/calib 80/20 by hash; contrast/test -> "
        "test, a fixed suite never used for training or calibration. Labels as for warden-seeds."
    ),
}


def load_contrast_suite() -> list[LabeledText]:
    """The fixed contrast test suite (`contrast/test/*.jsonl`); [] while none is written."""
    spec = next(s for s in SPECS if s.name == "warden-contrast")
    return _contrast_test(spec, package_data_dir() / spec.path)


# ---------------------------------------------------------------------------------------
# the contrast suite's own rules, on top of the schema (warden/data/contrast/tools/validate.py)

# Phenomena whose items never violate, and those whose items always violate some category.
CONTRAST_NON_VIOLATING = (
    "negation", "counter_speech", "news_reporting", "figurative_violence", "profanity_untargeted",
    "reclaimed_terms", "identity_neutral", "harm_question", "criticism",
)  # fmt: skip
CONTRAST_VIOLATING = (
    "hate_direct", "hate_slur_targeted", "threat_direct", "harassment_targeted", "harm_request",
    "incitement",
)  # fmt: skip
CONTRAST_LANGUAGES = ("en", "es", "de", "fr", "pt", "it", "nl", "pl", "zh", "ar", "hi", "id")
CONTRAST_PARTS = ("train", "test")


def contrast_files(part: str, root: Path | None = None) -> list[Path]:
    """contrast/<part>/*.jsonl, one file per language."""
    return _files((root or package_data_dir() / "contrast") / part)


def _contrast_record_problems(obj: Any, where: str, part: str, lang: str) -> list[str]:
    """What breaks the suite's rules in one record that already passed `parse_record`."""
    problems = []
    missing = [f for f in ("known", "phenomenon") if f not in obj]
    if missing:
        problems.append(f"{where}: contrast items need {missing}")
    if not re.fullmatch(rf"{lang}-{part}-\d{{4}}", obj["id"]):
        problems.append(f"{where}: id {obj['id']!r} is not {lang}-{part}-NNNN")
    if obj["language"] != lang:
        problems.append(f"{where}: language {obj['language']!r} in {lang}.jsonl")
    known = obj.get("known", "all")
    if "sexual_minors" in obj["violates"] or (isinstance(known, list) and "sexual_minors" in known):
        problems.append(f"{where}: sexual_minors is never used in the contrast suite")
    phenomenon = obj.get("phenomenon")
    if phenomenon in CONTRAST_NON_VIOLATING:
        if obj["violates"]:
            problems.append(f"{where}: non-violating phenomenon {phenomenon} with violates {obj['violates']}")
        if phenomenon == "profanity_untargeted" and (known == "all" or "profanity" in known):
            problems.append(f"{where}: profanity_untargeted must not claim to know 'profanity'")
    elif phenomenon in CONTRAST_VIOLATING:
        if not obj["violates"]:
            problems.append(f"{where}: violating phenomenon {phenomenon} with no category")
    elif phenomenon is not None:
        problems.append(f"{where}: unknown phenomenon {phenomenon!r}")
    return problems


def check_contrast_suite(root: Path | None = None) -> tuple[int, list[str]]:
    """(items read, problems) of the whole suite: the schema of every record (`parse_record`),
    the suite's rules (id format, one language per file, phenomena consistent with the labels,
    no sexual_minors), no text twice in a file and no text in both train and test (near-duplicate
    key, the one the splits use)."""
    problems: list[str] = []
    first_seen: dict[str, dict[str, str]] = {part: {} for part in CONTRAST_PARTS}
    n_items = 0
    for part in CONTRAST_PARTS:
        for path in contrast_files(part, root):
            lang = path.stem
            if lang not in CONTRAST_LANGUAGES:
                known = ", ".join(CONTRAST_LANGUAGES)
                problems.append(f"{path}: unexpected language file name (known: {known})")
            ids: set[str] = set()
            in_file: set[str] = set()
            try:
                records = list(jsonl_objects(path))
            except ProjectDataError as exc:
                problems.append(str(exc))
                continue
            for where, obj in records:
                n_items += 1
                try:
                    sid, text, *_ = parse_record(obj, where)
                except ProjectDataError as exc:
                    problems.append(str(exc))
                    continue
                problems += _contrast_record_problems(obj, where, part, lang)
                if sid in ids:
                    problems.append(f"{where}: duplicate id {sid}")
                ids.add(sid)
                key = near_duplicate_key(text)
                if key in in_file:
                    problems.append(f"{where}: the same text twice in {path.name}")
                in_file.add(key)
                first_seen[part].setdefault(key, where)
    train, test = first_seen["train"], first_seen["test"]
    problems += [f"text in both parts: {train[k]} and {test[k]}" for k in sorted(train.keys() & test.keys())]
    return n_items, problems
