"""Prevalence of stored decisions, measured: a stratified sample sent to a blind review queue, and
the estimate once its labels are back (`warden prevalence sample|estimate`).

The decisions table keeps no content, so the population is a file of the items as moderated (the
same JSONL the rescorer reads): each item's stored decision gives its stratum, its `views` (or
another metadata field) its weight. `draw` stratifies by score band x top category x language x view
band (the top category only from the 0.2 band up: below it the argmax is noise), allocates the label
budget with the high bands over-sampled, and queues each sampled item in the `prevalence` queue with
the model's scores, flags and reasons hidden, so reviewers are not anchored by them. The design
(strata sizes, weights, inclusion probabilities, task ids) is written to a JSON file; `estimate`
reads it back with the labels and gives prevalence overall, per category and per language with 95 %
intervals (`warden.review.prevalence`), plus precision and recall of the automated enforcement.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..content import Content
from ..decision import Decision
from ..errors import NotFoundError, ValidationError
from ..store.review import NewTask
from .prevalence import (
    DEFAULT_BANDS,
    Design,
    Interval,
    SampledUnit,
    Unit,
    draw_sample,
    estimate_precision_recall,
    estimate_prevalence,
    score_band,
    view_bands,
)
from .routing import HOUR_S, category_severity

if TYPE_CHECKING:
    from .service import ReviewService

QUEUE = "prevalence"
# Actions that enforce (precision and recall of automation are about these).
ENFORCED = ("remove", "age_restrict", "limit")
# Over-sampling of the high score bands, where violations concentrate (bands of DEFAULT_BANDS).
BOOST = {2: 2.0, 3: 4.0, 4: 4.0}
_CATEGORY_FROM_BAND = 2
_LOOKUP_CHUNK = 5_000


def _weight(item: Content, key: str | None) -> float:
    if key is None:
        return 1.0
    value = item.metadata.get(key) if item.metadata else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return 1.0  # an item without a view count still counts once
    return max(1.0, float(value))


@dataclass
class PrevalenceSample:
    sample_id: str
    created_at: str
    weight_key: str | None
    design: Design
    tasks: dict[str, str]  # content id -> review task id
    actions: dict[str, str]  # content id -> decision action at sampling time
    skipped: int = 0  # items without a stored decision
    population: int = 0

    def to_json(self) -> dict[str, Any]:
        strata = sorted(self.design.population_units, key=repr)
        return {
            "sample_id": self.sample_id,
            "created_at": self.created_at,
            "weight_key": self.weight_key,
            "population": self.population,
            "skipped": self.skipped,
            "strata": [
                {
                    "key": list(h) if isinstance(h, tuple) else [h],
                    "units": self.design.population_units[h],
                    "weight": self.design.population_weight[h],
                    "sampled": self.design.sample_sizes.get(h, 0),
                }
                for h in strata
            ],
            "sample": [
                {
                    "content_id": u.id,
                    "stratum": list(u.stratum) if isinstance(u.stratum, tuple) else [u.stratum],
                    "weight": u.weight,
                    "inclusion": u.inclusion,
                    "task_id": self.tasks[u.id],
                    "action": self.actions[u.id],
                }
                for u in self.design.sample
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PrevalenceSample:
        design = Design()
        for s in data["strata"]:
            key = tuple(s["key"])
            design.population_units[key] = int(s["units"])
            design.population_weight[key] = float(s["weight"])
            design.sample_sizes[key] = int(s["sampled"])
        design.sample = [
            SampledUnit(u["content_id"], tuple(u["stratum"]), float(u["weight"]), float(u["inclusion"]))
            for u in data["sample"]
        ]
        return cls(
            sample_id=str(data["sample_id"]),
            created_at=str(data["created_at"]),
            weight_key=data.get("weight_key"),
            design=design,
            tasks={u["content_id"]: u["task_id"] for u in data["sample"]},
            actions={u["content_id"]: u["action"] for u in data["sample"]},
            skipped=int(data.get("skipped", 0)),
            population=int(data.get("population", 0)),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: Path) -> PrevalenceSample:
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValidationError(
                f"{path} is not a prevalence sample written by `warden prevalence sample`: {exc}"
            ) from exc


def draw(
    service: ReviewService,
    items: Sequence[Content],
    budget: int,
    seed: int = 0,
    weight_key: str | None = "views",
    actor: str = "cli",
) -> PrevalenceSample:
    """Stratify the items by their stored decisions, draw `budget` of them and queue them for review."""
    if budget < 1:
        raise ValidationError(f"budget must be at least 1, got {budget}")
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise ValidationError("duplicate content ids in the population")
    decisions: dict[str, Decision] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):  # bounded IN lists (SQLite's parameter limit)
        decisions.update(service.store.find_decisions_by_content_ids(ids[start : start + _LOOKUP_CHUNK]))
    present = [i for i in items if i.id in decisions]
    if not present:
        raise NotFoundError("none of these items has a stored decision: moderate them with --store first")
    weights = {i.id: _weight(i, weight_key) for i in present}
    band_of_views = view_bands(list(weights.values()))
    units, by_id = [], {}
    for item in present:
        decision = decisions[item.id]
        probs = decision.probabilities()
        top = max(probs, key=lambda c: probs[c]) if probs else "none"
        band = score_band(probs.get(top, 0.0), DEFAULT_BANDS)
        stratum = (
            band,
            top if band >= _CATEGORY_FROM_BAND else "any",
            decision.language or item.language or "und",
            band_of_views(weights[item.id]),
        )
        units.append(Unit(item.id, stratum, weights[item.id]))
        by_id[item.id] = item
    boost: dict[Hashable, float] = {u.stratum: BOOST.get(u.stratum[0], 1.0) for u in units}  # type: ignore[index]
    design = draw_sample(units, budget, np.random.default_rng(seed), boost)
    sample_id = uuid.uuid4().hex[:12]
    now = service.clock()
    tasks = []
    for unit in design.sample:
        item, decision = by_id[unit.id], decisions[unit.id]
        snapshot = service._snapshot(item, decision, f"prevalence:{sample_id}")
        # Blind review: the model's view would anchor the reviewer and bias the estimate.
        snapshot.update(scores={}, flagged=[], reasons=[], judge=None, original_action="review")
        top_cat = unit.stratum[1] if unit.stratum[1] not in ("any", "none") else None  # type: ignore[index]
        tasks.append(
            NewTask(
                queue=QUEUE,
                content_id=item.id,
                decision_id=decision.decision_id,
                kind=item.kind,
                language=decision.language or item.language,
                category=top_cat,
                severity=category_severity(service.policy, top_cat) if top_cat else "medium",
                probability=0.0,
                reach=1.0,
                base_priority=1.0,  # no ordering by the model: served oldest first
                created_at=now,
                sla_s=service.config.qa_sla_hours * HOUR_S,
                reviews_required=1,
                snapshot=snapshot,
                created_by=actor,
                dedupe_key=f"prevalence:{sample_id}:{decision.decision_id}",
            )
        )
    task_ids = service.store.review.add_tasks(tasks)
    return PrevalenceSample(
        sample_id=sample_id,
        created_at=now.isoformat(),
        weight_key=weight_key,
        design=design,
        tasks={t.content_id: tid for t, tid in zip(tasks, task_ids, strict=True)},
        actions={u.id: decisions[u.id].action for u in design.sample},
        skipped=len(items) - len(present),
        population=len(present),
    )


@dataclass(frozen=True)
class Figure:
    estimate: float
    low: float
    high: float
    labelled: int

    @classmethod
    def of(cls, interval: Interval) -> Figure:
        return cls(interval.estimate, interval.low, interval.high, interval.labelled)


@dataclass
class PrevalenceReport:
    sample_id: str
    labelled: int
    sampled: int
    overall: Figure
    by_category: dict[str, Figure] = field(default_factory=dict)
    by_language: dict[str, Figure] = field(default_factory=dict)
    precision: Figure | None = None
    recall: Figure | None = None

    def to_json(self) -> dict[str, Any]:
        def plain(f: Figure | None) -> dict[str, float] | None:
            return None if f is None else {k: float(v) for k, v in f.__dict__.items()}

        return {
            "sample_id": self.sample_id,
            "labelled": self.labelled,
            "sampled": self.sampled,
            "overall": plain(self.overall),
            "by_category": {c: plain(f) for c, f in self.by_category.items()},
            "by_language": {lang: plain(f) for lang, f in self.by_language.items()},
            "precision_of_enforcement": plain(self.precision),
            "recall_of_enforcement": plain(self.recall),
        }


def _sub_design(design: Design, keep: Callable[[Hashable], bool]) -> Design:
    return Design(
        population_units={h: n for h, n in design.population_units.items() if keep(h)},
        population_weight={h: w for h, w in design.population_weight.items() if keep(h)},
        sample_sizes={h: n for h, n in design.sample_sizes.items() if keep(h)},
        sample=[u for u in design.sample if keep(u.stratum)],
    )


def estimate(service: ReviewService, sample: PrevalenceSample) -> PrevalenceReport:
    """Prevalence from the labels that have come back (unlabelled units shrink their stratum's n)."""
    violating: dict[str, bool] = {}
    categories: dict[str, set[str]] = {}
    for content_id, task_id in sample.tasks.items():
        labels = service.store.review.labels_for(task_id)
        if labels:
            label = labels[0]
            violating[content_id] = label.action != "allow"
            categories[content_id] = set(label.categories) if label.action != "allow" else set()
    design = sample.design
    report = PrevalenceReport(
        sample.sample_id,
        len(violating),
        len(design.sample),
        Figure.of(estimate_prevalence(design, violating)),
    )
    if not violating:
        return report
    for category in service.policy.category_ids:
        in_category = {k: category in cats for k, cats in categories.items()}
        report.by_category[category] = Figure.of(estimate_prevalence(design, in_category))
    for language in sorted({h[2] for h in design.population_units}):  # type: ignore[index]
        sub = _sub_design(design, lambda h, lang=language: h[2] == lang)  # type: ignore[index,misc]
        report.by_language[language] = Figure.of(estimate_prevalence(sub, violating))
    precision, recall = estimate_precision_recall(
        design, violating, lambda k: sample.actions.get(k) in ENFORCED
    )
    report.precision, report.recall = Figure.of(precision), Figure.of(recall)
    return report


def read_items(path: Path) -> list[Content]:
    """Items as moderated, one JSON object per line (the rescorer's archive format)."""
    items = []
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                items.append(Content.model_validate(json.loads(raw.decode("utf-8"))))
            except UnicodeDecodeError as exc:
                raise ValidationError(f"{path}:{n}: invalid UTF-8 at byte {exc.start}") from exc
            except ValueError as exc:  # JSON and pydantic errors alike
                raise ValidationError(f"{path}:{n}: not a valid item: {str(exc).splitlines()[0]}") from exc
    return items
