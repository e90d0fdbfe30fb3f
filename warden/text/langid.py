"""Language identification with py3langid (langid.py's model, offline).

The model knows ~100 languages, many of them rare; on short social-media text the rare ones
win by accident ("lol u r so dumb" -> Somali). Restricting it to widely used languages
(all served by the multilingual encoder) makes short-text calls far more reliable. Callers
who know the language pass `Content.language` and skip detection.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

LANGUAGES = [
    "en",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "sv",
    "da",
    "no",
    "fi",
    "pl",
    "cs",
    "sk",
    "hu",
    "ro",
    "bg",
    "el",
    "ru",
    "uk",
    "tr",
    "ar",
    "he",
    "fa",
    "ur",
    "hi",
    "bn",
    "ta",
    "te",
    "mr",
    "id",
    "ms",
    "vi",
    "th",
    "zh",
    "ja",
    "ko",
    "tl",
    "sw",
    "hr",
    "sr",
    "sl",
    "lt",
    "lv",
    "et",
    "ca",
]

_lock = threading.Lock()
_identifier: Any = None


def _get() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import _load_identifier

            _identifier = _load_identifier(norm_probs=True, langs=LANGUAGES)
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
        return "und"
    return str(lang)


def detect_languages(texts: Sequence[str]) -> list[str]:
    return [detect_language(t) for t in texts]
