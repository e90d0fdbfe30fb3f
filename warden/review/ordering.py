"""The learned review ordering as the review service uses it: which leases are chosen by the bandit,
which are logged, the reward once a label arrives, training from the logs, and offline evaluation.

`ReviewService` calls `chooser_for` before a lease, `record_lease` after it and `reward` after a
label; the CLI (`warden review train-bandit`, `warden review evaluate-policy`) and the console's
admin page call `train` and `evaluate`. The model file is re-read when it changes on disk, so a
retrain reaches every API worker without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from ..policy.model import SEVERITY_WEIGHT, Policy
from ..settings import BanditSettings, ReviewSettings
from ..store import Store
from ..store.review_records import BanditEvent, LeaseCandidate, ReviewTask
from .bandit import (
    BanditModel,
    Candidate,
    Choice,
    LoggedChoice,
    ReviewPolicy,
    harm_prevented,
    remaining_views,
)
from .ope import PolicyEvaluation, evaluate, formula_policy
from .routing import category_severity

log = logging.getLogger(__name__)
# How often a serving process checks the model file for a retrain.
_RELOAD_CHECK_S = 5.0


def candidate_of(row: LeaseCandidate, now_epoch: float) -> Candidate:
    window = max(row.due_epoch - row.created_epoch, 1.0)
    age = max(0.0, now_epoch - row.created_epoch)
    return Candidate(
        task_id=row.task_id,
        queue=row.queue,
        category=row.category,
        language=row.language,
        severity=row.severity,
        probability=row.probability,
        reach=row.reach,
        age_s=age,
        sla_fraction=age / window,
        formula=row.priority,
    )


class LeaseChooser:
    """One lease's chooser (the store's `Chooser` protocol): remembers what it chose, for the log."""

    def __init__(self, policy: ReviewPolicy, use_bandit: bool, now_epoch: float, count: int) -> None:
        self.policy, self.use_bandit, self.now_epoch, self.count = policy, use_bandit, now_epoch, count
        self.candidates: list[Candidate] = []
        self.choice: Choice | None = None

    def choose(self, candidates: list[LeaseCandidate]) -> int | None:
        self.candidates = [candidate_of(c, self.now_epoch) for c in candidates]
        self.choice = self.policy.choose(self.candidates, use_bandit=self.use_bandit)
        return self.choice.index


@dataclass(frozen=True)
class TrainReport:
    path: str
    events: int
    used: int
    queues: list[str]
    version: str
    seconds: float


@dataclass(frozen=True)
class EvaluationReport:
    queue: str | None
    events: int
    model_version: str
    bandit: dict[str, Any]
    formula: dict[str, Any]
    logged_mean_reward: float
    dr_gain: float | None  # bandit DR value / formula DR value

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LearnedOrdering:
    def __init__(self, store: Store, settings: ReviewSettings, policy: Policy) -> None:
        self.store, self.settings, self.policy = store, settings, policy
        self._lock = threading.Lock()
        self._model: BanditModel | None = None
        self._model_mtime: float | None = None
        self._checked = 0.0

    @property
    def config(self) -> BanditSettings:
        return self.settings.bandit

    def logged(self, queue: str | None) -> bool:
        return queue is not None and (queue in self.config.queues or queue in self.config.log_queues)

    def model(self) -> BanditModel | None:
        """The trained model, re-read when its file changed; None when absent or unreadable."""
        now = time.monotonic()
        with self._lock:
            if now - self._checked < _RELOAD_CHECK_S and self._checked:
                return self._model
            self._checked = now
            path = Path(self.config.model_path)
            try:
                mtime = path.stat().st_mtime
            except OSError:
                self._model, self._model_mtime = None, None
                return None
            if mtime != self._model_mtime:
                try:
                    self._model = BanditModel.load(path)
                except Exception as exc:  # noqa: BLE001 - a broken file means the formula, not a 500
                    log.warning("review bandit model at %s is unusable (%s): serving by formula", path, exc)
                    self._model = None
                self._model_mtime = mtime
            return self._model

    def serving_policy(self, seed: int | None = None) -> ReviewPolicy:
        return ReviewPolicy(
            self.model(),
            epsilon=self.config.epsilon,
            stale_after_s=self.config.stale_after_hours * 3600.0,
            min_events=self.config.min_events,
            seed=seed,
        )

    def chooser_for(self, queue: str | None, now: datetime) -> LeaseChooser | None:
        if not self.logged(queue):
            return None
        use_bandit = queue in self.config.queues
        return LeaseChooser(self.serving_policy(), use_bandit, now.timestamp(), self.config.candidates)

    def record_lease(
        self, chooser: LeaseChooser | None, task: ReviewTask | None, reviewer: str, now: datetime
    ) -> None:
        """Log the lease if it served the chooser's pick (a lost race or a renewed lease is not logged:
        its propensity would be wrong)."""
        if chooser is None or chooser.choice is None or task is None or not chooser.candidates:
            return
        choice = chooser.choice
        if chooser.candidates[choice.index].task_id != task.id:
            return
        self.store.review.log_bandit_event(
            queue=task.queue,
            task_id=task.id,
            reviewer=reviewer,
            policy=choice.policy,
            model_version=choice.model_version,
            fallback_reason=choice.reason,
            propensity=choice.propensity,
            chosen=choice.index,
            candidates=[asdict(c) for c in chooser.candidates],
            now=now,
        )

    def reward_of(self, task: ReviewTask, action: str, categories: Sequence[str], now: datetime) -> float:
        """Harm prevented by this label: 0 unless the reviewer confirmed a violation; else the highest
        severity among the confirmed categories x the views the item would still have had."""
        if action == "allow":
            return 0.0
        severities = [category_severity(self.policy, c) for c in categories]
        severity = max(severities or [task.severity], key=lambda s: SEVERITY_WEIGHT.get(s, 0.0))
        views = max(0.0, 10.0 ** (task.reach - 1.0) - 1.0)
        age = (now - task.created_at).total_seconds()
        return harm_prevented(
            severity, remaining_views(views, age, self.config.reach_half_life_hours * 3600.0)
        )

    def reward(
        self, task: ReviewTask, reviewer: str, action: str, categories: Sequence[str], now: datetime
    ) -> None:
        if self.logged(task.queue) and task.appeal is None and not task.gold:
            self.store.review.reward_bandit_event(
                task.id, reviewer, self.reward_of(task, action, categories, now), now
            )

    # -- offline: training and evaluation ----------------------------------------------------------
    def choices(self, queue: str | None = None) -> tuple[list[BanditEvent], list[LoggedChoice]]:
        events = self.store.review.bandit_events(queue)
        return events, [_logged(e) for e in events]

    def train(self, queue: str | None = None, path: Path | None = None, holdout: float = 0.0) -> TrainReport:
        """Train a fresh model on the rewarded logged leases (of `queue`, or all) and save it. With
        `holdout`, the newest share is left out so `evaluate` can judge the model on unseen leases."""
        if not 0.0 <= holdout < 1.0:
            raise ValidationError(f"holdout must be in [0, 1), got {holdout}")
        started = time.perf_counter()
        events, choices = self.choices(queue)
        keep = len(events) - int(round(len(events) * holdout))
        events, choices = events[:keep], choices[:keep]
        model = BanditModel()
        used = model.learn(choices)
        target = Path(path or self.config.model_path)
        model.meta.extra = {
            "queue": queue,
            "events_seen": len(events),
            "last_event_id": events[-1].id if events else 0,
        }
        model.save(target)
        with self._lock:
            self._checked = 0.0  # pick the new file up at the next lease
        return TrainReport(
            str(target),
            len(events),
            used,
            sorted({e.queue for e in events}),
            model.meta.version,
            time.perf_counter() - started,
        )

    def evaluate(self, queue: str | None = None, model: BanditModel | None = None) -> EvaluationReport:
        """IPS and DR estimates of the bandit (greedy with its epsilon) and of today's formula on the
        logged leases, with 95 % intervals. Evaluate on logs the model was not trained on."""
        model = model or self.model()
        if model is None:
            raise FileNotFoundError(
                f"no review bandit model at {self.config.model_path}: run `warden review train-bandit` first"
            )
        events, choices = self.choices(queue)
        # Only leases newer than the model's training data: a model judged on what it learned from
        # looks better than it is.
        after = int(model.meta.extra.get("last_event_id", 0))
        unseen = [c for e, c in zip(events, choices, strict=True) if e.id > after]
        if not unseen:
            raise ValidationError(
                f"no rewarded leases newer than the model's training data (event {after}): "
                "train with --holdout, or evaluate after more leases are labelled"
            )
        choices = unseen
        bandit = ReviewPolicy(model, epsilon=self.config.epsilon, stale_after_s=float("inf"), min_events=0)
        on_bandit = evaluate(choices, lambda cands: bandit.pmf(cands)[0])
        on_formula = evaluate(choices, formula_policy)
        gain = on_bandit.dr.value / on_formula.dr.value if on_formula.dr.value and on_formula.events else None
        return EvaluationReport(
            queue=queue,
            events=on_bandit.events,
            model_version=model.meta.version,
            bandit=_estimates(on_bandit),
            formula=_estimates(on_formula),
            logged_mean_reward=on_bandit.logged.value,
            dr_gain=gain,
        )


    def overview(self) -> dict[str, Any]:
        """What the console's admin page shows: per logged queue the leases logged and rewarded and
        who served them, the model's state, and the offline evaluation when one can be made."""
        queues = sorted(set(self.config.queues) | set(self.config.log_queues))
        if not queues:
            return {"queues": [], "model": None, "model_status": "", "evaluation": None, "note": ""}
        events = self.store.review.bandit_events(rewarded_only=False)
        rows = []
        for queue in queues:
            mine = [e for e in events if e.queue == queue]
            rows.append(
                {
                    "queue": queue,
                    "switched": queue in self.config.queues,
                    "logged": len(mine),
                    "rewarded": sum(e.reward is not None for e in mine),
                    "by_bandit": sum(e.policy == "bandit" for e in mine),
                }
            )
        model = self.model()
        status = self.serving_policy().usable()
        evaluation, note = None, ""
        if model is not None:
            try:
                evaluation = self.evaluate().as_dict()
            except (ValidationError, ValueError) as exc:
                note = str(exc)
        return {
            "queues": rows,
            "model": None if model is None else asdict(model.meta),
            "model_status": status or "serving",
            "evaluation": evaluation,
            "note": note,
        }


def _estimates(evaluation: PolicyEvaluation) -> dict[str, Any]:
    return {"ips": evaluation.ips.as_dict(), "dr": evaluation.dr.as_dict()}


def _logged(event: BanditEvent) -> LoggedChoice:
    return LoggedChoice(
        candidates=[Candidate(**c) for c in event.candidates],
        chosen=event.chosen,
        propensity=event.propensity,
        policy=event.policy,
        model_version=event.model_version,
        reward=event.reward,
    )
