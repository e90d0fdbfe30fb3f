"""Count the Warden contrast suite per language x phenomenon x part and print Markdown tables.

.venv/bin/python warden/data/contrast/tools/counts.py
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHENOMENA = [
    "negation",
    "counter_speech",
    "news_reporting",
    "figurative_violence",
    "profanity_untargeted",
    "reclaimed_terms",
    "identity_neutral",
    "harm_question",
    "criticism",
    "hate_direct",
    "hate_slur_targeted",
    "threat_direct",
    "harassment_targeted",
    "harm_request",
    "incitement",
]
LANG_ORDER = ["en", "es", "de", "fr", "pt", "it", "nl", "pl", "zh", "ar", "hi", "id"]


def main() -> None:
    for part in ("test", "train"):
        counts: Counter[tuple[str, str]] = Counter()
        langs = set()
        for path in (ROOT / part).glob("*.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                obj = json.loads(line)
                counts[(obj["language"], obj["phenomenon"])] += 1
                langs.add(obj["language"])
        cols = [lang for lang in LANG_ORDER if lang in langs] + sorted(langs - set(LANG_ORDER))
        print(f"### {part}\n")
        print("| phenomenon | " + " | ".join(cols) + " | total |")
        print("|---|" + "---:|" * (len(cols) + 1))
        for ph in PHENOMENA:
            row = [counts[(lang, ph)] for lang in cols]
            print(f"| {ph} | " + " | ".join(str(n) for n in row) + f" | {sum(row)} |")
        totals = [sum(counts[(lang, ph)] for ph in PHENOMENA) for lang in cols]
        print("| **total** | " + " | ".join(str(n) for n in totals) + f" | {sum(totals)} |\n")


if __name__ == "__main__":
    main()
