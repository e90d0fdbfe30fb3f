"""The HTTP API: `create_app()` builds the FastAPI application, everything heavy loads at startup."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request, Response
from pydantic import BaseModel, Field

from .._version import __version__
from ..banks.service import BankService
from ..bootstrap import build
from ..content import check_limits
from ..decision import Decision
from ..errors import ConflictError, ValidationError
from ..moderator import Moderator
from ..observability import configure_logging
from ..policy.model import Policy, PolicyError, load_policy_text
from ..review.service import ReviewService
from ..service import ModerationService
from ..settings import Settings, get_settings
from ..store import Store
from . import banks_api, hma_api, media_api, openai_compat, perspective_api, review_api
from .auth import Principal, ensure_bootstrap_admin, require_roles
from .batching import BatcherClosedError, MicroBatcher, OverloadedError
from .errors import DATABASE_RETRY_AFTER_S, database_unavailable, error_response, install_error_handlers
from .metrics import Metrics
from .middleware import BodyLimitMiddleware, CatchAllMiddleware, RequestIdMiddleware, RequestMetricsMiddleware
from .schemas import (
    EXAMPLE_DECISION,
    ActivePolicy,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyInfo,
    ApiKeyList,
    ApiKeyRevoked,
    DecisionsResponse,
    ErrorResponse,
    HealthResponse,
    ModerateBatch,
    ModerateBody,
    OpenAIModerationRequest,
    OpenAIModerationResponse,
    OpenAITextPart,
    PoliciesResponse,
    PolicyCategoryInfo,
    PolicyRecord,
    ReadinessResponse,
    ResolvedThreshold,
)

log = logging.getLogger("warden.serve")

DESCRIPTION = """
Policy-driven content moderation.

**Authentication.** Every `/v1` endpoint needs an API key, sent as `Authorization: Bearer <key>`
or `X-API-Key: <key>`. Roles: `client` (moderate, read decisions), `reviewer` (read decisions),
`admin` (everything, including key management). On first start the server creates an admin key
named `bootstrap-admin`, prints it once and saves it next to the SQLite database. Setting
`auth_enabled = false` turns all checks off (every caller is "anonymous" with admin rights):
for local development only.

**Errors.** Every error response is `{"error": {"type", "message", "details"}}`: 400 for bodies
that are not UTF-8 JSON, 401/403 for keys and roles, 404 for unknown ids, 409 when a content
id is reused with different content, 413 when the body exceeds `limits.max_request_bytes`,
415 for a non-JSON Content-Type and 422 for anything that breaks the schema or a limit.

**Idempotency.** Moderating the same content id with the same content returns the stored
decision; the same id with different content is a 409.
"""

TAGS = [
    {"name": "moderation", "description": "Moderate content and get decisions with reasons and evidence."},
    {"name": "decisions", "description": "Look up stored decisions."},
    {"name": "policies", "description": "The active policy, its resolved thresholds and its history."},
    {"name": "openai-compatible", "description": "A drop-in for OpenAI's moderation endpoint."},
    {"name": "admin", "description": "API key management (admin role)."},
    {"name": "banks", "description": "Banks of known violating content, and lookups against them."},
    {"name": "graph", "description": "Interaction graph: ingest events, account risk, coordinated groups."},
    {"name": "review", "description": "Human review queues, reviewer decisions, quality stats and appeals."},
    {"name": "operations", "description": "Health and Prometheus metrics (no authentication)."},
]

_ERROR_DESCRIPTIONS = {
    400: "The body is not valid UTF-8 or not valid JSON.",
    401: "Missing, invalid or revoked API key.",
    403: "The key's role may not use this endpoint.",
    404: "Unknown id.",
    409: "A content id was reused with different content.",
    413: "The request body exceeds limits.max_request_bytes.",
    415: "The body is not JSON.",
    422: "The request breaks the schema or a limit.",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[code]} for code in codes}


@dataclass
class AppState:
    settings: Settings
    moderator: Moderator
    store: Store
    service: ModerationService
    batcher: MicroBatcher
    metrics: Metrics
    active_policy: ActivePolicy
    banks: BankService | None = None
    review: ReviewService | None = None
    policy_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.warden
    return state


def _json(model: BaseModel, status_code: int = 200) -> Response:
    # Serialise directly: the hot path skips FastAPI's re-validation of the response model.
    return Response(content=model.model_dump_json(), media_type="application/json", status_code=status_code)


# -- startup helpers ------------------------------------------------------------------------------


def _policy_yaml(policy: Policy, settings: Settings) -> str:
    """The configured policy file's text when it is the policy being run, else a canonical dump."""
    path = FilePath(settings.policy_path)
    try:
        text = path.read_text(encoding="utf-8")
        if load_policy_text(text, str(path)).full_version == policy.full_version:
            return text
    except (OSError, PolicyError):
        pass
    return yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _record_active_policy(store: Store, policy: Policy, settings: Settings) -> None:
    _record_policy_text(store, policy, _policy_yaml(policy, settings), "system:serve")


def _record_policy_text(store: Store, policy: Policy, yaml_text: str, actor: str) -> None:
    try:
        store.record_policy(policy.name, policy.version, policy.full_version, yaml_text, actor=actor)
    except ConflictError as exc:
        # Same rules, different file text (e.g. edited comments): the recorded version stands.
        log.warning("%s; keeping the text recorded first", exc)


def describe_policy(moderator: Moderator) -> ActivePolicy:
    policy, decider = moderator.policy, moderator.decider
    return ActivePolicy(
        name=policy.name,
        version=policy.version,
        full_version=policy.full_version,
        description=policy.description.strip(),
        action_precedence=list(policy.action_precedence),
        categories=[
            PolicyCategoryInfo(
                id=c.id,
                title=c.title,
                definition=c.definition.strip(),
                severity=c.severity,
                actions=list(c.actions),
                thresholds=[
                    ResolvedThreshold(action=r.action, threshold=round(r.threshold, 6), source=r.source)
                    for r in decider.rules[c.id]
                ],
                flag_threshold=round(decider.flag_threshold(c.id), 6),
                thresholds_by_route={
                    route: [
                        ResolvedThreshold(action=r.action, threshold=round(r.threshold, 6), source=r.source)
                        for r in rules[c.id]
                    ]
                    for route, rules in decider.route_rules.items()
                },
            )
            for c in policy.categories
        ],
    )


# -- endpoints ------------------------------------------------------------------------------------

router = APIRouter()

_MODERATE_EXAMPLES = {
    "single": {
        "summary": "One item",
        "value": {"id": "comment-123", "text": "You people are animals and should leave."},
    },
    "batch": {
        "summary": "A batch (up to limits.max_batch_items)",
        "value": {
            "items": [
                {"id": "comment-1", "text": "Have a great day!"},
                {"id": "comment-2", "text": "Halt die Klappe, du Idiot.", "language": "de"},
            ]
        },
    },
}


@router.post(
    "/v1/moderate",
    tags=["moderation"],
    summary="Moderate one item or a batch",
    response_model=DecisionsResponse,
    responses={
        200: {"content": {"application/json": {"example": {"decisions": [EXAMPLE_DECISION]}}}},
        **_errors(400, 401, 403, 409, 413, 415, 422),
    },
)
async def moderate(
    request: Request,
    body: Annotated[ModerateBody, Body(openapi_examples=_MODERATE_EXAMPLES)],
    principal: Principal = Depends(require_roles("client")),
) -> Response:
    """Decide on every item with the active policy. Decisions come back in request order, each
    with per-category probabilities, the action, the policy clauses and evidence behind it, and
    the policy/pipeline/model versions used. Concurrent requests are micro-batched."""
    state = _state(request)
    items = list(body.items) if isinstance(body, ModerateBatch) else [body]
    check_limits(items, state.settings.limits)
    since = datetime.now(UTC)
    if any(item.media for item in items):
        # Media can fail per item (corrupt, oversized, wrong type): the others still get decisions.
        media_decisions, errors = await media_api.moderate_items(state, items, principal.actor)
        state.metrics.observe_decisions(media_decisions, since)
        return media_api.respond(media_decisions, errors)
    decisions = await state.batcher.submit(items, principal.actor)
    state.metrics.observe_decisions(decisions, since)
    return _json(DecisionsResponse(decisions=decisions))


@router.get(
    "/v1/decisions/{decision_id}",
    tags=["decisions"],
    summary="Get a decision by decision id",
    response_model=Decision,
    responses={
        200: {"content": {"application/json": {"example": EXAMPLE_DECISION}}},
        **_errors(401, 403, 404, 422),
    },
)
def get_decision(
    request: Request,
    decision_id: Annotated[str, Path(min_length=1, max_length=256)],
    principal: Principal = Depends(require_roles("client", "reviewer")),
) -> Response:
    return _json(_state(request).store.get_decision(decision_id))


@router.get(
    "/v1/decisions",
    tags=["decisions"],
    summary="Get the current decision for a content id",
    response_model=Decision,
    responses={
        200: {"content": {"application/json": {"example": EXAMPLE_DECISION}}},
        **_errors(401, 403, 404, 422),
    },
)
def find_decision(
    request: Request,
    content_id: Annotated[str, Query(min_length=1, max_length=256, description="The caller's content id.")],
    principal: Principal = Depends(require_roles("client", "reviewer")),
) -> Response:
    return _json(_state(request).store.get_decision_by_content_id(content_id))


@router.get(
    "/v1/policies",
    tags=["policies"],
    summary="The active policy and the policy history",
    response_model=PoliciesResponse,
    responses=_errors(401, 403, 422),
)
def policies(
    request: Request,
    include_yaml: Annotated[bool, Query(description="Include each recorded policy's YAML text.")] = False,
    principal: Principal = Depends(require_roles("client", "reviewer")),
) -> PoliciesResponse:
    state = _state(request)
    history = [
        PolicyRecord(
            id=row["id"],
            name=row["name"],
            version=row["version"],
            full_version=row["full_version"],
            activated_at=row["activated_at"],
            yaml_text=row["yaml_text"] if include_yaml else None,
        )
        for row in state.store.list_policies()
    ]
    return PoliciesResponse(active=state.active_policy, history=history)


class PolicyActivate(BaseModel):
    yaml: str = Field(min_length=1, max_length=1_000_000, description="The complete policy YAML.")


def _swap_policy(state: AppState, policy: Policy, yaml_text: str, actor: str) -> ActivePolicy:
    """Build and load a moderator for `policy`, record it, then switch every reference at once."""
    current = state.moderator
    fresh = current.with_policy(policy).load()
    _record_policy_text(state.store, policy, yaml_text, actor)
    state.moderator = fresh
    state.service.moderator = fresh  # the batcher calls the service: next batch uses the new policy
    if state.banks is not None:
        state.banks.policy = policy
    if state.review is not None:
        state.review.policy = policy
    state.active_policy = describe_policy(fresh)
    state.store.append_audit(
        actor, "policy.activate", "policy", policy.full_version, {"previous": current.policy.full_version}
    )
    return state.active_policy


@router.put(
    "/v1/policies/active",
    tags=["policies"],
    summary="Activate a new policy version (hot reload)",
    response_model=ActivePolicy,
    responses=_errors(400, 401, 403, 409, 413, 415, 422),
)
async def activate_policy(
    request: Request, body: PolicyActivate, principal: Principal = Depends(require_roles("admin"))
) -> ActivePolicy:
    """Validate the YAML (422 lists every problem with its line), load the models for it and switch
    over without a restart. A new category is scored at once by its policy examples (few-shot) and,
    when enabled, the LLM judge. Decisions name the policy version that made them. Audited."""
    try:
        policy = load_policy_text(body.yaml, "request body")
    except PolicyError as exc:
        raise ValidationError("; ".join(exc.problems)) from None
    state = _state(request)
    async with state.policy_lock:
        return await asyncio.to_thread(_swap_policy, state, policy, body.yaml, principal.actor)


@router.post(
    "/v1/moderations",
    tags=["openai-compatible"],
    summary="OpenAI-compatible moderation",
    response_model=OpenAIModerationResponse,
    responses=_errors(400, 401, 403, 409, 413, 415, 422),
)
async def openai_moderations(
    request: Request,
    body: OpenAIModerationRequest,
    principal: Principal = Depends(require_roles("client")),
) -> Response:
    """Same request and response shape as OpenAI's `POST /v1/moderations`, so OpenAI clients work
    with `base_url` pointed at Warden and a Warden key as the API key. `input` is a text, a list of
    texts (one result each), or omni-moderation's list of `text` and `image_url` parts (one item,
    one result; images as data URLs, remote URLs only when media fetching is enabled). Scores are
    Warden's calibrated probabilities mapped to OpenAI's categories; `flagged` is Warden's own
    verdict (any policy category flagged, including ones OpenAI has no key for, such as spam).
    Warden's own scores are under `warden_categories`. Each input's content id is a hash of its
    content, so repeated inputs are answered from their stored decisions. `model` is echoed."""
    state = _state(request)
    limits = state.settings.limits
    versions = state.moderator.versions
    scope = f"{versions.policy}|{versions.pipeline}"
    if isinstance(body.input, list) and body.input and not isinstance(body.input[0], str):
        parts = [p for p in body.input if not isinstance(p, str)]
        text_chars = sum(len(p.text) for p in parts if isinstance(p, OpenAITextPart))
        if text_chars > limits.max_text_chars:
            raise ValidationError(
                f"input has {text_chars} characters of text, the limit is {limits.max_text_chars}"
            )
        item, types = openai_compat.multimodal_content(parts, scope)
        items, ids, input_types = [item], [item.id], {item.id: types}
    else:
        texts = [body.input] if isinstance(body.input, str) else [t for t in body.input if isinstance(t, str)]
        if len(texts) > limits.max_batch_items:
            raise ValidationError(f"input has {len(texts)} texts, the limit is {limits.max_batch_items}")
        for index, text in enumerate(texts):
            # Checked here so the message names the caller's input, not our derived content ids.
            if len(text) > limits.max_text_chars:
                raise ValidationError(
                    f"input[{index}] has {len(text)} characters, the limit is {limits.max_text_chars}"
                )
        items, ids = openai_compat.contents_for(texts, scope)
        input_types = {}
    check_limits(items, limits)
    since = datetime.now(UTC)
    if any(item.media for item in items):
        decisions, errors = await media_api.moderate_items(state, items, principal.actor)
        if errors:  # one item: its media's own 4xx (corrupt, too large, fetching disabled...)
            error = errors[0]
            return error_response(error.status, f"input: {error.message}", error.type)
    else:
        decisions = await state.batcher.submit(items, principal.actor)
    state.metrics.observe_decisions(decisions, since)
    by_id = {d.content_id: d for d in decisions}
    return _json(
        openai_compat.to_response(by_id, ids, state.moderator.policy.version, body.model, input_types)
    )


@router.post(
    "/v1/admin/api-keys",
    tags=["admin"],
    summary="Create an API key",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=_errors(401, 403, 409, 422),
)
def create_api_key(
    request: Request,
    body: ApiKeyCreate,
    principal: Principal = Depends(require_roles("admin")),
) -> ApiKeyCreated:
    """The plaintext key is in this response only; Warden stores a hash. The creation is audited."""
    key = _state(request).store.create_api_key(body.name, body.role, actor=principal.actor)
    log.info("API key %r (role %s) created by %s", body.name, body.role, principal.actor)
    return ApiKeyCreated(name=body.name, role=body.role, key=key)


@router.get(
    "/v1/admin/api-keys",
    tags=["admin"],
    summary="List API keys (never their plaintext)",
    response_model=ApiKeyList,
    responses=_errors(401, 403),
)
def list_api_keys(request: Request, principal: Principal = Depends(require_roles("admin"))) -> ApiKeyList:
    return ApiKeyList(keys=[ApiKeyInfo(**row) for row in _state(request).store.list_api_keys()])


@router.delete(
    "/v1/admin/api-keys/{name}",
    tags=["admin"],
    summary="Revoke an API key",
    response_model=ApiKeyRevoked,
    responses=_errors(401, 403, 404, 422),
)
def revoke_api_key(
    request: Request,
    name: Annotated[str, Path(min_length=1, max_length=100)],
    principal: Principal = Depends(require_roles("admin")),
) -> ApiKeyRevoked:
    """Takes effect on the next request made with the key. The revocation is audited."""
    _state(request).store.revoke_api_key(name, actor=principal.actor)
    log.info("API key %r revoked by %s", name, principal.actor)
    return ApiKeyRevoked(name=name)


@router.get(
    "/healthz", tags=["operations"], summary="Liveness and loaded versions", response_model=HealthResponse
)
def healthz(request: Request) -> HealthResponse:
    return HealthResponse(status="ok", versions=_state(request).moderator.versions)


# A probe must answer even while the database hangs (a black-holed host, not a refused port).
READINESS_TIMEOUT_S = 3.0


async def _database_check(store: Store) -> str:
    try:
        await asyncio.wait_for(asyncio.to_thread(store.ping), READINESS_TIMEOUT_S)
    except TimeoutError:
        return f"unavailable: no answer within {READINESS_TIMEOUT_S:g} s"
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        return "unavailable: " + (str(getattr(exc, "orig", None) or exc).splitlines() or ["error"])[0]
    return "ok"


@router.get(
    "/readyz",
    tags=["operations"],
    summary="Readiness: can this process serve traffic now?",
    response_model=ReadinessResponse,
    responses={503: {"model": ReadinessResponse, "description": "A dependency is down; see `checks`."}},
)
async def readyz(request: Request) -> Response:
    """For load balancers and orchestrators: 200 when the database answers and the micro-batcher
    runs, else 503 with `Retry-After`. `/healthz` stays a liveness probe (the process is up and its
    models are loaded): a database outage should take the process out of rotation, not restart it."""
    state = _state(request)
    checks = {
        "database": await _database_check(state.store),
        "batcher": "ok" if state.batcher.accepting else "stopped",
    }
    ready = all(value == "ok" for value in checks.values())
    body = ReadinessResponse(status="ready" if ready else "unavailable", checks=checks)
    response = _json(body, 200 if ready else 503)
    if not ready:
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
    return response


@router.get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format."}},
)
def metrics(request: Request) -> Response:
    state = _state(request)
    return Response(content=state.metrics.render(), media_type=state.metrics.content_type)


# -- the application ------------------------------------------------------------------------------


def create_app(
    settings: Settings | None = None, moderator: Moderator | None = None, store: Store | None = None
) -> FastAPI:
    """Build the API. The moderator and store are created from `settings` at startup unless given;
    a store passed in is migrated but not closed on shutdown (its owner closes it)."""
    settings = settings or get_settings()
    metrics_ = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Threads keep the event loop (and Ctrl+C) responsive while models and the schema load.
        st = store or Store(settings.database_url, audit_key=settings.audit.resolve_key())
        try:
            # The composition root loads the models (unless given) and wires banks (index rebuilt
            # from the store on every start, so it survives restarts), the graph, review and the
            # service, as for the CLI and the Python API. A thread keeps the loop responsive.
            parts = await asyncio.to_thread(build, settings, store=st, moderator=moderator)
            mod, banks, review, service = parts.moderator, parts.banks, parts.review, parts.service
            assert service is not None  # a store was given: decisions are stored
            await asyncio.to_thread(_record_active_policy, st, mod.policy, settings)
            if settings.auth_enabled:
                await asyncio.to_thread(ensure_bootstrap_admin, st, settings.database_url)
            else:
                log.warning("authentication is DISABLED (auth_enabled=false): for local development only")
            app.state.warden_graph = parts.graph
            batcher = MicroBatcher(
                service.moderate,
                max_size=settings.pipeline.batch_max_size,
                max_wait_ms=settings.pipeline.batch_max_wait_ms,
                on_batch=metrics_.batch_size.observe,
                max_queued_items=settings.pipeline.queue_max_items,
                max_queued_items_per_actor=settings.pipeline.queue_max_items_per_key,
            )
            app.state.warden = AppState(
                settings=settings,
                moderator=mod,
                store=st,
                service=service,
                batcher=batcher,
                metrics=metrics_,
                active_policy=describe_policy(mod),
                banks=banks,
                review=review,
            )
            refresher = (
                asyncio.create_task(_refresh_banks(banks, settings.banks.refresh_interval_s))
                if banks
                else None
            )
            try:
                async with batcher:
                    yield
            finally:
                if refresher is not None:
                    refresher.cancel()
        finally:
            if store is None:
                st.close()

    app = FastAPI(
        title="Warden",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    install_error_handlers(app)

    async def _unavailable(request: Request, exc: Exception) -> Response:
        return error_response(503, str(exc), "unavailable", headers={"Retry-After": "1"})

    app.add_exception_handler(BatcherClosedError, _unavailable)

    async def _overloaded(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OverloadedError)
        retry = str(math.ceil(exc.retry_after_s))
        return error_response(429, str(exc), "overloaded", headers={"Retry-After": retry})

    app.add_exception_handler(OverloadedError, _overloaded)
    # Innermost: every exception becomes an answer here, so the connection survives it.
    app.add_middleware(CatchAllMiddleware)
    # Added last = outermost: metrics also see the 413/415/400 answered by the body check.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.limits.max_request_bytes,
        form_paths={
            path: settings.media.max_upload_bytes for path in (media_api.UPLOAD_PATH, *hma_api.UPLOAD_PATHS)
        },
    )
    # Google's error shape on the Perspective routes, for every error (the body check's too).
    app.add_middleware(perspective_api.GoogleErrorShapeMiddleware)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics_)
    # Outermost: every answer (even the body check's) carries the request's id, and so do its logs.
    app.add_middleware(RequestIdMiddleware)
    app.include_router(router)
    app.include_router(banks_api.router)
    app.include_router(media_api.router)
    app.include_router(review_api.router)
    app.include_router(perspective_api.router)
    app.include_router(hma_api.router)
    from .graph_api import router as graph_router

    app.include_router(graph_router)
    from .console import install as install_console  # the web review console at /console

    secret = settings.review.console_secret
    install_console(
        app,
        secret.get_secret_value() if secret is not None else None,
        cookie_secure=settings.review.console_cookie_secure,
    )
    return app


async def _refresh_banks(banks: BankService, interval_s: float) -> None:
    """Pick up bank changes made by other processes (CLI imports, other workers)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            changed = await asyncio.to_thread(banks.matcher.refresh, banks.repo)
            if changed:
                log.info("banks: %d entries changed elsewhere, index updated", changed)
        except Exception:  # keep refreshing: a database blip must not stop matching updates
            log.exception("bank refresh failed; retrying")


def run(settings: Settings | None = None, **uvicorn_options: Any) -> None:
    """Serve the API with uvicorn on settings.host:settings.port (used by `warden serve`)."""
    import uvicorn

    settings = settings or get_settings()
    if not settings.auth_enabled and settings.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(
            "auth is disabled and the server listens on %s: anyone who can reach it is admin", settings.host
        )
    configure_logging(settings.logging)
    # log_config=None: uvicorn keeps its loggers on ours (format, request ids) instead of its own.
    uvicorn_options.setdefault("log_config", None)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, **uvicorn_options)
