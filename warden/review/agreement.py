"""Agreement between reviewers.

- Cohen's kappa for two reviewers on the items both labelled (scikit-learn's, None when undefined).
- Krippendorff's alpha (nominal) for any number of reviewers with missing labels, via the
  coincidence matrix (Krippendorff, "Computing Krippendorff's Alpha-Reliability", 2011).

The Wilson interval of the QA precision estimates is `warden.evaluate.metrics.wilson_interval`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from itertools import permutations

from sklearn.metrics import cohen_kappa_score


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Kappa of two equal-length label sequences; None when undefined (empty, or one label only:
    chance agreement is 1)."""
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa needs paired labels, got {len(a)} and {len(b)}")
    if len(set(a) | set(b)) < 2:
        return None
    return float(cohen_kappa_score(list(a), list(b)))


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Alpha over units, each the labels it received (any number of coders; units with < 2 are skipped).

    None when fewer than two pairable values exist or every value is the same category (no variation)."""
    coincidence: defaultdict[tuple[Hashable, Hashable], float] = defaultdict(float)
    for values in units:
        m = len(values)
        if m < 2:
            continue
        weight = 1.0 / (m - 1)
        for i, j in permutations(range(m), 2):
            coincidence[(values[i], values[j])] += weight
    n_c: defaultdict[Hashable, float] = defaultdict(float)
    for (c, _k), w in coincidence.items():
        n_c[c] += w
    n = sum(n_c.values())
    if n <= 1:
        return None
    disagreement_observed = sum(w for (c, k), w in coincidence.items() if c != k) / n
    disagreement_expected = (n * n - sum(v * v for v in n_c.values())) / (n * (n - 1))
    if disagreement_expected <= 0:
        return None
    return 1.0 - disagreement_observed / disagreement_expected


def majority(values: Sequence[Hashable]) -> Hashable | None:
    """The value more than half of `values` share, else None (ties and splits have no consensus)."""
    if not values:
        return None
    value, count = Counter(values).most_common(1)[0]
    return value if count * 2 > len(values) else None
