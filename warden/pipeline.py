"""Pipeline: stages of detectors in cost order, with early exit and per-stage accounting."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .content import Content
from .decider import Decider
from .decision import StageTrace
from .detectors.base import Detector
from .fusion import ROUTES, FusionModel, route_of
from .policy.model import Policy
from .signals import Signal


@dataclass
class Stage:
    name: str
    detectors: list[Detector]
    # Items whose fused probability for some category reaches this after the stage skip the
    # rest of the cascade (a confident violation needs no more expensive evidence).
    exit_at: float | None = None
    # Items whose every category stays below this share of its flag threshold skip the rest
    # (confidently benign). Chosen on validation data by `warden cascade fit`.
    exit_below: float | None = None

    @property
    def cost(self) -> float:
        return sum(d.cost for d in self.detectors)


@dataclass
class ItemResult:
    signals: list[Signal] = field(default_factory=list)
    probabilities: np.ndarray | None = None
    evaluated: np.ndarray | None = None
    stages: list[StageTrace] = field(default_factory=list)
    # Fused probabilities after each stage that ran (for fitting and explaining the cascade), and
    # whether that stage had evaluated every category.
    stage_probabilities: list[np.ndarray] = field(default_factory=list)
    stage_complete: list[bool] = field(default_factory=list)
    # The LLM judge's rationale when the item reached the judge stage (set by the judge stage).
    judge: dict[str, Any] | None = None


def flag_thresholds(policy: Policy, fusion: FusionModel) -> dict[str, np.ndarray]:
    """Per route, each policy category's flag threshold, as the Decider resolves it."""
    decider = Decider(policy, fusion)
    return {
        route: np.array([decider.flag_threshold(c, route) for c in policy.category_ids]) for route in ROUTES
    }


class Pipeline:
    """The text cascade: tiers of detectors in cost order over one fusion model, for one policy."""

    def __init__(
        self,
        stages: list[Stage],
        fusion: FusionModel,
        categories: Sequence[str],
        flag_thresholds: dict[str, np.ndarray] | None = None,
    ) -> None:
        names = [d.name for s in stages for d in s.detectors]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"detector(s) used twice in one pipeline: {', '.join(dupes)}")
        self.stages = stages
        self.fusion = fusion
        self.categories = list(categories)
        # Per route, each category's flag threshold: `exit_below` and the judge band are relative
        # to these (`flag_thresholds(policy, fusion)`); without them benign exits are off.
        self.flag_thresholds: dict[str, np.ndarray] = flag_thresholds or {}
        self._load_lock = threading.Lock()
        self._loaded = False

    def with_policy(self, policy: Policy) -> Pipeline:
        """The same stages and fusion for another policy: detectors that read the policy are rebuilt,
        the others (loaded models) are shared, so a policy change reloads no model file."""
        stages = [replace(s, detectors=[d.for_policy(policy) for d in s.detectors]) for s in self.stages]
        return Pipeline(stages, self.fusion, policy.category_ids, flag_thresholds(policy, self.fusion))

    def load(self) -> None:
        # One lock for all detectors: concurrent first calls must not see half-loaded models.
        with self._load_lock:
            if self._loaded:
                return
            for stage in self.stages:
                for det in stage.detectors:
                    det.load()
            self._loaded = True

    @property
    def version(self) -> str:
        spec = [
            {
                "stage": s.name,
                "detectors": [d.identity for d in s.detectors],
                "exit_at": s.exit_at,
                "exit_below": s.exit_below,
            }
            for s in self.stages
        ]
        spec_json = json.dumps({"stages": spec, "fusion": self.fusion.version}, sort_keys=True)
        return "pipeline-" + hashlib.sha256(spec_json.encode()).hexdigest()[:12]

    def model_versions(self) -> dict[str, str]:
        out = {d.name: d.identity for s in self.stages for d in s.detectors}
        out["fusion"] = self.fusion.version
        return out

    def _benign(self, probs: np.ndarray, language: str, exit_below: float | None) -> bool:
        flags = self.flag_thresholds.get(route_of(language))
        if exit_below is None or flags is None:
            return False
        return bool((probs / np.maximum(flags, 1e-9)).max() < exit_below)

    def run(
        self, items: Sequence[Content], languages: Sequence[str], early_exit: bool = True
    ) -> list[ItemResult]:
        """Run the stages; `early_exit=False` runs every stage for every item (cascade fitting)."""
        self.load()
        results = [ItemResult() for _ in items]
        active = list(range(len(items)))
        detectors_run: list[str] = []
        for s_index, stage in enumerate(self.stages):
            if not active:
                break
            started = time.perf_counter()
            batch = [items[i] for i in active]
            batch_langs = [languages[i] for i in active]
            for det in stage.detectors:
                signals = det.detect(batch, batch_langs)
                if len(signals) != len(batch):
                    raise RuntimeError(
                        f"detector {det.name} returned {len(signals)} signals for {len(batch)} items"
                    )
                for i, sig in zip(active, signals, strict=True):
                    results[i].signals.append(sig)
            detectors_run += [d.name for d in stage.detectors]
            probs, evaluated = self.fusion.fuse(
                [results[i].signals for i in active], detectors_run, self.categories
            )
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            last = s_index == len(self.stages) - 1
            still: list[int] = []
            for row, i in enumerate(active):
                results[i].probabilities = probs[row]
                results[i].evaluated = evaluated[row]
                results[i].stage_probabilities.append(probs[row])
                complete = bool(evaluated[row].all())
                results[i].stage_complete.append(complete)
                sure = stage.exit_at is not None and bool(probs[row].max() >= stage.exit_at)
                # "Benign" needs every category scored: a category only a later stage can score
                # (e.g. one known from policy examples alone) must not be skipped.
                benign = complete and self._benign(probs[row], languages[i], stage.exit_below)
                exits = early_exit and not last and (sure or benign)
                results[i].stages.append(
                    StageTrace(
                        name=stage.name,
                        detectors=[d.name for d in stage.detectors],
                        latency_ms=round(elapsed_ms / max(len(active), 1), 4),
                        cost=stage.cost,
                        exited=exits,
                    )
                )
                if not exits:
                    still.append(i)
            active = still
        return results
