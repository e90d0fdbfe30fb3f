"""Validate the Warden contrast suite (train/ and test/ JSONL files); exit status 1 on any problem.

The rules live in `warden.learn.project_data.check_contrast_suite` (the schema every project
file follows, plus the suite's own: id format, one language per file, phenomena consistent with
the labels, no sexual_minors, no text shared between train and test); the test suite runs the
same check.

    .venv/bin/python warden/data/contrast/tools/validate.py
"""

from __future__ import annotations

import sys

from warden.learn.project_data import check_contrast_suite


def main() -> int:
    n_items, problems = check_contrast_suite()
    for problem in problems:
        print(problem)
    print(f"{n_items} items checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
