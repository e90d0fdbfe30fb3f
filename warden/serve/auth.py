"""API-key authentication and role checks.

Keys are sent as `Authorization: Bearer <key>` (what OpenAI clients send) or `X-API-Key: <key>`.
Roles: `client` (moderate), `reviewer` (read decisions), `admin` (everything, including keys).
Every /v1 endpoint declares its roles with `Depends(require_roles(...))`; admin passes all.

`auth_enabled = false` turns every check off and attributes all actions to "anonymous".
It is for local development only: never expose such a server.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import make_url

from ..errors import ConflictError
from ..store import Store
from .errors import ApiError

log = logging.getLogger("warden.serve.auth")

ROLE_NAMES = ("client", "reviewer", "admin")
BOOTSTRAP_KEY_NAME = "bootstrap-admin"
BOOTSTRAP_KEY_FILE = "bootstrap-admin.key"
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="warden"'}

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="ApiKeyHeader", description="A Warden API key."
)
bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="BearerKey", description="A Warden API key as a bearer token."
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name and role, and the actor string written to the audit log."""

    name: str
    role: str
    actor: str


ANONYMOUS = Principal(name="anonymous", role="admin", actor="anonymous")


def require_roles(*roles: str, query_key: bool = False) -> Callable[..., Principal]:
    """A FastAPI dependency that authenticates the caller and checks its role (admin always passes).

    `query_key`: also accept `?key=<key>`, as Google API clients send it (the Perspective-compatible
    routes only: a key in a URL ends up in access logs, so nothing else takes it there)."""
    unknown = set(roles) - set(ROLE_NAMES)
    if not roles or unknown:
        raise ValueError(f"require_roles needs roles from {ROLE_NAMES}, got {roles!r}")
    allowed = frozenset(roles) | {"admin"}
    needed = ", ".join(r for r in ROLE_NAMES if r in allowed)

    # A plain (sync) function: FastAPI runs it in the thread pool, so the key lookup's
    # database read never blocks the event loop.
    def check_api_key(
        request: Request,
        x_api_key: str | None = Security(api_key_header),
        bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
    ) -> Principal:
        state = request.app.state.warden
        if not state.settings.auth_enabled:
            return ANONYMOUS
        key = (x_api_key or (bearer.credentials if bearer else "") or "").strip()
        if not key and query_key:
            key = (request.query_params.get("key") or "").strip()
        if not key:
            raise ApiError(
                401,
                "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers=WWW_AUTHENTICATE,
            )
        found = state.store.verify_api_key(key)
        if found is None:
            raise ApiError(401, "invalid or revoked API key", headers=WWW_AUTHENTICATE)
        name, role = found
        if role not in allowed:
            raise ApiError(403, f"API key {name!r} has role {role!r}; this endpoint needs one of: {needed}")
        return Principal(name=name, role=role, actor=f"apikey:{name}")

    check_api_key.__name__ = f"require_{'_or_'.join(roles)}"
    return check_api_key


def bootstrap_key_path(database_url: str) -> Path:
    """Next to the SQLite database file, else in `.warden/` (Postgres, in-memory SQLite)."""
    url = make_url(database_url)
    database = url.database or ""
    if (
        url.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
        and url.query.get("mode") != "memory"
    ):
        return Path(database).expanduser().resolve().parent / BOOTSTRAP_KEY_FILE
    return Path(".warden") / BOOTSTRAP_KEY_FILE


def _write_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        # The mode given to open() is ignored for an existing file; make sure it is private.
        os.fchmod(handle.fileno(), 0o600)
        handle.write(secret + "\n")


def ensure_bootstrap_admin(store: Store, database_url: str, stream: TextIO | None = None) -> Path | None:
    """On a fresh install (no keys at all), create the first admin key and hand it to the operator.

    Returns the file the key was written to, or None when keys already exist.
    """
    if store.count_api_keys() > 0:
        return None
    try:
        key = store.create_api_key(BOOTSTRAP_KEY_NAME, "admin", actor="system:bootstrap")
    except ConflictError:  # another worker starting at the same time won the race
        return None
    path = bootstrap_key_path(database_url)
    try:
        _write_secret(path, key)
        saved = f"It is also saved in {path} (mode 0600)."
    except OSError as exc:
        log.warning("could not write the bootstrap admin key to %s: %s", path, exc)
        saved = f"It could NOT be saved to {path} ({exc}): copy it now."
    bar = "=" * 78
    print(
        f"\n{bar}\n"
        "Warden: no API keys existed, so an admin key named 'bootstrap-admin' was created.\n"
        "It is shown only this once:\n\n"
        f"    {key}\n\n"
        f"{saved}\n"
        "Use it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'. Create your own keys with\n"
        "POST /v1/admin/api-keys, then delete the file and revoke this key\n"
        "(DELETE /v1/admin/api-keys/bootstrap-admin) once you hold another admin key.\n"
        f"{bar}\n",
        file=stream or sys.stderr,
        flush=True,
    )
    return path
