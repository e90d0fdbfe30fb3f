"""Language identification with py3langid (langid.py's model, offline, ~97 languages)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

_lock = threading.Lock()
_identifier: Any = None


def _get() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import _load_identifier

            _identifier = _load_identifier(norm_probs=True)
        return _identifier


def detect_language(text: str, min_confidence: float = 0.5) -> str:
    """ISO 639-1 code, or 'und' when the text is too short or the model unsure."""
    letters = sum(ch.isalpha() for ch in text)
    if letters < 3:
        return "und"
    lang, prob = _get().classify(text)
    non_latin = sum(1 for ch in text if ch.isalpha() and ord(ch) > 0x24F)
    if non_latin * 2 >= letters:
        # A non-Latin script is itself strong evidence; accept the model's best guess.
        return str(lang)
    if prob < min_confidence:
        # Short social-media English is often misread; only trust confident non-English calls.
        return "und"
    return str(lang)


def detect_languages(texts: Sequence[str]) -> list[str]:
    return [detect_language(t) for t in texts]
