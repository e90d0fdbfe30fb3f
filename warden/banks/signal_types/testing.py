"""Conformance kit for bank signal types: what every registered `SignalType` must do, checked with
the type's own examples (`tests/test_banks_signals.py` runs it over `SIGNAL_TYPES`)."""

from __future__ import annotations

import math

from ...settings import BankSettings
from . import SIGNAL_TYPES, canonical_name
from .base import SignalIndex, SignalType

MEDIA = frozenset({"text", "image", "video"})


def check_signal_type(cls: type[SignalType], settings: BankSettings | None = None) -> None:
    """Raise AssertionError naming the first rule `cls` breaks."""
    name = getattr(cls, "name", "")
    assert name and name == name.lower() and SIGNAL_TYPES.get(name) is cls, (
        f"{cls}: not registered as {name!r}"
    )
    assert canonical_name(name) == name and all(canonical_name(a) == name for a in cls.aliases), name
    for attribute in ("description", "exchange_name", "distance_unit"):
        assert getattr(cls, attribute, ""), f"{name}: no {attribute}"
    assert cls.media and cls.media <= MEDIA, f"{name}: media {set(cls.media)} not within {set(MEDIA)}"
    signal_type = cls(settings or BankSettings())
    examples = signal_type.example_values()
    assert examples, f"{name}: no examples (set `examples` or override `example_values`)"
    canonical = []
    for raw in examples:
        value = signal_type.validate(raw)
        assert signal_type.validate(value) == value, f"{name}: validate is not idempotent on {raw[:60]!r}"
        canonical.append(value)
    for bad in cls.invalid_examples:
        try:
            signal_type.validate(bad)
        except ValueError as exc:
            assert str(exc), f"{name}: a refusal must say why"
        else:
            raise AssertionError(f"{name}: accepted the invalid value {bad[:60]!r}")
    _check_index(name, signal_type, canonical)
    if "text" in cls.media:
        fingerprints = signal_type.from_text(cls.example_text)
        assert fingerprints, f"{name}: no fingerprint for its example text"
        assert all(signal_type.validate(f.value) == f.value for f in fingerprints), f"{name}: from_text"
        assert signal_type.from_text("") == [], f"{name}: an empty text has no fingerprint"
    else:
        assert signal_type.from_text(cls.example_text) == [], f"{name}: a media type fingerprinted text"


def _check_index(name: str, signal_type: SignalType, values: list[str]) -> None:
    index: SignalIndex = signal_type.new_index()
    assert len(index) == 0 and index.query([]) == []
    index.add([(7, values[0])])
    index.add([(7, values[0])])  # re-adding an id replaces it
    assert len(index) == 1, f"{name}: re-adding an entry id must replace it"
    [hits] = index.query([values[0]])
    assert [h.entry_id for h in hits] == [7], f"{name}: a value must match itself"
    distance = hits[0].distance
    assert math.isfinite(distance), f"{name}: self-distance {distance}"
    if signal_type.distance_unit != "1 - level-2 score":
        # Scores of learned kernels (TMK's level-2 score) are not bounded by 1; these are.
        assert abs(distance) <= 1e-3, f"{name}: a value is at distance {distance} from itself"
    index.remove([7, 12345])  # unknown ids are ignored
    assert len(index) == 0 and index.query([values[0]]) == [[]], f"{name}: removed entries must not match"
