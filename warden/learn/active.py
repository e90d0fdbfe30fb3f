"""Active learning: which unlabelled items a reviewer should label next, under a budget.

Every sampler has one signature::

    propose(strategy, probabilities, embeddings, labelled_mask, budget, seed) -> indices

over a pool of n items, where `probabilities` is the current model's P(violation) per item,
(n,) for one category or (n, C) for several, and `embeddings` are the items' sentence vectors.
The returned indices point at unlabelled items, most informative first, without repeats.

Strategies:

* `random`: a uniform sample (the baseline every other strategy must beat);
* `uncertainty`: the highest total binary entropy around each category's decision threshold
  (a probability is first shifted so that its threshold maps to 0.5, so a category whose
  policy flags at 0.2 is most uncertain at 0.2, not at 0.5);
* `margin`: the smallest distance to the decision boundary of the most contested category.
  On a single category this ranks exactly like `uncertainty` (entropy is monotone in the
  margin); they differ when several categories are scored at once;
* `kcenter`: k-center greedy (Sener & Savarese 2018) on L2-normalised embeddings: each pick is
  the unlabelled item farthest from everything labelled or picked so far, so a batch covers the
  pool instead of piling up in one region. O(n · (labelled + budget) · dim) with NumPy;
* `hybrid`: the `hybrid_factor` × budget most uncertain items, then k-center greedy among them
  (distances still measured against the whole labelled set): informative *and* diverse, which
  keeps a large batch from spending its budget on near-copies of one confusing message.

Ties are broken by a seeded random order, so a run is reproducible from its seed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import ValidationError

if TYPE_CHECKING:
    from ..moderator import Moderator
    from ..review.service import ReviewService

Strategy = Literal["random", "uncertainty", "margin", "kcenter", "hybrid"]
STRATEGIES: tuple[Strategy, ...] = ("random", "uncertainty", "margin", "kcenter", "hybrid")
HYBRID_FACTOR = 5
_EPS = 1e-6


def _as_2d(probabilities: np.ndarray) -> np.ndarray:
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2:
        raise ValidationError(f"probabilities must be (n,) or (n, categories), got shape {p.shape}")
    if not np.all(np.isfinite(p)) or p.min(initial=0.0) < 0 or p.max(initial=0.0) > 1:
        raise ValidationError("probabilities must be finite and within [0, 1]")
    return p


def centred_probabilities(
    probabilities: np.ndarray, thresholds: float | Sequence[float] | np.ndarray = 0.5
) -> np.ndarray:
    """(n, C) probabilities moved on the logit scale so that each category's threshold sits at 0.5.

    A threshold of 1 or more (a category that never flags) leaves every item certain for it."""
    p = np.clip(_as_2d(probabilities), _EPS, 1 - _EPS)
    t = np.asarray(thresholds, dtype=np.float64)
    try:
        # A scalar, one threshold per category (C,), or per item and category (n, C) (by language route).
        t = np.clip(np.broadcast_to(t, p.shape), _EPS, 1 - _EPS)
    except ValueError:
        raise ValidationError(f"thresholds of shape {t.shape} do not fit probabilities {p.shape}") from None
    z = np.log(p / (1 - p)) - np.log(t / (1 - t))
    return 1.0 / (1.0 + np.exp(-z))


def uncertainty_scores(
    probabilities: np.ndarray, thresholds: float | Sequence[float] | np.ndarray = 0.5
) -> np.ndarray:
    """Total binary entropy (bits) over categories after centring; higher = more uncertain."""
    q = centred_probabilities(probabilities, thresholds)
    entropy = -(q * np.log2(q) + (1 - q) * np.log2(1 - q))
    return np.asarray(entropy.sum(axis=1))


def margin_scores(
    probabilities: np.ndarray, thresholds: float | Sequence[float] | np.ndarray = 0.5
) -> np.ndarray:
    """|2q - 1| of the most contested category after centring; lower = closer to a boundary."""
    q = centred_probabilities(probabilities, thresholds)
    return np.asarray(np.abs(2 * q - 1).min(axis=1))


def normalise(embeddings: np.ndarray) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _unit_distance(dots: np.ndarray) -> np.ndarray:
    """Euclidean distance between unit vectors from their dot product: ||a - b||² = 2 - 2 a·b."""
    return np.asarray(np.sqrt(np.maximum(2.0 - 2.0 * dots, 0.0)))


def min_distances(x: np.ndarray, centres: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Euclidean distance of each row of `x` to its nearest row of `centres` (both L2-normalised)."""
    if len(centres) == 0:
        return np.full(len(x), np.inf, dtype=np.float32)
    best = np.full(len(x), -np.inf, dtype=np.float32)
    for start in range(0, len(centres), chunk):
        # The nearest centre has the largest dot product.
        best = np.maximum(best, (x @ centres[start : start + chunk].T).max(axis=1))
    return _unit_distance(best)


def kcenter_greedy(
    embeddings: np.ndarray,
    labelled_mask: np.ndarray,
    budget: int,
    candidates: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Greedy k-center picks among `candidates` (default: every unlabelled item)."""
    x = normalise(embeddings)
    labelled = np.asarray(labelled_mask, dtype=bool)
    pool = np.flatnonzero(~labelled) if candidates is None else np.asarray(candidates, dtype=np.int64)
    budget = min(budget, len(pool))
    if budget <= 0:
        return np.zeros(0, dtype=np.int64)
    rng = rng or np.random.default_rng(0)
    xp = x[pool]
    dist = min_distances(xp, x[labelled])
    picks: list[int] = []
    if not np.isfinite(dist).any():
        # Nothing labelled yet: start from a seeded random item.
        picks.append(int(rng.integers(len(pool))))
        dist = _unit_distance(xp @ xp[picks[0]])
    # A seeded jitter far below any real distance breaks ties (exact duplicates) reproducibly.
    jitter = rng.random(len(pool)).astype(np.float32) * 1e-7
    while len(picks) < budget:
        scores = dist + jitter
        scores[picks] = -np.inf
        nxt = int(np.argmax(scores))
        picks.append(nxt)
        dist = np.minimum(dist, _unit_distance(xp @ xp[nxt]))
    return pool[np.asarray(picks, dtype=np.int64)]


def _ranked(scores: np.ndarray, pool: np.ndarray, rng: np.random.Generator, descending: bool) -> np.ndarray:
    """`pool` ordered by score (ties in a seeded random order)."""
    s = scores[pool]
    tie = rng.random(len(pool))
    order = np.lexsort((tie, -s if descending else s))
    return pool[order]


def propose(
    strategy: str,
    probabilities: np.ndarray | None,
    embeddings: np.ndarray | None,
    labelled_mask: np.ndarray,
    budget: int,
    seed: int = 0,
    *,
    thresholds: float | Sequence[float] | np.ndarray = 0.5,
    hybrid_factor: int = HYBRID_FACTOR,
) -> np.ndarray:
    """Indices of up to `budget` unlabelled items to label next, most informative first.

    `budget` larger than the number of unlabelled items returns all of them (in strategy order).
    `probabilities` may be None for `random` and `kcenter`; `embeddings` may be None for
    `random`, `uncertainty` and `margin`.
    """
    if strategy not in STRATEGIES:
        raise ValidationError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if budget < 0:
        raise ValidationError(f"budget must be >= 0, got {budget}")
    labelled = np.asarray(labelled_mask, dtype=bool)
    if labelled.ndim != 1:
        raise ValidationError("labelled_mask must be one boolean per item")
    n = len(labelled)
    if probabilities is not None and len(probabilities) != n:
        raise ValidationError(f"{len(probabilities)} probabilities for {n} items")
    if embeddings is not None and len(embeddings) != n:
        raise ValidationError(f"{len(embeddings)} embeddings for {n} items")
    needs_p = strategy in ("uncertainty", "margin", "hybrid")
    needs_x = strategy in ("kcenter", "hybrid")
    if needs_p and probabilities is None:
        raise ValidationError(f"strategy {strategy!r} needs model probabilities")
    if needs_x and embeddings is None:
        raise ValidationError(f"strategy {strategy!r} needs embeddings")
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(~labelled)
    budget = min(budget, len(pool))
    if budget == 0:
        return np.zeros(0, dtype=np.int64)
    if strategy == "random":
        return np.asarray(rng.permutation(pool)[:budget], dtype=np.int64)
    if strategy == "kcenter":
        assert embeddings is not None
        return kcenter_greedy(embeddings, labelled, budget, rng=rng)
    assert probabilities is not None
    if strategy == "margin":
        return _ranked(margin_scores(probabilities, thresholds), pool, rng, descending=False)[:budget]
    ranked = _ranked(uncertainty_scores(probabilities, thresholds), pool, rng, descending=True)
    if strategy == "uncertainty":
        return ranked[:budget]
    assert embeddings is not None
    shortlist = ranked[: max(budget, hybrid_factor * budget)]
    return kcenter_greedy(embeddings, labelled, budget, candidates=shortlist, rng=rng)


# -- proposing a batch for review with the live models (`warden learn`) -----------------------------


@dataclass(frozen=True)
class PoolItem:
    id: str
    text: str
    language: str | None = None
    labelled: bool = False


def read_pool(path: Path) -> list[PoolItem]:
    """Items from JSONL ({id, text, language?, labels?}) or CSV (id, text, language?).

    A JSONL item with a `labels` key is already labelled: never proposed, but it anchors k-center.
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"{path}: file not found")
    items: list[PoolItem] = []
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "text" not in reader.fieldnames:
                raise ValidationError(f"{path}: CSV needs a header with a 'text' column")
            for n, row in enumerate(reader, start=2):
                if (row.get("text") or "").strip():
                    items.append(
                        PoolItem(row.get("id") or f"row-{n}", row["text"], row.get("language") or None)
                    )
        return _unique(items, path)
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationError(f"{path}:{n}: invalid JSON: {exc.msg}") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise ValidationError(f"{path}:{n}: each line must be an object with a 'text' string")
            if obj["text"].strip():
                items.append(
                    PoolItem(
                        str(obj.get("id") or f"line-{n}"), obj["text"], obj.get("language"), "labels" in obj
                    )
                )
    return _unique(items, path)


def _unique(items: list[PoolItem], source: Path | str) -> list[PoolItem]:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValidationError(f"{source}: duplicate id {item.id!r}")
        seen.add(item.id)
    return items


def pool_from_store(service: ReviewService, limit: int = 500) -> list[PoolItem]:
    """Pending review tasks (unlabelled) plus every labelled text, from the review service's database."""
    labelled = {r["content_id"]: r for r in service.export_labels() if r.get("text")}
    items: list[PoolItem] = []
    seen: set[str] = set()
    for t in service.list_tasks(status="pending", limit=limit):
        # A task waiting for its second review already has a label: it anchors, it is not proposed.
        if t.text.strip() and t.content_id not in seen:
            seen.add(t.content_id)
            items.append(PoolItem(t.content_id, t.text, t.language, labelled=t.content_id in labelled))
    items += [
        PoolItem(cid, row["text"], row.get("language"), labelled=True)
        for cid, row in labelled.items()
        if cid not in seen
    ]
    return items


def mark_labelled(pool: Sequence[PoolItem], texts: Sequence[str]) -> list[PoolItem]:
    """`pool` with items whose text (near-duplicate key) is among `texts` marked labelled."""
    from .splits import near_duplicate_key

    keys = {near_duplicate_key(t) for t in texts}
    return [
        item if item.labelled or near_duplicate_key(item.text) not in keys else replace(item, labelled=True)
        for item in pool
    ]


def propose_batch(
    moderator: Moderator,
    pool: Sequence[PoolItem],
    budget: int,
    strategy: str = "hybrid",
    seed: int = 0,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Score the pool with the live models, embed it with MiniLM, and pick what to label next.

    Uncertainty is centred on each category's policy flag threshold for the item's language route.
    `progress(n)` is called as items are scored and again as they are embedded (2 × len(pool) in all).
    Returns one record per proposed item, most informative first.
    """
    from ..content import Content
    from ..fusion import route_of
    from ..runtime.embedders import get_embedder

    if not pool:
        raise ValidationError("the pool is empty: nothing to propose")
    limit = moderator.settings.limits.max_text_chars
    categories = moderator.pipeline.categories
    probabilities = np.zeros((len(pool), len(categories)))
    thresholds = np.ones((len(pool), len(categories)))
    for start in range(0, len(pool), batch_size):
        chunk = pool[start : start + batch_size]
        contents = [
            Content(id=f"pool-{start + k}", text=i.text[:limit], language=i.language)
            for k, i in enumerate(chunk)
        ]
        for k, decision in enumerate(moderator.moderate(contents)):
            route = route_of(decision.language)
            for j, cat in enumerate(categories):
                probabilities[start + k, j] = decision.categories[cat].probability
                thresholds[start + k, j] = moderator.decider.flag_threshold(cat, route)
        if progress:
            progress(len(chunk))
    embeddings = get_embedder("minilm").embed([i.text[:limit] for i in pool], progress=progress)
    labelled = np.array([i.labelled for i in pool], dtype=bool)
    picks = propose(strategy, probabilities, embeddings, labelled, budget, seed, thresholds=thresholds)
    entropy = uncertainty_scores(probabilities, thresholds)
    q = np.clip(centred_probabilities(probabilities, thresholds), _EPS, 1 - _EPS)
    closeness = -np.abs(np.log(q / (1 - q)))  # minus the logit distance to the threshold
    out = []
    for rank, i in enumerate(picks, start=1):
        # The categories nearest their thresholds are what the reviewer is really being asked about.
        top = np.argsort(-closeness[i])[:3]
        out.append(
            {
                "id": pool[i].id,
                "text": pool[i].text,
                "language": pool[i].language,
                "rank": rank,
                "strategy": strategy,
                "uncertainty": round(float(entropy[i]), 4),
                "scores": {
                    categories[j]: {
                        "probability": round(float(probabilities[i, j]), 4),
                        "threshold": round(float(thresholds[i, j]), 4),
                    }
                    for j in top
                },
            }
        )
    return out
