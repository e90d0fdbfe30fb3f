"""HTTP endpoints of the graph: ingest events, read an account's risk, list coordinated groups.

Mount with `app.include_router(warden.serve.graph_api.router)`. The service lives on
`app.state.warden_graph` (a `GraphService`), which `create_app`'s lifespan builds from
`Settings.graph` (env WARDEN_GRAPH__*, `[graph]` in warden.toml). Roles follow `warden.serve.auth`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ..errors import ValidationError
from ..graph.service import GraphService, parse_label
from .auth import Principal, require_roles

router = APIRouter(prefix="/v1/graph", tags=["graph"])


def graph_service(request: Request) -> GraphService:
    service: GraphService = request.app.state.warden_graph  # set by the app's lifespan
    return service


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Rows stay loose here so one bad row is reported by index instead of failing the request.
    events: list[dict[str, Any]] = Field(min_length=1, description="Interaction events (see docs/graph.md).")


class IngestError(BaseModel):
    index: int
    event_id: str | None
    error: str


class IngestResponse(BaseModel):
    accepted: int
    rejected: int
    errors: list[IngestError]
    graph: dict[str, int]


class LabelsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: dict[str, str | int] = Field(description="account id -> bad|good (or 1/0, -1/+1).")
    replace: bool = Field(default=False, description="Replace all known labels instead of merging.")


class AccountRisk(BaseModel):
    account_id: str
    risk: float = Field(description="In [0, 1]; higher = riskier.")
    model: str
    known_label: int | None
    evidence: dict[str, Any] = Field(default_factory=dict)


class ClustersResponse(BaseModel):
    clusters: list[dict[str, Any]]


@router.post(
    "/events",
    summary="Ingest interaction events",
    response_model=IngestResponse,
)
def ingest_events(
    body: EventBatch,
    service: GraphService = Depends(graph_service),
    principal: Principal = Depends(require_roles("client")),
) -> IngestResponse:
    """Valid events are appended; each bad row (unknown type, non-numeric weight, missing id or
    time, duplicate event_id) is listed in `errors` with its index and skipped. The other rows of
    the batch are kept: the response is 200 whenever the body itself is well formed."""
    limit = service.settings.max_events_per_request
    if len(body.events) > limit:
        raise ValidationError(f"{len(body.events)} events in one request, the limit is {limit}")
    result = service.ingest(body.events)
    return IngestResponse(
        accepted=result.accepted,
        rejected=len(result.errors),
        errors=[IngestError(**e.to_dict()) for e in result.errors],
        graph=service.graph.summary(),
    )


@router.post("/labels", summary="Set known good/bad accounts (seeds and training labels)")
def set_labels(
    body: LabelsBody,
    service: GraphService = Depends(graph_service),
    principal: Principal = Depends(require_roles("admin")),
) -> dict[str, int]:
    parsed = {account: parse_label(label) for account, label in body.labels.items()}
    merged = parsed if body.replace else {**service.labels, **parsed}
    service.set_labels(merged)
    return {"labelled": len(merged), "bad": sum(merged.values())}


@router.get(
    "/accounts/{account_id}",
    summary="An account's risk with the evidence behind it",
    response_model=AccountRisk,
)
def account_risk(
    account_id: Annotated[str, Path(min_length=1, max_length=256)],
    evidence: Annotated[bool, Query(description="Include per-detector evidence.")] = True,
    service: GraphService = Depends(graph_service),
    principal: Principal = Depends(require_roles("client", "reviewer")),
) -> AccountRisk:
    """404 when the account never appeared in an event. The first read after an ingest rescores
    the whole graph (seconds on a million edges)."""
    return AccountRisk(**service.account(account_id, evidence=evidence))


@router.get("/clusters", summary="Coordinated (lockstep) groups of accounts", response_model=ClustersResponse)
def clusters(
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    service: GraphService = Depends(graph_service),
    principal: Principal = Depends(require_roles("client", "reviewer")),
) -> ClustersResponse:
    """Largest groups first; each with its members, the targets they share and when."""
    return ClustersResponse(clusters=service.clusters(limit))
