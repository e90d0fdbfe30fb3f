"""Detector base class and registry.

A detector is batch-first and pure: a list of Content in, a same-length list of Signals out.
Constructors only store configuration; `load()` reads artifacts. Identity (name, version)
lives on the class, and names are checked for uniqueness when registered.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..content import Content
from ..policy.model import Policy
from ..signals import Signal

if TYPE_CHECKING:
    from ..runtime.embedders import Embedder


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


@dataclass(frozen=True)
class BuildContext:
    """What a declared detector may be built from: the models folder, the policy, and embedders to
    share (training passes cached ones; serving leaves it empty and gets the process-wide ones)."""

    models_dir: Path
    policy: Policy
    embedders: Mapping[str, Embedder] = field(default_factory=dict)


class Detector(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    kinds: ClassVar[frozenset[str]] = frozenset({"text", "comment", "profile"})
    # None = every language; otherwise ISO codes it is trained for. "!en" style exclusion is
    # expressed with `excluded_languages`.
    languages: ClassVar[frozenset[str] | None] = None
    excluded_languages: ClassVar[frozenset[str]] = frozenset()
    # Relative cost per item, used to order stages and to report cost per 1,000 items.
    cost: ClassVar[float] = 1.0

    _loaded: bool = False

    def load(self) -> None:
        """Read model files. Idempotent; called by the pipeline before first use."""
        self._loaded = True

    @classmethod
    def build(cls, context: BuildContext) -> Detector:
        """The detector as a pipeline declaration names it (`pipeline.text_tiers`)."""
        raise TypeError(f"detector {cls.name!r} cannot be declared in a pipeline: it has no build()")

    def evidence_spans(self, text: str, category: str) -> list[dict]:
        """Text spans that speak for `category` in `text`, even below this detector's own evidence
        threshold (media evidence needs words to box when another detector carried the score).
        Detectors without span-level evidence return none."""
        return []

    def for_policy(self, policy: Policy) -> Detector:
        """This detector for another policy: itself, unless it reads the policy (few-shot, judge)."""
        return self

    @property
    def loaded(self) -> bool:
        return self._loaded

    def applies_to(self, item: Content, language: str | None) -> bool:
        if item.kind not in self.kinds:
            return False
        lang = language or "und"
        if self.languages is not None and lang not in self.languages:
            return False
        return lang not in self.excluded_languages

    def split_applicable(
        self, items: Sequence[Content], languages: Sequence[str | None] | None
    ) -> tuple[list[Signal], list[int]]:
        """Placeholder not-applicable signals for every item, and the indices this detector serves."""
        langs = list(languages) if languages is not None else [item.language for item in items]
        signals = [
            Signal.not_applicable(self.name, self.version, "language or kind not served") for _ in items
        ]
        return signals, [i for i, item in enumerate(items) if self.applies_to(item, langs[i])]

    @abstractmethod
    def detect(self, items: Sequence[Content], languages: Sequence[str | None] | None = None) -> list[Signal]:
        """Score a batch. Must return exactly one Signal per item, in order."""

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.version}"


class DetectorRegistry:
    """Maps detector names to classes so pipelines can be declared in config."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Detector]] = {}

    def register(self, cls: type[Detector]) -> type[Detector]:
        name = getattr(cls, "name", None)
        if not name or not getattr(cls, "version", None):
            raise TypeError(f"{cls.__qualname__} must define class attributes 'name' and 'version'")
        existing = self._classes.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(
                f"detector name {name!r} is used by both {existing.__qualname__} and {cls.__qualname__}"
            )
        self._classes[name] = cls
        return cls

    def get(self, name: str) -> type[Detector]:
        try:
            return self._classes[name]
        except KeyError:
            raise KeyError(f"unknown detector {name!r}; known: {', '.join(sorted(self._classes))}") from None

    def names(self) -> list[str]:
        return sorted(self._classes)


registry = DetectorRegistry()
