"""Store tests, run against SQLite and a real PostgreSQL (marked `postgres`)."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from warden.decision import CategoryScore, Decision, Reason, StageTrace, Versions
from warden.errors import ConflictError, NotFoundError
from warden.store import Store
from warden.store.engine import normalize_url
from warden.store.tables import AuditRow, Base, DecisionHistoryRow, DecisionRow

# db_url, store and raw: tests/conftest.py


def make_decision(
    content_id: str = "post-1", content_hash: str = "sha256:aaa", **overrides: object
) -> Decision:
    fields: dict[str, object] = {
        "content_id": content_id,
        "content_hash": content_hash,
        "action": "remove",
        "flagged": True,
        "language": "en",
        "categories": {
            "hate": CategoryScore(
                probability=0.9312345678901234, action="remove", threshold=0.8, flagged=True
            ),
            "spam": CategoryScore(probability=1.5e-07),
            "adult": CategoryScore(probability=0.41, action="label", threshold=0.4, flagged=True),
        },
        "reasons": [
            Reason(
                category="hate",
                action="remove",
                probability=0.9312345678901234,
                threshold=0.8,
                clause="Attacks on people based on protected characteristics.",
                evidence=[{"span": [0, 7], "term": "example", "weight": 2.5}],
            )
        ],
        "versions": Versions(
            policy="default@3+abc123", pipeline="pipe-1.2", models={"minilm": "1.0.0", "lex": "7"}
        ),
        "stages": [
            StageTrace(name="fast", detectors=["lexicon"], latency_ms=0.42, cost=0.01),
            StageTrace(name="encoder", detectors=["minilm"], latency_ms=12.5, cost=1.0, exited=True),
        ],
    }
    fields.update(overrides)
    return Decision.model_validate(fields)


def count(raw: Engine, table: type[Base], **where: str) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(getattr(table, column) == value)
    with raw.connect() as conn:
        return conn.scalar(query) or 0


# -- schema ------------------------------------------------------------------------------------


def test_migrate_twice_is_a_noop(store: Store, db_url: str, raw: Engine) -> None:
    store.migrate()
    with Store(db_url) as again:  # a second process starting against the same database
        again.migrate()
    with raw.connect() as conn:
        version = conn.scalar(text("SELECT version_num FROM alembic_version"))
    # The newest migration in the repository, not a literal that every new migration would break.
    assert version == ScriptDirectory.from_config(store._alembic_config()).get_current_head()


def test_migration_matches_tables(store: Store, raw: Engine) -> None:
    """tables.py and the migration must describe the same schema."""
    with raw.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_pragmas_and_parent_dir(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "dir" / "w.db"
    with Store(f"sqlite:///{db}") as s:
        s.migrate()
        assert db.exists()
        with s._engine.connect() as conn:
            assert conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert conn.scalar(text("PRAGMA foreign_keys")) == 1


def test_url_normalisation() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"


def test_dialect(store: Store, db_url: str) -> None:
    assert store.dialect == ("sqlite" if db_url.startswith("sqlite") else "postgresql")


# -- decisions ---------------------------------------------------------------------------------


def test_save_and_get_round_trip(store: Store, raw: Engine) -> None:
    decision = make_decision()
    assert store.save_decisions([decision], actor="api:client") == [decision]

    for loaded in (
        store.get_decision(decision.decision_id),
        store.get_decision_by_content_id(decision.content_id),
        store.find_decisions_by_content_ids([decision.content_id, "unknown"])[decision.content_id],
    ):
        assert loaded == decision
        # Exact, including dict key order and float digits.
        assert loaded.model_dump_json() == decision.model_dump_json()
        assert loaded.created_at.tzinfo is not None

    assert count(raw, DecisionHistoryRow, content_id=decision.content_id) == 1
    audit = store.list_audit(object_id=decision.decision_id)
    assert [a["action"] for a in audit] == ["decision.create"]
    assert audit[0]["actor"] == "api:client"
    with raw.connect() as conn:
        row = conn.execute(select(DecisionRow).where(DecisionRow.decision_id == decision.decision_id)).one()
    assert (row.action, row.flagged, row.policy_version) == ("remove", True, "default@3+abc123")
    assert row.model_versions == {"minilm": "1.0.0", "lex": "7"}


def test_unknown_ids_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.get_decision("nope")
    with pytest.raises(NotFoundError):
        store.get_decision_by_content_id("nope")
    assert store.find_decisions_by_content_ids([]) == {}


def test_batch_save_and_find(store: Store) -> None:
    batch = [make_decision(f"item-{i}", f"h{i}") for i in range(25)]
    assert store.save_decisions(batch, actor="t") == batch
    found = store.find_decisions_by_content_ids([d.content_id for d in batch])
    assert found == {d.content_id: d for d in batch}


def test_resave_same_content_returns_original(store: Store, raw: Engine) -> None:
    original = make_decision()
    store.save_decisions([original], actor="t")
    retry = make_decision(created_at=datetime(2030, 1, 1, tzinfo=UTC))  # new decision_id, same content
    assert retry.decision_id != original.decision_id

    [returned] = store.save_decisions([retry], actor="t")
    assert returned.decision_id == original.decision_id
    assert returned == original
    assert count(raw, DecisionRow) == 1
    assert count(raw, DecisionHistoryRow) == 1
    assert count(raw, AuditRow) == 1


def test_duplicate_within_one_batch(store: Store, raw: Engine) -> None:
    first, second = make_decision(), make_decision()
    saved = store.save_decisions([first, second], actor="t")
    assert [d.decision_id for d in saved] == [first.decision_id] * 2
    assert count(raw, DecisionRow) == 1
    with pytest.raises(ConflictError):
        store.save_decisions([make_decision("b"), make_decision("b", "other-hash")], actor="t")


def test_same_content_id_different_hash_conflicts(store: Store, raw: Engine) -> None:
    store.save_decisions([make_decision("post-1", "hash-1")], actor="t")
    fresh = make_decision("post-2", "hash-2")
    with pytest.raises(ConflictError, match="post-1"):
        store.save_decisions([fresh, make_decision("post-1", "hash-CHANGED")], actor="t")
    # The batch is atomic: the unrelated new item was not written either.
    assert store.find_decisions_by_content_ids(["post-2"]) == {}
    assert count(raw, DecisionRow) == 1


def test_reused_decision_id_for_other_content_conflicts(store: Store) -> None:
    first = make_decision("a")
    store.save_decisions([first], actor="t")
    with pytest.raises(ConflictError, match=first.decision_id):
        store.save_decisions([make_decision("b", decision_id=first.decision_id)], actor="t")


def test_insert_race_is_resolved_by_reread(
    store: Store, raw: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic version of the race: the pre-insert read misses a row another writer committed."""
    original = make_decision()
    store.save_decisions([original], actor="t")
    real_existing = store._existing
    calls = []

    def stale_then_real(session, decisions):  # type: ignore[no-untyped-def]
        calls.append(1)
        return [] if len(calls) == 1 else real_existing(session, decisions)

    monkeypatch.setattr(store, "_existing", stale_then_real)
    [returned] = store.save_decisions([make_decision()], actor="t")
    assert len(calls) == 2  # IntegrityError, rollback, re-read
    assert returned.decision_id == original.decision_id
    assert count(raw, DecisionRow) == 1

    calls.clear()
    with pytest.raises(ConflictError, match="post-1"):
        store.save_decisions([make_decision(content_hash="different")], actor="t")


@pytest.mark.parametrize("same_hash", [True, False])
def test_concurrent_saves_of_same_content_id(store: Store, raw: Engine, same_hash: bool) -> None:
    rounds = 10
    for i in range(rounds):
        barrier = threading.Barrier(2)
        results: list[Decision | ConflictError | None] = [None, None]
        decisions = [make_decision(f"race-{i}", "h"), make_decision(f"race-{i}", "h" if same_hash else "h2")]

        def worker(
            slot: int,
            barrier: threading.Barrier = barrier,
            decisions: list[Decision] = decisions,
            results: list[Decision | ConflictError | None] = results,
        ) -> None:
            barrier.wait()
            try:
                results[slot] = store.save_decisions([decisions[slot]], actor=f"thread-{slot}")[0]
            except ConflictError as exc:
                results[slot] = exc

        threads = [threading.Thread(target=worker, args=(slot,)) for slot in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

        assert count(raw, DecisionRow, content_id=f"race-{i}") == 1
        assert count(raw, DecisionHistoryRow, content_id=f"race-{i}") == 1
        stored = store.get_decision_by_content_id(f"race-{i}")
        if same_hash:
            assert [getattr(r, "decision_id", r) for r in results] == [stored.decision_id] * 2
        else:
            assert sorted(type(r).__name__ for r in results) == ["ConflictError", "Decision"]
    assert count(raw, DecisionRow) == rounds


# -- audit log ---------------------------------------------------------------------------------


def test_append_and_list_audit(store: Store) -> None:
    first = store.append_audit("alice", "policy.activate", "policy", "p1", {"from": "a", "to": "b"})
    second = store.append_audit("bob", "review.decide", "decision", "d1", {})
    assert second > first
    rows = store.list_audit()
    assert [r["id"] for r in rows] == [second, first]  # newest first
    assert rows[1]["detail"] == {"from": "a", "to": "b"}
    assert rows[1]["at"].tzinfo is not None
    assert [r["actor"] for r in store.list_audit(object_id="p1")] == ["alice"]
    assert len(store.list_audit(limit=1)) == 1


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"], ids=["update", "delete"]
)
def test_audit_log_is_append_only_in_the_database(store: Store, raw: Engine, statement: str) -> None:
    audit_id = store.append_audit("alice", "apikey.create", "api_key", "k", {"role": "admin"})
    with pytest.raises(DBAPIError, match="append-only"), raw.begin() as conn:
        conn.execute(text(statement))
    [row] = store.list_audit()
    assert (row["id"], row["actor"]) == (audit_id, "alice")


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_audit_log_rejects_truncate_on_postgres(store: Store, raw: Engine) -> None:
    store.append_audit("alice", "x", "y", "z", {})
    with pytest.raises(DBAPIError, match="append-only"), raw.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))
    assert len(store.list_audit()) == 1


def test_store_exposes_no_audit_mutation() -> None:
    names = {n for n in dir(Store) if "audit" in n}
    # append, read and verify, nothing else
    assert names == {"append_audit", "list_audit", "last_audit_id", "verify_audit", "audit_anchor"}


# -- API keys ----------------------------------------------------------------------------------


def test_api_key_lifecycle(store: Store, raw: Engine) -> None:
    key = store.create_api_key("ops", "admin")
    assert key.startswith("wdn_") and len(key) > 40
    assert store.verify_api_key(key) == ("ops", "admin")
    assert store.verify_api_key(key + "x") is None
    assert store.verify_api_key(key[:8] + "A" * (len(key) - 8)) is None  # same prefix, wrong secret
    assert store.verify_api_key("wdn_nope") is None
    assert store.verify_api_key("") is None

    # Only the sha256 is stored, never the plaintext.
    with raw.connect() as conn:
        stored = conn.execute(text("SELECT key_prefix, key_hash FROM api_keys")).one()
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert stored.key_prefix == key[:8]

    [listed] = store.list_api_keys()
    assert set(listed) == {"name", "key_prefix", "role", "created_at", "revoked_at"}
    assert listed["revoked_at"] is None

    assert store.api_key_active("ops", "admin", key[:8])
    assert not store.api_key_active("ops", "reviewer", key[:8])  # a role change ends derived sessions
    assert not store.api_key_active("ops", "admin", "wdn_zzzz")  # a re-issued key of the same name
    # The last active admin cannot be revoked (nobody could manage keys over the API afterwards).
    with pytest.raises(ConflictError, match="last active admin"):
        store.revoke_api_key("ops", actor="ops")
    assert store.verify_api_key(key) == ("ops", "admin")
    store.create_api_key("ops-2", "admin")
    store.revoke_api_key("ops", actor="ops-2")
    assert store.verify_api_key(key) is None
    assert not store.api_key_active("ops", "admin", key[:8])
    assert store.list_api_keys()[0]["revoked_at"] is not None
    store.revoke_api_key("ops")  # idempotent
    assert store.count_api_keys() == 2
    assert store.count_api_keys(active_only=True) == 1
    audit = store.list_audit(object_id="ops")
    assert [a["action"] for a in audit] == ["apikey.revoke", "apikey.create"]
    assert audit[0]["actor"] == "ops-2"  # who revoked it
    with pytest.raises(NotFoundError):
        store.revoke_api_key("ghost")


def test_api_key_validation(store: Store) -> None:
    assert store.count_api_keys() == 0
    reviewer = store.create_api_key("r", "reviewer")
    client = store.create_api_key("c", "client")
    assert store.verify_api_key(reviewer) == ("r", "reviewer")
    assert store.verify_api_key(client) == ("c", "client")
    with pytest.raises(ValueError, match="role"):
        store.create_api_key("x", "superuser")
    with pytest.raises(ConflictError, match="'r'"):
        store.create_api_key("r", "admin")
    assert store.count_api_keys() == 2


# -- policies ----------------------------------------------------------------------------------


def test_record_policy_is_idempotent(store: Store) -> None:
    first = store.record_policy("default", "3", "default@3+abc", "name: default\n")
    again = store.record_policy("default", "3", "default@3+abc", "name: default\n")
    assert again == first
    store.record_policy("default", "4", "default@4+def", "name: default\nversion: 4\n")
    assert [p["full_version"] for p in store.list_policies()] == ["default@3+abc", "default@4+def"]
    with pytest.raises(ConflictError):
        store.record_policy("default", "3", "default@3+abc", "tampered: true\n")
    assert [a["action"] for a in store.list_audit()] == ["policy.record", "policy.record"]
