"""One JSON error envelope for every non-2xx response: {"error": {"type", "message", "details"}}."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import DataError as SQLAlchemyDataError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ConflictError, NotFoundError, ValidationError, WardenError

log = logging.getLogger("warden.serve")

STATUS_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    503: "unavailable",
}
# Body segments pydantic adds for tagged unions; they name our internal variants, not the caller's JSON.
_UNION_TAGS = {"batch", "single", "str", "list[str]"}


class ApiError(Exception):
    """Raised by endpoints and dependencies for a specific status and message."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or STATUS_TYPES.get(status, "error")
        self.headers = dict(headers or {})


def error_response(
    status: int,
    message: str,
    type: str | None = None,
    details: Sequence[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "type": type or STATUS_TYPES.get(status, "error"),
            "message": message,
            "details": [dict(d) for d in details],
        }
    }
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _clean_loc(loc: Sequence[Any]) -> list[str | int]:
    out: list[str | int] = []
    for index, part in enumerate(loc):
        # Drop union variant tags right below "body" / "input"; keep everything the caller wrote.
        parent = str(loc[index - 1]) if index > 0 else ""
        if isinstance(part, str) and part in _UNION_TAGS and parent in ("body", "input"):
            continue
        out.append(part if isinstance(part, int) else str(part))
    return out


def _loc_text(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _line_col(doc: Any, pos: int) -> str:
    if not isinstance(doc, str):
        return f"at character {pos}"
    line = doc.count("\n", 0, pos) + 1
    column = pos - (doc.rfind("\n", 0, pos) + 1) + 1
    return f"at line {line}, column {column}"


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    for err in errors:
        if err.get("type") == "json_invalid":
            loc = err.get("loc", ())
            pos = loc[-1] if loc and isinstance(loc[-1], int) else 0
            reason = (err.get("ctx") or {}).get("error", "JSON decode error")
            return error_response(
                400, f"request body is not valid JSON: {reason} {_line_col(exc.body, pos)}", "invalid_json"
            )
    details = []
    for err in errors:
        loc = _clean_loc(err.get("loc", ()))
        if loc == ["body"] and err.get("type") == "missing":
            msg = "a JSON request body is required"
        else:
            msg = str(err.get("msg", "invalid value"))
        details.append({"loc": loc, "msg": msg, "type": str(err.get("type", "value_error"))})
    if not details:
        return error_response(422, "invalid request")
    first = details[0]
    where = _loc_text(first["loc"])
    message = f"invalid request: {where}: {first['msg']}" if where else f"invalid request: {first['msg']}"
    if len(details) > 1:
        message += f" (and {len(details) - 1} more problem{'s' if len(details) > 2 else ''})"
    return error_response(422, message, "validation_error", details)


async def _late_validation_handler(request: Request, exc: Exception) -> JSONResponse:
    """A model built inside an endpoint from the caller's values (e.g. a moderation input turned
    into Content) refused them: that is the caller's input, so 422 like the edge validation."""
    assert isinstance(exc, PydanticValidationError)
    details = [
        {
            "loc": ["body", *_clean_loc(err.get("loc", ()))],
            "msg": str(err.get("msg", "invalid value")),
            "type": str(err.get("type", "value_error")),
        }
        for err in exc.errors(include_url=False, include_input=False)
    ]
    first = details[0] if details else {"loc": ["body"], "msg": "invalid value"}
    return error_response(
        422, f"invalid input: {_loc_text(first['loc'])}: {first['msg']}", "validation_error", details
    )


async def _out_of_range_handler(request: Request, exc: Exception) -> JSONResponse:
    """A number the database cannot hold (an id or offset beyond 64 bits): the caller's value, 422.
    SQLite raises OverflowError while binding it, PostgreSQL a DataError (numeric value out of range)."""
    if isinstance(exc, SQLAlchemyDataError) and "out of range" not in str(exc.orig).lower():
        return await _unhandled_handler(request, exc)
    return error_response(
        422, "a number in the request is out of range (ids and offsets are 64-bit)", "validation_error"
    )


# Seconds a client should wait before retrying while the database is unreachable: a restart or a
# failover takes a few seconds, and pooled connections are re-checked (pre-ping) on the next use.
DATABASE_RETRY_AFTER_S = 2


def database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached right now (down, restarting, connection dropped, pool
    exhausted, SQLite locked): a transient state of the service, not a bug and not the caller's fault."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


async def _database_handler(request: Request, exc: Exception) -> JSONResponse:
    if not database_unavailable(exc):
        return await _unhandled_handler(request, exc)
    # One line, no traceback: during an outage every request lands here.
    first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, first_line)
    return error_response(
        503,
        "the database is unavailable; retry after the Retry-After interval",
        "unavailable",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404 and exc.detail == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    elif status == 400 and exc.detail == "There was an error parsing the body":
        message = "the request body could not be parsed; send UTF-8 JSON with Content-Type: application/json"
    else:
        message = str(exc.detail)
    return error_response(status, message, headers=exc.headers)


async def _api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.type, headers=exc.headers)


def _warden_handler(status: int, type: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return error_response(status, str(exc), type)

    return handler


async def unhandled_response(request: Request, exc: Exception) -> JSONResponse:
    """The 500 envelope for an exception no handler claimed (used by the catch-all middleware)."""
    if database_unavailable(exc):
        return await _database_handler(request, exc)
    return await _unhandled_handler(request, exc)


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    # Details stay in the server log: internals must not leak to callers.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error; the incident has been logged", "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(PydanticValidationError, _late_validation_handler)
    app.add_exception_handler(OverflowError, _out_of_range_handler)
    app.add_exception_handler(SQLAlchemyDataError, _out_of_range_handler)
    app.add_exception_handler(DBAPIError, _database_handler)
    app.add_exception_handler(DisconnectionError, _database_handler)
    app.add_exception_handler(PoolTimeoutError, _database_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(ApiError, _api_error_handler)
    app.add_exception_handler(ValidationError, _warden_handler(422, "validation_error"))
    app.add_exception_handler(ConflictError, _warden_handler(409, "conflict"))
    app.add_exception_handler(NotFoundError, _warden_handler(404, "not_found"))
    app.add_exception_handler(WardenError, _warden_handler(500, "internal_error"))
    app.add_exception_handler(Exception, _unhandled_handler)
