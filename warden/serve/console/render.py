"""Server-side rendering helpers: evidence highlighting and small formatters for the templates.

Highlighting builds HTML from character offsets, so every piece of item text goes through
`markupsafe.escape` before it is joined with the `<mark>` tags: user content can never become markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str  # the category (or detector) the span is evidence for


def text_spans(evidence: Iterable[Mapping[str, Any]], text_length: int) -> list[Span]:
    """The `text_span` evidence items as clipped, well-formed spans; malformed ones are dropped
    (a highlight is a hint to the reviewer, never a reason to fail the page)."""
    spans = []
    for item in evidence:
        if item.get("kind") != "text_span":
            continue
        start, end = item.get("start"), item.get("end")
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        start, end = max(0, start), min(text_length, end)
        if start < end:
            label = str(item.get("category") or item.get("detector") or item.get("source") or "evidence")
            spans.append(Span(start, end, label))
    return spans


def highlight(text: str, spans: Iterable[Span]) -> Markup:
    """`text` escaped, with each stretch covered by one or more spans wrapped in one `<mark>` whose
    data-labels lists the covering spans' labels. Overlapping spans are split at their boundaries
    rather than nested, so the output is always well-formed."""
    spans = list(spans)
    if not spans:
        return Markup(escape(text))
    cuts = sorted({0, len(text), *(s.start for s in spans), *(s.end for s in spans)})
    parts: list[str] = []
    for left, right in zip(cuts, cuts[1:], strict=False):
        piece = escape(text[left:right])
        labels = sorted({s.label for s in spans if s.start <= left and right <= s.end})
        if labels:
            joined = escape(" ".join(labels))
            parts.append(f'<mark class="evidence" data-labels="{joined}" title="{joined}">{piece}</mark>')
        else:
            parts.append(str(piece))
    return Markup("".join(parts))


def age(seconds: float | None) -> str:
    """A short human duration: 45 s, 12 min, 3.5 h, 2.0 d."""
    if seconds is None:
        return "–"
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def when(value: datetime | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds(value: float | None) -> str:
    """A media timestamp as m:ss.s."""
    if value is None:
        return "–"
    minutes, rest = divmod(float(value), 60)
    return f"{int(minutes)}:{rest:04.1f}"


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * float(value):.{digits}f} %"


def num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"
