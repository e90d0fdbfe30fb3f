"""Distil the encoder tier into the fast n-gram tier (its soft labels over a pool of texts).

Why: the cascade may send an item home after the fast tier only when that tier scored every
category of the policy, and a supervised n-gram model can only learn the categories that have
labelled data (`sexual_minors` has none: only the policy few-shot scores it). Trained on the encoder
tier's scores instead, the fast tier learns every category the encoders score, agrees with them on
easy items, and its benign exit becomes possible (`warden cascade fit`).

Teacher: the detectors of every tier after the first, exactly as served (the fine-tuned encoders
where their artifacts exist, else their frozen-head fallbacks; the policy few-shot for categories no
encoder learned). Per item and category the first applicable detector that scores it is the teacher.
Targets: where a data set's label is known, a mix of label and teacher (`hard_weight`); where it is
unknown (most items, for most categories), the teacher alone. Each item enters the logistic fit
twice, as a positive weighted by its target and as a negative weighted by one minus it: the
cross-entropy against a soft target, with scikit-learn's solver.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from rich.console import Console
from rich.progress import Progress

from ..content import Content
from ..detectors.base import Detector
from ..text.features import HashedNgrams
from ..text.langid import detect_languages
from .datasets import LabeledText, labels_matrix

# Detectors a teacher score comes from first: a fine-tuned or head encoder over the few-shot.
_FEWSHOT_PREFIX = "fewshot_"


@dataclass
class DistillSettings:
    # Teacher pool: at most this many items per data set (a deterministic hash sample), all languages.
    max_per_dataset: int | None = 3000
    hard_weight: float = 0.5  # share of the data set's label in the target, where it is known
    min_teacher_items: int = 500  # a category is distilled only with this many teacher scores
    holdout_share: float = 0.1  # of the pool, never fitted: where agreement is measured
    batch: int = 256


def _hash_unit(text: str) -> float:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def teacher_scores(
    detectors: Sequence[Detector],
    items: Sequence[LabeledText],
    categories: Sequence[str],
    batch: int = 256,
    console: Console | None = None,
) -> tuple[np.ndarray, dict[str, dict[str, int]]]:
    """(n_items, n_categories) teacher scores, NaN where no detector scores the pair, and per
    category how many scores each detector supplied."""
    ordered = sorted(detectors, key=lambda d: d.name.startswith(_FEWSHOT_PREFIX))
    texts = [i.text for i in items]
    languages = detect_languages(texts)
    out = np.full((len(items), len(categories)), np.nan, dtype=np.float32)
    sources: dict[str, dict[str, int]] = {c: {} for c in categories}
    col = {c: k for k, c in enumerate(categories)}
    with Progress(console=console or Console(), transient=True) as progress:
        task = progress.add_task("distillation: teacher scores", total=len(items))
        for start in range(0, len(items), batch):
            rows = range(start, min(start + batch, len(items)))
            contents = [Content(id=f"distill-{r}", text=texts[r]) for r in rows]
            langs = [languages[r] for r in rows]
            for det in ordered:
                for r, sig in zip(rows, det.detect(contents, langs), strict=True):
                    if not sig.applicable:
                        continue
                    for cat, score in sig.scores.items():
                        k = col.get(cat)
                        if k is not None and np.isnan(out[r, k]):
                            out[r, k] = score
                            sources[cat][det.name] = sources[cat].get(det.name, 0) + 1
            progress.advance(task, len(rows))
    return out, sources


def cached_teacher_scores(
    cache_dir: Path | None,
    detectors: Sequence[Detector],
    items: Sequence[LabeledText],
    categories: Sequence[str],
    batch: int = 256,
    console: Console | None = None,
) -> tuple[np.ndarray, dict[str, dict[str, int]]]:
    """`teacher_scores`, kept in `cache_dir` under a key of the teachers' identities, the categories
    and the pool's texts: refitting the student (another `hard_weight`, say) costs no inference."""
    if cache_dir is None:
        return teacher_scores(detectors, items, categories, batch, console)
    key = hashlib.sha256()
    for part in sorted(d.identity for d in detectors) + list(categories):
        key.update(part.encode() + b"\x00")
    for item in items:
        key.update(item.text.encode("utf-8", "surrogatepass") + b"\x00")
    path = Path(cache_dir) / f"teacher-{key.hexdigest()[:16]}.npz"
    if path.exists():
        data = np.load(path, allow_pickle=False)
        return data["scores"], json.loads(str(data["sources"]))
    scores, sources = teacher_scores(detectors, items, categories, batch, console)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, scores=scores, sources=np.array(json.dumps(sources)))
    return scores, sources


def soft_targets(hard: np.ndarray, teacher: np.ndarray, hard_weight: float) -> np.ndarray:
    """Per item and category: label/teacher mix where both exist, whichever exists otherwise, NaN
    where neither does (`hard` uses -1 for unknown)."""
    known = hard >= 0
    has_teacher = ~np.isnan(teacher)
    target = np.where(known, hard.astype(np.float32), teacher)
    both = known & has_teacher
    target[both] = hard_weight * hard[both] + (1 - hard_weight) * teacher[both]
    return target


def fit_soft_logistic(
    x: sp.csr_matrix,
    target: np.ndarray,
    base_weight: np.ndarray,
    c: float,
    max_positive_weight: float,
    seed: int,
) -> tuple[np.ndarray, float]:
    """Logistic regression against soft targets: each row twice, as 1 weighted by its target and as
    0 weighted by the rest; the positive mass up-weighted like `train.category_weights`."""
    from sklearn.linear_model import LogisticRegression

    pos = base_weight * target
    neg = base_weight * (1 - target)
    boost = float(np.clip(np.sqrt(neg.sum() / max(pos.sum(), 1e-9)), 1.0, max_positive_weight))
    xx = sp.vstack([x, x], format="csr")
    yy = np.concatenate([np.ones(x.shape[0]), np.zeros(x.shape[0])])
    ww = np.concatenate([pos * boost, neg])
    keep = ww > 1e-6  # rows with no weight cost the solver time and change nothing
    model = LogisticRegression(C=c, solver="liblinear", max_iter=2000, random_state=seed)
    model.fit(xx[keep], yy[keep], sample_weight=ww[keep])
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def agreement(student: np.ndarray, teacher: np.ndarray, categories: Sequence[str]) -> dict[str, Any]:
    """Student vs teacher on held-out pool items: decisions at 0.5 that agree, mean absolute
    difference, and the Spearman rank correlation, per category."""
    from scipy.stats import spearmanr

    out: dict[str, Any] = {}
    for k, cat in enumerate(categories):
        ok = ~np.isnan(teacher[:, k])
        if ok.sum() < 20:
            continue
        s, t = student[ok, k], teacher[ok, k]
        rho = spearmanr(s, t).statistic if np.std(t) > 0 and np.std(s) > 0 else float("nan")
        out[cat] = {
            "n": int(ok.sum()),
            "agreement_at_0.5": round(float(((s >= 0.5) == (t >= 0.5)).mean()), 4),
            "teacher_positive_share": round(float((t >= 0.5).mean()), 4),
            "mean_abs_diff": round(float(np.abs(s - t).mean()), 4),
            "spearman": round(float(rho), 4),
        }
    return out


def distill_fast_tier(
    train_items: Sequence[LabeledText],
    pool: Sequence[LabeledText],
    teachers: Sequence[Detector],
    categories: Sequence[str],
    base_weights: np.ndarray,
    *,
    c: float,
    max_positive_weight: float,
    seed: int,
    settings: DistillSettings,
    console: Console | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Fit the n-gram tier on every train item (labels) and the pool (teacher scores too).

    Returns weights (n_features, n_distilled), bias, the distilled categories and a report with the
    teacher's sources and the held-out agreement. `pool` items are a subset of `train_items`."""
    console = console or Console()
    started = time.time()
    feats = HashedNgrams()
    pool_ids = {i.id for i in pool}
    held = {i.id for i in pool if _hash_unit(i.text) < settings.holdout_share}
    fit_items = [i for i in train_items if i.id not in held]
    held_items = [i for i in pool if i.id in held]
    index = {i.id: r for r, i in enumerate(fit_items)}
    teacher_pool = [i for i in pool if i.id not in held] + held_items
    scores, sources = cached_teacher_scores(
        cache_dir, teachers, teacher_pool, categories, settings.batch, console
    )
    teacher_fit = np.full((len(fit_items), len(categories)), np.nan, dtype=np.float32)
    n_fit_pool = len(teacher_pool) - len(held_items)
    for r, item in enumerate(teacher_pool[:n_fit_pool]):
        teacher_fit[index[item.id]] = scores[r]
    teacher_held = scores[n_fit_pool:]
    hard = labels_matrix(fit_items, categories)
    target = soft_targets(hard, teacher_fit, settings.hard_weight)
    weight_of = dict(zip((i.id for i in train_items), base_weights, strict=True))
    base = np.array([weight_of[i.id] for i in fit_items], dtype=np.float64)
    x = feats.transform([i.text for i in fit_items])
    distilled = [
        cat
        for k, cat in enumerate(categories)
        if (~np.isnan(teacher_fit[:, k])).sum() >= settings.min_teacher_items or (hard[:, k] == 1).sum() >= 40
    ]
    weights = np.zeros((feats.n_features, len(distilled)), dtype=np.float32)
    bias = np.zeros(len(distilled), dtype=np.float32)
    for j, cat in enumerate(distilled):
        k = categories.index(cat)
        rows = np.flatnonzero(~np.isnan(target[:, k]))
        t0 = time.time()
        weights[:, j], bias[j] = fit_soft_logistic(
            x[rows], target[rows, k], base[rows], c, max_positive_weight, seed
        )
        console.print(
            f"  fast tier (distilled) [cyan]{cat}[/]: {len(rows):,} rows "
            f"({int((~np.isnan(teacher_fit[rows, k])).sum()):,} with teacher), {time.time() - t0:.1f}s"
        )
    logits = feats.transform([i.text for i in held_items]) @ weights + bias
    student_held = 1 / (1 + np.exp(-logits))
    full_student = np.full((len(held_items), len(categories)), np.nan, dtype=np.float32)
    for j, cat in enumerate(distilled):
        full_student[:, categories.index(cat)] = student_held[:, j]
    report = {
        "categories": distilled,
        "pool": len(pool_ids),
        "held_out": len(held_items),
        "hard_weight": settings.hard_weight,
        "teacher_sources": sources,
        "agreement_held_out": agreement(full_student, teacher_held, categories),
        "seconds": round(time.time() - started, 1),
    }
    return {"weights": weights, "bias": bias, "categories": distilled, "report": report}
