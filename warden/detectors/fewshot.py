"""Policy few-shot scoring: similarity to each category's own policy examples.

Every category of the active policy gets a score the moment it is written, before any
labelled data exists. Per category, an item is compared with the category's in-scope
examples (mean of the two most similar) and with a benign pool (all out-of-scope examples
plus everyday background sentences). A two-feature logistic model per category, fitted
leave-one-out on the policy's own examples, turns the two similarities into a score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from sklearn.linear_model import LogisticRegression

from ..content import Content
from ..policy.model import Policy
from ..runtime.embedders import Embedder, get_embedder
from ..signals import Evidence, Signal
from .base import BuildContext, Detector, registry

# Everyday sentences that violate nothing: they anchor "benign" when a policy has few
# out-of-scope examples.
BACKGROUND = (
    "Good morning everyone, have a great day!",
    "What time does the store open tomorrow?",
    "I just finished reading a really interesting book about history.",
    "The weather is lovely today, let's go for a walk in the park.",
    "Can someone recommend a good laptop for programming?",
    "Happy birthday! I hope you have a wonderful year ahead.",
    "The match last night was so exciting, what a goal.",
    "I made pancakes for breakfast and they turned out great.",
    "Does anyone know how to fix a leaking kitchen tap?",
    "Thanks for sharing, this is really helpful information.",
    "Our team meeting has been moved to Thursday afternoon.",
    "The concert was amazing, the band played all their hits.",
    "I'm looking for a good recipe for vegetable soup.",
    "Traffic was terrible this morning on the way to work.",
    "Congratulations on your graduation, you worked so hard for it.",
    "My cat keeps sleeping on my keyboard while I work.",
    "The new update to the app fixed the login problem.",
    "We are planning a family trip to the mountains this summer.",
    "This song always reminds me of my childhood.",
    "Please remember to bring your own water bottle to the event.",
    "lol that's hilarious, you made my day",
    "I disagree with the referee's decision but it's just a game.",
    "The city council will vote on the new park next week.",
    "Just got my first paycheck from the new job!",
)


def _top_mean(sim: np.ndarray, k: int) -> np.ndarray:
    k = min(k, sim.shape[1])
    part = np.partition(sim, -k, axis=1)[:, -k:]
    return np.asarray(part.mean(axis=1))


class PolicyFewShotDetector(Detector):
    embedder_name: ClassVar[str]
    top_k: ClassVar[int] = 2

    def __init__(self, policy: Policy, embedder: Embedder | None = None, max_spans: int = 1) -> None:
        self.policy = policy
        self._embedder = embedder
        self.max_spans = max_spans

    @classmethod
    def build(cls, context: BuildContext) -> PolicyFewShotDetector:
        return cls(context.policy, embedder=context.embedders.get(cls.embedder_name))

    def for_policy(self, policy: Policy) -> PolicyFewShotDetector:
        # Prototypes come from the policy's examples: a new policy needs new ones (same embedder).
        return type(self)(policy, self._embedder, self.max_spans)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.embedder_name)
        return self._embedder

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.version}/{self.policy.full_version}"

    def load(self) -> None:
        if self._loaded:
            return
        cats = self.policy.categories
        self.categories = [c.id for c in cats]
        benign_texts = [t for c in cats for t in c.out_of_scope] + list(BACKGROUND)
        pos_texts = [t for c in cats for t in c.in_scope]
        self._pos_texts = pos_texts
        owner = np.array([k for k, c in enumerate(cats) for _ in c.in_scope])
        vectors = self.embedder.embed(pos_texts + benign_texts)
        self._pos = vectors[: len(pos_texts)]
        self._benign = vectors[len(pos_texts) :]
        self._owner = owner
        self._models: list[tuple[np.ndarray, float]] = []
        # Leave-one-out similarities of every example to each category's prototypes.
        sim_pos = self._pos @ self._pos.T
        np.fill_diagonal(sim_pos, -1.0)
        sim_benign_of_pos = self._pos @ self._benign.T
        sim_bb = self._benign @ self._benign.T
        np.fill_diagonal(sim_bb, -1.0)
        sim_benign_pos = self._benign @ self._pos.T
        for k in range(len(cats)):
            mine = owner == k
            f_pos = np.column_stack([_top_mean(sim_pos[:, mine], self.top_k), sim_benign_of_pos.max(axis=1)])
            f_ben = np.column_stack([_top_mean(sim_benign_pos[:, mine], self.top_k), sim_bb.max(axis=1)])
            x = np.vstack([f_pos, f_ben])
            y = np.concatenate([mine.astype(int), np.zeros(len(f_ben), dtype=int)])
            # Other categories' examples count as half a negative: related harms overlap.
            w = np.concatenate([np.where(mine, 1.0, 0.5), np.ones(len(f_ben))])
            model = LogisticRegression(C=10.0).fit(x, y, sample_weight=w)
            self._models.append((model.coef_[0].astype(np.float32), float(model.intercept_[0])))
        self._loaded = True

    def detect(self, items: Sequence[Content], languages: Sequence[str | None] | None = None) -> list[Signal]:
        self.load()
        signals, idx = self.split_applicable(items, languages)
        if not idx:
            return signals
        vectors = self.embedder.embed([items[i].text for i in idx])
        sim_pos = vectors @ self._pos.T
        benign_max = (vectors @ self._benign.T).max(axis=1)
        scores = np.zeros((len(idx), len(self.categories)), dtype=np.float32)
        nearest: list[np.ndarray] = []
        for k in range(len(self.categories)):
            mine = self._owner == k
            f = np.column_stack([_top_mean(sim_pos[:, mine], self.top_k), benign_max])
            coef, intercept = self._models[k]
            scores[:, k] = 1.0 / (1.0 + np.exp(-(f @ coef + intercept)))
            nearest.append(np.flatnonzero(mine)[np.argmax(sim_pos[:, mine], axis=1)])
        for row, i in enumerate(idx):
            evidence = []
            for k in np.argsort(-scores[row])[: self.max_spans]:
                if scores[row, k] < 0.5:
                    break
                # The closest policy example is the evidence: it names the clause that matched.
                example = self._pos_texts[int(nearest[k][row])]
                evidence.append(
                    Evidence(
                        category=self.categories[k],
                        detector=self.name,
                        kind="policy_example",
                        weight=float(scores[row, k]),
                        detail={
                            "example": example,
                            "similarity": round(float(sim_pos[row, int(nearest[k][row])]), 4),
                        },
                    )
                )
            signals[i] = Signal(
                self.name,
                self.version,
                scores={c: float(scores[row, k]) for k, c in enumerate(self.categories)},
                evidence=evidence,
            )
        return signals


@registry.register
class MiniLMFewShotDetector(PolicyFewShotDetector):
    name = "fewshot_minilm"
    version = "1"
    cost = 0.2  # shares the embedding with encoder_minilm
    languages = frozenset({"en", "und"})
    embedder_name = "minilm"


@registry.register
class E5FewShotDetector(PolicyFewShotDetector):
    name = "fewshot_e5"
    version = "1"
    cost = 0.5
    excluded_languages = frozenset({"en", "und"})
    embedder_name = "e5"
