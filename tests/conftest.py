"""Fixtures shared by the test modules that run against a real database (SQLite, and PostgreSQL
when marked `postgres`): `db_url` (a throw-away database), `store` (migrated) and `raw`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from warden.store import Store
from warden.store.engine import normalize_url
from warden.store.testing import database_url_or_skip, drop_test_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
def _no_settings_leak() -> Iterator[None]:
    """A test that runs the CLI with its own environment caches `get_settings()` for the process;
    the next test on the same worker must not inherit it (e.g. banks switched off)."""
    from warden.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = database_url_or_skip(request.param, tmp_path)
    yield url
    drop_test_database(url)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def raw(db_url: str, store: Store) -> Iterator[Engine]:
    """A separate engine for raw SQL, so checks do not go through the Store under test."""
    engine = create_engine(normalize_url(db_url))
    yield engine
    engine.dispose()
