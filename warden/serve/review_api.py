"""Human review endpoints: queues, leases, reviewer decisions, media, quality stats, and appeals.

Reviewers (and admins) work the queues; the platform (client role) files appeals on its users'
behalf; admins see stats, gold items and label errors. The reviewer is the calling API key
(`apikey:<name>`), the same identity the audit log records.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ..content import Content
from ..errors import NotFoundError
from ..review.models import (
    Appeal,
    LabelIssue,
    QueueSummary,
    ReviewLabel,
    ReviewStats,
    ReviewTask,
)
from ..review.service import ReviewService, reviewer_view
from .auth import Principal, require_roles
from .errors import ApiError

router = APIRouter(tags=["review"])
TaskId = Annotated[str, Path(min_length=1, max_length=64, description="The review task's id.")]


class LeaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str | None = Field(default=None, max_length=64, examples=["review"])
    category: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=16)


class LeaseOut(BaseModel):
    task: ReviewTask | None = Field(description="Null when nothing in the queue is available to you.")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(
        max_length=32,
        description="allow, label, age_restrict, limit or remove; on appeal tasks also uphold or reverse.",
        examples=["remove"],
    )
    categories: list[str] = Field(default_factory=list, max_length=64, examples=[["harassment"]])
    note: str = Field(default="", max_length=4_000)


class ReleaseOut(BaseModel):
    released: str


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision_id: str = Field(min_length=1, max_length=256)
    appellant: str = Field(min_length=1, max_length=256, description="Your platform's id for the user.")
    reason: str = Field(min_length=1, max_length=4_000, description="The user's words.")
    content: Content | None = Field(
        default=None, description="The item as judged (same id and content), shown to the reviewer."
    )


class GoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: Content
    action: str = Field(max_length=32)
    categories: list[str] = Field(default_factory=list, max_length=64)
    queue: str = Field(default="review", max_length=64)


class LabelErrorsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    probabilities: dict[str, dict[str, float]] | None = Field(
        default=None,
        description="content id -> category -> P(violation), out-of-sample; default: decision-time scores.",
    )
    categories: list[str] | None = None
    enqueue: bool = Field(default=True, description="Queue each flagged item for re-review (relabel).")


class LabelErrorsOut(BaseModel):
    issues: list[LabelIssue]


def _service(request: Request) -> ReviewService:
    service: ReviewService | None = getattr(request.app.state.warden, "review", None)
    if service is None:
        raise ApiError(503, "human review is disabled on this server (review.enabled = false)")
    return service


def _view(task: ReviewTask, principal: Principal) -> ReviewTask:
    return task if principal.role == "admin" else reviewer_view(task)


@router.get("/v1/review/queues", response_model=list[QueueSummary], summary="Queue health")
def queues(request: Request, principal: Principal = Depends(require_roles("reviewer"))) -> list[QueueSummary]:
    """Pending, leased and overdue tasks per queue, the oldest task's age, and open tasks per
    category and language."""
    return _service(request).queues()


@router.get("/v1/review/tasks", response_model=list[ReviewTask], summary="List tasks by current priority")
def list_tasks(
    request: Request,
    queue: Annotated[str | None, Query(max_length=64)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    status: Annotated[str, Query(description="pending, leased, open, done or all")] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    principal: Principal = Depends(require_roles("reviewer")),
) -> list[ReviewTask]:
    tasks = _service(request).list_tasks(queue, category, language, status, limit)
    return [_view(t, principal) for t in tasks]


@router.post("/v1/review/lease", response_model=LeaseOut, summary="Lease your next task")
def lease(
    request: Request, body: LeaseIn, principal: Principal = Depends(require_roles("reviewer"))
) -> LeaseOut:
    """Your current lease if you hold one in this queue (renewed), else the highest-priority task you
    have not reviewed. Leases expire after `review.lease_seconds`; two reviewers never get the same
    review slot."""
    task = _service(request).lease_next(principal.actor, body.queue, body.category, body.language)
    return LeaseOut(task=_view(task, principal) if task else None)


@router.get("/v1/review/tasks/{task_id}", response_model=ReviewTask, summary="Get a task")
def get_task(
    request: Request, task_id: TaskId, principal: Principal = Depends(require_roles("reviewer"))
) -> ReviewTask:
    return _view(_service(request).get(task_id, viewer=principal.actor), principal)


@router.get(
    "/v1/review/tasks/{task_id}/labels", response_model=list[ReviewLabel], summary="A task's labels (admin)"
)
def task_labels(
    request: Request, task_id: TaskId, principal: Principal = Depends(require_roles("admin"))
) -> list[ReviewLabel]:
    service = _service(request)
    service.get(task_id)  # 404 for an unknown task rather than an empty list
    return service.labels(task_id)


@router.post(
    "/v1/review/tasks/{task_id}/decision", response_model=ReviewLabel, summary="Decide a leased task"
)
def decide(
    request: Request,
    task_id: TaskId,
    body: DecisionIn,
    principal: Principal = Depends(require_roles("reviewer")),
) -> ReviewLabel:
    """409 unless you hold the task's lease. The label is stored and audited; the task completes once
    it has its required reviews. Appeals: `uphold`, `reverse` (to allow) or another action."""
    return _service(request).decide(task_id, principal.actor, body.action, body.categories, body.note)


@router.post("/v1/review/tasks/{task_id}/release", response_model=ReleaseOut, summary="Give a task back")
def release(
    request: Request, task_id: TaskId, principal: Principal = Depends(require_roles("reviewer"))
) -> ReleaseOut:
    _service(request).release(task_id, principal.actor)
    return ReleaseOut(released=task_id)


@router.get(
    "/v1/review/media/{sha256}",
    summary="An attachment's bytes",
    response_class=Response,
    responses={200: {"content": {"image/*": {}, "video/*": {}}, "description": "The stored bytes."}},
)
def media(
    request: Request,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="From a task's media list.")],
    principal: Principal = Depends(require_roles("reviewer")),
) -> Response:
    store = _service(request).media_store
    if store is None:
        raise NotFoundError("this server keeps no media store")
    data, content_type = store.get(sha256)
    headers = {
        # User-supplied bytes: never sniffed into HTML, never able to run script in our origin.
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600",
    }
    return Response(content=data, media_type=content_type, headers=headers)


@router.post("/v1/review/gold", status_code=201, response_model=ReviewTask, summary="Add a gold item (admin)")
def add_gold(
    request: Request, body: GoldIn, principal: Principal = Depends(require_roles("admin"))
) -> ReviewTask:
    """A known-answer item served to each reviewer once (at `review.gold_rate`) to score them."""
    return _service(request).add_gold(body.item, body.action, body.categories, principal.actor, body.queue)


@router.get("/v1/review/stats", response_model=ReviewStats, summary="Review quality (admin)")
def stats(request: Request, principal: Principal = Depends(require_roles("admin"))) -> ReviewStats:
    """Queue health; Cohen's kappa per reviewer pair and Krippendorff's alpha over multi-review items;
    reviewer accuracy on gold items; precision of automated actions from the QA sample (Wilson 95 %)."""
    return _service(request).stats()


@router.post("/v1/review/label-errors", response_model=LabelErrorsOut, summary="Find likely wrong labels")
def label_errors(
    request: Request, body: LabelErrorsIn, principal: Principal = Depends(require_roles("admin"))
) -> LabelErrorsOut:
    """cleanlab over review labels vs model probabilities; flagged items go to the `relabel` queue."""
    issues = _service(request).label_errors(
        body.probabilities, body.categories, body.enqueue, principal.actor
    )
    return LabelErrorsOut(issues=issues)


@router.get("/v1/review/labels", summary="Export review labels (admin)")
def export_labels(
    request: Request, principal: Principal = Depends(require_roles("admin"))
) -> list[dict[str, Any]]:
    return _service(request).export_labels()


@router.post("/v1/appeals", status_code=201, response_model=Appeal, summary="Appeal a decision")
def create_appeal(
    request: Request, body: AppealIn, principal: Principal = Depends(require_roles("client"))
) -> Appeal:
    """Filed by the platform for its user. Queued for a reviewer who did not make the appealed call;
    409 while another appeal of the same decision is open. Poll GET /v1/appeals/{id} for the outcome;
    a reversal also shows in GET /v1/decisions/{decision_id}."""
    return _service(request).appeal(
        body.decision_id, body.appellant, body.reason, body.content, principal.actor
    )


@router.get("/v1/appeals/{appeal_id}", response_model=Appeal, summary="An appeal and its outcome")
def get_appeal(
    request: Request,
    appeal_id: Annotated[str, Path(min_length=1, max_length=64)],
    principal: Principal = Depends(require_roles("client", "reviewer")),
) -> Appeal:
    return _service(request).get_appeal(appeal_id)
