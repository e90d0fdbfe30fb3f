"""Agreement of the judge with human labels on a sample of a labelled data set.

    items = sample_items(data_dir, "sms-spam-collection", "spam_scam", n=200)
    report = measure_agreement(judge, items, "spam_scam")

The judge is asked about one category per item (the category the data set's label speaks
to); its post-verification verdict `violating` is the positive prediction. Reported:
accuracy, Cohen's kappa, precision/recall/F1 of the violating class, the share of
`uncertain` verdicts and of downgrades, items per second and tokens per item.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..content import Content
from ..learn.datasets import LabeledText, load_raw
from .judge import PolicyJudge


@dataclass(frozen=True)
class Agreement:
    dataset: str
    category: str
    model: str
    n: int
    positives: int
    accuracy: float
    kappa: float
    precision: float
    recall: float
    f1: float
    uncertain_share: float
    downgraded_share: float
    error_count: int
    items_per_s: float
    prompt_tokens_per_item: float
    completion_tokens_per_item: float

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def sample_items(
    data_dir: Path,
    dataset: str,
    category: str,
    n: int = 200,
    split: str = "test",
    balanced: bool = True,
    seed: int = 0,
) -> list[LabeledText]:
    """`n` items of `dataset`'s `split` whose label for `category` is known.

    `balanced` draws half positives (as far as there are enough), so kappa and F1 are
    informative for rare categories; otherwise a uniform sample at the data's prevalence.
    """
    items, _ = load_raw(Path(data_dir), [dataset])
    pool = [it for it in items if it.split == split and category in it.labels and it.text.strip()]
    rng = random.Random(seed)
    if not balanced:
        return rng.sample(pool, min(n, len(pool)))
    pos = [it for it in pool if it.labels[category] == 1]
    neg = [it for it in pool if it.labels[category] == 0]
    k_pos = min(len(pos), n // 2)
    chosen = rng.sample(pos, k_pos) + rng.sample(neg, min(len(neg), n - k_pos))
    rng.shuffle(chosen)
    return chosen


def cohen_kappa(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    n = len(y_true)
    if n == 0:
        return 0.0
    observed = sum(int(a == b) for a, b in zip(y_true, y_pred, strict=True)) / n
    p_true, p_pred = sum(y_true) / n, sum(y_pred) / n
    expected = p_true * p_pred + (1 - p_true) * (1 - p_pred)
    return 0.0 if expected >= 1.0 else (observed - expected) / (1.0 - expected)


def measure_agreement(
    judge: PolicyJudge, items: Sequence[LabeledText], category: str, batch_size: int = 8
) -> Agreement:
    """Judge `items` for `category` and compare the verdicts with their labels."""
    judge.load()
    y_true: list[int] = []
    y_pred: list[int] = []
    uncertain = downgraded = errors = prompt_tokens = completion_tokens = 0
    started = time.perf_counter()
    for lo in range(0, len(items), batch_size):
        batch = items[lo : lo + batch_size]
        contents = [Content(id=it.id[:256], text=it.text, language=it.language) for it in batch]
        for it, judgement in zip(batch, judge.judge_many(contents, [category]), strict=True):
            prompt_tokens += judgement.prompt_tokens
            completion_tokens += judgement.completion_tokens
            verdict = judgement.verdicts.get(category)
            y_true.append(it.labels[category])
            if verdict is None:
                errors += 1
                y_pred.append(0)
                continue
            y_pred.append(int(verdict.verdict == "violating"))
            uncertain += int(verdict.verdict == "uncertain")
            downgraded += int(verdict.downgraded)
    elapsed = time.perf_counter() - started
    n = len(y_true)
    tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t and p)
    fp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if not t and p)
    fn = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t and not p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Agreement(
        dataset=items[0].dataset if items else "",
        category=category,
        model=judge.model_id,
        n=n,
        positives=sum(y_true),
        accuracy=sum(int(t == p) for t, p in zip(y_true, y_pred, strict=True)) / n if n else 0.0,
        kappa=cohen_kappa(y_true, y_pred),
        precision=precision,
        recall=recall,
        f1=f1,
        uncertain_share=uncertain / n if n else 0.0,
        downgraded_share=downgraded / n if n else 0.0,
        error_count=errors,
        items_per_s=n / elapsed if elapsed > 0 else 0.0,
        prompt_tokens_per_item=prompt_tokens / n if n else 0.0,
        completion_tokens_per_item=completion_tokens / n if n else 0.0,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m warden.llm.evaluate --dataset sms-spam-collection --category spam_scam -n 200`"""
    import argparse
    import json

    from ..policy.model import load_policy
    from ..settings import get_settings

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--category", required=True)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--split", default="test")
    parser.add_argument("--uniform", action="store_true", help="sample at the data's prevalence")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    app = get_settings()
    settings = app.judge.model_copy(update={"categories": [args.category], "cache_size": 0})
    judge = PolicyJudge(load_policy(app.policy_path), settings=settings)
    items = sample_items(
        app.data_dir, args.dataset, args.category, args.n, args.split, not args.uniform, args.seed
    )
    print(json.dumps(measure_agreement(judge, items, args.category).to_dict(), indent=1))


if __name__ == "__main__":
    main()
