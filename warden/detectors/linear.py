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
from ..text.windows import max_per_owner, windows
from .base import BuildContext, Detector, registry, sigmoid

_WORD = re.compile(r"\w[\w'*@$!]*", re.UNICODE)
ARTIFACT = "linear.npz"


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

    def predict_proba(self, texts: Sequence[str], chunk: int = 256) -> np.ndarray:
        self.load()
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.categories)), dtype=np.float32)
        window_texts, owners = windows(texts)
        return sigmoid(max_per_owner(self.predict_logits(window_texts, chunk), owners, len(texts)))

    def detect(self, items: Sequence[Content], languages: Sequence[str | None] | None = None) -> list[Signal]:
        self.load()
        signals, idx = self.split_applicable(items, languages)
        if not idx:
            return signals
        probs = self.predict_proba([items[i].text for i in idx])
        evidence = self._evidence_batch([items[i].text for i in idx], probs)
        for row, i in enumerate(idx):
            scores = {c: float(probs[row, k]) for k, c in enumerate(self.categories)}
            signals[i] = Signal(self.name, self.version, scores=scores, evidence=evidence[row])
        return signals

    @classmethod
    def build(cls, context: BuildContext) -> LinearNgramDetector:
        return cls(context.models_dir)

    def evidence_spans(self, text: str, category: str) -> list[dict]:
        self.load()
        if category not in self.categories:
            return []
        words = list(_WORD.finditer(text))[:200]
        if not words:
            return []
        # Only `category` is hot, whatever its score: the caller already knows it matters.
        hot = np.full(len(self.categories), -1.0, dtype=np.float32)
        hot[self.categories.index(category)] = max(self.evidence_min_score, 1.0)
        logits = self.predict_logits([m.group(0) for m in words]) - self.bias
        return [ev.to_dict() for ev in self._evidence(words, hot, logits) if ev.start is not None]

    def _evidence_batch(self, texts: list[str], probs: np.ndarray) -> list[list[Evidence]]:
        """Word-level evidence for every text with a hot category, scoring all words in one pass."""
        out: list[list[Evidence]] = [[] for _ in texts]
        hot_rows = np.flatnonzero((probs >= self.evidence_min_score).any(axis=1))
        words = {int(r): list(_WORD.finditer(texts[r]))[:200] for r in hot_rows}
        flat = [m.group(0) for r in words for m in words[r]]
        if not flat:
            return out
        # Each word scored alone: its contribution relative to an empty text.
        logits = self.predict_logits(flat) - self.bias
        start = 0
        for r, ws in words.items():
            out[r] = self._evidence(ws, probs[r], logits[start : start + len(ws)])
            start += len(ws)
        return out

    def predict_logits(self, texts: list[str], chunk: int = 256) -> np.ndarray:
        parts = [
            self.features.score(texts[i : i + chunk], self.weights, self.bias)
            for i in range(0, len(texts), chunk)
        ]
        return np.vstack(parts) if parts else np.zeros((0, len(self.categories)), dtype=np.float32)

    def _evidence(
        self, words: list[re.Match[str]], probs: np.ndarray, word_logits: np.ndarray
    ) -> list[Evidence]:
        hot = [k for k in range(len(self.categories)) if probs[k] >= self.evidence_min_score]
        if not hot or not words:
            return []
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
