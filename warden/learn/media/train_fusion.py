"""`warden train-media-fusion`: fit the multimodal fusion on synthetic posts and evaluate it.

A synthetic post is a rendered meme (a Fine-grained Hateful Memes caption drawn on a benign PDQ test
photo, `warden.media.memes`) plus, most of the time, a post caption drawn from English text data sets
with a known `hate` label (TweetEval hate, HateXplain, ToxiGen). Its label is hate = meme text hateful
OR caption hateful. Each channel goes through the real components: Tesseract reads the meme, the text
cascade scores the OCR text and the caption.

Splits. The text tier was trained on the data sets' "train" split, so its probabilities on those texts
are overconfident; the fusion is fitted on the "calib" split (memes and captions the text models never
trained on), 70 % to fit and 30 % held out for the calibration check (ECE) and the precision curve
behind the policy's `target_precision` thresholds. Evaluation uses the "test" split only (memes from
dev_seen + dev_unseen, captions from the test splits), which nothing was fitted or tuned on.

Only `hate` is learned: it is the one category with labels on both sides (hateful and not hateful
memes and captions). Every other category, and the NSFW channel, use the documented noisy-OR prior.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console

from ...content import Content
from ...decider import Decider
from ...evaluate.metrics import binary_metrics, expected_calibration_error
from ...media.fusion import (
    DEFAULT_DIR,
    LEARNED_FEATURES,
    LearnedCategory,
    MediaFusion,
    PostChannels,
    learned_features,
)
from ...media.types import normalise_ocr_text

if TYPE_CHECKING:
    from ...media.ocr import TesseractOcr
    from ...moderator import Moderator
    from .memes import RenderedMeme

LEARNED = ("hate",)
CAPTION_DATASETS = ("tweeteval_hate", "hatexplain-test-val", "toxigen-demonstrations")
SEED = 20261122


@dataclass
class FusionTrainConfig:
    data_dir: Path
    out_dir: Path = DEFAULT_DIR
    n_calib: int | None = None  # memes of the calib split (None: all)
    n_test: int | None = None  # memes of the test split (None: all)
    seed: int = SEED
    # Share of posts with no caption, a benign caption, a hateful caption.
    caption_mix: tuple[float, float, float] = (0.3, 0.5, 0.2)
    holdout: float = 0.3
    batch_size: int = 256


@dataclass
class Post:
    meme: RenderedMeme
    caption: str | None
    caption_hate: int
    ocr_text: str = ""

    @property
    def meme_hate(self) -> int:
        return int(self.meme.labels.get("hate", 0))

    @property
    def label(self) -> int:
        return int(self.meme_hate or self.caption_hate)


@dataclass
class TextScores:
    """Per text: calibrated P(hate) and whether the text tier flagged hate (its own thresholds)."""

    p: dict[str, float] = field(default_factory=dict)
    flagged: dict[str, bool] = field(default_factory=dict)


def caption_pool(data_dir: Path, split: str) -> tuple[list[str], list[str]]:
    """(benign, hateful) English captions of one split, from data sets with a known hate label."""
    from ..datasets import load_datasets_with_stats

    items, _ = load_datasets_with_stats(Path(data_dir), list(CAPTION_DATASETS), decontaminate_all=False)
    benign: list[str] = []
    hateful: list[str] = []
    for it in items:
        if it.split != split or "hate" not in it.labels or not it.text.strip() or len(it.text) > 500:
            continue
        (hateful if it.labels["hate"] == 1 else benign).append(it.text)
    return benign, hateful


def make_posts(
    memes: Sequence[RenderedMeme],
    benign: Sequence[str],
    hateful: Sequence[str],
    mix: tuple[float, float, float],
    seed: int,
) -> list[Post]:
    rng = random.Random(seed)
    posts = []
    for meme in memes:
        r = rng.random()
        if r < mix[0] or not benign:
            posts.append(Post(meme, None, 0))
        elif r < mix[0] + mix[1] or not hateful:
            posts.append(Post(meme, rng.choice(benign), 0))
        else:
            posts.append(Post(meme, rng.choice(hateful), 1))
    return posts


def score_texts(moderator: Moderator, texts: Sequence[str], batch_size: int = 256) -> dict[str, TextScores]:
    """The text cascade's decision on each distinct text (calibrated P and flagged, per category)."""
    unique = list(dict.fromkeys(t for t in texts if t.strip()))
    out: dict[str, TextScores] = {}
    for start in range(0, len(unique), batch_size):
        chunk = unique[start : start + batch_size]
        decisions = moderator.moderate([Content(id=f"t{start + i}", text=t) for i, t in enumerate(chunk)])
        for text, decision in zip(chunk, decisions, strict=True):
            out[text] = TextScores(
                p={c: s.probability for c, s in decision.categories.items() if s.evaluated},
                flagged={c: s.flagged for c, s in decision.categories.items()},
            )
    return out


def read_memes(ocr: TesseractOcr, posts: Sequence[Post], console: Console, label: str) -> float:
    """OCR every post's meme image; returns images per second."""
    started = time.perf_counter()
    chunk = 64
    for start in range(0, len(posts), chunk):
        batch = posts[start : start + chunk]
        for post, result in zip(batch, ocr.recognise_batch([p.meme.image for p in batch]), strict=True):
            post.ocr_text = normalise_ocr_text(result.text)  # as the media path serves it
        console.print(f"  OCR {label}: {min(start + chunk, len(posts))}/{len(posts)}", end="\r")
    console.print()
    return len(posts) / max(time.perf_counter() - started, 1e-9)


def channels(post: Post, scores: dict[str, TextScores]) -> PostChannels:
    caption = scores[post.caption].p if post.caption and post.caption in scores else None
    ocr = scores[post.ocr_text].p if post.ocr_text.strip() and post.ocr_text in scores else None
    return PostChannels(caption=caption, ocr=ocr)


def _fit(x: np.ndarray, y: np.ndarray) -> LearnedCategory:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    return LearnedCategory(
        coef=[round(float(c), 6) for c in model.coef_[0]], intercept=float(model.intercept_[0])
    )


def _round(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}


def _single(
    scores: dict[str, TextScores], cat: str, texts: Sequence[str | None]
) -> tuple[np.ndarray, np.ndarray]:
    """One text channel on its own: (calibrated P, flagged by the text tier's own thresholds)."""
    got = [scores.get(t or "") for t in texts]
    p = np.array([g.p.get(cat, 0.0) if g else 0.0 for g in got])
    f = np.array([bool(g.flagged.get(cat)) if g else False for g in got])
    return p, f


def train_media_fusion(
    config: FusionTrainConfig, moderator: Moderator, ocr: TesseractOcr, console: Console | None = None
) -> dict[str, Any]:
    """Fit, check and save the fusion; returns the report (also stored in the artifact's metrics)."""
    from ..train import _curve, _share_table
    from .memes import build_meme_set

    console = console or Console(stderr=True)
    started = time.time()
    report: dict[str, Any] = {"config": {"n_calib": config.n_calib, "n_test": config.n_test,
                                         "seed": config.seed, "caption_mix": list(config.caption_mix),
                                         "caption_datasets": list(CAPTION_DATASETS)}}  # fmt: skip
    # 1. Calibration-split posts: fit on 70 %, check on 30 %.
    console.print("building calib posts")
    memes = build_meme_set(config.data_dir, "calib", config.n_calib, seed=config.seed)
    benign, hateful = caption_pool(config.data_dir, "calib")
    posts = make_posts(memes, benign, hateful, config.caption_mix, config.seed)
    report["ocr_images_per_s"] = round(read_memes(ocr, posts, console, "calib"), 2)
    scores = score_texts(moderator, [p.ocr_text for p in posts] + [p.caption or "" for p in posts])
    y = np.array([p.label for p in posts])
    rng = np.random.default_rng(config.seed)
    held = rng.random(len(posts)) < config.holdout
    fusion = MediaFusion(version=f"media-fusion-{datetime.now(UTC):%Y%m%d}")
    chans = [channels(p, scores) for p in posts]
    prior = MediaFusion("prior")  # no learned categories: every category on the noisy-OR prior
    for cat in LEARNED:
        x = np.vstack([learned_features(c, cat) for c in chans])
        model = _fit(x[~held], y[~held])
        fusion.learned[cat] = model
        p_held = model.predict(x[held])
        prior_held = np.array([prior.fuse_one(c, cat)[0] for c, h in zip(chans, held, strict=True) if h])
        fusion.curves[cat] = _curve(y[held], p_held)
        fusion.shares[cat] = _share_table(p_held)
        report[f"calib_{cat}"] = {
            "n_fit": int((~held).sum()),
            "n_holdout": int(held.sum()),
            "positives_holdout": int(y[held].sum()),
            "features": list(LEARNED_FEATURES),
            "coef": model.coef,
            "intercept": round(model.intercept, 6),
            "holdout_ece_learned": round(float(expected_calibration_error(y[held], p_held) or 0.0), 4),
            "holdout_ece_noisy_or_prior": round(
                float(expected_calibration_error(y[held], prior_held) or 0.0), 4
            ),
        }
    # 2. Test-split posts: caption-only vs OCR-only vs fused, each at the policy's thresholds.
    console.print("building test posts")
    test_memes = build_meme_set(config.data_dir, "test", config.n_test, seed=config.seed)
    benign_t, hateful_t = caption_pool(config.data_dir, "test")
    test_posts = make_posts(test_memes, benign_t, hateful_t, config.caption_mix, config.seed + 1)
    read_memes(ocr, test_posts, console, "test")
    texts = [p.ocr_text for p in test_posts] + [p.caption or "" for p in test_posts]
    test_scores = score_texts(moderator, texts + [p.meme.text for p in test_posts])
    decider = Decider(moderator.policy, fusion.threshold_model(moderator.pipeline.fusion))
    for cat in LEARNED:
        yt = np.array([p.label for p in test_posts])
        fused = np.array([fusion.fuse_one(channels(p, test_scores), cat)[0] for p in test_posts])
        threshold = decider.flag_threshold(cat)

        cap_p, cap_f = _single(test_scores, cat, [p.caption for p in test_posts])
        ocr_p, ocr_f = _single(test_scores, cat, [p.ocr_text for p in test_posts])
        report[f"test_{cat}"] = {
            "n": len(test_posts),
            "positives": int(yt.sum()),
            "fused_threshold": round(threshold, 4),
            "caption_only": _round(binary_metrics(yt, cap_p, cap_f)),
            "ocr_only": _round(binary_metrics(yt, ocr_p, ocr_f)),
            "fused": _round(binary_metrics(yt, fused, fused >= threshold)),
        }
        # Memes alone (no caption): the OCR path against the true text, same texts and labels.
        ym = np.array([p.meme_hate for p in test_posts])
        text_p, text_f = _single(test_scores, cat, [p.meme.text for p in test_posts])
        report[f"test_memes_{cat}"] = {
            "ocr_text": _round(binary_metrics(ym, ocr_p, ocr_f)),
            "true_text": _round(binary_metrics(ym, text_p, text_f)),
        }
    report["seconds"] = round(time.time() - started, 1)
    fusion.metrics = report
    path = fusion.save(config.out_dir)
    console.print(f"[green]media fusion[/] -> {path}")
    return report
