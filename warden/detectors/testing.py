"""Conformance kit every detector must pass (like scikit-learn's check_estimator).

    from warden.detectors.testing import check_detector
    check_detector(MyDetector(...), examples, categories)

It checks the contract the pipeline relies on: identity on the class, idempotent load,
batch in -> same-length signals out, order preserved, scores in [0, 1] for known
categories, evidence inside the text, batch results equal single-item results, the
empty batch, and not-applicable items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..content import Content
from .base import Detector


def check_detector(
    detector: Detector,
    examples: Sequence[Content],
    categories: Sequence[str],
    languages: Sequence[str] | None = None,
    atol: float = 2e-3,
) -> None:
    assert isinstance(type(detector).name, str) and type(detector).name, "name must be a class attribute"
    assert isinstance(type(detector).version, str) and type(detector).version, (
        "version must be a class attribute"
    )
    assert len(examples) >= 2, "give at least two examples"
    langs = list(languages) if languages is not None else [e.language for e in examples]
    detector.load()
    detector.load()  # idempotent
    assert detector.detect([], []) == [], "empty batch must give an empty list"
    batch = detector.detect(list(examples), langs)
    assert len(batch) == len(examples), f"{detector.name}: {len(batch)} signals for {len(examples)} items"
    allowed = set(categories)
    for item, sig in zip(examples, batch, strict=True):
        assert sig.detector == detector.name, f"signal names detector {sig.detector!r}"
        assert sig.version == detector.version
        if not sig.applicable:
            assert not sig.scores, "a not-applicable signal carries no scores"
            continue
        assert sig.scores, f"{detector.name}: applicable signal without scores for {item.id}"
        for cat, score in sig.scores.items():
            assert cat in allowed, f"{detector.name}: unknown category {cat!r}"
            assert 0.0 <= score <= 1.0 and not math.isnan(score), f"{detector.name}: score {score} for {cat}"
        for ev in sig.evidence:
            assert ev.category in allowed and ev.detector == detector.name
            if ev.start is not None or ev.end is not None:
                assert (
                    ev.start is not None and ev.end is not None and 0 <= ev.start < ev.end <= len(item.text)
                )
                if ev.snippet is not None:
                    assert item.text[ev.start : ev.end] == ev.snippet, "evidence span must match its snippet"
    # Order preserved and batch-invariant: reversed batch gives the same per-item scores.
    reversed_batch = detector.detect(list(reversed(examples)), list(reversed(langs)))
    for sig, rev in zip(batch, reversed(reversed_batch), strict=True):
        assert sig.applicable == rev.applicable
        for cat, score in sig.scores.items():
            assert abs(score - rev.scores[cat]) <= atol, f"{detector.name}: batch order changed {cat} score"
    single = detector.detect([examples[0]], [langs[0]])[0]
    for cat, score in single.scores.items():
        assert abs(score - batch[0].scores[cat]) <= atol, f"{detector.name}: batch vs single differ for {cat}"
