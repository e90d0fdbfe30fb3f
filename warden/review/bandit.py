"""A contextual bandit that picks which review task to serve next (Vowpal Wabbit, `cb_explore_adf`).

Today's ordering (`priority.py`) is a fixed formula: severity x log reach x P(violation), aged
toward the SLA. It cannot learn that a model is over-confident in one language, that reach is
worth more than its logarithm, or that an old item's remaining audience is smaller than a fresh
one's. The bandit learns that from what reviewers confirm:

- **context / actions**: each candidate task (the first `candidates` of the queue in formula
  order, so the store's filters decide what may be served) is one action, described by its
  calibrated probability, severity, reach, age, SLA fraction, language, category and its formula
  priority (`features`);
- **reward**: harm prevented, known only once the label arrives: severity weight x the views the
  item would still have had (`harm_prevented`), 0 for a benign or unconfirmed item;
- **exploration**: epsilon-greedy with a hard cap (`MAX_EPSILON`); every served choice is logged
  with its propensity, so `ope.py` can evaluate any other policy offline;
- **fallback**: the formula (with the same epsilon, so its logs stay evaluable) whenever the
  model file is missing, unreadable, trained on too few events or older than its stale limit.

The same `ReviewPolicy` serves the product (`ReviewService.lease_next`) and the queue simulator
(`queue_sim.py`, `make bench AREA=strategy`).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ValidationError
from .priority import severity_weight

# Exploration is paid for in harm: never more than this share of leases is spent on it.
MAX_EPSILON = 0.2
# Rewards are in thousands of severity-weighted views: keeps the regression targets near 1.
REWARD_SCALE = 1_000.0
# Decay constants (hours) of the remaining-audience features: the learner mixes them per category.
DECAY_HOURS = (1.0, 6.0, 24.0)
VW_ARGS = "--cb_explore_adf --cb_type mtr -q al -q ac --quiet --random_seed 7"


@dataclass(frozen=True)
class Candidate:
    """One task the reviewer may be served now, as the bandit sees it (all from the task row)."""

    task_id: str
    queue: str
    category: str | None
    language: str | None
    severity: str
    probability: float
    reach: float  # the task's reach factor, 1 + log10(1 + views) (see priority.reach_factor)
    age_s: float
    sla_fraction: float
    formula: float  # the formula's current priority

    @property
    def views(self) -> float:
        return max(0.0, 10.0 ** (self.reach - 1.0) - 1.0)


def features(candidate: Candidate) -> str:
    """The candidate as one VW action line (namespaces: a numeric, l language, c category)."""
    p = min(1.0, max(0.0, candidate.probability))
    sev = severity_weight(candidate.severity)
    harm = p * sev * candidate.views / REWARD_SCALE
    hours = candidate.age_s / 3600.0
    decayed = " ".join(f"h{int(t)}:{harm * math.exp(-hours / t):.6g}" for t in DECAY_HOURS)
    numeric = (
        f"p:{p:.6g} sev:{sev:.3g} lv:{math.log10(1.0 + candidate.views):.6g} harm:{harm:.6g} {decayed} "
        f"age:{hours:.6g} frac:{min(candidate.sla_fraction, 10.0):.6g} f:{math.log1p(candidate.formula):.6g}"
    )
    lang = _token(candidate.language or "und")
    cat = _token(candidate.category or "none")
    return f"|a {numeric} |l {lang} |c {cat}"


def _token(value: str) -> str:
    # VW feature names may not hold spaces, colons or pipes.
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in value) or "_"


def example(
    candidates: Sequence[Candidate], chosen: int | None = None, cost: float = 0.0, prob: float = 1.0
) -> list[str]:
    """A multi-line ADF example; with `chosen`, labelled with the logged cost and propensity."""
    lines = [f"shared |s q_{_token(candidates[0].queue)}"]
    for index, candidate in enumerate(candidates):
        line = features(candidate)
        if index == chosen:
            line = f"0:{cost:.6g}:{max(prob, 1e-6):.6g} {line}"
        lines.append(line)
    return lines


def harm_prevented(severity: str, views_remaining: float) -> float:
    """The reward of reviewing a confirmed violation: severity weight x the views it would still get."""
    return severity_weight(severity) * max(0.0, views_remaining)


def remaining_views(views: float, age_s: float, half_life_s: float) -> float:
    """Views an item would still get after `age_s`, under exponential decay of attention: the
    product's estimate when the platform does not report views after the review."""
    return views * math.exp(-math.log(2.0) * max(0.0, age_s) / max(half_life_s, 1.0))


@dataclass
class LoggedChoice:
    """One served choice as logged: the candidates, what was served with which probability, and
    (later) the reward. The unit of training (`BanditModel.learn`) and of `ope.py`."""

    candidates: list[Candidate]
    chosen: int
    propensity: float
    policy: str  # "bandit" or "formula"
    model_version: str = ""
    reward: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "candidates": [asdict(c) for c in self.candidates],
            "chosen": self.chosen,
            "propensity": self.propensity,
            "policy": self.policy,
            "model_version": self.model_version,
            "reward": self.reward,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoggedChoice:
        return cls(
            candidates=[Candidate(**c) for c in data["candidates"]],
            chosen=int(data["chosen"]),
            propensity=float(data["propensity"]),
            policy=str(data["policy"]),
            model_version=str(data.get("model_version", "")),
            reward=None if data.get("reward") is None else float(data["reward"]),
        )


@dataclass
class ModelMeta:
    version: str
    trained_at: float
    events: int
    vw_args: str = VW_ARGS
    extra: dict[str, Any] = field(default_factory=dict)


class BanditModel:
    """A VW workspace with its metadata. VW workspaces are not thread-safe: one lock per model."""

    def __init__(self, meta: ModelMeta | None = None, model_file: Path | None = None) -> None:
        from vowpalwabbit import Workspace  # deferred: the review package must import without VW

        args = f"--quiet -i {model_file}" if model_file is not None else VW_ARGS
        self._vw = Workspace(args)
        self._lock = threading.Lock()
        self.meta = meta or ModelMeta(version=f"bandit-{int(time.time())}", trained_at=time.time(), events=0)

    def scores(self, candidates: Sequence[Candidate]) -> np.ndarray:
        """The model's greedy preference over candidates (its exploration-free pmf: 1 on the best)."""
        with self._lock:
            pmf = self._vw.predict(example(candidates))
        return np.asarray(pmf, dtype=float)

    def learn(self, choices: Sequence[LoggedChoice], passes: int = 1) -> int:
        """Learn from rewarded choices (unrewarded ones are skipped); returns how many were used.
        Batch training from logs makes several `passes` (online updates from fresh labels, one)."""
        usable = [c for c in choices if c.reward is not None and c.candidates]
        examples = [
            example(c.candidates, c.chosen, -float(c.reward or 0.0) / REWARD_SCALE, c.propensity)
            for c in usable
        ]
        with self._lock:
            for _ in range(max(1, passes)):
                for lines in examples:
                    self._vw.learn(lines)
        used = len(usable)
        self.meta.events += used
        self.meta.trained_at = time.time()
        return used

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with self._lock:
            self._vw.save(str(tmp))
        tmp.replace(path)
        _meta_path(path).write_text(json.dumps(asdict(self.meta), indent=2))

    @classmethod
    def load(cls, path: Path) -> BanditModel:
        meta_file = _meta_path(path)
        if not path.exists() or not meta_file.exists():
            raise FileNotFoundError(
                f"no review bandit model at {path} (train one: warden review train-bandit)"
            )
        meta = ModelMeta(**json.loads(meta_file.read_text()))
        return cls(meta, model_file=path)


def _meta_path(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".json")


@dataclass(frozen=True)
class Choice:
    index: int
    propensity: float
    policy: str  # "bandit" or "formula"
    model_version: str
    reason: str = ""  # why the formula was used, when it was


class ReviewPolicy:
    """Serve one of the candidates: the bandit when its model is usable, else the formula; both
    epsilon-greedy so every logged choice has a known, non-zero propensity."""

    def __init__(
        self,
        model: BanditModel | None,
        epsilon: float = 0.05,
        stale_after_s: float = 72 * 3600.0,
        min_events: int = 200,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= epsilon <= MAX_EPSILON:
            raise ValidationError(f"bandit epsilon must be between 0 and {MAX_EPSILON}, got {epsilon}")
        self.model = model
        self.epsilon = epsilon
        self.stale_after_s = stale_after_s
        self.min_events = min_events
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()

    def usable(self, now: float | None = None) -> str:
        """'' when the bandit may serve, else why not (the fallback reason, logged)."""
        if self.model is None:
            return "no model"
        if self.model.meta.events < self.min_events:
            return f"model trained on {self.model.meta.events} events (< {self.min_events})"
        age = (time.time() if now is None else now) - self.model.meta.trained_at
        if age > self.stale_after_s:
            return f"model is stale ({age / 3600:.1f} h old)"
        return ""

    def greedy(
        self, candidates: Sequence[Candidate], use_bandit: bool = True, now: float | None = None
    ) -> tuple[int, str]:
        """(index of the exploitation choice, '' or the fallback reason)."""
        reason = self.usable(now) if use_bandit else "formula queue"
        if not reason and self.model is not None:
            try:
                return int(np.argmax(self.model.scores(candidates))), ""
            except Exception as exc:  # noqa: BLE001 - a broken model must never stop the queue
                reason = f"model failed: {type(exc).__name__}: {exc}"
        return int(np.argmax([c.formula for c in candidates])), reason

    def pmf(
        self, candidates: Sequence[Candidate], use_bandit: bool = True, now: float | None = None
    ) -> tuple[np.ndarray, str]:
        best, reason = self.greedy(candidates, use_bandit, now)
        k = len(candidates)
        probs = np.full(k, self.epsilon / k)
        probs[best] += 1.0 - self.epsilon
        return probs, reason

    def choose(
        self, candidates: Sequence[Candidate], use_bandit: bool = True, now: float | None = None
    ) -> Choice:
        if not candidates:
            raise ValidationError("no candidates to choose from")
        probs, reason = self.pmf(candidates, use_bandit, now)
        with self._rng_lock:
            index = int(self._rng.choice(len(candidates), p=probs))
        policy = "formula" if reason else "bandit"
        version = self.model.meta.version if (self.model is not None and not reason) else ""
        return Choice(index, float(probs[index]), policy, version, reason)
