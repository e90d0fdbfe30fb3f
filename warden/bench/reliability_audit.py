"""Audit log tampering: four ways someone with database access alters the log, and whether
`Store.verify_audit` names each one at the right row.

(a) edit a row's detail (UPDATE trigger dropped), (b) delete a middle row (DELETE trigger dropped),
(c) insert a forged row with raw SQL while the triggers stand, copying the last row's hash as its
prev_hash (the forger lacks the key, so hashes with plain SHA-256), (d) delete the tail and rewind
the chain head to cover it, caught against an anchor exported before. `tests/test_audit_chain.py`
runs the same scenarios on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, text, update

from ..store import Store
from ..store import audit_chain as chain
from ..store.engine import make_engine
from ..store.tables import AuditChainHeadRow, AuditRow

ROWS = 12


@dataclass(frozen=True)
class Outcome:
    """What a tampering should be reported as, and what verify said."""

    name: str
    expected_id: int
    expected_reason: str
    result: chain.AuditVerification

    @property
    def detected(self) -> bool:
        r = self.result
        return not r.ok and r.broken_id == self.expected_id and r.reason == self.expected_reason


def populate(store: Store, rows: int = ROWS) -> list[int]:
    """A small genuine log; its ids in order."""
    return [
        store.append_audit(f"user{i % 3}", "bench.event", "thing", f"t{i}", {"n": i, "tags": ["a", "b"]})
        for i in range(rows)
    ]


def allow(raw: Engine, statement: str) -> None:
    """Drop the append-only trigger for `statement` ('update' or 'delete'), as an attacker with DDL
    rights would; on PostgreSQL one trigger covers both."""
    with raw.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text(f"DROP TRIGGER IF EXISTS audit_log_no_{statement}"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log"))


def _row(raw: Engine, audit_id: int) -> dict[str, Any]:
    with raw.connect() as conn:
        return dict(conn.execute(select(AuditRow.__table__).where(AuditRow.id == audit_id)).one()._mapping)


def edit_row(store: Store, raw: Engine) -> Outcome:
    ids = populate(store)
    target = ids[len(ids) // 2]
    allow(raw, "update")
    with raw.begin() as conn:
        conn.execute(update(AuditRow).where(AuditRow.id == target).values(detail={"n": -1, "tags": []}))
    return Outcome("edit", target, chain.ROW_CHANGED, store.verify_audit())


def delete_row(store: Store, raw: Engine) -> Outcome:
    ids = populate(store)
    target = ids[len(ids) // 2]
    allow(raw, "delete")
    with raw.begin() as conn:
        conn.execute(delete(AuditRow).where(AuditRow.id == target))
    after = ids[ids.index(target) + 1]
    return Outcome("delete", after, chain.ROW_MISSING.format(id=after), store.verify_audit())


def forge_row(store: Store, raw: Engine, copy_prev_hash: bool = True) -> Outcome:
    """A raw INSERT (the triggers allow inserts); with `copy_prev_hash` it links to the real last
    row and carries the unkeyed hash, else it has no hashes at all."""
    ids = populate(store)
    values: dict[str, Any] = {
        "at": datetime.now(UTC),
        "actor": "admin",
        "action": "apikey.create",
        "object_type": "api_key",
        "object_id": "backdoor",
        "detail": {"role": "admin"},
    }
    if copy_prev_hash:
        prev = _row(raw, ids[-1])["row_hash"]
        values["prev_hash"] = prev
        values["row_hash"] = hashlib.sha256(prev.encode() + chain.canonical(values)).hexdigest()
    with raw.begin() as conn:
        forged = int(conn.execute(insert(AuditRow).values(**values).returning(AuditRow.id)).scalar_one())
    return Outcome("forge", forged, chain.FORGED, store.verify_audit())


def cut_tail(store: Store, raw: Engine) -> Outcome:
    """Anchor, append more, then delete the last rows (some the anchor covers) and rewind the chain
    head to the new last row, so the log alone looks intact: only the anchor tells."""
    populate(store)
    anchor = store.audit_anchor()
    populate(store, 2)
    allow(raw, "delete")
    with raw.begin() as conn:
        conn.execute(delete(AuditRow).where(AuditRow.id > anchor["last_id"] - 2))
        last_id = conn.scalar(select(func.max(AuditRow.id)))
        last_hash = conn.scalar(select(AuditRow.row_hash).where(AuditRow.id == last_id))
        head = update(AuditChainHeadRow).where(AuditChainHeadRow.id == 1)
        conn.execute(head.values(last_id=last_id, last_hash=last_hash))
    return Outcome("truncate", anchor["last_id"], chain.ANCHOR_TAIL, store.verify_audit(anchor))


SCENARIOS: dict[str, Callable[[Store, Engine], Outcome]] = {
    "edit": edit_row,
    "delete": delete_row,
    "forge": forge_row,
    "truncate": cut_tail,
}


def measure(workdir: Path) -> dict[str, float]:
    """How many of the four tamperings verify reports at the right row, each on a fresh keyed
    SQLite database in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    detected = 0
    for name, scenario in SCENARIOS.items():
        url = f"sqlite:///{workdir / f'audit-{name}-{secrets.token_hex(4)}.db'}"
        store = Store(url, audit_key=secrets.token_bytes(32))
        raw = make_engine(url)
        try:
            store.migrate()
            detected += scenario(store, raw).detected
        finally:
            raw.dispose()
            store.close()
    return {"audit_tampering_detected": detected}
