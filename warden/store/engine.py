"""Engine construction shared by `Store` and the Alembic env, so both get the same pragmas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.pool import StaticPool

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; bare postgres URLs are pinned to psycopg 3 (the only driver we ship)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and (
        url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
    )


def ensure_sqlite_dir(url: URL) -> None:
    """SQLite will not create missing directories, and the default lives in `.warden/`."""
    if url.get_backend_name() != "sqlite" or is_sqlite_memory(url) or not url.database:
        return
    if url.database.startswith("file:"):  # URI filenames: leave the path to the user
        return
    Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers proceed while one writer commits; SQLite ships with FKs off.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def make_engine(url: str | URL) -> Engine:
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pre_ping drops connections the server closed while the pool held them.
        return create_engine(parsed, pool_pre_ping=True)
    ensure_sqlite_dir(parsed)
    # A generous busy timeout: concurrent writers queue on SQLite's single write lock.
    connect_args: dict[str, Any] = {"timeout": 30}
    kwargs: dict[str, Any] = {}
    if is_sqlite_memory(parsed):
        # One shared connection, otherwise every pooled connection would see its own empty database.
        connect_args["check_same_thread"] = False
        kwargs["poolclass"] = StaticPool
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine
