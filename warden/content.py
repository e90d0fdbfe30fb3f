"""Content: one item to judge, validated at the edge with explicit limits."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import ValidationError
from .settings import Limits

ContentKind = Literal["text", "image", "video", "profile", "comment"]


class Content(BaseModel):
    """An item to moderate. Media is never fetched from the network by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=256, description="Caller's id; used for idempotency.")
    kind: ContentKind = "text"
    text: str = ""
    language: str | None = Field(default=None, description="ISO 639-1 code; detected when absent.")
    author_id: str | None = None
    parent_id: str | None = None
    context: str | None = Field(default=None, description="Parent text, e.g. the post a comment replies to.")
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("text", "context")
    @classmethod
    def _no_surrogates(cls, value: str | None) -> str | None:
        # Lone surrogates come from invalid UTF-8 decoded with surrogateescape; refuse them early.
        if value is not None:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"text is not valid Unicode at position {exc.start}") from exc
        return value

    def content_hash(self) -> str:
        """Stable hash of everything that affects a decision (not the id)."""
        payload = json.dumps(
            {"kind": self.kind, "text": self.text, "language": self.language, "context": self.context},
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def check_limits(items: list[Content], limits: Limits) -> None:
    """Raise ValidationError naming the first item that breaks a limit."""
    if len(items) > limits.max_batch_items:
        raise ValidationError(f"batch of {len(items)} items exceeds the limit of {limits.max_batch_items}")
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.id in seen:
            raise ValidationError(f"items[{index}]: duplicate id {item.id!r} in one batch")
        seen.add(item.id)
        if len(item.text) > limits.max_text_chars:
            raise ValidationError(
                f"items[{index}] ({item.id}): text has {len(item.text)} characters, "
                f"limit is {limits.max_text_chars}"
            )
        if item.kind not in ("text", "comment", "profile"):
            raise ValidationError(
                f"items[{index}] ({item.id}): kind {item.kind!r} is not supported by this version "
                "(text, comment and profile are)"
            )
        if len(json.dumps(item.metadata, default=str)) > limits.max_metadata_bytes:
            raise ValidationError(
                f"items[{index}] ({item.id}): metadata exceeds {limits.max_metadata_bytes} bytes"
            )
