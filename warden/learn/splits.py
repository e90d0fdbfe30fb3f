"""Deterministic train/calib/test splits with near-duplicate decontamination.

Public data sets overlap: the same tweet shows up in several of them (retweets,
re-annotations, copies with a different @mention). If a near copy of a test item is
trained on, the test metrics are optimistic. So:

* `near_duplicate_key` normalises text aggressively and hashes it;
* `hash_split` gives a key a split from a fixed seed (same text -> same split, in every
  data set, on every machine);
* `apply_splits` keeps every test item, drops train/calib items that share a key with
  any test item, drops train items that share a key with a calib item, and keeps one
  train item per key per data set.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .datasets import LabeledText

SEED = 20261122
SPLITS = ("train", "calib", "test")

# One pass over: URLs (scheme, www. or a bare common domain), @mentions, HTML entities,
# the placeholders some sets put in place of users/urls/numbers (HateXplain: <user>, <number>)
# and the retweet marker 'rt'.
_DROP = re.compile(
    r"https?://\S+|www\.\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|ly|co|io|uk)\b(?:/\S*)?"
    r"|@\w+"
    r"|&#?\w+;"
    r"|<(?:user|url|number|percent|money|email|phone|time|date)>"
    r"|\brt\b"
)
_DIGITS = re.compile(r"\d+")
# Everything but letters/digits of any script (underscore is in \w, so drop it explicitly).
_NON_WORD = re.compile(r"[\W_]+")
_WS = re.compile(r"\s+")


def _normalise(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).casefold()
    t = _DROP.sub(" ", t)
    t = _DIGITS.sub("0", t)
    # Keep letters of every script and the collapsed digit runs; drop the rest, spaces included.
    return _NON_WORD.sub("", t)


@lru_cache(maxsize=1 << 18)
def near_duplicate_key(text: str) -> str:
    """sha1 of the aggressively normalised text.

    Two texts that differ only in case, URLs, @mentions, a leading 'RT', HTML entities,
    numbers, punctuation, emoji or spacing get the same key. A text with nothing left
    after normalisation (only emoji/URLs) falls back to its whitespace-collapsed,
    casefolded form, so such texts do not all collide on the empty key. Cached because
    the loaders and `apply_splits` both need the key of every text.
    """
    norm = _normalise(text)
    if not norm:
        norm = "\x00" + _WS.sub(" ", html.unescape(text)).strip().casefold()
    return hashlib.sha1(norm.encode("utf-8")).hexdigest()


def hash_split(key: str, seed: int = SEED, fractions: Sequence[float] = (0.70, 0.15, 0.15)) -> str:
    """'train' | 'calib' | 'test' for `key`, deterministic in (key, seed).

    `fractions` are the shares of train, calib and test; (0.7, 0.3, 0.0) gives train/calib only.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be 3 non-negative numbers summing to 1, got {fractions!r}")
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < fractions[0]:
        return "train"
    if u < fractions[0] + fractions[1]:
        return "calib"
    return "test"


def apply_splits(
    items: Iterable[LabeledText], extra_test_keys: Iterable[str] = ()
) -> tuple[list[LabeledText], dict[str, Any]]:
    """Decontaminate and dedupe; returns (kept items in input order, stats).

    `extra_test_keys` are near-duplicate keys of test items that are not in `items`
    (e.g. test sets of data sets not selected for this run) that must not leak into
    train/calib either.
    """
    items = list(items)
    keys = [near_duplicate_key(it.text) for it in items]
    test_keys = {k for it, k in zip(items, keys, strict=True) if it.split == "test"}
    test_keys.update(extra_test_keys)
    calib_keys = {k for it, k in zip(items, keys, strict=True) if it.split == "calib" and k not in test_keys}

    kept: list[LabeledText] = []
    seen_train: set[tuple[str, str]] = set()
    dropped: Counter[str] = Counter()
    dropped_by_dataset: Counter[str] = Counter()
    for it, k in zip(items, keys, strict=True):
        reason = None
        if it.split == "test":
            pass
        elif k in test_keys:
            reason = "test_overlap"
        elif it.split == "calib":
            pass
        elif k in calib_keys:
            reason = "calib_overlap"
        elif (it.dataset, k) in seen_train:
            reason = "train_duplicate"
        else:
            seen_train.add((it.dataset, k))
        if reason is None:
            kept.append(it)
        else:
            dropped[reason] += 1
            dropped_by_dataset[it.dataset] += 1
    stats: dict[str, Any] = {
        "seed": SEED,
        "input": len(items),
        "kept": len(kept),
        "dropped_test_overlap": dropped["test_overlap"],
        "dropped_calib_overlap": dropped["calib_overlap"],
        "dropped_train_duplicate": dropped["train_duplicate"],
        "dropped_by_dataset": dict(sorted(dropped_by_dataset.items())),
    }
    return kept, stats
