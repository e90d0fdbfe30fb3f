"""Bank storage on SQLite and on the real PostgreSQL server: entries, duplicates, soft deletes,
the audit trail, and a matcher kept in step by incremental refreshes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from warden.banks.matcher import BankMatcher
from warden.banks.model import NewEntry
from warden.banks.signal_types import Fingerprint
from warden.errors import ConflictError, NotFoundError
from warden.store import Store
from warden.store.testing import database_url_or_skip, drop_test_database

PDQ = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"
NEAR = "d8f8f0cee0f4a84f0637022a038f67f0b36e2ed596631e1d33e6339c4e9c9b22"  # 2 bits away


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = database_url_or_skip(request.param, tmp_path)
    st = Store(url)
    st.migrate()
    try:
        yield st
    finally:
        st.close()
        drop_test_database(url)


def test_entries_duplicates_soft_delete_and_audit(store: Store) -> None:
    repo = store.banks
    repo.create_bank("b1", "hate", "remove", "test bank", actor="alice")
    with pytest.raises(ConflictError):
        repo.create_bank("b1", "hate", "remove", "", actor="alice")
    result = repo.add_entries(
        "b1", [NewEntry("pdq", PDQ, 100), NewEntry("pdq", PDQ), NewEntry("md5", "0" * 32)], "alice"
    )
    assert [e.signal_type for e in result.added] == ["pdq", "md5"]
    assert result.duplicates == [
        {"index": 1, "signal_type": "pdq", "existing_id": None, "duplicate_of_index": 0}
    ]
    again = repo.add_entries("b1", [NewEntry("pdq", PDQ)], "bob")
    assert again.added == [] and again.duplicates[0]["existing_id"] == result.added[0].id
    entry_id = result.added[0].id
    assert repo.set_entry("b1", entry_id, "bob", enabled=False, note="false positive").enabled is False
    assert repo.get_bank("b1").entries == 1
    repo.delete_entry("b1", result.added[1].id, "bob")
    entries, total = repo.list_entries("b1")
    assert total == 1 and entries[0].id == entry_id
    with pytest.raises(NotFoundError):
        repo.set_entry("b1", result.added[1].id, "bob", enabled=True)  # deleted entries are gone
    actions = [row["action"] for row in store.list_audit(object_id="b1")]
    assert actions == [
        "bank.entry.delete",
        "bank.entry.update",
        "bank.entries.add",
        "bank.entries.add",
        "bank.create",
    ]
    assert repo.delete_bank("b1", "alice") == 2
    with pytest.raises(NotFoundError):
        repo.get_bank("b1")


def test_matcher_follows_changes_through_refresh(store: Store) -> None:
    repo = store.banks
    repo.create_bank("photos", "sexual", "remove", "", actor="t")
    matcher = BankMatcher().load(repo)
    query = [{"pdq": [Fingerprint(NEAR, 100)]}]
    assert matcher.match(query) == [[]]
    added = repo.add_entries("photos", [NewEntry("pdq", PDQ, 100)], "t").added[0]  # by "another process"
    assert matcher.refresh(repo) == 1
    [match] = matcher.match(query)[0]
    assert (match.bank, match.entry_id, match.distance, match.category) == ("photos", added.id, 2.0, "sexual")
    assert matcher.match([{"pdq": [Fingerprint(NEAR, 10)]}]) == [[]]  # low-quality queries never match
    repo.set_entry("photos", added.id, "t", enabled=False)
    matcher.refresh(repo)
    assert matcher.match(query) == [[]]
    repo.set_entry("photos", added.id, "t", enabled=True)
    matcher.refresh(repo)
    assert len(matcher.match(query)[0]) == 1
    repo.delete_bank("photos", "t")
    matcher.refresh(repo)
    assert matcher.match(query) == [[]]
    # iter_entries(changed_since=...) reads only recent changes.
    repo.create_bank("later", "hate", "review", "", actor="t")
    repo.add_entries("later", [NewEntry("md5", "1" * 32)], "t")
    assert len(list(repo.iter_entries(changed_since=datetime.now(UTC) + timedelta(minutes=1)))) == 0
    assert len(list(repo.iter_entries(changed_since=datetime.now(UTC) - timedelta(minutes=1)))) == 1
