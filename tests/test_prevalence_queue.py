"""Prevalence end to end on a real database: stored decisions, a stratified draw queued blind in the
`prevalence` review queue, reviewers labelling it through leases, and the estimate with intervals
against the known truth of the population; the design file round-trips and bad input is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from warden.content import Content
from warden.decision import CategoryScore, Decision, Versions
from warden.errors import NotFoundError, ValidationError
from warden.media.storage import MediaStore
from warden.policy.model import load_policy
from warden.review.prevalence_sample import QUEUE, PrevalenceSample, draw, estimate, read_items
from warden.review.service import ReviewService
from warden.settings import DEFAULT_POLICY_PATH, ReviewSettings, Settings
from warden.store import Store

POLICY = load_policy(DEFAULT_POLICY_PATH)


def population(store: Store, n: int = 400) -> tuple[list[Content], dict[str, bool]]:
    """Items with stored decisions: violations score high (with overlap), two languages, views."""
    rng = np.random.default_rng(5)
    items, decisions, truth = [], [], {}
    for k in range(n):
        bad = bool(rng.random() < 0.15)
        p = float(rng.beta(5, 2) if bad else rng.beta(1, 8))
        language = "de" if k % 4 == 0 else "en"
        item = Content(
            id=f"p{k}", text=f"post {k}", language=language, metadata={"views": int(rng.integers(1, 5000))}
        )
        action = "remove" if p > 0.7 else "allow"
        decisions.append(
            Decision(
                content_id=item.id,
                content_hash=item.content_hash(),
                action=action,
                flagged=action != "allow",
                language=language,
                categories={
                    "harassment": CategoryScore(probability=p),
                    "hate": CategoryScore(probability=p / 3),
                },
                reasons=[],
                versions=Versions(policy=POLICY.full_version, pipeline="pipe-test", models={"m": "1"}),
            )
        )
        items.append(item)
        truth[item.id] = bad
    store.save_decisions(decisions, actor="apikey:platform")
    return items, truth


def test_blind_sample_labels_and_estimate(store: Store, tmp_path: Path) -> None:
    svc = ReviewService(
        store, POLICY, Settings(review=ReviewSettings(gold_rate=0.0)), MediaStore(tmp_path / "media")
    )
    items, truth = population(store)
    extra = Content(id="never-moderated", text="x")
    sample = draw(svc, [*items, extra], budget=120, seed=1)
    assert sample.population == 400 and sample.skipped == 1 and len(sample.design.sample) == 120
    # High score bands are over-sampled: their inclusion probability is higher on average (a tiny
    # stratum of any band may still get its minimum of two labels).
    high = [u.inclusion for u in sample.design.sample if u.stratum[0] >= 3]
    low = [u.inclusion for u in sample.design.sample if u.stratum[0] == 0]
    assert high and low and np.mean(high) > 2 * np.mean(low)
    path = tmp_path / "design.json"
    sample.save(path)
    again = PrevalenceSample.load(path)
    assert again.tasks == sample.tasks and again.design.population_units == sample.design.population_units
    # Nothing labelled yet: an estimate of 0 with no labels behind it.
    assert estimate(svc, again).labelled == 0
    served = 0
    while (task := svc.lease_next("rita", queue=QUEUE)) is not None:
        assert task.scores == {} and task.flagged == [] and task.reasons == []  # blind
        bad = truth[task.content_id]
        svc.decide(task.id, "rita", "remove" if bad else "allow", ["harassment"] if bad else [])
        served += 1
    assert served == 120
    report = estimate(svc, again)
    assert report.labelled == 120
    views = {i.id: float(i.metadata["views"]) for i in items}
    true_share = sum(v for k, v in views.items() if truth[k]) / sum(views.values())
    assert report.overall.low <= true_share <= report.overall.high
    assert report.by_category["harassment"].estimate == pytest.approx(report.overall.estimate)
    assert report.by_category["hate"].estimate == 0.0
    assert set(report.by_language) == {"de", "en"}
    assert report.precision is not None and 0.0 <= report.precision.estimate <= 1.0
    assert report.recall is not None and report.recall.labelled > 0
    assert json.loads(json.dumps(report.to_json()))["labelled"] == 120


def test_bad_input_is_refused(store: Store, tmp_path: Path) -> None:
    svc = ReviewService(store, POLICY, Settings(), MediaStore(tmp_path / "media"))
    with pytest.raises(NotFoundError, match="stored decision"):
        draw(svc, [Content(id="a", text="x")], budget=5)
    with pytest.raises(ValidationError, match="duplicate"):
        draw(svc, [Content(id="a", text="x"), Content(id="a", text="y")], budget=5)
    with pytest.raises(ValidationError, match="budget"):
        draw(svc, [Content(id="a", text="x")], budget=0)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"id": "a", "text": "fine"}\n{"id": 3\n')
    with pytest.raises(ValidationError, match="bad.jsonl:2"):
        read_items(bad)
    (tmp_path / "design.json").write_text("{}")
    with pytest.raises(ValidationError, match="not a prevalence sample"):
        PrevalenceSample.load(tmp_path / "design.json")
