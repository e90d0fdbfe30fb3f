"""`warden train`: fit the shipped text models from the labelled data sets.

Steps (all seeded, all on fixed splits from `splits.py`):
1. encoder tier: logistic heads on frozen MiniLM (English) and multilingual-E5 (other
   languages, plus an English sample for cross-lingual transfer) embeddings (train split), and the
   fine-tuned encoders (`finetune/`) that serve in their place;
2. fast tier: per-category logistic regression on hashed n-grams (train split, every language),
   distilled from the encoder tier's scores over a pool of texts (`distill.py`) so that it scores
   every category the encoder tier does, or on the labels alone;
3. fusion + calibration: the real detectors are run on the calibration split, and a
   logistic stack per category and per stage prefix is fitted with 5-fold out-of-fold
   predictions giving the precision curves behind the policy's target-precision thresholds.
Artifacts are written to the models directory with a `training.json` describing the run.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.model_selection import StratifiedKFold

from ..content import Content
from ..detectors.base import BuildContext, Detector
from ..evaluate.metrics import expected_calibration_error
from ..fusion import ROUTES, CategoryFusion, FusionModel, PrecisionCurve, route_of, signal_features
from ..policy.model import Policy
from ..runtime.embedders import E5Embedder, MiniLMOnnxEmbedder
from ..settings import PipelineSettings
from ..signals import Signal
from ..stages.text import declared_tiers
from ..text.features import HashedNgrams
from ..text.langid import detect_languages
from .datasets import LabeledText, data_manifest, labels_matrix, load_datasets, sample_key
from .distill import DistillSettings, distill_fast_tier
from .embedding_cache import CachedEmbedder
from .review_labels import merge_review_labels

SEED = 20261122


@dataclass
class TrainConfig:
    data_dir: Path
    out_dir: Path
    cache_dir: Path = Path(".cache/embeddings")
    commercial_only: bool = False
    datasets: list[str] | None = None
    min_positives: int = 40
    linear_c: float = 4.0
    head_c: float = 2.0
    e5_english_sample: int = 8000
    # E5 is the slow embedder (~26 texts/s on two cores): its heads see at most this many training
    # items per data set (a deterministic sample), so adding a language's sets costs minutes, not hours.
    e5_max_per_dataset: int | None = 2000
    skip_e5: bool = False
    max_items_per_dataset: int | None = None  # for smoke tests and quick experiments
    # Source balance: each data set's items weigh `balance_target / its size`, clipped to
    # [balance_min, balance_max], so that a large single-source set (tens of thousands of tweets)
    # does not decide what the models learn and the small hand-written contrast and seed sets count.
    balance_target: float | None = 2000.0
    balance_min: float = 0.25
    balance_max: float = 4.0
    # Positives of a rare category weigh up to this much more (sqrt of the negative/positive ratio):
    # a category with 300 positives among 100k known negatives is otherwise never ranked high.
    max_positive_weight: float = 8.0
    model_version: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%d"))
    # Reviewed items (`review_labels.review_items`): they override the data sets' labels of the same
    # text; `protected_texts` (e.g. a golden set) are never trained on.
    extra_items: list[LabeledText] = field(default_factory=list)
    protected_texts: list[str] = field(default_factory=list)
    # The text tiers fusion is fitted for: the same declaration serving reads (`pipeline.text_tiers`).
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    # Fine-tune all-MiniLM-L6-v2 end to end (`learn/finetune/`): its ONNX export is the English
    # encoder tier (`encoder_minilm_ft`); the frozen heads stay as its fallback and fusion is fitted
    # for both. Without it, a stale fine-tuned artifact in `out_dir` is removed.
    finetune: bool = False
    finetune_epochs: int = 2
    finetune_max_per_dataset: int | None = 2000
    # multilingual-e5-small is 2x MiniLM's depth: fewer items per set, English ones fewer still.
    finetune_e5_max_per_dataset: int | None = 1200
    finetune_e5_english_per_dataset: int | None = 300
    finetune_max_steps: int | None = None  # per epoch, for smoke tests
    finetune_launcher: str = "local"  # local | torchrun | ray
    finetune_workers: int = 1
    jobs_dir: Path = Path(".cache/finetune")
    # Parts whose artifacts already in `out_dir` are kept instead of retrained ("fast", "heads",
    # "finetune"): e.g. re-fine-tune the encoder and refit fusion without re-embedding everything.
    reuse: frozenset[str] = frozenset()
    # Fast tier from the later tiers' scores over a pool of texts (`distill.py`); None: labels only.
    distill: DistillSettings | None = field(default_factory=DistillSettings)


def _fit_logistic(
    x: Any, y: np.ndarray, c: float, solver: str, sample_weight: np.ndarray | None = None
) -> LogisticRegression:
    model = LogisticRegression(C=c, solver=solver, max_iter=2000, random_state=SEED)
    return model.fit(x, y, sample_weight=sample_weight)


def source_weights(items: Sequence[LabeledText], config: TrainConfig) -> np.ndarray:
    """Per-item weights that bound each data set's say (see `TrainConfig.balance_target`)."""
    if config.balance_target is None:
        return np.ones(len(items), dtype=np.float64)
    sizes = Counter(i.dataset for i in items)
    per_set = {
        name: float(np.clip(config.balance_target / n, config.balance_min, config.balance_max))
        for name, n in sizes.items()
    }
    return np.array([per_set[i.dataset] for i in items], dtype=np.float64)


def category_weights(y: np.ndarray, base: np.ndarray, max_positive_weight: float) -> np.ndarray:
    """`base` with the positives of column `y` (1/0) up-weighted by sqrt(negatives / positives)."""
    pos = float(base[y == 1].sum())
    neg = float(base[y == 0].sum())
    boost = float(np.clip(np.sqrt(neg / pos), 1.0, max_positive_weight)) if pos > 0 else 1.0
    return np.where(y == 1, base * boost, base)


def train(policy: Policy, config: TrainConfig, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    started = time.time()
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items = load_datasets(config.data_dir, config.datasets, commercial_only=config.commercial_only)
    review_stats: dict[str, int] | None = None
    if config.extra_items or config.protected_texts:
        # Before the split filter: the test items' texts are what review items must not repeat.
        items, review_stats = merge_review_labels(items, config.extra_items, config.protected_texts)
    # Evaluation-only data sets (e.g. non-commercial fake reviews) never reach training.
    items = [i for i in items if i.train_use and i.split in ("train", "calib")]
    if config.max_items_per_dataset:
        # A hash sample, not the first N: loaders often emit a file's rows grouped by label.
        items = _per_dataset_sample(items, config.max_items_per_dataset)
    train_items = [i for i in items if i.split == "train"]
    calib_items = [i for i in items if i.split == "calib"]
    categories = policy.category_ids
    y_train = labels_matrix(train_items, categories)
    y_calib = labels_matrix(calib_items, categories)
    pos_train = (y_train == 1).sum(axis=0)
    learned = [c for k, c in enumerate(categories) if pos_train[k] >= config.min_positives]
    console.print(
        f"[bold]data[/]: {len(train_items):,} train / {len(calib_items):,} calibration items; "
        f"learned categories: {', '.join(learned)}"
    )
    report: dict[str, Any] = {
        "model_version": config.model_version,
        "datasets": dict(Counter(i.dataset for i in items)),
        "n_train": len(train_items),
        "n_calib": len(calib_items),
        "learned_categories": learned,
        "positives_train": {c: int(pos_train[k]) for k, c in enumerate(categories)},
        "commercial_only": config.commercial_only,
        "review_labels": review_stats,
        "config": _config_record(config),
        "data_manifest": data_manifest(config.data_dir, {i.dataset for i in items}),
    }

    unknown = set(config.reuse) - set(REUSABLE)
    if unknown:
        raise ValueError(f"cannot reuse {sorted(unknown)}; reusable parts: {', '.join(REUSABLE)}")
    for part in sorted(config.reuse):
        missing = [name for name in REUSABLE[part] if not (out / name).exists()]
        if missing:
            raise FileNotFoundError(f"--reuse {part}: {', '.join(missing)} not in {out}")
    report["reused"] = sorted(config.reuse)
    weights_train = source_weights(train_items, config)
    report["source_weights"] = {
        i.dataset: round(float(w), 3)
        for i, w in sorted(zip(train_items, weights_train, strict=True), key=lambda p: p[0].dataset)
    }
    # 2. Encoder tier heads (the fast tier comes after the encoders: it may learn from them).
    minilm = CachedEmbedder(MiniLMOnnxEmbedder(), config.cache_dir)
    e5 = CachedEmbedder(E5Embedder(), config.cache_dir)
    english = [i for i in train_items if i.language == "en"]
    if "heads" not in config.reuse:
        _train_heads(
            out / "encoder_minilm.npz",
            english,
            categories,
            learned,
            minilm,
            config,
            console,
            "MiniLM (English)",
        )
    others = _per_dataset_sample(
        [i for i in train_items if i.language != "en"], config.e5_max_per_dataset, positives_first=True
    )
    # By item hash, not random.sample: leaving a data set out (leave-one-out folds) keeps the rest of
    # the sample, so its embeddings come from the cache.
    e5_items = others + sorted(english, key=sample_key)[: config.e5_english_sample]
    if not config.skip_e5 and "heads" not in config.reuse:
        _train_heads(
            out / "multilingual_e5.npz",
            e5_items,
            categories,
            learned,
            e5,
            config,
            console,
            "E5 (multilingual)",
        )

    # 2b. Fine-tuned encoders (their own loop; one process, torchrun or Ray Train): MiniLM on
    # English, multilingual-e5-small on every language (its tier serves the non-English traffic).
    # A reused fine-tuned encoder keeps the record of the run that trained it.
    previous = out / "training.json"
    earlier = json.loads(previous.read_text()).get("finetune", {}) if previous.exists() else {}
    report["finetune"] = {
        base: earlier[base]
        for base in FINETUNE_BASES
        if base in earlier and ("finetune" if base == "minilm" else f"finetune_{base}") in config.reuse
    }
    for base in FINETUNE_BASES:
        part = "finetune" if base == "minilm" else f"finetune_{base}"
        wanted = config.finetune and not (base == "e5" and config.skip_e5)
        if wanted and part not in config.reuse:
            from .finetune.launch import finetune_encoder

            meta = finetune_encoder(
                config.jobs_dir,
                [i for i in items if i.language == "en"] if base == "minilm" else list(items),
                list(learned),
                out,
                config.model_version,
                base=base,
                epochs=config.finetune_epochs,
                max_per_dataset=(
                    config.finetune_max_per_dataset
                    if base == "minilm"
                    else config.finetune_e5_max_per_dataset
                ),
                english_per_dataset=None if base == "minilm" else config.finetune_e5_english_per_dataset,
                max_steps=config.finetune_max_steps,
                launcher=config.finetune_launcher,
                workers=config.finetune_workers,
            )
            keys = (
                "quantised",
                "calib_mean_average_precision",
                "epochs",
                "data",
                "launcher",
                "workers",
                "config",
            )
            report["finetune"][base] = {k: meta[k] for k in keys}
            console.print(
                f"  fine-tuned {base}: calibration mean AP {meta['calib_mean_average_precision']} "
                f"({meta['quantised']} exported)"
            )
        elif not wanted:
            for name in REUSABLE[part]:
                if (out / name).exists():
                    (out / name).unlink()
                    console.print(
                        f"  removed {out / name} (not fine-tuned in this run; the frozen heads serve)"
                    )

    # Every declared tier (the serving switches aside: fusion must cover each deployment's choice).
    tiers = declared_tiers(
        PipelineSettings(text_tiers=config.pipeline.text_tiers),
        out,
        policy,
        embedders={"minilm": minilm, "e5": e5},
        skip_embedders=frozenset({"e5"}) if config.skip_e5 else frozenset(),
    )
    # 2c. Fast tier: distilled from the later tiers as served (every category they score), or
    # supervised on the labels alone.
    if "fast" not in config.reuse:
        if config.distill:
            # English by hash; other languages the same sample the E5 heads embedded (cache hits).
            english = [i for i in train_items if i.language == "en"]
            other = [i for i in train_items if i.language != "en"]
            pool = _per_dataset_sample(english, config.distill.max_per_dataset) + _per_dataset_sample(
                other, config.e5_max_per_dataset, positives_first=True
            )
            teachers = [d for _, ds in tiers[1:] for d in ds]
            report["distill"] = _distill_fast_tier(
                out, train_items, pool, teachers, weights_train, categories, config, console
            )
        else:
            _train_fast_tier(out, train_items, y_train, weights_train, categories, learned, config, console)

    # 3. Fusion and calibration on the calibration split, through the real detectors.
    fusion = FusionModel(version=f"fusion-{config.model_version}")
    langs = detect_languages([i.text for i in calib_items])
    routes = np.array([route_of(lang) for lang in langs])
    contents = [Content(id=i.id, text=i.text) for i in calib_items]
    # Pre-embed with progress bars (the detectors then hit the cache).
    minilm.embed(
        [c.text for c, r in zip(contents, routes, strict=True) if r == "en"], label="calibration: MiniLM"
    )
    if not config.skip_e5:
        e5.embed(
            [c.text for c, r in zip(contents, routes, strict=True) if r != "en"], label="calibration: E5"
        )
    # A fine-tuned detector's fallback (the frozen heads, served when its artifact is absent) gets
    # fusion models too: the same tiers with the fallback in its place.
    fallback_tiers = [(name, [_fallback_of(d, out, policy, minilm, e5) for d in ds]) for name, ds in tiers]
    signals: list[list[Signal]] = [[] for _ in contents]
    ran: set[str] = set()
    for _, detectors in tiers + fallback_tiers:
        for det in detectors:
            if det.name in ran:
                continue
            ran.add(det.name)
            for i, sig in enumerate(det.detect(contents, langs)):
                signals[i].append(sig)
    # Fusion for each prefix of the cascade: an item that leaves after tier k is fused on tiers <= k.
    prefixes = [[d.name for _, ds in tiers[: k + 1] for d in ds] for k in range(len(tiers))]
    fallback_prefixes = [[d.name for _, ds in fallback_tiers[: k + 1] for d in ds] for k in range(len(tiers))]
    main_prefix = prefixes[-1]
    prefixes += [p for p in fallback_prefixes if p not in prefixes]
    calib_metrics: dict[str, Any] = {}
    for prefix in prefixes:
        key = FusionModel.prefix_key(prefix)
        fusion.prefixes[key] = {}
        for cat in learned:
            k = categories.index(cat)
            rows = np.flatnonzero(y_calib[:, k] >= 0)
            y = y_calib[rows, k]
            if y.sum() < 10 or (y == 0).sum() < 10:
                continue
            x = np.vstack([signal_features(signals[i], prefix, cat) for i in rows])
            oof = np.zeros(len(rows))
            for tr, te in StratifiedKFold(5, shuffle=True, random_state=SEED).split(x, y):
                oof[te] = _fit_logistic(x[tr], y[tr], 1.0, "lbfgs").predict_proba(x[te])[:, 1]
            final = _fit_logistic(x, y, 1.0, "lbfgs")
            fusion.prefixes[key][cat] = CategoryFusion(
                detectors=list(prefix), coef=final.coef_[0].tolist(), intercept=float(final.intercept_[0])
            )
            if prefix is main_prefix:
                fusion.curves[cat] = _curve(y, oof)
                calib_metrics[cat] = _oof_metrics(y, oof)
                for route in ROUTES:
                    mask = routes[rows] == route
                    if y[mask].sum() >= 30 and (y[mask] == 0).sum() >= 30:
                        fusion.curves[f"{cat}@{route}"] = _curve(y[mask], oof[mask])
                        calib_metrics[f"{cat}@{route}"] = _oof_metrics(y[mask], oof[mask])
    # Review budgets (`max_share` rules): fused probabilities of the calibration traffic at upper
    # quantiles, for every category (those without labels score through the few-shot fallback).
    probs, _ = fusion.fuse(signals, main_prefix, categories)
    for k, cat in enumerate(categories):
        fusion.shares[cat] = _share_table(probs[:, k])
        for route in ROUTES:
            mask = routes == route
            if mask.sum() >= 1000:
                fusion.shares[f"{cat}@{route}"] = _share_table(probs[mask, k])
    fusion.metrics = {"calibration_oof": calib_metrics}
    fusion.save(out)
    report["calibration_oof"] = calib_metrics
    report["seconds"] = round(time.time() - started, 1)
    (out / "training.json").write_text(json.dumps(report, indent=1))
    console.print(f"[green]trained[/] in {report['seconds']}s -> {out}")
    return report


def _config_record(config: TrainConfig) -> dict[str, Any]:
    """The run's configuration as JSON (what a registry version records; the merged items and
    protected texts are data, counted in the report rather than copied)."""
    out: dict[str, Any] = {}
    for key, value in vars(config).items():
        if key in ("extra_items", "protected_texts"):
            out[key] = len(value)
        elif isinstance(value, Path):
            out[key] = str(value)
        elif isinstance(value, (set, frozenset)):
            out[key] = sorted(value)
        elif is_dataclass(value) and not isinstance(value, type):
            out[key] = asdict(value)
        elif hasattr(value, "model_dump"):
            out[key] = value.model_dump(mode="json")
        else:
            out[key] = value
    return json.loads(json.dumps(out, default=str))


# What `TrainConfig.reuse` can keep, by the files each part writes.
REUSABLE = {
    "fast": ("linear.npz",),
    "heads": ("encoder_minilm.npz", "multilingual_e5.npz"),
    "finetune": ("encoder_minilm_ft.onnx", "encoder_minilm_ft.json"),
    "finetune_e5": ("encoder_e5_ft.onnx", "encoder_e5_ft.json"),
}
FINETUNE_BASES = ("minilm", "e5")


def _fallback_of(
    det: Detector, out: Path, policy: Policy, minilm: CachedEmbedder, e5: CachedEmbedder
) -> Detector:
    """The detector serving would use if `det`'s artifact were absent (itself for most)."""
    fallback = getattr(det, "fallback", None)
    if fallback is None:
        return det
    context = BuildContext(models_dir=out, policy=policy, embedders={"minilm": minilm, "e5": e5})
    return fallback.build(context)


def _train_fast_tier(
    out: Path,
    train_items: Sequence[LabeledText],
    y_train: np.ndarray,
    weights_train: np.ndarray,
    categories: Sequence[str],
    learned: Sequence[str],
    config: TrainConfig,
    console: Console,
) -> None:
    """1. Fast tier: per-category logistic regression on hashed n-grams."""
    feats = HashedNgrams()
    x_train = feats.transform([i.text for i in train_items])
    weights = np.zeros((feats.n_features, len(learned)), dtype=np.float32)
    bias = np.zeros(len(learned), dtype=np.float32)
    for j, cat in enumerate(learned):
        k = categories.index(cat)
        rows = np.flatnonzero(y_train[:, k] >= 0)
        t0 = time.time()
        w = category_weights(y_train[rows, k], weights_train[rows], config.max_positive_weight)
        model = _fit_logistic(x_train[rows], y_train[rows, k], config.linear_c, "liblinear", w)
        weights[:, j] = model.coef_[0]
        bias[j] = model.intercept_[0]
        console.print(f"  fast tier [cyan]{cat}[/]: {len(rows):,} rows, {time.time() - t0:.1f}s")
    meta = {"categories": learned, "features": feats.to_dict(), "model_version": config.model_version}
    np.savez_compressed(
        out / "linear.npz", weights=weights.astype(np.float16), bias=bias, meta=np.array(json.dumps(meta))
    )


def _distill_fast_tier(
    out: Path,
    train_items: Sequence[LabeledText],
    pool: Sequence[LabeledText],
    teachers: Sequence[Detector],
    weights_train: np.ndarray,
    categories: Sequence[str],
    config: TrainConfig,
    console: Console,
) -> dict[str, Any]:
    """1. Fast tier, distilled (`distill.py`): hashed n-grams on labels and the teachers' scores."""
    assert config.distill is not None
    fitted = distill_fast_tier(
        train_items,
        pool,
        teachers,
        categories,
        weights_train,
        c=config.linear_c,
        max_positive_weight=config.max_positive_weight,
        seed=SEED,
        settings=config.distill,
        console=console,
        cache_dir=Path(config.cache_dir).parent / "distill",
    )
    meta = {
        "categories": fitted["categories"],
        "features": HashedNgrams().to_dict(),
        "model_version": config.model_version,
        "distilled_from": sorted({d.identity for d in teachers}),
    }
    np.savez_compressed(
        out / "linear.npz",
        weights=fitted["weights"].astype(np.float16),
        bias=fitted["bias"],
        meta=np.array(json.dumps(meta)),
    )
    agree = fitted["report"]["agreement_held_out"]
    console.print(
        "  fast tier distilled: agreement with the teachers at 0.5 (held out) "
        + ", ".join(f"{c} {m['agreement_at_0.5']:.3f}" for c, m in agree.items())
    )
    return dict(fitted["report"])


def _train_heads(
    path: Path,
    items: Sequence[LabeledText],
    categories: Sequence[str],
    learned: Sequence[str],
    embedder: CachedEmbedder,
    config: TrainConfig,
    console: Console,
    label: str,
) -> None:
    vectors = embedder.embed([i.text for i in items], label=f"train: {label}")
    y = labels_matrix(items, categories)
    base = source_weights(items, config)
    coef = np.zeros((len(learned), embedder.dim), dtype=np.float32)
    intercept = np.full(len(learned), -4.0, dtype=np.float32)
    kept = []
    for j, cat in enumerate(learned):
        k = categories.index(cat)
        rows = np.flatnonzero(y[:, k] >= 0)
        if (y[rows, k] == 1).sum() < 10:
            continue
        w = category_weights(y[rows, k], base[rows], config.max_positive_weight)
        model = _fit_logistic(vectors[rows], y[rows, k], config.head_c, "lbfgs", w)
        coef[j], intercept[j] = model.coef_[0], model.intercept_[0]
        kept.append(cat)
    meta = {"categories": list(learned), "embedder": embedder.name, "model_version": config.model_version}
    np.savez_compressed(path, coef=coef, intercept=intercept, meta=np.array(json.dumps(meta)))
    console.print(f"  heads {label}: {len(items):,} items, categories {', '.join(kept)}")


def _per_dataset_sample(
    items: Sequence[LabeledText], cap: int | None, positives_first: bool = False
) -> list[LabeledText]:
    """At most `cap` items per data set, a deterministic sample (by id hash); all when cap is None.

    `positives_first` (training only, never calibration): violating items fill up to half the cap
    before the rest, so that a set's rare positives (German extremism, say) survive the sample."""
    if cap is None:
        return list(items)
    by_set: dict[str, list[LabeledText]] = {}
    for item in items:
        by_set.setdefault(item.dataset, []).append(item)
    out: list[LabeledText] = []
    for group in by_set.values():
        if len(group) > cap:
            group = sorted(group, key=sample_key)
            if positives_first:
                positives = [i for i in group if i.positives()][: cap // 2]
                chosen = {i.id for i in positives}
                group = positives + [i for i in group if i.id not in chosen]
            group = group[:cap]
        out.extend(group)
    return out


def _curve(y: np.ndarray, scores: np.ndarray, max_points: int = 400) -> PrecisionCurve:
    precision, recall, thresholds = precision_recall_curve(y, scores)
    precision, recall = precision[:-1], recall[:-1]
    if len(thresholds) > max_points:
        pick = np.unique(np.linspace(0, len(thresholds) - 1, max_points).astype(int))
        thresholds, precision, recall = thresholds[pick], precision[pick], recall[pick]
    return PrecisionCurve(
        thresholds=[round(float(t), 6) for t in thresholds],
        precision=[round(float(p), 5) for p in precision],
        recall=[round(float(r), 5) for r in recall],
        prevalence=round(float(np.mean(y)), 6),
    )


SHARES = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


def _share_table(scores: np.ndarray) -> dict[str, float]:
    """Score above which each share of the traffic falls (for review-budget rules)."""
    return {str(s): round(float(np.quantile(scores, 1 - s)), 6) for s in SHARES}


def _oof_metrics(y: np.ndarray, oof: np.ndarray) -> dict[str, Any]:
    ece = expected_calibration_error(y, oof)
    return {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "oof_average_precision": round(float(average_precision_score(y, oof)), 4),
        "oof_ece": round(ece, 4) if ece is not None else None,
    }
