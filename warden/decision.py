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


class MediaSegment(BaseModel):
    """A stretch of a video (or animation) judged on its own: keyframes from start_s to end_s."""

    start_s: float
    end_s: float
    action: ActionName
    flagged: list[str] = Field(default_factory=list, description="Categories flagged in this segment.")
    probabilities: dict[str, float] = Field(
        default_factory=dict, description="Per category, the highest fused probability in the segment."
    )
    frames: int = Field(default=0, description="Keyframes analysed in the segment.")


class MediaResult(BaseModel):
    """What was seen in one attachment of the item (its pixels and the text OCR read on them)."""

    media_index: int
    kind: str = Field(description="image | animation | video")
    content_type: str
    sha256: str
    width: int | None = None
    height: int | None = None
    frames_analysed: int = 0
    duration_s: float | None = None
    ocr_text: str | None = Field(default=None, description="Text read on the frames (deduplicated).")
    action: ActionName = "allow"
    probabilities: dict[str, float] = Field(
        default_factory=dict, description="This attachment alone (no caption): fused P per category."
    )
    segments: list[MediaSegment] = Field(
        default_factory=list, description="Video and animation: decisions per segment with times."
    )


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
    media: list[MediaResult] = Field(
        default_factory=list, description="Per image/video attachment: frames, OCR text, segments."
    )
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def probabilities(self) -> dict[str, float]:
        return {k: v.probability for k, v in self.categories.items()}
