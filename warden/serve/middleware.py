"""ASGI middleware: request size/encoding checks before any parsing, and request metrics."""

from __future__ import annotations

import time
from email.message import Message

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as ASGIMessage

from ..observability import REQUEST_ID, request_id_from
from .errors import error_response, unhandled_response
from .metrics import Metrics

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    is_json = subtype == "json" or subtype.endswith("+json")
    return message.get_content_maintype() == "application" and is_json


class BodyLimitMiddleware:
    """Reject bodies over `max_bytes` with 413, bodies that are not UTF-8 JSON with 400/415.

    The declared Content-Length is checked first (nothing is read); then the bytes actually
    received are counted, which also catches chunked bodies and lying headers. The checked
    body is buffered and replayed to the app, which would read it whole anyway.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        drain_bytes: int | None = None,
        json_prefix: str = "/v1/",
        form_paths: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Upload endpoints (path -> byte limit) take multipart/form-data instead of JSON.
        self.form_paths = dict(form_paths or {})
        # Only the JSON API is held to JSON; other mounts (e.g. an HTML UI) may post forms.
        self.json_prefix = json_prefix
        # Reading (and discarding) a little past the limit before answering lets an honest
        # client that overshot see the 413 instead of a reset connection.
        self.drain_bytes = max_bytes if drain_bytes is None else drain_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        form_limit = self.form_paths.get(scope.get("path", ""))
        if form_limit is not None and scope.get("method") in _BODY_METHODS:
            # The endpoint checks the Content-Type itself, after authentication.
            await _Limited(self, form_limit, "media.max_upload_bytes")(scope, receive, send)
            return
        declared = headers.get("content-length")
        if declared is not None:
            try:
                declared_bytes = int(declared)
            except ValueError:
                await error_response(400, f"invalid Content-Length header {declared!r}")(scope, receive, send)
                return
            if declared_bytes > self.max_bytes:
                if declared_bytes <= self.max_bytes + self.drain_bytes:
                    await self._drain(receive)
                await self._too_large(declared_bytes, scope, receive, send)
                return
        chunks: list[bytes] = []
        total = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away; nobody to answer
            body = message.get("body", b"")
            total += len(body)
            more = bool(message.get("more_body", False))
            if total > self.max_bytes:
                if more:
                    total += await self._drain(receive)
                await self._too_large(total, scope, receive, send)
                return
            chunks.append(body)
        payload = b"".join(chunks)
        json_api = scope.get("path", "").startswith(self.json_prefix)
        if payload and json_api and scope.get("method") in _BODY_METHODS:
            content_type = headers.get("content-type")
            if not _is_json(content_type):
                message_text = (
                    f"unsupported Content-Type {content_type!r}; send JSON (Content-Type: application/json)"
                    if content_type
                    else "missing Content-Type; send JSON with Content-Type: application/json"
                )
                await error_response(415, message_text)(scope, receive, send)
                return
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError as exc:
                await error_response(
                    400,
                    f"request body is not valid UTF-8: {exc.reason} at byte {exc.start}",
                    "invalid_encoding",
                )(scope, receive, send)
                return

        replayed = False

        async def replay() -> ASGIMessage:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": payload, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _drain(self, receive: Receive) -> int:
        # Closing a socket with unread input resets it, which can destroy the 413 in flight.
        drained = 0
        while drained <= self.max_bytes + self.drain_bytes:
            message = await receive()
            if message["type"] != "http.request":
                break
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return drained

    async def _too_large(self, size: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            f"request body of {size} bytes or more exceeds the limit of {self.max_bytes} bytes "
            "(limits.max_request_bytes); split the batch",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class _Limited(BodyLimitMiddleware):
    """The size checks of BodyLimitMiddleware with another limit and no JSON check (upload forms)."""

    def __init__(self, parent: BodyLimitMiddleware, max_bytes: int, setting: str) -> None:
        # No request path starts with NUL: the JSON checks never apply here.
        super().__init__(parent.app, max_bytes, json_prefix="\0")
        self.setting = setting

    async def _too_large(self, size: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            f"request body of {size} bytes or more exceeds the limit of {self.max_bytes} bytes "
            f"({self.setting})",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class RequestIdMiddleware:
    """Give every request an id (the caller's X-Request-ID when sane, else a new one), set it for
    the logs written while handling it, and echo it in the response's X-Request-ID header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope).get("x-request-id"))
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: ASGIMessage) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


class CatchAllMiddleware:
    """Answer any exception no handler claimed with the 500 envelope (or 503 for a lost database)
    and stop it here. Starlette's own last-resort handler re-raises after answering, and uvicorn
    then closes the connection: a keep-alive client would see its next request reset too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: ASGIMessage) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            response = await unhandled_response(Request(scope), exc)
            if not started:
                await response(scope, receive, send)
            # else: half a response is on the wire; the server ends the connection, the error is logged.


# Label values come from closed sets: a client can send any method name or path, and each new label
# value is a new time series kept for the life of the process.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else "other"


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else "other"


class RequestMetricsMiddleware:
    """Latency by route template (raw paths would explode label cardinality) and errors by status;
    unknown methods and paths fold into one value each."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: ASGIMessage) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.metrics.request_latency.labels(endpoint, method_label(scope.get("method", ""))).observe(
                time.perf_counter() - started
            )
            if status >= 400:
                self.metrics.errors.labels(status_label(status)).inc()
