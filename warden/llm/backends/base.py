"""The one seam for running the judge's model: messages + JSON schema in, JSON text out."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ...errors import WardenError

Messages = list[dict[str, str]]


class BackendError(WardenError):
    """A model call failed (after retries where they apply)."""


class BackendUnavailable(BackendError):
    """The model file, the package or the server is missing: a configuration problem."""


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    @classmethod
    def from_usage(cls, text: str, usage: dict[str, Any] | None, latency_s: float) -> Completion:
        """From an OpenAI-style `usage` block (llama-cpp-python and servers report the same one)."""
        usage = usage or {}
        return cls(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            latency_s=latency_s,
        )


class JudgeBackend(ABC):
    """Runs chat completions whose output is constrained to a JSON schema.

    Constructors only store configuration; `load()` opens the model or the connection.
    `complete` is thread-safe and honours `max_concurrency`.
    """

    max_concurrency: int = 1

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Names the model (part of the cache key and of the detector's identity)."""

    def load(self) -> None:  # noqa: B027 - optional hook
        """Open the model or the client. Idempotent."""

    @abstractmethod
    def complete(self, messages: Messages, schema: dict[str, Any], max_tokens: int) -> Completion:
        """One chat completion whose text is JSON matching `schema`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model or the client."""


class CountingBackend(JudgeBackend):
    """Wraps a real backend and counts its calls and tokens (metrics, cache tests)."""

    def __init__(self, inner: JudgeBackend) -> None:
        self.inner = inner
        self.max_concurrency = inner.max_concurrency
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.seconds = 0.0
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    def load(self) -> None:
        self.inner.load()

    def complete(self, messages: Messages, schema: dict[str, Any], max_tokens: int) -> Completion:
        out = self.inner.complete(messages, schema, max_tokens)
        with self._lock:
            self.calls += 1
            self.prompt_tokens += out.prompt_tokens
            self.completion_tokens += out.completion_tokens
            self.seconds += out.latency_s
        return out

    def close(self) -> None:
        self.inner.close()
