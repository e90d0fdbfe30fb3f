"""Text normalisation that undoes the usual evasions before near-duplicate matching.

Case, width and compatibility forms (NFKC + casefold), accents, zero-width and format
characters, look-alike letters from other scripts, leetspeak digits, spacing and punctuation
("f.r.e.e  m o n e y"), and stretched letters ("freeeee") all collapse to one canonical string.
"""

from __future__ import annotations

import re
import unicodedata

# Look-alike characters mapped to the Latin letter they imitate (Cyrillic, Greek, IPA, symbols).
_CONFUSABLES = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g", "ɑ": "a", "ɩ": "i", "ʏ": "y",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ℓ": "l",
}  # fmt: skip
# Digits used as letters. Applied on both sides, so numbers still compare equal.
_LEET_DIGITS = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b"}
_TABLE = str.maketrans({**_CONFUSABLES, **_LEET_DIGITS})
# Symbols read as letters only inside a word ("cl!ck", "c@rd", "$ale"); elsewhere they are punctuation.
_LEET_SYMBOLS = {"@": "a", "$": "s", "!": "i", "|": "l"}
_SYMBOL_IN_WORD = re.compile(r"(?<=\w)[@$!|](?=\w)|[@$](?=[^\W\d])")


def normalize_text(text: str) -> str:
    """Canonical form for near-duplicate matching: letters and digits only, evasions undone."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _SYMBOL_IN_WORD.sub(lambda m: _LEET_SYMBOLS[m.group()], text).translate(_TABLE)
    # Strip accents: decompose and drop combining marks (keeps Hangul/CJK/Arabic letters intact).
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = unicodedata.normalize("NFC", text)
    kept = [c for c in text if c.isalnum()]  # spacing, punctuation, zero-width and emoji go
    out: list[str] = []
    for c in kept:
        if len(out) >= 2 and out[-1] == c and out[-2] == c:
            continue  # "freeeee" -> "free": runs longer than two collapse
        out.append(c)
    return "".join(out)


def shingles(normalized: str, size: int = 5) -> set[str]:
    if len(normalized) <= size:
        return {normalized} if normalized else set()
    return {normalized[i : i + size] for i in range(len(normalized) - size + 1)}
