"""Signals: what a detector says about one item (per-category scores plus evidence)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Evidence:
    """Why a score is high. `kind` says which location fields are set."""

    category: str
    detector: str
    kind: str = "text_span"  # text_span | bank_match | image_region | frame
    start: int | None = None  # character offsets into Content.text, end exclusive
    end: int | None = None
    snippet: str | None = None
    weight: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"category": self.category, "detector": self.detector, "kind": self.kind}
        for key in ("start", "end", "snippet"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["weight"] = round(float(self.weight), 4)
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class Signal:
    """One detector's output for one item.

    `scores` maps category id to a score in [0, 1] (not yet calibrated). A detector that does
    not apply to the item (wrong kind or language) returns `applicable=False` and no scores.
    """

    detector: str
    version: str
    scores: dict[str, float] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    applicable: bool = True
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def not_applicable(cls, detector: str, version: str, reason: str) -> Signal:
        return cls(detector=detector, version=version, applicable=False, detail={"reason": reason})
