"""The fast tier distilled from the encoder tier: soft targets, the soft-label logistic fit, the
held-out agreement it reports, and fusion's stand-in for categories without calibration labels."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from warden.fusion import FusionModel
from warden.learn.distill import agreement, fit_soft_logistic, soft_targets
from warden.signals import Signal


def test_soft_targets_mix_label_and_teacher_where_both_exist() -> None:
    hard = np.array([[1, -1, 0], [-1, -1, 0]])
    teacher = np.array([[0.6, 0.2, np.nan], [np.nan, np.nan, 0.4]], dtype=np.float32)
    target = soft_targets(hard, teacher, hard_weight=0.5)
    assert np.allclose(target[0], [0.8, 0.2, 0.0])
    assert np.isnan(target[1, 0]) and np.isnan(target[1, 1]) and np.isclose(target[1, 2], 0.2)


def _toy(n: int = 400, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = sp.random(n, 50, density=0.1, format="csr", random_state=seed)
    logit = x @ rng.normal(size=50) * 3 - 0.5
    return x, 1 / (1 + np.exp(-logit))


def test_soft_fit_equals_the_hard_fit_on_hard_targets() -> None:
    x, p = _toy()
    y = (p > 0.5).astype(float)
    coef, bias = fit_soft_logistic(x, y, np.ones(len(y)), c=1.0, max_positive_weight=1.0, seed=0)
    ref = LogisticRegression(C=1.0, solver="liblinear", max_iter=2000, random_state=0).fit(x, y)
    assert np.allclose(coef, ref.coef_[0], atol=1e-3) and abs(bias - ref.intercept_[0]) < 1e-3


def test_soft_fit_learns_the_teacher_not_its_rounding() -> None:
    """Against soft targets the student's probabilities track the teacher's, and they rank the
    items as the teacher does far better than a student of the rounded labels calibrates them."""
    x, p = _toy(2000, seed=1)
    coef, bias = fit_soft_logistic(x, p, np.ones(len(p)), c=10.0, max_positive_weight=1.0, seed=0)
    student = 1 / (1 + np.exp(-(x @ coef + bias)))
    assert np.abs(student - p).mean() < 0.08
    report = agreement(student[:, None], p[:, None].astype(np.float32), ["cat"])["cat"]
    assert report["agreement_at_0.5"] > 0.85 and report["spearman"] > 0.9
    assert report["n"] == 2000


def test_agreement_skips_categories_without_teacher_scores() -> None:
    teacher = np.full((30, 2), np.nan, dtype=np.float32)
    teacher[:, 0] = np.linspace(0, 1, 30)
    out = agreement(np.tile(np.linspace(0, 1, 30)[:, None], (1, 2)), teacher, ["a", "b"])
    assert set(out) == {"a"} and out["a"]["agreement_at_0.5"] == 1.0


def test_fusion_stand_in_prefers_the_few_shot_over_the_distilled_fast_tier() -> None:
    """A category fusion has no model for takes the few-shot's score when the few-shot ran, and the
    distilled fast tier's otherwise (after the fast tier alone)."""
    fusion = FusionModel(version="t")
    fast = Signal("linear_ngram", "1", scores={"sexual_minors": 0.02})
    fewshot = Signal("fewshot_minilm", "1", scores={"sexual_minors": 0.3})
    probs, evaluated = fusion.fuse([[fast], [fast, fewshot]], ["linear_ngram"], ["sexual_minors", "x"])
    assert np.allclose(probs[:, 0], [0.02, 0.3]) and evaluated[:, 0].all()
    assert not evaluated[:, 1].any()  # nothing scored "x"
