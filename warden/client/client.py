"""The Python client of Warden's HTTP API, sync (`WardenClient`) and async (`AsyncWardenClient`).

    from warden.client import WardenClient

    with WardenClient("http://127.0.0.1:8000", api_key="wdn_...") as warden:
        decision = warden.moderate({"id": "c-1", "text": "you people are animals"})
        result = warden.moderate_batch(items)           # split under the server's limits, in order
        warden.upload("post-9", ["meme.jpg"], text="look")

Responses are the server's own models (`Decision`, `ReviewTask`, `Appeal`, ...). Requests that
fail with 429, 502, 503 or 504, or with a dropped connection on an idempotent call, are retried
with exponential backoff, waiting at least what the server's `Retry-After` says. Any other error
raises `WardenAPIError` with the server's status, error type and message.

Every call is described once (`_Calls`: method, path, body, how to read the answer); the two
clients only differ in how they send it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from ..content import Content
from ..decision import Decision
from ..serve.schemas import DecisionsResponse, ItemError
from ..store.bank_records import Bank
from ..store.review_records import Appeal, ReviewLabel, ReviewTask

T = TypeVar("T")
ItemLike = Content | Mapping[str, Any]
FileLike = str | Path | tuple[str, bytes, str]

# The server's default limits (settings.limits): batches are split to stay under both.
DEFAULT_MAX_BATCH_ITEMS = 1_000
DEFAULT_MAX_REQUEST_BYTES = 10 * 1024 * 1024
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class WardenAPIError(Exception):
    """The server refused a request: `status`, the error envelope's `type`, `message`, `details`."""

    def __init__(self, status: int, type: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(f"{status} {type}: {message}")
        self.status, self.type, self.message, self.details = status, type, message, details or []

    @classmethod
    def from_response(cls, response: httpx.Response) -> WardenAPIError:
        try:
            error = response.json().get("error", {})
        except (ValueError, AttributeError):
            error = {}
        return cls(
            response.status_code,
            str(error.get("type", "http_error")),
            str(error.get("message") or response.text[:300] or response.reason_phrase),
            error.get("details"),
        )


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; waits backoff_s * 2**n (with jitter, capped), or Retry-After if longer."""

    attempts: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        wait = min(self.max_backoff_s, self.backoff_s * 2**attempt) * (0.5 + random.random() / 2)
        header = response.headers.get("retry-after") if response is not None else None
        if header:
            with contextlib.suppress(ValueError):  # an HTTP date: keep our own backoff
                wait = max(wait, min(float(header), self.max_backoff_s))
        return wait


@dataclass
class BatchResult:
    """`decisions` in input order for the items that got one; `errors` for those refused (their
    `index` is the position in the whole input, not in the request that carried them)."""

    decisions: list[Decision] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


@dataclass(frozen=True)
class _Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: Any = None
    params: Mapping[str, Any] | None = None
    data: Mapping[str, str] | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    idempotent: bool = False  # safe to resend after a dropped connection


def _model(model: type[BaseModel]) -> Callable[[httpx.Response], Any]:
    return lambda r: model.model_validate_json(r.content)


def _list(model: type[T]) -> Callable[[httpx.Response], list[T]]:
    adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
    return lambda r: adapter.validate_json(r.content)


def _json(r: httpx.Response) -> Any:
    return r.json()


def _item_json(item: ItemLike) -> dict[str, Any]:
    content = item if isinstance(item, Content) else Content.model_validate(dict(item))
    return content.model_dump(mode="json", exclude_defaults=True)


def _chunks(
    bodies: list[dict[str, Any]], max_items: int, max_bytes: int
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(offset, items) runs of at most `max_items` items and about `max_bytes` of JSON each."""
    start, size = 0, 0
    chunk: list[dict[str, Any]] = []
    budget = max_bytes - 1024  # the envelope {"items": [...]} and separators
    for index, body in enumerate(bodies):
        cost = len(json.dumps(body, ensure_ascii=False).encode()) + 2
        if cost > budget:
            raise ValueError(
                f"item {index} ({body.get('id')!r}) alone is {cost} bytes, over the request limit"
            )
        if chunk and (len(chunk) >= max_items or size + cost > budget):
            yield start, chunk
            start, size, chunk = index, 0, []
        chunk.append(body)
        size += cost
    if chunk:
        yield start, chunk


def _file(spec: FileLike) -> tuple[str, bytes, str]:
    if isinstance(spec, tuple):
        return spec
    path = Path(spec)
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return path.name, path.read_bytes(), content_type


class _Calls:
    """What each API call sends and how its answer is read; shared by both clients."""

    @staticmethod
    def moderate(items: list[dict[str, Any]]) -> _Call[DecisionsResponse]:
        body = items[0] if len(items) == 1 else {"items": items}
        return _Call("POST", "/v1/moderate", _model(DecisionsResponse), json=body, idempotent=True)

    @staticmethod
    def upload(
        content_id: str,
        files: Sequence[FileLike],
        text: str,
        kind: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> _Call[DecisionsResponse]:
        data = {"id": content_id, "text": text}
        if kind:
            data["kind"] = kind
        if metadata:
            data["metadata"] = json.dumps(dict(metadata))
        parts = [("files", _file(f)) for f in files]
        return _Call(
            "POST", "/v1/moderate/upload", _model(DecisionsResponse), data=data, files=parts, idempotent=True
        )

    @staticmethod
    def get_decision(decision_id: str) -> _Call[Decision]:
        return _Call("GET", f"/v1/decisions/{decision_id}", _model(Decision), idempotent=True)

    @staticmethod
    def find_decision(content_id: str) -> _Call[Decision]:
        return _Call(
            "GET", "/v1/decisions", _model(Decision), params={"content_id": content_id}, idempotent=True
        )

    @staticmethod
    def lease(queue: str | None, category: str | None, language: str | None) -> _Call[ReviewTask | None]:
        body = {k: v for k, v in {"queue": queue, "category": category, "language": language}.items() if v}

        def parse(r: httpx.Response) -> ReviewTask | None:
            task = r.json().get("task")
            return ReviewTask.model_validate(task) if task else None

        return _Call("POST", "/v1/review/lease", parse, json=body)

    @staticmethod
    def decide(task_id: str, action: str, categories: Sequence[str], note: str) -> _Call[ReviewLabel]:
        body = {"action": action, "categories": list(categories), "note": note}
        return _Call("POST", f"/v1/review/tasks/{task_id}/decision", _model(ReviewLabel), json=body)

    @staticmethod
    def release(task_id: str) -> _Call[Any]:
        return _Call("POST", f"/v1/review/tasks/{task_id}/release", _json)

    @staticmethod
    def appeal(decision_id: str, appellant: str, reason: str, content: ItemLike | None) -> _Call[Appeal]:
        body: dict[str, Any] = {"decision_id": decision_id, "appellant": appellant, "reason": reason}
        if content is not None:
            body["content"] = _item_json(content)
        return _Call("POST", "/v1/appeals", _model(Appeal), json=body)

    @staticmethod
    def get_appeal(appeal_id: str) -> _Call[Appeal]:
        return _Call("GET", f"/v1/appeals/{appeal_id}", _model(Appeal), idempotent=True)

    @staticmethod
    def create_bank(name: str, category: str, action: str, description: str) -> _Call[Bank]:
        body = {"name": name, "category": category, "action": action, "description": description}
        return _Call("POST", "/v1/banks", _model(Bank), json=body)

    @staticmethod
    def list_banks() -> _Call[list[Bank]]:
        return _Call("GET", "/v1/banks", _list(Bank), idempotent=True)

    @staticmethod
    def add_bank_entries(name: str, entries: Sequence[Mapping[str, Any]]) -> _Call[Any]:
        return _Call("POST", f"/v1/banks/{name}/entries", _json, json={"entries": [dict(e) for e in entries]})

    @staticmethod
    def match(text: str | None, hashes: Mapping[str, Sequence[str]] | None) -> _Call[Any]:
        body: dict[str, Any] = {}
        if text:
            body["text"] = text
        if hashes:
            body["hashes"] = {k: list(v) for k, v in hashes.items()}
        return _Call("POST", "/v1/match", _json, json=body, idempotent=True)


def _only_decision(response: DecisionsResponse) -> Decision:
    """The one item's decision, or its refusal (e.g. its media) as WardenAPIError."""
    if not response.decisions:
        error = response.errors[0]
        raise WardenAPIError(error.status, error.type, error.message)
    return response.decisions[0]


def _merge(results: Iterable[tuple[int, DecisionsResponse]]) -> BatchResult:
    merged = BatchResult()
    for offset, response in results:
        merged.decisions.extend(response.decisions)
        merged.errors.extend(e.model_copy(update={"index": e.index + offset}) for e in response.errors)
    return merged


class _Base:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        retry: RetryPolicy | None,
        max_batch_items: int,
        max_request_bytes: int,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.retry = retry or RetryPolicy()
        self.max_batch_items = max_batch_items
        self.max_request_bytes = max_request_bytes

    def _request_kwargs(self, call: _Call[Any]) -> dict[str, Any]:
        return {"json": call.json, "params": call.params, "data": call.data, "files": call.files}

    def _outcome(self, call: _Call[T], response: httpx.Response) -> T:
        if response.is_success:
            return call.parse(response)
        raise WardenAPIError.from_response(response)

    def _should_retry(self, call: _Call[Any], attempt: int, response: httpx.Response | None) -> bool:
        if attempt + 1 >= self.retry.attempts:
            return False
        return call.idempotent if response is None else response.status_code in RETRY_STATUSES

    def _batches(self, items: Iterable[ItemLike]) -> list[tuple[int, list[dict[str, Any]]]]:
        bodies = [_item_json(i) for i in items]
        return list(_chunks(bodies, self.max_batch_items, self.max_request_bytes))


class WardenClient(_Base):
    """Synchronous client. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        retry: RetryPolicy | None = None,
        max_batch_items: int = DEFAULT_MAX_BATCH_ITEMS,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, retry, max_batch_items, max_request_bytes)
        self._http = httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=timeout_s, transport=transport
        )

    def __enter__(self) -> WardenClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self._http.request(call.method, call.path, **self._request_kwargs(call))
            except httpx.TransportError:
                if not self._should_retry(call, attempt, None):
                    raise
                time.sleep(self.retry.delay(attempt, None))
                attempt += 1
                continue
            if not self._should_retry(call, attempt, response) or response.is_success:
                return self._outcome(call, response)
            time.sleep(self.retry.delay(attempt, response))
            attempt += 1

    def moderate(self, item: ItemLike) -> Decision:
        """One item; raises WardenAPIError if it gets no decision (e.g. its media is refused)."""
        return _only_decision(self._run(_Calls.moderate([_item_json(item)])))

    def moderate_batch(self, items: Iterable[ItemLike]) -> BatchResult:
        """Any number of items, sent in requests under the server's limits, decisions in order."""
        return _merge((offset, self._run(_Calls.moderate(chunk))) for offset, chunk in self._batches(items))

    def upload(
        self,
        content_id: str,
        files: Sequence[FileLike],
        text: str = "",
        kind: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Decision:
        """One post with image/video files (paths or (name, bytes, content type)), multipart."""
        return self._run(_Calls.upload(content_id, files, text, kind, metadata)).decisions[0]

    def get_decision(self, decision_id: str) -> Decision:
        return self._run(_Calls.get_decision(decision_id))

    def find_decision(self, content_id: str) -> Decision:
        return self._run(_Calls.find_decision(content_id))

    def lease(
        self, queue: str | None = None, category: str | None = None, language: str | None = None
    ) -> ReviewTask | None:
        return self._run(_Calls.lease(queue, category, language))

    def decide(
        self, task_id: str, action: str, categories: Sequence[str] = (), note: str = ""
    ) -> ReviewLabel:
        return self._run(_Calls.decide(task_id, action, categories, note))

    def release(self, task_id: str) -> None:
        self._run(_Calls.release(task_id))

    def appeal(
        self, decision_id: str, appellant: str, reason: str, content: ItemLike | None = None
    ) -> Appeal:
        return self._run(_Calls.appeal(decision_id, appellant, reason, content))

    def get_appeal(self, appeal_id: str) -> Appeal:
        return self._run(_Calls.get_appeal(appeal_id))

    def create_bank(self, name: str, category: str, action: str = "remove", description: str = "") -> Bank:
        return self._run(_Calls.create_bank(name, category, action, description))

    def list_banks(self) -> list[Bank]:
        return self._run(_Calls.list_banks())

    def add_bank_entries(self, name: str, entries: Sequence[Mapping[str, Any]]) -> Any:
        return self._run(_Calls.add_bank_entries(name, entries))

    def match(self, text: str | None = None, hashes: Mapping[str, Sequence[str]] | None = None) -> Any:
        return self._run(_Calls.match(text, hashes))


class AsyncWardenClient(_Base):
    """Asynchronous client (httpx.AsyncClient). Use as an async context manager, or `await aclose()`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        retry: RetryPolicy | None = None,
        max_batch_items: int = DEFAULT_MAX_BATCH_ITEMS,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, retry, max_batch_items, max_request_bytes)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=timeout_s, transport=transport
        )

    async def __aenter__(self) -> AsyncWardenClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http.request(call.method, call.path, **self._request_kwargs(call))
            except httpx.TransportError:
                if not self._should_retry(call, attempt, None):
                    raise
                await asyncio.sleep(self.retry.delay(attempt, None))
                attempt += 1
                continue
            if not self._should_retry(call, attempt, response) or response.is_success:
                return self._outcome(call, response)
            await asyncio.sleep(self.retry.delay(attempt, response))
            attempt += 1

    async def moderate(self, item: ItemLike) -> Decision:
        return _only_decision(await self._run(_Calls.moderate([_item_json(item)])))

    async def moderate_batch(self, items: Iterable[ItemLike], concurrency: int = 4) -> BatchResult:
        """Like the sync one; up to `concurrency` requests in flight, results still in input order."""
        gate = asyncio.Semaphore(concurrency)

        async def send(offset: int, chunk: list[dict[str, Any]]) -> tuple[int, DecisionsResponse]:
            async with gate:
                return offset, await self._run(_Calls.moderate(chunk))

        return _merge(await asyncio.gather(*(send(o, c) for o, c in self._batches(items))))

    async def upload(
        self,
        content_id: str,
        files: Sequence[FileLike],
        text: str = "",
        kind: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Decision:
        return (await self._run(_Calls.upload(content_id, files, text, kind, metadata))).decisions[0]

    async def get_decision(self, decision_id: str) -> Decision:
        return await self._run(_Calls.get_decision(decision_id))

    async def find_decision(self, content_id: str) -> Decision:
        return await self._run(_Calls.find_decision(content_id))

    async def lease(
        self, queue: str | None = None, category: str | None = None, language: str | None = None
    ) -> ReviewTask | None:
        return await self._run(_Calls.lease(queue, category, language))

    async def decide(
        self, task_id: str, action: str, categories: Sequence[str] = (), note: str = ""
    ) -> ReviewLabel:
        return await self._run(_Calls.decide(task_id, action, categories, note))

    async def release(self, task_id: str) -> None:
        await self._run(_Calls.release(task_id))

    async def appeal(
        self, decision_id: str, appellant: str, reason: str, content: ItemLike | None = None
    ) -> Appeal:
        return await self._run(_Calls.appeal(decision_id, appellant, reason, content))

    async def get_appeal(self, appeal_id: str) -> Appeal:
        return await self._run(_Calls.get_appeal(appeal_id))

    async def create_bank(
        self, name: str, category: str, action: str = "remove", description: str = ""
    ) -> Bank:
        return await self._run(_Calls.create_bank(name, category, action, description))

    async def list_banks(self) -> list[Bank]:
        return await self._run(_Calls.list_banks())

    async def add_bank_entries(self, name: str, entries: Sequence[Mapping[str, Any]]) -> Any:
        return await self._run(_Calls.add_bank_entries(name, entries))

    async def match(self, text: str | None = None, hashes: Mapping[str, Sequence[str]] | None = None) -> Any:
        return await self._run(_Calls.match(text, hashes))
