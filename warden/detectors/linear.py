"""Fast tier: a linear classifier on hashed word and character n-grams.

One logistic model per category over `HashedNgrams` features; ≥50k texts/s per core.
Evidence: each word of a flagged text is scored on its own, and the words that push the
category's score up the most become text spans.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..content import Content
from ..signals import Evidence, Signal
from ..text.features import HashedNgrams
from .base import Detector, registry

_WORD = re.compile(r"\w[\w'*@$!]*", re.UNICODE)
ARTIFACT = "linear.npz"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


@registry.register
class LinearNgramDetector(Detector):
    name = "linear_ngram"
    version = "1"
    cost = 0.02

    def __init__(self, model_dir: Path, evidence_min_score: float = 0.5, max_spans: int = 3) -> None:
        self.model_dir = Path(model_dir)
        self.evidence_min_score = evidence_min_score
        self.max_spans = max_spans

    def load(self) -> None:
        if self._loaded:
            return
        path = self.model_dir / ARTIFACT
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `warden train` or reinstall the package")
        data = np.load(path, allow_pickle=False)
        meta = json.loads(str(data["meta"]))
        self.categories: list[str] = meta["categories"]
        self.features = HashedNgrams.from_dict(meta["features"])
        self.model_version = meta.get("model_version", "unknown")
        # float16 on disk keeps the artifact small; float32 in memory keeps the product fast.
        self.weights = data["weights"].astype(np.float32)
        self.bias = data["bias"].astype(np.float32)
        self._loaded = True

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.version}/{getattr(self, 'model_version', '?')}"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self.load()
        return _sigmoid(self.features.score(list(texts), self.weights, self.bias))

    def detect(self, items: Sequence[Content], languages: Sequence[str | None] | None = None) -> list[Signal]:
        self.load()
        langs = list(languages) if languages is not None else [item.language for item in items]
        idx = [i for i, item in enumerate(items) if self.applies_to(item, langs[i])]
        signals = [Signal.not_applicable(self.name, self.version, "kind not supported") for _ in items]
        if not idx:
            return signals
        probs = self.predict_proba([items[i].text for i in idx])
        for row, i in enumerate(idx):
            scores = {c: float(probs[row, k]) for k, c in enumerate(self.categories)}
            evidence = self._evidence(items[i].text, probs[row])
            signals[i] = Signal(self.name, self.version, scores=scores, evidence=evidence)
        return signals

    def _evidence(self, text: str, probs: np.ndarray) -> list[Evidence]:
        hot = [k for k in range(len(self.categories)) if probs[k] >= self.evidence_min_score]
        if not hot:
            return []
        words = list(_WORD.finditer(text))[:200]
        if not words:
            return []
        # Each word scored alone: its contribution relative to an empty text.
        word_logits = self.features.score([m.group(0) for m in words], self.weights, self.bias) - self.bias
        out: list[Evidence] = []
        for k in hot:
            contrib = word_logits[:, k]
            # Keep words that matter in their own right: not one-letter tokens, and within a
            # factor of four of the strongest word.
            floor = max(1.0, 0.25 * float(contrib.max()))
            for j in np.argsort(-contrib)[: self.max_spans]:
                m = words[int(j)]
                if contrib[j] < floor:
                    break
                if len(m.group(0)) < 2:
                    continue
                out.append(
                    Evidence(
                        category=self.categories[k],
                        detector=self.name,
                        start=m.start(),
                        end=m.end(),
                        snippet=m.group(0),
                        weight=float(contrib[j]),
                    )
                )
        return out
