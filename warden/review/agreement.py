"""Agreement between reviewers and interval estimates, in plain Python (small inputs, exact formulas).

- Cohen's kappa for two reviewers on the items both labelled.
- Krippendorff's alpha (nominal) for any number of reviewers with missing labels, via the
  coincidence matrix (Krippendorff, "Computing Krippendorff's Alpha-Reliability", 2011).
- Wilson score interval for a proportion (sound at small n and near 0 or 1, unlike the normal one).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from itertools import permutations

Z_95 = 1.959963984540054


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Kappa of two equal-length label sequences; None when undefined (empty, or chance agreement 1)."""
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa needs paired labels, got {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[k] * count_b.get(k, 0) for k in count_a) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


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


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """(low, high) of the Wilson score interval; (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, center - half), min(1.0, center + half)


def majority(values: Sequence[Hashable]) -> Hashable | None:
    """The value more than half of `values` share, else None (ties and splits have no consensus)."""
    if not values:
        return None
    value, count = Counter(values).most_common(1)[0]
    return value if count * 2 > len(values) else None
