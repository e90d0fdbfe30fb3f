"""The tamper-evident audit log (warden.store.audit_chain) on SQLite and PostgreSQL: a clean chain
verifies whoever wrote the rows; each tampering is named at its first broken link; concurrent
appends never fork the chain; anchors catch a cut tail and a rewritten history; the CLI's exit codes."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, func, insert, select, update
from test_store import make_decision
from typer.testing import CliRunner

from warden.bench import reliability_audit as tamper
from warden.bootstrap import open_store
from warden.cli import app
from warden.review.priority import Ageing
from warden.settings import AuditSettings, get_settings
from warden.store import Store
from warden.store import audit_chain as chain
from warden.store.bank_records import NewEntry
from warden.store.engine import normalize_url
from warden.store.review import NewTask
from warden.store.tables import AuditChainHeadRow, AuditRow

KEY = "test-audit-key-0123456789abcdef"


@pytest.fixture
def keyed(db_url: str) -> Iterator[Store]:
    s = Store(db_url, audit_key=KEY.encode())
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def engine(db_url: str, keyed: Store) -> Iterator[Engine]:
    """A separate engine for raw SQL: the tamperer's access, not the Store's."""
    e = create_engine(normalize_url(db_url))
    yield e
    e.dispose()


def _appeal_task(appeal_id: str, decision_id: str, content_id: str) -> NewTask:
    return NewTask(
        queue="appeals",
        content_id=content_id,
        decision_id=decision_id,
        kind="text",
        language="en",
        category="hate",
        severity="high",
        probability=0.9,
        reach=1.0,
        base_priority=1.0,
        created_at=datetime.now(UTC),
        sla_s=3600,
        reviews_required=1,
        snapshot={"text": "x"},
        created_by="test",
        appeal_id=appeal_id,
    )


def _write_through_every_path(store: Store) -> None:
    """Audit rows from each writer: bulk decisions, rescore, policy, API keys, banks, review."""
    decisions = store.save_decisions(
        [make_decision(f"c{i}", f"sha256:{i}") for i in range(40)], actor="client:ingest"
    )
    store.revise_decisions([make_decision("c0", "sha256:0", action="allow")], "system:rescore", "policy")
    store.record_policy("default", "3", "default@3+abc", "version: 3\n")
    store.create_api_key("ops", "admin")
    store.create_api_key("bot", "client")
    store.revoke_api_key("bot")
    store.banks.create_bank("known", "hate", "remove", "", actor="admin")
    store.banks.add_entries("known", [NewEntry("text", "bad words")], actor="admin")
    store.banks.update_bank("known", actor="admin", description="známé")  # non-ASCII detail
    target = decisions[1]
    store.review.create_appeal(
        "ap1",
        target.decision_id,
        target.content_id,
        "user",
        "unfair",
        target.action,
        "user",
        _appeal_task("ap1", target.decision_id, target.content_id),
        datetime.now(UTC),
    )
    now = datetime.now(UTC)
    task = store.review.lease("rev", now, 600, Ageing(), queue="appeals")
    assert task is not None
    store.review.record_label(task.id, "rev", "allow", [], "ok", "appeal", now, outcome="reverse")


def test_clean_chain_verifies_across_all_writers(keyed: Store, engine: Engine) -> None:
    _write_through_every_path(keyed)
    result = keyed.verify_audit()
    with engine.connect() as conn:
        rows = conn.scalar(select(func.count()).select_from(AuditRow))
        unchained = conn.scalar(select(func.count()).where(AuditRow.row_hash.is_(None)))
        actions = set(conn.scalars(select(AuditRow.action)))
    assert result.ok, result.describe()
    assert (result.checked, result.legacy, unchained) == (rows, 0, 0)
    expected = {"decision.create", "decision.rescore", "apikey.revoke", "bank.entries.add", "appeal.reverse"}
    assert expected <= actions
    anchor = keyed.audit_anchor()
    assert (anchor["last_id"], anchor["last_hash"]) == (result.last_id, result.last_hash)
    assert anchor["count"] == rows
    assert keyed.verify_audit(anchor).ok


def test_verify_pages_through_the_log(keyed: Store) -> None:
    tamper.populate(keyed, 11)
    for page in (1, 4, 11, 50):  # page boundaries inside, at and past the end
        result = chain.verify(keyed._sessions, chain.AuditChain(KEY.encode()), page=page)
        assert (result.ok, result.checked) == (True, 11)


@pytest.mark.parametrize("name", list(tamper.SCENARIOS))
def test_each_tampering_is_named_at_its_first_broken_link(keyed: Store, engine: Engine, name: str) -> None:
    outcome = tamper.SCENARIOS[name](keyed, engine)
    assert not outcome.result.ok
    assert (outcome.result.broken_id, outcome.result.reason) == (outcome.expected_id, outcome.expected_reason)
    assert f"id {outcome.expected_id}" in outcome.result.describe()


def test_forged_row_without_hashes_is_a_break(keyed: Store, engine: Engine) -> None:
    """A NULL-hash row after the chain started (as old code or a raw INSERT would write)."""
    outcome = tamper.forge_row(keyed, engine, copy_prev_hash=False)
    assert (outcome.result.broken_id, outcome.result.reason) == (outcome.expected_id, chain.FORGED)


def test_cut_tail_without_rewinding_the_head_shows_without_an_anchor(keyed: Store, engine: Engine) -> None:
    ids = tamper.populate(keyed, 6)
    tamper.allow(engine, "delete")
    with engine.begin() as conn:
        conn.execute(AuditRow.__table__.delete().where(AuditRow.id >= ids[4]))
    result = keyed.verify_audit()
    assert (result.ok, result.broken_id, result.reason) == (False, ids[-1], chain.HEAD_TAIL)


def _rewrite(engine: Engine, from_id: int) -> None:
    """Re-hash every row from `from_id` with the unkeyed formula and move the head: what someone
    who can compute the hash (no key) does to make an edit consistent."""
    unkeyed = chain.AuditChain(None)
    with engine.begin() as conn:
        before = select(AuditRow.row_hash).where(AuditRow.id < from_id).order_by(AuditRow.id.desc())
        prev = conn.scalar(before.limit(1)) or chain.GENESIS
        after = select(AuditRow.__table__).where(AuditRow.id >= from_id).order_by(AuditRow.id)
        rows = conn.execute(after).all()
        for row in rows:
            values = dict(row._mapping)
            new = unkeyed.row_hash(prev, values)
            conn.execute(update(AuditRow).where(AuditRow.id == row.id).values(prev_hash=prev, row_hash=new))
            prev = new
        conn.execute(update(AuditChainHeadRow).values(last_id=rows[-1].id, last_hash=prev))


def test_anchor_catches_history_rewritten_by_someone_who_can_hash(db_url: str, engine: Engine) -> None:
    """The unkeyed chain's weakness, and what the anchor adds: a consistent rewrite verifies alone."""
    with Store(db_url) as unkeyed:
        unkeyed.migrate()
        ids = tamper.populate(unkeyed, 8)
        anchor = unkeyed.audit_anchor()
        tamper.allow(engine, "update")
        with engine.begin() as conn:
            conn.execute(update(AuditRow).where(AuditRow.id == ids[3]).values(detail={"n": 999}))
        assert unkeyed.verify_audit().reason == chain.ROW_CHANGED
        _rewrite(engine, ids[3])
        assert unkeyed.verify_audit().ok  # undetectable without the key or an anchor
        result = unkeyed.verify_audit(anchor)
    assert (result.ok, result.broken_id, result.reason) == (False, ids[-1], chain.ANCHOR_MISMATCH)


def test_keyed_chain_refuses_an_unkeyed_rewrite(keyed: Store, engine: Engine) -> None:
    ids = tamper.populate(keyed, 5)
    tamper.allow(engine, "update")
    with engine.begin() as conn:
        conn.execute(update(AuditRow).where(AuditRow.id == ids[2]).values(detail={"n": 999}))
    _rewrite(engine, ids[2])
    result = keyed.verify_audit()
    assert (result.ok, result.broken_id) == (False, ids[2])


def test_wrong_key_is_reported_as_such(keyed: Store, db_url: str) -> None:
    tamper.populate(keyed, 3)
    with Store(db_url, audit_key=b"another key") as other:
        result = other.verify_audit()
    assert (result.ok, result.reason) == (False, chain.WRONG_KEY)


def _append_concurrently(stores: list[Store], threads: int = 6, each: int = 15) -> int:
    def work(i: int) -> int:
        store = stores[i % len(stores)]
        for j in range(each):
            store.append_audit(f"t{i}", "concurrent", "thing", f"{i}-{j}", {"j": j})
        store.save_decisions([make_decision(f"t{i}-{k}", f"sha256:{i}-{k}") for k in range(5)], f"t{i}")
        return each + 5

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(work, range(threads)))


def test_concurrent_appends_keep_one_chain(keyed: Store) -> None:
    written = _append_concurrently([keyed])
    result = keyed.verify_audit()
    assert (result.ok, result.checked) == (True, written), result.describe()


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_concurrent_appends_from_two_engines_keep_one_chain(keyed: Store, db_url: str) -> None:
    with Store(db_url, audit_key=KEY.encode()) as second:
        written = _append_concurrently([keyed, second], threads=8)
    result = keyed.verify_audit()
    assert (result.ok, result.checked) == (True, written), result.describe()


def test_legacy_prefix_of_unchained_rows_is_accepted(db_url: str) -> None:
    """Rows written before migration 0005 keep NULL hashes; the chain starts after them."""
    with Store(db_url, audit_key=KEY.encode()) as store:
        cfg = store._alembic_config()
        with store._engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004")
        legacy = AuditRow.__table__.c
        with store._engine.begin() as conn:
            for i in range(3):
                conn.execute(
                    insert(AuditRow.__table__).values(
                        {
                            legacy.at: datetime.now(UTC),
                            legacy.actor: "old",
                            legacy.action: "legacy",
                            legacy.object_type: "thing",
                            legacy.object_id: str(i),
                            legacy.detail: {"i": i},
                        }
                    )
                )
        store.migrate()
        assert store.verify_audit().ok  # legacy rows only
        tamper.populate(store, 4)
        result = store.verify_audit()
        assert (result.ok, result.checked, result.legacy) == (True, 7, 3), result.describe()
        assert store.verify_audit(store.audit_anchor()).ok


def _cli(*args: str, env: dict[str, str]) -> tuple[int, str]:
    get_settings.cache_clear()
    res = CliRunner().invoke(app, ["audit", *args], env=env)
    return res.exit_code, res.output


def test_cli_verify_and_anchor(keyed: Store, engine: Engine, db_url: str, tmp_path: Path) -> None:
    env = {"WARDEN_AUDIT__KEY": KEY}
    tamper.populate(keyed, 5)
    anchor_file = tmp_path / "anchor.json"
    assert _cli("anchor", "--out", str(anchor_file), "--database", db_url, env=env)[0] == 0
    assert json.loads(anchor_file.read_text())["count"] == 5
    code, out = _cli("verify", "--anchor", str(anchor_file), "--database", db_url, env=env)
    assert code == 0, out
    tamper.allow(engine, "update")
    with engine.begin() as conn:
        victim = conn.scalar(select(func.min(AuditRow.id)))
        conn.execute(update(AuditRow).where(AuditRow.id == victim).values(actor="mallory"))
    code, out = _cli("verify", "--database", db_url, env=env)
    assert code == 1
    assert f"first broken link: id {victim}: {chain.ROW_CHANGED}" in out


def test_cli_verify_without_a_key_creates_none(db_url: str, keyed: Store, tmp_path: Path) -> None:
    key_file = tmp_path / "missing.key"
    code, out = _cli("verify", "--database", db_url, env={"WARDEN_AUDIT__KEY_FILE": str(key_file)})
    assert code == 2 and "no audit key" in out
    assert not key_file.exists()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_product_keys_its_store_from_settings(db_url: str, tmp_path: Path) -> None:
    settings = get_settings().model_copy(update={"database_url": db_url})
    settings = settings.override(audit={"key_file": tmp_path / "audit.key"})
    store = open_store(settings)
    try:
        store.append_audit("a", "x", "y", "z", {})
    finally:
        store.close()
    with Store(db_url, audit_key=settings.audit.resolve_key(create=False)) as same:
        assert same.verify_audit().ok
    with Store(db_url) as unkeyed:
        assert unkeyed.verify_audit().reason == chain.WRONG_KEY


def test_key_resolution(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit.key"
    audit = AuditSettings(key_file=path)
    with pytest.raises(FileNotFoundError, match="no audit key"):
        audit.resolve_key(create=False)
    key = audit.resolve_key()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 64 and audit.resolve_key() == key  # created once, then read
    assert [p.name for p in path.parent.iterdir()] == ["audit.key"]  # no temporary file left
    assert AuditSettings(key=SecretStr(" s3cret\n"), key_file=path).resolve_key() == b"s3cret"
    with pytest.raises(ValueError, match="empty"):
        AuditSettings(key=SecretStr(" ")).resolve_key()


def test_bench_measure_detects_all_four(tmp_path: Path) -> None:
    assert tamper.measure(tmp_path) == {"audit_tampering_detected": 4}
