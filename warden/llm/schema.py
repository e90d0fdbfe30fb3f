"""The judge's structured output: a JSON schema (enforced by the backend) and its parser.

Per category in question, in this order: `verdict` (violating / not_violating / uncertain),
`confidence` (0..1 in steps of 0.1: an enum, so grammar-constrained decoding keeps it in
range), `clause` (the policy clause id the verdict rests on, or "none"), `evidence`
(verbatim quotes from the content) and `rationale` (one sentence). The verdict comes first:
a small model that loops in its free text has already decided, and strings are bounded
(`maxLength`, `maxItems`) so the answer fits its token budget.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

Verdict = Literal["violating", "not_violating", "uncertain"]
VERDICTS: tuple[Verdict, ...] = ("violating", "not_violating", "uncertain")
CONFIDENCE_STEPS: tuple[float, ...] = tuple(round(i / 10, 1) for i in range(11))
NO_CLAUSE = "none"


class JudgeOutputError(ValueError):
    """The model's answer is not JSON of the requested schema."""


class CategoryVerdict(BaseModel):
    """One category's judgement as the model gave it."""

    evidence: list[str] = Field(default_factory=list)
    rationale: str = ""
    verdict: Verdict
    confidence: float = Field(ge=0.0, le=1.0)
    clause: str = NO_CLAUSE

    @field_validator("confidence", mode="before")
    @classmethod
    def _clamp(cls, value: Any) -> Any:
        # Servers that ignore the enum may send 85 (percent) or 1.2: map into [0, 1].
        if isinstance(value, int | float):
            v = float(value)
            if 1.0 < v <= 100.0:
                v /= 100.0
            return min(1.0, max(0.0, v))
        return value


def verdict_schema(
    clauses: Mapping[str, Sequence[str]],
    max_quotes: int = 2,
    max_quote_chars: int = 100,
    max_rationale_chars: int = 160,
) -> dict[str, Any]:
    """JSON schema of one answer: an object with one required property per category id.

    `clauses` maps each category in question to its clause ids; the schema restricts
    `clause` to those ids plus "none".
    """
    properties: dict[str, Any] = {}
    for category, ids in clauses.items():
        properties[category] = {
            "type": "object",
            "properties": {
                "verdict": {"type": "string", "enum": list(VERDICTS)},
                "confidence": {"type": "number", "enum": list(CONFIDENCE_STEPS)},
                "clause": {"type": "string", "enum": [*ids, NO_CLAUSE]},
                "evidence": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1, "maxLength": max_quote_chars},
                    "maxItems": max_quotes,
                },
                "rationale": {"type": "string", "maxLength": max_rationale_chars},
            },
            "required": ["verdict", "confidence", "clause", "evidence", "rationale"],
            "additionalProperties": False,
        }
    return {
        "type": "object",
        "properties": properties,
        "required": list(clauses),
        "additionalProperties": False,
    }


_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")


def parse_verdicts(raw: str, categories: Sequence[str]) -> dict[str, CategoryVerdict]:
    """Parse the model's answer; raise JudgeOutputError if a category is missing or malformed.

    Tolerates a Markdown code fence and text around the JSON object (servers that do not
    enforce the schema); with grammar-constrained decoding neither occurs.
    """
    text = _FENCE.sub("", raw.strip())
    try:
        data = json.loads(text, strict=False)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise JudgeOutputError(f"answer is not JSON: {raw[:200]!r}") from None
        try:
            data = json.loads(text[start : end + 1], strict=False)
        except json.JSONDecodeError as exc:
            raise JudgeOutputError(f"answer is not JSON ({exc}): {raw[:200]!r}") from None
    if not isinstance(data, dict):
        raise JudgeOutputError(f"answer is not a JSON object: {raw[:200]!r}")
    out: dict[str, CategoryVerdict] = {}
    for category in categories:
        if category not in data:
            raise JudgeOutputError(f"answer has no verdict for category {category!r}")
        try:
            out[category] = CategoryVerdict.model_validate(data[category])
        except ValidationError as exc:
            raise JudgeOutputError(f"verdict for {category!r} does not match the schema: {exc}") from None
    return out
