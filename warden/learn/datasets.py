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
| threatgram101                   | en       | CC BY 4.0, 2nd-hand | yes   | yes   | violence                |
| germeval2026-harmful            | de       | GPL-3.0             | no    | yes   | violence, extremism,    |
|                                 |          |                     |       |       | harassment (partial)    |
| edos                            | en       | CC0-1.0             | yes   | yes   | hate (+violence)        |
| stormfront-hate                 | en       | CC BY-SA 3.0 ES     | no    | yes   | hate                    |
| sdcnl                           | en       | none declared       | no    | yes   | self_harm               |
| jigsaw-bias-templates-{en,de,   | en de nl | Apache-2.0          | yes   | yes   | hate; nontoxic -> all 0 |
|   nl,hi,zh} (one per language)  | hi zh    |                     |       |       |                         |
| surge-toxicity                  | en       | MIT                 | yes   | yes   | hate, harassment,       |
|                                 |          |                     |       |       | violence (negatives)    |
| told-br                         | pt       | CC BY-SA 4.0        | no    | yes   | hate, harassment, prof. |
| hatebr-pt                       | pt       | CC BY-NC 4.0        | no    | yes   | any; non-offensive -> 0 |
| pt-hate-fortuna                 | pt       | none declared       | no    | yes   | hate                    |
| id-multilabel-hate              | id       | CC BY-NC-SA 4.0     | no    | yes   | hate, harassment, prof. |
| cold-zh                         | zh       | Apache-2.0          | yes   | yes   | hate, harassment        |
| toxicn-zh                       | zh       | CC BY-NC-ND 4.0     | no    | yes   | hate                    |
| haspeede2018-it                 | it       | CC BY-NC-SA 4.0     | no    | yes   | hate                    |
| hateval2019-es                  | es       | CC BY-NC 4.0        | no    | yes   | hate (+harassment)      |
| purplellama-cyberseceval-prompts| en       | MIT                 | yes   | yes   | all 0 (benign prompts)  |
| hh-rlhf-harmless-test           | en       | MIT                 | yes   | yes   | all 0 (refusals)        |
| warden-seeds (package data)     | any      | Apache-2.0 (Warden) | yes   | yes   | as written              |
| warden-contrast (package data)  | any      | Apache-2.0 (Warden) | yes   | yes   | as written              |

Share-alike (CC BY-SA) sets are not `commercial_ok`, as for korean-hate-speech: a model
trained on them may be argued to be an adaptation that has to carry the licence. The
jigsaw-toxic-sample exception is its CC0 Kaggle origin.

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
| threatgram101           | level 2 violent -> violence=1; 1 legal punishment        | hash 70/15/15;        |
|                         | (arrest, impeach) and 0 none -> violence=0 only          | cap 6,000             |
| germeval2026-harmful    | merged by (id, text): vio call2violence/propensity/      | hash 70/15/15;        |
|                         | support/glorification -> violence=1, nothing -> 0,       | cap 18,000 (rare      |
|                         |                                                          | violence/extremism    |
|                         |                                                          | positives)            |
|                         | other -> unknown; dbo subversive/agitation ->            |                       |
|                         | extremism=1, criticism/nothing -> 0; def TRUE/FALSE ->   |                       |
|                         | harassment 1/0; c2a unmapped; only annotated tasks known |                       |
| edos                    | sexist -> hate=1 (+violence=1 for vectors 1.1 threats,   | official; dev ->      |
|                         | 1.2 incitement); not sexist -> hate=0 only               | calib; cap 6,000      |
| stormfront-hate         | hate -> hate=1; noHate -> hate=0 only; relation,         | sampled_test -> test; |
|                         | idk/skip skipped                                         | rest hash 70/30;      |
|                         |                                                          | cap 6,000             |
| sdcnl                   | r/SuicideWatch -> self_harm=1; r/depression ->           | training: hash 70/30; |
|                         | self_harm=0 only (author, url never read)                | testing -> test       |
| jigsaw-bias-templates-* | nontoxic -> all 0; toxic "I hate X" / "Being X is bad"   | hash 70/15/15;        |
|                         | -> hate=1 (any only when X is an age group); toxic       | cap 3,000 per         |
|                         | insults of a person -> any, kind unknown; toxic verb     | language              |
|                         | fragments skipped                                        |                       |
| surge-toxicity          | Toxic -> any, kind unknown; Not Toxic -> hate,           | hash 70/15/15         |
|                         | harassment, violence = 0 (profanity unknown)             |                       |
| told-br                 | per type >= 2 of 3 votes -> 1, 0 votes -> 0, 1 vote ->   | hash 70/15/15;        |
|                         | unknown: obscene -> profanity, insult -> harassment,     | cap 6,000             |
|                         | homophobia/racism/misogyny/xenophobia -> hate; all 0 ->  |                       |
|                         | all 0                                                    |                       |
| hatebr-pt               | offensive -> any, kind unknown; non-offensive -> all 0   | hash 70/15/15;        |
|                         |                                                          | cap 6,000             |
| pt-hate-fortuna         | hatespeech_comb 1 -> hate=1; 0 -> hate=0 only            | hash 70/15/15         |
| id-multilabel-hate      | HS=0 & Abusive=0 -> all 0; else Abusive -> profanity     | hash 70/15/15;        |
|                         | 1/0, HS=0 -> hate=0, HS with religion/race/gender ->     | cap 6,000             |
|                         | hate=1, HS at an individual + abusive -> harassment=1    |                       |
| cold-zh                 | safe (incl. anti-bias) -> all 0; test fine-grained       | official; dev ->      |
|                         | attack group -> hate=1, attack individual ->             | calib; cap 6,000      |
|                         | harassment=1; train/dev offensive -> any, kind unknown   |                       |
| toxicn-zh               | non-toxic -> all 0; hate explicit/implicit -> hate=1;    | hash 70/15/15;        |
|                         | general offence -> any, hate=0; 'reporting' skipped      | cap 6,000             |
| haspeede2018-it         | 1 -> hate=1; 0 -> hate=0 only (FB + TW train files)      | hash 70/15/15         |
| hateval2019-es          | HS=1 -> hate=1 (+harassment=1 if TR=1); HS=0 -> hate=0   | train: hash 70/30;    |
|                         | only                                                     | dev -> test           |
| purplellama-cyberseceval| mitre_frr (is_malicious False) -> all 0; prompt          | hash 70/15/15         |
| -prompts                | injection files not read                                 |                       |
| hh-rlhf-harmless-test   | final Assistant turn of 'chosen' matching `HH_REFUSAL`,  | hash 70/15/15         |
|                         | <= 600 chars, no `HH_EXCLUDE` word -> all 0; nothing     |                       |
|                         | else (never the Human turns)                             |                       |
| warden-seeds            | JSONL `violates` -> 1; `known` "all" -> the rest 0, a    | hash 70/15/15         |
|                         | list -> only those known (see `project_data`)            |                       |
| warden-contrast         | as warden-seeds, with `phenomenon`                       | train/ -> hash 80/20  |
|                         |                                                          | train/calib; test/ -> |
|                         |                                                          | test (fixed suite)    |

Caps (`DatasetSpec.cap`): training embeds every text with a slow encoder, so no second-round
set contributes more than 6,000 items (jigsaw templates: 3,000 per language). The subsample
keeps the items first in sha256(SEED:item id) order and their splits. Within a second-round
set, copies of a text (near-duplicate key) labelled 1 and 0 for the same category are dropped.

Families (`DatasetSpec.family`, `families()`): sets from the same source or task share one, so
leave-one-family-out never trains on a sibling of the held-out set: tweeteval_hate,
tweeteval_offensive and hateval2019-es are one family (TweetEval bundles HatEval with OLID;
hateval2019-es is the Spanish half of HatEval), the five jigsaw-bias-templates specs are
another; every other set is its own family.

Personal data: columns with user names, URLs, authors or annotator ids are never read; the
CSV loaders select the columns they use by name (`_columns`).

Text clean-up: HTML entities are unescaped for the Twitter/YouTube sets that carry them
(davidson, tweeteval, germeval, youtube) because live input arrives unescaped; GermEval
`|LBR|` becomes a newline; BOMs and surrounding whitespace are stripped; empty texts
are skipped.
Second round: HTML entities are unescaped for the tweet sets (germeval2026, told-br, fortuna,
id-multilabel, haspeede, hateval-es); GermEval 2026 CRLF becomes LF; the Indonesian set's
Latin-1 bytes and bytes-repr escapes are repaired (`_id_text`); runs of spaces in template
phrases collapse.

Missing data: with explicit `names`, a missing data set raises `MissingDataError`. With
`names=None` the sets that are present are loaded, missing ones are logged (warning) and
listed in the stats under "missing"; a data root that does not exist at all always
raises. The project-written sets (`builtin`, read from `warden/data/`, see `project_data`)
are never missing: an absent or empty directory loads as [].
"""

from __future__ import annotations

import ast
import csv
import gzip
import hashlib
import html
import io
import json
import logging
import re
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
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
    # Project-written data only: the linguistic phenomenon the item tests ("negation",
    # "counter_speech", ...), so quality reports can group by it.
    phenomenon: str | None = None

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
    # Sets drawn from the same source or task share a family (leave-one-family-out
    # evaluation holds them out together); empty means the spec's own name.
    family: str = ""
    # At most this many items: a deterministic subsample ordered by sha256(SEED:item id),
    # splits kept as the loader assigned them (see `cap_items`).
    cap: int | None = None
    # Written by the project inside the package (`project_data.PACKAGE_DATA_DIR / path`), not
    # under the data root; a missing or empty directory loads as [] and is never "missing".
    builtin: bool = False

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.name)

    def location(self, data_dir: Path) -> Path:
        """The directory the loader reads."""
        if self.builtin:
            from .project_data import package_data_dir

            return package_data_dir() / self.path
        return Path(data_dir) / self.path

    def present(self, data_dir: Path) -> bool:
        return self.location(data_dir).is_dir()

    def load(self, data_dir: Path) -> list[LabeledText]:
        root = self.location(data_dir)
        if self.builtin:
            return cap_items(self.loader(self, root), self.cap)
        if not root.is_dir():
            raise MissingDataError(
                f"data set '{self.name}' not found: {root} is missing ({_DATA_HINT}; "
                f"see the data README for where to get it)"
            )
        for f in self.files:
            if not (root / f).is_file():
                raise MissingDataError(f"data set '{self.name}' is incomplete: {root / f} is missing")
        return cap_items(self.loader(self, root), self.cap)


def sample_key(item: LabeledText) -> bytes:
    """The order every deterministic sample of the project uses: sha256(SEED:item id)."""
    return hashlib.sha256(f"{SEED}:{item.id}".encode()).digest()


def cap_items(items: list[LabeledText], cap: int | None) -> list[LabeledText]:
    """At most `cap` of `items`: those first in sha256(SEED:id) order, returned in their original order.

    Deterministic and independent of file order; each item keeps its split, so the split shares
    are preserved in expectation.
    """
    if cap is None or len(items) <= cap:
        return items
    order = sorted(range(len(items)), key=lambda i: sample_key(items[i]))
    keep = set(order[:cap])
    return [it for i, it in enumerate(items) if i in keep]


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
    phenomenon: str | None = None,
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
        phenomenon=phenomenon,
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


def _columns(rows: Iterable[list[str]], names: Sequence[str], where: str) -> Iterator[tuple[str, ...]]:
    """Only the named columns of csv rows (header row first); no other column is kept or looked at.

    Sets with personal data in other columns (user names, URLs, authors) are read through this.
    """
    it = iter(rows)
    header = [h.replace("\ufeff", "").strip() for h in next(it, [])]
    missing = [n for n in names if n not in header]
    if missing:
        raise MissingDataError(f"{where}: no column(s) {missing} (header {header})")
    idx = [header.index(n) for n in names]
    last = max(idx)
    for row in it:
        if len(row) > last:
            yield tuple(row[i] for i in idx)


def _drop_contradictions(items: list[LabeledText]) -> list[LabeledText]:
    """Drop every copy of a text (near-duplicate key) that the set labels both 1 and 0 for a category."""
    seen: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for it in items:
        votes = seen[near_duplicate_key(it.text)]
        for c, v in it.labels.items():
            votes[c].add(v)
        if it.any_violation is not None:
            votes["any"].add(it.any_violation)
    bad = {k for k, votes in seen.items() if any(len(v) > 1 for v in votes.values())}
    return [it for it in items if near_duplicate_key(it.text) not in bad]


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


# --- second round ------------------------------------------------------------------------


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


_EDOS_SPLITS = {"train": "train", "dev": "calib", "test": "test"}
_EDOS_VIOLENT = ("1.1 threats of harm", "1.2 incitement and encouragement of harm")


def _load_edos(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "data" / "edos_labelled_aggregated.csv", encoding="utf-8", newline="") as fh:
        cols = ("rewire_id", "text", "label_sexist", "label_vector", "split")
        for sid, raw, sexist, vector, split in _columns(csv.reader(fh), cols, "edos_labelled_aggregated.csv"):
            text = _clean(raw)
            if not text or split not in _EDOS_SPLITS or sexist not in {"sexist", "not sexist"}:
                continue
            if sexist == "sexist":
                labels = {"hate": 1}
                if vector in _EDOS_VIOLENT:
                    labels["violence"] = 1
            else:
                labels = {"hate": 0}  # not sexist: other abuse is not annotated
            out.append(_item(spec, sid, text, _EDOS_SPLITS[split], labels))
    return _drop_contradictions(out)


def _load_stormfront(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    test_ids = {p.stem for p in (root / "sampled_test").glob("*.txt")}
    out = []
    with open(root / "annotations_metadata.csv", encoding="utf-8", newline="") as fh:
        # file_id and label only (not user_id / subforum_id).
        for file_id, label in _columns(csv.reader(fh), ("file_id", "label"), "annotations_metadata.csv"):
            if label not in {"hate", "noHate"}:
                continue  # 'relation' (hateful only with its neighbours) and 'idk/skip'
            path = root / "all_files" / f"{file_id}.txt"
            if not path.is_file():
                raise MissingDataError(f"data set '{spec.name}' is incomplete: {path} is missing")
            text = _clean(_read_text(path))
            if not text:
                continue
            split = "test" if file_id in test_ids else _split_for(text, TRAIN_CALIB)
            out.append(_item(spec, file_id, text, split, {"hate": int(label == "hate")}))
    return _drop_contradictions(out)


def _load_sdcnl(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, official in (("training-set.csv", "train"), ("testing-set.csv", "test")):
        with open(root / "data" / fname, encoding="utf-8", newline="") as fh:
            # title, selftext and is_suicide only: the author and url columns are never read.
            rows = _columns(csv.reader(fh), ("title", "selftext", "is_suicide"), fname)
            for i, (title, body, label) in enumerate(rows):
                text = _clean(f"{title.strip()}\n\n{body.strip()}")
                if not text or label not in {"0", "1"}:
                    continue
                split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
                out.append(_item(spec, f"{official}:{i}", text, split, {"self_harm": int(label == "1")}))
    return _drop_contradictions(out)


# Identity-attack templates ("I hate X", "Being X is <bad>"): toxic -> hate=1, unless X is an age
# group (age is not a protected characteristic in the default policy): then any_violation only.
_JB_ATTACK = {
    "am_hate_adj",
    "being_adj",
    "i_hate_identity_people",
    "being_identity_is_adjective",
    "hate_identity",
}
# Insults of a person ("<name> is a dumb X", "You are a vile X"): toxic, kind not annotated.
_JB_INSULT = {"name_adj", "you_are_adj", "you_occupation", "you_are_a_adjective_identity_person"}
_JB_AGE = {
    "en": r"\b(?:old|older|elderly|young|younger|teenage|millenial|middle aged)\b",
    "de": r"\b(?:alt|alter|älter|jung|junger|jünger|jugendlich|mittleren alters|millenial)\b",
    "nl": r"\b(?:baby|gepensioneerde|jong|jongere|junior|kind|kleuter|oud|oudere|peuter|puber|senior|tiener"
    r"|twintiger|van middelbare leeftijd|volwassen|gast)\b",
    "hi": r"\b(?:purana|purani|adhed|kishoravastha|jawan|chota)\b",
    "zh": r"中年人|中老年人|儿童|婴儿|小孩|少儿|少年|年轻人|幼儿|成人|成年人|老人|老年人|长者|青壮年"
    r"|青少年|青年",
}


def _jigsaw_templates(fname: str, lang: str) -> Loader:
    age = re.compile(_JB_AGE[lang], re.I)

    def load(spec: DatasetSpec, root: Path) -> list[LabeledText]:
        out = []
        with open(root / "sentence_templates" / fname, encoding="utf-8", newline="") as fh:
            for i, (template, tox, raw) in enumerate(
                _columns(csv.reader(fh), ("template", "toxicity", "phrase"), fname)
            ):
                text = _clean(re.sub(r" {2,}", " ", raw))
                if not text or tox not in {"toxic", "nontoxic"}:
                    continue
                anyv: int | None
                if tox == "nontoxic":
                    labels, anyv = dict(BENIGN), 0  # neutral/positive identity mention
                elif template in _JB_ATTACK and not age.search(text):
                    labels, anyv = {"hate": 1}, 1
                elif template in _JB_ATTACK or template in _JB_INSULT:
                    labels, anyv = {}, 1
                else:
                    continue  # toxic verb_* fragments ("kill X", "忽视 X"): no sentence, no category
                out.append(
                    _item(spec, f"{template}:{i}", text, _split_for(text, TRAIN_CALIB_TEST), labels, anyv)
                )
        return out

    return load


def _load_surge(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "toxicity_en.csv", encoding="utf-8", newline="") as fh:
        for i, (raw, tox) in enumerate(_columns(csv.reader(fh), ("text", "is_toxic"), "toxicity_en.csv")):
            text = _clean(raw)
            if not text or tox not in {"Toxic", "Not Toxic"}:
                continue
            if tox == "Toxic":
                labels, anyv = {}, 1  # "toxic" by the annotator's own judgement: kind not annotated
            else:
                # Not toxic, but often with harmless swearing: profanity (and categories toxicity does
                # not judge: sexual, spam, illicit goods, self-harm) stay unknown.
                labels, anyv = _covered(spec, []), None
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels, anyv))
    return _drop_contradictions(out)


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


def _load_hatebr(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "dataset__HateBR.csv", encoding="utf-8", newline="") as fh:
        # id, comment and final label only (not the post links or account names).
        rows = _columns(csv.reader(fh), ("id", "comentario", "label_final"), "dataset__HateBR.csv")
        for sid, raw, label in rows:
            text = _clean(raw)
            if not text or label not in {"0", "1"}:
                continue
            # Offensive (insults, profanity or hate, mostly aimed at politicians): kind not annotated.
            labels, anyv = ({}, 1) if label == "1" else (dict(BENIGN), 0)
            out.append(_item(spec, sid, text, _split_for(text, TRAIN_CALIB_TEST), labels, anyv))
    return _drop_contradictions(out)


def _load_fortuna(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    fname = "2019-05-28_portuguese_hate_speech_binary_classification.csv"
    with open(root / fname, encoding="utf-8", newline="") as fh:
        # text and the combined label only (not the annotator ids).
        for i, (raw, label) in enumerate(_columns(csv.reader(fh), ("text", "hatespeech_comb"), fname)):
            text = _clean(raw, unescape=True)
            if not text or label not in {"0", "1"}:
                continue
            out.append(
                _item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), {"hate": int(label == "1")})
            )
    return _drop_contradictions(out)


_ID_HEX = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")
_ID_UNI = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")
_ID_CUT = re.compile(r"\\(?:x[0-9a-fA-F]?|u[0-9a-fA-F]{0,3})?$")
_ID_ESC = {"\\n": "\n", "\\t": " ", "\\/": "/", "\\'": "'", '\\"': '"', "\\\\": "\\"}


def _id_text(raw: str) -> str:
    """Undo the Indonesian set's encoding damage: raw bytes read as Latin-1, bytes-repr escapes."""
    # Real UTF-8 where it is valid; the lost bytes of broken emoji become U+FFFD, then go.
    text = raw.encode("latin-1").decode("utf-8", errors="replace").replace("\ufffd", "").rstrip()
    if text.endswith("'") and not text.endswith("\\'"):
        text = text[:-1]  # closing quote of the bytes repr the tweets were stored as
    text = _ID_CUT.sub("", text)  # an escape cut off by the tweet's truncation
    text = _ID_HEX.sub(lambda m: bytes.fromhex(m.group(0).replace("\\x", "")).decode("utf-8", "ignore"), text)
    text = _ID_UNI.sub(
        lambda m: (
            m.group(0)
            .encode("ascii")
            .decode("unicode_escape")
            .encode("utf-16", "surrogatepass")
            .decode("utf-16", "ignore")
        ),
        text,
    )
    return re.sub(r"\\[nt/'\"\\]", lambda m: _ID_ESC[m.group(0)], text)


_ID_PROTECTED = ("HS_Religion", "HS_Race", "HS_Gender")


def _load_id_hate(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    cols = ("Tweet", "HS", "Abusive", "HS_Individual", *_ID_PROTECTED)
    # Not valid UTF-8 (raw emoji bytes): read as Latin-1 and repaired per text.
    with open(root / "re_dataset.csv", encoding="latin-1", newline="") as fh:
        for i, (raw, hs, abusive, individual, *protected) in enumerate(
            _columns(csv.reader(fh), cols, "re_dataset.csv")
        ):
            text = _clean(_id_text(raw), unescape=True)
            if not text:
                continue
            if hs == "0" and abusive == "0":
                labels = dict(BENIGN)
            else:
                labels = {"profanity": int(abusive == "1")}
                if hs == "0":
                    labels["hate"] = 0
                else:
                    if "1" in protected:
                        labels["hate"] = 1  # religion, race/ethnicity or gender
                    if individual == "1" and abusive == "1":
                        labels["harassment"] = 1  # abusive and aimed at a person
                    # Group hate over physical traits or 'other' (mostly political camps): hate unknown;
                    # non-abusive 'hate' at an individual ("X failed to run"): harassment unknown.
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return _drop_contradictions(out)


def _load_cold(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, split in (("COLDataset__train.csv", "train"), ("COLDataset__dev.csv", "calib"),
                         ("COLDataset__test.csv", "test")):  # fmt: skip
        with open(root / fname, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            # The index column restarts per topic, so ids are row numbers; the file, not the
            # 'split' column (dev.csv says 'train' on some rows), gives the split.
            cols = ("label", "TEXT") + (("fine-grained-label",) if split == "test" else ())
            for sid, (label, raw, *fine) in enumerate(_columns(reader, cols, fname)):
                text = _clean(raw)
                if not text or label not in {"0", "1"}:
                    continue
                anyv: int | None = None
                if label == "0":
                    labels = dict(BENIGN)  # safe, anti-bias counter-speech included (fine-grained 3)
                elif fine and fine[0] == "2":
                    labels = {"hate": 1}  # attack on a group (race, region, gender)
                elif fine and fine[0] == "1":
                    labels = {"harassment": 1}  # attack on an individual
                else:
                    labels, anyv = {}, 1  # train/dev: offensive, target not annotated
                out.append(_item(spec, f"{split}:{sid}", text, split, labels, anyv))
    return _drop_contradictions(out)


def _load_toxicn(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with open(root / "ToxiCN_1.0.csv", encoding="utf-8-sig", newline="") as fh:
        cols = ("content", "toxic", "toxic_type", "expression")
        for i, (raw, toxic, kind, expression) in enumerate(_columns(csv.reader(fh), cols, "ToxiCN_1.0.csv")):
            text = _clean(raw)
            if not text:
                continue
            anyv: int | None = None
            if toxic == "0":
                labels = dict(BENIGN)
            elif kind == "2" and expression in {"1", "2"}:
                labels = {"hate": 1}  # explicit or implicit hate
            elif kind == "1":
                labels, anyv = {"hate": 0}, 1  # general offence without a targeted group
            else:
                continue  # expression 3 'reporting': quotes or reports hate, labelled toxic: ambiguous
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels, anyv))
    return _drop_contradictions(out)


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


_HATEVAL_ES = (
    ("Data Files__Data Files__#2 Development-Spanish-A__train_es.tsv", "train"),
    ("Data Files__Data Files__#2 Development-Spanish-B__dev_es.tsv", "test"),
)


def _load_hateval_es(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, official in _HATEVAL_ES:
        lines = (line.split("\t") for line in _read_text(root / fname).splitlines())
        for sid, raw, hs, target, _aggressive in _columns(lines, ("id", "text", "HS", "TR", "AG"), fname):
            text = _clean(raw, unescape=True)
            if not text or hs not in {"0", "1"}:
                continue
            labels = {"hate": int(hs == "1")}
            if hs == "1" and target == "1":
                labels["harassment"] = 1  # hateful and aimed at an individual
            split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
            out.append(_item(spec, sid, text, split, labels))
    return _drop_contradictions(out)


def _load_mitre_frr(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for i, rec in enumerate(json.loads(_read_text(root / "mitre_frr.json"))):
        text = _clean(rec.get("mutated_prompt") or "")
        if not text or rec.get("is_malicious") is not False:
            continue
        # Borderline-sounding but benign security coding prompts (false-refusal test set).
        out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), dict(BENIGN)))
    return out


# hh-rlhf: the final Assistant turn of the 'chosen' transcript, only when it refuses, redirects to
# help, or says it did not understand, and carries none of the words below. Everything else
# (Human red-team turns, earlier turns, 'rejected', chosen replies that comply) is left out:
# 'chosen' only means "less harmful than the other reply", not harmless.
_Q = "['’]"
HH_REFUSAL = re.compile(
    rf"\bI(?:{_Q}m| am) (?:sorry|afraid)\b[^.!?]{{0,60}}\b(?:can{_Q}?t|cannot|won{_Q}t|will not|unable"
    r"|not (?:able|going|comfortable|willing|programmed))"
    rf"|\bI (?:can{_Q}?t|cannot|won{_Q}t|will not"
    rf"|(?:do not|don{_Q}t) (?:want|feel comfortable|think I (?:can|should))"
    rf"|(?:am|{_Q}m) not (?:going|able|comfortable|willing|programmed))"
    r" (?:to )?(?:help|assist|do (?:that|this)|provide|give|tell|answer|support|recommend|encourage|share"
    r"|participate|engage|say|write|advise|condone)"
    rf"|\bI(?:{_Q}d| would) (?:not|never|rather not) (?:recommend|advise|suggest|encourage|help|do)"
    rf"|\bI (?:do not|don{_Q}t) think (?:that|this|it)(?:{_Q}s| is| would be)"
    r" (?:a good idea|appropriate|okay|ok|legal|safe|right|ethical)"
    rf"|\b(?:that|this|it)(?:{_Q}s| is| would be| sounds| seems) (?:really |very |quite )?"
    r"(?:illegal|dangerous|harmful|unethical|cruel|abusive|inappropriate"
    r"|not (?:ok|okay|appropriate|a good idea|legal|safe|ethical|right|nice|kind))"
    r"|\b(?:talk|speak|reach out) to (?:a |an |your )?(?:doctor|therapist|counsel+or|professional|trusted"
    r"|parent|teacher|police|lawyer|someone you trust)"
    r"|\b(?:suicide|crisis) (?:prevention )?(?:hot ?line|line|lifeline)|\bcall 911\b"
    rf"|^(?:I{_Q}m )?sorry,? (?:but )?I (?:do not|don{_Q}t) (?:understand|follow)\b",
    re.I,
)
HH_EXCLUDE = re.compile(
    r"\b(?:fuck\w*|shit\w*|bitch\w*|cunt\w*|dick\w*|cock\w*|pussy|whore\w*|slut\w*|nigg\w*|fag\w*|retard\w*"
    r"|kike\w*|spic\w*|chink\w*|bastard\w*|asshole\w*|damn\w*|porn\w*|penis|vagina|sex\w*|naked|nude\w*"
    r"|kill\w*|murder\w*|rape\w*|bomb\w*|gun\w*|drug\w*|weapon\w*|poison\w*|steal\w*|bull(?:y|ies|ying)"
    r"|fight\w*|punch\w*|beat\w*|hurt\w*|attack\w*|(?:probably|that[’']s|it[’']s) fine|go ahead)\b|Human:",
    re.I,
)
_HH_MAX_CHARS = 600
_HH_TURN = re.compile(r"\n\n(Human|Assistant): ")


def hh_benign_reply(transcript: str) -> str | None:
    """The final Assistant turn of an hh-rlhf transcript when the documented benign rule accepts it."""
    parts = _HH_TURN.split("\n\n" + transcript.lstrip("\n"))
    turns = list(zip(parts[1::2], parts[2::2], strict=False))
    if not turns or turns[-1][0] != "Assistant":
        return None
    reply = turns[-1][1].strip()
    if not reply or len(reply) > _HH_MAX_CHARS or HH_EXCLUDE.search(reply) or not HH_REFUSAL.search(reply):
        return None
    return reply


def _load_hh_harmless(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with gzip.open(root / "harmless-base_test.jsonl.gz", "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            reply = hh_benign_reply(json.loads(line)["chosen"])
            if reply is None:
                continue
            out.append(_item(spec, str(i), reply, _split_for(reply, TRAIN_CALIB_TEST), dict(BENIGN)))
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
    *,
    family: str = "",
    cap: int | None = None,
    builtin: bool = False,
) -> DatasetSpec:
    return DatasetSpec(
        name, path, languages, licence, commercial_ok, covers, train_use, loader, files, family, cap, builtin
    )


_TE_FILES = tuple(f"{{t}}_{s}_{k}.txt" for s in ("train", "val", "test") for k in ("text", "labels"))
# TweetEval hate is SemEval-2019 HatEval (English), and TweetEval bundles it with OLID: the three
# sets form one family, so leave-one-family-out never trains on a sibling of the held-out set.
_HATEVAL = "tweeteval-hateval2019"
_GE26 = tuple(rel for _, rel, _ in _GE26_FILES)
_JB_LANGS = (("en", "en"), ("de", "de"), ("nl", "nl"), ("hi", "hi-Latn"), ("zh", "zh-cn"))
_JB_CAP = 3_000  # per language
_CAP = 6_000  # per second-round set
_HATEVAL_ES_FILES = tuple(f for f, _ in _HATEVAL_ES)

DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        _spec("davidson-hate-offensive", "davidson-hate-offensive", ("en",), "MIT", True,
              ("hate", "profanity"), _load_davidson, ("labeled_data.csv",)),
        _spec("tweeteval_hate", "tweeteval-hate-offensive", ("en",), "Twitter terms (HatEval)", False,
              ("hate",), _tweeteval("hate"), tuple(f.format(t="hate") for f in _TE_FILES), family=_HATEVAL),
        _spec("tweeteval_offensive", "tweeteval-hate-offensive", ("en",), "Twitter terms (OLID)", False,
              ("harassment",), _tweeteval("offensive"), tuple(f.format(t="offensive") for f in _TE_FILES),
              family=_HATEVAL),
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
        # --- second round
        _spec("threatgram101", "threatgram101", ("en",), "CC BY 4.0 (stated by the copying repo)", True,
              ("violence",), _load_threatgram, ("Labeled_15076.json",), cap=_CAP),
        _spec("germeval2026-harmful", "germeval2026-harmful", ("de",), "GPL-3.0", False,
              ("violence", "extremism", "harassment"), _load_germeval2026, _GE26, cap=3 * _CAP),
        _spec("edos", "edos", ("en",), "CC0-1.0", True, ("hate",), _load_edos,
              ("data/edos_labelled_aggregated.csv",), cap=_CAP),
        _spec("stormfront-hate", "stormfront-hate", ("en",), "CC BY-SA 3.0 ES", False, ("hate",),
              _load_stormfront, ("annotations_metadata.csv",), cap=_CAP),
        _spec("sdcnl", "sdcnl", ("en",), "none declared (research only)", False, ("self_harm",), _load_sdcnl,
              ("data/training-set.csv", "data/testing-set.csv")),
        *(
            _spec(f"jigsaw-bias-templates-{lang}", "jigsaw-bias-templates", (lang,), "Apache-2.0", True,
                  ("hate",), _jigsaw_templates(f"{stem}_sentence_templates.csv", lang),
                  (f"sentence_templates/{stem}_sentence_templates.csv",), family="jigsaw-bias-templates",
                  cap=_JB_CAP)
            for lang, stem in _JB_LANGS
        ),
        _spec("surge-toxicity", "surge-toxicity", ("en",), "MIT", True, ("hate", "harassment", "violence"),
              _load_surge, ("toxicity_en.csv",)),
        _spec("told-br", "told-br", ("pt",), "CC BY-SA 4.0", False, ("hate", "harassment", "profanity"),
              _load_toldbr, ("ToLD-BR.csv",), cap=_CAP),
        _spec("hatebr-pt", "hatebr-pt", ("pt",), "CC BY-NC 4.0", False, ("hate", "harassment", "profanity"),
              _load_hatebr, ("dataset__HateBR.csv",), cap=_CAP),
        _spec("pt-hate-fortuna", "pt-hate-fortuna", ("pt",), "none declared (strictly for research)", False,
              ("hate",), _load_fortuna, ("2019-05-28_portuguese_hate_speech_binary_classification.csv",)),
        _spec("id-multilabel-hate", "id-multilabel-hate", ("id",), "CC BY-NC-SA 4.0", False,
              ("hate", "harassment", "profanity"), _load_id_hate, ("re_dataset.csv",), cap=_CAP),
        _spec("cold-zh", "cold-zh", ("zh",), "Apache-2.0", True, ("hate", "harassment"), _load_cold,
              ("COLDataset__train.csv", "COLDataset__dev.csv", "COLDataset__test.csv"), cap=_CAP),
        _spec("toxicn-zh", "toxicn-zh", ("zh",), "CC BY-NC-ND 4.0", False, ("hate",), _load_toxicn,
              ("ToxiCN_1.0.csv",), cap=_CAP),
        _spec("haspeede2018-it", "haspeede2018-it", ("it",), "CC BY-NC-SA 4.0", False, ("hate",),
              _load_haspeede, ("haspeede_FB-train.tsv", "haspeede_TW-train.tsv"), cap=_CAP),
        _spec("hateval2019-es", "hateval2019-es", ("es",), "CC BY-NC 4.0", False, ("hate",), _load_hateval_es,
              _HATEVAL_ES_FILES, family=_HATEVAL),
        _spec("purplellama-cyberseceval-prompts", "purplellama-cyberseceval-prompts", ("en",), "MIT", True,
              CATEGORIES, _load_mitre_frr, ("mitre_frr.json",)),
        _spec("hh-rlhf-harmless-test", "hh-rlhf-harmless-test", ("en",), "MIT", True, CATEGORIES,
              _load_hh_harmless, ("harmless-base_test.jsonl.gz",)),
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
    "threatgram101": (
        "Telegram replies to US political channels, threat level (meaning inferred by the data curator from "
        "samples; not documented upstream): 2 violent / extra-legal harm (execute, hang) -> violence=1; "
        "1 calls for legal punishment (arrest, impeach) -> violence=0 (hard negative); 0 no threat -> "
        "violence=0. Other categories unknown (level-0 replies still contain insults and slurs). Texts "
        "with contradicting levels dropped. Hash 70/15/15; capped at 6,000 items. Licence CC BY 4.0 as "
        "stated second-hand by the copying repo: verify the upstream card before a commercial release."
    ),
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
    "edos": (
        "SemEval-2023 EDOS (Gab, Reddit): sexist -> hate=1 (gender-based), and violence=1 for vectors 1.1 "
        "threats of harm and 1.2 incitement and encouragement of harm (violence unknown for the other "
        "sexist vectors); not sexist -> hate=0 only. Official train/dev/test -> train/calib/test; capped "
        "at 6,000 items."
    ),
    "stormfront-hate": (
        "Sentences from a white-supremacist forum: hate -> hate=1; noHate -> hate=0 only (in-domain "
        "extremist-forum negatives; extremism is not annotated); relation (hateful only with its "
        "neighbours) and idk/skip skipped. Only file_id and label are read from the metadata. "
        "sampled_test -> test; the rest -> train/calib 70/30 by hash; capped at 6,000 items. CC BY-SA "
        "3.0 ES: share-alike, so not commercial_ok (same rule as korean-hate-speech: a bundled model "
        "could be argued to be an adaptation that must carry the licence)."
    ),
    "sdcnl": (
        "Reddit posts, label = subreddit: r/SuicideWatch -> self_harm=1, r/depression -> self_harm=0 only "
        "(distress without stated intent; noisy weak labels). Text = title + selftext; the author and url "
        "columns are never read. training-set -> train/calib 70/30 by hash; testing-set -> test; "
        "combined-set (= both) ignored. No licence declared: research only."
    ),
    "surge-toxicity": (
        "Toxic (the annotator's own judgement) -> any_violation=1, categories unknown; Not Toxic -> hate, "
        "harassment, violence = 0; profanity stays unknown (many not-toxic comments swear harmlessly) as "
        "do the categories toxicity does not judge. Hash 70/15/15."
    ),
    "told-br": (
        "Votes of 3 annotators per type: obscene -> profanity, insult -> harassment, homophobia / racism / "
        "misogyny / xenophobia -> hate; per category >= 2 votes -> 1, 0 votes -> 0, a single vote -> "
        "unknown. All six columns 0 -> all categories 0. Hash 70/15/15; capped at 6,000 items. CC BY-SA "
        "4.0: not commercial_ok (share-alike rule as for korean-hate-speech)."
    ),
    "hatebr-pt": (
        "HateBR 2.0 (Instagram comments on politicians' posts): offensive -> any_violation=1, categories "
        "unknown (insults, profanity and hate are not told apart in 2.0); non-offensive -> all categories "
        "0. dataset__HateBR.csv only (id, comentario, label_final; not the post links or accounts); "
        "HateBRXplain has the same 7,000 comments and labels and is ignored. Hash 70/15/15; capped at "
        "6,000 items."
    ),
    "pt-hate-fortuna": (
        "Binary file, hatespeech_comb (majority of 3): 1 -> hate=1, 0 -> hate=0 only. The hierarchical "
        "file (a different, stricter Hate.speech column) and the annotator columns are not read. Fortuna's "
        "hate includes body-shaming, which the default policy does not list. Hash 70/15/15."
    ),
    "id-multilabel-hate": (
        "Indonesian tweets: HS=0 and Abusive=0 -> all categories 0; otherwise Abusive -> profanity (1/0); "
        "HS=0 -> hate=0; HS=1 with a religion, race or gender target -> hate=1 (physical/'other' targets, "
        "mostly political camps: hate unknown); HS=1 aimed at an individual -> harassment=1. The file is "
        "not UTF-8: read as Latin-1, then valid UTF-8 sequences, \\x.. / \\u.... escapes and \\n from the "
        "bytes repr are decoded and broken emoji dropped. Hash 70/15/15; capped at 6,000 items."
    ),
    "cold-zh": (
        "COLD: label 0 safe -> all categories 0 (includes test fine-grained 3, anti-bias counter-speech); "
        "test fine-grained 2 attack group (race, region, gender) -> hate=1, 1 attack individual -> "
        "harassment=1; train/dev label 1 (offensive, target not annotated) -> any_violation=1, categories "
        "unknown. Official files train/dev/test -> train/calib/test (the split column is ignored: dev.csv "
        "says train on half its rows); ids are row numbers (the index restarts per topic). Capped at 6,000 "
        "items."
    ),
    "toxicn-zh": (
        "ToxiCN 1.0: toxic 0 -> all categories 0; toxic_type 2 (hate) with explicit or implicit "
        "expression -> hate=1; toxic_type 1 (general offence, no targeted group) -> any_violation=1, "
        "hate=0; expression 3 'reporting' (quoting or reporting hate, labelled toxic) skipped as "
        "ambiguous. Hash 70/15/15; capped at 6,000 items. CC BY-NC-ND: research only."
    ),
    "haspeede2018-it": (
        "HaSpeeDe 2018 Facebook + Twitter training files: 1 hateful -> hate=1; 0 -> hate=0 only (FB "
        "non-hateful posts include political insults). Test files not present: hash 70/15/15 over both; "
        "capped at 6,000 (= all rows)."
    ),
    "hateval2019-es": (
        "HatEval 2019 Spanish: HS=1 -> hate=1 (and harassment=1 when TR=1, aimed at an individual); HS=0 "
        "-> hate=0 only (includes profane non-hateful tweets). AG (aggressive) is not mapped. Spanish-A "
        "train -> train/calib 70/30 by hash (Spanish-B train is the same rows, ignored); dev -> test. Same "
        "task as tweeteval_hate (English HatEval): one family."
    ),
    "purplellama-cyberseceval-prompts": (
        "CyberSecEval mitre_frr.json only: 750 borderline-sounding but benign security coding prompts "
        "(is_malicious False) -> all categories 0 (over-refusal negatives). The prompt-injection files "
        "are not a policy category and are not read. Hash 70/15/15."
    ),
    "hh-rlhf-harmless-test": (
        "Anthropic HH-RLHF harmless-base test: only the final Assistant turn of each 'chosen' transcript, "
        "and only when it matches the refusal / safety-redirect / did-not-understand regex "
        "(datasets.HH_REFUSAL), is at most 600 characters and contains none of the HH_EXCLUDE words "
        "(profanity, slurs, sex, weapons, drugs, violence words, approval such as 'that's fine' or 'go "
        "ahead', an embedded 'Human:') -> all categories 0 (the 78 selected replies were read). "
        "Human turns (red-team prompts), earlier turns, 'rejected' and compliant chosen replies are "
        "never used: 'chosen' only means less harmful. Hash 70/15/15."
    ),
    **{
        f"jigsaw-bias-templates-{lang}": (
            f"Conversation AI identity-term sentence templates ({stem}_sentence_templates.csv; labels come "
            "from the template word, not annotators): nontoxic -> all categories 0 (neutral or positive "
            "identity mentions); toxic identity attacks ('I hate X', 'Being X is <bad>') -> hate=1, or "
            "any_violation=1 with categories unknown when X is an age group (age is not protected in the "
            "default policy); toxic insults of a person ('<name> is a dumb X', 'You are a vile X') -> "
            "any_violation=1, categories unknown; toxic verb fragments ('kill X', '忽视 X') skipped. "
            "Hash 70/15/15; capped at 3,000 items per language (one spec per language, family "
            "jigsaw-bias-templates); the archive bias_madlibs_77k.csv (an older copy of en) is ignored."
        )
        for lang, stem in _JB_LANGS
    },
}


# ---------------------------------------------------------------------------------------
# public API


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
from .project_data import MAPPING_NOTES as _PROJECT_NOTES  # noqa: E402
from .project_data import SPECS as _PROJECT_SPECS  # noqa: E402

DATASETS.update((s.name, s) for s in _PROJECT_SPECS)
MAPPING_NOTES.update(_PROJECT_NOTES)
