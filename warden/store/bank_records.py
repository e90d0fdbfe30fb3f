"""Plain records for banks and entries, shared by the store, the matcher, the API and the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Bank(BaseModel):
    """A bank as stored; also the API's response shape."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    category: str
    action: str
    description: str
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    entries: int = Field(default=0, description="Active (enabled, not deleted) entries, where counted.")


class BankEntry(BaseModel):
    """An entry as stored; also the API's response shape."""

    model_config = ConfigDict(frozen=True)

    id: int
    bank_id: int
    bank: str
    signal_type: str
    value: str
    quality: int | None
    source: str
    note: str
    added_by: str
    added_at: datetime
    enabled: bool
    deleted: bool
    updated_at: datetime

    @property
    def active(self) -> bool:
        return self.enabled and not self.deleted


@dataclass(frozen=True)
class NewEntry:
    """An entry to add, already validated: canonical signal type name and value."""

    signal_type: str
    value: str
    quality: int | None = None
    source: str = ""
    note: str = ""
    enabled: bool = True


@dataclass
class AddResult:
    added: list[BankEntry] = field(default_factory=list)
    # Entries already in the bank (or repeated in the request): nothing is lost, nothing doubled.
    duplicates: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class BankMatch:
    """An item matched a bank entry: the bank's category and action apply."""

    bank: str
    bank_id: int
    category: str
    action: str
    entry_id: int
    signal_type: str
    distance: float
    distance_unit: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
