"""View models: what the item page shows, computed from a ReviewTask so the template stays simple."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from ...review.models import ReviewTask
from . import render

# Evidence kinds that locate something inside an attachment (box, frame time, or both).
_MEDIA_KINDS = {"image_region", "frame", "ocr_word"}


@dataclass
class ScoreRow:
    category: str
    title: str
    probability: float
    threshold: float | None
    flagged: bool


@dataclass
class Region:
    box: str  # "x,y,w,h" for the data attribute the script positions
    label: str


@dataclass
class FrameHit:
    time_s: float
    label: str
    kind: str
    snippet: str | None


@dataclass
class MediaView:
    index: int
    kind: str  # image | video | other
    url: str | None
    content_type: str | None
    filename: str | None
    regions: list[Region] = field(default_factory=list)
    frames: list[FrameHit] = field(default_factory=list)
    result: dict[str, Any] | None = None


@dataclass
class EvidenceRow:
    category: str
    kind: str
    detector: str
    where: str
    snippet: str | None


@dataclass
class TaskView:
    text: Markup
    context: str | None
    highlighted: int
    scores: list[ScoreRow]
    media: list[MediaView]
    evidence: list[EvidenceRow]
    clauses: list[dict[str, Any]]
    judge_verdicts: list[dict[str, Any]]


def _all_evidence(task: ReviewTask) -> list[dict[str, Any]]:
    out = []
    for reason in task.reasons:
        for item in reason.get("evidence") or []:
            if isinstance(item, dict):
                out.append({"category": reason.get("category"), **item})
    return out


def _media_index(item: dict[str, Any]) -> int | None:
    detail = item.get("detail") or {}
    index = item.get("media_index", detail.get("media_index") if isinstance(detail, dict) else None)
    return index if isinstance(index, int) and not isinstance(index, bool) else None


def _time(item: dict[str, Any]) -> float | None:
    detail = item.get("detail") or {}
    value = item.get("time_s", detail.get("time_s") if isinstance(detail, dict) else None)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _box(item: dict[str, Any]) -> str | None:
    detail = item.get("detail") or {}
    box = detail.get("box") if isinstance(detail, dict) else None
    if isinstance(box, list | tuple) and len(box) == 4 and all(isinstance(v, int | float) for v in box):
        return ",".join(f"{float(v):g}" for v in box)
    return None


def _where(item: dict[str, Any]) -> str:
    kind = item.get("kind")
    if kind == "text_span" and isinstance(item.get("start"), int) and _media_index(item) is None:
        return f"chars {item['start']}–{item.get('end')}"
    parts = []
    index = _media_index(item)
    if index is not None:
        parts.append(f"attachment {index + 1}")
    time_s = _time(item)
    if time_s is not None:
        parts.append(f"at {render.seconds(time_s)}")
    detail = item.get("detail") or {}
    if kind == "bank_match" and isinstance(detail, dict):
        parts.append(f"bank {detail.get('bank', '?')}")
    return ", ".join(parts) or "–"


def build(
    task: ReviewTask, categories: list[tuple[str, str, float | None]], media_url: str = "/console/media/"
) -> TaskView:
    """`categories`: the active policy's (id, title, flag threshold), in policy order."""
    evidence = _all_evidence(task)
    # Spans with a media index point into OCR text of an attachment, not into the item's own text.
    own = [e for e in evidence if _media_index(e) is None]
    spans = render.text_spans(own, len(task.text))
    known = {cid for cid, _, _ in categories}
    scores = [
        ScoreRow(cid, title, task.scores.get(cid, 0.0), threshold, cid in task.flagged)
        for cid, title, threshold in categories
        if cid in task.scores
    ] + [
        ScoreRow(cid, cid, p, None, cid in task.flagged) for cid, p in task.scores.items() if cid not in known
    ]
    scores.sort(key=lambda row: -row.probability)

    media = []
    for index, ref in enumerate(task.media):
        url = f"{media_url}{ref.sha256}" if ref.stored and ref.sha256 else None
        view = MediaView(index, ref.kind, url, ref.content_type, ref.filename)
        for item in evidence:
            if _media_index(item) != index and not (
                len(task.media) == 1 and item.get("kind") in _MEDIA_KINDS
            ):
                continue
            label = str(item.get("category") or "evidence")
            box = _box(item)
            time_s = _time(item)
            if box and ref.kind == "image" and time_s is None:
                view.regions.append(Region(box, label))
            if time_s is not None:
                snippet = item.get("snippet")
                view.frames.append(FrameHit(time_s, label, str(item.get("kind")), snippet))
        view.frames.sort(key=lambda hit: hit.time_s)
        if index < len(task.media_results):
            view.result = task.media_results[index]
        media.append(view)

    rows = [
        EvidenceRow(
            category=str(item.get("category") or "–"),
            kind=str(item.get("kind") or "–"),
            detector=str(item.get("detector") or item.get("reviewer") or "–"),
            where=_where(item),
            snippet=item.get("snippet") if isinstance(item.get("snippet"), str) else None,
        )
        for item in evidence
    ]
    clauses = [
        {
            "category": r.get("category"),
            "action": r.get("action"),
            "probability": r.get("probability"),
            "clause": r.get("clause"),
        }
        for r in task.reasons
    ]
    verdicts = []
    if task.judge:
        for cat, verdict in (task.judge.get("verdicts") or {}).items():
            if isinstance(verdict, dict):
                verdicts.append({"category": cat, **verdict})
    return TaskView(
        text=render.highlight(task.text, spans),
        context=task.context,
        highlighted=len(spans),
        scores=scores,
        media=media,
        evidence=rows,
        clauses=clauses,
        judge_verdicts=verdicts,
    )
