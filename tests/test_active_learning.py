"""Active learning: samplers on real MiniLM embeddings, review-label merging, the oracle simulation
on SMS spam, and `warden learn` end to end."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from support import REPO, require_data
from typer.testing import CliRunner

from warden.cli import app
from warden.errors import ValidationError
from warden.learn.active import (
    STRATEGIES,
    kcenter_greedy,
    margin_scores,
    min_distances,
    normalise,
    propose,
    uncertainty_scores,
)
from warden.learn.datasets import BENIGN, LabeledText
from warden.learn.review_labels import merge_review_labels, parse_review_labels, review_items
from warden.runtime.embedders import get_embedder

# Three topics; k-center from a labelled item of the first must reach the other two first.
PRIZE = [
    "Congratulations! You have won a free cruise, call 0800 now to claim your prize",
    "WINNER!! Your mobile number has been selected for a 1000 pound cash award",
    "Claim your free iPhone today, reply YES to this message to collect",
    "URGENT: you won a guaranteed prize, text CLAIM to 80080",
    "Free entry into our weekly draw to win FA Cup final tickets, text WIN now",
    "You are a lucky winner of our lottery, send your bank details to receive the money",
]
LUNCH = [
    "Are we still meeting for lunch at noon tomorrow?",
    "Shall we grab a sandwich near the office at one?",
    "I'm running ten minutes late for our lunch, sorry",
    "Lunch at the new Thai place sounds great to me",
    "Can we move lunch to Friday, I have a meeting",
    "Let's get pizza for lunch, my treat this time",
]
FOOTBALL = [
    "What a goal in the last minute of the match tonight!",
    "The referee was terrible, that penalty should never have been given",
    "Our striker finally scored after ten games without a goal",
    "The derby ended in a draw, both keepers were brilliant",
    "Did you watch the football? The second half was amazing",
    "They sacked the manager after the fifth defeat in a row",
]
TEXTS = PRIZE + LUNCH + FOOTBALL


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return get_embedder("minilm").embed(TEXTS)


def test_uncertainty_is_centred_on_each_categorys_threshold():
    p = np.array([0.05, 0.2, 0.5, 0.9])
    # With the policy flagging at 0.2, an item at 0.2 is the most uncertain one, not the one at 0.5.
    assert int(np.argmax(uncertainty_scores(p, 0.2))) == 1
    assert int(np.argmax(uncertainty_scores(p, 0.5))) == 2
    # A category that never flags (threshold >= 1) leaves every item certain.
    assert uncertainty_scores(p, 1.0).max() < 1e-3
    # On one category, margin ranks exactly like entropy.
    assert np.argsort(margin_scores(p, 0.2)).tolist() == np.argsort(-uncertainty_scores(p, 0.2)).tolist()


def test_margin_and_uncertainty_differ_with_several_categories():
    # Item 0: one category right at its boundary, the other sure. Item 1: both fairly uncertain.
    p = np.array([[0.49, 0.001], [0.7, 0.7]])
    assert int(np.argmin(margin_scores(p))) == 0
    assert int(np.argmax(uncertainty_scores(p))) == 1
    thresholds = np.array([[0.5, 0.5], [0.7, 0.5]])  # per item (language route) and category
    assert int(np.argmax(uncertainty_scores(p, thresholds))) == 1
    with pytest.raises(ValidationError, match="do not fit"):
        uncertainty_scores(p, np.array([0.5, 0.5, 0.5]))


def test_kcenter_covers_the_other_topics_first(vectors: np.ndarray):
    labelled = np.zeros(len(TEXTS), dtype=bool)
    labelled[0] = True
    picks = kcenter_greedy(vectors, labelled, 2)
    topics = {("prize", "lunch", "football")[i // 6] for i in picks}
    assert topics == {"lunch", "football"}, [TEXTS[i] for i in picks]
    # Each pick is the unlabelled item farthest from everything labelled or picked before it.
    x = normalise(vectors)
    chosen = [0]
    for pick in kcenter_greedy(vectors, labelled, 5):
        dist = min_distances(x, x[chosen])
        dist[chosen] = -1
        assert dist[pick] == pytest.approx(dist.max(), abs=1e-5)
        chosen.append(int(pick))


def test_kcenter_covers_the_pool_better_than_random(vectors: np.ndarray):
    x = normalise(vectors)
    labelled = np.zeros(len(TEXTS), dtype=bool)
    labelled[3] = True

    def radius(picks: np.ndarray) -> float:
        return float(min_distances(x, x[np.r_[3, picks]]).max())

    greedy = radius(kcenter_greedy(vectors, labelled, 3))
    # Greedy k-center is a 2-approximation of the best covering radius (brute force: 680 triples).
    others = [i for i in range(len(TEXTS)) if i != 3]
    best = min(radius(np.array(c)) for c in itertools.combinations(others, 3))
    assert best <= greedy <= 2 * best
    randoms = [radius(propose("random", None, None, labelled, 3, seed=s)) for s in range(20)]
    assert greedy < float(np.mean(randoms))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_propose_contract(strategy: str, vectors: np.ndarray):
    rng = np.random.default_rng(1)
    p = rng.random(len(TEXTS))
    labelled = np.zeros(len(TEXTS), dtype=bool)
    labelled[[0, 7, 13]] = True
    picks = propose(strategy, p, vectors, labelled, 5, seed=3)
    assert len(picks) == 5 == len(set(picks.tolist()))
    assert not labelled[picks].any()
    assert picks.tolist() == propose(strategy, p, vectors, labelled, 5, seed=3).tolist()
    # A budget above the unlabelled count returns every unlabelled item once.
    everything = propose(strategy, p, vectors, labelled, 100, seed=3)
    assert sorted(everything.tolist()) == np.flatnonzero(~labelled).tolist()
    assert len(propose(strategy, p, vectors, labelled, 0)) == 0


def test_propose_orders_and_rejects_bad_input(vectors: np.ndarray):
    p = np.linspace(0.02, 0.9, len(TEXTS))  # no two items equally far from 0.5
    labelled = np.zeros(len(TEXTS), dtype=bool)
    closest = np.argsort(np.abs(p - 0.5))
    assert propose("uncertainty", p, None, labelled, 3).tolist() == closest[:3].tolist()
    # Hybrid: diverse picks from the most uncertain shortlist (factor 2 -> 6 candidates).
    hybrid = propose("hybrid", p, vectors, labelled, 3, hybrid_factor=2)
    assert set(hybrid.tolist()) <= set(closest[:6].tolist())
    with pytest.raises(ValidationError, match="unknown strategy"):
        propose("entropy", p, vectors, labelled, 3)
    with pytest.raises(ValidationError, match="needs embeddings"):
        propose("kcenter", p, None, labelled, 3)
    with pytest.raises(ValidationError, match="needs model probabilities"):
        propose("margin", None, vectors, labelled, 3)
    with pytest.raises(ValidationError, match="probabilities"):
        propose("uncertainty", p[:-1], None, labelled, 3)
    with pytest.raises(ValidationError, match="within"):
        propose("uncertainty", p * 2, None, labelled, 3)


def _label(text: str, action: str, cats: list[str], reviewer: str, minutes: int, **extra: str) -> dict:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    row = {"content_id": extra.pop("cid", text[:8]), "text": text, "language": "en", "categories": cats}
    return row | {"action": action, "reviewer": reviewer, "at": at.isoformat(), "source": "review"} | extra


def test_review_labels_resolution_rules():
    rows = [
        # Two of three reviewers remove as hate: violating, hate=1, other categories unknown.
        _label("you people are vermin", "remove", ["hate"], "a", 1),
        _label("you people are vermin", "remove", ["hate", "harassment"], "b", 2),
        _label("you people are vermin", "allow", [], "c", 3),
        # A relabel by the same reviewer replaces their first answer: 1 allow vs 1 remove is a tie.
        _label("see you at the game", "remove", ["violence"], "a", 1),
        _label("see you at the game", "allow", [], "b", 2),
        # An appeal is final whatever the majority said.
        _label("buy cheap watches here", "remove", ["spam_scam"], "a", 1),
        _label("buy cheap watches here", "remove", ["spam_scam"], "b", 2),
        _label("buy cheap watches here", "allow", [], "x", 9, source="appeal"),
        # The relabel queue wins over the first review.
        _label("nice photo!!", "remove", ["spam_scam"], "a", 1),
        _label("nice photo!!", "allow", [], "q", 5, queue="relabel"),
        # 'review' without categories says nothing.
        _label("hmm", "review", [], "a", 1),
        # Same reviewer relabels: the later answer counts.
        _label("I will find you", "allow", [], "d", 1),
        _label("I will find you", "remove", ["violence"], "d", 4),
    ]
    items, stats = review_items(parse_review_labels(rows))
    by_text = {i.text: i for i in items}
    assert by_text["you people are vermin"].labels == {"hate": 1}
    assert by_text["buy cheap watches here"].labels == BENIGN
    assert by_text["nice photo!!"].labels == BENIGN
    assert by_text["I will find you"].labels == {"violence": 1}
    assert "see you at the game" not in by_text and "hmm" not in by_text
    assert stats["unsettled"] == 2 and stats["texts"] == 6
    assert {i.split for i in items} <= {"train", "calib"} and all(i.dataset == "review" for i in items)


def test_review_labels_errors_name_the_line():
    rows = [
        _label("ok", "allow", [], "a", 1),
        {"text": "", "at": "2026-01-01T00:00:00"},
        _label("x", "remove", ["not_a_category"], "a", 1),
        _label("y", "remove", ["hate"], "a", 1) | {"at": 5},
    ]
    with pytest.raises(ValidationError) as err:
        parse_review_labels(rows, source="labels.jsonl")
    message = str(err.value)
    assert "3 bad review label(s)" in message
    assert "labels.jsonl:2: 'text'" in message and "labels.jsonl:3: unknown categories" in message
    assert "labels.jsonl:4: 'at'" in message


def _item(text: str, split: str, labels: dict[str, int], dataset: str = "sms-spam-collection") -> LabeledText:
    return LabeledText(f"{dataset}:{text}", text, "en", labels, dataset, split, int(any(labels.values())))


def test_merge_review_labels_overrides_and_protects_the_test_split():
    items = [
        _item("Free prize, call now!", "train", {"spam_scam": 1}),
        _item("free prize call now", "calib", {"spam_scam": 1}),  # near copy: same text for the merge
        _item("lunch at noon?", "train", dict(BENIGN)),
        _item("WIN a car today", "test", {"spam_scam": 1}),
        _item("golden text", "train", dict(BENIGN)),
    ]
    reviewed, _ = review_items(
        parse_review_labels(
            [
                _label("FREE PRIZE - call now", "allow", [], "a", 1),  # a reviewer says: not spam
                _label("win a car today!!", "remove", ["spam_scam"], "a", 1),  # repeats a test item
            ]
        )
    )
    merged, stats = merge_review_labels(items, reviewed, protected_texts=["Golden text."])
    texts = {i.text: i for i in merged}
    assert "Free prize, call now!" not in texts and "free prize call now" not in texts
    assert texts["FREE PRIZE - call now"].labels == BENIGN
    assert "win a car today!!" not in texts and "WIN a car today" in texts  # the test item stays
    assert "golden text" not in texts
    assert stats == {
        "review_items": 1,
        "review_dropped_test_overlap": 1,
        "dataset_items_overridden": 2,
        "dataset_items_dropped_protected": 1,
    }


def test_simulation_active_learning_beats_random_on_sms_spam(tmp_path: Path):
    """A real oracle run on a seeded SMS subsample: uncertainty sampling needs fewer labels."""
    from warden.learn.simulate import SimulationConfig, load_task, run_and_report

    data = require_data("sms-spam-collection").parent
    task = load_task("sms-spam-collection", "spam_scam", data, REPO / ".cache" / "embeddings", max_pool=1500)
    assert set(np.unique(task.y_test)) == {0, 1} and len(task.y_pool) == 1500
    config = SimulationConfig(strategies=("random", "uncertainty"), seeds=2, max_fraction=0.12)
    result = run_and_report(task, config, tmp_path, stem="al")
    assert result.full_f1 > 0.85
    assert result.labels[0] == 20 and result.labels[-1] <= 0.12 * 1500
    assert result.f1_at("uncertainty", 0.10) > result.f1_at("random", 0.10)
    assert result.fraction_for("uncertainty") <= 0.10
    figures = result.figures()
    for key in ("best_labels_fraction_for_95pct_f1", "random_labels_fraction_for_95pct_f1", "full_data_f1"):
        assert 0 < figures[key] <= 1
    assert (tmp_path / "al.png").stat().st_size > 10_000
    table = (tmp_path / "al.md").read_text()
    assert "| random | uncertainty |" in table and "fraction for 95 % of full F1" in table
    saved = json.loads((tmp_path / "al.json").read_text())
    assert saved["figures"] == figures and len(saved["f1"]["random"]) == 2


def test_learn_cli_proposes_unlabelled_uncertain_items(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pool = tmp_path / "pool.jsonl"
    rows = [{"id": f"t{i}", "text": t} for i, t in enumerate(TEXTS)]
    rows[0]["labels"] = ["spam_scam"]  # already labelled: never proposed
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps(_label(TEXTS[6], "allow", [], "a", 1)) + "\n")
    out = tmp_path / "batch.jsonl"
    args = ["learn", "--data", str(pool), "--budget", "4", "--strategy", "hybrid"]
    res = CliRunner().invoke(app, [*args, "--labels", str(labels), "--out", str(out)])
    assert res.exit_code == 0, res.output
    batch = [json.loads(line) for line in out.read_text().splitlines()]
    assert [b["rank"] for b in batch] == [1, 2, 3, 4]
    ids = {b["id"] for b in batch}
    assert len(ids) == 4 and not ids & {"t0", "t6"}
    assert all(b["strategy"] == "hybrid" and len(b["scores"]) == 3 for b in batch)
    # Uncertainty sampling proposes the items closest to a flag threshold first.
    monkeypatch.chdir(tmp_path)  # the default --out is batch.jsonl in the working directory
    args = ["learn", "--data", str(pool), "--budget", "30", "--strategy", "uncertainty"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    ranked = [json.loads(line) for line in (tmp_path / "batch.jsonl").read_text().splitlines()]
    assert len(ranked) == len(TEXTS) - 1
    scores = [r["uncertainty"] for r in ranked]
    assert scores == sorted(scores, reverse=True)
    res = CliRunner().invoke(app, ["learn", "--budget", "3", "--out", str(out)])
    assert res.exit_code == 2 and "exactly one pool" in res.output


def test_learn_and_labels_from_the_review_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Pool = pending review tasks of a real SQLite store; a reviewed item is labelled, not proposed."""
    from warden.content import Content
    from warden.learn.active import pool_from_store
    from warden.learn.review_labels import labels_from_store
    from warden.media.storage import MediaStore
    from warden.moderator import Moderator
    from warden.review.service import ReviewService
    from warden.settings import ReviewSettings, Settings, get_settings
    from warden.store import Store

    url = f"sqlite:///{tmp_path / 'review.db'}"
    monkeypatch.setenv("WARDEN_DATABASE_URL", url)
    monkeypatch.setenv("WARDEN_REVIEW__QA_SAMPLE_RATE", "0")
    monkeypatch.setenv("WARDEN_REVIEW__GOLD_RATE", "0")
    get_settings.cache_clear()
    try:
        settings = Settings(database_url=url, review=ReviewSettings(qa_sample_rate=0.0, gold_rate=0.0))
        store = Store(url)
        store.migrate()
        texts = [
            "I will kill you and your family",
            "go back to your country you animals",
            "you people are disgusting",
            "shut up moron",
            "what a lovely day",
        ]
        items = [Content(id=f"c{i}", text=t) for i, t in enumerate(texts)]
        moderator = Moderator.from_settings(settings).load()
        service = ReviewService(store, moderator.policy, settings, MediaStore(tmp_path / "media"))
        tasks = service.enqueue_decisions(items, store.save_decisions(moderator.moderate(items), "t"), "t")
        queued = {t.content_id for t in tasks}
        assert len(queued) >= 3, "the routing no longer sends these items to review"
        task = service.lease_next("rev1")
        assert task is not None
        service.decide(task.id, "rev1", "remove", ["violence"] if "kill" in task.text else ["hate"])

        [label] = labels_from_store(service)
        assert label.text == task.text and label.reviewer == "rev1"
        pool = pool_from_store(service)
        assert {i.id for i in pool if not i.labelled} <= queued - {task.content_id}
        assert [i.id for i in pool if i.labelled] == [task.content_id]
        out = tmp_path / "batch.jsonl"
        res = CliRunner().invoke(app, ["learn", "--from-store", "--budget", "2", "--out", str(out)])
        assert res.exit_code == 0, res.output
        proposed = [json.loads(line)["id"] for line in out.read_text().splitlines()]
        assert len(proposed) == 2 and task.content_id not in proposed
    finally:
        get_settings.cache_clear()
