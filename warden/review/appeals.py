"""Turning a human outcome into a new decision version (appeals, and review-queue outcomes).

The new version keeps the decision id, the model scores and the versions of the automated decision
(they describe what the models said); it changes the action, flags and reasons, and adds a
`human_review` stage naming the reviewer. The previous version stays in decision_history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from ..decision import Decision, Reason, StageTrace
from ..errors import ValidationError
from ..policy.model import ActionName, Policy
from .models import APPEAL_OUTCOMES
from .routing import HUMAN_REVIEW_STAGE

ACTIONS: tuple[str, ...] = get_args(ActionName)
# A reviewer settles an item; sending it back to review is not an outcome.
REVIEWER_ACTIONS = tuple(a for a in ACTIONS if a != "review")


def appeal_outcome(answer: str, original_action: str) -> tuple[str, str]:
    """(outcome, resulting action) for an appeal answer: "uphold", "reverse" (to allow), or a concrete
    action (the original one upholds, another reverses to it)."""
    if answer == "uphold":
        return "uphold", original_action
    if answer == "reverse":
        if original_action == "allow":
            raise ValidationError(
                "the appealed decision already allows the content: reverse it by naming the action to take"
            )
        return "reverse", "allow"
    if answer in REVIEWER_ACTIONS:
        return ("uphold", answer) if answer == original_action else ("reverse", answer)
    raise ValidationError(
        f"an appeal is decided with one of {', '.join(APPEAL_OUTCOMES + REVIEWER_ACTIONS)}, got {answer!r}"
    )


def revised_decision(
    decision: Decision,
    policy: Policy,
    action: str,
    categories: list[str],
    reviewer: str,
    note: str,
    via: dict[str, Any],
    now: datetime,
) -> Decision:
    """A copy of `decision` with the human outcome applied (see the module docstring)."""
    revised = decision.model_copy(deep=True)
    violating = action != "allow"
    named = set(categories) if categories else {c for c, s in decision.categories.items() if s.flagged}
    for cat, score in revised.categories.items():
        hit = violating and cat in named
        score.flagged = hit
        score.action = action if hit else "allow"  # type: ignore[assignment]
    revised.action = action  # type: ignore[assignment]
    revised.flagged = violating
    evidence = {"kind": "human_review", "reviewer": reviewer, "note": note, **via}
    what = "appeal" if via.get("appeal_id") else "human review"
    reasons = []
    for cat in sorted(named) or ([via["category"]] if via.get("category") else []):
        scored = decision.categories.get(cat)
        try:
            definition = policy.category(cat).definition.strip()
        except KeyError:
            definition = cat
        verdict = f"Decided on {what}: {action}." if violating else f"Reversed on {what}: no violation found."
        reasons.append(
            Reason(
                category=cat,
                action=action,  # type: ignore[arg-type]
                probability=scored.probability if scored else 0.0,
                threshold=(scored.threshold or 0.0) if scored else 0.0,
                clause=f"{verdict} {definition}",
                evidence=[evidence],
            )
        )
    revised.reasons = reasons
    elapsed_ms = max(0.0, (now - decision.created_at).total_seconds() * 1000.0)
    revised.stages = [
        *decision.stages,
        StageTrace(name=HUMAN_REVIEW_STAGE, detectors=[reviewer], latency_ms=round(elapsed_ms, 1), cost=0.0),
    ]
    revised.created_at = now
    return revised
