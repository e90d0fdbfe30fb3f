"""Logs and traces that drop into an existing stack.

- **Request ids**: every HTTP request carries one (the caller's `X-Request-ID` when it is a sane
  token, else a new one), echoed in the response header and attached to every log record written
  while the request is handled (`REQUEST_ID`, a context variable).
- **JSON logs**: `configure_logging(LoggingSettings(format="json"))` writes one JSON object per
  line (time, level, logger, message, request_id, exception) - what Loki, Elasticsearch or Cloud
  Logging ingest without parsing rules. Text stays the default for terminals.
- **Traces**: with `tracing.enabled` and OpenTelemetry installed (`pip install warden[otel]`),
  each moderation call is a `warden.moderate` span with one child span per pipeline stage. Spans
  go to whatever TracerProvider the deployment configured (`opentelemetry-instrument`, or
  OTEL_* variables with an exporter of your choice); Warden never picks an exporter.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from .settings import LoggingSettings

REQUEST_ID: ContextVar[str | None] = ContextVar("warden_request_id", default=None)
# What a caller may send as X-Request-ID: short, and nothing that could break a log line.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# LogRecord attributes that are not a caller's `extra=` fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


def request_id_from(header: str | None) -> str:
    return header if header and _SANE_ID.match(header) else uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id` (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            out["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure_logging(settings: LoggingSettings, stream: Any = None) -> logging.Handler:
    """One handler on the root logger (replacing handlers an earlier call installed), and the
    uvicorn loggers routed through it, so access logs carry request ids and the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if settings.format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.set_name("warden")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "warden"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler


# -- tracing ---------------------------------------------------------------------------------------


class _Tracing:
    """Process-wide switch: `enable()` is called by the composition root when tracing.enabled."""

    tracer: Any = None

    def enable(self) -> None:
        try:
            from opentelemetry import trace
        except ImportError as exc:  # the extra is missing: say so once, clearly
            raise RuntimeError(
                "tracing.enabled is set but OpenTelemetry is not installed: pip install 'warden[otel]'"
            ) from exc
        self.tracer = trace.get_tracer("warden")

    def disable(self) -> None:
        self.tracer = None


TRACING = _Tracing()


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """An OpenTelemetry span when tracing is on, else nothing (no cost beyond one check)."""
    tracer = TRACING.tracer
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(name) as current:
        for key, value in attributes.items():
            current.set_attribute(key, value)
        request_id = REQUEST_ID.get()
        if request_id:
            current.set_attribute("warden.request_id", request_id)
        yield current
