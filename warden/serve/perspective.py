"""Perspective API compatibility: Warden decisions expressed as Perspective attribute scores.

Perspective's attributes are scored from the active policy's categories (calibrated probabilities):

    TOXICITY          max(harassment, hate, violence, profanity)
    SEVERE_TOXICITY   max(hate, violence, min(harassment, profanity))
    IDENTITY_ATTACK   hate
    INSULT            harassment
    PROFANITY         profanity
    THREAT            violence
    SEXUALLY_EXPLICIT sexual

FLIRTATION (and any attribute whose categories the active policy lacks) is refused with 400, as
Perspective refuses an attribute it cannot score. Span scores come from the decision's text-span
evidence for the attribute's categories; without any, one span covers the whole comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..decision import Decision
from ..policy.model import Policy


@dataclass(frozen=True)
class Formula:
    """max over `any_of`, and each pair of `both_of` contributes its minimum."""

    any_of: tuple[str, ...] = ()
    both_of: tuple[tuple[str, str], ...] = ()

    def categories(self) -> set[str]:
        return set(self.any_of) | {c for pair in self.both_of for c in pair}

    def score(self, probabilities: Mapping[str, float]) -> float:
        terms = [probabilities[c] for c in self.any_of]
        terms += [min(probabilities[a], probabilities[b]) for a, b in self.both_of]
        return max(terms) if terms else 0.0


ATTRIBUTES: dict[str, Formula] = {
    "TOXICITY": Formula(any_of=("harassment", "hate", "violence", "profanity")),
    "SEVERE_TOXICITY": Formula(any_of=("hate", "violence"), both_of=(("harassment", "profanity"),)),
    "IDENTITY_ATTACK": Formula(any_of=("hate",)),
    "INSULT": Formula(any_of=("harassment",)),
    "PROFANITY": Formula(any_of=("profanity",)),
    "THREAT": Formula(any_of=("violence",)),
    "SEXUALLY_EXPLICIT": Formula(any_of=("sexual",)),
}
UNSUPPORTED = ("FLIRTATION",)


class PerspectiveError(Exception):
    """A request Perspective would refuse: answered as a Google API error (400 INVALID_ARGUMENT)."""


# -- request and response shapes (the subset of Perspective's JSON that Warden reads and writes) -----


class TextEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str = Field(description="The comment.")
    type: Literal["PLAIN_TEXT"] = "PLAIN_TEXT"


class AttributeParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")
    scoreType: Literal["PROBABILITY"] = "PROBABILITY"  # noqa: N815 - Perspective's field names
    scoreThreshold: float | None = Field(default=None, ge=0, le=1)  # noqa: N815


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # context, sessionId, communityId: accepted, unused
    comment: TextEntry
    requestedAttributes: dict[str, AttributeParameters] = Field(min_length=1)  # noqa: N815
    languages: list[str] = Field(default_factory=list, max_length=16)
    doNotStore: bool = False  # noqa: N815
    spanAnnotations: bool = False  # noqa: N815
    clientToken: str | None = Field(default=None, max_length=256)  # noqa: N815


class SuggestScoreRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    comment: TextEntry
    attributeScores: dict[str, dict[str, Any]] = Field(min_length=1)  # noqa: N815
    languages: list[str] = Field(default_factory=list, max_length=16)
    communityId: str | None = Field(default=None, max_length=256)  # noqa: N815
    clientToken: str | None = Field(default=None, max_length=256)  # noqa: N815


def check_attributes(names: list[str], policy: Policy) -> None:
    """Every requested attribute must be scorable under `policy`, else PerspectiveError."""
    have = set(policy.category_ids)
    for name in names:
        formula = ATTRIBUTES.get(name)
        if formula is None:
            known = ", ".join(ATTRIBUTES)
            why = "has no Warden policy category" if name in UNSUPPORTED else "is not a Perspective attribute"
            raise PerspectiveError(f"attribute {name} {why}; supported: {known}")
        missing = formula.categories() - have
        if missing:
            raise PerspectiveError(
                f"attribute {name} needs the policy categories {', '.join(sorted(missing))}, "
                f"which the active policy {policy.name} {policy.version} does not have"
            )


def _score(value: float) -> dict[str, Any]:
    return {"value": round(float(value), 6), "type": "PROBABILITY"}


def _spans(decision: Decision, formula: Formula, text: str, summary: float) -> list[dict[str, Any]]:
    wanted = formula.categories()
    spans: dict[tuple[int, int], float] = {}
    for reason in decision.reasons:
        if reason.category not in wanted:
            continue
        for ev in reason.evidence:
            start, end = ev.get("start"), ev.get("end")
            if ev.get("kind") == "text_span" and isinstance(start, int) and isinstance(end, int):
                key = (start, end)
                spans[key] = max(spans.get(key, 0.0), reason.probability)
    if not spans:
        return [{"begin": 0, "end": len(text), "score": _score(summary)}]
    return [{"begin": b, "end": e, "score": _score(v)} for (b, e), v in sorted(spans.items())]


def analyze_response(decision: Decision, request: AnalyzeRequest) -> dict[str, Any]:
    """Perspective's AnalyzeCommentResponse for one decision."""
    probabilities = decision.probabilities()
    scores: dict[str, Any] = {}
    for name, params in request.requestedAttributes.items():
        formula = ATTRIBUTES[name]
        value = formula.score(probabilities)
        if params.scoreThreshold is not None and value < params.scoreThreshold:
            continue  # Perspective leaves out attributes below the caller's threshold
        entry: dict[str, Any] = {"summaryScore": _score(value)}
        if request.spanAnnotations:
            entry["spanScores"] = _spans(decision, formula, request.comment.text, value)
        scores[name] = entry
    detected = decision.language or "und"
    body: dict[str, Any] = {
        "attributeScores": scores,
        "languages": list(request.languages) or [detected],
        "detectedLanguages": [detected],
    }
    if request.clientToken is not None:
        body["clientToken"] = request.clientToken
    return body


def suggested_categories(request: SuggestScoreRequest, policy: Policy) -> tuple[list[str], dict[str, float]]:
    """The categories a suggestion says the comment violates (summary value >= 0.5 on an attribute
    that maps to them), and the suggested values by attribute."""
    check_attributes(list(request.attributeScores), policy)
    values: dict[str, float] = {}
    for name, entry in request.attributeScores.items():
        summary = entry.get("summaryScore") or {}
        value = summary.get("value") if isinstance(summary, dict) else None
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            raise PerspectiveError(f"attributeScores.{name}.summaryScore.value must be a number in [0, 1]")
        values[name] = float(value)
    categories = sorted({c for n, v in values.items() if v >= 0.5 for c in ATTRIBUTES[n].any_of})
    return categories, values
