"""Signal types by name. To add one: write a `SignalType` subclass in its own module and list it here."""

from __future__ import annotations

from ...settings import BankSettings, Limits
from .base import Fingerprint, IndexHit, SignalIndex, SignalType
from .domain import DomainSignal
from .exact import Md5Signal, Sha256Signal
from .image_embedding import ImageEmbeddingSignal
from .pdq import PdqSignal
from .text_embedding import TextEmbeddingSignal
from .text_near_dup import TextNearDupSignal
from .tmk import TmkSignal
from .vpdq import VpdqSignal

SIGNAL_TYPES: dict[str, type[SignalType]] = {
    cls.name: cls
    for cls in (
        Md5Signal,
        Sha256Signal,
        PdqSignal,
        VpdqSignal,
        TmkSignal,
        TextNearDupSignal,
        TextEmbeddingSignal,
        ImageEmbeddingSignal,
        DomainSignal,
    )
}
_ALIASES = {alias: cls.name for cls in SIGNAL_TYPES.values() for alias in cls.aliases}


def canonical_name(name: str) -> str:
    """Our name for a signal type, accepting ThreatExchange / HMA names ('video_md5', 'raw_text')."""
    key = name.strip().lower()
    if key in SIGNAL_TYPES:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"unknown signal type {name!r}; known: {', '.join(sorted(SIGNAL_TYPES))}")


def build_signal_types(settings: BankSettings, limits: Limits | None = None) -> dict[str, SignalType]:
    return {name: cls(settings, limits) for name, cls in SIGNAL_TYPES.items()}


__all__ = [
    "SIGNAL_TYPES",
    "Fingerprint",
    "IndexHit",
    "SignalIndex",
    "SignalType",
    "build_signal_types",
    "canonical_name",
]
