"""Value types of human review, shared by the store, the service, the API and the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from ..content import clip_json

TaskStatus = Literal["pending", "leased", "done"]
AppealStatus = Literal["open", "upheld", "reversed"]
LabelSource = Literal["review", "appeal", "gold"]
# The queues routing and appeals create; every summary lists them even when empty.
QUEUES = ("severe", "review", "appeals", "qa", "relabel", "prevalence")
# Free-form JSON read back from stored rows: always servable, even for rows stored before the
# edge checks (a poisoned field shows as clipped instead of failing every reviewer's page).
ServedJson = Annotated[dict[str, Any], BeforeValidator(clip_json)]
ServedJsonList = Annotated[list[dict[str, Any]], BeforeValidator(clip_json)]

# What an appeal reviewer answers besides a concrete action (which reverses to that action).
APPEAL_OUTCOMES = ("uphold", "reverse")


class MediaRef(BaseModel):
    """An attachment as the reviewer can fetch it: GET /v1/review/media/{sha256} when `stored`."""

    sha256: str | None = None
    content_type: str | None = None
    kind: str = Field(description="image | video | other")
    filename: str | None = None
    stored: bool = Field(default=False, description="The bytes are in the media store.")


class Lease(BaseModel):
    reviewer: str
    expires_at: datetime


class AppealInfo(BaseModel):
    appeal_id: str
    appellant: str
    reason: str
    original_action: str
    created_at: datetime


class ReviewTask(BaseModel):
    """What a reviewer sees for one item in one queue. Gold answers are never part of it."""

    id: str
    queue: str
    status: TaskStatus
    content_id: str
    decision_id: str
    kind: str
    text: str = ""
    context: str | None = Field(default=None, description="Parent text (e.g. the post a comment replies to).")
    language: str | None = None
    author_id: str | None = None
    metadata: ServedJson = Field(default_factory=dict)
    media: list[MediaRef] = Field(default_factory=list)
    media_results: ServedJsonList = Field(
        default_factory=list, description="The decision's per-attachment results (OCR text, video segments)."
    )
    category: str | None = Field(default=None, description="Top category by expected harm: the queue filter.")
    severity: str = "medium"
    scores: dict[str, float] = Field(default_factory=dict, description="Model P(violation) per category.")
    flagged: list[str] = Field(default_factory=list, description="Categories the decision flagged.")
    original_action: str = Field(description="The decision's action when the task was created.")
    reasons: ServedJsonList = Field(
        default_factory=list,
        description="The decision's reasons with evidence; evidence of kind text_span has start/end offsets.",
    )
    judge: ServedJson | None = None
    route: str = Field(
        default="", description="Why the item is here (uncertain, severe:<cat>, qa_sample...)."
    )
    probability: float = 0.0
    reach: float = 1.0
    base_priority: float = 0.0
    priority: float = Field(default=0.0, description="Expected harm aged against the SLA, at read time.")
    created_at: datetime
    due_at: datetime
    overdue: bool = False
    lease_reviewer: str | None = Field(default=None, description="Holder of the newest active lease.")
    lease_expires_at: datetime | None = None
    leases: list[Lease] = Field(default_factory=list, description="Every active lease (multi-review).")
    reviews_required: int = Field(description="0 for gold items: every reviewer answers them once.")
    reviews_done: int = 0
    appeal: AppealInfo | None = None
    gold: bool = Field(default=False, description="A known-answer item; never tell the reviewer.")
    completed_at: datetime | None = None


class ReviewLabel(BaseModel):
    id: int
    task_id: str
    queue: str
    content_id: str
    decision_id: str
    reviewer: str
    action: str
    categories: list[str]
    note: str = ""
    source: LabelSource
    outcome: str | None = Field(default=None, description="Appeals: uphold or reverse.")
    created_at: datetime
    task_complete: bool = Field(default=False, description="This label completed the task.")
    decision_updated: bool = Field(default=False, description="A new decision version was written.")


class Appeal(BaseModel):
    id: str
    decision_id: str
    content_id: str
    appellant: str
    reason: str
    status: AppealStatus
    original_action: str
    outcome_action: str | None = None
    task_id: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution_note: str = ""
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class LeaseCandidate:
    """An open task a lease may serve, in the columns a learned ordering reads (warden.review.bandit)."""

    task_id: str
    queue: str
    category: str | None
    language: str | None
    severity: str
    probability: float
    reach: float
    created_epoch: float
    due_epoch: float
    priority: float  # the formula's current priority


@dataclass(frozen=True)
class BanditEvent:
    """One logged lease (see tables.ReviewBanditEventRow)."""

    id: int
    queue: str
    task_id: str
    reviewer: str
    policy: str
    model_version: str
    fallback_reason: str
    propensity: float
    chosen: int
    candidates: list[dict[str, Any]]
    reward: float | None
    created_at: datetime


class QueueSummary(BaseModel):
    name: str
    pending: int = 0
    leased: int = 0
    overdue: int = 0
    oldest_age_s: float | None = Field(default=None, description="Age of the oldest open task.")
    by_category: dict[str, int] = Field(default_factory=dict, description="Open tasks per top category.")
    by_language: dict[str, int] = Field(default_factory=dict, description="Open tasks per language.")


class PairAgreement(BaseModel):
    reviewer_a: str
    reviewer_b: str
    items: int
    kappa: float | None = Field(description="Cohen's kappa on the action; None when undefined.")


class AgreementStats(BaseModel):
    items: int = Field(description="Multi-review items with at least two labels.")
    alpha_action: float | None = Field(description="Krippendorff's alpha (nominal) on the action.")
    alpha_violation: float | None = Field(description="Krippendorff's alpha on violating (action != allow).")
    pairs: list[PairAgreement] = Field(default_factory=list)


class ReviewerAccuracy(BaseModel):
    reviewer: str
    items: int
    correct: int = Field(description="Gold items answered with the gold action.")
    accuracy: float
    category_accuracy: float = Field(description="Share answered with exactly the gold categories.")


class PrecisionEstimate(BaseModel):
    """How often reviewers agreed with an automated action (QA sample), with a Wilson 95 % interval."""

    action: str
    category: str | None = None
    items: int
    agreed: int
    precision: float
    low: float
    high: float


class ReviewStats(BaseModel):
    queues: list[QueueSummary]
    labels: int
    agreement: AgreementStats
    gold: list[ReviewerAccuracy]
    automation: list[PrecisionEstimate]
    label_error_candidates: int = Field(description="Open tasks in the relabel queue.")


class LabelIssue(BaseModel):
    """A review label cleanlab finds likely wrong, given model probabilities."""

    content_id: str
    category: str
    labelled_violating: bool
    model_probability: float
    label_quality: float = Field(description="cleanlab self-confidence: low = likely wrong.")
    reviewers: list[str]
    label_ids: list[int]
    task_id: str | None = Field(default=None, description="The relabel task created for it, if any.")
