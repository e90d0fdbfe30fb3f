"""Review labels as training data: read, resolve and merge them into the data sets' items.

Input: the rows of `ReviewService.export_labels()` / `warden review export-labels` (JSONL), one per
label: {content_id, text, language, categories: [...], action, reviewer, at, source}; other keys
(queue, task_id, note, ...) are ignored.

What a label means (the data sets' convention, see `datasets/__init__.py`): action `allow` is benign, 0 for
every category; an enforcement action (remove, limit, age_restrict, label) with categories is 1 for
those categories and unknown for the rest (a reviewer names what they removed it for, not everything
it is not); an enforcement action without categories is a violation of unknown kind. Any other
action (`review`, an appeal's `uphold`) counts as violating when it names categories, otherwise
it says nothing and is skipped.

Resolution, per text (near-duplicate key, so a repost is the same item):
1. an appeal is final: the latest appeal label wins;
2. else a label from the `relabel` queue (a suspected label error, looked at again) wins, the latest;
3. otherwise each reviewer's latest label counts once (a relabel replaces their earlier one), and
   the majority decides: violating if more than half say so, a category if more than half name it;
   an exact tie is dropped (counted), since a coin flip is not a label.

Merge: review labels override the data sets' labels of the same text (those items are dropped);
review texts that are in a test split (or the golden set) are dropped, so evaluation stays clean.
Review items get a train/calibration split by the text's hash (70/30), so recalibration sees them.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from .datasets import BENIGN, CATEGORIES, TRAIN_CALIB, LabeledText
from .splits import SEED, hash_split, near_duplicate_key

if TYPE_CHECKING:
    from ..review.service import ReviewService

REVIEW_DATASET = "review"
ENFORCEMENT_ACTIONS = frozenset({"remove", "limit", "age_restrict", "label"})
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class ReviewLabel:
    content_id: str
    text: str
    language: str | None
    categories: tuple[str, ...]
    action: str
    reviewer: str
    at: datetime
    source: str
    queue: str = ""

    @property
    def violating(self) -> bool | None:
        """True / False, or None when the label carries no verdict."""
        if self.action == "allow":
            return False
        if self.action in ENFORCEMENT_ACTIONS or self.categories:
            return True
        return None


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("'at' must be an ISO 8601 time string")
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def parse_review_labels(
    rows: Iterable[dict[str, Any]], categories: Sequence[str] = CATEGORIES, source: str = "labels"
) -> list[ReviewLabel]:
    """Validate export rows; every problem is reported as 'SOURCE:N: message' (N counts from 1)."""
    known = set(categories)
    labels: list[ReviewLabel] = []
    problems: list[str] = []
    for n, row in enumerate(rows, start=1):
        try:
            if not isinstance(row, dict):
                raise ValueError("each label must be a JSON object")
            text = row.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ValueError("'text' must be a non-empty string")
            cats = row.get("categories", [])
            if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
                raise ValueError("'categories' must be a list of category ids")
            unknown = sorted(set(cats) - known)
            if unknown:
                raise ValueError(f"unknown categories {unknown}")
            labels.append(
                ReviewLabel(
                    content_id=str(row.get("content_id") or f"{source}-{n}"),
                    text=text,
                    language=row.get("language") or None,
                    categories=tuple(dict.fromkeys(cats)),
                    action=str(row.get("action", "")),
                    reviewer=str(row.get("reviewer", "")),
                    at=_parse_time(row.get("at")),
                    source=str(row.get("source", "review")),
                    queue=str(row.get("queue") or ""),
                )
            )
        except ValueError as exc:
            problems.append(f"{source}:{n}: {exc}")
    if problems:
        more = f"\n  ... and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
        raise ValidationError(
            f"{source}: {len(problems)} bad review label(s)\n"
            + "\n".join(f"  - {p}" for p in problems[:MAX_PROBLEMS])
            + more
        )
    return labels


def read_review_labels(path: Path, categories: Sequence[str] = CATEGORIES) -> list[ReviewLabel]:
    """Labels from a JSONL file (`warden review export-labels --out FILE`)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"{path}: review labels file not found")
    rows: list[Any] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValidationError(f"{path}:{n}: invalid JSON: {exc.msg}") from None
    return parse_review_labels(rows, categories, source=str(path))


def labels_from_store(service: ReviewService) -> list[ReviewLabel]:
    """Every review and appeal label in the review service's database."""
    return parse_review_labels(service.export_labels(), source="review store")


def _resolve(group: list[ReviewLabel]) -> tuple[bool, tuple[str, ...]] | None:
    """(violating, categories) for one text, or None when the labels do not settle it."""
    for final_say in (
        [lab for lab in group if lab.source == "appeal" and lab.violating is not None],
        [lab for lab in group if lab.queue == "relabel" and lab.violating is not None],
    ):
        if final_say:
            final = max(final_say, key=lambda lab: lab.at)
            return bool(final.violating), final.categories if final.violating else ()
    latest: dict[str, ReviewLabel] = {}
    for lab in sorted(group, key=lambda lab: lab.at):
        if lab.violating is not None:
            latest[lab.reviewer] = lab  # a relabel by the same reviewer replaces the earlier one
    votes = list(latest.values())
    if not votes:
        return None
    yes = sum(bool(lab.violating) for lab in votes)
    if 2 * yes == len(votes):
        return None
    if 2 * yes < len(votes):
        return False, ()
    counts = Counter(c for lab in votes if lab.violating for c in lab.categories)
    return True, tuple(c for c in CATEGORIES if 2 * counts[c] > len(votes))


def review_items(labels: Sequence[ReviewLabel]) -> tuple[list[LabeledText], dict[str, int]]:
    """One `LabeledText` per distinct text (dataset 'review'), and counts of what was resolved how."""
    groups: dict[str, list[ReviewLabel]] = defaultdict(list)
    for lab in labels:
        groups[near_duplicate_key(lab.text)].append(lab)
    items: list[LabeledText] = []
    stats = Counter(labels=len(labels), texts=len(groups))
    for key, group in groups.items():
        resolved = _resolve(group)
        if resolved is None:
            stats["unsettled"] += 1
            continue
        violating, cats = resolved
        latest = max(group, key=lambda lab: lab.at)
        if not violating:
            labels_map, any_violation = dict(BENIGN), 0
            stats["benign"] += 1
        else:
            labels_map, any_violation = dict.fromkeys(cats, 1), 1
            stats["violating" if cats else "violating_unknown_category"] += 1
        items.append(
            LabeledText(
                id=f"{REVIEW_DATASET}:{latest.content_id}",
                text=latest.text,
                language=latest.language or "und",
                labels=labels_map,
                dataset=REVIEW_DATASET,
                split=hash_split(key, SEED, TRAIN_CALIB),
                any_violation=any_violation,
            )
        )
    return items, dict(stats)


def merge_review_labels(
    items: Sequence[LabeledText], reviewed: Sequence[LabeledText], protected_texts: Iterable[str] = ()
) -> tuple[list[LabeledText], dict[str, int]]:
    """Data-set items plus review items, review labels winning for the same text.

    `items` should include the test splits: their texts and `protected_texts` (e.g. a golden set
    that is not a sample of them) are never trained on, so review items and train/calib items that
    repeat them are dropped.
    """
    extra = {near_duplicate_key(t) for t in protected_texts}
    protected = extra | {near_duplicate_key(i.text) for i in items if i.split == "test"}
    kept_reviews = [r for r in reviewed if near_duplicate_key(r.text) not in protected]
    review_keys = {near_duplicate_key(r.text) for r in kept_reviews}
    kept: list[LabeledText] = []
    overridden = dropped = 0
    for item in items:
        key = near_duplicate_key(item.text)
        if item.split != "test" and key in review_keys:
            overridden += 1
        elif item.split != "test" and key in extra:
            dropped += 1
        else:
            kept.append(item)
    stats = {
        "review_items": len(kept_reviews),
        "review_dropped_test_overlap": len(reviewed) - len(kept_reviews),
        "dataset_items_overridden": overridden,
        "dataset_items_dropped_protected": dropped,
    }
    return kept + kept_reviews, stats
