"""Import and export of bank entries in the formats other hash-sharing systems use.

- `pdq`: one PDQ hash per line, optionally followed by its quality and anything else
  (`HEX,QUALITY,filename` is what Meta's `pdq-photo-hasher` prints).
- `te`: python-threatexchange's local file format, `SIGNAL_TYPE VALUE` per line
  (type names as ThreatExchange spells them: pdq, vpdq, video_md5, video_tmk_pdqf, raw_text).
- `csv`: a Hasher-Matcher-Actioner style CSV with a header; `signal_type` and `signal_value`
  columns (or `hash` for values) and optional `quality`, `note`, `source`, `enabled`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .model import BankEntry

ExchangeFormat = Literal["pdq", "te", "csv"]
FORMATS: tuple[str, ...] = ("pdq", "te", "csv")
CSV_COLUMNS = ("signal_type", "signal_value", "quality", "note", "source", "enabled", "bank", "entry_id")


@dataclass(frozen=True)
class RawEntry:
    """One parsed line, not yet validated. `line` is 1-based for error messages."""

    line: int
    signal_type: str
    value: str
    quality: int | None = None
    note: str = ""
    source: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _quality(text: str, line: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"quality {text.strip()!r} is not an integer") from None
    if not 0 <= value <= 100:
        raise ValueError(f"quality {value} is outside 0..100")
    return value


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("", "1", "true", "yes", "y", "enabled"):
        return True
    if value in ("0", "false", "no", "n", "disabled"):
        return False
    raise ValueError(f"enabled {text!r} is not true/false")


def parse(text: str, fmt: str, source: str = "") -> tuple[list[RawEntry], list[LineError]]:
    """Parse an exchange file. Bad lines are reported with their number; good ones are kept."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    entries: list[RawEntry] = []
    errors: list[LineError] = []
    # Old Mac line ends (a bare CR) are line ends, not characters inside a field.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        try:
            fields = [f.strip().lower() for f in reader.fieldnames or []]
        except csv.Error as exc:
            return [], [LineError(1, f"unreadable CSV header: {exc}")]
        reader.fieldnames = fields
        value_col = "signal_value" if "signal_value" in fields else "hash" if "hash" in fields else None
        if "signal_type" not in fields or value_col is None:
            return [], [LineError(1, "CSV header needs columns signal_type and signal_value (or hash)")]
        rows = iter(reader)
        n = 1
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a field over the csv module's size limit
                errors.append(LineError(n + 1, f"unreadable CSV: {exc}"))
                break
            n += 1
            try:
                quality = row.get("quality") or ""
                entries.append(
                    RawEntry(
                        line=n,
                        signal_type=(row.get("signal_type") or "").strip(),
                        value=(row.get(value_col) or "").strip(),
                        quality=_quality(quality, n) if quality.strip() else None,
                        note=(row.get("note") or "").strip(),
                        source=(row.get("source") or "").strip() or source,
                        enabled=_bool(row.get("enabled") or ""),
                    )
                )
            except ValueError as exc:
                errors.append(LineError(n, str(exc)))
        return entries, errors
    for n, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if fmt == "pdq":
                parts = [p for p in line.replace(",", " ").split() if p]
                if not parts:
                    raise ValueError("expected 'HASH[,QUALITY]'")
                quality = _quality(parts[1], n) if len(parts) > 1 else None
                entries.append(RawEntry(n, "pdq", parts[0], quality=quality, source=source))
            else:
                signal_type, _, value = line.partition(" ")
                if not value.strip():
                    raise ValueError("expected 'SIGNAL_TYPE VALUE'")
                entries.append(RawEntry(n, signal_type, value.strip(), source=source))
        except ValueError as exc:
            errors.append(LineError(n, str(exc)))
    return entries, errors


def export(entries: Iterable[BankEntry], fmt: str, exchange_names: dict[str, str]) -> Iterable[str]:
    """Yield the export file in chunks of text (entries are streamed, not held in memory)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        yield buffer.getvalue()
    for entry in entries:
        if fmt == "pdq":
            if entry.signal_type == "pdq":
                yield f"{entry.value},{'' if entry.quality is None else entry.quality}\n"
        elif fmt == "te":
            if "\n" not in entry.value:
                yield f"{exchange_names.get(entry.signal_type, entry.signal_type)} {entry.value}\n"
        else:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(
                [
                    exchange_names.get(entry.signal_type, entry.signal_type),
                    entry.value,
                    "" if entry.quality is None else entry.quality,
                    entry.note,
                    entry.source,
                    "true" if entry.enabled else "false",
                    entry.bank,
                    entry.id,
                ]
            )
            yield buffer.getvalue()
