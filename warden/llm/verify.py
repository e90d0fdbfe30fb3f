"""Quoted evidence checked against the content.

A quote counts only if it occurs in the content, compared after normalising case,
whitespace runs and typographic quotes/dashes; its span is given as character offsets into
the original text (`text[start:end]` is the snippet shown). A `violating` verdict left with
no verified quote is downgraded to `uncertain` with reduced confidence: the model claimed a
violation it could not point at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .schema import CategoryVerdict, Verdict

# Typographic characters a model tends to straighten when it copies a quote (1:1 mappings).
_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)
_STRIP = " \t\r\n\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb"
MIN_QUOTE_CHARS = 3  # after normalisation: "a" or "is" would match almost anything


def normalise(text: str) -> tuple[str, list[int]]:
    """Case-folded text with whitespace runs collapsed to one space, plus for each character
    of the result the index of the original character it came from."""
    out: list[str] = []
    index: list[int] = []
    in_space = False
    for i, ch in enumerate(text.translate(_TRANSLATE)):
        if ch.isspace():
            if not in_space and out:
                out.append(" ")
                index.append(i)
            in_space = True
            continue
        in_space = False
        for folded in ch.casefold():  # "ß" -> "ss": both map back to the same character
            out.append(folded)
            index.append(i)
    if out and out[-1] == " ":
        out.pop()
        index.pop()
    return "".join(out), index


def _clean_quote(quote: str) -> str:
    quote = quote.strip(_STRIP)
    for ellipsis in ("...", "\u2026"):
        quote = quote.removeprefix(ellipsis).removesuffix(ellipsis)
    return quote.strip(_STRIP)


def find_quote(
    text: str, quote: str, normalised: tuple[str, list[int]] | None = None
) -> tuple[int, int] | None:
    """(start, end) of `quote` in `text` (end exclusive), or None if it does not occur."""
    haystack, index = normalised or normalise(text)
    needle, _ = normalise(_clean_quote(quote))
    if len(needle.replace(" ", "")) < MIN_QUOTE_CHARS:
        return None
    at = haystack.find(needle)
    if at < 0:
        return None
    start = index[at]
    end = index[at + len(needle) - 1] + 1
    return start, end


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    snippet: str
    quote: str  # as the model wrote it

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "snippet": self.snippet, "quote": self.quote}


@dataclass(frozen=True)
class CheckedVerdict:
    """A category verdict after evidence verification (what the detector reports)."""

    category: str
    verdict: Verdict
    confidence: float
    clause: str
    rationale: str
    spans: tuple[Span, ...]
    dropped_quotes: tuple[str, ...] = ()
    model_verdict: Verdict | None = None  # set when the verdict was downgraded
    model_confidence: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def downgraded(self) -> bool:
        return self.model_verdict is not None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "confidence": round(self.confidence, 4),
            "clause": self.clause,
            "rationale": self.rationale,
            "evidence": [s.to_dict() for s in self.spans],
        }
        if self.dropped_quotes:
            out["dropped_quotes"] = list(self.dropped_quotes)
        if self.downgraded:
            out["downgraded_from"] = {"verdict": self.model_verdict, "confidence": self.model_confidence}
        return out


def verify_quotes(text: str, quotes: list[str]) -> tuple[list[Span], list[str]]:
    """Split quotes into verified spans (deduplicated, in order of appearance) and dropped ones."""
    normalised = normalise(text)
    spans: dict[tuple[int, int], Span] = {}
    dropped: list[str] = []
    for quote in quotes:
        found = find_quote(text, quote, normalised)
        if found is None:
            dropped.append(quote)
            continue
        start, end = found
        spans.setdefault(found, Span(start, end, text[start:end], quote))
    return sorted(spans.values(), key=lambda s: (s.start, s.end)), dropped


def check_verdict(
    category: str, verdict: CategoryVerdict, text: str, downgrade_factor: float = 0.5
) -> CheckedVerdict:
    """Verify a verdict's quotes against `text` and apply the downgrade rule."""
    spans, dropped = verify_quotes(text, verdict.evidence)
    final: Verdict = verdict.verdict
    confidence = verdict.confidence
    model_verdict: Verdict | None = None
    model_confidence: float | None = None
    if verdict.verdict == "violating" and not spans:
        model_verdict, model_confidence = verdict.verdict, verdict.confidence
        final, confidence = "uncertain", verdict.confidence * downgrade_factor
    return CheckedVerdict(
        category=category,
        verdict=final,
        confidence=confidence,
        clause=verdict.clause,
        rationale=verdict.rationale.strip(),
        spans=tuple(spans),
        dropped_quotes=tuple(dropped),
        model_verdict=model_verdict,
        model_confidence=model_confidence,
    )


def violation_probability(verdict: Verdict, confidence: float) -> float:
    """A per-category score in [0, 1] from verdict and confidence (uncalibrated; fusion
    calibrates it): violating 0.5..1, not_violating 0.5..0, uncertain 0.5 - a coin flip the
    confidence cannot move, so a downgraded violation always scores below a verified one."""
    c = min(1.0, max(0.0, confidence))
    if verdict == "violating":
        return 0.5 + 0.5 * c
    if verdict == "not_violating":
        return 0.5 - 0.5 * c
    return 0.5
