"""Backends of the LLM judge: in-process llama.cpp, or any OpenAI-compatible server."""

from __future__ import annotations

from ..config import JudgeSettings
from .base import BackendError, BackendUnavailable, Completion, CountingBackend, JudgeBackend, Messages
from .llamacpp import LlamaCppBackend, default_model_path
from .openai import OpenAICompatibleBackend

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "Completion",
    "CountingBackend",
    "JudgeBackend",
    "LlamaCppBackend",
    "Messages",
    "OpenAICompatibleBackend",
    "backend_from_settings",
    "default_model_path",
]


def backend_from_settings(settings: JudgeSettings) -> JudgeBackend:
    """The backend `settings.backend` names, configured (not yet loaded)."""
    if settings.backend == "llama_cpp":
        return LlamaCppBackend(
            model_path=settings.model_path,
            n_threads=settings.n_threads,
            n_ctx=settings.n_ctx,
            temperature=settings.temperature,
            seed=settings.seed,
            repeat_penalty=settings.repeat_penalty,
        )
    return OpenAICompatibleBackend(
        base_url=settings.base_url,
        model=settings.model,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        timeout_s=settings.timeout_s,
        retries=settings.retries,
        backoff_s=settings.backoff_s,
        max_concurrency=settings.max_concurrency,
        temperature=settings.temperature,
        seed=settings.seed,
        response_format=settings.response_format,
    )
