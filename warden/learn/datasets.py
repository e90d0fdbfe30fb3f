"""Labelled public data sets, mapped onto Warden's policy categories.

The data live outside the repository under the configured data root (setting
`data_dir`, env `WARDEN_DATA_DIR`, CLI `--data-dir`; default `../shared/data`). They are
read in place (zips included) and never copied into the project.

Label semantics of a `LabeledText`:

* `labels[c] == 1`: the source says the item violates category `c`;
* `labels[c] == 0`: the source says it does not;
* `c` absent: unknown, so training and evaluation must ignore the item for `c`.

Rules: a data set's mapped labels are authoritative for the categories it `covers`; an
item the source marks fully benign is 0 for every category (benign is benign); a
violating item is unknown outside `covers`. An item the source only marks "not X" (e.g.
TweetEval not-hate, ETHOS isHate < 0.5) is 0 for X and unknown elsewhere, because such
items still contain insults, profanity or threats.

Splits: official train/val/test files are used where they exist (val -> calib); sets
without an official split get `hash_split` on the near-duplicate key of the text (seed
20261122), so the same text lands in the same split everywhere. `load_datasets` then
runs `splits.apply_splits` (test decontamination, calib/train separation, train dedupe).

| data set                        | lang     | licence             | comm. | train | covers                  |
|---------------------------------|----------|---------------------|-------|-------|-------------------------|
| davidson-hate-offensive         | en       | MIT                 | yes   | yes   | hate, profanity         |
| tweeteval_hate                  | en       | Twitter terms       | no    | yes   | hate                    |
| tweeteval_offensive             | en       | Twitter terms       | no    | yes   | harassment              |
| hatexplain-test-val             | en       | MIT                 | yes   | yes   | hate, harassment        |
| ethos                           | en       | GPL-3.0             | no    | yes   | hate (+violence)        |
| toxigen-demonstrations          | en       | CDLA-Permissive-2.0 | yes   | yes   | hate                    |
| jigsaw-toxic-sample             | en       | CC0 / CC BY-SA 3.0  | yes   | yes   | profanity, violence,    |
|                                 |          |                     |       |       | harassment, hate        |
| fine-grained-hateful-memes-text | en       | research only       | no    | yes   | hate (+violence)        |
| germeval2018                    | de       | CC BY 4.0           | yes   | yes   | hate, harassment, prof. |
| mlma-hate-speech                | en fr ar | MIT                 | yes   | yes   | hate, harassment        |
| korean-hate-speech              | ko       | CC BY-SA 4.0        | no    | yes   | hate, harassment        |
| l-hsab-arabic                   | ar       | none declared       | no    | yes   | hate, harassment        |
| sms-spam-collection             | en       | CC BY 4.0           | yes   | yes   | spam_scam               |
| youtube-spam-collection         | en       | CC BY 4.0           | yes   | yes   | spam_scam               |
| deceptive-opinion-spam          | en       | CC BY-NC-SA 3.0     | no    | no    | spam_scam (eval only)   |

Mappings and splits ("hash" = `hash_split` of the text's near-duplicate key; the same
text is also in `MAPPING_NOTES` for the model card):

| data set                | source label -> categories                               | splits                |
|-------------------------|----------------------------------------------------------|-----------------------|
| davidson-hate-offensive | 0 hate_speech -> hate=1 (profanity unknown); 1           | hash 70/15/15         |
|                         | offensive_language -> profanity=1, hate=0; 2 neither ->  |                       |
|                         | all 0                                                    |                       |
| tweeteval_hate          | 1 -> hate=1; 0 -> hate=0 only                            | official; val ->      |
|                         |                                                          | calib                 |
| tweeteval_offensive     | OLID 1 -> harassment=1 (OLID 'offensive' is mostly       | official; val ->      |
|                         | targeted insults, also profanity); 0 -> all 0            | calib                 |
| hatexplain-test-val     | majority of 3: hatespeech -> hate=1; offensive ->        | val: hash 70/30       |
|                         | harassment=1, hate=0; normal -> all 0; no majority ->    | train/calib; test ->  |
|                         | skipped                                                  | test                  |
| ethos                   | isHate >= 0.5 -> hate=1, else hate=0 only; hateful items | hash 70/15/15         |
|                         | in the multi-label file: violence = (violence >= 0.5)    |                       |
| toxigen-demonstrations  | hate_* files -> hate=1; neutral_* -> all 0; identical    | hash 70/15/15         |
|                         | lines deduped                                            |                       |
| jigsaw-toxic-sample     | obscene -> profanity, threat -> violence, insult ->      | train: hash 70/30;    |
|                         | harassment, identity_hate -> hate; toxic/severe_toxic    | test (-1 rows         |
|                         | alone -> any_violation=1, categories unknown; all 0 ->   | skipped)              |
|                         | all 0                                                    |                       |
| fine-grained-hateful-   | hateful -> hate=1, violence = inciting_violence in       | train: hash 70/30;    |
| memes-text              | gold_attack; not_hateful -> hate=0 only; captions seen   | dev_seen + dev_unseen |
|                         | with both labels (the image decides) dropped; test.jsonl | -> test (dedupe by    |
|                         | unlabelled, ignored                                      | id)                   |
| germeval2018            | task2 ABUSE -> hate=1 (ABUSE = degrading a person as a   | training: hash 70/30; |
|                         | member of a group); INSULT -> harassment=1; PROFANITY -> | test -> test          |
|                         | profanity=1; OTHER -> all 0                              |                       |
| mlma-hate-speech        | '_'-joined sentiment: hateful -> hate=1;                 | hash 70/15/15         |
|                         | offensive/abusive/disrespectful -> harassment=1; exactly |                       |
|                         | normal -> all 0; fearful (+normal) only ->               |                       |
|                         | any_violation=1, categories unknown                      |                       |
| korean-hate-speech      | hate -> hate=1; offensive -> harassment=1; none -> all 0 | train: hash 70/30;    |
|                         |                                                          | dev -> test           |
| l-hsab-arabic           | hate -> hate=1; abusive -> harassment=1; normal -> all 0 | hash 70/15/15         |
| sms-spam-collection     | spam -> spam_scam=1; ham -> all 0                        | hash 70/15/15         |
| youtube-spam-collection | CLASS 1 -> spam_scam=1; 0 -> all 0                       | hash 70/15/15         |
| deceptive-opinion-spam  | deceptive -> spam_scam=1; truthful -> all 0              | all test              |

Text clean-up: HTML entities are unescaped for the Twitter/YouTube sets that carry them
(davidson, tweeteval, germeval, youtube) because live input arrives unescaped; GermEval
`|LBR|` becomes a newline; BOMs and surrounding whitespace are stripped; empty texts
are skipped.

Missing data: with explicit `names`, a missing data set raises `MissingDataError`. With
`names=None` the sets that are present are loaded, missing ones are logged (warning) and
listed in the stats under "missing"; a data root that does not exist at all always
raises.
"""

from __future__ import annotations

import ast
import csv
import html
import io
import json
import logging
import re
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MissingDataError
from .splits import SEED, apply_splits, hash_split, near_duplicate_key

log = logging.getLogger(__name__)

CATEGORIES: tuple[str, ...] = (
    "hate",
    "harassment",
    "sexual",
    "sexual_minors",
    "violence",
    "graphic_violence",
    "self_harm",
    "extremism",
    "spam_scam",
    "illicit_goods",
    "profanity",
)
BENIGN: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
TRAIN_CALIB = (0.70, 0.30, 0.0)
TRAIN_CALIB_TEST = (0.70, 0.15, 0.15)
_DATA_HINT = "set WARDEN_DATA_DIR (or data_dir in warden.toml, or --data-dir) to the data root"


@dataclass(frozen=True)
class LabeledText:
    id: str
    text: str
    language: str
    labels: dict[str, int]
    dataset: str
    split: str
    any_violation: int | None

    def known(self) -> list[str]:
        """Categories with a known (0 or 1) label, in policy order."""
        return [c for c in CATEGORIES if c in self.labels]

    def positives(self) -> list[str]:
        return [c for c in CATEGORIES if self.labels.get(c) == 1]

    @property
    def train_use(self) -> bool:
        """Whether the item's data set is used by default training (see `DatasetSpec.train_use`)."""
        spec = DATASETS.get(self.dataset)
        return spec.train_use if spec is not None else True


Loader = Callable[["DatasetSpec", Path], list[LabeledText]]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    path: str
    languages: tuple[str, ...]
    licence: str
    commercial_ok: bool
    covers: tuple[str, ...]
    train_use: bool
    loader: Loader = field(repr=False)
    files: tuple[str, ...] = ()

    def load(self, data_dir: Path) -> list[LabeledText]:
        root = Path(data_dir) / self.path
        if not root.is_dir():
            raise MissingDataError(
                f"data set '{self.name}' not found: {root} is missing ({_DATA_HINT}; "
                f"see the data README for where to get it)"
            )
        for f in self.files:
            if not (root / f).is_file():
                raise MissingDataError(f"data set '{self.name}' is incomplete: {root / f} is missing")
        return self.loader(self, root)


# ---------------------------------------------------------------------------------------
# helpers


def _clean(text: str, unescape: bool = False) -> str:
    if unescape:
        text = html.unescape(text)
    return text.replace("\ufeff", "").strip()


def _split_for(text: str, fractions: Sequence[float]) -> str:
    # Keyed on the near-duplicate key so copies of a text share one split.
    return hash_split(near_duplicate_key(text), SEED, fractions)


def _item(
    spec: DatasetSpec,
    sid: str,
    text: str,
    split: str,
    labels: dict[str, int],
    any_violation: int | None = None,
    language: str | None = None,
) -> LabeledText:
    if any(v == 1 for v in labels.values()):
        any_violation = 1
    elif labels and len(labels) == len(CATEGORIES):
        any_violation = 0
    return LabeledText(
        id=f"{spec.name}:{sid}",
        text=text,
        language=language or spec.languages[0],
        labels=dict(labels),
        dataset=spec.name,
        split=split,
        any_violation=any_violation,
    )


def _covered(spec: DatasetSpec, positives: Iterable[str]) -> dict[str, int]:
    """Authoritative labels over `covers`: the positives are 1, the rest of covers 0."""
    pos = set(positives)
    return {c: int(c in pos) for c in spec.covers}


def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _decode(data: bytes) -> str:
    # Some UCI files are cp1252/Latin-1, not UTF-8.
    for enc in ("utf-8", "cp1252"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


# ---------------------------------------------------------------------------------------
# loaders


def _load_davidson(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "labeled_data.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = _clean(row["tweet"], unescape=True)
            if not text:
                continue
            cls = row["class"]
            if cls == "0":
                labels = {"hate": 1}  # hateful tweets: whether they are also profane is not annotated
            elif cls == "1":
                labels = {"profanity": 1, "hate": 0}
            else:
                labels = dict(BENIGN)
            out.append(_item(spec, row[""], text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return out


def _tweeteval(task: str) -> Loader:
    def load(spec: DatasetSpec, root: Path) -> list[LabeledText]:
        out = []
        for src, split in (("train", "train"), ("val", "calib"), ("test", "test")):
            texts = _read_text(root / f"{task}_{src}_text.txt").split("\n")
            labels = _read_text(root / f"{task}_{src}_labels.txt").split()
            texts = texts[: len(labels)]  # trailing newline
            if len(texts) != len(labels):
                raise MissingDataError(f"{root}/{task}_{src}: {len(texts)} texts but {len(labels)} labels")
            for i, (raw, lab) in enumerate(zip(texts, labels, strict=True)):
                text = _clean(raw, unescape=True)
                if not text:
                    continue
                if task == "hate":
                    # not-hate tweets can still be offensive: only hate is known.
                    lab_map = {"hate": int(lab == "1")}
                else:
                    lab_map = {"harassment": 1} if lab == "1" else dict(BENIGN)
                out.append(_item(spec, f"{src}:{i}", text, split, lab_map))
        return out

    return load


def _load_hatexplain(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, official in (("hatexplain_val.csv", "val"), ("hatexplain_test.csv", "test")):
        with open(root / fname, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                votes = Counter(ast.literal_eval(row["annotators"])["label"])
                label, n = votes.most_common(1)[0]
                if n < 2:
                    continue  # three different labels: no majority
                text = _clean(row.get("unmasked_sentence") or "")
                if not text:
                    text = _clean(" ".join(ast.literal_eval(row["post_tokens"])))
                if not text:
                    continue
                if label == 0:
                    labels = _covered(spec, ["hate"])
                elif label == 2:
                    labels = _covered(spec, ["harassment"])
                else:
                    labels = dict(BENIGN)
                split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
                out.append(_item(spec, row["id"], text, split, labels))
    return out


def _ethos_norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _load_ethos(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    violence: dict[str, int] = {}
    with open(root / "Ethos_Dataset_Multi_Label.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            # Joined on normalised text: 23 comments differ from the binary file only in spacing.
            violence[_ethos_norm(row["comment"])] = int(float(row["violence"]) >= 0.5)
    out = []
    with open(root / "Ethos_Dataset_Binary.csv", encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh, delimiter=";")):
            text = _clean(row["comment"])
            if not text:
                continue
            labels: dict[str, int] = {"hate": int(float(row["isHate"]) >= 0.5)}
            if labels["hate"] and _ethos_norm(text) in violence:
                labels["violence"] = violence[_ethos_norm(text)]
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return out


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


_JIGSAW_MAP = {"obscene": "profanity", "threat": "violence", "insult": "harassment", "identity_hate": "hate"}


def _load_jigsaw(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, official in (("train_sample.csv", "train"), ("test_sample.csv", "test")):
        with open(root / fname, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                flags = ["toxic", "severe_toxic", *_JIGSAW_MAP]
                if any(row[f] == "-1" for f in flags):
                    continue  # not scored in the Kaggle test set
                text = _clean(row["comment_text"])
                if not text:
                    continue
                positives = [cat for col, cat in _JIGSAW_MAP.items() if row[col] == "1"]
                if positives:
                    labels, anyv = _covered(spec, positives), 1
                elif row["toxic"] == "1" or row["severe_toxic"] == "1":
                    labels, anyv = {}, 1  # toxic, but the kind of toxicity is not annotated
                else:
                    labels, anyv = dict(BENIGN), 0
                split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
                out.append(_item(spec, row["id"], text, split, labels, any_violation=anyv))
    return out


def _load_memes(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    rows: list[tuple[dict[str, Any], str]] = []
    seen_ids: set[tuple[str, Any]] = set()
    for fname, official in (("train.json", "train"), ("dev_seen.json", "test"), ("dev_unseen.json", "test")):
        for line in _read_text(root / fname).splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            # dev_unseen repeats most of dev_seen.
            if (official, rec["id"]) in seen_ids:
                continue
            seen_ids.add((official, rec["id"]))
            rows.append((rec, official))
    # Hateful Memes has "benign confounders": one caption, two images, opposite labels.
    # The image decides, so a caption seen with both labels has no text-only label.
    verdicts: dict[str, set[str]] = defaultdict(set)
    for rec, _ in rows:
        verdicts[near_duplicate_key(rec["text"])].add(rec["gold_hate"][0])
    out = []
    for rec, official in rows:
        text = _clean(rec["text"])
        if not text or len(verdicts[near_duplicate_key(rec["text"])]) > 1:
            continue
        if rec["gold_hate"][0] == "hateful":
            labels = {"hate": 1, "violence": int("inciting_violence" in rec["gold_attack"])}
        else:
            labels = {"hate": 0}  # not hateful, but may still be vulgar or insulting
        split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
        out.append(_item(spec, str(rec["id"]), text, split, labels))
    return out


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


_MLMA_FILES = (("en", "en_dataset_with_stop_words.csv"), ("fr", "fr_dataset.csv"), ("ar", "ar_dataset.csv"))


def _load_mlma(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with zipfile.ZipFile(root / "hate_speech_mlma.zip") as zf:
        names = {Path(n).name: n for n in zf.namelist()}
        for lang, fname in _MLMA_FILES:
            if fname not in names:
                raise MissingDataError(f"{root / 'hate_speech_mlma.zip'} has no {fname}")
            reader = csv.DictReader(io.StringIO(_decode(zf.read(names[fname]))))
            for row in reader:
                text = _clean(row["tweet"])
                if not text:
                    continue
                tags = set(row["sentiment"].split("_"))
                positives = []
                if "hateful" in tags:
                    positives.append("hate")
                if tags & {"offensive", "abusive", "disrespectful"}:
                    positives.append("harassment")
                if positives:
                    labels: dict[str, int] = _covered(spec, positives)
                    anyv: int | None = 1
                elif tags == {"normal"}:
                    labels, anyv = dict(BENIGN), 0
                else:
                    labels, anyv = {}, 1  # 'fearful' (maybe with 'normal'): hostile, kind unknown
                split = _split_for(text, TRAIN_CALIB_TEST)
                out.append(_item(spec, f"{lang}:{row['HITId']}", text, split, labels, anyv, lang))
    return out


def _load_korean(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, official in (("train.tsv", "train"), ("dev.tsv", "test")):
        with open(root / fname, encoding="utf-8", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)):
                text = _clean(row["comments"])
                if not text:
                    continue
                hate = row["hate"].strip()
                if hate == "hate":
                    labels = _covered(spec, ["hate"])
                elif hate == "offensive":
                    labels = _covered(spec, ["harassment"])
                else:
                    labels = dict(BENIGN)
                split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
                out.append(_item(spec, f"{Path(fname).stem}:{i}", text, split, labels))
    return out


def _load_lhsab(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "L-HSAB.tsv", encoding="utf-8", newline="") as fh:
        # csv, not line splitting: a few quoted tweets span several lines.
        for i, row in enumerate(csv.DictReader(fh, delimiter="\t")):
            text = _clean(row["Tweet"] or "")
            cls = (row["Class"] or "").strip()
            if not text or cls not in {"hate", "abusive", "normal"}:
                continue
            if cls == "hate":
                labels = _covered(spec, ["hate"])
            elif cls == "abusive":
                labels = _covered(spec, ["harassment"])
            else:
                labels = dict(BENIGN)
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return out


def _load_sms(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with zipfile.ZipFile(root / "smsspamcollection.zip") as zf:
        member = next((n for n in zf.namelist() if n.endswith("/SMSSpamCollection")), None)
        if member is None:
            raise MissingDataError(f"{root / 'smsspamcollection.zip'} has no SMSSpamCollection")
        for i, line in enumerate(_decode(zf.read(member)).splitlines()):
            label, _, raw = line.partition("\t")
            text = _clean(raw)
            if not text or label not in {"ham", "spam"}:
                continue
            labels = _covered(spec, ["spam_scam"]) if label == "spam" else dict(BENIGN)
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return out


def _load_youtube(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    seen: set[str] = set()
    with zipfile.ZipFile(root / "YouTube-Spam-Collection-v1.zip") as zf:
        members = sorted(
            n for n in zf.namelist() if n.endswith(".csv") and "__MACOSX" not in n and "/._" not in n
        )
        for member in members:
            # Psy and Eminem files have only CONTENT,CLASS (Psy with a BOM); the others add ids.
            data = _decode(zf.read(member)).lstrip("\ufeff")
            for i, row in enumerate(csv.DictReader(io.StringIO(data, newline=""))):
                text = _clean(row.get("CONTENT") or "", unescape=True)
                cls = (row.get("CLASS") or "").strip()
                if not text or cls not in {"0", "1"}:
                    continue
                labels = _covered(spec, ["spam_scam"]) if cls == "1" else dict(BENIGN)
                sid = row.get("COMMENT_ID") or f"{Path(member).stem}:{i}"
                if sid in seen:
                    continue  # one comment is listed twice upstream
                seen.add(sid)
                out.append(_item(spec, sid, text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return out


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


# ---------------------------------------------------------------------------------------
# registry


def _spec(
    name: str,
    path: str,
    languages: tuple[str, ...],
    licence: str,
    commercial_ok: bool,
    covers: tuple[str, ...],
    loader: Loader,
    files: tuple[str, ...],
    train_use: bool = True,
) -> DatasetSpec:
    return DatasetSpec(name, path, languages, licence, commercial_ok, covers, train_use, loader, files)


_TE_FILES = tuple(f"{{t}}_{s}_{k}.txt" for s in ("train", "val", "test") for k in ("text", "labels"))

DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        _spec("davidson-hate-offensive", "davidson-hate-offensive", ("en",), "MIT", True,
              ("hate", "profanity"), _load_davidson, ("labeled_data.csv",)),
        _spec("tweeteval_hate", "tweeteval-hate-offensive", ("en",), "Twitter terms (HatEval)", False,
              ("hate",), _tweeteval("hate"), tuple(f.format(t="hate") for f in _TE_FILES)),
        _spec("tweeteval_offensive", "tweeteval-hate-offensive", ("en",), "Twitter terms (OLID)", False,
              ("harassment",), _tweeteval("offensive"), tuple(f.format(t="offensive") for f in _TE_FILES)),
        _spec("hatexplain-test-val", "hatexplain-test-val", ("en",), "MIT", True,
              ("hate", "harassment"), _load_hatexplain, ("hatexplain_val.csv", "hatexplain_test.csv")),
        _spec("ethos", "ethos", ("en",), "GPL-3.0", False, ("hate",), _load_ethos,
              ("Ethos_Dataset_Binary.csv", "Ethos_Dataset_Multi_Label.csv")),
        _spec("toxigen-demonstrations", "toxigen-demonstrations", ("en",), "CDLA-Permissive-2.0", True,
              ("hate",), _load_toxigen, ()),
        _spec("jigsaw-toxic-sample", "jigsaw-toxic-sample", ("en",), "CC0 / CC BY-SA 3.0", True,
              ("profanity", "violence", "harassment", "hate"), _load_jigsaw,
              ("train_sample.csv", "test_sample.csv")),
        _spec("fine-grained-hateful-memes-text", "fine-grained-hateful-memes-text", ("en",),
              "research only (Hateful Memes)", False, ("hate",), _load_memes,
              ("train.json", "dev_seen.json", "dev_unseen.json")),
        _spec("germeval2018", "germeval2018", ("de",), "CC BY 4.0", True,
              ("hate", "harassment", "profanity"), _load_germeval,
              ("germeval2018.training.txt", "germeval2018.test.txt")),
        _spec("mlma-hate-speech", "mlma-hate-speech", ("en", "fr", "ar"), "MIT", True,
              ("hate", "harassment"), _load_mlma, ("hate_speech_mlma.zip",)),
        _spec("korean-hate-speech", "korean-hate-speech", ("ko",), "CC BY-SA 4.0", False,
              ("hate", "harassment"), _load_korean, ("train.tsv", "dev.tsv")),
        _spec("l-hsab-arabic", "l-hsab-arabic", ("ar",), "none declared", False,
              ("hate", "harassment"), _load_lhsab, ("L-HSAB.tsv",)),
        _spec("sms-spam-collection", "sms-spam-collection", ("en",), "CC BY 4.0", True,
              ("spam_scam",), _load_sms, ("smsspamcollection.zip",)),
        _spec("youtube-spam-collection", "youtube-spam-collection", ("en",), "CC BY 4.0", True,
              ("spam_scam",), _load_youtube, ("YouTube-Spam-Collection-v1.zip",)),
        _spec("deceptive-opinion-spam", "deceptive-opinion-spam", ("en",), "CC BY-NC-SA 3.0", False,
              ("spam_scam",), _load_deceptive, ("deceptive-opinion.csv",), train_use=False),
    )
}  # fmt: skip

MAPPING_NOTES: dict[str, str] = {
    "davidson-hate-offensive": (
        "class 0 hate_speech -> hate=1 (profanity unknown); class 1 offensive_language -> profanity=1, "
        "hate=0; class 2 neither -> all categories 0. No official split: hash 70/15/15."
    ),
    "tweeteval_hate": (
        "TweetEval hate (SemEval-2019 HatEval, English): 1 -> hate=1, 0 -> hate=0 only (not-hate tweets "
        "can still be offensive). Official train/val/test -> train/calib/test."
    ),
    "tweeteval_offensive": (
        "TweetEval offensive (OffensEval-2019 / OLID): 1 -> harassment=1, 0 -> all categories 0. OLID "
        "'offensive' is mostly targeted insults but also includes untargeted profanity, so harassment "
        "positives are noisy. Official train/val/test -> train/calib/test."
    ),
    "hatexplain-test-val": (
        "Majority of the 3 annotator labels: hatespeech -> hate=1; offensive -> harassment=1, hate=0; "
        "normal -> all 0; no majority -> skipped. Text = unmasked_sentence (this third-party copy "
        "replaces <user> with random first names and <number> with digits) else the joined post_tokens. "
        "Official val -> train/calib 70/30 by hash; official test -> test."
    ),
    "ethos": (
        "Binary file: isHate >= 0.5 -> hate=1, otherwise hate=0 only (non-hate comments include "
        "profanity and threats). Hateful comments found in the multi-label file (joined on "
        "whitespace-normalised text) also get violence = (violence >= 0.5). Hash 70/15/15."
    ),
    "toxigen-demonstrations": (
        "Human-written ToxiGen seed sentences: hate_* files -> hate=1, neutral_* files -> all 0; "
        "identical sentences kept once. Hash 70/15/15."
    ),
    "jigsaw-toxic-sample": (
        "obscene -> profanity, threat -> violence, insult -> harassment, identity_hate -> hate (the other "
        "three of these four are 0 when one is set); toxic/severe_toxic with no other flag -> "
        "any_violation=1 with categories unknown; all 0 -> all categories 0. train_sample -> train/calib "
        "70/30 by hash; test_sample -> test, rows with -1 (not scored) skipped."
    ),
    "fine-grained-hateful-memes-text": (
        "Meme captions only (no images): gold_hate hateful -> hate=1 with violence = inciting_violence in "
        "gold_attack; not_hateful -> hate=0 only. Captions that occur with both labels (benign "
        "confounders: the image decides) are dropped. Caption-only labels remain noisy because many "
        "hateful memes need the image. train.json -> train/calib 70/30 by hash; dev_seen + dev_unseen -> "
        "test (deduped by id); test.jsonl has no labels and is ignored."
    ),
    "germeval2018": (
        "Task 2: ABUSE -> hate=1 (GermEval ABUSE = degrading a person as a member of a group, the closest "
        "match to hate); INSULT -> harassment=1; PROFANITY -> profanity=1; OTHER -> all 0. |LBR| -> "
        "newline. training -> train/calib 70/30 by hash; test -> test."
    ),
    "mlma-hate-speech": (
        "sentiment is a '_'-joined multi-label: contains hateful -> hate=1; contains offensive, abusive or "
        "disrespectful -> harassment=1; exactly 'normal' -> all 0; only fearful (possibly with normal) -> "
        "any_violation=1, categories unknown. English from en_dataset_with_stop_words.csv, plus fr and ar; "
        "language per file. Hash 70/15/15."
    ),
    "korean-hate-speech": (
        "hate -> hate=1; offensive -> harassment=1; none -> all 0. train.tsv -> train/calib 70/30 by hash; "
        "dev.tsv -> test (upstream test labels are withheld). CC BY-SA: not for commercial bundling."
    ),
    "l-hsab-arabic": (
        "hate -> hate=1; abusive -> harassment=1; normal -> all 0. Hash 70/15/15. No licence declared: "
        "research/evaluation use only."
    ),
    "sms-spam-collection": "spam -> spam_scam=1; ham -> all 0. Hash 70/15/15.",
    "youtube-spam-collection": (
        "CLASS 1 -> spam_scam=1; 0 -> all 0 (five music-video comment files, cp1252 where not UTF-8). "
        "Hash 70/15/15."
    ),
    "deceptive-opinion-spam": (
        "deceptive (fake) hotel review -> spam_scam=1; truthful -> all 0. Evaluation only (train_use "
        "False, CC BY-NC-SA): every row is test."
    ),
}


# ---------------------------------------------------------------------------------------
# public API


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
            if spec.name in selected or not (Path(data_dir) / spec.path).is_dir():
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
