"""A review-queue simulator: the yardstick for review orderings (`make bench AREA=strategy`).

Items arrive over time and wait in one queue; reviewers with a fixed capacity take one task at a
time from the first `candidates` of the queue in formula order (as the product's store serves
them), label it with fixed error rates, and the label arrives `label_delay_min` later. Each
item's audience grows and then decays: total views V are heavy-tailed (log-normal), attention
decays exponentially with a half-life that depends on the category, and the item has already been
seen by V (1 - e^(-lambda d)) people when it reaches the queue (detection delay d). Reviewing a
violating item that the reviewer confirms prevents severity x the views it would still have had;
that is the reward, and the harm-prevented total is what orderings are compared on.

The items themselves (model probability, category, severity, language, whether it truly
violates) come from a pool: the bench draws it from the data sets' test splits scored by the
shipped fast tier (`warden.bench.strategy.data_pool`), the tests from `synthetic_pool`.

Protocol per seed (`compare`): one arrival stream, capacity stream and reviewer-error draw shared
by every policy. Warm-up (`warmup_days`): the formula with epsilon exploration serves and is
logged. Then the runs fork from the same state: today's formula (no exploration) against the
bandit, trained on the warm-up logs and learning online from labels as they arrive. The warm-up
logs also feed offline policy evaluation (`ope.evaluate`), whose estimate of the bandit is checked
against the simulator's exact expected reward of the bandit's choices on the same decisions.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..policy.model import SEVERITY_WEIGHT
from ..settings import ReviewSettings
from .bandit import BanditModel, Candidate, LoggedChoice, ReviewPolicy
from .ope import evaluate
from .priority import base_priority, reach_factor

# Median attention half-life (hours) per category: scams burn out in hours, hate lingers.
HALF_LIFE_H = {
    "spam_scam": 1.5,
    "harassment": 4.0,
    "profanity": 3.0,
    "hate": 10.0,
    "violence": 6.0,
    "graphic_violence": 6.0,
    "sexual": 12.0,
    "sexual_minors": 12.0,
    "self_harm": 8.0,
    "extremism": 16.0,
    "illicit_goods": 24.0,
}


@dataclass(frozen=True)
class PoolItem:
    probability: float  # the model's calibrated P(violation) of the top category
    category: str
    severity: str
    language: str
    violating: bool


@dataclass(frozen=True)
class SimConfig:
    warmup_days: float = 1.0
    eval_days: float = 2.0
    arrivals_per_min: float = 2.0
    reviews_per_min: float = 1.0
    label_delay_min: float = 15.0
    reviewer_miss_rate: float = 0.10  # a violation labelled benign
    candidates: int = 50
    epsilon: float = 0.05
    log_epsilon: float = 0.2  # warm-up exploration of the formula, for OPE and training
    max_age_h: float = 72.0
    views_log_mean: float = 6.0
    views_log_sigma: float = 1.2
    # Time from posting to the queue (the item has been seen meanwhile): uniform in this range.
    detect_min_h: float = 0.1
    detect_max_h: float = 0.5


@dataclass
class Stream:
    """Everything random about one seed, drawn once and shared by every policy."""

    pool_index: np.ndarray
    arrival_min: np.ndarray
    views_total: np.ndarray
    decay_per_h: np.ndarray
    delay_h: np.ndarray
    caught: np.ndarray  # the reviewer confirms it if it violates
    capacity: np.ndarray  # reviews per minute


def draw_stream(pool: Sequence[PoolItem], config: SimConfig, rng: np.random.Generator) -> Stream:
    minutes = int((config.warmup_days + config.eval_days) * 1440)
    n = int(rng.poisson(config.arrivals_per_min * minutes))
    index = rng.integers(0, len(pool), n)
    violating = np.array([pool[i].violating for i in index], dtype=bool)
    half_life = np.array([HALF_LIFE_H.get(pool[i].category, 6.0) for i in index])
    views = rng.lognormal(config.views_log_mean, config.views_log_sigma, n) * np.where(violating, 1.5, 1.0)
    return Stream(
        pool_index=index,
        arrival_min=np.sort(rng.uniform(0, minutes, n)),
        views_total=views,
        decay_per_h=math.log(2.0) / (half_life * rng.lognormal(0.0, 0.4, n)),
        delay_h=rng.uniform(config.detect_min_h, config.detect_max_h, n),
        caught=rng.random(n) >= config.reviewer_miss_rate,
        capacity=rng.poisson(config.reviews_per_min, minutes),
    )


@dataclass
class RunResult:
    harm: float = 0.0  # realised harm prevented
    decisions: int = 0
    expected_chosen: list[float] = field(default_factory=list)  # E[reward] of each choice
    expected_best: list[float] = field(default_factory=list)  # best E[reward] among its candidates
    logs: list[LoggedChoice] = field(default_factory=list)
    expected_by_log: list[np.ndarray] = field(default_factory=list)  # E[reward] per logged candidate


def candidate_rows(formula: np.ndarray, recency: np.ndarray, count: int) -> np.ndarray:
    """The store's candidate set (`ReviewStore.lease` with a chooser): the first half of `count` by
    formula priority and the rest by recency, without repeats, in formula order."""
    n = len(formula)
    if n <= count:
        return np.argsort(-formula, kind="stable")
    by_formula = count - count // 2
    top = np.argpartition(-formula, by_formula - 1)[:by_formula]
    rest = np.setdiff1d(np.arange(n), top, assume_unique=True)
    fresh = rest[np.argsort(-recency[rest], kind="stable")[: count - by_formula]]
    picked = np.concatenate([top, fresh])
    return picked[np.argsort(-formula[picked], kind="stable")]


class Simulator:
    def __init__(self, pool: Sequence[PoolItem], stream: Stream, config: SimConfig) -> None:
        self.pool, self.stream, self.config = pool, stream, config
        review = ReviewSettings()
        self.ageing_before, self.ageing_after = review.ageing_before_due, review.ageing_after_due
        items = [pool[i] for i in stream.pool_index]
        self.prob = np.array([it.probability for it in items])
        self.sev_w = np.array([SEVERITY_WEIGHT[it.severity] for it in items])
        self.violating = np.array([it.violating for it in items])
        self.sla_s = np.array([review.sla_hours[it.severity] * 3600.0 for it in items])
        seen = stream.views_total * (1.0 - np.exp(-stream.decay_per_h * stream.delay_h))
        self.reach = np.array([reach_factor({"views": float(v)}) for v in seen])
        self.base = np.array(
            [base_priority(it.severity, r, it.probability) for it, r in zip(items, self.reach, strict=True)]
        )
        self.items = items
        # Mutable state (forked between policies):
        self.open: list[int] = []
        self.next_arrival = 0
        self.minute = 0
        self.pending: list[tuple[float, LoggedChoice]] = []  # (label arrival minute, choice)

    def fork(self) -> Simulator:
        twin = copy.copy(self)
        twin.open = list(self.open)
        twin.pending = list(self.pending)
        return twin

    def _expected_reward(self, ids: np.ndarray, now_min: float) -> np.ndarray:
        """Severity x views still to come, for violating items, times the reviewer's hit rate."""
        age_h = (now_min - self.stream.arrival_min[ids]) / 60.0 + self.stream.delay_h[ids]
        remaining = self.stream.views_total[ids] * np.exp(-self.stream.decay_per_h[ids] * age_h)
        hit = (1.0 - self.config.reviewer_miss_rate) * self.violating[ids]
        return hit * self.sev_w[ids] * remaining

    def _realised_reward(self, item: int, now_min: float) -> float:
        if not (self.violating[item] and self.stream.caught[item]):
            return 0.0
        age_h = (now_min - self.stream.arrival_min[item]) / 60.0 + self.stream.delay_h[item]
        return float(
            self.sev_w[item]
            * self.stream.views_total[item]
            * math.exp(-self.stream.decay_per_h[item] * age_h)
        )

    def _candidates(self, now_min: float) -> tuple[np.ndarray, list[Candidate]]:
        ids = np.asarray(self.open, dtype=int)
        age_s = (now_min - self.stream.arrival_min[ids]) * 60.0
        frac = age_s / self.sla_s[ids]
        ageing = np.where(
            frac <= 1.0,
            1.0 + self.ageing_before * frac,
            1.0 + self.ageing_before + self.ageing_after * (frac - 1.0),
        )
        formula = self.base[ids] * ageing
        top = candidate_rows(formula, -age_s, self.config.candidates)
        chosen_ids = ids[top]
        candidates = [
            Candidate(
                task_id=str(int(i)),
                queue="review",
                category=self.items[i].category,
                language=self.items[i].language,
                severity=self.items[i].severity,
                probability=float(self.prob[i]),
                reach=float(self.reach[i]),
                age_s=float(a),
                sla_fraction=float(f),
                formula=float(p),
            )
            for i, a, f, p in zip(chosen_ids, age_s[top], frac[top], formula[top], strict=True)
        ]
        return chosen_ids, candidates

    def run(
        self,
        until_min: int,
        policy: ReviewPolicy,
        use_bandit: bool,
        learner: BanditModel | None = None,
        log: bool = False,
    ) -> RunResult:
        result = RunResult()
        arrivals = self.stream.arrival_min
        max_age_min = self.config.max_age_h * 60.0
        while self.minute < until_min:
            now = float(self.minute)
            while self.next_arrival < len(arrivals) and arrivals[self.next_arrival] <= now:
                self.open.append(self.next_arrival)
                self.next_arrival += 1
            if self.open and arrivals[self.open[0]] < now - max_age_min:
                self.open = [i for i in self.open if arrivals[i] >= now - max_age_min]
            if learner is not None and self.pending and self.pending[0][0] <= now:
                ready = [c for t, c in self.pending if t <= now]
                self.pending = [(t, c) for t, c in self.pending if t > now]
                learner.learn(ready)
            for _ in range(int(self.stream.capacity[self.minute])):
                if not self.open:
                    break
                ids, candidates = self._candidates(now)
                choice = policy.choose(candidates, use_bandit=use_bandit, now=0.0)
                item = int(ids[choice.index])
                self.open.remove(item)
                reward = self._realised_reward(item, now)
                expected = self._expected_reward(ids, now)
                result.harm += reward
                result.decisions += 1
                result.expected_chosen.append(float(expected[choice.index]))
                result.expected_best.append(float(expected.max()))
                logged = LoggedChoice(
                    candidates, choice.index, choice.propensity, choice.policy, reward=reward
                )
                if learner is not None:
                    self.pending.append((now + self.config.label_delay_min, logged))
                if log:
                    result.logs.append(logged)
                    result.expected_by_log.append(expected)
            self.minute += 1
        return result


@dataclass(frozen=True)
class SeedResult:
    harm_formula: float
    harm_bandit: float
    regret_final: float
    ope_dr: float
    ope_ips: float
    ope_dm: float
    ope_true: float
    decisions: int


def _policy_of(model: BanditModel, epsilon: float, seed: int) -> ReviewPolicy:
    # The simulator's clock is not wall time: staleness is the product's concern, not the run's.
    return ReviewPolicy(model, epsilon=epsilon, stale_after_s=math.inf, min_events=0, seed=seed)


def compare(pool: Sequence[PoolItem], seed: int, config: SimConfig | None = None) -> SeedResult:
    config = config or SimConfig()
    rng = np.random.default_rng(seed)
    stream = draw_stream(pool, config, rng)
    sim = Simulator(pool, stream, config)
    warm_until = int(config.warmup_days * 1440)
    end = int((config.warmup_days + config.eval_days) * 1440)
    explorer = ReviewPolicy(None, epsilon=config.log_epsilon, seed=seed)
    warm = sim.run(warm_until, explorer, use_bandit=False, log=True)

    # Offline evaluation: a bandit trained on the first half of the logs, evaluated on the second.
    half = len(warm.logs) // 2
    ope_model = BanditModel()
    ope_model.learn(warm.logs[:half], passes=1)
    ope_policy = _policy_of(ope_model, config.epsilon, seed)
    held = warm.logs[half:]
    estimate = evaluate(held, lambda cands: ope_policy.pmf(cands, now=0.0)[0], seed=seed)
    true_value = float(
        np.mean(
            [
                ope_policy.pmf(c.candidates, now=0.0)[0] @ e
                for c, e in zip(held, warm.expected_by_log[half:], strict=True)
            ]
        )
    )

    formula_run = sim.fork().run(end, ReviewPolicy(None, epsilon=0.0, seed=seed), use_bandit=False)
    model = BanditModel()
    model.learn(warm.logs, passes=1)
    bandit_run = sim.fork().run(end, _policy_of(model, config.epsilon, seed), use_bandit=True, learner=model)
    tail = max(1, bandit_run.decisions // 5)
    best = float(np.sum(bandit_run.expected_best[-tail:]))
    chosen = float(np.sum(bandit_run.expected_chosen[-tail:]))
    return SeedResult(
        harm_formula=formula_run.harm,
        harm_bandit=bandit_run.harm,
        regret_final=(best - chosen) / best if best > 0 else 0.0,
        ope_dr=estimate.dr.value,
        ope_ips=estimate.ips.value,
        ope_dm=estimate.dm.value,
        ope_true=true_value,
        decisions=bandit_run.decisions,
    )


def synthetic_pool(rng: np.random.Generator, size: int = 4_000) -> list[PoolItem]:
    """Queue items without the data sets: four languages whose model is calibrated differently
    (over-confident in two), categories and severities of the default policy's shape."""
    categories = [("harassment", "medium"), ("hate", "high"), ("spam_scam", "low"), ("violence", "high"),
                  ("sexual", "medium"), ("self_harm", "critical")]  # fmt: skip
    languages = {"en": 1.0, "de": 0.6, "pt": 1.4, "ar": 0.5}  # true odds = model odds x factor
    pool = []
    for _ in range(size):
        category, severity = categories[int(rng.integers(len(categories)))]
        language = list(languages)[int(rng.integers(len(languages)))]
        p = float(rng.beta(2.0, 2.5))
        odds = p / (1 - p) * languages[language]
        pool.append(PoolItem(p, category, severity, language, bool(rng.random() < odds / (1 + odds))))
    return pool
