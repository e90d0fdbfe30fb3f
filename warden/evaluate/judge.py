"""Agreement of the judge with human labels on a sample of a labelled data set.

    items = sample_items(data_dir, "sms-spam-collection", "spam_scam", n=200)  # learn.datasets.sampling
    report = measure_agreement(judge, items, "spam_scam")

The judge is asked about one category per item (the category the data set's label speaks
to); its post-verification verdict `violating` is the positive prediction. Reported:
accuracy, Cohen's kappa, precision/recall/F1 of the violating class, the share of
`uncertain` verdicts and of downgrades, items per second and tokens per item.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sklearn.metrics import cohen_kappa_score

from ..content import Content
from ..llm.judge import PolicyJudge
from .metrics import binary_metrics

if TYPE_CHECKING:
    from ..learn.datasets import LabeledText


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
            if verdict is None:
                errors += 1  # no answer is not a "not violating": leave it out of the agreement
                continue
            y_true.append(it.labels[category])
            y_pred.append(int(verdict.verdict == "violating"))
            uncertain += int(verdict.verdict == "uncertain")
            downgraded += int(verdict.downgraded)
    elapsed = time.perf_counter() - started
    n = len(y_true)
    judged = n + errors
    m = binary_metrics(y_true, y_pred, y_pred) if n else {}
    return Agreement(
        dataset=items[0].dataset if items else "",
        category=category,
        model=judge.model_id,
        n=n,
        positives=sum(y_true),
        accuracy=sum(int(t == p) for t, p in zip(y_true, y_pred, strict=True)) / n if n else 0.0,
        kappa=float(cohen_kappa_score(y_true, y_pred)) if len(set(y_true) | set(y_pred)) > 1 else 0.0,
        precision=m.get("precision") or 0.0,
        recall=m.get("recall") or 0.0,
        f1=m.get("f1") or 0.0,
        uncertain_share=uncertain / n if n else 0.0,
        downgraded_share=downgraded / n if n else 0.0,
        error_count=errors,
        items_per_s=judged / elapsed if elapsed > 0 else 0.0,
        prompt_tokens_per_item=prompt_tokens / judged if judged else 0.0,
        completion_tokens_per_item=completion_tokens / judged if judged else 0.0,
    )
