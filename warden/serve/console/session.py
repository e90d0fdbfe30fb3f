"""Console sessions: an HMAC-signed cookie that names the signed-in API key, plus CSRF tokens.

The cookie holds no secret of the reviewer's (never the API key): only the key's name, role, an
expiry and the session's CSRF token, signed with a server secret. Every request re-checks in the
store that the key is still active, so revoking a key also ends its console sessions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

SESSION_COOKIE = "warden_console"
LOGIN_COOKIE = "warden_console_login"
SESSION_TTL_S = 8 * 3600  # one working shift
LOGIN_TTL_S = 15 * 60
CONSOLE_ROLES = frozenset({"reviewer", "admin"})


@dataclass(frozen=True)
class ConsoleSession:
    name: str  # the API key's name
    role: str
    key_prefix: str
    csrf: str
    expires_at: float

    @property
    def actor(self) -> str:
        return actor_for(self.name, self.key_prefix)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def actor_for(name: str, key_prefix: str) -> str:
    """The same actor string the HTTP API writes, so the audit log names one identity per key
    ("anonymous" when auth is disabled: such sessions carry no key prefix)."""
    return f"apikey:{name}" if key_prefix else "anonymous"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs small JSON payloads as `payload.signature` (HMAC-SHA256), each with a purpose so a
    token minted for one cookie can never be replayed as another."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the console signing secret must be at least 32 bytes")
        self._secret = secret

    def _mac(self, purpose: str, body: str) -> str:
        digest = hmac.new(self._secret, f"{purpose}\x00{body}".encode(), hashlib.sha256).digest()
        return _b64(digest)

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def unsign(self, purpose: str, token: str | None, now: float | None = None) -> dict[str, Any] | None:
        """The payload when the signature is valid and `exp` is in the future, else None."""
        if not token or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(payload, dict):
            return None
        expires = payload.get("exp")
        if not isinstance(expires, int | float) or expires <= (time.time() if now is None else now):
            return None
        return payload

    # -- the two cookies --------------------------------------------------------------------------

    def session_cookie(self, name: str, role: str, key_prefix: str, ttl_s: int = SESSION_TTL_S) -> str:
        payload = {
            "n": name,
            "r": role,
            "p": key_prefix,
            "c": secrets.token_urlsafe(24),
            "exp": int(time.time()) + ttl_s,
        }
        return self.sign("session", payload)

    def read_session(self, token: str | None) -> ConsoleSession | None:
        payload = self.unsign("session", token)
        if payload is None:
            return None
        try:
            return ConsoleSession(
                name=str(payload["n"]),
                role=str(payload["r"]),
                key_prefix=str(payload["p"]),
                csrf=str(payload["c"]),
                expires_at=float(payload["exp"]),
            )
        except KeyError:
            return None

    def login_token(self) -> tuple[str, str]:
        """(cookie value, form nonce) for the sign-in form: the double-submit guard against login CSRF,
        needed because there is no session yet for the token to live in."""
        nonce = secrets.token_urlsafe(24)
        return self.sign("login", {"nonce": nonce, "exp": int(time.time()) + LOGIN_TTL_S}), nonce

    def check_login(self, cookie: str | None, nonce: str) -> bool:
        payload = self.unsign("login", cookie)
        return payload is not None and hmac.compare_digest(str(payload.get("nonce", "")), nonce)


def csrf_ok(session: ConsoleSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf, submitted or "")
