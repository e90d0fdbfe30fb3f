"""The quality benchmark's scoring rules (partial labels, own-category recall, benign mixture) with the
real shipped moderator, and the training weights that keep one source from deciding the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from warden import Content, Moderator
from warden.bench.quality import (
    Scored,
    benign_mixture,
    contrast_figures,
    detection_metrics,
    score_items,
)
from warden.learn.datasets import CATEGORIES, LabeledText
from warden.learn.train import TrainConfig, _per_dataset_sample, category_weights, source_weights
from warden.settings import get_settings


def _item(
    text: str,
    labels: dict[str, int],
    dataset: str = "x",
    split: str = "test",
    phenomenon: str | None = None,
    language: str = "en",
    sid: str | None = None,
) -> LabeledText:
    violating = any(v == 1 for v in labels.values())
    any_violation = 1 if violating else (0 if len(labels) == len(CATEGORIES) else None)
    return LabeledText(
        id=sid or f"{dataset}:{text}",
        text=text,
        language=language,
        labels=labels,
        dataset=dataset,
        split=split,
        any_violation=any_violation,
        phenomenon=phenomenon,
    )


def _moderator_without_exits() -> Moderator:
    settings = get_settings()
    return Moderator.from_settings(settings.override(pipeline={"cascade_exits": False})).load()


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return _moderator_without_exits()


def test_only_labelled_categories_count(moderator: Moderator) -> None:
    text = "WINNER!! You have won a free iPhone, click http://bit.ly/x to claim your prize now"
    [decision] = moderator.moderate([Content(id="t", text=text)])
    flagged = [c for c, s in decision.categories.items() if s.flagged]
    unflagged = [c for c, s in decision.categories.items() if not s.flagged]
    assert flagged and unflagged, decision.categories  # flagged for spam, not for everything
    # Labelled only for a category the model did not flag: not a false positive, whatever else it flagged.
    [quiet] = score_items(moderator, [_item(text, {unflagged[0]: 0})])
    assert not quiet.flagged_known and not quiet.caught_own
    [hit] = score_items(moderator, [_item(text, {flagged[0]: 1})])
    assert hit.flagged_known and hit.caught_own
    # A violation of one category flagged only for another is flagged, but not caught by its own.
    [wrong] = score_items(moderator, [_item(text, {unflagged[0]: 1, flagged[0]: 0})])
    assert wrong.flagged_known and not wrong.caught_own
    assert wrong.score_known == pytest.approx(
        max(decision.categories[c].probability for c in (unflagged[0], flagged[0])), abs=1e-6
    )


def test_detection_metrics_from_partial_labels() -> None:
    def scored(violating: bool, flagged: bool, score: float) -> Scored:
        return Scored(
            _item(f"{violating}{flagged}{score}", {"hate": int(violating)}), flagged, flagged, score
        )

    rows = [
        scored(True, True, 0.9),
        scored(True, False, 0.4),
        scored(False, True, 0.6),
        scored(False, False, 0.1),
    ]
    rows.append(Scored(_item("no labels", {}), True, False, 0.99))  # nothing known: left out
    m = detection_metrics(rows)
    assert (m["n"], m["positives"]) == (4, 2)
    assert m["f1"] == pytest.approx(0.5) and m["fpr"] == pytest.approx(0.5)
    assert m["pr_auc"] == pytest.approx(0.8333, abs=1e-3)  # ranks 0.9 (pos), 0.6 (neg), 0.4 (pos)


def test_contrast_figures_per_phenomenon_and_language(moderator: Moderator) -> None:
    benign = dict.fromkeys(CATEGORIES, 0)
    suite = [
        _item(
            "Could you kill the process that is hogging the CPU?", benign, "warden-contrast", phenomenon="fig"
        ),
        _item(
            "Tengo que matar el proceso del servidor",
            benign,
            "warden-contrast",
            phenomenon="fig",
            language="es",
        ),
        _item(
            "I will find you tonight and stab you",
            {**benign, "violence": 1},
            "warden-contrast",
            phenomenon="t",
        ),
    ]
    figures = contrast_figures(moderator, suite)
    scored = score_items(moderator, suite)
    expected_benign = np.mean([not s.flagged_known for s in scored[:2]])
    assert figures["contrast_nonviolating_accuracy"] == pytest.approx(expected_benign)
    assert figures["contrast_violating_recall"] == float(scored[2].caught_own)
    assert figures["contrast_fig_acc"] == pytest.approx(expected_benign)
    assert set(figures) >= {
        "contrast_lang_en_acc",
        "contrast_lang_es_acc",
        "contrast_t_acc",
        "contrast_items",
    }
    assert contrast_figures(moderator, []) == {}


def test_benign_mixture_takes_fully_benign_test_items_only() -> None:
    benign = dict.fromkeys(CATEGORIES, 0)
    items = [_item(f"ok {i}", benign, "a") for i in range(400)]
    items += [_item("not hate only", {"hate": 0}, "a"), _item("bad", {**benign, "hate": 1}, "a")]
    items += [_item("calib", benign, "a", split="calib"), _item("suite", benign, "warden-contrast")]
    mixture = benign_mixture(items)
    assert len(mixture) == 300 and all(i.any_violation == 0 and i.split == "test" for i in mixture)
    assert mixture == benign_mixture(list(reversed(items)))  # the same sample whatever the order


def test_source_weights_bound_each_data_sets_say() -> None:
    items = [_item(f"big {i}", {"hate": 0}, "big", "train") for i in range(20_000)]
    items += [_item(f"small {i}", {"hate": 1}, "small", "train") for i in range(100)]
    w = source_weights(items, TrainConfig(data_dir=Path("."), out_dir=Path(".")))
    assert w[0] == pytest.approx(0.25) and w[-1] == pytest.approx(4.0)  # 2000/20000 clipped; 2000/100 clipped
    assert (source_weights(items, TrainConfig(Path("."), Path("."), balance_target=None)) == 1).all()
    y = np.array([1] * 10 + [0] * 990)
    boosted = category_weights(y, np.ones(1000), max_positive_weight=8.0)
    assert boosted[0] == pytest.approx(8.0) and boosted[-1] == 1.0  # sqrt(990/10) ~ 9.9, capped at 8
    assert category_weights(np.array([1, 0]), np.ones(2), 8.0).tolist() == [1.0, 1.0]


def test_per_dataset_sample_keeps_rare_positives_when_asked() -> None:
    items = [_item(f"n{i}", {"extremism": 0}, "de", "train", sid=f"de:n{i}") for i in range(5000)]
    items += [_item(f"p{i}", {"extremism": 1}, "de", "train", sid=f"de:p{i}") for i in range(50)]
    plain = _per_dataset_sample(items, 1000)
    first = _per_dataset_sample(items, 1000, positives_first=True)
    assert len(plain) == len(first) == 1000
    assert sum(bool(i.positives()) for i in first) == 50 > sum(bool(i.positives()) for i in plain)
    assert _per_dataset_sample(items, 1000) == plain  # deterministic
    assert len(_per_dataset_sample(items, None)) == len(items)


def test_leave_one_out_fold_never_trains_on_the_held_out_family(tmp_path: Path) -> None:
    """A real fold: train without YouTube spam (SMS spam only), score YouTube comments with the fold."""
    from support import require_data

    from warden.bench.quality import loo_families, loo_fold, loo_held_out
    from warden.learn.datasets import load_datasets
    from warden.policy import load_policy

    data = require_data()
    items = load_datasets(data, ["sms-spam-collection", "youtube-spam-collection"])
    assert set(loo_families(items)) == {"sms-spam-collection", "youtube-spam-collection"}
    settings = get_settings().model_copy(update={"data_dir": data})
    metrics, report = loo_fold(
        settings,
        load_policy(settings.policy_path),
        items,
        "youtube-spam-collection",
        tmp_path / "fold",
        cap=500,
        n_eval=200,
        cache_dir=tmp_path / "cache",
    )
    assert set(report["datasets"]) == {"sms-spam-collection"}  # type: ignore[arg-type]
    assert metrics["n"] == 200 and 0 < metrics["positives"] < 200
    # The shipped models were trained on these comments and rank them almost perfectly; the fold,
    # which never saw one, does much worse (SMS spam hardly carries over to comment spam).
    held_out = loo_held_out(items, ["youtube-spam-collection"], 200)
    in_domain = detection_metrics(score_items(_moderator_without_exits(), held_out))
    assert in_domain["n"] == 200 and in_domain["pr_auc"] > 0.9, in_domain
    assert metrics["pr_auc"] < in_domain["pr_auc"] - 0.2, (metrics, in_domain)
    with pytest.raises(ValueError, match="unknown family 'nope'"):
        loo_fold(settings, load_policy(settings.policy_path), items, "nope", tmp_path / "x")


def test_leave_one_out_resumes_from_finished_folds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fold that finished before is read back, not retrained; a changed option runs it again."""
    from warden.bench import quality
    from warden.policy import load_policy

    settings = get_settings()
    policy = load_policy(settings.policy_path)
    items = [_item(f"spam {i}", {"spam_scam": i % 2}, "sms-spam-collection", "train") for i in range(20)]
    runs: list[int] = []

    def fake_fold(*args: object, **kwargs: object) -> tuple[dict[str, float], dict[str, object]]:
        runs.append(1)  # stands in for a training run (minutes); the cache logic is what is tested
        return {"f1": 0.5, "pr_auc": 0.6, "fpr": 0.1, "n": 20.0, "positives": 10.0}, {}

    monkeypatch.setattr(quality, "loo_fold", fake_fold)
    first = quality.loo_figures(settings, policy, items, fold_cache=tmp_path, n_eval=20)
    again = quality.loo_figures(settings, policy, items, fold_cache=tmp_path, n_eval=20)
    assert first == again and first["loo_sms-spam-collection_f1"] == 0.5 and len(runs) == 1
    quality.loo_figures(settings, policy, items, fold_cache=tmp_path, n_eval=10)
    assert len(runs) == 2
    with pytest.raises(ValueError, match="unknown families"):
        quality.loo_figures(settings, policy, items, ["nope"], fold_cache=tmp_path)
