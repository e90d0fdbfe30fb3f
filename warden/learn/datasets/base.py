"""What every data-set module shares: the item and spec types, the category list, deterministic
splits and caps, and the small parsing helpers the loaders use."""

from __future__ import annotations

import hashlib
import html
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import MissingDataError
from ..splits import SEED, hash_split, near_duplicate_key

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
        spec = REGISTERED.get(self.dataset)
        return spec.train_use if spec is not None else True


Loader = Callable[["DatasetSpec", Path], list[LabeledText]]


def labels_matrix(items: Sequence[LabeledText], categories: Sequence[str]) -> np.ndarray:
    """n × C matrix (int8) with 1/0 for known labels and -1 for unknown."""
    y = np.full((len(items), len(categories)), -1, dtype=np.int8)
    for i, item in enumerate(items):
        for k, c in enumerate(categories):
            if c in item.labels:
                y[i, k] = item.labels[c]
    return y


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
    # For builtin sets: where the package's data live, asked at call time (tests point it elsewhere).
    package_root: Callable[[], Path] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.name)

    def location(self, data_dir: Path) -> Path:
        """The directory the loader reads."""
        if self.builtin:
            if self.package_root is None:
                raise ValueError(f"builtin data set {self.name!r} has no package_root")
            return self.package_root() / self.path
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


# Every registered data set by name: filled by `registry` (its `DATASETS` is this dict), read here so
# an item can tell whether its set is trained on without importing the registry.
REGISTERED: dict[str, DatasetSpec] = {}


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


# TweetEval hate is SemEval-2019 HatEval (English), and TweetEval bundles it with OLID: the three
# sets form one family, so leave-one-family-out never trains on a sibling of the held-out set.
_HATEVAL = "tweeteval-hateval2019"


_CAP = 6_000  # per second-round set
