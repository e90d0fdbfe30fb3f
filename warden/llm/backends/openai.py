"""Any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, hosted APIs).

POST `{base_url}/v1/chat/completions` with the schema as `response_format`: the OpenAI
`json_schema` form, or llama-cpp-python's `{"type": "json_object", "schema": ...}`; `auto`
starts with `json_schema` and switches for good when the server rejects it (a 400/422, or
any error naming `response_format`).
Timeouts, connection errors, 429 and 5xx are retried with exponential backoff; a
semaphore bounds the requests in flight.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from .base import BackendError, BackendUnavailable, Completion, JudgeBackend, Messages

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 30.0


def _root(base_url: str) -> str:
    root = base_url.rstrip("/")
    return root.removesuffix("/v1")


class OpenAICompatibleBackend(JudgeBackend):
    def __init__(
        self,
        base_url: str,
        model: str = "",
        api_key: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        max_concurrency: int = 2,
        temperature: float = 0.0,
        seed: int = 0,
        response_format: str = "auto",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if response_format not in ("auto", "json_schema", "json_object"):
            raise ValueError(
                f"response_format must be auto, json_schema or json_object, not {response_format!r}"
            )
        self.base_url = _root(base_url)
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_concurrency = max_concurrency
        self.temperature = temperature
        self.seed = seed
        self.response_format = response_format
        self._transport = transport
        self._client: httpx.Client | None = None
        self._semaphore = threading.BoundedSemaphore(max_concurrency)
        self._lock = threading.Lock()
        self.attempts = 0  # HTTP requests sent, retries included

    @property
    def model_id(self) -> str:
        return f"openai:{self.model or self.base_url}"

    def load(self) -> None:
        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                self._client = httpx.Client(
                    base_url=self.base_url,
                    headers=headers,
                    timeout=httpx.Timeout(self.timeout_s),
                    transport=self._transport,
                    limits=httpx.Limits(max_connections=self.max_concurrency),
                )

    def _format(self, schema: dict[str, Any], style: str) -> dict[str, Any]:
        if style == "json_object":
            return {"type": "json_object", "schema": schema}
        return {
            "type": "json_schema",
            "json_schema": {"name": "warden_verdict", "schema": schema, "strict": True},
        }

    def _body(
        self, messages: Messages, schema: dict[str, Any], max_tokens: int, style: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": max_tokens,
            "seed": self.seed,
            "response_format": self._format(schema, style),
        }
        if self.model:
            body["model"] = self.model
        return body

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            retry_after = response.headers.get("retry-after")
            if retry_after is not None:
                try:
                    return min(MAX_RETRY_AFTER_S, max(0.0, float(retry_after)))
                except ValueError:
                    pass
        return self.backoff_s * (2**attempt)

    def complete(self, messages: Messages, schema: dict[str, Any], max_tokens: int) -> Completion:
        self.load()
        assert self._client is not None
        url = "/v1/chat/completions"
        with self._semaphore:
            started = time.perf_counter()
            auto = self.response_format == "auto"
            style = "json_schema" if auto else self.response_format
            attempt = 0
            last_error = ""
            while True:
                response: httpx.Response | None = None
                with self._lock:
                    self.attempts += 1
                try:
                    response = self._client.post(url, json=self._body(messages, schema, max_tokens, style))
                except httpx.TimeoutException as exc:
                    last_error = f"timed out after {self.timeout_s:g} s ({type(exc).__name__})"
                except httpx.TransportError as exc:
                    last_error = f"cannot reach {self.base_url}: {exc}"
                else:
                    if response.status_code == 200:
                        return self._completion(response, time.perf_counter() - started)
                    detail = response.text[:300]
                    if (
                        auto
                        and style == "json_schema"
                        and (response.status_code in (400, 422) or "response_format" in detail)
                    ):
                        # The server does not know the OpenAI json_schema form: use json_object + schema
                        # (llama-cpp-python's server answers HTTP 500 to a response_format it rejects).
                        style = "json_object"
                        self.response_format = "json_object"
                        continue
                    if response.status_code not in RETRY_STATUS:
                        raise BackendError(
                            f"{self.base_url}{url} answered HTTP {response.status_code}: {detail}"
                        )
                    last_error = f"HTTP {response.status_code}: {detail}"
                if attempt >= self.retries:
                    break
                time.sleep(self._delay(attempt, response))
                attempt += 1
        message = f"judge request to {self.base_url}{url} failed after {attempt + 1} attempt(s): {last_error}"
        if last_error.startswith("cannot reach"):
            raise BackendUnavailable(message)
        raise BackendError(message)

    def _completion(self, response: httpx.Response, elapsed: float) -> Completion:
        try:
            data = response.json()
            text = data["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"{self.base_url} sent no chat completion: {response.text[:300]!r}") from exc
        return Completion.from_usage(text, data.get("usage"), elapsed)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
