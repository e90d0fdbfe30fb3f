"""Decision: the outcome for one item, with everything needed to reproduce and audit it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from .policy.model import ActionName


class CategoryScore(BaseModel):
    probability: float = Field(description="Calibrated P(violation) for this category.")
    action: ActionName = "allow"
    threshold: float | None = Field(default=None, description="Probability at which `action` applies.")
    flagged: bool = False
    evaluated: bool = Field(
        default=True, description="False when no detector that ran speaks to this category (e.g. early exit)."
    )


class Reason(BaseModel):
    """Why an action was taken: the policy clause and the evidence behind it."""

    category: str
    action: ActionName
    probability: float
    threshold: float
    clause: str = Field(description="The category's policy definition the decision relies on.")
    evidence: list[dict[str, Any]] = Field(default_factory=list)


class StageTrace(BaseModel):
    name: str
    detectors: list[str]
    latency_ms: float
    cost: float
    exited: bool = False


class Versions(BaseModel):
    policy: str
    pipeline: str
    models: dict[str, str]


class Decision(BaseModel):
    decision_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    content_id: str
    content_hash: str
    action: ActionName
    flagged: bool
    language: str | None = None
    categories: dict[str, CategoryScore]
    reasons: list[Reason] = Field(default_factory=list)
    versions: Versions
    stages: list[StageTrace] = Field(default_factory=list)
    judge: dict[str, Any] | None = Field(
        default=None,
        description="The LLM judge's structured rationale (verdict, confidence, clause, verified quotes) "
        "when the item reached the judge stage.",
    )
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def probabilities(self) -> dict[str, float]:
        return {k: v.probability for k, v in self.categories.items()}
