"""Validate the Warden contrast suite (train/ and test/ JSONL files).

Checks: valid JSON per line, required keys, unique ids per file (and id format), language matches
the file name, categories valid, `sexual_minors` never used, labels listed in `known`, phenomenon
names valid and consistent with the labels, and no text shared between train and test
(normalised: lowercase, whitespace collapsed). Exit status 1 on any problem.

    .venv/bin/python warden/data/contrast/tools/validate.py
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = {
    "hate",
    "harassment",
    "sexual",
    "sexual_minors",
    "violence",
    "graphic_violence",
    "self_harm",
    "extremism",
    "spam_scam",
    "illicit_goods",
    "profanity",
}
NON_VIOLATING = {
    "negation",
    "counter_speech",
    "news_reporting",
    "figurative_violence",
    "profanity_untargeted",
    "reclaimed_terms",
    "identity_neutral",
    "harm_question",
    "criticism",
}
VIOLATING = {
    "hate_direct",
    "hate_slur_targeted",
    "threat_direct",
    "harassment_targeted",
    "harm_request",
    "incitement",
}
LANGS = {"en", "ar", "nl", "fr", "de", "hi", "it", "zh", "pl", "pt", "es", "id"}
KEYS = {"id", "text", "language", "violates", "known", "phenomenon"}


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"\s+", " ", text).strip()


def main() -> int:
    problems: list[str] = []
    texts: dict[str, dict[str, str]] = {"train": {}, "test": {}}
    n_items = 0
    for part in ("train", "test"):
        for path in sorted((ROOT / part).glob("*.jsonl")):
            lang = path.stem
            if lang not in LANGS:
                problems.append(f"{path}: unexpected language file name")
            ids: set[str] = set()
            seen_in_file: set[str] = set()
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                where = f"{path.relative_to(ROOT)}:{n}"
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    problems.append(f"{where}: invalid JSON ({exc})")
                    continue
                n_items += 1
                if set(obj) != KEYS:
                    problems.append(f"{where}: keys {sorted(obj)} != {sorted(KEYS)}")
                    continue
                ident = obj["id"]
                if not re.fullmatch(rf"{lang}-{part}-\d{{4}}", ident):
                    problems.append(f"{where}: bad id {ident!r}")
                if ident in ids:
                    problems.append(f"{where}: duplicate id {ident}")
                ids.add(ident)
                if obj["language"] != lang:
                    problems.append(f"{where}: language {obj['language']!r} in {lang}.jsonl")
                text = obj["text"]
                if not isinstance(text, str) or not text.strip():
                    problems.append(f"{where}: empty text")
                    continue
                key = norm(text)
                if key in seen_in_file:
                    problems.append(f"{where}: duplicate text within file")
                seen_in_file.add(key)
                texts[part][key] = where
                viol = obj["violates"]
                known = obj["known"]
                if not isinstance(viol, list) or not set(viol) <= CATEGORIES:
                    problems.append(f"{where}: invalid violates {viol!r}")
                    viol = []
                if known != "all" and (not isinstance(known, list) or not set(known) <= CATEGORIES):
                    problems.append(f"{where}: invalid known {known!r}")
                    known = []
                if "sexual_minors" in viol or (isinstance(known, list) and "sexual_minors" in known):
                    problems.append(f"{where}: sexual_minors must never be used")
                if known != "all" and not set(viol) <= set(known):
                    problems.append(f"{where}: violates not contained in known")
                ph = obj["phenomenon"]
                if ph in NON_VIOLATING:
                    if viol:
                        problems.append(f"{where}: non-violating phenomenon {ph} with violates {viol}")
                    if ph == "profanity_untargeted" and (known == "all" or "profanity" in known):
                        problems.append(f"{where}: profanity_untargeted must not claim to know 'profanity'")
                elif ph in VIOLATING:
                    if not viol:
                        problems.append(f"{where}: violating phenomenon {ph} with no category")
                else:
                    problems.append(f"{where}: unknown phenomenon {ph!r}")
    for key in texts["train"].keys() & texts["test"].keys():
        problems.append(f"text in both parts: {texts['train'][key]} and {texts['test'][key]}")
    for p in problems:
        print(p)
    print(f"{n_items} items checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
