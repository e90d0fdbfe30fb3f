"""Count the Warden contrast suite per language x phenomenon x part and print Markdown tables.

.venv/bin/python warden/data/contrast/tools/counts.py
"""

from __future__ import annotations

from collections import Counter

from warden.learn.project_data import (
    CONTRAST_LANGUAGES,
    CONTRAST_NON_VIOLATING,
    CONTRAST_VIOLATING,
    contrast_files,
    jsonl_objects,
)


def main() -> None:
    phenomena = CONTRAST_NON_VIOLATING + CONTRAST_VIOLATING
    for part in ("test", "train"):
        counts: Counter[tuple[str, str]] = Counter()
        for path in contrast_files(part):
            for _, obj in jsonl_objects(path):
                counts[(obj["language"], obj["phenomenon"])] += 1
        langs = {lang for lang, _ in counts}
        cols = [lang for lang in CONTRAST_LANGUAGES if lang in langs]
        cols += sorted(langs - set(CONTRAST_LANGUAGES))
        print(f"### {part}\n")
        print("| phenomenon | " + " | ".join(cols) + " | total |")
        print("|---|" + "---:|" * (len(cols) + 1))
        for ph in phenomena:
            row = [counts[(lang, ph)] for lang in cols]
            print(f"| {ph} | " + " | ".join(str(n) for n in row) + f" | {sum(row)} |")
        totals = [sum(counts[(lang, ph)] for ph in phenomena) for lang in cols]
        print("| **total** | " + " | ".join(str(n) for n in totals) + f" | {sum(totals)} |\n")


if __name__ == "__main__":
    main()
