"""Prevalence with confidence intervals from a stratified review sample.

Prevalence is the share of views (or of items, with unit weights) that land on violating content:
the figure platforms publish and steer by. It is estimated from human labels on a sample drawn
with a known design, never from model scores alone:

1. `draw_sample`: stratify the population of decided items (by score band, and optionally by
   language or category), allocate the label budget across strata (proportionally to each
   stratum's views, with extra for the high-score bands where violations concentrate), and draw
   without replacement inside each stratum. Every sampled item carries its inclusion probability.
2. Reviewers label the sample (any tool: the review queue, a spreadsheet).
3. `estimate_prevalence`: the stratified estimator of the violating share of views, with a 95 %
   interval from the stratified variance (finite-population corrected). The same sample gives
   `estimate_precision_recall` for automated actions (domain estimation with the design weights).

The interval is normal on the log of the stratified total (the total is right-skewed when views
are heavy-tailed), with one guard: a stratum whose sample holds
no violation (or only violations) contributes a small floor of variance (`FLOOR` pseudo-observations),
so a rare category with a lucky empty sample does not get a zero-width interval. With heavy-tailed
views, stratify by view band too (`view_bands`): it cut the interval's width by two thirds in the
simulator. `warden/bench/strategy.py` measures the coverage of these intervals.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

Z95 = 1.959963984540054
# Size of that floor, in pseudo-observations, chosen on the simulator's seeds 0-199 (coverage
# 0.93 there, 0.915 without a floor); the benchmark reports seeds 1000-1199 (0.955).
FLOOR = 0.04
# Upper edges of the score bands (max calibrated probability of the item's decision).
DEFAULT_BANDS = (0.05, 0.2, 0.5, 0.8, 1.0)


@dataclass(frozen=True)
class Unit:
    """One decided item of the population: its id, stratum key, and weight (views; 1 = items)."""

    id: str
    stratum: Hashable
    weight: float = 1.0


@dataclass(frozen=True)
class SampledUnit:
    id: str
    stratum: Hashable
    weight: float
    inclusion: float  # P(this unit is in the sample) under the design


@dataclass
class Design:
    """The strata as drawn: population sizes and weight totals, sample sizes, and the sample."""

    population_units: dict[Hashable, int] = field(default_factory=dict)
    population_weight: dict[Hashable, float] = field(default_factory=dict)
    sample_sizes: dict[Hashable, int] = field(default_factory=dict)
    sample: list[SampledUnit] = field(default_factory=list)

    @property
    def total_weight(self) -> float:
        return float(sum(self.population_weight.values()))


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    labelled: int

    @property
    def width(self) -> float:
        return self.high - self.low

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


def score_band(probability: float, bands: Sequence[float] = DEFAULT_BANDS) -> int:
    for index, edge in enumerate(bands):
        if probability <= edge:
            return index
    return len(bands) - 1


def view_bands(weights: Sequence[float], quantiles: Sequence[float] = (0.8, 0.97)) -> Callable[[float], int]:
    """A function weight -> band by the population's weight quantiles. With heavy-tailed views,
    stratifying by view band too keeps the few most-viewed items from swinging the estimate (they
    get their own strata, sampled more densely since allocation follows weight)."""
    cutoffs = (
        [float(q) for q in np.quantile(np.asarray(weights, dtype=float), quantiles)] if len(weights) else []
    )

    def band(weight: float) -> int:
        return sum(weight > c for c in cutoffs)

    return band


def allocate(
    weights: Mapping[Hashable, float],
    sizes: Mapping[Hashable, int],
    budget: int,
    boost: Mapping[Hashable, float] | None = None,
    minimum: int = 2,
) -> dict[Hashable, int]:
    """Labels per stratum: first `minimum` each (the heaviest strata first if the budget cannot
    cover that), then the rest in proportion to weight x boost, never more than a stratum holds
    (a full stratum's share goes to the others). Spends min(budget, population) exactly."""
    boost = boost or {}
    active = [h for h in weights if sizes.get(h, 0) > 0]
    score = {h: weights[h] * boost.get(h, 1.0) for h in active}
    left = min(budget, sum(sizes[h] for h in active))
    out = dict.fromkeys(active, 0)
    for h in sorted(active, key=lambda k: score[k], reverse=True):
        take = min(minimum, sizes[h], left)
        out[h], left = take, left - take
    while left > 0:
        room = [h for h in active if out[h] < sizes[h]]
        total = sum(score[h] for h in room)
        raw = {h: left * (score[h] / total if total > 0 else 1.0 / len(room)) for h in room}
        given = 0
        for h in room:
            add = min(sizes[h] - out[h], int(raw[h]))
            out[h] += add
            given += add
        if given == 0:  # every share is below one label: one each, largest shares first
            for h in sorted(room, key=lambda k: raw[k], reverse=True)[:left]:
                out[h] += 1
                given += 1
        left -= given
    return out


def draw_sample(
    units: Sequence[Unit],
    budget: int,
    rng: np.random.Generator,
    boost: Mapping[Hashable, float] | None = None,
) -> Design:
    """A stratified sample without replacement of about `budget` units (see `allocate`)."""
    by_stratum: dict[Hashable, list[Unit]] = defaultdict(list)
    for unit in units:
        by_stratum[unit.stratum].append(unit)
    design = Design(
        population_units={h: len(us) for h, us in by_stratum.items()},
        population_weight={h: float(sum(u.weight for u in us)) for h, us in by_stratum.items()},
    )
    design.sample_sizes = allocate(design.population_weight, design.population_units, budget, boost)
    for h, n in design.sample_sizes.items():
        members = by_stratum[h]
        chosen: Sequence[int] = rng.choice(len(members), size=n, replace=False).tolist() if n else []
        inclusion = n / len(members)
        design.sample.extend(SampledUnit(members[i].id, h, members[i].weight, inclusion) for i in chosen)
    return design


def _stratified_total(design: Design, values: Mapping[str, float]) -> tuple[float, float, int]:
    """(estimated population total of value x weight, its variance, units labelled). Units of the
    sample without a value (not labelled yet) are left out: their stratum's n shrinks."""
    total = variance = 0.0
    labelled = 0
    per_stratum: dict[Hashable, list[float]] = defaultdict(list)
    for unit in design.sample:
        if unit.id in values:
            per_stratum[unit.stratum].append(unit.weight * values[unit.id])
    for h, observed in per_stratum.items():
        n, big_n = len(observed), design.population_units[h]
        labelled += n
        mean_weight = design.population_weight[h] / big_n
        total += big_n * float(np.mean(observed))
        s2 = float(np.var(observed, ddof=1)) if n > 1 else 0.0
        if n and (all(v == 0 for v in observed) or len(set(observed)) == 1):
            # All alike: the sample variance is 0 (or the stratum has one label). Floor it at the
            # variance of one pseudo-observation, so an empty sample still leaves room for misses.
            s2 = max(s2, FLOOR * (mean_weight**2) * (1.0 / (n + 1)) * (n / (n + 1)))
        fpc = 1.0 - n / big_n
        variance += big_n**2 * fpc * s2 / n
    return total, variance, labelled


def estimate_prevalence(design: Design, violating: Mapping[str, bool]) -> Interval:
    """Violating share of the population's weight (views), with a 95 % interval clipped to [0, 1]."""
    values = {k: float(v) for k, v in violating.items()}
    total, variance, labelled = _stratified_total(design, values)
    weight = design.total_weight
    if not weight or total <= 0:
        se = math.sqrt(variance) / weight if weight else 0.0
        return Interval(0.0, 0.0, min(1.0, Z95 * se), labelled)
    p = total / weight
    # A log-scale interval (delta method): a view-weighted total is right-skewed (a few items
    # hold most views), and the symmetric interval misses high far more often than low.
    cv = math.sqrt(variance) / total
    return Interval(p, p * math.exp(-Z95 * cv), min(1.0, p * math.exp(Z95 * cv)), labelled)


def estimate_precision_recall(
    design: Design, violating: Mapping[str, bool], actioned: Callable[[str], bool]
) -> tuple[Interval, Interval]:
    """Precision and recall of an automated action from the prevalence sample (ratio estimators
    with design weights; linearised variance)."""
    weights = {u.id: u.weight / u.inclusion for u in design.sample if u.id in violating}
    y = {k: float(violating[k]) for k in weights}
    a = {k: float(actioned(k)) for k in weights}

    def ratio(num: Mapping[str, float], den: Mapping[str, float]) -> Interval:
        d = sum(weights[k] * den[k] for k in weights)
        if d == 0:
            return Interval(float("nan"), 0.0, 1.0, 0)
        r = sum(weights[k] * num[k] for k in weights) / d
        # Linearisation: residuals z = num - r * den, variance of their weighted total.
        z = {k: num[k] - r * den[k] for k in weights}
        var = sum((weights[k] * z[k]) ** 2 for k in weights) / d**2
        half = Z95 * math.sqrt(var)
        n = int(sum(1 for k in weights if den[k]))
        return Interval(r, max(0.0, r - half), min(1.0, r + half), n)

    both = {k: y[k] * a[k] for k in weights}
    return ratio(both, a), ratio(both, y)
