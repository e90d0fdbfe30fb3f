"""Throw-away databases for tests, shared by every test module that needs a real backend.

    url = database_url_or_skip("postgres")   # or "sqlite", directory=tmp_path
    ...
    drop_test_database(url)

Postgres: a fresh database with a random name on the server at WARDEN_TEST_POSTGRES_URL
(default postgresql+psycopg://postgres@127.0.0.1:5432/postgres, trust auth).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from sqlalchemy import URL, make_url

from .engine import normalize_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
POSTGRES_UNAVAILABLE = "PostgreSQL not reachable on 127.0.0.1:5432 (set WARDEN_TEST_POSTGRES_URL or start it)"
# Only databases carrying this prefix are ever dropped, so a mistyped URL cannot destroy real data.
TEST_DB_PREFIX = "warden_test_"


class ServiceUnavailable(RuntimeError):
    """The database server needed for a test backend cannot be reached."""


def postgres_server_url() -> URL:
    return normalize_url(os.environ.get("WARDEN_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL)


def _libpq(url: URL) -> str:
    """psycopg wants a libpq URI, not SQLAlchemy's driver-qualified scheme."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _admin_execute(server: URL, statement_template: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    try:
        # autocommit: CREATE/DROP DATABASE cannot run inside a transaction block.
        with psycopg.connect(_libpq(server), autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql.SQL(statement_template).format(sql.Identifier(database)))
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable(f"{POSTGRES_UNAVAILABLE}: {exc}") from exc


def make_test_database_url(kind: str, directory: Path | None = None) -> str:
    """A URL for an empty database of `kind` ('sqlite' or 'postgres'); not yet migrated."""
    if kind == "sqlite":
        directory = directory or Path(tempfile.mkdtemp(prefix="warden-test-"))
        return f"sqlite:///{directory / 'warden.db'}"
    if kind == "postgres":
        server = postgres_server_url()
        name = TEST_DB_PREFIX + secrets.token_hex(6)
        _admin_execute(server, "CREATE DATABASE {}", name)
        return server.set(database=name).render_as_string(hide_password=False)
    raise ValueError(f"unknown test database kind {kind!r} (expected 'sqlite' or 'postgres')")


def drop_test_database(url: str) -> None:
    """Remove a database made by make_test_database_url. Close Stores/engines using it first."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(parsed.database + suffix).unlink(missing_ok=True)
            parent = Path(parsed.database).parent
            if parent.name.startswith("warden-test-") and not any(parent.iterdir()):
                parent.rmdir()  # the mkdtemp() directory made above
        return
    name = parsed.database or ""
    if not name.startswith(TEST_DB_PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a test database")
    admin = normalize_url(parsed).set(database=postgres_server_url().database or "postgres")
    # FORCE (PostgreSQL 13+) ends connections a failed test may have leaked.
    _admin_execute(admin, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


def database_url_or_skip(kind: str, directory: Path | None = None) -> str:
    """make_test_database_url for use in fixtures: skips when the server is down, or fails when
    WARDEN_REQUIRE_SERVICES=1 (CI) so a missing service cannot pass as green."""
    import pytest

    try:
        return make_test_database_url(kind, directory)
    except ServiceUnavailable as exc:
        if os.environ.get("WARDEN_REQUIRE_SERVICES") == "1":
            pytest.fail(f"WARDEN_REQUIRE_SERVICES=1 but {exc}", pytrace=False)
        pytest.skip(POSTGRES_UNAVAILABLE)
