"""Prevalence from a stratified review sample (`warden.review.prevalence`)."""

from __future__ import annotations

import numpy as np
import pytest

from warden.bench.strategy import FIRST_SEED, run_once, simulate_population
from warden.review.prevalence import (
    Unit,
    allocate,
    draw_sample,
    estimate_precision_recall,
    estimate_prevalence,
    score_band,
    view_bands,
)


def test_allocation_spends_the_budget_within_each_stratums_size() -> None:
    weights = {"a": 900.0, "b": 90.0, "c": 10.0, "d": 0.5}
    sizes = {"a": 5_000, "b": 40, "c": 3, "d": 1}
    out = allocate(weights, sizes, budget=100, boost={"b": 3.0})
    assert sum(out.values()) == 100
    assert all(out[h] <= sizes[h] for h in out) and out["c"] >= 2 and out["d"] == 1
    assert out["b"] > 100 * 90 / 1000.5  # the boost over-samples b


def test_a_census_recovers_the_truth_exactly() -> None:
    rng = np.random.default_rng(0)
    units, truth, scores = simulate_population(rng, size=2_000)
    design = draw_sample(units, 2_000, rng)
    interval = estimate_prevalence(design, truth)
    true_value = sum(u.weight for u in units if truth[u.id]) / sum(u.weight for u in units)
    assert interval.estimate == pytest.approx(true_value) and interval.width == pytest.approx(0.0, abs=1e-12)
    precision, recall = estimate_precision_recall(design, truth, lambda uid: scores[uid] >= 0.8)
    removed = [u for u in units if scores[u.id] >= 0.8]
    assert precision.estimate == pytest.approx(
        sum(u.weight for u in removed if truth[u.id]) / sum(u.weight for u in removed)
    )
    caught = sum(u.weight for u in removed if truth[u.id])
    assert recall.estimate == pytest.approx(caught / sum(u.weight for u in units if truth[u.id]))


def test_unlabelled_units_are_left_out_not_counted_as_benign() -> None:
    units = [Unit(f"u{i}", "s", 1.0) for i in range(100)]
    design = draw_sample(units, 20, np.random.default_rng(1))
    labels = {u.id: True for u in design.sample[:10]}  # only half labelled, all violating
    interval = estimate_prevalence(design, labels)
    assert interval.labelled == 10 and interval.estimate == pytest.approx(1.0)


def test_an_empty_sample_stratum_still_leaves_room_for_misses() -> None:
    units = [Unit(f"u{i}", "s", 1.0) for i in range(10_000)]
    design = draw_sample(units, 50, np.random.default_rng(2))
    interval = estimate_prevalence(design, {u.id: False for u in design.sample})
    assert interval.estimate == 0.0 and interval.high > 0.0


def test_intervals_cover_the_truth_at_the_nominal_rate_in_simulation() -> None:
    runs = [run_once(seed) for seed in range(FIRST_SEED, FIRST_SEED + 60)]
    coverage = np.mean([interval.covers(truth) for interval, truth, _, _ in runs])
    assert 0.88 <= coverage <= 1.0, coverage  # the bench runs 200 (0.945); 60 keep make test short
    assert np.mean([interval.width for interval, _, _, _ in runs]) < 0.02


def test_bands() -> None:
    assert [score_band(p) for p in (0.0, 0.05, 0.1, 0.6, 0.99)] == [0, 0, 1, 3, 4]
    band = view_bands([1.0] * 80 + [10.0] * 17 + [1_000.0] * 3)
    assert (band(1.0), band(10.0), band(1_000.0)) == (0, 1, 2)
