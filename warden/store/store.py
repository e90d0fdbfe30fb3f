"""`Store`: the only code that talks to the database. Thread-safe: one Engine, one session per call."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import func, insert, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..decision import Decision
from ..errors import ConflictError, NotFoundError
from . import audit_chain
from .audit_chain import AuditChain, AuditVerification
from .banks import BankRepository
from .engine import MIGRATIONS_DIR, make_engine, normalize_url
from .review import ReviewRepository
from .tables import ApiKeyRow, AuditRow, DecisionHistoryRow, DecisionRow, PolicyRow, ShadowDecisionRow

ROLES = frozenset({"client", "reviewer", "admin"})
KEY_PREFIX = "wdn_"
# Two attempts settle any insert race (the retry sees the winner's row); the third is slack.
_SAVE_ATTEMPTS = 3
# Arbitrary constant naming the Postgres advisory lock that serialises concurrent migrate() calls.
_MIGRATE_LOCK_ID = 0x5741524445_4E  # "WARDEN"


def _now() -> datetime:
    return datetime.now(UTC)


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Store:
    def __init__(self, url: str, audit_key: bytes | None = None) -> None:
        """`audit_key` keys the audit log's hash chain (settings: `AuditSettings.resolve_key()`); None
        chains with plain SHA-256, which shows edits and deletions but not forgeries by someone
        with database access (they can compute it too)."""
        self._url = normalize_url(url)
        self._engine = make_engine(self._url)
        # expire_on_commit=False: rows are turned into plain values after the session closes.
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        # Every audit row recorded in these sessions is chained and written at commit.
        self._audit_chain = AuditChain(audit_key)
        self._audit_chain.install(self._sessions)

    @property
    def banks(self) -> BankRepository:
        """Match banks and their entries."""
        return BankRepository(self._sessions)

    @property
    def review(self) -> ReviewRepository:
        """Review tasks, leases, labels and appeals."""
        return ReviewRepository(self._sessions)

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self._engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with any password masked, for logs and status pages."""
        return self._url.render_as_string(hide_password=True)

    def _alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        # ConfigParser interpolation: a literal % (e.g. in an encoded password) must be doubled.
        cfg.set_main_option(
            "sqlalchemy.url", self._url.render_as_string(hide_password=False).replace("%", "%%")
        )
        return cfg

    def migrate(self) -> None:
        """Upgrade the schema to head. Safe to call on every start-up (a no-op when current)."""
        cfg = self._alembic_config()
        with self._engine.begin() as conn:
            if self.dialect == "postgresql":
                # Several workers starting at once would otherwise race to create the same tables.
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATE_LOCK_ID})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self._engine.dispose()

    def ping(self) -> None:
        """One round trip to the database (readiness probes); raises the driver's error if it is down."""
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- decisions -------------------------------------------------------------------------------

    def find_decisions_by_content_ids(self, content_ids: list[str]) -> dict[str, Decision]:
        if not content_ids:
            return {}
        with self._sessions() as session:
            rows = session.execute(
                select(DecisionRow.content_id, DecisionRow.payload).where(
                    DecisionRow.content_id.in_(set(content_ids))
                )
            )
            return {cid: Decision.model_validate(payload) for cid, payload in rows}

    def get_decision(self, decision_id: str) -> Decision:
        with self._sessions() as session:
            payload = session.scalar(
                select(DecisionRow.payload).where(DecisionRow.decision_id == decision_id)
            )
        if payload is None:
            raise NotFoundError(f"unknown decision_id {decision_id!r}")
        return Decision.model_validate(payload)

    def get_decision_by_content_id(self, content_id: str) -> Decision:
        with self._sessions() as session:
            payload = session.scalar(select(DecisionRow.payload).where(DecisionRow.content_id == content_id))
        if payload is None:
            raise NotFoundError(f"no decision for content_id {content_id!r}")
        return Decision.model_validate(payload)

    def save_decisions(self, decisions: list[Decision], actor: str) -> list[Decision]:
        """Store new decisions atomically; return, per input, the stored decision for its content id.

        Re-submitting a content id with the same content hash returns the original decision (so
        clients can retry safely); a different hash raises ConflictError and nothing is written.
        """
        if not decisions:
            return []
        for attempt in range(_SAVE_ATTEMPTS):
            try:
                return self._save_once(decisions, actor)
            except IntegrityError as exc:
                # A concurrent request inserted one of our ids between our read and our insert.
                # The whole transaction rolled back; the next attempt sees its row and applies the
                # idempotency rule to it.
                if attempt == _SAVE_ATTEMPTS - 1:
                    raise ConflictError(f"could not save decisions after {_SAVE_ATTEMPTS} attempts") from exc
        raise AssertionError("unreachable")

    def _existing(self, session: Session, decisions: list[Decision]) -> list[Decision]:
        """Stored decisions that share a content id or a decision id with `decisions` (one query)."""
        content_ids = {d.content_id for d in decisions}
        decision_ids = {d.decision_id for d in decisions}
        payloads = session.scalars(
            select(DecisionRow.payload).where(
                or_(DecisionRow.content_id.in_(content_ids), DecisionRow.decision_id.in_(decision_ids))
            )
        )
        return [Decision.model_validate(p) for p in payloads]

    def _save_once(self, decisions: list[Decision], actor: str) -> list[Decision]:
        with self._sessions.begin() as session:
            existing = self._existing(session, decisions)
            by_content = {d.content_id: d for d in existing}
            taken_ids = {d.decision_id: d.content_id for d in existing}
            result: list[Decision] = []
            new: list[Decision] = []
            for decision in decisions:
                prior = by_content.get(decision.content_id)
                if prior is None:
                    other = taken_ids.get(decision.decision_id)
                    if other is not None:
                        raise ConflictError(
                            f"decision_id {decision.decision_id!r} is already used by content_id {other!r}"
                        )
                    # Later duplicates within the same batch resolve against this one.
                    by_content[decision.content_id] = decision
                    taken_ids[decision.decision_id] = decision.content_id
                    new.append(decision)
                    result.append(decision)
                elif prior.content_hash != decision.content_hash:
                    raise ConflictError(
                        f"content_id {decision.content_id!r} was already decided for different content "
                        f"(decision {prior.decision_id})"
                    )
                else:
                    result.append(prior)
            if new:
                self._insert_decisions(session, new, actor)
        return result

    def _insert_decisions(self, session: Session, decisions: Iterable[Decision], actor: str) -> None:
        now = _now()
        rows, history, audit = [], [], []
        for d in decisions:
            payload = d.model_dump(mode="json")
            rows.append(
                {
                    "decision_id": d.decision_id,
                    "content_id": d.content_id,
                    "content_hash": d.content_hash,
                    "action": d.action,
                    "flagged": d.flagged,
                    "language": d.language,
                    "policy_version": d.versions.policy,
                    "pipeline_version": d.versions.pipeline,
                    "model_versions": dict(d.versions.models),
                    "payload": payload,
                    "created_at": d.created_at,
                }
            )
            history.append(
                {
                    "decision_id": d.decision_id,
                    "content_id": d.content_id,
                    "payload": payload,
                    "created_at": now,
                    "actor": actor,
                }
            )
            detail = {"content_id": d.content_id, "action": d.action, "policy_version": d.versions.policy}
            audit.append(audit_chain.entry(actor, "decision.create", "decision", d.decision_id, detail, now))
        # Core executemany: one round trip per table instead of one per ORM object.
        session.execute(insert(DecisionRow), rows)
        session.execute(insert(DecisionHistoryRow), history)
        audit_chain.record_many(session, audit)  # chained and inserted in one executemany at commit

    # -- audit log -------------------------------------------------------------------------------

    def append_audit(
        self, actor: str, action: str, object_type: str, object_id: str, detail: dict[str, Any]
    ) -> int:
        """Append one audit row and return its id. There is deliberately no update or delete."""
        with self._sessions.begin() as session:
            audit_chain.record(session, actor, action, object_type, object_id, detail)
            audit_id = audit_chain.flush(session)
            assert audit_id is not None  # one row was just recorded
            return audit_id

    def verify_audit(self, anchor: dict[str, Any] | None = None) -> AuditVerification:
        """Check the audit log's hash chain, streaming it in id order; with an `anchor` (from
        `audit_anchor`, kept outside the database) also catch a truncated tail or rewritten history."""
        return audit_chain.verify(self._sessions, self._audit_chain, anchor)

    def audit_anchor(self) -> dict[str, Any]:
        """The chain's state now (last id, last hash, count, times), to export to an external store."""
        return audit_chain.anchor(self._sessions)

    def list_audit(self, limit: int = 100, object_id: str | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if object_id is not None:
            query = query.where(AuditRow.object_id == object_id)
        with self._sessions() as session:
            return [
                {
                    "id": r.id,
                    "at": r.at,
                    "actor": r.actor,
                    "action": r.action,
                    "object_type": r.object_type,
                    "object_id": r.object_id,
                    "detail": r.detail,
                }
                for r in session.scalars(query)
            ]

    # -- API keys --------------------------------------------------------------------------------

    def create_api_key(self, name: str, role: str, actor: str = "system") -> str:
        """Create a key and return its plaintext. This is the only time the plaintext exists."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {sorted(ROLES)}, got {role!r}")
        if not name:
            raise ValueError("API key name must not be empty")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        now = _now()
        try:
            with self._sessions.begin() as session:
                if session.scalar(select(ApiKeyRow.id).where(ApiKeyRow.name == name)) is not None:
                    raise ConflictError(f"an API key named {name!r} already exists")
                session.add(
                    ApiKeyRow(
                        name=name, key_prefix=key[:8], key_hash=_hash_key(key), role=role, created_at=now
                    )
                )
                detail = {"role": role, "key_prefix": key[:8]}
                audit_chain.record(session, actor, "apikey.create", "api_key", name, detail, now)
        except IntegrityError as exc:  # lost a race with a concurrent create of the same name
            raise ConflictError(f"an API key named {name!r} already exists") from exc
        return key

    def verify_api_key(self, key: str) -> tuple[str, str] | None:
        """(name, role) for a valid, non-revoked key, else None. Reads the database every time so a
        revocation takes effect on the next request."""
        if not key.startswith(KEY_PREFIX):
            return None
        digest = _hash_key(key)
        with self._sessions() as session:
            # Look up by the non-secret prefix, then compare hashes in constant time.
            candidates = session.execute(
                select(ApiKeyRow.name, ApiKeyRow.role, ApiKeyRow.key_hash).where(
                    ApiKeyRow.key_prefix == key[:8], ApiKeyRow.revoked_at.is_(None)
                )
            ).all()
        for name, role, key_hash in candidates:
            if hmac.compare_digest(key_hash, digest):
                return name, role
        return None

    def api_key_active(self, name: str, role: str, key_prefix: str) -> bool:
        """Whether the key named `name` exists unrevoked with this role and prefix (sessions made from a
        key, e.g. the console's, re-check it on every request so a revocation ends them)."""
        with self._sessions() as session:
            found = session.scalar(
                select(ApiKeyRow.id).where(
                    ApiKeyRow.name == name,
                    ApiKeyRow.role == role,
                    ApiKeyRow.key_prefix == key_prefix,
                    ApiKeyRow.revoked_at.is_(None),
                )
            )
        return found is not None

    def revoke_api_key(self, name: str, actor: str = "system") -> None:
        """Revoke a key by name; revoking an already revoked key is a no-op."""
        with self._sessions.begin() as session:
            row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name))
            if row is None:
                raise NotFoundError(f"unknown API key {name!r}")
            if row.revoked_at is not None:
                return
            if row.role == "admin":
                # Locked so two concurrent revokes cannot each leave "one other" admin (PostgreSQL;
                # SQLite runs one writer at a time anyway).
                admins = session.scalars(
                    select(ApiKeyRow.name)
                    .where(ApiKeyRow.role == "admin", ApiKeyRow.revoked_at.is_(None))
                    .with_for_update()
                ).all()
                if list(admins) == [name]:
                    raise ConflictError(
                        f"refusing to revoke {name!r}: it is the last active admin key; "
                        "create another admin key first"
                    )
            now = _now()
            row.revoked_at = now
            audit_chain.record(session, actor, "apikey.revoke", "api_key", name, {}, now)

    def list_api_keys(self) -> list[dict[str, Any]]:
        """Every key, revoked ones included, without hashes."""
        with self._sessions() as session:
            return [
                {
                    "name": r.name,
                    "key_prefix": r.key_prefix,
                    "role": r.role,
                    "created_at": r.created_at,
                    "revoked_at": r.revoked_at,
                }
                for r in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))
            ]

    def count_api_keys(self, active_only: bool = False) -> int:
        """All keys ever created by default (so revoking every key does not look like a fresh install)."""
        query = select(func.count()).select_from(ApiKeyRow)
        if active_only:
            query = query.where(ApiKeyRow.revoked_at.is_(None))
        with self._sessions() as session:
            return session.scalar(query) or 0

    # -- policies --------------------------------------------------------------------------------

    def record_policy(
        self, name: str, version: str, full_version: str, yaml_text: str, actor: str = "system"
    ) -> dict[str, Any]:
        """Record a policy version once. Re-recording the same full_version returns the stored row;
        the same full_version with different YAML is a ConflictError."""
        for attempt in range(2):
            try:
                with self._sessions.begin() as session:
                    row = session.scalar(select(PolicyRow).where(PolicyRow.full_version == full_version))
                    if row is None:
                        row = PolicyRow(
                            name=name,
                            version=version,
                            full_version=full_version,
                            yaml_text=yaml_text,
                            activated_at=_now(),
                        )
                        session.add(row)
                        session.flush()
                        detail = {"name": name, "version": version}
                        audit_chain.record(
                            session, actor, "policy.record", "policy", full_version, detail, row.activated_at
                        )
                    elif row.yaml_text != yaml_text:
                        raise ConflictError(
                            f"policy {full_version!r} is already recorded with different YAML"
                        )
                    return _policy_dict(row)
            except IntegrityError:
                if attempt == 1:  # a concurrent insert won; the retry reads its row
                    raise
        raise AssertionError("unreachable")

    def latest_policy_activation(self, after_id: int = 0) -> dict[str, Any] | None:
        """The newest `policy.activate` audit event with an id above `after_id`, with the policy it
        activated (`audit_id`, `actor`, and the policy row's fields), or None. Processes that do not
        take the activation request themselves (stream workers, other API replicas) follow it."""
        with self._sessions() as session:
            event = session.scalar(
                select(AuditRow)
                .where(AuditRow.action == "policy.activate", AuditRow.id > after_id)
                .order_by(AuditRow.id.desc())
                .limit(1)
            )
            if event is None:
                return None
            row = session.scalar(select(PolicyRow).where(PolicyRow.full_version == event.object_id))
            if row is None:  # an event naming a policy that was never recorded: nothing to follow
                return None
            return {"audit_id": event.id, "actor": event.actor, **_policy_dict(row)}

    def last_audit_id(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.max(AuditRow.id))) or 0)

    def revise_decisions(self, decisions: list[Decision], actor: str, reason: str) -> tuple[int, int]:
        """Make each decision the current version of its content id (same decision id as the stored
        one, the old version kept in the history; a re-run of history with a new policy or model).
        Content ids a person has revised since (a history entry by anyone but `system:` actors) are
        left alone, as are ids with no stored decision or other content. Returns (revised, kept)."""
        revised = kept = 0
        now = _now()
        with self._sessions.begin() as session:
            ids = [d.content_id for d in decisions]
            rows = {
                r.content_id: r
                for r in session.scalars(
                    select(DecisionRow).where(DecisionRow.content_id.in_(ids)).with_for_update()
                )
            }
            history = session.execute(
                select(DecisionHistoryRow.content_id, DecisionHistoryRow.actor)
                .where(DecisionHistoryRow.content_id.in_(ids))
                .order_by(DecisionHistoryRow.id)
            ).all()
            versions: dict[str, list[str]] = {}
            for content_id, who in history:
                versions.setdefault(content_id, []).append(who)
            for decision in decisions:
                row = rows.get(decision.content_id)
                later = versions.get(decision.content_id, [])[1:]
                if (
                    row is None
                    or row.payload.get("content_hash") != decision.content_hash
                    or any(not who.startswith("system:") for who in later)
                ):
                    kept += 1
                    continue
                new = decision.model_copy(update={"decision_id": row.decision_id})
                payload = new.model_dump(mode="json")
                previous = row.payload.get("action")
                row.action, row.flagged, row.payload, row.created_at = new.action, new.flagged, payload, now
                row.policy_version, row.pipeline_version = new.versions.policy, new.versions.pipeline
                row.model_versions = dict(new.versions.models)
                session.add(
                    DecisionHistoryRow(
                        decision_id=row.decision_id,
                        content_id=new.content_id,
                        payload=payload,
                        created_at=now,
                        actor=actor,
                    )
                )
                detail = {"content_id": new.content_id, "from": previous, "to": new.action, "reason": reason}
                audit_chain.record(
                    session, actor, "decision.rescore", "decision", row.decision_id, detail, now
                )
                revised += 1
        return revised, kept

    # -- shadow decisions ------------------------------------------------------------------------

    def save_shadow_decisions(self, rows: list[dict[str, Any]]) -> int:
        """Store a candidate's decisions (keys: the `ShadowDecisionRow` columns but id); a content id
        the candidate already has is left as it is. Returns how many were new."""
        if not rows:
            return 0
        added = 0
        with self._sessions.begin() as session:
            for candidate in {r["candidate"] for r in rows}:
                ids = [r["content_id"] for r in rows if r["candidate"] == candidate]
                taken = set(
                    session.scalars(
                        select(ShadowDecisionRow.content_id).where(
                            ShadowDecisionRow.candidate == candidate, ShadowDecisionRow.content_id.in_(ids)
                        )
                    )
                )
                fresh = [r for r in rows if r["candidate"] == candidate and r["content_id"] not in taken]
                unique = list({r["content_id"]: r for r in fresh}.values())
                if unique:
                    session.execute(insert(ShadowDecisionRow), unique)
                    added += len(unique)
        return added

    def shadow_decisions(
        self, candidate: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Newest first, payloads included."""
        query = select(ShadowDecisionRow).order_by(ShadowDecisionRow.id.desc())
        if candidate is not None:
            query = query.where(ShadowDecisionRow.candidate == candidate)
        if limit is not None:
            query = query.limit(limit)
        columns = [c.name for c in ShadowDecisionRow.__table__.columns]
        with self._sessions() as session:
            return [{c: getattr(r, c) for c in columns} for r in session.scalars(query)]

    def shadow_candidates(self) -> list[str]:
        with self._sessions() as session:
            return sorted(session.scalars(select(ShadowDecisionRow.candidate).distinct()))

    def list_policies(self) -> list[dict[str, Any]]:
        """Oldest first."""
        with self._sessions() as session:
            return [_policy_dict(r) for r in session.scalars(select(PolicyRow).order_by(PolicyRow.id))]


def _policy_dict(row: PolicyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "version": row.version,
        "full_version": row.full_version,
        "yaml_text": row.yaml_text,
        "activated_at": row.activated_at,
    }
