"""Which decisions go to human review, in which queue, with how many reviews. Pure functions.

- a flagged category whose severity is in `severe_severities` -> `severe` (even when automation acted:
  a person confirms the gravest calls);
- action `review` (the uncertain band, an unsure judge, a risky author) -> `review`;
- a seeded random sample of automated `qa_actions` decisions -> `qa`, with `qa_reviews` reviews, so
  agreement and the precision of automation can be measured without bias.

A decision a person already settled (a review outcome or an appeal wrote it) is never routed again,
so handing stored decisions over once more (a client's retry) cannot queue a decided item anew.

Sampling hashes the decision id with a seed instead of drawing random numbers: the same decision is
always in or out of the sample, whichever worker routes it and however often.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..decision import Decision
from ..policy.model import Policy
from ..settings import ReviewSettings
from .priority import severity_weight

HOUR_S = 3600.0
# The stage a human outcome adds to the decision version it writes (warden.review.appeals).
HUMAN_REVIEW_STAGE = "human_review"


@dataclass(frozen=True)
class TopCategory:
    category: str | None
    severity: str
    probability: float


@dataclass(frozen=True)
class Route:
    queue: str
    reviews_required: int
    top: TopCategory
    sla_s: float
    reason: str


def category_severity(policy: Policy, category: str) -> str:
    try:
        return policy.category(category).severity
    except KeyError:  # a category of an older policy version
        return "medium"


def top_category(decision: Decision, policy: Policy, among: list[str] | None = None) -> TopCategory:
    """The category with the largest expected harm (severity weight x P), optionally among a subset."""
    best: TopCategory | None = None
    best_harm = -1.0
    for cat, score in decision.categories.items():
        if among is not None and cat not in among:
            continue
        severity = category_severity(policy, cat)
        harm = severity_weight(severity) * score.probability
        if harm > best_harm:
            best, best_harm = TopCategory(cat, severity, score.probability), harm
    return best or TopCategory(None, "low", 0.0)


def sampled(key: str, rate: float, seed: int, salt: str) -> bool:
    """Deterministic Bernoulli(rate) draw keyed by `key`."""
    if rate <= 0.0:
        return False
    if rate >= 1.0:
        return True
    digest = hashlib.sha256(f"{seed}\x00{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < rate


def sla_seconds(settings: ReviewSettings, severity: str) -> float:
    hours = settings.sla_hours.get(severity, settings.sla_hours.get("medium", 24.0))
    return max(hours, 1e-3) * HOUR_S


def route(decision: Decision, policy: Policy, settings: ReviewSettings) -> Route | None:
    """The queue for one decision, or None when no person needs to look at it."""
    if any(stage.name == HUMAN_REVIEW_STAGE for stage in decision.stages):
        return None
    severe = [
        cat
        for cat, score in decision.categories.items()
        if score.flagged and category_severity(policy, cat) in settings.severe_severities
    ]
    multi = sampled(decision.decision_id, settings.multi_review_rate, settings.sample_seed, "multi")
    reviews = settings.qa_reviews if multi else 1
    if severe:
        top = top_category(decision, policy, among=severe)
        return Route("severe", reviews, top, sla_seconds(settings, top.severity), f"severe:{top.category}")
    if decision.action == "review":
        flagged = [cat for cat, score in decision.categories.items() if score.flagged]
        top = top_category(decision, policy, among=flagged or None)
        return Route("review", reviews, top, sla_seconds(settings, top.severity), "uncertain")
    if decision.action in settings.qa_actions and sampled(
        decision.decision_id, settings.qa_sample_rate, settings.sample_seed, "qa"
    ):
        top = top_category(decision, policy)
        return Route("qa", settings.qa_reviews, top, settings.qa_sla_hours * HOUR_S, "qa_sample")
    return None
