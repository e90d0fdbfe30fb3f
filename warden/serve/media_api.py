"""Media in the HTTP API: per-item media errors in batches, and the multipart upload endpoint.

JSON bodies carry media as base64 `data` (or a `url`, fetched only when enabled and allow-listed);
`path` is refused here. Media that cannot be taken in or decoded costs only its own item: the item
gets an entry in `errors` with the status it would get alone (413, 415, 422) and every other item
its decision. A request whose every item fails gets that status itself.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from pydantic import ValidationError as PydanticValidationError

from ..content import Content, Media, check_limits
from ..decision import Decision
from ..errors import ValidationError
from ..media.budget import request_pixels
from ..media.intake import MediaBatchError, MediaIntakeError
from .auth import Principal, require_roles
from .errors import STATUS_TYPES, ApiError, error_response
from .schemas import DecisionsResponse, ErrorResponse, ItemError

if TYPE_CHECKING:
    from .app import AppState

UPLOAD_PATH = "/v1/moderate/upload"


def _item_error(index: int, item: Content, exc: MediaIntakeError) -> ItemError:
    return ItemError(
        index=index,
        content_id=item.id,
        status=exc.status,
        type=STATUS_TYPES.get(exc.status, "validation_error"),
        message=f"{item.id}: {exc}",
    )


async def moderate_items(
    state: AppState, items: list[Content], actor: str
) -> tuple[list[Decision], list[ItemError]]:
    """Decisions for the items whose media could be taken in (in request order), errors for the rest.

    Each item's media is fetched and decoded here, in a worker thread (off the event loop and off
    the inference thread), once: the batcher and the moderator reuse the decoded attachments.
    The request's items share one pixel budget (`limits.max_request_pixels`): the worker threads
    get a copy of this context, and with it the request's account."""
    errors: dict[int, ItemError] = {}
    ready: list[Content] = []
    with request_pixels(state.settings.limits):
        for index, item in enumerate(items):
            if item.media:
                try:
                    # Server-side paths are refused over HTTP; url fetches and decoding block.
                    prepared, _ = await asyncio.to_thread(
                        state.moderator.prepare_media, [item], allow_path=False
                    )
                    item = prepared[0]
                except MediaBatchError as exc:
                    errors[index] = _item_error(index, item, exc.failures[item.id])
                    continue
            ready.append(item)
    decisions = await state.batcher.submit(ready, actor) if ready else []
    return decisions, [errors[i] for i in sorted(errors)]


def respond(decisions: list[Decision], errors: list[ItemError]) -> Response:
    """200 with decisions (and errors of single items); the items' own 4xx when none got a decision."""
    if errors and not decisions:
        statuses = {e.status for e in errors}
        status = statuses.pop() if len(statuses) == 1 else 422
        message = errors[0].message if len(errors) == 1 else f"no item could be decided: {errors[0].message}"
        return error_response(
            status,
            message,
            details=[
                {"loc": ["body", "items", e.index, "media"], "msg": e.message, "type": e.type} for e in errors
            ],
        )
    body = DecisionsResponse(decisions=decisions, errors=errors)
    return Response(content=body.model_dump_json(), media_type="application/json")


router = APIRouter()


def _require_multipart(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        raise ApiError(
            415, f"unsupported Content-Type {content_type!r}; send multipart/form-data with the files"
        )


def _kind(files: list[UploadFile], kind: str | None) -> str:
    if kind:
        return kind
    declared = [(f.content_type or "").lower() for f in files]
    return "video" if any(t.startswith("video/") for t in declared) else "image"


@router.post(
    UPLOAD_PATH,
    tags=["moderation"],
    summary="Moderate one post with uploaded images or videos (multipart/form-data)",
    response_model=DecisionsResponse,
    responses={
        code: {"model": ErrorResponse, "description": text}
        for code, text in {
            401: "Missing, invalid or revoked API key.",
            403: "The key's role may not use this endpoint.",
            409: "A content id was reused with different content.",
            413: "The body exceeds media.max_upload_bytes, or a file limits.max_media_bytes / pixel, "
            "frame or duration limits.",
            415: "Not multipart/form-data, or a file whose bytes are not a supported image or video "
            "(or contradict its declared Content-Type).",
            422: "A corrupt, truncated or empty file, or a field that breaks the schema.",
        }.items()
    },
)
async def moderate_upload(
    request: Request,
    id: Annotated[str, Form(min_length=1, max_length=256, description="Caller's content id.")],
    files: Annotated[
        list[UploadFile], File(description="One or more images (JPEG, PNG, GIF, WebP) or videos.")
    ],
    text: Annotated[str, Form(description="The post's caption.")] = "",
    kind: Annotated[str | None, Form(description="image or video (default: from the files).")] = None,
    language: Annotated[str | None, Form()] = None,
    author_id: Annotated[str | None, Form()] = None,
    metadata: Annotated[str | None, Form(description="A JSON object.")] = None,
    principal: Principal = Depends(require_roles("client")),
    _multipart: None = Depends(_require_multipart),  # after the key check: 401 before 415
) -> Response:
    """One post: a caption and its files, judged together (caption, OCR text, image scores, bank
    matches, account signals) into one decision, with per-attachment results and, for video and
    animations, per-segment decisions. Same response shape as `POST /v1/moderate`."""
    state: AppState = request.app.state.warden
    fields: dict[str, Any] = {"id": id, "text": text, "kind": _kind(files, kind)}
    if language:
        fields["language"] = language
    if author_id:
        fields["author_id"] = author_id
    if metadata:
        try:
            fields["metadata"] = json.loads(metadata)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"metadata is not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise ValidationError("metadata is nested too deeply") from None
    media = []
    for upload in files:
        data = await upload.read()
        media.append(Media(data=data, content_type=upload.content_type, filename=upload.filename))
    try:
        item = Content(**fields, media=media)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        raise ValidationError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    check_limits([item], state.settings.limits)
    since = datetime.now(UTC)
    decisions, errors = await moderate_items(state, [item], principal.actor)
    state.metrics.observe_decisions(decisions, since)
    return respond(decisions, errors)
