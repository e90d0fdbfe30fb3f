"""Slices for fairness and coverage: by language and by identity terms mentioned in the text.

Identity slices follow the term-based approach of Dixon et al. (2018), "Measuring and
Mitigating Unintended Bias in Text Classification": a classifier that learned "mentions
gay" as a proxy for "hateful" shows up as a high false-positive rate on benign items that
mention the term. Term matching is crude (e.g. "black" in "black coffee"), so read it as a
screen, not a census.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .metrics import binary_metrics, wilson_interval

MIN_SLICE_ITEMS = 20

# Group -> terms, matched as whole words, case-insensitively. "man" is left out on purpose:
# as an interjection ("man, that was close") it would swamp the "men" group with noise.
# fmt: off
IDENTITY_TERMS: dict[str, tuple[str, ...]] = {
    "women": ("woman", "women", "girl", "girls", "female", "females", "lady", "ladies"),
    "men": ("men", "male", "males", "boy", "boys"),
    "black": ("black", "blacks", "african", "africans", "african american", "african americans"),
    "white": ("white", "whites", "caucasian", "caucasians"),
    "asian": ("asian", "asians", "chinese", "japanese", "korean", "koreans", "vietnamese"),
    "latino": ("latino", "latinos", "latina", "latinas", "latinx", "hispanic", "hispanics", "mexican",
               "mexicans"),
    "arab": ("arab", "arabs", "arabic"),
    "indigenous": ("indigenous", "native american", "native americans", "aboriginal"),
    "jewish": ("jew", "jews", "jewish", "judaism"),
    "muslim": ("muslim", "muslims", "islam", "islamic"),
    "christian": ("christian", "christians", "christianity", "catholic", "catholics"),
    "hindu": ("hindu", "hindus", "hinduism"),
    "lgbtq": (
        "gay", "gays", "lesbian", "lesbians", "lgbt", "lgbtq", "bisexual", "homosexual", "homosexuals",
        "trans", "transgender", "queer", "nonbinary", "non-binary",
    ),
    "disability": (
        "disabled", "disability", "disabilities", "handicapped", "autistic", "deaf", "blind", "wheelchair",
    ),
    "immigrant": ("immigrant", "immigrants", "refugee", "refugees", "migrant", "migrants", "asylum seeker",
                  "asylum seekers"),
}
# fmt: on


def _compile(terms: Sequence[str]) -> re.Pattern[str]:
    # Longest first so "african american" wins over "african"; spaces match any whitespace run.
    alts = sorted((re.escape(t).replace(r"\ ", r"\s+") for t in terms), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)", re.IGNORECASE)


_PATTERNS = {group: _compile(terms) for group, terms in IDENTITY_TERMS.items()}


def identity_groups(text: str, terms: Mapping[str, Sequence[str]] | None = None) -> set[str]:
    """The identity groups whose terms occur in `text` as whole words (case-insensitive)."""
    patterns = _PATTERNS if terms is None else {g: _compile(t) for g, t in terms.items()}
    return {group for group, pattern in patterns.items() if pattern.search(text)}


def identity_masks(
    texts: Sequence[str], terms: Mapping[str, Sequence[str]] | None = None
) -> dict[str, NDArray[np.bool_]]:
    patterns = _PATTERNS if terms is None else {g: _compile(t) for g, t in terms.items()}
    return {
        group: np.fromiter((pattern.search(t) is not None for t in texts), dtype=bool, count=len(texts))
        for group, pattern in patterns.items()
    }


def language_masks(languages: Sequence[str]) -> dict[str, NDArray[np.bool_]]:
    arr = np.asarray(languages, dtype=object)
    return {lang: arr == lang for lang in sorted(set(languages))}


def slice_metrics(
    y: NDArray[np.bool_],
    scores: NDArray[np.float64],
    flagged: NDArray[np.bool_],
    masks: Mapping[str, NDArray[np.bool_]],
    *,
    overall_fpr: float | None,
    min_items: int = MIN_SLICE_ITEMS,
) -> dict[str, Any]:
    """Overall-task metrics per group with at least `min_items` items.

    Each group also gets `fpr_ci` (95% Wilson interval: group FPRs rest on few benign items)
    and `fpr_delta` (group FPR − overall FPR). `fpr_gap` is the largest group FPR minus the
    overall FPR: how much more often benign content about one group is flagged.
    """
    groups: dict[str, Any] = {}
    skipped: dict[str, int] = {}
    for name, mask in masks.items():
        n = int(mask.sum())
        if n < min_items:
            if n:
                skipped[name] = n
            continue
        m = binary_metrics(y[mask], scores[mask], flagged[mask])
        m["fpr_ci"] = wilson_interval(m["fp"], m["support_neg"])
        m["fpr_delta"] = None if m["fpr"] is None or overall_fpr is None else m["fpr"] - overall_fpr
        groups[name] = m
    with_fpr = {g: m["fpr"] for g, m in groups.items() if m["fpr"] is not None}
    worst = max(with_fpr, key=lambda g: with_fpr[g]) if with_fpr else None
    return {
        "min_items": min_items,
        "overall_fpr": overall_fpr,
        "fpr_gap": None if worst is None or overall_fpr is None else with_fpr[worst] - overall_fpr,
        "fpr_gap_group": worst,
        "groups": groups,
        "skipped": skipped,
    }
