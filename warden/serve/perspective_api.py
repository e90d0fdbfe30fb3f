"""Perspective-compatible routes: `POST /v1alpha1/comments:analyze`, `comments:suggestscore`, and
the discovery document Google's API clients build themselves from (`/$discovery/rest`).

A client of Perspective switches by pointing its base (or discovery) URL here and sending a Warden
key (role `client`) as its API key: `?key=` as Google clients do, or the usual headers. Errors on
these routes use Google's shape ({"error": {"code", "message", "status"}}); the mapping of
attributes to policy categories is in `warden.serve.perspective` and docs/perspective.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError as PydanticValidationError
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as ASGIMessage

from ..content import Content, check_limits
from ..decision import Decision
from ..errors import ValidationError
from .auth import Principal, require_roles
from .errors import ApiError
from .perspective import (
    ATTRIBUTES,
    AnalyzeRequest,
    PerspectiveError,
    SuggestScoreRequest,
    analyze_response,
    check_attributes,
    suggested_categories,
)

PREFIX = "/v1alpha1/"
CONTENT_ID_PREFIX = "perspective-"
# Google API status names by HTTP status (https://cloud.google.com/apis/design/errors).
GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

router = APIRouter(tags=["perspective-compatible"])
client_key = require_roles("client", query_key=True)


def _state(request: Request) -> Any:
    return request.app.state.warden


def _content(text: str, languages: list[str], scope: str) -> Content:
    language = languages[0] if languages else None
    digest = hashlib.sha256(f"{scope}\x1f{language or ''}\x1f{text}".encode()).hexdigest()
    try:
        return Content(id=CONTENT_ID_PREFIX + digest, text=text, language=language)
    except PydanticValidationError as exc:
        raise ApiError(400, f"comment: {exc.errors(include_url=False)[0]['msg']}") from None


async def _decide(request: Request, item: Content, actor: str, store: bool) -> Decision:
    state = _state(request)
    try:
        check_limits([item], state.settings.limits)
    except ValidationError as exc:
        raise ApiError(400, str(exc)) from None
    if store:
        [decision] = await state.batcher.submit([item], actor)
    else:  # doNotStore: decided by the same models, never written anywhere
        [decision] = await asyncio.to_thread(state.moderator.moderate, [item])
    return decision  # type: ignore[no-any-return]


def _scope(request: Request) -> str:
    versions = _state(request).moderator.versions
    return f"{versions.policy}|{versions.pipeline}"


@router.post("/v1alpha1/comments:analyze", summary="Perspective: score a comment's attributes")
async def analyze(
    request: Request, body: AnalyzeRequest, principal: Principal = Depends(client_key)
) -> Response:
    """Perspective's AnalyzeComment. Attributes are scored from the active policy's calibrated
    probabilities (TOXICITY, SEVERE_TOXICITY, IDENTITY_ATTACK, INSULT, PROFANITY, THREAT,
    SEXUALLY_EXPLICIT); `doNotStore` is honoured (no decision, no audit row, no review task);
    `spanAnnotations` come from the decision's evidence spans."""
    policy = _state(request).moderator.policy
    try:
        check_attributes(list(body.requestedAttributes), policy)
    except PerspectiveError as exc:
        raise ApiError(400, str(exc)) from None
    item = _content(body.comment.text, body.languages, _scope(request))
    decision = await _decide(request, item, principal.actor, store=not body.doNotStore)
    return Response(json.dumps(analyze_response(decision, body)), media_type="application/json")


@router.post("/v1alpha1/comments:suggestscore", summary="Perspective: suggest a comment's scores")
async def suggest_score(
    request: Request, body: SuggestScoreRequest, principal: Principal = Depends(client_key)
) -> Response:
    """Perspective's SuggestCommentScore. The comment is decided (and stored) as usual, and the
    suggestion is queued for a reviewer in the `relabel` queue beside the model's view: a value of
    0.5 or more on an attribute suggests the attribute's categories are violated."""
    state = _state(request)
    try:
        categories, values = suggested_categories(body, state.moderator.policy)
    except PerspectiveError as exc:
        raise ApiError(400, str(exc)) from None
    item = _content(body.comment.text, body.languages, _scope(request))
    decision = await _decide(request, item, principal.actor, store=True)
    if state.review is not None and state.review.config.enabled:
        detail = {"source": "perspective:suggestscore", "attributes": values, "community": body.communityId}
        await asyncio.to_thread(
            state.review.add_suggestion, item, decision, categories, detail, principal.actor
        )
    out: dict[str, Any] = {
        "detectedLanguages": [decision.language or "und"],
        "requestedLanguages": body.languages,
    }
    if body.clientToken is not None:
        out["clientToken"] = body.clientToken
    return Response(json.dumps(out), media_type="application/json")


@router.get("/$discovery/rest", summary="Discovery document for Google API clients", include_in_schema=False)
def discovery(request: Request, version: str = Query(default="v1alpha1")) -> Response:
    if version != "v1alpha1":
        raise ApiError(404, f"no discovery document for version {version!r}; this server has v1alpha1")
    return Response(json.dumps(discovery_document(str(request.base_url))), media_type="application/json")


def discovery_document(root_url: str) -> dict[str, Any]:
    """A Google discovery document for the two comment methods, enough for
    `googleapiclient.discovery.build("commentanalyzer", "v1alpha1", discoveryServiceUrl=...)`."""

    def method(name: str, request_schema: str, response_schema: str) -> dict[str, Any]:
        return {
            "id": f"commentanalyzer.comments.{name}",
            "path": f"v1alpha1/comments:{name}",
            "flatPath": f"v1alpha1/comments:{name}",
            "httpMethod": "POST",
            "parameters": {},
            "parameterOrder": [],
            "request": {"$ref": request_schema},
            "response": {"$ref": response_schema},
            "description": f"Warden's Perspective-compatible comments:{name}.",
        }

    def schema(name: str, properties: dict[str, Any]) -> dict[str, Any]:
        return {"id": name, "type": "object", "properties": properties}

    obj = {"type": "object", "additionalProperties": {"type": "any"}}
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": "commentanalyzer:v1alpha1",
        "name": "commentanalyzer",
        "version": "v1alpha1",
        "title": "Warden (Perspective-compatible comment analyzer)",
        "description": "Attributes: " + ", ".join(ATTRIBUTES),
        "protocol": "rest",
        "rootUrl": root_url,
        "servicePath": "",
        "baseUrl": root_url,
        "batchPath": "batch",
        "parameters": {
            "key": {"type": "string", "location": "query", "description": "A Warden API key."},
            "alt": {"type": "string", "location": "query", "default": "json", "enum": ["json"]},
        },
        "resources": {
            "comments": {
                "methods": {
                    "analyze": method("analyze", "AnalyzeCommentRequest", "AnalyzeCommentResponse"),
                    "suggestscore": method(
                        "suggestscore", "SuggestCommentScoreRequest", "SuggestCommentScoreResponse"
                    ),
                }
            }
        },
        "schemas": {
            "AnalyzeCommentRequest": schema(
                "AnalyzeCommentRequest",
                {
                    "comment": obj,
                    "requestedAttributes": obj,
                    "languages": {"type": "array", "items": {"type": "string"}},
                    "doNotStore": {"type": "boolean"},
                    "spanAnnotations": {"type": "boolean"},
                    "clientToken": {"type": "string"},
                },
            ),
            "AnalyzeCommentResponse": schema("AnalyzeCommentResponse", {"attributeScores": obj}),
            "SuggestCommentScoreRequest": schema(
                "SuggestCommentScoreRequest", {"comment": obj, "attributeScores": obj}
            ),
            "SuggestCommentScoreResponse": schema(
                "SuggestCommentScoreResponse", {"clientToken": {"type": "string"}}
            ),
        },
    }


class GoogleErrorShapeMiddleware:
    """Rewrite Warden's error envelope into Google's on the Perspective routes, whoever answered
    (validation, auth, body limits, the handlers): {"error": {"code", "message", "status"}}.
    Google APIs have no 422: a request that breaks the schema is a 400 INVALID_ARGUMENT."""

    def __init__(self, app: ASGIApp, prefix: str = PREFIX) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        held: ASGIMessage | None = None
        chunks: list[bytes] = []

        async def rewriting_send(message: ASGIMessage) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and int(message["status"]) >= 400:
                held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                status, body = _google_error(int(held["status"]), b"".join(chunks))
                headers = [
                    (k, v)
                    for k, v in held.get("headers", [])
                    if k.lower() not in (b"content-length", b"content-type")
                ]
                headers += [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewriting_send)


def _google_error(status: int, body: bytes) -> tuple[int, bytes]:
    try:
        warden = json.loads(body).get("error", {})
        message = str(warden.get("message", "error"))
        details = warden.get("details") or []
    except (ValueError, AttributeError):
        message, details = body.decode("utf-8", "replace")[:500] or "error", []
    code = 400 if status == 422 else status
    error: dict[str, Any] = {"code": code, "message": message, "status": GOOGLE_STATUS.get(code, "UNKNOWN")}
    if details:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [
                    {"field": ".".join(str(p) for p in d.get("loc", [])[1:]), "description": d.get("msg", "")}
                    for d in details
                ],
            }
        ]
    return code, json.dumps({"error": error}).encode()
