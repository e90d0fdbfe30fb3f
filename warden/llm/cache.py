"""Cache of judge answers keyed by (content hash, policy version, model id, categories).

An in-process LRU, optionally backed by a SQLite file (e.g. `.cache/llm_judge.sqlite`) so
answers survive restarts. The cached value is the model's raw JSON answer; verification is
cheap and deterministic and is redone on every hit.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from .prompt import PROMPT_VERSION


def cache_key(content_hash: str, policy_version: str, model_id: str, categories: Sequence[str]) -> str:
    payload = json.dumps(
        [content_hash, policy_version, model_id, list(categories), PROMPT_VERSION], ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JudgeCache:
    """Thread-safe LRU of `key -> answer`; `path` adds a SQLite file behind it."""

    def __init__(self, max_entries: int = 10_000, path: str | Path | None = None) -> None:
        self.max_entries = max_entries
        self.path = Path(path) if path is not None else None
        self._lru: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0

    def _conn(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS judge_cache (key TEXT PRIMARY KEY, answer TEXT NOT NULL, "
                "created REAL NOT NULL)"
            )
        return self._db

    def get(self, key: str) -> str | None:
        with self._lock:
            answer = self._lru.get(key)
            if answer is not None:
                self._lru.move_to_end(key)
            else:
                db = self._conn()
                if db is not None:
                    row = db.execute("SELECT answer FROM judge_cache WHERE key = ?", (key,)).fetchone()
                    if row is not None:
                        answer = str(row[0])
                        self._remember(key, answer)
            if answer is None:
                self.misses += 1
            else:
                self.hits += 1
            return answer

    def put(self, key: str, answer: str) -> None:
        with self._lock:
            self._remember(key, answer)
            db = self._conn()
            if db is not None:
                db.execute(
                    "INSERT OR REPLACE INTO judge_cache (key, answer, created) VALUES (?, ?, ?)",
                    (key, answer, time.time()),
                )

    def _remember(self, key: str, answer: str) -> None:
        if self.max_entries <= 0:
            return
        self._lru[key] = answer
        self._lru.move_to_end(key)
        while len(self._lru) > self.max_entries:
            self._lru.popitem(last=False)

    def __len__(self) -> int:
        return len(self._lru)

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()
            db = self._conn()
            if db is not None:
                db.execute("DELETE FROM judge_cache")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
