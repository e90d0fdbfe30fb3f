"""Reading labelled evaluation data (JSONL or CSV) with errors that name file:line.

JSONL, one object per line::

    {"id": "a1", "text": "...", "labels": ["hate"], "language": "en", "known": ["hate", "violence"]}

- `labels`: category ids the item violates; [] means benign. The special label "any" marks
  an item as violating without naming the category (e.g. a data set with one "toxic" flag).
- `known`: optional; the categories whose label is known. Absent means every policy
  category is known, except with "any", where only the categories named in `labels` are
  (the rest are unknown, so per-category metrics exclude the item for them).
- `language` (optional) and `metadata` (optional, ignored) are the only other keys;
  anything else is an error, so a typo such as "knwon" cannot silently change the meaning.

CSV: a header with `id`, `text`, optional `language`, optional `any`, and one column per
category holding 1 (violates), 0 (does not) or an empty cell (unknown). A category without a
column is unknown for every row. With any=1, 0 cells are treated as unknown like in JSONL.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..content import Content
from ..errors import ValidationError

ANY = "any"
MAX_ID_CHARS = 256  # Content.id's limit, so every item read here can be judged
MAX_PROBLEMS = 20  # report many problems at once, but do not flood the terminal
JSONL_KEYS = {"id", "text", "labels", "language", "known", "metadata"}
CSV_FIXED_COLUMNS = ("id", "text", "language", ANY)


class LabelledDataError(ValidationError):
    """A labelled data file that does not validate; `problems` lists 'file:line: message'."""

    def __init__(self, source: str, problems: list[str], truncated: int = 0) -> None:
        self.source = source
        self.problems = problems
        more = f"\n  ... and {truncated} more" if truncated else ""
        super().__init__(
            f"{source}: {len(problems) + truncated} problem(s)\n"
            + "\n".join(f"  - {p}" for p in problems)
            + more
        )


@dataclass
class LabelledItem:
    id: str
    text: str
    language: str | None
    labels: set[str] = field(default_factory=set)
    known: set[str] | None = None  # None: every policy category is known

    @property
    def violating(self) -> bool:
        """Ground truth for the overall task: any label at all, "any" included."""
        return bool(self.labels)

    def is_known(self, category: str) -> bool:
        return self.known is None or category in self.known

    def to_content(self) -> Content:
        return Content(id=self.id, text=self.text, language=self.language)


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []
        self.dropped = 0

    def add(self, line: int, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(f"{self.source}:{line}: {message}")
        else:
            self.dropped += 1

    def raise_if_any(self) -> None:
        if self.items:
            raise LabelledDataError(self.source, self.items, self.dropped)


def _decode_lines(data: bytes, problems: _Problems) -> list[str]:
    """Decode strictly line by line, so invalid UTF-8 is reported with its line number."""
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[0].startswith(b"\xef\xbb\xbf"):
        raw_lines[0] = raw_lines[0][3:]  # a UTF-8 byte-order mark, as spreadsheet exports write
    lines = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            problems.add(
                number, f"invalid UTF-8 at byte {exc.start} of the line ({raw[exc.start : exc.start + 4]!r})"
            )
            lines.append("")
    return lines


def _has_surrogate(text: str) -> bool:
    # JSON "\ud800" escapes decode to lone surrogates that Content refuses; catch them here with a line.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_id(value: Any, line: int, problems: _Problems, seen: dict[str, int]) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        problems.add(line, f"id must be a string, got {type(value).__name__}")
        return None
    ident = str(value)
    if not ident or len(ident) > MAX_ID_CHARS:
        problems.add(line, f"id must have 1 to {MAX_ID_CHARS} characters")
        return None
    if ident in seen:
        problems.add(line, f"duplicate id {ident!r} (first on line {seen[ident]})")
        return None
    seen[ident] = line
    return ident


def _unknown_categories(names: Iterable[str], categories: set[str]) -> list[str]:
    return sorted(n for n in set(names) if n not in categories)


def _policy_list(categories: set[str]) -> str:
    return ", ".join(sorted(categories))


def _parse_jsonl_line(
    text: str, line: int, categories: set[str], problems: _Problems, seen: dict[str, int]
) -> LabelledItem | None:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add(line, f"not valid JSON: {exc.msg} (column {exc.colno})")
        return None
    if not isinstance(obj, dict):
        problems.add(line, f"expected a JSON object, got {type(obj).__name__}")
        return None
    before = len(problems.items) + problems.dropped
    extra = sorted(set(obj) - JSONL_KEYS)
    if extra:
        problems.add(line, f"unknown key(s) {', '.join(extra)}; allowed: {', '.join(sorted(JSONL_KEYS))}")
    ident = _check_id(obj["id"], line, problems, seen) if "id" in obj else None
    if "id" not in obj:
        problems.add(line, "missing 'id'")
    item_text = obj.get("text")
    if "text" not in obj:
        problems.add(line, "missing 'text'")
    elif not isinstance(item_text, str):
        problems.add(line, f"'text' must be a string, got {type(item_text).__name__}")
    elif _has_surrogate(item_text):
        problems.add(line, "'text' contains an unpaired surrogate escape (invalid Unicode)")
    language = obj.get("language")
    if language is not None and not isinstance(language, str):
        problems.add(line, f"'language' must be a string or null, got {type(language).__name__}")
    labels: set[str] = set()
    if "labels" not in obj:
        problems.add(line, "missing 'labels' (use [] for a benign item)")
    elif not isinstance(obj["labels"], list) or not all(isinstance(x, str) for x in obj["labels"]):
        problems.add(line, "'labels' must be a list of category ids")
    else:
        labels = set(obj["labels"])
        bad = _unknown_categories(labels - {ANY}, categories)
        if bad:
            problems.add(
                line,
                f"unknown label(s) {', '.join(bad)}: "
                f"not in the policy ({_policy_list(categories)}) or '{ANY}'",
            )
    known: set[str] | None = None
    if obj.get("known") is not None:
        raw_known = obj["known"]
        if not isinstance(raw_known, list) or not all(isinstance(x, str) for x in raw_known):
            problems.add(line, "'known' must be a list of category ids")
        else:
            known = set(raw_known)
            bad = _unknown_categories(known, categories)
            if bad:
                problems.add(line, f"'known' names categories not in the policy: {', '.join(bad)}")
            missing = sorted(labels - {ANY} - known)
            if missing:
                problems.add(line, f"labels {', '.join(missing)} are not listed in 'known'")
    elif ANY in labels:
        known = labels - {ANY}
    if len(problems.items) + problems.dropped > before:
        return None
    assert ident is not None and isinstance(item_text, str)  # guaranteed by the checks above
    return LabelledItem(
        id=ident,
        text=item_text,
        language=language or None,
        labels=labels,
        known=_normalise_known(known, categories),
    )


def _normalise_known(known: set[str] | None, categories: set[str]) -> set[str] | None:
    # Knowing every category is the common case; None keeps it cheap and easy to test for.
    return None if known is not None and known >= categories else known


def _read_jsonl(lines: list[str], categories: set[str], problems: _Problems) -> list[LabelledItem]:
    items: list[LabelledItem] = []
    seen: dict[str, int] = {}
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue  # blank lines, including the usual trailing newline
        item = _parse_jsonl_line(text, number, categories, problems, seen)
        if item is not None:
            items.append(item)
    return items


def _read_csv(lines: list[str], categories: set[str], problems: _Problems) -> list[LabelledItem]:
    reader = csv.reader(io.StringIO("\n".join(lines), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as exc:
        problems.add(1, f"not valid CSV: {exc}")
        return []
    header = [h.strip() for h in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        problems.add(1, f"duplicate column(s) {', '.join(dupes)}")
    for required in ("id", "text"):
        if required not in header:
            problems.add(1, f"missing column '{required}'")
    unknown = [h for h in header if h not in CSV_FIXED_COLUMNS and h not in categories]
    if unknown:
        problems.add(
            1,
            f"column(s) {', '.join(unknown)} are neither id/text/language/{ANY} nor policy categories "
            f"({_policy_list(categories)})",
        )
    if problems.items:
        return []
    col = {h: i for i, h in enumerate(header)}
    cat_cols = [h for h in header if h in categories]
    items: list[LabelledItem] = []
    seen: dict[str, int] = {}
    last_line = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.add(last_line + 1, f"not valid CSV: {exc}")
            break
        line, last_line = last_line + 1, reader.line_num  # a quoted field may span lines; name the first
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.add(line, f"expected {len(header)} fields as in the header, got {len(row)}")
            continue
        item = _parse_csv_row(row, line, col, cat_cols, categories, problems, seen)
        if item is not None:
            items.append(item)
    return items


def _flag(cell: str, column: str, line: int, problems: _Problems) -> bool | None | str:
    value = cell.strip()
    if value == "":
        return None
    if value in ("0", "1"):
        return value == "1"
    problems.add(line, f"column '{column}' must be 0, 1 or empty, got {cell!r}")
    return "error"


def _parse_csv_row(
    row: list[str],
    line: int,
    col: dict[str, int],
    cat_cols: list[str],
    categories: set[str],
    problems: _Problems,
    seen: dict[str, int],
) -> LabelledItem | None:
    before = len(problems.items) + problems.dropped
    ident = _check_id(row[col["id"]].strip(), line, problems, seen)
    text = row[col["text"]]
    language = (row[col["language"]].strip() or None) if "language" in col else None
    is_any = _flag(row[col[ANY]], ANY, line, problems) if ANY in col else None
    labels: set[str] = set()
    known: set[str] = set()
    for cat in cat_cols:
        value = _flag(row[col[cat]], cat, line, problems)
        if value is True:
            labels.add(cat)
            known.add(cat)
        elif value is False and is_any is not True:
            known.add(cat)
    if is_any is True:
        labels.add(ANY)
    if len(problems.items) + problems.dropped > before or ident is None:
        return None
    return LabelledItem(
        id=ident, text=text, language=language, labels=labels, known=_normalise_known(known, categories)
    )


def read_labelled(
    path: str | Path, category_ids: Sequence[str], *, fmt: str | None = None
) -> list[LabelledItem]:
    """Read and validate a labelled data set; raise LabelledDataError listing every problem.

    The format comes from `fmt` ("jsonl" or "csv") or the file suffix (.csv is CSV, anything
    else JSONL). Labels must be among `category_ids` (the policy's) or "any".
    """
    path = Path(path)
    source = str(path)
    if ANY in category_ids:
        raise ValueError(
            f"a policy category may not be called {ANY!r}: it is the reserved label for unnamed ones"
        )
    if not path.is_file():
        raise LabelledDataError(source, [f"{source}: file not found"])
    fmt = (fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")).lower()
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown format {fmt!r}; use 'jsonl' or 'csv'")
    problems = _Problems(source)
    lines = _decode_lines(path.read_bytes(), problems)
    problems.raise_if_any()  # parsing past undecodable bytes only produces confusing follow-on errors
    categories = set(category_ids)
    items = (
        _read_csv(lines, categories, problems) if fmt == "csv" else _read_jsonl(lines, categories, problems)
    )
    problems.raise_if_any()
    if not items:
        raise LabelledDataError(source, [f"{source}: no items"])
    return items
