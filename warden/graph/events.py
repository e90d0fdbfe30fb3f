"""Interaction events: the one input format of the graph, validated row by row.

An event says that an account (`actor`) did something (`kind`) to an account or a piece of content
(`target`) at a time. Each row is checked on its own so one bad row never costs the rest of a batch;
the caller gets the row's index, id and a message it can act on.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from ..errors import ValidationError

# Codes are stored in an int8 column; never renumber (saved graphs keep them).
KIND_CODES: dict[str, int] = {
    "follow": 0,
    "like": 1,
    "rate": 2,
    "share": 3,
    "reply": 4,
    "report": 5,
    "post": 6,  # the actor authored the target content: links content back to its author
}
KIND_NAMES: tuple[str, ...] = tuple(sorted(KIND_CODES, key=KIND_CODES.__getitem__))
# Kinds that express an opinion about the target; their sign drives fairness/goodness (REV2).
OPINION_KINDS: frozenset[str] = frozenset({"like", "rate", "report"})
# Kinds that count as "acting on a target" for lockstep (coordination) detection.
ACTION_KINDS: frozenset[str] = frozenset({"like", "rate", "share", "reply", "report", "follow"})
# When a row has no weight: like/share/follow are +1, a report is a -1 opinion, rate must say.
DEFAULT_WEIGHT: dict[str, float | None] = {
    "follow": 1.0,
    "like": 1.0,
    "rate": None,
    "share": 1.0,
    "reply": 1.0,
    "report": -1.0,
    "post": 1.0,
}
TargetKind = Literal["account", "content"]
TARGET_KINDS: tuple[str, ...] = ("account", "content")
MAX_ID_CHARS = 256
FIELDS = ("event_id", "actor", "target", "kind", "weight", "timestamp", "target_kind")


@dataclass(frozen=True, slots=True)
class Event:
    actor: str
    target: str
    kind: str
    weight: float
    timestamp: float  # Unix seconds
    target_kind: TargetKind = "account"
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected row: where it was, its id when it had one, and why."""

    index: int
    message: str
    event_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "error": self.message}


def _id(value: Any, field: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{field} is missing")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{field} must be a string or an integer, got {type(value).__name__}")
    text = str(value).strip()
    if len(text) > MAX_ID_CHARS:
        raise ValueError(f"{field} has {len(text)} characters, limit is {MAX_ID_CHARS}")
    if "\x00" in text:
        raise ValueError(f"{field} contains a NUL character")
    return text


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a number, got a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{field} must be finite, got {value!r}")
    return number


def _timestamp(value: Any) -> float:
    if value is None or value == "":
        raise ValueError("timestamp is missing")
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"timestamp {value!r} is neither Unix seconds nor ISO-8601") from None
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp {value!r} has no time zone (add Z or +00:00)")
        return parsed.timestamp()
    return _number(value, "timestamp")


def parse_event(row: Mapping[str, Any]) -> Event:
    """Validate one row (a JSON object or a CSV record); raises ValueError with a readable message."""
    unknown = set(row) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}; allowed: {', '.join(FIELDS)}")
    event_id = row.get("event_id")
    eid = None if event_id is None or event_id == "" else _id(event_id, "event_id")
    kind = row.get("kind")
    if kind not in KIND_CODES:
        raise ValueError(f"unknown interaction type {kind!r}; known: {', '.join(KIND_NAMES)}")
    raw_weight = row.get("weight")
    if raw_weight is None or raw_weight == "":
        default = DEFAULT_WEIGHT[kind]
        if default is None:
            raise ValueError(f"a {kind!r} event needs a numeric weight (the rating)")
        weight = default
    else:
        weight = _number(raw_weight, "weight")
    if kind == "report":
        weight = -abs(weight)  # a report is always a negative opinion; its size is the strength
    target_kind: TargetKind = row.get("target_kind") or "account"
    if target_kind not in TARGET_KINDS:
        raise ValueError(f"target_kind must be 'account' or 'content', got {target_kind!r}")
    if kind == "post" and target_kind != "content":
        raise ValueError("a 'post' event's target must be content (target_kind='content')")
    return Event(
        actor=_id(row.get("actor"), "actor"),
        target=_id(row.get("target"), "target"),
        kind=kind,
        weight=weight,
        timestamp=_timestamp(row.get("timestamp")),
        target_kind=target_kind,
        event_id=eid,
    )


def _open_text(path: Path) -> io.TextIOBase:
    if not path.exists():
        raise ValidationError(f"{path}: file not found")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")  # type: ignore[return-value]
    return path.open("r", encoding="utf-8", newline="")


def _is_snap_header(first: str) -> bool:
    return first.strip().lower().replace(" ", "") in (
        "source,target,weight,timestamp",
        "source,target,rating,time",
    )


def detect_format(path: Path) -> str:
    """'snap' for SNAP signed-network CSVs (SOURCE,TARGET,RATING,TIME), 'csv' or 'jsonl' for events."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    with _open_text(path) as fh:
        first = fh.readline()
    cells = first.strip().split(",")
    if _is_snap_header(first) or (len(cells) == 4 and all(_is_float(c) for c in cells)):
        return "snap"
    return "csv"


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def iter_event_rows(path: Path, fmt: str = "auto") -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, row dict) per record, or (line, error message) when the line cannot be read.

    Formats: 'jsonl' (one event object per line), 'csv' (header naming the event fields) and
    'snap' (SNAP signed networks such as Bitcoin OTC/Alpha: SOURCE,TARGET,RATING,TIME, optional
    header; every row becomes a 'rate' between accounts with event id '<file>:<line>').
    """
    path = Path(path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in ("jsonl", "csv", "snap"):
        raise ValidationError(f"unknown event file format {fmt!r} (jsonl, csv, snap or auto)")
    with _open_text(path) as fh:
        if fmt == "jsonl":
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield n, f"invalid JSON: {exc.msg}"
                    continue
                yield (n, obj) if isinstance(obj, dict) else (n, "each line must be a JSON object")
        elif fmt == "csv":
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"actor", "target", "kind"} <= set(reader.fieldnames):
                raise ValidationError(f"{path}: CSV needs a header with actor, target, kind (and timestamp)")
            for n, record in enumerate(reader, start=2):
                yield n, {k: v for k, v in record.items() if k is not None and v not in (None, "")}
        else:
            stem = path.name
            for n, line in enumerate(fh, start=1):
                if not line.strip() or (n == 1 and _is_snap_header(line)):
                    continue
                cells = line.strip().split(",")
                if len(cells) != 4:
                    yield n, f"expected 4 columns SOURCE,TARGET,RATING,TIME, got {len(cells)}"
                    continue
                yield (
                    n,
                    {
                        "event_id": f"{stem}:{n}",
                        "actor": cells[0],
                        "target": cells[1],
                        "kind": "rate",
                        "weight": cells[2],
                        "timestamp": cells[3],
                    },
                )
