"""The tamper-evident audit log: every audit row is chained to the one before it by a hash.

    row_hash = HMAC-SHA256(key, prev_hash + canonical JSON of (at, actor, action, object_type,
                                                               object_id, detail))

The chain runs in id order from `GENESIS`. Without a key the hash is plain SHA-256: edits and
deletions still show, but anyone who can write to the database can also compute a consistent
chain, so production runs keyed (settings `audit.key` / `audit.key_file`).

Writers never insert `AuditRow`s themselves: they call `record` / `record_many` inside a Store
session, and the queued rows are chained and inserted (one executemany) just before the transaction
commits. That write first locks the one-row `audit_chain_head` table (last id, last hash), so
concurrent transactions append one after the other and cannot fork the chain; and because it runs
at commit, the head lock is the last lock a transaction takes (no lock-order deadlocks with the
rows it locked before) and is held only for the insert and the commit.

Rows written before the chain existed (NULL hashes) are an accepted legacy prefix. `verify` streams
the log in id order, page by page, and names the first broken link; `anchor` is the chain's state
to keep outside the database (a WORM bucket, a ticket) so a later `verify(anchor)` also catches
truncation of the tail and a history rewritten by someone holding the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from .tables import AuditChainHeadRow, AuditRow

# The first chained row's prev_hash. Migration 0005 spells the same value out.
GENESIS = "0" * 64
# Rows per page when verifying: the log holds one row per decision, so millions.
PAGE = 10_000

ROW_CHANGED = "row changed"
FORGED = "forged or foreign row"
ROW_MISSING = "row missing before id {id}"
ANCHOR_TAIL = "chain head behind the anchor (rows deleted at the tail)"
ANCHOR_MISMATCH = "history differs from the anchor (rewritten)"
HEAD_TAIL = "log ends before the chain head (rows deleted at the tail)"
HEAD_MISMATCH = "chain head does not match the last row"
WRONG_KEY = "the audit key differs from the one this log was written with"

_CHAIN = "warden.audit_chain"  # Session.info: the AuditChain of the Store that made the session
_PENDING = "warden.audit_pending"  # Session.info: rows queued for this transaction
_HEAD_ID = 1
_KEY_ID_MESSAGE = b"warden audit key id"
_COLUMNS = (
    AuditRow.id,
    AuditRow.at,
    AuditRow.actor,
    AuditRow.action,
    AuditRow.object_type,
    AuditRow.object_id,
    AuditRow.detail,
    AuditRow.prev_hash,
    AuditRow.row_hash,
)


def _now() -> datetime:
    return datetime.now(UTC)


def canonical(row: Mapping[str, Any]) -> bytes:
    """The bytes a row's hash covers; sorted keys so the JSON column's key order does not matter."""
    at = row["at"].astimezone(UTC).isoformat(timespec="microseconds")
    fields = [at, row["actor"], row["action"], row["object_type"], row["object_id"], row["detail"]]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry(
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    detail: Mapping[str, Any],
    at: datetime | None = None,
) -> dict[str, Any]:
    """One audit row's values, for `record_many`."""
    return {
        "at": at or _now(),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        # Stored as its JSON round trip, so the hash covers exactly what is read back (tuples become
        # lists, int keys strings).
        "detail": json.loads(json.dumps(detail)),
    }


def record(
    session: Session,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    detail: Mapping[str, Any],
    at: datetime | None = None,
) -> None:
    """Queue one audit row; it is chained and written when the session's transaction commits."""
    record_many(session, [entry(actor, action, object_type, object_id, detail, at)])


def record_many(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Queue audit rows (from `entry`); written together, chained, at commit."""
    if _CHAIN not in session.info:  # a session from elsewhere would silently drop the rows
        raise RuntimeError("audit rows must be recorded in a session made by a Store (no audit chain)")
    session.info.setdefault(_PENDING, []).extend(rows)


def flush(session: Session) -> int | None:
    """Write the session's queued audit rows now (chained); the last one's id, None if none were
    queued. Commit does this by itself; call it only to learn the id, as the transaction's last step."""
    rows: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    if not rows:
        return None
    chain: AuditChain = session.info[_CHAIN]
    # The ORM's pending writes go first, so the head lock below is the transaction's last lock.
    session.flush()
    _, prev = _lock_head(session)
    for row in rows:
        row["prev_hash"] = prev
        row["row_hash"] = prev = chain.row_hash(prev, row)
    session.execute(insert(AuditRow), rows)  # executemany: RETURNING would cost half the speed
    # Under the head lock no other transaction inserts audit rows, so ours are the highest ids
    # (SQLite hands out max+1; a PostgreSQL sequence only grows).
    last_id = int(session.scalar(select(func.max(AuditRow.id))) or 0)
    session.execute(
        update(AuditChainHeadRow)
        .where(AuditChainHeadRow.id == _HEAD_ID)
        .values(last_id=last_id, last_hash=prev, key_id=chain.key_id)
        .execution_options(synchronize_session=False)
    )
    return last_id


def _lock_head(session: Session) -> tuple[int, str]:
    """(last id, last hash), locked until commit so no other transaction appends meanwhile."""
    head = AuditChainHeadRow
    query = select(head.last_id, head.last_hash).where(head.id == _HEAD_ID)
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a no-op write takes its single write lock before the read.
        session.execute(
            update(head)
            .where(head.id == _HEAD_ID)
            .values(last_id=head.last_id)
            .execution_options(synchronize_session=False)
        )
    else:
        query = query.with_for_update()
    found = session.execute(query).one_or_none()
    if found is None:
        raise RuntimeError("audit_chain_head has no row: run the migrations (warden.store Store.migrate)")
    return int(found[0]), str(found[1])


def _drop_pending(session: Session, *_args: object) -> None:
    session.info.pop(_PENDING, None)


def _key_id(key: bytes | None) -> str:
    """Names the key (not secret) so verifying with the wrong one says so instead of 'row changed'."""
    if key is None:
        return "sha256"
    return "hmac-sha256:" + hmac.new(key, _KEY_ID_MESSAGE, hashlib.sha256).hexdigest()[:16]


class AuditChain:
    """Hashes audit rows under one key (None: unkeyed SHA-256) and writes them for a Store."""

    def __init__(self, key: bytes | None) -> None:
        if key is not None and not key:
            raise ValueError("the audit key must not be empty (None selects the unkeyed chain)")
        self._key = key
        self.key_id = _key_id(key)

    def row_hash(self, prev_hash: str, row: Mapping[str, Any]) -> str:
        message = prev_hash.encode() + canonical(row)
        if self._key is None:
            return hashlib.sha256(message).hexdigest()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def install(self, sessions: sessionmaker[Session]) -> None:
        """Make every session of `sessions` write its recorded audit rows, chained, at commit."""
        sessions.configure(info={_CHAIN: self})
        event.listen(sessions, "before_commit", flush)
        event.listen(sessions, "after_rollback", _drop_pending)


# -- verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditVerification:
    """The outcome of `verify`: ok, or the first broken link (`broken_id`, `reason`)."""

    ok: bool
    checked: int  # rows read
    legacy: int  # unchained rows before the first chained one
    broken_id: int | None = None
    reason: str | None = None
    last_id: int = 0
    last_hash: str = GENESIS

    def describe(self) -> str:
        if self.ok:
            return (
                f"audit chain intact: {self.checked:,} rows ({self.legacy:,} legacy, unchained), "
                f"last id {self.last_id}, last hash {self.last_hash}"
            )
        at = f" at id {self.broken_id}" if self.broken_id is not None else ""
        return f"audit chain BROKEN{at}: {self.reason} ({self.checked:,} rows read)"


@dataclass(frozen=True)
class _Head:
    last_id: int
    last_hash: str
    key_id: str | None


@dataclass(frozen=True)
class _Anchor:
    last_id: int
    last_hash: str
    count: int


def _read_head(sessions: sessionmaker[Session]) -> _Head:
    h = AuditChainHeadRow
    with sessions() as session:
        found = session.execute(
            select(h.last_id, h.last_hash, h.key_id).where(h.id == _HEAD_ID)
        ).one_or_none()
    if found is None:  # the row was deleted: treat as an empty chain, which verify then refutes
        return _Head(0, GENESIS, None)
    return _Head(int(found[0]), str(found[1]), found[2])


def _rows_after(sessions: sessionmaker[Session], after: int, page: int) -> Iterator[Mapping[str, Any]]:
    """The log from id `after` on, in id order, one short read per page (keyset pagination)."""
    while True:
        with sessions() as session:
            rows: list[Mapping[str, Any]] = [
                dict(r._mapping)
                for r in session.execute(
                    select(*_COLUMNS).where(AuditRow.id > after).order_by(AuditRow.id).limit(page)
                )
            ]
        yield from rows
        if len(rows) < page:
            return
        after = int(rows[-1]["id"])


def _parse_anchor(anchor: Mapping[str, Any] | None) -> _Anchor | None:
    if anchor is None:
        return None
    try:
        parsed = _Anchor(int(anchor["last_id"]), str(anchor["last_hash"]), int(anchor["count"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an audit anchor (needs last_id, last_hash, count): {exc}") from exc
    if parsed.last_id < 0 or parsed.count < 0:
        raise ValueError("not an audit anchor: negative last_id or count")
    return parsed


class _Walk:
    """The verifier's state while it reads the log in id order."""

    def __init__(self, chain: AuditChain, anchor: _Anchor | None, head_id: Callable[[], int]) -> None:
        self.chain, self.anchor, self.head_id = chain, anchor, head_id
        self.prev, self.last_id, self.checked, self.legacy, self.chained = GENESIS, 0, 0, 0, False
        self.anchor_passed = anchor is None or anchor.last_id == 0

    def step(self, row: Mapping[str, Any]) -> str | None:
        """Take the next row; the reason it breaks the chain, or None."""
        self.checked += 1
        reason = self._link(row)
        if reason is None:
            self.last_id = int(row["id"])
            reason = self._check_anchor()
        return reason

    def _link(self, row: Mapping[str, Any]) -> str | None:
        stored, prev_hash = row["row_hash"], row["prev_hash"]
        if stored is None:
            if self.chained:  # the chain has started: every later row must carry it
                return FORGED
            self.legacy += 1
            return None
        computed = self.chain.row_hash(prev_hash or "", row)
        linked = prev_hash == self.prev
        if computed == stored and linked:
            self.prev, self.chained = stored, True
            return None
        if int(row["id"]) > self.head_id():  # never appended through the chain head
            return FORGED
        if linked:  # in its place, but not what was hashed there
            return ROW_CHANGED
        if computed == stored:  # a genuine row whose predecessor is gone
            return ROW_MISSING.format(id=row["id"])
        return FORGED

    def _check_anchor(self) -> str | None:
        a = self.anchor
        if a is None or self.anchor_passed or self.last_id < a.last_id:
            return None
        self.anchor_passed = True
        # At the anchored id the chain must be exactly where the anchor saw it.
        if self.last_id != a.last_id or self.prev != a.last_hash or self.checked != a.count:
            return ANCHOR_MISMATCH
        return None

    def result(self, broken_id: int | None = None, reason: str | None = None) -> AuditVerification:
        return AuditVerification(
            ok=reason is None,
            checked=self.checked,
            legacy=self.legacy,
            broken_id=broken_id,
            reason=reason,
            last_id=self.last_id,
            last_hash=self.prev,
        )


def _first_id_after(sessions: sessionmaker[Session], after: int) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.min(AuditRow.id)).where(AuditRow.id > after)) or after + 1)


def verify(
    sessions: sessionmaker[Session],
    chain: AuditChain,
    anchor: Mapping[str, Any] | None = None,
    page: int = PAGE,
) -> AuditVerification:
    """Check the whole log against the chain (and `anchor`, from `anchor()`, when given)."""
    expected = _parse_anchor(anchor)
    head = _read_head(sessions)
    if head.key_id is not None and head.key_id != chain.key_id:
        return AuditVerification(ok=False, checked=0, legacy=0, reason=WRONG_KEY)
    walk = _Walk(chain, expected, lambda: _read_head(sessions).last_id)
    while True:
        read = 0
        for row in _rows_after(sessions, walk.last_id, page):
            read += 1
            reason = walk.step(row)
            if reason is not None:
                return walk.result(int(row["id"]), reason)
        # Read after the rows: every genuine row seen is covered by it (same transaction).
        head = _read_head(sessions)
        if head.last_id <= walk.last_id or read == 0:
            break  # else rows were appended while we read: read those too
    return _finish(sessions, walk, head)


def _finish(sessions: sessionmaker[Session], walk: _Walk, head: _Head) -> AuditVerification:
    a = walk.anchor
    if a is not None and not walk.anchor_passed:
        return walk.result(a.last_id, ANCHOR_TAIL)
    if walk.last_id > head.last_id:  # rows past the head were not appended through the chain
        return walk.result(_first_id_after(sessions, head.last_id), FORGED)
    if walk.last_id < head.last_id:
        return walk.result(head.last_id, HEAD_TAIL)
    if walk.prev != head.last_hash:
        return walk.result(head.last_id, HEAD_MISMATCH)
    return walk.result()


def anchor(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """The chain's current state, to keep outside the database and pass to a later `verify`."""
    head = _read_head(sessions)
    with sessions() as session:
        count = session.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.id <= head.last_id))
        last_at = session.scalar(select(AuditRow.at).where(AuditRow.id == head.last_id))
    return {
        "last_id": head.last_id,
        "last_hash": head.last_hash,
        "count": int(count or 0),
        "last_at": last_at.isoformat() if last_at is not None else None,
        "at": _now().isoformat(),
    }
