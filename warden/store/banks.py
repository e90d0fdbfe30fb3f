"""Bank storage: banks and their entries, with every change in the audit log."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ConflictError, NotFoundError
from . import audit_chain
from .bank_records import AddResult, Bank, BankEntry, NewEntry
from .tables import BankEntryRow, BankRow

_INSERT_CHUNK = 5_000


def _now() -> datetime:
    return datetime.now(UTC)


def value_key(signal_type: str, value: str) -> str:
    return hashlib.sha256(f"{signal_type}\x00{value}".encode()).hexdigest()


def _bank(row: BankRow, entries: int = 0) -> Bank:
    return Bank(
        id=row.id,
        name=row.name,
        category=row.category,
        action=row.action,
        description=row.description,
        enabled=row.enabled,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        entries=entries,
    )


def _entry(row: BankEntryRow, bank_name: str) -> BankEntry:
    # Rows are typed by the schema already; skipping validation matters when loading millions.
    return BankEntry.model_construct(
        id=row.id,
        bank_id=row.bank_id,
        bank=bank_name,
        signal_type=row.signal_type,
        value=row.value,
        quality=row.quality,
        source=row.source,
        note=row.note,
        added_by=row.added_by,
        added_at=row.added_at,
        enabled=row.enabled,
        deleted=row.deleted,
        updated_at=row.updated_at,
    )


def _audit(session: Session, actor: str, action: str, object_id: str, detail: dict[str, Any]) -> None:
    audit_chain.record(session, actor, action, "bank", object_id, detail, _now())


class BankRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # -- banks -----------------------------------------------------------------------------------
    def create_bank(self, name: str, category: str, action: str, description: str, actor: str) -> Bank:
        try:
            return self._create_bank(name, category, action, description, actor)
        except IntegrityError:  # a concurrent create of the same name won between check and insert
            raise ConflictError(f"bank {name!r} already exists") from None

    def _create_bank(self, name: str, category: str, action: str, description: str, actor: str) -> Bank:
        now = _now()
        with self._sessions.begin() as session:
            if session.scalar(select(BankRow.id).where(BankRow.name == name)) is not None:
                raise ConflictError(f"bank {name!r} already exists")
            row = BankRow(
                name=name,
                category=category,
                action=action,
                description=description,
                enabled=True,
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            _audit(session, actor, "bank.create", name, {"category": category, "action": action})
            return _bank(row)

    def _bank_row(self, session: Session, name: str) -> BankRow:
        row = session.scalar(select(BankRow).where(BankRow.name == name))
        if row is None:
            raise NotFoundError(f"no bank named {name!r}")
        return row

    def _active_counts(self, session: Session) -> dict[int, int]:
        query = (
            select(BankEntryRow.bank_id, func.count())
            .where(BankEntryRow.enabled.is_(True), BankEntryRow.deleted.is_(False))
            .group_by(BankEntryRow.bank_id)
        )
        return {bank_id: count for bank_id, count in session.execute(query)}

    def get_bank(self, name: str) -> Bank:
        with self._sessions() as session:
            row = self._bank_row(session, name)
            return _bank(row, self._active_counts(session).get(row.id, 0))

    def list_banks(self) -> list[Bank]:
        with self._sessions() as session:
            counts = self._active_counts(session)
            return [
                _bank(r, counts.get(r.id, 0)) for r in session.scalars(select(BankRow).order_by(BankRow.name))
            ]

    def update_bank(self, name: str, actor: str, **changes: Any) -> Bank:
        allowed = {"enabled", "category", "action", "description"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
        with self._sessions.begin() as session:
            row = self._bank_row(session, name)
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = _now()
            # Entries are re-read by index refreshes through their own updated_at.
            session.execute(
                update(BankEntryRow).where(BankEntryRow.bank_id == row.id).values(updated_at=row.updated_at)
            )
            _audit(session, actor, "bank.update", name, {k: v for k, v in changes.items()})
            return _bank(row, self._active_counts(session).get(row.id, 0))

    def delete_bank(self, name: str, actor: str) -> int:
        """Delete a bank and its entries; returns how many entries went."""
        with self._sessions.begin() as session:
            row = self._bank_row(session, name)
            gone = session.scalar(select(func.count()).where(BankEntryRow.bank_id == row.id)) or 0
            session.execute(delete(BankEntryRow).where(BankEntryRow.bank_id == row.id))
            session.delete(row)
            _audit(session, actor, "bank.delete", name, {"entries": gone})
            return int(gone)

    def bank_ids(self) -> dict[int, Bank]:
        with self._sessions() as session:
            return {r.id: _bank(r) for r in session.scalars(select(BankRow))}

    # -- entries ---------------------------------------------------------------------------------
    def add_entries(self, bank_name: str, entries: Sequence[NewEntry], actor: str) -> AddResult:
        result = AddResult()
        now = _now()
        with self._sessions.begin() as session:
            bank = self._bank_row(session, bank_name)
            keys = [value_key(e.signal_type, e.value) for e in entries]
            existing: dict[str, int] = {}
            for lo in range(0, len(keys), _INSERT_CHUNK):
                chunk = keys[lo : lo + _INSERT_CHUNK]
                query = select(BankEntryRow.value_key, BankEntryRow.id).where(
                    BankEntryRow.bank_id == bank.id, BankEntryRow.value_key.in_(chunk)
                )
                existing.update({key: entry_id for key, entry_id in session.execute(query)})
            rows: list[BankEntryRow] = []
            first_index: dict[str, int] = {}
            for index, (entry, key) in enumerate(zip(entries, keys, strict=True)):
                if key in existing or key in first_index:
                    result.duplicates.append(
                        {
                            "index": index,
                            "signal_type": entry.signal_type,
                            "existing_id": existing.get(key),
                            "duplicate_of_index": first_index.get(key),
                        }
                    )
                    continue
                first_index[key] = index
                rows.append(
                    BankEntryRow(
                        bank_id=bank.id,
                        signal_type=entry.signal_type,
                        value=entry.value,
                        value_key=key,
                        quality=entry.quality,
                        source=entry.source,
                        note=entry.note,
                        added_by=actor,
                        added_at=now,
                        enabled=entry.enabled,
                        deleted=False,
                        updated_at=now,
                    )
                )
            for lo in range(0, len(rows), _INSERT_CHUNK):
                session.add_all(rows[lo : lo + _INSERT_CHUNK])
                session.flush()
            result.added = [_entry(r, bank.name) for r in rows]
            if rows or result.duplicates:
                by_type: dict[str, int] = {}
                for r in rows:
                    by_type[r.signal_type] = by_type.get(r.signal_type, 0) + 1
                _audit(
                    session,
                    actor,
                    "bank.entries.add",
                    bank.name,
                    {"added": len(rows), "by_signal_type": by_type, "duplicates": len(result.duplicates)},
                )
        return result

    def _entry_row(self, session: Session, bank: BankRow, entry_id: int) -> BankEntryRow:
        row = session.get(BankEntryRow, entry_id)
        if row is None or row.bank_id != bank.id or row.deleted:
            raise NotFoundError(f"bank {bank.name!r} has no entry {entry_id}")
        return row

    def set_entry(
        self, bank_name: str, entry_id: int, actor: str, enabled: bool | None = None, note: str | None = None
    ) -> BankEntry:
        with self._sessions.begin() as session:
            bank = self._bank_row(session, bank_name)
            row = self._entry_row(session, bank, entry_id)
            changes: dict[str, Any] = {}
            if enabled is not None and enabled != row.enabled:
                row.enabled = enabled
                changes["enabled"] = enabled
            if note is not None and note != row.note:
                row.note = note
                changes["note"] = note
            if changes:
                row.updated_at = _now()
                _audit(session, actor, "bank.entry.update", bank.name, {"entry_id": entry_id, **changes})
            return _entry(row, bank.name)

    def delete_entry(self, bank_name: str, entry_id: int, actor: str) -> BankEntry:
        """Soft delete: the row stays for the audit trail but never matches or lists again."""
        with self._sessions.begin() as session:
            bank = self._bank_row(session, bank_name)
            row = self._entry_row(session, bank, entry_id)
            row.deleted, row.enabled, row.updated_at = True, False, _now()
            _audit(session, actor, "bank.entry.delete", bank.name, {"entry_id": entry_id})
            return _entry(row, bank.name)

    def get_entry(self, bank_name: str, entry_id: int) -> BankEntry:
        with self._sessions() as session:
            bank = self._bank_row(session, bank_name)
            return _entry(self._entry_row(session, bank, entry_id), bank.name)

    def list_entries(
        self,
        bank_name: str,
        signal_type: str | None = None,
        enabled: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[BankEntry], int]:
        """A page of entries (oldest first) and the total matching the filter."""
        with self._sessions() as session:
            bank = self._bank_row(session, bank_name)
            where = [BankEntryRow.bank_id == bank.id, BankEntryRow.deleted.is_(False)]
            if signal_type is not None:
                where.append(BankEntryRow.signal_type == signal_type)
            if enabled is not None:
                where.append(BankEntryRow.enabled.is_(enabled))
            total = session.scalar(select(func.count()).select_from(BankEntryRow).where(*where)) or 0
            rows = session.scalars(
                select(BankEntryRow).where(*where).order_by(BankEntryRow.id).limit(limit).offset(offset)
            )
            return [_entry(r, bank.name) for r in rows], int(total)

    def iter_entries(
        self, bank_name: str | None = None, changed_since: datetime | None = None
    ) -> Iterator[BankEntry]:
        """Every entry (of one bank, or all; optionally only those changed since a time), in id order."""
        with self._sessions() as session:
            names = {r.id: r.name for r in session.scalars(select(BankRow))}
            query = select(BankEntryRow).order_by(BankEntryRow.id)
            if bank_name is not None:
                bank = self._bank_row(session, bank_name)
                query = query.where(BankEntryRow.bank_id == bank.id, BankEntryRow.deleted.is_(False))
            if changed_since is not None:
                query = query.where(BankEntryRow.updated_at >= changed_since)
            for row in session.scalars(query.execution_options(yield_per=_INSERT_CHUNK)):
                yield _entry(row, names.get(row.bank_id, "?"))
